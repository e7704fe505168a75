/*
 * test/test_admission.c - the mutating webhook's pieces: the AdmissionReview
 * codec (extender/wire/admission.h), affinity merging as a JSON Patch
 * (cache/affinity_patch.h) and the constraints behind it
 * (scoring/constraints.h, cache/constraints_view.h).
 *
 * The captures of a real kube-apiserver v1.32.6 (shared data,
 * admission-captures/) are replayed: each request's pod goes through the
 * constraints and the merge, the patch is applied as the API server applies
 * it (test/support/jsonpatch.c), and the result is compared with the pod the
 * captured (accepted) patch produces.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <string.h>

#include "cache/affinity_patch.h"
#include "cache/constraints_view.h"
#include "cache/demo_cluster.h"
#include "cache/kobj.h"
#include "extender/wire/admission.h"
#include "policies/policy_load.h"
#include "scoring/constraints.h"
#include "test/support/jsonpatch.h"
#include "test/support/support.h"

/* ---- helpers --------------------------------------------------------- */

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, 0, &jerr);
    if (!v) {
        fail_msg("test JSON does not parse: %s: %s", jerr.text, text);
    }
    return v;
}

/* The webhook's answer for the captures: the profile of namespace wh-demo
 * allows L4 and A10G within 40 ms of eastus.  The captures' webhook put
 * eastus and us-east-1 within that limit; no cross-cloud round trip is
 * published, so the 10 ms here is this test's assumption, not a fact.
 * The captures predate the built-in round trips (which would also admit
 * us-central1 through the cross-cloud rule): they are off here. */
static const char *REPLAY_POLICY =
    "regions:\n"
    "  builtinLatency: false\n"
    "  latencyMs:\n"
    "    eastus: {us-east-1: 10}\n"
    "profiles:\n"
    "  webhook-demo: {weights: {latency: 3, cost: 1}, maxLatencyMs: 40,\n"
    "                 originRegions: eastus, allowedSKUs: [NVIDIA-L4, NVIDIA-A10G]}\n"
    "namespaces: {wh-demo: webhook-demo}\n";

static FpView *demo_view(void)
{
    FpView *view = fp_view_new();
    GError *error = NULL;
    assert_true(fp_demo_cluster_load(view, &error));
    return view;
}

static char *capture_path(const char *name)
{
    g_autofree char *rel = g_strdup_printf("admission-captures/%s", name);
    return fp_test_shared_data(rel);
}

static FpSelReq req(const char *key, FpSelOp op, char **values)
{
    return (FpSelReq){.key = (char *)key, .op = op, .values = values};
}

/* ---- the codec ------------------------------------------------------- */

typedef struct {
    const char *file;
    const char *uid;
    const char *name;
    bool dry_run;
} CaptureCase;

static const CaptureCase CAPTURES[] = {
    {"001", "235aa676-63ad-4850-8c2b-9fbf3642486a", "triage-llm-0", false},
    {"002", "fc063b97-8ddd-4e72-80d7-58c791c97257", "", false},
    {"003", "8d724ede-fdce-45af-91ee-8e2bad1e9c69", "triage-llm-0", true},
    {"004", "e1f5ebc4-c1a8-46b0-83e0-605bba661753", "triage-llm-9", true},
};

static void test_decode_captures(void **state)
{
    g_autofree char *dir = capture_path("");
    if (!dir) {
        FP_SKIP("shared-data", "FP_SHARED_DATA has no admission captures");
    }
    for (guint i = 0; i < G_N_ELEMENTS(CAPTURES); i++) {
        const CaptureCase *c = &CAPTURES[i];
        g_autofree char *file = g_strdup_printf("%s-request.json", c->file);
        g_autofree char *path = capture_path(file);
        size_t len = 0;
        g_autofree char *body = fp_test_read_file(path, &len);
        GError *error = NULL;
        g_autoptr(FpAdmissionRequest) r = fp_admission_request_parse(body, len, &error);
        assert_non_null(r);
        assert_string_equal(r->api_version, "admission.k8s.io/v1");
        assert_string_equal(r->uid, c->uid);
        assert_string_equal(r->name, c->name);
        assert_string_equal(r->namespace_, "wh-demo");
        assert_string_equal(r->operation, "CREATE");
        assert_int_equal(r->dry_run, c->dry_run);
        assert_true(fp_admission_is_pod_create(r));
        g_autoptr(FpPod) pod = fp_admission_pod(r, &error);
        assert_non_null(pod);
        assert_string_equal(pod->ns, "wh-demo");
        if (*c->name) {
            assert_string_equal(pod->name, c->name);
        } else {
            /* generateName pods are named for logs from generateName + uid */
            assert_string_equal(pod->name, "triage-llm-fc063");
        }
        assert_string_equal(pod->scheduler_name, "flexplace-scheduler");
        assert_true(fp_res_list_get(&pod->requests, "nvidia.com/gpu") >= 1);
    }
}

/* Our reply with the captured patch is the reply the API server accepted. */
static void test_encode_matches_accepted_reply(void **state)
{
    g_autofree char *dir = capture_path("");
    if (!dir) {
        FP_SKIP("shared-data", "FP_SHARED_DATA has no admission captures");
    }
    for (guint i = 0; i < G_N_ELEMENTS(CAPTURES); i++) {
        g_autofree char *pf = g_strdup_printf("%s-patch.json", CAPTURES[i].file);
        g_autofree char *rf = g_strdup_printf("%s-response.json", CAPTURES[i].file);
        g_autofree char *ppath = capture_path(pf);
        g_autofree char *rpath = capture_path(rf);
        g_autofree char *ptext = fp_test_read_file(ppath, NULL);
        g_autofree char *rtext = fp_test_read_file(rpath, NULL);
        json_t *patch = parse(ptext);
        json_t *accepted = parse(rtext);
        char *warnings[] = {
            (char *)"flexplace: constrained to NVIDIA-L4, NVIDIA-A10G within 40 ms of eastus",
            NULL};
        size_t len = 0;
        g_autofree char *ours =
            fp_admission_encode_response(NULL, CAPTURES[i].uid, true, patch, warnings, NULL, &len);
        json_t *mine = parse(ours);
        json_t *a = json_object_get(accepted, "response");
        json_t *m = json_object_get(mine, "response");
        assert_string_equal(json_string_value(json_object_get(mine, "apiVersion")),
                            "admission.k8s.io/v1");
        assert_string_equal(json_string_value(json_object_get(mine, "kind")), "AdmissionReview");
        assert_true(json_equal(json_object_get(a, "uid"), json_object_get(m, "uid")));
        assert_true(json_equal(json_object_get(a, "allowed"), json_object_get(m, "allowed")));
        assert_true(json_equal(json_object_get(a, "patchType"), json_object_get(m, "patchType")));
        assert_true(json_equal(json_object_get(a, "warnings"), json_object_get(m, "warnings")));
        /* Different key order and spacing in the base64 text; same patch. */
        gsize n1 = 0, n2 = 0;
        g_autofree guchar *d1 =
            g_base64_decode(json_string_value(json_object_get(a, "patch")), &n1);
        g_autofree guchar *d2 =
            g_base64_decode(json_string_value(json_object_get(m, "patch")), &n2);
        json_t *p1 = json_loadb((const char *)d1, n1, 0, NULL);
        json_t *p2 = json_loadb((const char *)d2, n2, 0, NULL);
        assert_true(json_equal(p1, p2));
        assert_true(json_equal(p1, patch));
        json_decref(p1);
        json_decref(p2);
        json_decref(mine);
        json_decref(patch);
        json_decref(accepted);
    }
}

