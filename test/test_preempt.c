/*
 * test_preempt.c - the preempt verb's decisions (extender/server/preempt.h) and the
 * dry run's preemption plans, on the view of test/data/preempt/cluster.json
 * under the built-in default policy.
 *
 * The cluster (every node 4 GPUs unless said otherwise, every pod Running):
 *   t4-a       Tesla-T4 (15360 MiB)   embed-t4-0, embed-t4-1        2+2 GPUs, priority 10
 *   h100-a     H100 80GB              embed-h100-0, embed-h100-1    2+2 GPUs, priority 10
 *                                     old-h100-0 (Succeeded, 4 GPUs: frees nothing)
 *   l4-a       L4 (23034 MiB)         chat-l4-0 2 GPUs @2000, embed-l4-0 1 @10,
 *                                     embed-l4-1 1 @5, logship-l4-0 no GPU @5
 *   a100-a     A100 80GB              finetune-a100-0 2 @100, embed-a100-0 1 @10,
 *                                     embed-a100-1 1 @5
 *   tainted-a  L4, 2 GPUs, NoSchedule taint   train-l4-0 2 @10
 *   notready-a L4, 2 GPUs, NotReady           embed-spare-0 2 @10
 * The preemptor asks for 2 nvidia.com/gpu at priority 1000.
 *
 * Golden pairs (test/data/preempt/{meta,full}-{request,response}.json) are
 * shaped exactly like the bodies a real kube-scheduler v1.32 sent in both
 * nodeCacheCapable modes; replies are compared as JSON values (victim arrays
 * in order).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "cache/kobj.h"
#include "cache/snapshot.h"
#include "extender/server/preempt.h"
#include "policies/policy_load.h"
#include "support/support.h"

/* UIDs of test/data/preempt/cluster.json (uuid5 of the pod's name). */
#define UID_T4_0 "147aa5ea-7065-5452-8489-42913508f548"
#define UID_T4_1 "9411b641-2717-52ea-99ce-4ac374ecf01b"
#define UID_H100_0 "46cca696-8093-5516-a7d1-a31be828f0e7"
#define UID_H100_1 "527df897-fd9c-53d0-a290-116293c344af"
#define UID_L4_0 "2659162a-2f2c-5fed-848d-e78bad6b6bf8"
#define UID_L4_1 "bf38f221-4667-5f94-a81b-d7704c39704e"
#define UID_LOGSHIP "ade982ca-418b-5cd3-8f8c-bd6beabb7e25"
#define UID_A100_0 "74df2ead-4f6f-5023-adbc-15d41a991ac7"
#define UID_A100_1 "fdfae41a-4a2f-5301-84c5-7d0142138af4"
#define UID_OLD_H100 "78fb2c71-d43f-55f0-a441-c96fba9c5e43"

#define PREEMPTOR_ANN(ann)                                                                         \
    "{\"metadata\":{\"name\":\"chat-burst-9\",\"namespace\":\"inference\",\"uid\":\"p-9\"" ann     \
    "},\"spec\":{\"priority\":1000,\"containers\":[{\"name\":\"main\",\"resources\":{\"limits\":"  \
    "{\"nvidia.com/gpu\":\"2\"}}}]}}"
#define PREEMPTOR PREEMPTOR_ANN("")
#define PREEMPTOR_40GI PREEMPTOR_ANN(",\"annotations\":{\"flexplace.io/min-gpu-memory\":\"40Gi\"}")

typedef struct {
    FpView *view;
    FpPolicy *policy;
} Fixture;

static int setup(void **state)
{
    Fixture *f = g_new0(Fixture, 1);
    g_autofree char *path = fp_test_data_path("preempt/cluster.json");
    g_autoptr(GError) error = NULL;
    f->view = fp_view_new();
    if (!fp_snapshot_load_file(f->view, path, &error)) {
        print_error("cannot load %s: %s\n", path, error->message);
        return -1;
    }
    f->policy = fp_policy_new_default();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    fp_view_free(f->view);
    fp_policy_unref(f->policy);
    g_free(f);
    return 0;
}

