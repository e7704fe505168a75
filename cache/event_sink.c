/*
 * cache/event_sink.c - background, deduplicated, rate-limited Events
 * (contract in the header).
 */
#include "cache/event_sink.h"

#include <string.h>

#define DEFAULT_WINDOW_S 600.0
#define DEFAULT_PER_SECOND 1.0
#define DEFAULT_BURST 20
#define DEFAULT_QUEUE 256
#define POST_TIMEOUT_MS 5000
#define NAME_MAX_LEN 253

typedef struct {
    char *ns;
    char *name;
    char *uid;
    char *reason;
    char *action;
    char *note;
    gint64 time_us; /* wall clock of the post */
} Pending;

struct FpEventSink {
    FpKubeClient *client;
    char *controller;
    char *instance;
    gint64 window_us;
    double per_second;
    double burst;
    guint queue_max;
    GMutex lock;
    GCond cond;       /* the sender waits on it for work, a token, or stop */
    GCond idle;       /* wait_idle waits on it */
    GQueue *queue;    /* Pending* */
    GHashTable *seen; /* dedup key -> gint64* monotonic time of the post */
    bool stop;
    bool sending;       /* the sender holds an event outside the lock */
    bool waiting_token; /* the sender waits for the bucket with work queued */
    double tokens;
    gint64 refilled_us;
    FpEventSinkStats stats;
    GThread *thread;
};

static void pending_free(gpointer p)
{
    Pending *e = p;
    g_free(e->ns);
    g_free(e->name);
    g_free(e->uid);
    g_free(e->reason);
    g_free(e->action);
    g_free(e->note);
    g_free(e);
}

/* ---- the object ------------------------------------------------------- */

static char *micro_time(gint64 us)
{
    g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(us / G_USEC_PER_SEC);
    g_autofree char *s =
        t ? g_date_time_format(t, "%Y-%m-%dT%H:%M:%S") : g_strdup("1970-01-01T00:00:00");
    return g_strdup_printf("%s.%06dZ", s, (int)(us % G_USEC_PER_SEC));
}

static char *seconds_time(gint64 us)
{
    g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(us / G_USEC_PER_SEC);
    return t ? g_date_time_format(t, "%Y-%m-%dT%H:%M:%SZ") : g_strdup("1970-01-01T00:00:00Z");
}

/* "<pod>.<hex ns>" within 253 characters, the pod part ending alphanumeric. */
static char *event_name(const char *pod, gint64 us)
{
    g_autofree char *suffix = g_strdup_printf(".%" G_GINT64_MODIFIER "x", us * 1000);
    gsize keep = MIN(strlen(pod), NAME_MAX_LEN - strlen(suffix));
    while (keep > 0 && !g_ascii_isalnum(pod[keep - 1])) {
        keep--;
    }
    g_autofree char *head = keep ? g_strndup(pod, keep) : g_strdup("pod");
    return g_strconcat(head, suffix, NULL);
}

/* The valid UTF-8 prefix of @note, cut to FP_EVENT_NOTE_MAX bytes at a
 * character boundary with "..." when longer. */
static char *cut_note(const char *note)
{
    const char *end = NULL;
    g_utf8_validate(note, -1, &end);
    char *s = g_strndup(note, (gsize)(end - note));
    if (strlen(s) <= FP_EVENT_NOTE_MAX) {
        return s;
    }
    char *cut = s + FP_EVENT_NOTE_MAX - 3;
    while (cut > s && (*cut & 0xC0) == 0x80) {
        cut--;
    }
    *cut = '\0';
    char *out = g_strconcat(s, "...", NULL);
    g_free(s);
    return out;
}

static json_t *pod_ref(const Pending *e)
{
    json_t *ref = json_pack("{s:s, s:s, s:s, s:s}", "apiVersion", "v1", "kind", "Pod", "namespace",
                            e->ns, "name", e->name);
    if (e->uid && *e->uid) {
        json_object_set_new(ref, "uid", json_string(e->uid));
    }
    return ref;
}

static json_t *events_v1_body(const FpEventSink *s, const Pending *e)
{
    g_autofree char *name = event_name(e->name, e->time_us);
    g_autofree char *when = micro_time(e->time_us);
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s}",
                     "apiVersion", "events.k8s.io/v1", "kind", "Event", "metadata", "name", name,
                     "namespace", e->ns, "eventTime", when, "reportingController", s->controller,
                     "reportingInstance", s->instance, "action", e->action, "reason", e->reason,
                     "type", "Warning", "regarding", pod_ref(e), "note", e->note);
}

static json_t *core_v1_body(const FpEventSink *s, const Pending *e)
{
    g_autofree char *name = event_name(e->name, e->time_us);
    g_autofree char *when = seconds_time(e->time_us);
    g_autofree char *micro = micro_time(e->time_us);
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:o, s:s, s:s, s:s, s:{s:s}, s:s, s:s, s:s, s:i, "
                     "s:s, s:s, s:s}",
                     "apiVersion", "v1", "kind", "Event", "metadata", "name", name, "namespace",
                     e->ns, "involvedObject", pod_ref(e), "reason", e->reason, "message", e->note,
                     "type", "Warning", "source", "component", s->controller, "firstTimestamp",
                     when, "lastTimestamp", when, "eventTime", micro, "count", 1,
                     "reportingComponent", s->controller, "reportingInstance", s->instance,
                     "action", e->action);
}

