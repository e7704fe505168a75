/*
 * test/test_simulate.c - `flexplace simulate -o json` golden outputs.
 *
 * Runs the real binary (FP_BINARY) on the fixtures in test/data/simulate/
 * (a 10-node cluster over four clouds' pool labels with real GFD product
 * strings and memory, a policy whose cheap L4 pool has a 50 % ceiling, and
 * pod manifests) and compares its JSON to test/data/simulate/golden/ files
 * as parsed JSON: same keys, same array lengths, equal strings, numbers
 * within 1e-6 (relative) - so key order and float formatting do not matter.
 * Each scenario also asserts the property it is about (spill-over at the
 * ceiling, unplaced replicas and their reason, stranded GPUs, failover
 * spread), so a regenerated golden cannot silently accept a regression.
 *
 * Regenerate the goldens after an intended change of the output:
 *
 *     FP_UPDATE_GOLDEN=1 ctest -R test_simulate      (or run the executable)
 *
 * then review the diff of test/data/simulate/golden/ before committing.
 *
 * One more run uses a real manifest from the shared data when present
 * (FP_SHARED_DATA; skipped otherwise): it must place every replica on the
 * bundled demo cluster and exit 0 (no golden: the data is not ours).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>

#include "support/support.h"

#define EXIT_UNPLACED 3

typedef FpTestRun Run;
#define run_clear fp_test_run_clear

/* Run `flexplace simulate ARGS...` in test/data/simulate (NULL-terminated). */
static void simulate(Run *r, const char *const *args)
{
    char *dir = fp_test_data_path("simulate");
    fp_test_run_flexplace(r, dir, "simulate", args);
    g_free(dir);
}

/* ---- JSON comparison ----------------------------------------------------- */

static bool numbers_close(double a, double b)
{
    return fabs(a - b) <= 1e-6 * MAX(1.0, MAX(fabs(a), fabs(b)));
}

/* Compare @want and @got; the first difference goes into @diff (path: what). */
static bool json_same(const json_t *want, const json_t *got, const char *path, GString *diff)
{
    if (json_is_number(want) && json_is_number(got)) {
        double a = json_number_value(want), b = json_number_value(got);
        if (!numbers_close(a, b)) {
            g_string_printf(diff, "%s: want %.9g, got %.9g", path, a, b);
            return false;
        }
        return true;
    }
    if (json_typeof(want) != json_typeof(got)) {
        g_string_printf(diff, "%s: want JSON type %d, got %d", path, json_typeof(want),
                        json_typeof(got));
        return false;
    }
    switch (json_typeof(want)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)want, key, value)
        {
            g_autofree char *sub = g_strdup_printf("%s.%s", path, key);
            json_t *other = json_object_get(got, key);
            if (!other) {
                g_string_printf(diff, "%s: missing", sub);
                return false;
            }
            if (!json_same(value, other, sub, diff)) {
                return false;
            }
        }
        json_object_foreach((json_t *)got, key, value)
        {
            if (!json_object_get(want, key)) {
                g_string_printf(diff, "%s.%s: not in the golden file", path, key);
                return false;
            }
        }
        return true;
    }
    case JSON_ARRAY: {
        if (json_array_size(want) != json_array_size(got)) {
            g_string_printf(diff, "%s: want %zu elements, got %zu", path, json_array_size(want),
                            json_array_size(got));
            return false;
        }
        for (size_t i = 0; i < json_array_size(want); i++) {
            g_autofree char *sub = g_strdup_printf("%s[%zu]", path, i);
            if (!json_same(json_array_get(want, i), json_array_get(got, i), sub, diff)) {
                return false;
            }
        }
        return true;
    }
    case JSON_STRING:
        if (strcmp(json_string_value(want), json_string_value(got)) != 0) {
            g_string_printf(diff, "%s: want \"%s\", got \"%s\"", path, json_string_value(want),
                            json_string_value(got));
            return false;
        }
        return true;
    default: /* true, false, null: the types matched */
        return true;
    }
}

/* Run a scenario, check its exit status and compare with golden/@name.json;
 * returns the parsed output (new reference) for scenario-specific checks. */
