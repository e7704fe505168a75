/*
 * test/test_view.c - assumed GPU allocations in the cluster view
 * (cache/view.h): fp_view_assume / fp_view_forget_assumed /
 * fp_view_expire_assumed, how the watch (fp_view_apply_pod,
 * fp_view_remove_pod) retires them, what pool statistics count, and that
 * concurrent assumptions never over-commit a node.
 *
 * Every view here is built from hand-made FpNode/FpPod objects: GPU counts
 * are exact and each test states the arithmetic it expects.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "cache/clock.h"
#include "cache/view.h"
#include "scoring/engine.h"
#include "scoring/placement_policy.h"
#include "support/support.h"

#define GPU "nvidia.com/gpu"
#define POOL_LABEL "flexplace.io/pool"
#define LONG_TTL 600.0

/* ---- builders ----------------------------------------------------------- */

static FpNode *make_node(const char *name, int64_t gpus, const char *pool)
{
    FpNode *node = fp_node_new(name);
    fp_res_list_set(&node->allocatable, "cpu", 8000);
    fp_res_list_set(&node->allocatable, GPU, gpus);
    if (pool) {
        g_hash_table_insert(node->labels, g_strdup(POOL_LABEL), g_strdup(pool));
    }
    return node;
}

/* A pod requesting @gpus GPUs; bound to @node unless it is NULL. */
static FpPod *make_pod(const char *uid, const char *node, int64_t gpus, FpPodPhase phase)
{
    FpPod *pod = fp_pod_new();
    pod->uid = g_strdup(uid);
    pod->ns = g_strdup("default");
    pod->name = g_strdup_printf("pod-%s", uid);
    pod->node_name = g_strdup(node);
    pod->phase = phase;
    fp_res_list_set(&pod->requests, "cpu", 100);
    fp_res_list_set(&pod->requests, GPU, gpus);
    return pod;
}

static bool assume(FpView *view, const char *uid, const char *node, int64_t gpus, const char **why)
{
    return fp_view_assume(view, uid, "default", uid, node, GPU, gpus, LONG_TTL, why);
}

/* Used / assumed / free GPUs of a node, read under the lock; -1 when the
 * node has no state. */
static int64_t used_of(FpView *view, const char *node)
{
    fp_view_read_lock(view);
    const FpNodeState *st = fp_view_node_locked(view, node);
    int64_t v = st ? fp_res_list_get(&st->used, GPU) : -1;
    fp_view_read_unlock(view);
    return v;
}

static int64_t assumed_of(FpView *view, const char *node)
{
    fp_view_read_lock(view);
    const FpNodeState *st = fp_view_node_locked(view, node);
    int64_t v = st ? fp_res_list_get(&st->assumed, GPU) : -1;
    fp_view_read_unlock(view);
    return v;
}

static int64_t free_of(FpView *view, const char *node)
{
    fp_view_read_lock(view);
    const FpNodeState *st = fp_view_node_locked(view, node);
    int64_t v = -1;
    if (st && st->node) {
        v = fp_res_list_get(&st->node->allocatable, GPU) - fp_res_list_get(&st->used, GPU) -
            fp_res_list_get(&st->assumed, GPU);
    }
    fp_view_read_unlock(view);
    return v;
}

static FpView *view_with_nodes(guint n, int64_t gpus)
{
    FpView *view = fp_view_new();
    for (guint i = 0; i < n; i++) {
        char name[32];
        g_snprintf(name, sizeof name, "n%u", i + 1);
        fp_view_apply_node(view, make_node(name, gpus, "p1"));
    }
    return view;
}

/* ---- assume ------------------------------------------------------------------ */

static void test_assume_records_and_counts(void **state)
{
    (void)state;
    FpView *view = view_with_nodes(2, 4);
    guint64 gen = fp_view_generation(view);
    const char *why = "unset";
    assert_true(assume(view, "a", "n1", 3, &why));
    assert_null(why);
    assert_int_equal(assumed_of(view, "n1"), 3);
    assert_int_equal(used_of(view, "n1"), 0);
    assert_int_equal(free_of(view, "n1"), 1);
    assert_int_equal(assumed_of(view, "n2"), 0);
    assert_int_equal(fp_view_assumed_total(view), 3);
    /* readers (filter's cache of pool stats) must see a new generation */
    assert_true(fp_view_generation(view) > gen);
    char *where = NULL;
    int64_t count = 0;
    assert_true(fp_view_assumed_lookup(view, "a", &where, &count));
    assert_string_equal(where, "n1");
    assert_int_equal(count, 3);
    g_free(where);
    assert_true(fp_view_assumed_lookup(view, "a", NULL, NULL));
    assert_false(fp_view_assumed_lookup(view, "nobody", &where, &count));

    assert_true(assume(view, "b", "n1", 1, &why));
    assert_int_equal(assumed_of(view, "n1"), 4);
    assert_int_equal(free_of(view, "n1"), 0);
    assert_int_equal(fp_view_assumed_total(view), 4);
    fp_view_free(view);
}

