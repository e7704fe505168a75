/*
 * cache/informer.c - list/watch threads feeding the view (see informer.h).
 *
 * Each resource thread owns its resourceVersion, its line framer and its
 * backoff; the informer's mutexes guard only the stop/sleep condition and the
 * counters.  JSON is parsed and decoded on the resource thread with no lock
 * held; the view's writers take its write lock only to swap pointers.
 */

#include "cache/informer.h"

#include <string.h>

#include "cache/clock.h"
#include "cache/kobj.h"
#include "cache/linebuf.h"

#define DEFAULT_PAGE_SIZE 500
#define DEFAULT_WATCH_MIN_S 300
#define DEFAULT_WATCH_MAX_S 600
#define DEFAULT_BACKOFF_INITIAL_MS 200
#define DEFAULT_BACKOFF_MAX_MS 30000
#define DEFAULT_LIST_TIMEOUT_MS 60000
/* A list restarted this often in a row after expired continue tokens is
 * treated as an ordinary failure (backoff). */
#define MAX_CONTINUE_RESTARTS 3
/* Rate limit of skipped-line messages, per resource. */
#define LOG_INTERVAL_US (10 * G_USEC_PER_SEC)
/* A watch shorter than this that delivered nothing does not reset the
 * backoff (a server that closes at once must not make us spin). */
#define HEALTHY_WATCH_US (2 * G_USEC_PER_SEC)
/* The longest real wait of one slice of a backoff sleep (sleep_ms). */
#define SLEEP_SLICE_US (50 * 1000)
/* resourceVersions are short opaque strings; anything longer is garbage */
#define MAX_RV_LEN 1024
/* A Retry-After longer than this is capped (a hostile or confused server
 * must not park the informer for an hour). */
#define MAX_RETRY_AFTER_MS 60000u

typedef enum {
    WATCH_EOF,     /* the server ended the stream */
    WATCH_EXPIRED, /* 410: relist */
    WATCH_ERROR,   /* ERROR event, HTTP or transport error: back off */
    WATCH_DECODE,  /* over-long line: reset */
    WATCH_STOP,    /* fp_informer_stop */
} WatchOutcome;

typedef struct Resource Resource;

struct FpInformer {
    FpView *view;
    FpKubeClient *client;
    FpInformerConfig cfg;
    volatile gint stop;
    GMutex lock; /* with cond: interruptible sleeps */
    GCond cond;
    GMutex stats_lock; /* guards every Resource's stats and rv copy */
    Resource *res[2];
};

struct Resource {
    FpInformer *inf;
    FpKind kind;
    const char *name; /* "nodes", "pods" */
    const char *path; /* "/api/v1/nodes" */
    char *selector;   /* "&fieldSelector=..." (encoded) or "" */
    GThread *thread;
    char *rv;      /* last resourceVersion; written by the thread under stats_lock */
    FpLineBuf *lb; /* the watch framer */
    FpInformerStats stats;
    gint64 log_window_us; /* rate-limited logging */
    guint log_suppressed;
    /* per watch */
    WatchOutcome outcome;
    bool outcome_set;
    guint64 watch_events; /* events and bookmarks in the current watch */
};

const char *fp_restart_cause_name(FpRestartCause cause)
{
    static const char *const names[FP_RESTART_N_CAUSES] = {"expired", "error", "eof", "decode"};
    return cause < FP_RESTART_N_CAUSES ? names[cause] : "unknown";
}

void fp_informer_stats_clear(FpInformerStats *stats)
{
    g_clear_pointer(&stats->last_error, g_free);
    g_clear_pointer(&stats->resource_version, g_free);
}

static bool stopped(FpInformer *inf)
{
    return g_atomic_int_get(&inf->stop) != 0;
}

/* Sleep @ms of fp_clock_now_us() time (cache/clock.h) unless stopped
 * first; returns false when stopped.  The real wait is cut into slices of
 * at most SLEEP_SLICE_US, so that a test that moves a fake clock past the
 * end wakes the thread within a slice. */
