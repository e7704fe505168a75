/*
 * scoring/short_list.h - the short list: only the best K passing nodes go
 * back to kube-scheduler.
 *
 * Purpose: kube-scheduler runs its own score plugins on every node an
 * extender's filter passes, and decodes every name and reason the filter
 * returns; at thousands of nodes that costs it more than the extender's
 * whole answer (extender-protocol.md, section 16: an extender returning 20
 * of 5,000 names made kube-scheduler 1.33x faster than with no extender).
 * flexplace has ranked every node already, so its filter returns only the
 * best K passing nodes and leaves every other node out of NodeNames and of
 * both fail maps.  kube-scheduler gives a node absent from all three the
 * status UnschedulableAndUnresolvable, which is harmless while one node
 * passes: the pod is scheduled among those that do.  When none passes the
 * answer is not touched: every node with its reason, as before, so the
 * pod's events and preemption work as without a short list.
 *
 * Rank: higher total first, then higher 0..10 score, then a tie key that
 * mixes the pod's identity with the node's name (fp_short_list_tie), so
 * that among equals each pod of a burst gets its own subset (as
 * kube-scheduler breaks exact ties at random) while one pod's retries see
 * the same one.  Totals include the GPUs assumed by binds the watch has
 * not shown yet, so a node a burst just filled drops out of the next pod's
 * list.
 *
 * Pure: no I/O, no locks.  Thread context: any thread.
 */
#ifndef FP_SCORING_SHORT_LIST_H
#define FP_SCORING_SHORT_LIST_H

#include <glib.h>

#include "scoring/engine.h"
#include "scoring/model.h"

G_BEGIN_DECLS

/* The default K: kube-scheduler was measured at 1.33x with 20 names of
 * 5,000 (extender-protocol.md, section 16); test/bench/README.md says why
 * 20 and what a larger K costs. */
#define FP_SHORT_LIST_DEFAULT 20u
/* The largest K a policy may set (kube-scheduler sends at most every node
 * of a cluster). */
#define FP_SHORT_LIST_MAX 100000u

/* K for @demand: its profile's shortList, else the policy's; 0 (every
 * passing node) for a pod that requests no GPU, on which flexplace has no
 * opinion. */
guint fp_short_list_size(const FpPolicy *policy, const FpDemand *demand);

/* The pod's seed for tie keys: a hash of its UID, else namespace/name. */
guint32 fp_short_list_seed(const FpPod *pod);
/* The tie key of a node for a pod: a mix of @seed and @name_hash (any
 * well-spread hash of the node's name). */
guint32 fp_short_list_tie(guint32 seed, guint32 name_hash);

/* Apply a short list of @k to @n verdicts: when more than @k pass, every
 * passing verdict but the best @k gets omit set; when at least one passes,
 * every failing verdict gets omit set too.  @k == 0 or no passing verdict:
 * nothing changes.  @tie holds each candidate's tie key (read only for
 * passing ones).  Returns how many passing verdicts are left unomitted.
 * @listed (may be NULL; room for MIN(@k, @n)): when the list applied (@k >
 * 0 and some verdict passes), receives the indices of the verdicts left in,
 * in increasing order, so that callers need not walk all @n again. */
guint fp_short_list_apply(FpVerdict *verdicts, guint n, const guint32 *tie, guint k, guint *listed);

/* Whether verdict @a ranks before verdict @b (the order above). */
bool fp_short_list_before(const FpVerdict *a, guint32 tie_a, const FpVerdict *b, guint32 tie_b);

G_END_DECLS

#endif /* FP_SCORING_SHORT_LIST_H */
