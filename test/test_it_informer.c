/*
 * test/test_it_informer.c - the informer against test/fake_apiserver.py on
 * loopback: after every scenario the view (free GPUs per node read through
 * fp_view_node_locked) must converge to the server's state.
 *
 * The fake server builds its nodes from the shared data's captured Node
 * objects when FP_SHARED_DATA is set, else from built-in objects of the same
 * shape (gpu-node-1/2/3 with 4/2/8 GPUs); seed pods use 1 GPU on gpu-node-1
 * and 2 on gpu-node-3, and one pod is pending.  Every wait polls with a
 * deadline.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache/clock.h"
#include "cache/informer.h"
#include "cache/kube_client.h"
#include "cache/kubeconfig.h"
#include "cache/view.h"
#include "support/fake_api.h"
#include "support/support.h"

#define GPU "nvidia.com/gpu"
#define WAIT_MS 10000
/* Result of free_gpus for a node the view does not have. */
#define NO_NODE (-1000)

/* ---- the fake API server process --------------------------------------- */

/* test/support/fake_api.h spawns test/fake_apiserver.py and drives its
 * control port; these thin wrappers keep the scenarios below short. */
typedef struct {
    FpFakeApi *api;
    guint port;
    guint control_port;
} Server;

/* Start the server with extra arguments (NULL-terminated, may be NULL). */
static void server_start(Server *s, const char *const *extra)
{
    s->api = fp_fake_api_start(extra);
    s->port = fp_fake_api_port(s->api);
    s->control_port = fp_fake_api_control_port(s->api);
}

static void server_stop(Server *s)
{
    if (s->api) {
        fp_fake_api_stop(s->api);
        s->api = NULL;
    }
}

/* POST one control command (printf-style JSON); returns the reply. */
#define ctl(s, ...) fp_fake_api_ctl((s)->api, __VA_ARGS__)
#define CTL(s, ...) json_decref(ctl((s), __VA_ARGS__))

static json_int_t server_counter(Server *s, const char *name)
{
    return fp_fake_api_counter(s->api, name);
}

/* ---- view probes ----------------------------------------------------------- */

static int64_t free_gpus(FpView *view, const char *node)
{
    int64_t result = NO_NODE;
    fp_view_read_lock(view);
    const FpNodeState *st = fp_view_node_locked(view, node);
    if (st && st->node) {
        result = fp_res_list_get(&st->node->allocatable, GPU) - fp_res_list_get(&st->used, GPU) -
                 fp_res_list_get(&st->assumed, GPU);
    }
    fp_view_read_unlock(view);
    return result;
}

static bool has_node(FpView *view, const char *node)
{
    return free_gpus(view, node) != NO_NODE;
}

static char *node_label(FpView *view, const char *node, const char *key)
{
    char *value = NULL;
    fp_view_read_lock(view);
    const FpNodeState *st = fp_view_node_locked(view, node);
    if (st && st->node) {
        value = g_strdup(fp_node_label(st->node, key));
    }
    fp_view_read_unlock(view);
    return value;
}

static bool label_is(FpView *view, const char *node, const char *key, const char *want)
{
    g_autofree char *v = node_label(view, node, key);
    return v && strcmp(v, want) == 0;
}

static int node_unschedulable(FpView *view, const char *node)
{
    int value = -1;
    fp_view_read_lock(view);
    const FpNodeState *st = fp_view_node_locked(view, node);
    if (st && st->node) {
        value = st->node->unschedulable;
    }
    fp_view_read_unlock(view);
    return value;
}

/* ---- fixture ---------------------------------------------------------------- */

/* A thread that reads the view while the informer writes it
 * (test_readers_while_streaming). */
typedef struct {
    FpView *view;
    volatile gint stop;
    guint64 rounds;
    guint64 violations;
    GThread *thread;
} Reader;

typedef struct {
    Server srv;
    FpView *view;
    FpKubeClient *client;
    FpInformer *inf;
    char *tmpdir;
    /* Readers live in the fixture, not on a test's stack: a test that fails
     * while they run leaves them to teardown, which stops and joins them
     * before the view goes. */
    Reader readers[2];
} Fixture;

static const FpInformerConfig test_config = {
    .page_size = 2,
    .watch_timeout_min_s = 20,
    .watch_timeout_max_s = 30,
    .backoff_initial_ms = 50,
    .backoff_max_ms = 1000,
    .max_line = 256 * 1024,
};

static FpKubeClient *plain_client(Server *s)
{
    FpKubeConfig cfg = {0};
    g_autofree char *server = g_strdup_printf("http://127.0.0.1:%u", s->port);
    cfg.server = server;
    g_autoptr(GError) error = NULL;
    FpKubeClient *client = fp_kube_client_new(&cfg, &error);
    assert_non_null(client);
    return client;
}

static guint64 stat_of(FpInformer *inf, FpKind kind, size_t offset)
{
    FpInformerStats st = {0};
    fp_informer_get_stats(inf, kind, &st);
    guint64 v = *(guint64 *)((char *)&st + offset);
    fp_informer_stats_clear(&st);
    return v;
}

#define STAT(inf, kind, field) stat_of((inf), (kind), offsetof(FpInformerStats, field))

/* Watches of @kind ("nodes", "pods") the fake server is serving now: a raw
 * line or an ERROR event injected before the watch reaches the server would
 * be missed (its history starts at the watch's resourceVersion). */
static json_int_t server_watches(Server *s, const char *kind)
{
    json_t *st = ctl(s, "{\"cmd\":\"stats\"}");
    json_int_t n = json_integer_value(json_object_get(json_object_get(st, "active"), kind));
    json_decref(st);
    return n;
}

static bool informer_rv_is(FpInformer *inf, FpKind kind, const char *rv)
{
    FpInformerStats st = {0};
    fp_informer_get_stats(inf, kind, &st);
    bool same = st.resource_version && strcmp(st.resource_version, rv) == 0;
    fp_informer_stats_clear(&st);
    return same;
}

static void start_informer(Fixture *f, const FpInformerConfig *cfg)
{
    g_autoptr(GError) error = NULL;
    f->inf = fp_informer_start(f->view, f->client, cfg ? cfg : &test_config, &error);
    assert_non_null(f->inf);
    FP_WAIT_FOR(fp_view_synced(f->view, FP_KIND_NODES) && fp_view_synced(f->view, FP_KIND_PODS),
                WAIT_MS, "initial sync");
}

/* Stop the informer.  That it interrupts what it waits for is
 * test_stop_during_slow_list's check (against a server far slower than any
 * bound here); this one only catches a hang. */
static void stop_informer(Fixture *f)
{
    if (!f->inf) {
        return;
    }
    gint64 t0 = g_get_monotonic_time();
    fp_informer_stop(f->inf);
    f->inf = NULL;
    gint64 took_ms = (g_get_monotonic_time() - t0) / 1000;
    if (took_ms > 30000) {
        fail_msg("fp_informer_stop took %" G_GINT64_FORMAT " ms", took_ms);
    }
}

