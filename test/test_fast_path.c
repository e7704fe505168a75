/*
 * test_fast_path.c - the server's fast path through a placement (the facts,
 * copies and GPU slots the view keeps per node, the batched name lookup,
 * the engine's per-request memo) must give exactly the answer of the plain
 * path (facts computed from the Node, counts read from the lists), after
 * every one of thousands of random changes to the view and its policy.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "cache/view.h"
#include "cache/placement.h"
#include "extender/wire/protocol.h"
#include "scoring/time_to_serve.h"
#include "policies/policy_load.h"
#include "support/support.h"

#define GPU "nvidia.com/gpu"
#define MODEL "meta-llama/Llama-3.1-8B-Instruct"
#define IMAGE "vllm/vllm-openai:v0.6.4"
#define N_NODES 40

static const char POLICY[] =
    "apiVersion: flexplace.io/v1alpha1\n"
    "kind: PlacementPolicy\n"
    "gpuResources: [nvidia.com/gpu, amd.com/gpu]\n"
    "skus:\n"
    "  NVIDIA-H100-80GB-HBM3: {pricePerGPUHour: 5.5}\n"
    "  NVIDIA-L4: {memoryGiB: 24, relativeThroughput: 0.5, pricePerGPUHour: 0.8}\n"
    "pools:\n"
    "  - {name: pool-0, pricePerGPUHour: 0.98, maxUtilization: 0.6}\n"
    "  - {name: pool-1, maxUtilization: 0.95}\n"
    "regions:\n"
    "  latencyMs:\n"
    "    westeurope: {northeurope: 18, eastus: 82}\n"
    "    northeurope: {eastus: 80}\n"
    "profiles:\n"
    "  default:\n"
    "    weights: {latency: 2, cost: 1, sku: 1, timeToServe: 3}\n"
    "    skuPreference: [NVIDIA-L4]\n"
    "  critical:\n"
    "    weights: {latency: 8, headroom: 2}\n"
    "    maxLatencyMs: 90\n"
    "    allowedSKUs: [NVIDIA-H100-80GB-HBM3, NVIDIA-L4, NVIDIA-A100-SXM4-40GB-MIG-*]\n"
    "    originRegions: \"eastus=3,westeurope=1\"\n"
    "namespaces: {critical: critical}\n"
    "transfer:\n"
    "  stores: [{prefix: 's3://models/', region: eastus}]\n";

static const char *const PRODUCTS[] = {"NVIDIA-L4", "NVIDIA-H100-80GB-HBM3",
                                       "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", "Example-GPU", ""};
static const char *const REGIONS[] = {"eastus", "westeurope", "northeurope", "mars", ""};

static guint64 rng_next(guint64 *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static char *node_name(guint i)
{
    /* some names longer than the view keeps beside its lookup hash */
    return i % 7 == 0 ? g_strdup_printf("gpu-node-with-a-rather-long-name-for-the-pool-%03u", i)
                      : g_strdup_printf("n%u", i);
}

static FpNode *make_node(guint i, guint64 r)
{
    g_autofree char *name = node_name(i);
    FpNode *node = fp_node_new(name);
    fp_res_list_set(&node->allocatable, "cpu", 64000);
    fp_res_list_set(&node->allocatable, GPU, (int64_t)(r % 9)); /* 0 .. 8 */
    if ((r >> 40) % 4 == 0) {
        /* more extended resources than the view's slots hold */
        for (guint k = 0; k < FP_VIEW_GPU_SLOTS + 1; k++) {
            g_autofree char *res = g_strdup_printf("example.com/dev-%u", k);
            fp_res_list_set(&node->allocatable, res, 2);
        }
    }
    node->ready = (r >> 8) % 5 != 0;
    node->unschedulable = (r >> 12) % 6 == 0;
    GHashTable *l = node->labels;
    if ((r >> 16) % 7 != 0) {
        g_hash_table_replace(l, g_strdup("karpenter.sh/nodepool"),
                             g_strdup_printf("pool-%u", (guint)((r >> 20) % 3)));
    }
    g_hash_table_replace(l, g_strdup("nvidia.com/gpu.product"),
                         g_strdup(PRODUCTS[(r >> 24) % G_N_ELEMENTS(PRODUCTS)]));
    g_hash_table_replace(l, g_strdup("topology.kubernetes.io/region"),
                         g_strdup(REGIONS[(r >> 28) % G_N_ELEMENTS(REGIONS)]));
    if ((r >> 32) % 3 == 0) {
        g_hash_table_replace(l, g_strdup("nvidia.com/gpu.memory"), g_strdup("40960"));
    }
    if ((r >> 36) % 4 == 0) { /* the model's weights on the node's disk */
        char key[FP_MODEL_CACHE_LABEL_MAX];
        fp_model_cache_label(MODEL, key, sizeof key);
        g_hash_table_replace(l, g_strdup(key), g_strdup((r >> 38) % 2 ? "true" : "false"));
    }
    if ((r >> 42) % 3 == 0) { /* the serving image, in one of two sizes */
        guint64 keys[2] = {fp_image_key(IMAGE), fp_image_key("busybox")};
        int64_t sizes[2] = {(int64_t)((r >> 44) % 2 + 1) << 32, 1 << 20};
        fp_node_set_images(node, keys, sizes, 2);
    }
    return node;
}

