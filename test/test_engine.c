/*
 * test/test_engine.c - the scoring engine: GPU product matching, node facts,
 * each filter (pass, fail, resolvable or not, order), each score term with
 * exact numbers, weights, normalisation, inactive terms, rounding, ties and
 * the burst overflow rule.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "scoring/engine.h"
#include "scoring/engine_private.h"
#include "support/support.h"

#define GPU "nvidia.com/gpu"
#define H100 "NVIDIA-H100-80GB-HBM3"
#define L4 "NVIDIA-L4"
#define L40S "NVIDIA-L40S"
#define A100 "NVIDIA-A100-SXM4-40GB"

static void near_(double got, double want, const char *what, int line)
{
    if (!(fabs(got - want) <= 1e-9)) {
        fail_msg("line %d: %s = %.12g, want %.12g", line, what, got, want);
    }
}
#define assert_near(got, want) near_((got), (want), #got, __LINE__)

/* ---- builders ------------------------------------------------------------ */

static void label(FpNode *n, const char *k, const char *v)
{
    g_hash_table_replace(n->labels, g_strdup(k), g_strdup(v));
}

/* A GPU node; NULL strings leave the label off, @gpus < 0 leaves the
 * resource off. */
static FpNode *mk_node(const char *name, const char *product, const char *pool, const char *region,
                       int64_t gpus)
{
    FpNode *n = fp_node_new(name);
    if (product) {
        label(n, "nvidia.com/gpu.product", product);
    }
    if (pool) {
        label(n, "flexplace.io/pool", pool);
    }
    if (region) {
        label(n, "topology.kubernetes.io/region", region);
    }
    if (gpus >= 0) {
        fp_res_list_set(&n->allocatable, GPU, gpus);
    }
    fp_res_list_set(&n->allocatable, "cpu", 96000);
    return n;
}

static void annotate(FpPod *pod, const char *key, const char *value)
{
    if (!pod->annotations) {
        pod->annotations = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    }
    g_hash_table_replace(pod->annotations, g_strdup(key), g_strdup(value));
}

/* A pod asking for @gpus nvidia.com/gpu, with annotations given as a
 * NULL-terminated key, value list. */
static FpPod *mk_pod(int64_t gpus, ...)
{
    FpPod *pod = fp_pod_new();
    pod->ns = g_strdup("default");
    pod->name = g_strdup("infer-0");
    if (gpus) {
        fp_res_list_set(&pod->requests, GPU, gpus);
    }
    va_list ap;
    va_start(ap, gpus);
    const char *k;
    while ((k = va_arg(ap, const char *))) {
        annotate(pod, k, va_arg(ap, const char *));
    }
    va_end(ap);
    return pod;
}

/* The terms' absolute scales (engine.h), written out independently. */
static double lat_term(double ms)
{
    double t = 1 - log2(1 + ms / 5.0) / log2(1 + 300 / 5.0);
    return t < 0 ? 0 : t;
}

static double cost_term(double price)
{
    double t = log(32.0 / price) / log(32.0 / 0.25);
    return t < 0 ? 0 : t > 1 ? 1 : t;
}

static FpProfile *default_profile(FpPolicy *p)
{
    return g_hash_table_lookup(p->profiles, "default");
}

static void set_weights(FpPolicy *p, double lat, double cost, double head, double pack, double sku,
                        double spread)
{
    double *w = default_profile(p)->weights;
    w[FP_TERM_LATENCY] = lat;
    w[FP_TERM_COST] = cost;
    w[FP_TERM_HEADROOM] = head;
    w[FP_TERM_PACKING] = pack;
    w[FP_TERM_SKU] = sku;
    w[FP_TERM_SPREAD] = spread;
}

/* The default policy with two latency matrix entries, without the built-in
 * round trips (test_region_latency.c holds those): every other pair is
 * defaultLatencyMs here. */
static FpPolicy *test_policy(void)
{
    FpPolicy *p = fp_policy_new_default();
    p->builtin_latency = false;
    double *v = g_new(double, 1);
    *v = 82;
    g_hash_table_replace(p->latency, fp_policy_latency_key("eastus", "westeurope"), v);
    v = g_new(double, 1);
    *v = 18;
    g_hash_table_replace(p->latency, fp_policy_latency_key("westeurope", "northeurope"), v);
    return p;
}

static GHashTable *pool_stats_new(void)
{
    return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

static void pool_stat(GHashTable *t, const char *pool, int64_t alloc, int64_t used, int64_t assumed)
{
    FpPoolStat *s = g_new(FpPoolStat, 1);
    s->allocatable = alloc;
    s->used = used;
    s->assumed = assumed;
    g_hash_table_replace(t, g_strdup(pool), s);
}

static FpCandidate cand(const FpNode *node, int64_t used, int64_t assumed)
{
    FpCandidate c = {.node = node,
                     .name = node ? node->name : "ghost",
                     .gpu_used = used,
                     .gpu_assumed = assumed};
    return c;
}

/* Evaluate @pod on @n candidates under @p. */
static void eval(const FpPolicy *p, const FpPod *pod, const FpCandidate *c, guint n, FpVerdict *out,
                 GHashTable *pool_stats, guint workload_pools)
{
    g_autoptr(FpDemand) d = fp_demand_new(pod, p);
    FpEvalContext ctx = {
        .policy = p, .demand = d, .pool_stats = pool_stats, .workload_pools = workload_pools};
    fp_evaluate(&ctx, c, n, out);
    /* a reason taken from the demand dies with it: keep an interned copy */
    for (guint i = 0; i < n; i++) {
        if (out[i].reason && d->invalid_reason && out[i].reason == d->invalid_reason) {
            out[i].reason = g_intern_string(d->invalid_reason);
        }
    }
}

/* ---- product matching ------------------------------------------------------ */

static void test_sku_matching(void **state)
{
    static const struct {
        const char *entry;
        const char *product;
        bool match;
    } rows[] = {
        {"NVIDIA-H200", "NVIDIA-H200", true},
        {"NVIDIA-H200", "NVIDIA-H20", false}, /* no substring matching */
        {"NVIDIA-H20", "NVIDIA-H200", false},
        {"H100", "NVIDIA-H100-80GB-HBM3", false},
        {"NVIDIA-H100", "NVIDIA-H100-80GB-HBM3", false},
        {"A100-SXM4-40GB", "NVIDIA-A100-SXM4-40GB", true}, /* old driver spelling */
        {"NVIDIA-A100-SXM4-40GB", "A100-SXM4-40GB", true},
        {"nvidia-l4", "NVIDIA-L4", false}, /* exact, case-sensitive */
        {"NVIDIA-L4", "NVIDIA-L4-SHARED", false},
        {"NVIDIA-L4-SHARED", "NVIDIA-L4-SHARED", true},
        {"L4-SHARED", "NVIDIA-L4-SHARED", true},
        {"NVIDIA-L4-SHARED", "NVIDIA-L4", false},
        {"NVIDIA-A100-SXM4-40GB", "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", false},
        {"NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", true},
        {"NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", "NVIDIA-A100-SXM4-40GB-MIG-2g.10gb", false},
        {"A100-SXM4-40GB-MIG-1g.5gb", "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", true},
        {"NVIDIA-A100-SXM4-40GB-MIG-*", "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", true},
        {"NVIDIA-A100-SXM4-40GB-MIG-*", "A100-SXM4-40GB-MIG-3g.20gb", true},
        {"NVIDIA-A100-SXM4-40GB-MIG-*", "NVIDIA-A100-SXM4-40GB", false},
        {"NVIDIA-A100-SXM4-40GB-MIG-*", "NVIDIA-A100-SXM4-40GB-MIG-", false},
        {"NVIDIA-A100-SXM4-80GB-MIG-*", "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", false},
        {"NVIDIA-A100-SXM4-40GB-MIG-*", "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb-SHARED", false},
        {"NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb-SHARED", false},
        {"NVIDIA-A100-SXM4-40GB-MIG-*", "NVIDIA-A100-SXM4-40GB-MIG-*", true},
        {"", "NVIDIA-L4", false},
        {"NVIDIA-L4", "", false},
        {"NVIDIA-", "NVIDIA-", false},
        {"Tesla-T4", "Tesla-T4", true},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        if (fp_sku_matches(rows[i].entry, rows[i].product) != rows[i].match) {
            fail_msg("entry %s vs node product %s: want %s", rows[i].entry, rows[i].product,
                     rows[i].match ? "match" : "no match");
        }
    }
    assert_false(fp_sku_matches(NULL, "NVIDIA-L4"));
    assert_false(fp_sku_matches("NVIDIA-L4", NULL));

    g_auto(GStrv) list = g_strsplit("NVIDIA-H200,NVIDIA-L4,A100-SXM4-40GB-MIG-*", ",", -1);
    guint n = 0;
    assert_int_equal(fp_sku_list_index(list, "NVIDIA-H20", &n), -1);
    assert_int_equal(n, 3);
    assert_int_equal(fp_sku_list_index(list, "NVIDIA-L4", NULL), 1);
    assert_int_equal(fp_sku_list_index(list, "NVIDIA-A100-SXM4-40GB-MIG-7g.40gb", NULL), 2);
    assert_int_equal(fp_sku_list_index(NULL, "NVIDIA-L4", &n), -1);
    assert_int_equal(n, 0);

    static const struct {
        const char *product;
        const char *base;
        bool mig;
    } bases[] = {
        {"NVIDIA-L4", "NVIDIA-L4", false},
        {"NVIDIA-L4-SHARED", "NVIDIA-L4", false},
        {"NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", "NVIDIA-A100-SXM4-40GB", true},
        {"NVIDIA-A100-SXM4-40GB-MIG-1g.5gb-SHARED", "NVIDIA-A100-SXM4-40GB", true},
        {"NVIDIA-A100-SXM4-40GB-MIG-", "NVIDIA-A100-SXM4-40GB-MIG-", false},
        {"-MIG-1g.5gb", "-MIG-1g.5gb", false},
        {"-SHARED", "-SHARED", false},
        {"", "", false},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bases); i++) {
        gsize len = fp_sku_base_len(bases[i].product);
        g_autofree char *base = g_strndup(bases[i].product, len);
        assert_string_equal(base, bases[i].base);
        assert_int_equal(fp_sku_is_mig(bases[i].product), bases[i].mig);
    }
}

