/*
 * test/test_pod_model.c - knowing the model from the pod (cache/pod_model.h):
 * the flexplace annotations (strict), engine flags in both spellings, in
 * args and in shell strings, $(VAR) expansion, TGI env, KServe and KAITO
 * hints, source precedence, and every pod template of the real manifests in
 * ../shared/data/pods with the model each one names (read off the files by
 * hand), skipped when the shared data is absent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glib.h>
#include <jansson.h>
#include <string.h>

#include "cache/pod_model.h"
#include "cache/yamljson.h"
#include "support/support.h"

static FpModelRequest *from_text(const char *json)
{
    json_error_t err;
    json_t *pod = json_loads(json, 0, &err);
    if (!pod) {
        fail_msg("bad test JSON: %s", err.text);
    }
    FpModelRequest *req = fp_pod_model_from_json(pod);
    json_decref(pod);
    return req;
}

static void test_annotations(void **state)
{
    (void)state;
    g_autoptr(FpModelRequest) r =
        from_text("{\"metadata\":{\"annotations\":{\"flexplace.io/model\":\"meta-llama/"
                  "Llama-3.1-8B-Instruct\","
                  "\"flexplace.io/model-size\":\"8B\",\"flexplace.io/tensor-parallel\":\"2\","
                  "\"flexplace.io/max-model-len\":\"32k\",\"flexplace.io/weights-location\":"
                  "\"s3://models/llama\"}},"
                  "\"spec\":{\"containers\":[{\"image\":\"vllm/"
                  "vllm-openai\",\"args\":[\"--model=other/model\","
                  "\"--tensor-parallel-size=4\",\"--max-model-len\",\"4096\"]}]}}");
    assert_non_null(r);
    assert_null(r->invalid);
    /* Annotations win over the args. */
    assert_string_equal(r->name, "meta-llama/Llama-3.1-8B-Instruct");
    assert_string_equal(r->name_from, "annotation flexplace.io/model");
    assert_true(r->params_b == 8);
    assert_int_equal(r->tensor_parallel, 2);
    assert_int_equal(r->max_model_len, 32000);
    assert_string_equal(r->weights_location, "s3://models/llama");
    assert_int_equal(r->engine, FP_ENGINE_VLLM);

    g_autoptr(FpModelRequest) bytes =
        from_text("{\"metadata\":{\"annotations\":{\"flexplace.io/model-size\":\"140Gi\"}}}");
    assert_non_null(bytes);
    assert_true(bytes->weights_gib == 140);
    assert_true(bytes->params_b == 0);
}

