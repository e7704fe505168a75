/*
 * test/test_demand.c - a pod's demand: GPU resource and count, profile
 * choice, and every flexplace.io/ annotation, good and bad (including
 * values far beyond the length cap).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "scoring/engine.h"
#include "support/support.h"

static void near_(double got, double want, const char *what, int line)
{
    if (!(fabs(got - want) <= 1e-9)) {
        fail_msg("line %d: %s = %.12g, want %.12g", line, what, got, want);
    }
}
#define assert_near(got, want) near_((got), (want), #got, __LINE__)

static void annotate(FpPod *pod, const char *key, const char *value)
{
    if (!pod->annotations) {
        pod->annotations = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    }
    g_hash_table_replace(pod->annotations, g_strdup(key), g_strdup(value));
}

/* A pod in @ns requesting @gpus nvidia.com/gpu (none when 0). */
static FpPod *gpu_pod(const char *ns, int64_t gpus)
{
    FpPod *pod = fp_pod_new();
    pod->ns = g_strdup(ns);
    pod->name = g_strdup("p");
    fp_res_list_set(&pod->requests, "cpu", 2000);
    if (gpus) {
        fp_res_list_set(&pod->requests, "nvidia.com/gpu", gpus);
    }
    return pod;
}

/* The default policy plus two profiles and a namespace mapping. */
static FpPolicy *test_policy(void)
{
    FpPolicy *p = fp_policy_new_default();
    FpProfile *lc = fp_profile_new("latency-critical");
    lc->weights[FP_TERM_LATENCY] = 8;
    lc->weights[FP_TERM_HEADROOM] = 2;
    lc->max_latency_ms = 40;
    lc->max_price_per_gpu_hour = 9.5;
    lc->min_gpu_memory_gib = 24;
    lc->origin_regions = g_strdup("westeurope");
    lc->min_spread = 3;
    g_hash_table_replace(p->profiles, g_strdup(lc->name), lc);
    FpProfile *bad = fp_profile_new("broken-origins");
    bad->weights[FP_TERM_COST] = 1;
    bad->origin_regions = g_strdup("eastus=0");
    g_hash_table_replace(p->profiles, g_strdup(bad->name), bad);
    g_hash_table_replace(p->namespaces, g_strdup("incident-triage"), g_strdup("latency-critical"));
    g_hash_table_replace(p->namespaces, g_strdup("stale"), g_strdup("no-such-profile"));
    return p;
}

static void test_resource(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    static const struct {
        const char *names[3];
        int64_t values[3];
        const char *want;
        int64_t count;
    } rows[] = {
        {{"nvidia.com/gpu"}, {2}, "nvidia.com/gpu", 2},
        {{"amd.com/gpu"}, {1}, "amd.com/gpu", 1},
        /* policy order wins over request order */
        {{"amd.com/gpu", "nvidia.com/gpu"}, {1, 4}, "nvidia.com/gpu", 4},
        /* a zero request is no request */
        {{"nvidia.com/gpu", "amd.com/gpu"}, {0, 3}, "amd.com/gpu", 3},
        {{"nvidia.com/mig-1g.5gb"}, {2}, "nvidia.com/mig-1g.5gb", 2},
        {{"nvidia.com/mig-1g.5gb", "nvidia.com/gpu"}, {2, 1}, "nvidia.com/gpu", 1},
        {{"nvidia.com/mig-", "nvidia.com/mig-2g.10gb"}, {1, 1}, "nvidia.com/mig-2g.10gb", 1},
        {{"example.com/fpga"}, {1}, NULL, 0},
        {{"nvidia.com/gpu"}, {-1}, NULL, 0},
        {{NULL}, {0}, NULL, 0},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        g_autoptr(FpPod) pod = gpu_pod("default", 0);
        for (int j = 0; j < 3 && rows[i].names[j]; j++) {
            fp_res_list_set(&pod->requests, rows[i].names[j], rows[i].values[j]);
        }
        g_autoptr(FpDemand) d = fp_demand_new(pod, p);
        assert_null(d->invalid_reason);
        if (rows[i].want) {
            assert_non_null(d->resource);
            assert_string_equal(d->resource, rows[i].want);
        } else {
            assert_null(d->resource);
        }
        assert_int_equal(d->count, rows[i].count);
    }
}

