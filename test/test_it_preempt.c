/*
 * test_it_preempt.c - POST /preempt on the real server (127.0.0.1, snapshot
 * view): the golden pairs of test/data/preempt in both nodeCacheCapable
 * modes, hostile bodies, a large map, and the bodies a real kube-scheduler
 * v1.32.6 sent (../shared/data/kube-scheduler-captures/preempt-nodecache-*,
 * when present) replayed against a view built from the capture's Node
 * objects and victim pods.  Replies are compared as JSON values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <jansson.h>
#include <string.h>

#include "extender/server/app.h"
#include "extender/server/preempt.h"
#include "support/http_client.h"
#include "support/support.h"

typedef struct {
    FpApp *app;
    guint16 port;
} Server;

static Server *server_start(const char *cluster_file)
{
    Server *s = g_new0(Server, 1);
    s->app = fp_test_app_start(cluster_file, NULL, NULL);
    s->port = fp_http_server_port(s->app->http);
    return s;
}

static void server_stop(Server *s)
{
    fp_app_free(s->app);
    g_free(s);
}

static Server *preempt_server(void)
{
    g_autofree char *cluster = fp_test_data_path("preempt/cluster.json");
    return server_start(cluster);
}

/* POST @body to /preempt; the reply must have @status and be JSON. */
static json_t *post_preempt(Server *s, const char *body, size_t len, long status)
{
    FpTestHttpReply reply = {0};
    assert_true(fp_test_http_post(s->port, "/preempt", body, len, &reply));
    if (reply.status != status) {
        fail_msg("POST /preempt: status %ld, want %ld: %.300s", reply.status, status, reply.body);
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

static void assert_json_eq(json_t *got, json_t *want)
{
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
        char *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
        fail_msg("JSON differs\n got: %s\nwant: %s", g, w);
    }
}

static void assert_healthy(Server *s)
{
    FpTestHttpReply reply = {0};
    assert_true(fp_test_http_get(s->port, "/healthz", &reply));
    assert_int_equal(reply.status, 200);
    fp_test_http_reply_clear(&reply);
}

static void check_golden(Server *s, const char *request, const char *response)
{
    g_autofree char *req_path = fp_test_data_path(request);
    g_autofree char *resp_path = fp_test_data_path(response);
    size_t len = 0;
    g_autofree char *body = fp_test_read_file(req_path, &len);
    json_t *want = json_load_file(resp_path, 0, NULL);
    assert_non_null(want);
    json_t *got = post_preempt(s, body, len, 200);
    assert_json_eq(got, want);
    json_decref(got);
    json_decref(want);
}

/* Both modes answer NodeNameToMetaVictims with the surviving nodes, their
 * victims as sent and their NumPDBViolations. */
static void test_golden(void **state)
{
    Server *s = preempt_server();
    check_golden(s, "preempt/meta-request.json", "preempt/meta-response.json");
    check_golden(s, "preempt/full-request.json", "preempt/full-response.json");
    server_stop(s);
}

#define PREEMPTOR                                                                                  \
    "{\"metadata\":{\"name\":\"chat-burst-9\",\"namespace\":\"inference\"},\"spec\":{"             \
    "\"priority\":1000,\"containers\":[{\"name\":\"main\",\"resources\":{\"limits\":{"             \
    "\"nvidia.com/gpu\":\"2\"}}}]}}"

/* Hostile and malformed bodies: a 400 with a JSON error each; the server
 * keeps serving and still answers a good request. */
static void test_bad_requests(void **state)
{
    Server *s = preempt_server();
    const char *bad[] = {
        "",
        "{",
        "not json",
        "[]",
        "null",
        "{\"NodeNameToMetaVictims\":{}}",
        "{\"Pod\":[],\"NodeNameToMetaVictims\":{}}",
        "{\"Pod\":" PREEMPTOR ",\"NodeNameToMetaVictims\":[]}",
        "{\"Pod\":" PREEMPTOR ",\"NodeNameToMetaVictims\":5}",
        "{\"Pod\":" PREEMPTOR ",\"NodeNameToVictims\":\"x\"}",
        "{\"Pod\":" PREEMPTOR ",\"NodeNameToMetaVictims\":{\"t4-a\":{\"Pods\":{}}}}",
        "{\"Pod\":" PREEMPTOR ",\"NodeNameToMetaVictims\":{\"t4-a\":{\"Pods\":5}}}",
        "{\"Pod\":" PREEMPTOR ",\"NodeNameToMetaVictims\":{\"t4-a\":{\"Pods\":[{\"uid\":1}]}}}",
        "{\"Pod\":" PREEMPTOR ",\"NodeNameToMetaVictims\":{\"t4-a\":{\"Pods\":[{}]}}}",
        "{\"Pod\":" PREEMPTOR ",\"NodeNameToMetaVictims\":{\"t4-a\":{\"Pods\":[{\"UID\":\"a\"}],"
        "\"NumPDBViolations\":[]}}}",
        "{\"Pod\":" PREEMPTOR ",\"NodeNameToVictims\":{\"t4-a\":{\"Pods\":[\"pod\"]}}}",
        "{\"Pod\":" PREEMPTOR ",\"NodeNameToVictims\":{\"t4-a\":{\"Pods\":[{\"metadata\":5}]}}}",
        "{\"Pod\":" PREEMPTOR ",\"NodeNameToMetaVictims\":{\"t4-a\":{\"Pods\":[{\"UID\":\"a\"}]}",
    };
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        json_t *err = post_preempt(s, bad[i], strlen(bad[i]), 400);
        if (!json_is_string(json_object_get(err, "error")) ||
            !*json_string_value(json_object_get(err, "error"))) {
            fail_msg("body %u: no error message", i);
        }
        json_decref(err);
        assert_healthy(s);
    }
    /* A body with a NUL byte in the middle. */
    static const char nul[] = "{\"Pod\":{\"metadata\":{\"name\":\"a\0b\"}}}";
    json_decref(post_preempt(s, nul, sizeof nul - 1, 400));
    check_golden(s, "preempt/meta-request.json", "preempt/meta-response.json");
    server_stop(s);
}