static FpPod *make_pod(guint k, guint64 r)
{
    FpPod *pod = fp_pod_new();
    pod->uid = g_strdup_printf("uid-%u", k);
    pod->ns = g_strdup((r >> 30) % 2 ? "critical" : "default");
    pod->name = g_strdup_printf("p%u", k);
    if ((r % 4) != 0) {
        g_autofree char *node = node_name((guint)((r >> 4) % (N_NODES + 2)));
        pod->node_name = g_strdup(node);
    }
    pod->phase = (r >> 10) % 9 == 0 ? FP_PHASE_SUCCEEDED : FP_PHASE_RUNNING;
    fp_res_list_set(&pod->requests, GPU, (int64_t)((r >> 14) % 3));
    if ((r >> 20) % 3 == 0) {
        fp_res_list_set(&pod->requests, "example.com/dev-1", 1);
    }
    return pod;
}

/* The pod a request asks about: GPUs, maybe an origin and SKU annotation. */
static FpPod *request_pod(guint64 r)
{
    FpPod *pod = make_pod(1000, r);
    g_clear_pointer(&pod->node_name, g_free);
    fp_res_list_set(&pod->requests, GPU, 1 + (int64_t)((r >> 3) % 3));
    pod->annotations = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    if ((r >> 40) % 2) {
        g_hash_table_replace(pod->annotations, g_strdup("flexplace.io/origin-region"),
                             g_strdup("westeurope=2,eastus=1"));
    }
    if ((r >> 41) % 3 == 0) {
        g_hash_table_replace(pod->annotations, g_strdup("flexplace.io/gpu-sku"),
                             g_strdup("NVIDIA-H100-80GB-HBM3,NVIDIA-L4"));
    }
    if ((r >> 43) % 2) { /* a model: time to serve, from a store, the hub or a claim */
        static const char *const where[] = {"s3://models/llama", "hf://" MODEL, NULL,
                                            "pvc://weights/llama", "gs://elsewhere/llama"};
        pod->model = fp_model_request_new();
        pod->model->name = g_strdup(MODEL);
        pod->model->weights_location = g_strdup(where[(r >> 45) % G_N_ELEMENTS(where)]);
        pod->model->image_keys[pod->model->n_images++] = fp_image_key(IMAGE);
        pod->detailed = true;
        if ((r >> 48) % 3 == 0) {
            g_hash_table_replace(pod->annotations, g_strdup("flexplace.io/max-time-to-serve-s"),
                                 g_strdup("90"));
        }
    }
    return pod;
}

/* Verdicts with a time-to-serve estimate, and those the limit refused. */
static guint tts_seen, tts_refused;

static void assert_same_verdict(const FpVerdict *a, const FpVerdict *b)
{
    tts_seen += a->tts_known;
    tts_refused += a->reason && g_str_has_prefix(a->reason, FP_REASON_TTS_PREFIX);
    assert_int_equal(a->pass, b->pass);
    assert_int_equal(a->unresolvable, b->unresolvable);
    if (a->reason || b->reason) {
        assert_string_equal(a->reason, b->reason);
    }
    assert_int_equal(a->score, b->score);
    assert_true(a->total == b->total);
    assert_int_equal(a->gpus_free, b->gpus_free);
    for (int t = 0; t < FP_N_TERMS; t++) {
        assert_int_equal(a->term_active[t], b->term_active[t]);
        if (a->term_active[t]) {
            assert_true(a->term[t] == b->term[t]);
        }
    }
    assert_int_equal(a->tts_known, b->tts_known);
    if (a->tts_known) {
        assert_true(a->tts.total_s == b->tts.total_s);
        assert_int_equal(a->tts.source, b->tts.source);
        assert_true(a->tts.egress_usd == b->tts.egress_usd);
    }
}

