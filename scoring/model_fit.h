/*
 * scoring/model_fit.h - does a model fit a GPU: the request, the plan and
 * the per-device memory formula.
 *
 * Purpose: three pure steps.
 *  1. FpModelRequest: what a pod says about the model it serves (filled by
 *     cache/pod_model.c from annotations, KAITO labels, engine args and env).
 *  2. fp_model_plan(): the request resolved against the catalog entry
 *     (scoring/model_catalog.h) into total weight bytes, KV-cache bytes per
 *     token, tensor/pipeline parallel degree, context and memory utilisation.
 *  3. fp_model_fit(): the memory one device needs against what it offers.
 *
 * The formula is KAITO's published GPU sizing (kaito-project/kaito
 * @5d8baa3d14db59e3605fcebf675e27cc144c1f03
 * presets/workspace/generator/model-sku-calculation.md; policies/README.md,
 * "Model fit"), per device with n = tensor_parallel x pipeline_parallel:
 *
 *   need = weight_factor * W / n                (weights, 1.02 x the files)
 *        + overhead_weight_factor * weight_factor * W / n   (KAITO's code: 0.05; guide: 0)
 *        + overhead_gib                         (0.6 non-torch + 1.7 activations)
 *        + context * kv_bytes_per_token / n     (KV cache for the requested context)
 *   fits  when need <= device memory * utilisation
 *
 * kv_bytes_per_token = 2 * layers * kv_heads * head_dim * kv_dtype_bytes
 * (K and V), or the catalog's MLA figure scaled to the KV dtype.  MoE models
 * keep every expert resident: W comes from the total parameters, never the
 * active ones.
 *
 * Ownership: FpModelRequest owns its strings (fp_model_request_free);
 * FpModelPlan borrows the catalog entry.  Thread context: pure; any thread.
 */
#ifndef FP_SCORING_MODEL_FIT_H
#define FP_SCORING_MODEL_FIT_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "scoring/model_catalog.h"

G_BEGIN_DECLS

#define FP_GIB (1024.0 * 1024.0 * 1024.0)

/* The serving engine, as far as the pod shows it. */
typedef enum {
    FP_ENGINE_UNKNOWN,
    FP_ENGINE_VLLM,
    FP_ENGINE_SGLANG,
    FP_ENGINE_TGI,
    FP_ENGINE_KAITO,
    FP_ENGINE_KSERVE,
} FpEngine;

/* "vllm", "sglang", "tgi", "kaito", "kserve" or "unknown". */
const char *fp_engine_name(FpEngine engine);

/* What a pod says about its model.  0 / NULL = not stated. */
typedef struct FpModelRequest {
    char *name;          /* model id or preset as written */
    char *name_from;     /* where the name was read ("annotation flexplace.io/model",
                            "vllm --model", "env MODEL_ID", ...) */
    double params_b;     /* flexplace.io/model-size in parameters ("70B") */
    double weights_gib;  /* flexplace.io/model-size as bytes ("140Gi") */
    int tensor_parallel; /* --tensor-parallel-size, --tp, NUM_SHARD, annotation */
    int pipeline_parallel;
    int64_t max_model_len;         /* --max-model-len, --context-length, annotation */
    double gpu_memory_utilization; /* (0,1] */
    char *dtype;                   /* --dtype as given */
    char *quantization;            /* --quantization / QUANTIZE as given */
    char *kv_cache_dtype;          /* --kv-cache-dtype as given */
    char *weights_location;        /* URI or path (hf://, s3://, gs://, pvc://, /mnt/...) */
    /* fp_image_key of the pod's container and init-container images
     * (scoring/time_to_serve.h), without duplicates, at most 8. */
    guint64 image_keys[8];
    guint n_images;
    FpEngine engine;
    /* A malformed flexplace.io/ model annotation: what is wrong (the pod is
     * invalid).  Engine args that do not parse are ignored, not invalid. */
    char *invalid;
    const char *invalid_key; /* the annotation key @invalid is about (static) */
} FpModelRequest;

FpModelRequest *fp_model_request_new(void);
/* A deep copy of @src (NULL for NULL). */
FpModelRequest *fp_model_request_copy(const FpModelRequest *src);
void fp_model_request_free(FpModelRequest *req);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpModelRequest, fp_model_request_free)

/* The fit constants; a policy may change every one. */
typedef struct {
    double weight_factor; /* loaded weights / files: 1.02 */
    double overhead_gib;  /* per device: 0.6 non-torch + 1.7 activations = 2.3 */
    double
        overhead_weight_factor; /* extra x the per-device weights: 0 (guide); KAITO's code 0.05 */
    double default_utilization; /* engine not known or not saying: 0.84 (KAITO) */
    double vllm_utilization;    /* vLLM without --gpu-memory-utilization: 0.9 */
    int64_t default_context;    /* no context stated, not vLLM/SGLang: 2048 (KAITO) */
} FpFitConstants;

/* The published defaults above. */
void fp_fit_constants_default(FpFitConstants *out);

/* Bytes per weight parameter of quantisation @quant ("fp8", "awq",
 * "bitsandbytes-nf4", ...), or of dtype @dtype ("bfloat16", "float32",
 * "auto") when @quant is NULL/"-".  0 when unknown. */
double fp_model_bytes_per_param(const char *quant, const char *dtype);

/* The request resolved into numbers. */
typedef struct {
    const FpModelSpec *spec;   /* borrowed; NULL when only model-size is known */
    double weights_gib;        /* total weight files as served (after dtype/quant) */
    double kv_bytes_per_token; /* 0 = unknown (the KV term is left out) */
    int tensor_parallel;       /* >= 1 */
    int pipeline_parallel;     /* >= 1 */
    int64_t context;           /* tokens of KV cache to hold */
    double utilization;        /* (0,1] */
    bool moe;                  /* every expert counted */
} FpModelPlan;

/* Resolve @req with catalog entry @spec (may be NULL).  Returns false when
 * the weight size cannot be known (no catalog entry with a size and no
 * model-size): then no model terms apply.
 *
 * Weights: model-size bytes, else model-size parameters x bytes per
 * parameter, else the catalog's published size, else its parameters x bytes
 * per parameter; a quantisation or dtype the pod states rescales the
 * catalog's size by (bytes per parameter served / as published).  Context:
 * the stated one, else for vLLM/SGLang the model's max_context (what they
 * allocate by default), else k->default_context.  Utilisation: the stated
 * one, else k->vllm_utilization for vLLM, else k->default_utilization. */
bool fp_model_plan(const FpModelRequest *req, const FpModelSpec *spec, const FpFitConstants *k,
                   FpModelPlan *out);

/* One device's memory, in GiB. */
typedef struct {
    double weights_gib;  /* weight_factor * W / n */
    double overhead_gib; /* fixed + weight-proportional overhead */
    double kv_gib;       /* context * kv_bytes_per_token / n */
    double need_gib;     /* the sum */
    double usable_gib;   /* device memory * utilisation */
    bool fits;           /* need <= usable */
} FpFit;

/* The formula above for a device of @device_gib (> 0). */
void fp_model_fit(const FpModelPlan *plan, const FpFitConstants *k, double device_gib, FpFit *out);

G_END_DECLS

#endif /* FP_SCORING_MODEL_FIT_H */
