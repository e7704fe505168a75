/*
 * extender/server/verbs.c - the HTTP routes: kube-scheduler's verbs, the probes,
 * /metrics and /debug/decisions.
 *
 * Every verb follows the same shape: decode the body outside any lock, take a
 * policy reference for the whole request (a reload mid-request does not
 * change its answer), evaluate through cache/placement.c (the view's read
 * lock is held only there), encode, then count it, record the decision and
 * log one line.
 */
#include <jansson.h>
#include <string.h>

#include "extender/server/app.h"
#include "extender/server/bind.h"
#include "extender/obs/log.h"
#include "cache/placement.h"
#include "extender/server/preempt.h"
#include "extender/wire/protocol.h"

static void respond_json(FpHttpResponse *resp, char *body, size_t len)
{
    resp->status = 200;
    resp->body = body;
    resp->body_len = len;
}

static void respond_json_value(FpHttpResponse *resp, unsigned int status, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    resp->status = status;
    resp->body = g_strdup(text ? text : "{}");
    resp->body_len = strlen(resp->body);
    free(text);
}

/* Evaluate the request's pod on its candidates. NULL with *not_ready set when
 * the view or policy cannot answer yet.  With @memo_scores (prioritize), a
 * request the pod's filter already scored (extender/server/score_memo.h) is not
 * evaluated: NULL with *memo_scores and *policy_out set. */
static FpPlacement *evaluate(FpApp *app, const FpExtenderArgs *args, FpPolicy **policy_out,
                             const char **not_ready, guint8 **memo_scores)
{
    if (!fp_app_ready(app, not_ready)) {
        return NULL;
    }
    FpPolicy *policy = fp_policy_store_get(app->policies);
    if (memo_scores && (*memo_scores = fp_score_memo_get(app->score_memo, args, policy))) {
        *policy_out = policy;
        return NULL;
    }
    FpCandidates cands = {.n = fp_extender_args_count(args),
                          .name_hashes = args->name_hashes,
                          .best_node_only = true};
    if (args->nodes) {
        cands.nodes = (FpNode *const *)args->nodes->pdata;
    } else {
        cands.names = (const char *const *)args->node_names;
    }
    FpPlacement *p = fp_placement_evaluate(app->view, policy, args->pod, &cands);
    *policy_out = policy;
    return p;
}

/* Count, record and log one evaluated verb call. */
static void account(FpApp *app, const char *verb, const FpExtenderArgs *args, const FpPlacement *p,
                    const FpPolicy *policy, gint64 start_us, const char *error)
{
    gint64 duration = g_get_monotonic_time() - start_us;
    fp_decision_record(app->decisions, verb, args->pod, p, p ? p->names : NULL,
                       policy ? policy->generation : 0, duration, error);
    if (!p) {
        g_autofree char *pod = g_strdup_printf("%s/%s", args->pod->ns, args->pod->name);
        fp_log_fields(G_LOG_LEVEL_INFO, verb, "pod", pod, "error", error, NULL);
        return;
    }
    /* Rejections counted per distinct reason first (reasons are a handful of
     * static strings), then one metric update per reason, not per node. */
    guint passed = 0;
    const char *reasons[16];
    guint counts[16];
    guint n_reasons = 0;
    bool count_rejections = g_str_equal(verb, "filter");
    for (guint i = 0; i < p->n; i++) {
        const FpVerdict *v = &p->verdicts[i];
        passed += v->pass;
        if (v->pass || !count_rejections) {
            continue;
        }
        guint k = 0;
        while (k < n_reasons && reasons[k] != v->reason && strcmp(reasons[k], v->reason) != 0) {
            k++;
        }
        if (k == n_reasons) {
            if (n_reasons == G_N_ELEMENTS(reasons)) {
                fp_counter_add(app->m_rejections, FP_LABELS(v->reason), 1);
                continue;
            }
            reasons[n_reasons] = v->reason;
            counts[n_reasons++] = 0;
        }
        counts[k]++;
    }
    for (guint k = 0; k < n_reasons; k++) {
        fp_counter_add(app->m_rejections, FP_LABELS(reasons[k]), counts[k]);
    }
    if (fp_log_verbosity() < 2) {
        return;
    }
    int best = p->best;
    g_autofree char *pod = g_strdup_printf("%s/%s", args->pod->ns, args->pod->name);
    g_autofree char *n_nodes = g_strdup_printf("%u", p->n);
    g_autofree char *n_passed = g_strdup_printf("%u", passed);
    g_autofree char *gen = g_strdup_printf("%" G_GUINT64_FORMAT, policy->generation);
    g_autofree char *dur = g_strdup_printf("%" G_GINT64_FORMAT, duration);
    g_autofree char *score = NULL;
    g_autoptr(GString) terms = g_string_new(NULL);
    if (best >= 0) {
        const FpVerdict *v = &p->verdicts[best];
        score = g_strdup_printf("%d", v->score);
        for (int t = 0; t < FP_N_TERMS; t++) {
            if (v->term_active[t]) {
                g_string_append_printf(terms, "%s%s:%.2f", terms->len ? "," : "", fp_term_name(t),
                                       v->term[t]);
            }
        }
    }
    fp_log_fields(G_LOG_LEVEL_INFO, verb, "pod", pod, "profile", p->demand->profile_name, "nodes",
                  n_nodes, "passed", n_passed, "top", best >= 0 ? p->names[best] : "-", "pool",
                  best >= 0 ? p->verdicts[best].facts.pool : "-", "region",
                  best >= 0 ? p->verdicts[best].facts.region : "-", "score", score ? score : "-",
                  "terms", terms->str, "policy_generation", gen, "duration_us", dur, NULL);
}

