/*
 * scoring/model_fit.c - the model request, plan and fit formula
 * (scoring/model_fit.h).
 */
#include "scoring/model_fit.h"

#include <math.h>
#include <string.h>

const char *fp_engine_name(FpEngine engine)
{
    switch (engine) {
    case FP_ENGINE_VLLM:
        return "vllm";
    case FP_ENGINE_SGLANG:
        return "sglang";
    case FP_ENGINE_TGI:
        return "tgi";
    case FP_ENGINE_KAITO:
        return "kaito";
    case FP_ENGINE_KSERVE:
        return "kserve";
    case FP_ENGINE_UNKNOWN:
        break;
    }
    return "unknown";
}

FpModelRequest *fp_model_request_new(void)
{
    return g_new0(FpModelRequest, 1);
}

FpModelRequest *fp_model_request_copy(const FpModelRequest *src)
{
    if (!src) {
        return NULL;
    }
    FpModelRequest *req = g_memdup2(src, sizeof *src);
    req->name = g_strdup(src->name);
    req->name_from = g_strdup(src->name_from);
    req->dtype = g_strdup(src->dtype);
    req->quantization = g_strdup(src->quantization);
    req->kv_cache_dtype = g_strdup(src->kv_cache_dtype);
    req->weights_location = g_strdup(src->weights_location);
    req->invalid = g_strdup(src->invalid);
    return req;
}

void fp_model_request_free(FpModelRequest *req)
{
    if (!req) {
        return;
    }
    g_free(req->name);
    g_free(req->name_from);
    g_free(req->dtype);
    g_free(req->quantization);
    g_free(req->kv_cache_dtype);
    g_free(req->weights_location);
    g_free(req->invalid);
    g_free(req);
}

void fp_fit_constants_default(FpFitConstants *out)
{
    /* kaito-project/kaito model-sku-calculation.md and
     * pkg/workspace/estimator/nodesestimator/estimator.go (shared data
     * model_fit.md, section 1); vLLM's 0.9 from its older releases
     * (section 2: the newest default is 0.92, so 0.9 errs on the safe side). */
    *out = (FpFitConstants){
        .weight_factor = 1.02,
        .overhead_gib = 2.3,
        .overhead_weight_factor = 0.0,
        .default_utilization = 0.84,
        .vllm_utilization = 0.9,
        .default_context = 2048,
    };
}

typedef struct {
    const char *name;
    double bytes;
} NameBytes;

/* vLLM --quantization, TGI --quantize and checkpoint quant_method values. */
static const NameBytes quant_bytes[] = {
    {"fp8", 1},
    {"fp8_e4m3", 1},
    {"fp8_e5m2", 1},
    {"fbgemm_fp8", 1},
    {"ptpc_fp8", 1},
    {"modelopt", 1},
    {"int8", 1},
    {"w8a8", 1},
    {"eetq", 1},
    {"experts_int8", 1},
    {"bitsandbytes", 1},
    {"tpu_int8", 1},
    {"awq", 0.5},
    {"awq_marlin", 0.5},
    {"gptq", 0.5},
    {"gptq_marlin", 0.5},
    {"marlin", 0.5},
    {"gptq_marlin_24", 0.5},
    {"int4", 0.5},
    {"nf4", 0.5},
    {"mxfp4", 0.5},
    {"modelopt_fp4", 0.5},
    {"exl2", 0.5},
    {"bitsandbytes-nf4", 0.5},
    {"bitsandbytes-fp4", 0.5},
};

static const NameBytes dtype_bytes[] = {
    {"bf16", 2}, {"bfloat16", 2}, {"fp16", 2}, {"float16", 2}, {"half", 2},
    {"auto", 2}, {"-", 2},        {"fp32", 4}, {"float32", 4}, {"float", 4},
};

static double lookup_bytes(const NameBytes *table, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (g_ascii_strcasecmp(table[i].name, name) == 0) {
            return table[i].bytes;
        }
    }
    return 0;
}

static bool stated(const char *s)
{
    return s && *s && strcmp(s, "-") != 0;
}

double fp_model_bytes_per_param(const char *quant, const char *dtype)
{
    if (stated(quant)) {
        return lookup_bytes(quant_bytes, G_N_ELEMENTS(quant_bytes), quant);
    }
    return lookup_bytes(dtype_bytes, G_N_ELEMENTS(dtype_bytes), stated(dtype) ? dtype : "-");
}

/* Whether the model name itself says it is an FP8 checkpoint ("...-FP8"). */
static bool name_says_fp8(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return n > 4 && g_ascii_strcasecmp(name + n - 4, "-fp8") == 0;
}

/* Bytes per parameter as published: the checkpoint's quantisation (the
 * catalog's, or "-FP8" in the name), else its dtype. */
