/*
 * test/test_short_list.c - scoring/short_list.c: the heap selection names
 * exactly the K best passing verdicts a full sort would, on random verdicts
 * with many ties; failing verdicts are omitted only when one passes; K = 0
 * and "nothing passes" leave the answer untouched; the tie key spreads pods.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "scoring/short_list.h"
#include "support/support.h"

typedef struct {
    const FpVerdict *v;
    const guint32 *tie;
} SortCtx;

static int by_rank(gconstpointer a, gconstpointer b, gpointer data)
{
    const SortCtx *c = data;
    guint i = *(const guint *)a, j = *(const guint *)b;
    if (fp_short_list_before(&c->v[i], c->tie[i], &c->v[j], c->tie[j])) {
        return -1;
    }
    return fp_short_list_before(&c->v[j], c->tie[j], &c->v[i], c->tie[i]) ? 1 : 0;
}

/* 2,000 random cases: totals from a few levels (ties), some failing. */
static void test_matches_sort(void **state)
{
    GRand *rng = g_rand_new_with_seed(16);
    for (guint round = 0; round < 2000; round++) {
        guint n = (guint)g_rand_int_range(rng, 0, 300);
        guint k = (guint)g_rand_int_range(rng, 0, 40);
        FpVerdict *v = g_new0(FpVerdict, MAX(n, 1));
        guint32 *tie = g_new(guint32, MAX(n, 1));
        guint passing = 0;
        for (guint i = 0; i < n; i++) {
            v[i].pass = g_rand_int_range(rng, 0, 4) != 0;
            v[i].total = g_rand_int_range(rng, 0, 6) / 5.0;
            v[i].score = fp_score_to_extender(v[i].total);
            tie[i] = fp_short_list_tie(round, i * 2654435761u);
            passing += v[i].pass;
        }
        g_autofree FpVerdict *before = g_memdup2(v, sizeof *v * MAX(n, 1));
        g_autofree guint *idx = g_new(guint, MAX(MIN(k, n), 1));
        guint listed = fp_short_list_apply(v, n, tie, k, idx);

        if (k == 0 || passing == 0) {
            assert_int_equal(listed, passing);
            assert_memory_equal(v, before, sizeof *v * n);
        } else {
            assert_int_equal(listed, MIN(passing, k));
            GArray *order = g_array_new(FALSE, FALSE, sizeof(guint));
            for (guint i = 0; i < n; i++) {
                if (v[i].pass) {
                    g_array_append_val(order, i);
                }
            }
            SortCtx c = {v, tie};
            g_array_sort_with_data(order, by_rank, &c);
            for (guint r = 0; r < order->len; r++) {
                guint i = g_array_index(order, guint, r);
                if (v[i].omit != (r >= k)) {
                    fail_msg("round %u: rank %u (total %.1f) omit=%d with K=%u", round, r,
                             v[i].total, v[i].omit, k);
                }
            }
            guint at = 0; /* the indices handed back: the unomitted, in order */
            for (guint i = 0; i < n; i++) {
                assert_true(v[i].pass || v[i].omit); /* no reasons while one passes */
                if (!v[i].omit) {
                    assert_true(at < listed);
                    assert_int_equal(idx[at++], i);
                }
            }
            assert_int_equal(at, listed);
            g_array_unref(order);
        }
        g_free(v);
        g_free(tie);
    }
    g_rand_free(rng);
}

/* Among equals, pods get different subsets; one pod always the same. */
static void test_ties_per_pod(void **state)
{
    enum { N = 100, K = 10, PODS = 50 };
    guint hits[N] = {0};
    for (guint p = 0; p < PODS; p++) {
        char ns[] = "default", pod_name[] = "replica";
        FpPod pod = {.ns = ns, .name = pod_name, .uid = g_strdup_printf("uid-%u", p)};
        guint32 seed = fp_short_list_seed(&pod);
        FpVerdict v[N] = {{0}};
        guint32 tie[N];
        for (guint i = 0; i < N; i++) {
            v[i].pass = true;
            v[i].total = 0.5;
            v[i].score = 5;
            g_autofree char *name = g_strdup_printf("node-%03u", i);
            tie[i] = fp_short_list_tie(seed, g_str_hash(name));
        }
        assert_int_equal(fp_short_list_apply(v, N, tie, K, NULL), K);
        FpVerdict again[N] = {{0}};
        for (guint i = 0; i < N; i++) {
            again[i] = (FpVerdict){.pass = true, .total = 0.5, .score = 5};
        }
        fp_short_list_apply(again, N, tie, K, NULL);
        for (guint i = 0; i < N; i++) {
            assert_int_equal(v[i].omit, again[i].omit);
            hits[i] += !v[i].omit;
        }
        g_free(pod.uid);
    }
    guint covered = 0, most = 0;
    for (guint i = 0; i < N; i++) {
        covered += hits[i] > 0;
        most = MAX(most, hits[i]);
    }
    print_message("50 pods, 10 of 100 equal nodes each: %u nodes listed, at most %u times\n",
                  covered, most);
    assert_true(covered >= 90); /* 100 * (1 - 0.9^50) = 99.5 expected */
    assert_true(most <= 20);    /* 5 expected */
}

/* K per profile, the policy's otherwise, none for a pod without GPUs. */
static void test_size(void **state)
{
    g_autoptr(FpPolicy) policy = fp_policy_new_empty();
    assert_int_equal(policy->short_list, FP_SHORT_LIST_DEFAULT);
    FpProfile *prof = fp_profile_new("p");
    char gpu[] = "nvidia.com/gpu";
    FpDemand d = {.resource = gpu, .profile = prof};
    assert_int_equal(fp_short_list_size(policy, &d), FP_SHORT_LIST_DEFAULT);
    policy->short_list = 7;
    assert_int_equal(fp_short_list_size(policy, &d), 7);
    prof->short_list = 0;
    assert_int_equal(fp_short_list_size(policy, &d), 0);
    prof->short_list = 3;
    assert_int_equal(fp_short_list_size(policy, &d), 3);
    d.resource = NULL;
    assert_int_equal(fp_short_list_size(policy, &d), 0);
    fp_profile_free(prof);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_sort),
        cmocka_unit_test(test_ties_per_pod),
        cmocka_unit_test(test_size),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