/* The part filter and prioritize share: decode ExtenderArgs (a 400 on
 * failure, already answered and counted: returns FALSE), then evaluate
 * unless the view or policy cannot answer yet (*p NULL, *not_ready set). */
static gboolean extender_call(FpApp *app, const char *verb, const FpHttpRequest *req,
                              FpHttpResponse *resp, gint64 start, FpExtenderArgs **args,
                              FpPlacement **p, FpPolicy **policy, const char **not_ready,
                              guint8 **memo_scores)
{
    g_autoptr(GError) error = NULL;
    *args = fp_extender_args_parse(req->body, req->body_len, &error);
    if (!*args) {
        fp_app_count_request_error(app, verb, error);
        fp_http_response_error(resp, 400, error->message);
        fp_app_observe(app, verb, resp->status, start);
        return FALSE;
    }
    *p = evaluate(app, *args, policy, not_ready, memo_scores);
    return TRUE;
}

static void handle_filter(const FpHttpRequest *req, FpHttpResponse *resp, void *user_data)
{
    FpApp *app = user_data;
    gint64 start = g_get_monotonic_time();
    g_autoptr(FpExtenderArgs) args = NULL;
    g_autoptr(FpPlacement) p = NULL;
    const char *not_ready = NULL;
    FpPolicy *policy = NULL;
    if (!extender_call(app, "filter", req, resp, start, &args, &p, &policy, &not_ready, NULL)) {
        return;
    }
    size_t len = 0;
    char *body;
    if (!p) {
        /* A request-level failure: kube-scheduler shows the Error text
         * verbatim in the pod's events and retries with backoff. */
        g_autofree char *detail = fp_app_not_ready_detail(app);
        g_autofree char *text =
            g_strdup_printf("flexplace not ready: %s", detail ? detail : not_ready);
        body = fp_encode_filter_result(args, NULL, text, &len);
        account(app, "filter", args, NULL, NULL, start, text);
        fp_log_warn_limited("filter-not-ready", 10, "answering filter with an error: %s", text);
    } else {
        body = fp_encode_filter_result(args, p->verdicts, NULL, &len);
        fp_score_memo_put(app->score_memo, args, policy, p->verdicts);
        account(app, "filter", args, p, policy, start, NULL);
        fp_policy_unref(policy);
    }
    respond_json(resp, body, len);
    fp_app_observe(app, "filter", resp->status, start);
}

