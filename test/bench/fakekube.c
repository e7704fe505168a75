/*
 * test/bench/fakekube.c - an in-process fake Kubernetes API server for the
 * benchmark: paginated LIST of the generated nodes and pods, WATCH streams
 * (chunked, one JSON event per line) that replay pod MODIFIED events at the
 * rate the benchmark sets, and pods/binding POSTs answered 201 at once, so a
 * bind's API call costs only a loopback round trip.
 *
 * libmicrohttpd in thread-per-connection mode: a watch's content callback
 * may sleep until its next event is due.  Every callback checks the stop
 * flag at least every 20 ms, so bench_kube_stop returns promptly.
 */
#include <microhttpd.h>
#include <netinet/in.h>
#include <string.h>

#include "test/bench/bench.h"

#define WATCH_BLOCK (64 * 1024)
#define POLL_US 20000

struct BenchKube {
    const BenchCluster *cluster;
    struct MHD_Daemon *daemon;
    guint16 port;
    _Atomic bool stop;
    _Atomic guint rate;       /* pod events per second */
    _Atomic guint rate_epoch; /* bumped on every rate change */
    _Atomic guint64 rv;
    _Atomic guint64 events;
    _Atomic guint64 event_seq;
    _Atomic guint64 bindings;
};

typedef struct {
    BenchKube *k;
    bool pods;
    gint64 deadline_us;
    guint epoch;
    gint64 t0_us;
    guint64 emitted; /* since t0 at the current rate */
    GString *pending;
} Watch;

typedef struct {
    bool started;
} PostCtx;

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, char *body,
                             size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, body, g_free);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_str(struct MHD_Connection *conn, unsigned int status, const char *s)
{
    return reply(conn, status, g_strdup(s), strlen(s));
}

static guint arg_uint(struct MHD_Connection *conn, const char *name, guint dflt)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
    return v && *v ? (guint)g_ascii_strtoull(v, NULL, 10) : dflt;
}

static enum MHD_Result list(BenchKube *k, struct MHD_Connection *conn, bool pods)
{
    const BenchCluster *c = k->cluster;
    guint total = pods ? bench_cluster_pod_count(c) : c->n_nodes;
    guint limit = arg_uint(conn, "limit", 500);
    guint from = arg_uint(conn, "continue", 0);
    limit = limit ? limit : total;
    guint to = MIN(total, from + limit);
    GString *s = g_string_sized_new(pods ? (gsize)(to - from) * 1400 : (gsize)(to - from) * 12500);
    g_string_append_printf(s,
                           "{\"kind\":\"%s\",\"apiVersion\":\"v1\",\"metadata\":{"
                           "\"resourceVersion\":\"%" G_GUINT64_FORMAT "\"",
                           pods ? "PodList" : "NodeList", atomic_load(&k->rv));
    if (to < total) {
        g_string_append_printf(s, ",\"continue\":\"%u\"", to);
    }
    g_string_append(s, "},\"items\":[");
    for (guint i = from; i < to; i++) {
        if (i > from) {
            g_string_append_c(s, ',');
        }
        if (pods) {
            bench_cluster_append_pod(c, i, 1000 + i, 0, s);
        } else {
            g_string_append_len(s, c->nodes[i].json, (gssize)c->nodes[i].len);
        }
    }
    g_string_append(s, "]}");
    size_t len = s->len;
    return reply(conn, MHD_HTTP_OK, g_string_free(s, FALSE), len);
}

/* Append the pod events due now to w->pending. */
static void make_events(Watch *w)
{
    BenchKube *k = w->k;
    guint epoch = atomic_load(&k->rate_epoch);
    gint64 now = g_get_monotonic_time();
    if (epoch != w->epoch) {
        w->epoch = epoch;
        w->t0_us = now;
        w->emitted = 0;
    }
    guint rate = atomic_load(&k->rate);
    if (rate == 0) {
        return;
    }
    guint64 due = (guint64)((double)(now - w->t0_us) * rate / G_USEC_PER_SEC);
    guint running = k->cluster->n_nodes * k->cluster->pods_per_node;
    while (w->emitted < due && w->pending->len < WATCH_BLOCK && running > 0) {
        guint64 seq = atomic_fetch_add(&k->event_seq, 1);
        guint64 rv = atomic_fetch_add(&k->rv, 1) + 1;
        guint index = (guint)((seq * 7919u) % running);
        g_string_append(w->pending, "{\"type\":\"MODIFIED\",\"object\":");
        bench_cluster_append_pod(k->cluster, index, rv, (guint)seq + 1, w->pending);
        g_string_append(w->pending, "}\n");
        w->emitted++;
        atomic_fetch_add(&k->events, 1);
    }
}

