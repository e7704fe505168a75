/*
 * scoring/placement_policy.c - the compiled PlacementPolicy: builders,
 * refcounting, lookups and the built-in default policy.
 *
 * Memory: FpPolicy lives in a GLib atomic refcounted box
 * (g_atomic_rc_box_*), so a policy must come from fp_policy_new_empty() or
 * fp_policy_new_default(), never from g_new().  Hash tables own their keys
 * (g_free) and values (the matching *_free function): builders insert
 * g_strdup'ed keys.
 */
#include "scoring/placement_policy.h"

#include <math.h>
#include <string.h>

#include "scoring/engine_private.h"
#include "scoring/region_latency.h"
#include "scoring/short_list.h"

/* Separates the two region names of a latency key; no region or label
 * value can contain it. */
#define LATENCY_KEY_SEP '|'

static const char *const term_names[FP_N_TERMS] = {
    [FP_TERM_LATENCY] = "latency",
    [FP_TERM_COST] = "cost",
    [FP_TERM_HEADROOM] = "headroom",
    [FP_TERM_PACKING] = "packing",
    [FP_TERM_SKU] = "sku",
    [FP_TERM_SPREAD] = "spread",
    [FP_TERM_TIME_TO_SERVE] = "timeToServe",
};

/* The built-in default weights (also those of the fallback profile). */
static const double default_weights[FP_N_TERMS] = {
    [FP_TERM_LATENCY] = 6,
    [FP_TERM_COST] = 2,
    [FP_TERM_HEADROOM] = 1,
    [FP_TERM_PACKING] = 1,
    [FP_TERM_SKU] = 1,
    [FP_TERM_SPREAD] = 2,
    /* 6, as latency: a doubling of (1 + T/30 s) until the replica serves
     * weighs as much as a doubling of (1 + L/5 ms) round trip to its users;
     * so a 70B replica's weights a cloud away (10 min) rather than in the
     * node's region (3 min) cost more than headroom and packing together
     * can give back, and the burst goes nearest its weights first. */
    [FP_TERM_TIME_TO_SERVE] = 6,
};

const char *fp_term_name(FpTermId id)
{
    if ((int)id < 0 || id >= FP_N_TERMS) {
        return NULL;
    }
    return term_names[id];
}

