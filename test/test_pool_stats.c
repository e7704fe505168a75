/*
 * test_pool_stats.c - the view's per-pool GPU totals, which follow pod,
 * assumption and Node changes by deltas instead of a rebuild, must equal a
 * rebuild from scratch after every one of thousands of random changes; and
 * the (policy, node) facts cache must answer what fp_node_facts answers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "cache/node_facts.h"
#include "cache/view.h"
#include "support/support.h"

#define GPU "nvidia.com/gpu"
#define N_NODES 12

static guint64 rng_next(guint64 *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static FpNode *make_node(guint i, guint64 r)
{
    g_autofree char *name = g_strdup_printf("n%u", i);
    FpNode *node = fp_node_new(name);
    fp_res_list_set(&node->allocatable, GPU, (int64_t)(r % 9)); /* 0 .. 8 */
    node->ready = (r >> 8) % 5 != 0;
    node->unschedulable = (r >> 12) % 6 == 0;
    if ((r >> 16) % 7 != 0) {
        g_hash_table_replace(node->labels, g_strdup("karpenter.sh/nodepool"),
                             g_strdup_printf("pool-%u", (guint)((r >> 20) % 3)));
    }
    return node;
}

static FpPod *make_pod(guint k, guint64 r)
{
    FpPod *pod = fp_pod_new();
    pod->uid = g_strdup_printf("uid-%u", k);
    pod->ns = g_strdup("ns");
    pod->name = g_strdup_printf("p%u", k);
    if ((r % 4) != 0) {
        pod->node_name = g_strdup_printf("n%u", (guint)((r >> 4) % (N_NODES + 2)));
    }
    pod->phase = (r >> 10) % 9 == 0 ? FP_PHASE_SUCCEEDED : FP_PHASE_RUNNING;
    fp_res_list_set(&pod->requests, GPU, (int64_t)((r >> 14) % 3));
    return pod;
}

typedef struct {
    const FpPolicy *policy;
    GHashTable *stats;
} Fresh;

/* The totals as fp_view_pool_stats_locked documents them, from scratch. */
static void add_fresh(const FpNodeState *st, void *data)
{
    Fresh *f = data;
    if (st->node->unschedulable || !st->node->ready) {
        return;
    }
    FpNodeFacts facts;
    fp_node_facts(f->policy, st->node, &facts);
    int64_t alloc = fp_res_list_get(&st->node->allocatable, GPU);
    if (!*facts.pool || alloc <= 0) {
        return;
    }
    FpPoolStat *ps = g_hash_table_lookup(f->stats, facts.pool);
    if (!ps) {
        ps = g_new0(FpPoolStat, 1);
        g_hash_table_insert(f->stats, g_strdup(facts.pool), ps);
    }
    ps->allocatable += alloc;
    ps->used += fp_res_list_get(&st->used, GPU);
    ps->assumed += fp_res_list_get(&st->assumed, GPU);
}

static void check_stats(FpView *view, const FpPolicy *policy)
{
    fp_view_read_lock(view);
    GHashTable *got = fp_view_pool_stats_locked(view, policy, GPU);
    Fresh f = {policy, g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free)};
    fp_view_foreach_node_locked(view, add_fresh, &f);
    fp_view_read_unlock(view);
    assert_int_equal(g_hash_table_size(got), g_hash_table_size(f.stats));
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, f.stats);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const FpPoolStat *want = v;
        const FpPoolStat *have = g_hash_table_lookup(got, k);
        assert_non_null(have);
        assert_int_equal(have->allocatable, want->allocatable);
        assert_int_equal(have->used, want->used);
        assert_int_equal(have->assumed, want->assumed);
    }
    g_hash_table_unref(got);
    g_hash_table_unref(f.stats);
}

static void test_incremental_equals_rebuild(void **state)
{
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    g_autoptr(FpPolicy) other = fp_policy_new_default();
    FpView *view = fp_view_new();
    guint64 rng = 99;
    GPtrArray *nodes = g_ptr_array_new();
    for (guint i = 0; i < N_NODES; i++) {
        g_ptr_array_add(nodes, make_node(i, rng_next(&rng)));
    }
    fp_view_replace_nodes(view, nodes);
    for (guint step = 0; step < 6000; step++) {
        guint64 r = rng_next(&rng);
        guint op = (guint)(r % 100);
        if (op < 40) {
            fp_view_apply_pod(view, make_pod((guint)((r >> 8) % 60), rng_next(&rng)));
        } else if (op < 50) {
            g_autofree char *uid = g_strdup_printf("uid-%u", (guint)((r >> 8) % 60));
            fp_view_remove_pod(view, uid);
        } else if (op < 65) {
            g_autofree char *uid = g_strdup_printf("uid-%u", (guint)((r >> 8) % 60));
            g_autofree char *node = g_strdup_printf("n%u", (guint)((r >> 16) % (N_NODES + 1)));
            fp_view_assume(view, uid, "ns", "p", node, GPU, (int64_t)((r >> 24) % 3), 60, NULL);
        } else if (op < 72) {
            g_autofree char *uid = g_strdup_printf("uid-%u", (guint)((r >> 8) % 60));
            fp_view_forget_assumed(view, uid);
        } else if (op < 85) {
            fp_view_apply_node(view, make_node((guint)((r >> 8) % (N_NODES + 2)), rng_next(&rng)));
        } else if (op < 90) {
            g_autofree char *name = g_strdup_printf("n%u", (guint)((r >> 8) % (N_NODES + 2)));
            fp_view_remove_node(view, name);
        } else if (op < 92) {
            fp_view_expire_assumed(view);
        } else if (op < 93) {
            GPtrArray *again = g_ptr_array_new();
            for (guint i = 0; i < N_NODES; i++) {
                g_ptr_array_add(again, make_node(i, rng_next(&rng)));
            }
            fp_view_replace_nodes(view, again);
        }
        /* the view's own facts serve the totals of its policy (the other
         * one's come from the facts cache): switch it now and then */
        if (step % 700 == 0) {
            fp_view_use_policy(view, step % 1400 ? other : policy);
        }
        /* mostly one policy; now and then a second one, so entries of
         * several policies are kept and advanced side by side */
        check_stats(view, (r >> 40) % 5 == 0 ? other : policy);
    }
    fp_view_free(view);
}

static void test_facts_cache(void **state)
{
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    guint64 rng = 7;
    FpNode *nodes[20];
    for (guint i = 0; i < 20; i++) {
        nodes[i] = make_node(i, rng_next(&rng));
        g_hash_table_replace(nodes[i]->labels, g_strdup("nvidia.com/gpu.product"),
                             g_strdup(i % 2 ? "NVIDIA-L4" : "NVIDIA-H100-80GB-HBM3"));
    }
    for (guint round = 0; round < 3; round++) {
        FpNodeFacts got[20], want;
        fp_node_facts_cached(policy, (const FpNode *const *)nodes, 20, got, 30);
        for (guint i = 0; i < 20; i++) {
            fp_node_facts(policy, nodes[i], &want);
            assert_string_equal(got[i].pool, want.pool);
            assert_string_equal(got[i].product, want.product);
            assert_true(got[i].gpu_memory_mib == want.gpu_memory_mib);
            assert_true(got[i].price_per_gpu_hour == want.price_per_gpu_hour);
        }
    }
    assert_true(fp_node_facts_cache_size() <= 30);
    for (guint i = 0; i < 20; i++) {
        fp_node_unref(nodes[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_incremental_equals_rebuild),
        cmocka_unit_test(test_facts_cache),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
