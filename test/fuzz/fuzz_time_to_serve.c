/*
 * test/fuzz/fuzz_time_to_serve.c - the time-to-serve parsers: the weights
 * location (flexplace.io/weights-location, fp_weights_location_parse), the
 * limit flexplace.io/max-time-to-serve-s, image references (fp_image_key)
 * on the pod and in a Node's status.images, and model-cache labels.
 *
 * Input: lines.  Line 1 is the weights location, line 2 the limit, line 3
 * the model name, line 4 the pod's image; every further line is an image
 * name a Node reports (a line starting with '#' starts the next image).
 * The location is parsed alone, then the pod (annotations, a vLLM
 * container) and the Node are decoded from JSON as the cache would, and
 * the pod is placed on the demo cluster plus that Node under a policy with
 * a store entry (the Node is removed again after each run, so the shared
 * demo view is what every other run sees).  Invariants: a refused location says why, a PVC names
 * its claim; a Node keeps at most FP_NODE_MAX_IMAGE_NAMES sorted, distinct keys; every verdict with
 * an estimate has finite, non-negative parts that add up, and the limit's reason carries its
 * prefix.
 */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "cache/kobj.h"
#include "cache/placement.h"
#include "cache/pod_model.h"
#include "policies/policy_load.h"
#include "scoring/engine.h"
#include "scoring/time_to_serve.h"
#include "test/fuzz/fuzz.h"

#define MAX_LINES 64

static const FpPolicy *store_policy(void)
{
    static FpPolicy *policy;
    if (!policy) {
        static const char text[] = "transfer:\n"
                                   "  stores:\n"
                                   "    - {prefix: 's3://models/', region: us-east-1}\n"
                                   "    - {prefix: 'gs://w/', cloud: gcp}\n"
                                   "profiles:\n"
                                   "  default: {weights: {cost: 1, timeToServe: 2}}\n";
        policy = fp_policy_load_buffer(text, sizeof text - 1, "fuzz.yaml", NULL);
        FP_FUZZ_CHECK(policy != NULL);
    }
    return policy;
}

static void check_location(const char *s)
{
    FpWeightsLocation loc;
    const char *error = NULL;
    if (fp_weights_location_parse(s, &loc, &error)) {
        FP_FUZZ_CHECK(loc.kind >= FP_LOC_NONE && loc.kind <= FP_LOC_OTHER);
        FP_FUZZ_CHECK((loc.kind == FP_LOC_PVC) == (loc.claim != NULL));
    } else {
        FP_FUZZ_CHECK(error != NULL && *error);
    }
    fp_weights_location_clear(&loc);
    char label[FP_MODEL_CACHE_LABEL_MAX];
    fp_model_cache_label(s, label, sizeof label);
    FP_FUZZ_CHECK(strlen(label) == strlen(FP_MODEL_CACHE_LABEL_PREFIX) + 16);
}

static FpNode *node_with_images(char **lines, guint n)
{
    json_t *images = json_array();
    json_t *names = NULL;
    for (guint i = 4; i < n; i++) {
        if (!names || lines[i][0] == '#') {
            names = json_array();
            json_array_append_new(images, json_pack("{s:o, s:I}", "names", names, "sizeBytes",
                                                    (json_int_t)(i * 1048576 * 512)));
        }
        json_array_append_new(names, json_string(lines[i]));
    }
    json_t *obj =
        json_pack("{s:{s:s, s:{s:s, s:s, s:s}}, s:{}, s:{s:{s:s}, s:o}}", "metadata", "name",
                  "fuzz-node", "labels", "nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3",
                  "topology.kubernetes.io/region", "us-east-1", "karpenter.sh/nodepool", "fuzz",
                  "spec", "status", "allocatable", "nvidia.com/gpu", "8", "images", images);
    FpNode *node = fp_node_from_json(obj, NULL);
    json_decref(obj);
    FP_FUZZ_CHECK(node != NULL);
    FP_FUZZ_CHECK(node->n_images <= FP_NODE_MAX_IMAGE_NAMES);
    for (guint i = 1; i < node->n_images; i++) {
        FP_FUZZ_CHECK(node->image_keys[i - 1] < node->image_keys[i]);
    }
    return node;
}