int fp_term_from_name(const char *name)
{
    if (!name) {
        return -1;
    }
    for (int i = 0; i < FP_N_TERMS; i++) {
        if (strcmp(term_names[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

/* ---- builders -------------------------------------------------------- */

FpSku *fp_sku_new(const char *product)
{
    FpSku *sku = g_new0(FpSku, 1);
    sku->product = g_strdup(product);
    sku->memory_gib = 0;
    sku->relative_throughput = 1.0;
    sku->price_per_gpu_hour = -1.0;
    return sku;
}

void fp_sku_free(FpSku *sku)
{
    if (!sku) {
        return;
    }
    g_free(sku->product);
    g_free(sku);
}

FpPool *fp_pool_new(const char *name)
{
    FpPool *pool = g_new0(FpPool, 1);
    pool->name = g_strdup(name);
    pool->price_per_gpu_hour = -1.0;
    pool->max_utilization = 1.0;
    pool->cloud = NULL;
    return pool;
}

void fp_pool_free(FpPool *pool)
{
    if (!pool) {
        return;
    }
    g_free(pool->name);
    g_free(pool->cloud);
    g_free(pool);
}

FpInstanceType *fp_instance_type_new(const char *name)
{
    FpInstanceType *it = g_new0(FpInstanceType, 1);
    it->name = g_strdup(name);
    it->price_per_gpu_hour = -1.0;
    return it;
}

void fp_instance_type_free(FpInstanceType *it)
{
    if (!it) {
        return;
    }
    g_free(it->name);
    g_free(it->product);
    g_free(it);
}

FpPolicyTemplate *fp_policy_template_new(const char *name)
{
    FpPolicyTemplate *t = g_new0(FpPolicyTemplate, 1);
    t->name = g_strdup(name);
    t->labels = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    t->price_per_gpu_hour = -1;
    t->capacity_type = g_strdup("on-demand");
    return t;
}

void fp_policy_template_free(FpPolicyTemplate *t)
{
    if (!t) {
        return;
    }
    g_free(t->name);
    g_hash_table_unref(t->labels);
    g_free(t->product);
    g_free(t->instance_type);
    g_free(t->region);
    g_free(t->capacity_type);
    g_free(t);
}

/* Weights all 0 (a parser sets those the document names), no limits,
 * binpack, cost per GPU-hour, no SKU lists, no origins, no spread, the
 * policy's short list. */
FpProfile *fp_profile_new(const char *name)
{
    FpProfile *profile = g_new0(FpProfile, 1);
    profile->name = g_strdup(name);
    profile->max_latency_ms = -1.0;
    profile->max_price_per_gpu_hour = -1.0;
    profile->min_gpu_memory_gib = 0;
    profile->packing = FP_PACK_BINPACK;
    profile->cost_mode = FP_COST_PER_GPU_HOUR;
    profile->short_list = -1;
    return profile;
}

void fp_profile_free(FpProfile *profile)
{
    if (!profile) {
        return;
    }
    g_free(profile->name);
    g_strfreev(profile->allowed_skus);
    g_strfreev(profile->sku_preference);
    g_free(profile->origin_regions);
    g_free(profile);
}

const FpProfile *fp_fallback_profile(void)
{
    static char name[] = "default";
    static const FpProfile fallback = {
        .name = name,
        .weights = {[FP_TERM_LATENCY] = 6,
                    [FP_TERM_COST] = 2,
                    [FP_TERM_HEADROOM] = 1,
                    [FP_TERM_PACKING] = 1,
                    [FP_TERM_SKU] = 1,
                    [FP_TERM_SPREAD] = 2,
                    [FP_TERM_TIME_TO_SERVE] = 6},
        .max_latency_ms = -1.0,
        .max_price_per_gpu_hour = -1.0,
        .min_gpu_memory_gib = 0,
        .packing = FP_PACK_BINPACK,
        .cost_mode = FP_COST_PER_GPU_HOUR,
    };
    return &fallback;
}

/* ---- policy lifetime ------------------------------------------------- */

static void policy_clear(gpointer data)
{
    FpPolicy *policy = data;
    g_free(policy->source);
    g_strfreev(policy->gpu_resources);
    g_strfreev(policy->label_pool);
    g_strfreev(policy->label_region);
    g_strfreev(policy->label_zone);
    g_strfreev(policy->label_product);
    g_strfreev(policy->label_memory);
    g_strfreev(policy->label_instance_type);
    g_strfreev(policy->label_capacity_type);
    g_clear_pointer(&policy->skus, g_hash_table_unref);
    g_clear_pointer(&policy->pools, g_hash_table_unref);
    g_clear_pointer(&policy->latency, g_hash_table_unref);
    g_clear_pointer(&policy->instance_types, g_hash_table_unref);
    g_clear_pointer(&policy->templates, g_hash_table_unref);
    g_clear_pointer(&policy->profiles, g_hash_table_unref);
    g_clear_pointer(&policy->namespaces, g_hash_table_unref);
    g_free(policy->default_profile);
    g_clear_pointer(&policy->models, g_hash_table_unref);
    fp_transfer_clear(&policy->transfer);
}

static char **empty_strv(void)
{
    return g_new0(char *, 1);
}

/* Defaults of an empty policy:
 *  - default_latency_ms 150: a pair the matrix does not know is treated as
 *    a distant region (roughly a transatlantic round trip), so unknown
 *    pairs lose to known near ones without being excluded outright;
 *  - same_region_latency_ms 2: intra-region round trips are a few ms;
 *  - default_price_per_gpu_hour 4.0 USD: between the A100 (2.7-4.1) and
 *    H100 (6.9) on-demand prices in gpu_prices.csv, so an unknown SKU
 *    neither wins nor loses the cost term by a wide margin. */
FpPolicy *fp_policy_new_empty(void)
{
    FpPolicy *policy = g_atomic_rc_box_new0(FpPolicy);
    policy->generation = 0;
    policy->source = NULL;
    policy->gpu_resources = empty_strv();
    policy->label_pool = empty_strv();
    policy->label_region = empty_strv();
    policy->label_zone = empty_strv();
    policy->label_product = empty_strv();
    policy->label_memory = empty_strv();
    policy->label_instance_type = empty_strv();
    policy->label_capacity_type = empty_strv();
    policy->skus =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)fp_sku_free);
    policy->pools =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)fp_pool_free);
    policy->latency = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    policy->instance_types = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                   (GDestroyNotify)fp_instance_type_free);
    policy->templates = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify)fp_policy_template_free);
    policy->profiles =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)fp_profile_free);
    policy->namespaces = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    policy->default_latency_ms = 150.0;
    policy->same_region_latency_ms = 2.0;
    policy->default_price_per_gpu_hour = 4.0;
    policy->spot_price_factor = FP_DEFAULT_SPOT_PRICE_FACTOR;
    policy->default_profile = g_strdup("default");
    policy->models =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)fp_model_spec_free);
    fp_fit_constants_default(&policy->fit);
    fp_transfer_defaults(&policy->transfer);
    policy->short_list = FP_SHORT_LIST_DEFAULT;
    return policy;
}

