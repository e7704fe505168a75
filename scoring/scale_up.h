/*
 * scoring/scale_up.h - would a pod that fits no existing node fit on a node
 * an autoscaler can add?
 *
 * Purpose: a pool template (a Karpenter NodePool, a policy poolTemplate;
 * scoring/constraints.h FpOffer with is_template) stands for the nodes a
 * pool can still get.  A pod fits one after a scale-up when a node of it
 * passes flexplace's hard filters for the pod - the pod's GPU resource
 * (a template offers the resources its labels describe), SKU allow-list,
 * shared replicas, spot avoidance, memory floor, the model's fit in the
 * device's memory, latency limit, price limit (fp_constraints_offer_reason)
 * - GPUs per node >= the request when the
 * template says how many - and the template can still grow (its
 * cannot_grow is NULL: below its maximum node count and resource limits).
 * Of those, the target is the cheapest by price per GPU-hour (unknown prices
 * last), then the nearest, then the smallest name: deterministic.
 *
 * The answer is said in one line, the same in `flexplace score`, its JSON,
 * /debug/decisions and the pod's Event:
 *   would fit after scale-up: pool aks-l4-eus (NVIDIA-L4, eastus, 2 ms, $0.80/h)
 *   no pool can grow to fit: aks-a100-eus: GPU SKU not allowed by policy; ...
 *   no pool can grow to fit: no pool templates known (policy poolTemplates,
 *   Karpenter NodePools)
 * At most FP_SCALE_UP_MAX_LISTED templates are named in the second form
 * (the first reason of each, by template name), then "and N more".
 *
 * Ownership: FpScaleUp owns its strings (fp_scale_up_free).  Offers are
 * borrowed for the call.  Thread context: pure; any thread.
 */
#ifndef FP_SCORING_SCALE_UP_H
#define FP_SCORING_SCALE_UP_H

#include <glib.h>
#include <stdbool.h>

#include "scoring/constraints.h"
#include "scoring/engine.h"

G_BEGIN_DECLS

#define FP_SCALE_UP_MAX_LISTED 4
#define FP_REASON_TEMPLATE_TOO_FEW_GPUS "its nodes have fewer GPUs than the pod requests"
/* Why a template cannot add a node now (FpOffer.cannot_grow). */
#define FP_REASON_TEMPLATE_MAX_NODES "pool at its maxNodes"
#define FP_REASON_TEMPLATE_NODE_LIMIT "NodePool at its nodes limit"
#define FP_REASON_TEMPLATE_CPU_LIMIT "NodePool at its cpu limit"
#define FP_REASON_TEMPLATE_GPU_LIMIT "NodePool at its GPU limit"

typedef struct {
    bool fits;           /* a template fits after a scale-up */
    char *template_name; /* the target's template (NodePool, poolTemplate) */
    char *pool;
    char *product;
    char *region;
    double latency_ms;         /* weighted from the pod's origins; < 0 = no origins */
    double price_per_gpu_hour; /* < 0 = unknown */
    guint templates;           /* template offers considered */
    char *text;                /* the one line above */
} FpScaleUp;

/* Why a node of template @offer cannot take a pod of @demand after a
 * scale-up (a filter reason, FP_REASON_TEMPLATE_TOO_FEW_GPUS, or the
 * offer's cannot_grow), or NULL when it can. */
const char *fp_scale_up_reason(const FpPolicy *policy, const FpDemand *demand,
                               const FpOffer *offer);

/* The judgement over the templates among @n @offers (other offers are
 * skipped).  Never NULL. */
FpScaleUp *fp_scale_up_new(const FpPolicy *policy, const FpDemand *demand, const FpOffer *offers,
                           guint n);
void fp_scale_up_free(FpScaleUp *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpScaleUp, fp_scale_up_free)

G_END_DECLS

#endif /* FP_SCORING_SCALE_UP_H */