static void test_profile_choice(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    static const struct {
        const char *ns;
        const char *annotation; /* NULL = none */
        const char *want;       /* NULL = invalid */
    } rows[] = {
        {"default", NULL, "default"},
        {"incident-triage", NULL, "latency-critical"},
        {"default", "latency-critical", "latency-critical"},
        {"incident-triage", "default", "default"}, /* annotation beats namespace */
        {"stale", NULL, "default"},                /* mapping to a missing profile */
        {"default", "Latency-Critical", NULL},
        {"default", "nope", NULL},
        {"default", "", NULL},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        g_autoptr(FpPod) pod = gpu_pod(rows[i].ns, 1);
        if (rows[i].annotation) {
            annotate(pod, FP_ANN_PROFILE, rows[i].annotation);
        }
        g_autoptr(FpDemand) d = fp_demand_new(pod, p);
        assert_non_null(d->profile);
        if (rows[i].want) {
            assert_null(d->invalid_reason);
            assert_string_equal(d->profile_name, rows[i].want);
            assert_ptr_equal(d->profile, fp_policy_profile(p, rows[i].want));
        } else {
            assert_string_equal(d->invalid_reason, "invalid annotation flexplace.io/profile");
            assert_non_null(strstr(d->invalid_detail, "unknown profile"));
            /* the hint names the known profiles */
            assert_non_null(strstr(d->invalid_detail, "latency-critical"));
        }
    }
}

static void test_profile_defaults_and_overrides(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    g_autoptr(FpPod) pod = gpu_pod("incident-triage", 1);
    g_autoptr(FpDemand) d = fp_demand_new(pod, p);
    assert_null(d->invalid_reason);
    assert_near(d->max_latency_ms, 40);
    assert_near(d->max_price, 9.5);
    assert_near(d->min_gpu_memory_mib, 24 * 1024);
    assert_int_equal(d->min_spread, 3);
    assert_int_equal(d->n_origins, 1);
    assert_string_equal(d->origins[0].region, "westeurope");
    assert_near(d->origins[0].weight, 1);
    assert_null(d->allowed_skus);
    assert_null(d->sku_preference);

    g_autoptr(FpPod) pod2 = gpu_pod("incident-triage", 1);
    annotate(pod2, FP_ANN_MAX_LATENCY, "120");
    annotate(pod2, FP_ANN_MAX_PRICE, "0");
    annotate(pod2, FP_ANN_MIN_MEMORY, "40Gi");
    annotate(pod2, FP_ANN_ORIGIN, "eastus");
    annotate(pod2, FP_ANN_SPREAD, "2");
    g_autoptr(FpDemand) d2 = fp_demand_new(pod2, p);
    assert_null(d2->invalid_reason);
    assert_near(d2->max_latency_ms, 120);
    assert_near(d2->max_price, 0);
    assert_near(d2->min_gpu_memory_mib, 40960);
    assert_int_equal(d2->min_spread, 2);
    assert_int_equal(d2->n_origins, 1);
    assert_string_equal(d2->origins[0].region, "eastus");

    /* default profile: no limits */
    g_autoptr(FpPod) pod3 = gpu_pod("default", 1);
    g_autoptr(FpDemand) d3 = fp_demand_new(pod3, p);
    assert_true(d3->max_latency_ms < 0);
    assert_true(d3->max_price < 0);
    assert_near(d3->min_gpu_memory_mib, 0);
    assert_int_equal(d3->n_origins, 0);
    assert_int_equal(d3->min_spread, 0);

    /* a broken origin spec in the policy is reported, not ignored */
    g_autoptr(FpPod) pod4 = gpu_pod("default", 1);
    annotate(pod4, FP_ANN_PROFILE, "broken-origins");
    g_autoptr(FpDemand) d4 = fp_demand_new(pod4, p);
    assert_non_null(d4->invalid_reason);
    assert_non_null(strstr(d4->invalid_detail, "broken-origins"));
}

