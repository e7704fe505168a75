/*
 * extender/server/readiness.h - whether the extender can answer, and why not.
 *
 * Purpose: the one place that decides readiness (the policy is loaded and
 * both the node and pod views are synced and within their bounds) and
 * staleness (a live view without events or bookmarks for --stale-after),
 * read by /readyz, by every verb before it answers and by serve's tick.
 *
 * Ownership: the struct points to the view and informer it reads; it owns
 * neither.  Thread context: any thread; shutting_down is atomic and the
 * view and informer take their own locks.
 */
#ifndef FP_EXTENDER_READINESS_H
#define FP_EXTENDER_READINESS_H

#include <glib.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "cache/informer.h"
#include "cache/view.h"

G_BEGIN_DECLS

typedef enum {
    FP_SOURCE_DEMO,     /* the bundled demo cluster */
    FP_SOURCE_SNAPSHOT, /* --cluster FILE */
    FP_SOURCE_LIVE,     /* list/watch from the API server */
} FpViewSource;

/* "demo", "snapshot" or "live". */
const char *fp_view_source_name(FpViewSource source);

typedef struct {
    FpView *view;
    FpInformer *informer; /* live mode only, else NULL */
    FpViewSource source;
    double stale_after_s;       /* <= 0: never stale */
    _Atomic bool shutting_down; /* set by serve once the servers stopped */
} FpReadiness;

/* Ready: not shutting down, both views synced, neither over its limit.
 * When not ready, *why (may be NULL) says what is missing (a static
 * string). */
bool fp_readiness_check(FpReadiness *r, const char **why);

/* Why it is not ready, with the cause when one is known (the API server's
 * last error for a view that is not synced), for texts that reach
 * kube-scheduler's events and /readyz: "node view not synced yet: GET
 * /api/v1/nodes?...: Failed to connect ...".  NULL when ready; g_free it. */
char *fp_readiness_detail(FpReadiness *r);

/* The text a verb answers with when it is not ready: "flexplace not
 * ready: " and the detail (g_free it).  @why is the reason
 * fp_readiness_check gave, used when the detail is gone (the view synced
 * in between). */
char *fp_readiness_refusal(FpReadiness *r, const char *why);

/* Whether the live view has seen neither an event nor a bookmark for
 * stale_after_s seconds (never true for a snapshot).  A stale view still
 * answers: /readyz and the logs say so. */
bool fp_readiness_stale(FpReadiness *r);

G_END_DECLS

#endif /* FP_EXTENDER_READINESS_H */
