/*
 * cache/affinity_patch.h - narrow a Pod's required node affinity, as an
 * RFC 6902 JSON Patch.
 *
 * Purpose: the mutating webhook's transform.  Given a v1 Pod as JSON and
 * node selector requirements C (what flexplace's policy demands of a node),
 * produce the JSON Patch that makes the pod's required node affinity
 * "(what it was) AND C", so the pod's own affinity is only ever narrowed:
 *
 *   - no affinity / nodeAffinity / required part: add one nodeSelectorTerm
 *     holding C, at the shallowest missing level ("add" when the member is
 *     absent, "replace" when it is present but null);
 *   - existing nodeSelectorTerms (ORed by kube-scheduler): C is appended to
 *     every term's matchExpressions ("add .../matchExpressions/-"; the whole
 *     array is added to a term that has none), because
 *     (T1 or T2) and C == (T1 and C) or (T2 and C);
 *   - a null or empty term (no matchExpressions, no matchFields) matches no
 *     node in Kubernetes, so it is left alone: adding C would widen it; an
 *     empty nodeSelectorTerms list likewise;
 *   - an expression a term already holds (equal JSON) is not added again,
 *     so a reinvoked webhook changes nothing;
 *   - optional weighted preferred terms are appended to
 *     preferredDuringSchedulingIgnoredDuringExecution;
 *   - optionally one annotation records what was added (its key is escaped
 *     as a JSON pointer: "/" -> "~1", "~" -> "~0").
 *
 * Limits: the patched Pod must stay valid and storable.  Kubernetes
 * validates every requirement (key a qualified label name of at most 63
 * characters with an optional DNS-subdomain prefix of at most 253; In and
 * NotIn need values; Exists and DoesNotExist take none; Gt and Lt exactly
 * one integer; preferred weights 1..100) and etcd refuses objects over
 * 1.5 MiB.  flexplace adds its own bounds so that kube-scheduler's per-node
 * affinity check stays cheap: at most FP_AFFINITY_MAX_TERMS terms, at most
 * FP_AFFINITY_MAX_EXPRS expressions per term, FP_AFFINITY_MAX_VALUES values
 * per expression after the merge.  A merge that would break any of these
 * returns no patch and a warning saying which limit: the caller allows the
 * pod unchanged (the extender still enforces at filter).
 *
 * Ownership: returns new references / g_malloc'ed strings; inputs borrowed.
 * Thread context: any thread; pure (no I/O).
 */
#ifndef FP_CACHE_AFFINITY_PATCH_H
#define FP_CACHE_AFFINITY_PATCH_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>

#include "scoring/constraints.h"
#include "scoring/model.h"

G_BEGIN_DECLS

#define FP_AFFINITY_MAX_TERMS 64
#define FP_AFFINITY_MAX_EXPRS 64
#define FP_AFFINITY_MAX_VALUES 256
/* etcd's default request limit (--max-request-bytes), which bounds a
 * stored object. */
#define FP_AFFINITY_MAX_POD_BYTES ((size_t)1536 * 1024)

typedef struct {
    const FpSelReq *required; /* ANDed into every required term */
    guint n_required;
    const FpPreferredTerm *preferred; /* appended; may be NULL */
    guint n_preferred;
    /* Annotation recorded on the pod when the patch is not empty, or NULL. */
    const char *annotation_key;
    const char *annotation_value;
} FpAffinityMerge;

/* "In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt". */
const char *fp_sel_op_name(FpSelOp op);
/* A requirement as Kubernetes JSON {"key","operator","values"}. */
json_t *fp_sel_req_to_json(const FpSelReq *req);
/* Whether @req passes Kubernetes' validation of a NodeSelectorRequirement;
 * when not, *why (may be NULL) gets a static reason. */
bool fp_sel_req_valid(const FpSelReq *req, const char **why);

/* @token escaped as one JSON-pointer reference token (RFC 6901). */
char *fp_json_pointer_escape(const char *token);

/* The JSON Patch (an array; empty when nothing changes) for @pod.  NULL
 * with *warning (g_free) when the pod's affinity cannot be narrowed within
 * the limits above or has a shape Kubernetes would not accept (a term that
 * is not an object, matchExpressions that is not a list, ...): the caller
 * then leaves the pod unchanged. */
json_t *fp_affinity_patch(const json_t *pod, const FpAffinityMerge *merge, char **warning);

G_END_DECLS

#endif /* FP_CACHE_AFFINITY_PATCH_H */
