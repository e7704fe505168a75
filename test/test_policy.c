/*
 * test/test_policy.c - PlacementPolicy loading: the full example as YAML
 * and JSON, the minimal policy, a mounted directory of two files, a
 * ConfigMap manifest, the example ConfigMap in manifests/, and every kind of
 * invalid document with the exact "file:line:column: key.path: message".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>

#include "policies/policy_load.h"
#include "scoring/quantity.h"
#include "support/support.h"

#define EPS 1e-9

static void assert_strv(char **got, const char *const *want)
{
    guint n = 0;
    for (; want[n]; n++) {
        assert_non_null(got[n]);
        assert_string_equal(got[n], want[n]);
    }
    assert_null(got[n]);
}

static void assert_near(double got, double want)
{
    if (fabs(got - want) > EPS) {
        fail_msg("got %.10g, want %.10g", got, want);
    }
}

static void dump_report(const FpPolicyReport *r)
{
    for (guint i = 0; i < r->errors->len; i++) {
        print_error("  %s\n", (char *)g_ptr_array_index(r->errors, i));
    }
}

static FpPolicy *load_ok(const char *path, FpPolicyReport *report)
{
    FpPolicy *p = fp_policy_load_path(path, report);
    if (!p) {
        dump_report(report);
        fail_msg("%s did not load", path);
    }
    assert_int_equal(report->errors->len, 0);
    return p;
}

static double latency(const FpPolicy *p, const char *a, const char *b, bool *known)
{
    return fp_policy_latency(p, a, b, known);
}

/* Every value of test/data/policy/full.{yaml,json}. */
static void check_full(const FpPolicy *p)
{
    static const char *const gpu[] = {"nvidia.com/gpu", NULL};
    static const char *const pool[] = {"example.com/pool", "karpenter.sh/nodepool", NULL};
    static const char *const region[] = {"topology.kubernetes.io/region", NULL};
    static const char *const capacity[] = {"karpenter.sh/capacity-type", NULL};
    assert_strv(p->gpu_resources, gpu);
    assert_strv(p->label_pool, pool);
    assert_strv(p->label_region, region);
    assert_strv(p->label_capacity_type, capacity);
    assert_int_equal(p->generation, 0);

    /* SKUs merge over the built-in table field by field */
    const FpSku *h100 = g_hash_table_lookup(p->skus, "NVIDIA-H100-80GB-HBM3");
    assert_non_null(h100);
    assert_near(h100->price_per_gpu_hour, 5.5);
    assert_near(h100->memory_gib, 80);
    assert_near(h100->relative_throughput, 3.0);
    const FpSku *ex = g_hash_table_lookup(p->skus, "Example-GPU-1");
    assert_non_null(ex);
    assert_near(ex->memory_gib, 16);
    assert_near(ex->relative_throughput, 1.0);
    assert_true(ex->price_per_gpu_hour < 0);
    assert_non_null(g_hash_table_lookup(p->skus, "Tesla-T4")); /* built-in kept */

    assert_int_equal(g_hash_table_size(p->pools), 2);
    const FpPool *aws = g_hash_table_lookup(p->pools, "aws-use1-l4");
    assert_near(aws->price_per_gpu_hour, 0.98);
    assert_near(aws->max_utilization, 0.95);
    assert_string_equal(aws->cloud, "aws");
    const FpPool *az = g_hash_table_lookup(p->pools, "azure-weu-h100");
    assert_true(az->price_per_gpu_hour < 0);
    assert_near(az->max_utilization, 1.0);

    bool known = false;
    assert_near(latency(p, "westeurope", "northeurope", &known), 19); /* mean of 18 and 20 */
    assert_true(known);
    assert_near(latency(p, "eastus", "westeurope", &known), 82);
    assert_near(latency(p, "northeurope", "eastus", &known), 80);
    assert_near(latency(p, "eastus", "eastus", &known), 1);         /* written */
    assert_near(latency(p, "westeurope", "westeurope", &known), 3); /* sameRegionLatencyMs */
    /* pairs the matrix lacks: the built-in tables (Azure's P95, the mean of
     * both directions), then defaultLatencyMs */
    assert_near(latency(p, "eastus", "japaneast", &known), 165);
    assert_true(known);
    assert_near(latency(p, "eastus", "mars-1", &known), 200);
    assert_false(known);
    assert_near(p->default_price_per_gpu_hour, 3.5);
    assert_int_equal(p->short_list, 50);

    const FpProfile *def = fp_policy_profile(p, "default");
    assert_non_null(def);
    assert_near(def->weights[FP_TERM_LATENCY], 1);
    assert_near(def->weights[FP_TERM_COST], 1);
    assert_near(def->weights[FP_TERM_HEADROOM], 0); /* not written: 0, not the built-in 3 */
    assert_near(def->weights[FP_TERM_SPREAD], 0);

    const FpProfile *lc = fp_policy_profile(p, "latency-critical");
    assert_non_null(lc);
    assert_near(lc->weights[FP_TERM_LATENCY], 8);
    assert_near(lc->weights[FP_TERM_HEADROOM], 2);
    assert_near(lc->weights[FP_TERM_COST], 0);
    assert_near(lc->max_latency_ms, 40);
    assert_near(lc->max_price_per_gpu_hour, 10);
    assert_near(lc->min_gpu_memory_gib, 40);
    assert_int_equal(lc->packing, FP_PACK_SPREAD);
    assert_int_equal(lc->cost_mode, FP_COST_PER_WORK);
    static const char *const allowed[] = {"NVIDIA-H100-80GB-HBM3", "NVIDIA-A100-SXM4-80GB",
                                          "NVIDIA-A100-SXM4-40GB-MIG-*", NULL};
    static const char *const pref[] = {"NVIDIA-H100-80GB-HBM3", NULL};
    assert_strv(lc->allowed_skus, allowed);
    assert_strv(lc->sku_preference, pref);
    assert_string_equal(lc->origin_regions, "eastus=3,westeurope=1");
    assert_int_equal(lc->min_spread, 2);
    assert_int_equal(lc->short_list, 0); /* every passing node */

    const FpProfile *batch = fp_policy_profile(p, "batch");
    assert_non_null(batch);
    assert_string_equal(batch->origin_regions, "northeurope=1");
    assert_true(batch->max_latency_ms < 0);
    assert_int_equal(batch->short_list, -1); /* the policy's */
    assert_int_equal(batch->packing, FP_PACK_BINPACK);
    assert_null(batch->allowed_skus);

    assert_int_equal(g_hash_table_size(p->namespaces), 2);
    assert_string_equal(g_hash_table_lookup(p->namespaces, "incident-triage"), "latency-critical");
    assert_string_equal(p->default_profile, "batch");
}