static void test_assume_refused_atomically(void **state)
{
    (void)state;
    FpView *view = view_with_nodes(1, 4);
    fp_view_apply_pod(view, make_pod("running", "n1", 1, FP_PHASE_RUNNING));
    const char *why = NULL;
    assert_true(assume(view, "a", "n1", 2, &why));
    /* 1 used + 2 assumed + 2 asked > 4 */
    guint64 gen = fp_view_generation(view);
    assert_false(assume(view, "b", "n1", 2, &why));
    assert_string_equal(why, FP_REASON_INSUFFICIENT_GPUS);
    assert_int_equal(assumed_of(view, "n1"), 2);
    assert_int_equal(used_of(view, "n1"), 1);
    assert_int_equal(fp_view_assumed_total(view), 2);
    assert_int_equal(fp_view_generation(view), gen); /* nothing changed */
    assert_false(fp_view_forget_assumed(view, "b")); /* nothing recorded */
    /* exactly the last GPU still fits */
    assert_true(assume(view, "c", "n1", 1, &why));
    assert_int_equal(free_of(view, "n1"), 0);
    assert_false(assume(view, "d", "n1", 1, &why));
    assert_string_equal(why, FP_REASON_INSUFFICIENT_GPUS);

    /* an unknown node, and a name known only through a pod, are refused */
    assert_false(assume(view, "e", "nowhere", 1, &why));
    assert_string_equal(why, FP_REASON_NOT_IN_VIEW);
    fp_view_apply_pod(view, make_pod("orphan", "ghost", 1, FP_PHASE_RUNNING));
    assert_false(assume(view, "e", "ghost", 1, &why));
    assert_string_equal(why, FP_REASON_NOT_IN_VIEW);
    assert_int_equal(fp_view_assumed_total(view), 3);
    fp_view_free(view);
}

static void test_assume_retry_is_idempotent(void **state)
{
    (void)state;
    FpView *view = view_with_nodes(2, 4);
    const char *why = NULL;
    assert_true(assume(view, "a", "n1", 2, &why));
    assert_true(assume(view, "a", "n1", 2, &why));
    assert_true(assume(view, "a", "n1", 2, &why));
    assert_int_equal(assumed_of(view, "n1"), 2);
    assert_int_equal(fp_view_assumed_total(view), 2);

    /* a pod that holds a whole node: its own assumption must not make the
     * retry fail */
    assert_true(assume(view, "whole", "n2", 4, &why));
    assert_true(assume(view, "whole", "n2", 4, &why));
    assert_int_equal(assumed_of(view, "n2"), 4);
    assert_int_equal(fp_view_assumed_total(view), 6);

    /* a retry to another node moves the assumption */
    assert_true(fp_view_forget_assumed(view, "whole"));
    assert_true(assume(view, "a", "n2", 2, &why));
    assert_int_equal(assumed_of(view, "n1"), 0);
    assert_int_equal(assumed_of(view, "n2"), 2);
    assert_int_equal(fp_view_assumed_total(view), 2);
    fp_view_free(view);
}

/* A retry that does not fit must leave the earlier assumption in place:
 * "returns FALSE and records nothing" means the call has no effect. */
static void test_failed_retry_keeps_earlier_assumption(void **state)
{
    (void)state;
    FpView *view = view_with_nodes(2, 4);
    const char *why = NULL;
    assert_true(assume(view, "a", "n1", 2, &why));
    assert_true(assume(view, "other", "n2", 3, &why));
    /* asking for more than n1 has, and for n2 where only 1 is free */
    assert_false(assume(view, "a", "n1", 5, &why));
    assert_string_equal(why, FP_REASON_INSUFFICIENT_GPUS);
    assert_int_equal(assumed_of(view, "n1"), 2);
    assert_false(assume(view, "a", "n2", 2, &why));
    assert_int_equal(assumed_of(view, "n1"), 2);
    assert_int_equal(assumed_of(view, "n2"), 3);
    assert_int_equal(fp_view_assumed_total(view), 5);
    assert_true(fp_view_forget_assumed(view, "a"));
    assert_int_equal(fp_view_assumed_total(view), 3);
    fp_view_free(view);
}