static bool sleep_ms(FpInformer *inf, guint ms)
{
    gint64 end = fp_clock_now_us() + (gint64)ms * 1000;
    g_mutex_lock(&inf->lock);
    while (!stopped(inf)) {
        gint64 left = end - fp_clock_now_us();
        if (left <= 0) {
            break;
        }
        g_cond_wait_until(&inf->cond, &inf->lock,
                          g_get_monotonic_time() + MIN(left, SLEEP_SLICE_US));
    }
    g_mutex_unlock(&inf->lock);
    return !stopped(inf);
}

/* ---- counters and logging ------------------------------------------- */

static void count(Resource *r, guint64 *field, guint64 n)
{
    g_mutex_lock(&r->inf->stats_lock);
    *field += n;
    g_mutex_unlock(&r->inf->stats_lock);
}

static void set_error(Resource *r, const char *message)
{
    g_mutex_lock(&r->inf->stats_lock);
    g_free(r->stats.last_error);
    r->stats.last_error = g_strdup(message);
    g_mutex_unlock(&r->inf->stats_lock);
}

static void set_rv(Resource *r, const char *rv)
{
    if (!rv || !*rv || (r->rv && strcmp(r->rv, rv) == 0) || strlen(rv) > MAX_RV_LEN) {
        return;
    }
    g_mutex_lock(&r->inf->stats_lock);
    g_free(r->rv);
    r->rv = g_strdup(rv);
    g_mutex_unlock(&r->inf->stats_lock);
}

