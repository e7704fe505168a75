/*
 * extender/server/unmet.h - unmet GPU demand: pods that fit no existing
 * node, as metrics an autoscaler or a person can act on.
 *
 * Purpose: when a filter passes no node for a GPU pod, the pod is recorded
 * with where it would fit after a scale-up (the target of
 * scoring/scale_up.h: pool, GPU product and region; "" when no template
 * can grow to fit) and its GPU count.  /metrics then shows, per (pool, sku, region):
 *   flexplace_unmet_gpus   GPUs requested by pods that fit no node
 *   flexplace_unmet_pods   those pods
 * A pod's entry ends when it is bound (fp_unmet_forget from the bind verb,
 * or the view shows it on a node), when the view no longer has it (deleted)
 * after a grace period, or FP_UNMET_TTL_S after its last unmet filter
 * (kube-scheduler retries unschedulable pods at least every five minutes,
 * so a pod still pending is recorded again before that).
 *
 * Bounds: at most FP_UNMET_MAX_PODS pods are tracked; past it new pods are
 * not recorded (and counted in dropped).  Label values come from templates
 * and the policy, bounded by the metrics registry's collector limits.
 *
 * Ownership: FpUnmet keeps a pointer to the view (borrowed; it must outlive
 * the tracker); fp_unmet_collect is the collector registered by
 * fp_unmet_register.  Thread context: any thread; one mutex.
 */
#ifndef FP_EXTENDER_UNMET_H
#define FP_EXTENDER_UNMET_H

#include <glib.h>

#include "cache/placement.h"
#include "cache/view.h"
#include "extender/obs/metrics.h"
#include "scoring/scale_up.h"

G_BEGIN_DECLS

#define FP_UNMET_TTL_S 600.0
#define FP_UNMET_GONE_GRACE_S 30.0
#define FP_UNMET_MAX_PODS 10000

typedef struct FpUnmet FpUnmet;

FpUnmet *fp_unmet_new(FpView *view);
void fp_unmet_free(FpUnmet *u);
/* Register the two gauge families as a collector of @m (which then owns
 * nothing of @u: free @u after @m). */
void fp_unmet_register(FpUnmet *u, FpMetrics *m);

/* The reason of the Event on a pod that fits no node (cache/event_sink.h). */
#define FP_EVENT_REASON_UNSCHEDULABLE "FlexplaceUnschedulable"
/* Most rejection reasons an Event names. */
#define FP_EVENT_MAX_REASONS 3

/* The Event's note for unmet placement @p (p->scale_up set): what the pod
 * asks, why no node fits (the most frequent rejection reasons, without
 * counts, so that a pod still pending says the same thing and is
 * deduplicated), and the scale-up judgement:
 *   "8 x nvidia.com/gpu, >= 120 GiB per GPU: no node fits (insufficient free
 *   GPUs; GPU memory below requirement); would fit after scale-up: pool
 *   b200-use1 (NVIDIA-B200, us-east-1, $14.24/h)"
 * New string. */
char *fp_unmet_event_note(const FpPlacement *p);

/* Record (or refresh) pod @uid as unmet: @gpus of it, would fit where
 * @scale_up says (may be NULL, or not fitting: labels ""). */
void fp_unmet_record(FpUnmet *u, const char *uid, const char *ns, const char *name, gint64 gpus,
                     const FpScaleUp *scale_up);
/* The pod was bound: forget it. */
void fp_unmet_forget(FpUnmet *u, const char *uid);
/* Drop entries that ended (rules above) as of @now_us (monotonic).  Called
 * by the collector; exposed for tests. */
void fp_unmet_expire(FpUnmet *u, gint64 now_us);
/* Pods tracked now. */
guint fp_unmet_count(FpUnmet *u);

G_END_DECLS

#endif /* FP_EXTENDER_UNMET_H */
