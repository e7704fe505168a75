/*
 * test/test_kobj.c - Node and Pod decoding (cache/kobj.h).
 *
 * Fixtures in test/data/kobj/: GPU nodes (GFD labels, taints, NotReady,
 * numbers as quantities), pods with init containers, sidecars, overhead,
 * pod-level resources, limits-only GPUs, affinity with every operator,
 * terminating and finished pods, and bad-objects.json, a table of malformed
 * objects with the exact error each must give.  When the shared reference
 * data is present, the real Node and Pod objects captured from clusters and
 * from a real kube-scheduler are decoded too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <malloc.h>
#include <string.h>

#include "cache/kobj.h"
#include "cache/yamljson.h"
#include "support/support.h"

#define GiB (INT64_C(1) << 30)
#define MiB (INT64_C(1) << 20)
#define KiB (INT64_C(1) << 10)

static json_t *load_fixture(const char *name)
{
    g_autofree char *rel = g_build_filename("kobj", name, NULL);
    g_autofree char *path = fp_test_data_path(rel);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        fail_msg("%s:%d: %s", path, jerr.line, jerr.text);
    }
    return root;
}

static FpNode *node_fixture(const char *name)
{
    json_t *root = load_fixture(name);
    g_autoptr(GError) error = NULL;
    FpNode *node = fp_node_from_json(root, &error);
    json_decref(root);
    if (!node) {
        fail_msg("%s: %s", name, error->message);
    }
    return node;
}

static FpPod *pod_fixture(const char *name, FpPodDetail detail)
{
    json_t *root = load_fixture(name);
    g_autoptr(GError) error = NULL;
    FpPod *pod = fp_pod_from_json(root, detail, &error);
    json_decref(root);
    if (!pod) {
        fail_msg("%s: %s", name, error->message);
    }
    return pod;
}

/* The resource list must be exactly @want (name, value pairs, NULL-ended),
 * in ascending name order. */
static void assert_res(const FpResList *list, const char *first, ...)
{
    va_list ap;
    guint n = 0;
    va_start(ap, first);
    for (const char *name = first; name; name = va_arg(ap, const char *)) {
        int64_t value = va_arg(ap, int64_t);
        if (!fp_res_list_has(list, name)) {
            fail_msg("resource %s missing", name);
        }
        if (fp_res_list_get(list, name) != value) {
            fail_msg("resource %s = %" G_GINT64_FORMAT ", want %" G_GINT64_FORMAT, name,
                     fp_res_list_get(list, name), value);
        }
        n++;
    }
    va_end(ap);
    assert_int_equal(list->len, n);
    for (guint i = 1; i < list->len; i++) {
        assert_true(strcmp(list->items[i - 1].name, list->items[i].name) < 0);
    }
}

/* ---- nodes ------------------------------------------------------------- */

static void test_node_gpu(void **state)
{
    (void)state;
    g_autoptr(FpNode) node = node_fixture("node-gpu-h100.json");
    assert_string_equal(node->name, "gpu-h100-0");
    assert_string_equal(node->resource_version, "81234");
    assert_string_equal(fp_node_label(node, "nvidia.com/gpu.product"), "NVIDIA-H100-80GB-HBM3");
    assert_string_equal(fp_node_label(node, "nvidia.com/gpu.memory"), "81559");
    assert_string_equal(fp_node_label(node, "topology.kubernetes.io/region"), "us-east-1");
    assert_string_equal(fp_node_label(node, "empty-label"), "");
    assert_null(fp_node_label(node, "nvidia.com/gpu.clique"));
    assert_int_equal(g_hash_table_size(node->labels), 13);
    assert_false(node->unschedulable);
    assert_true(node->ready);

    /* the null entry is skipped, unknown effects are kept as OTHER */
    assert_int_equal(node->n_taints, 4);
    assert_string_equal(node->taints[0].key, "nvidia.com/gpu");
    assert_string_equal(node->taints[0].value, "present");
    assert_int_equal(node->taints[0].effect, FP_TAINT_NO_SCHEDULE);
    assert_string_equal(node->taints[1].key, "flexplace.io/spot");
    assert_null(node->taints[1].value);
    assert_int_equal(node->taints[1].effect, FP_TAINT_PREFER_NO_SCHEDULE);
    assert_null(node->taints[2].value);
    assert_int_equal(node->taints[2].effect, FP_TAINT_NO_EXECUTE);
    assert_int_equal(node->taints[3].effect, FP_TAINT_OTHER);

    /* cpu in milli, the rest Value(); numbers accepted; null is zero */
    assert_res(&node->allocatable, "cpu", INT64_C(191450), "ephemeral-storage",
               INT64_C(27102318141), "example.com/half", INT64_C(1), "example.com/nothing",
               INT64_C(0), "hugepages-1Gi", INT64_C(0), "hugepages-2Mi", INT64_C(0), "memory",
               INT64_C(2113660748) * KiB, "nvidia.com/gpu", INT64_C(8), "pods", INT64_C(110),
               "vpc.amazonaws.com/efa", INT64_C(32), NULL);
}