/* Parse @body (must succeed), decide with @policy, return the reply. */
static json_t *preempt_with(Fixture *f, const FpPolicy *policy, const char *body)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FpPreemptionArgs) args = fp_preemption_args_parse(body, strlen(body), &error);
    if (!args) {
        fail_msg("parse failed: %s\n%s", error->message, body);
    }
    size_t len = 0;
    g_autofree char *out = fp_preempt(f->view, policy, args, &len);
    assert_int_equal(len, strlen(out));
    json_error_t jerr;
    json_t *v = json_loadb(out, len, 0, &jerr);
    if (!v) {
        fail_msg("reply is not JSON: %s: %s", jerr.text, out);
    }
    return v;
}

static json_t *preempt(Fixture *f, const char *body)
{
    return preempt_with(f, f->policy, body);
}

static void assert_json_eq(json_t *got, json_t *want)
{
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
        char *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
        fail_msg("JSON differs\n got: %s\nwant: %s", g, w);
    }
}

static void assert_json_text(json_t *got, const char *want_text)
{
    json_error_t jerr;
    json_t *want = json_loads(want_text, 0, &jerr);
    if (!want) {
        fail_msg("bad expected JSON: %s: %s", jerr.text, want_text);
    }
    assert_json_eq(got, want);
    json_decref(want);
}

static void check_golden(Fixture *f, const char *request, const char *response)
{
    g_autofree char *req_path = fp_test_data_path(request);
    g_autofree char *resp_path = fp_test_data_path(response);
    g_autofree char *body = fp_test_read_file(req_path, NULL);
    json_t *want = json_load_file(resp_path, 0, NULL);
    assert_non_null(want);
    json_t *got = preempt(f, body);
    assert_int_equal(json_object_size(got), 1); /* nothing but NodeNameToMetaVictims */
    assert_json_eq(got, want);
    json_decref(got);
    json_decref(want);
}

/* nodeCacheCapable: true.  Kept: t4-a, h100-a (NumPDBViolations 2 kept),
 * a100-a; victims in the order sent.  Dropped: l4-a (the victims free one
 * GPU), notready-a, gone-a (not in the view). */
static void test_golden_meta(void **state)
{
    check_golden(*state, "preempt/meta-request.json", "preempt/meta-response.json");
}

/* nodeCacheCapable: false: whole Pod objects in, UIDs out.  The pod needs
 * 40Gi per GPU: T4 and L4 nodes are dropped although their victims would
 * free enough GPUs. */
static void test_golden_full(void **state)
{
    check_golden(*state, "preempt/full-request.json", "preempt/full-response.json");
}

#define META_REQ(pod, map)                                                                         \
    "{\"Pod\":" pod ",\"NodeNameToVictims\":null,\"NodeNameToMetaVictims\":" map "}"
#define VICTIMS2(a, b) "{\"Pods\":[{\"UID\":\"" a "\"},{\"UID\":\"" b "\"}],\"NumPDBViolations\":0}"
#define VICTIMS1(a) "{\"Pods\":[{\"UID\":\"" a "\"}],\"NumPDBViolations\":0}"

/* The same victims on a T4 and an H100 node: both kept for a plain 2-GPU
 * pod, only the H100 one when the pod needs 40 GiB per GPU. */
static void test_gpu_memory(void **state)
{
    Fixture *f = *state;
    const char *map = "{\"t4-a\":" VICTIMS2(UID_T4_0, UID_T4_1) ",\"h100-a\":" VICTIMS2(
        UID_H100_0, UID_H100_1) "}";
    g_autofree char *plain = g_strdup_printf(META_REQ(PREEMPTOR, "%s"), map);
    json_t *got = preempt(f, plain);
    assert_json_text(got,
                     "{\"NodeNameToMetaVictims\":{\"t4-a\":" VICTIMS2(
                         UID_T4_0, UID_T4_1) ",\"h100-a\":" VICTIMS2(UID_H100_0, UID_H100_1) "}}");
    json_decref(got);
    g_autofree char *big = g_strdup_printf(META_REQ(PREEMPTOR_40GI, "%s"), map);
    got = preempt(f, big);
    assert_json_text(
        got, "{\"NodeNameToMetaVictims\":{\"h100-a\":" VICTIMS2(UID_H100_0, UID_H100_1) "}}");
    json_decref(got);
}