static void test_forget_rolls_back(void **state)
{
    (void)state;
    FpView *view = view_with_nodes(1, 4);
    const char *why = NULL;
    assert_true(assume(view, "a", "n1", 4, &why));
    assert_false(assume(view, "b", "n1", 1, &why));
    guint64 gen = fp_view_generation(view);
    assert_true(fp_view_forget_assumed(view, "a"));
    assert_true(fp_view_generation(view) > gen);
    assert_int_equal(assumed_of(view, "n1"), 0);
    assert_int_equal(free_of(view, "n1"), 4);
    assert_int_equal(fp_view_assumed_total(view), 0);
    assert_false(fp_view_forget_assumed(view, "a"));
    assert_true(assume(view, "b", "n1", 4, &why));

    /* an assumption can outlive its node; forgetting it afterwards is safe */
    fp_view_remove_node(view, "n1");
    assert_int_equal(fp_view_node_count(view), 0);
    assert_int_equal(assumed_of(view, "n1"), 4);
    assert_true(fp_view_forget_assumed(view, "b"));
    assert_int_equal(assumed_of(view, "n1"), -1); /* the state is gone */
    assert_int_equal(fp_view_assumed_total(view), 0);
    fp_view_free(view);
}

static void test_expire_after_ttl(void **state)
{
    (void)state;
    FpView *view = view_with_nodes(1, 8);
    const char *why = NULL;
    fp_clock_fake_install();
    assert_true(fp_view_assume(view, "short", "default", "short", "n1", GPU, 2, 2.0, &why));
    assert_true(fp_view_assume(view, "long", "default", "long", "n1", GPU, 3, LONG_TTL, &why));
    assert_int_equal(fp_view_assumed_total(view), 5);
    /* a microsecond before its TTL ends, nothing is due */
    fp_clock_fake_advance(2 * G_USEC_PER_SEC - 1);
    assert_int_equal(fp_view_expire_assumed(view), 0);
    fp_clock_fake_advance(1);
    guint64 gen = fp_view_generation(view);
    assert_int_equal(fp_view_expire_assumed(view), 1);
    assert_true(fp_view_generation(view) > gen);
    assert_int_equal(fp_view_assumed_total(view), 3);
    assert_int_equal(assumed_of(view, "n1"), 3);
    assert_false(fp_view_forget_assumed(view, "short"));
    /* nothing left to expire: no work, no new generation */
    gen = fp_view_generation(view);
    assert_int_equal(fp_view_expire_assumed(view), 0);
    assert_int_equal(fp_view_generation(view), gen);
    fp_clock_fake_remove();
    fp_view_free(view);
}

/* A bind whose outcome is unknown keeps its GPUs: a definite failure of a
 * retry does not free them, a retry elsewhere leaves them held (both
 * count), and they end only when the watch shows the pod bound or gone,
 * the API server confirms the binding, or the TTL ends. */
