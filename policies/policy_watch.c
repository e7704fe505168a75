/*
 * policies/policy_watch.c - GFileMonitor on the policy directory, debounced
 * reloads.
 */
#include "policies/policy_watch.h"

#include <gio/gio.h>
#include <string.h>

#define KUBELET_DATA "..data"

struct FpPolicyWatch {
    FpPolicyStore *store; /* borrowed */
    guint debounce_ms;
    FpPolicyWatchFunc func;
    gpointer user_data;
    char *file_name; /* single-file mode: the watched base name; NULL for a directory */
    GFileMonitor *monitor;
    gulong handler;
    GMainContext *context;
    GSource *pending; /* debounce timer, or NULL */
    guint64 reloads;
};

static gboolean policy_file_name(const char *name)
{
    return name && name[0] != '.' &&
           (g_str_has_suffix(name, ".yaml") || g_str_has_suffix(name, ".yml") ||
            g_str_has_suffix(name, ".json"));
}

static gboolean on_timeout(gpointer data)
{
    FpPolicyWatch *w = data;
    g_clear_pointer(&w->pending, g_source_unref);
    g_autoptr(GError) error = NULL;
    gboolean ok = fp_policy_store_reload(w->store, &error);
    w->reloads++;
    if (w->func) {
        w->func(w->store, ok, w->user_data);
    }
    return G_SOURCE_REMOVE;
}

static void trigger(FpPolicyWatch *w)
{
    if (w->pending) {
        g_source_destroy(w->pending);
        g_source_unref(w->pending);
    }
    w->pending = g_timeout_source_new(w->debounce_ms);
    g_source_set_callback(w->pending, on_timeout, w, NULL);
    g_source_set_name(w->pending, "flexplace policy reload");
    g_source_attach(w->pending, w->context);
}

/* Whether an event about @name (the file, or the other file of a move)
 * concerns the policy. */
static gboolean relevant(const FpPolicyWatch *w, const char *name, GFileMonitorEvent event)
{
    if (!name) {
        return FALSE;
    }
    if (!strcmp(name, KUBELET_DATA)) {
        /* kubelet's swap: ..data_tmp renamed over ..data (or, without
         * WATCH_MOVES support, ..data created) */
        return event == G_FILE_MONITOR_EVENT_CREATED || event == G_FILE_MONITOR_EVENT_MOVED_IN ||
               event == G_FILE_MONITOR_EVENT_RENAMED;
    }
    gboolean ours = w->file_name ? !strcmp(name, w->file_name) : policy_file_name(name);
    if (!ours) {
        return FALSE;
    }
    switch (event) {
    case G_FILE_MONITOR_EVENT_CHANGES_DONE_HINT:
    case G_FILE_MONITOR_EVENT_CREATED:
    case G_FILE_MONITOR_EVENT_DELETED:
    case G_FILE_MONITOR_EVENT_MOVED_IN:
    case G_FILE_MONITOR_EVENT_MOVED_OUT:
    case G_FILE_MONITOR_EVENT_RENAMED:
        return TRUE;
    default:
        return FALSE; /* CHANGED (wait for changes-done), attributes, unmounts */
    }
}

static void on_changed(GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event,
                       gpointer data)
{
    FpPolicyWatch *w = data;
    g_autofree char *name = file ? g_file_get_basename(file) : NULL;
    g_autofree char *other_name = other ? g_file_get_basename(other) : NULL;
    if (relevant(w, name, event) || relevant(w, other_name, event)) {
        trigger(w);
    }
}

FpPolicyWatch *fp_policy_watch_new(FpPolicyStore *store, guint debounce_ms, FpPolicyWatchFunc func,
                                   gpointer user_data, GError **error)
{
    g_return_val_if_fail(store != NULL, NULL);
    const char *path = fp_policy_store_path(store);
    if (!path) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "no policy path to watch (built-in default policy)");
        return NULL;
    }
    gboolean is_dir = g_file_test(path, G_FILE_TEST_IS_DIR);
    g_autofree char *dir = is_dir ? g_strdup(path) : g_path_get_dirname(path);
    g_autoptr(GFile) gdir = g_file_new_for_path(dir);
    GFileMonitor *monitor = g_file_monitor_directory(gdir, G_FILE_MONITOR_WATCH_MOVES, NULL, error);
    if (!monitor) {
        return NULL;
    }
    FpPolicyWatch *w = g_new0(FpPolicyWatch, 1);
    w->store = store;
    w->debounce_ms = debounce_ms;
    w->func = func;
    w->user_data = user_data;
    w->file_name = is_dir ? NULL : g_path_get_basename(path);
    w->monitor = monitor;
    w->context = g_main_context_ref_thread_default();
    w->handler = g_signal_connect(monitor, "changed", G_CALLBACK(on_changed), w);
    g_message("policy: watching %s%s%s for changes", dir, w->file_name ? " for " : "",
              w->file_name ? w->file_name : "");
    return w;
}

void fp_policy_watch_free(FpPolicyWatch *watch)
{
    if (!watch) {
        return;
    }
    if (watch->pending) {
        g_source_destroy(watch->pending);
        g_source_unref(watch->pending);
    }
    g_signal_handler_disconnect(watch->monitor, watch->handler);
    g_file_monitor_cancel(watch->monitor);
    g_object_unref(watch->monitor);
    g_main_context_unref(watch->context);
    g_free(watch->file_name);
    g_free(watch);
}

guint64 fp_policy_watch_reloads(const FpPolicyWatch *watch)
{
    return watch ? watch->reloads : 0;
}