static void test_full_yaml_and_json(void **state)
{
    static const char *const files[] = {"policy/full.yaml", "policy/full.json"};
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *path = fp_test_data_path(files[i]);
        g_autoptr(FpPolicyReport) r = fp_policy_report_new();
        g_autoptr(FpPolicy) p = load_ok(path, r);
        assert_string_equal(p->source, path);
        assert_int_equal(r->sources->len, 1);
        check_full(p);
    }
}

/* "{}" is the built-in default policy. */
static void test_minimal(void **state)
{
    g_autoptr(FpPolicyReport) r = fp_policy_report_new();
    g_autoptr(FpPolicy) p = fp_policy_load_buffer("{}", 2, "min.yaml", r);
    assert_non_null(p);
    g_autoptr(FpPolicy) d = fp_policy_new_default();
    assert_int_equal(g_strv_length(p->gpu_resources), g_strv_length(d->gpu_resources));
    assert_int_equal(g_strv_length(p->label_pool), g_strv_length(d->label_pool));
    assert_int_equal(g_hash_table_size(p->skus), g_hash_table_size(d->skus));
    assert_int_equal(g_hash_table_size(p->profiles), 1);
    assert_int_equal(g_hash_table_size(p->latency), 0);
    assert_near(p->default_latency_ms, d->default_latency_ms);
    const FpProfile *pd = fp_policy_profile(p, "default");
    const FpProfile *dd = fp_policy_profile(d, "default");
    for (int t = 0; t < FP_N_TERMS; t++) {
        assert_near(pd->weights[t], dd->weights[t]);
    }
    assert_string_equal(p->default_profile, "default");
    assert_string_equal(p->source, "min.yaml");

    /* null sections are the defaults too; the report may be NULL */
    const char *nulls = "kind: PlacementPolicy\nprofiles:\nnamespaces: ~\npools:\n";
    g_autoptr(FpPolicy) q = fp_policy_load_buffer(nulls, strlen(nulls), "n.yaml", NULL);
    assert_non_null(q);
}

static void test_directory(void **state)
{
    g_autofree char *dir = fp_test_data_path("policy/dir");
    g_autofree char *unmatched = fp_test_data_path("policy/unmatched.yaml");
    g_autofree char *cluster = fp_test_data_path("cli/cluster.yaml");
    g_autoptr(FpPolicyReport) r = fp_policy_report_new();
    g_autoptr(FpPolicy) p = load_ok(dir, r);
    /* two files, in name order; README.md noted; .hidden.yaml never read */
    assert_int_equal(r->sources->len, 2);
    assert_true(g_str_has_suffix(g_ptr_array_index(r->sources, 0), "10-base.yaml"));
    assert_true(g_str_has_suffix(g_ptr_array_index(r->sources, 1), "20-profiles.yaml"));
    assert_int_equal(r->notes->len, 1);
    assert_non_null(strstr(g_ptr_array_index(r->notes, 0), "README.md: skipped"));
    /* regions merged from both files */
    bool known = false;
    assert_near(fp_policy_latency(p, "us-east1", "us-central1", &known), 30);
    assert_true(known);
    assert_near(p->default_latency_ms, 120);
    assert_non_null(g_hash_table_lookup(p->pools, "gcp-usc1-l4"));
    const FpProfile *i = fp_policy_profile(p, "interactive");
    assert_non_null(i);
    assert_string_equal(i->origin_regions, "us-east1=1");
    assert_string_equal(g_hash_table_lookup(p->namespaces, "chat"), "interactive");
}

