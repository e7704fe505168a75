/*
 * extender/server/preempt.h - the preempt verb, and preemption plans for the CLI.
 *
 * When no node fits a pod, kube-scheduler's DefaultPreemption picks candidate
 * nodes and victims with its own plugins only, then (with preemptVerb) asks
 * the extender.  flexplace keeps a node only when, once the listed victims are
 * gone, the pod passes every flexplace filter there (SKU, per-GPU memory,
 * free GPUs of the right resource counting assumed ones, latency and price
 * limits, readiness, pool ceiling).  Victims are kept exactly as proposed
 * (order included: kube-scheduler reads Pods[0] as the highest-priority
 * victim); flexplace never adds one.  A node whose victims cannot be resolved
 * (an unknown UID, or a pod that is not on that node) is dropped, with a log
 * line.  The reply always carries NodeNameToMetaVictims (UIDs), in both
 * nodeCacheCapable modes.
 *
 * Ownership: parsed args own their strings and pods.  Thread context: any.
 */
#ifndef FP_EXTENDER_PREEMPT_H
#define FP_EXTENDER_PREEMPT_H

#include <glib.h>
#include <stddef.h>

#include "cache/view.h"
#include "scoring/engine.h"

G_BEGIN_DECLS

typedef struct {
    char *uid;
    FpPod *pod; /* full-object mode: the victim as sent; NULL with meta victims */
} FpVictim;

typedef struct {
    char *node;
    FpVictim *victims;
    guint n_victims;
    gint64 num_pdb_violations;
} FpNodeVictims;

typedef struct {
    FpPod *pod;
    FpNodeVictims *nodes;
    guint n_nodes;
    bool meta; /* NodeNameToMetaVictims was sent (nodeCacheCapable: true) */
} FpPreemptionArgs;

/* Largest victim map accepted (kube-scheduler sends at most
 * max(10% of nodes, 100) candidates). */
#define FP_PREEMPT_MAX_NODES 100000
#define FP_PREEMPT_MAX_VICTIMS 100000

FpPreemptionArgs *fp_preemption_args_parse(const char *body, size_t len, GError **error);
void fp_preemption_args_free(FpPreemptionArgs *args);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpPreemptionArgs, fp_preemption_args_free)

/* Decide and encode the ExtenderPreemptionResult (g_malloc'ed JSON). */
char *fp_preempt(FpView *view, const FpPolicy *policy, const FpPreemptionArgs *args, size_t *len);

/* ---- plans for the dry run ---- */

typedef struct {
    char *node;
    GPtrArray *victims; /* FpPod* refs, highest priority first */
} FpPreemptPlan;

void fp_preempt_plan_free(FpPreemptPlan *plan);

/* For a pod that fits nowhere: nodes where evicting pods of lower priority
 * (kube-scheduler's rule: remove every lower-priority pod, then reprieve as
 * many as possible, highest priority first) would let it pass every
 * flexplace filter.  Returns FpPreemptPlan* in the order kube-scheduler
 * would prefer them (lowest highest-victim priority, smallest priority sum,
 * fewest victims). */
GPtrArray *fp_preempt_plans(FpView *view, const FpPolicy *policy, const FpPod *pod);

G_END_DECLS

#endif
