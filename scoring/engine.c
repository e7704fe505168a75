/*
 * scoring/engine.c - node facts, the filters and the weighted total.
 *
 * fp_evaluate runs in three passes over the candidates of one request:
 *  1. filters, in the order documented in engine.h (first failure wins);
 *  2. the burst overflow rule (engine.h) for candidates that failed only
 *     the pool ceiling;
 *  3. the score terms of fp_term_defs for every passing candidate, then
 *     min-max normalisation of the terms that need it, the weighted mean
 *     and the 0..10 extender score.
 */
#include "scoring/engine.h"

#include <math.h>
#include <string.h>

#include "scoring/engine_private.h"
#include "scoring/hash.h"
#include "scoring/region_latency.h"

/* Tolerance for comparing GPU counts against fractional ceilings
 * (0.95 * 20 is 18.999999999999996 in binary floating point). */
#define CEILING_EPSILON 1e-9

/* ---- saturating arithmetic for counts from outside -------------------- */

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) {
        return b > 0 ? INT64_MAX : INT64_MIN;
    }
    return r;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r)) {
        return b < 0 ? INT64_MAX : INT64_MIN;
    }
    return r;
}

/* ---- node facts --------------------------------------------------------- */

/* Value of the first label of @keys that the node carries with a non-empty
 * value; "" when none. */
static const char *first_label(const FpNode *node, char **keys)
{
    for (char **k = keys; k && *k; k++) {
        const char *v = fp_node_label(node, *k);
        if (v && *v) {
            return v;
        }
    }
    return "";
}

/* A GFD memory label: a positive decimal integer (MiB).  0 for garbage. */
static double parse_memory_label(const char *s)
{
    if (!s || !*s) {
        return 0;
    }
    double v = 0;
    gsize n = 0;
    for (const char *p = s; *p; p++, n++) {
        if (*p < '0' || *p > '9' || n >= 12) {
            return 0;
        }
        v = v * 10 + (*p - '0');
    }
    return v;
}

void fp_node_facts(const FpPolicy *policy, const FpNode *node, FpNodeFacts *out)
{
    memset(out, 0, sizeof *out);
    out->pool = out->region = out->zone = out->product = "";
    out->instance_type = out->capacity_type = "";
    out->relative_throughput = 1.0;
    out->max_utilization = 1.0;
    out->price_per_gpu_hour = policy ? policy->default_price_per_gpu_hour : -1.0;
    if (!policy || !node) {
        return;
    }
    out->pool = first_label(node, policy->label_pool);
    out->region = first_label(node, policy->label_region);
    out->zone = first_label(node, policy->label_zone);
    out->product = first_label(node, policy->label_product);
    out->instance_type = first_label(node, policy->label_instance_type);
    out->capacity_type = first_label(node, policy->label_capacity_type);

    /* Memory: the larger of the node's own label and the SKU table.  GFD
     * reports what NVML sees (an "80GB" H100 shows 81559 MiB, an A10G 23028
     * MiB), so a pod asking for "80Gi" or "24Gi" means the SKU's nominal
     * size and must not be refused for a few hundred MiB of driver reserve.
     * A MIG slice has less memory than its base GPU, so only an exact entry
     * may speak for it. */
    bool from_base = false;
    const FpSku *sku = fp_policy_find_sku(policy, out->product, true, &from_base);
    const FpSku *exact = from_base ? NULL : sku;
    for (char **k = policy->label_memory; k && *k && out->gpu_memory_mib <= 0; k++) {
        out->gpu_memory_mib = parse_memory_label(fp_node_label(node, *k));
    }
    const FpSku *mem_sku = fp_sku_is_mig(out->product) ? exact : sku;
    if (mem_sku && isfinite(mem_sku->memory_gib) && mem_sku->memory_gib > 0) {
        out->gpu_memory_mib = MAX(out->gpu_memory_mib, mem_sku->memory_gib * 1024.0);
    }
    if (sku && isfinite(sku->relative_throughput) && sku->relative_throughput > 0) {
        out->relative_throughput = sku->relative_throughput;
    }

    const FpPool *pool =
        out->pool[0] && policy->pools ? g_hash_table_lookup(policy->pools, out->pool) : NULL;
    if (pool && isfinite(pool->price_per_gpu_hour) && pool->price_per_gpu_hour >= 0) {
        out->price_per_gpu_hour = pool->price_per_gpu_hour;
    } else if (sku && isfinite(sku->price_per_gpu_hour) && sku->price_per_gpu_hour >= 0) {
        out->price_per_gpu_hour = sku->price_per_gpu_hour;
    }
    if (pool && isfinite(pool->max_utilization) && pool->max_utilization > 0) {
        out->max_utilization = MIN(pool->max_utilization, 1.0);
    }
}

