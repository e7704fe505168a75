/*
 * test/test_it_bind.c - burst-safe binding end to end: the real app in live
 * mode (extender/server/app.h) watching test/fake_apiserver.py through a
 * kubeconfig, driven over loopback HTTP the way kube-scheduler drives it.
 *
 * test_burst_1000_pods: 200 nodes in three pools (100 x 8 NVIDIA-L4,
 * 60 x 8 NVIDIA-A10G, 40 x 8 NVIDIA-H100-80GB-HBM3 = 1,600 GPUs) and a policy
 * whose cheapest pool (L4) may only be filled to 50 %.  8 client threads
 * take 1,000 pending pods (1,100 GPUs: most want 1, some 2 or 4) through
 * filter -> prioritize -> top score (ties broken by node name) -> bind,
 * retrying when flexplace refuses a bind because another thread took the
 * GPUs first, as kube-scheduler retries a pod.  Demand (1,100) is below the
 * capacity under the ceiling (400 + 480 + 320 = 1,200), so every pod must be
 * placed and the L4 pool must never pass 400 GPUs.  Checked against the
 * fake server's record of bindings AND the view, and sampled while the
 * burst runs.  It prints pods/s, wall time and placements per pool.
 *
 * test_burst_1000_pods_api_restart: the same burst while the API server
 * restarts (test/fake_apiserver.py "restart": its port closes, every API
 * connection is cut, it comes back with far lower resourceVersions); pods
 * are deleted and bound by someone else during the outage.  No GPU
 * over-committed during or after, every pod bound once, none lost, and the
 * view converges to the server's objects.
 *
 * The other tests use 2 or 3 nodes and check each way a bind can end: API
 * errors (409, 500, timeout) roll the assumption back and put the cause in
 * Error; a retried bind of a bound pod succeeds, before and after the watch
 * shows the binding; a bind to a node without room is refused before any
 * API call; an assumption the watch never confirms (the fake server binds
 * the pod silently) expires after --assume-ttl (the test runs the expiry as
 * `flexplace serve`'s timer does); a bind that would take a pool past its
 * ceiling is refused while another pool has room, and allowed by the burst
 * overflow rule when none has.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <string.h>

#include "cache/clock.h"
#include "extender/server/app.h"
#include "support/fake_api.h"
#include "support/http_client.h"
#include "support/support.h"

#define GPU "nvidia.com/gpu"
#define WAIT_MS 20000

/* ---- fixture: fake API server + the real app ------------------------------ */

typedef struct {
    FpFakeApi *api;
    FpApp *app;
    guint16 port;
    char *tmpdir;
} Env;

static int setup(void **state)
{
    Env *env = g_new0(Env, 1);
    g_autoptr(GError) error = NULL;
    env->tmpdir = g_dir_make_tmp("fp-it-bind-XXXXXX", &error);
    assert_non_null(env->tmpdir);
    const char *args[] = {"--empty", NULL};
    env->api = fp_fake_api_start(args);
    *state = env;
    return 0;
}

static int teardown(void **state)
{
    Env *env = *state;
    fp_app_free(env->app);
    fp_fake_api_stop(env->api);
    GDir *d = g_dir_open(env->tmpdir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(env->tmpdir, name, NULL);
        g_remove(p);
    }
    if (d) {
        g_dir_close(d);
    }
    g_rmdir(env->tmpdir);
    g_free(env->tmpdir);
    g_free(env);
    return 0;
}

/* Start the app on 127.0.0.1:0 watching the fake server, with @policy_yaml,
 * and wait until its view is synced. */
static void app_start(Env *env, const char *policy_yaml, double assume_ttl_s, double bind_timeout_s)
{
    FpAppConfig cfg;
    fp_app_config_init(&cfg);
    g_free(cfg.listen);
    cfg.listen = g_strdup("127.0.0.1:0");
    cfg.threads = 8;
    cfg.kubeconfig = fp_fake_api_write_kubeconfig(env->api, env->tmpdir);
    cfg.policy_path = g_build_filename(env->tmpdir, "policy.yaml", NULL);
    assert_true(g_file_set_contents(cfg.policy_path, policy_yaml, -1, NULL));
    cfg.assume_ttl_s = assume_ttl_s;
    cfg.bind_timeout_s = bind_timeout_s;
    g_autoptr(GError) error = NULL;
    env->app = fp_app_new(&cfg, &error);
    fp_app_config_clear(&cfg);
    if (!env->app) {
        fail_msg("fp_app_new: %s", error->message);
    }
    if (!fp_app_serve(env->app, &error)) {
        fail_msg("fp_app_serve: %s", error->message);
    }
    env->port = fp_http_server_port(env->app->http);
    FP_WAIT_FOR(fp_app_ready(env->app, NULL), WAIT_MS, "app ready");
}

/* ---- view probes ------------------------------------------------------------ */

typedef struct {
    int64_t used;
    int64_t assumed;
    int64_t allocatable;
} NodeGpus;

static NodeGpus node_gpus(FpView *view, const char *node)
{
    NodeGpus g = {-1, -1, -1};
    fp_view_read_lock(view);
    const FpNodeState *st = fp_view_node_locked(view, node);
    if (st) {
        g.used = fp_res_list_get(&st->used, GPU);
        g.assumed = fp_res_list_get(&st->assumed, GPU);
        g.allocatable = st->node ? fp_res_list_get(&st->node->allocatable, GPU) : -1;
    }
    fp_view_read_unlock(view);
    return g;
}

static int64_t used_on(FpView *view, const char *node)
{
    return node_gpus(view, node).used;
}

static bool pod_bound_in_view(FpView *view, const char *uid, const char *node)
{
    fp_view_read_lock(view);
    const FpPod *pod = fp_view_pod_locked(view, uid);
    bool yes = pod && pod->node_name && strcmp(pod->node_name, node) == 0;
    fp_view_read_unlock(view);
    return yes;
}

/* Whether the view shows pod @uid bound; its node into @node (32 bytes). */
static bool bound_node_in_view(FpView *view, const char *uid, char *node)
{
    fp_view_read_lock(view);
    const FpPod *pod = fp_view_pod_locked(view, uid);
    bool yes = pod && pod->node_name && *pod->node_name;
    if (yes) {
        g_strlcpy(node, pod->node_name, 32);
    }
    fp_view_read_unlock(view);
    return yes;
}

/* ---- the extender protocol, as kube-scheduler speaks it ------------------------- */

static char *pod_json(const char *name, const char *uid, int gpus)
{
    return g_strdup_printf(
        "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\",\"uid\":\"%s\"},"
        "\"spec\":{\"containers\":[{\"name\":\"vllm\",\"resources\":{"
        "\"limits\":{\"" GPU "\":\"%d\"},\"requests\":{\"" GPU "\":\"%d\"}}}]}}",
        name, uid, gpus, gpus);
}

/* POST @body to @path; the reply must be 200 with a JSON body. */
static json_t *call(FpTestHttpClient *client, const char *path, const char *body, GString *err)
{
    FpTestHttpReply reply = {0};
    json_t *out = NULL;
    if (!fp_test_http_client_request(client, "POST", path, "application/json", body, strlen(body),
                                     FALSE, &reply)) {
        g_string_append_printf(err, "%s: transport error %s; ", path, reply.error);
    } else if (reply.status != 200) {
        g_string_append_printf(err, "%s: HTTP %ld %s; ", path, reply.status, reply.body);
    } else {
        out = json_loadb(reply.body, reply.body_len, 0, NULL);
        if (!out) {
            g_string_append_printf(err, "%s: reply is not JSON; ", path);
        }
    }
    fp_test_http_reply_clear(&reply);
    return out;
}

/* ExtenderBindingResult -> the Error text (NULL = success). */
static char *bind_error(json_t *result)
{
    const char *e = json_string_value(json_object_get(result, "Error"));
    return e && *e ? g_strdup(e) : NULL;
}

static char *bind_once(FpTestHttpClient *client, const char *name, const char *uid,
                       const char *node)
{
    g_autofree char *body = g_strdup_printf(
        "{\"PodName\":\"%s\",\"PodNamespace\":\"default\",\"PodUID\":\"%s\",\"Node\":\"%s\"}", name,
        uid, node);
    GString *err = g_string_new(NULL);
    json_t *r = call(client, "/bind", body, err);
    char *out = r ? bind_error(r) : g_strdup(err->str);
    json_decref(r);
    g_string_free(err, TRUE);
    return out;
}

/* One bind over a fresh connection, from the main thread (asserts allowed):
 * returns the Error text or NULL. */
static char *bind_http(Env *env, const char *name, const char *uid, const char *node)
{
    FpTestHttpClient *client = fp_test_http_client_new(env->port);
    char *e = bind_once(client, name, uid, node);
    fp_test_http_client_free(client);
    return e;
}

/* ---- the 1,000-pod burst ---------------------------------------------------- */

#define BURST_PODS 1000
#define BURST_THREADS 8
#define BURST_ATTEMPTS 50
#define L4_NODES 100
#define A10G_NODES 60
#define H100_NODES 40
#define GPUS_PER_NODE 8
#define L4_CEILING 0.5

static const char burst_policy[] = "apiVersion: flexplace.io/v1alpha1\n"
                                   "kind: PlacementPolicy\n"
                                   "pools:\n"
                                   "  - {name: l4, pricePerGPUHour: 0.8048, maxUtilization: 0.5}\n"
                                   "  - {name: a10g, pricePerGPUHour: 1.006}\n"
                                   "  - {name: h100, pricePerGPUHour: 6.88}\n"
                                   "profiles:\n"
                                   "  default: {weights: {cost: 3, headroom: 1, packing: 1}}\n";