static void test_configmap(void **state)
{
    g_autofree char *path = fp_test_data_path("policy/configmap.yaml");
    g_autoptr(FpPolicyReport) r = fp_policy_report_new();
    g_autoptr(FpPolicy) p = load_ok(path, r);
    assert_int_equal(r->sources->len, 2); /* namespaces.json, policy.yaml */
    assert_int_equal(r->notes->len, 1);
    assert_non_null(strstr(g_ptr_array_index(r->notes, 0), "README.txt"));
    const FpProfile *lc = fp_policy_profile(p, "latency-critical");
    assert_non_null(lc);
    assert_near(lc->max_latency_ms, 40);
    assert_string_equal(g_hash_table_lookup(p->namespaces, "incident-triage"), "latency-critical");
}

/* The example shipped in manifests/ must pass, with real facts in it. */
static void test_example_configmap(void **state)
{
    g_autofree char *path =
        g_build_filename(FP_SOURCE_DIR, "manifests", "policy-configmap.yaml", NULL);
    g_autoptr(FpPolicyReport) r = fp_policy_report_new();
    g_autoptr(FpPolicy) p = load_ok(path, r);
    assert_non_null(fp_policy_profile(p, "default"));
    assert_non_null(fp_policy_profile(p, "latency-critical"));
    assert_non_null(fp_policy_profile(p, "batch"));
    assert_string_equal(g_hash_table_lookup(p->namespaces, "incident-triage"), "latency-critical");
    assert_true(g_hash_table_size(p->pools) >= 3);
    assert_true(g_hash_table_size(p->latency) >= 6);
}

typedef struct {
    const char *name;
    const char *yaml;
    const char *errors[8]; /* exact, in order; a final '*' makes it a prefix */
} BadCase;