typedef struct {
    const char *file;
    const char *name;
    bool ready;
    bool unschedulable;
    guint n_taints;
    guint n_labels;
    const char *gpu_resource;
    int64_t gpus;
    int64_t cpu_milli;
} NodeCase;

static void test_node_states(void **state)
{
    (void)state;
    static const NodeCase cases[] = {
        {"node-notready.json", "gpu-l4-7", false, true, 2, 1, "nvidia.com/gpu", 1, 7910},
        {"node-minimal.json", "bare", true, false, 0, 0, "nvidia.com/gpu", 0, 0},
        {"node-unknown.json", "lost", false, false, 0, 0, "amd.com/gpu", 8, 1500},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const NodeCase *c = &cases[i];
        g_autoptr(FpNode) node = node_fixture(c->file);
        assert_string_equal(node->name, c->name);
        assert_int_equal(node->ready, c->ready);
        assert_int_equal(node->unschedulable, c->unschedulable);
        assert_int_equal(node->n_taints, c->n_taints);
        assert_non_null(node->labels);
        assert_int_equal(g_hash_table_size(node->labels), c->n_labels);
        assert_int_equal(fp_res_list_get(&node->allocatable, c->gpu_resource), c->gpus);
        assert_int_equal(fp_res_list_get(&node->allocatable, "cpu"), c->cpu_milli);
        assert_null(node->resource_version);
    }
    g_autoptr(FpNode) l4 = node_fixture("node-notready.json");
    assert_int_equal(fp_res_list_get(&l4->allocatable, "memory"), INT64_C(32734584) * KiB);
    assert_string_equal(l4->taints[1].key, "node.kubernetes.io/not-ready");
}

/* ---- pods -------------------------------------------------------------- */

static void test_pod_init_sidecar_full(void **state)
{
    (void)state;
    g_autoptr(FpPod) pod = pod_fixture("pod-init-sidecar.json", FP_POD_FULL);
    assert_string_equal(pod->ns, "inference");
    assert_string_equal(pod->name, "llm-7b-5d8f9-abcde");
    assert_string_equal(pod->uid, "3b1e6c1e-5d7a-4f4e-9a55-0c2f1f3c9e11");
    assert_string_equal(pod->resource_version, "991");
    assert_string_equal(pod->node_name, "gpu-h100-0");
    assert_string_equal(pod->scheduler_name, "flexplace-scheduler");
    assert_int_equal(pod->priority, 1000);
    assert_int_equal(pod->phase, FP_PHASE_RUNNING);
    assert_false(pod->terminating);
    assert_true(fp_pod_is_active(pod));
    assert_string_equal(g_hash_table_lookup(pod->labels, "app"), "llm-7b");
    assert_string_equal(fp_pod_annotation(pod, "flexplace.io/profile"), "latency-critical");
    assert_string_equal(fp_pod_annotation(pod, "flexplace.io/min-gpu-memory"), "40Gi");
    assert_null(fp_pod_annotation(pod, "flexplace.io/gpu-sku"));
    assert_int_equal(g_hash_table_size(pod->node_selector), 2);
    assert_string_equal(g_hash_table_lookup(pod->node_selector, "nvidia.com/gpu.present"), "true");
    assert_false(pod->has_required_affinity);
    assert_int_equal(pod->n_affinity_terms, 0);

    /* the controller owner wins over the first one */
    assert_string_equal(pod->owner_kind, "ReplicaSet");
    assert_string_equal(pod->owner_name, "llm-7b-5d8f9");
    assert_string_equal(pod->owner_uid, "0c8b4d51-2f4e-4a7e-8c61-3c1f0e6f1a22");

    /*
     * containers: cpu 500m+250m, memory 1Gi+512Mi, GPU 2 (limit only)
     * + sidecar: cpu 100m, memory 128Mi          -> 850m, 1664Mi, 2
     * init needs: fetch 2 / 256Mi; warmup 1+0.1 / 4Gi+128Mi / GPU 1
     * max                                        -> 2, 4224Mi, 2
     * + overhead 250m, 120Mi                     -> 2250m, 4344Mi, 2
     */
    assert_res(&pod->requests, "cpu", INT64_C(2250), "memory", INT64_C(4344) * MiB,
               "nvidia.com/gpu", INT64_C(2), NULL);
    assert_non_null(pod->resource_keys);
    assert_int_equal(g_strv_length(pod->resource_keys), 3);
    assert_string_equal(pod->resource_keys[0], "cpu");
    assert_string_equal(pod->resource_keys[1], "memory");
    assert_string_equal(pod->resource_keys[2], "nvidia.com/gpu");

    assert_int_equal(pod->n_tolerations, 5);
    const FpToleration *t = pod->tolerations;
    assert_null(t[0].key);
    assert_true(t[0].op_exists);
    assert_int_equal(t[0].effect, -1);
    assert_string_equal(t[1].key, "nvidia.com/gpu");
    assert_false(t[1].op_exists);
    assert_string_equal(t[1].value, "present");
    assert_int_equal(t[1].effect, FP_TAINT_NO_SCHEDULE);
    assert_false(t[2].op_exists); /* operator defaults to Equal */
    assert_int_equal(t[2].effect, FP_TAINT_PREFER_NO_SCHEDULE);
    assert_true(t[3].op_exists);
    assert_int_equal(t[3].effect, FP_TAINT_NO_EXECUTE);
    assert_string_equal(t[4].value, "v");
    assert_int_equal(t[4].effect, -1); /* "" = every effect */
}