/* Victims that leave too few GPUs: one batch pod frees 1 of the 2 needed, a
 * CPU-only pod frees none, a finished pod frees nothing; both batch pods
 * free enough. */
static void test_too_few_gpus(void **state)
{
    Fixture *f = *state;
    json_t *got = preempt(f, META_REQ(PREEMPTOR, "{\"l4-a\":" VICTIMS1(UID_L4_0) "}"));
    assert_json_text(got, "{\"NodeNameToMetaVictims\":{}}");
    json_decref(got);
    got = preempt(f, META_REQ(PREEMPTOR, "{\"l4-a\":" VICTIMS2(UID_L4_0, UID_LOGSHIP) "}"));
    assert_json_text(got, "{\"NodeNameToMetaVictims\":{}}");
    json_decref(got);
    got = preempt(f, META_REQ(PREEMPTOR, "{\"h100-a\":" VICTIMS1(UID_OLD_H100) "}"));
    assert_json_text(got, "{\"NodeNameToMetaVictims\":{}}");
    json_decref(got);
    got = preempt(f, META_REQ(PREEMPTOR, "{\"l4-a\":" VICTIMS2(UID_L4_1, UID_L4_0) "}"));
    assert_json_text(got,
                     "{\"NodeNameToMetaVictims\":{\"l4-a\":" VICTIMS2(UID_L4_1, UID_L4_0) "}}");
    json_decref(got);
}

/* A victim UID the view does not know, or a pod that runs on another node,
 * makes the node ineligible (kube-scheduler would fail the whole preemption
 * on such a reply); other nodes are unaffected. */
static void test_unresolvable_victims(void **state)
{
    Fixture *f = *state;
    json_t *got = preempt(
        f,
        META_REQ(
            PREEMPTOR,
            "{\"t4-a\":" VICTIMS2(
                UID_T4_0,
                "00000000-0000-0000-0000-000000000000") ",\"h100-a\":" VICTIMS2(UID_H100_0,
                                                                                UID_H100_1) "}"));
    assert_json_text(
        got, "{\"NodeNameToMetaVictims\":{\"h100-a\":" VICTIMS2(UID_H100_0, UID_H100_1) "}}");
    json_decref(got);
    /* embed-h100-0 is on h100-a, not t4-a. */
    got = preempt(f, META_REQ(PREEMPTOR, "{\"t4-a\":" VICTIMS2(UID_T4_0, UID_H100_0) "}"));
    assert_json_text(got, "{\"NodeNameToMetaVictims\":{}}");
    json_decref(got);

    /* Full-object mode: a victim object whose spec.nodeName is another node. */
    const char *body =
        "{\"Pod\":" PREEMPTOR ",\"NodeNameToMetaVictims\":null,\"NodeNameToVictims\":{\"t4-a\":{"
        "\"Pods\":[{\"metadata\":{\"name\":\"embed-t4-0\",\"namespace\":\"batch\",\"uid\":"
        "\"" UID_T4_0 "\"},\"spec\":{\"nodeName\":\"t4-a\",\"priority\":10,\"containers\":[{"
        "\"name\":\"main\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"2\"}}}]}},"
        "{\"metadata\":{\"name\":\"embed-h100-0\",\"namespace\":\"batch\",\"uid\":"
        "\"" UID_H100_0 "\"},\"spec\":{\"nodeName\":\"h100-a\",\"priority\":10,\"containers\":[{"
        "\"name\":\"main\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"2\"}}}]}}],"
        "\"NumPDBViolations\":0}}}";
    got = preempt(f, body);
    assert_json_text(got, "{\"NodeNameToMetaVictims\":{}}");
    json_decref(got);
}

