/*
 * extender/server/policy_match.h - the policy's names that match nothing in
 * the cluster, for serve's log, /readyz and /metrics.
 *
 * Purpose: a pool misspelled in the policy silently loses its ceiling and
 * price (policies/policy_cluster.h says what counts).  serve recomputes the
 * unmatched names when the policy in force changes and at most every
 * FP_POLICY_MATCH_INTERVAL_S otherwise (nodes come and go), once the view
 * has listed its nodes; it logs a warning whenever the set changes.
 *
 * Ownership: borrows the store and the view, which must outlive it.
 * Thread context: any thread (an internal mutex; the computation takes the
 * view's read lock).
 */
#ifndef FP_EXTENDER_POLICY_MATCH_H
#define FP_EXTENDER_POLICY_MATCH_H

#include <glib.h>
#include <stdbool.h>

#include "cache/view.h"
#include "policies/policy_store.h"

G_BEGIN_DECLS

#define FP_POLICY_MATCH_INTERVAL_S 30.0

typedef struct FpPolicyMatch FpPolicyMatch;

FpPolicyMatch *fp_policy_match_new(FpPolicyStore *policies, FpView *view);
void fp_policy_match_free(FpPolicyMatch *m);

typedef struct {
    bool known;  /* false until the view has listed its nodes */
    guint pools; /* unmatched pool names */
    guint regions;
    guint skus;
    char *text; /* fp_policy_unmatched_text, or NULL when none; owned */
} FpPolicyMatchStatus;

/* The current state (refreshed first when due); clear with
 * fp_policy_match_status_clear. */
void fp_policy_match_status(FpPolicyMatch *m, FpPolicyMatchStatus *out);
void fp_policy_match_status_clear(FpPolicyMatchStatus *st);

G_END_DECLS

#endif