static void test_pod_cache_detail(void **state)
{
    (void)state;
    g_autoptr(FpPod) pod = pod_fixture("pod-init-sidecar.json", FP_POD_CACHE);
    assert_string_equal(pod->ns, "inference");
    assert_string_equal(pod->name, "llm-7b-5d8f9-abcde");
    assert_string_equal(pod->uid, "3b1e6c1e-5d7a-4f4e-9a55-0c2f1f3c9e11");
    assert_string_equal(pod->node_name, "gpu-h100-0");
    assert_int_equal(pod->priority, 1000);
    assert_int_equal(pod->phase, FP_PHASE_RUNNING);
    assert_string_equal(pod->owner_uid, "0c8b4d51-2f4e-4a7e-8c61-3c1f0e6f1a22");
    assert_string_equal(pod->owner_kind, "ReplicaSet");
    /* only extended resources are kept */
    assert_res(&pod->requests, "nvidia.com/gpu", INT64_C(2), NULL);
    assert_null(pod->labels);
    assert_null(pod->annotations);
    assert_null(pod->node_selector);
    assert_null(pod->resource_keys);
    assert_null(pod->tolerations);
    assert_null(pod->affinity_terms);
    assert_null(pod->scheduler_name);
    assert_null(pod->resource_version);
    assert_int_equal(pod->n_tolerations, 0);
}

static void assert_req(const FpSelReq *r, const char *key, FpSelOp op, const char *const *values)
{
    assert_string_equal(r->key, key);
    assert_int_equal(r->op, op);
    assert_non_null(r->values);
    guint n = 0;
    for (; values[n]; n++) {
        assert_non_null(r->values[n]);
        assert_string_equal(r->values[n], values[n]);
    }
    assert_null(r->values[n]);
}

static void test_pod_affinity(void **state)
{
    (void)state;
    g_autoptr(FpPod) pod = pod_fixture("pod-affinity.json", FP_POD_FULL);
    assert_true(pod->has_required_affinity);
    assert_int_equal(pod->n_affinity_terms, 3);
    const FpSelTerm *t0 = &pod->affinity_terms[0];
    assert_int_equal(t0->n_exprs, 6);
    assert_req(&t0->exprs[0], "nvidia.com/gpu.product", FP_SEL_IN,
               (const char *const[]){"NVIDIA-H100-80GB-HBM3", "NVIDIA-A100-SXM4-80GB", NULL});
    assert_req(&t0->exprs[1], "flexplace.io/pool", FP_SEL_NOT_IN,
               (const char *const[]){"spot-pool", NULL});
    assert_req(&t0->exprs[2], "nvidia.com/gpu.present", FP_SEL_EXISTS, (const char *const[]){NULL});
    assert_req(&t0->exprs[3], "example.com/broken", FP_SEL_DOES_NOT_EXIST,
               (const char *const[]){NULL});
    assert_req(&t0->exprs[4], "nvidia.com/gpu.memory", FP_SEL_GT,
               (const char *const[]){"40000", NULL});
    assert_req(&t0->exprs[5], "nvidia.com/gpu.count", FP_SEL_LT, (const char *const[]){"9", NULL});
    assert_int_equal(t0->n_fields, 1);
    assert_req(&t0->fields[0], "metadata.name", FP_SEL_IN,
               (const char *const[]){"gpu-h100-0", "gpu-h100-1", NULL});
    const FpSelTerm *t1 = &pod->affinity_terms[1];
    assert_int_equal(t1->n_exprs, 0);
    assert_int_equal(t1->n_fields, 1);
    assert_req(&t1->fields[0], "metadata.name", FP_SEL_NOT_IN, (const char *const[]){"bad", NULL});
    /* a null term is an empty term (matches no node) */
    assert_int_equal(pod->affinity_terms[2].n_exprs + pod->affinity_terms[2].n_fields, 0);
    /* pending, limits-only GPU */
    assert_false(fp_pod_is_active(pod));
    assert_res(&pod->requests, "nvidia.com/gpu", INT64_C(1), NULL);
    assert_string_equal(pod->resource_keys[0], "nvidia.com/gpu");
    assert_null(pod->resource_keys[1]);
}

