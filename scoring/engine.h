/*
 * scoring/engine.h - pod demand, filters, score terms and the weighted total.
 *
 * Purpose: the one place that decides whether a node can take a pod and how
 * good a place it is.  The server (extender/) and the CLI (flexplace score,
 * simulate) call exactly these functions, so a dry run gives the server's
 * answer.
 *
 * Pure: no I/O, no locks, no JSON, no clocks.  Deterministic for equal input.
 *
 * Ownership: FpDemand is owned by the caller (fp_demand_free).  FpVerdict and
 * FpNodeFacts hold only borrowed pointers into the policy and node they were
 * computed from, plus static reason strings.
 *
 * Thread context: any thread; inputs are only read.
 */
#ifndef FP_SCORING_ENGINE_H
#define FP_SCORING_ENGINE_H

#include "scoring/device.h"
#include "scoring/model.h"
#include "scoring/placement_policy.h"

G_BEGIN_DECLS

/* Filter reasons: short and generic, because kube-scheduler counts identical
 * reasons into one event line ("0/40 nodes are available: 12 <reason>"). */
#define FP_REASON_NOT_IN_VIEW "node not in flexplace cluster view"
#define FP_REASON_INSUFFICIENT_GPUS "insufficient free GPUs"
#define FP_REASON_TOO_FEW_GPUS "node has fewer GPUs than the pod requests"
#define FP_REASON_NO_GPU_RESOURCE "node has no GPUs of the requested resource"
#define FP_REASON_SKU "GPU SKU not allowed by policy"
#define FP_REASON_GPU_MEMORY "GPU memory below requirement"
#define FP_REASON_GPU_MEMORY_UNKNOWN "GPU memory unknown (node labels)"
#define FP_REASON_SHARED "shared GPU replica not allowed by profile"
#define FP_REASON_SPOT "spot capacity avoided by profile"
#define FP_REASON_LATENCY "region latency above limit"
#define FP_REASON_PRICE "GPU price above limit"
#define FP_REASON_NOT_READY "node not ready"
#define FP_REASON_UNSCHEDULABLE "node unschedulable"
#define FP_REASON_POOL_CEILING "pool at its burst ceiling"
#define FP_REASON_MODEL_FIT "model does not fit GPU memory"
/* An invalid pod: it asks fewer GPUs than its tensor-parallel degree. */
#define FP_REASON_TP_GPUS "fewer GPUs than tensor-parallel degree"
#define FP_REASON_SPREAD "pool already holds a replica of the workload"
/* The time-to-serve limit: "time to serve N s > limit M s" (N and M whole
 * seconds, rounded up and down), interned; after FP_TTS_REASONS_MAX
 * distinct texts in a process the generic text below. */
#define FP_REASON_TTS_PREFIX "time to serve "
#define FP_REASON_TTS "time to serve above limit"
#define FP_TTS_REASONS_MAX 4096
/* Malformed annotations: every node fails with one of these. */
#define FP_REASON_BAD_ANNOTATION_PREFIX "invalid annotation "

/* Annotation keys (prefix flexplace.io/). */
#define FP_ANN_PROFILE "flexplace.io/profile"
#define FP_ANN_ORIGIN "flexplace.io/origin-region"
#define FP_ANN_SKU "flexplace.io/gpu-sku"
#define FP_ANN_MIN_MEMORY "flexplace.io/min-gpu-memory"
#define FP_ANN_MAX_LATENCY "flexplace.io/max-latency-ms"
#define FP_ANN_MAX_PRICE "flexplace.io/max-price-per-gpu-hour"
#define FP_ANN_SPREAD "flexplace.io/spread-min-pools"
/* Seconds, a number > 0 and <= FP_MAX_TTS_LIMIT_S. */
#define FP_ANN_MAX_TTS "flexplace.io/max-time-to-serve-s"
#define FP_MAX_TTS_LIMIT_S 604800.0
/* Written by flexplace on the pods it binds (a compact placement summary). */
#define FP_ANN_PLACEMENT "flexplace.io/placement"

