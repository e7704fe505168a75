/*
 * extender/obs/log.c - the log writer (see log.h).
 */
#include "extender/obs/log.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static _Atomic int log_format = FP_LOG_TEXT;
static _Atomic int log_verbosity = 0;

bool fp_log_format_parse(const char *name, FpLogFormat *out)
{
    if (!name || !strcmp(name, "text")) {
        *out = FP_LOG_TEXT;
        return true;
    }
    if (!strcmp(name, "json")) {
        *out = FP_LOG_JSON;
        return true;
    }
    return false;
}

int fp_log_verbosity(void)
{
    return atomic_load(&log_verbosity);
}

static const char *level_name(GLogLevelFlags level)
{
    if (level & G_LOG_LEVEL_ERROR) {
        return "error";
    }
    if (level & G_LOG_LEVEL_CRITICAL) {
        return "critical";
    }
    if (level & G_LOG_LEVEL_WARNING) {
        return "warning";
    }
    if (level & G_LOG_LEVEL_MESSAGE) {
        return "notice";
    }
    if (level & G_LOG_LEVEL_INFO) {
        return "info";
    }
    return "debug";
}

/* Fields GLib adds that a reader does not need. */
static bool internal_field(const char *key)
{
    return !strcmp(key, "PRIORITY") || !strcmp(key, "GLIB_DOMAIN") ||
           !strcmp(key, "GLIB_OLD_LOG_API") || !strncmp(key, "CODE_", 5) ||
           !strcmp(key, "SYSLOG_IDENTIFIER") || !strcmp(key, "MESSAGE");
}

static bool looks_numeric(const char *s)
{
    if (!s || !*s) {
        return false;
    }
    char *end = NULL;
    double v = g_ascii_strtod(s, &end);
    (void)v;
    /* JSON numbers only: no "inf", "nan", hex, or leading '+'. */
    return end && *end == '\0' && (g_ascii_isdigit(*s) || (*s == '-' && g_ascii_isdigit(s[1])));
}

static void append_text_value(GString *out, const char *v)
{
    bool quote = !*v || strpbrk(v, " \t\n\"=") != NULL;
    if (!quote) {
        g_string_append(out, v);
        return;
    }
    g_string_append_c(out, '"');
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\') {
            g_string_append_c(out, '\\');
            g_string_append_c(out, *p);
        } else if (*p == '\n') {
            g_string_append(out, "\\n");
        } else {
            g_string_append_c(out, *p);
        }
    }
    g_string_append_c(out, '"');
}

char *fp_log_format_line(FpLogFormat format, GLogLevelFlags level, const GLogField *fields,
                         gsize n_fields)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *ts = g_date_time_format(now, "%Y-%m-%dT%H:%M:%S");
    int ms = g_date_time_get_microsecond(now) / 1000;
    const char *message = "";
    for (gsize i = 0; i < n_fields; i++) {
        if (!strcmp(fields[i].key, "MESSAGE") && fields[i].length < 0) {
            message = fields[i].value;
        }
    }
    if (format == FP_LOG_JSON) {
        json_t *o = json_object();
        g_autofree char *stamp = g_strdup_printf("%s.%03dZ", ts, ms);
        json_object_set_new(o, "ts", json_string(stamp));
        json_object_set_new(o, "level", json_string(level_name(level)));
        json_object_set_new(o, "msg", json_string(message));
        for (gsize i = 0; i < n_fields; i++) {
            if (internal_field(fields[i].key) || fields[i].length >= 0) {
                continue;
            }
            const char *v = fields[i].value;
            json_t *jv = looks_numeric(v) ? json_loads(v, JSON_DECODE_ANY, NULL) : NULL;
            json_object_set_new(o, fields[i].key, jv ? jv : json_string(v));
        }
        char *text = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        char *line = g_strdup(text ? text : "{}");
        free(text);
        return line;
    }
    GString *out = g_string_new(NULL);
    g_string_append_printf(out, "%s.%03dZ %-7s %s", ts, ms, level_name(level), message);
    for (gsize i = 0; i < n_fields; i++) {
        if (internal_field(fields[i].key) || fields[i].length >= 0) {
            continue;
        }
        g_string_append_printf(out, " %s=", fields[i].key);
        append_text_value(out, fields[i].value);
    }
    return g_string_free(out, FALSE);
}

static GLogWriterOutput writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                               gpointer user_data)
{
    int v = atomic_load(&log_verbosity);
    if ((level & G_LOG_LEVEL_DEBUG) && v < 4) {
        return G_LOG_WRITER_HANDLED;
    }
    if ((level & G_LOG_LEVEL_INFO) && v < 2) {
        return G_LOG_WRITER_HANDLED;
    }
    g_autofree char *line = fp_log_format_line(atomic_load(&log_format), level, fields, n_fields);
    /* One fputs of a whole line: lines from several threads never mix. */
    g_autofree char *nl = g_strconcat(line, "\n", NULL);
    fputs(nl, stderr);
    fflush(stderr);
    return G_LOG_WRITER_HANDLED;
}

void fp_log_init(FpLogFormat format, int verbosity)
{
    atomic_store(&log_format, format);
    atomic_store(&log_verbosity, verbosity);
    static gsize once = 0;
    if (g_once_init_enter(&once)) {
        g_log_set_writer_func(writer, NULL, NULL);
        g_once_init_leave(&once, 1);
    }
}

void fp_log_fields(GLogLevelFlags level, const char *message, ...)
{
    GLogField fields[40];
    gsize n = 0;
    fields[n++] = (GLogField){"MESSAGE", message, -1};
    fields[n++] = (GLogField){"GLIB_DOMAIN", G_LOG_DOMAIN, -1};
    va_list ap;
    va_start(ap, message);
    const char *key;
    while ((key = va_arg(ap, const char *)) != NULL && n + 1 < G_N_ELEMENTS(fields)) {
        const char *value = va_arg(ap, const char *);
        fields[n++] = (GLogField){key, value ? value : "", -1};
    }
    va_end(ap);
    g_log_structured_array(level, fields, n);
}

typedef struct {
    gint64 last_us;
    guint suppressed;
} Limit;

void fp_log_warn_limited(const char *key, double interval_s, const char *format, ...)
{
    static GMutex lock;
    static GHashTable *limits;
    gint64 now = g_get_monotonic_time();
    guint suppressed = 0;
    bool print = false;
    g_mutex_lock(&lock);
    if (!limits) {
        limits = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    }
    Limit *l = g_hash_table_lookup(limits, key);
    if (!l && g_hash_table_size(limits) < 1024) {
        l = g_new0(Limit, 1);
        l->last_us = G_MININT64 / 2;
        g_hash_table_insert(limits, g_strdup(key), l);
    }
    if (l && now - l->last_us >= (gint64)(interval_s * G_USEC_PER_SEC)) {
        suppressed = l->suppressed;
        l->suppressed = 0;
        l->last_us = now;
        print = true;
    } else if (l) {
        l->suppressed++;
    }
    g_mutex_unlock(&lock);
    if (!print) {
        return;
    }
    va_list ap;
    va_start(ap, format);
    g_autofree char *msg = g_strdup_vprintf(format, ap);
    va_end(ap);
    if (suppressed) {
        g_warning("%s (%u similar messages suppressed)", msg, suppressed);
    } else {
        g_warning("%s", msg);
    }
}
