/*
 * test_it_observability.c - /metrics, /debug/decisions and the log format
 * on a real server: metrics move as requests, rejections and policy reloads
 * happen; the decision ring stays bounded; the exposition passes promtool
 * (when installed); the Grafana dashboard only uses metrics that exist.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <jansson.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "extender/server/app.h"
#include "extender/obs/log.h"
#include "support/http_client.h"
#include "support/support.h"

typedef struct {
    FpApp *app;
    guint16 port;
    char *dir;
    char *policy;
} Fixture;

static const char good_policy[] = "apiVersion: flexplace.io/v1alpha1\nkind: PlacementPolicy\n"
                                  "pools:\n- name: pool-l4\n  maxUtilization: 0.9\n";

static int setup(void **state)
{
    Fixture *f = g_new0(Fixture, 1);
    f->dir = g_dir_make_tmp("fp-obs-XXXXXX", NULL);
    f->policy = g_build_filename(f->dir, "policy.yaml", NULL);
    g_file_set_contents(f->policy, good_policy, -1, NULL);
    FpAppConfig cfg;
    fp_app_config_init(&cfg);
    g_free(cfg.listen);
    cfg.listen = g_strdup("127.0.0.1:0");
    cfg.cluster_file = fp_test_data_path("extender/cluster-small.json");
    cfg.policy_path = g_strdup(f->policy);
    cfg.decision_ring = 8;
    cfg.decision_nodes = 3;
    cfg.metrics_listen = g_strdup("127.0.0.1:0");
    g_autoptr(GError) error = NULL;
    f->app = fp_app_new(&cfg, &error);
    fp_app_config_clear(&cfg);
    if (!f->app || !fp_app_serve(f->app, &error)) {
        fail_msg("start: %s", error->message);
    }
    f->port = fp_http_server_port(f->app->http);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    fp_app_free(f->app);
    g_unlink(f->policy);
    g_rmdir(f->dir);
    g_free(f->policy);
    g_free(f->dir);
    g_free(f);
    return 0;
}

static char *get(Fixture *f, const char *path, long want_status)
{
    FpTestHttpReply reply = {0};
    assert_true(fp_test_http_get(f->port, path, &reply));
    if (reply.status != want_status) {
        fail_msg("GET %s: %ld, want %ld: %s", path, reply.status, want_status, reply.body);
    }
    char *body = g_strndup(reply.body, reply.body_len);
    fp_test_http_reply_clear(&reply);
    return body;
}

static void post(Fixture *f, const char *path, const char *body, long want_status)
{
    FpTestHttpReply reply = {0};
    assert_true(fp_test_http_post(f->port, path, body, strlen(body), &reply));
    if (reply.status != want_status) {
        fail_msg("POST %s: %ld, want %ld: %s", path, reply.status, want_status, reply.body);
    }
    fp_test_http_reply_clear(&reply);
}

/* Value of the sample line starting with @series (name{labels}), or -1. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            return g_ascii_strtod(p + n + 1, NULL);
        }
    }
    return -1;
}

static double metric(Fixture *f, const char *series)
{
    g_autofree char *text = get(f, "/metrics", 200);
    return sample(text, series);
}

#define POD(ns, name)                                                                              \
    "{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"" ns "\",\"uid\":\"uid-" name "\"},"     \
    "\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"limits\":"                         \
    "{\"nvidia.com/gpu\":\"1\"}}}]}}"

static const char filter_body[] = "{\"Pod\":" POD(
    "default", "infer-0") ",\"Nodes\":null,\"NodeNames\":[\"l4-a\",\"l4-b\","
                          "\"h100-a\",\"cordoned\",\"notready\",\"cpu-only\",\"ghost\"]}";

static void test_request_metrics(void **state)
{
    Fixture *f = *state;
    g_autofree char *before = get(f, "/metrics", 200);
    assert_true(sample(before, "flexplace_build_info{version=\"" FP_VERSION "\"}") == 1);
    assert_true(sample(before, "process_resident_memory_bytes") > 0);
    assert_true(sample(before, "flexplace_policy_generation") == 1);
    assert_true(sample(before, "flexplace_cache_objects{kind=\"nodes\"}") == 6);
    /* every reason the filters can give renders before its first use */
    const char *const reasons[] = {FP_REASON_INSUFFICIENT_GPUS,
                                   FP_REASON_TOO_FEW_GPUS,
                                   FP_REASON_GPU_MEMORY_UNKNOWN,
                                   FP_REASON_SHARED,
                                   FP_REASON_SPOT,
                                   FP_REASON_MODEL_FIT,
                                   FP_REASON_TP_GPUS,
                                   FP_REASON_SPREAD,
                                   FP_REASON_TTS};
    for (guint i = 0; i < G_N_ELEMENTS(reasons); i++) {
        g_autofree char *series =
            g_strdup_printf("flexplace_filter_rejections_total{reason=\"%s\"}", reasons[i]);
        if (sample(before, series) != 0) {
            fail_msg("%s is not pre-registered at 0", series);
        }
    }
    double n0 = sample(before, "flexplace_requests_total{verb=\"filter\",code=\"200\"}");
    n0 = n0 < 0 ? 0 : n0;

    post(f, "/filter", filter_body, 200);
    post(f, "/filter", "{not json", 400);
    g_autofree char *after = get(f, "/metrics", 200);
    assert_true(sample(after, "flexplace_requests_total{verb=\"filter\",code=\"200\"}") == n0 + 1);
    assert_true(sample(after, "flexplace_requests_total{verb=\"filter\",code=\"400\"}") >= 1);
    assert_true(sample(after, "flexplace_request_duration_seconds_count{verb=\"filter\"}") >= 2);
    assert_true(sample(after, "flexplace_request_duration_seconds_bucket{verb=\"filter\","
                              "le=\"+Inf\"}") >= 2);
    assert_true(
        sample(after, "flexplace_filter_rejections_total{reason=\"insufficient free GPUs\"}") == 1);
    assert_true(sample(after, "flexplace_filter_rejections_total{reason=\"node not in flexplace "
                              "cluster view\"}") == 1);
    assert_true(sample(after, "flexplace_filter_rejections_total{reason=\"node not ready\"}") == 1);
    /* Pool GPUs: pool-l4 counts only its schedulable, Ready nodes (2 x 4). */
    assert_true(sample(after, "flexplace_pool_gpus{pool=\"pool-l4\",region=\"us-east-1\","
                              "sku=\"L4\",state=\"allocatable\"}") == 16);
    assert_true(sample(after, "flexplace_pool_gpus{pool=\"pool-l4\",region=\"us-east-1\","
                              "sku=\"L4\",state=\"used\"}") == 5);
}