static void test_unknown_outcome_is_held(void **state)
{
    (void)state;
    FpView *view = view_with_nodes(2, 4);
    const char *why = NULL;
    fp_clock_fake_install();
    fp_view_apply_pod(view, make_pod("a", NULL, 3, FP_PHASE_PENDING));
    assert_true(assume(view, "a", "n1", 3, &why));
    assert_true(fp_view_hold_assumed(view, "a"));
    assert_int_equal(fp_view_held_count(view), 1);
    /* a retry on the same node that then fails definitively: still held */
    assert_true(assume(view, "a", "n1", 3, &why));
    assert_false(fp_view_forget_assumed(view, "a"));
    assert_int_equal(assumed_of(view, "n1"), 3);
    /* the next pod cannot take those GPUs */
    fp_view_apply_pod(view, make_pod("b", NULL, 2, FP_PHASE_PENDING));
    assert_false(assume(view, "b", "n1", 2, &why));
    /* a retry of a to n2: n1 stays held, n2 is assumed too */
    assert_true(assume(view, "a", "n2", 3, &why));
    assert_int_equal(assumed_of(view, "n1"), 3);
    assert_int_equal(assumed_of(view, "n2"), 3);
    assert_int_equal(fp_view_assumed_total(view), 6);
    assert_int_equal(fp_view_held_count(view), 1); /* the new one's outcome is its own */
    /* n2's outcome is unknown too; back to n1: its own held GPUs there do
     * not count against it, and n2 stays held */
    assert_true(fp_view_hold_assumed(view, "a"));
    assert_true(assume(view, "a", "n1", 3, &why));
    assert_int_equal(assumed_of(view, "n1"), 3);
    assert_int_equal(assumed_of(view, "n2"), 3);
    assert_int_equal(fp_view_held_count(view), 2);
    /* the watch shows a bound on n2: every record of a goes, its usage counts */
    fp_view_apply_pod(view, make_pod("a", "n2", 3, FP_PHASE_PENDING));
    assert_int_equal(assumed_of(view, "n1"), 0);
    assert_int_equal(assumed_of(view, "n2"), 0);
    assert_int_equal(used_of(view, "n2"), 3);
    assert_int_equal(fp_view_held_count(view), 0);

    /* the API server confirms c on n2: the held one on n1 cannot commit */
    fp_view_apply_pod(view, make_pod("c", NULL, 1, FP_PHASE_PENDING));
    assert_true(assume(view, "c", "n1", 1, &why));
    fp_view_hold_assumed(view, "c");
    assert_true(assume(view, "c", "n2", 1, &why));
    assert_int_equal(fp_view_settle_assumed(view, "c", "n2"), 1);
    assert_int_equal(assumed_of(view, "n1"), 0);
    assert_int_equal(assumed_of(view, "n2"), 1);
    fp_view_remove_pod(view, "c");
    assert_int_equal(fp_view_assumed_total(view), 0);

    /* gone: a deleted pod's held GPUs go */
    fp_view_apply_pod(view, make_pod("d", NULL, 1, FP_PHASE_PENDING));
    assert_true(assume(view, "d", "n1", 1, &why));
    fp_view_hold_assumed(view, "d");
    fp_view_remove_pod(view, "d");
    assert_int_equal(fp_view_assumed_total(view), 0);

    /* neither: the TTL ends them, held ones on other nodes included */
    fp_view_apply_pod(view, make_pod("e", NULL, 1, FP_PHASE_PENDING));
    assert_true(assume(view, "e", "n1", 1, &why));
    fp_view_hold_assumed(view, "e");
    assert_true(assume(view, "e", "n2", 1, &why));
    fp_clock_fake_advance((gint64)LONG_TTL * G_USEC_PER_SEC);
    assert_int_equal(fp_view_expire_assumed(view), 2);
    assert_int_equal(fp_view_assumed_total(view), 0);
    assert_int_equal(fp_view_held_count(view), 0);
    fp_clock_fake_remove();
    fp_view_free(view);
}

/* ---- the watch retires assumptions ---------------------------------------- */

static void test_bound_pod_replaces_assumption(void **state)
{
    (void)state;
    FpView *view = view_with_nodes(2, 4);
    const char *why = NULL;
    fp_view_apply_pod(view, make_pod("a", NULL, 2, FP_PHASE_PENDING));
    assert_true(assume(view, "a", "n1", 2, &why));
    assert_int_equal(free_of(view, "n1"), 2);

    /* a pending update (a label, a status) keeps the assumption */
    fp_view_apply_pod(view, make_pod("a", NULL, 2, FP_PHASE_PENDING));
    assert_int_equal(assumed_of(view, "n1"), 2);
    assert_int_equal(fp_view_assumed_total(view), 2);

    /* the watch shows it bound: its requests count, the assumption goes */
    fp_view_apply_pod(view, make_pod("a", "n1", 2, FP_PHASE_PENDING));
    assert_int_equal(assumed_of(view, "n1"), 0);
    assert_int_equal(used_of(view, "n1"), 2);
    assert_int_equal(free_of(view, "n1"), 2); /* not 0: no double count */
    assert_int_equal(fp_view_assumed_total(view), 0);

    /* once bound, assuming it on its own node is a no-op success, on
     * another node a refusal */
    assert_true(assume(view, "a", "n1", 2, &why));
    assert_int_equal(assumed_of(view, "n1"), 0);
    assert_false(assume(view, "a", "n2", 2, &why));
    assert_non_null(why);
    assert_int_equal(fp_view_assumed_total(view), 0);

    /* bound elsewhere than assumed (someone else bound it): the assumption
     * on n2 goes, the usage lands on n1 */
    fp_view_apply_pod(view, make_pod("b", NULL, 1, FP_PHASE_PENDING));
    assert_true(assume(view, "b", "n2", 1, &why));
    fp_view_apply_pod(view, make_pod("b", "n1", 1, FP_PHASE_RUNNING));
    assert_int_equal(assumed_of(view, "n2"), 0);
    assert_int_equal(used_of(view, "n1"), 3);

    /* a pod that finished before the watch showed it bound */
    fp_view_apply_pod(view, make_pod("c", NULL, 1, FP_PHASE_PENDING));
    assert_true(assume(view, "c", "n2", 1, &why));
    fp_view_apply_pod(view, make_pod("c", NULL, 1, FP_PHASE_FAILED));
    assert_int_equal(assumed_of(view, "n2"), 0);
    assert_int_equal(fp_view_assumed_total(view), 0);
    fp_view_free(view);
}

