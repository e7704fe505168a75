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
 * Device classes: an offer is of one GPU resource (FpOffer.resource).  A
 * template offers the policy's first gpuResource (nvidia.com/gpu) with the
 * device class its labels give - unless its labels describe MIG `mixed`
 * nodes (nvidia.com/mig.strategy=mixed, or nvidia.com/mig-<p>.count
 * labels): then one offer per nvidia.com/mig-<p> resource the labels count,
 * with the slice's product, memory (.memory label) and price (a stated
 * pricePerGPUHour times the slice's fraction), and none of nvidia.com/gpu.
 * A template with a plain product never offers a mig-<p> resource.
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

/* Append the offers of every policy template to @offers (FpOffer), with
 * growth judged against @usage (may be NULL: no node yet). */
void fp_policy_template_offers(const FpPolicy *policy, const FpPoolUsage *usage, GArray *offers);

/* For template nodes (here and cache/nodepool.h): append to @offers a copy
 * of @base per MIG mixed resource of @node's inventory (above), with
 * @price_per_gpu (< 0: the inventory's price) scaled by the slice's
 * fraction.  Returns whether @node describes MIG mixed nodes (then it offers
 * no whole GPU). */
gboolean fp_template_mig_offers(const FpPolicy *policy, const FpNode *node, const FpOffer *base,
                                double price_per_gpu, GArray *offers);
/* Complete @o, the whole-GPU offer of template node @node (its facts from
 * fp_node_facts), from the class of @o->resource in the node's GPU
 * inventory, where the template does not say: the device's product unless
 * @keep_product, its memory unless @keep_memory, its price (a template's
 * own price is the caller's to apply after), whether it is a shared
 * replica, and, when @o->gpus_per_node is 0 and @count_from_device (the
 * node is one exact machine), the class's GPU count.  Then its labels are
 * set and its strings interned (fp_offer_set_labels, fp_offer_intern). */
void fp_template_whole_offer(FpOffer *o, const FpPolicy *policy, const FpNode *node,
                             bool keep_product, bool keep_memory, bool count_from_device);
/* @o's product_label and memory_label from @node's labels, for its
 * resource (fp_constraints_product_key / _memory_key), interned. */
void fp_offer_set_labels(FpOffer *o, const FpPolicy *policy, const FpNode *node);
/* Intern @o's fact strings and resource (g_intern_string), so that the
 * offer outlives the node they came from. */
void fp_offer_intern(FpOffer *o);

G_END_DECLS

#endif /* FP_CACHE_POOL_TEMPLATES_H */
