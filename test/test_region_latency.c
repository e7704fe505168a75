/*
 * test/test_region_latency.c - the built-in inter-region round trips
 * (scoring/region_latency.h): the generated tables, the cross-cloud rule,
 * the policy's precedence, agreement with the shared reference data, and
 * the shipped policy placing latency-critical pods on the shipped demo.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <glib/gstdio.h>
#include <jansson.h>
#include <unistd.h>

#include "policies/policy_load.h"
#include "scoring/placement_policy.h"
#include "scoring/region_latency.h"
#include "support/support.h"

static void assert_near(double got, double want)
{
    if (fabs(got - want) > 1e-9) {
        fail_msg("got %.10g, want %.10g", got, want);
    }
}

/* Binary search needs sorted, unique keys; every value a plausible RTT. */
static void test_tables_sorted(void **state)
{
    assert_true(fp_builtin_rtt_len > 1000);
    for (size_t i = 0; i < fp_builtin_rtt_len; i++) {
        const FpBuiltinRtt *e = &fp_builtin_rtt[i];
        assert_true(strcmp(e->a, e->b) < 0);
        assert_true(isfinite(e->ms) && e->ms > 0 && e->ms < 1000);
        if (i > 0) {
            const FpBuiltinRtt *p = &fp_builtin_rtt[i - 1];
            int c = strcmp(p->a, e->a);
            assert_true(c < 0 || (c == 0 && strcmp(p->b, e->b) < 0));
        }
    }
    for (size_t i = 1; i < fp_builtin_regions_len; i++) {
        assert_true(strcmp(fp_builtin_regions[i - 1].region, fp_builtin_regions[i].region) < 0);
    }
    for (size_t i = 0; i < fp_builtin_regions_len; i++) {
        assert_ptr_equal(fp_builtin_region(fp_builtin_regions[i].region), &fp_builtin_regions[i]);
    }
    assert_null(fp_builtin_region("mars-1"));
    assert_null(fp_builtin_region(""));
}

/* Within a cloud: the measured pair, either order.  Across clouds: a twin
 * in the same metro plus FP_CROSS_CLOUD_HOP_MS; no twin on either side:
 * unknown. */
static double two_ms(const char *region, const void *ctx)
{
    return 2;
}

static void test_cross_cloud_rule(void **state)
{
    double ms = 0, ab = 0, ba = 0;
    assert_true(fp_builtin_latency("us-east-1", "us-west-2", two_ms, NULL, &ab));
    assert_true(fp_builtin_latency("us-west-2", "us-east-1", two_ms, NULL, &ba));
    assert_near(ab, ba);
    /* eastus (Azure, Virginia) and us-east-1 (AWS, N. Virginia): twins */
    assert_true(fp_builtin_latency("eastus", "us-east-1", two_ms, NULL, &ms));
    assert_near(ms, 2 + FP_CROSS_CLOUD_HOP_MS);
    /* eastus -> us-east-2: AWS's us-east-1 -> us-east-2, plus the hop */
    double aws = 0;
    assert_true(fp_builtin_latency("us-east-1", "us-east-2", two_ms, NULL, &aws));
    assert_true(fp_builtin_latency("eastus", "us-east-2", two_ms, NULL, &ms));
    assert_near(ms, aws + FP_CROSS_CLOUD_HOP_MS);
    /* the smaller of the two estimates: eastus -> us-east5 (GCP, Ohio) via
     * us-east4 (eastus's twin in GCP) */
    double via_gcp = 0;
    assert_true(fp_builtin_latency("us-east4", "us-east5", two_ms, NULL, &via_gcp));
    assert_true(fp_builtin_latency("eastus", "us-east5", two_ms, NULL, &ms));
    assert_near(ms, via_gcp + FP_CROSS_CLOUD_HOP_MS);
    /* af-south-1 (Cape Town) has no twin, nor has westus2: unknown */
    assert_false(fp_builtin_latency("af-south-1", "westus2", two_ms, NULL, &ms));
    assert_false(fp_builtin_latency("eastus", "mars-1", two_ms, NULL, &ms));
}