typedef struct {
    const char *file;
    const char *ns;
    const char *node; /* NULL: unbound */
    FpPodPhase phase;
    bool terminating;
    bool active;
    int32_t priority;
    const char *gpu_resource;
    int64_t gpus;
} PodCase;

static void test_pod_states(void **state)
{
    (void)state;
    static const PodCase cases[] = {
        {"pod-terminating.json", "capx", "capx-node-1", FP_PHASE_RUNNING, true, true, 10,
         "nvidia.com/gpu", 1},
        {"pod-succeeded.json", "jobs", "gpu-l4-7", FP_PHASE_SUCCEEDED, false, false, 0,
         "nvidia.com/gpu", 1},
        {"pod-pending.json", "default", NULL, FP_PHASE_PENDING, false, false, -5, "amd.com/gpu", 4},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const PodCase *c = &cases[i];
        for (int detail = FP_POD_FULL; detail <= FP_POD_CACHE; detail++) {
            g_autoptr(FpPod) pod = pod_fixture(c->file, (FpPodDetail)detail);
            assert_string_equal(pod->ns, c->ns);
            if (c->node) {
                assert_string_equal(pod->node_name, c->node);
            } else {
                assert_null(pod->node_name);
            }
            assert_int_equal(pod->phase, c->phase);
            assert_int_equal(pod->terminating, c->terminating);
            assert_int_equal(fp_pod_is_active(pod), c->active);
            assert_int_equal(pod->priority, c->priority);
            assert_int_equal(fp_res_list_get(&pod->requests, c->gpu_resource), c->gpus);
            assert_null(pod->owner_uid);
        }
    }
}

static void test_pod_level_resources(void **state)
{
    (void)state;
    /* pod-level requests replace cpu/memory; the hugepages limit becomes the
     * request; numbers are quantities; overhead adds (null adds nothing) */
    g_autoptr(FpPod) pod = pod_fixture("pod-pod-level.json", FP_POD_FULL);
    assert_res(&pod->requests, "cpu", INT64_C(4100), "hugepages-2Mi", 4 * MiB, "memory", 8 * GiB,
               "nvidia.com/gpu", INT64_C(1), NULL);
    assert_int_equal(g_strv_length(pod->resource_keys), 3);

    /* limits only: memory defaults to the pod limit, cpu keeps the
     * containers' aggregate, unsupported names are ignored */
    g_autoptr(FpPod) lim = pod_fixture("pod-pod-level-limits.json", FP_POD_FULL);
    assert_res(&lim->requests, "cpu", INT64_C(1000), "memory", 6 * GiB, "nvidia.com/gpu",
               INT64_C(1), NULL);
}

static void test_exact_sums(void **state)
{
    (void)state;
    /* 0.5 + 0.5 bytes is 1 (not 2 from rounding each container); 0.1m +
     * 0.1m cpu reads as 1m; "0" keys are present */
    g_autoptr(FpPod) pod = pod_fixture("pod-exact-sums.json", FP_POD_FULL);
    assert_res(&pod->requests, "cpu", INT64_C(1), "example.com/limit-only", INT64_C(0),
               "example.com/zero", INT64_C(0), "memory", INT64_C(1), NULL);
    const char *want[] = {"cpu", "example.com/limit-only", "example.com/zero", "memory", NULL};
    assert_int_equal(g_strv_length(pod->resource_keys), 4);
    for (guint i = 0; want[i]; i++) {
        assert_string_equal(pod->resource_keys[i], want[i]);
    }
}

/* ---- malformed input ----------------------------------------------------- */

static FpKobjError code_from_name(const char *s)
{
    if (strcmp(s, "TYPE") == 0) {
        return FP_KOBJ_ERROR_TYPE;
    }
    if (strcmp(s, "MISSING") == 0) {
        return FP_KOBJ_ERROR_MISSING;
    }
    if (strcmp(s, "QUANTITY") == 0) {
        return FP_KOBJ_ERROR_QUANTITY;
    }
    if (strcmp(s, "VALUE") == 0) {
        return FP_KOBJ_ERROR_VALUE;
    }
    fail_msg("unknown code %s", s);
    return FP_KOBJ_ERROR_TYPE;
}

