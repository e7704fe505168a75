/*
 * cache/gpu_inventory.c - a node's GPU inventory from its labels
 * (gpu_inventory.h), in three steps:
 *  1. the node's context: GFD product and memory, sharing, spot, and the
 *     physical GPU that cloud labels or the instance type name;
 *  2. one class per GPU resource, by the resource's label scheme;
 *  3. price and throughput per device under the policy, then a copy into
 *     one allocation with interned strings.
 */
#include "cache/gpu_inventory.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scoring/engine_private.h"

/* Kubernetes label values are at most 63 characters. */
#define LABEL_VALUE_MAX 63
#define MAX_REPLICAS 1024
#define NVIDIA_GPU "nvidia.com/gpu"
#define NVIDIA_SHARED "nvidia.com/gpu.shared"
#define MIG_PREFIX "nvidia.com/mig-"
#define AMD_GPU "amd.com/gpu"

static const char PROBLEM_PRODUCT_LONG[] = "GPU product label longer than 63 characters";
#define PROBLEM_REPLICAS                                                                           \
    "GPU sharing without a valid replica count (nvidia.com/gpu.replicas 1..1024)"
static const char PROBLEM_MIG_MEMORY[] =
    "MIG resource without its nvidia.com/mig-<profile>.memory label";
static const char PROBLEM_MIG_PROFILE[] =
    "MIG profile name not of the form <g>g.<memory>gb with g at most the GPU's compute slices";
static const char PROBLEM_NO_LABELS[] = "GPU capacity without any label naming the GPU";
static const char PROBLEM_TOO_MANY[] = "more GPU resources than flexplace keeps (16)";

/* The physical GPU as the node's labels (or instance type) name it. */
typedef struct {
    const char *product; /* GFD spelling, or the catalog model's product; NULL */
    const char *model;   /* catalog model key when known, NULL */
    double memory_mib;   /* 0 = unknown */
    long count;          /* GPUs the labels or the catalog say; 0 = unknown */
    FpDeviceSource source;
    const char *origin;    /* instance type / label value, or NULL */
    double catalog_price;  /* same-region catalog or policy override price; < 0 */
    bool price_overridden; /* catalog_price is the policy's instanceTypes one */
} Physical;

typedef struct {
    const FpPolicy *policy;
    const FpNode *node;
    const FpNodeFacts *facts;
    const char *gfd_product; /* NULL when absent or invalid */
    double gfd_memory;       /* MiB, 0 = none */
    const char *sharing;     /* nvidia.com/gpu.sharing-strategy, or "" */
    int replicas;            /* nvidia.com/gpu.replicas; -1 absent or not a number */
    long gfd_count;          /* nvidia.com/gpu.count, 0 when absent */
    bool spot;
    const char *problem; /* node-level problem (product too long) */
    Physical nvidia;     /* from cloud labels / instance type (NVIDIA models) */
    Physical amd;        /* AMD labeller, else cloud / instance type (AMD models) */
    char amd_product[LABEL_VALUE_MAX + 16];
} Ctx;

/* ---- label helpers ------------------------------------------------------- */

static const char *label(const Ctx *c, const char *key)
{
    const char *v = fp_node_label(c->node, key);
    return v && *v ? v : NULL;
}

/* A non-negative decimal integer of at most 9 digits; -1 otherwise. */
static long parse_count(const char *s)
{
    if (!s || !*s) {
        return -1;
    }
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || p - s >= 9) {
            return -1;
        }
        v = v * 10 + (*p - '0');
    }
    return v;
}

/* A memory label: a positive integer MiB, or with a unit suffix
 * K/M/G/T (optionally followed by "i", "B" or "iB"), as the AMD labeller's
 * "191G".  0 for garbage. */
static double parse_memory(const char *s, double default_unit_mib)
{
    if (!s || !*s) {
        return 0;
    }
    double v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9' && p - s < 12; p++) {
        v = v * 10 + (*p - '0');
    }
    if (p == s || v <= 0) {
        return 0;
    }
    double unit = default_unit_mib;
    switch (*p) {
    case '\0':
        return v * unit;
    case 'K':
    case 'k':
        unit = 1.0 / 1024;
        break;
    case 'M':
        unit = 1;
        break;
    case 'G':
        unit = 1024;
        break;
    case 'T':
        unit = 1024.0 * 1024;
        break;
    default:
        return 0;
    }
    p++;
    if (strcmp(p, "") != 0 && strcmp(p, "i") != 0 && strcmp(p, "B") != 0 && strcmp(p, "iB") != 0) {
        return 0;
    }
    return v * unit;
}

