/*
 * policies/policy_cluster.h - names in a policy that match nothing in a
 * cluster.
 *
 * Purpose: a pool name misspelled in the policy silently disables that
 * pool's price and ceiling; a SKU entry or preference under a product string
 * no node reports never applies; a matrix row for a region with no nodes and
 * no origins is dead weight.  `flexplace policy check --cluster FILE` and
 * `serve` (log, /readyz, a metric) report them.  These are warnings, not
 * errors: an autoscaled pool may have no node right now.
 *
 * What counts (each compared with fp_node_facts of every node in the view):
 *  - pools:   pools[].name that no node's pool label carries;
 *  - regions: regions of regions.latencyMs that no node is in and that no
 *             profile names in originRegions;
 *  - skus:    products named by the policy that no node's product matches
 *             (fp_sku_matches: either "NVIDIA-" spelling, "-MIG-*"): skus
 *             entries that are not in the built-in SKU table, and every
 *             profile's allowedSKUs and skuPreference entries.
 * Each list is sorted and without duplicates.
 *
 * Ownership: the caller frees the result (fp_policy_unmatched_free).
 * Thread context: takes the view's read lock; any thread.
 */
#ifndef FP_POLICIES_POLICY_CLUSTER_H
#define FP_POLICIES_POLICY_CLUSTER_H

#include <glib.h>

#include "cache/view.h"
#include "scoring/placement_policy.h"

G_BEGIN_DECLS

typedef struct {
    GPtrArray *pools;   /* char*, owned */
    GPtrArray *regions; /* char*, owned */
    GPtrArray *skus;    /* char*, owned */
} FpPolicyUnmatched;

FpPolicyUnmatched *fp_policy_unmatched(const FpPolicy *policy, FpView *view);
void fp_policy_unmatched_free(FpPolicyUnmatched *u);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpPolicyUnmatched, fp_policy_unmatched_free)

/* Names in all three lists. */
guint fp_policy_unmatched_count(const FpPolicyUnmatched *u);

/* One line, e.g. "pools aws-use1-l5; SKUs NVIDIA-H100-80GB-HMB3", each list
 * cut after 10 names with "and N more"; NULL when nothing is unmatched. */
char *fp_policy_unmatched_text(const FpPolicyUnmatched *u);

G_END_DECLS

#endif