FpPolicy *fp_policy_ref(FpPolicy *policy)
{
    if (!policy) {
        return NULL;
    }
    return g_atomic_rc_box_acquire(policy);
}

void fp_policy_unref(FpPolicy *policy)
{
    if (!policy) {
        return;
    }
    g_atomic_rc_box_release_full(policy, policy_clear);
}

/* ---- the built-in default policy -------------------------------------- */

/*
 * Built-in SKU facts, keyed by the exact nvidia.com/gpu.product value GFD
 * reports (shared data gpu_skus.csv, column gfd_gpu_product).  memory_gib is
 * the vendor spec per GPU from the same file.  GFD does not label AMD GPUs:
 * MI300X is keyed by the product flexplace gives it (AMD-Instinct-MI300X).
 *
 * relative_throughput is a coarse, rough relative LLM-inference throughput
 * per GPU (A100-40GB = 1.0), from the generations' memory bandwidth and
 * tensor throughput: T4 0.25, L4/A10/A10G 0.5, L40S and A100-40GB 1.0,
 * A100-80GB 1.1-1.2, H100 PCIe 2.5, H100 NVL 2.8, H100 SXM 3.0, H200 3.3,
 * B200 5.0.  Real ratios depend on model, batch size and runtime; policies
 * override them per SKU (skus: <product>: {relativeThroughput: ...}).
 *
 * price_per_gpu_hour is one representative on-demand Linux price per GPU
 * from gpu_prices.csv: the AWS us-east-1 rows generated from the AWS Price
 * List API (karpenter-provider-aws, 2026-07-20), smallest instance of the
 * SKU; where AWS has no such SKU, the Azure eastus (eastus2 for MI300X)
 * pay-as-you-go row
 * (karpenter-provider-azure, 2026-06-18).  -1 (unknown: the policy default
 * applies) where the file has no row.  Whole-instance prices divided by
 * GPU count, so host CPU and memory are included.
 */
typedef struct {
    const char *product;
    double memory_gib;
    double relative_throughput;
    double price_per_gpu_hour;
} BuiltinSku;

