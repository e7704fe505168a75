/*
 * test/fuzz/fuzz_pod_model.c - the model parsers (cache/pod_model.h) and
 * the fit formula behind them (scoring/model_fit.h).
 *
 * Input: YAML or JSON documents (the shared pod manifests are seeds): every
 * pod template in them is read with fp_pod_model_from_json.  Input that is
 * not YAML is used raw: the first line as flexplace.io/ annotations
 * ("key=value" pairs separated by ';'; a bare value goes to each key in
 * turn), the rest as an "sh -c" script whose words are expanded against a
 * small env and read as engine flags.  Every request must hold values in
 * their documented ranges, an invalid one must say so in printable text,
 * and its plan and fit must be finite on devices of 1 MiB to 1 TiB.
 */
#include <math.h>
#include <string.h>

#include "cache/pod_model.h"
#include "cache/yamljson.h"
#include "test/fuzz/fuzz.h"

static bool printable(const char *s)
{
    for (; s && *s; s++) {
        if (!g_ascii_isprint(*s)) {
            return false;
        }
    }
    return true;
}

static void check_request(const FpModelRequest *req)
{
    if (!req) {
        return;
    }
    FP_FUZZ_CHECK(req->tensor_parallel >= 0 && req->tensor_parallel <= 1024);
    FP_FUZZ_CHECK(req->pipeline_parallel >= 0 && req->pipeline_parallel <= 1024);
    FP_FUZZ_CHECK(req->max_model_len >= 0 && req->max_model_len <= G_MAXINT32);
    FP_FUZZ_CHECK(req->gpu_memory_utilization >= 0 && req->gpu_memory_utilization <= 1);
    FP_FUZZ_CHECK(req->params_b >= 0 && isfinite(req->params_b));
    FP_FUZZ_CHECK(req->weights_gib >= 0 && isfinite(req->weights_gib));
    FP_FUZZ_CHECK(!req->name || (strlen(req->name) <= 256 && printable(req->name)));
    FP_FUZZ_CHECK(!req->weights_location ||
                  strlen(req->weights_location) <= FP_POD_MODEL_MAX_VALUE);
    FP_FUZZ_CHECK(!req->invalid || (printable(req->invalid) && strlen(req->invalid) < 400));

    FpFitConstants k;
    fp_fit_constants_default(&k);
    const FpModelSpec *spec = fp_model_catalog_find(NULL, req->name);
    FpModelPlan plan;
    if (!fp_model_plan(req, spec, &k, &plan)) {
        return;
    }
    FP_FUZZ_CHECK(plan.tensor_parallel >= 1 && plan.pipeline_parallel >= 1);
    FP_FUZZ_CHECK(plan.context >= 1 && plan.utilization > 0 && plan.utilization <= 1);
    for (double gib = 1.0 / 1024; gib <= 1024; gib *= 32) {
        FpFit fit;
        fp_model_fit(&plan, &k, gib, &fit);
        FP_FUZZ_CHECK(isfinite(fit.need_gib) && fit.need_gib > 0 && isfinite(fit.usable_gib));
    }
}

static void walk(const json_t *v, const json_t *parent, guint depth)
{
    if (depth > 64) {
        return;
    }
    if (json_is_object(v)) {
        if (json_object_get(v, "containers") && parent) {
            FpModelRequest *req = fp_pod_model_from_json(parent);
            check_request(req);
            fp_model_request_free(req);
        }
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)v, key, child)
        {
            walk(child, v, depth + 1);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child)
        {
            walk(child, NULL, depth + 1);
        }
    }
}

static const char *const keys[] = {FP_ANN_MODEL, FP_ANN_MODEL_SIZE, FP_ANN_TENSOR_PARALLEL,
                                   FP_ANN_MAX_MODEL_LEN, FP_ANN_WEIGHTS_LOCATION};

static void raw(const char *text)
{
    const char *nl = strchr(text, '\n');
    g_autofree char *first = g_strndup(text, nl ? (gsize)(nl - text) : strlen(text));
    json_t *ann = json_object();
    g_auto(GStrv) pairs = g_strsplit(first, ";", 8);
    for (guint i = 0; pairs[i]; i++) {
        const char *eq = strchr(pairs[i], '=');
        const char *key = keys[i % G_N_ELEMENTS(keys)];
        const char *value = eq ? eq + 1 : pairs[i];
        json_object_set_new(ann, key, json_string_nocheck(value));
    }
    json_t *env = json_pack("[{s:s, s:s}, {s:s, s:s}]", "name", "M", "value", "org/model-8b",
                            "name", "TP", "value", "4");
    json_t *pod = json_pack("{s:{s:o}, s:{s:[{s:s, s:[s, s, s], s:o}]}}", "metadata", "annotations",
                            ann, "spec", "containers", "image", "vllm/vllm-openai", "command", "sh",
                            "-c", nl ? nl + 1 : "", "env", env);
    FpModelRequest *req = fp_pod_model_from_json(pod);
    check_request(req);
    fp_model_request_free(req);
    json_decref(pod);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024) {
        return 0;
    }
    g_autofree char *text = g_strndup((const char *)data, size);
    FpDocs *docs = fp_docs_parse((const char *)data, size, "fuzz", NULL);
    if (docs) {
        for (guint d = 0; d < fp_docs_count(docs); d++) {
            json_t *doc = fp_docs_get(docs, d);
            if (json_object_get(json_object_get(doc, "spec"), "containers")) {
                FpModelRequest *req = fp_pod_model_from_json(doc);
                check_request(req);
                fp_model_request_free(req);
            }
            walk(doc, NULL, 0);
        }
        fp_docs_free(docs);
    }
    raw(text);
    return 0;
}