static void test_deleted_pod_drops_assumption(void **state)
{
    (void)state;
    FpView *view = view_with_nodes(1, 4);
    const char *why = NULL;
    fp_view_apply_pod(view, make_pod("a", NULL, 3, FP_PHASE_PENDING));
    assert_true(assume(view, "a", "n1", 3, &why));
    /* a pod the view never saw (watch lag) can be assumed too */
    assert_true(assume(view, "unseen", "n1", 1, &why));
    assert_int_equal(free_of(view, "n1"), 0);
    fp_view_remove_pod(view, "a");
    assert_int_equal(assumed_of(view, "n1"), 1);
    assert_int_equal(fp_view_pod_count(view), 0);
    fp_view_remove_pod(view, "unseen");
    assert_int_equal(assumed_of(view, "n1"), 0);
    assert_int_equal(free_of(view, "n1"), 4);
    assert_int_equal(fp_view_assumed_total(view), 0);
    fp_view_free(view);
}

/* A relist (fp_view_replace_pods) that shows the pod bound retires the
 * assumption as an event would; one that does not show it keeps it. */
static void test_relist_retires_assumption(void **state)
{
    (void)state;
    FpView *view = view_with_nodes(1, 4);
    const char *why = NULL;
    assert_true(assume(view, "a", "n1", 2, &why));
    assert_true(assume(view, "b", "n1", 1, &why));
    GPtrArray *pods = g_ptr_array_new();
    g_ptr_array_add(pods, make_pod("a", "n1", 2, FP_PHASE_RUNNING));
    g_ptr_array_add(pods, make_pod("b", NULL, 1, FP_PHASE_PENDING));
    fp_view_replace_pods(view, pods);
    assert_int_equal(used_of(view, "n1"), 2);
    assert_int_equal(assumed_of(view, "n1"), 1);
    assert_int_equal(free_of(view, "n1"), 1);
    fp_view_free(view);
}

/* A relist from the API server (fp_view_replace_pods_listed) that no
 * longer contains a pod releases its assumptions, held ones and those a
 * retry left on another node included, as a DELETED event would: the pod
 * was deleted while the watch was down.  Assumptions recorded after the
 * list began (after its mark) stay: the list may predate their pod.  A pod
 * the list shows pending keeps its assumption. */
static void test_relist_without_pod_releases_assumption(void **state)
{
    (void)state;
    FpView *view = view_with_nodes(2, 4);
    const char *why = NULL;
    fp_view_apply_pod(view, make_pod("gone", NULL, 2, FP_PHASE_PENDING));
    fp_view_apply_pod(view, make_pod("moved", NULL, 1, FP_PHASE_PENDING));
    fp_view_apply_pod(view, make_pod("pending", NULL, 1, FP_PHASE_PENDING));
    assert_true(assume(view, "gone", "n1", 2, &why));
    assert_true(fp_view_hold_assumed(view, "gone"));
    /* held on n1, then retried on n2: held on both */
    assert_true(assume(view, "moved", "n1", 1, &why));
    assert_true(fp_view_hold_assumed(view, "moved"));
    assert_true(assume(view, "moved", "n2", 1, &why));
    assert_true(assume(view, "pending", "n2", 1, &why));
    guint64 mark = fp_view_assume_mark(view);
    /* recorded while the list is in flight: its pod may be newer */
    assert_true(assume(view, "newer", "n2", 1, &why));
    assert_int_equal(fp_view_held_count(view), 2);
    assert_int_equal(fp_view_assumed_total(view), 6);

    GPtrArray *pods = g_ptr_array_new();
    g_ptr_array_add(pods, make_pod("pending", NULL, 1, FP_PHASE_PENDING));
    assert_int_equal(fp_view_replace_pods_listed(view, pods, mark), 3);
    assert_int_equal(fp_view_held_count(view), 0);
    assert_int_equal(assumed_of(view, "n1"), 0);
    assert_int_equal(free_of(view, "n1"), 4);
    assert_int_equal(assumed_of(view, "n2"), 2); /* pending and newer */
    assert_true(fp_view_assumed_lookup(view, "pending", NULL, NULL));
    assert_true(fp_view_assumed_lookup(view, "newer", NULL, NULL));

    /* a snapshot replace (mark 0) releases nothing */
    fp_view_replace_pods(view, g_ptr_array_new());
    assert_int_equal(assumed_of(view, "n2"), 2);
    fp_view_free(view);
}

