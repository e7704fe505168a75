/*
 * cache/informer.h - keep an FpView current from the API server: list and
 * watch nodes and pods, one thread per resource (client-go's Reflector).
 *
 * Loop per resource: paginated LIST (limit=page_size, continue) decoded into
 * a fresh array, swapped into the view in one step when the last page is in
 * (the previous view stays served meanwhile) and the kind marked synced; then
 * WATCH from the list's resourceVersion with allowWatchBookmarks and a random
 * timeoutSeconds.  Events are decoded outside any lock and applied with the
 * view's writers; BOOKMARK only moves the resourceVersion; every event and
 * bookmark touches the view.  Pods are listed and watched with the field
 * selector status.phase!=Succeeded,status.phase!=Failed; a pod that still
 * arrives (MODIFIED) in a terminal phase is removed.
 *
 * Restarts and their causes (counted per resource):
 *   "expired"  ERROR event with code 410 / reason Expired or Gone, HTTP
 *              410 on the watch, or a 504 "Too large resource version"
 *              (cause ResourceVersionTooLarge: the API server restarted
 *              onto a store with lower resourceVersions): relist (the old
 *              view is served until the new list is complete).  A pod
 *              relist releases the assumed GPUs of pods it no longer
 *              contains (fp_view_replace_pods_listed: deleted while the
 *              watch was down).  410 on a continue page restarts the
 *              list from the first page (at most 3 times in a row, then it
 *              counts as a failed list).
 *   "error"    other ERROR events, HTTP errors (429/5xx/...), connection
 *              errors and drops: re-watch from the last resourceVersion
 *              after a jittered exponential backoff (initial doubling to
 *              max, +-20 %), or after Retry-After when the server sent one
 *              (capped at 60 s).  A failed LIST is retried the same way.
 *              The waits run on cache/clock.h's clock: a test moves a fake
 *              clock on instead of sleeping through them.
 *   "eof"      the server ended the stream (timeoutSeconds): re-watch at
 *              once from the last resourceVersion.
 *   "decode"   a line over the line cap: the watch is reset and resumed
 *              from the last resourceVersion.
 * A malformed line or an object that does not decode is logged (at most one
 * message per resource every 10 s, with a count of the suppressed ones) and
 * skipped; it never stops the watch or touches the view.
 *
 * Memory in the view (measured by test_it_informer, glibc mallinfo2 on one
 * malloc arena, 5,000 nodes and 50,000 pods listed from the fake API server
 * in pages of 500): about 1.5 KiB per node shaped like the shared-data GPU
 * nodes (seven labels, four allocatable resources), view state included,
 * and about 0.7 KiB per pod kept with FP_POD_CACHE (identity, node, phase,
 * controller owner, requests) including the view's indexes; so about 7.5 MiB
 * for 5,000 nodes and 100 MiB for the 150,000-pod planning figure.  A relist
 * holds the old and the new list at once: plan for twice that at peak.  The
 * same run listed the nodes in 0.8 s and the pods in 4.2 s, most of it spent
 * in the Python fake server.
 *
 * Ownership: the informer borrows the view and the client; both must outlive
 * fp_informer_stop().  Stats strings are copies owned by the caller.
 * Thread context: fp_informer_start/stop from one controlling thread (main);
 * fp_informer_get_stats from any thread.  The resource threads are the only
 * writers of nodes and pods into the view.
 * Errors: start fails only on bad arguments or thread creation; everything
 * the server does is retried, counted and reported through the stats.
 */
#ifndef FP_CACHE_INFORMER_H
#define FP_CACHE_INFORMER_H

#include <glib.h>
#include <stdbool.h>

#include "cache/kube_client.h"
#include "cache/view.h"

G_BEGIN_DECLS

/* Field selector of the pod list and watch (unencoded). */
#define FP_INFORMER_POD_SELECTOR "status.phase!=Succeeded,status.phase!=Failed"

/* Zero fields take the defaults in brackets. */
typedef struct {
    guint page_size;                 /* LIST limit [500] */
    guint watch_timeout_min_s;       /* watch timeoutSeconds drawn from [300, */
    guint watch_timeout_max_s;       /*  600] */
    guint backoff_initial_ms;        /* [200] */
    guint backoff_max_ms;            /* [30000] */
    size_t max_line;                 /* longest watch event line [16 MiB] */
    const char *node_label_selector; /* e.g. "nvidia.com/gpu.present=true" [none] */
    guint list_timeout_ms;           /* one LIST page request [60000] */
} FpInformerConfig;

typedef enum {
    FP_RESTART_EXPIRED,
    FP_RESTART_ERROR,
    FP_RESTART_EOF,
    FP_RESTART_DECODE,
    FP_RESTART_N_CAUSES,
} FpRestartCause;

/* "expired", "error", "eof", "decode" (metric label values). */
const char *fp_restart_cause_name(FpRestartCause cause);

/* Counters of one resource since start. */
typedef struct {
    guint64 restarts[FP_RESTART_N_CAUSES]; /* watch restarts by cause */
    guint64 relists;                       /* completed LISTs (the first one included) */
    guint64 list_pages;                    /* LIST requests answered */
    guint64 list_failures;                 /* LISTs that failed (retried after a backoff) */
    guint64 events;                        /* ADDED/MODIFIED/DELETED applied to the view */
    guint64 bookmarks;
    guint64 decode_errors;  /* lines or objects skipped */
    guint64 watches;        /* WATCH requests started */
    guint last_list_items;  /* objects in the last completed list */
    bool synced;            /* a LIST has completed */
    char *last_error;       /* newly allocated, NULL when none yet */
    char *resource_version; /* newly allocated, last known RV, may be NULL */
} FpInformerStats;

void fp_informer_stats_clear(FpInformerStats *stats);

typedef struct FpInformer FpInformer;

/* Start the node and pod threads.  @config may be NULL (defaults). */
FpInformer *fp_informer_start(FpView *view, FpKubeClient *client, const FpInformerConfig *config,
                              GError **error);
/* Stop both threads (an in-flight request is aborted within about a second)
 * and free the informer.  NULL is ignored. */
void fp_informer_stop(FpInformer *informer);

/* Copy the counters of @kind into @out (clear it with
 * fp_informer_stats_clear). */
void fp_informer_get_stats(FpInformer *informer, FpKind kind, FpInformerStats *out);

/* One-shot: list every node and every non-terminal pod (paginated) into
 * @view and mark both kinds synced, for `flexplace score --kubeconfig`.
 * The view is left unchanged on error. */
gboolean fp_informer_list_once(FpView *view, FpKubeClient *client, GError **error);

G_END_DECLS

#endif /* FP_CACHE_INFORMER_H */