static void test_origins(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    static const struct {
        const char *value;
        guint n;
        const char *regions[3];
        double weights[3];
    } rows[] = {
        {"eastus", 1, {"eastus"}, {1}},
        {"eastus=3,westeurope=1", 2, {"eastus", "westeurope"}, {0.75, 0.25}},
        {" eastus = 3 , westeurope=1 ", 2, {"eastus", "westeurope"}, {0.75, 0.25}},
        {"us-east-1=1,eu-west-1=1,ap-south-1=2",
         3,
         {"us-east-1", "eu-west-1", "ap-south-1"},
         {0.25, 0.25, 0.5}},
        {"us-central1=0.5", 1, {"us-central1"}, {1}},
        {"eastus,westeurope=3", 2, {"eastus", "westeurope"}, {0.25, 0.75}},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        g_autoptr(FpPod) pod = gpu_pod("default", 1);
        annotate(pod, FP_ANN_ORIGIN, rows[i].value);
        g_autoptr(FpDemand) d = fp_demand_new(pod, p);
        if (d->invalid_reason) {
            fail_msg("%s: %s", rows[i].value, d->invalid_detail);
        }
        assert_int_equal(d->n_origins, rows[i].n);
        double sum = 0;
        for (guint j = 0; j < rows[i].n; j++) {
            assert_string_equal(d->origins[j].region, rows[i].regions[j]);
            assert_near(d->origins[j].weight, rows[i].weights[j]);
            sum += d->origins[j].weight;
        }
        assert_near(sum, 1);
    }
}

/* Every malformed value of every annotation makes the demand invalid with
 * the stable reason, and the detail names the problem. */