/* ---- node facts ---------------------------------------------------------------- */

static void test_node_facts(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    FpPool *pool = fp_pool_new("aws-use1-l4");
    pool->price_per_gpu_hour = 0.98;
    pool->max_utilization = 0.95;
    g_hash_table_replace(p->pools, g_strdup(pool->name), pool);
    FpPool *pool2 = fp_pool_new("ceiling-only");
    pool2->max_utilization = 0.5;
    g_hash_table_replace(p->pools, g_strdup(pool2->name), pool2);
    p->default_price_per_gpu_hour = 3.5;

    /* clang-format off */
    static const struct {
        const char *labels[12]; /* key, value pairs */
        const char *pool, *region, *zone, *product, *itype, *ctype;
        double mem_mib, tp, price, max_util;
    } rows[] = {
        /* the SKU's nominal memory wins over GFD's slightly smaller NVML figure */
        {{"nvidia.com/gpu.product", H100, "nvidia.com/gpu.memory", "81559",
          "karpenter.sh/nodepool", "p5", "topology.kubernetes.io/region", "us-east-1",
          "topology.kubernetes.io/zone", "us-east-1a"},
         "p5", "us-east-1", "us-east-1a", H100, "", "", 80 * 1024, 3.0, 6.88, 1.0},
        /* a label larger than the table's figure wins */
        {{"nvidia.com/gpu.product", H100, "nvidia.com/gpu.memory", "95830"},
         "", "", "", H100, "", "", 95830, 3.0, 6.88, 1.0},
        /* first present label of each list; beta labels as fallback */
        {{"flexplace.io/pool", "aws-use1-l4", "karpenter.sh/nodepool", "other",
          "failure-domain.beta.kubernetes.io/region", "us-east-1",
          "beta.kubernetes.io/instance-type", "g6.xlarge", "karpenter.sh/capacity-type", "spot",
          "nvidia.com/gpu.product", L4},
         "aws-use1-l4", "us-east-1", "", L4, "g6.xlarge", "spot", 24 * 1024, 0.5, 0.98, 0.95},
        /* garbage memory labels: SKU memory instead */
        {{"nvidia.com/gpu.product", "Tesla-T4", "nvidia.com/gpu.memory", "15GiB"},
         "", "", "", "Tesla-T4", "", "", 16 * 1024, 0.25, 0.526, 1.0},
        {{"nvidia.com/gpu.product", "Tesla-T4", "nvidia.com/gpu.memory", "-5"},
         "", "", "", "Tesla-T4", "", "", 16 * 1024, 0.25, 0.526, 1.0},
        {{"nvidia.com/gpu.product", "Tesla-T4", "nvidia.com/gpu.memory", "0"},
         "", "", "", "Tesla-T4", "", "", 16 * 1024, 0.25, 0.526, 1.0},
        /* old spelling and the time-sliced product: base SKU facts */
        {{"nvidia.com/gpu.product", "A100-SXM4-40GB-SHARED"},
         "", "", "", "A100-SXM4-40GB-SHARED", "", "", 40 * 1024, 1.0, 2.744705, 1.0},
        /* MIG: price/throughput from the base, memory only from the label */
        {{"nvidia.com/gpu.product", "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb"},
         "", "", "", "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", "", "", 0, 1.0, 2.744705, 1.0},
        {{"nvidia.com/gpu.product", "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb",
          "nvidia.com/gpu.memory", "4864"},
         "", "", "", "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", "", "", 4864, 1.0, 2.744705, 1.0},
        /* unknown product: defaults; a pool with only a ceiling */
        {{"nvidia.com/gpu.product", "NVIDIA-GB300", "flexplace.io/pool", "ceiling-only",
          "node.kubernetes.io/instance-type", "x"},
         "ceiling-only", "", "", "NVIDIA-GB300", "x", "", 0, 1.0, 3.5, 0.5},
        /* an empty label value counts as absent */
        {{"flexplace.io/pool", "", "karpenter.sh/nodepool", "np"},
         "np", "", "", "", "", "", 0, 1.0, 3.5, 1.0},
        {{NULL}, "", "", "", "", "", "", 0, 1.0, 3.5, 1.0},
    };
    /* clang-format on */
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        g_autoptr(FpNode) n = fp_node_new("n");
        for (int j = 0; j < 12 && rows[i].labels[j]; j += 2) {
            label(n, rows[i].labels[j], rows[i].labels[j + 1]);
        }
        FpNodeFacts f;
        fp_node_facts(p, n, &f);
        assert_string_equal(f.pool, rows[i].pool);
        assert_string_equal(f.region, rows[i].region);
        assert_string_equal(f.zone, rows[i].zone);
        assert_string_equal(f.product, rows[i].product);
        assert_string_equal(f.instance_type, rows[i].itype);
        assert_string_equal(f.capacity_type, rows[i].ctype);
        assert_near(f.gpu_memory_mib, rows[i].mem_mib);
        assert_near(f.relative_throughput, rows[i].tp);
        assert_near(f.price_per_gpu_hour, rows[i].price);
        assert_near(f.max_utilization, rows[i].max_util);
    }
    /* a policy entry for an exact MIG product may state its memory */
    FpSku *mig = fp_sku_new("NVIDIA-A100-SXM4-40GB-MIG-3g.20gb");
    mig->memory_gib = 20;
    g_hash_table_replace(p->skus, g_strdup(mig->product), mig);
    g_autoptr(FpNode) n = mk_node("m", "NVIDIA-A100-SXM4-40GB-MIG-3g.20gb", NULL, NULL, 2);
    FpNodeFacts f;
    fp_node_facts(p, n, &f);
    assert_near(f.gpu_memory_mib, 20 * 1024);
    assert_near(f.price_per_gpu_hour, 3.5); /* the exact entry has no price */

    fp_node_facts(p, NULL, &f);
    assert_string_equal(f.pool, "");
    assert_string_equal(f.product, "");
}