typedef struct {
    char name[32];
    char uid[64];
    int gpus;
    char node[32]; /* where it was bound */
    int attempts;
    char *error; /* last error when never bound */
} BurstPod;

typedef struct {
    Env *env;
    BurstPod *pods;
    char *names_json; /* the NodeNames array every filter call sends */
    gint next;        /* next pod index to take */
    gint refused;     /* binds flexplace refused (node taken by another thread) */
    gint requests;
    bool faults;     /* the API server fails binds: retry as kube-scheduler does */
    gint failed;     /* binds answered with an API failure */
    gint unknown;    /* ... of them "outcome unknown" */
    gint not_sent;   /* ... of them never sent (connection refused) */
    gint not_ready;  /* filter answers with an Error (retried) */
    gint bound;      /* pods bound so far */
    gint *done;      /* per pod: its client thread is done with it (bound) */
    gint bound_late; /* pods found bound by the watch after an error */
    /* The short list's spread: how often each node was listed, and answers
     * that named more than the policy's shortList or carried reasons. */
    GMutex lock;
    GHashTable *listed; /* node name -> times listed */
    guint answers;
    guint oversized;
} Burst;

/* Count one filter answer's names (the short list under the default 20). */
static void note_listed(Burst *b, json_t *fr)
{
    json_t *names = json_object_get(fr, "NodeNames");
    bool bad = json_array_size(names) > 20 ||
               json_object_size(json_object_get(fr, "FailedNodes")) != 0 ||
               json_object_size(json_object_get(fr, "FailedAndUnresolvableNodes")) != 0;
    g_mutex_lock(&b->lock);
    b->answers++;
    b->oversized += bad;
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
    {
        const char *name = json_string_value(v);
        gpointer old = g_hash_table_lookup(b->listed, name);
        g_hash_table_replace(b->listed, g_strdup(name),
                             GUINT_TO_POINTER(GPOINTER_TO_UINT(old) + 1));
    }
    g_mutex_unlock(&b->lock);
}

static int pod_gpus(int i)
{
    return i % 50 == 0 ? 4 : i % 20 == 0 ? 2 : 1;
}

/* The burst's BURST_PODS pending pods (burst-NNNN, pod_gpus(i) GPUs each),
 * created silently on the fake API server; their GPUs summed into @demand. */
static BurstPod *add_burst_pods(Env *env, int64_t *demand)
{
    BurstPod *pods = g_new0(BurstPod, BURST_PODS);
    for (int i = 0; i < BURST_PODS; i++) {
        BurstPod *p = &pods[i];
        g_snprintf(p->name, sizeof p->name, "burst-%04d", i);
        p->gpus = pod_gpus(i);
        *demand += p->gpus;
        json_t *r = fp_fake_api_ctl(
            env->api, "{\"cmd\":\"add_pod\",\"name\":\"%s\",\"gpus\":%d,\"silent\":true}", p->name,
            p->gpus);
        g_strlcpy(p->uid, json_string_value(json_object_get(r, "uid")), sizeof p->uid);
        json_decref(r);
    }
    return pods;
}

static const char *pool_of(const char *node)
{
    return g_str_has_prefix(node, "l4-")     ? "l4"
           : g_str_has_prefix(node, "a10g-") ? "a10g"
           : g_str_has_prefix(node, "h100-") ? "h100"
                                             : "?";
}

/* kube-scheduler's choice among the prioritized nodes: the highest score;
 * equal scores are broken here by name so that threads collide on purpose. */
static const char *top_node(json_t *priorities)
{
    const char *best = NULL;
    json_int_t best_score = -1;
    size_t i;
    json_t *hp;
    json_array_foreach(priorities, i, hp)
    {
        const char *host = json_string_value(json_object_get(hp, "Host"));
        json_int_t score = json_integer_value(json_object_get(hp, "Score"));
        if (host && (score > best_score || (score == best_score && strcmp(host, best) < 0))) {
            best = host;
            best_score = score;
        }
    }
    return best;
}

/* Schedule one pod; returns TRUE when bound.  Runs on a client thread: no
 * cmocka asserts here, failures are recorded in the pod. */
static gboolean schedule_pod(Burst *b, FpTestHttpClient *client, BurstPod *pod)
{
    g_autofree char *pj = pod_json(pod->name, pod->uid, pod->gpus);
    g_autofree char *filter_body =
        g_strdup_printf("{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":%s}", pj, b->names_json);
    for (pod->attempts = 1; pod->attempts <= BURST_ATTEMPTS; pod->attempts++) {
        GString *err = g_string_new(NULL);
        json_t *fr = call(client, "/filter", filter_body, err);
        g_atomic_int_inc(&b->requests);
        json_t *names = json_object_get(fr, "NodeNames");
        const char *fe = json_string_value(json_object_get(fr, "Error"));
        if (b->faults && (!fr || (fe && *fe))) {
            /* kube-scheduler requeues a pod whose extender answered an
             * error, with its backoff */
            g_atomic_int_inc(&b->not_ready);
            g_free(pod->error);
            pod->error = fr ? g_strdup(fe) : g_strdup(err->str);
            json_decref(fr);
            g_string_free(err, TRUE);
            g_usleep(G_USEC_PER_SEC);
            continue;
        }
        if (!fr || json_array_size(names) == 0) {
            g_free(pod->error);
            pod->error = fr ? json_dumps(fr, JSON_COMPACT) : g_strdup(err->str);
            json_decref(fr);
            g_string_free(err, TRUE);
            return FALSE;
        }
        note_listed(b, fr);
        char *names_text = json_dumps(names, JSON_COMPACT);
        g_autofree char *prio_body =
            g_strdup_printf("{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":%s}", pj, names_text);
        free(names_text);
        json_decref(fr);
        json_t *pr = call(client, "/prioritize", prio_body, err);
        g_atomic_int_inc(&b->requests);
        const char *node = pr ? top_node(pr) : NULL;
        if (!node) {
            g_free(pod->error);
            pod->error = g_strdup_printf("prioritize: %s", err->str);
            json_decref(pr);
            g_string_free(err, TRUE);
            return FALSE;
        }
        g_strlcpy(pod->node, node, sizeof pod->node);
        json_decref(pr);
        g_string_free(err, TRUE);
        char *e = bind_once(client, pod->name, pod->uid, pod->node);
        g_atomic_int_inc(&b->requests);
        if (!e) {
            return TRUE;
        }
        g_free(pod->error);
        pod->error = e;
        pod->node[0] = '\0';
        if (g_str_has_prefix(e, "flexplace refused")) {
            g_atomic_int_inc(&b->refused);
        } else if (!b->faults) {
            return FALSE; /* an API failure: not expected in this scenario */
        } else {
            g_atomic_int_inc(&b->failed);
            if (strstr(e, "outcome unknown")) {
                g_atomic_int_inc(&b->unknown);
            }
            if (strstr(e, "(not sent)")) {
                g_atomic_int_inc(&b->not_sent);
            }
        }
        /* kube-scheduler requeues the pod, and drops it from its queue once
         * its informer shows the pod bound */
        if (b->faults && bound_node_in_view(b->env->app->view, pod->uid, pod->node)) {
            g_atomic_int_inc(&b->bound_late);
            return TRUE;
        }
        if (b->faults) {
            /* kube-scheduler's first backoff is 1 s (podInitialBackoffSeconds);
             * a refusal here (another thread took the GPUs) is retried sooner
             * to keep the burst short */
            g_usleep(g_str_has_prefix(e, "flexplace refused") ? 20 * 1000 : G_USEC_PER_SEC);
        }
    }
    return FALSE;
}

static gpointer burst_worker(gpointer data)
{
    Burst *b = data;
    FpTestHttpClient *client = fp_test_http_client_new(b->env->port);
    for (;;) {
        int i = g_atomic_int_add(&b->next, 1);
        if (i >= BURST_PODS) {
            break;
        }
        if (schedule_pod(b, client, &b->pods[i])) {
            g_atomic_int_inc(&b->bound);
            if (b->done) {
                g_atomic_int_set(&b->done[i], 1);
            }
        }
    }
    fp_test_http_client_free(client);
    return NULL;
}

/* Samples the view while the burst runs: no node over its allocatable, the
 * L4 pool never over its ceiling. */
typedef struct {
    FpView *view;
    gint stop;
    guint rounds;
    guint node_overcommit;
    int64_t l4_max;
} Sampler;

static void sample_node(const FpNodeState *st, void *data)
{
    Sampler *s = data;
    int64_t alloc = fp_res_list_get(&st->node->allocatable, GPU);
    int64_t taken = fp_res_list_get(&st->used, GPU) + fp_res_list_get(&st->assumed, GPU);
    if (taken > alloc) {
        s->node_overcommit++;
    }
}

typedef struct {
    int64_t l4;
} PoolSum;

static void sum_l4(const FpNodeState *st, void *data)
{
    PoolSum *p = data;
    if (g_str_has_prefix(st->name, "l4-")) {
        p->l4 += fp_res_list_get(&st->used, GPU) + fp_res_list_get(&st->assumed, GPU);
    }
}

static gpointer sampler_thread(gpointer data)
{
    Sampler *s = data;
    while (!g_atomic_int_get(&s->stop)) {
        PoolSum p = {0};
        fp_view_read_lock(s->view);
        fp_view_foreach_node_locked(s->view, sample_node, s);
        fp_view_foreach_node_locked(s->view, sum_l4, &p);
        fp_view_read_unlock(s->view);
        s->l4_max = MAX(s->l4_max, p.l4);
        s->rounds++;
        g_usleep(2000);
    }
    return NULL;
}

