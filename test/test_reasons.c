/*
 * test/test_reasons.c - fp_count_reasons (extender/server/reasons.h): every
 * rejected verdict is counted once under its reason, passing ones are
 * returned, and past 32 distinct reasons nothing is lost.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "extender/server/reasons.h"
#include "support/support.h"

static void add_count(const char *reason, guint count, void *data)
{
    GHashTable *totals = data;
    guint c = GPOINTER_TO_UINT(g_hash_table_lookup(totals, reason));
    g_hash_table_insert(totals, g_strdup(reason), GUINT_TO_POINTER(c + count));
}

static guint total(GHashTable *totals, const char *reason)
{
    return GPOINTER_TO_UINT(g_hash_table_lookup(totals, reason));
}

static void test_counts_by_reason(void **state)
{
    FpVerdict v[7];
    memset(v, 0, sizeof v);
    const char *a = "insufficient GPUs";
    const char *b = "SKU not allowed";
    v[0].reason = a;
    v[1].pass = true;
    v[2].reason = b;
    v[3].reason = a;
    v[4].pass = true;
    v[5].reason = NULL; /* no reason given */
    v[6].reason = a;
    FpPlacement p = {.n = G_N_ELEMENTS(v), .verdicts = v};
    g_autoptr(GHashTable) totals = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    assert_int_equal(fp_count_reasons(&p, add_count, totals), 2);
    assert_int_equal(g_hash_table_size(totals), 3);
    assert_int_equal(total(totals, a), 3);
    assert_int_equal(total(totals, b), 1);
    assert_int_equal(total(totals, "rejected"), 1);
}

static void test_many_distinct_reasons(void **state)
{
    /* 40 distinct reasons (more than the tally's list), two nodes each. */
    enum { DISTINCT = 40 };
    char names[DISTINCT][16];
    FpVerdict v[2 * DISTINCT];
    memset(v, 0, sizeof v);
    for (guint i = 0; i < DISTINCT; i++) {
        g_snprintf(names[i], sizeof names[i], "reason-%u", i);
        v[i].reason = names[i];
        v[DISTINCT + i].reason = names[i];
    }
    FpPlacement p = {.n = G_N_ELEMENTS(v), .verdicts = v};
    g_autoptr(GHashTable) totals = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    assert_int_equal(fp_count_reasons(&p, add_count, totals), 0);
    assert_int_equal(g_hash_table_size(totals), DISTINCT);
    for (guint i = 0; i < DISTINCT; i++) {
        assert_int_equal(total(totals, names[i]), 2);
    }
}

/* A placement that counted its reasons while it was built (placement.h)
 * is reported from that tally, without reading its verdicts. */
static void test_counted_when_built(void **state)
{
    FpPlacement p = {
        .n = 5, .verdicts = NULL, .passed = 2, .reasons_counted = true, .n_reasons = 2};
    p.reasons[0] = "a";
    p.reason_counts[0] = 2;
    p.reasons[1] = "b";
    p.reason_counts[1] = 1;
    g_autoptr(GHashTable) totals = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    assert_int_equal(fp_count_reasons(&p, add_count, totals), 2);
    assert_int_equal(g_hash_table_size(totals), 2);
    assert_int_equal(total(totals, "a"), 2);
    assert_int_equal(total(totals, "b"), 1);
}

static void test_empty(void **state)
{
    FpPlacement p = {.n = 0, .verdicts = NULL};
    g_autoptr(GHashTable) totals = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    assert_int_equal(fp_count_reasons(&p, add_count, totals), 0);
    assert_int_equal(g_hash_table_size(totals), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_by_reason),
        cmocka_unit_test(test_many_distinct_reasons),
        cmocka_unit_test(test_counted_when_built),
        cmocka_unit_test(test_empty),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
