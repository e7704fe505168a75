/*
 * test/test_it_mutate.c - POST /mutate through the real server on loopback:
 * the route is in the table serve builds, the captured AdmissionReviews of a
 * real kube-apiserver v1.32.6 are answered with their uid and a patch, a
 * malformed review gets 400, and the answers are counted in /metrics.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "extender/server/app.h"
#include "test/support/http_client.h"
#include "test/support/support.h"

static const char *POLICY = "regions:\n"
                            "  latencyMs:\n"
                            "    eastus: {us-east-1: 10}\n"
                            "profiles:\n"
                            "  webhook-demo: {weights: {latency: 3, cost: 1}, maxLatencyMs: 40,\n"
                            "                 originRegions: eastus,\n"
                            "                 allowedSKUs: [NVIDIA-L4, NVIDIA-A10G]}\n"
                            "namespaces: {wh-demo: webhook-demo}\n";

static void test_mutate_route(void **state)
{
    g_autofree char *req_path = fp_test_shared_data("admission-captures/002-request.json");
    if (!req_path) {
        FP_SKIP("shared-data", "FP_SHARED_DATA has no admission captures");
    }
    g_autofree char *policy_path = NULL;
    int fd = g_file_open_tmp("fp-it-mutate-XXXXXX.yaml", &policy_path, NULL);
    assert_true(fd >= 0);
    assert_true(write(fd, POLICY, strlen(POLICY)) == (ssize_t)strlen(POLICY));
    close(fd);
    g_autofree char *cluster = g_build_filename(FP_SOURCE_DIR, "cache", "demo-cluster.json", NULL);
    FpApp *app = fp_test_app_start(cluster, NULL, policy_path);
    guint16 port = fp_http_server_port(app->http);

    size_t len = 0;
    g_autofree char *body = fp_test_read_file(req_path, &len);
    FpTestHttpClient *client = fp_test_http_client_new(port);
    FpTestHttpReply reply = {0};
    /* As the API server sends it (admission-captures/002-request-headers.txt). */
    assert_true(fp_test_http_client_request(client, "POST", "/mutate?timeout=2s",
                                            "application/json", body, len, FALSE, &reply));
    assert_int_equal(reply.status, 200);
    json_t *v = json_loadb(reply.body, reply.body_len, 0, NULL);
    json_t *r = json_object_get(v, "response");
    assert_string_equal(json_string_value(json_object_get(r, "uid")),
                        "fc063b97-8ddd-4e72-80d7-58c791c97257");
    assert_true(json_is_true(json_object_get(r, "allowed")));
    assert_string_equal(json_string_value(json_object_get(r, "patchType")), "JSONPatch");
    json_decref(v);
    fp_test_http_reply_clear(&reply);

    assert_true(fp_test_http_client_request(client, "POST", "/mutate", "application/json",
                                            "{\"kind\":", 8, FALSE, &reply));
    assert_int_equal(reply.status, 400);
    assert_non_null(strstr(reply.body, "invalid JSON"));
    fp_test_http_reply_clear(&reply);

    assert_true(
        fp_test_http_client_request(client, "GET", "/metrics", NULL, NULL, 0, FALSE, &reply));
    assert_non_null(strstr(reply.body, "flexplace_admission_reviews_total{result=\"patched\"} 1"));
    assert_non_null(
        strstr(reply.body, "flexplace_admission_reviews_total{result=\"bad_request\"} 1"));
    fp_test_http_reply_clear(&reply);
    fp_test_http_client_free(client);
    fp_app_free(app);
    g_unlink(policy_path);
}

/* The AdmissionReview of capture @path with its pod turned into one that
 * asks for one @resource with the annotations @ann (a JSON object), and no
 * model (the capture's Llama-3.1-8B fits no 1g.5gb slice). */
static char *review_with(const char *path, const char *resource, const char *ann)
{
    json_error_t jerr;
    json_t *review = json_load_file(path, 0, &jerr);
    assert_non_null(review);
    json_t *pod = json_object_get(json_object_get(review, "request"), "object");
    json_t *meta = json_object_get(pod, "metadata");
    json_object_set_new(meta, "annotations", json_loads(ann, 0, &jerr));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c)
    {
        json_object_del(c, "args");
        json_object_set_new(
            c, "resources",
            json_pack("{s:{s:s}, s:{s:s}}", "limits", resource, "1", "requests", resource, "1"));
    }
    char *body = json_dumps(review, JSON_COMPACT);
    json_decref(review);
    return body;
}

static char *mig_review(const char *path, const char *floor)
{
    g_autofree char *ann = g_strdup_printf("{\"flexplace.io/min-gpu-memory\":\"%s\"}", floor);
    return review_with(path, "nvidia.com/mig-1g.5gb", ann);
}

/* POST @body; the reply's response object (new reference). */
static json_t *post_review(FpTestHttpClient *client, const char *body)
{
    FpTestHttpReply reply = {0};
    assert_true(fp_test_http_client_request(client, "POST", "/mutate", "application/json", body,
                                            strlen(body), FALSE, &reply));
    assert_int_equal(reply.status, 200);
    json_t *v = json_loadb(reply.body, reply.body_len, 0, NULL);
    assert_non_null(v);
    fp_test_http_reply_clear(&reply);
    json_t *r = json_incref(json_object_get(v, "response"));
    json_decref(v);
    return r;
}

