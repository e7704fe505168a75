/*
 * test/test_placement_policy.c - the compiled policy model: term names, the
 * latency matrix, GPU resources, builders and refcounts, SKU lookups and the
 * built-in default policy (checked against the shared reference data when it
 * is present).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "scoring/engine_private.h"
#include "scoring/placement_policy.h"
#include "support/support.h"

static void near_(double got, double want, const char *what, int line)
{
    if (!(fabs(got - want) <= 1e-9)) {
        fail_msg("line %d: %s = %.12g, want %.12g", line, what, got, want);
    }
}
#define assert_near(got, want) near_((got), (want), #got, __LINE__)

static void test_term_names(void **state)
{
    static const char *const names[] = {"latency", "cost",   "headroom",   "packing",
                                        "sku",     "spread", "timeToServe"};
    assert_int_equal(G_N_ELEMENTS(names), FP_N_TERMS);
    for (int i = 0; i < FP_N_TERMS; i++) {
        assert_string_equal(fp_term_name((FpTermId)i), names[i]);
        assert_int_equal(fp_term_from_name(names[i]), i);
    }
    assert_null(fp_term_name(FP_N_TERMS));
    assert_null(fp_term_name((FpTermId)-1));
    assert_int_equal(fp_term_from_name("Latency"), -1);
    assert_int_equal(fp_term_from_name(""), -1);
    assert_int_equal(fp_term_from_name(NULL), -1);
}

static void add_latency(FpPolicy *p, const char *a, const char *b, double ms)
{
    double *v = g_new(double, 1);
    *v = ms;
    g_hash_table_replace(p->latency, fp_policy_latency_key(a, b), v);
}

static void test_latency_key_symmetric(void **state)
{
    g_autofree char *ab = fp_policy_latency_key("westeurope", "eastus");
    g_autofree char *ba = fp_policy_latency_key("eastus", "westeurope");
    g_autofree char *aa = fp_policy_latency_key("eastus", "eastus");
    g_autofree char *other = fp_policy_latency_key("eastus", "westus");
    assert_string_equal(ab, ba);
    assert_string_not_equal(ab, aa);
    assert_string_not_equal(ab, other);
    /* concatenation must not collide: ("a","bc") vs ("ab","c") */
    g_autofree char *k1 = fp_policy_latency_key("a", "bc");
    g_autofree char *k2 = fp_policy_latency_key("ab", "c");
    assert_string_not_equal(k1, k2);
}

static void test_latency_lookup(void **state)
{
    g_autoptr(FpPolicy) p = fp_policy_new_empty();
    add_latency(p, "westeurope", "northeurope", 18);
    add_latency(p, "eastus", "westeurope", 82);
    add_latency(p, "eastus2", "eastus2", 1.5);
    static const struct {
        const char *a, *b;
        double want;
        bool known;
    } rows[] = {
        {"westeurope", "northeurope", 18, true},
        {"northeurope", "westeurope", 18, true},
        {"westeurope", "eastus", 82, true},
        {"eastus", "eastus", 2, true},     /* same region, not in the matrix */
        {"eastus2", "eastus2", 1.5, true}, /* same region, matrix wins */
        {"eastus", "japaneast", 150, false},
        {"", "eastus", 150, false}, /* unlabelled node */
        {"", "", 150, false},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        bool known = !rows[i].known;
        assert_near(fp_policy_latency(p, rows[i].a, rows[i].b, &known), rows[i].want);
        assert_int_equal(known, rows[i].known);
    }
    /* known may be NULL */
    assert_near(fp_policy_latency(p, "eastus", "westeurope", NULL), 82);
    /* an unusually long region name takes the allocating path */
    g_autofree char *long_a = g_strnfill(300, 'a');
    add_latency(p, long_a, "eastus", 33);
    assert_near(fp_policy_latency(p, "eastus", long_a, NULL), 33);
}