static json_t *golden_run(const char *name, const char *const *args, int want_status)
{
    Run r = {0};
    simulate(&r, args);
    if (r.status != want_status) {
        char msg[1024];
        g_snprintf(msg, sizeof msg, "%s: exit %d, want %d; stderr: %.800s", name, r.status,
                   want_status, r.err);
        run_clear(&r);
        fail_msg("%s", msg);
    }
    json_error_t jerr;
    json_t *got = json_loads(r.out, 0, &jerr);
    if (!got) {
        char msg[512];
        g_snprintf(msg, sizeof msg, "%s: output is not JSON (%s): %.300s", name, jerr.text, r.out);
        run_clear(&r);
        fail_msg("%s", msg);
    }
    g_autofree char *rel = g_strdup_printf("simulate/golden/%s.json", name);
    g_autofree char *path = fp_test_data_path(rel);
    const char *update = g_getenv("FP_UPDATE_GOLDEN");
    if (update && g_str_equal(update, "1")) {
        char *text = json_dumps(got, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        g_autofree char *with_nl = g_strconcat(text, "\n", NULL);
        free(text);
        assert_true(g_file_set_contents(path, with_nl, -1, NULL));
        print_message("updated %s\n", path);
    }
    json_t *want = json_load_file(path, 0, &jerr);
    if (!want) {
        run_clear(&r);
        json_decref(got);
        fail_msg("%s: cannot read the golden file (%s); regenerate with FP_UPDATE_GOLDEN=1", name,
                 jerr.text);
    }
    GString *diff = g_string_new(NULL);
    bool same = json_same(want, got, "$", diff);
    json_decref(want);
    run_clear(&r);
    if (!same) {
        char msg[1024];
        g_snprintf(msg, sizeof msg, "%s differs from golden/%s.json at %s", name, name, diff->str);
        g_string_free(diff, TRUE);
        json_decref(got);
        fail_msg("%s (if intended: FP_UPDATE_GOLDEN=1)", msg);
    }
    g_string_free(diff, TRUE);
    return got;
}

/* The group of @pool (first match), or NULL. */
static json_t *group_of(json_t *doc, const char *pool)
{
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(doc, "groups"), i, g)
    {
        if (strcmp(json_string_value(json_object_get(g, "pool")), pool) == 0) {
            return g;
        }
    }
    return NULL;
}

static double num(json_t *obj, const char *key)
{
    return json_number_value(json_object_get(obj, key));
}