static const BadCase bad_cases[] = {
    {"unknown key with hint",
     "profile:\n  default: {}\n",
     {"p.yaml:1:1: unknown key \"profile\" (did you mean \"profiles\"?)"}},
    {"unknown key without hint",
     "colour: blue\n",
     {"p.yaml:1:1: unknown key \"colour\" (known keys: apiVersion, kind, metadata, gpuResources, "
      "nodeLabels, skus, pools, regions, defaultPricePerGPUHour, profiles, namespaces, "
      "defaultProfile, spotPriceFactor, instanceTypes, models, modelFit, shortList, "
      "poolTemplates, transfer)"}},
    {"short list",
     "shortList: -1\n"
     "profiles:\n"
     "  a: {weights: {cost: 1}, shortList: 2.5}\n"
     "  b: {weights: {cost: 1}, shortList: many}\n"
     "  c: {weights: {cost: 1}, shortList: 100001}\n",
     {"p.yaml:1:12: shortList: -1 is not a whole number from 0 (every passing node) to 100000",
      "p.yaml:3:38: profiles.a.shortList: 2.5 is not a whole number from 0 (every passing node) "
      "to 100000",
      "p.yaml:4:38: profiles.b.shortList: expected a whole number from 0 (every passing node) to "
      "100000, got a string",
      "p.yaml:5:38: profiles.c.shortList: 100001 is not a whole number from 0 (every passing "
      "node) to 100000"}},
    {"every error in a profile",
     "profiles:\n"
     "  fast:\n"
     "    weights: {latency: -1, cots: 2}\n"
     "    maxLatencyMs: \"40\"\n"
     "    packing: tight\n",
     {"p.yaml:3:24: profiles.fast.weights.latency: -1 is out of range: must be >= 0 and <= 1000",
      "p.yaml:3:28: profiles.fast.weights: unknown key \"cots\" (did you mean \"cost\"?)",
      "p.yaml:4:19: profiles.fast.maxLatencyMs: expected a number, got a string",
      "p.yaml:5:14: profiles.fast.packing: \"tight\" is not binpack or spread"}},
    {"duplicate key",
     "namespaces: {}\nnamespaces: {}\n",
     {"p.yaml:2:1: duplicate key \"namespaces\" (first at 1:1)"}},
    {"duplicate key at depth",
     "profiles:\n  a:\n    weights:\n      cost: 1\n      cost: 2\n",
     {"p.yaml:5:7: duplicate key \"cost\" (first at 4:7)"}},
    {"unknown profiles",
     "namespaces: {team-a: nope}\ndefaultProfile: missing\n",
     {"p.yaml:1:22: namespaces.team-a: unknown profile \"nope\"",
      "p.yaml:2:17: defaultProfile: unknown profile \"missing\""}},
    {"pools",
     "pools:\n"
     "  - name: a\n"
     "    maxUtilization: 1.5\n"
     "  - name: a\n"
     "  - cloud: aws\n"
     "  - name: ok\n"
     "    maxUtilization: 0\n",
     {"p.yaml:3:21: pools[0].maxUtilization: 1.5 is out of range: must be > 0 and <= 1",
      "p.yaml:4:11: pools[1].name: duplicate pool name \"a\" (first at 2:11)",
      "p.yaml:5:5: pools[2]: \"name\" is required",
      "p.yaml:7:21: pools[3].maxUtilization: 0 is out of range: must be > 0 and <= 1"}},
    {"latency matrix",
     "regions:\n"
     "  latencyMs:\n"
     "    a-1: {b-1: 10, c-1: 100}\n"
     "    b-1: {a-1: 30, b-1: 50}\n"
     "    d-1: {a-1: x, e-1: -3}\n",
     {"p.yaml:3:5: regions.latencyMs: 6 region pairs without a latency (every two regions named "
      "in the matrix need a value in at least one direction): a-1 <-> e-1, b-1 <-> c-1, "
      "b-1 <-> d-1, b-1 <-> e-1, c-1 <-> d-1, c-1 <-> e-1",
      "p.yaml:4:16: regions.latencyMs.b-1.a-1: 30 ms contradicts regions.latencyMs.a-1.b-1 = "
      "10 ms (at 3:16): the two directions may differ by at most 6 ms (max of 5 ms and 20%)",
      "p.yaml:4:25: regions.latencyMs.b-1.b-1: a region's round trip to itself (50 ms) exceeds "
      "its round trip to a-1 (20 ms)",
      "p.yaml:5:16: regions.latencyMs.d-1.a-1: expected a number, got a string",
      "p.yaml:5:24: regions.latencyMs.d-1.e-1: -3 is out of range: must be >= 0 and <= 600000"}},
    {"within tolerance is fine but region names are checked",
     "regions:\n  latencyMs:\n    a: {b: 100}\n    b: {a: 119}\n    EastUS: {a: 1}\n",
     {"p.yaml:5:5: regions.latencyMs: region \"EastUS\" must be lowercase (as in "
      "topology.kubernetes.io/region)"}},
    {"origins",
     "regions:\n"
     "  latencyMs: {eastus: {westus: 60}}\n"
     "profiles:\n"
     "  p1: {weights: {latency: 1}, originRegions: \"eastus=2,mars-1\"}\n"
     "  p2: {weights: {latency: 1}, originRegions: \"eastus=-1\"}\n"
     "  p3: {weights: {latency: 1}, originRegions: [westus, westus]}\n",
     {"p.yaml:4:46: profiles.p1.originRegions: region \"mars-1\" is not in "
      "regions.latencyMs nor in the built-in round-trip tables",
      "p.yaml:5:46: profiles.p2.originRegions: \"eastus=-1\" has a weight that is not a positive "
      "number",
      "p.yaml:6:46: profiles.p3.originRegions: \"westus\" is listed twice"}},
    {"weights and memory",
     "profiles:\n"
     "  zero: {weights: {latency: 0}}\n"
     "  none: {maxLatencyMs: 10}\n"
     "  small: {weights: {cost: 1}, minGPUMemory: 512Ki}\n"
     "  garbage: {weights: {cost: 1}, minGPUMemory: lots, minSpreadPools: 1.5}\n",
     {"p.yaml:2:19: profiles.zero.weights: all weights are 0: give at least one term a positive "
      "weight",
      "p.yaml:3:9: profiles.none: \"weights\" is required (e.g. weights: {latency: 3, cost: 2}); "
      "terms not written weigh 0",
      "p.yaml:4:45: profiles.small.minGPUMemory: \"512Ki\" is less than 1Mi (write e.g. \"40Gi\"; "
      "a bare number is bytes)",
      "p.yaml:5:47: profiles.garbage.minGPUMemory: \"lots\" is not a quantity: *",
      "p.yaml:5:69: profiles.garbage.minSpreadPools: 1.5 is not a whole number from 0 to 1000"}},
    {"types and names",
     "gpuResources: nvidia.com/gpu\n"
     "nodeLabels: {pool: [], zone: [Bad Label]}\n"
     "skus: {\"bad product!\": {}, NVIDIA-L4: {memoryGiB: 0}}\n"
     "defaultPricePerGPUHour: .inf\n"
     "apiVersion: v1\n"
     "kind: Policy\n",
     {"p.yaml:1:15: gpuResources: expected a list of strings, got a string",
      "p.yaml:2:20: nodeLabels.pool: needs 1 to 16 items, got 0",
      "p.yaml:2:31: nodeLabels.zone[0]: \"Bad Label\" is not a qualified name *",
      "p.yaml:3:8: skus: \"bad product!\" is not a GPU product (letters, digits, '-', '_', '.')",
      "p.yaml:3:51: skus.NVIDIA-L4.memoryGiB: 0 is out of range: must be > 0 and <= 1000000",
      "p.yaml:4:25: defaultPricePerGPUHour: expected a number, got a string",
      "p.yaml:5:13: apiVersion: \"v1\" is not supported (expected flexplace.io/v1alpha1)",
      "p.yaml:6:7: kind: \"Policy\" is not PlacementPolicy"}},
    {"bad namespace and profile names",
     "profiles:\n  \"bad name\": {weights: {cost: 1}}\nnamespaces: {Team_A: default}\n",
     {"p.yaml:2:3: profiles: profile name \"bad name\" is not a valid name *",
      "p.yaml:3:14: namespaces: \"Team_A\" is not a namespace name (lowercase letters, digits, "
      "'-')"}},
    {"JSON input",
     "{\"profiles\": {\"x\": {\"weights\": {\"latency\": true}}}}",
     {"p.yaml:1:33: profiles.x.weights.latency: expected a number, got a boolean"}},
    {"YAML syntax", "profiles:\n  a: [1,\n", {"p.yaml:3:1: *"}},
    {"empty file",
     "",
     {"p.yaml: no policy document (an empty file is not a policy; write {} for "
      "all defaults)"}},
    {"two documents",
     "a: 1\n---\nb: 2\n",
     {"p.yaml:3:1: a second YAML document: a policy file holds one document"}},
    {"not a mapping", "- 1\n", {"p.yaml:1:1: expected a mapping (a PlacementPolicy), got a list"}},
};

