/*
 * scoring/engine_private.h - helpers shared by the scoring engine's files
 * (engine.c, terms.c, demand.c, placement_policy.c) and their unit tests.
 * Not a contract for other modules: use scoring/engine.h.
 *
 * Purpose: SKU list and table lookups (by fp_sku_matches' rules, engine.h),
 * the weighted origin->region latency and the score term table.
 *
 * Ownership: everything returned is borrowed from the policy or the input.
 * Thread context: pure functions, any thread.  Errors: none (NULL / -1 for
 * "no match").
 */
#ifndef FP_SCORING_ENGINE_PRIVATE_H
#define FP_SCORING_ENGINE_PRIVATE_H

#include "scoring/engine.h"

G_BEGIN_DECLS

/* The latency term's absolute scale (fp_latency_term, engine.h):
 * 1 - log2(1 + L/knee) / log2(1 + max/knee), so every doubling of
 * (1 + L/5 ms) costs the same and a round trip of FP_LATENCY_MAX_MS or more
 * scores 0: 2 ms 0.92, 20 ms 0.61, 64 ms 0.36. */
#define FP_LATENCY_KNEE_MS 5.0
#define FP_LATENCY_MAX_MS 300.0
/* The cost term's absolute scale: log(dear / p) / log(dear / cheap), for a
 * price per GPU-hour (or per unit of work) p, clamped to [0, 1]: every
 * doubling of the price costs 1/7 of the term, whichever nodes are
 * candidates.  T4 $0.53 0.85, L4 $0.80 0.76, A10G $1.01 0.71, H100 $6.88
 * 0.32. */
#define FP_COST_CHEAP_PER_GPU_HOUR 0.25
#define FP_COST_DEAR_PER_GPU_HOUR 32.0
/* The 0..10 mapping: one point per this much of the weighted total below
 * the request's best candidate (engine.h). */
#define FP_SCORE_STEP 0.02

/* Index of the first entry of the NULL-terminated @list that matches
 * @product (fp_sku_matches), or -1.  *n_out (may be NULL) receives the list length. */
int fp_sku_list_index(char *const *list, const char *product, guint *n_out);

/* Length of @product's base: "-SHARED" and then "-MIG-<profile>" removed. */
gsize fp_sku_base_len(const char *product);

/* Whether @product names a MIG device ("...-MIG-<profile>", possibly with a
 * "-SHARED" suffix). */
bool fp_sku_is_mig(const char *product);

/* The policy's SKU entry for @product: the exact product first (also under
 * its other "NVIDIA-" spelling), then, when @allow_base, the base product.
 * *from_base (may be NULL) tells which one was found.  NULL when none. */
const FpSku *fp_policy_find_sku(const FpPolicy *policy, const char *product, bool allow_base,
                                bool *from_base);

/* Weighted mean round trip (ms) from the demand's origins to @region; a
 * node without region ("") counts default_latency_ms for every origin.
 * 0 when the demand has no origins. */
double fp_weighted_latency(const FpPolicy *policy, const FpDemand *demand, const char *region);

/* The static profile used when a policy lacks its default profile: the
 * built-in default weights, no limits. */
const FpProfile *fp_fallback_profile(void);

/* ---- score terms --------------------------------------------------- */

/* What a term sees for one passing candidate. */
typedef struct {
    const FpEvalContext *ctx;
    const FpCandidate *cand;
    const FpNodeFacts *facts;
    int64_t allocatable;         /* node allocatable of demand->resource, > 0 */
    double latency_ms;           /* fp_weighted_latency for the node's region */
    const FpPoolStat *pool_stat; /* the node's pool in ctx->pool_stats, or NULL */
    /* The product in the preference list (the pod's gpu-sku, else the
     * profile's): fp_sku_list_index's answer and the list's length. */
    int sku_index;
    guint sku_n;
    /* The device's price per hour (< 0 unknown) and relative throughput. */
    double price;
    double throughput;
    /* With demand->tts: the node's estimate (else NULL). */
    const FpTts *tts;
} FpTermInput;

/* One score term (the plug-in point: a const table, not a switch). */
typedef struct {
    FpTermId id;
    /* Returns whether the term applies to this pod; writes a value in
     * [0,1], or the raw value when @normalise_lower_better. */
    bool (*compute)(const FpTermInput *in, double *value);
    /* Raw values are min-max normalised across the passing candidates of
     * one call, lower raw being better: (max - v) / (max - min), 1 when all
     * are equal; a raw value that is not finite (unknown) scores 0. */
    bool normalise_lower_better;
} FpTermDef;

/* Indexed by FpTermId. */
extern const FpTermDef fp_term_defs[FP_N_TERMS];

G_END_DECLS

#endif /* FP_SCORING_ENGINE_PRIVATE_H */