#define PREEMPTOR_4                                                                                \
    "{\"metadata\":{\"name\":\"chat-burst-4\",\"namespace\":\"inference\"},\"spec\":{"             \
    "\"priority\":1000,\"containers\":[{\"name\":\"main\",\"resources\":{\"limits\":{"             \
    "\"nvidia.com/gpu\":\"4\"}}}]}}"
#define VICTIM_OBJ(name, uid, gpus)                                                                \
    "{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"batch\",\"uid\":\"" uid "\"},"           \
    "\"spec\":{\"nodeName\":\"t4-a\",\"priority\":10,\"containers\":[{\"name\":\"main\","          \
    "\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"" gpus "\"}}}]},\"status\":{\"phase\":"       \
    "\"Running\"}}"

/* Victims free what the view counts them using: a UID listed twice frees
 * its GPUs once, and a victim object the view has not seen (its usage was
 * never counted) frees nothing.  t4-a has 4 GPUs, both pods use 2. */
static void test_victims_counted_once(void **state)
{
    Fixture *f = *state;
    json_t *got = preempt(f, META_REQ(PREEMPTOR_4, "{\"t4-a\":" VICTIMS2(UID_T4_0, UID_T4_1) "}"));
    assert_json_text(got,
                     "{\"NodeNameToMetaVictims\":{\"t4-a\":" VICTIMS2(UID_T4_0, UID_T4_1) "}}");
    json_decref(got);
    got = preempt(f, META_REQ(PREEMPTOR_4, "{\"t4-a\":" VICTIMS2(UID_T4_0, UID_T4_0) "}"));
    assert_json_text(got, "{\"NodeNameToMetaVictims\":{}}");
    json_decref(got);
    /* Full-object mode: the same two pods free 4 GPUs ... */
    got = preempt(
        f, "{\"Pod\":" PREEMPTOR_4 ",\"NodeNameToVictims\":{\"t4-a\":{\"Pods\":[" VICTIM_OBJ(
               "embed-t4-0", UID_T4_0, "2") "," VICTIM_OBJ("embed-t4-1", UID_T4_1, "2") "]}}}");
    assert_int_equal(json_object_size(json_object_get(got, "NodeNameToMetaVictims")), 1);
    json_decref(got);
    /* ... a pod the view does not know, however big, frees nothing. */
    got = preempt(
        f, "{\"Pod\":" PREEMPTOR_4 ",\"NodeNameToVictims\":{\"t4-a\":{\"Pods\":[" VICTIM_OBJ(
               "embed-t4-0", UID_T4_0,
               "2") "," VICTIM_OBJ("phantom", "0d9c3c47-0000-4000-8000-00000000beef", "4") "]}}}");
    assert_json_text(got, "{\"NodeNameToMetaVictims\":{}}");
    json_decref(got);
}

/* kube-scheduler rejects a reply with an empty victim list ("expected at
 * least one victim pod on node"), so such a node is dropped, whether Pods
 * is [], null or missing. */
static void test_empty_victims(void **state)
{
    Fixture *f = *state;
    json_t *got =
        preempt(f, META_REQ(PREEMPTOR, "{\"t4-a\":{\"Pods\":[],\"NumPDBViolations\":0},"
                                       "\"h100-a\":{\"Pods\":null,\"NumPDBViolations\":0},"
                                       "\"a100-a\":{\"NumPDBViolations\":0},"
                                       "\"l4-a\":{},"
                                       "\"t4-b\":{\"Pods\":[]}}"));
    assert_json_text(got, "{\"NodeNameToMetaVictims\":{}}");
    json_decref(got);
    /* No candidates at all, in either form. */
    const char *none[] = {
        META_REQ(PREEMPTOR, "{}"),
        META_REQ(PREEMPTOR, "null"),
        "{\"Pod\":" PREEMPTOR ",\"NodeNameToVictims\":{},\"NodeNameToMetaVictims\":null}",
        "{\"Pod\":" PREEMPTOR "}",
    };
    for (guint i = 0; i < G_N_ELEMENTS(none); i++) {
        got = preempt(f, none[i]);
        assert_json_text(got, "{\"NodeNameToMetaVictims\":{}}");
        json_decref(got);
    }
}