static void test_policy_reload_metrics(void **state)
{
    Fixture *f = *state;
    double errors = metric(f, "flexplace_policy_reload_errors_total");
    assert_true(errors >= 0);
    g_file_set_contents(f->policy, "pools: [{name: x, maxUtilization: 7}]\n", -1, NULL);
    assert_false(fp_policy_store_reload(f->app->policies, NULL));
    assert_true(metric(f, "flexplace_policy_reload_errors_total") == errors + 1);
    assert_true(metric(f, "flexplace_policy_last_reload_success") == 0);
    assert_true(metric(f, "flexplace_policy_generation") == 1);
    g_autofree char *ready = get(f, "/readyz", 200);
    assert_non_null(strstr(ready, "maxUtilization"));
    g_file_set_contents(f->policy, good_policy, -1, NULL);
    assert_true(fp_policy_store_reload(f->app->policies, NULL));
    assert_true(metric(f, "flexplace_policy_generation") == 2);
    assert_true(metric(f, "flexplace_policy_last_reload_success") == 1);
}

/* Issue 20: a pool misspelt in the policy silently lost its ceiling; serve
 * reports names that match no node in /readyz and a metric, and goes back
 * to none when the policy is fixed. */
static void test_policy_unmatched_names(void **state)
{
    Fixture *f = *state;
    assert_true(metric(f, "flexplace_policy_unmatched_names{kind=\"pool\"}") == 0);
    g_file_set_contents(f->policy,
                        "pools:\n- {name: pool-l5, maxUtilization: 0.9}\n"
                        "skus:\n  NVIDIA-H100-80GB-HMB3: {pricePerGPUHour: 6.88}\n",
                        -1, NULL);
    assert_true(fp_policy_store_reload(f->app->policies, NULL));
    g_autofree char *ready = get(f, "/readyz", 200);
    assert_non_null(strstr(ready, "\"unmatched\":{\"pools\":1,\"regions\":0,\"skus\":1,"
                                  "\"names\":\"pools pool-l5; SKUs NVIDIA-H100-80GB-HMB3\"}"));
    assert_true(metric(f, "flexplace_policy_unmatched_names{kind=\"pool\"}") == 1);
    assert_true(metric(f, "flexplace_policy_unmatched_names{kind=\"sku\"}") == 1);
    g_file_set_contents(f->policy, good_policy, -1, NULL);
    assert_true(fp_policy_store_reload(f->app->policies, NULL));
    assert_true(metric(f, "flexplace_policy_unmatched_names{kind=\"pool\"}") == 0);
}