static void add_pool_nodes(Env *env, const char *prefix, int n, const char *product,
                           const char *memory, const char *region)
{
    for (int i = 0; i < n; i++) {
        FP_FAKE_API_CTL(env->api,
                        "{\"cmd\":\"add_node\",\"name\":\"%s-%03d\",\"gpus\":%d,\"silent\":true,"
                        "\"labels\":{\"flexplace.io/pool\":\"%s\","
                        "\"topology.kubernetes.io/region\":\"%s\","
                        "\"nvidia.com/gpu.product\":\"%s\",\"nvidia.com/gpu.memory\":\"%s\"}}",
                        prefix, i, GPUS_PER_NODE, prefix, region, product, memory);
    }
}

static void sum_used(const FpNodeState *st, void *data)
{
    *(int64_t *)data += fp_res_list_get(&st->used, GPU);
}

static int64_t view_used_total(FpView *view)
{
    int64_t total = 0;
    fp_view_read_lock(view);
    fp_view_foreach_node_locked(view, sum_used, &total);
    fp_view_read_unlock(view);
    return total;
}

/* What a scenario does while the burst runs (on the test's thread); returns
 * how many GPUs of demand it added (negative: removed). */
typedef gint64 (*BurstDuring)(Env *env, Burst *b, void *data);

/* Runs @b's clients (BURST_THREADS threads) while @sampler watches the view
 * and @during (may be NULL) does its part, then waits until the view shows
 * all @demand GPUs (and what @during added) used and none assumed, and
 * stops the sampler.  Returns the clients' wall time in seconds. */
static double run_burst(Env *env, Burst *b, Sampler *sampler, gint64 demand, BurstDuring during,
                        void *data)
{
    GThread *sampler_t = g_thread_new("sampler", sampler_thread, sampler);
    gint64 t1 = g_get_monotonic_time();
    GThread *threads[BURST_THREADS];
    for (int i = 0; i < BURST_THREADS; i++) {
        threads[i] = g_thread_new("client", burst_worker, b);
    }
    if (during) {
        demand += during(env, b, data);
    }
    for (int i = 0; i < BURST_THREADS; i++) {
        g_thread_join(threads[i]);
    }
    if (b->done) {
        for (int i = 0; i < BURST_PODS; i++) {
            if (!b->done[i]) {
                print_message("not bound by its client: %s: %s\n", b->pods[i].name,
                              b->pods[i].error);
            }
        }
    }
    double wall_s = (double)(g_get_monotonic_time() - t1) / G_USEC_PER_SEC;
    FP_WAIT_FOR(fp_view_assumed_total(env->app->view) == 0 &&
                    view_used_total(env->app->view) == demand,
                WAIT_MS,
                "view shows all %" G_GINT64_FORMAT " GPUs bound (it shows %" G_GINT64_FORMAT
                " used, %" G_GINT64_FORMAT " assumed, %u held)",
                demand, view_used_total(env->app->view), fp_view_assumed_total(env->app->view),
                fp_view_held_count(env->app->view));
    g_atomic_int_set(&sampler->stop, 1);
    g_thread_join(sampler_t);
    return wall_s;
}

static void test_burst_1000_pods(void **state)
{
    Env *env = *state;
    gint64 t0 = g_get_monotonic_time();
    add_pool_nodes(env, "l4", L4_NODES, "NVIDIA-L4", "23034", "us-east-1");
    add_pool_nodes(env, "a10g", A10G_NODES, "NVIDIA-A10G", "23028", "us-west-2");
    add_pool_nodes(env, "h100", H100_NODES, "NVIDIA-H100-80GB-HBM3", "81559", "us-east-1");
    int64_t demand = 0;
    BurstPod *pods = add_burst_pods(env, &demand);
    const int64_t capacity = (L4_NODES + A10G_NODES + H100_NODES) * GPUS_PER_NODE;
    const int64_t l4_cap = (int64_t)(L4_CEILING * L4_NODES * GPUS_PER_NODE);
    const int64_t under_ceiling = capacity - L4_NODES * GPUS_PER_NODE + l4_cap;
    assert_true(demand < under_ceiling); /* the scenario's premise */
    double setup_s = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;

    app_start(env, burst_policy, 120, 5);
    assert_int_equal(fp_view_node_count(env->app->view), L4_NODES + A10G_NODES + H100_NODES);
    assert_int_equal(fp_view_pod_count(env->app->view), BURST_PODS);

    Burst b = {.env = env, .pods = pods};
    g_mutex_init(&b.lock);
    b.listed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GString *names = g_string_new("[");
    const char *prefixes[] = {"l4", "a10g", "h100"};
    const int counts[] = {L4_NODES, A10G_NODES, H100_NODES};
    for (int p = 0; p < 3; p++) {
        for (int i = 0; i < counts[p]; i++) {
            g_string_append_printf(names, "%s\"%s-%03d\"", names->len > 1 ? "," : "", prefixes[p],
                                   i);
        }
    }
    g_string_append(names, "]");
    b.names_json = g_string_free(names, FALSE);

    /* the watch catches up: every binding shows as used, nothing assumed */
    Sampler sampler = {.view = env->app->view};
    double wall_s = run_burst(env, &b, &sampler, demand, NULL, NULL);

    /* every pod bound, where the client thinks it is */
    guint unplaced = 0;
    int max_attempts = 0;
    for (int i = 0; i < BURST_PODS; i++) {
        if (!pods[i].node[0]) {
            if (unplaced++ < 5) {
                print_message("unplaced %s (%d GPUs): %s\n", pods[i].name, pods[i].gpus,
                              pods[i].error);
            }
        }
        max_attempts = MAX(max_attempts, pods[i].attempts);
    }

    /* the fake server's record: one successful binding per pod, no node
     * holding more GPUs than it has */
    json_t *bindings = fp_fake_api_bindings(env->api);
    GHashTable *by_node = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTable *bound_pods = g_hash_table_new(g_str_hash, g_str_equal);
    int64_t pool_gpus[3] = {0};
    guint pool_pods[3] = {0};
    guint duplicate = 0;
    guint wrong_node = 0;
    guint bad_annotation = 0;
    size_t k;
    json_t *rec;
    json_array_foreach(bindings, k, rec)
    {
        if (json_integer_value(json_object_get(rec, "status")) != 201) {
            continue;
        }
        const char *name = json_string_value(json_object_get(rec, "name"));
        const char *node = json_string_value(json_object_get(rec, "node"));
        int idx = (int)g_ascii_strtoll(name + strlen("burst-"), NULL, 10);
        assert_true(idx >= 0 && idx < BURST_PODS);
        if (g_hash_table_contains(bound_pods, name)) {
            duplicate++;
        }
        g_hash_table_add(bound_pods, (gpointer)name);
        wrong_node += strcmp(pods[idx].node, node) != 0;
        /* the Binding carries the placement summary for kubectl users */
        json_t *summary =
            json_loads(json_string_value(json_object_get(json_object_get(rec, "annotations"),
                                                         "flexplace.io/placement")),
                       0, NULL);
        bad_annotation +=
            !summary || g_strcmp0(json_string_value(json_object_get(summary, "node")), node) != 0 ||
            g_strcmp0(json_string_value(json_object_get(summary, "pool")), pool_of(node)) != 0;
        json_decref(summary);
        int64_t n = GPOINTER_TO_SIZE(g_hash_table_lookup(by_node, node)) + pods[idx].gpus;
        g_hash_table_insert(by_node, (gpointer)node, GSIZE_TO_POINTER((gsize)n));
        for (int p = 0; p < 3; p++) {
            if (strcmp(pool_of(node), prefixes[p]) == 0) {
                pool_gpus[p] += pods[idx].gpus;
                pool_pods[p]++;
            }
        }
    }
    guint overcommitted = 0;
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, by_node);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        int64_t n = (int64_t)GPOINTER_TO_SIZE(value);
        if (n > GPUS_PER_NODE) {
            print_message("OVER-COMMIT: %s holds %" G_GINT64_FORMAT " GPUs\n", (char *)key, n);
            overcommitted++;
        }
        /* the view agrees with the API server */
        assert_int_equal(used_on(env->app->view, key), n);
    }

    print_message("burst: %d pods (%" G_GINT64_FORMAT " GPUs) on 200 nodes / %" G_GINT64_FORMAT
                  " GPUs, %d client threads: %.2f s wall, %.0f pods/s, %d HTTP requests "
                  "(%.0f/s), %d binds refused and retried (max %d attempts for one pod); "
                  "setup %.2f s\n",
                  BURST_PODS, demand, capacity, BURST_THREADS, wall_s, BURST_PODS / wall_s,
                  g_atomic_int_get(&b.requests), g_atomic_int_get(&b.requests) / wall_s,
                  g_atomic_int_get(&b.refused), max_attempts, setup_s);
    for (int p = 0; p < 3; p++) {
        int64_t alloc = (int64_t)counts[p] * GPUS_PER_NODE;
        print_message("  pool %-5s %4u pods %5" G_GINT64_FORMAT " GPUs of %5" G_GINT64_FORMAT
                      " (%.1f %%)\n",
                      prefixes[p], pool_pods[p], pool_gpus[p], alloc,
                      100.0 * (double)pool_gpus[p] / (double)alloc);
    }
    print_message("  over-committed nodes: %u; view sampled %u times, L4 peak %" G_GINT64_FORMAT
                  " GPUs (ceiling %" G_GINT64_FORMAT ")\n",
                  overcommitted, sampler.rounds, sampler.l4_max, l4_cap);
    /* The short list's spread over the burst: nodes ever listed, and how
     * many of the answers listed the most-listed node. */
    guint most = 0;
    GHashTableIter li;
    gpointer lv;
    g_hash_table_iter_init(&li, b.listed);
    while (g_hash_table_iter_next(&li, NULL, &lv)) {
        most = MAX(most, GPOINTER_TO_UINT(lv));
    }
    print_message("  short list: %u filter answers of at most 20 names; %u of 200 nodes listed "
                  "at least once; the most-listed node in %u answers; %u pods placed on %u "
                  "distinct nodes\n",
                  b.answers, g_hash_table_size(b.listed), most, BURST_PODS,
                  g_hash_table_size(by_node));
    assert_int_equal(b.oversized, 0);

    assert_int_equal(unplaced, 0);
    assert_int_equal(g_hash_table_size(bound_pods), BURST_PODS);
    assert_int_equal(duplicate, 0);
    assert_int_equal(wrong_node, 0);
    assert_int_equal(bad_annotation, 0);
    assert_int_equal(overcommitted, 0);
    assert_int_equal(sampler.node_overcommit, 0);
    assert_true(sampler.rounds > 0);
    /* spill-over follows the policy: L4 (cheapest) filled up to its ceiling
     * and never past it, the rest spilled to the other pools */
    assert_true(pool_gpus[0] <= l4_cap);
    assert_true(sampler.l4_max <= l4_cap);
    assert_true(pool_gpus[0] >= l4_cap - 4); /* filled, up to one 4-GPU pod short */
    assert_true(pool_gpus[1] > 0);
    assert_true(pool_gpus[2] > 0);
    /* A10G (cheaper than H100) is used before H100 */
    assert_true(pool_gpus[1] > pool_gpus[2]);

    g_hash_table_unref(by_node);
    g_hash_table_unref(bound_pods);
    g_hash_table_unref(b.listed);
    g_mutex_clear(&b.lock);
    json_decref(bindings);
    for (int i = 0; i < BURST_PODS; i++) {
        g_free(pods[i].error);
    }
    g_free(pods);
    g_free(b.names_json);
}