/* Keys are matched as Go's decoder does (ignoring case); the reply uses the
 * exact names.  NumPDBViolations is copied through. */
static void test_keys_and_pdb(void **state)
{
    Fixture *f = *state;
    json_t *got = preempt(f, "{\"pod\":" PREEMPTOR
                             ",\"nodenametometavictims\":{\"t4-a\":{\"pods\":[{\"uid\":\"" UID_T4_1
                             "\"},{\"UID\":\"" UID_T4_0 "\"}],\"numpdbviolations\":7}}}");
    assert_json_text(got, "{\"NodeNameToMetaVictims\":{\"t4-a\":{\"Pods\":[{\"UID\":\"" UID_T4_1
                          "\"},{\"UID\":\"" UID_T4_0 "\"}],\"NumPDBViolations\":7}}}");
    json_decref(got);
}

/* The pool burst ceiling: a node whose pool would pass maxUtilization after
 * the swap (h100: 2 of 4 GPUs used afterwards, ceiling 1) is dropped while another node fits
 * outright, and kept when it is the only candidate (the burst overflow rule). */
static void test_pool_ceiling(void **state)
{
    Fixture *f = *state;
    const char *doc = "{\"pools\":[{\"name\":\"h100\",\"maxUtilization\":0.25}]}";
    g_autoptr(FpPolicyReport) report = fp_policy_report_new();
    g_autoptr(FpPolicy) policy = fp_policy_load_buffer(doc, strlen(doc), "ceiling", report);
    assert_non_null(policy);
    const char *h100 = "\"h100-a\":" VICTIMS2(UID_H100_0, UID_H100_1);
    g_autofree char *both = g_strdup_printf(
        META_REQ(PREEMPTOR, "{\"t4-a\":" VICTIMS2(UID_T4_0, UID_T4_1) ",%s}"), h100);
    json_t *got = preempt_with(f, policy, both);
    assert_json_text(got,
                     "{\"NodeNameToMetaVictims\":{\"t4-a\":" VICTIMS2(UID_T4_0, UID_T4_1) "}}");
    json_decref(got);
    g_autofree char *alone = g_strdup_printf(META_REQ(PREEMPTOR, "{%s}"), h100);
    got = preempt_with(f, policy, alone);
    g_autofree char *want = g_strdup_printf("{\"NodeNameToMetaVictims\":{%s}}", h100);
    assert_json_text(got, want);
    json_decref(got);
}

