/*
 * extender/server/verbs.h - kube-scheduler's verbs as HTTP route handlers.
 *
 * Each handler is an FpHttpHandler whose data is the narrow environment
 * its verb needs (below); the route table that pairs them is built by the
 * caller (extender/server/app.c) and handed to the server.  Every verb
 * follows one path: decode the body (a 400, counted by reason, when it does
 * not decode), answer, then count the request and its duration
 * (extender/server/verb_metrics.h).
 *
 * Ownership: the environments borrow everything they point to; it must
 * outlive the HTTP server.  Thread context: HTTP pool threads,
 * concurrently.
 */
#ifndef FP_EXTENDER_VERBS_H
#define FP_EXTENDER_VERBS_H

#include <glib.h>

#include "cache/event_sink.h"
#include "cache/view.h"
#include "extender/http/http_server.h"
#include "extender/server/bind.h"
#include "extender/server/decisions.h"
#include "extender/server/readiness.h"
#include "extender/server/score_memo.h"
#include "extender/server/unmet.h"
#include "extender/server/verb_metrics.h"
#include "policies/policy_store.h"

G_BEGIN_DECLS

/* filter and prioritize. */
typedef struct {
    FpView *view;
    FpPolicyStore *policies;
    FpReadiness *readiness;
    FpDecisionRing *decisions; /* every evaluated answer is recorded */
    FpScoreMemo *score_memo;   /* filter's scores for the prioritize after it */
    const FpVerbMetrics *metrics;
    /* A GPU pod no node passes is recorded here (may be NULL), with the
     * pool template it would fit after a scale-up (templates may be NULL:
     * a new array of FpOffer under the policy). */
    FpUnmet *unmet;
    GArray *(*templates)(void *ctx, const FpPolicy *policy);
    void *templates_ctx;
    /* Where such a pod's Event goes (reason FP_EVENT_REASON_UNSCHEDULABLE,
     * extender/server/unmet.h fp_unmet_event_note), or NULL. */
    FpEventSink *events;
} FpExtenderEnv;

/* preempt. */
typedef struct {
    FpView *view;
    FpPolicyStore *policies;
    FpReadiness *readiness;
    const FpVerbMetrics *metrics;
} FpPreemptEnv;

/* bind: fp_bind's environment, and where outcomes are recorded. */
typedef struct {
    FpBindEnv *bind;
    FpDecisionRing *decisions;
    const FpVerbMetrics *metrics;
    FpUnmet *unmet; /* a bound pod's unmet demand ends (may be NULL) */
} FpBindVerbEnv;

/* POST filter: ExtenderArgs -> ExtenderFilterResult (data: FpExtenderEnv). */
void fp_verb_filter(const FpHttpRequest *req, FpHttpResponse *resp, void *data);
/* POST prioritize: ExtenderArgs -> HostPriorityList (data: FpExtenderEnv). */
void fp_verb_prioritize(const FpHttpRequest *req, FpHttpResponse *resp, void *data);
/* POST bind: ExtenderBindingArgs -> ExtenderBindingResult (data: FpBindVerbEnv). */
void fp_verb_bind(const FpHttpRequest *req, FpHttpResponse *resp, void *data);
/* POST preempt: ExtenderPreemptionArgs -> ExtenderPreemptionResult (data:
 * FpPreemptEnv). */
void fp_verb_preempt(const FpHttpRequest *req, FpHttpResponse *resp, void *data);

G_END_DECLS

#endif /* FP_EXTENDER_VERBS_H */
