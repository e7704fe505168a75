/*
 * test/test_kube_checks.c - kube-scheduler's own feasibility checks as the
 * dry-run CLI applies them: nodeSelector, every node affinity operator and
 * matchFields, unschedulable, every toleration form, extended resource fit,
 * and the order in which the reasons are reported.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "scoring/engine.h"
#include "support/support.h"

#define MSG_AFFINITY "node(s) didn't match Pod's node affinity/selector"
#define MSG_UNSCHEDULABLE "node(s) were unschedulable"
#define MSG_TAINT "node(s) had untolerated taint"

static FpNode *mk_node(const char *name)
{
    FpNode *n = fp_node_new(name);
    g_hash_table_replace(n->labels, g_strdup("nvidia.com/gpu.count"), g_strdup("8"));
    g_hash_table_replace(n->labels, g_strdup("nvidia.com/gpu.product"),
                         g_strdup("NVIDIA-H100-80GB-HBM3"));
    g_hash_table_replace(n->labels, g_strdup("topology.kubernetes.io/zone"),
                         g_strdup("us-east-1a"));
    g_hash_table_replace(n->labels, g_strdup("empty"), g_strdup(""));
    fp_res_list_set(&n->allocatable, "nvidia.com/gpu", 8);
    fp_res_list_set(&n->allocatable, "cpu", 4000);
    return n;
}

static void add_taint(FpNode *n, const char *key, const char *value, FpTaintEffect effect)
{
    n->taints = g_renew(FpTaint, n->taints, n->n_taints + 1);
    FpTaint *t = &n->taints[n->n_taints++];
    t->key = g_strdup(key);
    t->value = g_strdup(value);
    t->effect = effect;
}

static FpPod *mk_pod(void)
{
    FpPod *pod = fp_pod_new();
    pod->ns = g_strdup("default");
    pod->name = g_strdup("p");
    fp_res_list_set(&pod->requests, "nvidia.com/gpu", 1);
    return pod;
}

static void add_toleration(FpPod *pod, const char *key, bool exists, const char *value, int effect)
{
    pod->tolerations = g_renew(FpToleration, pod->tolerations, pod->n_tolerations + 1);
    FpToleration *t = &pod->tolerations[pod->n_tolerations++];
    t->key = g_strdup(key);
    t->op_exists = exists;
    t->value = g_strdup(value);
    t->effect = effect;
}

/* Adds an empty required node affinity term. */
static FpSelTerm *add_term(FpPod *pod)
{
    pod->has_required_affinity = true;
    pod->affinity_terms = g_renew(FpSelTerm, pod->affinity_terms, pod->n_affinity_terms + 1);
    FpSelTerm *t = &pod->affinity_terms[pod->n_affinity_terms++];
    memset(t, 0, sizeof *t);
    return t;
}

/* Adds a requirement to @t (matchExpressions, or matchFields when @field);
 * @values is comma-separated, or NULL for none. */
static void add_req(FpSelTerm *t, bool field, const char *key, FpSelOp op, const char *values)
{
    FpSelReq **reqs = field ? &t->fields : &t->exprs;
    guint *n = field ? &t->n_fields : &t->n_exprs;
    *reqs = g_renew(FpSelReq, *reqs, *n + 1);
    FpSelReq *r = &(*reqs)[(*n)++];
    r->key = g_strdup(key);
    r->op = op;
    r->values = values ? g_strsplit(values, ",", -1) : g_new0(char *, 1);
}