static void check_errors(const char *name, const FpPolicyReport *r, const char *const *want)
{
    guint n = 0;
    while (n < 8 && want[n]) {
        n++;
    }
    gboolean ok = r->errors->len == n;
    for (guint i = 0; ok && i < n; i++) {
        const char *got = g_ptr_array_index(r->errors, i);
        size_t len = strlen(want[i]);
        ok = want[i][len - 1] == '*' ? strncmp(got, want[i], len - 1) == 0
                                     : strcmp(got, want[i]) == 0;
    }
    if (!ok) {
        print_error("case \"%s\": got %u errors:\n", name, r->errors->len);
        dump_report(r);
        print_error("want %u:\n", n);
        for (guint i = 0; i < n; i++) {
            print_error("  %s\n", want[i]);
        }
        fail_msg("case \"%s\" failed", name);
    }
}

static void test_bad_cases(void **state)
{
    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        const BadCase *bc = &bad_cases[i];
        g_autoptr(FpPolicyReport) r = fp_policy_report_new();
        g_autoptr(FpPolicy) p = fp_policy_load_buffer(bc->yaml, strlen(bc->yaml), "p.yaml", r);
        assert_null(p);
        check_errors(bc->name, r, bc->errors);
    }
}

/* More than 10 missing pairs: the first 10 and a count. */
static void test_missing_pairs_bounded(void **state)
{
    GString *y = g_string_new("regions:\n  latencyMs:\n    r0: {");
    for (int i = 1; i <= 6; i++) {
        g_string_append_printf(y, "%sr%d: %d", i > 1 ? ", " : "", i, 10 * i);
    }
    g_string_append(y, "}\n");
    g_autoptr(FpPolicyReport) r = fp_policy_report_new();
    g_autoptr(FpPolicy) p = fp_policy_load_buffer(y->str, y->len, "m.yaml", r);
    g_string_free(y, TRUE);
    assert_null(p);
    assert_int_equal(r->errors->len, 1);
    const char *e = g_ptr_array_index(r->errors, 0);
    assert_true(g_str_has_prefix(e, "m.yaml:3:5: regions.latencyMs: 15 region pairs without"));
    assert_true(g_str_has_suffix(e, ": r1 <-> r2, r1 <-> r3, r1 <-> r4, r1 <-> r5, r1 <-> r6, "
                                    "r2 <-> r3, r2 <-> r4, r2 <-> r5, r2 <-> r6, r3 <-> r4 and 5 "
                                    "more"));
}

/* A document with thousands of problems reports a bounded number. */
static void test_error_cap(void **state)
{
    GString *y = g_string_new(NULL);
    for (int i = 0; i < 5000; i++) {
        g_string_append_printf(y, "unknown%d: 1\n", i);
    }
    g_autoptr(FpPolicyReport) r = fp_policy_report_new();
    g_autoptr(FpPolicy) p = fp_policy_load_buffer(y->str, y->len, "cap.yaml", r);
    g_string_free(y, TRUE);
    assert_null(p);
    assert_int_equal(r->errors->len, FP_POLICY_MAX_ERRORS + 1);
    assert_string_equal(
        g_ptr_array_index(r->errors, 0),
        "cap.yaml:1:1: unknown key \"unknown0\" (known keys: apiVersion, kind, "
        "metadata, gpuResources, nodeLabels, skus, pools, regions, "
        "defaultPricePerGPUHour, profiles, namespaces, defaultProfile, "
        "spotPriceFactor, instanceTypes, models, modelFit, shortList, poolTemplates, "
        "transfer)");
    assert_string_equal(g_ptr_array_index(r->errors, FP_POLICY_MAX_ERRORS),
                        "... and 4900 more errors");
    g_autofree char *joined = fp_policy_report_join_errors(r, "\n");
    assert_non_null(strstr(joined, "\n... and 4900 more errors"));
}

static char *make_dir(void)
{
    g_autoptr(GError) error = NULL;
    char *dir = g_dir_make_tmp("fp-policy-XXXXXX", &error);
    assert_non_null(dir);
    return dir;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    assert_true(g_file_set_contents(path, text, -1, NULL));
}

static void remove_dir(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        unlink(path);
    }
    rmdir(dir);
}

/* Two files setting the same scalar: an error naming both; problems in
 * several files are all reported, each with its own file. */
