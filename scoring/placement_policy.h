/*
 * scoring/placement_policy.h - the compiled, immutable PlacementPolicy.
 *
 * Purpose: everything the scoring engine needs from a policy ConfigMap, as
 * plain C data: which resources are GPUs, which node labels carry which fact,
 * SKU facts, pool overrides, the region latency matrix and the profiles.
 * policies/ parses and validates a document into this struct; scoring/ only
 * reads it.  fp_policy_new_default() gives the built-in policy used when no
 * policy is configured.
 *
 * Ownership: refcounted (atomic).  Everything inside is owned by the policy.
 * Thread context: immutable after construction, readable from any thread.
 */
#ifndef FP_SCORING_PLACEMENT_POLICY_H
#define FP_SCORING_PLACEMENT_POLICY_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "scoring/model_fit.h"
#include "scoring/time_to_serve.h"

G_BEGIN_DECLS

/* Score terms, in the order they are reported. */
typedef enum {
    FP_TERM_LATENCY,
    FP_TERM_COST,
    FP_TERM_HEADROOM,
    FP_TERM_PACKING,
    FP_TERM_SKU,
    FP_TERM_SPREAD,
    FP_TERM_TIME_TO_SERVE,
    FP_N_TERMS
} FpTermId;

/* "latency", "cost", ... ; NULL for an out-of-range id. */
const char *fp_term_name(FpTermId id);
/* Inverse of fp_term_name; -1 when unknown. */
int fp_term_from_name(const char *name);

typedef enum { FP_PACK_BINPACK, FP_PACK_SPREAD } FpPacking;
typedef enum { FP_COST_PER_GPU_HOUR, FP_COST_PER_WORK } FpCostMode;

/* The default spotPriceFactor: spot capacity priced at 40 % of on-demand.
 * A round figure, not from the reference data (which has no spot prices):
 * the clouds' spot discounts for GPU instances commonly run 60-70 %; set
 * the policy's to your own bills. */
#define FP_DEFAULT_SPOT_PRICE_FACTOR 0.4

/* Facts about one GPU product, keyed by the exact nvidia.com/gpu.product value. */
typedef struct {
    char *product;
    double memory_gib;          /* per GPU; 0 = unknown */
    double relative_throughput; /* > 0; default 1.0 */
    double price_per_gpu_hour;  /* < 0 = unknown */
    /* The price is the built-in table's (fp_policy_new_default), not one a
     * policy wrote: the catalog's price for the node's own instance type and
     * region is then more exact (cache/gpu_inventory.c). */
    bool builtin_price;
} FpSku;

/* Per-pool overrides. */
typedef struct {
    char *name;
    double price_per_gpu_hour; /* < 0 = take the SKU's price */
    double max_utilization;    /* burst ceiling in (0,1]; default 1.0 */
    char *cloud;               /* may be NULL */
} FpPool;

/* A named weighting plus hard limits. */
typedef struct {
    char *name;
    double weights[FP_N_TERMS];    /* >= 0, not all zero */
    double max_latency_ms;         /* < 0 = no limit */
    double max_price_per_gpu_hour; /* < 0 = no limit */
    double min_gpu_memory_gib;     /* 0 = no limit */
    FpPacking packing;
    FpCostMode cost_mode;
    char **allowed_skus;   /* NULL-terminated; NULL = any product */
    char **sku_preference; /* NULL-terminated, most preferred first; NULL = none */
    char *origin_regions;  /* default origin spec ("eastus=3,westeurope=1"); NULL = none */
    guint min_spread;      /* failover spread: pools a workload should span; 0 = off */
    /* Whether pods of this profile may get a time-sliced or MPS replica
     * (scoring/device.h: fp_device_is_shared) for a request of a GPU
     * resource; default false.  A pod that names a "-SHARED" product in its
     * gpu-sku may always get one. */
    bool allow_shared;
    bool avoid_spot; /* spot / preemptible nodes fail the filter; default false */
    int short_list;  /* best passing nodes filter returns (scoring/short_list.h);
                        0 = every one, -1 = the policy's */
} FpProfile;

/* A policy override of the built-in GPU catalog (scoring/device.h) for one
 * instance type: what a node of that instance type carries when its labels
 * do not say. */
typedef struct {
    char *name;
    char *product;             /* GPU product (GFD spelling); NULL = the catalog's */
    guint gpu_count;           /* 0 = the catalog's (or the node's allocatable) */
    double memory_gib;         /* per GPU; 0 = the catalog's */
    double price_per_gpu_hour; /* < 0 = the catalog's, else the SKU table's */
} FpInstanceType;

/* A pool that can grow, declared by the policy (poolTemplates:): a
 * Cluster Autoscaler node group or a hand-run Flex pool, which has no
 * Kubernetes object saying what nodes it adds (Karpenter NodePools are read
 * from the API instead, cache/nodepool.h).  Its nodes carry @labels plus
 * the policy's first label key of each fact it states. */
typedef struct {
    char *name;                /* the pool's name (a label value) */
    GHashTable *labels;        /* char* -> char*, owned; may be empty */
    char *product;             /* GPU product; NULL = the instance type's */
    char *instance_type;       /* NULL = none */
    guint gpus_per_node;       /* 0 = the instance type's (else unknown) */
    double memory_gib;         /* per GPU; 0 = the SKU table's or catalog's */
    char *region;              /* NULL = unknown */
    double price_per_gpu_hour; /* < 0 = the pool's, SKU table's or catalog's */
    char *capacity_type;       /* "on-demand" or "spot" */
    guint max_nodes;           /* 0 = no maximum */
} FpPolicyTemplate;

