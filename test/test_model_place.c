/*
 * test/test_model_place.c - the model in placement: pods decoded from JSON
 * (cache/kobj.c reads their model through cache/pod_model.c), the demand's
 * checks (malformed model annotations, fewer GPUs than the tensor-parallel
 * degree, an unknown model said once), the fit filter of the engine on L4
 * and H100 nodes (GFD memory 23034 and 81559 MiB), and the policy's
 * `models` and `modelFit` keys.  Expected fits are the hand-computed cases
 * of test_model_fit.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <string.h>

#include "cache/kobj.h"
#include "policies/policy_load.h"
#include "scoring/engine.h"
#include "support/support.h"

static FpNode *mk_node(const char *name, const char *product, const char *mib, int64_t gpus)
{
    FpNode *n = fp_node_new(name);
    fp_node_set_label(n, "nvidia.com/gpu.product", product);
    fp_node_set_label(n, "nvidia.com/gpu.memory", mib);
    fp_res_list_set(&n->allocatable, "nvidia.com/gpu", gpus);
    return n;
}

/* A pending pod: @gpus GPUs, the annotations JSON object @ann and the
 * container args JSON array @args (either may be NULL). */
static FpPod *mk_pod(int gpus, const char *ann, const char *args)
{
    g_autofree char *text = g_strdup_printf(
        "{\"metadata\":{\"name\":\"llm-0\",\"namespace\":\"default\",\"annotations\":%s},"
        "\"spec\":{\"containers\":[{\"name\":\"vllm\",\"image\":\"vllm/vllm-openai:v0.10.0\","
        "\"command\":[\"python3\",\"-m\",\"vllm.entrypoints.openai.api_server\"],\"args\":%s,"
        "\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"%d\"}}}]}}",
        ann ? ann : "{}", args ? args : "[]", gpus);
    json_error_t jerr;
    json_t *obj = json_loads(text, 0, &jerr);
    assert_non_null(obj);
    GError *err = NULL;
    FpPod *pod = fp_pod_from_json(obj, FP_POD_FULL, &err);
    json_decref(obj);
    if (!pod) {
        fail_msg("pod: %s", err->message);
    }
    return pod;
}

typedef struct {
    FpNode *l4;   /* 4 x L4 */
    FpNode *h100; /* 8 x H100 */
} Fleet;

static int fleet_setup(void **state)
{
    Fleet *f = g_new0(Fleet, 1);
    f->l4 = mk_node("l4-node", "NVIDIA-L4", "23034", 4);
    f->h100 = mk_node("h100-node", "NVIDIA-H100-80GB-HBM3", "81559", 8);
    *state = f;
    return 0;
}

static int fleet_teardown(void **state)
{
    Fleet *f = *state;
    fp_node_unref(f->l4);
    fp_node_unref(f->h100);
    g_free(f);
    return 0;
}

/* Evaluate @pod on both nodes under @policy; verdicts in out[0] (L4), out[1] (H100). */
static void place(const Fleet *f, const FpPolicy *policy, const FpPod *pod, FpDemand **demand,
                  FpVerdict out[2])
{
    *demand = fp_demand_new(pod, policy);
    FpCandidate c[2] = {{.node = f->l4, .name = f->l4->name},
                        {.node = f->h100, .name = f->h100->name}};
    FpEvalContext ctx = {.policy = policy, .demand = *demand};
    fp_evaluate(&ctx, c, 2, out);
}

static void expect(const FpVerdict *v, const char *reason)
{
    if (!reason) {
        if (!v->pass) {
            fail_msg("expected a pass, got \"%s\"", v->reason);
        }
        return;
    }
    assert_false(v->pass);
    assert_string_equal(v->reason, reason);
    assert_true(v->unresolvable);
}

static void test_fit_filter(void **state)
{
    const Fleet *f = *state;
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    static const struct {
        int gpus;
        const char *ann, *args;
        const char *l4, *h100; /* expected reason, NULL = passes */
    } cases[] = {
        /* 18.06 of 20.24 GiB on an L4 */
        {1, NULL,
         "[\"--model=meta-llama/Llama-3.1-8B-Instruct\",\"--max-model-len=4096\","
         "\"--gpu-memory-utilization=0.9\"]",
         NULL, NULL},
        /* 33.56 GiB at 128k: not an L4, an H100 (71.68) */
        {1, NULL,
         "[\"--model\",\"meta-llama/Llama-3.1-8B-Instruct\",\"--max-model-len\",\"131072\","
         "\"--gpu-memory-utilization\",\"0.9\"]",
         FP_REASON_MODEL_FIT, NULL},
        /* vLLM defaults: the model's 131072 tokens, 0.9: the same */
        {1, NULL, "[\"--model=meta-llama/Llama-3.1-8B-Instruct\"]", FP_REASON_MODEL_FIT, NULL},
        /* 70B bf16, KAITO's 0.84: TP 2 needs 69.11 of 66.90 GiB on an H100 */
        {2,
         "{\"flexplace.io/model\":\"meta-llama/Meta-Llama-3.1-70B\","
         "\"flexplace.io/tensor-parallel\":\"2\"}",
         NULL, FP_REASON_MODEL_FIT, FP_REASON_MODEL_FIT},
        /* ...TP 4: 35.70 GiB, fits an H100, not an L4 (18.90) */
        {4,
         "{\"flexplace.io/model\":\"meta-llama/Meta-Llama-3.1-70B\","
         "\"flexplace.io/tensor-parallel\":\"4\"}",
         NULL, FP_REASON_MODEL_FIT, NULL},
        /* A model the catalog does not know: no model terms. */
        {1, NULL, "[\"--model=acme/secret-model\"]", NULL, NULL},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(FpPod) pod = mk_pod(cases[i].gpus, cases[i].ann, cases[i].args);
        FpDemand *d = NULL;
        FpVerdict v[2];
        place(f, policy, pod, &d, v);
        print_message("case %zu: L4 %s, H100 %s%s%s\n", i, v[0].pass ? "pass" : v[0].reason,
                      v[1].pass ? "pass" : v[1].reason, d->model_note ? "; " : "",
                      d->model_note ? d->model_note : "");
        assert_null(d->invalid_reason);
        expect(&v[0], cases[i].l4);
        expect(&v[1], cases[i].h100);
        fp_demand_free(d);
    }
}

