/*
 * extender/bind.c - the bind verb: burst-safe binding with assumed GPUs.
 *
 * kube-scheduler places a burst one pod after another, faster than the watch
 * reports the bindings.  When it delegates binding to flexplace (bindVerb),
 * flexplace learns each chosen node at once and records the pod's GPUs as
 * "assumed" on it before the Binding is even created, so the very next
 * filter and prioritize see them.  The record is dropped when the watch shows
 * the pod bound (its own requests count from then on) or deleted, when the
 * Binding fails (rolled back), or after --assume-ttl.
 *
 * Order of one bind: decode -> re-check the node with the full filter set
 * (counting assumed GPUs) -> record the assumption atomically (check and
 * record under the view's write lock, so two concurrent binds cannot both
 * take the last GPU) -> POST pods/binding with the pod UID as precondition
 * -> on failure roll back.  A 409 "already assigned" to the same node (a
 * retried bind) counts as success; a timeout is resolved by reading the pod.
 */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "cache/kobj.h"
#include "extender/app.h"
#include "extender/bind.h"
#include "extender/placement.h"
#include "extender/protocol.h"

/* Compact flexplace.io/placement value: where and why, for `kubectl get pod`. */
char *fp_placement_summary(const FpVerdict *v, const char *node, guint64 policy_generation)
{
    json_t *o = json_object();
    json_object_set_new(o, "node", json_string(node));
    json_object_set_new(o, "pool", json_string(v->facts.pool ? v->facts.pool : ""));
    json_object_set_new(o, "region", json_string(v->facts.region ? v->facts.region : ""));
    json_object_set_new(o, "sku", json_string(v->facts.product ? v->facts.product : ""));
    json_object_set_new(o, "score", json_integer(v->score));
    json_t *terms = json_object();
    for (int t = 0; t < FP_N_TERMS; t++) {
        if (v->term_active[t]) {
            /* Two decimals keep the annotation short and stable. */
            json_object_set_new(terms, fp_term_name(t), json_real(round(v->term[t] * 100) / 100));
        }
    }
    json_object_set_new(o, "terms", terms);
    json_object_set_new(o, "policyGeneration", json_integer((json_int_t)policy_generation));
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(4));
    json_decref(o);
    char *out = g_strdup(text ? text : "{}");
    free(text);
    return out;
}

static bool valid_name(const char *s)
{
    /* DNS-1123 names; anything else cannot be a pod and must not reach a URL. */
    if (!s || !*s || strlen(s) > 253) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (!g_ascii_islower(*p) && !g_ascii_isdigit(*p) && *p != '-' && *p != '.') {
            return false;
        }
    }
    return true;
}

/* GET the pod within the bind's own deadline (the whole bind must finish
 * inside kube-scheduler's httpTimeout). */
static json_t *get_pod(FpApp *app, const FpBindingArgs *args, GError **error)
{
    g_autofree char *path =
        g_strdup_printf("/api/v1/namespaces/%s/pods/%s", args->pod_namespace, args->pod_name);
    FpKubeCallOptions opts = {.timeout_ms = (guint)(app->cfg.bind_timeout_s * 1000)};
    FpKubeResponse resp = {0};
    if (!fp_kube_call(app->client, "GET", path, NULL, &opts, &resp, error)) {
        fp_kube_response_clear(&resp);
        return NULL;
    }
    json_t *obj = g_steal_pointer(&resp.json);
    fp_kube_response_clear(&resp);
    if (!obj) {
        g_set_error(error, FP_KUBE_ERROR, FP_KUBE_ERROR_HTTP, "empty reply reading pod %s/%s",
                    args->pod_namespace, args->pod_name);
    }
    return obj;
}

/* The pod being bound: from the view, else read from the API server. */
static FpPod *find_pod(FpApp *app, const FpBindingArgs *args, GError **error)
{
    FpPod *pod = NULL;
    if (args->pod_uid && *args->pod_uid) {
        fp_view_read_lock(app->view);
        const FpPod *p = fp_view_pod_locked(app->view, args->pod_uid);
        if (p) {
            pod = fp_pod_ref((FpPod *)p);
        }
        fp_view_read_unlock(app->view);
        if (pod) {
            return pod;
        }
    }
    json_t *obj = get_pod(app, args, error);
    if (!obj) {
        return NULL;
    }
    pod = fp_pod_from_json(obj, FP_POD_FULL, error);
    json_decref(obj);
    return pod;
}

/* After a timeout or a 409: is the pod bound to @node now? */
static bool pod_bound_to(FpApp *app, const FpBindingArgs *args, const char *node)
{
    g_autoptr(GError) error = NULL;
    json_t *obj = get_pod(app, args, &error);
    if (!obj) {
        return false;
    }
    const char *bound =
        json_string_value(json_object_get(json_object_get(obj, "spec"), "nodeName"));
    const char *uid = json_string_value(json_object_get(json_object_get(obj, "metadata"), "uid"));
    bool yes = bound && g_str_equal(bound, node) &&
               (!args->pod_uid || !*args->pod_uid || (uid && g_str_equal(uid, args->pod_uid)));
    json_decref(obj);
    return yes;
}