static void handle_prioritize(const FpHttpRequest *req, FpHttpResponse *resp, void *user_data)
{
    FpApp *app = user_data;
    gint64 start = g_get_monotonic_time();
    g_autoptr(FpExtenderArgs) args = NULL;
    g_autoptr(FpPlacement) p = NULL;
    const char *not_ready = NULL;
    FpPolicy *policy = NULL;
    g_autofree guint8 *memo_scores = NULL;
    if (!extender_call(app, "prioritize", req, resp, start, &args, &p, &policy, &not_ready,
                       &memo_scores)) {
        return;
    }
    if (memo_scores) {
        /* The pod's filter scored exactly these nodes in this cycle. */
        size_t len = 0;
        char *body = fp_encode_priority_scores(args, memo_scores, &len);
        fp_counter_add(app->m_prioritize, FP_LABELS("filter"), 1);
        fp_policy_unref(policy);
        respond_json(resp, body, len);
    } else if (!p) {
        /* Prioritize errors are ignored by kube-scheduler: no opinion. */
        g_autofree char *detail = fp_app_not_ready_detail(app);
        g_autofree char *text =
            g_strdup_printf("flexplace not ready: %s", detail ? detail : not_ready);
        fp_http_response_error(resp, 503, text);
    } else {
        size_t len = 0;
        char *body = fp_encode_priorities(args, p->verdicts, &len);
        fp_counter_add(app->m_prioritize, FP_LABELS("evaluated"), 1);
        account(app, "prioritize", args, p, policy, start, NULL);
        fp_policy_unref(policy);
        respond_json(resp, body, len);
    }
    fp_app_observe(app, "prioritize", resp->status, start);
}

static void handle_bind(const FpHttpRequest *req, FpHttpResponse *resp, void *user_data)
{
    FpApp *app = user_data;
    gint64 start = g_get_monotonic_time();
    g_autoptr(GError) error = NULL;
    g_autoptr(FpBindingArgs) args = fp_binding_args_parse(req->body, req->body_len, &error);
    if (!args) {
        fp_app_count_request_error(app, "bind", error);
        fp_http_response_error(resp, 400, error->message);
        fp_app_observe(app, "bind", resp->status, start);
        return;
    }
    g_autofree char *error_text = NULL;
    FpBindOutcome outcome = fp_bind(app, args, &error_text);
    const char *result = outcome == FP_BIND_OK        ? "ok"
                         : outcome == FP_BIND_REFUSED ? "refused"
                                                      : "failed";
    fp_counter_add(app->m_bindings, FP_LABELS(result), 1);
    fp_decision_record_bind(app->decisions, args->pod_namespace, args->pod_name, args->pod_uid,
                            args->node, error_text);
    if (outcome != FP_BIND_OK) {
        fp_log_warn_limited("bind", 1, "bind %s/%s to %s: %s", args->pod_namespace, args->pod_name,
                            args->node, error_text);
    }
    size_t len = 0;
    char *body = fp_encode_binding_result(error_text, &len);
    respond_json(resp, body, len);
    fp_app_observe(app, "bind", resp->status, start);
}

static void handle_preempt(const FpHttpRequest *req, FpHttpResponse *resp, void *user_data)
{
    FpApp *app = user_data;
    gint64 start = g_get_monotonic_time();
    g_autoptr(GError) error = NULL;
    g_autoptr(FpPreemptionArgs) args = fp_preemption_args_parse(req->body, req->body_len, &error);
    if (!args) {
        fp_app_count_request_error(app, "preempt", error);
        fp_http_response_error(resp, 400, error->message);
        fp_app_observe(app, "preempt", resp->status, start);
        return;
    }
    const char *not_ready = NULL;
    if (!fp_app_ready(app, &not_ready)) {
        g_autofree char *detail = fp_app_not_ready_detail(app);
        g_autofree char *text =
            g_strdup_printf("flexplace not ready: %s", detail ? detail : not_ready);
        fp_http_response_error(resp, 503, text);
        fp_app_observe(app, "preempt", resp->status, start);
        return;
    }
    g_autoptr(FpPolicy) policy = fp_policy_store_get(app->policies);
    size_t len = 0;
    char *body = fp_preempt(app->view, policy, args, &len);
    respond_json(resp, body, len);
    fp_app_observe(app, "preempt", resp->status, start);
}

static void handle_healthz(const FpHttpRequest *req, FpHttpResponse *resp, void *user_data)
{
    resp->status = 200;
    resp->content_type = "text/plain; charset=utf-8";
    resp->body_static = "ok\n";
}

