/*
 * cache/linebuf.c - NDJSON line framer (see linebuf.h for the rules).
 *
 * The tail (an FpDynbuf, cache/dynbuf.h) never holds more than max + 1
 * bytes: the +1 is a '\r' that may turn out to be the first half of a CRLF
 * terminator.
 */
#include "cache/linebuf.h"

#include <string.h>

#include "cache/dynbuf.h"

struct FpLineBuf {
    FpDynbuf tail; /* unfinished line; capped at max + 1 */
    size_t max;    /* cap on one line, terminator excluded */
    bool failed;   /* a line exceeded max; cleared by reset */
};

FpLineBuf *fp_linebuf_new(size_t max_line)
{
    FpLineBuf *lb = g_new0(FpLineBuf, 1);
    if (max_line == 0) {
        max_line = FP_LINEBUF_DEFAULT_MAX;
    }
    /* Keep max + 1 clear of overflow. */
    lb->max = MIN(max_line, G_MAXSIZE / 4);
    fp_dynbuf_init(&lb->tail, lb->max + 1);
    return lb;
}

void fp_linebuf_free(FpLineBuf *lb)
{
    if (!lb) {
        return;
    }
    fp_dynbuf_free(&lb->tail);
    g_free(lb);
}

void fp_linebuf_reset(FpLineBuf *lb)
{
    fp_dynbuf_reset(&lb->tail);
    lb->failed = false;
}

size_t fp_linebuf_pending(const FpLineBuf *lb)
{
    return fp_dynbuf_len(&lb->tail);
}

size_t fp_linebuf_capacity(const FpLineBuf *lb)
{
    /* The dynbuf's allocation has one byte more, for its NUL. */
    size_t alloc = fp_dynbuf_alloc(&lb->tail);
    return alloc ? alloc - 1 : 0;
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

static FpLineBufResult fail(FpLineBuf *lb)
{
    lb->failed = true;
    fp_dynbuf_reset(&lb->tail);
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
            if (content_len(fp_dynbuf_len(&lb->tail) + n, end[-1]) > lb->max ||
                fp_dynbuf_add(&lb->tail, p, n) != FP_DYNBUF_OK) {
                return fail(lb);
            }
            break;
        }
        size_t seg = (size_t)(nl - p);
        const char *line;
        size_t line_len;
        size_t pending = fp_dynbuf_len(&lb->tail);
        if (pending == 0) {
            line = p; /* whole line inside this piece: no copy */
            line_len = seg;
        } else {
            char last = seg ? nl[-1] : fp_dynbuf_ptr(&lb->tail)[pending - 1];
            if (content_len(pending + seg, last) > lb->max ||
                fp_dynbuf_add(&lb->tail, p, seg) != FP_DYNBUF_OK) {
                return fail(lb);
            }
            line = fp_dynbuf_ptr(&lb->tail);
            line_len = fp_dynbuf_len(&lb->tail);
        }
        line_len = content_len(line_len, line_len ? line[line_len - 1] : '\0');
        if (line_len > lb->max) {
            return fail(lb);
        }
        bool go_on = line_len == 0 || fn(line, line_len, user);
        fp_dynbuf_reset(&lb->tail); /* the tail (if any) is consumed by this line */
        if (!go_on) {
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
    const char *tail = fp_dynbuf_ptr(&lb->tail);
    size_t pending = fp_dynbuf_len(&lb->tail);
    size_t n = content_len(pending, pending ? tail[pending - 1] : '\0');
    FpLineBufResult result = FP_LINEBUF_OK;
    if (n > lb->max) {
        result = FP_LINEBUF_TOO_LONG;
    } else if (n > 0 && !fn(tail, n, user)) {
        result = FP_LINEBUF_STOPPED;
    }
    fp_linebuf_reset(lb);
    return result;
}