/* Wait until the informer has caught up with everything sent so far. */
static void sync_rv(Fixture *f, FpKind kind)
{
    json_t *r = ctl(&f->srv, "{\"cmd\":\"bookmark\",\"kind\":\"%s\"}",
                    kind == FP_KIND_NODES ? "nodes" : "pods");
    g_autofree char *rv =
        g_strdup_printf("%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(r, "rv")));
    json_decref(r);
    FP_WAIT_FOR(informer_rv_is(f->inf, kind, rv), WAIT_MS, "informer at RV %s", rv);
}

static int setup_plain(void **state)
{
    Fixture *f = g_new0(Fixture, 1);
    server_start(&f->srv, NULL);
    f->view = fp_view_new();
    f->client = plain_client(&f->srv);
    *state = f;
    return 0;
}

static void stop_readers(Fixture *f)
{
    for (size_t i = 0; i < G_N_ELEMENTS(f->readers); i++) {
        Reader *r = &f->readers[i];
        if (r->thread) {
            g_atomic_int_set(&r->stop, 1);
            g_thread_join(r->thread);
            r->thread = NULL;
        }
    }
}

static int teardown(void **state)
{
    Fixture *f = *state;
    stop_readers(f);
    stop_informer(f);
    fp_clock_fake_remove(); /* a test that installed it and failed */
    fp_kube_client_free(f->client);
    fp_view_free(f->view);
    server_stop(&f->srv);
    if (f->tmpdir) {
        g_autofree char *cmd = NULL;
        GDir *d = g_dir_open(f->tmpdir, 0, NULL);
        const char *name;
        while (d && (name = g_dir_read_name(d))) {
            g_autofree char *p = g_build_filename(f->tmpdir, name, NULL);
            g_remove(p);
        }
        if (d) {
            g_dir_close(d);
        }
        g_rmdir(f->tmpdir);
        g_free(f->tmpdir);
    }
    g_free(f);
    return 0;
}

/* The seed state every default server starts with. */
static void assert_seed_view(FpView *view)
{
    assert_int_equal(fp_view_node_count(view), 3);
    assert_int_equal(free_gpus(view, "gpu-node-1"), 4 - 1);
    assert_int_equal(free_gpus(view, "gpu-node-2"), 2);
    assert_int_equal(free_gpus(view, "gpu-node-3"), 8 - 2);
    assert_int_equal(fp_view_pod_count(view), 3); /* two bound, one pending */
}

/* ---- scenarios ----------------------------------------------------------- */

static void test_initial_list_in_pages(void **state)
{
    Fixture *f = *state;
    json_t *st = ctl(&f->srv, "{\"cmd\":\"stats\"}");
    print_message("fake API server objects from: %s\n",
                  json_string_value(json_object_get(st, "source")));
    json_decref(st);
    start_informer(f, NULL);
    assert_seed_view(f->view);
    /* 3 nodes and 3 pods in pages of 2: two LIST requests each */
    assert_int_equal(server_counter(&f->srv, "list_nodes"), 2);
    assert_int_equal(server_counter(&f->srv, "list_pods"), 2);
    assert_int_equal(STAT(f->inf, FP_KIND_NODES, list_pages), 2);
    assert_int_equal(STAT(f->inf, FP_KIND_NODES, relists), 1);
    bool saw_continue = false;
    bool saw_selector = false;
    bool saw_watch = false;
    size_t i;
    json_t *p;
    FP_WAIT_FOR(STAT(f->inf, FP_KIND_PODS, watches) >= 1, WAIT_MS, "pod watch");
    st = ctl(&f->srv, "{\"cmd\":\"stats\"}");
    json_array_foreach(json_object_get(st, "last_paths"), i, p)
    {
        const char *path = json_string_value(p);
        saw_continue |= strstr(path, "limit=2&continue=") != NULL;
        saw_selector |= strstr(path, "/api/v1/pods?") &&
                        strstr(path, "fieldSelector=status.phase%21%3DSucceeded%2Cstatus.phase%"
                                     "21%3DFailed");
        saw_watch |= strstr(path, "watch=1&resourceVersion=") &&
                     strstr(path, "allowWatchBookmarks=true") && strstr(path, "timeoutSeconds=");
    }
    json_decref(st);
    assert_true(saw_continue);
    assert_true(saw_selector);
    assert_true(saw_watch);

    FpInformerStats stats = {0};
    fp_informer_get_stats(f->inf, FP_KIND_NODES, &stats);
    assert_true(stats.synced);
    assert_int_equal(stats.last_list_items, 3);
    assert_non_null(stats.resource_version);
    fp_informer_stats_clear(&stats);
}

static void test_node_lifecycle(void **state)
{
    Fixture *f = *state;
    start_informer(f, NULL);
    CTL(&f->srv, "{\"cmd\":\"add_node\",\"name\":\"gpu-node-4\",\"gpus\":8}");
    FP_WAIT_FOR(free_gpus(f->view, "gpu-node-4") == 8, WAIT_MS, "node added");
    CTL(&f->srv, "{\"cmd\":\"modify_node\",\"name\":\"gpu-node-4\",\"labels\":"
                 "{\"nvidia.com/gpu.product\":\"NVIDIA-L4\",\"flexplace.io/pool\":\"l4\"}}");
    FP_WAIT_FOR(label_is(f->view, "gpu-node-4", "flexplace.io/pool", "l4"), WAIT_MS, "relabelled");
    g_autofree char *product = node_label(f->view, "gpu-node-4", "nvidia.com/gpu.product");
    assert_string_equal(product, "NVIDIA-L4");
    CTL(&f->srv, "{\"cmd\":\"modify_node\",\"name\":\"gpu-node-4\",\"unschedulable\":true}");
    FP_WAIT_FOR(node_unschedulable(f->view, "gpu-node-4") == 1, WAIT_MS, "cordoned");
    CTL(&f->srv, "{\"cmd\":\"modify_node\",\"name\":\"gpu-node-4\",\"gpus\":4}");
    FP_WAIT_FOR(free_gpus(f->view, "gpu-node-4") == 4, WAIT_MS, "allocatable changed");
    CTL(&f->srv, "{\"cmd\":\"delete_node\",\"name\":\"gpu-node-4\"}");
    FP_WAIT_FOR(!has_node(f->view, "gpu-node-4"), WAIT_MS, "node removed");
    assert_seed_view(f->view);
    /* the informer counts an event just after applying it to the view */
    FP_WAIT_FOR(STAT(f->inf, FP_KIND_NODES, events) >= 5, WAIT_MS, "five events counted");
    assert_true(fp_view_last_event_age(f->view) >= 0);
}

static void test_pod_lifecycle(void **state)
{
    Fixture *f = *state;
    start_informer(f, NULL);
    /* bound and running: uses both GPUs of gpu-node-2 */
    json_t *r = ctl(&f->srv, "{\"cmd\":\"add_pod\",\"name\":\"p1\",\"node\":\"gpu-node-2\","
                             "\"gpus\":2,\"phase\":\"Running\"}");
    json_decref(r);
    FP_WAIT_FOR(free_gpus(f->view, "gpu-node-2") == 0, WAIT_MS, "pod bound");
    /* finished: the selector turns it into DELETED */
    CTL(&f->srv, "{\"cmd\":\"modify_pod\",\"name\":\"p1\",\"phase\":\"Succeeded\"}");
    FP_WAIT_FOR(free_gpus(f->view, "gpu-node-2") == 2, WAIT_MS, "pod finished");
    /* pending, then bound by the scheduler, then deleted */
    CTL(&f->srv, "{\"cmd\":\"add_pod\",\"name\":\"p2\",\"gpus\":3,\"phase\":\"Pending\"}");
    FP_WAIT_FOR(fp_view_pod_count(f->view) == 4, WAIT_MS, "pending pod listed");
    assert_int_equal(free_gpus(f->view, "gpu-node-3"), 6);
    CTL(&f->srv, "{\"cmd\":\"modify_pod\",\"name\":\"p2\",\"node\":\"gpu-node-3\"}");
    FP_WAIT_FOR(free_gpus(f->view, "gpu-node-3") == 3, WAIT_MS, "pending pod bound");
    CTL(&f->srv, "{\"cmd\":\"delete_pod\",\"name\":\"p2\"}");
    FP_WAIT_FOR(free_gpus(f->view, "gpu-node-3") == 6, WAIT_MS, "pod deleted");
    /* a MODIFIED to a terminal phase (no selector in play) removes it too */
    r = ctl(&f->srv, "{\"cmd\":\"add_pod\",\"name\":\"p3\",\"node\":\"gpu-node-1\","
                     "\"gpus\":1,\"phase\":\"Running\"}");
    g_autofree char *uid = g_strdup(json_string_value(json_object_get(r, "uid")));
    json_decref(r);
    FP_WAIT_FOR(free_gpus(f->view, "gpu-node-1") == 2, WAIT_MS, "p3 bound");
    CTL(&f->srv,
        "{\"cmd\":\"inject_raw\",\"kind\":\"pods\",\"line\":\"{\\\"type\\\":\\\"MODIFIED\\\","
        "\\\"object\\\":{\\\"metadata\\\":{\\\"name\\\":\\\"p3\\\",\\\"namespace\\\":"
        "\\\"default\\\",\\\"uid\\\":\\\"%s\\\",\\\"resourceVersion\\\":\\\"1\\\"},"
        "\\\"spec\\\":{\\\"nodeName\\\":\\\"gpu-node-1\\\",\\\"containers\\\":[]},"
        "\\\"status\\\":{\\\"phase\\\":\\\"Failed\\\"}}}\"}",
        uid);
    FP_WAIT_FOR(free_gpus(f->view, "gpu-node-1") == 3, WAIT_MS, "MODIFIED to Failed removes");
    fp_view_read_lock(f->view);
    assert_null(fp_view_pod_locked(f->view, uid));
    fp_view_read_unlock(f->view);
    assert_seed_view(f->view);
}

/* Expire the watch while the server holds changes the client missed; the
 * old view must be served until the slow relist completes. */
static void expire_and_relist(Fixture *f, const char *mode)
{
    start_informer(f, NULL);
    FP_WAIT_FOR(STAT(f->inf, FP_KIND_NODES, watches) >= 1, WAIT_MS, "watching");
    guint64 relists = STAT(f->inf, FP_KIND_NODES, relists);
    CTL(&f->srv, "{\"cmd\":\"delete_node\",\"name\":\"gpu-node-2\",\"silent\":true}");
    CTL(&f->srv, "{\"cmd\":\"add_node\",\"name\":\"gpu-node-9\",\"gpus\":2,\"silent\":true}");
    json_int_t lists = server_counter(&f->srv, "list_nodes");
    CTL(&f->srv, "{\"cmd\":\"set\",\"list_delay_ms\":3000}");
    CTL(&f->srv, "{\"cmd\":\"expire\",\"kind\":\"nodes\",\"mode\":\"%s\"}", mode);
    /* while the relist is in flight (the server holds its answer for 3 s),
     * readers still see the old view */
    FP_WAIT_FOR(server_counter(&f->srv, "list_nodes") > lists, WAIT_MS, "relist sent");
    assert_true(has_node(f->view, "gpu-node-2"));
    assert_false(has_node(f->view, "gpu-node-9"));
    assert_true(fp_view_synced(f->view, FP_KIND_NODES));
    FP_WAIT_FOR(has_node(f->view, "gpu-node-9") && !has_node(f->view, "gpu-node-2"), WAIT_MS,
                "relisted (%s)", mode);
    CTL(&f->srv, "{\"cmd\":\"set\",\"list_delay_ms\":0}");
    assert_true(STAT(f->inf, FP_KIND_NODES, restarts[FP_RESTART_EXPIRED]) >= 1);
    assert_true(STAT(f->inf, FP_KIND_NODES, relists) >= relists + 1);
    /* and the new watch works */
    CTL(&f->srv, "{\"cmd\":\"add_node\",\"name\":\"gpu-node-10\",\"gpus\":1}");
    FP_WAIT_FOR(free_gpus(f->view, "gpu-node-10") == 1, WAIT_MS, "watch after relist");
    assert_int_equal(free_gpus(f->view, "gpu-node-3"), 6);
}

static void test_expired_error_event(void **state)
{
    expire_and_relist(*state, "event");
}

static void test_expired_http_410(void **state)
{
    expire_and_relist(*state, "http");
}

static void test_continue_token_expired(void **state)
{
    Fixture *f = *state;
    start_informer(f, NULL);
    for (int i = 0; i < 5; i++) {
        CTL(&f->srv, "{\"cmd\":\"add_node\",\"name\":\"extra-%d\",\"gpus\":1,\"silent\":true}", i);
    }
    CTL(&f->srv, "{\"cmd\":\"set\",\"expire_continue\":1}");
    CTL(&f->srv, "{\"cmd\":\"expire\",\"kind\":\"nodes\"}");
    FP_WAIT_FOR(has_node(f->view, "extra-4") && fp_view_node_count(f->view) == 8, WAIT_MS,
                "relisted from page one");
    assert_int_equal(server_counter(&f->srv, "continue_expired"), 1);
    for (int i = 0; i < 5; i++) {
        g_autofree char *name = g_strdup_printf("extra-%d", i);
        assert_int_equal(free_gpus(f->view, name), 1);
    }
}

static void test_server_restart(void **state)
{
    Fixture *f = *state;
    start_informer(f, NULL);
    CTL(&f->srv, "{\"cmd\":\"add_node\",\"name\":\"before-restart\",\"gpus\":1}");
    FP_WAIT_FOR(has_node(f->view, "before-restart"), WAIT_MS, "pre-restart event");
    guint port = f->srv.port;
    server_stop(&f->srv);
    g_autofree char *port_s = g_strdup_printf("%u", port);
    const char *args[] = {"--port", port_s, "--rv-start", "500000", NULL};
    server_start(&f->srv, args);
    assert_int_equal(f->srv.port, port);
    CTL(&f->srv, "{\"cmd\":\"add_node\",\"name\":\"after-restart\",\"gpus\":2}");
    FP_WAIT_FOR(has_node(f->view, "after-restart") && !has_node(f->view, "before-restart"), WAIT_MS,
                "converged on the restarted server");
    assert_int_equal(free_gpus(f->view, "gpu-node-1"), 3);
    FP_WAIT_FOR(fp_view_pod_count(f->view) == 3 && free_gpus(f->view, "gpu-node-3") == 6, WAIT_MS,
                "pods relisted");
    assert_true(STAT(f->inf, FP_KIND_NODES, restarts[FP_RESTART_EXPIRED]) >= 1);
    assert_true(STAT(f->inf, FP_KIND_NODES, restarts[FP_RESTART_ERROR]) >= 1);
    FpInformerStats st = {0};
    fp_informer_get_stats(f->inf, FP_KIND_NODES, &st);
    guint64 rv = 0;
    assert_true(g_ascii_string_to_unsigned(st.resource_version, 10, 0, G_MAXUINT64, &rv, NULL));
    assert_true(rv >= 500000);
    fp_informer_stats_clear(&st);
}

static void test_split_one_byte_chunks(void **state)
{
    Fixture *f = *state;
    start_informer(f, NULL);
    FP_WAIT_FOR(STAT(f->inf, FP_KIND_NODES, watches) >= 1, WAIT_MS, "watching");
    CTL(&f->srv, "{\"cmd\":\"set\",\"chunk_size\":1,\"chunk_delay_ms\":0.2}");
    CTL(&f->srv, "{\"cmd\":\"add_node\",\"name\":\"bytewise\",\"gpus\":3}");
    FP_WAIT_FOR(free_gpus(f->view, "bytewise") == 3, 20000, "node sent byte by byte");
    CTL(&f->srv, "{\"cmd\":\"set\",\"chunk_size\":0,\"chunk_delay_ms\":0}");
    assert_int_equal(STAT(f->inf, FP_KIND_NODES, decode_errors), 0);
    assert_int_equal(STAT(f->inf, FP_KIND_NODES, restarts[FP_RESTART_ERROR]), 0);
}

static void test_disconnect_mid_line(void **state)
{
    Fixture *f = *state;
    start_informer(f, NULL);
    FP_WAIT_FOR(server_watches(&f->srv, "nodes") >= 1, WAIT_MS, "watching");
    CTL(&f->srv, "{\"cmd\":\"disconnect_midline\",\"kind\":\"nodes\"}");
    CTL(&f->srv, "{\"cmd\":\"add_node\",\"name\":\"half-sent\",\"gpus\":5}");
    FP_WAIT_FOR(free_gpus(f->view, "half-sent") == 5, WAIT_MS, "event re-sent after reconnect");
    assert_true(STAT(f->inf, FP_KIND_NODES, restarts[FP_RESTART_ERROR]) >= 1);
    /* the half line was dropped with the connection, never parsed */
    assert_int_equal(STAT(f->inf, FP_KIND_NODES, decode_errors), 0);
}

static void test_malformed_lines_skipped(void **state)
{
    Fixture *f = *state;
    start_informer(f, NULL);
    FP_WAIT_FOR(server_watches(&f->srv, "nodes") >= 1, WAIT_MS, "watching");
    static const char *const bad[] = {
        "{not json",
        "[1,2,3]",
        "{\\\"type\\\":\\\"ADDED\\\"}",
        "{\\\"type\\\":\\\"ADDED\\\",\\\"object\\\":{\\\"metadata\\\":{}}}",
        "{\\\"type\\\":\\\"ADDED\\\",\\\"object\\\":{\\\"metadata\\\":{\\\"name\\\":\\\"bad-"
        "gpu\\\"}"
        ",\\\"status\\\":{\\\"allocatable\\\":{\\\"nvidia.com/gpu\\\":\\\"lots\\\"}}}}",
        "{\\\"type\\\":\\\"DELETED\\\",\\\"object\\\":{\\\"metadata\\\":{}}}",
        "{\\\"type\\\":\\\"SURPRISE\\\",\\\"object\\\":{}}",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        CTL(&f->srv, "{\"cmd\":\"inject_raw\",\"kind\":\"nodes\",\"line\":\"%s\"}", bad[i]);
    }
    CTL(&f->srv, "{\"cmd\":\"add_node\",\"name\":\"after-garbage\",\"gpus\":1}");
    FP_WAIT_FOR(has_node(f->view, "after-garbage"), WAIT_MS, "watch survived garbage");
    assert_int_equal(STAT(f->inf, FP_KIND_NODES, decode_errors), G_N_ELEMENTS(bad));
    assert_int_equal(STAT(f->inf, FP_KIND_NODES, restarts[FP_RESTART_ERROR]), 0);
    assert_int_equal(STAT(f->inf, FP_KIND_NODES, restarts[FP_RESTART_DECODE]), 0);
    assert_false(has_node(f->view, "bad-gpu"));
    assert_int_equal(fp_view_node_count(f->view), 4);
    FpInformerStats st = {0};
    fp_informer_get_stats(f->inf, FP_KIND_NODES, &st);
    assert_non_null(st.last_error);
    fp_informer_stats_clear(&st);
}

static void test_overlong_line_resets_watch(void **state)
{
    Fixture *f = *state;
    start_informer(f, NULL);
    FP_WAIT_FOR(server_watches(&f->srv, "nodes") >= 1, WAIT_MS, "watching");
    guint64 watches = STAT(f->inf, FP_KIND_NODES, watches);
    CTL(&f->srv, "{\"cmd\":\"inject_long\",\"kind\":\"nodes\",\"bytes\":%u}", 600 * 1024);
    FP_WAIT_FOR(STAT(f->inf, FP_KIND_NODES, restarts[FP_RESTART_DECODE]) == 1, WAIT_MS, "reset");
    CTL(&f->srv, "{\"cmd\":\"add_node\",\"name\":\"after-long\",\"gpus\":1}");
    FP_WAIT_FOR(has_node(f->view, "after-long"), WAIT_MS, "watch resumed");
    assert_true(STAT(f->inf, FP_KIND_NODES, watches) > watches);
    assert_int_equal(free_gpus(f->view, "gpu-node-3"), 6);
}

static void test_error_event_rewatch(void **state)
{
    Fixture *f = *state;
    start_informer(f, NULL);
    FP_WAIT_FOR(server_watches(&f->srv, "pods") >= 1, WAIT_MS, "watching");
    CTL(&f->srv, "{\"cmd\":\"error_event\",\"kind\":\"pods\",\"code\":500,"
                 "\"reason\":\"InternalError\",\"message\":\"etcd hiccup\"}");
    FP_WAIT_FOR(STAT(f->inf, FP_KIND_PODS, restarts[FP_RESTART_ERROR]) == 1, WAIT_MS, "restart");
    CTL(&f->srv, "{\"cmd\":\"add_pod\",\"name\":\"after-error\",\"node\":\"gpu-node-2\","
                 "\"gpus\":1,\"phase\":\"Running\"}");
    FP_WAIT_FOR(free_gpus(f->view, "gpu-node-2") == 1, WAIT_MS, "re-watched");
    /* no relist for an ordinary error */
    assert_int_equal(STAT(f->inf, FP_KIND_PODS, relists), 1);
    FpInformerStats st = {0};
    fp_informer_get_stats(f->inf, FP_KIND_PODS, &st);
    assert_non_null(strstr(st.last_error, "etcd hiccup"));
    fp_informer_stats_clear(&st);
}

static void test_bookmark_and_eof(void **state)
{
    Fixture *f = *state;
    start_informer(f, NULL);
    FP_WAIT_FOR(server_watches(&f->srv, "nodes") >= 1, WAIT_MS, "watching");
    json_t *r = ctl(&f->srv, "{\"cmd\":\"bookmark\",\"kind\":\"nodes\"}");
    g_autofree char *rv =
        g_strdup_printf("%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(r, "rv")));
    json_decref(r);
    FP_WAIT_FOR(STAT(f->inf, FP_KIND_NODES, bookmarks) == 1, WAIT_MS, "bookmark");
    FpInformerStats st = {0};
    fp_informer_get_stats(f->inf, FP_KIND_NODES, &st);
    assert_string_equal(st.resource_version, rv);
    fp_informer_stats_clear(&st);
    guint64 events = STAT(f->inf, FP_KIND_NODES, events);
    /* the server ends the stream: re-watch from the bookmark's RV */
    CTL(&f->srv, "{\"cmd\":\"drop\",\"kind\":\"nodes\"}");
    FP_WAIT_FOR(STAT(f->inf, FP_KIND_NODES, restarts[FP_RESTART_EOF]) == 1, WAIT_MS, "eof");
    CTL(&f->srv, "{\"cmd\":\"add_node\",\"name\":\"after-eof\",\"gpus\":1}");
    FP_WAIT_FOR(has_node(f->view, "after-eof"), WAIT_MS, "re-watched");
    /* counted just after it reached the view */
    FP_WAIT_FOR(STAT(f->inf, FP_KIND_NODES, events) >= events + 1, WAIT_MS, "event counted");
    assert_int_equal(STAT(f->inf, FP_KIND_NODES, events), events + 1);
    assert_int_equal(STAT(f->inf, FP_KIND_NODES, relists), 1);
}

static void test_throttled_list_honours_retry_after(void **state)
{
    Fixture *f = *state;
    CTL(&f->srv, "{\"cmd\":\"set\",\"fail_lists\":1,\"fail_status\":429,\"retry_after\":1}");
    gint64 t0 = g_get_monotonic_time();
    start_informer(f, NULL);
    gint64 took_ms = (g_get_monotonic_time() - t0) / 1000;
    /* the backoff alone would retry after about 50 ms */
    assert_true(took_ms >= 900);
    assert_seed_view(f->view);
    assert_int_equal(
        STAT(f->inf, FP_KIND_NODES, list_failures) + STAT(f->inf, FP_KIND_PODS, list_failures), 1);
    CTL(&f->srv, "{\"cmd\":\"set\",\"fail_watches\":2,\"fail_status\":503,\"retry_after\":null}");
    CTL(&f->srv, "{\"cmd\":\"drop\",\"kind\":\"all\"}");
    CTL(&f->srv, "{\"cmd\":\"add_node\",\"name\":\"after-503\",\"gpus\":1}");
    FP_WAIT_FOR(has_node(f->view, "after-503"), WAIT_MS, "recovered from 503s");
    assert_true(STAT(f->inf, FP_KIND_NODES, restarts[FP_RESTART_ERROR]) +
                    STAT(f->inf, FP_KIND_PODS, restarts[FP_RESTART_ERROR]) >=
                2);
}

/* fp_informer_stop aborts a request the server is slow to answer. */
static void test_stop_during_slow_list(void **state)
{
    Fixture *f = *state;
    /* The server would answer after 60 s; a stop that waited for it would
     * take that long, one that aborts takes milliseconds.  The bound sits
     * far from both, so machine load cannot decide the test. */
    CTL(&f->srv, "{\"cmd\":\"set\",\"list_delay_ms\":60000}");
    g_autoptr(GError) error = NULL;
    f->inf = fp_informer_start(f->view, f->client, &test_config, &error);
    assert_non_null(f->inf);
    FP_WAIT_FOR(server_counter(&f->srv, "list_nodes") >= 1 &&
                    server_counter(&f->srv, "list_pods") >= 1,
                WAIT_MS, "lists in flight");
    gint64 t0 = g_get_monotonic_time();
    fp_informer_stop(f->inf);
    f->inf = NULL;
    gint64 took_ms = (g_get_monotonic_time() - t0) / 1000;
    print_message("stopped during a slow LIST in %" G_GINT64_FORMAT " ms\n", took_ms);
    assert_true(took_ms < 30000);
    CTL(&f->srv, "{\"cmd\":\"set\",\"list_delay_ms\":0}");
    assert_false(fp_view_synced(f->view, FP_KIND_NODES));
    assert_int_equal(fp_view_node_count(f->view), 0);
}

static void test_list_once(void **state)
{
    Fixture *f = *state;
    g_autoptr(GError) error = NULL;
    assert_true(fp_informer_list_once(f->view, f->client, &error));
    assert_true(fp_view_synced(f->view, FP_KIND_NODES));
    assert_true(fp_view_synced(f->view, FP_KIND_PODS));
    assert_seed_view(f->view);
    /* a failure leaves the view unchanged */
    CTL(&f->srv, "{\"cmd\":\"delete_node\",\"name\":\"gpu-node-1\",\"silent\":true}");
    CTL(&f->srv, "{\"cmd\":\"set\",\"fail_lists\":5,\"fail_status\":500}");
    assert_false(fp_informer_list_once(f->view, f->client, &error));
    assert_true(g_error_matches(error, FP_KUBE_ERROR, FP_KUBE_ERROR_HTTP));
    assert_non_null(strstr(error->message, "HTTP 500"));
    assert_seed_view(f->view);
}

/* The retry backoff runs on cache/clock.h: with a fake clock, a failed
 * LIST waits out a 10-minute backoff the moment the test moves the clock
 * past it, not in real time, and not before. */
static void test_backoff_runs_on_clock(void **state)
{
    Fixture *f = *state;
    fp_clock_fake_install();
    FpInformerConfig cfg = test_config;
    cfg.backoff_initial_ms = 10 * 60 * 1000;
    cfg.backoff_max_ms = 10 * 60 * 1000;
    CTL(&f->srv, "{\"cmd\":\"set\",\"fail_lists\":1,\"fail_status\":500}");
    g_autoptr(GError) error = NULL;
    f->inf = fp_informer_start(f->view, f->client, &cfg, &error);
    assert_non_null(f->inf);
    /* one kind's first LIST fails and backs off; the other syncs and
     * watches */
    FP_WAIT_FOR(
        STAT(f->inf, FP_KIND_NODES, list_failures) + STAT(f->inf, FP_KIND_PODS, list_failures) == 1,
        WAIT_MS, "one failed LIST");
    FpKind failed = STAT(f->inf, FP_KIND_NODES, list_failures) ? FP_KIND_NODES : FP_KIND_PODS;
    FpKind other = failed == FP_KIND_NODES ? FP_KIND_PODS : FP_KIND_NODES;
    FP_WAIT_FOR(STAT(f->inf, other, watches) >= 1, WAIT_MS, "the other kind watching");
    assert_false(fp_view_synced(f->view, failed));
    assert_int_equal(STAT(f->inf, failed, relists), 0);
    /* past the longest jittered wait (+20 %) */
    fp_clock_fake_advance((gint64)12 * 60 * G_USEC_PER_SEC);
    FP_WAIT_FOR(fp_view_synced(f->view, failed), WAIT_MS, "the LIST retried after the backoff");
    assert_int_equal(STAT(f->inf, failed, relists), 1);
    assert_seed_view(f->view);
    fp_clock_fake_remove();
}

/* ---- credentials ------------------------------------------------------------ */

static void test_token_rotation(void **state)
{
    Fixture *f = *state;
    /* this test needs its own server: replace the default one */
    fp_kube_client_free(f->client);
    server_stop(&f->srv);
    g_autoptr(GError) error = NULL;
    f->tmpdir = g_dir_make_tmp("fp-it-token-XXXXXX", &error);
    g_autofree char *server_tok = g_build_filename(f->tmpdir, "server-token", NULL);
    g_autofree char *client_tok = g_build_filename(f->tmpdir, "client-token", NULL);
    assert_true(g_file_set_contents(server_tok, "tok-1\n", -1, NULL));
    assert_true(g_file_set_contents(client_tok, "tok-1\n", -1, NULL));
    const char *args[] = {"--token-file", server_tok, NULL};
    server_start(&f->srv, args);
    FpKubeConfig cfg = {0};
    g_autofree char *url = g_strdup_printf("http://127.0.0.1:%u", f->srv.port);
    cfg.server = url;
    cfg.token_file = client_tok;
    f->client = fp_kube_client_new(&cfg, &error);
    assert_non_null(f->client);
    start_informer(f, NULL);
    assert_seed_view(f->view);
    assert_int_equal(fp_kube_client_unauthorized_count(f->client), 0);
    FP_WAIT_FOR(STAT(f->inf, FP_KIND_NODES, watches) >= 1 &&
                    STAT(f->inf, FP_KIND_PODS, watches) >= 1,
                WAIT_MS, "watching");

    /* rotate: the server wants tok-2 and the kubelet wrote it to our file,
     * but the client's cached copy is still tok-1 */
    assert_true(g_file_set_contents(server_tok, "tok-2\n", -1, NULL));
    assert_true(g_file_set_contents(client_tok, "tok-2\n", -1, NULL));
    CTL(&f->srv, "{\"cmd\":\"drop\",\"kind\":\"all\"}");
    CTL(&f->srv, "{\"cmd\":\"add_node\",\"name\":\"after-rotation\",\"gpus\":1}");
    FP_WAIT_FOR(has_node(f->view, "after-rotation"), WAIT_MS, "401 -> re-read -> ok");
    assert_true(fp_kube_client_unauthorized_count(f->client) >= 1);
    assert_true(server_counter(&f->srv, "unauthorized") >= 1);
    /* the 401 was absorbed by the retry, not a watch error */
    assert_int_equal(STAT(f->inf, FP_KIND_NODES, restarts[FP_RESTART_ERROR]), 0);
    g_autofree char *tok = fp_kube_client_token(f->client, false, &error);
    assert_string_equal(tok, "tok-2");
}

static bool run(const char *const *argv, const char *cwd)
{
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status = 0;
    g_autoptr(GError) error = NULL;
    if (!g_spawn_sync(cwd, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                      &status, &error)) {
        print_message("cannot run %s: %s\n", argv[0], error->message);
        return false;
    }
    if (!g_spawn_check_wait_status(status, NULL)) {
        print_message("%s failed: %s\n", argv[0], err);
        return false;
    }
    return true;
}

/* A throwaway CA, a server certificate for kubernetes.default.svc only, and
 * a client certificate, made with the openssl CLI in @dir. */
static bool make_pki(const char *dir)
{
    g_autofree char *srv_ext = g_build_filename(dir, "server.ext", NULL);
    g_autofree char *cli_ext = g_build_filename(dir, "client.ext", NULL);
    g_file_set_contents(srv_ext,
                        "subjectAltName=DNS:kubernetes.default.svc\n"
                        "extendedKeyUsage=serverAuth\n",
                        -1, NULL);
    g_file_set_contents(cli_ext, "extendedKeyUsage=clientAuth\n", -1, NULL);
    const char *ca[] = {"openssl",
                        "req",
                        "-x509",
                        "-newkey",
                        "ec",
                        "-pkeyopt",
                        "ec_paramgen_curve:prime256v1",
                        "-nodes",
                        "-keyout",
                        "ca.key",
                        "-out",
                        "ca.crt",
                        "-days",
                        "2",
                        "-subj",
                        "/CN=flexplace-test-ca",
                        NULL};
    const char *sreq[] = {"openssl",
                          "req",
                          "-newkey",
                          "ec",
                          "-pkeyopt",
                          "ec_paramgen_curve:prime256v1",
                          "-nodes",
                          "-keyout",
                          "server.key",
                          "-out",
                          "server.csr",
                          "-subj",
                          "/CN=kube-apiserver",
                          NULL};
    const char *ssign[] = {"openssl",    "x509",       "-req",   "-in",    "server.csr",
                           "-CA",        "ca.crt",     "-CAkey", "ca.key", "-CAcreateserial",
                           "-out",       "server.crt", "-days",  "2",      "-extfile",
                           "server.ext", NULL};
    const char *creq[] = {"openssl",
                          "req",
                          "-newkey",
                          "ec",
                          "-pkeyopt",
                          "ec_paramgen_curve:prime256v1",
                          "-nodes",
                          "-keyout",
                          "client.key",
                          "-out",
                          "client.csr",
                          "-subj",
                          "/CN=system:serviceaccount:flexplace:flexplace",
                          NULL};
    const char *csign[] = {"openssl",    "x509",       "-req",   "-in",    "client.csr",
                           "-CA",        "ca.crt",     "-CAkey", "ca.key", "-CAcreateserial",
                           "-out",       "client.crt", "-days",  "2",      "-extfile",
                           "client.ext", NULL};
    return run(ca, dir) && run(sreq, dir) && run(ssign, dir) && run(creq, dir) && run(csign, dir);
}

static char *b64_file(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    size_t len = 0;
    g_autofree char *data = fp_test_read_file(path, &len);
    return g_base64_encode((const guchar *)data, len);
}

static void test_tls_client_certificate(void **state)
{
    Fixture *f = *state;
    fp_kube_client_free(f->client);
    f->client = NULL;
    server_stop(&f->srv);
    g_autoptr(GError) error = NULL;
    f->tmpdir = g_dir_make_tmp("fp-it-tls-XXXXXX", &error);
    if (!make_pki(f->tmpdir)) {
        FP_SKIP("openssl", "openssl could not make the test certificates");
    }
    g_autofree char *crt = g_build_filename(f->tmpdir, "server.crt", NULL);
    g_autofree char *key = g_build_filename(f->tmpdir, "server.key", NULL);
    g_autofree char *ca = g_build_filename(f->tmpdir, "ca.crt", NULL);
    const char *args[] = {"--tls-cert", crt, "--tls-key", key, "--client-ca", ca, NULL};
    server_start(&f->srv, args);

    /* kubeconfig: inline CA, client certificate by relative path, inline
     * key, tls-server-name because the certificate does not name 127.0.0.1 */
    g_autofree char *ca_b64 = b64_file(f->tmpdir, "ca.crt");
    g_autofree char *key_b64 = b64_file(f->tmpdir, "client.key");
    g_autofree char *kubeconfig = g_strdup_printf(
        "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
        "clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:%u\n"
        "    certificate-authority-data: %s\n    tls-server-name: kubernetes.default.svc\n"
        "users:\n- name: u\n  user:\n    client-certificate: client.crt\n"
        "    client-key-data: %s\n"
        "contexts:\n- name: t\n  context: {cluster: c, user: u}\n",
        f->srv.port, ca_b64, key_b64);
    g_autofree char *kc_path = g_build_filename(f->tmpdir, "kubeconfig", NULL);
    assert_true(g_file_set_contents(kc_path, kubeconfig, -1, NULL));
    g_autoptr(FpKubeConfig) cfg = fp_kubeconfig_load(kc_path, NULL, &error);
    if (!cfg) {
        fail_msg("%s", error->message);
    }
    f->client = fp_kube_client_new(cfg, &error);
    assert_non_null(f->client);
    start_informer(f, NULL);
    assert_seed_view(f->view);
    CTL(&f->srv, "{\"cmd\":\"add_node\",\"name\":\"over-tls\",\"gpus\":2}");
    FP_WAIT_FOR(free_gpus(f->view, "over-tls") == 2, WAIT_MS, "watch over TLS");

    /* what must fail: no client certificate, no tls-server-name, no CA */
    FpKubeConfig *c1 = fp_kubeconfig_copy(cfg);
    g_clear_pointer(&c1->cert_file, g_free);
    g_clear_pointer(&c1->key_data, g_bytes_unref);
    FpKubeConfig *c2 = fp_kubeconfig_copy(cfg);
    g_clear_pointer(&c2->tls_server_name, g_free);
    FpKubeConfig *c3 = fp_kubeconfig_copy(cfg);
    g_clear_pointer(&c3->ca_data, g_bytes_unref);
    FpKubeConfig *bad[] = {c1, c2, c3};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(FpKubeClient) c = fp_kube_client_new(bad[i], &error);
        assert_non_null(c);
        json_t *out = NULL;
        long status = -1;
        assert_false(fp_kube_get_json(c, "/api/v1/nodes?limit=1", &out, &status, &error));
        assert_true(g_error_matches(error, FP_KUBE_ERROR, FP_KUBE_ERROR_TRANSPORT));
        assert_null(out);
        g_clear_error(&error);
        fp_kubeconfig_free(bad[i]);
    }
    /* and the good one answers a one-shot GET */
    json_t *out = NULL;
    long status = 0;
    assert_true(fp_kube_get_json(f->client, "/api/v1/nodes/over-tls", &out, &status, &error));
    assert_int_equal(status, 200);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(out, "metadata"), "name")), "over-tls");
    json_decref(out);
}