/* ---- the burst under faults -------------------------------------------------- */

#define FAULT_NODES 160
#define FAULT_EVERY 4          /* every 4th Binding the API server gets goes wrong */
#define FAULT_BIND_TIMEOUT 0.6 /* --bind-timeout of the app, seconds */
#define FAULT_DELAY_MS 1500    /* the late commit / late answer, after the deadline */

static const char fault_policy[] = "apiVersion: flexplace.io/v1alpha1\n"
                                   "kind: PlacementPolicy\n"
                                   "profiles:\n"
                                   "  default: {weights: {cost: 1, packing: 1}}\n";

/* A fault-injected 1,000-pod burst.  The fake API server takes every 4th
 * Binding in turn (a) late: it commits 1.5 s after the POST, long after the
 * bind's 0.6 s deadline, when flexplace has already answered "outcome
 * unknown"; (b) commit_slow: it commits at once and answers after 1.5 s;
 * (c) commit_drop: it commits and closes the connection without answering.
 * The API server, like a real one, commits a Binding only to a pod without
 * a node; it does not check capacity, so GPUs freed too early would show as
 * an over-committed node.  8 client threads schedule the pods as
 * kube-scheduler does: filter -> prioritize -> top node -> bind, and on an
 * error retry the pod unless the watch shows it bound.  1,100 GPUs of
 * demand on 1,280: every pod must be bound exactly once, no node
 * over-committed (in the API server's record, and in the view at every
 * sample), no pod lost. */
static void test_burst_1000_pods_with_faults(void **state)
{
    Env *env = *state;
    add_pool_nodes(env, "l4", FAULT_NODES, "NVIDIA-L4", "23034", "us-east-1");
    int64_t demand = 0;
    BurstPod *pods = add_burst_pods(env, &demand);
    const int64_t capacity = (int64_t)FAULT_NODES * GPUS_PER_NODE;
    assert_true(demand < capacity);
    app_start(env, fault_policy, 120, FAULT_BIND_TIMEOUT);
    FP_FAKE_API_CTL(env->api,
                    "{\"cmd\":\"set\",\"bind_mode\":[\"timeout\",\"commit_slow\",\"commit_drop\"],"
                    "\"bind_fault_every\":%d,\"bind_delay_ms\":%d}",
                    FAULT_EVERY, FAULT_DELAY_MS);

    Burst b = {.env = env, .pods = pods, .faults = true};
    g_mutex_init(&b.lock);
    b.listed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GString *names = g_string_new("[");
    for (int i = 0; i < FAULT_NODES; i++) {
        g_string_append_printf(names, "%s\"l4-%03d\"", i ? "," : "", i);
    }
    g_string_append(names, "]");
    b.names_json = g_string_free(names, FALSE);
    /* the late commits land (or are refused), the watch catches up, and
     * nothing stays assumed or held */
    Sampler sampler = {.view = env->app->view};
    double wall_s = run_burst(env, &b, &sampler, demand, NULL, NULL);
    FP_FAKE_API_CTL(env->api, "{\"cmd\":\"set\",\"bind_mode\":\"auto\",\"bind_fault_every\":0}");

    /* the API server's record */
    json_t *bindings = fp_fake_api_bindings(env->api);
    GHashTable *by_node = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTable *bound_pods = g_hash_table_new(g_str_hash, g_str_equal);
    guint duplicate = 0, faults[3] = {0}, late_refused = 0;
    const char *fault_modes[] = {"timeout", "commit_slow", "commit_drop"};
    size_t k;
    json_t *rec;
    json_array_foreach(bindings, k, rec)
    {
        const char *mode = json_string_value(json_object_get(rec, "mode"));
        json_int_t status = json_integer_value(json_object_get(rec, "status"));
        for (int m = 0; m < 3; m++) {
            faults[m] += g_strcmp0(mode, fault_modes[m]) == 0;
        }
        late_refused += g_strcmp0(mode, "timeout") == 0 && status == 409;
        if (status != 201) {
            continue;
        }
        const char *name = json_string_value(json_object_get(rec, "name"));
        const char *node = json_string_value(json_object_get(rec, "node"));
        int idx = (int)g_ascii_strtoll(name + strlen("burst-"), NULL, 10);
        assert_true(idx >= 0 && idx < BURST_PODS);
        duplicate += g_hash_table_contains(bound_pods, name);
        g_hash_table_add(bound_pods, (gpointer)name);
        int64_t n = GPOINTER_TO_SIZE(g_hash_table_lookup(by_node, node)) + pods[idx].gpus;
        g_hash_table_insert(by_node, (gpointer)node, GSIZE_TO_POINTER((gsize)n));
    }
    int64_t overcommitted_gpus = 0;
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, by_node);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        int64_t n = (int64_t)GPOINTER_TO_SIZE(value);
        if (n > GPUS_PER_NODE) {
            print_message("OVER-COMMIT: %s holds %" G_GINT64_FORMAT " GPUs\n", (char *)key, n);
            overcommitted_gpus += n - GPUS_PER_NODE;
        }
        assert_int_equal(used_on(env->app->view, key), n); /* the view agrees */
    }
    guint lost = 0;
    for (int i = 0; i < BURST_PODS; i++) {
        if (!g_hash_table_contains(bound_pods, pods[i].name)) {
            if (lost++ < 5) {
                print_message("lost %s: %s\n", pods[i].name, pods[i].error);
            }
        }
    }
    print_message("fault burst: %d pods (%" G_GINT64_FORMAT " GPUs) on %d nodes / %" G_GINT64_FORMAT
                  " GPUs, %d client threads, --bind-timeout %.1f s: %.2f s wall\n",
                  BURST_PODS, demand, FAULT_NODES, capacity, BURST_THREADS, FAULT_BIND_TIMEOUT,
                  wall_s);
    print_message("  faults injected: %u late commits (%u of them refused by the API server "
                  "because a retry had bound the pod first), %u commits answered late, %u "
                  "commits with the connection dropped\n",
                  faults[0], late_refused, faults[1], faults[2]);
    print_message("  binds answered with an API failure: %d (%d outcome unknown, GPUs held); "
                  "pods found bound by the watch after an error: %d; binds refused and "
                  "retried: %d\n",
                  g_atomic_int_get(&b.failed), g_atomic_int_get(&b.unknown),
                  g_atomic_int_get(&b.bound_late), g_atomic_int_get(&b.refused));
    print_message("  over-committed GPUs: %" G_GINT64_FORMAT " (view sampled %u times, %u "
                  "over-committed samples); pods bound once: %u of %d; bound twice: %u; pods "
                  "lost: %u\n",
                  overcommitted_gpus, sampler.rounds, sampler.node_overcommit,
                  g_hash_table_size(bound_pods) - duplicate, BURST_PODS, duplicate, lost);

    assert_true(faults[0] > 0 && faults[1] > 0 && faults[2] > 0);
    assert_true(g_atomic_int_get(&b.unknown) > 0); /* the held path ran */
    assert_int_equal(overcommitted_gpus, 0);
    assert_int_equal(sampler.node_overcommit, 0);
    assert_int_equal(duplicate, 0);
    assert_int_equal(lost, 0);
    assert_int_equal(g_hash_table_size(bound_pods), BURST_PODS);
    assert_int_equal(fp_view_held_count(env->app->view), 0);

    g_hash_table_unref(by_node);
    g_hash_table_unref(bound_pods);
    json_decref(bindings);
    for (int i = 0; i < BURST_PODS; i++) {
        g_free(pods[i].error);
    }
    g_free(pods);
    g_free(b.names_json);
    g_hash_table_unref(b.listed);
    g_mutex_clear(&b.lock);
}

/* ---- the API server restarted mid-burst ------------------------------------------ */