/* ---- pool statistics ----------------------------------------------------- */

static const FpPoolStat *stat_of(GHashTable *stats, const char *pool)
{
    return g_hash_table_lookup(stats, pool);
}

static void test_pool_stats_count_assumed_and_skip_unusable(void **state)
{
    (void)state;
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    FpView *view = fp_view_new();
    fp_view_apply_node(view, make_node("p1-a", 4, "p1"));
    FpNode *cordoned = make_node("p1-cordoned", 4, "p1");
    cordoned->unschedulable = true;
    fp_view_apply_node(view, cordoned);
    FpNode *notready = make_node("p1-notready", 4, "p1");
    notready->ready = false;
    fp_view_apply_node(view, notready);
    fp_view_apply_node(view, make_node("p2-a", 8, "p2"));
    fp_view_apply_node(view, make_node("no-pool", 8, NULL));
    fp_view_apply_node(view, make_node("p3-cpu-only", 0, "p3"));
    fp_view_apply_pod(view, make_pod("run", "p1-a", 1, FP_PHASE_RUNNING));
    fp_view_apply_pod(view, make_pod("on-cordoned", "p1-cordoned", 2, FP_PHASE_RUNNING));
    const char *why = NULL;
    assert_true(assume(view, "a", "p1-a", 2, &why));
    assert_true(assume(view, "b", "p2-a", 3, &why));
    assert_true(assume(view, "c", "p1-cordoned", 1, &why)); /* the view itself does not filter */

    fp_view_read_lock(view);
    GHashTable *stats = fp_view_pool_stats_locked(view, policy, GPU);
    fp_view_read_unlock(view);
    assert_int_equal(g_hash_table_size(stats), 2); /* p1, p2; no-pool and p3 left out */
    const FpPoolStat *p1 = stat_of(stats, "p1");
    assert_non_null(p1);
    assert_int_equal(p1->allocatable, 4); /* cordoned and NotReady nodes left out */
    assert_int_equal(p1->used, 1);
    assert_int_equal(p1->assumed, 2);
    const FpPoolStat *p2 = stat_of(stats, "p2");
    assert_non_null(p2);
    assert_int_equal(p2->allocatable, 8);
    assert_int_equal(p2->used, 0);
    assert_int_equal(p2->assumed, 3);
    g_hash_table_unref(stats);

    /* the cached table must not survive a change of the view */
    assert_true(assume(view, "d", "p1-a", 1, &why));
    fp_view_read_lock(view);
    stats = fp_view_pool_stats_locked(view, policy, GPU);
    fp_view_read_unlock(view);
    assert_int_equal(stat_of(stats, "p1")->assumed, 3);
    g_hash_table_unref(stats);
    assert_true(fp_view_forget_assumed(view, "a"));
    fp_view_read_lock(view);
    stats = fp_view_pool_stats_locked(view, policy, GPU);
    fp_view_read_unlock(view);
    assert_int_equal(stat_of(stats, "p1")->assumed, 1);
    g_hash_table_unref(stats);
    fp_view_free(view);
}

/* ---- concurrency ----------------------------------------------------------- */

#define CONC_NODES 16
#define CONC_GPUS 4
#define CONC_THREADS 8
#define CONC_ATTEMPTS 64 /* per thread: every node 4 times */

typedef struct {
    FpView *view;
    guint index;
    gint *go;
    guint ok;
    guint refused;
    guint wrong_reason; /* cmocka asserts only work on the main thread */
} Worker;

