/*
 * test/test_model.c - the model helpers (scoring/model.h): resource lists
 * (set/add/saturation/copy/clear), node and pod lifetimes with atomic
 * refcounts across threads, labels, annotations and fp_pod_is_active.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "scoring/model.h"
#include "support/support.h"

typedef enum { OP_SET, OP_ADD } Op;

typedef struct {
    Op op;
    const char *name;
    int64_t value;
    int64_t want; /* value of @name after the step */
    guint len;    /* list length after the step */
} Step;

static void test_res_list_steps(void **state)
{
    (void)state;
    static const Step steps[] = {
        {OP_ADD, "nvidia.com/gpu", 2, 2, 1},
        {OP_ADD, "nvidia.com/gpu", 3, 5, 1},
        {OP_SET, "cpu", 1500, 1500, 2},
        {OP_SET, "nvidia.com/gpu", 1, 1, 2},
        {OP_SET, "example.com/zero", 0, 0, 3},
        {OP_ADD, "memory", INT64_MAX - 1, INT64_MAX - 1, 4},
        {OP_ADD, "memory", 1, INT64_MAX, 4},
        {OP_ADD, "memory", 5, INT64_MAX, 4}, /* saturates */
        {OP_ADD, "memory", -10, INT64_MAX - 10, 4},
        {OP_SET, "neg", INT64_MIN + 1, INT64_MIN + 1, 5},
        {OP_ADD, "neg", -5, INT64_MIN, 5}, /* saturates downwards too */
        {OP_ADD, "cpu", -1500, 0, 5},
    };
    FpResList list = {0};
    for (size_t i = 0; i < G_N_ELEMENTS(steps); i++) {
        const Step *s = &steps[i];
        if (s->op == OP_SET) {
            fp_res_list_set(&list, s->name, s->value);
        } else {
            fp_res_list_add(&list, s->name, s->value);
        }
        if (fp_res_list_get(&list, s->name) != s->want || list.len != s->len) {
            fail_msg("step %zu: %s = %" G_GINT64_FORMAT " (len %u), want %" G_GINT64_FORMAT
                     " (len %u)",
                     i, s->name, fp_res_list_get(&list, s->name), list.len, s->want, s->len);
        }
    }
    /* a zero amount is still a key */
    assert_true(fp_res_list_has(&list, "example.com/zero"));
    assert_true(fp_res_list_has(&list, "cpu"));
    assert_false(fp_res_list_has(&list, "amd.com/gpu"));
    assert_int_equal(fp_res_list_get(&list, "amd.com/gpu"), 0);
    assert_int_equal(fp_res_list_get(NULL, "cpu"), 0);
    assert_false(fp_res_list_has(NULL, "cpu"));

    FpResList copy = {0};
    fp_res_list_set(&copy, "stale", 7);
    fp_res_list_copy(&copy, &list);
    assert_int_equal(copy.len, list.len);
    assert_false(fp_res_list_has(&copy, "stale"));
    for (guint i = 0; i < list.len; i++) {
        assert_ptr_not_equal(copy.items[i].name, list.items[i].name);
        assert_string_equal(copy.items[i].name, list.items[i].name);
        assert_int_equal(copy.items[i].value, list.items[i].value);
    }
    /* the copy is independent */
    fp_res_list_set(&list, "nvidia.com/gpu", 42);
    assert_int_equal(fp_res_list_get(&copy, "nvidia.com/gpu"), 1);
    fp_res_list_copy(&copy, &copy); /* self copy is a no-op */
    assert_int_equal(copy.len, list.len);

    fp_res_list_clear(&list);
    assert_int_equal(list.len, 0);
    assert_null(list.items);
    fp_res_list_clear(&list); /* twice is fine */
    fp_res_list_copy(&copy, &list);
    assert_int_equal(copy.len, 0);
    fp_res_list_clear(&copy);
}

static void test_node_lifetime(void **state)
{
    (void)state;
    FpNode *node = fp_node_new("gpu-a");
    assert_string_equal(node->name, "gpu-a");
    assert_non_null(node->labels);
    assert_true(node->ready); /* no Ready condition known yet */
    assert_false(node->unschedulable);
    assert_null(fp_node_label(node, "nvidia.com/gpu.product"));
    g_hash_table_insert(node->labels, g_strdup("nvidia.com/gpu.product"), g_strdup("NVIDIA-L4"));
    assert_string_equal(fp_node_label(node, "nvidia.com/gpu.product"), "NVIDIA-L4");
    assert_null(fp_node_label(NULL, "x"));
    assert_null(fp_node_label(node, NULL));

    node->taints = g_new0(FpTaint, 2);
    node->n_taints = 2;
    node->taints[0].key = g_strdup("a");
    node->taints[0].value = g_strdup("b");
    node->taints[1].key = g_strdup("c");
    fp_res_list_set(&node->allocatable, "nvidia.com/gpu", 8);
    node->resource_version = g_strdup("12");

    FpNode *ref = fp_node_ref(node);
    assert_ptr_equal(ref, node);
    fp_node_unref(node);
    /* still alive through the second reference */
    assert_string_equal(ref->name, "gpu-a");
    assert_int_equal(fp_res_list_get(&ref->allocatable, "nvidia.com/gpu"), 8);
    fp_node_unref(ref);
    fp_node_unref(NULL);

    g_autoptr(FpNode) scoped = fp_node_new(NULL);
    assert_null(scoped->name);
}

