/*
 * extender/server/mutate.h - the mutating admission webhook (POST /mutate).
 *
 * Purpose: kube-scheduler's own plugins, the Cluster Autoscaler and
 * Karpenter never call the extender, so a GPU pod flexplace would reject
 * everywhere looks to them like "one GPU, anywhere".  At admission the
 * webhook writes flexplace's hard constraints into the pod's required node
 * affinity (scoring/constraints.h over the view and pool templates, merged by
 * cache/affinity_patch.h), so every scheduler and autoscaler sees them.
 *
 * Answers (the API server applies the webhook's failurePolicy only to the
 * 400s; the shipped configuration says Ignore, so flexplace's own failure
 * never blocks a pod - the extender still enforces at filter):
 *   - a body that is not an AdmissionReview, or over its bounds: 400 with
 *     the reason;
 *   - anything but a Pod CREATE, and a pod that requests no GPU: allowed,
 *     unchanged, no warning;
 *   - a GPU pod: allowed with a JSONPatch narrowing its node affinity, the
 *     flexplace.io/constraints annotation saying what was added, and the
 *     warning "flexplace: constrained to <summary>" (plus one saying why
 *     when no node or pool template offers what it needs);
 *   - a GPU pod flexplace cannot constrain (view not ready, invalid
 *     annotations, constraints no label can express, a merge past
 *     Kubernetes' limits): allowed, unchanged, with a warning saying why.
 * Dry runs get the same answer (the webhook has no side effects).
 *
 * Ownership: the environment is borrowed; it must outlive the server.
 * Thread context: HTTP pool threads, concurrently; reads the view under its
 * lock and the policy through a reference.
 */
#ifndef FP_EXTENDER_MUTATE_H
#define FP_EXTENDER_MUTATE_H

#include <glib.h>
#include <stdbool.h>

#include "cache/view.h"
#include "extender/http/http_server.h"
#include "extender/obs/metrics.h"
#include "policies/policy_store.h"
#include "scoring/constraints.h"

G_BEGIN_DECLS

/* Annotation recording what the webhook added. */
#define FP_ANN_CONSTRAINTS "flexplace.io/constraints"

typedef struct {
    FpView *view;
    FpPolicyStore *policies;
    /* Whether the view can answer (NULL: always); *why a static reason. */
    bool (*ready)(void *ctx, const char **why);
    void *ready_ctx;
    /* Pool templates (nodes an autoscaler can add) under @policy, or NULL:
     * a new array of FpOffer whose strings outlive the call. */
    GArray *(*templates)(void *ctx, const FpPolicy *policy);
    void *templates_ctx;
    bool preferred; /* also add the nearest regions as preferred terms */
    /* flexplace_admission_reviews_total{result}; may be NULL. */
    FpCounter *reviews;
} FpMutateEnv;

typedef enum {
    FP_MUTATE_PATCHED,   /* allowed with a patch */
    FP_MUTATE_UNCHANGED, /* a GPU pod left unchanged, with a warning */
    FP_MUTATE_SKIPPED,   /* not a GPU pod CREATE: allowed, unchanged */
    FP_MUTATE_BAD,       /* 400 */
} FpMutateResult;

/* "patched", "unchanged", "skipped", "bad_request". */
const char *fp_mutate_result_name(FpMutateResult r);

/* Register flexplace_admission_reviews_total in @m and return it. */
FpCounter *fp_mutate_metrics(FpMetrics *m);

/* The webhook's reply to the review @body: the AdmissionReview JSON
 * (g_free), or NULL with @error for a 400.  *result says which answer. */
char *fp_mutate_answer(const FpMutateEnv *env, const char *body, size_t len, size_t *out_len,
                       FpMutateResult *result, GError **error);

/* POST /mutate (data: FpMutateEnv). */
void fp_mutate_handle(const FpHttpRequest *req, FpHttpResponse *resp, void *data);

G_END_DECLS

#endif /* FP_EXTENDER_MUTATE_H */