static void test_decisions(void **state)
{
    Fixture *f = *state;
    post(f, "/filter", filter_body, 200);
    g_autofree char *text = get(f, "/debug/decisions?pod=default/infer-0", 200);
    json_t *doc = json_loads(text, 0, NULL);
    json_t *list = json_object_get(doc, "decisions");
    assert_true(json_array_size(list) >= 1);
    json_t *d = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(d, "verb")), "filter");
    assert_int_equal(json_integer_value(json_object_get(d, "nodes")), 7);
    assert_int_equal(json_integer_value(json_object_get(d, "passed")), 2);
    /* At most 3 verdicts kept (decision_nodes), passing ones first. */
    json_t *verdicts = json_object_get(d, "verdicts");
    assert_int_equal(json_array_size(verdicts), 3);
    assert_true(json_is_true(json_object_get(json_array_get(verdicts, 0), "pass")));
    assert_true(json_is_true(json_object_get(d, "truncated")));
    json_t *rej = json_object_get(d, "rejections");
    assert_int_equal(json_integer_value(json_object_get(rej, "node not ready")), 1);
    /* The default short list (20) holds both passing nodes. */
    assert_int_equal(json_integer_value(json_object_get(d, "shortList")), 20);
    assert_int_equal(json_integer_value(json_object_get(d, "shortListed")), 2);
    assert_true(json_is_true(json_object_get(json_array_get(verdicts, 1), "shortListed")));
    json_decref(doc);

    /* With shortList 1, one of the two passing nodes is left out of the
     * answer: counted as passed, not as short-listed, and marked. */
    g_autofree char *listed_policy = g_strdup_printf("%sshortList: 1\n", good_policy);
    g_file_set_contents(f->policy, listed_policy, -1, NULL);
    assert_true(fp_policy_store_reload(f->app->policies, NULL));
    post(f, "/filter", filter_body, 200);
    g_free(text);
    text = get(f, "/debug/decisions?pod=default/infer-0", 200);
    doc = json_loads(text, 0, NULL);
    d = json_array_get(json_object_get(doc, "decisions"), 0);
    assert_int_equal(json_integer_value(json_object_get(d, "passed")), 2);
    assert_int_equal(json_integer_value(json_object_get(d, "shortList")), 1);
    assert_int_equal(json_integer_value(json_object_get(d, "shortListed")), 1);
    verdicts = json_object_get(d, "verdicts");
    guint marked = 0, left_out = 0;
    for (size_t i = 0; i < json_array_size(verdicts); i++) {
        json_t *v = json_array_get(verdicts, i);
        if (json_is_true(json_object_get(v, "pass"))) {
            marked += json_is_true(json_object_get(v, "shortListed"));
            left_out += json_is_false(json_object_get(v, "shortListed"));
        } else {
            assert_null(json_object_get(v, "shortListed"));
        }
    }
    assert_int_equal(marked, 1);
    assert_int_equal(left_out, 1);
    json_decref(doc);
    g_file_set_contents(f->policy, good_policy, -1, NULL);
    assert_true(fp_policy_store_reload(f->app->policies, NULL));

    /* The ring keeps at most 8 decisions, however many arrive. */
    for (int i = 0; i < 50; i++) {
        post(f, "/filter", filter_body, 200);
    }
    assert_true(fp_decision_ring_size(f->app->decisions) == 8);
    g_free(text);
    text = get(f, "/debug/decisions?pod=default/infer-0", 200);
    doc = json_loads(text, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(doc, "decisions")), 8);
    json_decref(doc);
    g_free(text);
    text = get(f, "/debug/decisions?pod=nobody/here", 200);
    doc = json_loads(text, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(doc, "decisions")), 0);
    json_decref(doc);
    g_free(text);
    text = get(f, "/debug/decisions", 400);
    g_free(text);
    text = get(f, "/debug/decisions?pod=noslash", 400);
}

