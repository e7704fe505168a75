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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutate_route),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
