/*
 * policies/policy_store.h - the current PlacementPolicy, swapped atomically
 * on reload.
 *
 * Purpose: one place that holds the policy every request scores with.  A
 * reload parses the configured path (file, mounted ConfigMap directory or
 * ConfigMap manifest, see policy_load.h) and installs the result only when
 * it is valid; otherwise the last good policy stays, a warning with every
 * error is logged, the error counter goes up and the error text is kept for
 * /readyz details.  Each installed policy gets generation = previous + 1:
 * the first policy (the built-in default when no path is configured, or the
 * first load of the path) is generation 1.
 *
 * Ownership: the store owns its current policy.  fp_policy_store_get returns
 * a new reference: a request keeps it for its whole life, so a request in
 * flight finishes on the policy it started with even if a reload swaps.
 * Status strings are copies owned by the caller (fp_policy_store_status_clear).
 * Thread context: every function is thread-safe.  get/status take a short
 * mutex (no I/O under it); reload reads files outside that mutex and
 * reloads are serialised among themselves.
 * Errors: FP_POLICY_STORE_ERROR_INVALID (the policy did not validate; the
 * message has the first error and the count) and _NO_PATH.
 */
#ifndef FP_POLICIES_POLICY_STORE_H
#define FP_POLICIES_POLICY_STORE_H

#include <glib.h>

#include "scoring/placement_policy.h"

G_BEGIN_DECLS

#define FP_POLICY_STORE_ERROR (fp_policy_store_error_quark())
GQuark fp_policy_store_error_quark(void);
typedef enum {
    FP_POLICY_STORE_ERROR_INVALID, /* the document did not load or validate */
    FP_POLICY_STORE_ERROR_NO_PATH, /* reload without a configured path */
} FpPolicyStoreError;

typedef struct FpPolicyStore FpPolicyStore;

/* A snapshot of the store's state, for /readyz, /metrics and logs. */
typedef struct {
    guint64 generation;     /* of the current policy (>= 1) */
    char *source;           /* the current policy's source ("built-in default", a path) */
    char *path;             /* the configured path; NULL = built-in default only */
    gboolean last_ok;       /* whether the last reload attempt installed a policy
                               (TRUE before any reload) */
    char *last_error;       /* every error of the last failed reload, one per line;
                               NULL when last_ok */
    gint64 last_attempt_us; /* g_get_real_time() of the last reload attempt; 0 = none */
    gint64 last_success_us; /* of the last install, including the first load */
    guint64 reloads_ok;     /* successful fp_policy_store_reload calls */
    guint64 reload_errors;  /* failed ones */
} FpPolicyStoreStatus;

/* A store for @path (NULL: the built-in default policy, generation 1, and
 * reload is refused).  With a path, the path is loaded now and must be
 * valid: on failure NULL and FP_POLICY_STORE_ERROR_INVALID with every error
 * in the message, one per line (fail fast at startup). */
FpPolicyStore *fp_policy_store_new(const char *path, GError **error);
void fp_policy_store_free(FpPolicyStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpPolicyStore, fp_policy_store_free)

/* A new reference to the current policy; never NULL. */
FpPolicy *fp_policy_store_get(FpPolicyStore *store);
guint64 fp_policy_store_generation(FpPolicyStore *store);
/* The configured path (owned by the store), or NULL. */
const char *fp_policy_store_path(FpPolicyStore *store);

/* Re-read the path.  TRUE: a new policy (generation + 1) is installed.
 * FALSE: the current policy stays, the error counter is incremented, the
 * errors are logged (g_warning) and kept in the status; @error gets the
 * first error and the count. */
gboolean fp_policy_store_reload(FpPolicyStore *store, GError **error);

/* Fill @out (strings are copies); release with fp_policy_store_status_clear. */
void fp_policy_store_status(FpPolicyStore *store, FpPolicyStoreStatus *out);
void fp_policy_store_status_clear(FpPolicyStoreStatus *status);

G_END_DECLS

#endif /* FP_POLICIES_POLICY_STORE_H */