static void test_directory_conflicts(void **state)
{
    g_autofree char *dir = make_dir();
    write_file(dir, "a.yaml",
               "kind: PlacementPolicy\ndefaultPricePerGPUHour: 1\nprofiles:\n  x: {weights: "
               "{cost: 1}}\n");
    write_file(dir, "b.yaml",
               "kind: PlacementPolicy\nprofiles:\n  x:\n    weights: {cost: 2}\n"
               "defaultPricePerGPUHour: 2\n");
    write_file(dir, "c.json", "{\"namespaces\": {\"ns\": \"nope\"}}");
    g_autoptr(FpPolicyReport) r = fp_policy_report_new();
    g_autoptr(FpPolicy) p = fp_policy_load_path(dir, r);
    assert_null(p);
    g_autofree char *a = g_build_filename(dir, "a.yaml", NULL);
    g_autofree char *b = g_build_filename(dir, "b.yaml", NULL);
    g_autofree char *cj = g_build_filename(dir, "c.json", NULL);
    g_autofree char *e1 = g_strdup_printf(
        "%s:4:15: profiles.x.weights.cost: also set in %s:4:17; only mappings merge across "
        "files, any other value may be set by one file only",
        b, a);
    g_autofree char *e2 = g_strdup_printf(
        "%s:5:1: defaultPricePerGPUHour: also set in %s:2:1; only mappings merge across files, "
        "any other value may be set by one file only",
        b, a);
    g_autofree char *e3 = g_strdup_printf("%s:1:23: namespaces.ns: unknown profile \"nope\"", cj);
    const char *want[] = {e1, e2, e3, NULL};
    check_errors("directory conflicts", r, want);
    remove_dir(dir);

    /* an empty directory and a missing path */
    g_autofree char *empty = make_dir();
    g_autoptr(FpPolicyReport) r2 = fp_policy_report_new();
    assert_null(fp_policy_load_path(empty, r2));
    assert_int_equal(r2->errors->len, 1);
    assert_non_null(strstr(g_ptr_array_index(r2->errors, 0), "no policy file"));
    g_autofree char *missing = g_build_filename(empty, "missing.yaml", NULL);
    g_autoptr(FpPolicyReport) r3 = fp_policy_report_new();
    assert_null(fp_policy_load_path(missing, r3));
    assert_int_equal(r3->errors->len, 1);
    assert_true(g_str_has_prefix(g_ptr_array_index(r3->errors, 0), missing));
    remove_dir(empty);
}

/* Errors inside a ConfigMap's literal block point into the manifest. */
static void test_configmap_positions(void **state)
{
    const char *cm = "apiVersion: v1\n"
                     "kind: ConfigMap\n"
                     "metadata: {name: p}\n"
                     "data:\n"
                     "  policy.yaml: |\n"
                     "    profiles:\n"
                     "      x: {weights: {latency: 1}, maxLatencyMs: -5}\n"
                     "  syntax.yaml: |-\n"
                     "      a: [1,\n"
                     "  quoted.json: \"{\\\"pools\\\": 3}\"\n"
                     "  other.yaml: 12\n";
    g_autoptr(FpPolicyReport) r = fp_policy_report_new();
    g_autoptr(FpPolicy) p = fp_policy_load_buffer(cm, strlen(cm), "cm.yaml", r);
    assert_null(p);
    const char *want[] = {
        "cm.yaml:7:48: profiles.x.maxLatencyMs: -5 is out of range: must be >= 0 and <= 600000",
        "cm.yaml:10:7: did not find expected node content (while parsing a flow node at 10:7)",
        "cm.yaml:11:15: data[\"other.yaml\"]: expected the policy text (a string), got a number",
        "cm.yaml#quoted.json:1:11: pools: expected a list of pools ({name, pricePerGPUHour, "
        "maxUtilization, cloud}), got a number",
        NULL,
    };
    check_errors("configmap positions", r, want);
}

static void test_shared_data_facts(void **state)
{
    /* The SKU product strings of the shared data are valid skus keys. */
    g_autofree char *csv = fp_test_shared_data("gpu_skus.csv");
    if (!csv) {
        FP_SKIP("shared-data", "FP_SHARED_DATA not set: the gpu_skus.csv check");
    }
    g_autofree char *text = fp_test_read_file(csv, NULL);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    GString *y = g_string_new("skus:\n");
    guint n = 0;
    for (guint i = 1; lines[i]; i++) {
        g_auto(GStrv) cols = g_strsplit(lines[i], ",", 8);
        if (g_strv_length(cols) < 7 || !*cols[5] || strchr(cols[5], '"')) {
            continue;
        }
        g_string_append_printf(y, "  %s: {memoryGiB: 1}\n", cols[5]);
        n++;
    }
    assert_true(n >= 10);
    g_autoptr(FpPolicyReport) r = fp_policy_report_new();
    g_autoptr(FpPolicy) p = fp_policy_load_buffer(y->str, y->len, "skus.yaml", r);
    g_string_free(y, TRUE);
    if (!p) {
        dump_report(r);
    }
    assert_non_null(p);
}