/* The decoded JSONPatch of @response as text, or NULL without one. */
static char *patch_text(json_t *response)
{
    const char *b64 = json_string_value(json_object_get(response, "patch"));
    if (!b64) {
        return NULL;
    }
    gsize len = 0;
    guchar *raw = g_base64_decode(b64, &len);
    char *text = g_strndup((const char *)raw, len);
    g_free(raw);
    return text;
}

/* test/data/kinds/fleet.yaml's gce-a100-mig-mixed carries
 * nvidia.com/gpu.product NVIDIA-A100-SXM4-40GB and 1g.5gb slices of 4864
 * MiB.  A 5Gi floor: flexplace's filter refuses the slice, so the webhook
 * must not write an affinity that admits the node (before the fix it
 * admitted "nvidia.com/gpu.product In [..., NVIDIA-A100-SXM4-40GB, ...]",
 * then left the pod unconstrained); a 4Gi floor admits it through the
 * slice's own labels. */
static void test_mutate_mig_mixed(void **state)
{
    g_autofree char *req_path = fp_test_shared_data("admission-captures/001-request.json");
    if (!req_path) {
        FP_SKIP("shared-data", "FP_SHARED_DATA has no admission captures");
    }
    g_autofree char *cluster =
        g_build_filename(FP_SOURCE_DIR, "test", "data", "kinds", "fleet.yaml", NULL);
    FpApp *app = fp_test_app_start(cluster, NULL, NULL);
    FpTestHttpClient *client = fp_test_http_client_new(fp_http_server_port(app->http));

    g_autofree char *five = mig_review(req_path, "5Gi");
    json_t *r5 = post_review(client, five);
    assert_true(json_is_true(json_object_get(r5, "allowed")));
    g_autofree char *p5 = patch_text(r5);
    /* nothing admits it: an affinity no node matches, over the slice's
     * product key, and a warning why */
    assert_non_null(p5);
    print_message("5Gi patch: %s\n", p5);
    assert_non_null(
        strstr(p5, "{\"key\":\"nvidia.com/mig-1g.5gb.product\",\"operator\":\"Exists\"}"));
    assert_non_null(
        strstr(p5, "{\"key\":\"nvidia.com/mig-1g.5gb.product\",\"operator\":\"DoesNotExist\"}"));
    g_autofree char *w5 = json_dumps(json_object_get(r5, "warnings"), 0);
    assert_non_null(strstr(w5, "no GPU product satisfies"));
    json_decref(r5);

    g_autofree char *four = mig_review(req_path, "4Gi");
    json_t *r4 = post_review(client, four);
    g_autofree char *p4 = patch_text(r4);
    assert_non_null(p4);
    print_message("4Gi patch: %s\n", p4);
    assert_non_null(strstr(p4, "{\"key\":\"nvidia.com/mig-1g.5gb.product\",\"operator\":\"In\","
                               "\"values\":[\"NVIDIA-A100-SXM4-40GB-MIG-1g.5gb\"]}"));
    assert_non_null(strstr(p4, "{\"key\":\"nvidia.com/mig-1g.5gb.memory\",\"operator\":\"Gt\","
                               "\"values\":[\"4095\"]}"));
    assert_null(strstr(p4, "nvidia.com/gpu.product"));
    json_decref(r4);
    fp_test_http_client_free(client);
    fp_app_free(app);
}

/* serve --cluster FILE counts the file's Karpenter NodePools as pools that
 * can grow, as score does: an L40S pod that no node of
 * test/data/cli/cluster-nodepools.yaml serves gets no "nothing offers
 * this" warning, since its NodePool l40s-use1 can add one. */
static void test_mutate_file_nodepools(void **state)
{
    g_autofree char *req_path = fp_test_shared_data("admission-captures/001-request.json");
    if (!req_path) {
        FP_SKIP("shared-data", "FP_SHARED_DATA has no admission captures");
    }
    g_autofree char *cluster =
        g_build_filename(FP_SOURCE_DIR, "test", "data", "cli", "cluster-nodepools.yaml", NULL);
    FpApp *app = fp_test_app_start(cluster, NULL, NULL);
    assert_int_equal(app->file_nodepools->len, 4); /* broken one included, left out at use */
    FpTestHttpClient *client = fp_test_http_client_new(fp_http_server_port(app->http));
    g_autofree char *body =
        review_with(req_path, "nvidia.com/gpu", "{\"flexplace.io/gpu-sku\":\"NVIDIA-L40S\"}");
    json_t *r = post_review(client, body);
    g_autofree char *patch = patch_text(r);
    assert_non_null(patch);
    assert_non_null(strstr(patch, "\"values\":[\"NVIDIA-L40S\"]"));
    g_autofree char *warnings = json_dumps(json_object_get(r, "warnings"), 0);
    print_message("warnings: %s\n", warnings);
    assert_null(strstr(warnings, "no node or pool template offers"));
    json_decref(r);
    fp_test_http_client_free(client);
    fp_app_free(app);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutate_route),
        cmocka_unit_test(test_mutate_mig_mixed),
        cmocka_unit_test(test_mutate_file_nodepools),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