static void test_gpu_resources(void **state)
{
    g_autoptr(FpPolicy) p = fp_policy_new_default();
    static const struct {
        const char *r;
        bool gpu;
    } rows[] = {
        {"nvidia.com/gpu", true},
        {"amd.com/gpu", true},
        {"nvidia.com/mig-1g.5gb", true},
        {"nvidia.com/mig-3g.20gb", true},
        {"nvidia.com/mig-", false},
        {"nvidia.com/gpu.shared", true}, /* time-slicing with renameByDefault */
        {"nvidia.com/gpux", false},
        {"cpu", false},
        {"", false},
        {"example.com/gpu", false},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        assert_int_equal(fp_policy_is_gpu_resource(p, rows[i].r), rows[i].gpu);
    }
    assert_false(fp_policy_is_gpu_resource(p, NULL));

    /* MIG resources only count when nvidia.com/gpu is a GPU resource */
    g_autoptr(FpPolicy) amd = fp_policy_new_empty();
    g_strfreev(amd->gpu_resources);
    amd->gpu_resources = g_strsplit("amd.com/gpu", ",", -1);
    assert_true(fp_policy_is_gpu_resource(amd, "amd.com/gpu"));
    assert_false(fp_policy_is_gpu_resource(amd, "nvidia.com/mig-1g.5gb"));
    assert_false(fp_policy_is_gpu_resource(amd, "nvidia.com/gpu"));
}

static void test_empty_policy(void **state)
{
    g_autoptr(FpPolicy) p = fp_policy_new_empty();
    assert_non_null(p->gpu_resources);
    assert_null(p->gpu_resources[0]);
    char **lists[] = {p->label_pool,         p->label_region, p->label_zone,
                      p->label_product,      p->label_memory, p->label_instance_type,
                      p->label_capacity_type};
    for (gsize i = 0; i < G_N_ELEMENTS(lists); i++) {
        assert_non_null(lists[i]);
        assert_null(lists[i][0]);
    }
    assert_non_null(p->skus);
    assert_non_null(p->pools);
    assert_non_null(p->latency);
    assert_non_null(p->profiles);
    assert_non_null(p->namespaces);
    assert_int_equal(g_hash_table_size(p->skus), 0);
    assert_near(p->default_latency_ms, 150);
    assert_near(p->same_region_latency_ms, 2);
    assert_near(p->default_price_per_gpu_hour, 4.0);
    assert_string_equal(p->default_profile, "default");
    assert_int_equal(p->generation, 0);
    assert_null(fp_policy_profile(p, "default"));
    assert_null(fp_policy_profile(p, NULL));
}

static void test_builders_and_refcount(void **state)
{
    FpSku *sku = fp_sku_new("NVIDIA-L4");
    assert_string_equal(sku->product, "NVIDIA-L4");
    assert_near(sku->memory_gib, 0);
    assert_near(sku->relative_throughput, 1.0);
    assert_true(sku->price_per_gpu_hour < 0);
    fp_sku_free(sku);

    FpPool *pool = fp_pool_new("aws-use1-l4");
    assert_string_equal(pool->name, "aws-use1-l4");
    assert_true(pool->price_per_gpu_hour < 0);
    assert_near(pool->max_utilization, 1.0);
    assert_null(pool->cloud);
    pool->cloud = g_strdup("aws");
    fp_pool_free(pool);

    FpProfile *prof = fp_profile_new("latency-critical");
    assert_string_equal(prof->name, "latency-critical");
    for (int i = 0; i < FP_N_TERMS; i++) {
        assert_near(prof->weights[i], 0);
    }
    assert_true(prof->max_latency_ms < 0);
    assert_true(prof->max_price_per_gpu_hour < 0);
    assert_int_equal(prof->packing, FP_PACK_BINPACK);
    assert_int_equal(prof->cost_mode, FP_COST_PER_GPU_HOUR);
    assert_null(prof->allowed_skus);
    prof->allowed_skus = g_strsplit("NVIDIA-L4", ",", -1);
    prof->origin_regions = g_strdup("eastus");
    fp_profile_free(prof);
    fp_sku_free(NULL);
    fp_pool_free(NULL);
    fp_profile_free(NULL);

    FpPolicy *p = fp_policy_new_default();
    FpPolicy *r = fp_policy_ref(p);
    assert_ptr_equal(p, r);
    fp_policy_unref(r);
    /* still alive after one unref */
    assert_non_null(fp_policy_profile(p, "default"));
    fp_policy_unref(p);
    fp_policy_unref(NULL);
    assert_null(fp_policy_ref(NULL));
}

