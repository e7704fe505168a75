/*
 * extender/server/bind.h - the bind verb (see bind.c for the sequence and why).
 *
 * Thread context: HTTP pool threads; the Binding POST is the one blocking
 * network call on the request path, bounded by --bind-timeout.
 */
#ifndef FP_EXTENDER_BIND_H
#define FP_EXTENDER_BIND_H

#include <glib.h>
#include <stdbool.h>

#include "cache/kube_client.h"
#include "cache/view.h"
#include "extender/server/readiness.h"
#include "extender/wire/protocol.h"
#include "policies/policy_store.h"

G_BEGIN_DECLS

/* What a bind reads and the state binds share.  The pointers are borrowed
 * (they must outlive every bind); lock and ceiling_refused are owned:
 * fp_bind_env_init makes them, fp_bind_env_clear frees them. */
typedef struct {
    FpView *view;
    FpPolicyStore *policies;
    FpKubeClient *client; /* NULL when serving a snapshot: every bind is refused */
    FpReadiness *readiness;
    double timeout_s;    /* one deadline for all API calls of a bind (--bind-timeout) */
    double assume_ttl_s; /* how long a bound pod's GPUs stay assumed (--assume-ttl) */
    bool annotate;       /* write flexplace.io/placement on the Binding */
    /* Serialises the pool-ceiling check with the assumption. */
    GMutex lock;
    /* UIDs refused once for a pool ceiling (bounded; under lock). */
    GHashTable *ceiling_refused;
} FpBindEnv;

void fp_bind_env_init(FpBindEnv *env);
void fp_bind_env_clear(FpBindEnv *env);

typedef enum {
    FP_BIND_OK,      /* bound (or found already bound to that node) */
    FP_BIND_REFUSED, /* flexplace refused: node no longer fits, not ready, bad args */
    FP_BIND_FAILED,  /* not bound: the API server refused it, or could not be reached
                        (the assumption was rolled back) */
    FP_BIND_UNKNOWN, /* the Binding may have been committed or may still be: the
                        assumption is held (fp_view_hold_assumed) */
} FpBindOutcome;

/* The deadline of a bind whose request arrived at @arrived_us
 * (fp_clock_now_us() time): --bind-timeout later.  It is the budget of
 * every API call the bind makes (reading the pod when the view lacks it,
 * the Binding POST, reading the pod to settle an unanswered POST), kept a
 * second below kube-scheduler's httpTimeout (serve refuses less) so that
 * flexplace answers before kube-scheduler gives up and retries the pod. */
gint64 fp_bind_deadline(const FpBindEnv *env, gint64 arrived_us);

/* Bind @args' pod, every API call ending by @deadline_us
 * (fp_bind_deadline).  On anything but FP_BIND_OK, *error_text receives the
 * message for ExtenderBindingResult.Error (g_free it).
 *
 * How the Binding POST's answer is read (by HTTP status and the Status
 * reason and message): a 2xx status line is bound, even when the body
 * after it is cut or late.  When it does not say the pod is bound:
 *   - no answer and nothing sent (connection refused, connect timeout): the
 *     API server never saw it: FP_BIND_FAILED, GPUs released;
 *   - no answer after the request left (timeout, connection reset or
 *     closed), or any 5xx (504 Timeout "... may still be processing the
 *     request", 500 InternalError or ServerTimeout from etcd, 502/503 from a
 *     proxy or an API server going down): the Binding may have been or may
 *     yet be committed;
 *   - 409 Conflict "pod X is already assigned to node "N"": the pod IS
 *     bound, to N: FP_BIND_OK when N is the bind's node, else
 *     FP_BIND_FAILED; any other 409 (the UID precondition) and every other
 *     4xx (429 included: rejected before it was handled) are refusals.
 * An answer that may have committed is settled by reading the pod; when
 * that does not show it bound either, the outcome is FP_BIND_UNKNOWN, with
 * "outcome unknown" in the error, and the pod's GPUs stay assumed
 * (fp_view_hold_assumed): kube-scheduler retries the pod and the retry
 * sees those GPUs taken. */
FpBindOutcome fp_bind(FpBindEnv *env, const FpBindingArgs *args, gint64 deadline_us,
                      char **error_text);

/* The flexplace.io/placement annotation value for a verdict (g_free it). */
char *fp_placement_summary(const FpVerdict *v, const char *node, guint64 policy_generation);

G_END_DECLS

#endif