static void test_bad_objects(void **state)
{
    (void)state;
    json_t *cases = load_fixture("bad-objects.json");
    assert_true(json_array_size(cases) >= 30);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *kind = json_string_value(json_object_get(c, "kind"));
        const char *message = json_string_value(json_object_get(c, "message"));
        FpKobjError code = code_from_name(json_string_value(json_object_get(c, "code")));
        json_t *obj = json_object_get(c, "object");
        for (int detail = FP_POD_FULL; detail <= FP_POD_CACHE; detail++) {
            g_autoptr(GError) error = NULL;
            bool is_node = strcmp(kind, "node") == 0;
            if (is_node && detail == FP_POD_CACHE) {
                continue;
            }
            bool ok;
            if (is_node) {
                g_autoptr(FpNode) node = fp_node_from_json(obj, &error);
                ok = node != NULL;
            } else {
                g_autoptr(FpPod) pod = fp_pod_from_json(obj, (FpPodDetail)detail, &error);
                ok = pod != NULL;
            }
            /* the cache keeps no labels/selectors, so it does not read them */
            bool want_ok = detail == FP_POD_CACHE && json_is_true(json_object_get(c, "cache_ok"));
            if (want_ok) {
                if (!ok) {
                    fail_msg("%s (cache): unexpected error %s", name, error->message);
                }
                continue;
            }
            if (ok) {
                fail_msg("%s: decoded, want error \"%s\"", name, message);
            }
            assert_non_null(error);
            if (!g_error_matches(error, FP_KOBJ_ERROR, code) || strcmp(error->message, message)) {
                fail_msg("%s: got [%d] %s\nwant [%d] %s", name, error->code, error->message, code,
                         message);
            }
        }
    }
    json_decref(cases);
}

/* A huge bad value or key is quoted only in part, escaped. */
static void test_error_message_bounded(void **state)
{
    (void)state;
    g_autoptr(GString) junk = g_string_new(NULL);
    for (int i = 0; i < 100000; i++) {
        g_string_append_c(junk, i % 2 ? 'x' : '\n');
    }
    json_t *pod = json_pack("{s:{s:s}, s:{s:[{s:{s:{s:s}}}]}}", "metadata", "name", "p", "spec",
                            "containers", "resources", "requests", junk->str, junk->str);
    g_autoptr(GError) error = NULL;
    g_autoptr(FpPod) p = fp_pod_from_json(pod, FP_POD_FULL, &error);
    assert_null(p);
    assert_true(g_error_matches(error, FP_KOBJ_ERROR, FP_KOBJ_ERROR_QUANTITY));
    assert_true(strlen(error->message) < 400);
    assert_null(strchr(error->message, '\n'));
    assert_non_null(strstr(error->message, "...\"]: invalid quantity \"\\nx"));
    json_decref(pod);

    assert_null(fp_pod_from_json(NULL, FP_POD_FULL, NULL));
    assert_null(fp_node_from_json(NULL, NULL));
}

/* Many containers and many distinct resource names cost linear time. */
static void test_many_containers(void **state)
{
    (void)state;
    enum { N = 20000 };
    json_t *containers = json_array();
    for (int i = 0; i < N; i++) {
        char key[32];
        g_snprintf(key, sizeof key, "example.com/r%05d", i);
        json_array_append_new(containers, json_pack("{s:{s:{s:s, s:s}}}", "resources", "limits",
                                                    key, "1", "nvidia.com/gpu", "1"));
    }
    json_t *pod = json_pack("{s:{s:s}, s:{s:o}}", "metadata", "name", "wide", "spec", "containers",
                            containers);
    g_autoptr(GError) error = NULL;
    gint64 t0 = g_get_monotonic_time();
    g_autoptr(FpPod) p = fp_pod_from_json(pod, FP_POD_FULL, &error);
    gint64 t1 = g_get_monotonic_time();
    json_decref(pod);
    assert_non_null(p);
    assert_int_equal(p->requests.len, N + 1);
    assert_int_equal(fp_res_list_get(&p->requests, "nvidia.com/gpu"), N);
    assert_int_equal(fp_res_list_get(&p->requests, "example.com/r12345"), 1);
    assert_int_equal(g_strv_length(p->resource_keys), N + 1);
    assert_string_equal(p->resource_keys[0], "example.com/r00000");
    assert_string_equal(p->resource_keys[N], "nvidia.com/gpu");
    print_message("decoded %d containers in %.1f ms\n", N, (double)(t1 - t0) / 1000.0);
    assert_true(t1 - t0 < 5 * G_USEC_PER_SEC);
}