static void test_bad_annotations(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    static const struct {
        const char *key;
        const char *value;
        const char *detail; /* substring of invalid_detail */
    } rows[] = {
        {FP_ANN_ORIGIN, "", "empty"},
        {FP_ANN_ORIGIN, "eastus,", "empty"},
        {FP_ANN_ORIGIN, ",eastus", "empty"},
        {FP_ANN_ORIGIN, "EastUS", "lowercase"},
        {FP_ANN_ORIGIN, "east us", "not a region name"},
        {FP_ANN_ORIGIN, "-eastus", "not a region name"},
        {FP_ANN_ORIGIN, "eastus-", "not a region name"},
        {FP_ANN_ORIGIN, "eastus=0", "positive"},
        {FP_ANN_ORIGIN, "eastus=-1", "positive"},
        {FP_ANN_ORIGIN, "eastus=abc", "positive"},
        {FP_ANN_ORIGIN, "eastus=", "positive"},
        {FP_ANN_ORIGIN, "eastus=nan", "positive"},
        {FP_ANN_ORIGIN, "eastus=inf", "positive"},
        {FP_ANN_ORIGIN, "eastus=1e999", "positive"},
        {FP_ANN_ORIGIN, "eastus=0x10", "positive"},
        {FP_ANN_ORIGIN, "eastus=1=2", "positive"},
        {FP_ANN_ORIGIN, "=3", "empty"},
        {FP_ANN_ORIGIN, "eastus,eastus", "twice"},
        {FP_ANN_ORIGIN, "eastus=1e308,westus=1e308", "finite"},
        /* issue 20: an origin no table knows is a mistake, not a far place */
        {FP_ANN_ORIGIN, "mars-1", "region \"mars-1\" has no known round trips"},
        {FP_ANN_ORIGIN, "eastus=3,a.b_c=1", "region \"a.b_c\" has no known round trips"},
        /* ...and a latency limit without any origin would limit nothing */
        {FP_ANN_MAX_LATENCY, "40", "a latency limit needs an origin"},
        {FP_ANN_SKU, "", "empty"},
        {FP_ANN_SKU, "NVIDIA-L4,,NVIDIA-H100-80GB-HBM3", "empty"},
        {FP_ANN_SKU, "NVIDIA-L4,", "empty"},
        {FP_ANN_SKU, "NVIDIA L4", "not a GPU product"},
        {FP_ANN_SKU, "NVIDIA-*", "not a GPU product"},
        {FP_ANN_SKU, "*", "not a GPU product"},
        {FP_ANN_SKU, "NVIDIA-A100-MIG-*x", "not a GPU product"},
        {FP_ANN_MIN_MEMORY, "", "not a quantity"},
        {FP_ANN_MIN_MEMORY, "forty", "not a quantity"},
        {FP_ANN_MIN_MEMORY, "40GB", "not a quantity"},
        {FP_ANN_MIN_MEMORY, "40", "40Gi"}, /* bytes: below 1Mi, hint to use a unit */
        {FP_ANN_MIN_MEMORY, "1023Ki", "below 1Mi"},
        {FP_ANN_MIN_MEMORY, "-40Gi", "below 1Mi"},
        {FP_ANN_MIN_MEMORY, "0", "below 1Mi"},
        {FP_ANN_MAX_LATENCY, "", "non-negative number"},
        {FP_ANN_MAX_LATENCY, "abc", "non-negative number"},
        {FP_ANN_MAX_LATENCY, "-1", "non-negative number"},
        {FP_ANN_MAX_LATENCY, "40ms", "non-negative number"},
        {FP_ANN_MAX_LATENCY, "nan", "non-negative number"},
        {FP_ANN_MAX_LATENCY, "inf", "non-negative number"},
        {FP_ANN_MAX_LATENCY, "1e400", "non-negative number"},
        {FP_ANN_MAX_PRICE, "$5", "non-negative number"},
        {FP_ANN_MAX_PRICE, "5,5", "non-negative number"},
        {FP_ANN_MAX_PRICE, "-0.01", "non-negative number"},
        {FP_ANN_SPREAD, "0", "1 to 64"},
        {FP_ANN_SPREAD, "65", "1 to 64"},
        {FP_ANN_SPREAD, "-1", "1 to 64"},
        {FP_ANN_SPREAD, "2.5", "1 to 64"},
        {FP_ANN_SPREAD, "two", "1 to 64"},
        {FP_ANN_SPREAD, "", "1 to 64"},
        {FP_ANN_SPREAD, "100000000000000000000", "1 to 64"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        g_autoptr(FpPod) pod = gpu_pod("default", 1);
        annotate(pod, rows[i].key, rows[i].value);
        g_autoptr(FpDemand) d = fp_demand_new(pod, p);
        if (!d->invalid_reason) {
            fail_msg("%s=\"%s\" accepted", rows[i].key, rows[i].value);
        }
        g_autofree char *reason = g_strconcat("invalid annotation ", rows[i].key, NULL);
        assert_string_equal(d->invalid_reason, reason);
        assert_non_null(d->invalid_detail);
        if (!strstr(d->invalid_detail, rows[i].detail)) {
            fail_msg("%s=\"%s\": detail \"%s\" lacks \"%s\"", rows[i].key, rows[i].value,
                     d->invalid_detail, rows[i].detail);
        }
        /* the detail names the annotation */
        assert_true(g_str_has_prefix(d->invalid_detail, rows[i].key));
        assert_non_null(d->profile);
    }
}

static void test_good_annotations(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    static const struct {
        const char *key;
        const char *value;
        double number; /* parsed value where one applies */
    } rows[] = {
        {FP_ANN_MIN_MEMORY, "40Gi", 40960},
        {FP_ANN_MIN_MEMORY, "1Mi", 1},
        {FP_ANN_MIN_MEMORY, " 16Gi ", 16384},
        {FP_ANN_MIN_MEMORY, "80G", 80e9 / 1048576.0},
        {FP_ANN_MIN_MEMORY, "0.5Gi", 512},
        {FP_ANN_MAX_LATENCY, "40", 40},
        {FP_ANN_MAX_LATENCY, "0", 0},
        {FP_ANN_MAX_LATENCY, "12.5", 12.5},
        {FP_ANN_MAX_LATENCY, " 1e2 ", 100},
        {FP_ANN_MAX_PRICE, "2.75", 2.75},
        {FP_ANN_MAX_PRICE, "0", 0},
        {FP_ANN_SPREAD, "1", 1},
        {FP_ANN_SPREAD, "64", 64},
        {FP_ANN_SPREAD, " 3 ", 3},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        g_autoptr(FpPod) pod = gpu_pod("default", 1);
        annotate(pod, rows[i].key, rows[i].value);
        if (strcmp(rows[i].key, FP_ANN_MAX_LATENCY) == 0) {
            annotate(pod, FP_ANN_ORIGIN, "eastus"); /* a limit needs an origin */
        }
        g_autoptr(FpDemand) d = fp_demand_new(pod, p);
        if (d->invalid_reason) {
            fail_msg("%s=\"%s\": %s", rows[i].key, rows[i].value, d->invalid_detail);
        }
        double got = strcmp(rows[i].key, FP_ANN_MIN_MEMORY) == 0    ? d->min_gpu_memory_mib
                     : strcmp(rows[i].key, FP_ANN_MAX_LATENCY) == 0 ? d->max_latency_ms
                     : strcmp(rows[i].key, FP_ANN_MAX_PRICE) == 0   ? d->max_price
                                                                    : (double)d->min_spread;
        assert_near(got, rows[i].number);
    }
}

static void test_sku_annotation(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    g_autoptr(FpPod) pod = gpu_pod("default", 1);
    annotate(pod, FP_ANN_SKU,
             " NVIDIA-H100-80GB-HBM3 ,A100-SXM4-40GB,NVIDIA-A100-SXM4-40GB-MIG-*,NVIDIA-L4-SHARED");
    g_autoptr(FpDemand) d = fp_demand_new(pod, p);
    assert_null(d->invalid_reason);
    g_autofree char *allowed = g_strjoinv("|", d->allowed_skus);
    g_autofree char *pref = g_strjoinv("|", d->sku_preference);
    assert_string_equal(allowed, "NVIDIA-H100-80GB-HBM3|A100-SXM4-40GB|"
                                 "NVIDIA-A100-SXM4-40GB-MIG-*|NVIDIA-L4-SHARED");
    assert_string_equal(pref, allowed);
    assert_ptr_not_equal(d->allowed_skus, d->sku_preference);

    /* 64 items are fine, 65 are not */
    GString *list = g_string_new(NULL);
    for (int i = 0; i < 64; i++) {
        g_string_append_printf(list, "%sGPU-%d", i ? "," : "", i);
    }
    g_autoptr(FpPod) pod64 = gpu_pod("default", 1);
    annotate(pod64, FP_ANN_SKU, list->str);
    g_autoptr(FpDemand) d64 = fp_demand_new(pod64, p);
    assert_null(d64->invalid_reason);
    assert_int_equal(g_strv_length(d64->allowed_skus), 64);
    g_string_append(list, ",GPU-64");
    g_autoptr(FpPod) pod65 = gpu_pod("default", 1);
    annotate(pod65, FP_ANN_SKU, list->str);
    g_autoptr(FpDemand) d65 = fp_demand_new(pod65, p);
    assert_non_null(d65->invalid_reason);
    assert_non_null(strstr(d65->invalid_detail, "more than 64"));
    g_string_free(list, TRUE);
}

/* A 1 MB value for every annotation is rejected quickly, with a bounded,
 * printable detail message. */
static void test_huge_annotations(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    static const char *const keys[] = {FP_ANN_PROFILE,    FP_ANN_ORIGIN,      FP_ANN_SKU,
                                       FP_ANN_MIN_MEMORY, FP_ANN_MAX_LATENCY, FP_ANN_MAX_PRICE,
                                       FP_ANN_SPREAD};
    g_autofree char *huge = g_strnfill(1 << 20, 'a');
    /* a comma every other byte: the item cap stops the work too */
    g_autofree char *commas = g_strnfill(1 << 20, ',');
    for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
        for (int variant = 0; variant < 2; variant++) {
            g_autoptr(FpPod) pod = gpu_pod("default", 1);
            annotate(pod, keys[i], variant ? commas : huge);
            gint64 t0 = g_get_monotonic_time();
            g_autoptr(FpDemand) d = fp_demand_new(pod, p);
            gint64 us = g_get_monotonic_time() - t0;
            assert_non_null(d->invalid_reason);
            g_autofree char *reason = g_strconcat("invalid annotation ", keys[i], NULL);
            assert_string_equal(d->invalid_reason, reason);
            assert_non_null(strstr(d->invalid_detail, "longer than 4096"));
            assert_true(strlen(d->invalid_detail) < 200);
            /* generous bound for slow sanitizer builds; linear work would be
             * noticeably more than this for 1 MB per call */
            assert_true(us < 50000);
        }
    }
    /* just under the cap: parsed normally (and rejected for its content) */
    g_autofree char *big = g_strnfill(4096, 'a');
    g_autoptr(FpPod) pod = gpu_pod("default", 1);
    annotate(pod, FP_ANN_ORIGIN, big);
    g_autoptr(FpDemand) d = fp_demand_new(pod, p);
    assert_non_null(d->invalid_reason);
    assert_non_null(strstr(d->invalid_detail, "longer than 63"));
    assert_true(strlen(d->invalid_detail) < 200);
}

