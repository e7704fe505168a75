/*
 * test_kinds.c - the model layer's kinds in the dry run (issue 19, item 4):
 * the pods extender/cli/podfile.c derives from each kind (fixtures in
 * test/data/kinds, facts from the real manifests), and every manifest of
 * ../shared/data/pods through the real `flexplace score` against the test
 * fleet test/data/kinds/fleet.yaml, each with the outcome its own content
 * implies.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "extender/cli/podfile.h"
#include "scoring/model_fit.h"
#include "support/support.h"

/* ---- derived pods ---------------------------------------------------- */

typedef struct {
    GPtrArray *items;
    GPtrArray *notes;
} Loaded;

static void load(Loaded *l, const char *fixture)
{
    g_autofree char *path = fp_test_data_path(fixture);
    g_autoptr(GError) error = NULL;
    l->notes = g_ptr_array_new_with_free_func(g_free);
    l->items = fp_podfile_load_items(path, l->notes, &error);
    if (!l->items) {
        fail_msg("%s: %s", fixture, error->message);
    }
}

static void loaded_clear(Loaded *l)
{
    g_ptr_array_unref(l->items);
    g_ptr_array_unref(l->notes);
}

static const FpPodfileItem *item(const Loaded *l, guint i)
{
    assert_true(i < l->items->len);
    return g_ptr_array_index(l->items, i);
}

static bool has_note(const Loaded *l, const char *needle)
{
    for (guint i = 0; i < l->notes->len; i++) {
        if (strstr(g_ptr_array_index(l->notes, i), needle)) {
            return true;
        }
    }
    return false;
}

#define assert_note(l, needle)                                                                     \
    do {                                                                                           \
        if (!has_note((l), (needle))) {                                                            \
            fail_msg("no note with \"%s\"", (needle));                                             \
        }                                                                                          \
    } while (0)

static const char *ann(const FpPod *pod, const char *key)
{
    return pod->annotations ? g_hash_table_lookup(pod->annotations, key) : NULL;
}