/* A pod serving a model the catalog does not know: its decision says so
 * once ("model": {"known": false, "note": ...}); a pod that names no model
 * has "model": null. */
static void test_decisions_unknown_model(void **state)
{
    Fixture *f = *state;
    static const char body[] =
        "{\"Pod\":{\"metadata\":{\"name\":\"mystery-0\",\"namespace\":\"default\","
        "\"uid\":\"uid-mystery-0\",\"annotations\":{\"flexplace.io/model\":\"acme/secret-"
        "model\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"limits\":"
        "{\"nvidia.com/gpu\":\"1\"}}}]}},\"Nodes\":null,\"NodeNames\":[\"l4-a\",\"h100-a\"]}";
    post(f, "/filter", body, 200);
    g_autofree char *text = get(f, "/debug/decisions?pod=default/mystery-0", 200);
    json_t *doc = json_loads(text, 0, NULL);
    json_t *d = json_array_get(json_object_get(doc, "decisions"), 0);
    json_t *model = json_object_get(d, "model");
    assert_string_equal(json_string_value(json_object_get(model, "name")), "acme/secret-model");
    assert_true(json_is_false(json_object_get(model, "known")));
    const char *note = json_string_value(json_object_get(model, "note"));
    assert_non_null(note);
    assert_non_null(strstr(note, "acme/secret-model is not in the model catalog"));
    /* Unknown model: no model terms, but the pod is still placed. */
    assert_int_equal(json_integer_value(json_object_get(d, "passed")), 2);
    json_decref(doc);

    post(f, "/filter", filter_body, 200);
    g_free(text);
    text = get(f, "/debug/decisions?pod=default/infer-0", 200);
    doc = json_loads(text, 0, NULL);
    d = json_array_get(json_object_get(doc, "decisions"), 0);
    assert_true(json_is_null(json_object_get(d, "model")));
    json_decref(doc);
}

/* Time to serve in a decision: the best node's estimate.  Llama-3.1-8B-
 * Instruct (14.96 GiB in the catalog) from the hub, no image named (no
 * pull), one GPU: 14.96 / 0.127 + 14.96 / 1.92 = 117.795 + 7.792 s.  With
 * flexplace.io/max-time-to-serve-s 60 every node fails with the numbered
 * reason, and the metric counts them under one series. */