static void test_encode_without_patch_and_refusal(void **state)
{
    g_autofree char *allowed = fp_admission_encode_response("admission.k8s.io/v1beta1", "u-1", true,
                                                            NULL, NULL, NULL, NULL);
    json_t *v = parse(allowed);
    assert_string_equal(json_string_value(json_object_get(v, "apiVersion")),
                        "admission.k8s.io/v1beta1");
    json_t *r = json_object_get(v, "response");
    assert_true(json_is_true(json_object_get(r, "allowed")));
    assert_null(json_object_get(r, "patch"));
    assert_null(json_object_get(r, "patchType"));
    assert_null(json_object_get(r, "warnings"));
    json_decref(v);

    json_t *empty = json_array();
    g_autofree char *no_ops =
        fp_admission_encode_response(NULL, "u-2", true, empty, NULL, NULL, NULL);
    json_decref(empty);
    v = parse(no_ops);
    assert_null(json_object_get(json_object_get(v, "response"), "patch"));
    json_decref(v);

    g_autofree char *denied =
        fp_admission_encode_response(NULL, "u-3", false, NULL, NULL, "no", NULL);
    v = parse(denied);
    r = json_object_get(v, "response");
    assert_false(json_is_true(json_object_get(r, "allowed")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "status"), "code")),
                     403);
    json_decref(v);
}

static void test_warnings_bounded(void **state)
{
    GString *longw = g_string_new("flexplace: ");
    for (int i = 0; i < 100; i++) {
        g_string_append(longw, "é\tx");
    }
    char *many[12];
    for (int i = 0; i < 11; i++) {
        many[i] = longw->str;
    }
    many[11] = NULL;
    g_autofree char *text = fp_admission_encode_response(NULL, "u", true, NULL, many, NULL, NULL);
    json_t *v = parse(text);
    json_t *w = json_object_get(json_object_get(v, "response"), "warnings");
    assert_int_equal(json_array_size(w), FP_ADMISSION_MAX_WARNINGS);
    const char *first = json_string_value(json_array_get(w, 0));
    assert_true(strlen(first) <= FP_ADMISSION_MAX_WARNING);
    assert_true(g_str_has_suffix(first, "..."));
    assert_null(strchr(first, '\t'));
    assert_true(g_utf8_validate(first, -1, NULL));
    json_decref(v);
    g_string_free(longw, TRUE);
}

typedef struct {
    const char *body;
    int code; /* FpAdmissionError */
    const char *message_part;
} BadCase;

static void test_bad_reviews(void **state)
{
    const BadCase cases[] = {
        {"", FP_ADMISSION_ERROR_JSON, "invalid JSON"},
        {"{\"kind\":", FP_ADMISSION_ERROR_JSON, "invalid JSON"},
        {"[]", FP_ADMISSION_ERROR_SHAPE, "JSON object"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}", FP_ADMISSION_ERROR_SHAPE,
         "not an AdmissionReview"},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}",
         FP_ADMISSION_ERROR_SHAPE, "request"},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{}}",
         FP_ADMISSION_ERROR_SHAPE, "request.uid"},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
         "\"request\":{\"uid\":7}}",
         FP_ADMISSION_ERROR_SHAPE, "request.uid"},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
         "\"request\":{\"uid\":\"a\",\"kind\":\"Pod\"}}",
         FP_ADMISSION_ERROR_SHAPE, "request.kind"},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
         "\"request\":{\"uid\":\"a\",\"dryRun\":\"yes\"}}",
         FP_ADMISSION_ERROR_SHAPE, "dryRun"},
        {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
         "\"request\":{\"uid\":\"a\\u0000b\"}}",
         FP_ADMISSION_ERROR_JSON, "invalid JSON"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        GError *error = NULL;
        FpAdmissionRequest *r =
            fp_admission_request_parse(cases[i].body, strlen(cases[i].body), &error);
        if (r) {
            fail_msg("case %u decoded: %s", i, cases[i].body);
        }
        assert_non_null(error);
        assert_int_equal(error->code, cases[i].code);
        if (!strstr(error->message, cases[i].message_part)) {
            fail_msg("case %u: '%s' lacks '%s'", i, error->message, cases[i].message_part);
        }
        g_error_free(error);
    }
}

static void test_oversized_and_deep(void **state)
{
    /* A long uid. */
    GString *s =
        g_string_new("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
                     "\"request\":{\"uid\":\"");
    for (int i = 0; i < FP_ADMISSION_MAX_UID + 1; i++) {
        g_string_append_c(s, 'a');
    }
    g_string_append(s, "\"}}");
    GError *error = NULL;
    assert_null(fp_admission_request_parse(s->str, s->len, &error));
    assert_int_equal(error->code, FP_ADMISSION_ERROR_LIMIT);
    g_clear_error(&error);
    g_string_free(s, TRUE);

    /* A body over the limit is refused before it is parsed. */
    size_t big = FP_ADMISSION_MAX_BYTES + 1;
    char *body = g_malloc(big);
    memset(body, ' ', big);
    assert_null(fp_admission_request_parse(body, big, &error));
    assert_int_equal(error->code, FP_ADMISSION_ERROR_LIMIT);
    g_clear_error(&error);
    g_free(body);

    /* Nesting deeper than jansson's limit. */
    GString *deep = g_string_new(NULL);
    for (int i = 0; i < 5000; i++) {
        g_string_append_c(deep, '[');
    }
    assert_null(fp_admission_request_parse(deep->str, deep->len, &error));
    assert_int_equal(error->code, FP_ADMISSION_ERROR_LIMIT);
    g_clear_error(&error);
    g_string_free(deep, TRUE);
}