/* Pool of a node of the fixture cluster, from its name. */
static const char *pool_of_node(const char *node)
{
    static const char *const map[][2] = {
        {"aws-use1-l4-", "use1-l4"},     {"aws-usw2-a10g-", "usw2-a10g"},
        {"aws-use1-h100-", "use1-h100"}, {"aks-gpua100-", "gpua100"},
        {"aks-gput4-", "gput4"},         {"gke-l4-pool-", "l4-pool"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(map); i++) {
        if (g_str_has_prefix(node, map[i][0])) {
            return map[i][1];
        }
    }
    return "?";
}

#define COMMON "--cluster", "cluster.yaml", "--policy", "policy.yaml", "-o", "json"

/* ---- scenarios ------------------------------------------------------------ */

/* The L4 pool (12 GPUs, 1 used, ceiling 50 %) takes 5 replicas, then the
 * burst spills over to the next best pool. */
static void test_spill_over_at_ceiling(void **state)
{
    (void)state;
    const char *args[] = {COMMON, "--pod", "pod-chat.yaml", "--replicas", "8", NULL};
    json_t *doc = golden_run("spill-over", args, 0);
    assert_int_equal(num(doc, "placed"), 8);
    json_t *l4 = group_of(doc, "use1-l4");
    assert_non_null(l4);
    assert_int_equal(num(l4, "replicas"), 5);
    assert_true(num(l4, "utilizationAfter") <= 0.5 + 1e-9);
    assert_true(num(l4, "utilizationAfter") >= 0.5 - 1e-9);
    /* the next best pool: the H100s next door (5.3 ms) beat the A10Gs at
     * 64 ms, latency and cost weighing the same and both on absolute
     * scales */
    json_t *h100 = group_of(doc, "use1-h100");
    assert_non_null(h100);
    assert_int_equal(num(h100, "replicas"), 3);
    /* the L4 replicas come first: the spill starts only at the ceiling */
    json_t *placements = json_object_get(doc, "placements");
    for (size_t i = 0; i < json_array_size(placements); i++) {
        const char *node =
            json_string_value(json_object_get(json_array_get(placements, i), "node"));
        assert_string_equal(pool_of_node(node), i < 5 ? "use1-l4" : "use1-h100");
    }
    json_decref(doc);
}

/* Issue 20, "Done when": a 200-replica burst from us-east-1 against a near
 * (2 ms), a mid (15 ms) and a far (64 ms) pool, each of 80 L4 GPUs with a
 * 90 % ceiling, under the built-in defaults and kube-scheduler's arithmetic
 * (extender score x 10 x 10 plus TaintToleration, random among exact ties):
 * near fills to its ceiling (72), then mid (72), then far, in that order,
 * whatever the seed, with no tie between pools.  Before, the burst
 * alternated between near and mid from the first replica. */
static void test_nearest_first_to_ceiling(void **state)
{
    (void)state;
    static const char *const seeds[] = {"1", "2", "7"};
    for (guint s = 0; s < G_N_ELEMENTS(seeds); s++) {
        const char *args[] = {"--cluster",  "tiers-cluster.yaml",
                              "--policy",   "tiers-policy.yaml",
                              "--pod",      "pod-chat.yaml",
                              "--replicas", "200",
                              "--seed",     seeds[s],
                              "-o",         "json",
                              NULL};
        Run r = {0};
        simulate(&r, args);
        assert_int_equal(r.status, 0);
        json_t *doc = json_loads(r.out, 0, NULL);
        run_clear(&r);
        assert_non_null(doc);
        json_t *placements = json_object_get(doc, "placements");
        assert_int_equal(json_array_size(placements), 200);
        for (size_t i = 0; i < 200; i++) {
            const char *node =
                json_string_value(json_object_get(json_array_get(placements, i), "node"));
            const char *want = i < 72 ? "near-" : i < 144 ? "mid-" : "far-";
            if (!node || !g_str_has_prefix(node, want)) {
                fail_msg("seed %s: replica %zu on %s, want a %snode", seeds[s], i,
                         node ? node : "(none)", want);
            }
        }
        assert_int_equal(num(json_object_get(doc, "ties"), "acrossPools"), 0);
        assert_int_equal(num(doc, "extenderWeight"), 10);
        json_decref(doc);
    }
}

/* kube-scheduler chooses only among the nodes the filter's short list
 * names.  With shortList 1 on the 30 L4 nodes of the tiers cluster (ten
 * alike per pool) it sees one node per replica: no replica may be a tie,
 * though up to ten near nodes score the same; and the burst still fills
 * near first.  Before, simulate chose among every passing node, short
 * list or not (3 of the 20 replicas were ties among near nodes). */
static void test_short_list_bounds_the_choice(void **state)
{
    (void)state;
    g_autofree char *dir = fp_test_data_path("simulate");
    g_autofree char *tiers = g_build_filename(dir, "tiers-policy.yaml", NULL);
    g_autofree char *text = fp_test_read_file(tiers, NULL);
    g_autofree char *tmp = g_dir_make_tmp("fp-sim-XXXXXX", NULL);
    g_autofree char *policy = g_build_filename(tmp, "policy.yaml", NULL);
    g_autofree char *with_list = g_strdup_printf("%s\nshortList: 1\n", text);
    assert_true(g_file_set_contents(policy, with_list, -1, NULL));
    const char *args[] = {"--cluster",  "tiers-cluster.yaml",
                          "--policy",   policy,
                          "--pod",      "pod-chat.yaml",
                          "--replicas", "20",
                          "-o",         "json",
                          NULL};
    Run r = {0};
    simulate(&r, args);
    g_unlink(policy);
    g_rmdir(tmp);
    assert_int_equal(r.status, 0);
    json_t *doc = json_loads(r.out, 0, NULL);
    run_clear(&r);
    assert_non_null(doc);
    assert_int_equal(num(json_object_get(doc, "ties"), "replicas"), 0);
    json_t *placements = json_object_get(doc, "placements");
    assert_int_equal(json_array_size(placements), 20);
    for (size_t i = 0; i < 20; i++) {
        json_t *pl = json_array_get(placements, i);
        assert_int_equal(num(pl, "tiedWith"), 0);
        assert_true(g_str_has_prefix(json_string_value(json_object_get(pl, "node")), "near-"));
    }
    json_decref(doc);
}

/* Two pod files: replicas interleave, each lands by its own demand. */
static void test_mixed_burst(void **state)
{
    (void)state;
    const char *args[] = {
        COMMON, "--pod", "pod-chat.yaml", "--pod", "pod-summarize.yaml", "--replicas", "4", NULL};
    json_t *doc = golden_run("mixed", args, 0);
    assert_int_equal(num(doc, "replicas"), 8);
    assert_int_equal(num(doc, "placed"), 8);
    json_t *placements = json_object_get(doc, "placements");
    assert_string_equal(json_string_value(json_object_get(json_array_get(placements, 0), "pod")),
                        "inference/chat-0");
    assert_string_equal(json_string_value(json_object_get(json_array_get(placements, 1), "pod")),
                        "inference/summarize-0");
    int64_t gpus = 0;
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(doc, "groups"), i, g)
    {
        gpus += (int64_t)num(g, "gpus");
    }
    assert_int_equal(gpus, 4 * 1 + 4 * 2);
    json_decref(doc);
}

