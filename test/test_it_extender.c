/*
 * test_it_extender.c - the real server on 127.0.0.1, driven with
 * kube-scheduler-shaped bodies in both nodeCacheCapable modes, the captures
 * a real kube-scheduler v1.32 sent (when ../shared/data is present), and
 * hostile input.  Responses are compared as JSON values, key by key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <jansson.h>
#include <string.h>

#include "cache/kobj.h"

#include "extender/server/app.h"
#include "cache/placement.h"
#include "support/http_client.h"
#include "support/support.h"

typedef struct {
    FpApp *app;
    guint16 port;
} Server;

static Server *server_start(const char *cluster_file, const char *prefix)
{
    Server *s = g_new0(Server, 1);
    s->app = fp_test_app_start(cluster_file, prefix, NULL);
    s->port = fp_http_server_port(s->app->http);
    return s;
}

static void server_stop(Server *s)
{
    fp_app_free(s->app);
    g_free(s);
}

static json_t *post_json(Server *s, const char *path, const char *body, long expect_status)
{
    FpTestHttpReply reply = {0};
    assert_true(fp_test_http_post(s->port, path, body, strlen(body), &reply));
    if (reply.status != expect_status) {
        fail_msg("POST %s: status %ld, want %ld: %s", path, reply.status, expect_status,
                 reply.body);
    }
    g_autofree char *ctype = fp_test_http_reply_header(&reply, "Content-Type");
    assert_non_null(ctype);
    assert_non_null(strstr(ctype, "application/json"));
    json_error_t jerr;
    json_t *v = json_loadb(reply.body, reply.body_len, 0, &jerr);
    if (!v) {
        fail_msg("reply is not JSON: %s: %s", jerr.text, reply.body);
    }
    fp_test_http_reply_clear(&reply);
    return v;
}

static void assert_json_eq(json_t *got, const char *want_text)
{
    json_error_t jerr;
    json_t *want = json_loads(want_text, 0, &jerr);
    if (!want) {
        fail_msg("bad expected JSON: %s", jerr.text);
    }
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
        char *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
        fail_msg("JSON differs\n got: %s\nwant: %s", g, w);
    }
    json_decref(want);
}

static char *small_cluster(void)
{
    return fp_test_data_path("extender/cluster-small.json");
}

#define GPU_POD(n)                                                                                 \
    "{\"metadata\":{\"name\":\"infer-0\",\"namespace\":\"default\",\"uid\":\"u-1\"},"              \
    "\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"" n \
    "\"},\"requests\":{\"nvidia.com/gpu\":\"" n "\"}}}]}}"

/* Names mode: every node lands in exactly one of the three outcomes, with the
 * generic reasons, and unknown names are unresolvable. */
static void test_filter_names_mode(void **state)
{
    g_autofree char *cluster = small_cluster();
    Server *s = server_start(cluster, NULL);
    json_t *got = post_json(
        s, "/filter",
        "{\"Pod\":" GPU_POD("1") ",\"Nodes\":null,\"NodeNames\":[\"l4-a\",\"l4-b\",\"h100-a\","
                                 "\"cordoned\",\"notready\",\"cpu-only\",\"ghost\"]}",
        200);
    /* Two pass: the short list (scoring/short_list.h) names them and
     * leaves every other node out of both maps. */
    assert_json_eq(got, "{\"Nodes\":null,\"NodeNames\":[\"l4-a\",\"h100-a\"],"
                        "\"FailedNodes\":{},\"FailedAndUnresolvableNodes\":{},\"Error\":\"\"}");
    json_decref(got);
    /* None passes: every node with its reason. */
    got = post_json(s, "/filter",
                    "{\"Pod\":" GPU_POD("1") ",\"Nodes\":null,\"NodeNames\":[\"l4-b\","
                                             "\"cordoned\",\"notready\",\"cpu-only\",\"ghost\"]}",
                    200);
    assert_json_eq(got, "{\"Nodes\":null,\"NodeNames\":[],"
                        "\"FailedNodes\":{\"l4-b\":\"insufficient free GPUs\"},"
                        "\"FailedAndUnresolvableNodes\":{"
                        "\"cordoned\":\"node unschedulable\",\"notready\":\"node not ready\","
                        "\"cpu-only\":\"node has no GPUs of the requested resource\","
                        "\"ghost\":\"node not in flexplace cluster view\"},"
                        "\"Error\":\"\"}");
    json_decref(got);
    /* Four GPUs: l4-a has 3 free (busy), and no node fits. */
    got = post_json(s, "/filter",
                    "{\"Pod\":" GPU_POD("4") ",\"NodeNames\":[\"l4-a\",\"l4-b\"],\"Nodes\":null}",
                    200);
    assert_json_eq(got, "{\"Nodes\":null,\"NodeNames\":[],"
                        "\"FailedNodes\":{\"l4-a\":\"insufficient free GPUs\","
                        "\"l4-b\":\"insufficient free GPUs\"},"
                        "\"FailedAndUnresolvableNodes\":{},\"Error\":\"\"}");
    json_decref(got);
    server_stop(s);
}