/* ---- bind endpoint (through fp_kube_post_json) --------------------------- */

static void test_post_binding(void **state)
{
    Fixture *f = *state;
    json_t *r = ctl(&f->srv, "{\"cmd\":\"add_pod\",\"name\":\"to-bind\",\"gpus\":1}");
    g_autofree char *uid = g_strdup(json_string_value(json_object_get(r, "uid")));
    json_decref(r);
    json_t *body = json_pack("{s:s,s:s,s:{s:s,s:s,s:s},s:{s:s,s:s}}", "apiVersion", "v1", "kind",
                             "Binding", "metadata", "name", "to-bind", "namespace", "default",
                             "uid", uid, "target", "kind", "Node", "name", "gpu-node-2");
    g_autoptr(GError) error = NULL;
    long status = 0;
    json_t *reply = NULL;
    assert_true(fp_kube_post_json(f->client, "/api/v1/namespaces/default/pods/to-bind/binding",
                                  body, 2000, &status, &reply, &error));
    assert_int_equal(status, 201);
    assert_string_equal(json_string_value(json_object_get(reply, "status")), "Success");
    json_decref(reply);
    /* again: 409 already assigned, with the API's message */
    assert_false(fp_kube_post_json(f->client, "/api/v1/namespaces/default/pods/to-bind/binding",
                                   body, 2000, &status, &reply, &error));
    assert_int_equal(status, 409);
    assert_true(g_error_matches(error, FP_KUBE_ERROR, FP_KUBE_ERROR_CONFLICT));
    assert_non_null(strstr(error->message, "already assigned to node \\\"gpu-node-2\\\"") ||
                    strstr(error->message, "already assigned to node \"gpu-node-2\""));
    assert_string_equal(json_string_value(json_object_get(reply, "reason")), "Conflict");
    json_decref(reply);
    g_clear_error(&error);
    /* a slow server: the per-call timeout holds */
    CTL(&f->srv, "{\"cmd\":\"set\",\"bind_mode\":\"timeout\",\"bind_delay_ms\":20000}");
    gint64 t0 = g_get_monotonic_time();
    assert_false(fp_kube_post_json(f->client, "/api/v1/namespaces/default/pods/to-bind/binding",
                                   body, 300, &status, NULL, &error));
    /* 300 ms asked, the server answers after 20 s: anything well below that
     * is the per-call timeout at work */
    assert_true((g_get_monotonic_time() - t0) / 1000 < 10000);
    assert_true(g_error_matches(error, FP_KUBE_ERROR, FP_KUBE_ERROR_TRANSPORT));
    g_clear_error(&error);
    json_decref(body);
    json_t *b = ctl(&f->srv, "{\"cmd\":\"bindings\"}");
    json_t *first = json_array_get(json_object_get(b, "bindings"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "uid")), uid);
    assert_string_equal(json_string_value(json_object_get(first, "node")), "gpu-node-2");
    json_decref(b);
}

