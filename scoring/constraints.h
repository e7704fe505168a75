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
 * The requirements, over the policy's first label key of each fact:
 *   product  In [P]  when an allow-list, a memory floor or a price limit
 *            narrows the products, or the pod's model (known size) does
 *            not fit some known product: P = the allowed entries as
 *            written, the known products (offers, the policy's SKU table)
 *            that match one of them, or with no allow-list the known
 *            products that pass; every product in P passes the memory
 *            floor, the model's fit (scoring/model_fit.h, the pod's GPU
 *            count and the device's memory) and the price limit by its
 *            SKU entry or an offer (MIG wildcards expand to the known MIG
 *            products).  A model every known product holds adds nothing;
 *            one that none holds makes the constraints inexpressible;
 *   region   In [R]  when the demand has origins and a latency limit: the
 *            known regions (offers, the latency matrix, the origins) whose
 *            weighted round trip is within it, nearest first;
 *   capacity NotIn the spot values, one per capacity label key (and
 *            cloud.google.com/gke-preemptible), when the profile avoids
 *            spot;
 *   pool     NotIn [X], one per pool label key, when a known offer would
 *            pass the two above but flexplace rejects it (a pool priced
 *            above the limit, a node whose memory label is below the floor):
 *            the correction that keeps the requirements a subset of what
 *            flexplace accepts.
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
     * offer fits.  With @expressible false there are no requirements. */
    char *problem;
    bool expressible;
} FpConstraints;

/* Why flexplace's filters 6, 6b, 7, 7b, 8, 9 (SKU, spot, memory, model
 * fit, latency, price) reject a node with @facts for @demand, or NULL: the
 * same rules as fp_evaluate's, for nodes and templates alike. */
const char *fp_constraints_hard_reason(const FpPolicy *policy, const FpDemand *demand,
                                       const FpNodeFacts *facts);

/* The constraints of @demand under @policy given the @n known @offers (of
 * the demand's GPU resource).  Never NULL. */
FpConstraints *fp_constraints_new(const FpPolicy *policy, const FpDemand *demand,
                                  const FpOffer *offers, guint n, bool preferred);
void fp_constraints_free(FpConstraints *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpConstraints, fp_constraints_free)

/* Whether a node with @labels (char* -> char*) satisfies every required
 * expression of @c (In, NotIn, Exists, DoesNotExist as kube-scheduler
 * evaluates them). */
bool fp_constraints_admit(const FpConstraints *c, GHashTable *labels);

G_END_DECLS

#endif /* FP_SCORING_CONSTRAINTS_H */