/* ---- filters ----------------------------------------------------------------------- */

typedef struct {
    const char *name;
    /* node */
    const char *product;
    const char *region; /* NULL = unlabelled */
    int64_t alloc;      /* < 0 = no such resource */
    bool not_ready, unschedulable;
    int64_t used, assumed;
    /* pod */
    int64_t gpus;
    const char *ann[8]; /* key, value pairs */
    /* want */
    const char *reason; /* NULL = pass */
    bool unresolvable;
    int64_t gpus_free;
} FilterCase;

/* clang-format off */
static const FilterCase filter_cases[] = {
    /* name, product, region, alloc, not_ready, unschedulable, used, assumed,
     * gpus, annotations, reason, unresolvable, gpus_free */
    {"baseline", H100, "eastus", 8, false, false, 2, 1, 1, {NULL}, NULL, false, 5},
    {"bad annotation", H100, "eastus", 8, false, false, 0, 0, 1,
     {FP_ANN_MAX_LATENCY, "fast"}, "invalid annotation " FP_ANN_MAX_LATENCY, true, 8},
    /* a bad annotation beats every other failure */
    {"bad annotation first", H100, "eastus", 8, true, false, 0, 0, 1,
     {FP_ANN_SPREAD, "0"}, "invalid annotation " FP_ANN_SPREAD, true, 8},
    {"not ready", H100, "eastus", 8, true, false, 0, 0, 1,
     {NULL}, FP_REASON_NOT_READY, true, 8},
    {"cordoned", H100, "eastus", 8, false, true, 0, 0, 1,
     {NULL}, FP_REASON_UNSCHEDULABLE, true, 8},
    {"not ready before cordoned", H100, "eastus", 8, true, true, 0, 0, 1,
     {NULL}, FP_REASON_NOT_READY, true, 8},
    {"no resource", NULL, "eastus", -1, false, false, 0, 0, 1,
     {NULL}, FP_REASON_NO_GPU_RESOURCE, true, 0},
    {"zero allocatable", H100, "eastus", 0, false, false, 0, 0, 1,
     {NULL}, FP_REASON_NO_GPU_RESOURCE, true, 0},
    {"sku allowed", H100, "eastus", 8, false, false, 0, 0, 1,
     {FP_ANN_SKU, "NVIDIA-L4,NVIDIA-H100-80GB-HBM3"}, NULL, false, 8},
    {"sku not allowed", H100, "eastus", 8, false, false, 0, 0, 1,
     {FP_ANN_SKU, "NVIDIA-H200"}, FP_REASON_SKU, true, 8},
    {"sku no substring", "NVIDIA-H20", "eastus", 8, false, false, 0, 0, 1,
     {FP_ANN_SKU, "NVIDIA-H200"}, FP_REASON_SKU, true, 8},
    {"sku unknown product", NULL, "eastus", 8, false, false, 0, 0, 1,
     {FP_ANN_SKU, "NVIDIA-L4"}, FP_REASON_SKU, true, 8},
    {"sku before memory", L4, "eastus", 8, false, false, 0, 0, 1,
     {FP_ANN_SKU, H100, FP_ANN_MIN_MEMORY, "40Gi"}, FP_REASON_SKU, true, 8},
    {"memory enough", H100, "eastus", 8, false, false, 0, 0, 1,
     {FP_ANN_MIN_MEMORY, "80Gi"}, NULL, false, 8},
    {"memory short", L4, "eastus", 8, false, false, 0, 0, 1,
     {FP_ANN_MIN_MEMORY, "40Gi"}, FP_REASON_GPU_MEMORY, true, 8},
    {"memory unknown", "NVIDIA-GB300", "eastus", 8, false, false, 0, 0, 1,
     {FP_ANN_MIN_MEMORY, "1Gi"}, FP_REASON_GPU_MEMORY, true, 8},
    {"latency ok", H100, "westeurope", 8, false, false, 0, 0, 1,
     {FP_ANN_ORIGIN, "eastus", FP_ANN_MAX_LATENCY, "82"}, NULL, false, 8},
    {"latency over", H100, "westeurope", 8, false, false, 0, 0, 1,
     {FP_ANN_ORIGIN, "eastus", FP_ANN_MAX_LATENCY, "81.9"}, FP_REASON_LATENCY, true, 8},
    /* 0.5 * 82 + 0.5 * 2 = 42 */
    {"latency weighted", H100, "westeurope", 8, false, false, 0, 0, 1,
     {FP_ANN_ORIGIN, "eastus=1,westeurope=1", FP_ANN_MAX_LATENCY, "42"}, NULL, false, 8},
    {"latency weighted over", H100, "westeurope", 8, false, false, 0, 0, 1,
     {FP_ANN_ORIGIN, "eastus=1,westeurope=1", FP_ANN_MAX_LATENCY, "41"},
     FP_REASON_LATENCY, true, 8},
    {"latency no region", H100, NULL, 8, false, false, 0, 0, 1,
     {FP_ANN_ORIGIN, "eastus", FP_ANN_MAX_LATENCY, "149"}, FP_REASON_LATENCY, true, 8},
    {"latency unknown pair", H100, "japaneast", 8, false, false, 0, 0, 1,
     {FP_ANN_ORIGIN, "eastus", FP_ANN_MAX_LATENCY, "150"}, NULL, false, 8},
    /* issue 20: a limit with no origin used to be ignored without a word */
    {"latency limit without origin", H100, "japaneast", 8, false, false, 0, 0, 1,
     {FP_ANN_MAX_LATENCY, "1"}, "invalid annotation " FP_ANN_MAX_LATENCY, true, 8},
    {"price ok", H100, "eastus", 8, false, false, 0, 0, 1,
     {FP_ANN_MAX_PRICE, "6.88"}, NULL, false, 8},
    {"price over", H100, "eastus", 8, false, false, 0, 0, 1,
     {FP_ANN_MAX_PRICE, "6.87"}, FP_REASON_PRICE, true, 8},
    {"price default for unknown sku", "NVIDIA-GB300", "eastus", 8, false, false, 0, 0, 1,
     {FP_ANN_MAX_PRICE, "3.99"}, FP_REASON_PRICE, true, 8},
    {"price before capacity", H100, "eastus", 8, false, false, 8, 0, 1,
     {FP_ANN_MAX_PRICE, "1"}, FP_REASON_PRICE, true, 0},
    {"exactly enough", H100, "eastus", 8, false, false, 5, 1, 2,
     {NULL}, NULL, false, 2},
    {"insufficient", H100, "eastus", 8, false, false, 6, 1, 2,
     {NULL}, FP_REASON_INSUFFICIENT_GPUS, false, 1},
    {"insufficient by assumed", H100, "eastus", 8, false, false, 0, 8, 1,
     {NULL}, FP_REASON_INSUFFICIENT_GPUS, false, 0},
    {"overcommitted", H100, "eastus", 8, false, false, 9, 0, 1,
     {NULL}, FP_REASON_INSUFFICIENT_GPUS, false, 0},
    {"hostile counts", H100, "eastus", 8, false, false, INT64_MAX, INT64_MAX, 1,
     {NULL}, FP_REASON_INSUFFICIENT_GPUS, false, 0},
    /* issue 20: more GPUs than the node has is no case for preemption */
    {"more than the node has", H100, "eastus", 8, false, false, 0, 0, 9,
     {NULL}, FP_REASON_TOO_FEW_GPUS, true, 8},
    {"more than the node has, busy too", H100, "eastus", 8, false, false, 8, 0, 9,
     {NULL}, FP_REASON_TOO_FEW_GPUS, true, 0},
};
/* clang-format on */

