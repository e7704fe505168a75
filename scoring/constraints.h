/*
 * scoring/constraints.h - flexplace's hard constraints on a pod as node
 * selector requirements any scheduler or autoscaler can read.
 *
 * Purpose: kube-scheduler's own plugins, the Cluster Autoscaler and
 * Karpenter never call the extender, so a pod that flexplace would reject
 * everywhere looks to them like "any GPU node".  This module turns the
 * constraints of a pod's demand that depend only on what a node *is* (SKU
 * allow-list, per-GPU memory floor, the fit of the pod's model in one
 * device's memory, latency limit from the origins, price limit) into
 * requirements over the labels nodes carry, to be ANDed into the
 * pod's required node affinity (cache/affinity_patch.h).  A pool's
 * utilisation ceiling and free GPUs change from second to second and are
 * not constraints: the extender keeps enforcing them at filter.
 *
 * Device classes (scoring/device.h): offers carry the device class of the
 * demand's GPU resource - its product, memory and price, and whether it is
 * a shared replica - as fp_evaluate judges them, and the node's values of
 * the labels the requirements are written over.  The product requirement's
 * key and values follow the resource (fp_constraints_product_key):
 *   nvidia.com/gpu, nvidia.com/gpu.shared, any other policy gpuResource:
 *            the policy's first product key (nvidia.com/gpu.product).  A
 *            whole GPU, a MIG `single` slice ("<gpu>-MIG-1g.5gb") and a
 *            time-sliced replica with renameByDefault false ("<gpu>-SHARED")
 *            carry their device product there; with renameByDefault true
 *            (nvidia.com/gpu.shared) the label is the physical product and
 *            the device product "<gpu>-SHARED": the value is written
 *            without the suffix;
 *   nvidia.com/mig-<p> (MIG `mixed`): nvidia.com/mig-<p>.product, whose
 *            value is the slice's product; nvidia.com/gpu.product names the
 *            whole GPU on such nodes and is never used for these pods;
 *   amd.com/gpu: amd.com/gpu.device-id (the AMD labeller's; real MI300X
 *            nodes carry no product-name label): the ids the known offers
 *            of an accepted product carry, and the catalog's PCI ids of an
 *            accepted product (scoring/catalog gpu_models.csv aliases).
 * Only products a device of the resource can have are candidates (a
 * mig-<p> pod: products ending "-MIG-<p>"; gpu.shared: "-SHARED" ones;
 * amd.com/gpu: AMD products), and a shared replica's product only when the
 * filter allows sharing (6a: the profile's allowShared, the pod's
 * allow-list naming it, or the gpu.shared resource).
 * Memory floor of a MIG `mixed` pod: besides the product list,
 *   nvidia.com/mig-<p>.memory Gt [ceil(floor MiB) - 1]
 * (node affinity Gt takes one integer; the label is the slice's MiB as
 * GFD reports it, 4864 for a 1g.5gb on an A100-40GB: the floor is judged
 * on the slice's real memory, never on the "5gb" of the profile's name).
 * Offers of another GPU resource than the demand's are never accepted
 * (FP_REASON_NO_GPU_RESOURCE): a template whose labels describe plain GPUs
 * offers no mig-<p> resource.
 *
 * The requirements, over the policy's first label key of each fact:
 *   product  NotIn [S]  when the only product limit is that shared
 *            replicas are refused while known offers are ones: S = their
 *            label values (all of them must have one, else In below), so
 *            that a product added to the fleet later is still admitted;
 *   product  In [P]  when an allow-list, a memory floor or a price limit
 *            narrows the products, shared replicas are refused and NotIn
 *            cannot say it, or the pod's model (known size) does not fit
 *            some known product: P = the label values (above) of the
 *            allowed entries as written, the known products (offers, the
 *            policy's SKU table) that match one of them, or with no
 *            allow-list the known products that pass; every product in P
 *            passes the memory floor, the model's fit (scoring/model_fit.h,
 *            the pod's GPU count and the device's memory) and the price
 *            limit by its SKU entry or an accepted offer (MIG wildcards
 *            expand to the known MIG products).  A model every known
 *            product holds adds nothing; one that none holds makes the
 *            constraints unsatisfiable (below);
 *   region   In [R]  when the demand has origins and a latency limit: the
 *            known regions (offers, the latency matrix, the origins) whose
 *            weighted round trip is within it, nearest first;
 *   capacity NotIn the spot values, one per capacity label key (and
 *            cloud.google.com/gke-preemptible), when the profile avoids
 *            spot;
 *   memory   the MIG Gt above;
 *   pool     NotIn [X], one per pool label key, when a known offer would
 *            pass the requirements above but flexplace rejects it (a pool
 *            priced above the limit, a node whose memory label is below the
 *            floor, a time-sliced node among whole ones): the correction
 *            that keeps the requirements a subset of what flexplace
 *            accepts;
 *   node     kubernetes.io/hostname NotIn [H], the same correction for a
 *            known node that carries no pool label (its hostname label).
 * Values that are not valid label values can never equal a node's label and
 * are left out.  Nodes without a product or region label are excluded by an
 * In requirement even where flexplace would accept them: the requirements
 * may be narrower than the extender, never wider, for every known offer.
 *
 * Preferred terms (optional): the nearest regions (at most
 * FP_CONSTRAINTS_MAX_PREFERRED) as one term each, weight
 * max(1, round(100 * fp_latency_term(L))) for L the region's weighted
 * round trip: the engine's latency term on its absolute scale (engine.h),
 * so the webhook prefers regions by the same measure as the extender
 * scores them, whatever the limit (10 ms 73, 20 ms 61, 64 ms 36).
 *
 * Ownership: FpConstraints owns everything in it (fp_constraints_free).
 * Offers are borrowed for the call only.
 * Thread context: pure; any thread.
 */
