/*
 * extender/obs/proc_stats.c - process statistics from Linux procfs.
 */
#include "extender/obs/proc_stats.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

/* procfs files we read are a few hundred bytes; anything longer is cut. */
#define PROC_FILE_CAP (64 * 1024)

/* Read at most PROC_FILE_CAP bytes of @path into a g_malloc'ed,
 * NUL-terminated buffer.  NULL when the file cannot be opened or read. */
static char *read_capped(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return NULL;
    }
    char *buf = g_malloc(PROC_FILE_CAP + 1);
    size_t got = 0;
    while (got < PROC_FILE_CAP) {
        ssize_t n = read(fd, buf + got, PROC_FILE_CAP - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            close(fd);
            g_free(buf);
            return NULL;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *len = got;
    return buf;
}

/* Parse an unsigned decimal at *p (leading spaces skipped), advancing *p.
 * Only digits are accepted: no sign, no base prefix, no overflow. */
static bool parse_u64(const char **p, const char *end, guint64 *out)
{
    const char *s = *p;
    while (s < end && *s == ' ') {
        s++;
    }
    if (s >= end || !g_ascii_isdigit(*s)) {
        return false;
    }
    guint64 v = 0;
    while (s < end && g_ascii_isdigit(*s)) {
        guint digit = (guint)(*s - '0');
        if (v > (G_MAXUINT64 - digit) / 10) {
            return false;
        }
        v = v * 10 + digit;
        s++;
    }
    *out = v;
    *p = s;
    return true;
}

/* Skip one space-separated field (leading spaces included). */
static bool skip_field(const char **p, const char *end)
{
    const char *s = *p;
    while (s < end && *s == ' ') {
        s++;
    }
    if (s >= end || *s == '\n') {
        return false;
    }
    while (s < end && *s != ' ' && *s != '\n') {
        s++;
    }
    *p = s;
    return true;
}

bool fp_proc_parse_stat(const char *text, size_t len, FpProcStat *out)
{
    if (!text || !out) {
        return false;
    }
    /* The comm field may hold anything, ')' included: the last ')' ends it. */
    const char *close = NULL;
    for (size_t i = len; i > 0; i--) {
        if (text[i - 1] == ')') {
            close = text + i - 1;
            break;
        }
    }
    if (!close) {
        return false;
    }
    const char *p = close + 1;
    const char *end = text + len;
    FpProcStat st = {0};
    /* After ')' come field 3 (state) .. ; we want 14, 15, 22, 23, 24. */
    guint64 *const wanted[] = {
        [14] = &st.utime_ticks, [15] = &st.stime_ticks, [22] = &st.starttime_ticks,
        [23] = &st.vsize_bytes, [24] = &st.rss_pages,
    };
    for (int field = 3; field < (int)G_N_ELEMENTS(wanted); field++) {
        guint64 *dest = wanted[field];
        if (dest) {
            if (!parse_u64(&p, end, dest) || (p < end && *p != ' ' && *p != '\n')) {
                return false;
            }
        } else if (!skip_field(&p, end)) {
            return false;
        }
    }
    *out = st;
    return true;
}

/* The first line of @text that starts with @key and a space: *value is
 * where the text after the key starts, *line_end where the line ends.
 * FALSE when there is none. */
static bool find_keyed_line(const char *text, size_t len, const char *key, const char **value,
                            const char **line_end)
{
    size_t klen = strlen(key);
    const char *end = text + len;
    const char *line = text;
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *eol = nl ? nl : end;
        if ((size_t)(eol - line) > klen && memcmp(line, key, klen) == 0 && line[klen] == ' ') {
            *value = line + klen;
            *line_end = eol;
            return true;
        }
        line = nl ? nl + 1 : end;
    }
    return false;
}

bool fp_proc_parse_btime(const char *text, size_t len, guint64 *btime)
{
    const char *p = NULL;
    const char *line_end = NULL;
    if (!text || !btime || !find_keyed_line(text, len, "btime", &p, &line_end)) {
        return false;
    }
    p++; /* the one space after the key */
    guint64 v = 0;
    if (parse_u64(&p, line_end, &v) && p == line_end) {
        *btime = v;
        return true;
    }
    return false;
}

bool fp_proc_parse_max_fds(const char *text, size_t len, guint64 *max_fds)
{
    const char *p = NULL;
    const char *line_end = NULL;
    if (!text || !max_fds || !find_keyed_line(text, len, "Max open files", &p, &line_end)) {
        return false;
    }
    while (p < line_end && *p == ' ') {
        p++;
    }
    if ((size_t)(line_end - p) >= 9 && memcmp(p, "unlimited", 9) == 0 &&
        (p + 9 == line_end || p[9] == ' ')) {
        *max_fds = G_MAXUINT64;
        return true;
    }
    guint64 v = 0;
    if (parse_u64(&p, line_end, &v) && (p == line_end || *p == ' ')) {
        *max_fds = v;
        return true;
    }
    return false;
}

/* Entries of @dir_path other than "." and "..", or -1. */
static gint64 count_dir_entries(const char *dir_path)
{
    DIR *dir = opendir(dir_path);
    if (!dir) {
        return -1;
    }
    gint64 n = 0;
    const struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            n++;
        }
    }
    closedir(dir);
    return n;
}

bool fp_proc_stats_read(const char *proc_root, FpProcStats *out)
{
    g_return_val_if_fail(out != NULL, false);
    memset(out, 0, sizeof(*out));
    const char *root = proc_root ? proc_root : "/proc";
    long ticks = sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);

    size_t len = 0;
    g_autofree char *stat_path = g_build_filename(root, "self", "stat", NULL);
    g_autofree char *stat_text = read_capped(stat_path, &len);
    FpProcStat st;
    bool have_stat = stat_text && fp_proc_parse_stat(stat_text, len, &st);
    if (have_stat) {
        if (ticks > 0) {
            out->have_cpu = true;
            out->cpu_seconds = (double)(st.utime_ticks + st.stime_ticks) / (double)ticks;
        }
        out->have_vsize = true;
        out->virtual_bytes = (double)st.vsize_bytes;
        if (page > 0) {
            out->have_rss = true;
            out->resident_bytes = (double)st.rss_pages * (double)page;
        }
    }

    g_autofree char *sys_path = g_build_filename(root, "stat", NULL);
    g_autofree char *sys_text = read_capped(sys_path, &len);
    guint64 btime = 0;
    if (have_stat && ticks > 0 && sys_text && fp_proc_parse_btime(sys_text, len, &btime)) {
        out->have_start = true;
        out->start_time = (double)btime + (double)st.starttime_ticks / (double)ticks;
    }

    g_autofree char *limits_path = g_build_filename(root, "self", "limits", NULL);
    g_autofree char *limits_text = read_capped(limits_path, &len);
    guint64 max_fds = 0;
    if (limits_text && fp_proc_parse_max_fds(limits_text, len, &max_fds)) {
        out->have_max_fds = true;
        out->max_fds = max_fds == G_MAXUINT64 ? (double)INFINITY : (double)max_fds;
    }

    g_autofree char *fd_path = g_build_filename(root, "self", "fd", NULL);
    gint64 open_fds = count_dir_entries(fd_path);
    if (open_fds >= 0) {
        out->have_open_fds = true;
        out->open_fds = (double)open_fds;
    }
    return out->have_cpu || out->have_vsize || out->have_rss || out->have_start ||
           out->have_open_fds || out->have_max_fds;
}