void fp_facts_apply_device(FpNodeFacts *f, const FpDeviceClass *d)
{
    if (!d) {
        return;
    }
    f->product = d->product;
    f->gpu_memory_mib = d->memory_mib;
    f->price_per_gpu_hour = d->price_per_hour;
    f->relative_throughput = d->relative_throughput;
}

double fp_weighted_latency(const FpPolicy *policy, const FpDemand *demand, const char *region)
{
    double sum = 0;
    for (guint i = 0; i < demand->n_origins; i++) {
        const FpOrigin *o = &demand->origins[i];
        sum += o->weight * fp_policy_latency(policy, o->region, region ? region : "", NULL);
    }
    return sum;
}

int fp_score_from_gap(double gap)
{
    if (!(gap > 1e-9)) { /* also NaN: the best */
        return gap != gap ? 0 : 10;
    }
    double points = floor(gap / FP_SCORE_STEP + 0.5);
    return points >= 10 ? 0 : 10 - (int)points;
}

int fp_score_to_extender(double total)
{
    if (!(total > 0)) { /* also NaN */
        return 0;
    }
    double s = floor(total * 10.0 + 0.5);
    return s >= 10 ? 10 : (int)s;
}

/* ---- filters -------------------------------------------------------------- */

typedef enum {
    STATUS_FAIL,
    STATUS_PASS,
    STATUS_CEILING, /* passed filters 1-10, failed only the pool ceiling */
} FilterStatus;

/* What the filter pass learnt about one candidate, reused by the terms. */
typedef struct {
    FilterStatus status;
    double latency_ms;           /* weighted RTT, when the pod has origins */
    int64_t allocatable;         /* of demand->resource */
    const FpPoolStat *stat;      /* the node's pool in ctx->pool_stats, or NULL */
    int sku_index;               /* of the product in the preference list, -1 when none */
    const FpNodeFacts *facts;    /* the candidate's facts (the caller's, or the verdict's) */
    const FpDeviceClass *device; /* the candidate's, or NULL (facts' whole GPU) */
} CandScratch;

/* ---- time to serve (filter 7c, the timeToServe term) -------------------- */

/* The sizes of the pod's images, in GiB: what a node of the cluster
 * (ctx->image_mib), else a candidate of this request reports in
 * status.images, else the policy's default. */
static void image_sizes(const FpEvalContext *ctx, const FpCandidate *cands, guint n, double *gib)
{
    const FpDemand *d = ctx->demand;
    for (guint k = 0; k < d->n_images; k++) {
        int64_t mib = ctx->image_mib ? ctx->image_mib[k] : -1;
        for (guint i = 0; i < n && mib < 0 && !ctx->image_mib; i++) {
            mib = fp_node_image_mib(cands[i].node, d->image_keys[k]);
        }
        gib[k] = mib > 0 ? (double)mib / 1024.0 : ctx->policy->transfer.default_image_gib;
    }
}

/* The cloud a node is in: its pool's (policy), else its region's in the
 * built-in tables; NULL when unknown. */