static void test_match_expressions(void **state)
{
    static const struct {
        const char *key;
        FpSelOp op;
        const char *values;
        bool match;
    } rows[] = {
        {"nvidia.com/gpu.product", FP_SEL_IN, "NVIDIA-L4,NVIDIA-H100-80GB-HBM3", true},
        {"nvidia.com/gpu.product", FP_SEL_IN, "NVIDIA-L4", false},
        {"nvidia.com/gpu.product", FP_SEL_IN, "NVIDIA-H100", false}, /* exact only */
        {"missing", FP_SEL_IN, "x", false},
        {"nvidia.com/gpu.product", FP_SEL_IN, NULL, false},
        {"nvidia.com/gpu.product", FP_SEL_NOT_IN, "NVIDIA-H100-80GB-HBM3", false},
        {"nvidia.com/gpu.product", FP_SEL_NOT_IN, "NVIDIA-L4", true},
        {"missing", FP_SEL_NOT_IN, "x", true}, /* absent label matches NotIn */
        {"nvidia.com/gpu.product", FP_SEL_EXISTS, NULL, true},
        {"empty", FP_SEL_EXISTS, NULL, true},
        {"missing", FP_SEL_EXISTS, NULL, false},
        {"missing", FP_SEL_DOES_NOT_EXIST, NULL, true},
        {"nvidia.com/gpu.count", FP_SEL_DOES_NOT_EXIST, NULL, false},
        {"nvidia.com/gpu.count", FP_SEL_GT, "4", true},
        {"nvidia.com/gpu.count", FP_SEL_GT, "8", false},
        {"nvidia.com/gpu.count", FP_SEL_GT, "-9", true},
        {"nvidia.com/gpu.count", FP_SEL_GT, "+7", true},
        {"nvidia.com/gpu.count", FP_SEL_GT, "4.5", false}, /* not an integer */
        {"nvidia.com/gpu.count", FP_SEL_GT, "4,5", false}, /* exactly one value */
        {"nvidia.com/gpu.count", FP_SEL_GT, NULL, false},
        {"nvidia.com/gpu.count", FP_SEL_GT, "99999999999999999999", false}, /* overflow */
        {"nvidia.com/gpu.product", FP_SEL_GT, "1", false}, /* label not an integer */
        {"missing", FP_SEL_GT, "1", false},
        {"nvidia.com/gpu.count", FP_SEL_LT, "9", true},
        {"nvidia.com/gpu.count", FP_SEL_LT, "8", false},
        {"nvidia.com/gpu.count", FP_SEL_LT, "-1", false},
        {"missing", FP_SEL_LT, "9", false},
        {"empty", FP_SEL_LT, "9", false},
    };
    g_autoptr(FpNode) n = mk_node("gpu-1");
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        g_autoptr(FpPod) pod = mk_pod();
        add_req(add_term(pod), false, rows[i].key, rows[i].op, rows[i].values);
        const char *why = fp_kube_feasible(pod, n, NULL);
        if ((why == NULL) != rows[i].match) {
            fail_msg("row %zu (%s op %d [%s]): got %s", i, rows[i].key, rows[i].op,
                     rows[i].values ? rows[i].values : "", why ? why : "feasible");
        }
        if (why) {
            assert_string_equal(why, MSG_AFFINITY);
        }
    }
}

static void test_match_fields(void **state)
{
    static const struct {
        const char *key;
        FpSelOp op;
        const char *values;
        bool match;
    } rows[] = {
        {"metadata.name", FP_SEL_IN, "gpu-1", true},
        {"metadata.name", FP_SEL_IN, "gpu-0,gpu-1", true},
        {"metadata.name", FP_SEL_IN, "gpu-2", false},
        {"metadata.name", FP_SEL_NOT_IN, "gpu-1", false},
        {"metadata.name", FP_SEL_NOT_IN, "gpu-2", true},
        {"metadata.name", FP_SEL_EXISTS, NULL, false},
        {"metadata.uid", FP_SEL_IN, "gpu-1", false},
    };
    g_autoptr(FpNode) n = mk_node("gpu-1");
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        g_autoptr(FpPod) pod = mk_pod();
        add_req(add_term(pod), true, rows[i].key, rows[i].op, rows[i].values);
        const char *why = fp_kube_feasible(pod, n, NULL);
        if ((why == NULL) != rows[i].match) {
            fail_msg("field row %zu: got %s", i, why ? why : "feasible");
        }
    }
}

static void test_terms_and_selector(void **state)
{
    g_autoptr(FpNode) n = mk_node("gpu-1");

    /* an empty term matches nothing */
    g_autoptr(FpPod) empty = mk_pod();
    add_term(empty);
    assert_string_equal(fp_kube_feasible(empty, n, NULL), MSG_AFFINITY);

    /* required affinity with no terms matches nothing */
    g_autoptr(FpPod) none = mk_pod();
    none->has_required_affinity = true;
    assert_string_equal(fp_kube_feasible(none, n, NULL), MSG_AFFINITY);

    /* terms are ORed */
    g_autoptr(FpPod) any_of = mk_pod();
    add_req(add_term(any_of), false, "missing", FP_SEL_EXISTS, NULL);
    add_req(add_term(any_of), false, "nvidia.com/gpu.count", FP_SEL_IN, "8");
    assert_null(fp_kube_feasible(any_of, n, NULL));

    /* requirements of a term are ANDed, expressions with fields */
    g_autoptr(FpPod) all_of = mk_pod();
    FpSelTerm *t = add_term(all_of);
    add_req(t, false, "nvidia.com/gpu.count", FP_SEL_IN, "8");
    add_req(t, true, "metadata.name", FP_SEL_IN, "gpu-1");
    assert_null(fp_kube_feasible(all_of, n, NULL));
    add_req(t, false, "missing", FP_SEL_EXISTS, NULL);
    assert_string_equal(fp_kube_feasible(all_of, n, NULL), MSG_AFFINITY);

    /* nodeSelector: every pair must equal a label */
    static const struct {
        const char *pairs[4];
        bool match;
    } sel[] = {
        {{"topology.kubernetes.io/zone", "us-east-1a"}, true},
        {{"topology.kubernetes.io/zone", "us-east-1a", "nvidia.com/gpu.count", "8"}, true},
        {{"topology.kubernetes.io/zone", "us-east-1a", "nvidia.com/gpu.count", "4"}, false},
        {{"missing", ""}, false},
        {{"empty", ""}, true},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(sel); i++) {
        g_autoptr(FpPod) pod = mk_pod();
        pod->node_selector = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        for (int j = 0; j < 4 && sel[i].pairs[j]; j += 2) {
            g_hash_table_replace(pod->node_selector, g_strdup(sel[i].pairs[j]),
                                 g_strdup(sel[i].pairs[j + 1]));
        }
        const char *why = fp_kube_feasible(pod, n, NULL);
        assert_int_equal(why == NULL, sel[i].match);
    }

    /* selector and affinity must both hold */
    g_autoptr(FpPod) both = mk_pod();
    both->node_selector = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_hash_table_replace(both->node_selector, g_strdup("nvidia.com/gpu.count"), g_strdup("4"));
    add_req(add_term(both), false, "nvidia.com/gpu.count", FP_SEL_IN, "8");
    assert_string_equal(fp_kube_feasible(both, n, NULL), MSG_AFFINITY);
}

