/*
 * policies/policy_watch.h - reload the policy when its files change.
 *
 * Purpose: watch the store's path with a GFileMonitor and call
 * fp_policy_store_reload once things settle.  For a directory (a ConfigMap
 * volume) the directory itself is monitored with G_FILE_MONITOR_WATCH_MOVES;
 * for a single file, its parent directory, filtered on that file's name.
 * Triggers: kubelet's atomic update (the "..data" symlink created, moved in,
 * or renamed over from "..data_tmp"), and, for hand-managed files, a policy
 * file (.yaml/.yml/.json not starting with '.', or the watched file) being
 * written (changes-done), created, deleted, moved or renamed.  Attribute
 * changes are ignored.  Each trigger (re)starts a debounce timer of
 * @debounce_ms (FP_POLICY_WATCH_DEBOUNCE_MS in production), so a burst of
 * events gives one reload.
 *
 * Kubernetes note: a ConfigMap mounted with subPath is never updated by
 * kubelet (the file is bind-mounted once), so neither flexplace nor anything
 * else sees changes: mount the ConfigMap as a directory.
 *
 * Ownership: the watch borrows @store, which must outlive it.
 * Thread context: create, use and free the watch on one thread; events and
 * the debounce timer run on the thread-default GMainContext of the creating
 * thread (keep it iterating, e.g. with a GMainLoop), and so do reloads and
 * @func.  Errors: fp_policy_watch_new fails (GIOError / G_FILE_ERROR) when
 * the store has no path or the directory cannot be monitored.
 */
#ifndef FP_POLICIES_POLICY_WATCH_H
#define FP_POLICIES_POLICY_WATCH_H

#include <glib.h>

#include "policies/policy_store.h"

G_BEGIN_DECLS

#define FP_POLICY_WATCH_DEBOUNCE_MS 500

typedef struct FpPolicyWatch FpPolicyWatch;

/* Called after every reload the watch performs, with its outcome. */
typedef void (*FpPolicyWatchFunc)(FpPolicyStore *store, gboolean ok, gpointer user_data);

/* Start watching @store's path.  @func may be NULL. */
FpPolicyWatch *fp_policy_watch_new(FpPolicyStore *store, guint debounce_ms, FpPolicyWatchFunc func,
                                   gpointer user_data, GError **error);
/* Stop watching; a pending debounced reload is dropped. */
void fp_policy_watch_free(FpPolicyWatch *watch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpPolicyWatch, fp_policy_watch_free)

/* Reloads performed so far (for tests and metrics). */
guint64 fp_policy_watch_reloads(const FpPolicyWatch *watch);

G_END_DECLS

#endif /* FP_POLICIES_POLICY_WATCH_H */