static const char *node_cloud(const FpPolicy *policy, const FpNodeFacts *f)
{
    const FpPool *pool =
        f->pool[0] && policy->pools ? g_hash_table_lookup(policy->pools, f->pool) : NULL;
    if (pool && pool->cloud) {
        return pool->cloud;
    }
    const FpBuiltinRegion *r = f->region[0] ? fp_builtin_region(f->region) : NULL;
    return r ? r->cloud : NULL;
}

static void node_tts(const FpEvalContext *ctx, const FpNode *node, const FpNodeFacts *f,
                     const double *image_gib, FpTts *out)
{
    const FpDemand *d = ctx->demand;
    FpTtsInput in = {
        .weights_gib = d->model_plan.weights_gib,
        .gpus = MAX(1, d->model_plan.tensor_parallel) * MAX(1, d->model_plan.pipeline_parallel),
        .store = d->weights_store,
        .hub = d->weights_hub,
    };
    for (guint k = 0; k < d->n_images; k++) {
        if (fp_node_image_mib(node, d->image_keys[k]) < 0) {
            in.pull_gib += image_gib[k];
        }
    }
    for (guint i = 0; i < G_N_ELEMENTS(d->cache_labels) && d->cache_labels[i]; i++) {
        in.node_cache =
            in.node_cache || fp_cache_label_set(fp_node_label(node, d->cache_labels[i]));
    }
    if (d->store_in_cluster) {
        in.store_class = FP_SOURCE_SAME_REGION;
    } else if (d->weights_store) {
        in.store_class =
            fp_store_class(d->store_region, d->store_cloud, f->region, node_cloud(ctx->policy, f));
    }
    fp_time_to_serve(&ctx->policy->transfer, &in, out);
}

/* "time to serve N s > limit M s", interned; at most FP_TTS_REASONS_MAX
 * distinct texts a process (engine.h), then the generic one. */
static const char *tts_reason(double total_s, double limit_s)
{
    static gint interned = 0;
    char buf[96];
    g_snprintf(buf, sizeof buf, FP_REASON_TTS_PREFIX "%.0f s > limit %.0f s", ceil(total_s),
               floor(limit_s));
    GQuark known = g_quark_try_string(buf);
    if (known) {
        return g_quark_to_string(known);
    }
    if (g_atomic_int_add(&interned, 1) >= FP_TTS_REASONS_MAX) {
        return FP_REASON_TTS;
    }
    return g_intern_string(buf);
}

/* ---- per-request memo of label-value facts ------------------------------
 *
 * What depends only on a label value (is this product allowed, where is it
 * in the preference list, how far is this region, what are this pool's
 * totals) is computed once per distinct value and request: a cluster has a
 * handful of products, regions and pools and thousands of nodes.  Keyed by
 * content, so it is exact whatever the strings' owners. */

typedef struct {
    const char *key; /* borrowed from a candidate's facts; NULL = empty slot */
    guint32 hash;
    int value;             /* product: allowed (0/1) */
    int index;             /* product: preference index */
    double number;         /* region: weighted latency */
    const FpPoolStat *ptr; /* pool: its totals, or NULL */
} MemoSlot;

#define MEMO_RECENT 64 /* a power of two */

typedef struct {
    MemoSlot *slots;
    guint mask; /* capacity - 1, a power of two minus one */
    guint used;
    /* Recently seen key addresses and their slots: callers that intern
     * their strings (the view does) pass equal values at one address, so
     * most lookups end here without reading the string. */
    const char *recent_key[MEMO_RECENT];
    guint recent_slot[MEMO_RECENT];
} Memo;

static void memo_init(Memo *m)
{
    memset(m, 0, sizeof *m);
    m->mask = 31;
    m->slots = g_new0(MemoSlot, m->mask + 1);
}

static MemoSlot *memo_probe(MemoSlot *slots, guint mask, const char *key, guint32 hash)
{
    for (guint i = hash & mask;; i = (i + 1) & mask) {
        MemoSlot *s = &slots[i];
        if (!s->key || (s->hash == hash && (s->key == key || strcmp(s->key, key) == 0))) {
            return s;
        }
    }
}