/* What a cached pod costs: sizeof plus the heap a typical GPU pod holds. */
static void test_cache_footprint(void **state)
{
    (void)state;
    enum { N = 2000 };
    json_t *root = load_fixture("pod-init-sidecar.json");
    g_autoptr(GPtrArray) pods = g_ptr_array_new_with_free_func((GDestroyNotify)fp_pod_unref);
    g_ptr_array_set_size(pods, N);
    g_ptr_array_set_size(pods, 0);
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < N; i++) {
        FpPod *pod = fp_pod_from_json(root, FP_POD_CACHE, NULL);
        assert_non_null(pod);
        g_ptr_array_add(pods, pod);
    }
    struct mallinfo2 after = mallinfo2();
    json_decref(root);
    double per_pod = ((double)after.uordblks - (double)before.uordblks) / N;
#if defined(__SANITIZE_ADDRESS__)
    (void)per_pod; /* ASan's allocator does not report through mallinfo2 */
    print_message("sizeof(FpPod) = %zu bytes; heap per pod not measurable under ASan\n",
                  sizeof(FpPod));
#else
    print_message("sizeof(FpPod) = %zu bytes; heap per cached pod = %.0f bytes\n", sizeof(FpPod),
                  per_pod);
    /* glibc malloc: the box, the struct, 7 strings and one request entry */
    assert_true(per_pod > (double)sizeof(FpPod));
    assert_true(per_pod < 768.0);
#endif
}

/* ---- shared reference data --------------------------------------------- */

static json_t *load_shared_json(const char *rel)
{
    g_autofree char *path = fp_test_shared_data(rel);
    if (!path) {
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        fail_msg("%s:%d: %s", path, jerr.line, jerr.text);
    }
    return root;
}

/* The nodes and the pod a real kube-scheduler v1.32.6 sent (nodeCacheCapable
 * false), and the whole victim Pods of a preempt call. */
static void test_shared_captures(void **state)
{
    (void)state;
    json_t *filter = load_shared_json("kube-scheduler-captures/nodecache-false/filter-001.json");
    if (!filter) {
        FP_SKIP("shared-data", "FP_SHARED_DATA not available: the kube-scheduler captures");
    }
    static const struct {
        const char *name;
        int64_t gpus;
    } want[] = {{"gpu-node-1", 4}, {"gpu-node-2", 2}, {"gpu-node-3", 8}};
    json_t *items = json_object_get(json_object_get(filter, "Nodes"), "items");
    assert_int_equal(json_array_size(items), 3);
    guint seen = 0;
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        g_autoptr(GError) error = NULL;
        g_autoptr(FpNode) node = fp_node_from_json(item, &error);
        assert_non_null(node);
        for (size_t w = 0; w < G_N_ELEMENTS(want); w++) {
            if (strcmp(node->name, want[w].name) == 0) {
                assert_int_equal(fp_res_list_get(&node->allocatable, "nvidia.com/gpu"),
                                 want[w].gpus);
                seen |= 1u << w;
            }
        }
        assert_int_equal(fp_res_list_get(&node->allocatable, "cpu"), 8000);
        assert_int_equal(fp_res_list_get(&node->allocatable, "memory"), 32 * GiB);
        assert_int_equal(fp_res_list_get(&node->allocatable, "pods"), 110);
        assert_string_equal(fp_node_label(node, "kubernetes.io/hostname"), node->name);
        assert_true(node->ready);
        assert_false(node->unschedulable);
    }
    assert_int_equal(seen, 7);

    g_autoptr(GError) error = NULL;
    g_autoptr(FpPod) pod = fp_pod_from_json(json_object_get(filter, "Pod"), FP_POD_FULL, &error);
    assert_non_null(pod);
    assert_string_equal(pod->name, "gpu-pod");
    assert_string_equal(pod->ns, "default");
    assert_string_equal(pod->uid, "fc87c9a8-ce35-4778-87b5-1edb207ef2c2");
    assert_string_equal(pod->scheduler_name, "default-scheduler");
    assert_null(pod->node_name);
    assert_int_equal(pod->phase, FP_PHASE_PENDING);
    assert_res(&pod->requests, "cpu", INT64_C(100), "memory", 64 * MiB, "nvidia.com/gpu",
               INT64_C(1), NULL);
    assert_int_equal(g_strv_length(pod->resource_keys), 3);
    assert_int_equal(pod->n_tolerations, 2);
    assert_true(pod->tolerations[0].op_exists);
    assert_int_equal(pod->tolerations[0].effect, FP_TAINT_NO_EXECUTE);
    json_decref(filter);

    json_t *preempt =
        load_shared_json("kube-scheduler-captures/preempt-nodecache-false/preempt-016.json");
    assert_non_null(preempt);
    g_autoptr(FpPod) hi = fp_pod_from_json(json_object_get(preempt, "Pod"), FP_POD_FULL, &error);
    assert_non_null(hi);
    assert_int_equal(hi->priority, 1000);
    assert_int_equal(fp_res_list_get(&hi->requests, "nvidia.com/gpu"), 2);
    const char *node_name;
    json_t *victims;
    guint n_victims = 0;
    json_object_foreach(json_object_get(preempt, "NodeNameToVictims"), node_name, victims)
    {
        json_t *vp;
        json_array_foreach(json_object_get(victims, "Pods"), i, vp)
        {
            g_autoptr(FpPod) v = fp_pod_from_json(vp, FP_POD_CACHE, &error);
            assert_non_null(v);
            assert_string_equal(v->node_name, node_name);
            assert_string_equal(v->ns, "capx");
            assert_int_equal(v->priority, 10);
            assert_true(fp_pod_is_active(v));
            assert_res(&v->requests, "nvidia.com/gpu", INT64_C(1), NULL);
            n_victims++;
        }
    }
    assert_int_equal(n_victims, 4);
    json_decref(preempt);
}

