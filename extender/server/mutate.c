/*
 * extender/server/mutate.c - POST /mutate: AdmissionReview in, node
 * affinity narrowed by flexplace's hard constraints out (contract in the
 * header).
 */
#include "extender/server/mutate.h"

#include <string.h>

#include "cache/affinity_patch.h"
#include "cache/constraints_view.h"
#include "extender/obs/log.h"
#include "extender/wire/admission.h"

const char *fp_mutate_result_name(FpMutateResult r)
{
    switch (r) {
    case FP_MUTATE_PATCHED:
        return "patched";
    case FP_MUTATE_UNCHANGED:
        return "unchanged";
    case FP_MUTATE_SKIPPED:
        return "skipped";
    case FP_MUTATE_BAD:
        return "bad_request";
    }
    return "unknown";
}

FpCounter *fp_mutate_metrics(FpMetrics *m)
{
    static const char *const labels[] = {"result", NULL};
    FpCounter *c = fp_metrics_counter(
        m, "flexplace_admission_reviews_total",
        "AdmissionReviews answered by /mutate: patched, unchanged (a GPU pod flexplace could not "
        "constrain), skipped (not a GPU pod create), bad_request",
        labels);
    for (FpMutateResult r = FP_MUTATE_PATCHED; c && r <= FP_MUTATE_BAD; r++) {
        fp_counter_with(c, (const char *const[]){fp_mutate_result_name(r)});
    }
    return c;
}

/* What one review decided: the patch (or none) and the warnings. */
typedef struct {
    FpMutateResult result;
    json_t *patch;
    GPtrArray *warnings; /* char*, owned */
} Decision;

static void unchanged(Decision *d, char *warning)
{
    d->result = FP_MUTATE_UNCHANGED;
    g_ptr_array_add(d->warnings, warning);
}

/* The constraints of @pod's demand, or a warning why there are none. */
static FpConstraints *constraints_for(const FpMutateEnv *env, const FpPolicy *policy,
                                      const FpDemand *demand)
{
    GArray *tmpl = env->templates ? env->templates(env->templates_ctx, policy) : NULL;
    FpConstraints *c = fp_view_constraints(env->view, policy, demand,
                                           tmpl ? (const FpOffer *)(void *)tmpl->data : NULL,
                                           tmpl ? tmpl->len : 0, env->preferred);
    if (tmpl) {
        g_array_unref(tmpl);
    }
    return c;
}

static void decide_pod(const FpMutateEnv *env, const FpAdmissionRequest *req, Decision *d)
{
    GError *error = NULL;
    g_autoptr(FpPod) pod = fp_admission_pod(req, &error);
    if (!pod) {
        unchanged(d, g_strdup_printf("flexplace: pod left unchanged: cannot read it: %s",
                                     error->message));
        g_error_free(error);
        return;
    }
    g_autoptr(FpPolicy) policy = fp_policy_store_get(env->policies);
    g_autoptr(FpDemand) demand = fp_demand_new(pod, policy);
    if (!demand->resource && !demand->invalid_reason) {
        d->result = FP_MUTATE_SKIPPED; /* not a GPU pod */
        return;
    }
    const char *why = NULL;
    if (env->ready && !env->ready(env->ready_ctx, &why)) {
        unchanged(d, g_strdup_printf("flexplace: pod left unchanged: flexplace not ready (%s)",
                                     why ? why : "not ready"));
        return;
    }
    g_autoptr(FpConstraints) c = constraints_for(env, policy, demand);
    if (!c->applies || (!c->expressible && !c->unsatisfiable)) {
        unchanged(d, g_strdup_printf("flexplace: pod left unchanged: %s",
                                     c->problem ? c->problem : "no constraint applies"));
        return;
    }
    if (c->n_required == 0 && c->n_preferred == 0) {
        d->result = FP_MUTATE_SKIPPED; /* nothing narrows this pod */
        return;
    }
    g_autofree char *note = g_strdup_printf("%s (policy generation %" G_GUINT64_FORMAT ")",
                                            c->summary, policy->generation);
    FpAffinityMerge m = {.required = c->required,
                         .n_required = c->n_required,
                         .preferred = c->preferred,
                         .n_preferred = c->n_preferred,
                         .annotation_key = FP_ANN_CONSTRAINTS,
                         .annotation_value = note};
    char *warning = NULL;
    d->patch = fp_affinity_patch(req->object, &m, &warning);
    if (!d->patch) {
        unchanged(d, warning);
        return;
    }
    /* Empty when the pod already carries every requirement (a reinvoked
     * webhook, or a pod that was written with them). */
    d->result = json_array_size(d->patch) > 0 ? FP_MUTATE_PATCHED : FP_MUTATE_SKIPPED;
    if (c->unsatisfiable) {
        g_ptr_array_add(d->warnings,
                        g_strdup_printf("flexplace: %s; its node affinity now matches no node, so "
                                        "no scheduler or autoscaler places it",
                                        c->problem));
        return;
    }
    g_ptr_array_add(d->warnings, g_strdup_printf("flexplace: constrained to %s", c->summary));
    if (c->problem) {
        g_ptr_array_add(d->warnings, g_strdup_printf("flexplace: %s", c->problem));
    }
}

char *fp_mutate_answer(const FpMutateEnv *env, const char *body, size_t len, size_t *out_len,
                       FpMutateResult *result, GError **error)
{
    g_autoptr(FpAdmissionRequest) req = fp_admission_request_parse(body, len, error);
    if (!req) {
        *result = FP_MUTATE_BAD;
        return NULL;
    }
    Decision d = {.result = FP_MUTATE_SKIPPED, .warnings = g_ptr_array_new_with_free_func(g_free)};
    if (fp_admission_is_pod_create(req)) {
        decide_pod(env, req, &d);
    }
    g_ptr_array_add(d.warnings, NULL);
    char *reply = fp_admission_encode_response(req->api_version, req->uid, true, d.patch,
                                               (char *const *)d.warnings->pdata, NULL, out_len);
    if (d.result != FP_MUTATE_SKIPPED) {
        const char *first = d.warnings->len > 1 ? d.warnings->pdata[0] : "";
        fp_log_fields(G_LOG_LEVEL_INFO, "mutate", "namespace", req->namespace_, "name",
                      *req->name ? req->name : "(generateName)", "uid", req->uid, "result",
                      fp_mutate_result_name(d.result), "dry_run", req->dry_run ? "true" : "false",
                      "warning", first, NULL);
    }
    *result = d.result;
    json_decref(d.patch);
    g_ptr_array_unref(d.warnings);
    return reply;
}

void fp_mutate_handle(const FpHttpRequest *req, FpHttpResponse *resp, void *data)
{
    const FpMutateEnv *env = data;
    GError *error = NULL;
    FpMutateResult result = FP_MUTATE_BAD;
    size_t len = 0;
    char *reply = fp_mutate_answer(env, req->body, req->body_len, &len, &result, &error);
    if (env->reviews) {
        fp_counter_add(env->reviews, (const char *const[]){fp_mutate_result_name(result)}, 1);
    }
    if (!reply) {
        fp_log_warn_limited("mutate", 1, "mutate: bad AdmissionReview: %s", error->message);
        fp_http_response_error(resp, 400, error->message);
        g_error_free(error);
        return;
    }
    resp->status = 200;
    resp->body = reply;
    resp->body_len = len;
}