#define RESTART_AFTER 300  /* pods bound before the API server goes down */
#define RESTART_DELETED 10 /* pods bound before, deleted during the outage */
#define RESTART_OUTAGE 8   /* pods bound by someone else during the outage */
#define RESTART_RV_FIRST 1000000
#define RESTART_RV_AFTER 1 /* the new store's resourceVersions: far lower */

typedef struct {
    GHashTable *deleted; /* names of the pods deleted during the outage */
    char outage_uid[RESTART_OUTAGE][64];
    guint cut;              /* API connections the restart cut */
    FpInformerStats before; /* the pod informer's counters before the restart */
    gint64 deleted_gpus;
    double outage_s;
} Restart;

/* The pod informer's counters (clear the strings with
 * fp_informer_stats_clear). */
static FpInformerStats pod_informer_stats(Env *env)
{
    FpInformerStats st;
    fp_informer_get_stats(env->app->informer, FP_KIND_PODS, &st);
    return st;
}

/* The pod watch's restarts for errors so far. */
static guint64 pod_watch_errors(Env *env)
{
    FpInformerStats st = pod_informer_stats(env);
    guint64 n = st.restarts[FP_RESTART_ERROR];
    fp_informer_stats_clear(&st);
    return n;
}

/* Pick RESTART_DELETED burst pods that the server shows bound and whose
 * client is done with them, and delete them (the server is down). */
static gint64 delete_bound_pods(Env *env, Burst *b, Restart *r)
{
    json_t *d = fp_fake_api_ctl(env->api, "{\"cmd\":\"dump\"}");
    gint64 gpus = 0;
    size_t i;
    json_t *pod;
    json_array_foreach(json_object_get(d, "pods"), i, pod)
    {
        const char *name = json_string_value(json_object_get(pod, "name"));
        const char *node = json_string_value(json_object_get(pod, "node"));
        if (g_hash_table_size(r->deleted) >= RESTART_DELETED || !node ||
            !g_str_has_prefix(name, "burst-")) {
            continue;
        }
        int idx = (int)g_ascii_strtoll(name + strlen("burst-"), NULL, 10);
        if (!g_atomic_int_get(&b->done[idx])) {
            continue;
        }
        FP_FAKE_API_CTL(env->api, "{\"cmd\":\"delete_pod\",\"name\":\"%s\"}", name);
        g_hash_table_add(r->deleted, g_strdup(name));
        gpus += json_integer_value(json_object_get(pod, "gpus"));
    }
    json_decref(d);
    return gpus;
}

/* The restart, while the burst runs: after RESTART_AFTER pods are bound the
 * API port closes and every API connection is cut (watches drop, Bindings
 * in flight reset).  Once flexplace has retried its watch against the
 * closed port and a bind was refused a connection, RESTART_DELETED bound
 * pods are deleted and RESTART_OUTAGE pending ones bound elsewhere, and the
 * server comes back with resourceVersions far below the ones flexplace
 * holds (a new etcd): its watch gets 504 "Too large resource version" and
 * must relist. */
static gint64 restart_api_server(Env *env, Burst *b, void *data)
{
    Restart *r = data;
    FP_WAIT_FOR(g_atomic_int_get(&b->bound) >= RESTART_AFTER, 120000, "%d pods bound",
                RESTART_AFTER);
    r->before = pod_informer_stats(env);
    gint64 t0 = g_get_monotonic_time();
    json_t *down = fp_fake_api_ctl(env->api, "{\"cmd\":\"restart\",\"phase\":\"down\"}");
    r->cut = (guint)json_integer_value(json_object_get(down, "cut"));
    json_decref(down);
    /* flexplace saw the outage: its pod watch failed at least twice (the cut,
     * then a retry refused), and a Binding was refused a connection */
    FP_WAIT_FOR(pod_watch_errors(env) >= r->before.restarts[FP_RESTART_ERROR] + 2, WAIT_MS,
                "the pod watch retried against the closed port");
    FP_WAIT_FOR(g_atomic_int_get(&b->not_sent) > 0, WAIT_MS, "a bind refused a connection");
    r->deleted_gpus = delete_bound_pods(env, b, r);
    for (int i = 0; i < RESTART_OUTAGE; i++) {
        FP_FAKE_API_CTL(env->api,
                        "{\"cmd\":\"modify_pod\",\"name\":\"outage-%02d\",\"node\":\"%s\"}", i,
                        i % 2 ? "spare-001" : "spare-000");
    }
    FP_FAKE_API_CTL(env->api, "{\"cmd\":\"restart\",\"phase\":\"up\",\"rv_start\":%d}",
                    RESTART_RV_AFTER);
    r->outage_s = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
    return RESTART_OUTAGE - r->deleted_gpus;
}

/* The API server restarted in the middle of a 1,000-pod burst (8 client
 * threads, 160 x 8 GPUs, --bind-timeout 1 s): 0 over-committed GPUs during
 * (the view sampled throughout) and after (the server's objects); every pod
 * that was not deleted bound exactly once, none lost; and the view
 * converges to the server's state after the relist: GPU use per node as
 * the server has it, the pods bound during the outage bound, the deleted
 * ones gone with their GPUs free, nothing assumed or held. */
static void test_burst_1000_pods_api_restart(void **state)
{
    Env *env = *state;
    fp_fake_api_stop(env->api);
    const char *args[] = {"--empty", "--rv-start", G_STRINGIFY(RESTART_RV_FIRST), NULL};
    env->api = fp_fake_api_start(args);
    add_pool_nodes(env, "l4", FAULT_NODES, "NVIDIA-L4", "23034", "us-east-1");
    /* two nodes kube-scheduler does not offer flexplace: someone else binds
     * the outage pods there */
    add_pool_nodes(env, "spare", 2, "NVIDIA-L4", "23034", "us-east-1");
    int64_t demand = 0;
    BurstPod *pods = add_burst_pods(env, &demand);
    gint *done = g_new0(gint, BURST_PODS);
    Restart rs = {.deleted = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL)};
    for (int i = 0; i < RESTART_OUTAGE; i++) {
        json_t *r = fp_fake_api_ctl(
            env->api, "{\"cmd\":\"add_pod\",\"name\":\"outage-%02d\",\"gpus\":1,\"silent\":true}",
            i);
        g_strlcpy(rs.outage_uid[i], json_string_value(json_object_get(r, "uid")), 64);
        json_decref(r);
    }
    app_start(env, fault_policy, 120, 1.0);
    FP_FAKE_API_CTL(env->api, "{\"cmd\":\"set\",\"too_large_wait_ms\":200}");

    Burst b = {.env = env, .pods = pods, .faults = true, .done = done};
    g_mutex_init(&b.lock);
    b.listed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GString *names = g_string_new("[");
    for (int i = 0; i < FAULT_NODES; i++) {
        g_string_append_printf(names, "%s\"l4-%03d\"", i ? "," : "", i);
    }
    g_string_append(names, "]");
    b.names_json = g_string_free(names, FALSE);
    Sampler sampler = {.view = env->app->view};
    double wall_s = run_burst(env, &b, &sampler, demand, restart_api_server, &rs);
    FpInformerStats after = pod_informer_stats(env);

    /* the server's objects after the burst: GPUs per node, pods bound */
    json_t *d = fp_fake_api_ctl(env->api, "{\"cmd\":\"dump\"}");
    GHashTable *by_node = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTable *bound_pods = g_hash_table_new(g_str_hash, g_str_equal);
    size_t k;
    json_t *pod;
    json_array_foreach(json_object_get(d, "pods"), k, pod)
    {
        const char *node = json_string_value(json_object_get(pod, "node"));
        if (!node) {
            continue;
        }
        g_hash_table_add(bound_pods, (gpointer)json_string_value(json_object_get(pod, "name")));
        int64_t n = GPOINTER_TO_SIZE(g_hash_table_lookup(by_node, node)) +
                    json_integer_value(json_object_get(pod, "gpus"));
        g_hash_table_insert(by_node, (gpointer)node, GSIZE_TO_POINTER((gsize)n));
    }
    int64_t overcommitted_gpus = 0;
    guint nodes_differ = 0;
    json_array_foreach(json_object_get(d, "nodes"), k, pod)
    {
        const char *node = json_string_value(json_object_get(pod, "name"));
        int64_t n = (int64_t)GPOINTER_TO_SIZE(g_hash_table_lookup(by_node, node));
        overcommitted_gpus += MAX(n - json_integer_value(json_object_get(pod, "gpus")), 0);
        if (used_on(env->app->view, node) != n) { /* the view converged */
            print_message("view differs on %s: %" G_GINT64_FORMAT " used, server %" G_GINT64_FORMAT
                          "\n",
                          node, used_on(env->app->view, node), n);
            nodes_differ++;
        }
    }
    /* the binding record: no pod bound twice */
    json_t *bindings = fp_fake_api_bindings(env->api);
    GHashTable *once = g_hash_table_new(g_str_hash, g_str_equal);
    guint duplicate = 0;
    json_t *rec;
    json_array_foreach(bindings, k, rec)
    {
        if (json_integer_value(json_object_get(rec, "status")) == 201) {
            const char *name = json_string_value(json_object_get(rec, "name"));
            duplicate += !g_hash_table_add(once, (gpointer)name);
        }
    }
    guint lost = 0, deleted_in_view = 0, outage_bound = 0;
    for (int i = 0; i < BURST_PODS; i++) {
        bool deleted = g_hash_table_contains(rs.deleted, pods[i].name);
        fp_view_read_lock(env->app->view);
        deleted_in_view += deleted && fp_view_pod_locked(env->app->view, pods[i].uid) != NULL;
        fp_view_read_unlock(env->app->view);
        if (!deleted && !g_hash_table_contains(bound_pods, pods[i].name) && lost++ < 5) {
            print_message("lost %s: %s\n", pods[i].name, pods[i].error);
        }
    }
    for (int i = 0; i < RESTART_OUTAGE; i++) {
        outage_bound +=
            pod_bound_in_view(env->app->view, rs.outage_uid[i], i % 2 ? "spare-001" : "spare-000");
    }
    print_message("restart burst: %d pods (%" G_GINT64_FORMAT " GPUs) on %d nodes, %d client "
                  "threads, --bind-timeout 1 s: %.2f s wall; API server down %.2f s after %d "
                  "pods bound, %u connections cut, resourceVersions %d -> %d\n",
                  BURST_PODS, demand, FAULT_NODES, BURST_THREADS, wall_s, rs.outage_s,
                  RESTART_AFTER, rs.cut, RESTART_RV_FIRST, RESTART_RV_AFTER);
    print_message("  binds failed: %d (%d never sent: connection refused; %d outcome unknown); "
                  "filter errors retried: %d; pods found bound by the watch after an error: "
                  "%d; binds refused and retried: %d\n",
                  g_atomic_int_get(&b.failed), g_atomic_int_get(&b.not_sent),
                  g_atomic_int_get(&b.unknown), g_atomic_int_get(&b.not_ready),
                  g_atomic_int_get(&b.bound_late), g_atomic_int_get(&b.refused));
    print_message("  pod informer: %" G_GUINT64_FORMAT " watch errors, %" G_GUINT64_FORMAT
                  " relists for an expired or too-large resourceVersion, %" G_GUINT64_FORMAT
                  " LIST failures during the restart\n",
                  after.restarts[FP_RESTART_ERROR] - rs.before.restarts[FP_RESTART_ERROR],
                  after.restarts[FP_RESTART_EXPIRED] - rs.before.restarts[FP_RESTART_EXPIRED],
                  after.list_failures - rs.before.list_failures);
    print_message("  over-committed GPUs: %" G_GINT64_FORMAT " (view sampled %u times, %u "
                  "over-committed samples); pods bound once: %u; bound twice: %u; lost: %u; "
                  "deleted during the outage: %u (%" G_GINT64_FORMAT " GPUs), still in the "
                  "view: %u; bound during the outage and bound in the view: %u of %d; nodes "
                  "where the view differs from the server: %u\n",
                  overcommitted_gpus, sampler.rounds, sampler.node_overcommit,
                  g_hash_table_size(once) - duplicate, duplicate, lost,
                  g_hash_table_size(rs.deleted), rs.deleted_gpus, deleted_in_view, outage_bound,
                  RESTART_OUTAGE, nodes_differ);

    assert_int_equal(g_hash_table_size(rs.deleted), RESTART_DELETED);
    assert_true(rs.cut > 0);
    assert_true(g_atomic_int_get(&b.not_sent) > 0);
    /* the new store's RVs are lower: the watch relisted */
    assert_true(after.restarts[FP_RESTART_EXPIRED] > rs.before.restarts[FP_RESTART_EXPIRED]);
    assert_int_equal(overcommitted_gpus, 0);
    assert_int_equal(sampler.node_overcommit, 0);
    assert_int_equal(duplicate, 0);
    assert_int_equal(lost, 0);
    assert_int_equal(g_hash_table_size(once), BURST_PODS + 0); /* deleted ones were bound once */
    assert_int_equal(deleted_in_view, 0);
    assert_int_equal(outage_bound, RESTART_OUTAGE);
    assert_int_equal(nodes_differ, 0);
    assert_int_equal(fp_view_assumed_total(env->app->view), 0);
    assert_int_equal(fp_view_held_count(env->app->view), 0);

    fp_informer_stats_clear(&after);
    fp_informer_stats_clear(&rs.before);
    g_hash_table_unref(once);
    json_decref(bindings);
    g_hash_table_unref(by_node);
    g_hash_table_unref(bound_pods);
    json_decref(d);
    g_hash_table_unref(rs.deleted);
    for (int i = 0; i < BURST_PODS; i++) {
        g_free(pods[i].error);
    }
    g_free(pods);
    g_free(done);
    g_free(b.names_json);
    g_hash_table_unref(b.listed);
    g_mutex_clear(&b.lock);
}