static void test_tolerations(void **state)
{
    static const struct {
        const char *key;
        bool exists;
        const char *value;
        int effect;
        bool tolerated;
    } rows[] = {
        {"nvidia.com/gpu", false, "present", FP_TAINT_NO_SCHEDULE, true},
        {"nvidia.com/gpu", false, "present", -1, true}, /* all effects */
        {"nvidia.com/gpu", false, "absent", FP_TAINT_NO_SCHEDULE, false},
        {"nvidia.com/gpu", false, NULL, FP_TAINT_NO_SCHEDULE, false},
        {"nvidia.com/gpu", false, "present", FP_TAINT_NO_EXECUTE, false},
        {"nvidia.com/gpu", false, "present", FP_TAINT_PREFER_NO_SCHEDULE, false},
        {"nvidia.com/gpu", true, NULL, FP_TAINT_NO_SCHEDULE, true},
        {"nvidia.com/gpu", true, NULL, -1, true},
        {"nvidia.com/gpu", true, "ignored", -1, true}, /* Exists ignores the value */
        {"amd.com/gpu", true, NULL, -1, false},
        {NULL, true, NULL, -1, true}, /* empty key + Exists: everything */
        {"", true, NULL, -1, true},
        {"", true, NULL, FP_TAINT_NO_EXECUTE, false},
        {"", false, "present", -1, true}, /* empty key + Equal: value decides */
        {"", false, "other", -1, false},
    };
    g_autoptr(FpNode) n = mk_node("gpu-1");
    add_taint(n, "nvidia.com/gpu", "present", FP_TAINT_NO_SCHEDULE);
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        g_autoptr(FpPod) pod = mk_pod();
        add_toleration(pod, rows[i].key, rows[i].exists, rows[i].value, rows[i].effect);
        const char *why = fp_kube_feasible(pod, n, NULL);
        if ((why == NULL) != rows[i].tolerated) {
            fail_msg("toleration row %zu: got %s", i, why ? why : "feasible");
        }
        if (why) {
            assert_string_equal(why, MSG_TAINT);
        }
    }
    /* no tolerations at all */
    g_autoptr(FpPod) bare = mk_pod();
    assert_string_equal(fp_kube_feasible(bare, n, NULL), MSG_TAINT);
}

static void test_taint_effects(void **state)
{
    static const struct {
        FpTaintEffect effect;
        bool blocks;
    } rows[] = {
        {FP_TAINT_NO_SCHEDULE, true},
        {FP_TAINT_NO_EXECUTE, true},
        {FP_TAINT_PREFER_NO_SCHEDULE, false},
        {FP_TAINT_OTHER, false},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        g_autoptr(FpNode) n = mk_node("gpu-1");
        add_taint(n, "dedicated", NULL, rows[i].effect);
        g_autoptr(FpPod) pod = mk_pod();
        assert_int_equal(fp_kube_feasible(pod, n, NULL) != NULL, rows[i].blocks);
        /* a taint without value is tolerated by Equal with an empty value */
        add_toleration(pod, "dedicated", false, "", -1);
        assert_null(fp_kube_feasible(pod, n, NULL));
    }
    /* one of several taints untolerated is enough */
    g_autoptr(FpNode) n = mk_node("gpu-1");
    add_taint(n, "a", "1", FP_TAINT_NO_SCHEDULE);
    add_taint(n, "b", "1", FP_TAINT_NO_EXECUTE);
    g_autoptr(FpPod) pod = mk_pod();
    add_toleration(pod, "a", true, NULL, -1);
    assert_string_equal(fp_kube_feasible(pod, n, NULL), MSG_TAINT);
    add_toleration(pod, "b", false, "1", FP_TAINT_NO_EXECUTE);
    assert_null(fp_kube_feasible(pod, n, NULL));
}