static bool is_spot(const Ctx *c)
{
    for (char **k = c->policy->label_capacity_type; k && *k; k++) {
        const char *v = label(c, *k);
        if (!v) {
            continue;
        }
        if (g_ascii_strcasecmp(v, "spot") == 0) {
            return true;
        }
        if ((strstr(*k, "spot") || strstr(*k, "preemptible")) && strcmp(v, "true") == 0) {
            return true;
        }
    }
    const char *gke = label(c, "cloud.google.com/gke-preemptible");
    return gke && strcmp(gke, "true") == 0;
}

/* ---- step 1: the physical GPU from cloud labels or the instance type ---- */

static void physical_from_model(Physical *ph, const FpGpuModel *m, FpDeviceSource source,
                                const char *origin)
{
    ph->product = m->product;
    ph->model = m->model;
    ph->memory_mib = m->memory_mib;
    ph->source = source;
    ph->origin = origin;
}

/* Karpenter (AWS) and GKE labels naming the GPU. */
static bool physical_from_cloud_labels(const Ctx *c, Physical *ph, const char *vendor)
{
    const char *name = label(c, "karpenter.k8s.aws/instance-gpu-name");
    const FpGpuModel *m = fp_gpu_model_by_name(name);
    if (!m) {
        name = label(c, "cloud.google.com/gke-accelerator");
        m = fp_gpu_model_by_name(name);
    }
    if (!m || strcmp(m->vendor, vendor) != 0) {
        return false;
    }
    physical_from_model(ph, m, FP_DEVICE_FROM_CLOUD_LABEL, name);
    ph->count = MAX(0, parse_count(label(c, "karpenter.k8s.aws/instance-gpu-count")));
    double mem = parse_memory(label(c, "karpenter.k8s.aws/instance-gpu-memory"), 1);
    if (mem > 0 && m == fp_gpu_model_by_name(label(c, "karpenter.k8s.aws/instance-gpu-name"))) {
        ph->memory_mib = MAX(ph->memory_mib, mem);
    }
    bool same = false;
    const FpCatalogRow *row = fp_gpu_catalog_accelerator(name, c->facts->region, &same);
    if (row && same) {
        ph->catalog_price = row->price_per_gpu_hour;
    }
    return true;
}

/* The policy's instanceTypes entry, then the built-in catalog. */
static bool physical_from_instance_type(const Ctx *c, Physical *ph, const char *vendor)
{
    const char *it = c->facts->instance_type;
    if (!it || !*it) {
        return false;
    }
    const FpInstanceType *o =
        c->policy->instance_types ? g_hash_table_lookup(c->policy->instance_types, it) : NULL;
    bool same = false;
    const FpCatalogRow *row = fp_gpu_catalog_instance(it, c->facts->region, &same);
    if (!row) {
        row = fp_gpu_catalog_family(it);
        same = false;
    }
    const FpGpuModel *m = NULL;
    if (o && o->product) {
        m = fp_gpu_model_by_product(o->product);
    } else if (row) {
        m = fp_gpu_model_by_name(row->model);
    }
    if (!o && !m) {
        return false;
    }
    if (m && strcmp(m->vendor, vendor) != 0) {
        return false;
    }
    if (!m && o && (!o->product || strcmp(vendor, "NVIDIA") != 0)) {
        return false;
    }
    if (m) {
        physical_from_model(ph, m, FP_DEVICE_FROM_INSTANCE_TYPE, it);
    } else {
        ph->source = FP_DEVICE_FROM_INSTANCE_TYPE;
        ph->origin = it;
    }
    if (o && o->product) {
        ph->product = o->product;
    }
    if (row && row->memory_mib > 0 && (!o || !o->product)) {
        ph->memory_mib = row->memory_mib;
    }
    if (row && same) {
        ph->count = row->gpu_count;
    }
    if (o && o->gpu_count > 0) {
        ph->count = o->gpu_count;
    }
    if (o && o->memory_gib > 0) {
        ph->memory_mib = o->memory_gib * 1024.0;
    }
    if (o && o->price_per_gpu_hour >= 0) {
        ph->catalog_price = o->price_per_gpu_hour;
        ph->price_overridden = true;
    } else if (row && same && (!o || !o->product)) {
        ph->catalog_price = row->price_per_gpu_hour;
    }
    return true;
}

static void find_physical(const Ctx *c, Physical *ph, const char *vendor)
{
    memset(ph, 0, sizeof *ph);
    ph->catalog_price = -1;
    if (!physical_from_cloud_labels(c, ph, vendor)) {
        physical_from_instance_type(c, ph, vendor);
    }
}