/* ---- how a single bind ends ---------------------------------------------------- */

static const char small_policy[] = "apiVersion: flexplace.io/v1alpha1\n"
                                   "kind: PlacementPolicy\n"
                                   "profiles:\n"
                                   "  default: {weights: {cost: 1, packing: 1}}\n";

/* Two 4-GPU nodes and the pods the scenario names (each pending); returns
 * the UIDs in @uids. */
static void small_cluster(Env *env, const char *const *names, const int *gpus, guint n,
                          char uids[][64], double assume_ttl_s, double bind_timeout_s)
{
    for (int i = 1; i <= 2; i++) {
        FP_FAKE_API_CTL(env->api,
                        "{\"cmd\":\"add_node\",\"name\":\"small-%d\",\"gpus\":4,\"silent\":true,"
                        "\"labels\":{\"flexplace.io/pool\":\"small\","
                        "\"nvidia.com/gpu.product\":\"NVIDIA-L4\"}}",
                        i);
    }
    for (guint i = 0; i < n; i++) {
        json_t *r = fp_fake_api_ctl(
            env->api, "{\"cmd\":\"add_pod\",\"name\":\"%s\",\"gpus\":%d,\"silent\":true}", names[i],
            gpus[i]);
        g_strlcpy(uids[i], json_string_value(json_object_get(r, "uid")), 64);
        json_decref(r);
    }
    app_start(env, small_policy, assume_ttl_s, bind_timeout_s);
}

/* The last recorded binding request for @name: its HTTP status. */
static json_int_t last_binding_status(Env *env, const char *name, guint *count)
{
    json_t *list = fp_fake_api_bindings(env->api);
    json_int_t status = -1;
    guint n = 0;
    size_t i;
    json_t *rec;
    json_array_foreach(list, i, rec)
    {
        if (strcmp(json_string_value(json_object_get(rec, "name")), name) == 0) {
            status = json_integer_value(json_object_get(rec, "status"));
            n++;
        }
    }
    json_decref(list);
    if (count) {
        *count = n;
    }
    return status;
}

/* A bind the API server answers with @mode (and @status for mode error)
 * fails, says why, and leaves nothing assumed: the refusal is definite.
 * The node is whole again and a later bind succeeds. */
static void check_api_failure_rolls_back(Env *env, const char *mode, int status,
                                         const char *expect_text)
{
    const char *names[] = {"victim"};
    const int gpus[] = {3};
    char uids[1][64];
    small_cluster(env, names, gpus, 1, uids, 120, 0.5);
    FP_FAKE_API_CTL(env->api,
                    "{\"cmd\":\"set\",\"bind_mode\":\"%s\",\"bind_delay_ms\":0,"
                    "\"bind_error_status\":%d}",
                    mode, status);
    gint64 t0 = g_get_monotonic_time();
    g_autofree char *e = bind_http(env, "victim", uids[0], "small-1");
    double took_s = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
    print_message("bind_mode %s (%d): %.2f s, Error: %s\n", mode, status, took_s, e ? e : "(none)");
    assert_non_null(e);
    assert_non_null(strstr(e, expect_text));
    assert_non_null(strstr(e, "victim"));
    assert_null(strstr(e, "outcome unknown"));
    /* the assumption was rolled back before the reply */
    assert_int_equal(fp_view_assumed_total(env->app->view), 0);
    NodeGpus g = node_gpus(env->app->view, "small-1");
    assert_int_equal(g.assumed, 0);
    guint posts = 0;
    assert_int_equal(last_binding_status(env, "victim", &posts), status);
    assert_int_equal(posts, 1);

    FP_FAKE_API_CTL(env->api, "{\"cmd\":\"set\",\"bind_mode\":\"auto\",\"bind_delay_ms\":0}");
    assert_int_equal(g.used, 0);
    g_autofree char *e2 = bind_http(env, "victim", uids[0], "small-1");
    assert_null(e2);
    assert_int_equal(last_binding_status(env, "victim", &posts), 201);
    assert_int_equal(posts, 2);
    FP_WAIT_FOR(pod_bound_in_view(env->app->view, uids[0], "small-1"), WAIT_MS, "bound");
    assert_int_equal(used_on(env->app->view, "small-1"), 3);
    assert_int_equal(fp_view_assumed_total(env->app->view), 0);
}

static void test_bind_conflict_rolls_back(void **state)
{
    check_api_failure_rolls_back(*state, "conflict", 409, "injected");
}

/* A 4xx (here 403, as RBAC answers) is a definite refusal. */
static void test_bind_forbidden_rolls_back(void **state)
{
    check_api_failure_rolls_back(*state, "error", 403, "injected error");
}

/* A 5xx to the Binding (500 InternalError from an etcd timeout, 502/503
 * from a proxy or an API server going down) may come after the store
 * committed it: when reading the pod does not show it bound, the outcome
 * is unknown, the GPUs stay held (the next pod cannot take them), and
 * kube-scheduler's retry to the same node binds (its own held GPUs do not
 * count against it), after which nothing is held. */