/* ---- concurrency ---------------------------------------------------------- */

typedef struct {
    const char *node;
    int64_t sum;
} PodSum;

static void add_pod_gpus(const FpPod *pod, void *data)
{
    PodSum *s = data;
    if (fp_pod_is_active(pod)) {
        s->sum += fp_res_list_get(&pod->requests, GPU);
    }
}

static void check_node(const FpNodeState *st, void *data)
{
    Reader *r = data;
    PodSum s = {st->name, 0};
    fp_view_foreach_pod_on_node_locked(r->view, st->name, add_pod_gpus, &s);
    /* usage counters always equal the pods seen under the same lock */
    if (s.sum != fp_res_list_get(&st->used, GPU)) {
        r->violations++;
    }
}

static gpointer reader_thread(gpointer data)
{
    Reader *r = data;
    while (!g_atomic_int_get(&r->stop)) {
        fp_view_read_lock(r->view);
        fp_view_foreach_node_locked(r->view, check_node, r);
        fp_view_read_unlock(r->view);
        r->rounds++;
        /* Leave the cores to the informer now and then: two readers that
         * never pause can starve it of CPU on a loaded 2-core machine
         * (ASan makes each round slower still). */
        if (r->rounds % 16 == 0) {
            g_usleep(1000);
        }
    }
    return NULL;
}