/* "Instinct_MI300X", "AMD_Instinct_MI300X_OAM" -> "MI300X" into @out. */
static bool amd_model_token(const char *name, char *out, gsize size)
{
    for (const char *p = name; p && *p; p++) {
        if ((p[0] == 'M' || p[0] == 'm') && (p[1] == 'I' || p[1] == 'i') && p[2] >= '0' &&
            p[2] <= '9' && (p == name || !g_ascii_isalnum(p[-1]))) {
            gsize n = 0;
            while (g_ascii_isalnum(p[n]) && n + 1 < size) {
                out[n] = g_ascii_toupper(p[n]);
                n++;
            }
            out[n] = '\0';
            return n > 2;
        }
    }
    return false;
}

static const char *amd_label(const Ctx *c, const char *suffix)
{
    char key[64];
    g_snprintf(key, sizeof key, "amd.com/gpu.%s", suffix);
    const char *v = label(c, key);
    if (!v) {
        g_snprintf(key, sizeof key, "beta.amd.com/gpu.%s", suffix);
        v = label(c, key);
    }
    return v;
}

static void find_amd(Ctx *c)
{
    Physical *ph = &c->amd;
    memset(ph, 0, sizeof *ph);
    ph->catalog_price = -1;
    const char *name = amd_label(c, "product-name");
    const char *device_id = amd_label(c, "device-id");
    double vram = parse_memory(amd_label(c, "vram"), 1);
    char token[LABEL_VALUE_MAX + 1];
    const FpGpuModel *m = NULL;
    if (name && strlen(name) <= LABEL_VALUE_MAX && amd_model_token(name, token, sizeof token)) {
        m = fp_gpu_model_by_name(token);
        if (!m) {
            g_snprintf(c->amd_product, sizeof c->amd_product, "AMD-Instinct-%s", token);
            ph->product = c->amd_product;
            ph->source = FP_DEVICE_FROM_AMD;
        }
    }
    if (!m && !ph->product && device_id) {
        m = fp_gpu_model_by_name(device_id);
    }
    if (m && strcmp(m->vendor, "AMD") == 0) {
        physical_from_model(ph, m, FP_DEVICE_FROM_AMD, NULL);
    } else if (!ph->product && (name || device_id || vram > 0)) {
        ph->source = FP_DEVICE_FROM_AMD; /* AMD labels that name no known GPU */
    }
    if (ph->source == FP_DEVICE_FROM_AMD) {
        ph->memory_mib = MAX(ph->memory_mib, vram);
        if (device_id && strlen(device_id) <= 16) {
            char key[64];
            g_snprintf(key, sizeof key, "beta.amd.com/gpu.device-id.%s", device_id);
            ph->count = MAX(0, parse_count(label(c, key)));
        }
        return;
    }
    find_physical(c, ph, "AMD");
}

static void ctx_init(Ctx *c, const FpPolicy *policy, const FpNode *node, const FpNodeFacts *facts)
{
    memset(c, 0, sizeof *c);
    c->policy = policy;
    c->node = node;
    c->facts = facts;
    for (char **k = policy->label_product; k && *k && !c->gfd_product; k++) {
        c->gfd_product = label(c, *k);
    }
    if (c->gfd_product && strlen(c->gfd_product) > LABEL_VALUE_MAX) {
        c->gfd_product = NULL;
        c->problem = PROBLEM_PRODUCT_LONG;
    }
    for (char **k = policy->label_memory; k && *k && c->gfd_memory <= 0; k++) {
        c->gfd_memory = parse_memory(label(c, *k), 1);
    }
    c->gfd_count = MAX(0, parse_count(label(c, "nvidia.com/gpu.count")));
    const char *sharing = label(c, "nvidia.com/gpu.sharing-strategy");
    c->sharing = sharing ? sharing : "";
    c->replicas = (int)parse_count(label(c, "nvidia.com/gpu.replicas"));
    c->spot = is_spot(c);
    find_physical(c, &c->nvidia, "NVIDIA");
    find_amd(c);
}

/* ---- step 2: one class per resource --------------------------------------- */

/* Scratch for one class: its strings before interning. */
typedef struct {
    FpDeviceClass d;
    char product[LABEL_VALUE_MAX + 64];
    char base[LABEL_VALUE_MAX + 1];
    char model[LABEL_VALUE_MAX + 1];
    char profile[LABEL_VALUE_MAX + 1];
    const Physical *ph; /* for price, when not from GFD */
} Draft;