typedef struct FpPolicy {
    guint64 generation;   /* set by the policy store; 0 for a policy never installed */
    char *source;         /* where it came from, for logs ("built-in default", a path) */
    char **gpu_resources; /* NULL-terminated resource names that are GPUs */
    /* Node label keys for each fact, NULL-terminated, tried in order. */
    char **label_pool;
    char **label_region;
    char **label_zone;
    char **label_product;
    char **label_memory; /* value in MiB (GFD nvidia.com/gpu.memory) */
    char **label_instance_type;
    char **label_capacity_type;
    GHashTable *skus;  /* product -> FpSku*, owned */
    GHashTable *pools; /* pool name -> FpPool*, owned */
    /* Latency matrix, symmetric: key fp_policy_latency_key(a, b) -> double* ms. */
    GHashTable *latency;
    /* Also consult the built-in round trips (region_latency.h) for pairs
     * the matrix lacks: true for fp_policy_new_default() and loaded
     * policies (regions.builtinLatency), false for fp_policy_new_empty(). */
    bool builtin_latency;
    double default_latency_ms;         /* pair missing from the matrix */
    double same_region_latency_ms;     /* a region to itself when not in the matrix */
    double default_price_per_gpu_hour; /* price when neither pool nor SKU knows it */
    /* Multiplies the on-demand price (SKU table, catalog, default) of a
     * spot / preemptible node; a pool's own price is taken as is. */
    double spot_price_factor;
    GHashTable *instance_types; /* name -> FpInstanceType*, owned: catalog overrides */
    GHashTable *profiles;       /* name -> FpProfile*, owned; always has "default" */
    GHashTable *namespaces;     /* namespace -> profile name */
    char *default_profile;      /* "default" unless the document says otherwise */
    /* Model catalog additions and overrides: name -> FpModelSpec*, owned
     * (fp_model_spec_free); searched before the built-in table
     * (scoring/model_catalog.h).  Empty by default. */
    GHashTable *models;
    FpFitConstants fit; /* the fit formula's constants; fp_fit_constants_default() */
    /* The time-to-serve constants and weight stores (policy `transfer:`);
     * fp_transfer_defaults() and no stores by default. */
    FpTransferConstants transfer;
    guint short_list; /* best passing nodes filter returns (scoring/short_list.h); 0 = every one */
    /* Pool templates: name -> FpPolicyTemplate*, owned; empty by default. */
    GHashTable *templates;
} FpPolicy;

/* The built-in default policy: GFD and well-known labels, the common GPU SKUs,
 * one "default" profile.  Never NULL. */
FpPolicy *fp_policy_new_default(void);
/* An empty policy skeleton (tables created, nothing filled) for builders:
 * empty label lists and gpu_resources, no SKUs, pools, matrix or profiles
 * (the engine then uses built-in default weights), default_latency_ms 150,
 * same_region_latency_ms 2, default_price_per_gpu_hour 4.0, default_profile
 * "default", short_list FP_SHORT_LIST_DEFAULT (scoring/short_list.h).  Every table frees its keys
 * with g_free and its values with the matching free function (latency values: g_free'd double), so
 * insert g_strdup'ed keys.  Policies must come from here or fp_policy_new_default() (the refcount
 * lives in a g_atomic_rc_box header). */
FpPolicy *fp_policy_new_empty(void);
FpPolicy *fp_policy_ref(FpPolicy *policy);
void fp_policy_unref(FpPolicy *policy);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpPolicy, fp_policy_unref)

/* Newly allocated symmetric key for the latency table. */
char *fp_policy_latency_key(const char *a, const char *b);
/* Round trip a<->b in ms, the first that knows: the policy's matrix; for a
 * region to itself, same_region_latency_ms; with builtin_latency, the
 * built-in tables (region_latency.h, including their cross-cloud rule).
 * Else default_latency_ms with *known set false. */
double fp_policy_latency(const FpPolicy *policy, const char *a, const char *b, bool *known);

/* Whether @region is one the policy can say anything about: named in its
 * matrix, or (with builtin_latency) in the built-in tables.  An origin
 * region that is not is a mistake, not a far-away place. */
bool fp_policy_knows_region(const FpPolicy *policy, const char *region);
/* Profile by name, or NULL. */
const FpProfile *fp_policy_profile(const FpPolicy *policy, const char *name);
/* Whether @resource is one of the policy's GPU resources, or a MIG resource
 * (nvidia.com/mig-*) or the time-sliced nvidia.com/gpu.shared when
 * nvidia.com/gpu is one. */
bool fp_policy_is_gpu_resource(const FpPolicy *policy, const char *resource);

/* Helpers for builders.  Defaults: SKU memory 0 (unknown), throughput 1.0,
 * price -1 (unknown); pool price -1, max_utilization 1.0, cloud NULL;
 * profile weights all 0, no limits (-1 / 0), binpack, per GPU-hour, no SKU
 * lists, no origins, min_spread 0, short_list -1 (the policy's). */
FpSku *fp_sku_new(const char *product);
void fp_sku_free(FpSku *sku);
FpPool *fp_pool_new(const char *name);
void fp_pool_free(FpPool *pool);
FpProfile *fp_profile_new(const char *name);
void fp_profile_free(FpProfile *profile);
/* Defaults: product NULL, gpu_count 0, memory 0, price -1. */
FpInstanceType *fp_instance_type_new(const char *name);
void fp_instance_type_free(FpInstanceType *it);
/* Defaults: no labels, product/instance type/region NULL, gpus_per_node 0,
 * memory 0, price -1, capacity "on-demand", max_nodes 0. */
FpPolicyTemplate *fp_policy_template_new(const char *name);
void fp_policy_template_free(FpPolicyTemplate *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpPolicyTemplate, fp_policy_template_free)

G_END_DECLS

#endif /* FP_SCORING_PLACEMENT_POLICY_H */
