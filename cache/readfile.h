/*
 * cache/readfile.h - read a small file whole, with a hard cap.
 *
 * Purpose: every file flexplace reads besides the big snapshot (kubeconfigs,
 * token files re-read on rotation, certificates and keys, the in-cluster
 * namespace) may be replaced by something hostile or broken: a path to a
 * device (/dev/zero, a FIFO) or a huge file.  g_file_get_contents would read
 * such a path until memory runs out; this reads regular files only and never
 * more than the cap plus one byte, so the cost is bounded by the cap.
 *
 * Ownership: the buffer is g_malloc'ed and NUL-terminated (a NUL inside the
 * file is kept; check @len).
 * Thread context: any thread; no shared state.
 * Errors: G_FILE_ERROR with the errno code (NOENT, ACCES, ...),
 * G_FILE_ERROR_INVAL for something that is not a regular file,
 * G_FILE_ERROR_FAILED for a file over the cap; messages name the path
 * (but those of fp_read_file_capped_unnamed).
 */
#ifndef FP_CACHE_READFILE_H
#define FP_CACHE_READFILE_H

#include <glib.h>
#include <stddef.h>

G_BEGIN_DECLS

/* The regular file @path, at most @max_bytes long; *len (may be NULL)
 * receives its length.  NULL with @error otherwise. */
char *fp_read_file_capped(const char *path, size_t max_bytes, size_t *len, GError **error);
/* The same, with messages that leave the path out, for callers that report
 * it beside them (policy files: "FILE: message"). */
char *fp_read_file_capped_unnamed(const char *path, size_t max_bytes, size_t *len, GError **error);

G_END_DECLS

#endif /* FP_CACHE_READFILE_H */