static gint worker_errors;

/* cmocka's assertions are not thread-safe: count mismatches instead. */
static gpointer ref_unref_worker(gpointer data)
{
    FpPod *pod = data;
    for (int i = 0; i < 100000; i++) {
        FpPod *r = fp_pod_ref(pod);
        if (r != pod || strcmp(r->name, "shared") != 0) {
            g_atomic_int_inc(&worker_errors);
        }
        fp_pod_unref(r);
    }
    return NULL;
}

static void test_pod_refcount_threads(void **state)
{
    (void)state;
    FpPod *pod = fp_pod_new();
    pod->name = g_strdup("shared");
    GThread *threads[4];
    for (size_t i = 0; i < G_N_ELEMENTS(threads); i++) {
        threads[i] = g_thread_new("ref", ref_unref_worker, pod);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(threads); i++) {
        g_thread_join(threads[i]);
    }
    assert_int_equal(g_atomic_int_get(&worker_errors), 0);
    /* exactly one reference left: this unref frees (checked by ASan/valgrind) */
    assert_string_equal(pod->name, "shared");
    fp_pod_unref(pod);
}

/* A pod with every owned member filled, freed by the last unref. */
static void test_pod_full_free(void **state)
{
    (void)state;
    FpPod *pod = fp_pod_new();
    assert_int_equal(pod->phase, FP_PHASE_PENDING);
    assert_null(fp_pod_annotation(pod, "flexplace.io/profile"));
    pod->ns = g_strdup("ml");
    pod->name = g_strdup("p");
    pod->uid = g_strdup("u");
    pod->node_name = g_strdup("n");
    pod->scheduler_name = g_strdup("flexplace-scheduler");
    pod->labels = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_hash_table_insert(pod->labels, g_strdup("app"), g_strdup("x"));
    pod->annotations = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_hash_table_insert(pod->annotations, g_strdup("flexplace.io/profile"), g_strdup("fast"));
    fp_res_list_set(&pod->requests, "nvidia.com/gpu", 1);
    pod->resource_keys = g_strsplit("cpu,nvidia.com/gpu", ",", -1);
    pod->node_selector = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    pod->affinity_terms = g_new0(FpSelTerm, 2);
    pod->n_affinity_terms = 2;
    pod->affinity_terms[0].exprs = g_new0(FpSelReq, 1);
    pod->affinity_terms[0].n_exprs = 1;
    pod->affinity_terms[0].exprs[0].key = g_strdup("k");
    pod->affinity_terms[0].exprs[0].values = g_strsplit("a,b", ",", -1);
    pod->affinity_terms[1].fields = g_new0(FpSelReq, 1);
    pod->affinity_terms[1].n_fields = 1;
    pod->affinity_terms[1].fields[0].key = g_strdup("metadata.name");
    pod->affinity_terms[1].fields[0].values = g_strsplit("n", ",", -1);
    pod->tolerations = g_new0(FpToleration, 1);
    pod->n_tolerations = 1;
    pod->tolerations[0].key = g_strdup("nvidia.com/gpu");
    pod->tolerations[0].value = g_strdup("present");
    pod->owner_kind = g_strdup("ReplicaSet");
    pod->owner_name = g_strdup("rs");
    pod->owner_uid = g_strdup("rs-uid");
    pod->resource_version = g_strdup("1");
    assert_string_equal(fp_pod_annotation(pod, "flexplace.io/profile"), "fast");
    assert_null(fp_pod_annotation(pod, "flexplace.io/other"));
    assert_null(fp_pod_annotation(NULL, "flexplace.io/profile"));
    fp_pod_unref(pod);
    fp_pod_unref(NULL);
}

typedef struct {
    const char *node;
    FpPodPhase phase;
    bool active;
} ActiveCase;

static void test_pod_is_active(void **state)
{
    (void)state;
    static const ActiveCase cases[] = {
        {NULL, FP_PHASE_PENDING, false}, {"", FP_PHASE_RUNNING, false},
        {"n", FP_PHASE_PENDING, true},   {"n", FP_PHASE_RUNNING, true},
        {"n", FP_PHASE_UNKNOWN, true},   {"n", FP_PHASE_SUCCEEDED, false},
        {"n", FP_PHASE_FAILED, false},   {NULL, FP_PHASE_RUNNING, false},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(FpPod) pod = fp_pod_new();
        pod->node_name = g_strdup(cases[i].node);
        pod->phase = cases[i].phase;
        pod->terminating = i % 2 == 0; /* terminating pods still hold resources */
        if (fp_pod_is_active(pod) != cases[i].active) {
            fail_msg("case %zu: active=%d, want %d", i, fp_pod_is_active(pod), cases[i].active);
        }
    }
    assert_false(fp_pod_is_active(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_res_list_steps),       cmocka_unit_test(test_node_lifetime),
        cmocka_unit_test(test_pod_refcount_threads), cmocka_unit_test(test_pod_full_free),
        cmocka_unit_test(test_pod_is_active),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