typedef struct {
    char *region;
    double weight; /* > 0; weights are normalised to sum 1 */
} FpOrigin;

/* What one pod asks for, resolved against a policy. */
typedef struct {
    char *resource;           /* GPU resource requested, NULL when the pod requests none */
    int64_t count;            /* GPUs of that resource (effective request) */
    const FpProfile *profile; /* borrowed from the policy; never NULL */
    char *profile_name;
    char **allowed_skus; /* NULL-terminated; NULL = any */
    char **sku_preference;
    double min_gpu_memory_mib; /* 0 = none */
    FpOrigin *origins;
    guint n_origins;
    double max_latency_ms; /* < 0 = none */
    double max_price;      /* < 0 = none */
    guint min_spread;      /* pools the workload should span; 0 = off */
    /* When an annotation is malformed: a reason naming it (every node fails
     * with it), and a longer human message. NULL when valid. */
    char *invalid_reason;
    char *invalid_detail;
    /* The model the pod serves (pod->model, scoring/model_fit.h), looked up
     * in policy->models and then the built-in catalog.  model_known: its
     * weight size is known and model_plan holds (the fit filter applies);
     * otherwise model_note says once why there are no model terms (NULL
     * when the pod names no model at all). */
    bool model_known;
    FpModelPlan model_plan; /* borrows the policy's or the built-in catalog entry */
    char *model_note;
    /* Time to serve (scoring/time_to_serve.h): set with model_known.
     * tts: the estimate, the term and the limit apply; the weights come
     * from a store (weights_store: the location's class is per node,
     * store_region / store_cloud NULL = unknown), the hub (weights_hub),
     * or a node's cache (cache_labels: node label keys, NULL-terminated;
     * the model-cache label of the pod's model name and of its catalog
     * id, and Fluid's fluid.io/s-<namespace>-<claim> for a pvc://). */
    bool tts;
    double max_tts_s; /* < 0 = no limit */
    bool weights_store;
    bool store_in_cluster; /* a pvc:// or a path: the node's own region */
    bool weights_hub;
    char *store_region;
    char *store_cloud;
    char *cache_labels[4];
    guint64 image_keys[8]; /* the pod's images (FpModelRequest.image_keys) */
    guint n_images;
} FpDemand;

/* Resolve @pod's demand under @policy.  Never NULL: malformed annotations are
 * reported through invalid_reason, never ignored.
 *
 * resource: the first of policy->gpu_resources the pod requests (> 0), else
 * the first nvidia.com/mig-* resource it requests; NULL when none.  Profile:
 * FP_ANN_PROFILE (unknown name = invalid), else policy->namespaces[ns], else
 * default_profile.  Limits hold effective values: the annotation, else the
 * profile's (min_gpu_memory_mib, max_latency_ms, max_price, min_spread,
 * origins); allowed_skus / sku_preference are set only by FP_ANN_SKU (the
 * engine falls back to the profile's lists).
 *
 * Annotation grammar (values over 4 KiB or lists over 64 items are invalid):
 *  origin-region  "eastus" or "eastus=3,westeurope=1": lowercase region
 *                 names, weights finite > 0, no duplicates; normalised to 1
 *  gpu-sku        comma-separated exact products, "<base>-MIG-*" allowed;
 *                 the allow-list and the preference order
 *  min-gpu-memory a quantity per GPU, >= 1Mi (e.g. 40Gi), kept in MiB
 *  max-latency-ms, max-price-per-gpu-hour  finite numbers >= 0
 *  spread-min-pools  an integer 1..64
 * invalid_reason is "invalid annotation <key>"; invalid_detail says what is
 * wrong, quoting at most a short printable prefix of the value.  The
 * model annotations (cache/pod_model.h) are checked the same way, and a
 * GPU pod whose tensor-parallel degree exceeds the GPUs it requests is
 * invalid with FP_REASON_TP_GPUS (vLLM would refuse to start).
 *  max-time-to-serve-s  seconds, a finite number > 0 and <= 604800 (a
 *                 week); applies with a known model only (else
 *                 model_note says the limit is not applied)
 * The weights' location (FpModelRequest.weights_location) resolves through
 * fp_weights_location_parse and the policy's transfer.stores (longest
 * prefix): the store's region and cloud (the entry's, else the scheme's
 * cloud, else the built-in region table's); hf:// or no location means
 * the hub; a pvc:// or a path is the cluster's own storage (the node's
 * region). */