/* The slot for @key; *fresh tells whether it was just added (the caller
 * fills its values).  Never full: the table doubles at half load. */
static MemoSlot *memo_get(Memo *m, const char *key, bool *fresh)
{
    guint r = (guint)(((uintptr_t)key >> 3) ^ ((uintptr_t)key >> 11)) & (MEMO_RECENT - 1);
    if (m->recent_key[r] == key) {
        *fresh = false;
        return &m->slots[m->recent_slot[r]];
    }
    guint32 hash = fp_fnv1a_str(key);
    MemoSlot *s = memo_probe(m->slots, m->mask, key, hash);
    *fresh = s->key == NULL;
    if (!*fresh) {
        m->recent_key[r] = key;
        m->recent_slot[r] = (guint)(s - m->slots);
        return s;
    }
    if (2 * (m->used + 1) > m->mask + 1) {
        guint mask = 2 * m->mask + 1;
        MemoSlot *slots = g_new0(MemoSlot, mask + 1);
        for (guint i = 0; i <= m->mask; i++) {
            if (m->slots[i].key) {
                *memo_probe(slots, mask, m->slots[i].key, m->slots[i].hash) = m->slots[i];
            }
        }
        g_free(m->slots);
        m->slots = slots;
        m->mask = mask;
        memset(m->recent_key, 0, sizeof m->recent_key); /* slots moved */
        s = memo_probe(m->slots, m->mask, key, hash);
    }
    m->used++;
    s->key = key;
    s->hash = hash;
    m->recent_key[r] = key;
    m->recent_slot[r] = (guint)(s - m->slots);
    return s;
}

/* Per-request scratch shared by the candidates. */
typedef struct {
    const FpEvalContext *ctx;
    const FpProfile *profile; /* the demand's, else the fallback */
    char *const *allowed;     /* demand's, else the profile's allow-list */
    char *const *preference;  /* demand's, else the profile's preference list */
    guint n_preference;
    Memo products; /* product -> value: allowed, index: preference */
    Memo regions;  /* region -> number: latency */
    Memo pools;    /* pool -> ptr: totals */
    double image_gib[G_N_ELEMENTS(((FpDemand *)NULL)->image_keys)]; /* the pod's images */
} EvalState;

static double latency_for(EvalState *st, const char *region)
{
    bool fresh;
    MemoSlot *s = memo_get(&st->regions, region, &fresh);
    if (fresh) {
        s->number = fp_weighted_latency(st->ctx->policy, st->ctx->demand, region);
    }
    return s->number;
}

static const MemoSlot *product_facts(EvalState *st, const char *product)
{
    bool fresh;
    MemoSlot *s = memo_get(&st->products, product, &fresh);
    if (fresh) {
        s->value = !st->allowed || fp_sku_list_index(st->allowed, product, NULL) >= 0;
        s->index = fp_sku_list_index(st->preference, product, NULL);
    }
    return s;
}

static const FpPoolStat *pool_stat_for(EvalState *st, const char *pool)
{
    bool fresh;
    MemoSlot *s = memo_get(&st->pools, pool, &fresh);
    if (fresh) {
        s->ptr = g_hash_table_lookup(st->ctx->pool_stats, pool);
    }
    return s->ptr;
}

/* Filter 6a (engine.h): whether this pod may get a shared replica @dev.
 * An allow-list that matched a shared product named its "-SHARED" entry
 * (terms.c: fp_sku_matches), so the pod asked for sharing. */
static bool shared_allowed(const EvalState *st, const FpDemand *d, const FpDeviceClass *dev)
{
    if (st->profile->allow_shared || strcmp(dev->resource, "nvidia.com/gpu.shared") == 0) {
        return true;
    }
    return st->allowed && fp_sku_list_index(st->allowed, dev->product, NULL) >= 0;
}

static FilterStatus fail(FpVerdict *v, const char *reason, bool unresolvable)
{
    v->pass = false;
    v->reason = reason;
    v->unresolvable = unresolvable;
    return STATUS_FAIL;
}