typedef struct {
    const char *file;
    const char *name;
    const char *product;
    const char *gpu_memory;
    int64_t cpu_milli;
    int64_t memory_ki;
    const char *res[4]; /* GPU-like resources ... */
    int64_t count[4];   /* ... and their allocatable counts */
} YamlNodeCase;

/* The complete Node objects in nodes/ (YAML), through cache/yamljson.h. */
/* Path of @dir/@file under the shared data, or NULL. */
static char *shared_file(const char *dir, const char *file)
{
    g_autofree char *rel = g_build_filename(dir, file, NULL);
    return fp_test_shared_data(rel);
}

static void test_shared_yaml_nodes(void **state)
{
    (void)state;
    static const YamlNodeCase cases[] = {
        {"runai-fake-gpu-operator__gce-tesla-t4-x2.yaml",
         "qa-mig-worker-gpu-1",
         "Tesla-T4",
         "15360",
         32000,
         123560520,
         {"nvidia.com/gpu"},
         {2}},
        {"runai-fake-gpu-operator__gce-a100-sxm4-40gb-mig-3instances.yaml",
         "qa-mig-worker-gpu-a100",
         "NVIDIA-A100-SXM4-40GB",
         "40960",
         12000,
         87425380,
         {"nvidia.com/gpu", "nvidia.com/mig-1g.5gb", "nvidia.com/mig-2g.10gb",
          "nvidia.com/mig-3g.20gb"},
         {0, 2, 1, 0}},
        {"runai-fake-gpu-operator__gce-a100-sxm4-40gb-mig-4instances.yaml",
         "qa-mig-worker-gpu-a100",
         "NVIDIA-A100-SXM4-40GB",
         "40960",
         12000,
         87425380,
         {"nvidia.com/gpu", "nvidia.com/mig-1g.5gb", "nvidia.com/mig-2g.10gb",
          "nvidia.com/mig-3g.20gb"},
         {0, 3, 1, 0}},
        {"runai-fake-gpu-operator__gce-a100-sxm4-40gb-mig-7g40gb.yaml",
         "qa-mig-worker-gpu-a100",
         "NVIDIA-A100-SXM4-40GB",
         "40960",
         12000,
         87425380,
         {"nvidia.com/gpu", "nvidia.com/mig-7g.40gb", "nvidia.com/mig-1g.5gb"},
         {0, 1, 0}},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const YamlNodeCase *c = &cases[i];
        /* Nothing allocated may be live at FP_SKIP: it longjmps past cleanups. */
        g_autofree char *path = shared_file("nodes", c->file);
        if (!path) {
            FP_SKIP("shared-data", "FP_SHARED_DATA not available: %s", c->file);
        }
        g_autoptr(GError) error = NULL;
        g_autoptr(FpDocs) docs = fp_docs_load_file(path, 4 << 20, &error);
        if (!docs) {
            fail_msg("%s: %s", c->file, error->message);
        }
        assert_int_equal(fp_docs_count(docs), 1);
        g_autoptr(FpNode) node = fp_node_from_json(fp_docs_get(docs, 0), &error);
        if (!node) {
            fail_msg("%s: %s", c->file, error->message);
        }
        assert_string_equal(node->name, c->name);
        assert_string_equal(fp_node_label(node, "nvidia.com/gpu.product"), c->product);
        assert_string_equal(fp_node_label(node, "nvidia.com/gpu.memory"), c->gpu_memory);
        assert_string_equal(fp_node_label(node, "nvidia.com/gpu.present"), "true");
        assert_true(node->ready);
        assert_false(node->unschedulable);
        assert_int_equal(node->n_taints, 0);
        assert_int_equal(fp_res_list_get(&node->allocatable, "cpu"), c->cpu_milli);
        assert_int_equal(fp_res_list_get(&node->allocatable, "memory"), c->memory_ki * KiB);
        assert_int_equal(fp_res_list_get(&node->allocatable, "pods"), 110);
        for (size_t r = 0; r < G_N_ELEMENTS(c->res) && c->res[r]; r++) {
            assert_true(fp_res_list_has(&node->allocatable, c->res[r]));
            assert_int_equal(fp_res_list_get(&node->allocatable, c->res[r]), c->count[r]);
        }
    }
}