/* Other kinds, operations and subresources decode but are not ours. */
static void test_not_ours(void **state)
{
    const char *bodies[] = {
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":"
        "{\"uid\":\"a\",\"kind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":\"Pod\"},"
        "\"resource\":{\"group\":\"\",\"version\":\"v1\",\"resource\":\"pods\"},"
        "\"operation\":\"DELETE\",\"object\":null,\"oldObject\":{}}}",
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":"
        "{\"uid\":\"a\",\"kind\":{\"group\":\"apps\",\"version\":\"v1\",\"kind\":\"Deployment\"},"
        "\"resource\":{\"group\":\"apps\",\"version\":\"v1\",\"resource\":\"deployments\"},"
        "\"operation\":\"CREATE\",\"object\":{}}}",
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":"
        "{\"uid\":\"a\",\"kind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":\"Binding\"},"
        "\"resource\":{\"group\":\"\",\"version\":\"v1\",\"resource\":\"pods\"},"
        "\"subResource\":\"binding\",\"operation\":\"CREATE\",\"object\":{}}}",
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":"
        "{\"uid\":\"a\",\"kind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":\"Pod\"},"
        "\"resource\":{\"group\":\"\",\"version\":\"v1\",\"resource\":\"pods\"},"
        "\"operation\":\"CREATE\",\"object\":[1]}}",
    };
    for (guint i = 0; i < G_N_ELEMENTS(bodies); i++) {
        GError *error = NULL;
        g_autoptr(FpAdmissionRequest) r =
            fp_admission_request_parse(bodies[i], strlen(bodies[i]), &error);
        assert_non_null(r);
        assert_false(fp_admission_is_pod_create(r));
    }
}

/* ---- affinity merging ------------------------------------------------ */

/* Value lists (FpSelReq.values is char **; these are never written). */
#define S(x) ((char *)(x))
static char *L4_A10G[] = {S("NVIDIA-L4"), S("NVIDIA-A10G"), NULL};
static char *EASTUS[] = {S("eastus"), S("us-east-1"), NULL};
static char *SPOT[] = {S("spot"), NULL};

/* Patch @pod_text with @m, apply the patch, return the patched pod. */
static json_t *merged(const char *pod_text, const FpAffinityMerge *m, json_t **patch_out)
{
    json_t *pod = parse(pod_text);
    g_autofree char *warning = NULL;
    json_t *patch = fp_affinity_patch(pod, m, &warning);
    if (!patch) {
        fail_msg("no patch: %s", warning);
    }
    g_autofree char *err = NULL;
    json_t *out = fp_test_json_patch_apply(pod, patch, &err);
    if (!out) {
        fail_msg("patch does not apply: %s", err);
    }
    json_decref(pod);
    if (patch_out) {
        *patch_out = patch;
    } else {
        json_decref(patch);
    }
    return out;
}

static void expect_equal(json_t *got, const char *want_text)
{
    json_t *want = parse(want_text);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS);
        fail_msg("got %s", g);
    }
    json_decref(want);
}

static void test_merge_no_affinity(void **state)
{
    FpSelReq r[] = {req("nvidia.com/gpu.product", FP_SEL_IN, L4_A10G)};
    FpAffinityMerge m = {.required = r, .n_required = 1};
    json_t *patch = NULL;
    json_t *out = merged("{\"spec\":{\"containers\":[]}}", &m, &patch);
    expect_equal(out, "{\"spec\":{\"containers\":[],\"affinity\":{\"nodeAffinity\":{"
                      "\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":"
                      "[{\"matchExpressions\":[{\"key\":\"nvidia.com/gpu.product\",\"operator\":"
                      "\"In\",\"values\":[\"NVIDIA-L4\",\"NVIDIA-A10G\"]}]}]}}}}}");
    assert_string_equal(json_string_value(json_object_get(json_array_get(patch, 0), "op")), "add");
    json_decref(patch);
    json_decref(out);

    /* Present but null: replaced, not added. */
    out = merged("{\"spec\":{\"affinity\":null}}", &m, &patch);
    assert_string_equal(json_string_value(json_object_get(json_array_get(patch, 0), "op")),
                        "replace");
    json_decref(patch);
    json_decref(out);

    /* Pod affinity only: nodeAffinity added beside it, podAffinity kept. */
    out = merged("{\"spec\":{\"affinity\":{\"podAffinity\":{}}}}", &m, NULL);
    assert_non_null(
        json_object_get(json_object_get(json_object_get(out, "spec"), "affinity"), "podAffinity"));
    assert_non_null(
        json_object_get(json_object_get(json_object_get(out, "spec"), "affinity"), "nodeAffinity"));
    json_decref(out);
}