static const BuiltinSku builtin_skus[] = {
    /* AWS us-east-1 g4dn.xlarge, 0.526 */
    {"Tesla-T4", 16, 0.25, 0.526},
    /* AWS us-east-1 g6.xlarge, 0.8048 */
    {"NVIDIA-L4", 24, 0.5, 0.8048},
    /* Azure eastus Standard_NV36ads_A10_v5 (one full A10), 3.2; no AWS A10 */
    {"NVIDIA-A10", 24, 0.5, 3.2},
    /* AWS us-east-1 g5.xlarge, 1.006 */
    {"NVIDIA-A10G", 24, 0.5, 1.006},
    /* AWS us-east-1 g6e.xlarge, 1.861 */
    {"NVIDIA-L40S", 48, 1.0, 1.861},
    /* AWS us-east-1 p4d.24xlarge (Price List API row), 21.957642 / 8 */
    {"NVIDIA-A100-SXM4-40GB", 40, 1.0, 2.744705},
    /* the same GPU under the pre-R470 driver spelling */
    {"A100-SXM4-40GB", 40, 1.0, 2.744705},
    /* no price row for the 40GB PCIe card */
    {"NVIDIA-A100-PCIE-40GB", 40, 0.9, -1.0},
    /* AWS us-east-1 p4de.24xlarge (Price List API row), 27.44705 / 8 */
    {"NVIDIA-A100-SXM4-80GB", 80, 1.2, 3.430881},
    /* Azure eastus Standard_NC24ads_A100_v4, 3.673 */
    {"NVIDIA-A100-80GB-PCIe", 80, 1.1, 3.673},
    /* AWS us-east-1 p5.4xlarge / p5.48xlarge (Price List API row), 6.88 */
    {"NVIDIA-H100-80GB-HBM3", 80, 3.0, 6.88},
    /* no price row for H100 PCIe */
    {"NVIDIA-H100-PCIe", 80, 2.5, -1.0},
    /* Azure eastus Standard_NC40ads_H100_v5, 6.98 */
    {"NVIDIA-H100-NVL", 94, 2.8, 6.98},
    /* AWS us-east-1 p5en.48xlarge (Price List API row), 63.296 / 8 */
    {"NVIDIA-H200", 141, 3.3, 7.912},
    /* AWS us-east-1 p6-b200.48xlarge, 113.9328 / 8 */
    {"NVIDIA-B200", 180, 5.0, 14.2416},
    /* AMD: no GFD product string exists, so flexplace names it
     * (cache/gpu_inventory.c); 192 GiB (Azure docs), Azure eastus2
     * Standard_ND96isr_MI300X_v5 48.0 / 8; throughput H100-class */
    {"AMD-Instinct-MI300X", 192, 3.0, 6.0},
};

static char **strv_of(const char *const *items, gsize n)
{
    char **v = g_new0(char *, n + 1);
    for (gsize i = 0; i < n; i++) {
        v[i] = g_strdup(items[i]);
    }
    return v;
}

#define STRV_OF(arr) strv_of((arr), G_N_ELEMENTS(arr))

