/*
 * extender/server/score_memo.h - a pod's filter scores, kept for the prioritize
 * call that follows it in the same scheduling cycle.
 *
 * Purpose: kube-scheduler filters and scores a pod on one snapshot of the
 * cluster, and with flexplace as its extender it sends prioritize exactly
 * the nodes flexplace's filter passed, in the order filter returned them
 * (it keeps the extender's NodeNames as they come; it skips prioritize when
 * one node is left): with the short list, only the K nodes the answer
 * named.  flexplace's filter has already scored those nodes,
 * normalised over that same set: this memo keeps the passing names and
 * their scores, and a prioritize for the same pod and policy that names
 * exactly those nodes in that order is answered from it instead of being
 * evaluated again.  The answer is what the filter's view showed, which is
 * kube-scheduler's own rule for one cycle; a prioritize that differs in any
 * way (another pod, policy, set or order, later than FP_SCORE_MEMO_TTL_US)
 * is evaluated.
 *
 * "The same pod" is the same FpPod object: extender/wire/protocol.c hands out
 * one object for identical Pod bytes (its decoded-Pod cache), and the memo
 * holds a reference, so the address cannot be reused by another pod while
 * an entry names it.  Likewise for the policy (and its generation).
 *
 * Bounds: FP_SCORE_MEMO_ENTRIES entries, each the passing names of one
 * filter call (at most FP_PROTOCOL_MAX_NODES).  Names-mode requests only.
 * Thread context: any thread; one mutex, held for a copy or a comparison.
 */
#ifndef FP_EXTENDER_SCORE_MEMO_H
#define FP_EXTENDER_SCORE_MEMO_H

#include <glib.h>

#include "extender/wire/protocol.h"
#include "scoring/engine.h"

G_BEGIN_DECLS

#define FP_SCORE_MEMO_ENTRIES 8
#define FP_SCORE_MEMO_TTL_US (5 * G_USEC_PER_SEC)

typedef struct FpScoreMemo FpScoreMemo;

FpScoreMemo *fp_score_memo_new(void);
void fp_score_memo_free(FpScoreMemo *memo);

/* Remember the candidates a names-mode filter answer passed (@verdicts in
 * @args' order: those that pass and are not omitted by the short list,
 * which are exactly the NodeNames of the answer) and their scores,
 * replacing an earlier entry for the same pod and policy.  @listed (may be
 * NULL): the indices of those verdicts, @n_listed of them in increasing
 * order (FpPlacement.listed_idx), so that only they are read. */
void fp_score_memo_put(FpScoreMemo *memo, const FpExtenderArgs *args, const FpPolicy *policy,
                       const FpVerdict *verdicts, const guint *listed, guint n_listed);

/* Scores (0..10) for @args' candidates, in order, when an entry for the
 * same pod and policy lists exactly these names in this order; else NULL.
 * Newly allocated (g_free). */
guint8 *fp_score_memo_get(FpScoreMemo *memo, const FpExtenderArgs *args, const FpPolicy *policy);

G_END_DECLS

#endif /* FP_EXTENDER_SCORE_MEMO_H */