static void test_filters(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    for (gsize i = 0; i < G_N_ELEMENTS(filter_cases); i++) {
        const FilterCase *fc = &filter_cases[i];
        g_autoptr(FpNode) n = mk_node("n", fc->product, "pool-a", fc->region, fc->alloc);
        n->ready = !fc->not_ready;
        n->unschedulable = fc->unschedulable;
        g_autoptr(FpPod) pod = mk_pod(fc->gpus, NULL);
        for (int j = 0; j < 8 && fc->ann[j]; j += 2) {
            annotate(pod, fc->ann[j], fc->ann[j + 1]);
        }
        FpCandidate c = cand(n, fc->used, fc->assumed);
        FpVerdict v;
        eval(p, pod, &c, 1, &v, NULL, 0);
        if (fc->reason) {
            if (v.pass || !v.reason || strcmp(v.reason, fc->reason) != 0) {
                fail_msg("%s: want \"%s\", got %s \"%s\"", fc->name, fc->reason,
                         v.pass ? "pass" : "fail", v.reason ? v.reason : "");
            }
            assert_int_equal(v.unresolvable, fc->unresolvable);
            assert_int_equal(v.score, 0);
        } else if (!v.pass) {
            fail_msg("%s: want pass, got \"%s\"", fc->name, v.reason);
        } else {
            assert_null(v.reason);
            assert_false(v.unresolvable);
        }
        if (v.gpus_free != fc->gpus_free) {
            fail_msg("%s: gpus_free %" G_GINT64_FORMAT ", want %" G_GINT64_FORMAT, fc->name,
                     v.gpus_free, fc->gpus_free);
        }
    }
}

static void test_filter_profile_limits(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    FpProfile *prof = default_profile(p);
    prof->allowed_skus = g_strsplit(L4 "," L40S, ",", -1);
    prof->min_gpu_memory_gib = 40;
    g_autoptr(FpNode) l4 = mk_node("l4", L4, NULL, "eastus", 4);
    g_autoptr(FpNode) l40s = mk_node("l40s", L40S, NULL, "eastus", 4);
    g_autoptr(FpNode) h100 = mk_node("h100", H100, NULL, "eastus", 4);
    FpCandidate c[] = {cand(l4, 0, 0), cand(l40s, 0, 0), cand(h100, 0, 0)};
    FpVerdict v[3];
    g_autoptr(FpPod) pod = mk_pod(1, NULL);
    eval(p, pod, c, 3, v, NULL, 0);
    assert_string_equal(v[0].reason, FP_REASON_GPU_MEMORY);
    assert_true(v[1].pass);
    assert_string_equal(v[2].reason, FP_REASON_SKU);

    /* the pod's gpu-sku replaces the profile's allow-list */
    g_autoptr(FpPod) pod2 = mk_pod(1, FP_ANN_SKU, H100, FP_ANN_MIN_MEMORY, "1Gi", NULL);
    eval(p, pod2, c, 3, v, NULL, 0);
    assert_string_equal(v[0].reason, FP_REASON_SKU);
    assert_string_equal(v[1].reason, FP_REASON_SKU);
    assert_true(v[2].pass);

    /* an unknown price (no pool, SKU or policy default) fails a price limit */
    g_autoptr(FpPolicy) unpriced = test_policy();
    unpriced->default_price_per_gpu_hour = -1;
    g_autoptr(FpNode) gb = mk_node("gb", "NVIDIA-GB300", NULL, "eastus", 4);
    FpCandidate cg[] = {cand(gb, 0, 0), cand(h100, 0, 0)};
    g_autoptr(FpPod) capped = mk_pod(1, FP_ANN_MAX_PRICE, "100", NULL);
    eval(unpriced, capped, cg, 2, v, NULL, 0);
    assert_string_equal(v[0].reason, FP_REASON_PRICE);
    assert_true(v[1].pass);
    g_autoptr(FpPod) uncapped = mk_pod(1, NULL);
    eval(unpriced, uncapped, cg, 2, v, NULL, 0);
    assert_true(v[0].pass);
    assert_true(v[0].facts.price_per_gpu_hour < 0);
    /* unknown price: the worst cost */
    assert_near(v[0].term[FP_TERM_COST], 0);
    assert_near(v[1].term[FP_TERM_COST], cost_term(6.88));
}

static void test_not_in_view_and_no_gpu(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    g_autoptr(FpNode) down = mk_node("down", H100, NULL, "eastus", 8);
    down->ready = false;
    g_autoptr(FpNode) cpu = mk_node("cpu", NULL, NULL, NULL, -1);
    FpCandidate c[] = {cand(NULL, 0, 0), cand(down, 0, 0), cand(cpu, 0, 0)};
    FpVerdict v[3];

    g_autoptr(FpPod) gpu_pod = mk_pod(1, NULL);
    eval(p, gpu_pod, c, 3, v, NULL, 0);
    assert_string_equal(v[0].reason, FP_REASON_NOT_IN_VIEW);
    assert_true(v[0].unresolvable);
    assert_string_equal(v[1].reason, FP_REASON_NOT_READY);
    assert_string_equal(v[2].reason, FP_REASON_NO_GPU_RESOURCE);

    /* a pod without GPUs: neutral everywhere it is known */
    g_autoptr(FpPod) cpu_pod = mk_pod(0, FP_ANN_ORIGIN, "eastus", NULL);
    eval(p, cpu_pod, c, 3, v, NULL, 0);
    assert_string_equal(v[0].reason, FP_REASON_NOT_IN_VIEW);
    for (int i = 1; i < 3; i++) {
        assert_true(v[i].pass);
        assert_int_equal(v[i].score, 0);
        assert_near(v[i].total, 0);
        for (int t = 0; t < FP_N_TERMS; t++) {
            assert_false(v[i].term_active[t]);
        }
    }

    /* an invalid pod fails even nodes the view lacks, with its own reason */
    g_autoptr(FpPod) bad = mk_pod(1, FP_ANN_ORIGIN, "Nowhere", NULL);
    eval(p, bad, c, 3, v, NULL, 0);
    for (int i = 0; i < 3; i++) {
        assert_false(v[i].pass);
        assert_true(v[i].unresolvable);
        assert_string_equal(v[i].reason, "invalid annotation " FP_ANN_ORIGIN);
    }
}

/* ---- pool ceiling and the burst overflow rule ------------------------------------ */

static FpPolicy *ceiling_policy(void)
{
    FpPolicy *p = test_policy();
    static const char *const names[] = {"pool-a", "pool-b", "pool-c"};
    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        FpPool *pool = fp_pool_new(names[i]);
        pool->max_utilization = 0.8;
        g_hash_table_replace(p->pools, g_strdup(names[i]), pool);
    }
    return p;
}