static void test_readers_while_streaming(void **state)
{
    Fixture *f = *state;
    start_informer(f, NULL);
    Reader *readers = f->readers;
    for (int i = 0; i < 2; i++) {
        readers[i].view = f->view;
        readers[i].thread = g_thread_new("reader", reader_thread, &readers[i]);
    }
    const char *nodes[] = {"gpu-node-1", "gpu-node-2", "gpu-node-3"};
    for (int i = 0; i < 60; i++) {
        CTL(&f->srv,
            "{\"cmd\":\"add_pod\",\"name\":\"churn-%d\",\"node\":\"%s\",\"gpus\":%d,"
            "\"phase\":\"Running\"}",
            i, nodes[i % 3], i % 2);
        if (i % 3 == 2) {
            CTL(&f->srv, "{\"cmd\":\"delete_pod\",\"name\":\"churn-%d\"}", i - 2);
        }
        if (i % 10 == 0) {
            CTL(&f->srv, "{\"cmd\":\"bookmark\",\"kind\":\"pods\"}");
        }
    }
    for (int i = 0; i < 60; i++) {
        if (i % 3 != 0) {
            CTL(&f->srv, "{\"cmd\":\"delete_pod\",\"name\":\"churn-%d\"}", i);
        }
    }
    /* a bookmark after the last change: once the informer holds its RV,
     * every change before it has been applied */
    sync_rv(f, FP_KIND_PODS);
    assert_int_equal(fp_view_pod_count(f->view), 3);
    stop_readers(f);
    for (int i = 0; i < 2; i++) {
        print_message("reader %d: %" G_GUINT64_FORMAT " rounds\n", i, readers[i].rounds);
        assert_true(readers[i].rounds > 10);
        assert_int_equal(readers[i].violations, 0);
    }
    assert_seed_view(f->view);
}

