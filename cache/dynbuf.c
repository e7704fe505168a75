/*
 * cache/dynbuf.c - the capped growing buffer (see dynbuf.h).
 */
#include "cache/dynbuf.h"

#include <string.h>

#define DYNBUF_FIRST_ALLOC 256

void fp_dynbuf_init(FpDynbuf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    /* Keep max + 1 and the doubling clear of overflow. */
    b->max = MIN(max, G_MAXSIZE / 4);
}

void fp_dynbuf_free(FpDynbuf *b)
{
    g_clear_pointer(&b->buf, g_free);
    b->len = 0;
    b->alloc = 0;
}

void fp_dynbuf_reset(FpDynbuf *b)
{
    b->len = 0;
    if (b->buf) {
        b->buf[0] = '\0';
    }
}

bool fp_dynbuf_grow(FpDynbuf *b, size_t alloc)
{
    alloc = MIN(alloc, b->max + 1);
    if (alloc <= b->alloc) {
        return true;
    }
    char *grown = g_try_realloc(b->buf, alloc);
    if (!grown) {
        return false;
    }
    b->buf = grown;
    b->alloc = alloc;
    b->buf[b->len] = '\0';
    return true;
}

/* Grow by doubling until @need bytes (data and NUL) fit; @need <= max + 1. */
static bool ensure(FpDynbuf *b, size_t need)
{
    if (need <= b->alloc) {
        return true;
    }
    size_t alloc = b->alloc ? b->alloc : DYNBUF_FIRST_ALLOC;
    while (alloc < need) {
        alloc *= 2;
    }
    return fp_dynbuf_grow(b, alloc);
}

FpDynbufResult fp_dynbuf_add(FpDynbuf *b, const void *data, size_t n)
{
    if (n > b->max - b->len) {
        return FP_DYNBUF_TOO_LARGE;
    }
    if (n == 0) {
        return FP_DYNBUF_OK;
    }
    if (!ensure(b, b->len + n + 1)) {
        return FP_DYNBUF_NO_MEMORY;
    }
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return FP_DYNBUF_OK;
}

size_t fp_dynbuf_add_upto(FpDynbuf *b, const void *data, size_t n, size_t limit)
{
    limit = MIN(limit, b->max);
    if (b->len >= limit) {
        return 0;
    }
    n = MIN(n, limit - b->len);
    return fp_dynbuf_add(b, data, n) == FP_DYNBUF_OK ? n : 0;
}

char *fp_dynbuf_space(FpDynbuf *b, size_t *avail)
{
    *avail = 0;
    if (b->len >= b->max || !ensure(b, b->len + 2)) {
        return NULL;
    }
    *avail = b->alloc - b->len - 1;
    return b->buf + b->len;
}

void fp_dynbuf_commit(FpDynbuf *b, size_t n)
{
    g_return_if_fail(b->alloc > 0 && n <= b->alloc - b->len - 1);
    b->len += n;
    b->buf[b->len] = '\0';
}

const char *fp_dynbuf_ptr(const FpDynbuf *b)
{
    return b->buf;
}

size_t fp_dynbuf_len(const FpDynbuf *b)
{
    return b->len;
}

size_t fp_dynbuf_alloc(const FpDynbuf *b)
{
    return b->alloc;
}

size_t fp_dynbuf_max(const FpDynbuf *b)
{
    return b->max;
}

char *fp_dynbuf_steal(FpDynbuf *b, size_t *len)
{
    char *out = b->buf ? b->buf : g_strdup("");
    if (len) {
        *len = b->len;
    }
    b->buf = NULL;
    b->len = 0;
    b->alloc = 0;
    return out;
}
