/*
 * test/test_it_events.c - Events on pods (cache/event_sink.h) against the
 * fake API server, which validates them as the API server's create does:
 * the events.k8s.io/v1 object kube-scheduler's own recorder posts, the
 * core/v1 fallback, deduplication, the rate limit, the bounded queue, long
 * notes and names; and through the real server, the Event a filter that
 * fits no node posts on the pod.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <jansson.h>
#include <string.h>

#include "cache/event_sink.h"
#include "cache/kubeconfig.h"
#include "extender/cli/cmd_serve.h"
#include "extender/server/app.h"
#include "test/support/fake_api.h"
#include "test/support/http_client.h"
#include "test/support/support.h"

typedef struct {
    FpFakeApi *api;
    char *dir;
    char *kubeconfig;
    FpKubeClient *client;
} Env;

static int setup(void **state)
{
    Env *e = g_new0(Env, 1);
    e->api = fp_fake_api_start(NULL);
    e->dir = g_dir_make_tmp("fp-it-events-XXXXXX", NULL);
    e->kubeconfig = fp_fake_api_write_kubeconfig(e->api, e->dir);
    GError *error = NULL;
    g_autoptr(FpKubeConfig) kc = fp_kubeconfig_load(e->kubeconfig, NULL, &error);
    assert_non_null(kc);
    e->client = fp_kube_client_new(kc, &error);
    assert_non_null(e->client);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    Env *e = *state;
    fp_kube_client_free(e->client);
    fp_fake_api_stop(e->api);
    g_remove(e->kubeconfig);
    g_rmdir(e->dir);
    g_free(e->kubeconfig);
    g_free(e->dir);
    g_free(e);
    return 0;
}

/* The Events the fake recorded (new reference). */
static json_t *events(Env *e)
{
    json_t *reply = fp_fake_api_ctl(e->api, "{\"cmd\":\"events\"}");
    json_t *list = json_incref(json_object_get(reply, "events"));
    json_decref(reply);
    return list;
}

static const char *str(const json_t *obj, const char *path)
{
    g_auto(GStrv) parts = g_strsplit(path, ".", -1);
    const json_t *v = obj;
    for (guint i = 0; parts[i]; i++) {
        v = json_object_get(v, parts[i]);
    }
    return json_string_value(v);
}

static void test_event_object(void **state)
{
    Env *e = *state;
    FpEventSinkConfig cfg = {.instance = "flexplace-0"};
    FpEventSink *sink = fp_event_sink_new(e->client, &cfg);
    assert_true(fp_event_sink_post(sink, "ml", "llm-0", "uid-1", "FlexplaceUnschedulable",
                                   "Scheduling", "no node fits"));
    assert_true(fp_event_sink_wait_idle(sink, 30));
    FpEventSinkStats st;
    fp_event_sink_stats(sink, &st);
    assert_int_equal(st.posted, 1);
    assert_int_equal(st.failed, 0);
    assert_false(st.core_v1);
    json_t *list = events(e);
    assert_int_equal(json_array_size(list), 1);
    json_t *rec = json_array_get(list, 0);
    assert_string_equal(str(rec, "api"), "events.k8s.io/v1");
    json_t *ev = json_object_get(rec, "object");
    assert_string_equal(str(ev, "regarding.kind"), "Pod");
    assert_string_equal(str(ev, "regarding.namespace"), "ml");
    assert_string_equal(str(ev, "regarding.name"), "llm-0");
    assert_string_equal(str(ev, "regarding.uid"), "uid-1");
    assert_string_equal(str(ev, "reason"), "FlexplaceUnschedulable");
    assert_string_equal(str(ev, "type"), "Warning");
    assert_string_equal(str(ev, "action"), "Scheduling");
    assert_string_equal(str(ev, "note"), "no node fits");
    assert_string_equal(str(ev, "reportingController"), "flexplace");
    assert_string_equal(str(ev, "reportingInstance"), "flexplace-0");
    assert_true(g_str_has_prefix(str(ev, "metadata.name"), "llm-0."));
    /* MicroTime: six fractional digits, UTC. */
    const char *t = str(ev, "eventTime");
    assert_int_equal(strlen(t), strlen("2026-12-07T17:30:00.123456Z"));
    assert_true(g_str_has_suffix(t, "Z"));
    json_decref(list);
    fp_event_sink_free(sink);
}