/* The policy's matrix wins; builtin_latency off falls back to the default. */
static void test_policy_precedence(void **state)
{
    g_autoptr(FpPolicy) p = fp_policy_new_default();
    bool known = false;
    double builtin = fp_policy_latency(p, "eastus", "westeurope", &known);
    assert_true(known);
    assert_true(builtin > 50);
    double *v = g_new(double, 1);
    *v = 42;
    g_hash_table_replace(p->latency, fp_policy_latency_key("westeurope", "eastus"), v);
    assert_near(fp_policy_latency(p, "eastus", "westeurope", &known), 42);
    /* a region to itself: sameRegionLatencyMs, not the tables */
    assert_near(fp_policy_latency(p, "us-east-1", "us-east-1", &known), p->same_region_latency_ms);
    assert_true(fp_policy_knows_region(p, "us-central1"));
    assert_false(fp_policy_knows_region(p, "mars-1"));
    p->builtin_latency = false;
    assert_near(fp_policy_latency(p, "eastus", "japaneast", &known), p->default_latency_ms);
    assert_false(known);
    assert_true(fp_policy_knows_region(p, "westeurope")); /* named in the matrix */
    assert_false(fp_policy_knows_region(p, "japaneast"));
}

/* Every measured pair of the shared reference data is in the tables as the
 * mean of its two directions (the project's table is written from it). */
static void test_matches_shared_data(void **state)
{
    g_autofree char *path = fp_test_shared_data("region_latency_ms.csv");
    if (!path || !g_file_test(path, G_FILE_TEST_EXISTS)) {
        FP_SKIP("shared-data", "FP_SHARED_DATA has no region_latency_ms.csv");
    }
    g_autofree char *text = fp_test_read_file(path, NULL);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autoptr(GHashTable) sums = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    guint rows = 0;
    for (guint i = 1; lines[i]; i++) {
        g_auto(GStrv) f = g_strsplit(lines[i], ",", 5);
        if (g_strv_length(f) < 5 || !*f[3] || !strcmp(f[1], f[2])) {
            continue;
        }
        g_autofree char *key = fp_policy_latency_key(f[1], f[2]);
        double *acc = g_hash_table_lookup(sums, key);
        if (!acc) {
            acc = g_new0(double, 2);
            g_hash_table_insert(sums, g_steal_pointer(&key), acc);
        }
        acc[0] += g_ascii_strtod(f[3], NULL);
        acc[1] += 1;
        rows++;
    }
    assert_true(rows > 3000);
    GHashTableIter it;
    gpointer k, val;
    g_hash_table_iter_init(&it, sums);
    while (g_hash_table_iter_next(&it, &k, &val)) {
        g_auto(GStrv) ab = g_strsplit(k, "|", 2);
        const double *acc = val;
        double ms = 0;
        if (!fp_builtin_latency(ab[0], ab[1], two_ms, NULL, &ms)) {
            fail_msg("%s <-> %s is in the shared data but not built in", ab[0], ab[1]);
        }
        if (fabs(ms - acc[0] / acc[1]) > 0.051) {
            fail_msg("%s <-> %s: built in %.1f, shared data mean %.3f", ab[0], ab[1], ms,
                     acc[0] / acc[1]);
        }
    }
}

/* Issue 20: the shipped policy used to reject every node of the shipped
 * demo for a latency-critical pod (its matrix knew only Azure regions).
 * Now the pod, from the profile's origins eastus/eastus2, has nodes. */
static void test_shipped_policy_places_on_demo(void **state)
{
    g_autofree char *policy =
        g_build_filename(FP_SOURCE_DIR, "manifests", "policy-configmap.yaml", NULL);
    g_autofree char *pod = g_build_filename(g_get_tmp_dir(), "fp-test-lc-pod-XXXXXX.yaml", NULL);
    int fd = g_mkstemp(pod);
    assert_true(fd >= 0);
    close(fd);
    const char *text = "apiVersion: v1\nkind: Pod\nmetadata: {name: triage, namespace: "
                       "incident-triage}\nspec:\n  containers:\n  - name: c\n    image: x\n"
                       "    resources: {limits: {nvidia.com/gpu: 1}}\n";
    assert_true(g_file_set_contents(pod, text, -1, NULL));
    const char *args[] = {"--demo", "--policy", policy, "--pod", pod, "-o", "json", NULL};
    FpTestRun r = {0};
    fp_test_run_flexplace(&r, NULL, "score", args);
    g_unlink(pod);
    if (r.status != 0) {
        fail_msg("score exit %d\n%s\n%s", r.status, r.out, r.err);
    }
    json_t *doc = json_loads(r.out, 0, NULL);
    assert_non_null(doc);
    json_t *p = json_array_get(json_object_get(doc, "placements"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "demand"), "profile")),
                        "latency-critical");
    assert_true(json_array_size(json_object_get(p, "feasible")) > 0);
    json_decref(doc);
    fp_test_run_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables_sorted),
        cmocka_unit_test(test_cross_cloud_rule),
        cmocka_unit_test(test_policy_precedence),
        cmocka_unit_test(test_matches_shared_data),
        cmocka_unit_test(test_shipped_policy_places_on_demo),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
