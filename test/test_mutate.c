/*
 * test/test_mutate.c - the webhook's answers (extender/server/mutate.h):
 * the real admission captures patched as the API server accepted them, and
 * every way a review is left unchanged, skipped or refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <jansson.h>
#include <string.h>

#include "cache/demo_cluster.h"
#include "extender/server/mutate.h"
#include "test/support/jsonpatch.h"
#include "test/support/support.h"

/* The captures' answer: L4 or A10G within 40 ms of eastus for namespace
 * wh-demo (the 10 ms eastus <-> us-east-1 round trip is this test's
 * assumption; no cross-cloud figure is published).  The captures predate
 * the built-in round trips, which would also admit us-central1: off. */
static const char *POLICY = "regions:\n"
                            "  builtinLatency: false\n"
                            "  latencyMs:\n"
                            "    eastus: {us-east-1: 10}\n"
                            "profiles:\n"
                            "  webhook-demo: {weights: {latency: 3, cost: 1}, maxLatencyMs: 40,\n"
                            "                 originRegions: eastus,\n"
                            "                 allowedSKUs: [NVIDIA-L4, NVIDIA-A10G]}\n"
                            "namespaces: {wh-demo: webhook-demo}\n";

typedef struct {
    FpView *view;
    FpPolicyStore *policies;
    FpMetrics *metrics;
    FpMutateEnv env;
    char *policy_path;
    bool ready;
    GArray *templates;
} Fixture;

static bool fixture_ready(void *ctx, const char **why)
{
    Fixture *f = ctx;
    *why = f->ready ? NULL : "node view not synced yet";
    return f->ready;
}

static GArray *fixture_templates(void *ctx, const FpPolicy *policy)
{
    Fixture *f = ctx;
    return f->templates ? g_array_ref(f->templates) : NULL;
}

static int setup(void **state)
{
    Fixture *f = g_new0(Fixture, 1);
    GError *error = NULL;
    int fd = g_file_open_tmp("fp-mutate-XXXXXX.yaml", &f->policy_path, &error);
    assert_true(fd >= 0);
    assert_true(write(fd, POLICY, strlen(POLICY)) == (ssize_t)strlen(POLICY));
    close(fd);
    f->view = fp_view_new();
    assert_true(fp_demo_cluster_load(f->view, &error));
    f->policies = fp_policy_store_new(f->policy_path, &error);
    assert_non_null(f->policies);
    f->metrics = fp_metrics_new();
    f->ready = true;
    f->env = (FpMutateEnv){.view = f->view,
                           .policies = f->policies,
                           .ready = fixture_ready,
                           .ready_ctx = f,
                           .templates = fixture_templates,
                           .templates_ctx = f,
                           .reviews = fp_mutate_metrics(f->metrics)};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    fp_policy_store_free(f->policies);
    fp_view_free(f->view);
    fp_metrics_free(f->metrics);
    g_unlink(f->policy_path);
    g_free(f->policy_path);
    if (f->templates) {
        g_array_unref(f->templates);
    }
    g_free(f);
    return 0;
}

/* The reply to @body, parsed; *result set. */
static json_t *answer(Fixture *f, const char *body, FpMutateResult *result)
{
    GError *error = NULL;
    size_t len = 0;
    g_autofree char *reply = fp_mutate_answer(&f->env, body, strlen(body), &len, result, &error);
    if (!reply) {
        fail_msg("no reply: %s", error->message);
    }
    json_t *v = json_loadb(reply, len, 0, NULL);
    assert_non_null(v);
    return json_object_get(v, "response") ? v : NULL;
}

static json_t *decoded_patch(const json_t *reply)
{
    const char *b64 =
        json_string_value(json_object_get(json_object_get(reply, "response"), "patch"));
    if (!b64) {
        return NULL;
    }
    gsize n = 0;
    g_autofree guchar *raw = g_base64_decode(b64, &n);
    return json_loadb((const char *)raw, n, 0, NULL);
}

static json_t *warnings_of(const json_t *reply)
{
    return json_object_get(json_object_get(reply, "response"), "warnings");
}

