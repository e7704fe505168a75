/*
 * extender/server/bind.c - the bind verb: burst-safe binding with assumed GPUs.
 *
 * kube-scheduler places a burst one pod after another, faster than the watch
 * reports the bindings.  When it delegates binding to flexplace (bindVerb),
 * flexplace learns each chosen node at once and records the pod's GPUs as
 * "assumed" on it before the Binding is even created, so the very next
 * filter and prioritize see them.  The record is dropped when the watch shows
 * the pod bound (its own requests count from then on) or deleted, when the
 * Binding is refused (rolled back), or after --assume-ttl.
 *
 * Order of one bind: decode -> re-check the node with the full filter set
 * (counting assumed GPUs) -> record the assumption atomically (check and
 * record under the view's write lock, so two concurrent binds cannot both
 * take the last GPU) -> POST pods/binding with the pod UID as precondition
 * -> on refusal roll back.  A 409 "already assigned" to the same node (a
 * retried bind) counts as success; no answer is resolved by reading the pod.
 *
 * Time: one deadline per bind (fp_bind_deadline: --bind-timeout from the
 * request's arrival) bounds every API call it makes together, so a bind
 * answers before kube-scheduler's httpTimeout.  The POST may use all but a
 * quarter of what is left; the rest is for reading the pod.
 *
 * Unknown outcomes: a POST without an answer after it was sent (timeout,
 * connection lost) or with any 5xx may have committed or still commit
 * (bind.h lists how each answer is read).  If the pod does not show bound, its GPUs
 * stay assumed - held - until the watch shows it bound (anywhere) or gone,
 * or --assume-ttl passes, while kube-scheduler gets an error and retries:
 * freeing them would let the next pod be placed on GPUs the late Binding
 * then takes (cache/view.h, fp_view_hold_assumed).
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
 * under the bind lock (FpBindEnv), so concurrent binds cannot pass a ceiling together.  A
 * pod is refused this way at most once: when kube-scheduler, having filtered
 * again, still picks a pool at its ceiling, its own checks (which flexplace
 * only approximates) left nothing else, and the bind goes through.
 */
#include <jansson.h>
#include <stdarg.h>
#include <math.h>
#include <string.h>

#include "extender/server/bind.h"

#include "cache/clock.h"
#include "cache/kobj.h"
#include "cache/placement.h"
#include "scoring/names.h"

