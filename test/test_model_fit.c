/*
 * test/test_model_fit.c - the model catalog and the fit formula
 * (scoring/model_catalog.h, scoring/model_fit.h).
 *
 * Every expected number below is worked out by hand in the comment next to
 * it from KAITO's published sizing (weights x 1.02 / n + 2.3 GiB + context x
 * bytes per token / n against memory x utilisation) and the catalog's facts,
 * not by calling the code under test.  Device memory: GFD's observed
 * nvidia.com/gpu.memory (shared data gpu_skus.csv): L4 23034 MiB, H100 80GB
 * 81559 MiB; A100 80GB 81920 MiB.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glib.h>
#include <math.h>
#include <string.h>

#include "scoring/model_catalog.h"
#include "scoring/model_fit.h"
#include "support/support.h"

#define L4_GIB (23034.0 / 1024.0)   /* 22.494 */
#define H100_GIB (81559.0 / 1024.0) /* 79.648 */
#define A100_80_GIB (81920.0 / 1024.0)

#define assert_near(a, b) assert_true(fabs((a) - (b)) < 0.001)

typedef struct {
    const char *what;
    const char *model;
    FpEngine engine;
    int tp;
    int64_t context;    /* 0 = not stated */
    double utilization; /* 0 = not stated */
    const char *quant;  /* NULL = not stated */
    double device_gib;
    double need_gib;   /* by hand */
    double usable_gib; /* by hand */
    bool fits;
} FitCase;

static const FitCase fit_cases[] = {
    /* Llama-3.1-8B-Instruct: 14.96 GiB of files (KAITO catalog); 32 layers,
     * 8 KV heads, head_dim 128, 16 bit -> 2*32*8*128*2 = 131072 B/token.
     * 4k: 1.02*14.96 = 15.2592 + 2.3 + 4096*131072 B (0.5 GiB) = 18.0592
     *     vs 22.494*0.9 = 20.2447 -> fits. */
    {"8B on one L4 at 4k, util 0.9", "meta-llama/Llama-3.1-8B-Instruct", FP_ENGINE_VLLM, 1, 4096,
     0.9, NULL, L4_GIB, 18.0592, 20.2447, true},
    /* 128k: KV 131072*131072 B = 16 GiB -> 15.2592 + 2.3 + 16 = 33.5592 > 20.2447. */
    {"8B on one L4 at 128k", "meta-llama/Llama-3.1-8B-Instruct", FP_ENGINE_VLLM, 1, 131072, 0.9,
     NULL, L4_GIB, 33.5592, 20.2447, false},
    /* vLLM without --max-model-len allocates the model's 131072 tokens and
     * without --gpu-memory-utilization takes 0.9: the same as above. */
    {"8B vLLM defaults on one L4", "meta-llama/Llama-3.1-8B-Instruct", FP_ENGINE_VLLM, 1, 0, 0,
     NULL, L4_GIB, 33.5592, 20.2447, false},
    /* KAITO preset name; KAITO's defaults: 2048 tokens (0.25 GiB), 0.84.
     * 15.2592 + 2.3 + 0.25 = 17.8092 vs 22.494*0.84 = 18.8951 -> fits. */
    {"KAITO preset 8B on one L4", "llama-3.1-8b-instruct", FP_ENGINE_KAITO, 1, 0, 0, NULL, L4_GIB,
     17.8092, 18.8951, true},
    /* Llama-3.1-70B bf16: 70e9*2 B = 130.3852 GiB; 80 layers, 8 KV heads,
     * head_dim 128 -> 327680 B/token; 2048 tokens = 0.625 GiB.
     * TP 4: 1.02*130.3852/4 = 33.2482 + 2.3 + 0.15625 = 35.7045
     *       vs 79.6475*0.84 = 66.9039 -> fits. */
    {"70B bf16 on four H100 at 0.84", "meta-llama/Meta-Llama-3.1-70B", FP_ENGINE_KAITO, 4, 0, 0,
     NULL, H100_GIB, 35.7045, 66.9039, true},
    /* TP 2: 66.4965 + 2.3 + 0.3125 = 69.1089 > 66.9039 -> does not fit. */
    {"70B bf16 on two H100 at 0.84", "meta-llama/Meta-Llama-3.1-70B", FP_ENGINE_KAITO, 2, 0, 0,
     NULL, H100_GIB, 69.1089, 66.9039, false},
    /* ...but does at 0.9: 79.6475*0.9 = 71.6827. */
    {"70B bf16 on two H100 at 0.9", "meta-llama/Meta-Llama-3.1-70B", FP_ENGINE_KAITO, 2, 0, 0.9,
     NULL, H100_GIB, 69.1089, 71.6827, true},
    /* MoE: Mixtral-8x7B keeps all 46.7B parameters resident (12.9B active):
     * 46.7e9*2 B = 86.9855 GiB; 1.02x = 88.7252 + 2.3 + 2048*131072 B
     * (0.25) = 91.2752 vs 80*0.9 = 72 -> does not fit one A100 80GB
     * (12.9B active would be 24.03 GiB and fit: the wrong answer). */
    {"Mixtral on one A100 80GB", "mistralai/Mixtral-8x7B-v0.1", FP_ENGINE_UNKNOWN, 1, 0, 0.9, NULL,
     A100_80_GIB, 91.2752, 72.0, false},
    /* TP 2: 44.3626 + 2.3 + 0.125 = 46.7876 <= 72 -> fits. */
    {"Mixtral on two A100 80GB", "mistralai/Mixtral-8x7B-v0.1", FP_ENGINE_UNKNOWN, 2, 0, 0.9, NULL,
     A100_80_GIB, 46.7876, 72.0, true},
    /* FP8: 14.96 * 1/2 = 7.48 GiB of files; 1.02x = 7.6296 + 2.3 + 0.5
     * = 10.4296 vs 22.494*0.9 = 20.2447. */
    {"8B fp8 on one L4 at 4k", "meta-llama/Llama-3.1-8B-Instruct", FP_ENGINE_VLLM, 1, 4096, 0.9,
     "fp8", L4_GIB, 10.4296, 20.2447, true},
    /* An FP8 checkpoint by name: Maverick 400e9 x 1 B = 372.5290 GiB;
     * 48 layers, 8 KV heads, 128 -> 196608 B/token; 524288 tokens = 96 GiB.
     * TP 8: 1.02*372.5290/8 = 47.4974 + 2.3 + 12 = 61.7974 vs 71.6827. */
    {"Maverick FP8 on eight H100 at 512k", "meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8",
     FP_ENGINE_VLLM, 8, 524288, 0.9, NULL, H100_GIB, 61.7974, 71.6827, true},
    /* MLA: DeepSeek-V3 fp8 671e9 x 1 B = 624.9174 GiB; 70272 B/token x 2048
     * = 0.1340 GiB.  TP 8: 1.02*624.9174/8 = 79.6770 + 2.3 + 0.0168 = 81.9937
     * > 80*0.9 = 72: not on eight 80 GB cards. */
    {"DeepSeek-V3 on eight A100 80GB", "deepseek-ai/DeepSeek-V3", FP_ENGINE_UNKNOWN, 8, 0, 0.9,
     NULL, A100_80_GIB, 81.9937, 72.0, false},
};