static void test_deduplicated(void **state)
{
    Env *e = *state;
    FpEventSink *sink = fp_event_sink_new(e->client, NULL);
    assert_true(fp_event_sink_post(sink, "ml", "a", "uid-a", "R", "Scheduling", "note one"));
    /* The same pod, reason and note within the window: not sent again. */
    assert_false(fp_event_sink_post(sink, "ml", "a", "uid-a", "R", "Scheduling", "note one"));
    assert_false(fp_event_sink_post(sink, "ml", "a", "uid-a", "R", "Scheduling", "note one"));
    /* Another note, or another pod: sent. */
    assert_true(fp_event_sink_post(sink, "ml", "a", "uid-a", "R", "Scheduling", "note two"));
    assert_true(fp_event_sink_post(sink, "ml", "b", "uid-b", "R", "Scheduling", "note one"));
    assert_true(fp_event_sink_wait_idle(sink, 30));
    FpEventSinkStats st;
    fp_event_sink_stats(sink, &st);
    assert_int_equal(st.posted, 3);
    assert_int_equal(st.deduplicated, 2);
    json_t *list = events(e);
    assert_int_equal(json_array_size(list), 3);
    json_decref(list);
    fp_event_sink_free(sink);
}

static void test_rate_limit_and_queue(void **state)
{
    Env *e = *state;
    /* Two tokens and (for the test's length) no refill; one waiting slot. */
    FpEventSinkConfig cfg = {.burst = 2, .per_second = 1e-6, .queue_max = 1};
    FpEventSink *sink = fp_event_sink_new(e->client, &cfg);
    assert_true(fp_event_sink_post(sink, "ml", "p", "u1", "R", "Scheduling", "1"));
    assert_true(fp_event_sink_wait_idle(sink, 30));
    assert_true(fp_event_sink_post(sink, "ml", "p", "u2", "R", "Scheduling", "2"));
    assert_true(fp_event_sink_wait_idle(sink, 30));
    /* The bucket is empty: the third waits, the fourth finds the queue
     * full and is dropped, never blocking the caller. */
    assert_true(fp_event_sink_post(sink, "ml", "p", "u3", "R", "Scheduling", "3"));
    assert_true(fp_event_sink_wait_idle(sink, 30));
    gint64 before = g_get_monotonic_time();
    assert_false(fp_event_sink_post(sink, "ml", "p", "u4", "R", "Scheduling", "4"));
    assert_true(g_get_monotonic_time() - before < G_TIME_SPAN_SECOND);
    FpEventSinkStats st;
    fp_event_sink_stats(sink, &st);
    assert_int_equal(st.posted, 2);
    assert_int_equal(st.queued, 1);
    assert_int_equal(st.dropped, 1);
    json_t *list = events(e);
    assert_int_equal(json_array_size(list), 2);
    json_decref(list);
    fp_event_sink_free(sink); /* the waiting event is dropped, not sent */
}

static void test_core_v1_fallback(void **state)
{
    Env *e = *state;
    FP_FAKE_API_CTL(e->api, "{\"cmd\":\"set\",\"events_api\":\"core\"}");
    FpEventSink *sink = fp_event_sink_new(e->client, NULL);
    assert_true(fp_event_sink_post(sink, "ml", "old", "uid-o", "R", "Scheduling", "core one"));
    assert_true(fp_event_sink_post(sink, "ml", "old", "uid-o", "R", "Scheduling", "core two"));
    assert_true(fp_event_sink_wait_idle(sink, 30));
    FpEventSinkStats st;
    fp_event_sink_stats(sink, &st);
    assert_true(st.core_v1);
    assert_int_equal(st.posted, 2);
    json_t *list = events(e);
    assert_int_equal(json_array_size(list), 2);
    json_t *ev = json_object_get(json_array_get(list, 1), "object");
    assert_string_equal(str(json_array_get(list, 1), "api"), "v1");
    assert_string_equal(str(ev, "involvedObject.name"), "old");
    assert_string_equal(str(ev, "involvedObject.uid"), "uid-o");
    assert_string_equal(str(ev, "message"), "core two");
    assert_string_equal(str(ev, "source.component"), "flexplace");
    json_decref(list);
    fp_event_sink_free(sink);
}