/* Issue 20: a pod that asks for more GPUs than a node has can never fit
 * there, whatever is evicted: FailedAndUnresolvableNodes, so kube-scheduler
 * does not try preemption on it.  Only "busy" (the GPUs exist but are taken)
 * stays in FailedNodes. */
static void test_filter_too_few_gpus_unresolvable(void **state)
{
    g_autofree char *cluster = small_cluster();
    Server *s = server_start(cluster, NULL);
    json_t *got = post_json(
        s, "/filter", "{\"Pod\":" GPU_POD("8") ",\"NodeNames\":[\"l4-a\",\"l4-b\"],\"Nodes\":null}",
        200);
    assert_json_eq(got, "{\"Nodes\":null,\"NodeNames\":[],\"FailedNodes\":{},"
                        "\"FailedAndUnresolvableNodes\":{"
                        "\"l4-a\":\"node has fewer GPUs than the pod requests\","
                        "\"l4-b\":\"node has fewer GPUs than the pod requests\"},"
                        "\"Error\":\"\"}");
    json_decref(got);
    server_stop(s);
}

/* Full-object mode: passing Node objects come back unchanged, NodeNames null. */
static void test_filter_full_mode(void **state)
{
    g_autofree char *cluster = small_cluster();
    Server *s = server_start(cluster, NULL);
    g_autofree char *path = small_cluster();
    g_autofree char *text = fp_test_read_file(path, NULL);
    json_t *list = json_loads(text, 0, NULL);
    json_t *items = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(list, "items"), i, item)
    {
        const char *kind = json_string_value(json_object_get(item, "kind"));
        if (g_str_equal(kind, "Node")) {
            json_t *copy = json_deep_copy(item);
            json_object_del(copy, "kind"); /* informer objects carry no kind */
            json_object_del(copy, "apiVersion");
            json_array_append_new(items, copy);
        }
    }
    json_t *pod = json_loads(GPU_POD("1"), 0, NULL);
    json_t *req = json_pack("{s:o, s:{s:{}, s:O}, s:n}", "Pod", pod, "Nodes", "metadata", "items",
                            items, "NodeNames");
    char *body = json_dumps(req, JSON_COMPACT);
    json_t *got = post_json(s, "/filter", body, 200);
    free(body);
    assert_true(json_is_null(json_object_get(got, "NodeNames")));
    json_t *out = json_object_get(json_object_get(got, "Nodes"), "items");
    assert_int_equal(json_array_size(out), 2);
    /* Byte-identical objects, in request order: l4-a (index 0), h100-a (2). */
    assert_true(json_equal(json_array_get(out, 0), json_array_get(items, 0)));
    assert_true(json_equal(json_array_get(out, 1), json_array_get(items, 2)));
    /* the short list: nodes that fail are in neither map while some pass */
    assert_int_equal(json_object_size(json_object_get(got, "FailedNodes")), 0);
    assert_int_equal(json_object_size(json_object_get(got, "FailedAndUnresolvableNodes")), 0);
    json_decref(got);
    json_decref(items);
    json_decref(req);
    json_decref(list);
    server_stop(s);
}

/* Prioritize: a bare array, one entry per node sent, in order, scores 0..10
 * equal to what the shared placement code computes for the same inputs. */
