/*
 * cache/readfile.c - capped whole-file reads (see readfile.h).
 */
#include "cache/readfile.h"

#include "cache/dynbuf.h"

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
    FpDynbuf buf;
    fp_dynbuf_init(&buf, max_bytes + 1);
    int e = 0;
    if (!fp_dynbuf_grow(&buf, MIN((size_t)st.st_size, max_bytes) + 2)) {
        e = ENOMEM;
    }
    while (e == 0) {
        size_t avail = 0;
        char *space = fp_dynbuf_space(&buf, &avail);
        if (!space) {
            e = fp_dynbuf_len(&buf) > max_bytes ? 0 : ENOMEM;
            break;
        }
        ssize_t n = read(fd, space, avail);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            e = n < 0 ? errno : 0;
            break;
        }
        fp_dynbuf_commit(&buf, (size_t)n);
    }
    close(fd);
    if (e != 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e), "%s%s%s", name, sep,
                    g_strerror(e));
    } else if (fp_dynbuf_len(&buf) > max_bytes) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                    "%s%sgrew past the limit of %zu bytes while being read", name, sep, max_bytes);
    } else {
        return fp_dynbuf_steal(&buf, len);
    }
    if (fp_dynbuf_ptr(&buf)) {
        explicit_bzero((char *)fp_dynbuf_ptr(&buf), fp_dynbuf_len(&buf));
    }
    fp_dynbuf_free(&buf);
    return NULL;
}

char *fp_read_file_capped(const char *path, size_t max_bytes, size_t *len, GError **error)
{
    return read_capped(path, path, max_bytes, len, error);
}

char *fp_read_file_capped_unnamed(const char *path, size_t max_bytes, size_t *len, GError **error)
{
    return read_capped(path, NULL, max_bytes, len, error);
}