static void handle_readyz(const FpHttpRequest *req, FpHttpResponse *resp, void *user_data)
{
    FpApp *app = user_data;
    const char *why = NULL;
    bool ready = fp_app_ready(app, &why);
    json_t *out = json_object();
    json_object_set_new(out, "ready", json_boolean(ready));
    if (!ready) {
        g_autofree char *detail = fp_app_not_ready_detail(app);
        json_object_set_new(out, "reason", json_string(detail ? detail : why));
    }
    json_t *cache = json_object();
    json_object_set_new(cache, "source", json_string(fp_view_source_name(app->source)));
    json_object_set_new(cache, "nodesSynced",
                        json_boolean(fp_view_synced(app->view, FP_KIND_NODES)));
    json_object_set_new(cache, "podsSynced", json_boolean(fp_view_synced(app->view, FP_KIND_PODS)));
    json_object_set_new(cache, "nodes", json_integer(fp_view_node_count(app->view)));
    json_object_set_new(cache, "pods", json_integer(fp_view_pod_count(app->view)));
    json_object_set_new(cache, "assumedGPUs", json_integer(fp_view_assumed_total(app->view)));
    double age = fp_view_last_event_age(app->view);
    json_object_set_new(cache, "lastEventAgeSeconds", age < 0 ? json_null() : json_real(age));
    bool stale = fp_app_view_stale(app);
    json_object_set_new(cache, "stale", json_boolean(stale));
    if (app->informer) {
        for (int k = 0; k < 2; k++) {
            FpInformerStats is;
            fp_informer_get_stats(app->informer, k ? FP_KIND_PODS : FP_KIND_NODES, &is);
            json_object_set_new(cache, k ? "podsLastError" : "nodesLastError",
                                is.last_error ? json_string(is.last_error) : json_null());
            fp_informer_stats_clear(&is);
        }
    }
    json_object_set_new(out, "cache", cache);
    FpPolicyStoreStatus st;
    fp_policy_store_status(app->policies, &st);
    json_t *pol = json_object();
    json_object_set_new(pol, "generation", json_integer((json_int_t)st.generation));
    json_object_set_new(pol, "source", json_string(st.source ? st.source : ""));
    json_object_set_new(pol, "lastReloadOK", json_boolean(st.last_ok));
    json_object_set_new(pol, "lastReloadError",
                        st.last_error ? json_string(st.last_error) : json_null());
    json_object_set_new(pol, "reloadErrors", json_integer((json_int_t)st.reload_errors));
    json_object_set_new(out, "policy", pol);
    fp_policy_store_status_clear(&st);
    respond_json_value(resp, ready ? 200 : 503, out);
}

static void handle_version(const FpHttpRequest *req, FpHttpResponse *resp, void *user_data)
{
    respond_json_value(resp, 200, json_pack("{s:s}", "version", FP_VERSION));
}

static void handle_metrics(const FpHttpRequest *req, FpHttpResponse *resp, void *user_data)
{
    FpApp *app = user_data;
    fp_metrics_respond(app->metrics, resp);
}

static void handle_decisions(const FpHttpRequest *req, FpHttpResponse *resp, void *user_data)
{
    FpApp *app = user_data;
    const char *pod = fp_http_request_arg(req, "pod");
    const char *slash = pod ? strchr(pod, '/') : NULL;
    if (!slash || slash == pod || !slash[1]) {
        fp_http_response_error(resp, 400, "give ?pod=NAMESPACE/NAME");
        return;
    }
    g_autofree char *ns = g_strndup(pod, (gsize)(slash - pod));
    json_t *list = fp_decision_ring_query(app->decisions, ns, slash + 1);
    respond_json_value(resp, 200, json_pack("{s:s, s:o}", "pod", pod, "decisions", list));
}

FpRoute *fp_app_routes(FpApp *app, guint *n)
{
    if (app->n_routes == 0) {
        const struct {
            const char *verb;
            FpHttpHandler handler;
        } verbs[] = {
            {app->cfg.filter_verb, handle_filter},
            {app->cfg.prioritize_verb, handle_prioritize},
            {app->cfg.bind_verb, handle_bind},
            {app->cfg.preempt_verb, handle_preempt},
        };
        guint k = 0;
        for (guint i = 0; i < G_N_ELEMENTS(verbs); i++) {
            if (!verbs[i].verb || !*verbs[i].verb) {
                continue; /* verb switched off */
            }
            app->route_paths[i] = g_strdup_printf("/%s", verbs[i].verb);
            app->routes[k++] = (FpRoute){"POST", app->route_paths[i], verbs[i].handler};
        }
        app->routes[k++] = (FpRoute){"GET", "/healthz", handle_healthz};
        app->routes[k++] = (FpRoute){"GET", "/readyz", handle_readyz};
        app->routes[k++] = (FpRoute){"GET", "/version", handle_version};
        app->routes[k++] = (FpRoute){"GET", "/metrics", handle_metrics};
        app->routes[k++] = (FpRoute){"GET", "/debug/decisions", handle_decisions};
        app->n_routes = k;
    }
    *n = app->n_routes;
    return app->routes;
}
