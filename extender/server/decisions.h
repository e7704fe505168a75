/*
 * extender/server/decisions.h - the last placement decisions, for explaining a
 * Pending pod (GET /debug/decisions?pod=NAMESPACE/NAME).
 *
 * Purpose: a bounded ring of the most recent filter/prioritize/bind
 * decisions with every node's verdict, reason and score terms.  Memory is
 * bounded twice: at most @capacity decisions, and at most @max_nodes node
 * verdicts per decision (the best passing nodes first, then rejected ones;
 * rejection counts by reason always cover every node, and "truncated" says
 * when verdicts were left out).  A filter's short list (scoring/short_list.h)
 * is recorded apart from passing: "passed" counts the nodes that passed
 * every filter, "shortList" is the K applied (0: none - a prioritize, a
 * profile with shortList 0, a pod without GPUs), "shortListed" the passing
 * nodes the answer named (== passed without a list), and each passing
 * verdict says whether it was one of them ("shortListed": false = passed,
 * but left out of the answer, so kube-scheduler never saw it).
 *
 * Ownership: the ring copies what it records.  Thread context: any thread;
 * one mutex, held only to link or unlink a prepared record and to read.
 */
#ifndef FP_EXTENDER_DECISIONS_H
#define FP_EXTENDER_DECISIONS_H

#include <glib.h>
#include <jansson.h>

#include "cache/placement.h"

G_BEGIN_DECLS

typedef struct FpDecisionRing FpDecisionRing;

FpDecisionRing *fp_decision_ring_new(guint capacity, guint max_nodes);
void fp_decision_ring_free(FpDecisionRing *ring);

/* Record one evaluated request.  @names are the candidate names in order
 * (p->n of them); @error is a request-level error or NULL. */
void fp_decision_record(FpDecisionRing *ring, const char *verb, const FpPod *pod,
                        const FpPlacement *p, const char *const *names, guint64 policy_generation,
                        gint64 duration_us, const char *error);
/* Record a bind outcome. */
void fp_decision_record_bind(FpDecisionRing *ring, const char *ns, const char *name,
                             const char *uid, const char *node, const char *error);

/* Decisions for pod @ns/@name, newest first, as a JSON array (new reference). */
json_t *fp_decision_ring_query(FpDecisionRing *ring, const char *ns, const char *name);
/* Number of decisions held (<= capacity). */
guint fp_decision_ring_size(FpDecisionRing *ring);

/* The newest recorded verdict for pod @uid on @node, from a prioritize (or
 * filter) call: copies it into @out and returns TRUE, else FALSE. */
gboolean fp_decision_ring_verdict(FpDecisionRing *ring, const char *uid, const char *node,
                                  FpVerdict *out, guint64 *policy_generation);

/* A scale-up judgement (scoring/scale_up.h) as JSON (new reference):
 * {"fits", "template", "pool", "sku", "region", "latencyMs",
 * "pricePerGPUHour", "templates", "message"}; the target's fields are null
 * when nothing fits (and latencyMs without origins, the price when
 * unknown).  A decision of a pod that fit no node carries it as
 * "scaleUp"; `flexplace score -o json` too. */
json_t *fp_scale_up_to_json(const FpScaleUp *s);

G_END_DECLS

#endif