static void check_5xx_holds_gpus(Env *env, int status)
{
    const char *names[] = {"victim", "next"};
    const int gpus[] = {3, 2};
    char uids[2][64];
    small_cluster(env, names, gpus, 2, uids, 120, 1.0);
    FP_FAKE_API_CTL(env->api, "{\"cmd\":\"set\",\"bind_mode\":\"error\",\"bind_error_status\":%d}",
                    status);
    g_autofree char *e = bind_http(env, "victim", uids[0], "small-1");
    print_message("HTTP %d to the Binding: Error: %s\n", status, e ? e : "(none)");
    assert_non_null(e);
    assert_non_null(strstr(e, "outcome unknown"));
    assert_non_null(strstr(e, "injected error"));
    assert_int_equal(node_gpus(env->app->view, "small-1").assumed, 3);
    assert_int_equal(fp_view_held_count(env->app->view), 1);
    g_autofree char *e2 = bind_http(env, "next", uids[1], "small-1");
    assert_non_null(e2);
    assert_non_null(strstr(e2, "insufficient free GPUs"));

    FP_FAKE_API_CTL(env->api, "{\"cmd\":\"set\",\"bind_mode\":\"auto\"}");
    g_autofree char *e3 = bind_http(env, "victim", uids[0], "small-1");
    assert_null(e3);
    FP_WAIT_FOR(pod_bound_in_view(env->app->view, uids[0], "small-1"), WAIT_MS, "bound");
    assert_int_equal(used_on(env->app->view, "small-1"), 3);
    assert_int_equal(fp_view_assumed_total(env->app->view), 0);
    assert_int_equal(fp_view_held_count(env->app->view), 0);
}

static void test_bind_500_holds_gpus(void **state)
{
    check_5xx_holds_gpus(*state, 500);
}

static void test_bind_503_holds_gpus(void **state)
{
    check_5xx_holds_gpus(*state, 503);
}

/* The API server commits the Binding only after the bind's deadline (a
 * late commit), and reading the pod is as slow: the bind answers within its
 * one deadline (not one per call), says the outcome is unknown, and keeps
 * the pod's GPUs assumed - the next pod cannot take them - until the watch
 * shows the late binding. */
static void test_bind_timeout_holds_gpus(void **state)
{
    Env *env = *state;
    const char *names[] = {"victim", "next"};
    const int gpus[] = {3, 2};
    char uids[2][64];
    const double bind_timeout = 2.0;
    small_cluster(env, names, gpus, 2, uids, 120, bind_timeout);
    FP_FAKE_API_CTL(env->api, "{\"cmd\":\"set\",\"bind_mode\":\"timeout\","
                              "\"bind_delay_ms\":6000,\"get_delay_ms\":10000}");
    gint64 t0 = g_get_monotonic_time();
    g_autofree char *e = bind_http(env, "victim", uids[0], "small-1");
    double took_s = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
    print_message("late commit: %.2f s (--bind-timeout %.1f s), Error: %s\n", took_s, bind_timeout,
                  e ? e : "(none)");
    assert_non_null(e);
    assert_non_null(strstr(e, "outcome unknown"));
    /* one deadline for the POST and the GET together: a deadline per call
     * would take at least twice --bind-timeout (the POST's and the GET's),
     * so anything under that tells the two apart with room for a loaded
     * machine; the budget leaves 1 s under kube-scheduler's httpTimeout */
    assert_true(took_s < 2 * bind_timeout - 0.2);
    FP_FAKE_API_CTL(env->api, "{\"cmd\":\"set\",\"get_delay_ms\":0}");
    /* held: the GPUs stay taken, and the next pod is refused on small-1 */
    NodeGpus g = node_gpus(env->app->view, "small-1");
    assert_int_equal(g.assumed, 3);
    assert_int_equal(fp_view_held_count(env->app->view), 1);
    g_autofree char *e2 = bind_http(env, "next", uids[1], "small-1");
    assert_non_null(e2);
    assert_non_null(strstr(e2, "insufficient free GPUs"));
    /* the late binding lands: the watch shows it, the pod's GPUs count as
     * used, once, and nothing is held */
    FP_WAIT_FOR(pod_bound_in_view(env->app->view, uids[0], "small-1"), WAIT_MS, "late binding");
    g = node_gpus(env->app->view, "small-1");
    assert_int_equal(g.used, 3);
    assert_int_equal(g.assumed, 0);
    assert_int_equal(fp_view_held_count(env->app->view), 0);
    FP_FAKE_API_CTL(env->api, "{\"cmd\":\"set\",\"bind_mode\":\"auto\",\"bind_delay_ms\":0}");
}

/* The API server commits the Binding and answers late, drops the
 * connection after committing, or sends the status line and then the body
 * late: the bind succeeds (reading the pod within the same deadline finds
 * it bound, or the status line said so). */
static void check_committed_without_answer(Env *env, const char *mode)
{
    const char *names[] = {"quiet"};
    const int gpus[] = {2};
    char uids[1][64];
    small_cluster(env, names, gpus, 1, uids, 120, 1.0);
    FP_FAKE_API_CTL(env->api, "{\"cmd\":\"set\",\"bind_mode\":\"%s\",\"bind_delay_ms\":5000}",
                    mode);
    g_autofree char *e = bind_http(env, "quiet", uids[0], "small-2");
    print_message("bind_mode %s: Error: %s\n", mode, e ? e : "(none)");
    assert_null(e);
    assert_int_equal(last_binding_status(env, "quiet", NULL), 201);
    FP_WAIT_FOR(pod_bound_in_view(env->app->view, uids[0], "small-2"), WAIT_MS, "bound");
    assert_int_equal(used_on(env->app->view, "small-2"), 2);
    assert_int_equal(fp_view_assumed_total(env->app->view), 0);
    FP_FAKE_API_CTL(env->api, "{\"cmd\":\"set\",\"bind_mode\":\"auto\",\"bind_delay_ms\":0}");
}

static void test_bind_committed_answer_late(void **state)
{
    check_committed_without_answer(*state, "commit_slow");
}

static void test_bind_committed_connection_dropped(void **state)
{
    check_committed_without_answer(*state, "commit_drop");
}

/* The API server commits and sends "201 Created", then the body comes after
 * the bind's deadline (a proxy or a loaded server between the two writes):
 * the status line says bound.  Read as a refusal, it rolled the GPUs back
 * and the API-restart drill over-committed a node by one GPU. */
static void test_bind_committed_body_late(void **state)
{
    check_committed_without_answer(*state, "commit_headers");
}

/* kube-scheduler may call bind again for a pod that is already bound (its
 * first call timed out): the same node is success, even when the pod's own
 * GPUs fill that node, whether or not the watch has shown the binding yet;
 * another node is an error. */
static void test_retried_bind_of_bound_pod(void **state)
{
    Env *env = *state;
    const char *names[] = {"whole", "lagging"};
    const int gpus[] = {4, 4};
    char uids[2][64];
    small_cluster(env, names, gpus, 2, uids, 120, 2);

    /* 1. the watch has shown the binding: the pod's GPUs are used */
    assert_null(bind_http(env, "whole", uids[0], "small-1"));
    FP_WAIT_FOR(pod_bound_in_view(env->app->view, uids[0], "small-1"), WAIT_MS, "bound");
    g_autofree char *again = bind_http(env, "whole", uids[0], "small-1");
    if (again) {
        fail_msg("retry of a bound pod on its own (full) node failed: %s", again);
    }
    g_autofree char *elsewhere = bind_http(env, "whole", uids[0], "small-2");
    assert_non_null(elsewhere);
    print_message("retry to another node: %s\n", elsewhere);
    assert_int_equal(used_on(env->app->view, "small-1"), 4);
    assert_int_equal(fp_view_assumed_total(env->app->view), 0);

    /* 2. the watch lags (the server binds silently): the pod's GPUs are
     * assumed by the first bind; the retry meets a 409 "already assigned"
     * to the same node */
    FP_FAKE_API_CTL(env->api, "{\"cmd\":\"modify_pod\",\"name\":\"lagging\","
                              "\"node\":\"small-2\",\"silent\":true}");
    g_autofree char *first = bind_http(env, "lagging", uids[1], "small-2");
    assert_null(first);
    assert_int_equal(fp_view_assumed_total(env->app->view), 4);
    g_autofree char *retry = bind_http(env, "lagging", uids[1], "small-2");
    if (retry) {
        fail_msg("retry of an assumed pod on its own (full) node failed: %s", retry);
    }
    NodeGpus g = node_gpus(env->app->view, "small-2");
    assert_int_equal(g.assumed, 4); /* still once, not twice */
    assert_int_equal(g.used, 0);
    assert_int_equal(last_binding_status(env, "lagging", NULL), 409);
    guint posts = 0;
    assert_int_equal(last_binding_status(env, "whole", &posts), 201);
}

/* A bind to a node without room is refused before any API call, and
 * records nothing; so are names that cannot be pods. */
static void test_bind_refused_without_room(void **state)
{
    Env *env = *state;
    const char *names[] = {"big", "late"};
    const int gpus[] = {3, 2};
    char uids[2][64];
    small_cluster(env, names, gpus, 2, uids, 120, 2);
    assert_null(bind_http(env, "big", uids[0], "small-1"));
    json_int_t before = fp_fake_api_counter(env->api, "requests");
    g_autofree char *e = bind_http(env, "late", uids[1], "small-1");
    assert_non_null(e);
    print_message("refused: %s\n", e);
    assert_non_null(strstr(e, "insufficient free GPUs"));
    g_autofree char *e2 = bind_http(env, "late", uids[1], "no-such-node");
    assert_non_null(e2);
    g_autofree char *e3 = bind_http(env, "Bad_Name", uids[1], "small-2");
    assert_non_null(e3);
    assert_int_equal(fp_fake_api_counter(env->api, "requests"), before);
    guint posts = 0;
    last_binding_status(env, "late", &posts);
    assert_int_equal(posts, 0);
    /* only big's 3 GPUs are accounted (assumed or used) */
    NodeGpus g = node_gpus(env->app->view, "small-1");
    assert_int_equal(g.used + g.assumed, 3);
    assert_null(bind_http(env, "late", uids[1], "small-2"));
}