static void test_prioritize(void **state)
{
    g_autofree char *cluster = small_cluster();
    Server *s = server_start(cluster, NULL);
    json_t *got = post_json(
        s, "/prioritize",
        "{\"Pod\":" GPU_POD("1") ",\"Nodes\":null,\"NodeNames\":[\"h100-a\",\"l4-a\"]}", 200);
    assert_true(json_is_array(got));
    assert_int_equal(json_array_size(got), 2);
    const char *want_hosts[] = {"h100-a", "l4-a"};
    g_autoptr(FpPolicy) policy = fp_policy_store_get(s->app->policies);
    json_t *pod = json_loads(GPU_POD("1"), 0, NULL);
    g_autoptr(FpPod) fpod = fp_pod_from_json(pod, FP_POD_FULL, NULL);
    json_decref(pod);
    FpCandidates c = {.names = want_hosts, .n = 2};
    g_autoptr(FpPlacement) p = fp_placement_evaluate(s->app->view, policy, fpod, &c);
    for (guint k = 0; k < 2; k++) {
        json_t *e = json_array_get(got, k);
        assert_int_equal(json_object_size(e), 2);
        assert_string_equal(json_string_value(json_object_get(e, "Host")), want_hosts[k]);
        json_t *score = json_object_get(e, "Score");
        assert_true(json_is_integer(score));
        assert_in_range(json_integer_value(score), 0, 10);
        assert_int_equal(json_integer_value(score), p->verdicts[k].score);
    }
    json_decref(got);
    server_stop(s);
}

static json_int_t score_of(json_t *list, const char *host)
{
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *e = json_array_get(list, i);
        if (g_str_equal(json_string_value(json_object_get(e, "Host")), host)) {
            return json_integer_value(json_object_get(e, "Score"));
        }
    }
    fail_msg("no score for %s", host);
    return -1;
}

/* kube-scheduler's cycle: filter, then prioritize of exactly the nodes that
 * passed, in that order.  That prioritize is answered from the filter's
 * scores (score_memo.h), which equal an evaluation; any other list, and the
 * same list after the pod is filtered under another view, is evaluated. */
static void test_prioritize_after_filter(void **state)
{
    g_autofree char *cluster = small_cluster();
    Server *s = server_start(cluster, NULL);
    const char *const filter_lbl[] = {"filter", NULL};
    const char *const evaluated_lbl[] = {"evaluated", NULL};
    /* evaluated: not what a filter passed (another order) */
    json_t *ref = post_json(
        s, "/prioritize",
        "{\"Pod\":" GPU_POD("1") ",\"Nodes\":null,\"NodeNames\":[\"h100-a\",\"l4-a\"]}", 200);
    assert_true(fp_counter_get(s->app->verb_metrics.prioritize, evaluated_lbl) == 1);
    json_t *f = post_json(s, "/filter",
                          "{\"Pod\":" GPU_POD("1") ",\"Nodes\":null,\"NodeNames\":[\"l4-a\","
                                                   "\"l4-b\",\"h100-a\",\"cordoned\"]}",
                          200);
    assert_json_eq(json_object_get(f, "NodeNames"), "[\"l4-a\",\"h100-a\"]");
    json_decref(f);
    json_t *got = post_json(
        s, "/prioritize",
        "{\"Pod\":" GPU_POD("1") ",\"Nodes\":null,\"NodeNames\":[\"l4-a\",\"h100-a\"]}", 200);
    assert_true(fp_counter_get(s->app->verb_metrics.prioritize, filter_lbl) == 1);
    assert_int_equal(json_array_size(got), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(got, 0), "Host")), "l4-a");
    assert_int_equal(score_of(got, "l4-a"), score_of(ref, "l4-a"));
    assert_int_equal(score_of(got, "h100-a"), score_of(ref, "h100-a"));
    json_decref(got);
    /* a subset, another pod, or the other order: evaluated */
    const char *others[] = {
        "{\"Pod\":" GPU_POD("1") ",\"Nodes\":null,\"NodeNames\":[\"l4-a\"]}",
        "{\"Pod\":" GPU_POD("2") ",\"Nodes\":null,\"NodeNames\":[\"l4-a\",\"h100-a\"]}",
        "{\"Pod\":" GPU_POD("1") ",\"Nodes\":null,\"NodeNames\":[\"h100-a\",\"l4-a\"]}",
    };
    for (guint i = 0; i < G_N_ELEMENTS(others); i++) {
        json_decref(post_json(s, "/prioritize", others[i], 200));
    }
    assert_true(fp_counter_get(s->app->verb_metrics.prioritize, filter_lbl) == 1);
    assert_true(fp_counter_get(s->app->verb_metrics.prioritize, evaluated_lbl) == 4);
    json_decref(ref);
    server_stop(s);
}

/* ---- the short list (scoring/short_list.h) ---------------------------------- */

#define SL_CHEAP 8
#define SL_DEAR 40