/* The short list's shortcuts (placement.h: listed_idx and the reasons
 * counted while building) say what a walk over every verdict says, and
 * the listed encoder writes the plain encoder's bytes. */
static void check_short_list(FpView *view, const FpPolicy *policy, const FpPod *pod,
                             const char *const *names, guint n)
{
    g_autofree char *body = NULL;
    {
        g_autoptr(GString) b = g_string_new("{\"Pod\":{\"metadata\":{\"name\":\"p\"}},"
                                            "\"Nodes\":null,\"NodeNames\":[");
        for (guint i = 0; i < n; i++) {
            g_string_append_printf(b, "%s\"%s\"", i ? "," : "", names[i]);
        }
        g_string_append(b, "]}");
        body = g_string_free(g_steal_pointer(&b), FALSE);
    }
    g_autoptr(FpExtenderArgs) args = fp_extender_args_parse(body, strlen(body), NULL);
    assert_non_null(args);
    FpCandidates listed = {.names = names, .n = n, .best_node_only = true, .short_list = true};
    g_autoptr(FpPlacement) p = fp_placement_evaluate(view, policy, pod, &listed);
    guint passed = 0, unomitted = 0, rejected = 0;
    for (guint i = 0; i < n; i++) {
        passed += p->verdicts[i].pass;
        if (!p->verdicts[i].omit && p->verdicts[i].pass) {
            assert_non_null(p->listed_idx);
            assert_int_equal(p->listed_idx[unomitted++], i);
        }
    }
    assert_int_equal(p->passed, passed);
    assert_int_equal(p->listed, p->listed_idx ? unomitted : passed);
    assert_true(p->reasons_counted);
    for (guint k = 0; k < p->n_reasons; k++) {
        guint count = 0;
        for (guint i = 0; i < n; i++) {
            const char *why = p->verdicts[i].reason ? p->verdicts[i].reason : "rejected";
            count += !p->verdicts[i].pass && why == p->reasons[k];
        }
        assert_int_equal(p->reason_counts[k], count);
        rejected += count;
    }
    assert_int_equal(rejected + passed, n);
    /* the best of the listed is the best of a walk over all */
    int best = p->best;
    g_clear_pointer(&p->listed_idx, g_free);
    assert_int_equal(fp_placement_best(p), best);
    if (passed > 0 && p->short_list > 0) {
        size_t l1 = 0, l2 = 0;
        g_autofree guint *idx = g_new(guint, MAX(unomitted, 1));
        for (guint i = 0, k = 0; i < n; i++) {
            if (p->verdicts[i].pass && !p->verdicts[i].omit) {
                idx[k++] = i;
            }
        }
        g_autofree char *plain = fp_encode_filter_result(args, p->verdicts, NULL, &l1);
        g_autofree char *fast = fp_encode_filter_listed(args, p->verdicts, idx, unomitted, &l2);
        assert_string_equal(fast, plain);
        assert_int_equal(l1, l2);
    }
}