FpDemand *fp_demand_new(const FpPod *pod, const FpPolicy *policy);
void fp_demand_free(FpDemand *demand);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpDemand, fp_demand_free)

/* Whether the allow-list or preference entry @entry (a policy's or a pod's
 * gpu-sku list, a policy's SKU table key) names node product @product.
 * Deliberately no substring matching, so "H20" never matches "H200":
 *  - strings are compared exactly after one normalisation: an optional
 *    leading "NVIDIA-" is ignored on both sides (drivers older than ~R470
 *    report "A100-SXM4-40GB" without it);
 *  - a time-sliced product "<p>-SHARED" matches only an entry that itself
 *    names "<p>-SHARED";
 *  - a MIG product "<base>-MIG-<profile>" matches an entry naming exactly
 *    that product, or a wildcard entry "<base>-MIG-*" (never a time-sliced
 *    "-SHARED" one).
 * NULL or empty strings never match.  Pure. */
bool fp_sku_matches(const char *entry, const char *product);

/* Facts about a node derived through the policy's label keys. */
typedef struct {
    const char *pool;   /* borrowed; "" when unlabelled */
    const char *region; /* borrowed; "" when unlabelled */
    const char *zone;
    const char *product; /* "" when unknown */
    const char *instance_type;
    const char *capacity_type;
    double gpu_memory_mib; /* 0 = unknown */
    double relative_throughput;
    double price_per_gpu_hour; /* < 0 = unknown */
    double max_utilization;    /* pool ceiling, 1.0 by default */
} FpNodeFacts;

/* Each label fact is the first non-empty label of the policy's key list.
 * Memory: the larger of the memory label (positive integer MiB) and the
 * SKU's memory_gib * 1024 (GFD reports NVML's usable memory, a little under
 * the nominal size a user asks for; for a MIG product only an exact SKU
 * entry counts).  SKU lookups try
 * the exact product (either "NVIDIA-" spelling), then the base product
 * without "-SHARED" / "-MIG-<profile>".  Price: the pool's, else the SKU's,
 * else policy->default_price_per_gpu_hour.  @node may be NULL (all ""). */
void fp_node_facts(const FpPolicy *policy, const FpNode *node, FpNodeFacts *out);

/* GPU totals of one pool for one resource, across every node of the view. */
typedef struct {
    int64_t allocatable;
    int64_t used;    /* bound, active pods */
    int64_t assumed; /* bound by flexplace, not yet seen by the watch */
} FpPoolStat;

/* One candidate node for one request. */
typedef struct {
    const FpNode *node; /* NULL when the name is not in the view */
    const char *name;
    int64_t gpu_used;    /* of demand->resource, by active pods */
    int64_t gpu_assumed; /* of demand->resource, assumed */
    /* Replicas of the same workload already on this node's pool (spread). */
    guint workload_replicas_in_pool;
    /* fp_node_facts(policy, node) computed by the caller (a cache), or NULL. */
    const FpNodeFacts *facts;
    /* Copies of the node's fields a caller may keep at hand (the view does),
     * so the engine need not walk the Node: with @prepared set, these are
     * used instead of node->ready, node->unschedulable and the node's
     * allocatable of demand->resource (@has_resource: the node lists it). */
    bool prepared;
    bool ready;
    bool unschedulable;
    bool has_resource;
    int64_t allocatable;
    /* The device class of demand->resource on this node (the node's GPU
     * inventory, cache/gpu_inventory.h), or NULL: then the device is taken
     * to be a whole GPU with the facts' product, memory and price. */
    const FpDeviceClass *device;
} FpCandidate;