static const char short_list_policy[] = "apiVersion: flexplace.io/v1alpha1\n"
                                        "kind: PlacementPolicy\n"
                                        "shortList: 5\n"
                                        "pools:\n"
                                        "  - {name: cheap, pricePerGPUHour: 0.5}\n"
                                        "  - {name: dear, pricePerGPUHour: 2.0}\n"
                                        "profiles:\n"
                                        "  default: {weights: {cost: 1}}\n"
                                        "  flat: {weights: {packing: 1}}\n"
                                        "  wide: {weights: {cost: 1}, shortList: 0}\n";

/* 8 "cheap" and 40 "dear" empty 8-GPU nodes, a policy file beside them. */
static char *short_list_cluster(const char *dir, char **policy_path)
{
    GString *s = g_string_new("{\"kind\":\"List\",\"apiVersion\":\"v1\",\"items\":[");
    for (int i = 0; i < SL_CHEAP + SL_DEAR; i++) {
        bool cheap = i < SL_CHEAP;
        g_string_append_printf(
            s,
            "%s{\"kind\":\"Node\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"%s-%02d\","
            "\"labels\":{\"flexplace.io/pool\":\"%s\",\"nvidia.com/gpu.product\":\"NVIDIA-L4\","
            "\"nvidia.com/gpu.memory\":\"23034\"}},\"spec\":{},\"status\":{\"allocatable\":"
            "{\"nvidia.com/gpu\":\"8\"},\"capacity\":{\"nvidia.com/gpu\":\"8\"},"
            "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
            i ? "," : "", cheap ? "cheap" : "dear", cheap ? i : i - SL_CHEAP,
            cheap ? "cheap" : "dear");
    }
    g_string_append(s, "]}");
    char *path = g_build_filename(dir, "cluster.json", NULL);
    assert_true(g_file_set_contents(path, s->str, -1, NULL));
    g_string_free(s, TRUE);
    *policy_path = g_build_filename(dir, "policy.yaml", NULL);
    assert_true(g_file_set_contents(*policy_path, short_list_policy, -1, NULL));
    return path;
}

/* Every node of the short-list cluster and a name it does not know. */
static char *short_list_names(void)
{
    GString *s = g_string_new("[");
    for (int i = 0; i < SL_CHEAP + SL_DEAR; i++) {
        bool cheap = i < SL_CHEAP;
        g_string_append_printf(s, "\"%s-%02d\",", cheap ? "cheap" : "dear",
                               cheap ? i : i - SL_CHEAP);
    }
    g_string_append(s, "\"ghost\"]");
    return g_string_free(s, FALSE);
}

static char *sl_pod(int i, const char *profile, int gpus)
{
    g_autofree char *ann =
        profile ? g_strdup_printf(",\"annotations\":{\"flexplace.io/profile\":\"%s\"}", profile)
                : g_strdup("");
    return g_strdup_printf("{\"metadata\":{\"name\":\"sl-%d\",\"namespace\":\"default\","
                           "\"uid\":\"uid-sl-%d\"%s},\"spec\":{\"containers\":[{\"name\":\"c\","
                           "\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"%d\"}}}]}}",
                           i, i, ann, gpus);
}

static json_t *sl_filter(Server *s, const char *pod, const char *names)
{
    g_autofree char *body =
        g_strdup_printf("{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":%s}", pod, names);
    return post_json(s, "/filter", body, 200);
}

/* More nodes pass than the policy's shortList (5): filter names the 5 best
 * (all from the cheap pool), leaves every other node out of both maps, and
 * the prioritize kube-scheduler then sends for those 5 is answered from the
 * filter's scores.  Among equals, each pod gets its own subset; one pod
 * always gets the same one.  Nothing fits: every node with its reason.  A
 * profile's shortList: 0 returns every passing node with the reasons. */