/* Log a skipped line or object, at most once per LOG_INTERVAL_US. */
G_GNUC_PRINTF(2, 3)
static void log_skip(Resource *r, const char *fmt, ...)
{
    count(r, &r->stats.decode_errors, 1);
    gint64 now = g_get_monotonic_time();
    if (r->log_window_us && now - r->log_window_us < LOG_INTERVAL_US) {
        r->log_suppressed++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (r->log_suppressed) {
        g_warning("%s: %s (%u similar messages suppressed)", r->name, msg, r->log_suppressed);
    } else {
        g_warning("%s: %s", r->name, msg);
    }
    set_error(r, msg);
    r->log_window_us = now;
    r->log_suppressed = 0;
}

/* ---- decoding -------------------------------------------------------- */

static const char *meta_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

static bool pod_terminal(const FpPod *pod)
{
    return pod->phase == FP_PHASE_SUCCEEDED || pod->phase == FP_PHASE_FAILED;
}

/* Decode one list item or event object; NULL with @error. */
static gpointer decode(FpKind kind, const json_t *obj, GError **error)
{
    if (kind == FP_KIND_NODES) {
        return fp_node_from_json(obj, error);
    }
    FpPod *pod = fp_pod_from_json(obj, FP_POD_AUTO, error);
    if (pod && (!pod->uid || !*pod->uid)) {
        g_set_error(error, FP_KOBJ_ERROR, FP_KOBJ_ERROR_MISSING,
                    "pod %s/%s: metadata.uid: required field is missing", pod->ns, pod->name);
        fp_pod_unref(pod);
        return NULL;
    }
    return pod;
}

/* ---- LIST ------------------------------------------------------------ */

/* List every object of @r, all pages.  Returns the decoded objects (with a
 * free function) and the list's resourceVersion in @rv_out; NULL with @error
 * (and @retry_after when the server sent one). */
static GPtrArray *list_all(Resource *r, char **rv_out, double *retry_after, GError **error)
{
    FpInformer *inf = r->inf;
    GDestroyNotify free_fn =
        r->kind == FP_KIND_NODES ? (GDestroyNotify)fp_node_unref : (GDestroyNotify)fp_pod_unref;
    g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(free_fn);
    g_autofree char *cont = NULL;
    g_autofree char *rv = NULL;
    guint cont_restarts = 0;
    *retry_after = -1;
    for (;;) {
        g_autofree char *cont_q = cont ? g_uri_escape_string(cont, NULL, FALSE) : NULL;
        g_autofree char *path =
            g_strdup_printf("%s?limit=%u%s%s%s", r->path, inf->cfg.page_size, r->selector,
                            cont ? "&continue=" : "", cont ? cont_q : "");
        FpKubeCallOptions opts = {
            .timeout_ms = inf->cfg.list_timeout_ms,
            .cancel = &inf->stop,
        };
        FpKubeResponse resp = {0};
        g_autoptr(GError) local = NULL;
        if (!fp_kube_call(inf->client, "GET", path, NULL, &opts, &resp, &local)) {
            *retry_after = resp.retry_after;
            fp_kube_response_clear(&resp);
            if (cont && g_error_matches(local, FP_KUBE_ERROR, FP_KUBE_ERROR_EXPIRED) &&
                cont_restarts < MAX_CONTINUE_RESTARTS) {
                /* the continue token expired: start over from page one */
                g_message("%s: continue token expired, restarting the list", r->name);
                cont_restarts++;
                g_ptr_array_set_size(items, 0);
                g_clear_pointer(&cont, g_free);
                continue;
            }
            g_propagate_error(error, g_steal_pointer(&local));
            return NULL;
        }
        count(r, &r->stats.list_pages, 1);
        json_t *list = resp.json;
        json_t *arr = json_object_get(list, "items");
        const char *page_rv = meta_str(list, "resourceVersion");
        const char *next = meta_str(list, "continue");
        if (!json_is_object(list) || (arr && !json_is_array(arr) && !json_is_null(arr)) ||
            !page_rv || !*page_rv || strlen(page_rv) > MAX_RV_LEN ||
            (next && strlen(next) > MAX_RV_LEN * 64)) {
            g_set_error(error, FP_KUBE_ERROR, FP_KUBE_ERROR_DECODE,
                        "%s: LIST reply is not a list with metadata.resourceVersion", r->name);
            fp_kube_response_clear(&resp);
            return NULL;
        }
        size_t i;
        json_t *item;
        json_array_foreach(arr, i, item)
        {
            g_autoptr(GError) derr = NULL;
            gpointer obj = decode(r->kind, item, &derr);
            if (!obj) {
                log_skip(r, "skipping a listed object: %s", derr->message);
            } else if (r->kind == FP_KIND_PODS && pod_terminal(obj)) {
                fp_pod_unref(obj); /* selector should have excluded it */
            } else {
                g_ptr_array_add(items, obj);
            }
        }
        g_free(rv);
        rv = g_strdup(page_rv);
        g_free(cont);
        cont = (next && *next) ? g_strdup(next) : NULL;
        fp_kube_response_clear(&resp);
        /* The view could not hold more: stop paging instead of buffering a
         * list without bound (fp_view_set_limits). */
        guint max = fp_view_limit(inf->view, r->kind);
        if (max && items->len > max) {
            g_set_error(error, FP_KUBE_ERROR, FP_KUBE_ERROR_TOO_LARGE,
                        "%s: the cluster has more than %u %s, the limit of flexplace's view "
                        "(raise --max-%s and the memory limit)",
                        r->name, max, r->name, r->name);
            return NULL;
        }
        if (!cont) {
            break;
        }
        if (stopped(inf)) {
            g_set_error(error, FP_KUBE_ERROR, FP_KUBE_ERROR_CANCELLED, "%s: stopped", r->name);
            return NULL;
        }
    }
    *rv_out = g_steal_pointer(&rv);
    return g_steal_pointer(&items);
}

/* Install a completed list in the view.  @mark: fp_view_assume_mark()
 * before the list's first request (pods only). */
static void install_list(Resource *r, GPtrArray *items, const char *rv, guint64 mark)
{
    FpInformer *inf = r->inf;
    guint n = items->len;
    if (r->kind == FP_KIND_NODES) {
        fp_view_replace_nodes(inf->view, items);
    } else {
        guint dropped = fp_view_replace_pods_listed(inf->view, items, mark);
        if (dropped) {
            g_message("%s: relist: %u assumption(s) of pods no longer listed released", r->name,
                      dropped);
        }
    }
    fp_view_set_synced(inf->view, r->kind, true);
    fp_view_touch(inf->view);
    set_rv(r, rv);
    g_mutex_lock(&inf->stats_lock);
    r->stats.relists++;
    r->stats.last_list_items = n;
    r->stats.synced = true;
    g_mutex_unlock(&inf->stats_lock);
}

/* ---- WATCH ----------------------------------------------------------- */

static void end_watch(Resource *r, WatchOutcome outcome)
{
    r->outcome = outcome;
    r->outcome_set = true;
}

/* An ERROR event: 410 / Expired / Gone means relist. */
static void handle_error_event(Resource *r, const json_t *status)
{
    json_int_t code = json_integer_value(json_object_get(status, "code"));
    const char *reason = json_string_value(json_object_get(status, "reason"));
    const char *message = json_string_value(json_object_get(status, "message"));
    bool expired =
        code == 410 || (reason && (strcmp(reason, "Expired") == 0 || strcmp(reason, "Gone") == 0));
    g_autofree char *text =
        g_strdup_printf("watch ERROR event: code %" JSON_INTEGER_FORMAT " %s: %s", code,
                        reason ? reason : "", message ? message : "");
    if (expired) {
        g_message("%s: %s; relisting", r->name, text);
    } else {
        g_warning("%s: %s", r->name, text);
    }
    set_error(r, text);
    end_watch(r, expired ? WATCH_EXPIRED : WATCH_ERROR);
}

/* ADDED / MODIFIED / DELETED of one object. */
static void handle_change(Resource *r, const char *type, const json_t *obj)
{
    FpView *view = r->inf->view;
    if (strcmp(type, "DELETED") == 0) {
        const char *key = meta_str(obj, r->kind == FP_KIND_NODES ? "name" : "uid");
        if (!key || !*key) {
            log_skip(r, "DELETED event without metadata.%s",
                     r->kind == FP_KIND_NODES ? "name" : "uid");
            return;
        }
        if (r->kind == FP_KIND_NODES) {
            fp_view_remove_node(view, key);
        } else {
            fp_view_remove_pod(view, key);
        }
        count(r, &r->stats.events, 1);
        return;
    }
    g_autoptr(GError) derr = NULL;
    gpointer decoded = decode(r->kind, obj, &derr);
    if (!decoded) {
        log_skip(r, "skipping a %s event: %s", type, derr->message);
        return;
    }
    if (r->kind == FP_KIND_NODES) {
        fp_view_apply_node(view, decoded);
    } else if (pod_terminal(decoded)) {
        /* watched with a selector this arrives as DELETED; without one (or
         * from an older server) it is a MODIFIED to Succeeded/Failed */
        FpPod *pod = decoded;
        fp_view_remove_pod(view, pod->uid);
        fp_pod_unref(pod);
    } else {
        fp_view_apply_pod(view, decoded);
    }
    count(r, &r->stats.events, 1);
}

/* One complete watch line.  Returns false to end the stream. */
static bool handle_line(const char *line, size_t len, void *user)
{
    Resource *r = user;
    json_error_t jerr;
    json_t *ev = json_loadb(line, len, 0, &jerr);
    if (!json_is_object(ev)) {
        log_skip(r, "skipping a malformed watch line (%zu bytes): %s", len,
                 ev ? "not an object" : jerr.text);
        json_decref(ev);
        return true;
    }
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *obj = json_object_get(ev, "object");
    if (!type || !json_is_object(obj)) {
        log_skip(r, "skipping a watch event without type or object");
        json_decref(ev);
        return true;
    }
    bool go_on = true;
    if (strcmp(type, "ERROR") == 0) {
        handle_error_event(r, obj);
        go_on = false;
    } else if (strcmp(type, "BOOKMARK") == 0) {
        set_rv(r, meta_str(obj, "resourceVersion"));
        count(r, &r->stats.bookmarks, 1);
        r->watch_events++;
        fp_view_touch(r->inf->view);
    } else if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0 ||
               strcmp(type, "DELETED") == 0) {
        handle_change(r, type, obj);
        /* a skipped object still moves the RV: it is skipped, not retried */
        set_rv(r, meta_str(obj, "resourceVersion"));
        r->watch_events++;
        fp_view_touch(r->inf->view);
    } else {
        log_skip(r, "skipping a watch event of unknown type \"%.32s\"", type);
    }
    json_decref(ev);
    return go_on;
}