static void test_pool_ceiling(void **state)
{
    g_autoptr(FpPolicy) p = ceiling_policy();
    g_autoptr(GHashTable) stats = pool_stats_new();
    pool_stat(stats, "pool-a", 20, 15, 1); /* 16 + 1 > 0.8 * 20 */
    pool_stat(stats, "pool-c", 20, 14, 1); /* 15 + 1 = 16: at the ceiling, fine */
    g_autoptr(FpNode) a = mk_node("a", H100, "pool-a", "eastus", 8);
    g_autoptr(FpNode) b = mk_node("b", H100, "pool-b", "eastus", 8); /* no stats */
    g_autoptr(FpNode) c = mk_node("c", H100, "pool-c", "eastus", 8);
    g_autoptr(FpNode) d = mk_node("d", H100, NULL, "eastus", 8); /* no pool */
    FpCandidate cs[] = {cand(a, 4, 0), cand(b, 4, 0), cand(c, 4, 0), cand(d, 7, 0)};
    FpVerdict v[4];
    g_autoptr(FpPod) pod = mk_pod(1, NULL);
    eval(p, pod, cs, 4, v, stats, 0);
    assert_false(v[0].pass);
    assert_string_equal(v[0].reason, FP_REASON_POOL_CEILING);
    assert_false(v[0].unresolvable);
    assert_true(v[1].pass);
    assert_true(v[2].pass);
    assert_true(v[3].pass);
    /* headroom at the ceiling is 0 for pool-c: (16 - 16) / 16 */
    assert_near(v[2].term[FP_TERM_HEADROOM], 0);
}

static void test_burst_overflow(void **state)
{
    g_autoptr(FpPolicy) p = ceiling_policy();
    g_autoptr(GHashTable) stats = pool_stats_new();
    pool_stat(stats, "pool-a", 20, 16, 0);
    pool_stat(stats, "pool-b", 10, 8, 0);
    g_autoptr(FpNode) a = mk_node("a", H100, "pool-a", "eastus", 8);
    g_autoptr(FpNode) b = mk_node("b", L4, "pool-b", "eastus", 4);
    g_autoptr(FpNode) full = mk_node("full", H100, "pool-a", "eastus", 8);
    g_autoptr(FpNode) l40s = mk_node("l40s", L40S, "pool-b", "eastus", 4);
    FpCandidate cs[] = {cand(a, 4, 0), cand(b, 2, 0), cand(full, 8, 0), cand(l40s, 0, 0)};
    FpVerdict v[4];
    /* every node that passes filters 1-10 is over its ceiling: lift it */
    g_autoptr(FpPod) pod = mk_pod(1, FP_ANN_SKU, H100 "," L4, NULL);
    eval(p, pod, cs, 4, v, stats, 0);
    assert_true(v[0].pass);
    assert_null(v[0].reason);
    assert_true(v[1].pass);
    assert_near(v[0].term[FP_TERM_HEADROOM], 0);
    assert_near(v[1].term[FP_TERM_HEADROOM], 0);
    assert_true(v[0].total > 0);
    /* other failures stay failures */
    assert_string_equal(v[2].reason, FP_REASON_INSUFFICIENT_GPUS);
    assert_string_equal(v[3].reason, FP_REASON_SKU);

    /* one node with room anywhere: the ceiling holds */
    pool_stat(stats, "pool-b", 10, 2, 0);
    eval(p, pod, cs, 4, v, stats, 0);
    assert_false(v[0].pass);
    assert_string_equal(v[0].reason, FP_REASON_POOL_CEILING);
    assert_true(v[1].pass);
    assert_true(v[1].term[FP_TERM_HEADROOM] > 0);
}

/* ---- terms ------------------------------------------------------------------------------ */

static void test_term_latency(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    set_weights(p, 1, 0, 0, 0, 0, 0);
    g_autoptr(FpNode) us = mk_node("us", H100, NULL, "eastus", 8);
    g_autoptr(FpNode) eu = mk_node("eu", H100, NULL, "westeurope", 8);
    g_autoptr(FpNode) ne = mk_node("ne", H100, NULL, "northeurope", 8);
    g_autoptr(FpNode) nowhere = mk_node("nowhere", H100, NULL, NULL, 8);
    FpCandidate c[] = {cand(us, 0, 0), cand(eu, 0, 0), cand(ne, 0, 0), cand(nowhere, 0, 0)};
    FpVerdict v[4];
    const struct {
        const char *origin;
        const char *max; /* NULL = none */
        double want[4];
    } rows[] = {
        /* eastus 2 ms, westeurope 82, northeurope unknown (150), no
         * region 150 */
        {"eastus", NULL, {lat_term(2), lat_term(82), lat_term(150), lat_term(150)}},
        /* 0.75/0.25: us 0.75*2 + 0.25*82 = 22; eu 0.75*82 + 0.25*2 = 62;
         * ne 0.75*150 + 0.25*18 = 117 */
        {"eastus=3,westeurope=1", NULL, {lat_term(22), lat_term(62), lat_term(117), lat_term(150)}},
        /* issue 20: an absolute scale, the limit only filters (it used to
         * be the scale, so 20 ms counted differently under each limit) */
        {"westeurope", "100", {lat_term(82), lat_term(2), lat_term(18), -1}},
        {"eastus", "0", {-1, -1, -1, -1}},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        g_autoptr(FpPod) pod = mk_pod(1, FP_ANN_ORIGIN, rows[i].origin, NULL);
        if (rows[i].max) {
            annotate(pod, FP_ANN_MAX_LATENCY, rows[i].max);
        }
        eval(p, pod, c, 4, v, NULL, 0);
        for (int j = 0; j < 4; j++) {
            if (rows[i].want[j] < 0) {
                assert_false(v[j].pass);
                continue;
            }
            assert_true(v[j].pass);
            assert_true(v[j].term_active[FP_TERM_LATENCY]);
            assert_near(v[j].term[FP_TERM_LATENCY], rows[i].want[j]);
            assert_near(v[j].total, rows[i].want[j]); /* the only weighted term */
        }
    }
    /* 20 ms counts: at least 0.3 of the term below 2 ms */
    assert_true(lat_term(2) - lat_term(20) > 0.3);
    /* same region with a zero limit: L = 0 is allowed and scores 1 */
    p->same_region_latency_ms = 0;
    g_autoptr(FpPod) pod = mk_pod(1, FP_ANN_ORIGIN, "eastus", FP_ANN_MAX_LATENCY, "0", NULL);
    eval(p, pod, c, 1, v, NULL, 0);
    assert_true(v[0].pass);
    assert_near(v[0].term[FP_TERM_LATENCY], 1);

    /* no origin: inactive */
    g_autoptr(FpPod) plain = mk_pod(1, NULL);
    eval(p, plain, c, 2, v, NULL, 0);
    assert_false(v[0].term_active[FP_TERM_LATENCY]);
    assert_near(v[0].total, 0); /* no active weighted term */
}