FpPolicy *fp_policy_new_default(void)
{
    static const char *const gpu_resources[] = {"nvidia.com/gpu", "amd.com/gpu"};
    static const char *const pool[] = {
        "flexplace.io/pool", "karpenter.sh/nodepool", "kubernetes.azure.com/agentpool",
        "eks.amazonaws.com/nodegroup", "cloud.google.com/gke-nodepool"};
    static const char *const region[] = {"topology.kubernetes.io/region",
                                         "failure-domain.beta.kubernetes.io/region"};
    static const char *const zone[] = {"topology.kubernetes.io/zone",
                                       "failure-domain.beta.kubernetes.io/zone"};
    static const char *const product[] = {"nvidia.com/gpu.product"};
    static const char *const memory[] = {"nvidia.com/gpu.memory"};
    static const char *const instance_type[] = {"node.kubernetes.io/instance-type",
                                                "beta.kubernetes.io/instance-type"};
    static const char *const capacity_type[] = {
        "karpenter.sh/capacity-type", "eks.amazonaws.com/capacityType",
        "kubernetes.azure.com/scalesetpriority", "cloud.google.com/gke-spot"};

    FpPolicy *policy = fp_policy_new_empty();
    policy->source = g_strdup("built-in default");
    policy->builtin_latency = true;
#define REPLACE_STRV(field, arr)                                                                   \
    do {                                                                                           \
        g_strfreev(policy->field);                                                                 \
        policy->field = STRV_OF(arr);                                                              \
    } while (0)
    REPLACE_STRV(gpu_resources, gpu_resources);
    REPLACE_STRV(label_pool, pool);
    REPLACE_STRV(label_region, region);
    REPLACE_STRV(label_zone, zone);
    REPLACE_STRV(label_product, product);
    REPLACE_STRV(label_memory, memory);
    REPLACE_STRV(label_instance_type, instance_type);
    REPLACE_STRV(label_capacity_type, capacity_type);
#undef REPLACE_STRV

    for (gsize i = 0; i < G_N_ELEMENTS(builtin_skus); i++) {
        const BuiltinSku *b = &builtin_skus[i];
        FpSku *sku = fp_sku_new(b->product);
        sku->memory_gib = b->memory_gib;
        sku->relative_throughput = b->relative_throughput;
        sku->price_per_gpu_hour = b->price_per_gpu_hour;
        sku->builtin_price = true;
        g_hash_table_replace(policy->skus, g_strdup(b->product), sku);
    }

    FpProfile *profile = fp_profile_new("default");
    memcpy(profile->weights, default_weights, sizeof profile->weights);
    g_hash_table_replace(policy->profiles, g_strdup(profile->name), profile);
    return policy;
}

/* ---- lookups ---------------------------------------------------------- */

char *fp_policy_latency_key(const char *a, const char *b)
{
    a = a ? a : "";
    b = b ? b : "";
    if (strcmp(a, b) > 0) {
        const char *t = a;
        a = b;
        b = t;
    }
    return g_strdup_printf("%s%c%s", a, LATENCY_KEY_SEP, b);
}

/* Looks the pair up without allocating for ordinary region names. */
static const double *latency_lookup(const FpPolicy *policy, const char *a, const char *b)
{
    if (!policy->latency) {
        return NULL;
    }
    if (strcmp(a, b) > 0) {
        const char *t = a;
        a = b;
        b = t;
    }
    gsize la = strlen(a);
    gsize lb = strlen(b);
    char buf[256];
    if (la + lb + 2 <= sizeof buf) {
        memcpy(buf, a, la);
        buf[la] = LATENCY_KEY_SEP;
        memcpy(buf + la + 1, b, lb);
        buf[la + 1 + lb] = '\0';
        return g_hash_table_lookup(policy->latency, buf);
    }
    g_autofree char *key = fp_policy_latency_key(a, b);
    return g_hash_table_lookup(policy->latency, key);
}

/* A region to itself: the matrix's entry, else sameRegionLatencyMs. */
static double self_rtt(const char *region, const void *ctx)
{
    const FpPolicy *policy = ctx;
    const double *ms = latency_lookup(policy, region, region);
    return ms && isfinite(*ms) && *ms >= 0 ? *ms : policy->same_region_latency_ms;
}

double fp_policy_latency(const FpPolicy *policy, const char *a, const char *b, bool *known)
{
    bool dummy;
    known = known ? known : &dummy;
    *known = false;
    if (!policy) {
        return 0;
    }
    /* An unlabelled node (or origin) has no region: nothing is known. */
    if (!a || !b || !*a || !*b) {
        return policy->default_latency_ms;
    }
    const double *ms = latency_lookup(policy, a, b);
    if (ms && isfinite(*ms) && *ms >= 0) {
        *known = true;
        return *ms;
    }
    if (strcmp(a, b) == 0) {
        *known = true;
        return policy->same_region_latency_ms;
    }
    double builtin;
    if (policy->builtin_latency && fp_builtin_latency(a, b, self_rtt, policy, &builtin)) {
        *known = true;
        return builtin;
    }
    return policy->default_latency_ms;
}