static bool stream_chunk(const char *data, size_t len, void *user)
{
    Resource *r = user;
    switch (fp_linebuf_feed(r->lb, data, len, handle_line, r)) {
    case FP_LINEBUF_OK:
        return true;
    case FP_LINEBUF_STOPPED:
        return false; /* handle_line recorded the outcome */
    case FP_LINEBUF_TOO_LONG:
    default: {
        g_autofree char *msg = g_strdup_printf(
            "watch line longer than %zu bytes; resetting the watch", fp_linebuf_max_line(r->lb));
        g_warning("%s: %s", r->name, msg);
        set_error(r, msg);
        count(r, &r->stats.decode_errors, 1);
        end_watch(r, WATCH_DECODE);
        return false;
    }
    }
}

/* Whether a failed watch's Status says our resourceVersion is ahead of the
 * server's ("Too large resource version", a 504 Timeout with the cause
 * ResourceVersionTooLarge): the API server came back with a new store whose
 * resourceVersions are lower.  Retrying the watch from that RV fails
 * forever; only a relist gets a current one (client-go relists too). */
static bool rv_too_large(const json_t *status)
{
    json_t *causes = json_object_get(json_object_get(status, "details"), "causes");
    size_t i;
    json_t *cause;
    json_array_foreach(causes, i, cause)
    {
        const char *reason = json_string_value(json_object_get(cause, "reason"));
        if (reason && strcmp(reason, "ResourceVersionTooLarge") == 0) {
            return true;
        }
    }
    const char *message = json_string_value(json_object_get(status, "message"));
    return message && strstr(message, "Too large resource version") != NULL;
}