/* 100,001 candidate nodes (kube-scheduler sends at most a few thousand) are
 * refused with 400; 10,000 unknown nodes get a quick, empty answer. */
static void test_large_maps(void **state)
{
    Server *s = preempt_server();
    GString *body = g_string_new("{\"Pod\":" PREEMPTOR ",\"NodeNameToMetaVictims\":{");
    for (guint i = 0; i <= FP_PREEMPT_MAX_NODES; i++) {
        g_string_append_printf(body, "%s\"node-%06u\":{\"Pods\":[{\"UID\":\"u-%u\"}]}",
                               i ? "," : "", i, i);
    }
    g_string_append(body, "}}");
    gint64 t0 = g_get_monotonic_time();
    json_t *err = post_preempt(s, body->str, body->len, 400);
    print_message("%u nodes refused in %.1f ms (%zu bytes)\n", FP_PREEMPT_MAX_NODES + 1,
                  (double)(g_get_monotonic_time() - t0) / 1000.0, body->len);
    assert_non_null(strstr(json_string_value(json_object_get(err, "error")), "too many"));
    json_decref(err);
    assert_healthy(s);

    g_string_assign(body, "{\"Pod\":" PREEMPTOR ",\"NodeNameToMetaVictims\":{");
    for (guint i = 0; i < 10000; i++) {
        g_string_append_printf(body, "%s\"node-%05u\":{\"Pods\":[{\"UID\":\"u-%u\"}]}",
                               i ? "," : "", i, i);
    }
    /* ... and one real candidate among them. */
    g_string_append(body, ",\"t4-a\":{\"Pods\":[{\"UID\":\"147aa5ea-7065-5452-8489-42913508f548\"},"
                          "{\"UID\":\"9411b641-2717-52ea-99ce-4ac374ecf01b\"}]}}}");
    t0 = g_get_monotonic_time();
    json_t *got = post_preempt(s, body->str, body->len, 200);
    print_message("10,001 nodes answered in %.1f ms\n",
                  (double)(g_get_monotonic_time() - t0) / 1000.0);
    json_t *map = json_object_get(got, "NodeNameToMetaVictims");
    assert_int_equal(json_object_size(map), 1);
    assert_int_equal(json_array_size(json_object_get(json_object_get(map, "t4-a"), "Pods")), 2);
    json_decref(got);
    g_string_free(body, TRUE);
    server_stop(s);
}