/* Compact flexplace.io/placement value: where and why, for `kubectl get pod`. */
char *fp_placement_summary(const FpVerdict *v, const char *node, guint64 policy_generation)
{
    json_t *o = json_object();
    json_object_set_new(o, "node", json_string(node));
    json_object_set_new(o, "pool", json_string(v->facts.pool ? v->facts.pool : ""));
    json_object_set_new(o, "region", json_string(v->facts.region ? v->facts.region : ""));
    json_object_set_new(o, "sku", json_string(v->facts.product ? v->facts.product : ""));
    char device[FP_DEVICE_DESCRIBE_MAX];
    json_object_set_new(o, "device", json_string(fp_verdict_device_name(v, device, sizeof device)));
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

/* A pod name and namespace as Kubernetes allows them: anything else cannot
 * be a pod and must not reach a URL. */
static bool valid_pod_key(const char *name, const char *ns)
{
    return name && ns && !fp_object_name_problem(name, strlen(name)) &&
           !fp_name_problem(ns, strlen(ns), FP_NAME_NAMESPACE);
}

/* An API call is not started with less than this left of the bind's
 * deadline: it could not finish, and libcurl reads a 0 timeout as none. */
#define MIN_CALL_MS 20

/* Milliseconds left until @deadline_us (fp_clock_now_us() time), less
 * @reserve_us kept for later calls; 0 when fewer than MIN_CALL_MS. */
static guint ms_left(gint64 deadline_us, gint64 reserve_us)
{
    gint64 left = (deadline_us - reserve_us - fp_clock_now_us()) / 1000;
    return left < MIN_CALL_MS ? 0 : (guint)MIN(left, (gint64)G_MAXUINT);
}

/* GET the pod within what is left of the bind's deadline. */
static json_t *get_pod(gint64 deadline_us, FpBindEnv *env, const FpBindingArgs *args, long *status,
                       GError **error)
{
    g_autofree char *path =
        g_strdup_printf("/api/v1/namespaces/%s/pods/%s", args->pod_namespace, args->pod_name);
    FpKubeCallOptions opts = {.timeout_ms = ms_left(deadline_us, 0)};
    if (opts.timeout_ms == 0) {
        g_set_error(error, FP_KUBE_ERROR, FP_KUBE_ERROR_TRANSPORT,
                    "the bind's deadline (--bind-timeout) has passed");
        return NULL;
    }
    FpKubeResponse resp = {0};
    gboolean ok = fp_kube_call(env->client, "GET", path, NULL, &opts, &resp, error);
    if (status) {
        *status = resp.status;
    }
    if (!ok) {
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
static FpPod *find_pod(gint64 deadline_us, FpBindEnv *env, const FpBindingArgs *args, bool *full,
                       GError **error)
{
    FpPod *pod = NULL;
    *full = false;
    if (args->pod_uid && *args->pod_uid) {
        fp_view_read_lock(env->view);
        const FpPod *p = fp_view_pod_locked(env->view, args->pod_uid);
        if (p) {
            pod = fp_pod_ref((FpPod *)p);
        }
        fp_view_read_unlock(env->view);
        if (pod) {
            *full = pod->detailed;
            return pod;
        }
    }
    json_t *obj = get_pod(deadline_us, env, args, NULL, error);
    if (!obj) {
        return NULL;
    }
    pod = fp_pod_from_json(obj, FP_POD_FULL, error);
    *full = pod != NULL;
    json_decref(obj);
    return pod;
}

/* Where the API server says the pod is, after a Binding POST whose answer
 * did not settle it. */
typedef enum {
    POD_ON_NODE,   /* bound to the bind's node */
    POD_ELSEWHERE, /* bound to another node */
    POD_GONE,      /* deleted, or replaced by a pod of another UID */
    POD_NOT_BOUND, /* still pending */
    POD_NOT_READ,  /* the GET failed or ran out of time */
} PodWhere;

static PodWhere where_is_pod(gint64 deadline_us, FpBindEnv *env, const FpBindingArgs *args)
{
    g_autoptr(GError) error = NULL;
    long status = 0;
    json_t *obj = get_pod(deadline_us, env, args, &status, &error);
    if (!obj) {
        return status == 404 ? POD_GONE : POD_NOT_READ;
    }
    const char *bound =
        json_string_value(json_object_get(json_object_get(obj, "spec"), "nodeName"));
    const char *uid = json_string_value(json_object_get(json_object_get(obj, "metadata"), "uid"));
    PodWhere where = args->pod_uid && *args->pod_uid && !(uid && g_str_equal(uid, args->pod_uid))
                         ? POD_GONE
                     : !bound || !*bound              ? POD_NOT_BOUND
                     : g_str_equal(bound, args->node) ? POD_ON_NODE
                                                      : POD_ELSEWHERE;
    json_decref(obj);
    return where;
}

/* Bound on env->ceiling_refused (UIDs refused once for a pool ceiling). */
#define CEILING_REFUSED_MAX 10000

/* Whether placing @count more GPUs on @v's node takes its pool past the
 * pool's ceiling (pools without a ceiling never are). */
static bool over_ceiling(FpView *view, const FpPolicy *policy, const FpVerdict *v,
                         const char *resource, int64_t count)
{
    if (!v->facts.pool || !*v->facts.pool || !(v->facts.max_utilization < 1.0)) {
        return false;
    }
    fp_view_read_lock(view);
    GHashTable *stats = fp_view_pool_stats_locked(view, policy, resource);
    fp_view_read_unlock(view);
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
static bool overflow_applies(FpView *view, const FpPolicy *policy, const FpPod *pod, bool full,
                             const char *node)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    fp_view_read_lock(view);
    fp_view_foreach_node_locked(view, collect_name, names);
    fp_view_read_unlock(view);
    FpCandidates c = {
        .names = (const char *const *)names->pdata, .n = names->len, .kube_checks = full};
    FpPlacement *all = fp_placement_evaluate(view, policy, pod, &c);
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

/* Under env->lock: may this bind take its pool past the ceiling? */
static bool ceiling_allows_locked(FpBindEnv *env, const FpPolicy *policy, const FpPod *pod,
                                  bool full, const char *uid, const char *node)
{
    GHashTable *ceiling_refused = env->ceiling_refused;
    if (g_hash_table_remove(ceiling_refused, uid)) {
        return true; /* refused once already: kube-scheduler chose it again */
    }
    if (overflow_applies(env->view, policy, pod, full, node)) {
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

void fp_bind_env_init(FpBindEnv *env)
{
    g_mutex_init(&env->lock);
    env->ceiling_refused = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

void fp_bind_env_clear(FpBindEnv *env)
{
    g_clear_pointer(&env->ceiling_refused, g_hash_table_unref);
    g_mutex_clear(&env->lock);
}

/* One bind in progress: what each step found, for the steps after it. */
typedef struct {
    FpBindEnv *env;
    const FpBindingArgs *args;
    gint64 deadline_us; /* fp_clock_now_us() time by which every API call has ended */
    bool has_uid;
    FpPod *pod;       /* the pod being bound (a reference) */
    bool pod_full;    /* it carries everything placement reads */
    bool retry;       /* flexplace already assumed it on this node */
    FpPolicy *policy; /* in force for the whole bind (a reference) */
    FpPlacement *p;   /* the re-check of the chosen node */
    bool assumed;     /* this bind recorded the assumption */
    bool unknown;     /* the Binding may yet commit: the assumption is held */
    FpBindOutcome outcome;
    char *error_text;
} BindJob;

/* Each step returns TRUE to go on, or FALSE with job->outcome (and
 * job->error_text unless FP_BIND_OK) set. */
static bool stop(BindJob *job, FpBindOutcome outcome, char *error_text)
{
    job->outcome = outcome;
    job->error_text = error_text;
    return false;
}

static bool refuse(BindJob *job, const char *why)
{
    const FpBindingArgs *a = job->args;
    return stop(job, FP_BIND_REFUSED,
                g_strdup_printf("flexplace refused to bind %s/%s to %s: %s", a->pod_namespace,
                                a->pod_name, a->node, why));
}

/* Step 1: can flexplace bind at all (ready, a live cluster, a valid name)? */
static bool check_can_bind(BindJob *job)
{
    FpBindEnv *env = job->env;
    const char *not_ready = NULL;
    if (!fp_readiness_check(env->readiness, &not_ready)) {
        return stop(job, FP_BIND_REFUSED, fp_readiness_refusal(env->readiness, not_ready));
    }
    if (!env->client) {
        return stop(job, FP_BIND_REFUSED,
                    g_strdup("flexplace cannot bind: it serves a snapshot, not a live cluster "
                             "(remove bindVerb or run with a kubeconfig or in-cluster)"));
    }
    if (!valid_pod_key(job->args->pod_name, job->args->pod_namespace)) {
        return stop(job, FP_BIND_REFUSED,
                    g_strdup("flexplace cannot bind: invalid pod name or namespace"));
    }
    return true;
}

/* Step 2: find the pod; one already bound needs no Binding (a retry after
 * the watch showed it: nothing to do; a move, which Kubernetes does not
 * allow: refused). */
static bool load_pod(BindJob *job)
{
    const FpBindingArgs *a = job->args;
    g_autoptr(GError) error = NULL;
    job->pod = find_pod(job->deadline_us, job->env, a, &job->pod_full, &error);
    if (!job->pod) {
        return stop(job, FP_BIND_FAILED,
                    g_strdup_printf("flexplace cannot read pod %s/%s: %s", a->pod_namespace,
                                    a->pod_name, error->message));
    }
    const char *bound = job->pod->node_name;
    if (!bound || !*bound) {
        return true;
    }
    if (strcmp(bound, a->node) == 0) {
        g_info("bind pod=%s/%s node=%s result=ok (already bound)", a->pod_namespace, a->pod_name,
               a->node);
        return stop(job, FP_BIND_OK, NULL);
    }
    return stop(job, FP_BIND_REFUSED,
                g_strdup_printf("flexplace refused to bind %s/%s to %s: the pod is already "
                                "bound to %s",
                                a->pod_namespace, a->pod_name, a->node, bound));
}

/* Step 3: re-check the chosen node with every filter: the view may have
 * moved since filter ran (other binds, watch events).  A retry of a bind
 * flexplace already assumed here skips the verdict (its own GPUs would
 * count against it). */
static bool recheck_node(BindJob *job)
{
    FpBindEnv *env = job->env;
    const FpBindingArgs *a = job->args;
    g_autofree char *assumed_node = NULL;
    job->retry = job->has_uid &&
                 fp_view_assumed_lookup(env->view, a->pod_uid, &assumed_node, NULL) &&
                 strcmp(assumed_node, a->node) == 0;
    job->policy = fp_policy_store_get(env->policies);
    const char *names[] = {a->node};
    FpCandidates c = {.names = names, .n = 1};
    job->p = fp_placement_evaluate(env->view, job->policy, job->pod, &c);
    const FpVerdict *v = &job->p->verdicts[0];
    if (!v->pass && !job->retry) {
        return refuse(job, v->reason);
    }
    return true;
}

/* Step 4: record the pod's GPUs as assumed on the node, after the pool
 * ceiling check, as one step under env->lock. */
static bool assume_gpus(BindJob *job)
{
    FpBindEnv *env = job->env;
    const FpBindingArgs *a = job->args;
    const FpDemand *d = job->p->demand;
    if (!d->resource || !job->has_uid) {
        return true;
    }
    const char *why = NULL;
    g_mutex_lock(&env->lock);
    if (!job->retry &&
        over_ceiling(env->view, job->policy, &job->p->verdicts[0], d->resource, d->count) &&
        !ceiling_allows_locked(env, job->policy, job->pod, job->pod_full, a->pod_uid, a->node)) {
        why = FP_REASON_POOL_CEILING;
    } else if (!fp_view_assume(env->view, a->pod_uid, a->pod_namespace, a->pod_name, a->node,
                               d->resource, d->count, env->assume_ttl_s, &why)) {
        why = why ? why : "cannot assume";
    } else {
        job->assumed = true;
    }
    g_mutex_unlock(&env->lock);
    return job->assumed || refuse(job, why);
}

/* What the Binding POST's answer says (bind.h has the rules and why). */
typedef enum {
    POSTED_BOUND,     /* 2xx, or 409 "already assigned" to this node */
    POSTED_ELSEWHERE, /* 409 "already assigned" to another node */
    POSTED_REFUSED,   /* refused for good, or never sent */
    POSTED_CONFLICT,  /* another 409: read the pod (a UID precondition?) */
    POSTED_UNKNOWN,   /* may have been committed, or may yet be */
} Posted;

/* The node of a 409 "pod X is already assigned to node \"N\"" (the
 * kube-apiserver's binding storage) into @out; FALSE for any other 409. */
static bool assigned_node(const json_t *reply, char *out, size_t size)
{
    static const char mark[] = "is already assigned to node \"";
    const char *reason = json_string_value(json_object_get(reply, "reason"));
    const char *msg = json_string_value(json_object_get(reply, "message"));
    const char *at = msg && g_strcmp0(reason, "Conflict") == 0 ? strstr(msg, mark) : NULL;
    if (!at) {
        return false;
    }
    at += sizeof mark - 1;
    const char *end = strchr(at, '"');
    if (!end || end == at || (size_t)(end - at) >= size) {
        return false;
    }
    memcpy(out, at, (size_t)(end - at));
    out[end - at] = '\0';
    return true;
}

static Posted classify_post(gboolean ok, const FpKubeResponse *resp, const char *node)
{
    long status = resp->status;
    if (status >= 200 && status < 300) {
        /* the status line says the store committed it, even when the
         * body was cut or timed out after it (ok false) */
        return POSTED_BOUND;
    }
    if (status == 0) {
        /* no answer: unknown once a byte of the request left */
        return resp->sent ? POSTED_UNKNOWN : POSTED_REFUSED;
    }
    if (status >= 500) {
        /* whatever the reason: the store may have committed first */
        return POSTED_UNKNOWN;
    }
    if (status == 409) {
        char on[256];
        if (assigned_node(resp->json, on, sizeof on)) {
            return strcmp(on, node) == 0 ? POSTED_BOUND : POSTED_ELSEWHERE;
        }
        return POSTED_CONFLICT;
    }
    return POSTED_REFUSED;
}

static void fail(BindJob *job, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void fail(BindJob *job, const char *fmt, ...)
{
    const FpBindingArgs *a = job->args;
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    job->outcome = FP_BIND_FAILED;
    job->error_text = g_strdup_printf("binding %s/%s to %s failed: %s", a->pod_namespace,
                                      a->pod_name, a->node, why);
}

/* The Binding was refused for good, or the pod is elsewhere or gone: roll
 * this bind's assumption back (one held for an earlier unknown outcome
 * stays, fp_view_forget_assumed). */
static void roll_back(BindJob *job)
{
    if (job->assumed) {
        fp_view_forget_assumed(job->env->view, job->args->pod_uid);
    }
}

/* The pod is bound to the bind's node: held assumptions it left on other
 * nodes can no longer commit. */
static void bound(BindJob *job)
{
    job->outcome = FP_BIND_OK;
    if (job->has_uid) {
        fp_view_settle_assumed(job->env->view, job->args->pod_uid, job->args->node);
    }
}

/* The POST's answer did not settle the bind: the pod is still pending or
 * could not be read, and the Binding may yet commit.  Hold the assumption
 * until the watch shows the pod bound or gone, or --assume-ttl passes;
 * kube-scheduler gets an error and retries the pod. */
static void unknown(BindJob *job, const char *answer)
{
    if (job->assumed) {
        fp_view_hold_assumed(job->env->view, job->args->pod_uid);
    }
    job->unknown = true;
    fail(job,
         "outcome unknown (%s); the pod's GPUs stay assumed on %s until the watch shows the pod "
         "bound or deleted, or --assume-ttl passes",
         answer, job->args->node);
    job->outcome = FP_BIND_UNKNOWN;
}

/* POST the Binding within @post_ms; *answer receives the API server's
 * message or the transport error (g_free it). */
static Posted send_binding(BindJob *job, guint post_ms, char **answer)
{
    FpBindEnv *env = job->env;
    const FpBindingArgs *a = job->args;
    g_autofree char *summary =
        env->annotate ? fp_placement_summary(&job->p->verdicts[0], a->node, job->policy->generation)
                      : NULL;
    json_t *body = binding_body(a, summary);
    g_autofree char *path =
        g_strdup_printf("/api/v1/namespaces/%s/pods/%s/binding", a->pod_namespace, a->pod_name);
    FpKubeCallOptions opts = {.timeout_ms = post_ms};
    FpKubeResponse resp = {0};
    g_autoptr(GError) error = NULL;
    gboolean ok = fp_kube_call(env->client, "POST", path, body, &opts, &resp, &error);
    json_decref(body);
    Posted p = classify_post(ok, &resp, a->node);
    const char *msg = json_string_value(json_object_get(resp.json, "message"));
    *answer = g_strdup(msg ? msg : error ? error->message : "unexpected API server reply");
    if (p == POSTED_REFUSED && resp.status == 0) {
        char *sent = g_strdup_printf("%s (not sent)", *answer);
        g_free(*answer);
        *answer = sent;
    }
    fp_kube_response_clear(&resp);
    return p;
}

/* Step 5: POST the Binding (with the placement annotation) within the
 * bind's deadline, keeping a quarter of the budget to read the pod when the
 * answer does not settle it (a 409 that names no node, or an answer that
 * may have committed).  Bound to this node: success.  Refused for good,
 * bound elsewhere or gone: the assumption is rolled back.  Still unknown:
 * held (unknown()). */
static void post_binding(BindJob *job)
{
    FpBindEnv *env = job->env;
    const FpBindingArgs *a = job->args;
    gint64 reserve_us = (gint64)(env->timeout_s * G_USEC_PER_SEC / 4);
    guint post_ms = ms_left(job->deadline_us, reserve_us);
    if (post_ms == 0) {
        roll_back(job);
        fail(job, "no time left for the Binding within --bind-timeout (%g s)", env->timeout_s);
        return;
    }
    g_autofree char *answer = NULL;
    Posted p = send_binding(job, post_ms, &answer);
    switch (p) {
    case POSTED_BOUND:
        bound(job);
        return;
    case POSTED_ELSEWHERE:
    case POSTED_REFUSED:
        roll_back(job);
        fail(job, "%s", answer);
        return;
    case POSTED_CONFLICT:
    case POSTED_UNKNOWN:
        break;
    }
    switch (where_is_pod(job->deadline_us, env, a)) {
    case POD_ON_NODE:
        bound(job);
        return;
    case POD_ELSEWHERE:
    case POD_GONE:
        roll_back(job);
        fail(job, "%s", answer);
        return;
    case POD_NOT_BOUND:
    case POD_NOT_READ:
        break;
    }
    if (p == POSTED_CONFLICT) { /* a 409 and the pod not bound: a UID or other conflict */
        roll_back(job);
        fail(job, "%s", answer);
        return;
    }
    unknown(job, answer);
}

/* Step 6: a bound pod is no longer "refused once"; log the outcome. */
static void settle(BindJob *job)
{
    FpBindEnv *env = job->env;
    const FpBindingArgs *a = job->args;
    if (job->outcome == FP_BIND_OK && job->has_uid) {
        g_mutex_lock(&env->lock);
        g_hash_table_remove(env->ceiling_refused, a->pod_uid);
        g_mutex_unlock(&env->lock);
    }
    const FpDemand *d = job->p->demand;
    g_info("bind pod=%s/%s node=%s gpus=%" G_GINT64_FORMAT " result=%s", a->pod_namespace,
           a->pod_name, a->node, d->resource ? d->count : 0,
           job->outcome == FP_BIND_OK ? "ok"
           : job->unknown             ? "unknown"
                                      : "error");
}

gint64 fp_bind_deadline(const FpBindEnv *env, gint64 arrived_us)
{
    return arrived_us + (gint64)(env->timeout_s * G_USEC_PER_SEC);
}

FpBindOutcome fp_bind(FpBindEnv *env, const FpBindingArgs *args, gint64 deadline_us,
                      char **error_text)
{
    BindJob job = {.env = env,
                   .args = args,
                   .deadline_us = deadline_us,
                   .has_uid = args->pod_uid && *args->pod_uid};
    if (check_can_bind(&job) && load_pod(&job) && recheck_node(&job) && assume_gpus(&job)) {
        post_binding(&job);
        settle(&job);
    }
    if (job.pod) {
        fp_pod_unref(job.pod);
    }
    if (job.policy) {
        fp_policy_unref(job.policy);
    }
    if (job.p) {
        fp_placement_free(job.p);
    }
    *error_text = job.error_text;
    return job.outcome;
}
