/*
 * cache/placement.h - evaluate one pod against candidate nodes of the view.
 *
 * Purpose: the glue between the cluster view, the policy and the pure engine,
 * shared by the server's verbs and the CLI (score, simulate), so a dry run
 * gives exactly the server's answer.  It takes the view's read lock only
 * around building candidates and the pure evaluation.
 *
 * Ownership: FpPlacement owns its verdicts and holds a reference on every
 * node it evaluated (with best_node_only: on the best one), so verdict facts
 * (borrowed label strings) stay valid after the lock is released.  Its
 * names borrow from the candidates, which must outlive it.  Free with
 * fp_placement_free.
 * Thread context: any thread.
 */
#ifndef FP_EXTENDER_PLACEMENT_H
#define FP_EXTENDER_PLACEMENT_H

#include <glib.h>
#include <stdbool.h>

#include "cache/view.h"
#include "scoring/engine.h"
#include "scoring/scale_up.h"

G_BEGIN_DECLS

/* Distinct rejection reasons a placement counts (FpPlacement.reasons). */
#define FP_PLACEMENT_REASONS 32

typedef struct {
    guint n;
    FpVerdict *verdicts;
    FpNode **nodes;           /* refs; NULL entries for names not in the view (and, with
                                 best_node_only, for every node but the best) */
    const char **names;       /* the candidates' names, borrowed from the FpCandidates */
    int best;                 /* fp_placement_best when evaluated */
    const char **kube_reason; /* with kube checks: kube-scheduler's reason, or NULL */
    /* refs: the GPU inventories the verdicts' devices (FpVerdict.device)
     * borrow from; NULL entries where none (with best_node_only: all but
     * the best's) */
    FpGpuInventory **inventories;
    FpDemand *demand; /* owned */
    guint passed;     /* verdicts that passed */
    guint short_list; /* K applied (FpCandidates.short_list), 0 = none */
    guint listed;     /* passing verdicts on the answer (not omitted) */
    /* When the short list applied (some verdict passed): the indices of the
     * @listed verdicts on the answer, in request order (every other verdict
     * is omitted), so that the replies need not walk all @n; else NULL. */
    guint *listed_idx;
    /* The rejections by reason, counted in the same pass that counts
     * @passed (extender/server/reasons.h reads them instead of walking the
     * verdicts again): @n_reasons distinct reasons (a verdict without one
     * counts as "rejected").  reasons_counted is false when they were not
     * counted (more distinct reasons than FP_PLACEMENT_REASONS, or a
     * placement built by hand). */
    bool reasons_counted;
    guint n_reasons;
    const char *reasons[FP_PLACEMENT_REASONS];
    guint reason_counts[FP_PLACEMENT_REASONS];
    /* Owned; set by fp_placement_judge_scale_up for a GPU pod no candidate
     * passes, else NULL. */
    FpScaleUp *scale_up;
} FpPlacement;

typedef struct {
    /* Candidates by name (looked up in the view) ... */
    const char *const *names;
    /* ... or as Node objects from a full-object request (facts from these,
     * GPU usage from the view by name). Exactly one of the two is set. */
    FpNode *const *nodes;
    guint n;
    /* fp_view_name_hash of each name when the caller has them, or NULL. */
    const guint32 *name_hashes;
    /* Also apply kube-scheduler's own checks first (dry-run CLI). */
    bool kube_checks;
    /* Hold a node reference only for the best passing candidate (the
     * server's verbs, which read no other node after the call): only the
     * best verdict carries facts; the others' are zeroed (NULL strings),
     * since nothing would keep their strings alive after the view's lock. */
    bool best_node_only;
    /* Apply the demand's short list (scoring/short_list.h): verdicts left
     * out of the filter's answer get omit set, and best is the best of
     * those left in. */
    bool short_list;
} FpCandidates;

FpPlacement *fp_placement_evaluate(FpView *view, const FpPolicy *policy, const FpPod *pod,
                                   const FpCandidates *cands);
void fp_placement_free(FpPlacement *placement);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpPlacement, fp_placement_free)

/* Index of the best passing candidate not omitted by the short list
 * (highest total, then highest score, then lexically smallest name:
 * deterministic), or -1 when none passed. */
int fp_placement_best(const FpPlacement *placement);

/* Whether @placement is unmet GPU demand: the pod requests a GPU, its
 * annotations are valid, and no candidate passed. */
bool fp_placement_unmet(const FpPlacement *placement);

/* For unmet demand, judge whether a node of one of the @n template
 * @offers would take the pod (scoring/scale_up.h) into
 * placement->scale_up; otherwise leave it NULL.  Returns it. */
const FpScaleUp *fp_placement_judge_scale_up(FpPlacement *placement, const FpPolicy *policy,
                                             const FpOffer *offers, guint n);

G_END_DECLS

#endif