static gpointer assume_worker(gpointer data)
{
    Worker *w = data;
    while (!g_atomic_int_get(w->go)) {
        g_thread_yield();
    }
    for (guint j = 0; j < CONC_ATTEMPTS; j++) {
        char uid[32];
        char node[32];
        g_snprintf(uid, sizeof uid, "w%u-%u", w->index, j);
        /* threads start on different nodes and sweep all of them */
        g_snprintf(node, sizeof node, "n%u", (j + w->index * 2) % CONC_NODES + 1);
        const char *why = NULL;
        if (fp_view_assume(w->view, uid, "default", uid, node, GPU, 1, LONG_TTL, &why)) {
            w->ok++;
        } else {
            w->refused++;
            w->wrong_reason += !why || strcmp(why, FP_REASON_INSUFFICIENT_GPUS) != 0;
        }
    }
    return NULL;
}

typedef struct {
    FpView *view;
    gint *stop;
    guint rounds;
    guint violations;
} Checker;

static void check_capacity(const FpNodeState *st, void *data)
{
    Checker *c = data;
    int64_t alloc = fp_res_list_get(&st->node->allocatable, GPU);
    if (fp_res_list_get(&st->used, GPU) + fp_res_list_get(&st->assumed, GPU) > alloc) {
        c->violations++;
    }
}

static gpointer checker_thread(gpointer data)
{
    Checker *c = data;
    while (!g_atomic_int_get(c->stop)) {
        fp_view_read_lock(c->view);
        fp_view_foreach_node_locked(c->view, check_capacity, c);
        fp_view_read_unlock(c->view);
        c->rounds++;
    }
    return NULL;
}

static void test_concurrent_assume_never_exceeds_capacity(void **state)
{
    (void)state;
    FpView *view = view_with_nodes(CONC_NODES, CONC_GPUS);
    gint go = 0;
    gint stop = 0;
    Worker workers[CONC_THREADS];
    GThread *threads[CONC_THREADS];
    for (guint i = 0; i < CONC_THREADS; i++) {
        workers[i] = (Worker){.view = view, .index = i, .go = &go};
        threads[i] = g_thread_new("assume", assume_worker, &workers[i]);
    }
    Checker checker = {.view = view, .stop = &stop};
    GThread *check = g_thread_new("check", checker_thread, &checker);
    g_atomic_int_set(&go, 1);
    guint ok = 0;
    guint refused = 0;
    guint wrong_reason = 0;
    for (guint i = 0; i < CONC_THREADS; i++) {
        g_thread_join(threads[i]);
        ok += workers[i].ok;
        refused += workers[i].refused;
        wrong_reason += workers[i].wrong_reason;
    }
    g_atomic_int_set(&stop, 1);
    g_thread_join(check);
    print_message("%u assumed, %u refused; checker ran %u rounds\n", ok, refused, checker.rounds);
    assert_int_equal(ok, CONC_NODES * CONC_GPUS);
    assert_int_equal(ok + refused, CONC_THREADS * CONC_ATTEMPTS);
    assert_int_equal(wrong_reason, 0);
    assert_int_equal(checker.violations, 0);
    assert_int_equal(fp_view_assumed_total(view), CONC_NODES * CONC_GPUS);
    for (guint i = 0; i < CONC_NODES; i++) {
        char name[32];
        g_snprintf(name, sizeof name, "n%u", i + 1);
        assert_int_equal(assumed_of(view, name), CONC_GPUS);
    }
    fp_view_free(view);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assume_records_and_counts),
        cmocka_unit_test(test_assume_refused_atomically),
        cmocka_unit_test(test_assume_retry_is_idempotent),
        cmocka_unit_test(test_failed_retry_keeps_earlier_assumption),
        cmocka_unit_test(test_forget_rolls_back),
        cmocka_unit_test(test_expire_after_ttl),
        cmocka_unit_test(test_unknown_outcome_is_held),
        cmocka_unit_test(test_relist_without_pod_releases_assumption),
        cmocka_unit_test(test_bound_pod_replaces_assumption),
        cmocka_unit_test(test_deleted_pod_drops_assumption),
        cmocka_unit_test(test_relist_retires_assumption),
        cmocka_unit_test(test_pool_stats_count_assumed_and_skip_unusable),
        cmocka_unit_test(test_concurrent_assume_never_exceeds_capacity),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