/* ---- sending ----------------------------------------------------------- */

/* A 404 that says the resource (not the namespace) does not exist: the API
 * server has no events.k8s.io/v1. */
static bool api_absent(long status, const json_t *reply)
{
    if (status != 404) {
        return false;
    }
    const json_t *details = json_object_get(reply, "details");
    return !json_string_value(json_object_get(details, "name"));
}

static bool post_one(FpEventSink *s, const Pending *e, bool core_v1, long *status, GError **error)
{
    g_autofree char *path =
        core_v1 ? g_strdup_printf("/api/v1/namespaces/%s/events", e->ns)
                : g_strdup_printf("/apis/events.k8s.io/v1/namespaces/%s/events", e->ns);
    json_t *body = core_v1 ? core_v1_body(s, e) : events_v1_body(s, e);
    json_t *reply = NULL;
    *status = 0;
    gboolean ok = fp_kube_post_json(s->client, path, body, POST_TIMEOUT_MS, status, &reply, error);
    if (!ok && !core_v1 && api_absent(*status, reply)) {
        *status = -404; /* tell the caller to fall back */
    }
    json_decref(reply);
    json_decref(body);
    return ok;
}

static void send_event(FpEventSink *s, const Pending *e)
{
    g_mutex_lock(&s->lock);
    bool core_v1 = s->stats.core_v1;
    g_mutex_unlock(&s->lock);
    GError *error = NULL;
    long status = 0;
    bool ok = post_one(s, e, core_v1, &status, &error);
    if (!ok && status == -404) {
        g_clear_error(&error);
        g_message("the API server has no events.k8s.io/v1: posting core/v1 Events");
        core_v1 = true;
        ok = post_one(s, e, core_v1, &status, &error);
    }
    g_mutex_lock(&s->lock);
    s->stats.core_v1 = core_v1;
    if (ok) {
        s->stats.posted++;
    } else {
        s->stats.failed++;
    }
    g_mutex_unlock(&s->lock);
    if (error) {
        static gint64 last_warn;
        gint64 now = g_get_monotonic_time();
        if (now - last_warn > 10 * G_TIME_SPAN_SECOND) {
            last_warn = now;
            g_warning("posting an Event on pod %s/%s: %s", e->ns, e->name, error->message);
        }
        g_error_free(error);
    }
}

/* Refill the bucket (lock held). */
static void refill(FpEventSink *s, gint64 now)
{
    double add = (double)(now - s->refilled_us) / G_TIME_SPAN_SECOND * s->per_second;
    s->tokens = MIN(s->burst, s->tokens + add);
    s->refilled_us = now;
}

/* The next event to send, waiting for work and a token; NULL on stop
 * (lock held, released while waiting). */
static Pending *next_event(FpEventSink *s)
{
    for (;;) {
        if (s->stop) {
            return NULL;
        }
        if (g_queue_is_empty(s->queue)) {
            g_cond_broadcast(&s->idle);
            g_cond_wait(&s->cond, &s->lock);
            continue;
        }
        gint64 now = g_get_monotonic_time();
        refill(s, now);
        if (s->tokens >= 1.0) {
            s->tokens -= 1.0;
            s->waiting_token = false;
            return g_queue_pop_head(s->queue);
        }
        s->waiting_token = true;
        g_cond_broadcast(&s->idle);
        gint64 wait = (gint64)((1.0 - s->tokens) / s->per_second * G_TIME_SPAN_SECOND) + 1;
        g_cond_wait_until(&s->cond, &s->lock, now + wait);
    }
}