static void test_merge_into_every_term(void **state)
{
    FpSelReq r[] = {req("nvidia.com/gpu.product", FP_SEL_IN, L4_A10G),
                    req("karpenter.sh/capacity-type", FP_SEL_NOT_IN, SPOT)};
    FpAffinityMerge m = {.required = r, .n_required = 2};
    const char *pod =
        "{\"spec\":{\"affinity\":{\"nodeAffinity\":{"
        "\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":["
        "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[\"1\"]}]},"
        "{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\",\"values\":[\"n\"]}]},"
        "{},"
        "null,"
        "{\"matchExpressions\":[{\"key\":\"karpenter.sh/capacity-type\",\"operator\":\"NotIn\","
        "\"values\":[\"spot\"]}]}"
        "]}}}}}";
    json_t *out = merged(pod, &m, NULL);
    expect_equal(
        out,
        "{\"spec\":{\"affinity\":{\"nodeAffinity\":{"
        "\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":["
        "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[\"1\"]},"
        "{\"key\":\"nvidia.com/gpu.product\",\"operator\":\"In\",\"values\":[\"NVIDIA-L4\","
        "\"NVIDIA-A10G\"]},{\"key\":\"karpenter.sh/capacity-type\",\"operator\":\"NotIn\","
        "\"values\":[\"spot\"]}]},"
        "{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\",\"values\":[\"n\"]}],"
        "\"matchExpressions\":[{\"key\":\"nvidia.com/gpu.product\",\"operator\":\"In\","
        "\"values\":[\"NVIDIA-L4\",\"NVIDIA-A10G\"]},{\"key\":\"karpenter.sh/capacity-type\","
        "\"operator\":\"NotIn\",\"values\":[\"spot\"]}]},"
        "{},"
        "null,"
        "{\"matchExpressions\":[{\"key\":\"karpenter.sh/capacity-type\",\"operator\":\"NotIn\","
        "\"values\":[\"spot\"]},{\"key\":\"nvidia.com/gpu.product\",\"operator\":\"In\","
        "\"values\":[\"NVIDIA-L4\",\"NVIDIA-A10G\"]}]}"
        "]}}}}}");
    json_decref(out);

    /* Merging the result again changes nothing: a reinvoked webhook is a no-op. */
    json_t *once = merged(pod, &m, NULL);
    char *text = json_dumps(once, 0);
    json_t *patch = NULL;
    json_t *twice = merged(text, &m, &patch);
    assert_int_equal(json_array_size(patch), 0);
    assert_true(json_equal(once, twice));
    free(text);
    json_decref(patch);
    json_decref(once);
    json_decref(twice);

    /* An empty term list already matches nothing: left alone. */
    json_t *none = merged("{\"spec\":{\"affinity\":{\"nodeAffinity\":{"
                          "\"requiredDuringSchedulingIgnoredDuringExecution\":"
                          "{\"nodeSelectorTerms\":[]}}}}}",
                          &m, &patch);
    assert_int_equal(json_array_size(patch), 0);
    json_decref(patch);
    json_decref(none);
}

static void test_merge_preferred_and_annotation(void **state)
{
    FpSelReq r[] = {req("topology.kubernetes.io/region", FP_SEL_IN, EASTUS)};
    char *near[] = {S("eastus"), NULL};
    FpSelReq p[] = {req("topology.kubernetes.io/region", FP_SEL_IN, near)};
    FpPreferredTerm pref[] = {{.weight = 95, .exprs = p, .n_exprs = 1}};
    FpAffinityMerge m = {.required = r,
                         .n_required = 1,
                         .preferred = pref,
                         .n_preferred = 1,
                         .annotation_key = "flexplace.io/constraints~v1",
                         .annotation_value = "eastus"};
    json_t *patch = NULL;
    json_t *out = merged("{\"metadata\":{\"annotations\":{\"x\":\"y\"}},\"spec\":{\"affinity\":{"
                         "\"nodeAffinity\":{\"preferredDuringSchedulingIgnoredDuringExecution\":["
                         "{\"weight\":10,\"preference\":{\"matchExpressions\":[{\"key\":\"z\","
                         "\"operator\":\"Exists\"}]}}]}}}}",
                         &m, &patch);
    expect_equal(out,
                 "{\"metadata\":{\"annotations\":{\"x\":\"y\",\"flexplace.io/constraints~v1\":"
                 "\"eastus\"}},\"spec\":{\"affinity\":{\"nodeAffinity\":{"
                 "\"preferredDuringSchedulingIgnoredDuringExecution\":["
                 "{\"weight\":10,\"preference\":{\"matchExpressions\":[{\"key\":\"z\","
                 "\"operator\":\"Exists\"}]}},"
                 "{\"weight\":95,\"preference\":{\"matchExpressions\":[{\"key\":"
                 "\"topology.kubernetes.io/region\",\"operator\":\"In\",\"values\":[\"eastus\"]}]}}"
                 "],\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":[{"
                 "\"matchExpressions\":[{\"key\":\"topology.kubernetes.io/region\",\"operator\":"
                 "\"In\",\"values\":[\"eastus\",\"us-east-1\"]}]}]}}}}}");
    /* The annotation key is one escaped pointer token. */
    json_t *last = json_array_get(patch, json_array_size(patch) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "path")),
                        "/metadata/annotations/flexplace.io~1constraints~0v1");
    json_decref(patch);
    json_decref(out);
}

static void expect_refused(const char *pod_text, const FpAffinityMerge *m, const char *part)
{
    json_t *pod = parse(pod_text);
    g_autofree char *warning = NULL;
    json_t *patch = fp_affinity_patch(pod, m, &warning);
    json_decref(pod);
    if (patch) {
        fail_msg("patched: %s", pod_text);
    }
    assert_non_null(warning);
    if (!strstr(warning, part)) {
        fail_msg("warning '%s' lacks '%s'", warning, part);
    }
}

static void test_merge_limits(void **state)
{
    FpSelReq r[] = {req("nvidia.com/gpu.product", FP_SEL_IN, L4_A10G)};
    FpAffinityMerge m = {.required = r, .n_required = 1};
    expect_refused("{\"spec\":{\"affinity\":[]}}", &m, "spec.affinity");
    expect_refused("{\"spec\":{\"affinity\":{\"nodeAffinity\":{"
                   "\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":"
                   "[7]}}}}}",
                   &m, "nodeSelectorTerms[0]");

    /* Too many terms. */
    GString *s = g_string_new("{\"spec\":{\"affinity\":{\"nodeAffinity\":{"
                              "\"requiredDuringSchedulingIgnoredDuringExecution\":{"
                              "\"nodeSelectorTerms\":[");
    for (int i = 0; i <= FP_AFFINITY_MAX_TERMS; i++) {
        g_string_append_printf(s,
                               "%s{\"matchExpressions\":[{\"key\":\"k%d\",\"operator\":"
                               "\"Exists\"}]}",
                               i ? "," : "", i);
    }
    g_string_append(s, "]}}}}}");
    expect_refused(s->str, &m, "nodeSelectorTerms");
    g_string_free(s, TRUE);

    /* A term that would hold too many expressions. */
    s = g_string_new("{\"spec\":{\"affinity\":{\"nodeAffinity\":{"
                     "\"requiredDuringSchedulingIgnoredDuringExecution\":{"
                     "\"nodeSelectorTerms\":[{\"matchExpressions\":[");
    for (int i = 0; i < FP_AFFINITY_MAX_EXPRS; i++) {
        g_string_append_printf(s, "%s{\"key\":\"k%d\",\"operator\":\"Exists\"}", i ? "," : "", i);
    }
    g_string_append(s, "]}]}}}}}");
    expect_refused(s->str, &m, "expressions");
    g_string_free(s, TRUE);

    /* A pod near etcd's limit. */
    s = g_string_new("{\"metadata\":{\"annotations\":{\"big\":\"");
    for (size_t i = 0; i < FP_AFFINITY_MAX_POD_BYTES; i++) {
        g_string_append_c(s, 'x');
    }
    g_string_append(s, "\"}},\"spec\":{}}");
    expect_refused(s->str, &m, "bytes");
    g_string_free(s, TRUE);

    /* Requirements Kubernetes would refuse. */
    char *none[] = {NULL};
    FpSelReq bad_key[] = {req("Example.com/key", FP_SEL_IN, L4_A10G)};
    FpSelReq no_values[] = {req("nvidia.com/gpu.product", FP_SEL_IN, none)};
    FpSelReq gt_text[] = {req("n", FP_SEL_GT, L4_A10G)};
    FpAffinityMerge bad = {.required = bad_key, .n_required = 1};
    expect_refused("{\"spec\":{}}", &bad, "label name");
    bad.required = no_values;
    expect_refused("{\"spec\":{}}", &bad, "need values");
    bad.required = gt_text;
    expect_refused("{\"spec\":{}}", &bad, "integer");
    FpPreferredTerm heavy[] = {{.weight = 101, .exprs = r, .n_exprs = 1}};
    FpAffinityMerge w = {.preferred = heavy, .n_preferred = 1};
    expect_refused("{\"spec\":{}}", &w, "weight");
}

/* ---- the captures, end to end ---------------------------------------- */

/* The pod of capture @file after the patch flexplace computes for it, and
 * after the patch the API server accepted: equal. */
static void replay_one(const char *file, FpView *view, const FpPolicy *policy)
{
    g_autofree char *rf = g_strdup_printf("%s-request.json", file);
    g_autofree char *pf = g_strdup_printf("%s-patch.json", file);
    g_autofree char *rpath = capture_path(rf);
    g_autofree char *ppath = capture_path(pf);
    size_t len = 0;
    g_autofree char *body = fp_test_read_file(rpath, &len);
    g_autofree char *ptext = fp_test_read_file(ppath, NULL);
    GError *error = NULL;
    g_autoptr(FpAdmissionRequest) r = fp_admission_request_parse(body, len, &error);
    assert_non_null(r);
    g_autoptr(FpPod) pod = fp_admission_pod(r, &error);
    assert_non_null(pod);
    g_autoptr(FpDemand) d = fp_demand_new(pod, policy);
    assert_null(d->invalid_reason);
    g_autoptr(FpConstraints) c = fp_view_constraints(view, policy, d, NULL, 0, false);
    assert_true(c->applies);
    assert_true(c->expressible);
    assert_null(c->problem);
    assert_string_equal(c->summary, "NVIDIA-L4, NVIDIA-A10G within 40 ms of eastus");

    FpAffinityMerge m = {.required = c->required, .n_required = c->n_required};
    g_autofree char *warning = NULL;
    json_t *ours = fp_affinity_patch(r->object, &m, &warning);
    assert_non_null(ours);
    json_t *accepted = parse(ptext);
    /* The same operations, in the same order. */
    if (!json_equal(ours, accepted)) {
        char *t = json_dumps(ours, 0);
        fail_msg("%s: patch differs: %s", file, t);
    }
    g_autofree char *e1 = NULL;
    g_autofree char *e2 = NULL;
    json_t *got = fp_test_json_patch_apply(r->object, ours, &e1);
    json_t *want = fp_test_json_patch_apply(r->object, accepted, &e2);
    assert_non_null(got);
    assert_non_null(want);
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    json_decref(ours);
    json_decref(accepted);
}

static void test_replay_captures(void **state)
{
    g_autofree char *dir = capture_path("");
    if (!dir) {
        FP_SKIP("shared-data", "FP_SHARED_DATA has no admission captures");
    }
    FpView *view = demo_view();
    g_autoptr(FpPolicy) policy = fp_test_policy(REPLAY_POLICY);
    for (guint i = 0; i < G_N_ELEMENTS(CAPTURES); i++) {
        replay_one(CAPTURES[i].file, view, policy);
    }
    fp_view_free(view);
}

/* ---- constraints ------------------------------------------------------ */

typedef struct {
    const char *annotations; /* JSON object */
    guint min_admitted;      /* demo nodes the requirements must still admit */
} DemandCase;

typedef struct {
    const FpPolicy *policy;
    const FpDemand *d;
    const FpPod *patched;
    guint *admitted;
    guint *accepted;
} WalkData;

static void each(const FpNodeState *st, void *data)
{
    WalkData *w = data;
    if (fp_res_list_get(&st->node->allocatable, "nvidia.com/gpu") <= 0) {
        return;
    }
    FpNodeFacts f;
    fp_node_facts(w->policy, st->node, &f);
    const char *hard = fp_constraints_hard_reason(w->policy, w->d, &f);
    /* Affinity alone (the node's own taints, cordon and free GPUs are
     * kube-scheduler's business either way). */
    FpPod probe = *w->patched;
    probe.tolerations = NULL;
    probe.n_tolerations = 0;
    FpNode n = *st->node;
    n.taints = NULL;
    n.n_taints = 0;
    n.unschedulable = false;
    const char *kube = fp_kube_feasible(&probe, &n, NULL);
    bool affinity_ok = kube == NULL;
    *w->accepted += hard == NULL;
    if (affinity_ok) {
        *w->admitted += 1;
        if (hard) {
            fail_msg("node %s admitted by the affinity but rejected by flexplace: %s", st->name,
                     hard);
        }
    }
}

/* On the demo cluster: after the merge, every node kube-scheduler's own
 * checks accept (affinity, taints, resources) is one flexplace's hard
 * filters accept, for demands of every kind. */
static void test_affinity_admits_only_accepted_nodes(void **state)
{
    const char *policy_yaml = "regions:\n"
                              "  latencyMs:\n"
                              "    eastus: {us-east-1: 10, westeurope: 82, us-west-2: 65,\n"
                              "             us-central1: 30}\n"
                              "    us-east-1: {westeurope: 75, us-west-2: 62, us-central1: 25}\n"
                              "    westeurope: {us-west-2: 140, us-central1: 100}\n"
                              "    us-west-2: {us-central1: 40}\n"
                              "pools:\n"
                              "  - {name: aws-use1-l4, pricePerGPUHour: 3.5}\n";
    g_autoptr(FpPolicy) policy = fp_test_policy(policy_yaml);
    FpView *view = demo_view();
    const DemandCase cases[] = {
        {"{\"flexplace.io/gpu-sku\":\"NVIDIA-L4,NVIDIA-A10G\"}", 1},
        {"{\"flexplace.io/min-gpu-memory\":\"40Gi\"}", 1},
        {"{\"flexplace.io/max-price-per-gpu-hour\":\"1.2\"}", 1},
        {"{\"flexplace.io/origin-region\":\"eastus\",\"flexplace.io/max-latency-ms\":\"30\"}", 1},
        {"{\"flexplace.io/gpu-sku\":\"NVIDIA-L4\",\"flexplace.io/max-price-per-gpu-hour\":\"2\"}",
         1},
        {"{\"flexplace.io/gpu-sku\":\"A100-SXM4-40GB,NVIDIA-A100-80GB-PCIe\","
         "\"flexplace.io/origin-region\":\"westeurope\",\"flexplace.io/max-latency-ms\":\"90\"}",
         1},
        /* the model's fit (filter 7b) is a constraint on the product: at
         * 8k Llama-3.1-8B fits a 24 GB card but not a 16 GB T4; at 32k
         * only the 40 GB and larger ones */
        {"{\"flexplace.io/model\":\"meta-llama/Llama-3.1-8B-Instruct\","
         "\"flexplace.io/max-model-len\":\"8192\"}",
         4},
        {"{\"flexplace.io/model\":\"meta-llama/Llama-3.1-8B-Instruct\","
         "\"flexplace.io/max-model-len\":\"32768\"}",
         1},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *pod_text = g_strdup_printf(
            "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"annotations\":%s},"
            "\"spec\":{\"tolerations\":[{\"operator\":\"Exists\"}],\"containers\":[{\"name\":"
            "\"c\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"1\"}}}]}}",
            cases[i].annotations);
        json_t *pod_json = parse(pod_text);
        g_autoptr(FpPod) pod = fp_pod_from_json(pod_json, FP_POD_FULL, NULL);
        g_autoptr(FpDemand) d = fp_demand_new(pod, policy);
        assert_null(d->invalid_reason);
        g_autoptr(FpConstraints) c = fp_view_constraints(view, policy, d, NULL, 0, true);
        assert_true(c->expressible);
        FpAffinityMerge m = {.required = c->required,
                             .n_required = c->n_required,
                             .preferred = c->preferred,
                             .n_preferred = c->n_preferred};
        g_autofree char *warning = NULL;
        json_t *patch = fp_affinity_patch(pod_json, &m, &warning);
        assert_non_null(patch);
        g_autofree char *err = NULL;
        json_t *patched_json = fp_test_json_patch_apply(pod_json, patch, &err);
        assert_non_null(patched_json);
        g_autoptr(FpPod) patched = fp_pod_from_json(patched_json, FP_POD_FULL, NULL);
        assert_non_null(patched);
        guint admitted = 0, accepted = 0;
        WalkData w = {policy, d, patched, &admitted, &accepted};
        fp_view_read_lock(view);
        fp_view_foreach_node_locked(view, each, &w);
        fp_view_read_unlock(view);
        if (admitted < cases[i].min_admitted) {
            fail_msg("case %u (%s): only %u nodes admitted", i, c->summary, admitted);
        }
        assert_true(admitted <= accepted);
        json_decref(patch);
        json_decref(patched_json);
        json_decref(pod_json);
    }
    fp_view_free(view);
}

/* fp_constraints_hard_reason agrees with the engine's filters 6-9 (7b,
 * the model's fit, included). */
static void test_hard_reason_matches_engine(void **state)
{
    g_autoptr(FpPolicy) policy =
        fp_test_policy("pools:\n  - {name: aws-use1-l4, pricePerGPUHour: 3.5}\n"
                       "regions:\n  latencyMs:\n    eastus: {us-east-1: 10}\n");
    FpView *view = demo_view();
    const char *anns[] = {
        "{\"flexplace.io/gpu-sku\":\"NVIDIA-L4\"}",
        "{\"flexplace.io/min-gpu-memory\":\"40Gi\"}",
        "{\"flexplace.io/max-price-per-gpu-hour\":\"1.2\"}",
        "{\"flexplace.io/origin-region\":\"eastus\",\"flexplace.io/max-latency-ms\":\"30\"}",
        "{\"flexplace.io/model\":\"meta-llama/Llama-3.1-8B-Instruct\","
        "\"flexplace.io/max-model-len\":\"32768\"}",
        "{\"flexplace.io/model\":\"meta-llama/Llama-3.1-70B-Instruct\"}",
    };
    const char *names[] = {"aws-use1-l4-1", "aws-use1-l4-2",   "aws-use1-h100-1", "aks-gput4-1",
                           "aks-gpua100-1", "aws-usw2-a10g-1", "gke-l4-pool-1",   "aks-gpua100-2"};
    for (guint i = 0; i < G_N_ELEMENTS(anns); i++) {
        g_autofree char *pod_text = g_strdup_printf(
            "{\"metadata\":{\"name\":\"p\",\"annotations\":%s},\"spec\":{\"containers\":[{"
            "\"name\":\"c\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"1\"}}}]}}",
            anns[i]);
        json_t *pj = parse(pod_text);
        g_autoptr(FpPod) pod = fp_pod_from_json(pj, FP_POD_FULL, NULL);
        json_decref(pj);
        g_autoptr(FpDemand) d = fp_demand_new(pod, policy);
        FpCandidate cands[G_N_ELEMENTS(names)];
        FpVerdict out[G_N_ELEMENTS(names)];
        FpNodeFacts facts[G_N_ELEMENTS(names)];
        fp_view_read_lock(view);
        for (guint k = 0; k < G_N_ELEMENTS(names); k++) {
            const FpNodeState *st = fp_view_node_locked(view, names[k]);
            assert_non_null(st);
            cands[k] = (FpCandidate){.node = st->node, .name = names[k]};
            fp_node_facts(policy, st->node, &facts[k]);
        }
        FpEvalContext ctx = {.policy = policy, .demand = d};
        memset(out, 0, sizeof out);
        fp_evaluate(&ctx, cands, G_N_ELEMENTS(names), out);
        for (guint k = 0; k < G_N_ELEMENTS(names); k++) {
            const char *hard = fp_constraints_hard_reason(policy, d, &facts[k]);
            const char *engine = out[k].reason;
            bool engine_hard =
                engine &&
                (g_str_equal(engine, FP_REASON_SKU) || g_str_equal(engine, FP_REASON_GPU_MEMORY) ||
                 g_str_equal(engine, FP_REASON_MODEL_FIT) ||
                 g_str_equal(engine, FP_REASON_LATENCY) || g_str_equal(engine, FP_REASON_PRICE));
            bool engine_earlier = engine && (g_str_equal(engine, FP_REASON_NOT_READY) ||
                                             g_str_equal(engine, FP_REASON_UNSCHEDULABLE));
            if (engine_earlier) {
                continue;
            }
            if (engine_hard ? g_strcmp0(hard, engine) != 0 : hard != NULL) {
                fail_msg("%s, %s: engine says %s, constraints say %s", anns[i], names[k],
                         engine ? engine : "pass", hard ? hard : "pass");
            }
        }
        fp_view_read_unlock(view);
    }
    fp_view_free(view);
}

/* The demand of a pod asking one nvidia.com/gpu with @annotations (a
 * JSON object). */
static FpDemand *gpu_demand(const FpPolicy *policy, const char *annotations)
{
    g_autofree char *text = g_strdup_printf(
        "{\"metadata\":{\"name\":\"p\",\"annotations\":%s},\"spec\":{\"containers\":[{"
        "\"name\":\"c\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"1\"}}}]}}",
        annotations);
    json_t *pj = parse(text);
    g_autoptr(FpPod) pod = fp_pod_from_json(pj, FP_POD_FULL, NULL);
    json_decref(pj);
    assert_non_null(pod);
    return fp_demand_new(pod, policy);
}

static void assert_not_admitted(const FpNodeState *st, void *data)
{
    if (fp_constraints_admit(data, st->node->labels)) {
        fail_msg("node %s admitted by unsatisfiable constraints", st->name);
    }
}

/* Pool templates count as offers; a price-overridden pool is excluded by a
 * NotIn; a demand nothing satisfies is reported. */
static void test_constraints_templates_and_problems(void **state)
{
    g_autoptr(FpPolicy) policy =
        fp_test_policy("pools:\n  - {name: aws-use1-l4, pricePerGPUHour: 3.5}\n");
    FpView *view = demo_view();
    g_autoptr(FpDemand) d = gpu_demand(policy, "{"
                                               "\"flexplace.io/gpu-sku\":\"NVIDIA-L4\","
                                               "\"flexplace.io/max-price-per-gpu-hour\":\"2\"}");
    g_autoptr(FpConstraints) c = fp_view_constraints(view, policy, d, NULL, 0, false);
    assert_true(c->expressible);
    /* aws-use1-l4 costs 3.5 here: its L4s are taken out by pool. */
    bool saw_notin = false;
    for (guint i = 0; i < c->n_required; i++) {
        if (c->required[i].op == FP_SEL_NOT_IN &&
            g_strv_contains((const char *const *)c->required[i].values, "aws-use1-l4")) {
            saw_notin = true;
        }
    }
    assert_true(saw_notin);
    assert_true(c->offers_accepted > 0); /* gke's L4 */

    /* A template at zero nodes is an offer like any other. */
    FpOffer tmpl = {.name = "karpenter/h200",
                    .is_template = true,
                    .facts = {.pool = "h200",
                              .region = "us-east-1",
                              .zone = "",
                              .product = "NVIDIA-H200",
                              .instance_type = "",
                              .capacity_type = "on-demand",
                              .gpu_memory_mib = 141 * 1024,
                              .price_per_gpu_hour = 7.9,
                              .max_utilization = 1}};
    g_autoptr(FpDemand) d2 = gpu_demand(policy, "{"
                                                "\"flexplace.io/min-gpu-memory\":\"120Gi\"}");
    g_autoptr(FpConstraints) none = fp_view_constraints(view, policy, d2, NULL, 0, false);
    assert_true(none->expressible); /* H200 and B200 in the SKU table qualify */
    assert_int_equal(none->offers_accepted, 0);
    assert_non_null(none->problem);
    assert_non_null(strstr(none->problem, "no node or pool template offers"));
    g_autoptr(FpConstraints) some = fp_view_constraints(view, policy, d2, &tmpl, 1, false);
    assert_int_equal(some->offers_accepted, 1);
    assert_int_equal(some->templates_accepted, 1);
    assert_null(some->problem);

    /* Nothing in the world has 4 TiB per GPU: not expressible, and the
     * requirements are the pair no node matches. */
    g_autoptr(FpDemand) d3 = gpu_demand(policy, "{"
                                                "\"flexplace.io/min-gpu-memory\":\"4Ti\"}");
    g_autoptr(FpConstraints) never = fp_view_constraints(view, policy, d3, NULL, 0, false);
    assert_false(never->expressible);
    assert_true(never->unsatisfiable);
    assert_int_equal(never->n_required, 2);
    assert_string_equal(never->required[0].key, "nvidia.com/gpu.product");
    assert_int_equal(never->required[0].op, FP_SEL_EXISTS);
    assert_string_equal(never->required[1].key, "nvidia.com/gpu.product");
    assert_int_equal(never->required[1].op, FP_SEL_DOES_NOT_EXIST);
    assert_non_null(strstr(never->problem, "GPU product"));
    /* no node of the demo cluster passes them */
    fp_view_read_lock(view);
    fp_view_foreach_node_locked(view, assert_not_admitted, never);
    fp_view_read_unlock(view);

    /* Llama-3.1-70B in bf16 (131 GiB) on one GPU: only the GPUs of the
     * SKU table with room for it qualify (B200, H200), none of the demo's
     * 80 GB cards; no node offers one, and the problem names the model. */
    g_autoptr(FpDemand) d4 =
        gpu_demand(policy, "{"
                           "\"flexplace.io/model\":\"meta-llama/Llama-3.1-70B-Instruct\"}");
    assert_true(d4->model_known);
    g_autoptr(FpConstraints) big_only = fp_view_constraints(view, policy, d4, NULL, 0, false);
    assert_true(big_only->expressible);
    assert_int_equal(big_only->offers_accepted, 0);
    assert_true(big_only->n_required >= 1);
    const char *const *products = (const char *const *)big_only->required[0].values;
    assert_true(g_strv_contains(products, "NVIDIA-B200"));
    assert_false(g_strv_contains(products, "NVIDIA-H100-80GB-HBM3"));
    assert_false(g_strv_contains(products, "NVIDIA-L4"));
    assert_non_null(strstr(big_only->problem, "Llama-3.1-70B (130.4 GiB of weights over 1 GPU)"));

    /* A model every known GPU holds narrows nothing: no requirement. */
    g_autoptr(FpDemand) d5 = gpu_demand(policy, "{\"flexplace.io/model\":\"acme/tiny-chat\","
                                                "\"flexplace.io/model-size\":\"2Gi\","
                                                "\"flexplace.io/max-model-len\":\"2048\"}");
    assert_true(d5->model_known);
    g_autoptr(FpConstraints) all = fp_view_constraints(view, policy, d5, NULL, 0, false);
    assert_true(all->expressible);
    assert_int_equal(all->n_required, 0);
    fp_view_free(view);
}

/* A profile that avoids spot: every capacity label NotIn its spot values,
 * and the hard filter agrees. */
static void test_constraints_avoid_spot(void **state)
{
    g_autoptr(FpPolicy) policy =
        fp_test_policy("profiles:\n  default: {weights: {cost: 1}, avoidSpot: true}\n");
    FpView *view = demo_view();
    json_t *pj = parse("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":"
                       "\"c\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"1\"}}}]}}");
    g_autoptr(FpPod) pod = fp_pod_from_json(pj, FP_POD_FULL, NULL);
    json_decref(pj);
    g_autoptr(FpDemand) d = fp_demand_new(pod, policy);
    g_autoptr(FpConstraints) c = fp_view_constraints(view, policy, d, NULL, 0, false);
    assert_true(c->expressible);
    assert_non_null(strstr(c->summary, "not on spot capacity"));
    const struct {
        const char *key, *value;
        bool admitted;
    } cases[] = {
        {"karpenter.sh/capacity-type", "on-demand", true},
        {"karpenter.sh/capacity-type", "spot", false},
        {"eks.amazonaws.com/capacityType", "SPOT", false},
        {"eks.amazonaws.com/capacityType", "ON_DEMAND", true},
        {"kubernetes.azure.com/scalesetpriority", "spot", false},
        {"cloud.google.com/gke-spot", "true", false},
        {"cloud.google.com/gke-preemptible", "true", false},
        {"some.other/label", "spot", true},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        GHashTable *labels = g_hash_table_new(g_str_hash, g_str_equal);
        g_hash_table_insert(labels, (char *)cases[i].key, (char *)cases[i].value);
        if (fp_constraints_admit(c, labels) != cases[i].admitted) {
            fail_msg("%s=%s: admitted %d", cases[i].key, cases[i].value, !cases[i].admitted);
        }
        g_hash_table_unref(labels);
    }
    FpNodeFacts spot = {.pool = "",
                        .region = "",
                        .zone = "",
                        .product = "NVIDIA-L4",
                        .instance_type = "",
                        .capacity_type = "spot",
                        .gpu_memory_mib = 24576,
                        .price_per_gpu_hour = 1};
    assert_string_equal(fp_constraints_hard_reason(policy, d, &spot), FP_REASON_SPOT);
    spot.capacity_type = "on-demand";
    assert_null(fp_constraints_hard_reason(policy, d, &spot));
    fp_view_free(view);
}

/* The preferred region terms weigh a region by the engine's latency term
 * (fp_latency_term: one absolute scale), not by a linear scale relative to
 * the pod's limit: the same round trip weighs the same whatever the limit,
 * and 20 ms between two regions still counts. */
static int preferred_weight(const FpConstraints *c, const char *region)
{
    for (guint i = 0; i < c->n_preferred; i++) {
        const FpSelReq *e = &c->preferred[i].exprs[0];
        if (g_strv_contains((const char *const *)e->values, region)) {
            return c->preferred[i].weight;
        }
    }
    return -1;
}

static FpConstraints *preferred_for(FpView *view, const FpPolicy *policy, const char *limit,
                                    FpDemand **d_out)
{
    g_autofree char *text = g_strdup_printf(
        "{\"metadata\":{\"name\":\"p\",\"annotations\":{"
        "\"flexplace.io/origin-region\":\"eastus\"%s%s%s}},"
        "\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"limits\":"
        "{\"nvidia.com/gpu\":\"1\"}}}]}}",
        limit ? ",\"flexplace.io/max-latency-ms\":\"" : "", limit ? limit : "", limit ? "\"" : "");
    json_t *pj = parse(text);
    g_autoptr(FpPod) pod = fp_pod_from_json(pj, FP_POD_FULL, NULL);
    json_decref(pj);
    *d_out = fp_demand_new(pod, policy);
    assert_null((*d_out)->invalid_reason);
    return fp_view_constraints(view, policy, *d_out, NULL, 0, true);
}

static void test_preferred_weights_use_the_latency_term(void **state)
{
    (void)state;
    g_autoptr(FpPolicy) policy =
        fp_test_policy("regions:\n"
                       "  builtinLatency: false\n"
                       "  latencyMs:\n"
                       "    eastus: {us-east-1: 10, us-central1: 30, us-west-2: 65}\n"
                       "    us-east-1: {us-central1: 25, us-west-2: 62}\n"
                       "    us-central1: {us-west-2: 40}\n");
    FpView *view = demo_view();
    const char *limits[] = {"40", "90", NULL};
    int use1[G_N_ELEMENTS(limits)];
    for (guint l = 0; l < G_N_ELEMENTS(limits); l++) {
        g_autoptr(FpDemand) d = NULL;
        g_autoptr(FpConstraints) c = preferred_for(view, policy, limits[l], &d);
        assert_true(c->n_preferred > 0);
        for (guint i = 0; i < c->n_preferred; i++) {
            const char *region = c->preferred[i].exprs[0].values[0];
            double ms = fp_weighted_latency(policy, d, region);
            long want = CLAMP(lround(100.0 * fp_latency_term(ms)), 1, 100);
            if (c->preferred[i].weight != want) {
                fail_msg("limit %s: %s at %.1f ms weighs %d, want %ld", limits[l], region, ms,
                         c->preferred[i].weight, want);
            }
            if (i > 0) { /* nearest first: weights never rise */
                assert_true(c->preferred[i].weight <= c->preferred[i - 1].weight);
            }
        }
        use1[l] = preferred_weight(c, "us-east-1");
    }
    /* 10 ms: 1 - log2(3) / log2(61) = 0.733, whatever the limit (the
     * linear scale gave 75 under a 40 ms limit and 89 under 90 ms). */
    assert_int_equal(use1[0], 73);
    assert_int_equal(use1[1], 73);
    assert_int_equal(use1[2], 73);
    assert_int_equal(fp_latency_term(0), 1.0);
    assert_true(fp_latency_term(300) == 0.0 && fp_latency_term(1e9) == 0.0);
    assert_true(fabs(fp_latency_term(20) - 0.6086) < 1e-3);
    fp_view_free(view);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_captures),
        cmocka_unit_test(test_encode_matches_accepted_reply),
        cmocka_unit_test(test_encode_without_patch_and_refusal),
        cmocka_unit_test(test_warnings_bounded),
        cmocka_unit_test(test_bad_reviews),
        cmocka_unit_test(test_oversized_and_deep),
        cmocka_unit_test(test_not_ours),
        cmocka_unit_test(test_merge_no_affinity),
        cmocka_unit_test(test_merge_into_every_term),
        cmocka_unit_test(test_merge_preferred_and_annotation),
        cmocka_unit_test(test_merge_limits),
        cmocka_unit_test(test_replay_captures),
        cmocka_unit_test(test_affinity_admits_only_accepted_nodes),
        cmocka_unit_test(test_hard_reason_matches_engine),
        cmocka_unit_test(test_constraints_templates_and_problems),
        cmocka_unit_test(test_constraints_avoid_spot),
        cmocka_unit_test(test_preferred_weights_use_the_latency_term),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