static void test_unknown_model_note(void **state)
{
    const Fleet *f = *state;
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    g_autoptr(FpPod) pod = mk_pod(1, NULL, "[\"--model=acme/secret-model\"]");
    FpDemand *d = NULL;
    FpVerdict v[2];
    place(f, policy, pod, &d, v);
    assert_false(d->model_known);
    assert_non_null(d->model_note);
    assert_non_null(strstr(d->model_note, "acme/secret-model is not in the model catalog"));
    fp_demand_free(d);
    /* A pod without any model: no note, no model terms. */
    g_autoptr(FpPod) plain = mk_pod(1, NULL, NULL);
    assert_null(plain->model);
    place(f, policy, plain, &d, v);
    assert_false(d->model_known);
    assert_null(d->model_note);
    fp_demand_free(d);
}

static void test_invalid_pods(void **state)
{
    const Fleet *f = *state;
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    static const struct {
        int gpus;
        const char *ann, *args, *reason, *detail;
    } cases[] = {
        {2, NULL, "[\"--model=meta-llama/Meta-Llama-3.1-70B\",\"--tensor-parallel-size=4\"]",
         FP_REASON_TP_GPUS, "tensor parallel 4 but the pod requests 2 nvidia.com/gpu"},
        {1, "{\"flexplace.io/tensor-parallel\":\"8\"}", NULL, FP_REASON_TP_GPUS,
         "tensor parallel 8 but the pod requests 1"},
        {1, "{\"flexplace.io/tensor-parallel\":\"eight\"}", NULL,
         FP_REASON_BAD_ANNOTATION_PREFIX "flexplace.io/tensor-parallel", "want an integer"},
        {1, "{\"flexplace.io/model-size\":\"huge\"}", NULL,
         FP_REASON_BAD_ANNOTATION_PREFIX "flexplace.io/model-size", "billions"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(FpPod) pod = mk_pod(cases[i].gpus, cases[i].ann, cases[i].args);
        FpDemand *d = NULL;
        FpVerdict v[2];
        place(f, policy, pod, &d, v);
        assert_non_null(d->invalid_reason);
        print_message("%s: %s\n", d->invalid_reason, d->invalid_detail);
        assert_string_equal(d->invalid_reason, cases[i].reason);
        assert_non_null(strstr(d->invalid_detail, cases[i].detail));
        expect(&v[0], cases[i].reason);
        expect(&v[1], cases[i].reason);
        fp_demand_free(d);
    }
}

static void test_policy_models(void **state)
{
    const Fleet *f = *state;
    static const char doc[] =
        "models:\n"
        "  acme/coder-13b: {params: 13, layers: 40, kvHeads: 40, headDim: 128}\n"
        "  meta-llama/Llama-3.1-8B-Instruct: {weightsGiB: 20}\n"
        "modelFit: {overheadGiB: 3, defaultUtilization: 0.8, "
        "defaultContext: 4096}\n";
    FpPolicyReport *report = fp_policy_report_new();
    g_autoptr(FpPolicy) policy = fp_policy_load_buffer(doc, strlen(doc), "models.yaml", report);
    assert_non_null(policy);
    fp_policy_report_free(report);
    assert_true(policy->fit.overhead_gib == 3);
    assert_true(policy->fit.default_utilization == 0.8);
    assert_int_equal(policy->fit.default_context, 4096);
    assert_true(policy->fit.weight_factor == 1.02); /* not written: the default */
    const FpModelSpec *coder = fp_model_catalog_find(policy->models, "acme/coder-13b");
    assert_non_null(coder);
    assert_string_equal(coder->source, "policy");
    /* The override keeps the built-in facts it does not write. */
    const FpModelSpec *llama = fp_model_catalog_find(policy->models, "llama-3.1-8b-instruct");
    assert_non_null(llama);
    assert_true(llama->weights_gib == 20);
    assert_int_equal(llama->layers, 32);
    assert_int_equal(llama->kv_heads, 8);

    /* coder-13b: 13e9*2 B = 24.2144 GiB; 1.02x = 24.6987 + 3 + 4096 x
     * (2*40*40*128*2 = 819200 B) = 3.125 GiB -> 30.82 GiB: not an L4
     * (22.49*0.8 = 18.0), an H100 (79.65*0.8 = 63.7). */
    g_autoptr(FpPod) pod = mk_pod(1, "{\"flexplace.io/model\":\"acme/coder-13b\"}", NULL);
    FpDemand *d = NULL;
    FpVerdict v[2];
    place(f, policy, pod, &d, v);
    assert_true(d->model_known);
    expect(&v[0], FP_REASON_MODEL_FIT);
    expect(&v[1], NULL);
    fp_demand_free(d);
}

static void test_policy_models_errors(void **state)
{
    (void)state;
    static const struct {
        const char *doc, *says;
    } cases[] = {
        {"models: {a/b: {layers: 3}}\n", "needs weightsGiB or params"},
        {"models: {a/b: {params: -1}}\n", "out of range"},
        {"models: {a/b: {params: 7, layers: 2.5}}\n", "whole number"},
        {"models: {a/b: {params: 7, dtype: int3}}\n", "unknown dtype"},
        {"models: {a/b: {params: 7, quantization: magic}}\n", "unknown quantization"},
        {"models: {a/b: {params: 7, weights: 3}}\n", "weights"},
        {"models: {\"a b\": {params: 7}}\n", "without blanks"},
        {"modelFit: {defaultUtilization: 1.5}\n", "out of range"},
        {"modelFit: {weightFactor: 0.5}\n", "out of range"},
        {"modelFit: {overhead: 2}\n", "overhead"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        FpPolicyReport *report = fp_policy_report_new();
        FpPolicy *policy =
            fp_policy_load_buffer(cases[i].doc, strlen(cases[i].doc), "bad.yaml", report);
        g_autofree char *text = fp_policy_report_join_errors(report, "\n");
        print_message("%s\n", text);
        assert_null(policy);
        assert_non_null(strstr(text, cases[i].says));
        fp_policy_report_free(report);
    }
}

/* score -o wide and -o json on the bundled demo cluster: a 70B bf16 pod on
 * two GPUs fits no node (80 GiB H100: 88.8 GiB needed at vLLM's full
 * 131072-token context), and the output says so per device. */
static void test_score_explains_fit(void **state)
{
    (void)state;
    g_autofree char *dir = g_dir_make_tmp("fp-model-XXXXXX", NULL);
    g_autofree char *pod = g_build_filename(dir, "pod.yaml", NULL);
    static const char yaml[] = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: llama-70b\n"
                               "  annotations:\n"
                               "    flexplace.io/model: meta-llama/Meta-Llama-3.1-70B\n"
                               "    flexplace.io/tensor-parallel: \"2\"\n"
                               "spec:\n  containers:\n  - name: vllm\n"
                               "    image: vllm/vllm-openai:v0.10.0\n"
                               "    resources: {limits: {nvidia.com/gpu: 2}}\n";
    assert_true(g_file_set_contents(pod, yaml, -1, NULL));
    const char *wide[] = {"--demo", "--pod", pod, "-o", "wide", NULL};
    FpTestRun r;
    fp_test_run_flexplace(&r, NULL, "score", wide);
    print_message("%s", r.out);
    assert_non_null(strstr(r.out, "Model: meta-llama/Meta-Llama-3.1-70B (from annotation "
                                  "flexplace.io/model); weights 130.39 GiB, tensor parallel 2, "
                                  "context 131072 tokens x 327680 B KV, memory utilisation 0.90"));
    assert_non_null(strstr(r.out, FP_REASON_MODEL_FIT));
    /* 1.02*130.385/2 + 2.3 + 131072*327680 B/2 (20 GiB) = 88.8 vs 80*0.9 */
    assert_non_null(strstr(r.out, "88.8/72.0"));
    fp_test_run_clear(&r);

    const char *json[] = {"--demo", "--pod", pod, "-o", "json", NULL};
    fp_test_run_flexplace(&r, NULL, "score", json);
    json_t *doc = json_loads(r.out, 0, NULL);
    assert_non_null(doc);
    json_t *m = json_object_get(
        json_object_get(json_array_get(json_object_get(doc, "placements"), 0), "demand"), "model");
    assert_true(json_is_true(json_object_get(m, "known")));
    assert_int_equal(json_integer_value(json_object_get(m, "tensorParallel")), 2);
    assert_int_equal(json_integer_value(json_object_get(m, "contextTokens")), 131072);
    json_decref(doc);
    fp_test_run_clear(&r);
    g_unlink(pod);
    g_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fit_filter, fleet_setup, fleet_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_model_note, fleet_setup, fleet_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_pods, fleet_setup, fleet_teardown),
        cmocka_unit_test_setup_teardown(test_policy_models, fleet_setup, fleet_teardown),
        cmocka_unit_test(test_policy_models_errors),
        cmocka_unit_test(test_score_explains_fit),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
