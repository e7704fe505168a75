/*
 * scoring/terms.c - GPU product matching and the score terms.
 *
 * Each term is one small function behind the const table fp_term_defs
 * (indexed by FpTermId); engine.c runs the table, so adding a term means
 * adding a row here and an id in placement_policy.h.  The formulas are the
 * ones documented in engine.h.
 */
#include "scoring/engine_private.h"

#include <math.h>
#include <string.h>

#define NVIDIA_PREFIX "NVIDIA-"
#define SHARED_SUFFIX "-SHARED"
#define MIG_INFIX "-MIG-"
#define MIG_WILDCARD "-MIG-*"

/* ---- GPU product matching --------------------------------------------- */

static const char *strip_vendor(const char *s)
{
    return g_str_has_prefix(s, NVIDIA_PREFIX) ? s + strlen(NVIDIA_PREFIX) : s;
}

bool fp_sku_matches(const char *entry, const char *product)
{
    if (!entry || !product) {
        return false;
    }
    const char *e = strip_vendor(entry);
    const char *p = strip_vendor(product);
    if (!*e || !*p) {
        return false;
    }
    /* Exact names, including "-SHARED" and exact MIG products. */
    if (strcmp(e, p) == 0) {
        return true;
    }
    /* "<base>-MIG-*" matches any MIG profile of that base, but never a
     * time-sliced one (those need an entry ending in "-SHARED"). */
    gsize el = strlen(e);
    gsize wl = strlen(MIG_WILDCARD);
    if (el > wl && g_str_has_suffix(e, MIG_WILDCARD)) {
        gsize prefix = el - 1; /* "<base>-MIG-" */
        return strncmp(e, p, prefix) == 0 && p[prefix] != '\0' &&
               !g_str_has_suffix(p, SHARED_SUFFIX);
    }
    return false;
}

int fp_sku_list_index(char *const *list, const char *product, guint *n_out)
{
    int found = -1;
    guint n = 0;
    for (; list && list[n]; n++) {
        if (found < 0 && fp_sku_matches(list[n], product)) {
            found = (int)n;
        }
    }
    if (n_out) {
        *n_out = n;
    }
    return found;
}

/* Length of @product without a "-SHARED" suffix. */
static gsize unshared_len(const char *product)
{
    gsize len = strlen(product);
    gsize sl = strlen(SHARED_SUFFIX);
    if (len > sl && g_str_has_suffix(product, SHARED_SUFFIX)) {
        len -= sl;
    }
    return len;
}

/* The "-MIG-" of "<base>-MIG-<profile>" within the first @len bytes, or
 * NULL; both base and profile must be non-empty. */
static const char *find_mig(const char *product, gsize len)
{
    const char *mig = g_strrstr_len(product, (gssize)len, MIG_INFIX);
    if (mig && mig > product && (gsize)(mig - product) + strlen(MIG_INFIX) < len) {
        return mig;
    }
    return NULL;
}

gsize fp_sku_base_len(const char *product)
{
    if (!product) {
        return 0;
    }
    gsize len = unshared_len(product);
    const char *mig = find_mig(product, len);
    return mig ? (gsize)(mig - product) : len;
}

bool fp_sku_is_mig(const char *product)
{
    return product && find_mig(product, unshared_len(product)) != NULL;
}

/* ---- score terms ------------------------------------------------------ */

static double clamp01(double v)
{
    if (!(v > 0)) { /* also NaN */
        return 0;
    }
    return v > 1 ? 1 : v;
}

double fp_latency_term(double ms)
{
    double l = ms > 0 ? ms : 0; /* also NaN */
    return clamp01(1.0 - log2(1.0 + l / FP_LATENCY_KNEE_MS) /
                             log2(1.0 + FP_LATENCY_MAX_MS / FP_LATENCY_KNEE_MS));
}

/* On the absolute scale of fp_latency_term: the same round trip scores the
 * same whatever the other candidates and the limit. */
static bool term_latency(const FpTermInput *in, double *value)
{
    if (in->ctx->demand->n_origins == 0) {
        return false;
    }
    *value = fp_latency_term(in->latency_ms);
    return true;
}

/* Price per GPU-hour, or per unit of work, on the absolute logarithmic
 * scale of FP_COST_CHEAP/DEAR_PER_GPU_HOUR.  An unknown price scores 0. */