/* Every name, known or not, evaluated both ways. */
static void check(FpView *view, const FpPolicy *policy, guint64 r)
{
    const char *names[N_NODES + 3];
    char *owned[N_NODES + 3];
    guint n = 0;
    for (guint i = 0; i < N_NODES + 2; i++) {
        owned[n] = node_name((i * 7 + (guint)r) % (N_NODES + 2)); /* varied order */
        names[n] = owned[n];
        n++;
    }
    owned[n] = g_strdup("never-heard-of");
    names[n] = owned[n];
    n++;

    /* the batched lookup answers what the single one does */
    const FpNodeState *batch[N_NODES + 3];
    fp_view_read_lock(view);
    guint32 hashes[N_NODES + 3];
    for (guint i = 0; i < n; i++) {
        hashes[i] = fp_view_name_hash(names[i]);
    }
    fp_view_nodes_locked(view, names, (r >> 50) % 2 ? hashes : NULL, n, batch);
    for (guint i = 0; i < n; i++) {
        assert_ptr_equal(batch[i], fp_view_node_locked(view, names[i]));
    }
    fp_view_read_unlock(view);

    g_autoptr(FpPod) pod = request_pod(r);
    FpCandidates plain = {.names = names, .n = n};
    FpCandidates fast = {.names = names, .n = n, .best_node_only = true};
    g_autoptr(FpPlacement) want = fp_placement_evaluate(view, policy, pod, &plain);
    g_autoptr(FpPlacement) got = fp_placement_evaluate(view, policy, pod, &fast);
    assert_int_equal(got->best, want->best);
    for (guint i = 0; i < n; i++) {
        assert_same_verdict(&got->verdicts[i], &want->verdicts[i]);
    }
    if (got->best >= 0) {
        /* the best keeps its node and facts after the lock */
        assert_non_null(got->nodes[got->best]);
        assert_string_equal(got->verdicts[got->best].facts.pool,
                            want->verdicts[want->best].facts.pool);
        assert_string_equal(got->verdicts[got->best].facts.region,
                            want->verdicts[want->best].facts.region);
    }
    g_clear_pointer(&got, fp_placement_free);
    g_clear_pointer(&want, fp_placement_free);
    check_short_list(view, policy, pod, names, n);
    for (guint i = 0; i < n; i++) {
        g_free(owned[i]);
    }
}

static void test_fast_equals_plain(void **state)
{
    g_autoptr(FpPolicy) a = fp_policy_load_buffer(POLICY, strlen(POLICY), "a.yaml", NULL);
    g_autoptr(FpPolicy) b = fp_policy_new_default();
    assert_non_null(a);
    a->generation = 1;
    b->generation = 2;
    FpView *view = fp_view_new();
    guint64 rng = 4242;
    GPtrArray *nodes = g_ptr_array_new();
    for (guint i = 0; i < N_NODES; i++) {
        g_ptr_array_add(nodes, make_node(i, rng_next(&rng)));
    }
    fp_view_replace_nodes(view, nodes);
    for (guint step = 0; step < 3000; step++) {
        guint64 r = rng_next(&rng);
        guint op = (guint)(r % 100);
        g_autofree char *uid = g_strdup_printf("uid-%u", (guint)((r >> 8) % 80));
        g_autofree char *node = node_name((guint)((r >> 16) % (N_NODES + 2)));
        if (op < 40) {
            fp_view_apply_pod(view, make_pod((guint)((r >> 8) % 80), rng_next(&rng)));
        } else if (op < 50) {
            fp_view_remove_pod(view, uid);
        } else if (op < 62) {
            fp_view_assume(view, uid, "ns", "p", node, GPU, (int64_t)((r >> 24) % 3), 60, NULL);
        } else if (op < 68) {
            fp_view_forget_assumed(view, uid);
        } else if (op < 82) {
            fp_view_apply_node(view, make_node((guint)((r >> 8) % (N_NODES + 2)), rng_next(&rng)));
        } else if (op < 88) {
            fp_view_remove_node(view, node);
        } else if (op < 90) {
            GPtrArray *again = g_ptr_array_new();
            for (guint i = 0; i < N_NODES; i++) {
                g_ptr_array_add(again, make_node(i, rng_next(&rng)));
            }
            fp_view_replace_nodes(view, again);
        }
        /* mostly policy a; now and then b, which (newer) takes the view's
         * facts over, after which a request under a (older) reads the
         * plain way */
        check(view, (r >> 44) % 9 == 0 ? b : a, r);
    }
    fp_view_free(view);
    assert_true(tts_seen > 1000);
    assert_true(tts_refused > 100);
}

/* Readers on the server's path while writers change nodes, pods and
 * assumptions and requests under a newer policy make the view recompute its
 * facts: run under ThreadSanitizer in CI (.ci/test), every answer must
 * still account for every candidate, and no reader may see a torn state. */
typedef struct {
    FpView *view;
    FpPolicy *policies[2];
    gint stop;
    gint evaluations;
    gint bad;
} Race;

