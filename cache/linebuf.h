/*
 * cache/linebuf.h - NDJSON line framer for Kubernetes watch streams.
 *
 * Purpose: the API server writes one JSON object plus "\n" per watch event
 * inside a chunked body, and chunk boundaries bear no relation to event
 * boundaries.  FpLineBuf takes (ptr, len) pieces of any size (curl write
 * callback chunks, down to 1 byte or 0) and hands every complete line to a
 * callback, keeping the unfinished tail.  Lines that arrive whole inside one
 * piece are passed straight from the caller's buffer (no copy); only the tail
 * is copied, into a capped buffer (cache/dynbuf.h) that grows by doubling
 * up to the line cap.
 *
 * Line rules: a line ends at '\n'; one '\r' right before it is dropped
 * (CRLF); empty lines (after that) are skipped, never emitted; the emitted
 * bytes are not NUL-terminated and never contain '\n'.  A line longer than
 * the cap (counted without its terminator) is an error as soon as the tail
 * exceeds the cap, so memory stays bounded by the cap whatever the input.
 * At stream end fp_linebuf_finish() emits a last line that had no '\n'.
 *
 * Ownership: the framer owns its tail buffer.  Lines passed to the callback
 * are borrowed for the duration of the call.
 * Thread context: pure, no locks; one framer is used by one thread at a time.
 * Errors: FP_LINEBUF_TOO_LONG (the caller resets the stream; the framer stays
 * in that state until fp_linebuf_reset) and FP_LINEBUF_STOPPED (the callback
 * asked to stop; the rest of the piece is dropped).
 */
#ifndef FP_CACHE_LINEBUF_H
#define FP_CACHE_LINEBUF_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

G_BEGIN_DECLS

/* Default cap on one line: 16 MiB (a Node with a long image list is a few
 * hundred KiB; a whole NodeList never travels as one watch line). */
#define FP_LINEBUF_DEFAULT_MAX ((size_t)16 * 1024 * 1024)

typedef enum {
    FP_LINEBUF_OK = 0,   /* every complete line was emitted */
    FP_LINEBUF_STOPPED,  /* the callback returned false */
    FP_LINEBUF_TOO_LONG, /* a line exceeded the cap; the framer is now failed */
} FpLineBufResult;

/* Called once per complete, non-empty line.  Return false to stop. */
typedef bool (*FpLineFn)(const char *line, size_t len, void *user);

typedef struct FpLineBuf FpLineBuf;

/* New framer with a cap of @max_line bytes per line (0 = default). */
FpLineBuf *fp_linebuf_new(size_t max_line);
void fp_linebuf_free(FpLineBuf *lb);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpLineBuf, fp_linebuf_free)

/* Forget the tail and any failed state (new stream). Keeps the capacity. */
void fp_linebuf_reset(FpLineBuf *lb);

/* Frame @len bytes at @data (may be NULL when @len is 0).  Emits every line
 * completed by this piece in order.  On a failed framer returns
 * FP_LINEBUF_TOO_LONG without looking at the data. */
FpLineBufResult fp_linebuf_feed(FpLineBuf *lb, const char *data, size_t len, FpLineFn fn,
                                void *user);

/* End of stream: emit the tail as a last line when it is not empty (a
 * trailing '\r' is dropped), then reset.  Returns FP_LINEBUF_TOO_LONG on a
 * failed framer (and resets it). */
FpLineBufResult fp_linebuf_finish(FpLineBuf *lb, FpLineFn fn, void *user);

/* Bytes of an unfinished line currently held. */
size_t fp_linebuf_pending(const FpLineBuf *lb);
/* Bytes the tail's allocation holds (for memory accounting and tests; the
 * allocation has one byte more, for a NUL). */
size_t fp_linebuf_capacity(const FpLineBuf *lb);
size_t fp_linebuf_max_line(const FpLineBuf *lb);

G_END_DECLS

#endif /* FP_CACHE_LINEBUF_H */