static void test_term_cost(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    set_weights(p, 0, 1, 0, 0, 0, 0);
    g_autoptr(FpNode) h100 = mk_node("h100", H100, NULL, NULL, 8);
    g_autoptr(FpNode) l4 = mk_node("l4", L4, NULL, NULL, 8);
    g_autoptr(FpNode) l40s = mk_node("l40s", L40S, NULL, NULL, 8);
    g_autoptr(FpNode) busy = mk_node("busy", L4, NULL, NULL, 8);
    FpCandidate c[] = {cand(h100, 0, 0), cand(l4, 0, 0), cand(l40s, 0, 0), cand(busy, 8, 0)};
    FpVerdict v[4];
    g_autoptr(FpPod) pod = mk_pod(1, NULL);

    /* per GPU-hour: 6.88, 0.8048, 1.861, on the absolute scale */
    eval(p, pod, c, 3, v, NULL, 0);
    assert_near(v[0].term[FP_TERM_COST], cost_term(6.88));
    assert_near(v[1].term[FP_TERM_COST], cost_term(0.8048));
    assert_near(v[2].term[FP_TERM_COST], cost_term(1.861));

    /* per work: 6.88/3, 0.8048/0.5, 1.861/1 */
    default_profile(p)->cost_mode = FP_COST_PER_WORK;
    eval(p, pod, c, 3, v, NULL, 0);
    assert_near(v[0].term[FP_TERM_COST], cost_term(6.88 / 3.0));
    assert_near(v[1].term[FP_TERM_COST], cost_term(0.8048 / 0.5));
    assert_near(v[2].term[FP_TERM_COST], cost_term(1.861));

    /* issue 20: absolute, not min-max over the candidates: one dear H100
     * among them used to flatten the others; with or without it, an L40S
     * scores the same */
    FpCandidate c2[] = {cand(h100, 0, 0), cand(l40s, 0, 0), cand(busy, 8, 0)};
    eval(p, pod, c2, 3, v, NULL, 0);
    double with_h100 = v[1].term[FP_TERM_COST];
    eval(p, pod, &c2[1], 1, v, NULL, 0);
    assert_near(v[0].term[FP_TERM_COST], with_h100);
    /* a $15.98 GPU among the candidates leaves T4, L4 and A10G apart */
    default_profile(p)->cost_mode = FP_COST_PER_GPU_HOUR;
    assert_true(cost_term(0.526) - cost_term(1.006) > 0.12);

    /* prices below the cheap end score 1 */
    FpCandidate c3[] = {cand(l4, 0, 0), cand(l4, 3, 0)};

    /* a pool price overrides the SKU price */
    FpPool *pool = fp_pool_new("cheap-h100");
    pool->price_per_gpu_hour = 0.5;
    g_hash_table_replace(p->pools, g_strdup(pool->name), pool);
    label(h100, "flexplace.io/pool", "cheap-h100");
    default_profile(p)->cost_mode = FP_COST_PER_GPU_HOUR;
    eval(p, pod, c, 2, v, NULL, 0);
    assert_near(v[0].term[FP_TERM_COST], cost_term(0.5));
    assert_near(v[1].term[FP_TERM_COST], cost_term(0.8048));
    pool->price_per_gpu_hour = 0.1;
    eval(p, pod, c3, 1, v, NULL, 0);
    eval(p, pod, c, 1, v, NULL, 0);
    assert_near(v[0].term[FP_TERM_COST], 1);
}

static void test_term_headroom(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    FpPool *pool = fp_pool_new("ceil");
    pool->max_utilization = 0.75;
    g_hash_table_replace(p->pools, g_strdup(pool->name), pool);
    FpPool *pool08 = fp_pool_new("p08");
    pool08->max_utilization = 0.8;
    g_hash_table_replace(p->pools, g_strdup(pool08->name), pool08);
    g_autoptr(GHashTable) stats = pool_stats_new();
    pool_stat(stats, "p08", 20, 10, 2);

    g_autoptr(FpNode) own = mk_node("own", H100, NULL, NULL, 8);
    g_autoptr(FpNode) ceil = mk_node("ceil", H100, "ceil", NULL, 8);
    g_autoptr(FpNode) p08 = mk_node("p08", H100, "p08", NULL, 8);
    g_autoptr(FpNode) nostat = mk_node("nostat", H100, "unknown-pool", NULL, 8);
    FpCandidate c[] = {cand(own, 2, 1), cand(ceil, 2, 1), cand(p08, 2, 1), cand(nostat, 0, 0)};
    FpVerdict v[4];
    g_autoptr(FpPod) pod = mk_pod(1, NULL);
    eval(p, pod, c, 4, v, stats, 0);
    /* node's own numbers: cap 8, after 2 + 1 + 1 = 4 */
    assert_near(v[0].term[FP_TERM_HEADROOM], 0.5);
    /* cap 0.75 * 8 = 6, after 4 */
    assert_near(v[1].term[FP_TERM_HEADROOM], 2.0 / 6.0);
    /* pool stats: cap 0.8 * 20 = 16, after 10 + 2 + 1 = 13 */
    assert_near(v[2].term[FP_TERM_HEADROOM], 3.0 / 16.0);
    /* empty node, no pool stats: (8 - 1) / 8 */
    assert_near(v[3].term[FP_TERM_HEADROOM], 7.0 / 8.0);
    for (int i = 0; i < 4; i++) {
        assert_true(v[i].term_active[FP_TERM_HEADROOM]);
    }
}

static void test_term_packing(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    g_autoptr(FpNode) n = mk_node("n", H100, NULL, NULL, 8);
    static const struct {
        int64_t used, assumed, count;
        double binpack, spread;
    } rows[] = {
        {2, 1, 1, 4.0 / 8, 1 - 3.0 / 8}, {0, 0, 1, 1.0 / 8, 1},     {0, 0, 8, 1, 1},
        {6, 0, 2, 1, 1 - 6.0 / 8},       {3, 3, 2, 1, 1 - 6.0 / 8},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        FpCandidate c = cand(n, rows[i].used, rows[i].assumed);
        FpVerdict v;
        g_autoptr(FpPod) pod = mk_pod(rows[i].count, NULL);
        default_profile(p)->packing = FP_PACK_BINPACK;
        eval(p, pod, &c, 1, &v, NULL, 0);
        assert_true(v.term_active[FP_TERM_PACKING]);
        assert_near(v.term[FP_TERM_PACKING], rows[i].binpack);
        default_profile(p)->packing = FP_PACK_SPREAD;
        eval(p, pod, &c, 1, &v, NULL, 0);
        assert_near(v.term[FP_TERM_PACKING], rows[i].spread);
    }
}

static void test_term_sku(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    g_autoptr(FpNode) h100 = mk_node("h100", H100, NULL, NULL, 8);
    g_autoptr(FpNode) l40s = mk_node("l40s", L40S, NULL, NULL, 8);
    g_autoptr(FpNode) l4 = mk_node("l4", L4, NULL, NULL, 8);
    g_autoptr(FpNode) a100 = mk_node("a100", "A100-SXM4-40GB", NULL, NULL, 8);
    FpCandidate c[] = {cand(h100, 0, 0), cand(l40s, 0, 0), cand(l4, 0, 0), cand(a100, 0, 0)};
    FpVerdict v[4];

    g_autoptr(FpPod) pod = mk_pod(1, FP_ANN_SKU, H100 "," L40S "," L4, NULL);
    eval(p, pod, c, 4, v, NULL, 0);
    assert_near(v[0].term[FP_TERM_SKU], 1);
    assert_near(v[1].term[FP_TERM_SKU], 2.0 / 3);
    assert_near(v[2].term[FP_TERM_SKU], 1.0 / 3);
    assert_false(v[3].pass); /* not allowed */

    /* the profile's preference does not filter: unmatched scores 0 */
    default_profile(p)->sku_preference = g_strsplit(A100 "," L4, ",", -1);
    g_autoptr(FpPod) plain = mk_pod(1, NULL);
    eval(p, plain, c, 4, v, NULL, 0);
    for (int i = 0; i < 4; i++) {
        assert_true(v[i].pass);
        assert_true(v[i].term_active[FP_TERM_SKU]);
    }
    assert_near(v[0].term[FP_TERM_SKU], 0);
    assert_near(v[1].term[FP_TERM_SKU], 0);
    assert_near(v[2].term[FP_TERM_SKU], 0.5);
    assert_near(v[3].term[FP_TERM_SKU], 1); /* old spelling matches */

    /* no list: inactive */
    g_strfreev(default_profile(p)->sku_preference);
    default_profile(p)->sku_preference = NULL;
    eval(p, plain, c, 1, v, NULL, 0);
    assert_false(v[0].term_active[FP_TERM_SKU]);
}