static void test_short_list(void **state)
{
    g_autofree char *dir = g_dir_make_tmp("fp-it-short-XXXXXX", NULL);
    assert_non_null(dir);
    g_autofree char *policy = NULL;
    g_autofree char *cluster = short_list_cluster(dir, &policy);
    g_autofree char *names = short_list_names();
    Server *s = g_new0(Server, 1);
    s->app = fp_test_app_start(cluster, NULL, policy);
    s->port = fp_http_server_port(s->app->http);

    /* the best 5, nothing else */
    g_autofree char *pod0 = sl_pod(0, NULL, 1);
    json_t *got = sl_filter(s, pod0, names);
    json_t *listed = json_object_get(got, "NodeNames");
    assert_int_equal(json_array_size(listed), 5);
    size_t i;
    json_t *v;
    json_array_foreach(listed, i, v)
    {
        assert_true(g_str_has_prefix(json_string_value(v), "cheap-"));
    }
    assert_int_equal(json_object_size(json_object_get(got, "FailedNodes")), 0);
    assert_int_equal(json_object_size(json_object_get(got, "FailedAndUnresolvableNodes")), 0);
    assert_string_equal(json_string_value(json_object_get(got, "Error")), "");

    /* kube-scheduler's prioritize of exactly those: from the filter's scores */
    const char *const filter_lbl[] = {"filter", NULL};
    char *listed_text = json_dumps(listed, JSON_COMPACT);
    g_autofree char *prio_body =
        g_strdup_printf("{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":%s}", pod0, listed_text);
    free(listed_text);
    json_t *prio = post_json(s, "/prioritize", prio_body, 200);
    assert_true(fp_counter_get(s->app->verb_metrics.prioritize, filter_lbl) == 1);
    assert_int_equal(json_array_size(prio), 5); /* the cheapest: score 10 each */
    json_array_foreach(prio, i, v)
    {
        assert_int_equal(json_integer_value(json_object_get(v, "Score")), 10);
    }
    json_decref(prio);

    /* the same pod again: the same list */
    json_t *again = sl_filter(s, pod0, names);
    assert_true(json_equal(json_object_get(again, "NodeNames"), listed));
    json_decref(again);
    json_decref(got);

    /* among equals (packing on empty nodes: all 48 alike), pods spread */
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (int p = 1; p <= 30; p++) {
        g_autofree char *pod = sl_pod(p, "flat", 1);
        json_t *r = sl_filter(s, pod, names);
        assert_int_equal(json_array_size(json_object_get(r, "NodeNames")), 5);
        json_array_foreach(json_object_get(r, "NodeNames"), i, v)
        {
            g_hash_table_add(seen, g_strdup(json_string_value(v)));
        }
        json_decref(r);
    }
    print_message("30 pods, short list of 5 among 48 equal nodes: %u distinct nodes listed\n",
                  g_hash_table_size(seen));
    assert_true(g_hash_table_size(seen) >= 30);
    g_hash_table_unref(seen);

    /* nothing fits: every node with its reason, as without a short list */
    g_autofree char *big = sl_pod(100, NULL, 16);
    got = sl_filter(s, big, names);
    assert_int_equal(json_array_size(json_object_get(got, "NodeNames")), 0);
    json_t *un = json_object_get(got, "FailedAndUnresolvableNodes");
    assert_int_equal(json_object_size(un), SL_CHEAP + SL_DEAR + 1);
    assert_string_equal(json_string_value(json_object_get(un, "dear-07")),
                        "node has fewer GPUs than the pod requests");
    assert_string_equal(json_string_value(json_object_get(un, "ghost")),
                        "node not in flexplace cluster view");
    json_decref(got);

    /* a profile without a short list: every passing node, every reason */
    g_autofree char *wide = sl_pod(101, "wide", 1);
    got = sl_filter(s, wide, names);
    assert_int_equal(json_array_size(json_object_get(got, "NodeNames")), SL_CHEAP + SL_DEAR);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(got, "FailedAndUnresolvableNodes"), "ghost")),
                        "node not in flexplace cluster view");
    json_decref(got);

    /* the nominated-node call: one node, kept */
    got = sl_filter(s, pod0, "[\"dear-39\"]");
    assert_json_eq(got, "{\"Nodes\":null,\"NodeNames\":[\"dear-39\"],\"FailedNodes\":{},"
                        "\"FailedAndUnresolvableNodes\":{},\"Error\":\"\"}");
    json_decref(got);

    server_stop(s);
    g_autofree char *c1 = g_build_filename(dir, "cluster.json", NULL);
    g_unlink(c1);
    g_unlink(policy);
    g_rmdir(dir);
}