static void set_str(char *dst, gsize size, const char *src, gsize len)
{
    len = MIN(len, size - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static void draft_base(Draft *dr, const char *product)
{
    set_str(dr->base, sizeof dr->base, product, fp_sku_base_len(product));
    fp_device_model_of(dr->base, dr->model, sizeof dr->model);
}

/* Memory of the physical GPU named @base: the larger of @label_mib and the
 * SKU table's nominal size (engine.h: GFD reports a little under it). */
static double physical_memory(const Ctx *c, const char *base, double label_mib)
{
    const FpSku *sku = fp_policy_find_sku(c->policy, base, false, NULL);
    double mem = label_mib;
    if (sku && isfinite(sku->memory_gib) && sku->memory_gib > 0) {
        mem = MAX(mem, sku->memory_gib * 1024.0);
    }
    return mem;
}

/* Time-slicing / MPS on top of @dr (a whole GPU or a MIG slice). */
static void apply_sharing(const Ctx *c, Draft *dr, const char *strategy, long replicas,
                          double physical_mib)
{
    bool mps = strcmp(strategy, "mps") == 0;
    dr->d.kind = mps ? FP_DEVICE_MPS : FP_DEVICE_SHARED;
    dr->d.memory_isolated = mps;
    if (!g_str_has_suffix(dr->product, "-SHARED") && dr->product[0]) {
        g_strlcat(dr->product, "-SHARED", sizeof dr->product);
    }
    if (replicas < 1 || replicas > MAX_REPLICAS) {
        dr->d.problem = PROBLEM_REPLICAS;
        dr->d.share_num = dr->d.share_den = 0;
        dr->d.memory_mib = 0;
        return;
    }
    dr->d.labelled_count = (uint16_t)MIN((long)dr->d.labelled_count * replicas, 65535);
    guint num = dr->d.share_num ? dr->d.share_num : 1;
    guint den = (dr->d.share_den ? dr->d.share_den : 1) * (guint)replicas;
    dr->d.share_num = (uint16_t)num;
    dr->d.share_den = (uint16_t)MIN(den, 65535u);
    dr->d.memory_mib = mps ? physical_mib / (double)replicas : physical_mib;
}

/* nvidia.com/mig-<profile> (MIG mixed). */
static void class_mig_mixed(const Ctx *c, Draft *dr, const char *profile)
{
    char key[160];
    dr->d.kind = FP_DEVICE_MIG;
    dr->d.source = FP_DEVICE_FROM_GFD;
    dr->d.memory_isolated = true;
    set_str(dr->profile, sizeof dr->profile, profile, strlen(profile));
    g_snprintf(key, sizeof key, "nvidia.com/mig-%s.product", dr->profile);
    const char *product = label(c, key);
    if (product && strlen(product) > LABEL_VALUE_MAX) {
        product = NULL;
        dr->d.problem = PROBLEM_PRODUCT_LONG;
    }
    const char *base = c->gfd_product ? c->gfd_product : c->nvidia.product;
    if (product) {
        set_str(dr->product, sizeof dr->product, product, strlen(product));
    } else if (base) {
        g_snprintf(dr->product, sizeof dr->product, "%.*s-MIG-%s", (int)fp_sku_base_len(base), base,
                   dr->profile);
    }
    draft_base(dr, dr->product[0] ? dr->product : (base ? base : ""));
    guint g = fp_device_mig_compute(dr->profile);
    guint slices = fp_device_mig_slices(dr->base);
    if (g == 0 || g > slices) { /* no MIG profile takes more than the GPU */
        dr->d.problem = dr->d.problem ? dr->d.problem : PROBLEM_MIG_PROFILE;
    } else {
        dr->d.share_num = (uint16_t)g;
        dr->d.share_den = (uint16_t)slices;
    }
    g_snprintf(key, sizeof key, "nvidia.com/mig-%s.count", dr->profile);
    dr->d.labelled_count = (uint16_t)CLAMP(parse_count(label(c, key)), 0, 65535);
    g_snprintf(key, sizeof key, "nvidia.com/mig-%s.memory", dr->profile);
    dr->d.memory_mib = parse_memory(label(c, key), 1);
    if (dr->d.memory_mib <= 0) {
        const FpSku *exact = fp_policy_find_sku(c->policy, dr->product, false, NULL);
        if (exact && exact->memory_gib > 0) {
            dr->d.memory_mib = exact->memory_gib * 1024.0;
        } else {
            dr->d.problem = dr->d.problem ? dr->d.problem : PROBLEM_MIG_MEMORY;
        }
    }
    g_snprintf(key, sizeof key, "nvidia.com/mig-%s.sharing-strategy", dr->profile);
    const char *strategy = label(c, key);
    if (strategy && (strcmp(strategy, "time-slicing") == 0 || strcmp(strategy, "mps") == 0)) {
        g_snprintf(key, sizeof key, "nvidia.com/mig-%s.replicas", dr->profile);
        long replicas = parse_count(label(c, key));
        if (replicas != 1) {
            apply_sharing(c, dr, strategy, replicas, dr->d.memory_mib);
        }
    }
}

/* nvidia.com/gpu and nvidia.com/gpu.shared from GFD labels. */
static void class_gfd(const Ctx *c, Draft *dr, bool renamed_shared)
{
    const char *product = c->gfd_product;
    dr->d.source = FP_DEVICE_FROM_GFD;
    dr->d.kind = FP_DEVICE_WHOLE;
    dr->d.memory_isolated = true;
    dr->d.share_num = dr->d.share_den = 1;
    set_str(dr->product, sizeof dr->product, product, strlen(product));
    draft_base(dr, product);
    dr->d.labelled_count = (uint16_t)MIN(c->gfd_count, 65535);
    if (fp_sku_is_mig(product)) { /* MIG single: the labels describe the slice */
        const char *mig = g_strrstr_len(product, (gssize)strlen(product), "-MIG-");
        const char *prof = mig + strlen("-MIG-");
        gsize plen = strlen(prof);
        if (plen > strlen("-SHARED") && g_str_has_suffix(prof, "-SHARED")) {
            plen -= strlen("-SHARED");
        }
        set_str(dr->profile, sizeof dr->profile, prof, plen);
        dr->d.kind = FP_DEVICE_MIG;
        guint g = fp_device_mig_compute(dr->profile);
        guint slices = fp_device_mig_slices(dr->base);
        if (g == 0 || g > slices) {
            g = 0;
            dr->d.problem = PROBLEM_MIG_PROFILE;
        }
        dr->d.share_num = (uint16_t)g;
        dr->d.share_den = g ? (uint16_t)slices : 0;
        const FpSku *exact = fp_policy_find_sku(c->policy, product, false, NULL);
        dr->d.memory_mib = c->gfd_memory;
        if (exact && exact->memory_gib > 0) {
            dr->d.memory_mib = MAX(dr->d.memory_mib, exact->memory_gib * 1024.0);
        }
        if (dr->d.memory_mib <= 0) {
            dr->d.problem = dr->d.problem ? dr->d.problem : PROBLEM_MIG_MEMORY;
        }
    } else {
        dr->d.memory_mib = physical_memory(c, dr->base, c->gfd_memory);
    }
    bool shared = renamed_shared || g_str_has_suffix(product, "-SHARED") ||
                  strcmp(c->sharing, "time-slicing") == 0 || strcmp(c->sharing, "mps") == 0;
    /* replicas 1 with a sharing strategy is a whole device */
    if (shared && !(c->replicas == 1 && !renamed_shared && !g_str_has_suffix(product, "-SHARED"))) {
        const char *strategy = strcmp(c->sharing, "mps") == 0 ? "mps" : "time-slicing";
        apply_sharing(c, dr, strategy, c->replicas, dr->d.memory_mib);
    }
}

/* A class from a physical GPU that labels other than GFD name. */
static void class_physical(const Ctx *c, Draft *dr, const Physical *ph)
{
    dr->d.kind = FP_DEVICE_WHOLE;
    dr->d.memory_isolated = true;
    dr->d.share_num = dr->d.share_den = 1;
    dr->d.source = ph->source;
    dr->d.origin = ph->origin;
    dr->d.labelled_count = (uint16_t)MIN(ph->count, 65535);
    dr->ph = ph;
    if (ph->product) {
        set_str(dr->product, sizeof dr->product, ph->product, strlen(ph->product));
        draft_base(dr, ph->product);
    }
    dr->d.memory_mib = ph->product ? physical_memory(c, dr->base, ph->memory_mib) : ph->memory_mib;
}

static bool is_gpu_resource(const FpPolicy *policy, const char *name)
{
    return strcmp(name, NVIDIA_GPU) == 0 || strcmp(name, NVIDIA_SHARED) == 0 ||
           strcmp(name, AMD_GPU) == 0 ||
           (g_str_has_prefix(name, MIG_PREFIX) && name[strlen(MIG_PREFIX)] != '\0') ||
           fp_policy_is_gpu_resource(policy, name);
}

static void build_class(const Ctx *c, Draft *dr, const char *resource, int64_t allocatable)
{
    memset(dr, 0, sizeof *dr);
    dr->d.resource = resource;
    dr->d.price_per_hour = -1;
    if (g_str_has_prefix(resource, MIG_PREFIX)) {
        class_mig_mixed(c, dr, resource + strlen(MIG_PREFIX));
    } else if (strcmp(resource, AMD_GPU) == 0) {
        class_physical(c, dr, &c->amd);
    } else if (c->gfd_product) {
        class_gfd(c, dr, strcmp(resource, NVIDIA_SHARED) == 0);
    } else {
        class_physical(c, dr, &c->nvidia);
    }
    if (!dr->d.problem && c->problem && strcmp(resource, AMD_GPU) != 0) {
        dr->d.problem = c->problem; /* the GFD product label was unusable */
    }
    if (!dr->product[0] && !dr->d.problem && allocatable > 0) {
        dr->d.problem = PROBLEM_NO_LABELS;
    }
    if (dr->d.problem == PROBLEM_MIG_MEMORY && allocatable <= 0) {
        dr->d.problem = NULL; /* a profile with no instances carries no labels */
    }
    if (dr->d.problem) {
        dr->d.memory_mib = 0; /* conservative: no memory to count on */
    }
    dr->d.spot = c->spot;
}

/* ---- step 3: price and throughput under the policy ------------------------ */

static void resolve_price(const Ctx *c, Draft *dr)
{
    const FpPolicy *policy = c->policy;
    double fraction = fp_device_fraction(&dr->d);
    const FpSku *sku = dr->base[0] ? fp_policy_find_sku(policy, dr->base, false, NULL) : NULL;
    double tp = sku && isfinite(sku->relative_throughput) && sku->relative_throughput > 0
                    ? sku->relative_throughput
                    : 1.0;
    dr->d.relative_throughput = tp * fraction;

    double spot = c->spot && isfinite(policy->spot_price_factor) ? policy->spot_price_factor : 1.0;
    const FpPool *pool = c->facts->pool && c->facts->pool[0] && policy->pools
                             ? g_hash_table_lookup(policy->pools, c->facts->pool)
                             : NULL;
    const Physical *ph = dr->ph ? dr->ph : &c->nvidia;
    /* the catalog's price is for the GPU it names: good for a GFD class
     * only when GFD names the same model */
    bool catalog_ok = ph->catalog_price >= 0 &&
                      (dr->ph != NULL || (ph->product && fp_gpu_model_by_product(dr->base) ==
                                                             fp_gpu_model_by_product(ph->product)));
    bool sku_price_ok = sku && isfinite(sku->price_per_gpu_hour) && sku->price_per_gpu_hour >= 0;
    double price;
    if (pool && isfinite(pool->price_per_gpu_hour) && pool->price_per_gpu_hour >= 0) {
        price = pool->price_per_gpu_hour; /* what the pool is billed: taken as is */
    } else if (ph->price_overridden && catalog_ok) {
        price = ph->catalog_price * spot;
    } else if (sku_price_ok && !sku->builtin_price) {
        price = sku->price_per_gpu_hour * spot; /* the policy's own */
    } else if (catalog_ok) {
        price = ph->catalog_price * spot; /* this instance type, in this region */
    } else if (sku_price_ok) {
        price = sku->price_per_gpu_hour * spot;
    } else {
        price = policy->default_price_per_gpu_hour;
    }
    dr->d.price_per_hour = price >= 0 ? price * fraction : -1;
}

/* ---- the inventory ---------------------------------------------------------- */

static const char *intern(const char *s)
{
    return g_ref_string_new_intern(s ? s : "");
}

static void inventory_free(FpGpuInventory *inv)
{
    for (guint i = 0; i < inv->n; i++) {
        FpDeviceClass *d = &inv->classes[i];
        const char *strs[] = {d->resource, d->product, d->base, d->model, d->profile, d->origin};
        for (guint k = 0; k < G_N_ELEMENTS(strs); k++) {
            g_ref_string_release((char *)strs[k]);
        }
    }
    g_free(inv);
}

/* The resources to describe: those the node lists, then those its labels
 * imply (GPUs named but not advertised, e.g. while the device plugin is
 * down). */
/* The MIG profiles the labels count ("nvidia.com/mig-<profile>.count" > 0)
 * that the node does not list, into @names (resource names). */
static guint implied_mig(const Ctx *c, char names[][80], guint max)
{
    guint n = 0;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, c->node->labels);
    while (g_hash_table_iter_next(&it, &k, &v) && n < max) {
        const char *key = k;
        if (!g_str_has_prefix(key, MIG_PREFIX) || !g_str_has_suffix(key, ".count")) {
            continue;
        }
        gsize len = strlen(key) - strlen(".count");
        if (len >= 80 || parse_count(v) <= 0) {
            continue;
        }
        memcpy(names[n], key, len);
        names[n][len] = '\0';
        if (fp_device_mig_compute(names[n] + strlen(MIG_PREFIX)) > 0 &&
            !fp_res_list_has(&c->node->allocatable, names[n])) {
            n++;
        }
    }
    return n;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static guint list_resources(const Ctx *c, const char **out, int64_t *alloc, bool *too_many,
                            char mig[][80])
{
    guint n = 0;
    const FpResList *a = &c->node->allocatable;
    for (guint i = 0; i < a->len; i++) {
        if (!is_gpu_resource(c->policy, a->items[i].name)) {
            continue;
        }
        if (n == FP_GPU_INVENTORY_MAX) {
            *too_many = true;
            break;
        }
        alloc[n] = a->items[i].value;
        out[n++] = a->items[i].name;
    }
    const char *implied[2] = {NULL, NULL};
    if (c->gfd_product || c->nvidia.source != FP_DEVICE_FROM_NONE) {
        implied[0] = NVIDIA_GPU;
    }
    if (c->amd.source != FP_DEVICE_FROM_NONE) {
        implied[1] = AMD_GPU;
    }
    for (guint k = 0; k < 2; k++) {
        if (implied[k] && !fp_res_list_has(a, implied[k]) && n < FP_GPU_INVENTORY_MAX) {
            alloc[n] = 0;
            out[n++] = implied[k];
        }
    }
    guint first = n;
    guint n_mig = implied_mig(c, mig, FP_GPU_INVENTORY_MAX - n);
    for (guint k = 0; k < n_mig; k++) {
        alloc[n] = 0;
        out[n++] = mig[k];
    }
    qsort(out + first, n - first, sizeof *out, cmp_str); /* label order is hash order */
    return n;
}

/* ---- sharing equal inventories ------------------------------------------
 *
 * Nodes of one pool carry the same labels, so most inventories are equal:
 * one copy serves them all (less memory, and the request path reads a few
 * hot inventories instead of one per node).  The table holds a reference on
 * each entry; holders take and drop theirs atomically without the lock.
 * An entry whose only reference is the table's cannot be reached without
 * the lock, so the sweep frees those under it. */

static GMutex intern_lock;
static GHashTable *intern_table; /* FpGpuInventory* (its own key), a reference each */
static guint intern_sweep_at = 256;

static guint32 mix(guint32 h, guint64 v)
{
    for (int i = 0; i < 8; i++) {
        h = (h ^ (guint32)(v & 0xff)) * 16777619u;
        v >>= 8;
    }
    return h;
}

static guint64 bits(double d)
{
    guint64 b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static guint inventory_hash(gconstpointer p)
{
    const FpGpuInventory *inv = p;
    guint32 h = mix(2166136261u, inv->n);
    for (guint i = 0; i < inv->n; i++) {
        const FpDeviceClass *d = &inv->classes[i];
        /* strings are interned: equal content, equal address */
        const void *ptrs[] = {d->resource, d->product, d->base,   d->model,
                              d->profile,  d->origin,  d->problem};
        for (guint k = 0; k < G_N_ELEMENTS(ptrs); k++) {
            h = mix(h, (guint64)(uintptr_t)ptrs[k]);
        }
        h = mix(h, ((guint64)d->kind << 48) ^ ((guint64)d->source << 40) ^
                       ((guint64)d->share_num << 24) ^ ((guint64)d->share_den << 8) ^
                       ((guint64)d->memory_isolated << 1) ^ (guint64)d->spot);
        h = mix(h, d->labelled_count);
        h = mix(h, bits(d->memory_mib) ^ bits(d->price_per_hour) ^ bits(d->relative_throughput));
    }
    return h;
}

static gboolean class_equal(const FpDeviceClass *a, const FpDeviceClass *b)
{
    return a->resource == b->resource && a->product == b->product && a->base == b->base &&
           a->model == b->model && a->profile == b->profile && a->origin == b->origin &&
           a->problem == b->problem && a->kind == b->kind && a->source == b->source &&
           a->share_num == b->share_num && a->share_den == b->share_den &&
           a->labelled_count == b->labelled_count && a->memory_isolated == b->memory_isolated &&
           a->spot == b->spot && bits(a->memory_mib) == bits(b->memory_mib) &&
           bits(a->price_per_hour) == bits(b->price_per_hour) &&
           bits(a->relative_throughput) == bits(b->relative_throughput);
}

static gboolean inventory_equal(gconstpointer pa, gconstpointer pb)
{
    const FpGpuInventory *a = pa;
    const FpGpuInventory *b = pb;
    if (a->n != b->n) {
        return FALSE;
    }
    for (guint i = 0; i < a->n; i++) {
        if (!class_equal(&a->classes[i], &b->classes[i])) {
            return FALSE;
        }
    }
    return TRUE;
}

/* Free entries nobody but the table holds.  Lock held. */
static void intern_sweep(void)
{
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, intern_table);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        FpGpuInventory *inv = key;
        if (g_atomic_int_get(&inv->refs_) == 1) {
            g_hash_table_iter_steal(&it);
            fp_gpu_inventory_unref(inv);
        }
    }
    intern_sweep_at = MAX(256u, 2 * g_hash_table_size(intern_table));
}

static FpGpuInventory *intern_inventory(FpGpuInventory *inv)
{
    g_mutex_lock(&intern_lock);
    if (!intern_table) {
        intern_table = g_hash_table_new(inventory_hash, inventory_equal);
    }
    FpGpuInventory *found = g_hash_table_lookup(intern_table, inv);
    if (found) {
        fp_gpu_inventory_ref(found);
    } else {
        if (g_hash_table_size(intern_table) >= intern_sweep_at) {
            intern_sweep();
        }
        g_hash_table_add(intern_table, fp_gpu_inventory_ref(inv));
    }
    g_mutex_unlock(&intern_lock);
    if (found) {
        fp_gpu_inventory_unref(inv);
        return found;
    }
    return inv;
}

guint fp_gpu_inventory_shared_count(void)
{
    g_mutex_lock(&intern_lock);
    guint n = intern_table ? g_hash_table_size(intern_table) : 0;
    g_mutex_unlock(&intern_lock);
    return n;
}

FpGpuInventory *fp_gpu_inventory_new(const FpPolicy *policy, const FpNode *node,
                                     const FpNodeFacts *facts)
{
    if (!policy || !node || !facts) {
        return NULL;
    }
    Ctx c;
    ctx_init(&c, policy, node, facts);
    const char *resources[FP_GPU_INVENTORY_MAX];
    int64_t alloc[FP_GPU_INVENTORY_MAX];
    bool too_many = false;
    char mig[FP_GPU_INVENTORY_MAX][80];
    guint n = list_resources(&c, resources, alloc, &too_many, mig);
    if (n == 0) {
        return NULL;
    }
    FpGpuInventory *inv = g_malloc0(sizeof(FpGpuInventory) + n * sizeof(FpDeviceClass));
    inv->refs_ = 1;
    Draft dr;
    for (guint i = 0; i < n; i++) {
        build_class(&c, &dr, resources[i], alloc[i]);
        resolve_price(&c, &dr);
        if (too_many && !dr.d.problem) {
            dr.d.problem = PROBLEM_TOO_MANY;
        }
        FpDeviceClass *d = &inv->classes[i];
        *d = dr.d;
        d->resource = intern(resources[i]);
        d->product = intern(dr.product);
        d->base = intern(dr.base);
        d->model = intern(dr.model);
        d->profile = intern(dr.profile);
        d->origin = intern(dr.d.origin);
        inv->n = i + 1;
        if (!inv->problem && d->problem) {
            inv->problem = d->problem;
        }
    }
    return intern_inventory(inv);
}

FpGpuInventory *fp_gpu_inventory_ref(FpGpuInventory *inv)
{
    if (inv) {
        g_atomic_int_inc(&inv->refs_);
    }
    return inv;
}

void fp_gpu_inventory_unref(FpGpuInventory *inv)
{
    if (inv && g_atomic_int_dec_and_test(&inv->refs_)) {
        inventory_free(inv);
    }
}

const FpDeviceClass *fp_gpu_inventory_find(const FpGpuInventory *inv, const char *resource)
{
    if (!inv || !resource) {
        return NULL;
    }
    for (guint i = 0; i < inv->n; i++) {
        if (inv->classes[i].resource == resource ||
            strcmp(inv->classes[i].resource, resource) == 0) {
            return &inv->classes[i];
        }
    }
    return NULL;
}

gsize fp_gpu_inventory_size(const FpGpuInventory *inv)
{
    return inv ? sizeof(FpGpuInventory) + inv->n * sizeof(FpDeviceClass) : 0;
}

/* ---- logging once per node ------------------------------------------------- */

#define WARNED_MAX 20000

static GMutex warned_lock;
static GHashTable *warned; /* node name -> the problem last logged (static string) */

void fp_gpu_inventory_warn_once(const char *name, const FpGpuInventory *inv)
{
    const char *problem = inv ? inv->problem : NULL;
    if (!name) {
        return;
    }
    g_mutex_lock(&warned_lock);
    if (!warned) {
        warned = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    }
    const char *last = g_hash_table_lookup(warned, name);
    if (problem && last != problem) {
        if (g_hash_table_size(warned) >= WARNED_MAX) {
            g_hash_table_remove_all(warned);
        }
        g_hash_table_replace(warned, g_strdup(name), (gpointer)problem);
        g_warning("node %.253s: %s; its GPUs are treated conservatively (memory unknown)", name,
                  problem);
    } else if (!problem && last) {
        g_hash_table_remove(warned, name);
    }
    g_mutex_unlock(&warned_lock);
}