static void test_term_spread(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    g_autoptr(FpNode) a = mk_node("a", H100, "pool-a", NULL, 8);
    g_autoptr(FpNode) b = mk_node("b", H100, "pool-b", NULL, 8);
    FpCandidate c[] = {cand(a, 0, 0), cand(b, 0, 0)};
    c[0].workload_replicas_in_pool = 2;
    c[1].workload_replicas_in_pool = 0;
    FpVerdict v[2];

    g_autoptr(FpPod) pod = mk_pod(1, FP_ANN_SPREAD, "2", NULL);
    eval(p, pod, c, 2, v, NULL, 1); /* spans 1 pool, wants 2 */
    /* a constraint: the pool that already has replicas is out */
    assert_false(v[0].pass);
    assert_string_equal(v[0].reason, FP_REASON_SPREAD);
    assert_true(v[0].unresolvable);
    assert_true(v[1].pass);
    assert_true(v[1].term_active[FP_TERM_SPREAD]);
    assert_near(v[1].term[FP_TERM_SPREAD], 1);

    /* issue 20: with a spread weight of 0 (the shipped latency-critical
     * profile) it used to do nothing; the constraint holds whatever the
     * weight, even against a much better node */
    default_profile(p)->weights[FP_TERM_SPREAD] = 0;
    c[0].gpu_used = 0;
    c[1].gpu_used = 7;
    eval(p, pod, c, 2, v, NULL, 1);
    assert_false(v[0].pass);
    assert_true(v[1].pass);

    /* no pool without replicas passes: spreading is impossible, the pod
     * still goes where it can */
    c[1].workload_replicas_in_pool = 1;
    eval(p, pod, c, 2, v, NULL, 1);
    assert_true(v[0].pass);
    assert_true(v[1].pass);
    c[1].workload_replicas_in_pool = 0;
    c[1].gpu_used = 0;

    eval(p, pod, c, 2, v, NULL, 2); /* already spans 2 pools */
    assert_false(v[0].term_active[FP_TERM_SPREAD]);
    assert_false(v[1].term_active[FP_TERM_SPREAD]);

    g_autoptr(FpPod) off = mk_pod(1, NULL);
    eval(p, off, c, 2, v, NULL, 0);
    assert_false(v[0].term_active[FP_TERM_SPREAD]);
}

/* ---- weighted total, rounding, ties ------------------------------------------------ */

static void test_weighted_total(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    /* three SKUs with easy prices */
    static const char *const names[] = {"GPU-A", "GPU-B", "GPU-C"};
    static const double prices[] = {1, 2, 3};
    for (int i = 0; i < 3; i++) {
        FpSku *s = fp_sku_new(names[i]);
        s->price_per_gpu_hour = prices[i];
        s->memory_gib = 48;
        g_hash_table_replace(p->skus, g_strdup(names[i]), s);
    }
    set_weights(p, 3, 2, 3, 1, 1, 2);
    g_autoptr(FpNode) a = mk_node("a", "GPU-A", NULL, "eastus", 4);
    g_autoptr(FpNode) b = mk_node("b", "GPU-B", NULL, "westeurope", 4);
    g_autoptr(FpNode) c = mk_node("c", "GPU-C", NULL, "eastus", 4);
    FpCandidate cs[] = {cand(a, 2, 0), cand(b, 0, 0), cand(c, 3, 0)};
    FpVerdict v[3];
    g_autoptr(FpPod) pod = mk_pod(1, FP_ANN_ORIGIN, "eastus", FP_ANN_MAX_LATENCY, "100", FP_ANN_SKU,
                                  "GPU-C,GPU-B,GPU-A", NULL);
    eval(p, pod, cs, 3, v, NULL, 0);
    /* terms (latency, cost, headroom, binpack, sku); spread inactive:
     *  a: 2 ms,  $1, (4-3)/4=0.25, 3/4=0.75, 1/3
     *  b: 82 ms, $2, 3/4=0.75,     1/4=0.25, 2/3
     *  c: 2 ms,  $3, 0,            1,        1 */
    const double want[3][5] = {
        {lat_term(2), cost_term(1), 0.25, 0.75, 1.0 / 3},
        {lat_term(82), cost_term(2), 0.75, 0.25, 2.0 / 3},
        {lat_term(2), cost_term(3), 0, 1, 1},
    };
    const double w[5] = {3, 2, 3, 1, 1};
    for (int i = 0; i < 3; i++) {
        double acc = 0;
        for (int t = 0; t < 5; t++) {
            assert_true(v[i].term_active[t]);
            assert_near(v[i].term[t], want[i][t]);
            acc += w[t] * want[i][t];
        }
        assert_false(v[i].term_active[FP_TERM_SPREAD]);
        assert_near(v[i].total, acc / 10);
    }
    /* scores: the best total 10, a point per 0.02 below it */
    double best = MAX(v[0].total, MAX(v[1].total, v[2].total));
    for (int i = 0; i < 3; i++) {
        int want_score = 10 - (int)floor((best - v[i].total) / 0.02 + 0.5);
        assert_int_equal(v[i].score, want_score < 0 ? 0 : want_score);
    }
    assert_int_equal(v[0].score, 10);

    /* a zero weight leaves an active term out of the mean */
    set_weights(p, 1, 0, 0, 0, 0, 0);
    eval(p, pod, cs, 3, v, NULL, 0);
    assert_true(v[1].term_active[FP_TERM_COST]);
    assert_near(v[1].total, lat_term(82));
    assert_int_equal(v[1].score, 0); /* far more than 0.19 below the best */

    /* weights of inactive terms are left out: no origin, latency inactive */
    set_weights(p, 100, 1, 0, 0, 0, 0);
    g_autoptr(FpPod) plain = mk_pod(1, NULL);
    eval(p, plain, cs, 3, v, NULL, 0);
    assert_near(v[0].total, cost_term(1));
    assert_near(v[1].total, cost_term(2));
    assert_near(v[2].total, cost_term(3));
    assert_int_equal(v[0].score, 10);
    assert_int_equal(v[1].score, 10 - (int)floor((cost_term(1) - cost_term(2)) / 0.02 + 0.5));
}

/* Issue 20: under the built-in defaults a nearer, cheaper T4 (us-east-2,
 * 15 ms from us-east-1) used to lose to a farther L4 (us-west-2, 64 ms);
 * latency now decides, and the scores keep the difference. */
static void test_defaults_prefer_near(void **state)
{
    g_autoptr(FpPolicy) p = fp_policy_new_default();
    g_autoptr(FpNode) t4 = mk_node("t4", "Tesla-T4", NULL, "us-east-2", 4);
    g_autoptr(FpNode) l4 = mk_node("l4", "NVIDIA-L4", NULL, "us-west-2", 4);
    FpCandidate c[] = {cand(t4, 0, 0), cand(l4, 0, 0)};
    FpVerdict v[2];
    g_autoptr(FpPod) pod = mk_pod(1, FP_ANN_ORIGIN, "us-east-1", NULL);
    eval(p, pod, c, 2, v, NULL, 0);
    assert_true(v[0].pass && v[1].pass);
    assert_true(v[0].total > v[1].total);
    assert_int_equal(v[0].score, 10);
    assert_true(v[1].score < 10);
}

/* The 0..10 mapping of engine.h: relative to the request's best. */
static void test_score_from_gap(void **state)
{
    static const struct {
        double gap;
        int score;
    } rows[] = {
        {0, 10},     {0.0099, 10}, {0.01, 9}, {0.0299, 9}, {0.03, 8}, {0.1, 5},
        {0.1899, 1}, {0.19, 0},    {0.5, 0},  {NAN, 0},    {-1, 10},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        if (fp_score_from_gap(rows[i].gap) != rows[i].score) {
            fail_msg("gap %g: score %d, want %d", rows[i].gap, fp_score_from_gap(rows[i].gap),
                     rows[i].score);
        }
    }
}