/* One WATCH request from r->rv until it ends. */
static WatchOutcome watch_once(Resource *r, double *retry_after)
{
    FpInformer *inf = r->inf;
    guint lo = inf->cfg.watch_timeout_min_s;
    guint hi = inf->cfg.watch_timeout_max_s;
    guint timeout_s = hi > lo ? (guint)g_random_int_range((gint32)lo, (gint32)hi + 1) : lo;
    g_autofree char *rv_q = g_uri_escape_string(r->rv, NULL, FALSE);
    g_autofree char *path = g_strdup_printf(
        "%s?watch=1&resourceVersion=%s&allowWatchBookmarks=true&timeoutSeconds=%u%s", r->path, rv_q,
        timeout_s, r->selector);
    FpKubeStreamOptions opts = {
        .idle_timeout_s = timeout_s + 60,
        .stop = &inf->stop,
    };
    fp_linebuf_reset(r->lb);
    r->outcome_set = false;
    r->watch_events = 0;
    *retry_after = -1;
    count(r, &r->stats.watches, 1);
    FpKubeResponse resp = {0};
    g_autoptr(GError) error = NULL;
    gboolean ok = fp_kube_stream(inf->client, path, &opts, stream_chunk, r, &resp, &error);
    *retry_after = resp.retry_after;
    bool too_large = !ok && rv_too_large(resp.json);
    fp_kube_response_clear(&resp);
    if (stopped(inf)) {
        return WATCH_STOP;
    }
    if (r->outcome_set) {
        return r->outcome;
    }
    if (!ok) {
        set_error(r, error->message);
        if (g_error_matches(error, FP_KUBE_ERROR, FP_KUBE_ERROR_EXPIRED) || too_large) {
            g_message("%s: %s; relisting", r->name, error->message);
            return WATCH_EXPIRED;
        }
        g_warning("%s: watch failed: %s", r->name, error->message);
        return WATCH_ERROR;
    }
    /* clean end of stream: a last event without '\n' still counts */
    if (fp_linebuf_finish(r->lb, handle_line, r) == FP_LINEBUF_TOO_LONG) {
        end_watch(r, WATCH_DECODE);
    }
    return r->outcome_set ? r->outcome : WATCH_EOF;
}

/* ---- the resource thread -------------------------------------------- */

static guint jitter(guint ms)
{
    return (guint)(ms * g_random_double_range(0.8, 1.2));
}

static guint next_backoff(FpInformer *inf, guint ms)
{
    return MIN(ms * 2, inf->cfg.backoff_max_ms);
}

/* The wait before a retry: Retry-After when the server sent one, else the
 * jittered backoff. */
static guint retry_wait(guint backoff, double retry_after)
{
    if (retry_after >= 0) {
        return MIN((guint)(retry_after * 1000), MAX_RETRY_AFTER_MS);
    }
    return jitter(backoff);
}