typedef struct {
    const char *file;
    const char *ns;
    const char *node;
    const char *owner; /* controller owner name or NULL */
    const char *resource;
    int64_t amount;
    guint n_terms;
    const char *annotation; /* key with value "1", or NULL */
} YamlPodCase;

/* The real pod dumps in pods/ (YAML). */
static void test_shared_yaml_pods(void **state)
{
    (void)state;
    static const YamlPodCase cases[] = {
        {"runai-fake-gpu-operator__pod-dump-gpu-reservation-aws.yaml", "runai-reservation",
         "i-0b498db53280b86a6", NULL, "nvidia.com/gpu", 1, 0, NULL},
        {"runai-fake-gpu-operator__pod-dump-fractional-gpu-aws.yaml", "runai-pa",
         "i-0b498db53280b86a6", "frac-1", "memory", 100000000, 1, NULL},
        {"runai-fake-gpu-operator__pod-dump-mig-1g5gb-gce.yaml", "runai-team-a",
         "qa-mig-worker-gpu-a100", "job-2", "cpu", 500, 0, "nvidia.com/mig-1g.5gb"},
        {"runai-fake-gpu-operator__pod-dump-mig-7g40gb-gce.yaml", "runai-p1",
         "qa-mig-worker-gpu-a100", "job-969475a25a51", "cpu", 0, 0, "nvidia.com/mig-7g.40gb"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const YamlPodCase *c = &cases[i];
        /* Nothing allocated may be live at FP_SKIP: it longjmps past cleanups. */
        g_autofree char *path = shared_file("pods", c->file);
        if (!path) {
            FP_SKIP("shared-data", "FP_SHARED_DATA not available: %s", c->file);
        }
        g_autoptr(GError) error = NULL;
        g_autoptr(FpDocs) docs = fp_docs_load_file(path, 4 << 20, &error);
        if (!docs) {
            fail_msg("%s: %s", c->file, error->message);
        }
        g_autoptr(FpPod) pod = fp_pod_from_json(fp_docs_get(docs, 0), FP_POD_FULL, &error);
        if (!pod) {
            fail_msg("%s: %s", c->file, error->message);
        }
        assert_string_equal(pod->ns, c->ns);
        assert_string_equal(pod->node_name, c->node);
        assert_string_equal(pod->scheduler_name, "runai-scheduler");
        assert_int_equal(pod->phase, FP_PHASE_RUNNING);
        assert_true(fp_pod_is_active(pod));
        if (c->owner) {
            assert_string_equal(pod->owner_kind, "RunaiJob");
            assert_string_equal(pod->owner_name, c->owner);
        } else {
            assert_null(pod->owner_name);
        }
        assert_int_equal(fp_res_list_get(&pod->requests, c->resource), c->amount);
        assert_int_equal(pod->has_required_affinity, c->n_terms > 0);
        assert_int_equal(pod->n_affinity_terms, c->n_terms);
        if (c->n_terms) {
            assert_req(&pod->affinity_terms[0].exprs[0], "runai/node-pool", FP_SEL_DOES_NOT_EXIST,
                       (const char *const[]){NULL});
        }
        if (c->annotation) {
            assert_string_equal(fp_pod_annotation(pod, c->annotation), "1");
        }
        assert_int_equal(pod->n_tolerations, 2);
        assert_string_equal(pod->tolerations[1].key, "node.kubernetes.io/unreachable");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_gpu),
        cmocka_unit_test(test_node_states),
        cmocka_unit_test(test_pod_init_sidecar_full),
        cmocka_unit_test(test_pod_cache_detail),
        cmocka_unit_test(test_pod_affinity),
        cmocka_unit_test(test_pod_states),
        cmocka_unit_test(test_pod_level_resources),
        cmocka_unit_test(test_exact_sums),
        cmocka_unit_test(test_bad_objects),
        cmocka_unit_test(test_error_message_bounded),
        cmocka_unit_test(test_many_containers),
        cmocka_unit_test(test_cache_footprint),
        cmocka_unit_test(test_shared_captures),
        cmocka_unit_test(test_shared_yaml_nodes),
        cmocka_unit_test(test_shared_yaml_pods),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