#ifndef FP_SCORING_CONSTRAINTS_H
#define FP_SCORING_CONSTRAINTS_H

#include <glib.h>
#include <stdbool.h>

#include "scoring/engine.h"
#include "scoring/model.h"

G_BEGIN_DECLS

#define FP_CONSTRAINTS_MAX_PREFERRED 4
#define FP_CONSTRAINTS_HOSTNAME_KEY "kubernetes.io/hostname"

/* One weighted preferred term: all of @exprs (AND), weight 1..100. */
typedef struct {
    int weight;
    const FpSelReq *exprs;
    guint n_exprs;
} FpPreferredTerm;

/* A kind of node a pod could get: an existing node (its facts) or a pool
 * template that can make one (a Karpenter NodePool, a policy template). */
typedef struct {
    const char *name;  /* node or template name, for messages */
    FpNodeFacts facts; /* strings borrowed for the call */
    bool is_template;
    /* Templates only (scoring/scale_up.h): GPUs of a node it adds (0 =
     * unknown), and why it cannot add one now (at its maximum node count,
     * at a resource limit), or NULL.  Both are ignored by the constraints:
     * a pool at its maximum still holds nodes flexplace accepts. */
    int64_t gpus_per_node;
    const char *cannot_grow;
    /* The GPU resource its nodes offer; NULL: the demand's.  facts.product,
     * gpu_memory_mib and price_per_gpu_hour are that resource's device
     * class's (fp_facts_apply_device), what the filter judges. */
    const char *resource;
    bool shared; /* the device is a time-sliced or MPS replica (6a) */
    /* The node's values of fp_constraints_product_key and
     * fp_constraints_memory_key for the resource; NULL when absent. */
    const char *product_label;
    const char *memory_label;
    /* A node's kubernetes.io/hostname label, for the correction of a node
     * without a pool label; NULL for templates. */
    const char *host;
} FpOffer;

typedef struct {
    /* false: the pod requests no GPU, or its annotations are invalid
     * (then @problem says why); no requirement applies. */
    bool applies;
    FpSelReq *required; /* owned */
    guint n_required;
    FpPreferredTerm *preferred; /* owned, with their expressions */
    guint n_preferred;
    /* Offers flexplace accepts under the hard constraints, of @n_offers;
     * how many of those are templates. */
    guint offers_accepted;
    guint templates_accepted;
    guint n_offers;
    /* "NVIDIA-L4, NVIDIA-A10G within 40 ms of eastus" */
    char *summary;
    /* Why the pod can run nowhere flexplace knows of, or why its constraints
     * cannot be written (no product or region qualifies); NULL when some
     * offer fits.  With @expressible false there are no requirements,
     * except when @unsatisfiable. */
    char *problem;
    bool expressible;
    /* No known product or region satisfies the pod (not expressible): the
     * requirements are then the one pair "<key> Exists" and "<key>
     * DoesNotExist" over the product (else region) label key, which no
     * node matches, so that neither kube-scheduler's own plugins nor an
     * autoscaler place the pod where flexplace never would.  Not set when
     * the product has no label key (nothing can be written). */
    bool unsatisfiable;
} FpConstraints;

/* Why flexplace's filters 6, 6b, 7, 7b, 8, 9 (SKU, spot, memory, model
 * fit, latency, price) reject a node with @facts for @demand, or NULL: the
 * same rules as fp_evaluate's, for nodes and templates alike, with @facts
 * describing the device (product, memory, price). */
const char *fp_constraints_hard_reason(const FpPolicy *policy, const FpDemand *demand,
                                       const FpNodeFacts *facts);
/* fp_constraints_hard_reason for an offer, with 5 (an offer of another
 * GPU resource: FP_REASON_NO_GPU_RESOURCE) and 6a (a shared replica the
 * profile or pod does not allow: FP_REASON_SHARED), in the engine's
 * order. */
const char *fp_constraints_offer_reason(const FpPolicy *policy, const FpDemand *demand,
                                        const FpOffer *offer);

/* The label the product requirement of a pod requesting @resource is
 * written over (above), or NULL when the policy has no product key.
 * Written into @buf when built. */
const char *fp_constraints_product_key(const FpPolicy *policy, const char *resource, char *buf,
                                       gsize size);
/* "nvidia.com/mig-<p>.memory" for @resource "nvidia.com/mig-<p>", else
 * NULL. */
const char *fp_constraints_memory_key(const char *resource, char *buf, gsize size);
/* Enough for either key of a resource name (at most 253 + 63 characters). */
#define FP_CONSTRAINTS_KEY_MAX 330

/* The constraints of @demand under @policy given the @n known @offers (of
 * the demand's GPU resource).  Never NULL. */
FpConstraints *fp_constraints_new(const FpPolicy *policy, const FpDemand *demand,
                                  const FpOffer *offers, guint n, bool preferred);
void fp_constraints_free(FpConstraints *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpConstraints, fp_constraints_free)

/* Whether a node with @labels (char* -> char*) satisfies every required
 * expression of @c (In, NotIn, Exists, DoesNotExist, Gt, Lt as
 * kube-scheduler evaluates them: Gt/Lt compare the label and the one value
 * as base-10 64-bit integers, and fail when either is not one). */
bool fp_constraints_admit(const FpConstraints *c, GHashTable *labels);

G_END_DECLS

#endif /* FP_SCORING_CONSTRAINTS_H */
