/*
 * extender/server/verb_metrics.h - the metric families the verbs update on
 * the request path.
 *
 * Purpose: lock-free series handles for flexplace_requests_total,
 * flexplace_request_duration_seconds, flexplace_request_errors_total,
 * flexplace_filter_rejections_total, flexplace_bindings_total and
 * flexplace_prioritize_total, registered once (every label value a verb can
 * give is pre-registered, so it renders as 0 before its first use).
 *
 * Ownership: the handles belong to the FpMetrics registry they were made
 * in; the struct is plain data, valid as long as that registry.
 * Thread context: any thread.
 */
#ifndef FP_EXTENDER_VERB_METRICS_H
#define FP_EXTENDER_VERB_METRICS_H

#include <glib.h>

#include "extender/obs/metrics.h"

G_BEGIN_DECLS

typedef struct {
    FpCounter *requests;       /* by verb (route) and status code */
    FpHistogram *duration;     /* by verb */
    FpCounter *request_errors; /* bodies refused with 400, by verb and reason */
    FpCounter *rejections;     /* nodes the filter rejected, by reason */
    FpCounter *bindings;       /* bind outcomes: ok, refused, failed */
    FpCounter *prioritize;     /* prioritize answers: from the filter's memo, or evaluated */
} FpVerbMetrics;

/* Register the families in @m and fill @vm with their handles. */
void fp_verb_metrics_init(FpVerbMetrics *vm, FpMetrics *m);

/* Count one answered request and its duration since @start_us
 * (g_get_monotonic_time). */
void fp_verb_observe(const FpVerbMetrics *vm, const char *verb, unsigned int status,
                     gint64 start_us);

/* Count a request body that did not decode, by verb and a reason from the
 * FP_PROTOCOL_ERROR code of @error: invalid_json, limit, else
 * invalid_request. */
void fp_verb_count_request_error(const FpVerbMetrics *vm, const char *verb, const GError *error);

G_END_DECLS

#endif /* FP_EXTENDER_VERB_METRICS_H */