/* Whether every required-affinity term of @pod asks @key In [@value]. */
static bool requires(const FpPod *pod, const char *key, const char *value)
{
    if (!pod->has_required_affinity || pod->n_affinity_terms == 0) {
        return false;
    }
    for (guint t = 0; t < pod->n_affinity_terms; t++) {
        bool found = false;
        const FpSelTerm *term = &pod->affinity_terms[t];
        for (guint e = 0; e < term->n_exprs && !found; e++) {
            const FpSelReq *r = &term->exprs[e];
            found = g_str_equal(r->key, key) && r->op == FP_SEL_IN && r->values && r->values[0] &&
                    g_str_equal(r->values[0], value);
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

static bool tolerates(const FpPod *pod, const char *key)
{
    for (guint t = 0; t < pod->n_tolerations; t++) {
        if (g_strcmp0(pod->tolerations[t].key, key) == 0) {
            return true;
        }
    }
    return false;
}

static gint64 gpus(const FpPod *pod, const char *resource)
{
    return fp_res_list_get(&pod->requests, resource);
}

/* NIMService: one container from spec.image and spec.resources, the
 * pod-level selector and tolerations, the model from the image name. */
static void test_nimservice(void **state)
{
    (void)state;
    Loaded l;
    load(&l, "kinds/nimservice.yaml");
    assert_int_equal(l.items->len, 1);
    const FpPodfileItem *it = item(&l, 0);
    const FpPod *pod = it->pod;
    assert_string_equal(pod->ns, "nim-service");
    assert_string_equal(pod->name, "meta-llama3-8b-instruct");
    assert_string_equal(pod->owner_kind, "NIMService");
    assert_int_equal(gpus(pod, "nvidia.com/gpu"), 2);
    assert_string_equal(g_hash_table_lookup(pod->node_selector, "instanceType"),
                        "g5-gpu-karpenter");
    assert_true(tolerates(pod, "nvidia.com/gpu"));
    assert_string_equal(ann(pod, "flexplace.io/model"), "meta/llama-3.1-8b-instruct");
    assert_non_null(pod->model);
    assert_string_equal(pod->model->name, "meta/llama-3.1-8b-instruct");
    assert_int_equal(it->replicas, 2);
    assert_int_equal(it->group, 0);
    assert_non_null(strstr(it->origin, "(document 1): NIMService nim-service/"));
    assert_note(&l, "NIMCache meta-llama3-8b-instruct");
    loaded_clear(&l);
}

/* KAITO Workspace with a preset: the instance type's GPU count from the
 * catalog (Standard_NC24ads_A100_v4: one A100 80GB), node affinity on the
 * labelSelector and the instance type, KAITO's label and tolerations, the
 * preset as the model.  An instance type the catalog lacks is a note, not
 * a guess. */
static void test_kaito_workspace(void **state)
{
    (void)state;
    Loaded l;
    load(&l, "kinds/workspace-preset.yaml");
    assert_int_equal(l.items->len, 1);
    const FpPod *pod = item(&l, 0)->pod;
    assert_int_equal(gpus(pod, "nvidia.com/gpu"), 1);
    assert_true(requires(pod, "apps", "deepseek-r1-distill-llama-8b"));
    assert_true(requires(pod, "node.kubernetes.io/instance-type", "Standard_NC24ads_A100_v4"));
    assert_true(tolerates(pod, "sku"));
    assert_string_equal(g_hash_table_lookup(pod->labels, "kaito.sh/workspace"),
                        "workspace-deepseek-r1-distill-llama-8b");
    assert_string_equal(pod->model->name, "deepseek-r1-distill-llama-8b");
    assert_int_equal(pod->model->engine, FP_ENGINE_KAITO);
    assert_note(&l, "1 x A100-80GB (PCIe) per pod");
    assert_note(&l, "(document 2): Workspace default/workspace-unknown-vm: skipped: "
                    "resource.instanceType Standard_XY99_v9 is not in the built-in GPU catalog");
    loaded_clear(&l);
}

/* InferenceSet: the template's preset, spec.labelSelector as affinity,
 * spec.replicas; without an instance type one GPU, said in a note. */
static void test_kaito_inferenceset(void **state)
{
    (void)state;
    Loaded l;
    load(&l, "kinds/inferenceset.yaml");
    assert_int_equal(l.items->len, 1);
    const FpPodfileItem *it = item(&l, 0);
    assert_int_equal(gpus(it->pod, "nvidia.com/gpu"), 1);
    assert_true(requires(it->pod, "kaito-inferenceset", "phi-4-mini"));
    assert_string_equal(it->pod->model->name, "phi-4-mini-instruct");
    assert_int_equal(it->replicas, 2);
    assert_note(&l, "without resource.instanceType");
    loaded_clear(&l);
}

/* LLMInferenceService: spec.template's containers, spec.model as the model
 * and its weights location; spec.worker a second pod of the same group. */
static void test_llmisvc(void **state)
{
    (void)state;
    Loaded l;
    load(&l, "kinds/llmisvc.yaml");
    assert_int_equal(l.items->len, 2);
    const FpPodfileItem *main = item(&l, 0), *worker = item(&l, 1);
    assert_int_equal(gpus(main->pod, "nvidia.com/gpu"), 1);
    assert_string_equal(ann(main->pod, "flexplace.io/model"), "Qwen/Qwen2.5-7B-Instruct");
    assert_string_equal(ann(main->pod, "flexplace.io/weights-location"),
                        "hf://Qwen/Qwen2.5-7B-Instruct");
    assert_int_equal(main->replicas, 3);
    assert_int_not_equal(main->group, 0);
    assert_int_equal(worker->group, main->group);
    assert_string_equal(worker->pod->name, "qwen2-7b-instruct-worker");
    loaded_clear(&l);
}

/* KServe InferenceService: the model spec becomes kserve-container with its
 * args and resources; storageUri the storage-initializer annotation, which
 * names the model (hf://); the predictor's nodeSelector stays. */
static void test_isvc(void **state)
{
    (void)state;
    Loaded l;
    load(&l, "kinds/isvc.yaml");
    assert_int_equal(l.items->len, 1);
    const FpPodfileItem *it = item(&l, 0);
    const FpPod *pod = it->pod;
    assert_string_equal(pod->ns, "serving");
    assert_int_equal(gpus(pod, "nvidia.com/gpu"), 1);
    assert_string_equal(g_hash_table_lookup(pod->node_selector, "cloud.google.com/gke-accelerator"),
                        "nvidia-l4");
    assert_string_equal(ann(pod, "internal.serving.kserve.io/storage-initializer-sourceuri"),
                        "hf://meta-llama/Llama-3.1-8B-Instruct");
    assert_string_equal(pod->model->name, "meta-llama/Llama-3.1-8B-Instruct");
    assert_string_equal(g_hash_table_lookup(pod->labels, "serving.kserve.io/inferenceservice"),
                        "huggingface-llama3");
    assert_int_equal(it->replicas, 2);
    assert_note(&l, "model format huggingface");
    loaded_clear(&l);
}

/* RayService: the CPU head is left out (a note), the GPU worker group is a
 * pod with the model of serveConfigV2's runtime_env. */
static void test_rayservice(void **state)
{
    (void)state;
    Loaded l;
    load(&l, "kinds/rayservice.yaml");
    assert_int_equal(l.items->len, 1);
    const FpPodfileItem *it = item(&l, 0);
    assert_string_equal(it->pod->name, "vllm-gpu-group");
    assert_int_equal(gpus(it->pod, "nvidia.com/gpu"), 1);
    assert_string_equal(it->pod->model->name, "mistralai/Mistral-7B-Instruct-v0.3");
    assert_int_equal(it->pod->model->max_model_len, 8192);
    assert_int_equal(it->replicas, 2);
    assert_note(&l, "head group requests no GPU");
    loaded_clear(&l);
}

/* LeaderWorkerSet of size 3: a leader and a worker template standing for
 * two workers, one group; LWS's labels on both. */
static void test_lws(void **state)
{
    (void)state;
    Loaded l;
    load(&l, "kinds/lws.yaml");
    assert_int_equal(l.items->len, 2);
    const FpPodfileItem *leader = item(&l, 0), *worker = item(&l, 1);
    assert_string_equal(leader->pod->name, "vllm-0");
    assert_string_equal(worker->pod->name, "vllm-0-1");
    assert_int_equal(leader->copies, 1);
    assert_int_equal(worker->copies, 2);
    assert_int_not_equal(leader->group, 0);
    assert_int_equal(leader->group, worker->group);
    assert_string_equal(g_hash_table_lookup(leader->pod->labels, "role"), "leader");
    assert_string_equal(
        g_hash_table_lookup(worker->pod->labels, "leaderworkerset.sigs.k8s.io/worker-index"), "1");
    assert_int_equal(leader->pod->model->tensor_parallel, 8);
    assert_int_equal(leader->pod->model->pipeline_parallel, 3);
    assert_non_null(strstr(leader->origin, "LeaderWorkerSet default/vllm, leader"));
    loaded_clear(&l);
}

/* Run:ai annotations: a fraction is one nvidia.com/gpu device, a MIG
 * annotation its MIG resource, gpu-memory a memory floor; nodeName and the
 * other scheduler are said; a fraction above 1 skips the pod with a note. */
static void test_runai(void **state)
{
    (void)state;
    Loaded l;
    load(&l, "kinds/runai.yaml");
    assert_int_equal(l.items->len, 3);
    const FpPod *frac = item(&l, 0)->pod, *mig = item(&l, 1)->pod, *mem = item(&l, 2)->pod;
    assert_int_equal(gpus(frac, "nvidia.com/gpu"), 1);
    assert_null(frac->node_name);
    assert_note(&l, "was bound to i-0b498db53280b86a6 by runai-scheduler");
    assert_int_equal(gpus(mig, "nvidia.com/mig-1g.5gb"), 1);
    assert_int_equal(gpus(mig, "nvidia.com/gpu"), 0);
    assert_int_equal(gpus(mem, "nvidia.com/gpu"), 1);
    assert_string_equal(ann(mem, "flexplace.io/min-gpu-memory"), "20000Mi");
    assert_note(&l, "gpu-fraction: want a number in (0, 1], got \"1.5\"");
    loaded_clear(&l);
}

/* A YAML error after usable documents: they are used, and a note says
 * where the error is; the Service is skipped by kind. */
static void test_broken_tail(void **state)
{
    (void)state;
    Loaded l;
    load(&l, "kinds/broken-tail.yaml");
    assert_int_equal(l.items->len, 1);
    assert_string_equal(item(&l, 0)->pod->name, "chat");
    assert_note(&l, "broken-tail.yaml:24:");
    assert_note(&l, "invalid YAML, the rest of the file is not read; the 2 documents before it "
                    "are used");
    assert_note(&l, "(document 2): skipped a Service document: not a workload");
    loaded_clear(&l);

    /* An error before any usable document is an error, located. */
    static const char text[] = "apiVersion: v1\nkind: Secret\nstringData:\n  t: {{X}}\n";
    g_autoptr(GError) error = NULL;
    GPtrArray *items = fp_podfile_parse_items(text, strlen(text), "s.yaml", NULL, &error);
    assert_null(items);
    assert_non_null(strstr(error->message, "s.yaml:4:"));
}

/* An unknown kind with spec.template is read as a workload (said); one
 * without names the kind and what was looked for. */
static void test_other_kinds(void **state)
{
    (void)state;
    Loaded l;
    load(&l, "kinds/other-kinds.yaml");
    assert_int_equal(l.items->len, 1);
    assert_int_equal(gpus(item(&l, 0)->pod, "nvidia.com/gpu"), 1);
    assert_note(&l, "ModelServer default/custom: not a kind flexplace knows: spec.template used");
    assert_note(&l, "skipped a ModelCache document: not a workload (looked for a Pod, a kind "
                    "extender/cli/README.md lists, or spec.template.spec.containers)");
    loaded_clear(&l);
}

/* One document yields at most 64 pods; the rest are left out with one note. */
static void test_pods_per_document_bound(void **state)
{
    (void)state;
    GString *doc = g_string_new("{\"kind\": \"RayCluster\", \"metadata\": {\"name\": \"big\"}, "
                                "\"spec\": {\"workerGroupSpecs\": [");
    for (int i = 0; i < 70; i++) {
        g_string_append_printf(doc,
                               "%s{\"groupName\": \"g%d\", \"template\": {\"spec\": "
                               "{\"containers\": [{\"name\": \"w\", \"resources\": "
                               "{\"limits\": {\"nvidia.com/gpu\": 1}}}]}}}",
                               i ? ", " : "", i);
    }
    g_string_append(doc, "]}}");
    Loaded l = {.notes = g_ptr_array_new_with_free_func(g_free)};
    g_autoptr(GError) error = NULL;
    l.items = fp_podfile_parse_items(doc->str, doc->len, "big.json", l.notes, &error);
    g_string_free(doc, TRUE);
    assert_non_null(l.items);
    assert_int_equal(l.items->len, 64);
    guint said = 0;
    for (guint i = 0; i < l.notes->len; i++) {
        said += strstr(g_ptr_array_index(l.notes, i), "more than 64 pod templates") != NULL;
    }
    assert_int_equal(said, 1);
    loaded_clear(&l);
}

/* ---- every shared manifest through `flexplace score` ------------------- */

typedef enum {
    PLACED,   /* best node's sku is @sku (and node @node when set) */
    REJECTED, /* no feasible node; @reason among the rejections */
    REFUSED,  /* exit 2, @reason on stderr */
} Outcome;

typedef struct {
    const char *file;
    Outcome outcome;
    const char *resource; /* of the first placement */
    gint64 count;
    const char *sku;    /* PLACED */
    const char *node;   /* PLACED, optional */
    int feasible;       /* PLACED: number of feasible nodes, or -1 */
    const char *reason; /* REJECTED: a rejection reason; REFUSED: stderr */
    const char *note;   /* on stderr, optional */
    const char *why;    /* what in the manifest says so */
} Expect;

/* The fleet: 12 nodes; nvidia.com/gpu on all but the two mixed-MIG nodes;
 * the two AKS nodes tainted sku=gpu.  A 1-GPU pod with no selector and no
 * toleration can run on 12 - 2 - 2 = 8. */
#define FLEET_ANY_GPU 8

static const Expect expectations[] = {
    {"ai-on-eks__nimservice-llama3-8b.yaml", PLACED, "nvidia.com/gpu", 2, "NVIDIA-A10G", "eks-g5-1",
     1, NULL, NULL, "spec.nodeSelector instanceType=g5-gpu-karpenter, 2 GPUs"},
    {"ai-on-eks__rayservice-vllm-gpu.yaml", PLACED, "nvidia.com/gpu", 1, "NVIDIA-A10G", "eks-g5-1",
     1, NULL, "head group requests no GPU",
     "gpu-group: NodeGroupType=g5-gpu-karpenter, type=karpenter, 1 GPU"},
    {"gke-samples__tgi-gemma-2b-it-l4.yaml", PLACED, "nvidia.com/gpu", 1, "NVIDIA-L4", NULL, -1,
     NULL, NULL, "gke-accelerator nvidia-l4"},
    {"gke-samples__tgi-gemma-7b-it-a100-40gb.yaml", PLACED, "nvidia.com/gpu", 2,
     "NVIDIA-A100-SXM4-40GB", NULL, 1, NULL, NULL, "gke-accelerator nvidia-tesla-a100, 2 GPUs"},
    {"gke-samples__tgi-llama3-70b-multi-gpu.yaml", PLACED, "nvidia.com/gpu", 2, "NVIDIA-L4",
     "gke-l4-spot-1", 1, NULL, NULL, "gke-accelerator nvidia-l4 and gke-spot=true"},
    {"gke-samples__triton-single-gpu.yaml", PLACED, "nvidia.com/gpu", 1, "NVIDIA-L4", NULL, -1,
     NULL, NULL, "gke-accelerator nvidia-l4"},
    {"gke-samples__triton-trtllm-gemma.yaml", PLACED, "nvidia.com/gpu", 1, "NVIDIA-L4", NULL, -1,
     NULL, "skipped a ConfigMap document", "document 2, gke-accelerator nvidia-l4"},
    {"gke-samples__vllm-gemma-7b-it-a100-80gb.yaml", PLACED, "nvidia.com/gpu", 2,
     "NVIDIA-A100-SXM4-80GB", "gke-a100-80-1", 1, NULL, NULL, "gke-accelerator nvidia-a100-80gb"},
    {"gke-samples__vllm-gemma-7b-it-h100-80gb.yaml", PLACED, "nvidia.com/gpu", 8,
     "NVIDIA-H100-80GB-HBM3", NULL, 2, NULL, NULL,
     "gke-accelerator nvidia-h100-80gb, compute-class Accelerator, 8 GPUs"},
    {"gke-samples__vllm-gemma2-27b-it-multi-gpu.yaml", PLACED, "nvidia.com/gpu", 4, "NVIDIA-L4",
     NULL, 2, NULL, NULL, "nvidia-l4, gke-gpu-driver-version latest, 4 GPUs"},
    {"gke-samples__vllm-gemma2-2b-it-l4.yaml", PLACED, "nvidia.com/gpu", 1, "NVIDIA-L4", NULL, 2,
     NULL, NULL, "nvidia-l4, gke-gpu-driver-version latest"},
    {"gke-samples__vllm-llama3-405b-multihost-lws-a3.yaml", PLACED, "nvidia.com/gpu", 8,
     "NVIDIA-H100-80GB-HBM3", NULL, 2, NULL, NULL,
     "LWS size 2, 8 GPUs each on nvidia-h100-80gb: the group needs both H100 nodes"},
    {"gke-samples__vllm-llama3-8b-inference-gateway.yaml", REFUSED, NULL, 0, NULL, NULL, -1,
     "vllm-llama3-8b-inference-gateway.yaml:17:", NULL,
     "line 17 indents 'kind:' under 'apiVersion: apps/v1': not YAML"},
    {"gke-samples__vllm-llama4-maverick-fp8.yaml", PLACED, "nvidia.com/gpu", 8,
     "NVIDIA-H100-80GB-HBM3", NULL, 2, NULL, "the 2 documents before it are used",
     "the Deployment (document 1) on nvidia-h100-80gb; {{HF_TOKEN}} breaks document 3"},
    {"kaito__inferenceset-mig-single-strategy.yaml", REJECTED, "nvidia.com/gpu", 1, NULL, NULL, -1,
     "model does not fit GPU memory", NULL,
     "labelSelector kaito-inferenceset=phi-4-mini: only the 1g.5gb MIG node; phi-4-mini's 7.15 "
     "GiB of weights exceed a 4.75 GiB slice"},
    {"kaito__workspace-accelerator.yaml", REJECTED, "nvidia.com/gpu", 2, NULL, NULL, -1,
     "node(s) didn't match Pod's node affinity/selector", NULL,
     "BYO nodes labelled apps=accelerator-llama-3-1-8b-instruct must exist; partition.count 2"},
    {"kaito__workspace-custom-model-nc24ads-a100.yaml", REJECTED, "nvidia.com/gpu", 1, NULL, NULL,
     -1, "node(s) didn't match Pod's node affinity/selector", NULL,
     "no node carries labelSelector apps=custom-llm"},
    {"kaito__workspace-deepseek-r1-distill-llama-8b.yaml", PLACED, "nvidia.com/gpu", 1,
     "NVIDIA-A100-80GB-PCIe", "aks-nc24-kaito-1", 1, NULL, NULL,
     "instanceType Standard_NC24ads_A100_v4 (1 GPU) and apps=deepseek-r1-distill-llama-8b"},
    {"kserve__isvc-autoscale-gpu.yaml", PLACED, "nvidia.com/gpu", 1, NULL, NULL, FLEET_ANY_GPU,
     NULL, NULL, "tensorflow predictor, 1 GPU, no selector"},
    {"kserve__isvc-huggingface-runtime-gpu.yaml", PLACED, "nvidia.com/gpu", 1, NULL, NULL,
     FLEET_ANY_GPU, NULL, "model format huggingface",
     "1 GPU, no selector; Llama-2-7b-chat-hf is not in the catalog: no fit filter"},
    {"kserve__isvc-tensorflow-gpu.yaml", PLACED, "nvidia.com/gpu", 1, NULL, NULL, FLEET_ANY_GPU,
     NULL, NULL, "1 GPU, no selector"},
    {"kserve__isvc-torchserve-gpu.yaml", PLACED, "nvidia.com/gpu", 1, NULL, NULL, FLEET_ANY_GPU,
     NULL, NULL, "1 GPU, no selector"},
    {"kserve__llmisvc-qwen2-7b-gpu.yaml", PLACED, "nvidia.com/gpu", 1, NULL, NULL,
     FLEET_ANY_GPU - 1, "model does not fit GPU memory", NULL,
     "Qwen2.5-7B (14.17 GiB) fits every whole GPU but not the 1g.5gb slice"},
    {"runai-fake-gpu-operator__pod-dump-fractional-gpu-aws.yaml", PLACED, "nvidia.com/gpu", 1, NULL,
     NULL, FLEET_ANY_GPU, NULL, "gpu-fraction",
     "gpu-fraction 0.5: one nvidia.com/gpu device; runai/node-pool DoesNotExist holds"},
    {"runai-fake-gpu-operator__pod-dump-gpu-reservation-aws.yaml", PLACED, "nvidia.com/gpu", 1,
     NULL, NULL, FLEET_ANY_GPU, NULL, "was bound to", "nvidia.com/gpu: 1"},
    {"runai-fake-gpu-operator__pod-dump-mig-1g5gb-gce.yaml", PLACED, "nvidia.com/mig-1g.5gb", 1,
     "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", "gce-a100-mig-mixed", 1, NULL, NULL,
     "annotation nvidia.com/mig-1g.5gb: only the mixed node offers that profile"},
    {"runai-fake-gpu-operator__pod-dump-mig-7g40gb-gce.yaml", PLACED, "nvidia.com/mig-7g.40gb", 1,
     "NVIDIA-A100-SXM4-40GB-MIG-7g.40gb", "gce-a100-mig-7g", 1, NULL, NULL,
     "annotation nvidia.com/mig-7g.40gb"},
    {"vllm-production-stack__vllm-gpu-deployment.yaml", PLACED, "nvidia.com/gpu", 1, NULL, NULL,
     FLEET_ANY_GPU, NULL, NULL, "1 GPU, no selector; Llama-3.2-1B not in the catalog"},
};

static bool rejected_for(json_t *p, const char *reason)
{
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(p, "rejected"), i, g)
    {
        if (g_str_equal(json_string_value(json_object_get(g, "reason")), reason)) {
            return true;
        }
    }
    return false;
}

static void check_one(const char *dir, const char *fleet, const Expect *e)
{
    g_autofree char *path = g_build_filename(dir, e->file, NULL);
    FpTestRun r;
    fp_test_run_flexplace(
        &r, NULL, "score",
        (const char *const[]){"--cluster", fleet, "--pod", path, "-o", "json", NULL});
    if (e->note && !strstr(r.err, e->note)) {
        fail_msg("%s: no \"%s\" on stderr:\n%s", e->file, e->note, r.err);
    }
    if (e->outcome == REFUSED) {
        if (r.status != 2 || !strstr(r.err, e->reason)) {
            fail_msg("%s: exit %d, want 2 with \"%s\":\n%s", e->file, r.status, e->reason, r.err);
        }
        fp_test_run_clear(&r);
        return;
    }
    json_t *doc = json_loads(r.out, 0, NULL);
    if (!doc) {
        fail_msg("%s: exit %d, no JSON:\n%s", e->file, r.status, r.err);
    }
    json_t *p = json_array_get(json_object_get(doc, "placements"), 0);
    json_t *demand = json_object_get(p, "demand");
    json_t *feasible = json_object_get(p, "feasible");
    json_t *best = json_array_get(feasible, 0);
    const char *resource = json_string_value(json_object_get(demand, "resource"));
    gint64 count = json_integer_value(json_object_get(demand, "count"));
    if (g_strcmp0(resource, e->resource) != 0 || count != e->count) {
        fail_msg("%s: demand %s x%" G_GINT64_FORMAT ", want %s x%" G_GINT64_FORMAT, e->file,
                 resource, count, e->resource, e->count);
    }
    if (e->outcome == REJECTED) {
        if (r.status != 3 || json_array_size(feasible) != 0 || !rejected_for(p, e->reason)) {
            fail_msg("%s: exit %d, %zu feasible, want none and \"%s\" (%s)", e->file, r.status,
                     json_array_size(feasible), e->reason, e->why);
        }
    } else {
        const char *sku = json_string_value(json_object_get(best, "sku"));
        const char *node = json_string_value(json_object_get(best, "node"));
        if (r.status != 0 || !best || (e->sku && g_strcmp0(sku, e->sku) != 0) ||
            (e->node && g_strcmp0(node, e->node) != 0) ||
            (e->feasible >= 0 && json_array_size(feasible) != (size_t)e->feasible) ||
            (e->reason && !rejected_for(p, e->reason))) {
            fail_msg("%s: exit %d, best %s (%s) of %zu, want %s (%s) of %d (%s)", e->file, r.status,
                     node, sku, json_array_size(feasible), e->sku ? e->sku : "any",
                     e->node ? e->node : "any", e->feasible, e->why);
        }
    }
    json_decref(doc);
    fp_test_run_clear(&r);
}

/* Every manifest of ../shared/data/pods has an expectation here (a new file
 * fails the test until one is written), and meets it. */
static void test_shared_manifests(void **state)
{
    (void)state;
    char *dir = fp_test_shared_data("pods");
    if (!dir) {
        FP_SKIP("shared-data", "../shared/data/pods not present (set FP_SHARED_DATA)");
    }
    g_autofree char *fleet = fp_test_data_path("kinds/fleet.yaml");
    GDir *d = g_dir_open(dir, 0, NULL);
    assert_non_null(d);
    const char *entry;
    guint n = 0;
    while ((entry = g_dir_read_name(d))) {
        if (!g_str_has_suffix(entry, ".yaml")) {
            continue;
        }
        const Expect *e = NULL;
        for (guint i = 0; i < G_N_ELEMENTS(expectations) && !e; i++) {
            e = g_str_equal(expectations[i].file, entry) ? &expectations[i] : NULL;
        }
        if (!e) {
            fail_msg("%s: no expected outcome written in test_kinds.c", entry);
        }
        check_one(dir, fleet, e);
        n++;
    }
    g_dir_close(d);
    assert_int_equal(n, G_N_ELEMENTS(expectations));
    print_message("%u shared manifests scored as expected\n", n);
    g_free(dir);
}

/* The LWS group as a whole: both 8-GPU pods in the H100 pool; with one H100
 * node taken, no pool has room for both. */
static void test_lws_group(void **state)
{
    (void)state;
    g_autofree char *fleet = fp_test_data_path("kinds/fleet.yaml");
    g_autofree char *lws = fp_test_data_path("kinds/lws.yaml");
    FpTestRun r;
    fp_test_run_flexplace(
        &r, NULL, "score",
        (const char *const[]){"--cluster", fleet, "--pod", lws, "-o", "json", NULL});
    /* Size 3 (24 GPUs): the fleet's H100 pool has 16. */
    assert_int_equal(r.status, 3);
    json_t *doc = json_loads(r.out, 0, NULL);
    assert_non_null(doc);
    json_t *g = json_array_get(json_object_get(doc, "groups"), 0);
    assert_int_equal(json_integer_value(json_object_get(g, "pods")), 3);
    assert_int_equal(json_integer_value(json_object_get(g, "gpus")), 24);
    assert_true(json_is_false(json_object_get(g, "fits")));
    assert_non_null(strstr(json_string_value(json_object_get(g, "reason")),
                           "the closest, h100-pool, has room for 2"));
    /* Each pod alone fits: only the group check sees the problem. */
    assert_int_equal(json_array_size(json_object_get(
                         json_array_get(json_object_get(doc, "placements"), 0), "feasible")),
                     2);
    json_decref(doc);
    fp_test_run_clear(&r);

    /* The table says the same in words. */
    fp_test_run_flexplace(&r, NULL, "score",
                          (const char *const[]){"--cluster", fleet, "--pod", lws, NULL});
    assert_int_equal(r.status, 3);
    assert_non_null(strstr(r.out, "Group: "));
    assert_non_null(strstr(r.out, "3 pods (a leader and 2 workers), 24 nvidia.com/gpu in all"));
    assert_non_null(strstr(r.out, "Does not fit"));
    fp_test_run_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nimservice),
        cmocka_unit_test(test_kaito_workspace),
        cmocka_unit_test(test_kaito_inferenceset),
        cmocka_unit_test(test_llmisvc),
        cmocka_unit_test(test_isvc),
        cmocka_unit_test(test_rayservice),
        cmocka_unit_test(test_lws),
        cmocka_unit_test(test_runai),
        cmocka_unit_test(test_broken_tail),
        cmocka_unit_test(test_other_kinds),
        cmocka_unit_test(test_pods_per_document_bound),
        cmocka_unit_test(test_lws_group),
        cmocka_unit_test(test_shared_manifests),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
