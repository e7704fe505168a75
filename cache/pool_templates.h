/*
 * cache/pool_templates.h - the policy's pool templates as offers, and how
 * much each pool that can grow already holds.
 *
 * Purpose: "pools that can grow" are Karpenter NodePools (cache/nodepool.h)
 * and the policy's poolTemplates (Cluster Autoscaler node groups, hand-run
 * Flex pools; scoring/placement_policy.h FpPolicyTemplate).  Both become
 * template offers (scoring/constraints.h FpOffer, is_template): the webhook
 * narrows pods to them, and the scale-up judgement (scoring/scale_up.h)
 * asks whether a node they add would pass flexplace's filters.
 *
 * A policy template's offer: the facts fp_node_facts computes for a node
 * carrying the template's labels plus the policy's first label key of each
 * fact it states (product, region, instance type, capacity type, memory),
 * with the GPU's product, memory and price from the node's GPU inventory
 * (the instance type in the built-in catalog or instanceTypes) where the
 * template does not state them; the template's pricePerGPUHour wins over
 * all (spot factor not applied to it).  The pool is the first pool label
 * among its labels, else the template's name.  gpus_per_node: gpusPerNode,
 * else the instance type's GPU count.
 *
 * Growth (FpOffer.cannot_grow):
 *   policy template  maxNodes > 0 and the view has that many nodes of the
 *                    pool (by their pool fact): FP_REASON_TEMPLATE_MAX_NODES;
 *   NodePool         spec.limits against the nodes labelled
 *                    karpenter.sh/nodepool=<name>: "nodes" reached; cpu
 *                    (allocatable, milli) reached; nvidia.com/gpu (or
 *                    another limited GPU resource) with one more node of
 *                    gpus_per_node (1 when unknown) over it.  Allocatable
 *                    stands in for Karpenter's capacity (a little lower:
 *                    the judgement errs towards "can grow").
 *
 * Ownership: FpPoolUsage is owned by the caller (fp_pool_usage_free).
 * Offers' strings are interned (g_intern_string); the growth reasons are
 * static.  Thread context: any thread; fp_pool_usage_new takes the view's
 * read lock.
 */
#ifndef FP_CACHE_POOL_TEMPLATES_H
#define FP_CACHE_POOL_TEMPLATES_H

#include <glib.h>

#include "cache/view.h"
#include "scoring/constraints.h"
#include "scoring/placement_policy.h"

G_BEGIN_DECLS

/* What the nodes of one pool, or of one NodePool, hold. */
typedef struct {
    guint nodes;
    int64_t cpu_milli; /* allocatable cpu */
    FpResList gpus;    /* allocatable of each GPU resource of the policy */
} FpPoolUse;

typedef struct {
    GHashTable *by_pool;     /* pool fact -> FpPoolUse* */
    GHashTable *by_nodepool; /* karpenter.sh/nodepool label -> FpPoolUse* */
} FpPoolUsage;

/* The usage of every pool of @view's nodes under @policy. */
FpPoolUsage *fp_pool_usage_new(FpView *view, const FpPolicy *policy);
void fp_pool_usage_free(FpPoolUsage *usage);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpPoolUsage, fp_pool_usage_free)
/* The usage of pool @name (by_pool) or NodePool @name (by_nodepool), or
 * NULL when no node belongs to it.  @usage may be NULL. */
const FpPoolUse *fp_pool_usage_pool(const FpPoolUsage *usage, const char *name);
const FpPoolUse *fp_pool_usage_nodepool(const FpPoolUsage *usage, const char *name);

/* Append one offer per policy template to @offers (FpOffer), with growth
 * judged against @usage (may be NULL: no node yet). */
void fp_policy_template_offers(const FpPolicy *policy, const FpPoolUsage *usage, GArray *offers);

G_END_DECLS

#endif /* FP_CACHE_POOL_TEMPLATES_H */