/* More replicas than GPUs: every pool fills (the L4 pool past its ceiling by
 * the burst overflow rule, last), and the rest is unplaced with a reason. */
static void test_exhausted_cluster_leaves_replicas_unplaced(void **state)
{
    (void)state;
    const char *args[] = {COMMON, "--pod", "pod-chat.yaml", "--replicas", "30", NULL};
    json_t *doc = golden_run("exhausted", args, EXIT_UNPLACED);
    /* schedulable GPUs: 12 L4 (1 used) + 8 A10G + 8 H100 + 2 A100 = 29 free */
    assert_int_equal(num(doc, "placed"), 29);
    assert_int_equal(num(doc, "unplaced"), 1);
    json_t *last = json_array_get(json_object_get(doc, "placements"), 29);
    assert_true(json_is_null(json_object_get(last, "node")));
    assert_non_null(strstr(json_string_value(json_object_get(last, "reason")), "nvidia.com/gpu"));
    assert_true(num(group_of(doc, "use1-l4"), "utilizationAfter") > 0.99);
    /* no cordoned or NotReady node was used */
    assert_null(group_of(doc, "gput4"));
    assert_null(group_of(doc, "l4-pool"));
    json_decref(doc);
}

/* A 4-GPU pod limited to H100s: two fit on the 8-GPU node, the third is
 * unplaced; the L4 node with 3 free GPUs next to a running pod is stranded
 * for a 4-GPU request. */
static void test_unplaced_with_reason_and_stranded(void **state)
{
    (void)state;
    const char *args[] = {COMMON, "--pod", "pod-h100.yaml", "--replicas", "3", NULL};
    json_t *doc = golden_run("unplaced", args, EXIT_UNPLACED);
    assert_int_equal(num(doc, "placed"), 2);
    assert_int_equal(num(doc, "unplaced"), 1);
    json_t *third = json_array_get(json_object_get(doc, "placements"), 2);
    assert_string_equal(json_string_value(json_object_get(third, "pod")), "research/finetune-2");
    const char *reason = json_string_value(json_object_get(third, "reason"));
    assert_non_null(reason);
    assert_true(*reason);
    assert_int_equal(num(doc, "strandedGPUs"), 3);
    json_t *stranded = json_array_get(json_object_get(doc, "strandedNodes"), 0);
    assert_string_equal(json_string_value(json_object_get(stranded, "node")), "aws-use1-l4-1");
    json_decref(doc);
}

/* 3-GPU replicas on 4-GPU nodes leave single GPUs nobody in the burst can use. */
static void test_stranded_gpus(void **state)
{
    (void)state;
    const char *args[] = {COMMON, "--pod", "pod-embed.yaml", "--replicas", "4", NULL};
    json_t *doc = golden_run("stranded", args, 0);
    assert_int_equal(num(doc, "placed"), 4);
    json_t *nodes = json_object_get(doc, "strandedNodes");
    int64_t sum = 0;
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n)
    {
        assert_true(num(n, "free") > 0 && num(n, "free") < 3);
        sum += (int64_t)num(n, "free");
    }
    assert_true(sum > 0);
    assert_int_equal(num(doc, "strandedGPUs"), sum);
    json_decref(doc);
}