typedef struct {
    bool pass;
    bool unresolvable;  /* FailedAndUnresolvableNodes: no preemption can help */
    bool omit;          /* left out of the filter's answer by the short list (scoring/short_list.h):
                           in neither NodeNames nor a fail map; fp_evaluate leaves it false */
    const char *reason; /* static string (or demand->invalid_reason); NULL when passed */
    double term[FP_N_TERMS];      /* each in [0,1] */
    bool term_active[FP_N_TERMS]; /* false: term does not apply to this pod (no origin,
                                     no SKU preference, no spread) and is left out */
    double total;                 /* weighted mean of the active terms, in [0,1] */
    int score;                    /* 0..10 for kube-scheduler */
    int64_t gpus_free;            /* of the requested resource, before this pod */
    /* The candidate's facts; with a device, product, gpu_memory_mib,
     * price_per_gpu_hour and relative_throughput are the device's
     * (fp_facts_apply_device). */
    FpNodeFacts facts;
    /* The candidate's device (borrowed), or NULL; left NULL with the facts
     * when skip_facts_copy leaves those out. */
    const FpDeviceClass *device;
    /* The time-to-serve estimate (scoring/time_to_serve.h), when tts_known:
     * the demand has demand->tts and the node passed the filters before
     * the limit (7c). */
    bool tts_known;
    FpTts tts;
} FpVerdict;

/* Context shared by the candidates of one request. */
typedef struct {
    const FpPolicy *policy;
    const FpDemand *demand;
    /* pool name -> FpPoolStat* for demand->resource; may be NULL (no pool data) */
    GHashTable *pool_stats;
    /* pools the workload already spans (spread term); may be 0 */
    guint workload_pools;
    /* Leave out[i].facts zeroed for candidates whose facts the caller gave
     * (FpCandidate.facts): a caller that keeps them need not have 80 bytes
     * per candidate copied. */
    bool skip_facts_copy;
    /* With demand->tts: the size in MiB of each of demand->image_keys as
     * some node of the whole cluster reports it (-1 = none does), or NULL:
     * then the candidates of the call are searched.  A cache fills it, so
     * the pull time does not depend on which nodes kube-scheduler sent. */
    const int64_t *image_mib;
} FpEvalContext;