static FpPod *pod_from(char **lines, guint n)
{
    json_t *ann = json_object();
    if (n > 0) {
        json_object_set_new(ann, FP_ANN_WEIGHTS_LOCATION, json_string(lines[0]));
    }
    if (n > 1 && *lines[1]) {
        json_object_set_new(ann, FP_ANN_MAX_TTS, json_string(lines[1]));
    }
    const char *model = n > 2 && *lines[2] ? lines[2] : "meta-llama/Llama-3.1-8B-Instruct";
    json_t *obj = json_pack("{s:{s:s, s:s, s:s, s:o}, s:{s:[{s:s, s:s, s:[s, s], s:{s:{s:s}}}]}}",
                            "metadata", "name", "fuzz-pod", "namespace", "default", "uid",
                            "fuzz-uid", "annotations", ann, "spec", "containers", "name", "vllm",
                            "image", n > 3 ? lines[3] : "vllm/vllm-openai", "args", "--model",
                            model, "resources", "limits", "nvidia.com/gpu", "1");
    FpPod *pod = obj ? fp_pod_from_json(obj, FP_POD_FULL, NULL) : NULL;
    json_decref(obj);
    return pod;
}

static void check_verdicts(const FpPlacement *pl)
{
    for (guint i = 0; i < pl->n; i++) {
        const FpVerdict *v = &pl->verdicts[i];
        FP_FUZZ_CHECK(v->pass || v->reason != NULL);
        FP_FUZZ_CHECK(v->score >= 0 && v->score <= 10 && !isnan(v->total));
        if (!v->tts_known) {
            continue;
        }
        const FpTts *t = &v->tts;
        FP_FUZZ_CHECK(t->pull_s >= 0 && t->transfer_s >= 0 && t->load_s >= 0);
        FP_FUZZ_CHECK(isfinite(t->total_s) && t->egress_usd >= 0);
        FP_FUZZ_CHECK(fabs(t->total_s - (t->pull_s + t->transfer_s + t->load_s)) < 1e-6);
        FP_FUZZ_CHECK(fp_weight_source_name(t->source) != NULL);
        FP_FUZZ_CHECK(v->pass || v->reason[0]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fp_fuzz_init();
    char *text = g_strndup((const char *)data, size);
    char **lines = g_strsplit(text, "\n", MAX_LINES + 1);
    guint n = MIN(g_strv_length(lines), MAX_LINES);
    for (guint i = 0; i < n; i++) {
        check_location(lines[i]);
        guint64 key = fp_image_key(lines[i]);
        FP_FUZZ_CHECK(key != 0 || !*lines[i] || strlen(lines[i]) > 1024);
    }
    FpPod *pod = pod_from(lines, n);
    FpNode *node = node_with_images(lines, n);
    if (pod) {
        FpView *view = fp_fuzz_demo_view();
        fp_view_apply_node(view, fp_node_ref(node));
        guint nd = 0;
        const char *const *demo = fp_fuzz_demo_names(&nd);
        const char **names = g_new0(const char *, nd + 2);
        memcpy(names, demo, nd * sizeof *names);
        names[nd] = "fuzz-node";
        FpCandidates cands = {.names = names, .n = nd + 1};
        FpPlacement *pl = fp_placement_evaluate(view, store_policy(), pod, &cands);
        check_verdicts(pl);
        fp_placement_free(pl);
        fp_view_remove_node(view, "fuzz-node");
        g_free(names);
        fp_pod_unref(pod);
    }
    fp_node_unref(node);
    g_strfreev(lines);
    g_free(text);
    return 0;
}