/* A pod that requests no GPU passes every known node with a neutral score. */
static void test_no_gpu_pod(void **state)
{
    g_autofree char *cluster = small_cluster();
    Server *s = server_start(cluster, NULL);
    const char *pod = "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},"
                      "\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":"
                      "{\"cpu\":\"1\"}}}]}}";
    g_autofree char *body =
        g_strdup_printf("{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":[\"l4-b\",\"cpu-only\"]}", pod);
    json_t *got = post_json(s, "/filter", body, 200);
    assert_json_eq(got, "{\"Nodes\":null,\"NodeNames\":[\"l4-b\",\"cpu-only\"],"
                        "\"FailedNodes\":{},\"FailedAndUnresolvableNodes\":{},\"Error\":\"\"}");
    json_decref(got);
    got = post_json(s, "/prioritize", body, 200);
    /* score 0 everywhere: left out (kube-scheduler adds nothing either way) */
    assert_json_eq(got, "[]");
    json_decref(got);
    server_stop(s);
}

/* Go's decoder matches keys case-insensitively; so do we. */
static void test_case_insensitive_keys(void **state)
{
    g_autofree char *cluster = small_cluster();
    Server *s = server_start(cluster, NULL);
    json_t *got = post_json(
        s, "/filter", "{\"pod\":" GPU_POD("1") ",\"NODENAMES\":[\"l4-a\"],\"nodes\":null}", 200);
    assert_json_eq(got, "{\"Nodes\":null,\"NodeNames\":[\"l4-a\"],\"FailedNodes\":{},"
                        "\"FailedAndUnresolvableNodes\":{},\"Error\":\"\"}");
    json_decref(got);
    server_stop(s);
}

/* A malformed flexplace annotation fails every node with a reason naming it. */
static void test_bad_annotation(void **state)
{
    g_autofree char *cluster = small_cluster();
    Server *s = server_start(cluster, NULL);
    json_t *got = post_json(
        s, "/filter",
        "{\"Pod\":{\"metadata\":{\"name\":\"x\",\"namespace\":\"default\",\"annotations\":"
        "{\"flexplace.io/max-latency-ms\":\"soon\"}},\"spec\":{\"containers\":[{\"name\":\"c\","
        "\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"1\"}}}]}},"
        "\"NodeNames\":[\"l4-a\",\"h100-a\"],\"Nodes\":null}",
        200);
    assert_int_equal(json_array_size(json_object_get(got, "NodeNames")), 0);
    json_t *un = json_object_get(got, "FailedAndUnresolvableNodes");
    assert_int_equal(json_object_size(un), 2);
    const char *reason = json_string_value(json_object_get(un, "l4-a"));
    assert_non_null(reason);
    assert_non_null(strstr(reason, "flexplace.io/max-latency-ms"));
    json_decref(got);
    server_stop(s);
}

static void assert_healthy(Server *s)
{
    FpTestHttpReply reply = {0};
    assert_true(fp_test_http_get(s->port, "/healthz", &reply));
    assert_int_equal(reply.status, 200);
    fp_test_http_reply_clear(&reply);
}

/* Hostile and malformed bodies: each a 400 with a JSON error, and the
 * server keeps serving. */
static void test_bad_requests(void **state)
{
    g_autofree char *cluster = small_cluster();
    Server *s = server_start(cluster, NULL);
    const char *bad[] = {
        "",
        "{",
        "not json",
        "[]",
        "{\"NodeNames\":[\"l4-a\"]}",                                           /* no Pod */
        "{\"Pod\":null,\"NodeNames\":[\"l4-a\"]}",                              /* null Pod */
        "{\"Pod\":\"x\",\"NodeNames\":[\"l4-a\"]}",                             /* wrong type */
        "{\"Pod\":" GPU_POD("1") ",\"NodeNames\":5}",                           /* wrong type */
        "{\"Pod\":" GPU_POD("1") ",\"NodeNames\":[1,2]}",                       /* not strings */
        "{\"Pod\":" GPU_POD("1") ",\"NodeNames\":null,\"Nodes\":null}",         /* no nodes */
        "{\"Pod\":" GPU_POD("1") "}",                                           /* no nodes */
        "{\"Pod\":" GPU_POD("1") ",\"Nodes\":{\"items\":[{\"metadata\":{}}]}}", /* nameless */
        "{\"Pod\":" GPU_POD("abc") ",\"NodeNames\":[\"l4-a\"]}",                /* bad quantity */
        "{\"Pod\":{\"metadata\":{\"name\":\"x\"},\"spec\":{\"containers\":{}}},"
        "\"NodeNames\":[\"l4-a\"]}",
    };
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        for (guint v = 0; v < 2; v++) {
            const char *path = v ? "/prioritize" : "/filter";
            FpTestHttpReply reply = {0};
            assert_true(fp_test_http_post(s->port, path, bad[i], strlen(bad[i]), &reply));
            if (reply.status != 400) {
                fail_msg("%s body %u: status %ld, want 400: %s", path, i, reply.status, reply.body);
            }
            json_t *err = json_loadb(reply.body, reply.body_len, 0, NULL);
            assert_non_null(err);
            assert_true(json_is_string(json_object_get(err, "error")));
            json_decref(err);
            fp_test_http_reply_clear(&reply);
        }
        assert_healthy(s);
    }
    /* An empty list is not an error: nothing passes, nothing failed. */
    json_t *got =
        post_json(s, "/filter", "{\"Pod\":" GPU_POD("1") ",\"NodeNames\":[],\"Nodes\":null}", 200);
    assert_json_eq(got, "{\"Nodes\":null,\"NodeNames\":[],\"FailedNodes\":{},"
                        "\"FailedAndUnresolvableNodes\":{},\"Error\":\"\"}");
    json_decref(got);
    server_stop(s);
}

