/*
 * test/test_it_unmet.c - unmet GPU demand (extender/server/unmet.h): a GPU
 * pod that no node passes at filter appears in flexplace_unmet_gpus and
 * flexplace_unmet_pods through the real server, and its entry ends when it
 * is bound, when the view shows it gone, or after the TTL; the scale-up
 * target is the cheapest template flexplace accepts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <glib/gstdio.h>
#include <string.h>

#include "extender/server/app.h"
#include "extender/server/unmet.h"
#include "test/support/http_client.h"
#include "test/support/support.h"

/* A filter in nodeCacheCapable form for a pod wanting @gpus GPUs of at
 * least @mem each, on every demo node name given. */
static char *filter_body(const char *uid, int gpus, const char *mem)
{
    return g_strdup_printf(
        "{\"Pod\":{\"metadata\":{\"name\":\"big-0\",\"namespace\":\"ml\",\"uid\":\"%s\","
        "\"annotations\":{\"flexplace.io/min-gpu-memory\":\"%s\"}},\"spec\":{\"containers\":[{"
        "\"name\":\"c\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"%d\"}}}]}},"
        "\"Nodes\":null,\"NodeNames\":[\"aws-use1-l4-1\",\"aws-use1-h100-1\",\"aks-gpua100-1\"]}",
        uid, mem, gpus);
}

static char *metrics(guint16 port)
{
    FpTestHttpReply reply = {0};
    assert_true(fp_test_http_get(port, "/metrics", &reply));
    char *body = g_strdup(reply.body);
    fp_test_http_reply_clear(&reply);
    return body;
}

static void test_unmet_through_filter(void **state)
{
    g_autofree char *cluster = g_build_filename(FP_SOURCE_DIR, "cache", "demo-cluster.json", NULL);
    FpApp *app = fp_test_app_start(cluster, NULL, NULL);
    guint16 port = fp_http_server_port(app->http);

    /* Fits: nothing recorded. */
    g_autofree char *fits = filter_body("uid-fits", 1, "20Gi");
    FpTestHttpReply reply = {0};
    assert_true(fp_test_http_post(port, "/filter", fits, strlen(fits), &reply));
    assert_int_equal(reply.status, 200);
    fp_test_http_reply_clear(&reply);
    assert_int_equal(fp_unmet_count(app->unmet), 0);

    /* 8 GPUs of 120 GiB: no node of the demo cluster. */
    g_autofree char *big = filter_body("uid-big", 8, "120Gi");
    assert_true(fp_test_http_post(port, "/filter", big, strlen(big), &reply));
    assert_int_equal(reply.status, 200);
    fp_test_http_reply_clear(&reply);
    assert_int_equal(fp_unmet_count(app->unmet), 1);
    g_autofree char *m = metrics(port);
    assert_non_null(strstr(m, "flexplace_unmet_gpus{pool=\"\",sku=\"\",region=\"\"} 8"));
    assert_non_null(strstr(m, "flexplace_unmet_pods{pool=\"\",sku=\"\",region=\"\"} 1"));

    /* The view never shows the pod (a snapshot): gone after the grace. */
    fp_unmet_expire(app->unmet, g_get_monotonic_time());
    assert_int_equal(fp_unmet_count(app->unmet), 1);
    fp_unmet_expire(app->unmet, g_get_monotonic_time() +
                                    (gint64)(FP_UNMET_GONE_GRACE_S + 1) * G_TIME_SPAN_SECOND);
    assert_int_equal(fp_unmet_count(app->unmet), 0);
    g_autofree char *after = metrics(port);
    assert_null(strstr(after, "flexplace_unmet_gpus{"));

    /* A bound pod is forgotten. */
    assert_true(fp_test_http_post(port, "/filter", big, strlen(big), &reply));
    fp_test_http_reply_clear(&reply);
    assert_int_equal(fp_unmet_count(app->unmet), 1);
    fp_unmet_forget(app->unmet, "uid-big");
    assert_int_equal(fp_unmet_count(app->unmet), 0);
    fp_app_free(app);
}

/* A policy that declares a B200 node group: the 8 x 120 GiB pod fits it
 * after a scale-up, which the metrics and /debug/decisions say. */