static void test_fit_table(void **state)
{
    (void)state;
    FpFitConstants k;
    fp_fit_constants_default(&k);
    for (size_t i = 0; i < G_N_ELEMENTS(fit_cases); i++) {
        const FitCase *c = &fit_cases[i];
        g_autoptr(FpModelRequest) req = fp_model_request_new();
        req->name = g_strdup(c->model);
        req->engine = c->engine;
        req->tensor_parallel = c->tp;
        req->max_model_len = c->context;
        req->gpu_memory_utilization = c->utilization;
        req->quantization = g_strdup(c->quant);
        const FpModelSpec *spec = fp_model_catalog_find(NULL, c->model);
        assert_non_null(spec);
        FpModelPlan plan;
        assert_true(fp_model_plan(req, spec, &k, &plan));
        FpFit fit;
        fp_model_fit(&plan, &k, c->device_gib, &fit);
        print_message("%-38s need %8.4f usable %8.4f %s\n", c->what, fit.need_gib, fit.usable_gib,
                      fit.fits ? "fits" : "does not fit");
        assert_true(fabs(fit.need_gib - c->need_gib) < 0.001);
        assert_true(fabs(fit.usable_gib - c->usable_gib) < 0.001);
        assert_int_equal(fit.fits, c->fits);
    }
}