static gpointer race_reader(gpointer data)
{
    Race *race = data;
    guint64 rng = 17 + (guint64)(uintptr_t)g_thread_self();
    char *owned[N_NODES + 2];
    const char *names[N_NODES + 2];
    for (guint i = 0; i < N_NODES + 2; i++) {
        owned[i] = node_name(i);
        names[i] = owned[i];
    }
    while (!g_atomic_int_get(&race->stop)) {
        guint64 r = rng_next(&rng);
        g_autoptr(FpPod) pod = request_pod(r);
        FpCandidates c = {.names = names, .n = N_NODES + 2, .best_node_only = true};
        /* mostly the current policy; now and then the other one, which
         * makes the view switch its facts (or read the plain way) */
        const FpPolicy *policy = race->policies[(r >> 20) % 8 == 0];
        g_autoptr(FpPlacement) p = fp_placement_evaluate(race->view, policy, pod, &c);
        /* checked here, asserted on the test's thread (cmocka is not
         * thread-safe) */
        bool ok = p->n == N_NODES + 2;
        for (guint i = 0; ok && i < p->n; i++) {
            ok = p->verdicts[i].pass || p->verdicts[i].reason != NULL;
        }
        if (!ok) {
            g_atomic_int_set(&race->bad, 1);
        }
        g_atomic_int_inc(&race->evaluations);
    }
    for (guint i = 0; i < N_NODES + 2; i++) {
        g_free(owned[i]);
    }
    return NULL;
}

static void test_concurrent_readers_and_writers(void **state)
{
    Race race = {.view = fp_view_new()};
    race.policies[0] = fp_policy_load_buffer(POLICY, strlen(POLICY), "a.yaml", NULL);
    race.policies[1] = fp_policy_new_default();
    race.policies[0]->generation = 1;
    race.policies[1]->generation = 2;
    guint64 rng = 99;
    GPtrArray *nodes = g_ptr_array_new();
    for (guint i = 0; i < N_NODES; i++) {
        g_ptr_array_add(nodes, make_node(i, rng_next(&rng)));
    }
    fp_view_replace_nodes(race.view, nodes);
    GThread *readers[2];
    for (guint i = 0; i < G_N_ELEMENTS(readers); i++) {
        readers[i] = g_thread_new("reader", race_reader, &race);
    }
    /* Write for 1,500 steps and until the readers have evaluated a few
     * times meanwhile (on a loaded machine they may start late), within 30 s. */
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    for (guint step = 0; step < 1500 || (g_atomic_int_get(&race.evaluations) < 20 &&
                                         g_get_monotonic_time() < deadline);
         step++) {
        guint64 r = rng_next(&rng);
        g_autofree char *uid = g_strdup_printf("uid-%u", (guint)((r >> 8) % 80));
        g_autofree char *node = node_name((guint)((r >> 16) % (N_NODES + 2)));
        switch (r % 5) {
        case 0:
        case 1:
            fp_view_apply_pod(race.view, make_pod((guint)((r >> 8) % 80), rng_next(&rng)));
            break;
        case 2:
            fp_view_assume(race.view, uid, "ns", "p", node, GPU, 1, 60, NULL);
            break;
        case 3:
            fp_view_apply_node(race.view,
                               make_node((guint)((r >> 8) % (N_NODES + 2)), rng_next(&rng)));
            break;
        default:
            fp_view_remove_pod(race.view, uid);
            break;
        }
    }
    g_atomic_int_set(&race.stop, 1);
    for (guint i = 0; i < G_N_ELEMENTS(readers); i++) {
        g_thread_join(readers[i]);
    }
    assert_true(g_atomic_int_get(&race.evaluations) > 0);
    assert_false(g_atomic_int_get(&race.bad));
    fp_view_free(race.view);
    fp_policy_unref(race.policies[0]);
    fp_policy_unref(race.policies[1]);
}

/* An older policy never takes the facts back from a newer one. */
static void test_use_policy_generations(void **state)
{
    g_autoptr(FpPolicy) old = fp_policy_new_default();
    g_autoptr(FpPolicy) cur = fp_policy_new_default();
    old->generation = 3;
    cur->generation = 4;
    FpView *view = fp_view_new();
    fp_view_apply_node(view, make_node(1, 77));
    assert_null(fp_view_facts_policy(view));
    fp_view_use_policy(view, cur);
    assert_ptr_equal(fp_view_facts_policy(view), cur);
    fp_view_use_policy(view, old);
    assert_ptr_equal(fp_view_facts_policy(view), cur);
    fp_view_read_lock(view);
    const FpNodeState *st = fp_view_node_locked(view, "n1");
    assert_ptr_equal(st->facts_policy, cur);
    fp_view_read_unlock(view);
    fp_view_free(view);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_equals_plain),
        cmocka_unit_test(test_use_policy_generations),
        cmocka_unit_test(test_concurrent_readers_and_writers),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
