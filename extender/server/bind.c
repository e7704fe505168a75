/*
 * extender/server/bind.c - the bind verb: burst-safe binding with assumed GPUs.
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
 *
 * Retries: a pod the view already shows bound to the node is answered at
 * once (no API call); a pod flexplace has already assumed on that node skips
 * the re-check (its own GPUs would count against it) and goes straight to
 * the API server.
 *
 * Pool ceilings: the re-check sees one candidate, so the engine's burst
 * overflow rule ("every candidate is above its ceiling") would always lift
 * the ceiling.  A bind that would take a pool past its ceiling is therefore
 * checked against every node of the view: when some node could take the pod
 * within the ceilings, the bind is refused (kube-scheduler's filter ran
 * before earlier binds of the burst filled the pool; it retries the pod and
 * now sees the ceiling).  The ceiling check and the assumption are one step
 * under app->bind_lock, so concurrent binds cannot pass a ceiling together.  A
 * pod is refused this way at most once: when kube-scheduler, having filtered
 * again, still picks a pool at its ceiling, its own checks (which flexplace
 * only approximates) left nothing else, and the bind goes through.
 */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "cache/kobj.h"
#include "extender/server/app.h"
#include "extender/server/bind.h"
#include "cache/placement.h"
#include "extender/wire/protocol.h"

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

/* The pod being bound: from the view, else read from the API server.
 * *full says whether it carries everything placement reads: the view keeps
 * pending pods whole (FP_POD_AUTO) but bound ones compact. */
static FpPod *find_pod(FpApp *app, const FpBindingArgs *args, bool *full, GError **error)
{
    FpPod *pod = NULL;
    *full = false;
    if (args->pod_uid && *args->pod_uid) {
        fp_view_read_lock(app->view);
        const FpPod *p = fp_view_pod_locked(app->view, args->pod_uid);
        if (p) {
            pod = fp_pod_ref((FpPod *)p);
        }
        fp_view_read_unlock(app->view);
        if (pod) {
            *full = pod->detailed;
            return pod;
        }
    }
    json_t *obj = get_pod(app, args, error);
    if (!obj) {
        return NULL;
    }
    pod = fp_pod_from_json(obj, FP_POD_FULL, error);
    *full = pod != NULL;
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

/* Bound on app->ceiling_refused (UIDs refused once for a pool ceiling). */
#define CEILING_REFUSED_MAX 10000

/* Whether placing @count more GPUs on @v's node takes its pool past the
 * pool's ceiling (pools without a ceiling never are). */
static bool over_ceiling(FpApp *app, const FpPolicy *policy, const FpVerdict *v,
                         const char *resource, int64_t count)
{
    if (!v->facts.pool || !*v->facts.pool || !(v->facts.max_utilization < 1.0)) {
        return false;
    }
    fp_view_read_lock(app->view);
    GHashTable *stats = fp_view_pool_stats_locked(app->view, policy, resource);
    fp_view_read_unlock(app->view);
    const FpPoolStat *s = g_hash_table_lookup(stats, v->facts.pool);
    bool over = s && (double)(s->used + s->assumed + count) >
                         v->facts.max_utilization * (double)s->allocatable + 1e-9;
    g_hash_table_unref(stats);
    return over;
}

static void collect_name(const FpNodeState *st, void *data)
{
    g_ptr_array_add(data, g_strdup(st->name));
}

/* Whether the burst overflow rule applies to @pod across the whole view:
 * no node takes it within the ceilings, so @node may go above its pool's.
 * kube-scheduler's own checks (taints, selectors, affinity) only when the
 * pod is @full: the view's copy has no tolerations, and would fail every
 * tainted GPU node. */
static bool overflow_applies(FpApp *app, const FpPolicy *policy, const FpPod *pod, bool full,
                             const char *node)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    fp_view_read_lock(app->view);
    fp_view_foreach_node_locked(app->view, collect_name, names);
    fp_view_read_unlock(app->view);
    FpCandidates c = {
        .names = (const char *const *)names->pdata, .n = names->len, .kube_checks = full};
    FpPlacement *all = fp_placement_evaluate(app->view, policy, pod, &c);
    bool applies = false;
    for (guint i = 0; i < all->n; i++) {
        if (strcmp(names->pdata[i], node) == 0) {
            /* With a node that fits within the ceilings, this one fails
             * with the ceiling; without, the rule lifts it and it passes. */
            applies = all->verdicts[i].pass;
            break;
        }
    }
    fp_placement_free(all);
    g_ptr_array_unref(names);
    return applies;
}