/* One CSV line into fields (quotes and doubled quotes handled). */
static GPtrArray *csv_fields(const char *line)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    GString *f = g_string_new(NULL);
    gboolean quoted = FALSE;
    for (const char *p = line; *p && *p != '\r'; p++) {
        if (quoted) {
            if (*p == '"' && p[1] == '"') {
                g_string_append_c(f, '"');
                p++;
            } else if (*p == '"') {
                quoted = FALSE;
            } else {
                g_string_append_c(f, *p);
            }
        } else if (*p == '"') {
            quoted = TRUE;
        } else if (*p == ',') {
            g_ptr_array_add(out, g_strdup(f->str));
            g_string_truncate(f, 0);
        } else {
            g_string_append_c(f, *p);
        }
    }
    g_ptr_array_add(out, g_string_free(f, FALSE));
    return out;
}

/* The example's latencies are the shared data's (mean of both directions)
 * and every price in it is a per-GPU-hour price of gpu_prices.csv. */
static void test_example_matches_shared_data(void **state)
{
    g_autofree char *lat_csv = fp_test_shared_data("region_latency_ms.csv");
    g_autofree char *price_csv = fp_test_shared_data("gpu_prices.csv");
    if (!lat_csv || !price_csv) {
        FP_SKIP("shared-data", "FP_SHARED_DATA not set: the comparison with the shared data");
    }
    g_autofree char *path =
        g_build_filename(FP_SOURCE_DIR, "manifests", "policy-configmap.yaml", NULL);
    g_autoptr(FpPolicyReport) r = fp_policy_report_new();
    g_autoptr(FpPolicy) p = load_ok(path, r);

    static const char *const regions[] = {"eastus", "eastus2", "westus2", "westeurope",
                                          "northeurope"};
    g_autoptr(GHashTable) rtt = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autofree char *text = fp_test_read_file(lat_csv, NULL);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (guint i = 1; lines[i]; i++) {
        g_autoptr(GPtrArray) f = csv_fields(lines[i]);
        if (f->len < 4 || strcmp(g_ptr_array_index(f, 0), "azure") != 0 ||
            !*(char *)g_ptr_array_index(f, 3)) {
            continue;
        }
        double *ms = g_new(double, 1);
        *ms = g_ascii_strtod(g_ptr_array_index(f, 3), NULL);
        g_hash_table_insert(rtt,
                            g_strdup_printf("%s>%s", (char *)g_ptr_array_index(f, 1),
                                            (char *)g_ptr_array_index(f, 2)),
                            ms);
    }
    guint compared = 0;
    for (size_t a = 0; a < G_N_ELEMENTS(regions); a++) {
        for (size_t b = a + 1; b < G_N_ELEMENTS(regions); b++) {
            g_autofree char *ab = g_strdup_printf("%s>%s", regions[a], regions[b]);
            g_autofree char *ba = g_strdup_printf("%s>%s", regions[b], regions[a]);
            double *x = g_hash_table_lookup(rtt, ab), *y = g_hash_table_lookup(rtt, ba);
            assert_non_null(x);
            assert_non_null(y);
            bool known = false;
            assert_near(fp_policy_latency(p, regions[a], regions[b], &known), (*x + *y) / 2);
            assert_true(known);
            compared++;
        }
    }
    assert_int_equal(compared, 10);

    g_autofree char *ptext = fp_test_read_file(price_csv, NULL);
    g_auto(GStrv) plines = g_strsplit(ptext, "\n", -1);
    GArray *prices = g_array_new(FALSE, FALSE, sizeof(double));
    for (guint i = 1; plines[i]; i++) {
        g_autoptr(GPtrArray) f = csv_fields(plines[i]);
        if (f->len > 7 && *(char *)g_ptr_array_index(f, 7)) {
            double v = g_ascii_strtod(g_ptr_array_index(f, 7), NULL);
            g_array_append_val(prices, v);
        }
    }
    GHashTableIter it;
    gpointer v;
    guint checked = 0;
    for (int table = 0; table < 2; table++) {
        g_hash_table_iter_init(&it, table ? p->pools : p->skus);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
            double price =
                table ? ((FpPool *)v)->price_per_gpu_hour : ((FpSku *)v)->price_per_gpu_hour;
            if (price < 0) {
                continue;
            }
            gboolean found = FALSE;
            for (guint k = 0; k < prices->len && !found; k++) {
                found = fabs(g_array_index(prices, double, k) - price) < 1e-9;
            }
            if (!found) {
                fail_msg("price %.10g is not in gpu_prices.csv", price);
            }
            checked++;
        }
    }
    assert_true(checked >= 15);
    g_array_unref(prices);
}

typedef struct {
    const char *args[8]; /* after "flexplace" */
    const char *input;   /* stdin, or NULL */
    int status;
    const char *out; /* substring of stdout, or NULL */
    const char *err; /* substring of stderr, or NULL */
} CliCase;