/* The API server binds the pod without the watch ever reporting it: the
 * assumption holds the GPUs until --assume-ttl, then expires. */
static void test_unconfirmed_assumption_expires(void **state)
{
    Env *env = *state;
    const char *names[] = {"ghost"};
    const int gpus[] = {2};
    char uids[1][64];
    const double ttl = 60;
    small_cluster(env, names, gpus, 1, uids, ttl, 2);
    /* bound on the server, silently: the informer never hears of it */
    FP_FAKE_API_CTL(env->api, "{\"cmd\":\"modify_pod\",\"name\":\"ghost\",\"node\":\"small-2\","
                              "\"silent\":true}");
    /* the API server answers 409 "already assigned" to that very node: success */
    g_autofree char *e = bind_http(env, "ghost", uids[0], "small-2");
    assert_null(e);
    assert_int_equal(last_binding_status(env, "ghost", NULL), 409);
    assert_int_equal(fp_view_assumed_total(env->app->view), 2);
    NodeGpus g = node_gpus(env->app->view, "small-2");
    assert_int_equal(g.assumed, 2);
    assert_int_equal(g.used, 0);
    /* a bind to a node the pod is not on fails (409 "already assigned" to
     * another node) and rolls its assumption back */
    g_autofree char *e2 = bind_http(env, "ghost", uids[0], "small-1");
    assert_non_null(e2);
    print_message("bind to the other node: %s\n", e2);
    /* the retry replaced the earlier assumption and then rolled back: the
     * pod's GPUs are no longer held anywhere until the watch shows it */
    g = node_gpus(env->app->view, "small-1");
    assert_int_equal(g.assumed, 0);

    /* the first assumption again, then let it age on a fake clock: due
     * exactly at its TTL, not a microsecond before */
    fp_clock_fake_install();
    assert_null(bind_http(env, "ghost", uids[0], "small-2"));
    assert_int_equal(fp_view_assumed_total(env->app->view), 2);
    fp_clock_fake_advance((gint64)(ttl * G_USEC_PER_SEC) - 1);
    assert_int_equal(fp_view_expire_assumed(env->app->view), 0);
    assert_int_equal(fp_view_assumed_total(env->app->view), 2);
    fp_clock_fake_advance(1);
    assert_int_equal(fp_view_expire_assumed(env->app->view), 1);
    fp_clock_fake_remove();
    assert_int_equal(fp_view_assumed_total(env->app->view), 0);
    g = node_gpus(env->app->view, "small-2");
    assert_int_equal(g.assumed, 0);
    assert_int_equal(g.used, 0);
}

/* Pool ceilings hold at bind time: kube-scheduler filtered a pod while its
 * pool had room, but earlier binds of the burst filled the pool before this
 * bind arrived.  The bind is refused while another pool has room, and goes
 * through when no pool has (the burst overflow rule). */
static void test_bind_respects_pool_ceiling(void **state)
{
    Env *env = *state;
    /* pool "cheap": 2 x 4 GPUs, ceiling 50 % = 4 GPUs; pool "spare": 1 x 4 */
    for (int i = 1; i <= 3; i++) {
        FP_FAKE_API_CTL(env->api,
                        "{\"cmd\":\"add_node\",\"name\":\"%s-%d\",\"gpus\":4,\"silent\":true,"
                        "\"labels\":{\"flexplace.io/pool\":\"%s\","
                        "\"nvidia.com/gpu.product\":\"NVIDIA-L4\"}}",
                        i < 3 ? "cheap" : "spare", i, i < 3 ? "cheap" : "spare");
    }
    const char *names[] = {"fill", "raced", "again", "spilled", "tops-up", "overflow"};
    const int gpus[] = {4, 1, 1, 1, 2, 1};
    char uids[6][64];
    for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
        json_t *r = fp_fake_api_ctl(
            env->api, "{\"cmd\":\"add_pod\",\"name\":\"%s\",\"gpus\":%d,\"silent\":true}", names[i],
            gpus[i]);
        g_strlcpy(uids[i], json_string_value(json_object_get(r, "uid")), 64);
        json_decref(r);
    }
    app_start(env,
              "apiVersion: flexplace.io/v1alpha1\n"
              "kind: PlacementPolicy\n"
              "pools:\n"
              "  - {name: cheap, pricePerGPUHour: 0.5, maxUtilization: 0.5}\n"
              "  - {name: spare, pricePerGPUHour: 5}\n",
              120, 2);
    assert_null(bind_http(env, "fill", uids[0], "cheap-1")); /* the pool at its ceiling */
    g_autofree char *e = bind_http(env, "raced", uids[1], "cheap-2");
    assert_non_null(e);
    print_message("over the ceiling while spare has room: %s\n", e);
    assert_non_null(strstr(e, "pool at its burst ceiling"));
    NodeGpus g = node_gpus(env->app->view, "cheap-2");
    assert_int_equal(g.assumed + g.used, 0);
    /* kube-scheduler retries, filters again and now picks the spare pool */
    assert_null(bind_http(env, "raced", uids[1], "spare-3"));
    /* a pod refused once that comes back for the capped pool anyway is let
     * through: kube-scheduler's own filters, which flexplace only
     * approximates, left it nothing else (no livelock) */
    g_autofree char *e2 = bind_http(env, "again", uids[2], "cheap-2");
    assert_non_null(e2);
    assert_null(bind_http(env, "again", uids[2], "cheap-2"));
    assert_null(bind_http(env, "spilled", uids[3], "spare-3"));
    assert_null(bind_http(env, "tops-up", uids[4], "spare-3"));
    /* every pool at or above its ceiling: the overflow rule applies */
    g_autofree char *e3 = bind_http(env, "overflow", uids[5], "cheap-2");
    if (e3) {
        fail_msg("burst overflow refused: %s", e3);
    }
    FP_WAIT_FOR(fp_view_assumed_total(env->app->view) == 0, WAIT_MS, "watch shows the bindings");
    assert_int_equal(used_on(env->app->view, "cheap-1"), 4);
    assert_int_equal(used_on(env->app->view, "cheap-2"), 2);
    assert_int_equal(used_on(env->app->view, "spare-3"), 4);
}

/* A bind whose outcome is unknown when the API server goes down, for a pod
 * deleted during the outage: the server comes back with higher, unrelated
 * resourceVersions (the watch gets 410 "too old" and relists), and the
 * relist, which no longer lists the pod, releases its held GPUs at once,
 * not at --assume-ttl; a pod bound during the outage shows bound. */
static void test_restart_relist_releases_held_gpus(void **state)
{
    Env *env = *state;
    const char *names[] = {"victim", "bystander"};
    const int gpus[] = {3, 1};
    char uids[2][64];
    small_cluster(env, names, gpus, 2, uids, 120, 0.6);
    /* the late commit never comes: the restart kills it */
    FP_FAKE_API_CTL(env->api, "{\"cmd\":\"set\",\"bind_mode\":\"timeout\",\"bind_delay_ms\":30000,"
                              "\"get_delay_ms\":30000}");
    g_autofree char *e = bind_http(env, "victim", uids[0], "small-1");
    assert_non_null(e);
    assert_non_null(strstr(e, "outcome unknown"));
    assert_int_equal(fp_view_held_count(env->app->view), 1);
    assert_int_equal(node_gpus(env->app->view, "small-1").assumed, 3);
    FpInformerStats before = pod_informer_stats(env);

    FP_FAKE_API_CTL(env->api, "{\"cmd\":\"restart\",\"phase\":\"down\"}");
    FP_FAKE_API_CTL(env->api, "{\"cmd\":\"set\",\"bind_mode\":\"auto\",\"get_delay_ms\":0}");
    FP_FAKE_API_CTL(env->api, "{\"cmd\":\"delete_pod\",\"name\":\"victim\"}");
    FP_FAKE_API_CTL(env->api,
                    "{\"cmd\":\"modify_pod\",\"name\":\"bystander\",\"node\":\"small-2\"}");
    FP_FAKE_API_CTL(env->api, "{\"cmd\":\"restart\",\"phase\":\"up\",\"rv_start\":50000000}");
    FP_WAIT_FOR(fp_view_held_count(env->app->view) == 0, WAIT_MS, "held GPUs released");
    NodeGpus g = node_gpus(env->app->view, "small-1");
    assert_int_equal(g.assumed, 0);
    assert_int_equal(g.used, 0);
    FP_WAIT_FOR(pod_bound_in_view(env->app->view, uids[1], "small-2"), WAIT_MS, "bystander bound");
    fp_view_read_lock(env->app->view);
    assert_null(fp_view_pod_locked(env->app->view, uids[0]));
    fp_view_read_unlock(env->app->view);
    FpInformerStats after = pod_informer_stats(env);
    assert_true(after.restarts[FP_RESTART_EXPIRED] > before.restarts[FP_RESTART_EXPIRED]);
    fp_informer_stats_clear(&before);
    fp_informer_stats_clear(&after);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    if (g_getenv("FP_TEST_FILTER")) {
        cmocka_set_test_filter(g_getenv("FP_TEST_FILTER"));
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_burst_1000_pods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_burst_1000_pods_with_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_burst_1000_pods_api_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_relist_releases_held_gpus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_conflict_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_forbidden_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_500_holds_gpus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_503_holds_gpus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_timeout_holds_gpus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_committed_answer_late, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_committed_connection_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_committed_body_late, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retried_bind_of_bound_pod, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_refused_without_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unconfirmed_assumption_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_respects_pool_ceiling, setup, teardown),
    };
    int rc = FP_RUN_TESTS(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