static void test_score_rounding(void **state)
{
    static const struct {
        double total;
        int score;
    } rows[] = {
        {0, 0},    {0.049, 0}, {0.05, 1},      {0.149, 1},     {0.15, 2}, {0.449, 4},
        {0.45, 5}, {0.5, 5},   {0.94, 9},      {0.95, 10},     {1.0, 10}, {1.5, 10},
        {-0.2, 0}, {NAN, 0},   {INFINITY, 10}, {-INFINITY, 0},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        if (fp_score_to_extender(rows[i].total) != rows[i].score) {
            fail_msg("total %g: score %d, want %d", rows[i].total,
                     fp_score_to_extender(rows[i].total), rows[i].score);
        }
    }
}

static void test_ties_and_determinism(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    g_autoptr(FpNode) a = mk_node("a", H100, "pool-a", "eastus", 8);
    g_autoptr(FpNode) b = mk_node("b", H100, "pool-a", "eastus", 8);
    g_autoptr(FpNode) c = mk_node("c", H100, "pool-a", "eastus", 8);
    FpCandidate cs[] = {cand(a, 2, 0), cand(b, 2, 0), cand(c, 0, 0)};
    FpVerdict v[3];
    FpVerdict again[3];
    /* pool stats make headroom equal within the pool */
    g_autoptr(GHashTable) stats = pool_stats_new();
    pool_stat(stats, "pool-a", 24, 4, 0);
    g_autoptr(FpPod) pod = mk_pod(1, FP_ANN_ORIGIN, "westeurope", NULL);
    eval(p, pod, cs, 3, v, stats, 0);
    assert_near(v[0].total, v[1].total);
    assert_int_equal(v[0].score, v[1].score);
    /* binpack prefers the partly used node */
    assert_true(v[0].total > v[2].total);
    /* same input, same answer, in any candidate order */
    FpCandidate rev[] = {cs[2], cs[1], cs[0]};
    eval(p, pod, rev, 3, again, stats, 0);
    for (int i = 0; i < 3; i++) {
        assert_near(v[i].total, again[2 - i].total);
        assert_int_equal(v[i].score, again[2 - i].score);
        for (int t = 0; t < FP_N_TERMS; t++) {
            assert_near(v[i].term[t], again[2 - i].term[t]);
        }
    }
}

/* Every term and the total stay in [0,1] over a grid of occupancy. */
static void test_terms_bounded(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    g_autoptr(GHashTable) stats = pool_stats_new();
    pool_stat(stats, "pool-a", 16, 20, 5); /* over-full pool */
    g_autoptr(FpNode) a = mk_node("a", H100, "pool-a", "eastus", 8);
    g_autoptr(FpNode) b = mk_node("b", L4, "pool-b", "japaneast", 8);
    for (int used = 0; used <= 8; used++) {
        for (int count = 1; count <= 8; count++) {
            FpCandidate cs[] = {cand(a, used, 0), cand(b, 8 - used, 0)};
            FpVerdict v[2];
            g_autoptr(FpPod) pod = mk_pod(count, FP_ANN_ORIGIN, "eastus", FP_ANN_SPREAD, "3", NULL);
            eval(p, pod, cs, 2, v, stats, 1);
            for (int i = 0; i < 2; i++) {
                if (!v[i].pass) {
                    continue;
                }
                for (int t = 0; t < FP_N_TERMS; t++) {
                    assert_true(v[i].term[t] >= 0 && v[i].term[t] <= 1);
                }
                assert_true(v[i].total >= 0 && v[i].total <= 1);
                assert_true(v[i].score >= 0 && v[i].score <= 10);
            }
        }
    }
}

/* The per-request memo of product, region and pool facts: many distinct
 * values (the memo grows several times) and equal values at different
 * addresses answer exactly what each candidate evaluated alone does. */
static void test_memo_many_values(void **state)
{
    g_autoptr(FpPolicy) p = test_policy();
    g_autoptr(GHashTable) stats = pool_stats_new();
    enum { N = 300 };
    FpNode *nodes[N];
    FpCandidate cs[N];
    for (guint i = 0; i < N; i++) {
        /* every third node shares a value with another; the rest are new */
        guint k = i % 3 == 0 ? i / 3 % 4 : i;
        g_autofree char *name = g_strdup_printf("n%u", i);
        g_autofree char *product =
            k % 2 ? g_strdup_printf("NVIDIA-X-%u", k) : g_strdup("NVIDIA-L4");
        g_autofree char *pool = g_strdup_printf("pool-%u", k);
        g_autofree char *region = k % 5 == 0 ? g_strdup("westeurope") : g_strdup_printf("r-%u", k);
        nodes[i] = mk_node(name, product, pool, region, 8);
        pool_stat(stats, pool, 16, (int64_t)(k % 15), 0); /* under every ceiling */
        cs[i] = cand(nodes[i], (int64_t)(k % 9), 0);
    }
    /* Facts as the view hands them over, equal strings at one address (the
     * memo's by-address path), for every other candidate. */
    FpNodeFacts facts[N];
    for (guint i = 0; i < N; i += 2) {
        fp_node_facts(p, nodes[i], &facts[i]);
        facts[i].pool = g_intern_string(facts[i].pool);
        facts[i].region = g_intern_string(facts[i].region);
        facts[i].product = g_intern_string(facts[i].product);
        cs[i].facts = &facts[i];
    }
    g_autoptr(FpPod) pod =
        mk_pod(1, "flexplace.io/origin-region", "eastus=1,westeurope=1", "flexplace.io/gpu-sku",
               "NVIDIA-L4,NVIDIA-X-3,NVIDIA-X-101", NULL);
    FpVerdict all[N];
    eval(p, pod, cs, N, all, stats, 0);
    guint passed = 0;
    for (guint i = 0; i < N; i++) {
        FpVerdict one;
        eval(p, pod, &cs[i], 1, &one, stats, 0);
        assert_int_equal(all[i].pass, one.pass);
        if (one.reason) {
            assert_string_equal(all[i].reason, one.reason);
        }
        passed += one.pass;
        for (int t = 0; t < FP_N_TERMS; t++) {
            if (t != FP_TERM_COST) { /* cost is normalised across candidates */
                assert_int_equal(all[i].term_active[t], one.term_active[t]);
                assert_true(all[i].term[t] == one.term[t]);
            }
        }
    }
    assert_true(passed > 50 && passed < N); /* both outcomes are exercised */
    for (guint i = 0; i < N; i++) {
        fp_node_unref(nodes[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sku_matching),
        cmocka_unit_test(test_node_facts),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_filter_profile_limits),
        cmocka_unit_test(test_not_in_view_and_no_gpu),
        cmocka_unit_test(test_pool_ceiling),
        cmocka_unit_test(test_burst_overflow),
        cmocka_unit_test(test_term_latency),
        cmocka_unit_test(test_term_cost),
        cmocka_unit_test(test_term_headroom),
        cmocka_unit_test(test_term_packing),
        cmocka_unit_test(test_term_sku),
        cmocka_unit_test(test_term_spread),
        cmocka_unit_test(test_weighted_total),
        cmocka_unit_test(test_score_rounding),
        cmocka_unit_test(test_score_from_gap),
        cmocka_unit_test(test_defaults_prefer_near),
        cmocka_unit_test(test_ties_and_determinism),
        cmocka_unit_test(test_terms_bounded),
        cmocka_unit_test(test_memo_many_values),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
