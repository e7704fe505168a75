/*
 * cache/kobj.h - decode Kubernetes Node and Pod JSON into the plain model.
 *
 * Purpose: the single place that reads v1.Node / v1.Pod JSON (from the API
 * server, a snapshot file, or a kube-scheduler request body) and builds
 * FpNode / FpPod.  Unknown fields are ignored, null is accepted anywhere a
 * list, map or object may be, quantities are parsed with the full grammar.
 *
 * Ownership: returns new references; the json_t input is only borrowed.
 * Errors: NULL plus a GError in FP_KOBJ_ERROR naming the offending field path
 * (e.g. `spec.containers[0].resources.requests["nvidia.com/gpu"]: ...`).
 * Thread context: any thread.
 */
#ifndef FP_CACHE_KOBJ_H
#define FP_CACHE_KOBJ_H

#include <glib.h>
#include <jansson.h>

#include "scoring/model.h"

G_BEGIN_DECLS

#define FP_KOBJ_ERROR (fp_kobj_error_quark())
GQuark fp_kobj_error_quark(void);
typedef enum {
    FP_KOBJ_ERROR_TYPE,     /* a field has the wrong JSON type */
    FP_KOBJ_ERROR_MISSING,  /* a required field is missing (metadata.name) */
    FP_KOBJ_ERROR_QUANTITY, /* a quantity does not parse */
    FP_KOBJ_ERROR_VALUE,    /* a value outside its allowed set (unknown operator,
                               priority out of int32 range) */
} FpKobjError;

typedef enum {
    /* Everything placement and the dry run read: labels, annotations,
     * nodeSelector, affinity, tolerations, all requests. */
    FP_POD_FULL,
    /* What the live cache keeps: identity, node, phase, priority, owner and
     * requests of extended resources only (about 200 bytes a pod). */
    FP_POD_CACHE,
    /* FP_POD_FULL for a pod not bound yet (spec.nodeName empty: the pods
     * the bind and preempt verbs place, which read its annotations and
     * scheduling constraints), FP_POD_CACHE for a bound one. */
    FP_POD_AUTO,
} FpPodDetail;

/* v1.Node -> FpNode. Requires metadata.name. */
FpNode *fp_node_from_json(const json_t *obj, GError **error);
/* v1.Pod -> FpPod. Requires metadata.name; namespace defaults to "default". */
FpPod *fp_pod_from_json(const json_t *obj, FpPodDetail detail, GError **error);

G_END_DECLS

#endif /* FP_CACHE_KOBJ_H */