static void test_default_policy(void **state)
{
    g_autoptr(FpPolicy) p = fp_policy_new_default();
    assert_string_equal(p->source, "built-in default");
    g_autofree char *res = g_strjoinv(",", p->gpu_resources);
    assert_string_equal(res, "nvidia.com/gpu,amd.com/gpu");
    static const struct {
        size_t offset;
        const char *want;
    } lists[] = {
        {G_STRUCT_OFFSET(FpPolicy, label_pool),
         "flexplace.io/pool,karpenter.sh/nodepool,kubernetes.azure.com/agentpool,"
         "eks.amazonaws.com/nodegroup,cloud.google.com/gke-nodepool"},
        {G_STRUCT_OFFSET(FpPolicy, label_region),
         "topology.kubernetes.io/region,failure-domain.beta.kubernetes.io/region"},
        {G_STRUCT_OFFSET(FpPolicy, label_zone),
         "topology.kubernetes.io/zone,failure-domain.beta.kubernetes.io/zone"},
        {G_STRUCT_OFFSET(FpPolicy, label_product), "nvidia.com/gpu.product"},
        {G_STRUCT_OFFSET(FpPolicy, label_memory), "nvidia.com/gpu.memory"},
        {G_STRUCT_OFFSET(FpPolicy, label_instance_type),
         "node.kubernetes.io/instance-type,beta.kubernetes.io/instance-type"},
        {G_STRUCT_OFFSET(FpPolicy, label_capacity_type),
         "karpenter.sh/capacity-type,eks.amazonaws.com/capacityType,"
         "kubernetes.azure.com/scalesetpriority,cloud.google.com/gke-spot"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(lists); i++) {
        char **v = G_STRUCT_MEMBER(char **, p, lists[i].offset);
        g_autofree char *joined = g_strjoinv(",", v);
        assert_string_equal(joined, lists[i].want);
    }

    static const struct {
        const char *product;
        double gib, tp, price;
    } skus[] = {
        {"NVIDIA-H100-80GB-HBM3", 80, 3.0, 6.88}, {"Tesla-T4", 16, 0.25, 0.526},
        {"A100-SXM4-40GB", 40, 1.0, 2.744705},    {"NVIDIA-A100-SXM4-40GB", 40, 1.0, 2.744705},
        {"NVIDIA-L4", 24, 0.5, 0.8048},           {"NVIDIA-H200", 141, 3.3, 7.912},
        {"NVIDIA-B200", 180, 5.0, 14.2416},       {"NVIDIA-H100-PCIe", 80, 2.5, -1},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(skus); i++) {
        const FpSku *s = g_hash_table_lookup(p->skus, skus[i].product);
        if (!s) {
            fail_msg("no SKU %s", skus[i].product);
        }
        assert_string_equal(s->product, skus[i].product);
        assert_near(s->memory_gib, skus[i].gib);
        assert_near(s->relative_throughput, skus[i].tp);
        assert_near(s->price_per_gpu_hour, skus[i].price);
    }
    /* no substring products sneak in */
    assert_null(g_hash_table_lookup(p->skus, "NVIDIA-H100"));

    const FpProfile *def = fp_policy_profile(p, "default");
    assert_non_null(def);
    static const double weights[FP_N_TERMS] = {6, 2, 1, 1, 1, 2, 6};
    const FpProfile *fallback = fp_fallback_profile();
    for (int i = 0; i < FP_N_TERMS; i++) {
        assert_near(def->weights[i], weights[i]);
        assert_near(fallback->weights[i], weights[i]);
    }
    assert_int_equal(def->packing, FP_PACK_BINPACK);
    assert_int_equal(def->cost_mode, FP_COST_PER_GPU_HOUR);
    assert_true(def->max_latency_ms < 0);
    assert_true(def->max_price_per_gpu_hour < 0);
    assert_near(def->min_gpu_memory_gib, 0);
    assert_null(def->allowed_skus);
    assert_null(def->sku_preference);
    assert_int_equal(def->min_spread, 0);
    assert_string_equal(fallback->name, "default");
}

static void test_find_sku(void **state)
{
    g_autoptr(FpPolicy) p = fp_policy_new_default();
    static const struct {
        const char *product;
        bool allow_base;
        const char *want; /* SKU product found, NULL for none */
        bool from_base;
    } rows[] = {
        {"NVIDIA-H100-80GB-HBM3", false, "NVIDIA-H100-80GB-HBM3", false},
        {"H100-80GB-HBM3", false, "NVIDIA-H100-80GB-HBM3", false}, /* other spelling */
        {"NVIDIA-Tesla-T4", false, "Tesla-T4", false},
        {"NVIDIA-L4-SHARED", false, NULL, false},
        {"NVIDIA-L4-SHARED", true, "NVIDIA-L4", true},
        {"NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", true, "NVIDIA-A100-SXM4-40GB", true},
        {"A100-SXM4-40GB-MIG-1g.5gb", true, "A100-SXM4-40GB", true},
        {"NVIDIA-H20", true, NULL, false},
        {"NVIDIA-H", true, NULL, false},
        {"", true, NULL, false},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        bool from_base = !rows[i].from_base;
        const FpSku *s = fp_policy_find_sku(p, rows[i].product, rows[i].allow_base, &from_base);
        if (!rows[i].want) {
            if (s) {
                fail_msg("%s: unexpected SKU %s", rows[i].product, s->product);
            }
            continue;
        }
        if (!s) {
            fail_msg("%s: no SKU", rows[i].product);
        }
        assert_string_equal(s->product, rows[i].want);
        assert_int_equal(from_base, rows[i].from_base);
    }
    assert_null(fp_policy_find_sku(p, NULL, true, NULL));
}

/* ---- cross-check against the shared reference data ---------------------- */

/* Minimal CSV reader for the shared files: quoted fields, "" escapes. */
static GPtrArray *csv_fields(const char *line)
{
    GPtrArray *f = g_ptr_array_new_with_free_func(g_free);
    GString *cur = g_string_new(NULL);
    bool quoted = false;
    for (const char *c = line; *c; c++) {
        if (quoted) {
            if (*c == '"' && c[1] == '"') {
                g_string_append_c(cur, '"');
                c++;
            } else if (*c == '"') {
                quoted = false;
            } else {
                g_string_append_c(cur, *c);
            }
        } else if (*c == '"') {
            quoted = true;
        } else if (*c == ',') {
            g_ptr_array_add(f, g_string_free(cur, FALSE));
            cur = g_string_new(NULL);
        } else if (*c != '\r') {
            g_string_append_c(cur, *c);
        }
    }
    g_ptr_array_add(f, g_string_free(cur, FALSE));
    return f;
}

static void test_default_skus_match_reference_data(void **state)
{
    g_autofree char *skus_path = fp_test_shared_data("gpu_skus.csv");
    g_autofree char *prices_path = fp_test_shared_data("gpu_prices.csv");
    if (!skus_path || !prices_path) {
        FP_SKIP("shared-data", "shared data (FP_SHARED_DATA) not present");
    }
    g_autoptr(FpPolicy) p = fp_policy_new_default();

    /* Every product string GFD reports has a SKU with the spec memory. */
    g_autofree char *skus = fp_test_read_file(skus_path, NULL);
    g_auto(GStrv) lines = g_strsplit(skus, "\n", -1);
    guint checked = 0;
    for (guint i = 1; lines[i]; i++) {
        if (!*lines[i]) {
            continue;
        }
        g_autoptr(GPtrArray) f = csv_fields(lines[i]);
        assert_true(f->len >= 6);
        const char *product = f->pdata[5];
        const char *spec = f->pdata[3];
        if (!*product) {
            continue; /* MI300X: GFD does not label AMD GPUs */
        }
        const FpSku *s = g_hash_table_lookup(p->skus, product);
        if (!s) {
            fail_msg("built-in policy lacks %s", product);
        }
        double spec_gb = g_ascii_strtod(spec, NULL);
        assert_near(s->memory_gib, spec_gb);
        checked++;
    }
    assert_true(checked >= 14);

    /* Every known price is the per-GPU price of some on-demand row. */
    g_autofree char *prices = fp_test_read_file(prices_path, NULL);
    g_auto(GStrv) plines = g_strsplit(prices, "\n", -1);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, p->skus);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        const FpSku *s = value;
        if (s->price_per_gpu_hour < 0) {
            continue;
        }
        bool found = false;
        for (guint i = 1; plines[i] && !found; i++) {
            g_autoptr(GPtrArray) f = csv_fields(plines[i]);
            if (f->len < 10 || !g_str_has_prefix(f->pdata[9], "on-demand")) {
                continue;
            }
            found = fabs(g_ascii_strtod(f->pdata[7], NULL) - s->price_per_gpu_hour) < 1e-6;
        }
        if (!found) {
            fail_msg("price %g of %s is not a row of gpu_prices.csv", s->price_per_gpu_hour,
                     s->product);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_term_names),
        cmocka_unit_test(test_latency_key_symmetric),
        cmocka_unit_test(test_latency_lookup),
        cmocka_unit_test(test_gpu_resources),
        cmocka_unit_test(test_empty_policy),
        cmocka_unit_test(test_builders_and_refcount),
        cmocka_unit_test(test_default_policy),
        cmocka_unit_test(test_find_sku),
        cmocka_unit_test(test_default_skus_match_reference_data),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
