/*
 * extender/obs/log.h - flexplace's log output: text or JSON lines, with
 * kube-scheduler-style verbosity.
 *
 * Purpose: every message goes through GLib's structured logging (g_message,
 * g_warning, g_info, and fp_log_fields for messages with fields); this
 * module installs the writer that prints one line per message to stderr:
 *
 *   text: 2026-11-27T08:56:12.414Z info  filter pod=ns/name nodes=6 passed=3 ...
 *   json: {"ts":"2026-11-27T08:56:12.414Z","level":"info","msg":"filter",
 *          "pod":"ns/name","nodes":6,...}
 *
 * Levels: errors, warnings and lifecycle messages (g_message) always print;
 * g_info at verbosity >= 2 (one line per decision); g_debug at >= 4.
 * Field values that parse as numbers are written as JSON numbers.
 *
 * fp_log_warn_limited: a warning that prints at most once per interval per
 * key (stale views, rejected policies, decode errors), with a count of what
 * was suppressed.
 *
 * Thread context: any thread after fp_log_init (main thread, before others).
 */
#ifndef FP_EXTENDER_LOG_H
#define FP_EXTENDER_LOG_H

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

typedef enum { FP_LOG_TEXT, FP_LOG_JSON } FpLogFormat;

/* Parse "text" / "json"; FALSE when unknown. */
bool fp_log_format_parse(const char *name, FpLogFormat *out);
void fp_log_init(FpLogFormat format, int verbosity);
int fp_log_verbosity(void);

/* A message with key/value fields: pairs of const char* terminated by NULL,
 * e.g. fp_log_fields(G_LOG_LEVEL_INFO, "filter", "pod", "ns/x", "nodes", "6", NULL). */
void fp_log_fields(GLogLevelFlags level, const char *message, ...) G_GNUC_NULL_TERMINATED;

/* Warning limited to one per @interval_s per @key. */
void fp_log_warn_limited(const char *key, double interval_s, const char *format, ...)
    G_GNUC_PRINTF(3, 4);

/* Format one line as the writer would (for tests); g_free it. */
char *fp_log_format_line(FpLogFormat format, GLogLevelFlags level, const GLogField *fields,
                         gsize n_fields);

G_END_DECLS

#endif