/* ---- captures of a real kube-scheduler v1.32.6 ---- */

/* Victims of one node of a request as full Pod objects (deep copies). For
 * meta captures the objects of @templates (a full-mode capture's map) are
 * reused with the capture's UIDs: same pods, recreated between runs. */
static void add_victims(json_t *items, json_t *req, json_t *templates)
{
    json_t *full = json_object_get(req, "NodeNameToVictims");
    json_t *meta = json_object_get(req, "NodeNameToMetaVictims");
    const char *node;
    json_t *entry;
    if (json_is_object(full)) {
        json_object_foreach(full, node, entry)
        {
            size_t i;
            json_t *pod;
            json_array_foreach(json_object_get(entry, "Pods"), i, pod)
            {
                json_array_append_new(items, json_deep_copy(pod));
            }
        }
        return;
    }
    json_object_foreach(meta, node, entry)
    {
        json_t *tpl = json_object_get(json_object_get(templates, node), "Pods");
        json_t *uids = json_object_get(entry, "Pods");
        assert_int_equal(json_array_size(tpl), json_array_size(uids));
        for (size_t i = 0; i < json_array_size(uids); i++) {
            json_t *pod = json_deep_copy(json_array_get(tpl, i));
            json_object_set(json_object_get(pod, "metadata"), "uid",
                            json_object_get(json_array_get(uids, i), "UID"));
            json_array_append_new(items, pod);
        }
    }
}

/* The reply must keep every node of the request with the same victims, in
 * order, as UIDs, and its NumPDBViolations. */
static void assert_all_kept(json_t *req, json_t *reply)
{
    json_t *full = json_object_get(req, "NodeNameToVictims");
    json_t *in = json_is_object(full) ? full : json_object_get(req, "NodeNameToMetaVictims");
    json_t *out = json_object_get(reply, "NodeNameToMetaVictims");
    assert_int_equal(json_object_size(reply), 1);
    assert_int_equal(json_object_size(out), json_object_size(in));
    assert_int_equal(json_object_size(in), 2);
    const char *node;
    json_t *entry;
    json_object_foreach(in, node, entry)
    {
        json_t *got = json_object_get(out, node);
        if (!got) {
            fail_msg("node %s was dropped", node);
        }
        assert_int_equal(json_integer_value(json_object_get(got, "NumPDBViolations")),
                         json_integer_value(json_object_get(entry, "NumPDBViolations")));
        json_t *want_pods = json_object_get(entry, "Pods");
        json_t *got_pods = json_object_get(got, "Pods");
        assert_int_equal(json_array_size(got_pods), json_array_size(want_pods));
        assert_int_equal(json_array_size(got_pods), 2);
        for (size_t i = 0; i < json_array_size(want_pods); i++) {
            json_t *w = json_array_get(want_pods, i);
            const char *uid = json_string_value(
                json_object_get(json_is_object(full) ? json_object_get(w, "metadata") : w,
                                json_is_object(full) ? "uid" : "UID"));
            json_t *g = json_array_get(got_pods, i);
            assert_int_equal(json_object_size(g), 1);
            assert_string_equal(json_string_value(json_object_get(g, "UID")), uid);
        }
    }
}

static const char *const captures[] = {
    "preempt-nodecache-false/preempt-016.json", "preempt-nodecache-false/preempt-017.json",
    "preempt-nodecache-false/preempt-018.json", "preempt-nodecache-true/preempt-020.json",
    "preempt-nodecache-true/preempt-021.json",  "preempt-nodecache-true/preempt-022.json",
    "preempt-nodecache-true/preempt-023.json",  "preempt-nodecache-true/preempt-024.json",
};