static void test_captures_patched(void **state)
{
    Fixture *f = *state;
    const char *files[] = {"001", "002", "003", "004"};
    for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *rel = g_strdup_printf("admission-captures/%s-request.json", files[i]);
        g_autofree char *path = fp_test_shared_data(rel);
        if (!path) {
            FP_SKIP("shared-data", "FP_SHARED_DATA has no admission captures");
        }
        g_autofree char *prel = g_strdup_printf("admission-captures/%s-patch.json", files[i]);
        g_autofree char *ppath = fp_test_shared_data(prel);
        g_autofree char *rrel = g_strdup_printf("admission-captures/%s-response.json", files[i]);
        g_autofree char *rpath = fp_test_shared_data(rrel);
        g_autofree char *body = fp_test_read_file(path, NULL);
        g_autofree char *ptext = fp_test_read_file(ppath, NULL);
        g_autofree char *rtext = fp_test_read_file(rpath, NULL);
        FpMutateResult result;
        json_t *reply = answer(f, body, &result);
        assert_int_equal(result, FP_MUTATE_PATCHED);
        json_t *accepted_reply = json_loads(rtext, 0, NULL);
        json_t *r = json_object_get(reply, "response");
        json_t *a = json_object_get(accepted_reply, "response");
        assert_true(json_equal(json_object_get(r, "uid"), json_object_get(a, "uid")));
        assert_true(json_equal(json_object_get(r, "patchType"), json_object_get(a, "patchType")));
        assert_true(json_equal(warnings_of(reply), json_object_get(a, "warnings")));

        /* Our patch on the request's pod == the accepted patch on it, plus
         * the annotation saying what was added. */
        json_t *review = json_loads(body, 0, NULL);
        json_t *pod = json_object_get(json_object_get(review, "request"), "object");
        json_t *ours = decoded_patch(reply);
        json_t *theirs = json_loads(ptext, 0, NULL);
        g_autofree char *e1 = NULL;
        g_autofree char *e2 = NULL;
        json_t *got = fp_test_json_patch_apply(pod, ours, &e1);
        json_t *want = fp_test_json_patch_apply(pod, theirs, &e2);
        assert_non_null(got);
        assert_non_null(want);
        json_t *anns = json_object_get(json_object_get(got, "metadata"), "annotations");
        const char *note = json_string_value(json_object_get(anns, FP_ANN_CONSTRAINTS));
        assert_non_null(note);
        assert_true(g_str_has_prefix(note, "NVIDIA-L4, NVIDIA-A10G within 40 ms of eastus"));
        json_object_del(anns, FP_ANN_CONSTRAINTS);
        if (json_object_size(anns) == 0) {
            json_object_del(json_object_get(got, "metadata"), "annotations");
        }
        assert_true(json_equal(got, want));
        json_decref(got);
        json_decref(want);
        json_decref(ours);
        json_decref(theirs);
        json_decref(review);
        json_decref(accepted_reply);
        json_decref(reply);
    }
}

static char *review(const char *operation, const char *annotations, const char *limits)
{
    return g_strdup_printf(
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
        "\"uid\":\"0b5c2f7a-0000-4c7e-9d1a-00000000abcd\","
        "\"kind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":\"Pod\"},"
        "\"resource\":{\"group\":\"\",\"version\":\"v1\",\"resource\":\"pods\"},"
        "\"namespace\":\"team-a\",\"operation\":\"%s\",\"object\":{\"metadata\":{"
        "\"generateName\":\"llm-\",\"annotations\":%s},\"spec\":{\"containers\":[{\"name\":"
        "\"c\",\"resources\":{\"limits\":%s}}]}}}}",
        operation, annotations, limits);
}

static const char *GPU = "{\"nvidia.com/gpu\":\"1\"}";

static void expect(Fixture *f, const char *body, FpMutateResult want, const char *warning_part)
{
    FpMutateResult result;
    json_t *reply = answer(f, body, &result);
    if (result != want) {
        fail_msg("result %s, want %s", fp_mutate_result_name(result), fp_mutate_result_name(want));
    }
    json_t *r = json_object_get(reply, "response");
    assert_true(json_is_true(json_object_get(r, "allowed")));
    assert_string_equal(json_string_value(json_object_get(r, "uid")),
                        "0b5c2f7a-0000-4c7e-9d1a-00000000abcd");
    json_t *w = warnings_of(reply);
    if (warning_part) {
        bool found = false;
        size_t i;
        json_t *v;
        json_array_foreach(w, i, v)
        {
            found = found || strstr(json_string_value(v), warning_part);
        }
        if (!found) {
            char *t = json_dumps(w, 0);
            fail_msg("warnings %s lack '%s'", t ? t : "none", warning_part);
        }
    } else {
        assert_null(w);
    }
    if (want != FP_MUTATE_PATCHED) {
        assert_null(json_object_get(r, "patch"));
    }
    json_decref(reply);
}

