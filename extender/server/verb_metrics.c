/*
 * extender/server/verb_metrics.c - the request-path metric families.
 */
#include "extender/server/verb_metrics.h"

#include "extender/wire/protocol.h"
#include "scoring/engine.h"

/* Every reason flexplace's filters can give, pre-registered so they render
 * as 0 before the first rejection. */
static const char *const filter_reasons[] = {
    FP_REASON_NOT_IN_VIEW,
    FP_REASON_INSUFFICIENT_GPUS,
    FP_REASON_TOO_FEW_GPUS,
    FP_REASON_NO_GPU_RESOURCE,
    FP_REASON_SKU,
    FP_REASON_GPU_MEMORY,
    FP_REASON_GPU_MEMORY_UNKNOWN,
    FP_REASON_SHARED,
    FP_REASON_SPOT,
    FP_REASON_LATENCY,
    FP_REASON_PRICE,
    FP_REASON_NOT_READY,
    FP_REASON_UNSCHEDULABLE,
    FP_REASON_POOL_CEILING,
    FP_REASON_MODEL_FIT,
    FP_REASON_TP_GPUS,
    FP_REASON_SPREAD,
    FP_REASON_TTS,
};

void fp_verb_metrics_init(FpVerbMetrics *vm, FpMetrics *m)
{
    vm->requests = fp_metrics_counter(m, "flexplace_requests_total",
                                      "HTTP requests answered, by verb (route) and status code.",
                                      FP_LABEL_NAMES("verb", "code"));
    vm->duration = fp_metrics_histogram(
        m, "flexplace_request_duration_seconds",
        "Time from the whole request body to the response being queued, by verb.",
        FP_LABEL_NAMES("verb"), fp_metrics_duration_buckets, FP_METRICS_DURATION_BUCKETS_N);
    vm->rejections = fp_metrics_counter(m, "flexplace_filter_rejections_total",
                                        "Nodes rejected by the filter verb, by reason.",
                                        FP_LABEL_NAMES("reason"));
    vm->bindings = fp_metrics_counter(m, "flexplace_bindings_total",
                                      "Bind verb outcomes: ok, refused (the node no longer "
                                      "fits or flexplace is not ready), failed (the API "
                                      "server refused the Binding or was not reached), "
                                      "unknown (the Binding may yet commit: GPUs held).",
                                      FP_LABEL_NAMES("result"));
    vm->prioritize = fp_metrics_counter(
        m, "flexplace_prioritize_total",
        "Prioritize answers by where the scores came from: the pod's filter in the same "
        "scheduling cycle (same pod, policy and nodes), or evaluated.",
        FP_LABEL_NAMES("scores"));
    vm->request_errors = fp_metrics_counter(
        m, "flexplace_request_errors_total",
        "Request bodies refused with 400, by verb and reason: invalid_json, invalid_request "
        "(not the verb's arguments), limit (more nodes than allowed, JSON nested too deep).",
        FP_LABEL_NAMES("verb", "reason"));
    fp_counter_with(vm->prioritize, FP_LABELS("filter"));
    fp_counter_with(vm->prioritize, FP_LABELS("evaluated"));
    for (guint i = 0; i < G_N_ELEMENTS(filter_reasons); i++) {
        fp_counter_with(vm->rejections, FP_LABELS(filter_reasons[i]));
    }
    const char *results[] = {"ok", "refused", "failed", "unknown"};
    for (guint i = 0; i < G_N_ELEMENTS(results); i++) {
        fp_counter_with(vm->bindings, FP_LABELS(results[i]));
    }
}

void fp_verb_observe(const FpVerbMetrics *vm, const char *verb, unsigned int status,
                     gint64 start_us)
{
    char code[16];
    g_snprintf(code, sizeof code, "%u", status);
    fp_counter_add(vm->requests, FP_LABELS(verb, code), 1);
    fp_histogram_observe(vm->duration, FP_LABELS(verb),
                         (double)(g_get_monotonic_time() - start_us) / G_USEC_PER_SEC);
}

void fp_verb_count_request_error(const FpVerbMetrics *vm, const char *verb, const GError *error)
{
    const char *reason = "invalid_request";
    if (error && error->domain == FP_PROTOCOL_ERROR) {
        reason = error->code == FP_PROTOCOL_ERROR_JSON    ? "invalid_json"
                 : error->code == FP_PROTOCOL_ERROR_LIMIT ? "limit"
                                                          : "invalid_request";
    }
    fp_counter_add(vm->request_errors, FP_LABELS(verb, reason), 1);
}
