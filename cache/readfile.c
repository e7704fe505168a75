/*
 * cache/readfile.c - capped whole-file reads (see readfile.h).
 */
#include "cache/readfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Messages start with "@shown: " (NULL: nothing, the caller shows the path). */
static char *read_capped(const char *path, const char *shown, size_t max_bytes, size_t *len,
                         GError **error)
{
    g_return_val_if_fail(path != NULL, NULL);
    const char *name = shown ? shown : "";
    const char *sep = shown ? ": " : "";
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "%s%s%s", name, sep,
                    g_strerror(e));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "%s%s%s", name, sep,
                    g_strerror(e));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s%snot a regular file", name, sep);
        return NULL;
    }
    if ((guint64)st.st_size > (guint64)max_bytes) {
        close(fd);
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                    "%s%s%" G_GUINT64_FORMAT " bytes, more than the limit of %zu bytes", name, sep,
                    (guint64)st.st_size, max_bytes);
        return NULL;
    }
    /* The file may grow while we read: never read more than max_bytes + 1. */
    size_t cap = MIN((size_t)st.st_size, max_bytes) + 1;
    size_t used = 0;
    char *buf = g_malloc(cap + 1);
    for (;;) {
        if (used == cap) {
            if (cap > max_bytes) {
                break;
            }
            cap = cap > max_bytes / 2 ? max_bytes + 1 : cap * 2;
            buf = g_realloc(buf, cap + 1);
        }
        ssize_t n = read(fd, buf + used, cap - used);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int e = errno;
            close(fd);
            g_free(buf);
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "%s%s%s", name, sep,
                        g_strerror(e));
            return NULL;
        }
        if (n == 0) {
            break;
        }
        used += (size_t)n;
    }
    close(fd);
    if (used > max_bytes) {
        explicit_bzero(buf, used);
        g_free(buf);
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                    "%s%sgrew past the limit of %zu bytes while being read", name, sep, max_bytes);
        return NULL;
    }
    buf[used] = '\0';
    if (len) {
        *len = used;
    }
    return buf;
}

char *fp_read_file_capped(const char *path, size_t max_bytes, size_t *len, GError **error)
{
    return read_capped(path, path, max_bytes, len, error);
}

char *fp_read_file_capped_unnamed(const char *path, size_t max_bytes, size_t *len, GError **error)
{
    return read_capped(path, NULL, max_bytes, len, error);
}
