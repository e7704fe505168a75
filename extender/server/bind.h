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
    FP_BIND_FAILED,  /* not bound: refused by the API server (the assumption was rolled
                        back), or the outcome is unknown (the assumption is held) */
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
 * message for ExtenderBindingResult.Error (g_free it).  A bind whose outcome
 * is unknown (no answer to the Binding, or a 504, and the pod not seen
 * bound) answers FP_BIND_FAILED with "outcome unknown" and keeps the pod's
 * GPUs assumed (fp_view_hold_assumed): kube-scheduler retries the pod and
 * the retry sees those GPUs taken. */
FpBindOutcome fp_bind(FpBindEnv *env, const FpBindingArgs *args, gint64 deadline_us,
                      char **error_text);

/* The flexplace.io/placement annotation value for a verdict (g_free it). */
char *fp_placement_summary(const FpVerdict *v, const char *node, guint64 policy_generation);

G_END_DECLS

#endif