static void test_cli(void **state)
{
    const char *bin = g_getenv("FP_BINARY");
    if (!bin || !g_file_test(bin, G_FILE_TEST_IS_EXECUTABLE)) {
        bin = FP_BINARY;
    }
    if (!g_file_test(bin, G_FILE_TEST_IS_EXECUTABLE)) {
        FP_SKIP("flexplace-binary", "%s not built: the CLI checks", bin);
    }
    g_autofree char *example =
        g_build_filename(FP_SOURCE_DIR, "manifests", "policy-configmap.yaml", NULL);
    g_autofree char *full = fp_test_data_path("policy/full.yaml");
    g_autofree char *dir = fp_test_data_path("policy/dir");
    g_autofree char *unmatched = fp_test_data_path("policy/unmatched.yaml");
    g_autofree char *cluster = fp_test_data_path("cli/cluster.yaml");
    const CliCase cases[] = {
        {{"policy", "check", example},
         NULL,
         0,
         "regions in the latency matrix (5): eastus, "
         "eastus2, northeurope, westeurope, westus2",
         NULL},
        {{"policy", "check", example}, NULL, 0, "  incident-triage      -> latency-critical", NULL},
        {{"policy", "check", "-o", "json", full}, NULL, 0, "\"valid\": true", NULL},
        {{"policy", "check", dir}, NULL, 0, "note: ", NULL},
        {{"policy", "check", "-"},
         "profiles:\n  x: {weights: {latncy: 2}}\nnope: 1\n",
         1,
         NULL,
         "<stdin>:2:17: profiles.x.weights: unknown key \"latncy\" (did you mean \"latency\"?)\n"
         "<stdin>:3:1: unknown key \"nope\" (known keys: "},
        {{"policy", "check", "-"}, "a: [\n", 1, NULL, "policy invalid: 1 error\n"},
        {{"policy", "check", "--output=json", "-"},
         "{\"kind\": \"Nope\"}",
         1,
         "\"errors\": [\n    \"<stdin>:1:10: kind: \\\"Nope\\\" is not PlacementPolicy\"",
         NULL},
        {{"policy", "check"}, NULL, 2, NULL, "a FILE, DIR or - is required"},
        {{"policy", "check", "/nonexistent/policy.yaml"}, NULL, 2, NULL, "No such file"},
        {{"policy", "check", "-o", "xml", full}, NULL, 2, NULL, "-o must be text or json"},
        {{"policy", "check", full, full}, NULL, 2, NULL, "one path only"},
        {{"policy", "check", "--frob", full}, NULL, 2, NULL, "unknown option --frob"},
        /* issue 20: names that match nothing in the cluster are reported */
        {{"policy", "check", unmatched, "--cluster", cluster},
         NULL,
         0,
         "warning: names in the policy that match nothing in ",
         NULL},
        {{"policy", "check", unmatched, "--cluster", cluster},
         NULL,
         0,
         ": pools use1-l5; regions westus2; SKUs NVIDIA-H100-80GB-HMB3\n",
         NULL},
        {{"policy", "check", "-o", "json", unmatched, "--cluster", cluster},
         NULL,
         0,
         "\"pools\": [\n      \"use1-l5\"\n    ]",
         NULL},
        {{"policy", "check", full, "--cluster", "/nonexistent/cluster.yaml"},
         NULL,
         2,
         NULL,
         "--cluster: "},
        {{"policy", "frob"}, NULL, 2, NULL, "unknown subcommand"},
        {{"policy"}, NULL, 2, NULL, "Usage: flexplace policy check"},
        {{"policy", "--help"}, NULL, 0, "Exit status: 0 valid, 1 invalid policy", NULL},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const CliCase *cc = &cases[i];
        const char *argv[10] = {bin};
        for (int k = 0; k < 8 && cc->args[k]; k++) {
            argv[k + 1] = cc->args[k];
        }
        g_autoptr(GError) error = NULL;
        g_autoptr(GSubprocess) proc =
            g_subprocess_newv(argv,
                              G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                  G_SUBPROCESS_FLAGS_STDERR_PIPE,
                              &error);
        assert_non_null(proc);
        g_autofree char *out = NULL, *err = NULL;
        assert_true(g_subprocess_communicate_utf8(proc, cc->input ? cc->input : "", NULL, &out,
                                                  &err, &error));
        int status = g_subprocess_get_exit_status(proc);
        gboolean ok = status == cc->status && (!cc->out || strstr(out, cc->out)) &&
                      (!cc->err || strstr(err, cc->err));
        if (!ok) {
            fail_msg("case %zu (%s %s): exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", i,
                     cc->args[0], cc->args[1] ? cc->args[1] : "", status, cc->status, out, err);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_yaml_and_json),
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_directory),
        cmocka_unit_test(test_configmap),
        cmocka_unit_test(test_example_configmap),
        cmocka_unit_test(test_bad_cases),
        cmocka_unit_test(test_missing_pairs_bounded),
        cmocka_unit_test(test_error_cap),
        cmocka_unit_test(test_directory_conflicts),
        cmocka_unit_test(test_configmap_positions),
        cmocka_unit_test(test_shared_data_facts),
        cmocka_unit_test(test_example_matches_shared_data),
        cmocka_unit_test(test_cli),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