/* Filter and score @n candidates into @out[0..n-1].  Scores are normalised
 * across the passing candidates of this call (cost), so call it once with
 * every candidate.
 *
 * Filters, in this order; the first failure is the node's reason
 * ("unresolvable" = FailedAndUnresolvableNodes, preemption cannot help):
 *  1. demand invalid -> demand->invalid_reason (unresolvable)
 *  2. node NULL -> FP_REASON_NOT_IN_VIEW (unresolvable)
 *  3. pod requests no GPU -> passes, every term inactive, score 0 (neutral)
 *  4. not Ready -> NOT_READY; spec.unschedulable -> UNSCHEDULABLE (unresolvable)
 *  5. allocatable of the resource 0 -> NO_GPU_RESOURCE (unresolvable)
 * The device is the candidate's device class (its product, memory, price
 * and throughput), else the facts' whole GPU.
 *  6. the device's product not in demand->allowed_skus, else
 *     profile->allowed_skus (an unknown product never is) -> SKU
 *     (unresolvable)
 * 6a. a time-sliced or MPS replica (fp_device_is_shared) unless the profile
 *     sets allow_shared, the pod's allow-list named its "-SHARED" product
 *     (matched in 6), or the pod requests nvidia.com/gpu.shared -> SHARED
 *     (unresolvable)
 * 6b. a spot device while the profile sets avoid_spot -> SPOT (unresolvable)
 *  7. with a minimum set: device memory unknown (0) -> GPU_MEMORY_UNKNOWN,
 *     below demand->min_gpu_memory_mib -> GPU_MEMORY (unresolvable)
 *  7b. with demand->model_known and the device's memory known: the
 *     model's per-device need (fp_model_fit with policy->fit) above that
 *     memory x utilisation -> MODEL_FIT (unresolvable); unknown memory
 *     passes (nothing to judge by)
 *  7c. with demand->tts: the time to serve (below) above
 *     demand->max_tts_s -> "time to serve N s > limit M s" (unresolvable)
 *  8. weighted mean RTT from the origins to the node's region (no region:
 *     default_latency_ms) above demand->max_latency_ms -> LATENCY (unresolvable)
 *  9. the device's price per hour above demand->max_price (unknown price
 *     fails too) -> PRICE (unresolvable)
 * 10. allocatable < count -> TOO_FEW_GPUS (unresolvable: no eviction frees
 *     GPUs the node does not have); allocatable - used - assumed < count
 *     -> INSUFFICIENT_GPUS (resolvable: the only "busy" reason, where
 *     evicting lower-priority pods can help)
 * 11. pool used + assumed + count > max_utilization * pool allocatable (only
 *     for pools in ctx->pool_stats) -> POOL_CEILING (resolvable)
 *
 * Burst overflow rule: when no candidate passes all filters but some failed
 * only filter 11, the ceiling is lifted for this request and those nodes
 * pass, with headroom term 0: an incident pod placed above a pool's ceiling
 * beats one left Pending.
 *
 * Spread constraint: while demand->min_spread > ctx->workload_pools and
 * some passing candidate is in a pool without the workload's replicas
 * (workload_replicas_in_pool == 0), the passing candidates in pools that
 * hold some fail with SPREAD (unresolvable), whatever the spread weight.
 *
 * Terms (each in [0,1]; inactive terms are left out of the mean):
 *  latency  fp_latency_term(L): 1 - log2(1 + L/5 ms) / log2(1 + 300/5), an absolute
 *           scale (2 ms 0.92, 20 ms 0.61, 64 ms 0.36, >= 300 ms 0), so
 *           the same round trip scores the same in every request;
 *           inactive without origins
 *  cost     log(32 / c) / log(32 / 0.25), clamped, for c the device's
 *           price per hour (perGPUHour) or price / relative throughput
 *           (perWork; a slice's throughput is its fraction of the GPU's,
 *           so a slice and a whole GPU tie): an absolute scale on which
 *           every doubling of the price costs 1/7, whatever the other
 *           candidates; 0 for an unknown price
 *  headroom clamp((cap - after) / cap), cap = max_utilization * allocatable
 *           and after = used + assumed + count, over the node's pool when
 *           pool_stats has it, else over the node itself
 *  packing  binpack: (used + assumed + count) / allocatable;
 *           spread: 1 - (used + assumed) / allocatable
 *  sku      1 - i/n for the first entry i of the preference list (the pod's
 *           gpu-sku, else the profile's) naming the product, 0 when none;
 *           inactive without a list
 *  spread   when demand->min_spread > ctx->workload_pools: 1 for a node whose
 *           pool holds none of the workload's replicas, else 0
 *  timeToServe  fp_tts_term(the node's time to serve): 1 - log2(1 + T/30 s)
 *           / log2(1 + 3600/30), clamped; inactive without demand->tts.
 *           T: fp_time_to_serve with the policy's transfer constants; the
 *           pod's images the node lacks in status.images are pulled, each
 *           of the size a candidate of this request reports (else
 *           defaultImageGiB); the node's cache labels, the store's class
 *           for the node's region and cloud (the pool's cloud, else the
 *           built-in region table's), and the hub compete
 *  cost     with demand->tts the price per device-hour also carries the
 *           transfer's egress: egress_usd / (amortizationHours x count)
 * total = sum(w_i * t_i) / sum(w_i) over active terms with w_i > 0 (0 when
 * none); score = fp_score_from_gap(best total of the request - total).
 * gpus_free is set (>= 0) for every node that has the resource, whatever the
 * verdict. */