/* Under app->bind_lock: may this bind take its pool past the ceiling? */
static bool ceiling_allows_locked(FpApp *app, const FpPolicy *policy, const FpPod *pod, bool full,
                                  const char *uid, const char *node)
{
    GHashTable *ceiling_refused = app->ceiling_refused;
    if (g_hash_table_remove(ceiling_refused, uid)) {
        return true; /* refused once already: kube-scheduler chose it again */
    }
    if (overflow_applies(app, policy, pod, full, node)) {
        return true;
    }
    if (g_hash_table_size(ceiling_refused) >= CEILING_REFUSED_MAX) {
        g_hash_table_remove_all(ceiling_refused);
    }
    g_hash_table_add(ceiling_refused, g_strdup(uid));
    return false;
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
        g_autofree char *detail = fp_app_not_ready_detail(app);
        *error_text = g_strdup_printf("flexplace not ready: %s", detail ? detail : not_ready);
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
    bool pod_full = false;
    g_autoptr(FpPod) pod = find_pod(app, args, &pod_full, &error);
    if (!pod) {
        *error_text = g_strdup_printf("flexplace cannot read pod %s/%s: %s", args->pod_namespace,
                                      args->pod_name, error->message);
        return FP_BIND_FAILED;
    }
    if (pod->node_name && *pod->node_name) {
        /* A retry after the watch showed the binding: nothing to do, or a
         * request to move a bound pod, which Kubernetes does not allow. */
        if (strcmp(pod->node_name, args->node) == 0) {
            g_info("bind pod=%s/%s node=%s result=ok (already bound)", args->pod_namespace,
                   args->pod_name, args->node);
            return FP_BIND_OK;
        }
        *error_text =
            g_strdup_printf("flexplace refused to bind %s/%s to %s: the pod is already "
                            "bound to %s",
                            args->pod_namespace, args->pod_name, args->node, pod->node_name);
        return FP_BIND_REFUSED;
    }
    bool has_uid = args->pod_uid && *args->pod_uid;
    g_autofree char *assumed_node = NULL;
    /* A retry of a bind flexplace already checked and assumed here. */
    bool retry = has_uid && fp_view_assumed_lookup(app->view, args->pod_uid, &assumed_node, NULL) &&
                 strcmp(assumed_node, args->node) == 0;
    g_autoptr(FpPolicy) policy = fp_policy_store_get(app->policies);
    /* Re-check the chosen node with every filter: the view may have moved
     * since filter ran (other binds, watch events). */
    const char *names[] = {args->node};
    FpCandidates c = {.names = names, .n = 1};
    g_autoptr(FpPlacement) p = fp_placement_evaluate(app->view, policy, pod, &c);
    const FpVerdict *v = &p->verdicts[0];
    if (!v->pass && !retry) {
        *error_text = g_strdup_printf("flexplace refused to bind %s/%s to %s: %s",
                                      args->pod_namespace, args->pod_name, args->node, v->reason);
        return FP_BIND_REFUSED;
    }
    const char *resource = p->demand->resource;
    bool assumed = false;
    if (resource && has_uid) {
        const char *why = NULL;
        g_mutex_lock(&app->bind_lock);
        if (!retry && over_ceiling(app, policy, v, resource, p->demand->count) &&
            !ceiling_allows_locked(app, policy, pod, pod_full, args->pod_uid, args->node)) {
            why = FP_REASON_POOL_CEILING;
        } else if (!fp_view_assume(app->view, args->pod_uid, args->pod_namespace, args->pod_name,
                                   args->node, resource, p->demand->count, app->cfg.assume_ttl_s,
                                   &why)) {
            why = why ? why : "cannot assume";
        } else {
            assumed = true;
        }
        g_mutex_unlock(&app->bind_lock);
        if (!assumed) {
            *error_text = g_strdup_printf("flexplace refused to bind %s/%s to %s: %s",
                                          args->pod_namespace, args->pod_name, args->node, why);
            return FP_BIND_REFUSED;
        }
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
    if (outcome == FP_BIND_OK && has_uid) {
        g_mutex_lock(&app->bind_lock);
        g_hash_table_remove(app->ceiling_refused, args->pod_uid);
        g_mutex_unlock(&app->bind_lock);
    }
    g_info("bind pod=%s/%s node=%s gpus=%" G_GINT64_FORMAT " result=%s", args->pod_namespace,
           args->pod_name, args->node, resource ? p->demand->count : 0,
           outcome == FP_BIND_OK ? "ok" : "error");
    return outcome;
}