static void test_long_note_and_name(void **state)
{
    Env *e = *state;
    FpEventSink *sink = fp_event_sink_new(e->client, NULL);
    /* 253-character pod name, a 3000-byte note of 3-byte characters. */
    g_autofree char *name = g_strnfill(253, 'x');
    GString *note = g_string_new(NULL);
    for (int i = 0; i < 1000; i++) {
        g_string_append(note, "\xe2\x82\xac"); /* EURO SIGN */
    }
    assert_true(fp_event_sink_post(sink, "ml", name, "uid-l", "R", "Scheduling", note->str));
    assert_true(fp_event_sink_wait_idle(sink, 30));
    FpEventSinkStats st;
    fp_event_sink_stats(sink, &st);
    assert_int_equal(st.posted, 1); /* the fake would answer 422 otherwise */
    json_t *list = events(e);
    json_t *ev = json_object_get(json_array_get(list, 0), "object");
    assert_true(strlen(str(ev, "metadata.name")) <= 253);
    const char *got = str(ev, "note");
    assert_true(strlen(got) <= FP_EVENT_NOTE_MAX);
    assert_true(g_utf8_validate(got, -1, NULL));
    assert_true(g_str_has_suffix(got, "..."));
    json_decref(list);
    g_string_free(note, TRUE);
    fp_event_sink_free(sink);
}

/* The real server against the fake: a filter that fits no node posts one
 * Event on the pod, saying why and where it would fit after a scale-up;
 * the same filter again does not. */
static void test_filter_posts_event(void **state)
{
    Env *e = *state;
    g_autofree char *policy = g_build_filename(e->dir, "policy.yaml", NULL);
    assert_true(g_file_set_contents(policy,
                                    "poolTemplates:\n"
                                    "  b200-use1:\n"
                                    "    gpuProduct: NVIDIA-B200\n"
                                    "    gpusPerNode: 8\n"
                                    "    region: us-east-1\n",
                                    -1, NULL));
    FpAppConfig cfg;
    fp_app_config_init(&cfg);
    g_free(cfg.listen);
    cfg.listen = g_strdup("127.0.0.1:0");
    cfg.kubeconfig = g_strdup(e->kubeconfig);
    cfg.policy_path = g_strdup(policy);
    g_autoptr(GError) error = NULL;
    FpApp *app = fp_app_new(&cfg, &error);
    assert_non_null(app);
    assert_true(fp_app_serve(app, &error));
    FP_WAIT_FOR(fp_app_ready(app, NULL), 30000, "app ready");
    guint16 port = fp_http_server_port(app->http);
    const char *body =
        "{\"Pod\":{\"metadata\":{\"name\":\"huge-0\",\"namespace\":\"ml\",\"uid\":\"uid-huge\","
        "\"annotations\":{\"flexplace.io/min-gpu-memory\":\"120Gi\"}},\"spec\":{\"containers\":[{"
        "\"name\":\"c\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"8\"}}}]}},"
        "\"Nodes\":null,\"NodeNames\":[\"nowhere\"]}";
    for (int i = 0; i < 2; i++) {
        FpTestHttpReply reply = {0};
        assert_true(fp_test_http_post(port, "/filter", body, strlen(body), &reply));
        assert_int_equal(reply.status, 200);
        fp_test_http_reply_clear(&reply);
    }
    assert_true(fp_event_sink_wait_idle(app->events, 30));
    FpEventSinkStats st;
    fp_event_sink_stats(app->events, &st);
    assert_int_equal(st.posted, 1);
    assert_int_equal(st.deduplicated, 1);
    json_t *list = events(e);
    assert_int_equal(json_array_size(list), 1);
    json_t *ev = json_object_get(json_array_get(list, 0), "object");
    assert_string_equal(str(ev, "regarding.name"), "huge-0");
    assert_string_equal(str(ev, "regarding.uid"), "uid-huge");
    assert_string_equal(str(ev, "reason"), FP_EVENT_REASON_UNSCHEDULABLE);
    const char *note = str(ev, "note");
    assert_non_null(strstr(note, "8 x nvidia.com/gpu"));
    assert_non_null(strstr(note, "no node fits"));
    assert_non_null(strstr(note, "would fit after scale-up: pool b200-use1 (NVIDIA-B200"));
    json_decref(list);
    fp_app_free(app);
    fp_app_config_clear(&cfg);
    g_remove(policy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_event_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deduplicated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit_and_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_core_v1_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_note_and_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filter_posts_event, setup, teardown),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