void fp_evaluate(const FpEvalContext *ctx, const FpCandidate *cands, guint n, FpVerdict *out);

/* The name of the device a verdict's pod gets, for people (score,
 * simulate, decisions, metrics): fp_device_describe of v->device, else the
 * facts' product, else "" (into @buf, at most @size bytes; returns @buf). */
char *fp_verdict_device_name(const FpVerdict *v, char *buf, gsize size);

/* Overlay device @d (may be NULL: nothing changes) on @f: product,
 * gpu_memory_mib, price_per_gpu_hour and relative_throughput become the
 * device's (strings borrowed from @d). */
void fp_facts_apply_device(FpNodeFacts *f, const FpDeviceClass *d);

/* Weighted mean round trip (ms) from @demand's origins to @region; a node
 * without region ("") counts default_latency_ms.  0 without origins. */
double fp_weighted_latency(const FpPolicy *policy, const FpDemand *demand, const char *region);

/* The latency term of a weighted round trip of @ms milliseconds, in
 * [0,1]: 1 - log2(1 + ms/5) / log2(1 + 300/5), clamped (0 ms or less, or
 * NaN, 1; 300 ms or more 0): 2 ms 0.92, 10 ms 0.73, 20 ms 0.61, 64 ms
 * 0.36.  An absolute scale: every doubling of (1 + ms/5) costs the same,
 * whatever the other candidates and the pod's latency limit.  The engine's
 * latency term and the admission webhook's preferred region weights
 * (constraints.h) are this one function. */
double fp_latency_term(double ms);

/* Map a total in [0,1] to kube-scheduler's 0..10: floor(total * 10 + 0.5)
 * clamped to 0..10 (NaN -> 0), so 0.05 -> 1, 0.049 -> 0, 1.0 -> 10.
 * kube-scheduler multiplies it by the extender's weight * 10 and adds its
 * own plugin scores; nodes with equal extender scores are ordered by those
 * scores, and remaining ties are broken at random. */
int fp_score_to_extender(double total);

/* The extender score of a candidate whose weighted total is @gap below the
 * best passing candidate of the same request: 10 - round(gap / 0.02),
 * floored at 0 (NaN -> 0).  The best scores 10; every 0.02 of total below it
 * costs a point, so a difference of 0.01 or more of the weighted total
 * survives the rounding to kube-scheduler's 11 levels, and everything 0.19
 * or more below the best scores 0.  The scale is relative to the request's
 * best, not absolute: kube-scheduler compares scores only within a
 * request. */
int fp_score_from_gap(double gap);

/* kube-scheduler's own feasibility checks for GPU pods, used by the dry-run
 * CLI: nodeSelector, required node affinity, taints/tolerations
 * (NoSchedule, NoExecute), unschedulable, and fit of every extended resource
 * the pod requests.  @used holds the node's requested amounts by active pods.
 * Returns NULL when feasible, else kube-scheduler's reason text (a static or
 * g_intern_string'ed string, never to be freed). */
const char *fp_kube_feasible(const FpPod *pod, const FpNode *node, const FpResList *used);

/* The PreferNoSchedule taints of @node that @pod does not tolerate: what
 * kube-scheduler's TaintToleration score plugin counts (fewer is better). */
guint fp_kube_untolerated_soft_taints(const FpPod *pod, const FpNode *node);

G_END_DECLS

#endif /* FP_SCORING_ENGINE_H */