static ssize_t watch_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    Watch *w = cls;
    while (w->pending->len == 0) {
        if (atomic_load(&w->k->stop) || g_get_monotonic_time() >= w->deadline_us) {
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (w->pods) {
            make_events(w);
        }
        if (w->pending->len == 0) {
            g_usleep(w->pods && atomic_load(&w->k->rate) ? 1000 : POLL_US);
        }
    }
    size_t n = MIN(max, w->pending->len);
    memcpy(buf, w->pending->str, n);
    g_string_erase(w->pending, 0, (gssize)n);
    return (ssize_t)n;
}

static void watch_free(void *cls)
{
    Watch *w = cls;
    g_string_free(w->pending, TRUE);
    g_free(w);
}

static enum MHD_Result watch(BenchKube *k, struct MHD_Connection *conn, bool pods)
{
    Watch *w = g_new0(Watch, 1);
    w->k = k;
    w->pods = pods;
    w->deadline_us =
        g_get_monotonic_time() + (gint64)arg_uint(conn, "timeoutSeconds", 300) * G_USEC_PER_SEC;
    w->epoch = atomic_load(&k->rate_epoch);
    w->t0_us = g_get_monotonic_time();
    w->pending = g_string_new(NULL);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, WATCH_BLOCK, watch_read, w, watch_free);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    BenchKube *k = cls;
    if (strcmp(method, "POST") == 0) {
        if (*con_cls == NULL) {
            *con_cls = g_new0(PostCtx, 1);
            return MHD_YES;
        }
        if (*upload_data_size) {
            *upload_data_size = 0; /* the Binding itself is not checked */
            return MHD_YES;
        }
        if (g_str_has_suffix(url, "/binding")) {
            atomic_fetch_add(&k->bindings, 1);
            return reply_str(conn, 201,
                             "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                             "\"status\":\"Success\",\"code\":201}");
        }
        return reply_str(conn, 404, "{\"kind\":\"Status\",\"code\":404}");
    }
    bool is_watch =
        arg_uint(conn, "watch", 0) != 0 ||
        g_strcmp0(MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "watch"), "true") == 0;
    if (strcmp(url, "/api/v1/nodes") == 0 || strcmp(url, "/api/v1/pods") == 0) {
        bool pods = url[8] == 'p';
        return is_watch ? watch(k, conn, pods) : list(k, conn, pods);
    }
    return reply_str(conn, 404,
                     "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
                     "\"Failure\",\"reason\":\"NotFound\",\"code\":404}");
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    g_free(*con_cls);
    *con_cls = NULL;
}

BenchKube *bench_kube_start(const BenchCluster *c)
{
    BenchKube *k = g_new0(BenchKube, 1);
    k->cluster = c;
    atomic_store(&k->rv, 1000000);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    k->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, on_request, k, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&sin,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, k, MHD_OPTION_CONNECTION_TIMEOUT, 600u,
        MHD_OPTION_END);
    if (!k->daemon) {
        g_printerr("fp_bench: cannot start the fake API server\n");
        exit(1);
    }
    k->port = MHD_get_daemon_info(k->daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
    return k;
}

guint16 bench_kube_port(BenchKube *k)
{
    return k->port;
}

void bench_kube_set_event_rate(BenchKube *k, guint per_second)
{
    atomic_store(&k->rate, per_second);
    atomic_fetch_add(&k->rate_epoch, 1);
}

guint64 bench_kube_events_sent(BenchKube *k)
{
    return atomic_load(&k->events);
}

guint64 bench_kube_bindings(BenchKube *k)
{
    return atomic_load(&k->bindings);
}

void bench_kube_stop(BenchKube *k)
{
    if (!k) {
        return;
    }
    atomic_store(&k->stop, true);
    MHD_stop_daemon(k->daemon);
    g_free(k);
}
