/*
 * cache/linebuf.c - NDJSON line framer (see linebuf.h for the rules).
 *
 * The tail buffer never holds more than max + 1 bytes: the +1 is a '\r'
 * that may turn out to be the first half of a CRLF terminator.
 */
#include "cache/linebuf.h"

#include <string.h>

struct FpLineBuf {
    char *buf;   /* unfinished line, not NUL-terminated */
    size_t len;  /* bytes used in buf */
    size_t cap;  /* bytes allocated in buf */
    size_t max;  /* cap on one line, terminator excluded */
    bool failed; /* a line exceeded max; cleared by reset */
};

FpLineBuf *fp_linebuf_new(size_t max_line)
{
    FpLineBuf *lb = g_new0(FpLineBuf, 1);
    if (max_line == 0) {
        max_line = FP_LINEBUF_DEFAULT_MAX;
    }
    /* Keep max + 1 and the doubling below clear of overflow. */
    lb->max = MIN(max_line, G_MAXSIZE / 4);
    return lb;
}

void fp_linebuf_free(FpLineBuf *lb)
{
    if (!lb) {
        return;
    }
    g_free(lb->buf);
    g_free(lb);
}

void fp_linebuf_reset(FpLineBuf *lb)
{
    lb->len = 0;
    lb->failed = false;
}

size_t fp_linebuf_pending(const FpLineBuf *lb)
{
    return lb->len;
}

size_t fp_linebuf_capacity(const FpLineBuf *lb)
{
    return lb->cap;
}

size_t fp_linebuf_max_line(const FpLineBuf *lb)
{
    return lb->max;
}

/* Length of a line of @total bytes ending in @last, without a final '\r'. */
static size_t content_len(size_t total, char last)
{
    return (total > 0 && last == '\r') ? total - 1 : total;
}

/* Append @n bytes to the tail; the caller has checked len + n <= max + 1. */
static void tail_append(FpLineBuf *lb, const char *data, size_t n)
{
    size_t need = lb->len + n;
    if (need > lb->cap) {
        size_t cap = lb->cap ? lb->cap : 256;
        while (cap < need) {
            cap *= 2;
        }
        cap = MIN(cap, lb->max + 1);
        lb->buf = g_realloc(lb->buf, cap);
        lb->cap = cap;
    }
    memcpy(lb->buf + lb->len, data, n);
    lb->len = need;
}

static FpLineBufResult fail(FpLineBuf *lb)
{
    lb->failed = true;
    lb->len = 0;
    return FP_LINEBUF_TOO_LONG;
}

FpLineBufResult fp_linebuf_feed(FpLineBuf *lb, const char *data, size_t len, FpLineFn fn,
                                void *user)
{
    if (lb->failed) {
        return FP_LINEBUF_TOO_LONG;
    }
    const char *p = data;
    const char *end = data ? data + len : data;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            /* Unfinished line: keep it, failing early when it is too long. */
            size_t n = (size_t)(end - p);
            if (content_len(lb->len + n, end[-1]) > lb->max) {
                return fail(lb);
            }
            tail_append(lb, p, n);
            break;
        }
        size_t seg = (size_t)(nl - p);
        const char *line;
        size_t line_len;
        if (lb->len == 0) {
            line = p; /* whole line inside this piece: no copy */
            line_len = seg;
        } else {
            size_t total = lb->len + seg;
            char last = seg ? nl[-1] : lb->buf[lb->len - 1];
            if (content_len(total, last) > lb->max) {
                return fail(lb);
            }
            tail_append(lb, p, seg);
            line = lb->buf;
            line_len = lb->len;
        }
        line_len = content_len(line_len, line_len ? line[line_len - 1] : '\0');
        if (line_len > lb->max) {
            return fail(lb);
        }
        lb->len = 0; /* the tail (if any) is consumed by this line */
        if (line_len > 0 && !fn(line, line_len, user)) {
            return FP_LINEBUF_STOPPED;
        }
        p = nl + 1;
    }
    return FP_LINEBUF_OK;
}

FpLineBufResult fp_linebuf_finish(FpLineBuf *lb, FpLineFn fn, void *user)
{
    if (lb->failed) {
        fp_linebuf_reset(lb);
        return FP_LINEBUF_TOO_LONG;
    }
    size_t n = content_len(lb->len, lb->len ? lb->buf[lb->len - 1] : '\0');
    FpLineBufResult result = FP_LINEBUF_OK;
    if (n > lb->max) {
        result = FP_LINEBUF_TOO_LONG;
    } else if (n > 0 && !fn(lb->buf, n, user)) {
        result = FP_LINEBUF_STOPPED;
    }
    fp_linebuf_reset(lb);
    return result;
}
