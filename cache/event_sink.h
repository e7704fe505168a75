/*
 * cache/event_sink.h - Kubernetes Events on pods, posted in the background,
 * deduplicated and rate-limited.
 *
 * Purpose: flexplace tells people and tools why a GPU pod fits nowhere
 * ("... no node fits ...; would fit after scale-up: pool ...") with an Event
 * on the pod, as kube-scheduler reports FailedScheduling.  The filter verb
 * must never wait for the API server, so fp_event_sink_post only queues:
 * one background thread sends.
 *
 * API: like kube-scheduler (client-go's events.NewEventBroadcasterAdapter),
 * events.k8s.io/v1 - POST /apis/events.k8s.io/v1/namespaces/NS/events with
 * regarding (the pod: apiVersion v1, kind Pod, namespace, name, uid), note,
 * reason, type, action, eventTime (MicroTime), reportingController and
 * reportingInstance; and when the API server has no events.k8s.io/v1 (404)
 * core/v1 - POST /api/v1/namespaces/NS/events with involvedObject,
 * message, source.component, firstTimestamp/lastTimestamp, count 1 - from
 * then on.  Names are "<pod name>.<hex nanoseconds>", client-go's form (the
 * pod name cut so the name stays within 253 characters); notes over
 * FP_EVENT_NOTE_MAX bytes are cut at a UTF-8 boundary with "...".  Only
 * create is used: RBAC needs `create` on events (both groups), never patch.
 *
 * Deduplication: the same (pod uid, reason, note) is posted once per
 * @dedup_window_s (default 600 s); repeats within it are counted as
 * deduplicated and not sent (kube-scheduler retries an unschedulable pod at
 * least every 5 minutes, so a pod still pending is said again within about
 * 15 minutes).  At most FP_EVENT_DEDUP_MAX keys are remembered; past it
 * the oldest half is forgotten.
 * Rate limit: a token bucket over all posts, @burst events and @per_second
 * refill (defaults 20 and 1).  Queue: at most @queue_max (default 256)
 * events wait; a post to a full queue is dropped and counted.
 * Failures (a non-2xx, a transport error) are logged rate-limited, counted
 * and not retried: an Event is advice, and the next filter says it again.
 *
 * Ownership: the sink borrows @client (it must outlive the sink); strings
 * given to post are copied.  Thread context: fp_event_sink_post from any
 * thread (one short mutex, never I/O); one sender thread of its own;
 * fp_event_sink_free joins it (events still queued are dropped; a post in
 * flight ends within its 5 s timeout).
 */
#ifndef FP_CACHE_EVENT_SINK_H
#define FP_CACHE_EVENT_SINK_H

#include <glib.h>
#include <stdbool.h>

#include "cache/kube_client.h"

G_BEGIN_DECLS

#define FP_EVENT_NOTE_MAX 1024
#define FP_EVENT_DEDUP_MAX 10000

typedef struct {
    const char *controller; /* reportingController / source.component; "flexplace" */
    const char *instance;   /* reportingInstance; NULL = the host name */
    double dedup_window_s;  /* 0 = default 600 */
    double per_second;      /* 0 = default 1 */
    guint burst;            /* 0 = default 20 */
    guint queue_max;        /* 0 = default 256 */
} FpEventSinkConfig;

/* What the sink did with the posts it was given, since it started. */
typedef struct {
    guint64 posted;       /* created on the API server */
    guint64 deduplicated; /* same pod, reason and note within the window */
    guint64 dropped;      /* the queue was full */
    guint64 failed;       /* the API server refused, or no answer */
    guint64 queued;       /* waiting now */
    bool core_v1;         /* fell back to core/v1 (no events.k8s.io/v1) */
} FpEventSinkStats;

typedef struct FpEventSink FpEventSink;

FpEventSink *fp_event_sink_new(FpKubeClient *client, const FpEventSinkConfig *cfg);
void fp_event_sink_free(FpEventSink *sink);

/* Queue a Warning Event with @reason (a CamelCase word) and @note on pod
 * @ns/@name (@uid may be NULL or empty: the Event then names no uid);
 * @action is what flexplace was doing ("Scheduling").  Never blocks on I/O.
 * FALSE when it was not queued (deduplicated, queue full, or an empty
 * namespace or name). */
bool fp_event_sink_post(FpEventSink *sink, const char *ns, const char *name, const char *uid,
                        const char *reason, const char *action, const char *note);

void fp_event_sink_stats(FpEventSink *sink, FpEventSinkStats *out);

/* Block until the sender is idle - nothing being sent, and the queue empty
 * or waiting for the rate limit's next token - or @timeout_s passes (for
 * tests); TRUE when idle. */
bool fp_event_sink_wait_idle(FpEventSink *sink, double timeout_s);

G_END_DECLS

#endif /* FP_CACHE_EVENT_SINK_H */
