/*
 * cache/nodepool.h - Karpenter NodePools as pool templates: the kinds of
 * node an autoscaler can add to the cluster.
 *
 * Purpose: a pool with no node yet exists only in the autoscaler.  A
 * karpenter.sh/v1 NodePool's template labels and requirements say which
 * GPU products, regions and capacity types its nodes can have, and its
 * limits how much it may grow.  fp_nodepool_parse reads one NodePool;
 * fp_nodepool_offers turns templates into offers (scoring/constraints.h)
 * under a policy, so the webhook's constraints include pools at zero nodes;
 * fp_nodepools_fetch lists them from the API server, where a cluster without
 * Karpenter answers 404 (not an error: no templates).
 *
 * What a NodePool says, read through the policy's label keys:
 *   product   a template label under a key of policy->label_product, else a
 *             requirement "In" on such a key (each value one product);
 *             else what the machine it launches has, by the GPU inventory
 *             (cache/gpu_inventory.h: the policy's instanceTypes, then the
 *             built-in catalog) of a node labelled with it;
 *   machine   the instance types it names (a label or an "In" requirement
 *             on a key of policy->label_instance_type), else its AWS
 *             instance families (karpenter.k8s.aws/instance-family: any
 *             size of the family), else Karpenter's GPU names
 *             (karpenter.k8s.aws/instance-gpu-name, karpenter.azure.com/
 *             sku-gpu-name): one offer each.  The machine also gives
 *             memory and price (the catalog's, in the offer's region)
 *             where the policy has none, and an exact instance type its
 *             GPUs per node;
 *   region    likewise over policy->label_region; unknown otherwise;
 *   capacity  karpenter.sh/capacity-type In values, minus NotIn values of
 *             spot / on-demand / reserved; Karpenter's default on-demand
 *             when unconstrained;
 *   pool      the first key of policy->label_pool among the template
 *             labels, else the NodePool's name (karpenter.sh/nodepool);
 *   limits    spec.limits (v1), or spec.limits.resources (v1beta1), by
 *             resource name.
 * Bounds: at most FP_NODEPOOL_MAX_VALUES values per requirement and
 * FP_NODEPOOL_MAX_OFFERS offers per NodePool; a NodePool past them is
 * refused with an error naming it.
 *
 * Ownership: FpPoolTemplate owns its strings; offers' strings are interned
 * (g_intern_string: they live for the process, and a cluster has a
 * handful of NodePools).  Thread context: any thread.
 */
#ifndef FP_CACHE_NODEPOOL_H
#define FP_CACHE_NODEPOOL_H

#include <glib.h>
#include <jansson.h>

#include "cache/kube_client.h"
#include "cache/pool_templates.h"
#include "scoring/constraints.h"
#include "scoring/placement_policy.h"

G_BEGIN_DECLS

#define FP_NODEPOOL_MAX_VALUES 64
#define FP_NODEPOOL_MAX_OFFERS 256
#define FP_NODEPOOL_MAX_POOLS 512

#define FP_NODEPOOL_ERROR (fp_nodepool_error_quark())
GQuark fp_nodepool_error_quark(void);
typedef enum {
    FP_NODEPOOL_ERROR_SHAPE, /* not a NodePool, or a field of the wrong type */
    FP_NODEPOOL_ERROR_LIMIT, /* over a bound above */
    FP_NODEPOOL_ERROR_API,   /* the API server failed (not 404) */
} FpNodePoolError;

typedef struct {
    char *name;
    GHashTable *labels; /* spec.template.metadata.labels, char* -> char* */
    FpSelReq *requirements;
    guint n_requirements;
    char **products;       /* NULL-terminated; empty = unknown */
    char **regions;        /* NULL-terminated; empty = unknown */
    char **capacity_types; /* NULL-terminated, never empty */
    char **gpu_names;      /* Karpenter's GPU name requirement values */
    char **instance_types; /* NULL-terminated; empty = not named */
    char **families;       /* karpenter.k8s.aws/instance-family values */
    char *pool;            /* the pool name nodes of it carry */
    FpResList limits;
} FpPoolTemplate;

/* One NodePool object (karpenter.sh/v1, or v1beta1).  NULL with @error. */
FpPoolTemplate *fp_nodepool_parse(const json_t *obj, const FpPolicy *policy, GError **error);
void fp_pool_template_free(FpPoolTemplate *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpPoolTemplate, fp_pool_template_free)

/* Append to @offers (FpOffer) one offer per (product, region, machine) of
 * @t, with
 * facts as fp_node_facts computes them for a node carrying the template's
 * labels and those values (price and memory from the policy's SKU table).
 * A template without a known product still offers "" (an unknown GPU).
 * The offers are of the policy's first GPU resource (FpOffer.resource),
 * except for a template whose labels describe MIG mixed nodes: one offer
 * per nvidia.com/mig-<p> resource they count instead
 * (fp_template_mig_offers).
 * gpus_per_node: the largest count a requirement on
 * karpenter.k8s.aws/instance-gpu-count (or karpenter.azure.com/
 * sku-gpu-count) allows (In values, Lt - 1), else an exact instance
 * type's, 0 when none says; cannot_grow
 * from spec.limits against @usage (cache/pool_templates.h; may be NULL). */
void fp_nodepool_offers(const FpPoolTemplate *t, const FpPolicy *policy, const FpPoolUsage *usage,
                        GArray *offers);

/* LIST /apis/karpenter.sh/v1/nodepools into @out (FpPoolTemplate*, owned by
 * the array).  TRUE with *absent set when the API has no such resource
 * (404); FALSE with @error when the call fails otherwise.  NodePools that
 * do not parse are skipped and counted in *skipped (may be NULL). */
gboolean fp_nodepools_fetch(FpKubeClient *client, const FpPolicy *policy, GPtrArray *out,
                            gboolean *absent, guint *skipped, GError **error);

/* ---- the live source ----------------------------------------------- */

typedef struct FpNodePoolSource FpNodePoolSource;

/* List and watch NodePools on a thread of its own, like the informer:
 * LIST, then WATCH from its resourceVersion (bookmarks on, 5-10 minute
 * watches, again from the last resourceVersion when one ends; a 410
 * relists at once).  A 404 (Karpenter absent, or its CRD removed) empties
 * the list and LISTs again every @interval_s seconds; any other failure
 * keeps the last good list, is logged (once a minute at most) and retried
 * with a jittered backoff from 1 s up to @interval_s.  At most
 * FP_NODEPOOL_MAX_POOLS NodePools are kept.  @client must outlive the
 * source. */
FpNodePoolSource *fp_nodepool_source_start(FpKubeClient *client, guint interval_s);
void fp_nodepool_source_stop(FpNodePoolSource *source);
/* The offers of the last good list under @policy, growth judged against
 * @usage (may be NULL): a new array of FpOffer (interned strings), empty
 * when there are none. */
GArray *fp_nodepool_source_offers(FpNodePoolSource *source, const FpPolicy *policy,
                                  const FpPoolUsage *usage);
/* Watch changes applied (ADDED, MODIFIED, DELETED, and the resource going
 * away). */
guint64 fp_nodepool_source_events(FpNodePoolSource *source);
/* Completed LISTs, and whether the resource is absent now. */
guint64 fp_nodepool_source_lists(FpNodePoolSource *source, gboolean *absent);

G_END_DECLS

#endif /* FP_CACHE_NODEPOOL_H */