/* spread-min-pools "2": the replicas span at least two pools although one
 * pool alone (the L4 pool, cheapest and nearest) has room for all four. */
static void test_failover_spread(void **state)
{
    (void)state;
    const char *args[] = {COMMON, "--pod", "pod-triage.yaml", "--replicas", "4", NULL};
    json_t *doc = golden_run("spread", args, 0);
    assert_int_equal(num(doc, "placed"), 4);
    GHashTable *pools = g_hash_table_new(g_str_hash, g_str_equal);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(doc, "placements"), i, p)
    {
        g_hash_table_add(pools,
                         (gpointer)pool_of_node(json_string_value(json_object_get(p, "node"))));
    }
    guint n = g_hash_table_size(pools);
    g_hash_table_unref(pools);
    assert_true(n >= 2);
    /* the second replica already goes to another pool */
    const char *first = json_string_value(
        json_object_get(json_array_get(json_object_get(doc, "placements"), 0), "node"));
    const char *second = json_string_value(
        json_object_get(json_array_get(json_object_get(doc, "placements"), 1), "node"));
    assert_string_not_equal(pool_of_node(first), pool_of_node(second));
    json_decref(doc);
}

/* Usage errors exit 2 with a message, never a crash. */
static void test_usage_errors(void **state)
{
    (void)state;
    const char *cases[][8] = {
        {"--cluster", "cluster.yaml", "--pod", "pod-chat.yaml", NULL},
        {"--cluster", "cluster.yaml", "--pod", "pod-chat.yaml", "--replicas", "0", NULL},
        {"--cluster", "cluster.yaml", "--pod", "pod-chat.yaml", "--replicas", "100001", NULL},
        {"--cluster", "cluster.yaml", "--pod", "no-such-file.yaml", "--replicas", "1", NULL},
        {"--cluster", "no-such-cluster.yaml", "--pod", "pod-chat.yaml", "--replicas", "1", NULL},
        {"--cluster", "cluster.yaml", "--pod", "pod-chat.yaml", "--replicas", "1", "-o", NULL},
        {"--cluster", "cluster.yaml", "--pod", "policy.yaml", "--replicas", "1", NULL},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        Run r = {0};
        simulate(&r, cases[i]);
        int status = r.status;
        bool has_message = r.err && *r.err;
        run_clear(&r);
        if (status != 2 || !has_message) {
            fail_msg("usage case %u: exit %d (want 2), stderr %s", i, status,
                     has_message ? "set" : "empty");
        }
    }
}

/* A real inference manifest (vLLM production-stack Deployment) on the
 * bundled demo cluster: every replica placed, exit 0. */
static void test_shared_manifest_on_demo(void **state)
{
    (void)state;
    char *pod = fp_test_shared_data("pods/vllm-production-stack__vllm-gpu-deployment.yaml");
    if (!pod) {
        FP_SKIP("shared-data", "FP_SHARED_DATA not set or pods/ missing");
    }
    const char *args[] = {"--demo", "--pod", pod, "--replicas", "3", "-o", "json", NULL};
    Run r = {0};
    simulate(&r, args);
    g_free(pod);
    json_t *doc = json_loads(r.out, 0, NULL);
    int status = r.status;
    run_clear(&r);
    assert_non_null(doc);
    assert_int_equal(status, 0);
    assert_int_equal(num(doc, "replicas"), 3);
    assert_int_equal(num(doc, "placed"), 3);
    assert_int_equal(num(doc, "unplaced"), 0);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(doc, "placements"), i, p)
    {
        assert_true(json_is_string(json_object_get(p, "node")));
    }
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spill_over_at_ceiling),
        cmocka_unit_test(test_nearest_first_to_ceiling),
        cmocka_unit_test(test_short_list_bounds_the_choice),
        cmocka_unit_test(test_mixed_burst),
        cmocka_unit_test(test_exhausted_cluster_leaves_replicas_unplaced),
        cmocka_unit_test(test_unplaced_with_reason_and_stranded),
        cmocka_unit_test(test_stranded_gpus),
        cmocka_unit_test(test_failover_spread),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_shared_manifest_on_demo),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