static double published_bpp(const FpModelRequest *req, const FpModelSpec *spec)
{
    if (spec && stated(spec->quant)) {
        return fp_model_bytes_per_param(spec->quant, NULL);
    }
    if (name_says_fp8(req->name)) {
        return 1;
    }
    return fp_model_bytes_per_param(NULL, spec ? spec->dtype : NULL);
}

/* Bytes per parameter as served: the stated quantisation when known, else
 * the checkpoint's own quantisation (a --dtype does not unpack quantised
 * weights), else the stated dtype, else as published.  0 when the stated
 * quantisation is unknown (then the published size is kept). */
static double served_bpp(const FpModelRequest *req, const FpModelSpec *spec, double published)
{
    if (stated(req->quantization)) {
        return fp_model_bytes_per_param(req->quantization, NULL);
    }
    if ((spec && stated(spec->quant)) || name_says_fp8(req->name)) {
        return published;
    }
    if (stated(req->dtype)) {
        double b = fp_model_bytes_per_param(NULL, req->dtype);
        return b > 0 ? b : published;
    }
    return published;
}

static double plan_weights(const FpModelRequest *req, const FpModelSpec *spec)
{
    if (req->weights_gib > 0) {
        return req->weights_gib;
    }
    double pub = published_bpp(req, spec);
    double served = served_bpp(req, spec, pub);
    if (served <= 0) {
        served = pub; /* an unknown quantisation: keep the published size */
    }
    if (req->params_b > 0) {
        return req->params_b * 1e9 * served / FP_GIB;
    }
    if (spec && spec->weights_gib > 0) {
        return spec->weights_gib * served / pub;
    }
    if (spec && spec->params_b > 0) {
        return spec->params_b * 1e9 * served / FP_GIB;
    }
    return 0;
}

static double kv_dtype_bytes(const FpModelRequest *req)
{
    if (stated(req->kv_cache_dtype) && g_ascii_strncasecmp(req->kv_cache_dtype, "fp8", 3) == 0) {
        return 1;
    }
    if (stated(req->dtype)) {
        double b = fp_model_bytes_per_param(NULL, req->dtype);
        if (b > 0) {
            return b;
        }
    }
    return 2;
}

static double plan_kv(const FpModelRequest *req, const FpModelSpec *spec)
{
    if (!spec) {
        return 0;
    }
    double bytes = kv_dtype_bytes(req);
    if (spec->kv_bytes_per_token > 0) {
        return spec->kv_bytes_per_token * bytes / 2.0;
    }
    if (spec->layers <= 0 || spec->kv_heads <= 0 || spec->head_dim <= 0) {
        return 0;
    }
    return 2.0 * spec->layers * spec->kv_heads * spec->head_dim * bytes;
}

bool fp_model_plan(const FpModelRequest *req, const FpModelSpec *spec, const FpFitConstants *k,
                   FpModelPlan *out)
{
    memset(out, 0, sizeof *out);
    out->spec = spec;
    out->tensor_parallel = req->tensor_parallel > 0 ? req->tensor_parallel : 1;
    out->pipeline_parallel = req->pipeline_parallel > 0 ? req->pipeline_parallel : 1;
    out->weights_gib = plan_weights(req, spec);
    out->kv_bytes_per_token = plan_kv(req, spec);
    out->moe = spec && spec->experts > 0;
    bool long_default = req->engine == FP_ENGINE_VLLM || req->engine == FP_ENGINE_SGLANG;
    if (req->max_model_len > 0) {
        out->context = req->max_model_len;
    } else if (long_default && spec && spec->max_context > 0) {
        out->context = spec->max_context;
    } else {
        out->context = k->default_context;
    }
    if (req->gpu_memory_utilization > 0 && req->gpu_memory_utilization <= 1) {
        out->utilization = req->gpu_memory_utilization;
    } else if (req->engine == FP_ENGINE_VLLM) {
        out->utilization = k->vllm_utilization;
    } else {
        out->utilization = k->default_utilization;
    }
    return out->weights_gib > 0 && isfinite(out->weights_gib);
}

void fp_model_fit(const FpModelPlan *plan, const FpFitConstants *k, double device_gib, FpFit *out)
{
    double n = (double)plan->tensor_parallel * plan->pipeline_parallel;
    out->weights_gib = k->weight_factor * plan->weights_gib / n;
    out->overhead_gib = k->overhead_gib + k->overhead_weight_factor * out->weights_gib;
    out->kv_gib = (double)plan->context * plan->kv_bytes_per_token / n / FP_GIB;
    out->need_gib = out->weights_gib + out->overhead_gib + out->kv_gib;
    out->usable_gib = device_gib * plan->utilization;
    out->fits = device_gib > 0 && out->need_gib <= out->usable_gib;
}