static json_t *binding_body(const FpBindingArgs *args, const char *annotation)
{
    json_t *meta =
        json_pack("{s:s, s:s}", "name", args->pod_name, "namespace", args->pod_namespace);
    if (args->pod_uid && *args->pod_uid) {
        json_object_set_new(meta, "uid", json_string(args->pod_uid));
    }
    if (annotation) {
        json_object_set_new(meta, "annotations", json_pack("{s:s}", FP_ANN_PLACEMENT, annotation));
    }
    return json_pack("{s:s, s:s, s:o, s:{s:s, s:s, s:s}}", "apiVersion", "v1", "kind", "Binding",
                     "metadata", meta, "target", "apiVersion", "v1", "kind", "Node", "name",
                     args->node);
}

FpBindOutcome fp_bind(FpApp *app, const FpBindingArgs *args, char **error_text)
{
    *error_text = NULL;
    const char *not_ready = NULL;
    if (!fp_app_ready(app, &not_ready)) {
        *error_text = g_strdup_printf("flexplace not ready: %s", not_ready);
        return FP_BIND_REFUSED;
    }
    if (!app->client) {
        *error_text = g_strdup("flexplace cannot bind: it serves a snapshot, not a live cluster "
                               "(remove bindVerb or run with a kubeconfig or in-cluster)");
        return FP_BIND_REFUSED;
    }
    if (!valid_name(args->pod_name) || !valid_name(args->pod_namespace)) {
        *error_text = g_strdup("flexplace cannot bind: invalid pod name or namespace");
        return FP_BIND_REFUSED;
    }
    g_autoptr(GError) error = NULL;
    g_autoptr(FpPod) pod = find_pod(app, args, &error);
    if (!pod) {
        *error_text = g_strdup_printf("flexplace cannot read pod %s/%s: %s", args->pod_namespace,
                                      args->pod_name, error->message);
        return FP_BIND_FAILED;
    }
    g_autoptr(FpPolicy) policy = fp_policy_store_get(app->policies);
    /* Re-check the chosen node with every filter: the view may have moved
     * since filter ran (other binds, watch events). */
    const char *names[] = {args->node};
    FpCandidates c = {.names = names, .n = 1};
    g_autoptr(FpPlacement) p = fp_placement_evaluate(app->view, policy, pod, &c);
    const FpVerdict *v = &p->verdicts[0];
    if (!v->pass) {
        *error_text = g_strdup_printf("flexplace refused to bind %s/%s to %s: %s",
                                      args->pod_namespace, args->pod_name, args->node, v->reason);
        return FP_BIND_REFUSED;
    }
    const char *resource = p->demand->resource;
    bool assumed = false;
    if (resource && args->pod_uid && *args->pod_uid) {
        const char *why = NULL;
        if (!fp_view_assume(app->view, args->pod_uid, args->pod_namespace, args->pod_name,
                            args->node, resource, p->demand->count, app->cfg.assume_ttl_s, &why)) {
            *error_text = g_strdup_printf("flexplace refused to bind %s/%s to %s: %s",
                                          args->pod_namespace, args->pod_name, args->node, why);
            return FP_BIND_REFUSED;
        }
        assumed = true;
    }
    g_autofree char *summary =
        app->cfg.annotate ? fp_placement_summary(v, args->node, policy->generation) : NULL;
    json_t *body = binding_body(args, summary);
    g_autofree char *path = g_strdup_printf("/api/v1/namespaces/%s/pods/%s/binding",
                                            args->pod_namespace, args->pod_name);
    long status = 0;
    json_t *reply = NULL;
    g_autoptr(GError) post_error = NULL;
    gboolean posted =
        fp_kube_post_json(app->client, path, body, (guint)(app->cfg.bind_timeout_s * 1000), &status,
                          &reply, &post_error);
    json_decref(body);
    FpBindOutcome outcome;
    if (posted && status >= 200 && status < 300) {
        outcome = FP_BIND_OK;
    } else if ((status == 409 || status == 0) && pod_bound_to(app, args, args->node)) {
        /* A retry of a bind that already happened, or a timeout after the
         * API server did bind it: the pod is where it should be. */
        outcome = FP_BIND_OK;
    } else {
        const char *msg = json_string_value(json_object_get(reply, "message"));
        *error_text = g_strdup_printf("binding %s/%s to %s failed: %s", args->pod_namespace,
                                      args->pod_name, args->node,
                                      msg          ? msg
                                      : post_error ? post_error->message
                                                   : "unexpected API server reply");
        outcome = FP_BIND_FAILED;
        if (assumed) {
            fp_view_forget_assumed(app->view, args->pod_uid);
        }
    }
    json_decref(reply);
    g_info("bind pod=%s/%s node=%s gpus=%" G_GINT64_FORMAT " result=%s", args->pod_namespace,
           args->pod_name, args->node, resource ? p->demand->count : 0,
           outcome == FP_BIND_OK ? "ok" : "error");
    return outcome;
}
