/*
 * extender/cli/simulate.h - one replica of a burst, placed as kube-scheduler
 * and flexplace's bind verb would: the steps `flexplace simulate` runs per
 * replica, for it and for programs that must place pods exactly as it does
 * (the quality benchmark, test/bench/quality.c).
 *
 * The choice models kube-scheduler's arithmetic with the shipped profile:
 * among the candidates the filter's answer names (passing, and on the
 * short list, scoring/short_list.h: kube-scheduler never sees the others),
 * the highest extender score x weight x 10
 * (MaxNodeScore 100 / MaxExtenderPriority 10) plus TaintToleration's score
 * (0..100, fewer untolerated PreferNoSchedule taints better, normalised over
 * the candidates) x 3; the profile's other score plugins score GPU pods
 * without preferences equally.  Exact ties are broken at random, as
 * kube-scheduler's selectHost does, with the caller's GRand.
 *
 * Ownership: fp_sim_replica returns a new FpPod; fp_sim_bind consumes the
 * caller's reference on the pod.  Nothing else is kept.
 * Thread context: the thread that owns the CLI's view (single-threaded use).
 */
#ifndef FP_EXTENDER_SIMULATE_H
#define FP_EXTENDER_SIMULATE_H

#include <glib.h>
#include <stdbool.h>

#include "cache/placement.h"
#include "cache/view.h"

G_BEGIN_DECLS

/* The extender weight of the shipped manifests/scheduler-config.yaml
 * (test_manifests.c keeps the two equal). */
#define FP_SIM_SHIPPED_EXTENDER_WEIGHT 10

/* kube-scheduler's pick among one placement's candidates. */
typedef struct {
    int index;         /* into the placement's verdicts; -1 when none passed */
    guint tied;        /* candidates with the same top kube-scheduler score (1: no tie) */
    bool across_pools; /* ... and they were in more than one pool */
} FpSimChoice;

/* Replica @index of @tmpl: its own name ("<name>-<index>") and UID, the
 * template's owner (or one made up from the template, so replicas of a bare
 * Pod are one workload too), everything else copied. */
FpPod *fp_sim_replica(const FpPod *tmpl, guint index);

/* The node kube-scheduler picks among @p's short-listed candidates for @pod
 * (rule above), with the extender weight @extender_weight (>= 1) and
 * @rand for exact ties. */
FpSimChoice fp_sim_kube_choice(const FpPlacement *p, const FpPod *pod, int extender_weight,
                               GRand *rand);

/* The pod arrives pending (@pod is applied to @view, consuming the caller's
 * reference), then the bind verb assumes its @demand on @node under
 * @label.  False (with *why, a static or view-owned string) when the view
 * refuses, which cannot happen single-threaded after a passing verdict. */
bool fp_sim_bind(FpView *view, FpPod *pod, const FpDemand *demand, const char *node,
                 const char *label, const char **why);

G_END_DECLS

#endif