static gpointer resource_thread(gpointer data)
{
    Resource *r = data;
    FpInformer *inf = r->inf;
    guint backoff = inf->cfg.backoff_initial_ms;
    bool need_list = true;
    while (!stopped(inf)) {
        if (need_list) {
            g_autoptr(GError) error = NULL;
            g_autofree char *rv = NULL;
            double retry_after = -1;
            guint64 mark = fp_view_assume_mark(inf->view);
            GPtrArray *items = list_all(r, &rv, &retry_after, &error);
            if (!items) {
                if (stopped(inf)) {
                    break;
                }
                g_warning("%s: list failed: %s", r->name, error->message);
                set_error(r, error->message);
                count(r, &r->stats.list_failures, 1);
                if (!sleep_ms(inf, retry_wait(backoff, retry_after))) {
                    break;
                }
                backoff = next_backoff(inf, backoff);
                continue;
            }
            install_list(r, items, rv, mark);
            need_list = false;
            backoff = inf->cfg.backoff_initial_ms;
        }
        gint64 started = fp_clock_now_us();
        double retry_after = -1;
        WatchOutcome outcome = watch_once(r, &retry_after);
        bool healthy = r->watch_events > 0 || fp_clock_now_us() - started >= HEALTHY_WATCH_US;
        if (healthy) {
            backoff = inf->cfg.backoff_initial_ms;
        }
        guint wait = 0;
        switch (outcome) {
        case WATCH_STOP:
            return NULL;
        case WATCH_EXPIRED:
            count(r, &r->stats.restarts[FP_RESTART_EXPIRED], 1);
            need_list = true;
            wait = healthy ? 0 : jitter(backoff);
            break;
        case WATCH_EOF:
            count(r, &r->stats.restarts[FP_RESTART_EOF], 1);
            wait = healthy ? 0 : jitter(backoff);
            break;
        case WATCH_DECODE:
            count(r, &r->stats.restarts[FP_RESTART_DECODE], 1);
            wait = jitter(backoff);
            break;
        case WATCH_ERROR:
        default:
            count(r, &r->stats.restarts[FP_RESTART_ERROR], 1);
            wait = retry_wait(backoff, retry_after);
            break;
        }
        if (wait) {
            if (!healthy) {
                backoff = next_backoff(inf, backoff);
            }
            if (!sleep_ms(inf, wait)) {
                break;
            }
        }
    }
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------- */

static Resource *resource_new(FpInformer *inf, FpKind kind, const char *label_selector)
{
    Resource *r = g_new0(Resource, 1);
    r->inf = inf;
    r->kind = kind;
    r->lb = fp_linebuf_new(inf->cfg.max_line);
    if (kind == FP_KIND_NODES) {
        r->name = "nodes";
        r->path = "/api/v1/nodes";
        if (label_selector && *label_selector) {
            g_autofree char *q = g_uri_escape_string(label_selector, NULL, FALSE);
            r->selector = g_strconcat("&labelSelector=", q, NULL);
        } else {
            r->selector = g_strdup("");
        }
    } else {
        r->name = "pods";
        r->path = "/api/v1/pods";
        g_autofree char *q = g_uri_escape_string(FP_INFORMER_POD_SELECTOR, NULL, FALSE);
        r->selector = g_strconcat("&fieldSelector=", q, NULL);
    }
    return r;
}

static void resource_free(Resource *r)
{
    if (!r) {
        return;
    }
    fp_informer_stats_clear(&r->stats);
    fp_linebuf_free(r->lb);
    g_free(r->selector);
    g_free(r->rv);
    g_free(r);
}

static FpInformer *informer_new(FpView *view, FpKubeClient *client, const FpInformerConfig *config)
{
    FpInformer *inf = g_new0(FpInformer, 1);
    inf->view = view;
    inf->client = client;
    if (config) {
        inf->cfg = *config;
    }
    FpInformerConfig *c = &inf->cfg;
    c->page_size = c->page_size ? c->page_size : DEFAULT_PAGE_SIZE;
    c->watch_timeout_min_s = c->watch_timeout_min_s ? c->watch_timeout_min_s : DEFAULT_WATCH_MIN_S;
    c->watch_timeout_max_s = c->watch_timeout_max_s ? c->watch_timeout_max_s : DEFAULT_WATCH_MAX_S;
    c->watch_timeout_min_s = MIN(c->watch_timeout_min_s, 86400u);
    c->watch_timeout_max_s = MIN(MAX(c->watch_timeout_max_s, c->watch_timeout_min_s), 86400u);
    c->backoff_initial_ms =
        c->backoff_initial_ms ? c->backoff_initial_ms : DEFAULT_BACKOFF_INITIAL_MS;
    c->backoff_max_ms = c->backoff_max_ms ? c->backoff_max_ms : DEFAULT_BACKOFF_MAX_MS;
    c->backoff_max_ms = MAX(c->backoff_max_ms, c->backoff_initial_ms);
    c->max_line = c->max_line ? c->max_line : FP_LINEBUF_DEFAULT_MAX;
    c->list_timeout_ms = c->list_timeout_ms ? c->list_timeout_ms : DEFAULT_LIST_TIMEOUT_MS;
    c->node_label_selector = NULL; /* encoded into the resource below, not kept */
    g_mutex_init(&inf->lock);
    g_cond_init(&inf->cond);
    g_mutex_init(&inf->stats_lock);
    inf->res[FP_KIND_NODES] =
        resource_new(inf, FP_KIND_NODES, config ? config->node_label_selector : NULL);
    inf->res[FP_KIND_PODS] = resource_new(inf, FP_KIND_PODS, NULL);
    return inf;
}

static void informer_free(FpInformer *inf)
{
    resource_free(inf->res[FP_KIND_NODES]);
    resource_free(inf->res[FP_KIND_PODS]);
    g_mutex_clear(&inf->lock);
    g_cond_clear(&inf->cond);
    g_mutex_clear(&inf->stats_lock);
    g_free(inf);
}

FpInformer *fp_informer_start(FpView *view, FpKubeClient *client, const FpInformerConfig *config,
                              GError **error)
{
    g_return_val_if_fail(view && client, NULL);
    FpInformer *inf = informer_new(view, client, config);
    for (int k = 0; k < 2; k++) {
        Resource *r = inf->res[k];
        g_autofree char *name = g_strdup_printf("fp-watch-%s", r->name);
        r->thread = g_thread_try_new(name, resource_thread, r, error);
        if (!r->thread) {
            fp_informer_stop(inf);
            return NULL;
        }
    }
    return inf;
}

void fp_informer_stop(FpInformer *informer)
{
    if (!informer) {
        return;
    }
    g_mutex_lock(&informer->lock);
    g_atomic_int_set(&informer->stop, 1);
    g_cond_broadcast(&informer->cond);
    g_mutex_unlock(&informer->lock);
    for (int k = 0; k < 2; k++) {
        if (informer->res[k]->thread) {
            g_thread_join(informer->res[k]->thread);
            informer->res[k]->thread = NULL;
        }
    }
    informer_free(informer);
}

void fp_informer_get_stats(FpInformer *informer, FpKind kind, FpInformerStats *out)
{
    g_return_if_fail(informer && out && (kind == FP_KIND_NODES || kind == FP_KIND_PODS));
    Resource *r = informer->res[kind];
    g_mutex_lock(&informer->stats_lock);
    *out = r->stats;
    out->last_error = g_strdup(r->stats.last_error);
    out->resource_version = g_strdup(r->rv);
    g_mutex_unlock(&informer->stats_lock);
}

gboolean fp_informer_list_once(FpView *view, FpKubeClient *client, GError **error)
{
    g_return_val_if_fail(view && client, FALSE);
    FpInformer *inf = informer_new(view, client, NULL);
    GPtrArray *lists[2] = {NULL, NULL};
    char *rvs[2] = {NULL, NULL};
    gboolean ok = TRUE;
    guint64 mark = fp_view_assume_mark(view);
    for (int k = 0; k < 2 && ok; k++) {
        double retry_after = -1;
        lists[k] = list_all(inf->res[k], &rvs[k], &retry_after, error);
        ok = lists[k] != NULL;
    }
    if (ok) {
        install_list(inf->res[FP_KIND_NODES], g_steal_pointer(&lists[FP_KIND_NODES]),
                     rvs[FP_KIND_NODES], mark);
        install_list(inf->res[FP_KIND_PODS], g_steal_pointer(&lists[FP_KIND_PODS]),
                     rvs[FP_KIND_PODS], mark);
    }
    for (int k = 0; k < 2; k++) {
        if (lists[k]) {
            g_ptr_array_unref(lists[k]);
        }
        g_free(rvs[k]);
    }
    informer_free(inf);
    return ok;
}