bool fp_policy_knows_region(const FpPolicy *policy, const char *region)
{
    if (!policy || !region || !*region) {
        return false;
    }
    if (policy->builtin_latency && fp_builtin_region(region)) {
        return true;
    }
    if (!policy->latency) {
        return false;
    }
    /* Keys are "a|b": a region named in the matrix is one side of one. */
    gsize len = strlen(region);
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, policy->latency);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        const char *key = k;
        const char *sep = strchr(key, LATENCY_KEY_SEP);
        if (!sep) {
            continue;
        }
        if (((gsize)(sep - key) == len && memcmp(key, region, len) == 0) ||
            strcmp(sep + 1, region) == 0) {
            return true;
        }
    }
    return false;
}

const FpProfile *fp_policy_profile(const FpPolicy *policy, const char *name)
{
    if (!policy || !policy->profiles || !name) {
        return NULL;
    }
    return g_hash_table_lookup(policy->profiles, name);
}

#define MIG_RESOURCE_PREFIX "nvidia.com/mig-"

bool fp_policy_is_gpu_resource(const FpPolicy *policy, const char *resource)
{
    if (!policy || !resource || !*resource || !policy->gpu_resources) {
        return false;
    }
    bool has_nvidia = false;
    for (char **r = policy->gpu_resources; *r; r++) {
        if (strcmp(*r, resource) == 0) {
            return true;
        }
        if (strcmp(*r, "nvidia.com/gpu") == 0) {
            has_nvidia = true;
        }
    }
    return has_nvidia && ((g_str_has_prefix(resource, MIG_RESOURCE_PREFIX) &&
                           resource[strlen(MIG_RESOURCE_PREFIX)] != '\0') ||
                          strcmp(resource, "nvidia.com/gpu.shared") == 0);
}

/* ---- SKU table lookups ------------------------------------------------- */

#define NVIDIA_PREFIX "NVIDIA-"
#define NVIDIA_PREFIX_LEN (sizeof NVIDIA_PREFIX - 1)

/* Exact lookup of (@s, @len), then under the other "NVIDIA-" spelling. */
static const FpSku *sku_lookup_n(const FpPolicy *policy, const char *s, gsize len)
{
    char buf[256];
    if (len + NVIDIA_PREFIX_LEN + 1 > sizeof buf) {
        return NULL; /* longer than any label value can be */
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    const FpSku *sku = g_hash_table_lookup(policy->skus, buf);
    if (sku) {
        return sku;
    }
    if (len > NVIDIA_PREFIX_LEN && strncmp(s, NVIDIA_PREFIX, NVIDIA_PREFIX_LEN) == 0) {
        return g_hash_table_lookup(policy->skus, buf + NVIDIA_PREFIX_LEN);
    }
    memcpy(buf, NVIDIA_PREFIX, NVIDIA_PREFIX_LEN);
    memcpy(buf + NVIDIA_PREFIX_LEN, s, len);
    buf[NVIDIA_PREFIX_LEN + len] = '\0';
    return g_hash_table_lookup(policy->skus, buf);
}

const FpSku *fp_policy_find_sku(const FpPolicy *policy, const char *product, bool allow_base,
                                bool *from_base)
{
    if (from_base) {
        *from_base = false;
    }
    if (!policy || !policy->skus || !product || !*product) {
        return NULL;
    }
    gsize len = strlen(product);
    const FpSku *sku = sku_lookup_n(policy, product, len);
    if (sku || !allow_base) {
        return sku;
    }
    gsize base = fp_sku_base_len(product);
    if (base == 0 || base == len) {
        return NULL;
    }
    sku = sku_lookup_n(policy, product, base);
    if (sku && from_base) {
        *from_base = true;
    }
    return sku;
}