/* Filters 1-11 of engine.h for one candidate.  Fills @v's verdict fields,
 * facts and gpus_free, and @sc for the terms. */
static FilterStatus filter_one(EvalState *st, const FpCandidate *c, FpVerdict *v, CandScratch *sc)
{
    const FpEvalContext *ctx = st->ctx;
    const FpDemand *d = ctx->demand;

    const FpNode *node = c->node;
    int64_t alloc = 0;
    int64_t free_gpus = 0;
    const FpNodeFacts *f = &v->facts;
    if (c->facts && node) {
        f = c->facts;
        if (!ctx->skip_facts_copy) {
            v->facts = *c->facts;
            fp_facts_apply_device(&v->facts, d->resource ? c->device : NULL);
        }
    } else {
        fp_node_facts(ctx->policy, node, &v->facts);
        fp_facts_apply_device(&v->facts, d->resource ? c->device : NULL);
    }
    sc->facts = f;
    if (node && d->resource) {
        bool has = c->prepared && c->has_resource;
        if (c->prepared) {
            alloc = has ? c->allocatable : 0;
        } else {
            /* one pass for fp_res_list_get + fp_res_list_has */
            for (guint i = 0; i < node->allocatable.len && !has; i++) {
                if (strcmp(node->allocatable.items[i].name, d->resource) == 0) {
                    has = true;
                    alloc = node->allocatable.items[i].value;
                }
            }
        }
        sc->allocatable = alloc;
        free_gpus = sat_sub(alloc, sat_add(c->gpu_used, c->gpu_assumed));
        if (has) {
            v->gpus_free = free_gpus > 0 ? free_gpus : 0;
        }
    }
    if (d->invalid_reason) {
        return fail(v, d->invalid_reason, true);
    }
    if (!node) {
        return fail(v, FP_REASON_NOT_IN_VIEW, true);
    }
    if (!d->resource) {
        v->pass = true; /* not a GPU pod: neutral for every node */
        return STATUS_PASS;
    }

    if (!(c->prepared ? c->ready : node->ready)) {
        return fail(v, FP_REASON_NOT_READY, true);
    }
    if (c->prepared ? c->unschedulable : node->unschedulable) {
        return fail(v, FP_REASON_UNSCHEDULABLE, true);
    }
    if (alloc <= 0) {
        return fail(v, FP_REASON_NO_GPU_RESOURCE, true);
    }
    const FpDeviceClass *dev = c->device;
    sc->device = dev;
    if (f == &v->facts || !ctx->skip_facts_copy) {
        v->device = dev; /* with the facts, as engine.h says */
    }
    const MemoSlot *product = product_facts(st, dev ? dev->product : f->product);
    sc->sku_index = product->index;
    if (!product->value) {
        return fail(v, FP_REASON_SKU, true);
    }
    if (dev && fp_device_is_shared(dev) && !shared_allowed(st, d, dev)) {
        return fail(v, FP_REASON_SHARED, true);
    }
    if (dev && dev->spot && st->profile->avoid_spot) {
        return fail(v, FP_REASON_SPOT, true);
    }
    double memory = dev ? dev->memory_mib : f->gpu_memory_mib;
    if (d->min_gpu_memory_mib > 0 && !(memory > 0)) {
        return fail(v, dev ? FP_REASON_GPU_MEMORY_UNKNOWN : FP_REASON_GPU_MEMORY, true);
    }
    if (d->min_gpu_memory_mib > 0 && !(memory >= d->min_gpu_memory_mib)) {
        return fail(v, FP_REASON_GPU_MEMORY, true);
    }
    if (d->model_known && memory > 0) {
        /* the memory of the device the pod is given: a MIG slice, a replica */
        FpFit fit;
        fp_model_fit(&d->model_plan, &ctx->policy->fit, memory / 1024.0, &fit);
        if (!fit.fits) {
            return fail(v, FP_REASON_MODEL_FIT, true);
        }
    }
    if (d->tts) {
        node_tts(ctx, node, f, st->image_gib, &v->tts);
        v->tts_known = true;
        if (d->max_tts_s > 0 && v->tts.total_s > d->max_tts_s) {
            return fail(v, tts_reason(v->tts.total_s, d->max_tts_s), true);
        }
    }
    if (d->n_origins > 0) {
        sc->latency_ms = latency_for(st, f->region);
        if (d->max_latency_ms >= 0 && sc->latency_ms > d->max_latency_ms) {
            return fail(v, FP_REASON_LATENCY, true);
        }
    }
    double price = dev ? dev->price_per_hour : f->price_per_gpu_hour;
    if (d->max_price >= 0 && (price < 0 || price > d->max_price)) {
        return fail(v, FP_REASON_PRICE, true);
    }
    if (alloc < d->count) {
        return fail(v, FP_REASON_TOO_FEW_GPUS, true);
    }
    if (free_gpus < d->count) {
        return fail(v, FP_REASON_INSUFFICIENT_GPUS, false);
    }
    const FpPoolStat *stat = NULL;
    if (ctx->pool_stats && f->pool[0]) {
        stat = pool_stat_for(st, f->pool);
    }
    sc->stat = stat;
    if (stat) {
        double after = (double)stat->used + (double)stat->assumed + (double)d->count;
        double cap = f->max_utilization * (double)stat->allocatable;
        if (after > cap + CEILING_EPSILON) {
            fail(v, FP_REASON_POOL_CEILING, false);
            return STATUS_CEILING;
        }
    }
    v->pass = true;
    return STATUS_PASS;
}