/* Malformed ExtenderPreemptionArgs: NULL with a message, never a crash. */
static void test_parse_errors(void **state)
{
    (void)state;
    const struct {
        const char *body;
        const char *needle; /* in the error message */
    } bad[] = {
        {"", NULL},
        {"{", NULL},
        {"not json", NULL},
        {"[]", "expected a JSON object"},
        {"{\"NodeNameToMetaVictims\":{}}", "missing Pod"},
        {"{\"Pod\":null,\"NodeNameToMetaVictims\":{}}", "missing Pod"},
        {"{\"Pod\":\"x\",\"NodeNameToMetaVictims\":{}}", "missing Pod"},
        {"{\"Pod\":{\"spec\":{}},\"NodeNameToMetaVictims\":{}}", "Pod"},
        {META_REQ(PREEMPTOR, "[]"), "NodeNameToMetaVictims"},
        {META_REQ(PREEMPTOR, "\"t4-a\""), "NodeNameToMetaVictims"},
        {"{\"Pod\":" PREEMPTOR ",\"NodeNameToVictims\":5}", "NodeNameToVictims"},
        {META_REQ(PREEMPTOR, "{\"t4-a\":[]}"), "t4-a"},
        {META_REQ(PREEMPTOR, "{\"t4-a\":{\"Pods\":{}}}"), "Pods must be an array"},
        {META_REQ(PREEMPTOR, "{\"t4-a\":{\"Pods\":\"x\"}}"), "Pods must be an array"},
        {META_REQ(PREEMPTOR, "{\"t4-a\":{\"Pods\":[{}]}}"), "UID"},
        {META_REQ(PREEMPTOR, "{\"t4-a\":{\"Pods\":[{\"UID\":5}]}}"), "UID"},
        {META_REQ(PREEMPTOR, "{\"t4-a\":{\"Pods\":[null]}}"), "UID"},
        {META_REQ(PREEMPTOR, "{\"t4-a\":{\"Pods\":[{\"UID\":\"a\"}],\"NumPDBViolations\":\"1\"}}"),
         "NumPDBViolations"},
        {META_REQ(PREEMPTOR, "{\"t4-a\":{\"Pods\":[{\"UID\":\"a\"}],\"NumPDBViolations\":1.5}}"),
         "NumPDBViolations"},
        /* full mode: a victim that is not a Pod object */
        {"{\"Pod\":" PREEMPTOR ",\"NodeNameToVictims\":{\"t4-a\":{\"Pods\":[5]}}}", "t4-a"},
        {"{\"Pod\":" PREEMPTOR ",\"NodeNameToVictims\":{\"t4-a\":{\"Pods\":[{\"metadata\":{}}]}}}",
         "t4-a"},
        {"{\"Pod\":" PREEMPTOR ",\"NodeNameToVictims\":{\"t4-a\":{\"Pods\":[{\"metadata\":{"
         "\"name\":\"v\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"limits\":{"
         "\"nvidia.com/gpu\":\"lots\"}}}]}}]}}}",
         "t4-a"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(FpPreemptionArgs) args =
            fp_preemption_args_parse(bad[i].body, strlen(bad[i].body), &error);
        if (args) {
            fail_msg("body %u parsed: %s", i, bad[i].body);
        }
        assert_non_null(error);
        assert_true(strlen(error->message) > 0);
        if (bad[i].needle && !strstr(error->message, bad[i].needle)) {
            fail_msg("body %u: error '%s' does not mention '%s'", i, error->message, bad[i].needle);
        }
    }
}

/* More nodes or victims than the limits: refused at parse time. */
static void test_limits(void **state)
{
    (void)state;
    GString *body = g_string_new("{\"Pod\":" PREEMPTOR ",\"NodeNameToMetaVictims\":{");
    for (guint i = 0; i <= FP_PREEMPT_MAX_NODES; i++) {
        g_string_append_printf(body, "%s\"n%u\":{\"Pods\":[{\"UID\":\"u%u\"}]}", i ? "," : "", i,
                               i);
    }
    g_string_append(body, "}}");
    g_autoptr(GError) error = NULL;
    FpPreemptionArgs *args = fp_preemption_args_parse(body->str, body->len, &error);
    assert_null(args);
    assert_non_null(strstr(error->message, "too many"));
    g_clear_error(&error);
    /* One node, too many victims. */
    g_string_assign(body, "{\"Pod\":" PREEMPTOR ",\"NodeNameToMetaVictims\":{\"t4-a\":{\"Pods\":[");
    for (guint i = 0; i <= FP_PREEMPT_MAX_VICTIMS; i++) {
        g_string_append_printf(body, "%s{\"UID\":\"u%u\"}", i ? "," : "", i);
    }
    g_string_append(body, "]}}}");
    args = fp_preemption_args_parse(body->str, body->len, &error);
    assert_null(args);
    assert_non_null(strstr(error->message, "too many victims"));
    g_string_free(body, TRUE);
}

/* ---- dry-run plans ---- */

static FpPod *pod_from_text(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    FpPod *pod = fp_pod_from_json(j, FP_POD_FULL, NULL);
    json_decref(j);
    assert_non_null(pod);
    return pod;
}

/* "node:victim,victim;node:..." for compact comparisons. */
static char *plans_text(GPtrArray *plans)
{
    GString *s = g_string_new(NULL);
    for (guint k = 0; k < plans->len; k++) {
        FpPreemptPlan *plan = g_ptr_array_index(plans, k);
        g_string_append_printf(s, "%s%s:", k ? ";" : "", plan->node);
        for (guint v = 0; v < plan->victims->len; v++) {
            FpPod *pod = g_ptr_array_index(plan->victims, v);
            g_string_append_printf(s, "%s%s", v ? "," : "", pod->name);
        }
    }
    return g_string_free(s, FALSE);
}

/* kube-scheduler's rule: remove every lower-priority pod, then reprieve
 * them highest priority first while the pod still fits.  On a100-a that
 * keeps the priority-100 pod (2 GPUs) and evicts the two small ones,
 * although evicting only it would also make room.  Never a pod of equal or
 * higher priority, a finished pod, or a pod that frees no GPU; plans are
 * ordered by victim count, then node name; a NotReady node has none. */
static void test_plans(void **state)
{
    Fixture *f = *state;
    g_autoptr(FpPod) pod = pod_from_text(PREEMPTOR);
    g_autoptr(GPtrArray) plans = fp_preempt_plans(f->view, f->policy, pod);
    g_autofree char *text = plans_text(plans);
    assert_string_equal(text, "h100-a:embed-h100-1;t4-a:embed-t4-1;tainted-a:train-l4-0;"
                              "a100-a:embed-a100-0,embed-a100-1;l4-a:embed-l4-0,embed-l4-1");
    /* Victims carry priority, highest first. */
    FpPreemptPlan *a100 = g_ptr_array_index(plans, 3);
    assert_int_equal(((FpPod *)g_ptr_array_index(a100->victims, 0))->priority, 10);
    assert_int_equal(((FpPod *)g_ptr_array_index(a100->victims, 1))->priority, 5);

    /* 40 GiB per GPU: only the 80 GB nodes. */
    g_autoptr(FpPod) big = pod_from_text(PREEMPTOR_40GI);
    g_autoptr(GPtrArray) big_plans = fp_preempt_plans(f->view, f->policy, big);
    g_autofree char *big_text = plans_text(big_plans);
    assert_string_equal(big_text, "h100-a:embed-h100-1;a100-a:embed-a100-0,embed-a100-1");

    /* A 1-GPU pod of priority 10 may only evict the priority-5 pods; the
     * GPU-less logship pod on l4-a is reprieved. */
    g_autoptr(FpPod) low =
        pod_from_text("{\"metadata\":{\"name\":\"low\"},\"spec\":{\"priority\":10,\"containers\":[{"
                      "\"name\":\"c\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"1\"}}}]}}");
    g_autoptr(GPtrArray) low_plans = fp_preempt_plans(f->view, f->policy, low);
    g_autofree char *low_text = plans_text(low_plans);
    assert_string_equal(low_text, "a100-a:embed-a100-1;l4-a:embed-l4-1");

    /* More GPUs than any node has: no plan. */
    g_autoptr(FpPod) huge = pod_from_text(
        "{\"metadata\":{\"name\":\"huge\"},\"spec\":{\"priority\":1000000,\"containers\":[{"
        "\"name\":\"c\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"5\"}}}]}}");
    g_autoptr(GPtrArray) huge_plans = fp_preempt_plans(f->view, f->policy, huge);
    assert_int_equal(huge_plans->len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_meta),
        cmocka_unit_test(test_golden_full),
        cmocka_unit_test(test_gpu_memory),
        cmocka_unit_test(test_too_few_gpus),
        cmocka_unit_test(test_unresolvable_victims),
        cmocka_unit_test(test_victims_counted_once),
        cmocka_unit_test(test_empty_victims),
        cmocka_unit_test(test_keys_and_pdb),
        cmocka_unit_test(test_pool_ceiling),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_plans),
    };
    return FP_RUN_TESTS(tests, setup, teardown);
}