/* 10,000 names, none known: all unresolvable, in one quick answer. */
static void test_many_names(void **state)
{
    g_autofree char *cluster = small_cluster();
    Server *s = server_start(cluster, NULL);
    GString *body = g_string_new("{\"Pod\":" GPU_POD("1") ",\"Nodes\":null,\"NodeNames\":[");
    for (int i = 0; i < 10000; i++) {
        g_string_append_printf(body, "%s\"node-%05d\"", i ? "," : "", i);
    }
    g_string_append(body, "]}");
    gint64 t0 = g_get_monotonic_time();
    json_t *got = post_json(s, "/filter", body->str, 200);
    gint64 dt = g_get_monotonic_time() - t0;
    print_message("10,000 unknown names filtered in %.2f ms\n", dt / 1000.0);
    assert_int_equal(json_array_size(json_object_get(got, "NodeNames")), 0);
    json_t *un = json_object_get(got, "FailedAndUnresolvableNodes");
    assert_int_equal(json_object_size(un), 10000);
    assert_string_equal(json_string_value(json_object_get(un, "node-09999")),
                        "node not in flexplace cluster view");
    json_decref(got);
    g_string_free(body, TRUE);
    assert_healthy(s);
    server_stop(s);
}

/* Probes, routing and the configurable prefix. */
static void test_routes(void **state)
{
    g_autofree char *cluster = small_cluster();
    Server *s = server_start(cluster, "/gpu");
    FpTestHttpReply reply = {0};
    assert_true(fp_test_http_get(s->port, "/gpu/readyz", &reply));
    assert_int_equal(reply.status, 200);
    json_t *ready = json_loadb(reply.body, reply.body_len, 0, NULL);
    assert_true(json_is_true(json_object_get(ready, "ready")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(ready, "cache"), "nodes")),
                     6);
    json_decref(ready);
    fp_test_http_reply_clear(&reply);
    assert_true(fp_test_http_get(s->port, "/gpu/filter", &reply));
    assert_int_equal(reply.status, 405);
    fp_test_http_reply_clear(&reply);
    assert_true(fp_test_http_get(s->port, "/filter", &reply));
    assert_int_equal(reply.status, 404);
    fp_test_http_reply_clear(&reply);
    assert_true(fp_test_http_get(s->port, "/gpu/version", &reply));
    assert_int_equal(reply.status, 200);
    assert_non_null(strstr(reply.body, FP_VERSION));
    fp_test_http_reply_clear(&reply);
    json_t *got =
        post_json(s, "/gpu/filter",
                  "{\"Pod\":" GPU_POD("1") ",\"NodeNames\":[\"l4-a\"],\"Nodes\":null}", 200);
    json_decref(got);
    server_stop(s);
}

/* ---- captures of a real kube-scheduler v1.32.6 ---- */

/* The capture's Node objects as a snapshot file, so names mode knows them. */
static char *capture_cluster(const char *filter_json_path)
{
    g_autofree char *text = fp_test_read_file(filter_json_path, NULL);
    json_t *req = json_loads(text, 0, NULL);
    assert_non_null(req);
    json_t *list = json_pack("{s:s, s:s, s:O}", "apiVersion", "v1", "kind", "NodeList", "items",
                             json_object_get(json_object_get(req, "Nodes"), "items"));
    char *path = g_build_filename(g_get_tmp_dir(), "flexplace-capture-cluster.json", NULL);
    assert_int_equal(json_dump_file(list, path, 0), 0);
    json_decref(list);
    json_decref(req);
    return path;
}

