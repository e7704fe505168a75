/*
 * policies/policy_store.c - the current policy behind a mutex, with
 * validated reloads and their status.
 */
#include "policies/policy_store.h"

#include <string.h>

#include "policies/policy_load.h"

struct FpPolicyStore {
    char *path;         /* immutable */
    GMutex reload_lock; /* serialises reloads */
    GMutex lock;        /* protects everything below */
    FpPolicy *current;
    guint64 generation;
    gboolean last_ok;
    char *last_error;
    gint64 last_attempt_us;
    gint64 last_success_us;
    guint64 reloads_ok;
    guint64 reload_errors;
};

GQuark fp_policy_store_error_quark(void)
{
    return g_quark_from_static_string("fp-policy-store-error-quark");
}

/* Install @policy (owned, not yet shared) as the next generation. */
static guint64 install(FpPolicyStore *store, FpPolicy *policy)
{
    FpPolicy *old;
    g_mutex_lock(&store->lock);
    policy->generation = ++store->generation;
    old = store->current;
    store->current = policy;
    store->last_ok = TRUE;
    g_clear_pointer(&store->last_error, g_free);
    store->last_success_us = g_get_real_time();
    guint64 gen = store->generation;
    g_mutex_unlock(&store->lock);
    /* the old policy lives on in requests that still hold a reference */
    fp_policy_unref(old);
    return gen;
}

/* Load the path; NULL and a joined error text on failure. */
static FpPolicy *load(const char *path, char **errors, guint *n_errors)
{
    g_autoptr(FpPolicyReport) report = fp_policy_report_new();
    FpPolicy *policy = fp_policy_load_path(path, report);
    for (guint i = 0; i < report->notes->len; i++) {
        g_message("policy: %s", (const char *)g_ptr_array_index(report->notes, i));
    }
    if (!policy) {
        *errors = fp_policy_report_join_errors(report, "\n");
        *n_errors = report->errors->len;
    }
    return policy;
}

static void set_invalid(GError **error, const char *path, const char *errors, guint n)
{
    const char *nl = strchr(errors, '\n');
    if (n > 1 && nl) {
        g_set_error(error, FP_POLICY_STORE_ERROR, FP_POLICY_STORE_ERROR_INVALID,
                    "policy %s is invalid: %.*s (and %u more errors)", path, (int)(nl - errors),
                    errors, n - 1);
    } else {
        g_set_error(error, FP_POLICY_STORE_ERROR, FP_POLICY_STORE_ERROR_INVALID,
                    "policy %s is invalid: %s", path, errors);
    }
}

FpPolicyStore *fp_policy_store_new(const char *path, GError **error)
{
    FpPolicy *policy;
    if (path) {
        g_autofree char *errors = NULL;
        guint n = 0;
        policy = load(path, &errors, &n);
        if (!policy) {
            g_set_error(error, FP_POLICY_STORE_ERROR, FP_POLICY_STORE_ERROR_INVALID,
                        "policy %s is invalid:\n%s", path, errors);
            return NULL;
        }
    } else {
        policy = fp_policy_new_default();
    }
    FpPolicyStore *store = g_new0(FpPolicyStore, 1);
    g_mutex_init(&store->lock);
    g_mutex_init(&store->reload_lock);
    store->path = g_strdup(path);
    install(store, policy);
    return store;
}

void fp_policy_store_free(FpPolicyStore *store)
{
    if (!store) {
        return;
    }
    fp_policy_unref(store->current);
    g_free(store->last_error);
    g_free(store->path);
    g_mutex_clear(&store->lock);
    g_mutex_clear(&store->reload_lock);
    g_free(store);
}

FpPolicy *fp_policy_store_get(FpPolicyStore *store)
{
    g_mutex_lock(&store->lock);
    FpPolicy *p = fp_policy_ref(store->current);
    g_mutex_unlock(&store->lock);
    return p;
}

guint64 fp_policy_store_generation(FpPolicyStore *store)
{
    g_mutex_lock(&store->lock);
    guint64 gen = store->generation;
    g_mutex_unlock(&store->lock);
    return gen;
}

const char *fp_policy_store_path(FpPolicyStore *store)
{
    return store->path;
}

gboolean fp_policy_store_reload(FpPolicyStore *store, GError **error)
{
    if (!store->path) {
        g_set_error(error, FP_POLICY_STORE_ERROR, FP_POLICY_STORE_ERROR_NO_PATH,
                    "no policy path configured: the built-in default policy is in use");
        return FALSE;
    }
    g_mutex_lock(&store->reload_lock);
    gint64 now = g_get_real_time();
    char *errors = NULL;
    guint n = 0;
    FpPolicy *policy = load(store->path, &errors, &n);
    gboolean ok = policy != NULL;
    if (ok) {
        guint64 gen = install(store, policy);
        g_mutex_lock(&store->lock);
        store->reloads_ok++;
        store->last_attempt_us = now;
        g_mutex_unlock(&store->lock);
        g_message("policy: reloaded %s, generation %" G_GUINT64_FORMAT, store->path, gen);
    } else {
        g_mutex_lock(&store->lock);
        store->reload_errors++;
        store->last_attempt_us = now;
        store->last_ok = FALSE;
        g_free(store->last_error);
        store->last_error = g_strdup(errors);
        guint64 gen = store->generation;
        g_mutex_unlock(&store->lock);
        g_warning("policy: reload of %s failed, keeping generation %" G_GUINT64_FORMAT
                  " (%u error%s):\n%s",
                  store->path, gen, n, n == 1 ? "" : "s", errors);
        set_invalid(error, store->path, errors, n);
    }
    g_free(errors);
    g_mutex_unlock(&store->reload_lock);
    return ok;
}

void fp_policy_store_status(FpPolicyStore *store, FpPolicyStoreStatus *out)
{
    memset(out, 0, sizeof *out);
    g_mutex_lock(&store->lock);
    out->generation = store->generation;
    out->source = g_strdup(store->current->source);
    out->path = g_strdup(store->path);
    out->last_ok = store->last_ok;
    out->last_error = g_strdup(store->last_error);
    out->last_attempt_us = store->last_attempt_us;
    out->last_success_us = store->last_success_us;
    out->reloads_ok = store->reloads_ok;
    out->reload_errors = store->reload_errors;
    g_mutex_unlock(&store->lock);
}

void fp_policy_store_status_clear(FpPolicyStoreStatus *status)
{
    if (!status) {
        return;
    }
    g_free(status->source);
    g_free(status->path);
    g_free(status->last_error);
    memset(status, 0, sizeof *status);
}