static void test_unchanged_and_skipped(void **state)
{
    Fixture *f = *state;
    g_autofree char *del = review("DELETE", "{}", GPU);
    expect(f, del, FP_MUTATE_SKIPPED, NULL);
    g_autofree char *cpu = review("CREATE", "{}", "{\"cpu\":\"1\"}");
    expect(f, cpu, FP_MUTATE_SKIPPED, NULL);
    g_autofree char *bad_ann = review("CREATE", "{\"flexplace.io/max-latency-ms\":\"soon\"}", GPU);
    expect(f, bad_ann, FP_MUTATE_UNCHANGED, "flexplace.io/max-latency-ms");
    g_autofree char *huge = review("CREATE", "{\"flexplace.io/min-gpu-memory\":\"4Ti\"}", GPU);
    expect(f, huge, FP_MUTATE_PATCHED, "its node affinity now matches no node");
    /* team-a's default profile constrains nothing: nothing to add. */
    g_autofree char *plain = review("CREATE", "{}", GPU);
    expect(f, plain, FP_MUTATE_SKIPPED, NULL);

    f->ready = false;
    g_autofree char *sku = review("CREATE", "{\"flexplace.io/gpu-sku\":\"NVIDIA-L4\"}", GPU);
    expect(f, sku, FP_MUTATE_UNCHANGED, "not ready");
    f->ready = true;
    expect(f, sku, FP_MUTATE_PATCHED, "constrained to NVIDIA-L4");
}

/* A pod nothing in the cluster offers is still constrained, and told why
 * it will wait; a pool template that offers it silences that. */
static void test_templates_count(void **state)
{
    Fixture *f = *state;
    g_autofree char *big = review("CREATE", "{\"flexplace.io/min-gpu-memory\":\"120Gi\"}", GPU);
    expect(f, big, FP_MUTATE_PATCHED, "no node or pool template offers");
    FpOffer tmpl = {.name = "karpenter/h200",
                    .is_template = true,
                    .facts = {.pool = "h200",
                              .region = "us-east-1",
                              .zone = "",
                              .product = "NVIDIA-H200",
                              .instance_type = "p5e.48xlarge",
                              .capacity_type = "on-demand",
                              .gpu_memory_mib = 141 * 1024,
                              .price_per_gpu_hour = 7.9,
                              .max_utilization = 1}};
    f->templates = g_array_new(FALSE, FALSE, sizeof(FpOffer));
    g_array_append_val(f->templates, tmpl);
    FpMutateResult result;
    json_t *reply = answer(f, big, &result);
    assert_int_equal(result, FP_MUTATE_PATCHED);
    json_t *w = warnings_of(reply);
    assert_int_equal(json_array_size(w), 1);
    json_decref(reply);
}

static void test_handler_counts_and_refuses(void **state)
{
    Fixture *f = *state;
    const char *bodies[] = {"not json", "{\"apiVersion\":\"admission.k8s.io/v1\"}"};
    for (guint i = 0; i < G_N_ELEMENTS(bodies); i++) {
        FpHttpRequest req = {
            .method = "POST", .path = "/mutate", .body = bodies[i], .body_len = strlen(bodies[i])};
        FpHttpResponse resp = {0};
        fp_mutate_handle(&req, &resp, &f->env);
        assert_int_equal(resp.status, 400);
        assert_non_null(strstr(resp.body, "error"));
        g_free(resp.body);
    }
    g_autofree char *sku = review("CREATE", "{\"flexplace.io/gpu-sku\":\"NVIDIA-L4\"}", GPU);
    FpHttpRequest req = {.method = "POST", .path = "/mutate", .body = sku, .body_len = strlen(sku)};
    FpHttpResponse resp = {0};
    fp_mutate_handle(&req, &resp, &f->env);
    assert_int_equal(resp.status, 200);
    g_free(resp.body);
    assert_true(fp_counter_get(f->env.reviews, (const char *const[]){"bad_request"}) == 2);
    assert_true(fp_counter_get(f->env.reviews, (const char *const[]){"patched"}) == 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_captures_patched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unchanged_and_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_templates_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handler_counts_and_refuses, setup, teardown),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