/* ---- scale --------------------------------------------------------------------- */

static long rss_kib(const char *field)
{
    g_autofree char *status = NULL;
    if (!g_file_get_contents("/proc/self/status", &status, NULL, NULL)) {
        return -1;
    }
    const char *p = strstr(status, field);
    return p ? strtol(p + strlen(field) + 1, NULL, 10) : -1;
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void test_scale_5000_nodes_50000_pods(void **state)
{
    Fixture *f = *state;
    fp_kube_client_free(f->client);
    server_stop(&f->srv);
    const char *args[] = {"--empty", NULL};
    server_start(&f->srv, args);
    f->client = plain_client(&f->srv);
    FpInformerConfig cfg = test_config;
    cfg.page_size = 500;
    /* generous: sanitizer builds decode several times slower */
    const int wait_ms = 90000;

    /* phase 1: the nodes (main() put every thread on one malloc arena, so
     * mallinfo2 sees the informer threads' allocations) */
    CTL(&f->srv, "{\"cmd\":\"bulk\",\"nodes\":5000,\"pods\":0}");
    long rss0 = rss_kib("VmRSS:");
    size_t h0 = heap_in_use();
    gint64 t0 = g_get_monotonic_time();
    g_autoptr(GError) error = NULL;
    f->inf = fp_informer_start(f->view, f->client, &cfg, &error);
    assert_non_null(f->inf);
    FP_WAIT_FOR(fp_view_synced(f->view, FP_KIND_NODES) && fp_view_synced(f->view, FP_KIND_PODS),
                wait_ms, "nodes listed");
    double node_s = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
    size_t h1 = heap_in_use();
    assert_int_equal(fp_view_node_count(f->view), 5000);
    assert_int_equal(STAT(f->inf, FP_KIND_NODES, list_pages), 10);

    /* phase 2: the pods appear; a 410 makes the informer relist them */
    CTL(&f->srv, "{\"cmd\":\"bulk\",\"nodes\":5000,\"pods\":50000}");
    t0 = g_get_monotonic_time();
    CTL(&f->srv, "{\"cmd\":\"expire\",\"kind\":\"pods\"}");
    FP_WAIT_FOR(fp_view_pod_count(f->view) == 50000, wait_ms, "pods listed");
    double pod_s = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
    size_t h2 = heap_in_use();
    long rss1 = rss_kib("VmRSS:");
    print_message("listed 5,000 nodes in %.2f s and 50,000 pods in %.2f s (pages of 500); "
                  "RSS %ld -> %ld KiB, peak %ld KiB\n",
                  node_s, pod_s, rss0, rss1, rss_kib("VmHWM:"));
    if (h1 > h0 && h2 > h1) {
        print_message("view memory: %.0f bytes per node, %.0f bytes per pod\n",
                      (double)(h1 - h0) / 5000, (double)(h2 - h1) / 50000);
    }
    assert_int_equal(STAT(f->inf, FP_KIND_PODS, list_pages), 1 + 100);
    /* 10 pods a node, 6 of them with a GPU: 2 of 8 free everywhere */
    int64_t total_free = 0;
    for (int i = 0; i < 5000; i++) {
        char name[32];
        g_snprintf(name, sizeof(name), "bulk-node-%05d", i);
        total_free += free_gpus(f->view, name);
    }
    assert_int_equal(total_free, 5000 * 2);
    assert_int_equal(free_gpus(f->view, "bulk-node-04999"), 2);
}

int main(void)
{
    /* one malloc arena: heap_in_use() then covers the informer threads */
    mallopt(M_ARENA_MAX, 1);
    curl_global_init(CURL_GLOBAL_ALL);
    json_object_seed(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_initial_list_in_pages, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_node_lifecycle, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_pod_lifecycle, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_expired_error_event, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_expired_http_410, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_continue_token_expired, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_server_restart, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_split_one_byte_chunks, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_mid_line, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_lines_skipped, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_overlong_line_resets_watch, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_error_event_rewatch, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_bookmark_and_eof, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_throttled_list_honours_retry_after, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stop_during_slow_list, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_list_once, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_backoff_runs_on_clock, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_token_rotation, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_tls_client_certificate, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_post_binding, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_readers_while_streaming, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_scale_5000_nodes_50000_pods, setup_plain, teardown),
    };
    int rc = FP_RUN_TESTS(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