/* ---- evaluation ------------------------------------------------------------ */

/* The 0..10 scores of a request's passing candidates (engine.h): the best
 * total 10, one point less per FP_SCORE_STEP below it.  A pod without a GPU
 * scores 0 everywhere (no opinion). */
static void assign_scores(const FpDemand *d, FpVerdict *out, guint n)
{
    double best = -INFINITY;
    for (guint i = 0; i < n; i++) {
        if (out[i].pass && out[i].total > best) {
            best = out[i].total;
        }
    }
    for (guint i = 0; i < n; i++) {
        if (out[i].pass) {
            out[i].score = d->resource && !d->invalid_reason
                               ? fp_score_from_gap(best - out[i].total)
                               : fp_score_to_extender(out[i].total);
        }
    }
}

/* Failover spread is a constraint, whatever the spread weight: while the
 * workload spans fewer pools than it asks for and some passing candidate
 * is in a pool without its replicas, the passing candidates in pools that
 * have them fail.  When no such candidate exists the pod goes where it
 * can (spreading is impossible, leaving it Pending helps nobody). */
static void spread_constraint(const FpEvalContext *ctx, const FpCandidate *cands, guint n,
                              FpVerdict *out)
{
    const FpDemand *d = ctx->demand;
    if (!d->resource || d->min_spread == 0 || ctx->workload_pools >= d->min_spread) {
        return;
    }
    bool fresh_pool = false;
    for (guint i = 0; i < n && !fresh_pool; i++) {
        fresh_pool = out[i].pass && cands[i].workload_replicas_in_pool == 0;
    }
    if (!fresh_pool) {
        return;
    }
    for (guint i = 0; i < n; i++) {
        if (out[i].pass && cands[i].workload_replicas_in_pool > 0) {
            fail(&out[i], FP_REASON_SPREAD, true);
        }
    }
}

