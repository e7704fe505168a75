/*
 * cache/dynbuf.h - a growing byte buffer with a hard cap (after curl's
 * dynbuf).
 *
 * Purpose: every buffer flexplace fills from outside input (HTTP request
 * bodies, API server replies, watch-stream line tails, files) must grow as
 * bytes arrive and must never hold more than a cap, whatever the input
 * claims.  FpDynbuf is that one buffer: appends past the cap are refused
 * (fp_dynbuf_add) or cut (fp_dynbuf_add_upto), never stored, and the
 * allocation never exceeds cap + 1 (room for a terminating NUL).
 *
 * Contents: bytes, which may include NULs; while non-empty the data is
 * always followed by a NUL (not counted in the length), so text can be read
 * as a C string.  An empty buffer may have no allocation (fp_dynbuf_ptr
 * returns NULL).
 *
 * Growth: fp_dynbuf_add doubles the allocation (from 256 bytes) until the
 * data fits, capped at cap + 1; a caller with its own policy (the HTTP
 * server sizes from Content-Length and reserves a server-wide budget first)
 * sets the allocation with fp_dynbuf_grow.  Allocation failures are
 * reported (g_try_realloc), never fatal.
 *
 * Ownership: the buffer owns its memory; fp_dynbuf_free releases it,
 * fp_dynbuf_steal hands it over.  Thread context: none; one user at a time.
 */
#ifndef FP_CACHE_DYNBUF_H
#define FP_CACHE_DYNBUF_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

G_BEGIN_DECLS

/* The fields are private: use the functions. */
typedef struct {
    char *buf;
    size_t len;   /* bytes stored */
    size_t alloc; /* bytes allocated: 0, or at least len + 1 */
    size_t max;   /* cap on len */
} FpDynbuf;

typedef enum {
    FP_DYNBUF_OK = 0,
    FP_DYNBUF_TOO_LARGE, /* the data would pass the cap: nothing was added */
    FP_DYNBUF_NO_MEMORY, /* the allocation failed: nothing was added */
} FpDynbufResult;

/* An empty buffer that holds at most @max bytes (at most G_MAXSIZE / 4). */
void fp_dynbuf_init(FpDynbuf *b, size_t max);
/* Free the memory; the buffer is empty again, with the same cap. */
void fp_dynbuf_free(FpDynbuf *b);
/* Empty it but keep the allocation (for the next message). */
void fp_dynbuf_reset(FpDynbuf *b);

/* Append @n bytes (@data may be NULL when @n is 0). */
FpDynbufResult fp_dynbuf_add(FpDynbuf *b, const void *data, size_t n);
/* Append as much of @n bytes as keeps the length within @limit and the cap;
 * returns how many were added (0 on an allocation failure). */
size_t fp_dynbuf_add_upto(FpDynbuf *b, const void *data, size_t n, size_t limit);

/* Make the allocation at least @alloc bytes (at most cap + 1): appends that
 * fit in it do not allocate.  FALSE when the allocation failed (the buffer
 * is unchanged). */
bool fp_dynbuf_grow(FpDynbuf *b, size_t alloc);

/* Room to read into directly: *avail (> 0 unless the buffer is full up to
 * the cap, or the allocation failed: then NULL) bytes at the returned
 * address, after growing as fp_dynbuf_add would.  Follow with
 * fp_dynbuf_commit of the bytes actually written. */
char *fp_dynbuf_space(FpDynbuf *b, size_t *avail);
/* Count @n bytes written at fp_dynbuf_space as data (@n <= *avail). */
void fp_dynbuf_commit(FpDynbuf *b, size_t n);

/* The data (NUL-terminated), or NULL while nothing was ever allocated. */
const char *fp_dynbuf_ptr(const FpDynbuf *b);
size_t fp_dynbuf_len(const FpDynbuf *b);
/* Bytes allocated (for memory accounting). */
size_t fp_dynbuf_alloc(const FpDynbuf *b);
size_t fp_dynbuf_max(const FpDynbuf *b);

/* Take the data (g_free it; always NUL-terminated, "" when empty) and leave
 * the buffer empty; *len (may be NULL) receives its length. */
char *fp_dynbuf_steal(FpDynbuf *b, size_t *len);

G_END_DECLS

#endif /* FP_CACHE_DYNBUF_H */