static void test_decisions_time_to_serve(void **state)
{
    Fixture *f = *state;
    static const char body[] =
        "{\"Pod\":{\"metadata\":{\"name\":\"llm-0\",\"namespace\":\"default\","
        "\"uid\":\"uid-llm-0\",\"annotations\":{\"flexplace.io/model\":\"meta-llama/"
        "Llama-3.1-8B-Instruct\",\"flexplace.io/weights-location\":\"hf://meta-llama/Llama-"
        "3.1-8B-Instruct\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":"
        "{\"limits\":{\"nvidia.com/gpu\":\"1\"}}}]}},\"Nodes\":null,\"NodeNames\":[\"l4-a\","
        "\"h100-a\"]}";
    post(f, "/filter", body, 200);
    g_autofree char *text = get(f, "/debug/decisions?pod=default/llm-0", 200);
    json_t *doc = json_loads(text, 0, NULL);
    json_t *d = json_array_get(json_object_get(doc, "decisions"), 0);
    json_t *tts = json_object_get(d, "timeToServe");
    assert_true(json_is_object(tts));
    assert_string_equal(json_string_value(json_object_get(tts, "source")), "hub");
    assert_true(fabs(json_real_value(json_object_get(tts, "seconds")) - (117.795 + 7.792)) < 0.01);
    assert_true(json_real_value(json_object_get(tts, "pullSeconds")) == 0);
    json_decref(doc);

    double before = metric(f, "flexplace_filter_rejections_total{reason=\"time to serve above "
                              "limit\"}");
    g_autofree char *limited = g_strdup(body);
    char *at = strstr(limited, "\"flexplace.io/weights-location\"");
    assert_non_null(at);
    g_autofree char *with_limit = g_strdup_printf(
        "%.*s\"flexplace.io/max-time-to-serve-s\":\"60\",%s", (int)(at - limited), limited, at);
    FpTestHttpReply reply = {0};
    assert_true(fp_test_http_post(f->port, "/filter", with_limit, strlen(with_limit), &reply));
    assert_int_equal(reply.status, 200);
    assert_non_null(strstr(reply.body, "time to serve 126 s > limit 60 s"));
    fp_test_http_reply_clear(&reply);
    assert_true(metric(f, "flexplace_filter_rejections_total{reason=\"time to serve above "
                          "limit\"}") == before + 2);
}

/* Every flexplace_* metric the dashboard queries is one the server exports. */
static void test_dashboard_metrics_exist(void **state)
{
    Fixture *f = *state;
    post(f, "/filter", filter_body, 200);
    g_autofree char *metrics = get(f, "/metrics", 200);
    g_autofree char *path =
        g_build_filename(FP_SOURCE_DIR, "manifests", "dashboards", "flexplace.json", NULL);
    g_autofree char *text = fp_test_read_file(path, NULL);
    json_error_t jerr;
    json_t *dash = json_loads(text, 0, &jerr);
    if (!dash) {
        fail_msg("dashboard is not JSON: %s", jerr.text);
    }
    g_autoptr(GRegex) re = g_regex_new("flexplace_[a-z_]+", 0, 0, NULL);
    size_t i;
    json_t *panel;
    guint checked = 0;
    json_array_foreach(json_object_get(dash, "panels"), i, panel)
    {
        size_t k;
        json_t *target;
        json_array_foreach(json_object_get(panel, "targets"), k, target)
        {
            const char *expr = json_string_value(json_object_get(target, "expr"));
            assert_non_null(expr);
            g_autoptr(GMatchInfo) m = NULL;
            g_regex_match(re, expr, 0, &m);
            while (g_match_info_matches(m)) {
                g_autofree char *name = g_match_info_fetch(m, 0);
                g_autofree char *type = g_strdup_printf("# TYPE %s ", name);
                g_autofree char *sample_prefix = g_strdup_printf("\n%s", name);
                if (!strstr(metrics, type) && !strstr(metrics, sample_prefix)) {
                    fail_msg("dashboard panel \"%s\" uses %s, which /metrics does not export",
                             json_string_value(json_object_get(panel, "title")), name);
                }
                checked++;
                g_match_info_next(m, NULL);
            }
        }
    }
    assert_true(checked >= 8);
    json_decref(dash);
}