void fp_evaluate(const FpEvalContext *ctx, const FpCandidate *cands, guint n, FpVerdict *out)
{
    if (n == 0) {
        return;
    }
    g_return_if_fail(ctx && ctx->policy && ctx->demand && cands && out);
    const FpDemand *d = ctx->demand;
    const FpProfile *profile = d->profile ? d->profile : fp_fallback_profile();

    EvalState st = {
        .ctx = ctx,
        .profile = profile,
        .allowed = d->allowed_skus ? d->allowed_skus : profile->allowed_skus,
        .preference = d->sku_preference ? d->sku_preference : profile->sku_preference,
    };
    fp_sku_list_index(st.preference, "", &st.n_preference);
    memo_init(&st.products);
    memo_init(&st.regions);
    memo_init(&st.pools);
    if (d->tts && d->resource && !d->invalid_reason) {
        image_sizes(ctx, cands, n, st.image_gib);
    }
    CandScratch *sc = g_new(CandScratch, n); /* each zeroed by the filter pass */

    /* 1. filters */
    guint n_pass = 0;
    guint n_ceiling = 0;
    for (guint i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        sc[i] = (CandScratch){0};
        sc[i].status = filter_one(&st, &cands[i], &out[i], &sc[i]);
        n_pass += sc[i].status == STATUS_PASS;
        n_ceiling += sc[i].status == STATUS_CEILING;
    }

    /* 2. burst overflow: every candidate left is above its pool ceiling;
     * placing the pod beats leaving it Pending.  Their headroom is 0 (the
     * formula clamps it, since they are over the ceiling). */
    if (n_pass == 0 && n_ceiling > 0) {
        for (guint i = 0; i < n; i++) {
            if (sc[i].status == STATUS_CEILING) {
                out[i].pass = true;
                out[i].reason = NULL;
                out[i].unresolvable = false;
            }
        }
    }

    spread_constraint(ctx, cands, n, out);

    /* 3. terms of the passing GPU candidates */
    double lo[FP_N_TERMS];
    double hi[FP_N_TERMS];
    for (int t = 0; t < FP_N_TERMS; t++) {
        lo[t] = INFINITY;
        hi[t] = -INFINITY;
    }
    if (d->resource && !d->invalid_reason) {
        for (guint i = 0; i < n; i++) {
            FpVerdict *v = &out[i];
            if (!v->pass) {
                continue;
            }
            FpTermInput in = {
                .ctx = ctx,
                .cand = &cands[i],
                .facts = sc[i].facts,
                .allocatable = sc[i].allocatable,
                .latency_ms = sc[i].latency_ms,
                .pool_stat = sc[i].stat,
                .sku_index = sc[i].sku_index,
                .sku_n = st.n_preference,
                .price =
                    sc[i].device ? sc[i].device->price_per_hour : sc[i].facts->price_per_gpu_hour,
                .throughput = sc[i].device ? sc[i].device->relative_throughput
                                           : sc[i].facts->relative_throughput,
                .tts = v->tts_known ? &v->tts : NULL,
            };
            for (int t = 0; t < FP_N_TERMS; t++) {
                double value = 0;
                v->term_active[t] = fp_term_defs[t].compute(&in, &value);
                if (!v->term_active[t]) {
                    continue;
                }
                v->term[t] = value;
                if (fp_term_defs[t].normalise_lower_better && isfinite(value)) {
                    lo[t] = MIN(lo[t], value);
                    hi[t] = MAX(hi[t], value);
                }
            }
        }
    }

    for (guint i = 0; i < n; i++) {
        FpVerdict *v = &out[i];
        if (!v->pass) {
            continue;
        }
        double wsum = 0;
        double acc = 0;
        for (int t = 0; t < FP_N_TERMS; t++) {
            if (!v->term_active[t]) {
                continue;
            }
            if (fp_term_defs[t].normalise_lower_better) {
                /* a raw value that is not finite (unknown) is the worst */
                double span = hi[t] - lo[t];
                if (!isfinite(v->term[t])) {
                    v->term[t] = 0;
                } else {
                    v->term[t] = span > 0 ? (hi[t] - v->term[t]) / span : 1.0;
                }
            }
            double w = profile->weights[t];
            if (w > 0 && isfinite(w)) {
                wsum += w;
                acc += w * v->term[t];
            }
        }
        v->total = wsum > 0 ? acc / wsum : 0;
    }
    assign_scores(d, out, n);

    g_free(sc);
    g_free(st.products.slots);
    g_free(st.regions.slots);
    g_free(st.pools.slots);
}