static gpointer sender_main(gpointer data)
{
    FpEventSink *s = data;
    g_mutex_lock(&s->lock);
    for (;;) {
        Pending *e = next_event(s);
        if (!e) {
            break;
        }
        s->sending = true;
        g_mutex_unlock(&s->lock);
        send_event(s, e);
        pending_free(e);
        g_mutex_lock(&s->lock);
        s->sending = false;
        g_cond_broadcast(&s->idle);
    }
    s->sending = false;
    g_cond_broadcast(&s->idle);
    g_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- the sink ---------------------------------------------------------- */

FpEventSink *fp_event_sink_new(FpKubeClient *client, const FpEventSinkConfig *cfg)
{
    FpEventSinkConfig none = {0};
    if (!cfg) {
        cfg = &none;
    }
    FpEventSink *s = g_new0(FpEventSink, 1);
    s->client = client;
    s->controller = g_strdup(cfg->controller && *cfg->controller ? cfg->controller : "flexplace");
    s->instance = g_strdup(cfg->instance && *cfg->instance ? cfg->instance : g_get_host_name());
    if (strlen(s->instance) > 128) {
        s->instance[128] = '\0';
    }
    s->window_us = (gint64)((cfg->dedup_window_s > 0 ? cfg->dedup_window_s : DEFAULT_WINDOW_S) *
                            G_TIME_SPAN_SECOND);
    s->per_second = cfg->per_second > 0 ? cfg->per_second : DEFAULT_PER_SECOND;
    s->burst = cfg->burst ? cfg->burst : DEFAULT_BURST;
    s->queue_max = cfg->queue_max ? cfg->queue_max : DEFAULT_QUEUE;
    s->tokens = s->burst;
    s->refilled_us = g_get_monotonic_time();
    g_mutex_init(&s->lock);
    g_cond_init(&s->cond);
    g_cond_init(&s->idle);
    s->queue = g_queue_new();
    s->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    s->thread = g_thread_new("events", sender_main, s);
    return s;
}

void fp_event_sink_free(FpEventSink *s)
{
    if (!s) {
        return;
    }
    g_mutex_lock(&s->lock);
    s->stop = true;
    g_cond_broadcast(&s->cond);
    g_mutex_unlock(&s->lock);
    g_thread_join(s->thread);
    g_queue_free_full(s->queue, pending_free);
    g_hash_table_unref(s->seen);
    g_mutex_clear(&s->lock);
    g_cond_clear(&s->cond);
    g_cond_clear(&s->idle);
    g_free(s->controller);
    g_free(s->instance);
    g_free(s);
}

/* Forget keys older than the window; past FP_EVENT_DEDUP_MAX also the
 * older half of the rest (lock held). */
static void prune_seen(FpEventSink *s, gint64 now)
{
    gint64 cutoff = now - s->window_us;
    if (g_hash_table_size(s->seen) >= FP_EVENT_DEDUP_MAX) {
        /* the median age is the cutoff: at least half goes */
        gint64 oldest = now, newest = cutoff;
        GHashTableIter it;
        gpointer v;
        g_hash_table_iter_init(&it, s->seen);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
            oldest = MIN(oldest, *(gint64 *)v);
            newest = MAX(newest, *(gint64 *)v);
        }
        cutoff = MAX(cutoff, oldest + (newest - oldest) / 2 + 1);
    }
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, s->seen);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        if (*(gint64 *)v < cutoff) {
            g_hash_table_iter_remove(&it);
        }
    }
}

/* Whether (uid or ns/name, reason, note) was posted within the window; if
 * not, remember it now (lock held). */
static bool seen_recently(FpEventSink *s, const char *ns, const char *name, const char *uid,
                          const char *reason, const char *note, gint64 now)
{
    char *key = uid && *uid ? g_strjoin("\x1f", uid, reason, note, NULL)
                            : g_strjoin("\x1f", ns, name, reason, note, NULL);
    gint64 *at = g_hash_table_lookup(s->seen, key);
    if (at && now - *at < s->window_us) {
        g_free(key);
        return true;
    }
    if (!at && g_hash_table_size(s->seen) >= FP_EVENT_DEDUP_MAX / 2) {
        prune_seen(s, now);
    }
    gint64 *t = g_new(gint64, 1);
    *t = now;
    g_hash_table_replace(s->seen, key, t);
    return false;
}

bool fp_event_sink_post(FpEventSink *s, const char *ns, const char *name, const char *uid,
                        const char *reason, const char *action, const char *note)
{
    if (!s || !ns || !*ns || !name || !*name || !reason || !note) {
        return false;
    }
    gint64 now = g_get_monotonic_time();
    g_mutex_lock(&s->lock);
    bool queued = false;
    if (seen_recently(s, ns, name, uid, reason, note, now)) {
        s->stats.deduplicated++;
    } else if (g_queue_get_length(s->queue) >= s->queue_max) {
        s->stats.dropped++;
    } else {
        Pending *e = g_new0(Pending, 1);
        e->ns = g_strdup(ns);
        e->name = g_strdup(name);
        e->uid = g_strdup(uid);
        e->reason = g_strdup(reason);
        e->action = g_strdup(action && *action ? action : "Scheduling");
        e->note = cut_note(note);
        e->time_us = g_get_real_time();
        g_queue_push_tail(s->queue, e);
        g_cond_signal(&s->cond);
        queued = true;
    }
    g_mutex_unlock(&s->lock);
    return queued;
}

void fp_event_sink_stats(FpEventSink *s, FpEventSinkStats *out)
{
    g_mutex_lock(&s->lock);
    *out = s->stats;
    out->queued = g_queue_get_length(s->queue);
    g_mutex_unlock(&s->lock);
}

bool fp_event_sink_wait_idle(FpEventSink *s, double timeout_s)
{
    gint64 until = g_get_monotonic_time() + (gint64)(timeout_s * G_TIME_SPAN_SECOND);
    g_mutex_lock(&s->lock);
    bool idle;
    while (!(idle = !s->sending && (g_queue_is_empty(s->queue) || s->waiting_token))) {
        if (!g_cond_wait_until(&s->idle, &s->lock, until)) {
            idle = !s->sending && (g_queue_is_empty(s->queue) || s->waiting_token);
            break;
        }
    }
    g_mutex_unlock(&s->lock);
    return idle;
}