/* Detail messages quote hostile bytes as printable ASCII (they end up in
 * JSON replies and events). */
static void test_detail_is_printable(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    g_autoptr(FpPod) pod = gpu_pod("default", 1);
    annotate(pod, FP_ANN_MAX_PRICE, "\xff\xfe\"\n\x01 5");
    g_autoptr(FpDemand) d = fp_demand_new(pod, p);
    assert_non_null(d->invalid_reason);
    for (const char *c = d->invalid_detail; *c; c++) {
        assert_true(*c >= 0x20 && *c < 0x7f);
    }
}

/* The first malformed annotation (in a fixed order) is the one reported. */
static void test_first_bad_annotation_wins(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    g_autoptr(FpPod) pod = gpu_pod("default", 1);
    annotate(pod, FP_ANN_SPREAD, "0");
    annotate(pod, FP_ANN_MAX_PRICE, "x");
    annotate(pod, FP_ANN_SKU, "");
    g_autoptr(FpDemand) d = fp_demand_new(pod, p);
    assert_string_equal(d->invalid_reason, "invalid annotation " FP_ANN_SKU);
    /* unrelated flexplace.io annotations (written by the bind verb) are not
     * judged */
    g_autoptr(FpPod) pod2 = gpu_pod("default", 1);
    annotate(pod2, "flexplace.io/placement", "{\"node\":\"x\"}");
    g_autoptr(FpDemand) d2 = fp_demand_new(pod2, p);
    assert_null(d2->invalid_reason);
}

static void test_null_inputs(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    g_autoptr(FpDemand) d = fp_demand_new(NULL, p);
    assert_non_null(d->invalid_reason);
    assert_non_null(d->profile);
    fp_demand_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resource),
        cmocka_unit_test(test_profile_choice),
        cmocka_unit_test(test_profile_defaults_and_overrides),
        cmocka_unit_test(test_origins),
        cmocka_unit_test(test_bad_annotations),
        cmocka_unit_test(test_good_annotations),
        cmocka_unit_test(test_sku_annotation),
        cmocka_unit_test(test_huge_annotations),
        cmocka_unit_test(test_detail_is_printable),
        cmocka_unit_test(test_first_bad_annotation_wins),
        cmocka_unit_test(test_null_inputs),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