static void test_bad_annotations(void **state)
{
    (void)state;
    static const struct {
        const char *key, *value, *says;
    } cases[] = {
        {"flexplace.io/tensor-parallel", "0", "1..1024"},
        {"flexplace.io/tensor-parallel", "2048", "1..1024"},
        {"flexplace.io/tensor-parallel", "two", "1..1024"},
        {"flexplace.io/tensor-parallel", "-1", "1..1024"},
        {"flexplace.io/max-model-len", "0", "tokens"},
        {"flexplace.io/max-model-len", "3000000000", "tokens"},
        {"flexplace.io/max-model-len", "1.5", "tokens"},
        {"flexplace.io/max-model-len", "8kb", "tokens"},
        {"flexplace.io/model-size", "seventy", "billions"},
        {"flexplace.io/model-size", "-70B", "billions"},
        {"flexplace.io/model-size", "1Ki", "billions"},
        {"flexplace.io/model-size", "B", "billions"},
        {"flexplace.io/model", "", "model id"},
        {"flexplace.io/model", "has space", "model id"},
        {"flexplace.io/model", "llama-\xc3\xa9", "model id"},
        {"flexplace.io/weights-location", "a\tb", "URI"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        json_t *pod =
            json_pack("{s:{s:{s:s}}}", "metadata", "annotations", cases[i].key, cases[i].value);
        g_autoptr(FpModelRequest) r = fp_pod_model_from_json(pod);
        json_decref(pod);
        assert_non_null(r);
        assert_non_null(r->invalid);
        print_message("%s=%s -> %s\n", cases[i].key, cases[i].value, r->invalid);
        assert_true(g_str_has_prefix(r->invalid, cases[i].key));
        assert_non_null(strstr(r->invalid, cases[i].says));
    }
    /* A long hostile value is quoted only in part. */
    g_autofree char *big = g_strnfill(10000, 'x');
    json_t *pod =
        json_pack("{s:{s:{s:s}}}", "metadata", "annotations", "flexplace.io/tensor-parallel", big);
    g_autoptr(FpModelRequest) r = fp_pod_model_from_json(pod);
    json_decref(pod);
    assert_non_null(r->invalid);
    assert_true(strlen(r->invalid) < 200);
}

static void test_flag_spellings(void **state)
{
    (void)state;
    const char *eq[] = {"python3",
                        "-m",
                        "vllm.entrypoints.openai.api_server",
                        "--model=Qwen/Qwen2.5-7B",
                        "--tensor_parallel_size=2",
                        "--pipeline-parallel-size=3",
                        "--max-model-len=8K",
                        "--dtype=bfloat16",
                        "--quantization=awq",
                        "--gpu-memory-utilization=0.95",
                        "--kv-cache-dtype=fp8"};
    const char *sp[] = {"vllm",
                        "serve",
                        "Qwen/Qwen2.5-7B",
                        "-tp",
                        "2",
                        "-pp",
                        "3",
                        "--max-model-len",
                        "8K",
                        "--dtype",
                        "bfloat16",
                        "-q",
                        "awq",
                        "--gpu-memory-utilization",
                        "0.95",
                        "--kv-cache-dtype",
                        "fp8"};
    struct {
        const char **argv;
        guint argc;
        const char *from;
    } runs[] = {{eq, G_N_ELEMENTS(eq), "vllm --model"}, {sp, G_N_ELEMENTS(sp), "vllm serve"}};
    for (size_t i = 0; i < G_N_ELEMENTS(runs); i++) {
        g_autoptr(FpModelRequest) r = fp_model_request_new();
        fp_pod_model_args(r, runs[i].argv, runs[i].argc);
        assert_int_equal(r->engine, FP_ENGINE_VLLM);
        assert_string_equal(r->name, "Qwen/Qwen2.5-7B");
        assert_string_equal(r->name_from, runs[i].from);
        assert_int_equal(r->tensor_parallel, 2);
        assert_int_equal(r->pipeline_parallel, 3);
        assert_int_equal(r->max_model_len, 8192);
        assert_string_equal(r->dtype, "bfloat16");
        assert_string_equal(r->quantization, "awq");
        assert_true(r->gpu_memory_utilization == 0.95);
        assert_string_equal(r->kv_cache_dtype, "fp8");
    }
    /* SGLang. */
    const char *sg[] = {
        "python3",          "-m",    "sglang.launch_server",  "--model-path", "org/m", "--tp", "4",
        "--context-length", "16384", "--mem-fraction-static", "0.8"};
    g_autoptr(FpModelRequest) s = fp_model_request_new();
    fp_pod_model_args(s, sg, G_N_ELEMENTS(sg));
    assert_int_equal(s->engine, FP_ENGINE_SGLANG);
    assert_string_equal(s->name, "org/m");
    assert_int_equal(s->tensor_parallel, 4);
    assert_int_equal(s->max_model_len, 16384);
    assert_true(s->gpu_memory_utilization == 0.8);
    /* Values that do not parse are ignored, a flag without a value too. */
    const char *bad[] = {"vllm",
                         "serve",
                         "--model",
                         "--tensor-parallel-size=x",
                         "--max-model-len=auto",
                         "--gpu-memory-utilization=1.5",
                         "--dtype"};
    g_autoptr(FpModelRequest) b = fp_model_request_new();
    fp_pod_model_args(b, bad, G_N_ELEMENTS(bad));
    assert_null(b->name);
    assert_int_equal(b->tensor_parallel, 0);
    assert_int_equal(b->max_model_len, 0);
    assert_true(b->gpu_memory_utilization == 0);
    assert_null(b->dtype);
    assert_null(b->invalid);
}

static void test_shell_and_env(void **state)
{
    (void)state;
    g_autoptr(FpModelRequest) r = from_text(
        "{\"spec\":{\"containers\":[{\"name\":\"side\",\"image\":\"busybox\",\"args\":[\"--model="
        "wrong\"]},"
        "{\"name\":\"main\",\"image\":\"x\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"8\"}},"
        "\"env\":[{\"name\":\"M\",\"value\":\"meta-llama/Meta-Llama-3.1-405B-Instruct\"},"
        "{\"name\":\"TP\",\"value\":\"8\"},{\"name\":\"SECRET\",\"valueFrom\":{}}],"
        "\"command\":[\"/bin/bash\",\"-c\",\"ray start --head; python3 -m "
        "vllm.entrypoints.openai.api_server "
        "--port 8080 --model $(M) --tensor-parallel-size ${TP} \\\\\\n --pipeline-parallel-size "
        "'2' "
        "--dtype $SECRET && echo done\"]}]}}");
    assert_non_null(r);
    /* The GPU container is read first, the sidecar's --model comes too late. */
    assert_string_equal(r->name, "meta-llama/Meta-Llama-3.1-405B-Instruct");
    assert_int_equal(r->engine, FP_ENGINE_VLLM);
    assert_int_equal(r->tensor_parallel, 8);
    assert_int_equal(r->pipeline_parallel, 2);
    /* $SECRET comes from a secret: unknown, not taken literally. */
    assert_null(r->dtype);

    g_autoptr(GPtrArray) w = g_ptr_array_new_with_free_func(g_free);
    fp_shell_split("a 'b c' \"d\\\"e\" f\\ g;h&&i | j\\\nk", w, 100);
    const char *want[] = {"a", "b c", "d\"e", "f g", ";", "h", "&&", "i", "|", "jk"};
    assert_int_equal(w->len, G_N_ELEMENTS(want));
    for (guint i = 0; i < w->len; i++) {
        assert_string_equal(g_ptr_array_index(w, i), want[i]);
    }
    g_autoptr(GHashTable) env = g_hash_table_new(g_str_hash, g_str_equal);
    g_hash_table_insert(env, (gpointer) "A", (gpointer) "1");
    g_autofree char *x = fp_expand_env("$(A)-${A}-$A-$$(A)-$(B)-$-${A", env);
    assert_string_equal(x, "1-1-1-$$(A)-$(B)-$-${A");
}

static void test_tgi_kserve_kaito(void **state)
{
    (void)state;
    g_autoptr(FpModelRequest) tgi = from_text(
        "{\"spec\":{\"containers\":[{\"image\":\"ghcr.io/huggingface/text-generation-inference:2\","
        "\"env\":[{\"name\":\"MODEL_ID\",\"value\":\"meta-llama/Meta-Llama-3-70B-Instruct\"},"
        "{\"name\":\"NUM_SHARD\",\"value\":\"2\"},{\"name\":\"QUANTIZE\",\"value\":\"bitsandbytes-"
        "nf4\"},"
        "{\"name\":\"MAX_TOTAL_TOKENS\",\"value\":\"4096\"}]}]}}");
    assert_non_null(tgi);
    assert_int_equal(tgi->engine, FP_ENGINE_TGI);
    assert_string_equal(tgi->name_from, "env MODEL_ID");
    assert_int_equal(tgi->tensor_parallel, 2);
    assert_int_equal(tgi->max_model_len, 4096);
    assert_string_equal(tgi->quantization, "bitsandbytes-nf4");

    g_autoptr(FpModelRequest) ks =
        from_text("{\"metadata\":{\"labels\":{\"serving.kserve.io/inferenceservice\":\"x\"}},"
                  "\"spec\":{\"initContainers\":[{\"name\":\"storage-initializer\",\"args\":"
                  "[\"hf://Qwen/Qwen2.5-7B\",\"/mnt/"
                  "models\"]}],\"containers\":[{\"image\":\"kserve/huggingfaceserver\","
                  "\"args\":[\"--model_dir=/mnt/models\"]}]}}");
    assert_non_null(ks);
    assert_int_equal(ks->engine, FP_ENGINE_KSERVE);
    assert_string_equal(ks->name, "Qwen/Qwen2.5-7B");
    assert_string_equal(ks->weights_location, "hf://Qwen/Qwen2.5-7B");

    g_autoptr(FpModelRequest) kaito =
        from_text("{\"metadata\":{\"labels\":{\"kaito.sh/"
                  "workspace\":\"ws\"}},\"spec\":{\"containers\":[{\"image\":"
                  "\"mcr.microsoft.com/aks/kaito/vllm\",\"args\":[\"--model=phi-4-mini-instruct\","
                  "\"--gpu-memory-utilization=0.84\"]}]}}");
    assert_non_null(kaito);
    assert_int_equal(kaito->engine, FP_ENGINE_KAITO);
    assert_string_equal(kaito->name, "phi-4-mini-instruct");

    /* Nothing about a model: NULL. */
    assert_null(from_text("{\"spec\":{\"containers\":[{\"image\":\"nginx\"}]}}"));
    assert_null(from_text("{\"spec\":{\"containers\":[{\"image\":\"vllm/vllm-openai\"}]}}"));
    assert_null(from_text("[]"));
}

static void test_context_len(void **state)
{
    (void)state;
    assert_int_equal(fp_parse_context_len("4096"), 4096);
    assert_int_equal(fp_parse_context_len("1k"), 1000);
    assert_int_equal(fp_parse_context_len("1K"), 1024);
    assert_int_equal(fp_parse_context_len("25.6k"), 25600);
    assert_int_equal(fp_parse_context_len("2m"), 2000000);
    assert_int_equal(fp_parse_context_len("1.5"), -1);
    assert_int_equal(fp_parse_context_len("2G"), -1); /* over 2^31-1 */
    assert_int_equal(fp_parse_context_len("auto"), -1);
    assert_int_equal(fp_parse_context_len("-1"), -1);
    assert_int_equal(fp_parse_context_len(""), -1);
    assert_int_equal(fp_parse_context_len(NULL), -1);
}

/* ---- the real manifests ------------------------------------------- */

/* Every pod template of a document: an object with a "containers" array is
 * a PodSpec; its parent holds the template's metadata. */
static void collect_templates(json_t *v, json_t *parent, GPtrArray *out)
{
    if (json_is_object(v)) {
        if (json_is_array(json_object_get(v, "containers")) && parent) {
            g_ptr_array_add(out, parent);
            return;
        }
        const char *key;
        json_t *child;
        json_object_foreach(v, key, child)
        {
            collect_templates(child, v, out);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child)
        {
            collect_templates(child, NULL, out);
        }
    }
}

typedef struct {
    const char *file;
    guint index;      /* index among the file's pod templates */
    const char *name; /* NULL: the template names no model */
    FpEngine engine;
    int tp, pp;
    int64_t len;
    double util;
    const char *quant, *dtype;
    bool bad_yaml;
} Manifest;

/* Read off each file by hand. */
#define M(f, t, n, e, ...)                                                                         \
    {                                                                                              \
        .file = f, .index = t, .name = n, .engine = e, __VA_ARGS__                                 \
    }
static const Manifest manifests[] = {
    M("gke-samples__tgi-gemma-2b-it-l4.yaml", 0, "google/gemma-2b-it", FP_ENGINE_TGI, .tp = 1),
    M("gke-samples__tgi-gemma-7b-it-a100-40gb.yaml", 0, "google/gemma-7b-it", FP_ENGINE_TGI,
      .tp = 2),
    M("gke-samples__tgi-llama3-70b-multi-gpu.yaml", 0, "meta-llama/Meta-Llama-3-70B-Instruct",
      FP_ENGINE_TGI, .tp = 2, .quant = "bitsandbytes-nf4"),
    M("gke-samples__vllm-gemma-7b-it-a100-80gb.yaml", 0, "google/gemma-7b-it", FP_ENGINE_VLLM,
      .tp = 2),
    M("gke-samples__vllm-gemma-7b-it-h100-80gb.yaml", 0, "google/gemma-7b-it", FP_ENGINE_VLLM,
      .tp = 8),
    M("gke-samples__vllm-gemma2-27b-it-multi-gpu.yaml", 0, "google/gemma-2-27b-it", FP_ENGINE_VLLM,
      .tp = 4),
    M("gke-samples__vllm-gemma2-2b-it-l4.yaml", 0, "google/gemma-2-2b-it", FP_ENGINE_VLLM, .tp = 1),
    M("gke-samples__vllm-llama3-405b-multihost-lws-a3.yaml", 0,
      "meta-llama/Meta-Llama-3.1-405B-Instruct", FP_ENGINE_VLLM, .tp = 8, .pp = 2),
    M("gke-samples__vllm-llama3-405b-multihost-lws-a3.yaml", 1, NULL, FP_ENGINE_UNKNOWN, .tp = 0),
    /* Stored with a broken indentation at line 17: not YAML. */
    M("gke-samples__vllm-llama3-8b-inference-gateway.yaml", 0, NULL, FP_ENGINE_UNKNOWN,
      .bad_yaml = true),
    M("gke-samples__vllm-llama4-maverick-fp8.yaml", 0,
      "meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8", FP_ENGINE_VLLM, .tp = 8, .len = 524288,
      .util = 0.90),
    M("vllm-production-stack__vllm-gpu-deployment.yaml", 0, "meta-llama/Llama-3.2-1B-Instruct",
      FP_ENGINE_VLLM, .tp = 1),
    M("gke-samples__triton-single-gpu.yaml", 0, NULL, FP_ENGINE_UNKNOWN, .tp = 0),
    M("kaito__workspace-custom-model-nc24ads-a100.yaml", 0, "<MODEL_ID>", FP_ENGINE_UNKNOWN,
      .dtype = "float16"),
    M("runai-fake-gpu-operator__pod-dump-fractional-gpu-aws.yaml", 0, NULL, FP_ENGINE_UNKNOWN,
      .tp = 0),
    M("runai-fake-gpu-operator__pod-dump-mig-1g5gb-gce.yaml", 0, NULL, FP_ENGINE_UNKNOWN, .tp = 0),
};

static void test_real_manifests(void **state)
{
    (void)state;
    const char *shared = g_getenv("FP_SHARED_DATA");
    g_autofree char *dir = shared ? g_build_filename(shared, "pods", NULL) : NULL;
    if (!dir || !g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        FP_SKIP("shared-data", "../shared/data/pods not present (set FP_SHARED_DATA)");
    }
    for (size_t i = 0; i < G_N_ELEMENTS(manifests); i++) {
        const Manifest *m = &manifests[i];
        g_autofree char *path = g_build_filename(dir, m->file, NULL);
        /* Documents one by one: a template placeholder such as
         * "{{HF_TOKEN}}" in a Secret must not hide the Deployment. */
        g_autofree char *text = NULL;
        assert_true(g_file_get_contents(path, &text, NULL, NULL));
        g_auto(GStrv) parts = g_regex_split_simple("^---[ \t]*$", text, G_REGEX_MULTILINE, 0);
        g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func((GDestroyNotify)fp_docs_free);
        g_autoptr(GPtrArray) tpls = g_ptr_array_new();
        guint bad = 0;
        for (guint p = 0; parts[p]; p++) {
            GError *err = NULL;
            FpDocs *docs = fp_docs_parse(parts[p], strlen(parts[p]), m->file, &err);
            if (!docs) {
                print_message("%s: document %u: %s\n", m->file, p, err->message);
                g_clear_error(&err);
                bad++;
                continue;
            }
            g_ptr_array_add(all, docs);
            for (guint d = 0; d < fp_docs_count(docs); d++) {
                json_t *doc = fp_docs_get(docs, d);
                /* A bare Pod is its own template. */
                if (json_is_array(json_object_get(json_object_get(doc, "spec"), "containers"))) {
                    g_ptr_array_add(tpls, doc);
                } else {
                    collect_templates(doc, NULL, tpls);
                }
            }
        }
        if (m->bad_yaml) {
            assert_int_equal(tpls->len, 0);
            assert_true(bad > 0);
            continue;
        }
        assert_true(m->index < tpls->len);
        g_autoptr(FpModelRequest) r = fp_pod_model_from_json(g_ptr_array_index(tpls, m->index));
        print_message("%s[%u]: %s (%s) tp %d pp %d len %" G_GINT64_FORMAT "\n", m->file, m->index,
                      r && r->name ? r->name : "-", r ? fp_engine_name(r->engine) : "-",
                      r ? r->tensor_parallel : 0, r ? r->pipeline_parallel : 0,
                      r ? r->max_model_len : 0);
        if (!m->name) {
            assert_null(r);
            continue;
        }
        assert_non_null(r);
        assert_null(r->invalid);
        assert_string_equal(r->name, m->name);
        assert_int_equal(r->engine, m->engine);
        assert_int_equal(r->tensor_parallel, m->tp);
        assert_int_equal(r->pipeline_parallel, m->pp);
        assert_int_equal(r->max_model_len, m->len);
        assert_true(r->gpu_memory_utilization == m->util);
        if (m->quant) {
            assert_string_equal(r->quantization, m->quant);
        }
        if (m->dtype) {
            assert_string_equal(r->dtype, m->dtype);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_annotations),      cmocka_unit_test(test_bad_annotations),
        cmocka_unit_test(test_flag_spellings),   cmocka_unit_test(test_shell_and_env),
        cmocka_unit_test(test_tgi_kserve_kaito), cmocka_unit_test(test_context_len),
        cmocka_unit_test(test_real_manifests),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