static void test_promtool(void **state)
{
    Fixture *f = *state;
    g_autofree char *promtool = g_find_program_in_path("promtool");
    if (!promtool) {
        FP_SKIP("promtool", "promtool not installed (Debian package prometheus)");
    }
    post(f, "/filter", filter_body, 200);
    g_autofree char *metrics = get(f, "/metrics", 200);
    g_autofree char *file = g_build_filename(f->dir, "metrics.txt", NULL);
    g_file_set_contents(file, metrics, -1, NULL);
    g_autofree char *cmd = g_strdup_printf("'%s' check metrics < '%s'", promtool, file);
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status = 0;
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    assert_true(g_spawn_sync(NULL, (char **)argv, NULL, 0, NULL, NULL, &out, &err, &status, NULL));
    g_unlink(file);
    if (!g_spawn_check_wait_status(status, NULL)) {
        fail_msg("promtool check metrics failed:\n%s%s", out, err);
    }
}

/* --metrics-listen: the read-only routes only, never a verb or the debug log. */
static void test_metrics_listener(void **state)
{
    Fixture *f = *state;
    guint16 port = fp_http_server_port(f->app->http_metrics);
    assert_true(port > 0 && port != f->port);
    const struct {
        const char *method;
        const char *path;
        long status;
    } cases[] = {
        {"GET", "/metrics", 200},
        {"GET", "/healthz", 200},
        {"GET", "/readyz", 200},
        {"GET", "/version", 200},
        {"POST", "/filter", 404},
        {"POST", "/bind", 404},
        {"GET", "/debug/decisions?pod=default/infer-0", 404},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        FpTestHttpReply reply = {0};
        if (g_str_equal(cases[i].method, "GET")) {
            assert_true(fp_test_http_get(port, cases[i].path, &reply));
        } else {
            assert_true(fp_test_http_post(port, cases[i].path, "{}", 2, &reply));
        }
        if (reply.status != cases[i].status) {
            fail_msg("%s %s on the metrics listener: %ld, want %ld", cases[i].method, cases[i].path,
                     reply.status, cases[i].status);
        }
        fp_test_http_reply_clear(&reply);
    }
}

static void test_log_lines(void **state)
{
    GLogField fields[] = {
        {"MESSAGE", "filter", -1}, {"GLIB_DOMAIN", "flexplace", -1}, {"pod", "ns/a b", -1},
        {"nodes", "6", -1},        {"terms", "latency:0.90", -1},    {"top", "-", -1},
    };
    g_autofree char *json = fp_log_format_line(FP_LOG_JSON, G_LOG_LEVEL_INFO, fields, 6);
    json_t *o = json_loads(json, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "msg")), "filter");
    assert_string_equal(json_string_value(json_object_get(o, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(o, "pod")), "ns/a b");
    assert_true(json_is_integer(json_object_get(o, "nodes")));
    assert_true(json_is_string(json_object_get(o, "top")));
    assert_null(json_object_get(o, "GLIB_DOMAIN"));
    json_decref(o);
    g_autofree char *text = fp_log_format_line(FP_LOG_TEXT, G_LOG_LEVEL_WARNING, fields, 6);
    assert_non_null(strstr(text, "warning filter pod=\"ns/a b\" nodes=6 terms=latency:0.90"));
}

int main(void)
{
    json_object_seed(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_request_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_reload_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decisions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decisions_time_to_serve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decisions_unknown_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_unmatched_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dashboard_metrics_exist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_promtool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_listener, setup, teardown),
        cmocka_unit_test(test_log_lines),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
