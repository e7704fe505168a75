/*
 * test/test_decisions.c - the decision ring (extender/server/decisions.h)
 * keeps, of a placement with more passing nodes than it holds, the best
 * ones best first (higher total, then request order), then the rejected
 * ones in request order, whatever the order of the request.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "extender/server/decisions.h"
#include "support/support.h"

enum { N = 600, KEEP = 50 };

typedef struct {
    const FpVerdict *v;
} Ctx;

static gint expected_order(gconstpointer a, gconstpointer b, gpointer data)
{
    const Ctx *c = data;
    guint i = *(const guint *)a, j = *(const guint *)b;
    if (c->v[i].total != c->v[j].total) {
        return c->v[i].total > c->v[j].total ? -1 : 1;
    }
    return i < j ? -1 : i > j;
}

static void test_keeps_best_first(void **state)
{
    GRand *rng = g_rand_new_with_seed(600);
    for (guint round = 0; round < 20; round++) {
        FpVerdict *v = g_new0(FpVerdict, N);
        char **names = g_new0(char *, N + 1);
        for (guint i = 0; i < N; i++) {
            names[i] = g_strdup_printf("node-%03u", i);
            v[i].pass = g_rand_int_range(rng, 0, 5) != 0;
            /* few levels: many exact ties */
            v[i].total = v[i].pass ? g_rand_int_range(rng, 0, 8) / 8.0 : 0;
            v[i].reason = v[i].pass ? NULL : "insufficient free GPUs";
        }
        FpDemand demand = {.profile_name = (char *)"default"};
        FpPlacement p = {.n = N, .verdicts = v, .demand = &demand, .best = -1};
        FpPod pod = {.ns = (char *)"default", .name = (char *)"infer-0", .uid = (char *)"u"};
        FpDecisionRing *ring = fp_decision_ring_new(4, KEEP);
        fp_decision_record(ring, "filter", &pod, &p, (const char *const *)names, 1, 0, NULL);

        GArray *want = g_array_new(FALSE, FALSE, sizeof(guint));
        for (guint i = 0; i < N; i++) {
            if (v[i].pass) {
                g_array_append_val(want, i);
            }
        }
        Ctx c = {v};
        g_array_sort_with_data(want, expected_order, &c);
        g_array_set_size(want, MIN(want->len, KEEP));
        for (guint i = 0; i < N && want->len < KEEP; i++) {
            if (!v[i].pass) {
                g_array_append_val(want, i);
            }
        }
        json_t *list = fp_decision_ring_query(ring, "default", "infer-0");
        json_t *got = json_object_get(json_array_get(list, 0), "verdicts");
        assert_int_equal(json_array_size(got), KEEP);
        for (guint k = 0; k < KEEP; k++) {
            const char *node = json_string_value(json_object_get(json_array_get(got, k), "node"));
            assert_string_equal(node, names[g_array_index(want, guint, k)]);
        }
        json_decref(list);
        g_array_unref(want);
        fp_decision_ring_free(ring);
        g_strfreev(names);
        g_free(v);
    }
    g_rand_free(rng);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keeps_best_first),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