static void test_unschedulable(void **state)
{
    static const struct {
        const char *key;
        bool exists;
        int effect;
        bool ok;
    } rows[] = {
        {NULL, false, 0, false}, /* no toleration (row skipped when key NULL and !exists) */
        {"node.kubernetes.io/unschedulable", true, FP_TAINT_NO_SCHEDULE, true},
        {"node.kubernetes.io/unschedulable", true, -1, true},
        {"node.kubernetes.io/unschedulable", true, FP_TAINT_NO_EXECUTE, false},
        {"", true, -1, true},
        {"other", true, -1, false},
    };
    g_autoptr(FpNode) n = mk_node("gpu-1");
    n->unschedulable = true;
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        g_autoptr(FpPod) pod = mk_pod();
        if (rows[i].key || rows[i].exists) {
            add_toleration(pod, rows[i].key, rows[i].exists, NULL, rows[i].effect);
        }
        const char *why = fp_kube_feasible(pod, n, NULL);
        if ((why == NULL) != rows[i].ok) {
            fail_msg("unschedulable row %zu: got %s", i, why ? why : "feasible");
        }
        if (why) {
            assert_string_equal(why, MSG_UNSCHEDULABLE);
        }
    }
}

static void test_resources(void **state)
{
    g_autoptr(FpNode) n = mk_node("gpu-1");
    static const struct {
        const char *name;
        int64_t request, used;
        const char *why;
    } rows[] = {
        {"nvidia.com/gpu", 2, 6, NULL},
        {"nvidia.com/gpu", 2, 7, "Insufficient nvidia.com/gpu"},
        {"nvidia.com/gpu", 9, 0, "Insufficient nvidia.com/gpu"},
        {"nvidia.com/gpu", 1, INT64_MAX, "Insufficient nvidia.com/gpu"},
        {"nvidia.com/mig-1g.5gb", 1, 0, "Insufficient nvidia.com/mig-1g.5gb"},
        {"example.com/fpga", 0, 0, NULL}, /* a zero request needs nothing */
        {"cpu", 999999, 0, NULL},         /* only extended resources are checked */
    };
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        g_autoptr(FpPod) pod = fp_pod_new();
        fp_res_list_set(&pod->requests, rows[i].name, rows[i].request);
        FpResList used = {0};
        fp_res_list_set(&used, rows[i].name, rows[i].used);
        const char *why = fp_kube_feasible(pod, n, &used);
        fp_res_list_clear(&used);
        if (rows[i].why) {
            assert_non_null(why);
            assert_string_equal(why, rows[i].why);
            assert_ptr_equal(why, g_intern_string(rows[i].why));
        } else if (why) {
            fail_msg("resource row %zu: %s", i, why);
        }
    }
    /* used may be NULL */
    g_autoptr(FpPod) pod = mk_pod();
    assert_null(fp_kube_feasible(pod, n, NULL));
}

/* kube-scheduler's filter order: NodeUnschedulable, TaintToleration,
 * NodeAffinity, NodeResourcesFit. */
static void test_order(void **state)
{
    g_autoptr(FpNode) n = mk_node("gpu-1");
    g_autoptr(FpPod) pod = mk_pod();
    fp_res_list_set(&pod->requests, "nvidia.com/gpu", 99);
    assert_string_equal(fp_kube_feasible(pod, n, NULL), "Insufficient nvidia.com/gpu");
    add_req(add_term(pod), false, "missing", FP_SEL_EXISTS, NULL);
    assert_string_equal(fp_kube_feasible(pod, n, NULL), MSG_AFFINITY);
    add_taint(n, "k", "v", FP_TAINT_NO_SCHEDULE);
    assert_string_equal(fp_kube_feasible(pod, n, NULL), MSG_TAINT);
    n->unschedulable = true;
    assert_string_equal(fp_kube_feasible(pod, n, NULL), MSG_UNSCHEDULABLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_expressions),  cmocka_unit_test(test_match_fields),
        cmocka_unit_test(test_terms_and_selector), cmocka_unit_test(test_tolerations),
        cmocka_unit_test(test_taint_effects),      cmocka_unit_test(test_unschedulable),
        cmocka_unit_test(test_resources),          cmocka_unit_test(test_order),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