static void test_moe_counts_total_params(void **state)
{
    (void)state;
    FpFitConstants k;
    fp_fit_constants_default(&k);
    const FpModelSpec *spec = fp_model_catalog_find(NULL, "Qwen/Qwen3-30B-A3B");
    assert_non_null(spec);
    assert_near(spec->params_b, 30.5);
    assert_near(spec->active_params_b, 3.3);
    g_autoptr(FpModelRequest) req = fp_model_request_new();
    req->name = g_strdup("Qwen/Qwen3-30B-A3B");
    FpModelPlan plan;
    assert_true(fp_model_plan(req, spec, &k, &plan));
    assert_true(plan.moe);
    /* 30.5e9 * 2 B = 56.8107 GiB, not 3.3e9 * 2 B = 6.1467 GiB. */
    assert_near(plan.weights_gib, 56.8107);
}

static void test_model_size_without_catalog(void **state)
{
    (void)state;
    FpFitConstants k;
    fp_fit_constants_default(&k);
    g_autoptr(FpModelRequest) req = fp_model_request_new();
    req->name = g_strdup("acme/private-70b");
    assert_null(fp_model_catalog_find(NULL, req->name));
    FpModelPlan plan;
    /* No size at all: nothing to plan. */
    assert_false(fp_model_plan(req, NULL, &k, &plan));
    /* model-size 70B, --dtype float32: 70e9 * 4 B = 260.7703 GiB. */
    req->params_b = 70;
    req->dtype = g_strdup("float32");
    assert_true(fp_model_plan(req, NULL, &k, &plan));
    assert_near(plan.weights_gib, 260.7703);
    assert_true(plan.kv_bytes_per_token == 0);
    /* model-size 140Gi wins over parameters. */
    req->weights_gib = 140;
    assert_true(fp_model_plan(req, NULL, &k, &plan));
    assert_near(plan.weights_gib, 140);
    /* Without a KV figure: 1.02*140/4 = 35.7 + 2.3 = 38 on a 40 GiB card at
     * 0.84 (33.6): does not fit. */
    req->tensor_parallel = 4;
    assert_true(fp_model_plan(req, NULL, &k, &plan));
    FpFit fit;
    fp_model_fit(&plan, &k, 40, &fit);
    assert_near(fit.need_gib, 38.0);
    assert_near(fit.usable_gib, 33.6);
    assert_false(fit.fits);
}

static void test_kv_dtype(void **state)
{
    (void)state;
    FpFitConstants k;
    fp_fit_constants_default(&k);
    const FpModelSpec *spec = fp_model_catalog_find(NULL, "meta-llama/Llama-3.1-8B-Instruct");
    g_autoptr(FpModelRequest) req = fp_model_request_new();
    req->name = g_strdup(spec->name);
    FpModelPlan plan;
    assert_true(fp_model_plan(req, spec, &k, &plan));
    assert_true(plan.kv_bytes_per_token == 131072);
    req->kv_cache_dtype = g_strdup("fp8_e5m2");
    assert_true(fp_model_plan(req, spec, &k, &plan));
    assert_true(plan.kv_bytes_per_token == 65536);
    /* Falcon-7B, multi-query: 2*32*1*64*2 = 8192 (KAITO's BytesPerToken). */
    const FpModelSpec *falcon = fp_model_catalog_find(NULL, "tiiuae/falcon-7b");
    g_autoptr(FpModelRequest) f = fp_model_request_new();
    assert_true(fp_model_plan(f, falcon, &k, &plan));
    assert_true(plan.kv_bytes_per_token == 8192);
}

static void test_bytes_per_param(void **state)
{
    (void)state;
    assert_true(fp_model_bytes_per_param("fp8", NULL) == 1);
    assert_true(fp_model_bytes_per_param("AWQ", "float16") == 0.5);
    assert_true(fp_model_bytes_per_param("bitsandbytes-nf4", NULL) == 0.5);
    assert_true(fp_model_bytes_per_param("no-such-scheme", NULL) == 0);
    assert_true(fp_model_bytes_per_param(NULL, "bfloat16") == 2);
    assert_true(fp_model_bytes_per_param("-", "float32") == 4);
    assert_true(fp_model_bytes_per_param(NULL, NULL) == 2);
    assert_true(fp_model_bytes_per_param(NULL, "int3") == 0);
}

