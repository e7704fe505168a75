/*
 * extender/server/probes.c - the read-only routes: probes, version, metrics
 * and the decision ring.
 */
#include "extender/server/probes.h"

#include <jansson.h>
#include <string.h>

#include "extender/obs/metrics.h"
#include "extender/server/decisions.h"

static void respond_json_value(FpHttpResponse *resp, unsigned int status, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    resp->status = status;
    resp->body = g_strdup(text ? text : "{}");
    resp->body_len = strlen(resp->body);
    free(text);
}

void fp_probe_healthz(const FpHttpRequest *req, FpHttpResponse *resp, void *data)
{
    resp->status = 200;
    resp->content_type = "text/plain; charset=utf-8";
    resp->body_static = "ok\n";
}

/* /readyz's "cache": the view's sync state, size, age, and with a watch the
 * informers' last errors. */
static json_t *cache_status(FpReadiness *r)
{
    json_t *cache = json_object();
    json_object_set_new(cache, "source", json_string(fp_view_source_name(r->source)));
    json_object_set_new(cache, "nodesSynced", json_boolean(fp_view_synced(r->view, FP_KIND_NODES)));
    json_object_set_new(cache, "podsSynced", json_boolean(fp_view_synced(r->view, FP_KIND_PODS)));
    json_object_set_new(cache, "nodes", json_integer(fp_view_node_count(r->view)));
    json_object_set_new(cache, "pods", json_integer(fp_view_pod_count(r->view)));
    json_object_set_new(cache, "assumedGPUs", json_integer(fp_view_assumed_total(r->view)));
    double age = fp_view_last_event_age(r->view);
    json_object_set_new(cache, "lastEventAgeSeconds", age < 0 ? json_null() : json_real(age));
    json_object_set_new(cache, "stale", json_boolean(fp_readiness_stale(r)));
    if (r->informer) {
        for (int k = 0; k < 2; k++) {
            FpInformerStats is;
            fp_informer_get_stats(r->informer, k ? FP_KIND_PODS : FP_KIND_NODES, &is);
            json_object_set_new(cache, k ? "podsLastError" : "nodesLastError",
                                is.last_error ? json_string(is.last_error) : json_null());
            fp_informer_stats_clear(&is);
        }
    }
    return cache;
}

/* /readyz's "policy.unmatched": counts and names of what the policy names
 * and no node carries (null until the nodes are listed). */
static json_t *unmatched_status(FpPolicyMatch *match)
{
    FpPolicyMatchStatus ms;
    if (!match) {
        return json_null();
    }
    fp_policy_match_status(match, &ms);
    json_t *u = ms.known ? json_pack("{s:i, s:i, s:i, s:s?}", "pools", (int)ms.pools, "regions",
                                     (int)ms.regions, "skus", (int)ms.skus, "names", ms.text)
                         : json_null();
    fp_policy_match_status_clear(&ms);
    return u;
}

/* /readyz's "policy": the generation in force and the last reload. */
static json_t *policy_status(FpPolicyStore *policies, FpPolicyMatch *match)
{
    FpPolicyStoreStatus st;
    fp_policy_store_status(policies, &st);
    json_t *pol = json_object();
    json_object_set_new(pol, "generation", json_integer((json_int_t)st.generation));
    json_object_set_new(pol, "source", json_string(st.source ? st.source : ""));
    json_object_set_new(pol, "lastReloadOK", json_boolean(st.last_ok));
    json_object_set_new(pol, "lastReloadError",
                        st.last_error ? json_string(st.last_error) : json_null());
    json_object_set_new(pol, "reloadErrors", json_integer((json_int_t)st.reload_errors));
    fp_policy_store_status_clear(&st);
    json_object_set_new(pol, "unmatched", unmatched_status(match));
    return pol;
}

void fp_probe_readyz(const FpHttpRequest *req, FpHttpResponse *resp, void *data)
{
    FpReadyzEnv *env = data;
    const char *why = NULL;
    bool ready = fp_readiness_check(env->readiness, &why);
    json_t *out = json_object();
    json_object_set_new(out, "ready", json_boolean(ready));
    if (!ready) {
        g_autofree char *detail = fp_readiness_detail(env->readiness);
        json_object_set_new(out, "reason", json_string(detail ? detail : why));
    }
    json_object_set_new(out, "cache", cache_status(env->readiness));
    json_object_set_new(out, "policy", policy_status(env->policies, env->match));
    respond_json_value(resp, ready ? 200 : 503, out);
}

void fp_probe_version(const FpHttpRequest *req, FpHttpResponse *resp, void *data)
{
    respond_json_value(resp, 200, json_pack("{s:s}", "version", FP_VERSION));
}

void fp_probe_metrics(const FpHttpRequest *req, FpHttpResponse *resp, void *data)
{
    size_t len = 0;
    resp->status = 200;
    resp->content_type = FP_METRICS_CONTENT_TYPE;
    resp->body = fp_metrics_render(data, &len);
    resp->body_len = len;
}

void fp_probe_decisions(const FpHttpRequest *req, FpHttpResponse *resp, void *data)
{
    const char *pod = fp_http_request_arg(req, "pod");
    const char *slash = pod ? strchr(pod, '/') : NULL;
    if (!slash || slash == pod || !slash[1]) {
        fp_http_response_error(resp, 400, "give ?pod=NAMESPACE/NAME");
        return;
    }
    g_autofree char *ns = g_strndup(pod, (gsize)(slash - pod));
    json_t *list = fp_decision_ring_query(data, ns, slash + 1);
    respond_json_value(resp, 200, json_pack("{s:s, s:o}", "pod", pod, "decisions", list));
}