/* Two 2-GPU nodes, each full with two 1-GPU pods at priority 10; the
 * preemptor wants 2 GPUs at priority 1000: evicting either node's pair makes
 * room, so both nodes come back unchanged (the reply the scheduler accepted
 * in preempt-016 / preempt-020, after which it nominated capx-node-1). */
static void test_captures(void **state)
{
    char *nodes_path =
        fp_test_shared_data("kube-scheduler-captures/bind-nodecache-false/filter-004.json");
    char *tpl_path = fp_test_shared_data("kube-scheduler-captures/preempt-nodecache-false/"
                                         "preempt-016.json");
    if (!nodes_path || !tpl_path) {
        g_free(nodes_path);
        g_free(tpl_path);
        FP_SKIP("shared-data", "../shared/data/kube-scheduler-captures not present "
                               "(set FP_SHARED_DATA)");
    }
    json_t *nodes_req = json_load_file(nodes_path, 0, NULL);
    json_t *tpl_req = json_load_file(tpl_path, 0, NULL);
    assert_non_null(nodes_req);
    assert_non_null(tpl_req);
    json_t *templates = json_object_get(tpl_req, "NodeNameToVictims");
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("flexplace-preempt-XXXXXX", &error);
    assert_non_null(dir);
    g_autofree char *cluster = g_build_filename(dir, "cluster.json", NULL);
    guint replayed = 0;
    for (guint c = 0; c < G_N_ELEMENTS(captures); c++) {
        g_autofree char *rel = g_strconcat("kube-scheduler-captures/", captures[c], NULL);
        g_autofree char *path = fp_test_shared_data(rel);
        if (!path) {
            print_message("capture %s not present\n", captures[c]);
            continue;
        }
        size_t len = 0;
        g_autofree char *body = fp_test_read_file(path, &len);
        json_t *req = json_loadb(body, len, 0, NULL);
        assert_non_null(req);
        /* The view: the capture's nodes and the victims it names, as a
         * NodeList and a PodList in two documents, as kubectl prints them. */
        json_t *node_list =
            json_pack("{s:s, s:s, s:O}", "apiVersion", "v1", "kind", "NodeList", "items",
                      json_object_get(json_object_get(nodes_req, "Nodes"), "items"));
        json_t *pods = json_array();
        add_victims(pods, req, templates);
        json_t *pod_list =
            json_pack("{s:s, s:s, s:o}", "apiVersion", "v1", "kind", "PodList", "items", pods);
        char *nodes_text = json_dumps(node_list, 0);
        char *pods_text = json_dumps(pod_list, 0);
        g_autofree char *text = g_strdup_printf("%s\n---\n%s\n", nodes_text, pods_text);
        free(nodes_text);
        free(pods_text);
        json_decref(node_list);
        json_decref(pod_list);
        assert_true(g_file_set_contents(cluster, text, -1, NULL));

        Server *s = server_start(cluster);
        /* Every victim is in the view, bound to its node: both nodes full. */
        assert_int_equal(fp_view_pod_count(s->app->view), 4);
        json_t *got = post_preempt(s, body, len, 200);
        assert_all_kept(req, got);
        if (c == 0 || c == 3) {
            /* The reply the scheduler accepted, byte for byte as JSON. */
            g_autofree char *resp_path = g_strndup(path, strlen(path) - strlen(".json"));
            g_autofree char *resp_file = g_strconcat(resp_path, ".response.json", NULL);
            json_t *accepted = json_load_file(resp_file, 0, NULL);
            assert_non_null(accepted);
            assert_json_eq(got, accepted);
            json_decref(accepted);
        }
        json_decref(got);
        json_decref(req);
        server_stop(s);
        replayed++;
    }
    print_message("replayed %u preempt captures\n", replayed);
    assert_true(replayed > 0);
    g_unlink(cluster);
    g_rmdir(dir);
    json_decref(nodes_req);
    json_decref(tpl_req);
    g_free(nodes_path);
    g_free(tpl_path);
}

int main(void)
{
    json_object_seed(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_large_maps),
        cmocka_unit_test(test_captures),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