static bool term_cost(const FpTermInput *in, double *value)
{
    if (!(in->price >= 0)) {
        *value = 0;
        return true;
    }
    double price = in->price;
    const FpDemand *d = in->ctx->demand;
    double hours = in->ctx->policy->transfer.amortization_hours;
    if (in->tts && in->tts->egress_usd > 0 && hours > 0 && d->count > 0) {
        /* the transfer's egress, paid once, spread over the replica's hours */
        price += in->tts->egress_usd / (hours * (double)d->count);
    }
    if (in->ctx->demand->profile->cost_mode == FP_COST_PER_WORK) {
        double tp = in->throughput > 0 ? in->throughput : 1.0;
        price /= tp;
    }
    if (!(price > FP_COST_CHEAP_PER_GPU_HOUR)) {
        *value = 1;
        return true;
    }
    *value = clamp01(log(FP_COST_DEAR_PER_GPU_HOUR / price) /
                     log(FP_COST_DEAR_PER_GPU_HOUR / FP_COST_CHEAP_PER_GPU_HOUR));
    return true;
}

/* Room left under the pool's ceiling after this pod. */
static bool term_headroom(const FpTermInput *in, double *value)
{
    const FpCandidate *c = in->cand;
    double count = (double)in->ctx->demand->count;
    double cap;
    double after;
    const FpPoolStat *stat = in->pool_stat;
    if (stat) {
        cap = in->facts->max_utilization * (double)stat->allocatable;
        after = (double)stat->used + (double)stat->assumed + count;
    } else {
        cap = in->facts->max_utilization * (double)in->allocatable;
        after = (double)c->gpu_used + (double)c->gpu_assumed + count;
    }
    *value = cap > 0 ? clamp01((cap - after) / cap) : 0;
    return true;
}

/* binpack: fuller after this pod is better; spread: emptier is better. */
static bool term_packing(const FpTermInput *in, double *value)
{
    const FpCandidate *c = in->cand;
    double alloc = (double)in->allocatable;
    double before = (double)c->gpu_used + (double)c->gpu_assumed;
    double count = (double)in->ctx->demand->count;
    if (in->ctx->demand->profile->packing == FP_PACK_SPREAD) {
        *value = clamp01(1.0 - before / alloc);
    } else {
        *value = clamp01((before + count) / alloc);
    }
    return true;
}

/* 1 - i/n for the i-th preferred product, 0 when not in the list. */
static bool term_sku(const FpTermInput *in, double *value)
{
    if (in->sku_n == 0) {
        return false;
    }
    *value = in->sku_index < 0 ? 0 : 1.0 - (double)in->sku_index / (double)in->sku_n;
    return true;
}

/* Failover spread: while the workload spans fewer pools than it should,
 * prefer pools that hold none of its replicas. */
static bool term_spread(const FpTermInput *in, double *value)
{
    const FpDemand *d = in->ctx->demand;
    if (d->min_spread == 0 || in->ctx->workload_pools >= d->min_spread) {
        return false;
    }
    *value = in->cand->workload_replicas_in_pool == 0 ? 1 : 0;
    return true;
}

/* How soon the replica can serve, on the absolute scale of fp_tts_term. */
static bool term_time_to_serve(const FpTermInput *in, double *value)
{
    if (!in->ctx->demand->tts || !in->tts) {
        return false;
    }
    *value = fp_tts_term(in->tts->total_s);
    return true;
}

const FpTermDef fp_term_defs[FP_N_TERMS] = {
    [FP_TERM_LATENCY] = {FP_TERM_LATENCY, term_latency, false},
    [FP_TERM_COST] = {FP_TERM_COST, term_cost, false},
    [FP_TERM_HEADROOM] = {FP_TERM_HEADROOM, term_headroom, false},
    [FP_TERM_PACKING] = {FP_TERM_PACKING, term_packing, false},
    [FP_TERM_SKU] = {FP_TERM_SKU, term_sku, false},
    [FP_TERM_SPREAD] = {FP_TERM_SPREAD, term_spread, false},
    [FP_TERM_TIME_TO_SERVE] = {FP_TERM_TIME_TO_SERVE, term_time_to_serve, false},
};