static void check_partition(json_t *reply, json_t *input_names)
{
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    const char *maps[] = {"FailedNodes", "FailedAndUnresolvableNodes"};
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(reply, "NodeNames"), i, v)
    {
        assert_true(g_hash_table_add(seen, (gpointer)json_string_value(v)));
    }
    for (guint m = 0; m < 2; m++) {
        const char *key;
        json_object_foreach(json_object_get(reply, maps[m]), key, v)
        {
            assert_true(g_hash_table_add(seen, (gpointer)key));
        }
    }
    assert_int_equal(g_hash_table_size(seen), json_array_size(input_names));
    json_array_foreach(input_names, i, v)
    {
        assert_true(g_hash_table_contains(seen, json_string_value(v)));
    }
    g_hash_table_unref(seen);
}

static void test_captures(void **state)
{
    /* FP_SKIP longjmps past cleanups: decide before anything is allocated. */
    char *probe = fp_test_shared_data("kube-scheduler-captures/nodecache-true/prioritize-002.json");
    gboolean present = probe != NULL;
    g_free(probe);
    if (!present) {
        FP_SKIP("shared-data", "../shared/data/kube-scheduler-captures not present");
    }
    g_autofree char *full =
        fp_test_shared_data("kube-scheduler-captures/nodecache-false/filter-001.json");
    g_autofree char *names =
        fp_test_shared_data("kube-scheduler-captures/nodecache-true/filter-001.json");
    g_autofree char *prio =
        fp_test_shared_data("kube-scheduler-captures/nodecache-true/prioritize-002.json");
    assert_non_null(full);
    assert_non_null(names);
    assert_non_null(prio);
    g_autofree char *cluster = capture_cluster(full);
    Server *s = server_start(cluster, NULL);

    /* nodeCacheCapable: true - the captured body, byte for byte. */
    g_autofree char *body = fp_test_read_file(names, NULL);
    json_t *req = json_loads(body, 0, NULL);
    json_t *got = post_json(s, "/filter", body, 200);
    assert_true(json_is_null(json_object_get(got, "Nodes")));
    assert_string_equal(json_string_value(json_object_get(got, "Error")), "");
    check_partition(got, json_object_get(req, "NodeNames"));
    /* 1 GPU on empty 4/2/8-GPU nodes: every node passes. */
    assert_int_equal(json_array_size(json_object_get(got, "NodeNames")),
                     json_array_size(json_object_get(req, "NodeNames")));
    json_decref(got);
    json_decref(req);

    g_autofree char *pbody = fp_test_read_file(prio, NULL);
    req = json_loads(pbody, 0, NULL);
    got = post_json(s, "/prioritize", pbody, 200);
    assert_int_equal(json_array_size(got), json_array_size(json_object_get(req, "NodeNames")));
    size_t i;
    json_t *e;
    json_array_foreach(got, i, e)
    {
        assert_string_equal(
            json_string_value(json_object_get(e, "Host")),
            json_string_value(json_array_get(json_object_get(req, "NodeNames"), i)));
        assert_in_range(json_integer_value(json_object_get(e, "Score")), 0, 10);
    }
    json_decref(got);
    json_decref(req);

    /* nodeCacheCapable: false - whole Node objects back, unchanged. */
    g_autofree char *fbody = fp_test_read_file(full, NULL);
    req = json_loads(fbody, 0, NULL);
    got = post_json(s, "/filter", fbody, 200);
    assert_true(json_is_null(json_object_get(got, "NodeNames")));
    json_t *in_items = json_object_get(json_object_get(req, "Nodes"), "items");
    json_t *out_items = json_object_get(json_object_get(got, "Nodes"), "items");
    assert_int_equal(json_array_size(out_items), json_array_size(in_items));
    json_array_foreach(out_items, i, e)
    {
        assert_true(json_equal(e, json_array_get(in_items, i)));
    }
    json_decref(got);
    json_decref(req);
    server_stop(s);
    g_unlink(cluster);
}

int main(void)
{
    json_object_seed(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_names_mode),
        cmocka_unit_test(test_filter_full_mode),
        cmocka_unit_test(test_prioritize),
        cmocka_unit_test(test_prioritize_after_filter),
        cmocka_unit_test(test_short_list),
        cmocka_unit_test(test_no_gpu_pod),
        cmocka_unit_test(test_case_insensitive_keys),
        cmocka_unit_test(test_bad_annotation),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_many_names),
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_captures),
        cmocka_unit_test(test_filter_too_few_gpus_unresolvable),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