static void test_catalog_lookup(void **state)
{
    (void)state;
    assert_true(fp_model_catalog_builtin_len >= 38);
    static const struct {
        const char *ask, *want; /* want NULL = unknown */
    } cases[] = {
        {"meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"},
        {"META-LLAMA/LLAMA-3.1-8B-INSTRUCT", "meta-llama/Llama-3.1-8B-Instruct"},
        {"llama-3.1-8b-instruct", "meta-llama/Llama-3.1-8B-Instruct"}, /* KAITO preset */
        {"meta-llama/Meta-Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"},
        {"meta-llama/Meta-Llama-3.1-8B", "meta-llama/Meta-Llama-3.1-8B"},
        {"deepseek-r1-distill-llama-8b", "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"},
        {"phi-4-mini-instruct", "microsoft/Phi-4-mini-instruct"},
        /* KAITO presets through scoring/model-aliases.csv: the loose key of
         * "mistral-7b-instruct" ("mistral-7b") matches no catalog name. */
        {"mistral-7b-instruct", "mistralai/Mistral-7B-Instruct-v0.3"},
        {"Mistral-7B-Instruct", "mistralai/Mistral-7B-Instruct-v0.3"},
        {"qwen2.5-coder-32b-instruct", "Qwen/Qwen2.5-Coder-32B-Instruct"},
        {"deepseek-r1-distill-qwen-14b", "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B"},
        /* An alias of a model the catalog lacks (Mistral-7B-v0.3) is not
         * guessed into another one. */
        {"mistral-7b", NULL},
        {"google/gemma-2-2b-it", "google/gemma-2-2b"},
        {"meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8",
         "meta-llama/Llama-4-Maverick-17B-128E-Instruct"},
        /* Llama 3 is not Llama 3.1: no guessing. */
        {"meta-llama/Meta-Llama-3-70B-Instruct", NULL},
        {"h20", NULL},
        {"", NULL},
        {"/", NULL},
        {"meta-", NULL},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const FpModelSpec *spec = fp_model_catalog_find(NULL, cases[i].ask);
        if (!cases[i].want) {
            assert_null(spec);
        } else {
            assert_non_null(spec);
            assert_string_equal(spec->name, cases[i].want);
        }
    }
    assert_null(fp_model_catalog_find(NULL, NULL));
}

/* The alias table: lowercase, unique, and every alias resolves through
 * fp_model_alias_target (the lookup is case-insensitive). */
static void test_catalog_aliases(void **state)
{
    (void)state;
    assert_true(fp_model_aliases_builtin_len >= 19);
    for (size_t i = 0; i < fp_model_aliases_builtin_len; i++) {
        const FpModelAlias *a = &fp_model_aliases_builtin[i];
        g_autofree char *lower = g_ascii_strdown(a->alias, -1);
        assert_string_equal(lower, a->alias);
        assert_non_null(strchr(a->model, '/'));
        g_autofree char *upper = g_ascii_strup(a->alias, -1);
        assert_string_equal(fp_model_alias_target(upper), a->model);
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(fp_model_aliases_builtin[j].alias, a->alias);
        }
    }
    assert_null(fp_model_alias_target("no-such-preset"));
    assert_null(fp_model_alias_target(NULL));
}

static void test_catalog_overrides(void **state)
{
    (void)state;
    g_autoptr(GHashTable) over =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)fp_model_spec_free);
    FpModelSpec *mine = fp_model_spec_new("meta-llama/Llama-3.1-8B-Instruct");
    mine->weights_gib = 20;
    g_hash_table_insert(over, g_strdup(mine->name), mine);
    FpModelSpec *extra = fp_model_spec_new("acme/coder-13b");
    extra->params_b = 13;
    g_hash_table_insert(over, g_strdup(extra->name), extra);

    assert_ptr_equal(fp_model_catalog_find(over, "meta-llama/Llama-3.1-8B-Instruct"), mine);
    assert_ptr_equal(fp_model_catalog_find(over, "llama-3.1-8b-instruct"), mine);
    assert_ptr_equal(fp_model_catalog_find(over, "ACME/Coder-13B"), extra);
    assert_ptr_equal(fp_model_catalog_find(over, "coder-13b"), extra);
    /* Not overridden: the built-in entry. */
    const FpModelSpec *b = fp_model_catalog_find(over, "tiiuae/falcon-7b");
    assert_non_null(b);
    assert_string_equal(b->source, "litgpt+kaito");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_table),
        cmocka_unit_test(test_catalog_aliases),
        cmocka_unit_test(test_moe_counts_total_params),
        cmocka_unit_test(test_model_size_without_catalog),
        cmocka_unit_test(test_kv_dtype),
        cmocka_unit_test(test_bytes_per_param),
        cmocka_unit_test(test_catalog_lookup),
        cmocka_unit_test(test_catalog_overrides),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