static void test_scale_up_through_filter(void **state)
{
    g_autofree char *dir = g_dir_make_tmp("fp-it-unmet-XXXXXX", NULL);
    assert_non_null(dir);
    g_autofree char *policy = g_build_filename(dir, "policy.yaml", NULL);
    assert_true(g_file_set_contents(policy,
                                    "poolTemplates:\n"
                                    "  b200-use1:\n"
                                    "    gpuProduct: NVIDIA-B200\n"
                                    "    gpusPerNode: 8\n"
                                    "    region: us-east-1\n"
                                    "    maxNodes: 4\n",
                                    -1, NULL));
    g_autofree char *cluster = g_build_filename(FP_SOURCE_DIR, "cache", "demo-cluster.json", NULL);
    FpApp *app = fp_test_app_start(cluster, NULL, policy);
    guint16 port = fp_http_server_port(app->http);
    g_autofree char *big = filter_body("uid-big", 8, "120Gi");
    FpTestHttpReply reply = {0};
    assert_true(fp_test_http_post(port, "/filter", big, strlen(big), &reply));
    assert_int_equal(reply.status, 200);
    fp_test_http_reply_clear(&reply);
    g_autofree char *m = metrics(port);
    assert_non_null(
        strstr(m, "flexplace_unmet_gpus{pool=\"b200-use1\",sku=\"NVIDIA-B200\",region=\"us-east-"
                  "1\"} 8"));
    assert_true(fp_test_http_get(port, "/debug/decisions?pod=ml/big-0", &reply));
    assert_int_equal(reply.status, 200);
    json_t *doc = json_loads(reply.body, 0, NULL);
    fp_test_http_reply_clear(&reply);
    assert_non_null(doc);
    json_t *decisions = json_is_array(doc) ? doc : json_object_get(doc, "decisions");
    json_t *up = json_object_get(json_array_get(decisions, 0), "scaleUp");
    assert_non_null(up);
    assert_true(json_is_true(json_object_get(up, "fits")));
    assert_string_equal(json_string_value(json_object_get(up, "pool")), "b200-use1");
    assert_string_equal(json_string_value(json_object_get(up, "sku")), "NVIDIA-B200");
    assert_non_null(strstr(json_string_value(json_object_get(up, "message")),
                           "would fit after scale-up: pool b200-use1 (NVIDIA-B200, us-east-1"));
    json_decref(doc);
    fp_app_free(app);
    g_remove(policy);
    g_rmdir(dir);
}

static void test_scale_up_target(void **state)
{
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    FpPod *pod = fp_pod_new();
    pod->ns = g_strdup("ml");
    pod->name = g_strdup("p");
    pod->annotations = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_hash_table_insert(pod->annotations, g_strdup("flexplace.io/min-gpu-memory"),
                        g_strdup("120Gi"));
    fp_res_list_set(&pod->requests, "nvidia.com/gpu", 1);
    g_autoptr(FpDemand) d = fp_demand_new(pod, policy);
    FpOffer offers[] = {
        {.name = "l4",
         .is_template = true,
         .facts = {.pool = "l4",
                   .region = "us-east-1",
                   .zone = "",
                   .product = "NVIDIA-L4",
                   .instance_type = "",
                   .capacity_type = "on-demand",
                   .gpu_memory_mib = 24576,
                   .price_per_gpu_hour = 0.8}},
        {.name = "b200",
         .is_template = true,
         .facts = {.pool = "b200",
                   .region = "us-east-1",
                   .zone = "",
                   .product = "NVIDIA-B200",
                   .instance_type = "",
                   .capacity_type = "on-demand",
                   .gpu_memory_mib = 184320,
                   .price_per_gpu_hour = 14.2}},
        {.name = "h200",
         .is_template = true,
         .facts = {.pool = "h200",
                   .region = "eastus",
                   .zone = "",
                   .product = "NVIDIA-H200",
                   .instance_type = "",
                   .capacity_type = "on-demand",
                   .gpu_memory_mib = 144384,
                   .price_per_gpu_hour = 7.9}},
    };
    g_autoptr(FpScaleUp) t = fp_scale_up_new(policy, d, offers, G_N_ELEMENTS(offers));
    assert_true(t->fits);
    assert_string_equal(t->pool, "h200"); /* the cheapest that has the memory */
    assert_int_equal(t->templates, 3);
    g_autoptr(FpScaleUp) none = fp_scale_up_new(policy, d, offers, 1);
    assert_false(none->fits);
    assert_string_equal(none->text, "no pool can grow to fit: l4: GPU memory below requirement");

    FpView *view = fp_view_new();
    FpUnmet *u = fp_unmet_new(view);
    fp_unmet_record(u, "uid-1", "ml", "p", 1, t);
    fp_unmet_record(u, "uid-1", "ml", "p", 1, t); /* refreshed, not doubled */
    assert_int_equal(fp_unmet_count(u), 1);
    FpMetrics *m = fp_metrics_new();
    fp_unmet_register(u, m);
    g_autofree char *text = fp_metrics_render(m, NULL);
    assert_non_null(strstr(
        text, "flexplace_unmet_gpus{pool=\"h200\",sku=\"NVIDIA-H200\",region=\"eastus\"} 1"));
    /* The TTL ends an entry no filter refreshed. */
    fp_unmet_expire(u, g_get_monotonic_time() + (gint64)(FP_UNMET_TTL_S + 1) * G_TIME_SPAN_SECOND);
    assert_int_equal(fp_unmet_count(u), 0);
    fp_metrics_free(m);
    fp_unmet_free(u);
    fp_view_free(view);
    fp_pod_unref(pod);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unmet_through_filter),
        cmocka_unit_test(test_scale_up_target),
        cmocka_unit_test(test_scale_up_through_filter),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
