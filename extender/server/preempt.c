/*
 * extender/server/preempt.c - the preempt verb and dry-run preemption plans.
 */
#include "extender/server/preempt.h"

#include <jansson.h>
#include <string.h>

#include "cache/kobj.h"
#include "extender/obs/log.h"
#include "extender/wire/protocol.h"

void fp_preemption_args_free(FpPreemptionArgs *args)
{
    if (!args) {
        return;
    }
    for (guint i = 0; i < args->n_nodes; i++) {
        FpNodeVictims *nv = &args->nodes[i];
        for (guint k = 0; k < nv->n_victims; k++) {
            g_free(nv->victims[k].uid);
            if (nv->victims[k].pod) {
                fp_pod_unref(nv->victims[k].pod);
            }
        }
        g_free(nv->victims);
        g_free(nv->node);
    }
    g_free(args->nodes);
    if (args->pod) {
        fp_pod_unref(args->pod);
    }
    g_free(args);
}

/* Set a shape error and evaluate to FALSE (format checked by the compiler). */
#define FAIL(error, ...)                                                                           \
    (g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE, __VA_ARGS__), FALSE)

/* One entry of NodeNameToVictims / NodeNameToMetaVictims. */
static gboolean parse_node_victims(FpNodeVictims *nv, const char *node, json_t *v, bool meta,
                                   guint *total, GError **error)
{
    nv->node = g_strdup(node);
    if (!json_is_object(v)) {
        return FAIL(error, "victims of node %s: expected an object", node);
    }
    json_t *pdb = fp_protocol_member(v, "NumPDBViolations");
    if (pdb && !json_is_null(pdb) && !json_is_integer(pdb)) {
        return FAIL(error, "victims of node %s: NumPDBViolations must be an integer", node);
    }
    nv->num_pdb_violations = json_integer_value(pdb);
    json_t *pods = fp_protocol_member(v, "Pods");
    if (pods && !json_is_null(pods) && !json_is_array(pods)) {
        return FAIL(error, "victims of node %s: Pods must be an array", node);
    }
    size_t n = json_array_size(pods);
    *total += (guint)MIN(n, G_MAXUINT / 2);
    if (*total > FP_PREEMPT_MAX_VICTIMS) {
        return FAIL(error, "too many victims (more than the limit at node %s)", node);
    }
    nv->victims = g_new0(FpVictim, n + 1);
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(pods, i);
        FpVictim *victim = &nv->victims[nv->n_victims++];
        if (meta) {
            const char *uid = json_string_value(fp_protocol_member(p, "UID"));
            if (!uid) {
                return FAIL(error, "victims of node %s: every entry needs a UID string", node);
            }
            victim->uid = g_strdup(uid);
        } else {
            g_autoptr(GError) local = NULL;
            victim->pod = fp_pod_from_json(p, FP_POD_CACHE, &local);
            if (!victim->pod) {
                g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                            "victims of node %s: %s", node, local->message);
                return FALSE;
            }
            victim->uid = g_strdup(victim->pod->uid ? victim->pod->uid : "");
        }
    }
    return TRUE;
}

FpPreemptionArgs *fp_preemption_args_parse(const char *body, size_t len, GError **error)
{
    json_t *root = fp_protocol_parse_json(body, len, error);
    if (!root) {
        return NULL;
    }
    g_autoptr(FpPreemptionArgs) args = g_new0(FpPreemptionArgs, 1);
    gboolean ok = FALSE;
    json_t *pod = fp_protocol_member(root, "Pod");
    json_t *full = fp_protocol_member(root, "NodeNameToVictims");
    json_t *meta = fp_protocol_member(root, "NodeNameToMetaVictims");
    json_t *map = NULL;
    g_autoptr(GError) local = NULL;
    if (!json_is_object(root)) {
        (void)FAIL(error, "%s: expected a JSON object", "ExtenderPreemptionArgs");
    } else if (!json_is_object(pod)) {
        (void)FAIL(error, "%s: missing Pod", "ExtenderPreemptionArgs");
    } else if (!(args->pod = fp_pod_from_json(pod, FP_POD_FULL, &local))) {
        (void)FAIL(error, "Pod: %s", local->message);
    } else if (meta && !json_is_null(meta) && !json_is_object(meta)) {
        (void)FAIL(error, "%s: must be an object or null", "NodeNameToMetaVictims");
    } else if (full && !json_is_null(full) && !json_is_object(full)) {
        (void)FAIL(error, "%s: must be an object or null", "NodeNameToVictims");
    } else {
        args->meta = json_is_object(meta);
        map = args->meta ? meta : json_is_object(full) ? full : NULL;
        ok = TRUE;
    }
    if (ok && map && json_object_size(map) > FP_PREEMPT_MAX_NODES) {
        ok = FAIL(error, "%s: too many nodes", "ExtenderPreemptionArgs");
    }
    if (ok && map) {
        args->nodes = g_new0(FpNodeVictims, json_object_size(map) + 1);
        const char *node;
        json_t *v;
        guint total = 0;
        json_object_foreach(map, node, v)
        {
            if (!parse_node_victims(&args->nodes[args->n_nodes++], node, v, args->meta, &total,
                                    error)) {
                ok = FALSE;
                break;
            }
        }
    }
    json_decref(root);
    return ok ? g_steal_pointer(&args) : NULL;
}

typedef enum { FIT_NO, FIT_YES, FIT_CEILING } Fit;

/* Whether @demand fits node @st once @freed GPUs of its resource are gone.
 * Caller holds the view's read lock. */
static Fit fits_after(FpView *view, const FpPolicy *policy, const FpDemand *demand,
                      const FpNodeState *st, int64_t freed, const char **reason)
{
    const char *res = demand->resource;
    FpCandidate cand = {.node = st->node, .name = st->name};
    if (res) {
        cand.gpu_used = MAX(fp_res_list_get(&st->used, res) - freed, 0);
        cand.gpu_assumed = fp_res_list_get(&st->assumed, res);
    }
    FpEvalContext ctx = {.policy = policy, .demand = demand};
    FpVerdict v;
    fp_evaluate(&ctx, &cand, 1, &v);
    if (!v.pass) {
        *reason = v.reason;
        return FIT_NO;
    }
    if (!res) {
        return FIT_YES;
    }
    /* The pool ceiling, which a single-candidate evaluation would always
     * lift (the burst overflow rule): checked here across the candidates. */
    GHashTable *stats = fp_view_pool_stats_locked(view, policy, res);
    const FpPoolStat *ps = v.facts.pool ? g_hash_table_lookup(stats, v.facts.pool) : NULL;
    Fit fit = FIT_YES;
    if (ps && ps->allocatable > 0) {
        double after = (double)(ps->used - freed + ps->assumed + demand->count);
        if (after > v.facts.max_utilization * (double)ps->allocatable + 1e-9) {
            fit = FIT_CEILING;
            *reason = FP_REASON_POOL_CEILING;
        }
    }
    g_hash_table_unref(stats);
    return fit;
}

/* GPUs of @res the victims free on @node, as the view counts them: a victim
 * frees what the view has it use there (a pod the view has not seen, or
 * has as finished, frees nothing, so a lagging view never counts GPUs as
 * freed that its usage did not include), and a UID listed twice frees once.
 * FALSE when a victim does not resolve to a pod on that node (the view's
 * copy, else the object sent).  Caller holds the read lock. */
static gboolean freed_by(FpView *view, const FpNodeVictims *nv, const char *res, int64_t *freed,
                         const char **why)
{
    *freed = 0;
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint k = 0; k < nv->n_victims; k++) {
        const FpVictim *victim = &nv->victims[k];
        const FpPod *known = *victim->uid ? fp_view_pod_locked(view, victim->uid) : NULL;
        const FpPod *pod = known ? known : victim->pod;
        if (!pod) {
            *why = "unknown victim UID";
            return FALSE;
        }
        if (pod->node_name && *pod->node_name && strcmp(pod->node_name, nv->node) != 0) {
            *why = "victim is not on that node";
            return FALSE;
        }
        if (!known || !fp_pod_is_active(known) || !g_hash_table_add(seen, victim->uid)) {
            continue; /* not counted on the node by the view, or listed twice */
        }
        if (res) {
            *freed += fp_res_list_get(&known->requests, res);
        }
    }
    return TRUE;
}

char *fp_preempt(FpView *view, const FpPolicy *policy, const FpPreemptionArgs *args, size_t *len)
{
    g_autoptr(FpDemand) demand = fp_demand_new(args->pod, policy);
    Fit *fit = g_new0(Fit, args->n_nodes + 1);
    bool any_yes = false;
    fp_view_read_lock(view);
    for (guint i = 0; i < args->n_nodes; i++) {
        const FpNodeVictims *nv = &args->nodes[i];
        const char *why = NULL;
        const FpNodeState *st = fp_view_node_locked(view, nv->node);
        int64_t freed = 0;
        if (nv->n_victims == 0) {
            why = "no victims proposed";
        } else if (!st || !st->node) {
            why = FP_REASON_NOT_IN_VIEW;
        } else if (!freed_by(view, nv, demand->resource, &freed, &why)) {
            /* why set */
        } else {
            fit[i] = fits_after(view, policy, demand, st, freed, &why);
            any_yes |= fit[i] == FIT_YES;
        }
        if (fit[i] != FIT_YES) {
            fp_log_fields(G_LOG_LEVEL_INFO, "preempt: node dropped", "pod", args->pod->name,
                          "namespace", args->pod->ns, "node", nv->node, "reason", why ? why : "",
                          NULL);
        }
    }
    fp_view_read_unlock(view);

    json_t *map = json_object();
    for (guint i = 0; i < args->n_nodes; i++) {
        /* Ceiling-only nodes count when nothing else would do (overflow). */
        if (fit[i] == FIT_YES || (fit[i] == FIT_CEILING && !any_yes)) {
            const FpNodeVictims *nv = &args->nodes[i];
            json_t *pods = json_array();
            for (guint k = 0; k < nv->n_victims; k++) {
                json_array_append_new(pods, json_pack("{s:s}", "UID", nv->victims[k].uid));
            }
            json_object_set_new(map, nv->node,
                                json_pack("{s:o, s:I}", "Pods", pods, "NumPDBViolations",
                                          (json_int_t)nv->num_pdb_violations));
        }
    }
    g_free(fit);
    json_t *out = json_pack("{s:o}", "NodeNameToMetaVictims", map);
    char *text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    char *copy = g_strdup(text ? text : "{\"NodeNameToMetaVictims\":{}}");
    free(text);
    *len = strlen(copy);
    return copy;
}

/* ---- dry-run plans ---- */

void fp_preempt_plan_free(FpPreemptPlan *plan)
{
    if (plan) {
        g_free(plan->node);
        g_ptr_array_unref(plan->victims);
        g_free(plan);
    }
}

typedef struct {
    int32_t priority;
    GPtrArray *lower; /* FpPod*, refs */
} Collect;

static void collect_lower(const FpPod *pod, void *data)
{
    Collect *c = data;
    if (fp_pod_is_active(pod) && pod->priority < c->priority) {
        g_ptr_array_add(c->lower, fp_pod_ref((FpPod *)pod));
    }
}

static gint by_priority_desc(gconstpointer a, gconstpointer b)
{
    const FpPod *x = *(FpPod *const *)a, *y = *(FpPod *const *)b;
    if (x->priority != y->priority) {
        return x->priority > y->priority ? -1 : 1;
    }
    return g_strcmp0(x->uid, y->uid);
}

typedef struct {
    FpView *view;
    const FpPolicy *policy;
    const FpPod *pod;
    const FpDemand *demand;
    GPtrArray *plans;
} PlanScan;

static void plan_node(const FpNodeState *st, void *data)
{
    PlanScan *s = data;
    const char *res = s->demand->resource;
    const char *reason = NULL;
    /* Only nodes the pod cannot use now, for a reason eviction can change. */
    if (fits_after(s->view, s->policy, s->demand, st, 0, &reason) != FIT_NO ||
        g_strcmp0(reason, FP_REASON_INSUFFICIENT_GPUS) != 0) {
        return;
    }
    Collect c = {s->pod->priority, g_ptr_array_new_with_free_func((GDestroyNotify)fp_pod_unref)};
    fp_view_foreach_pod_on_node_locked(s->view, st->name, collect_lower, &c);
    g_ptr_array_sort(c.lower, by_priority_desc);
    int64_t all = 0;
    for (guint i = 0; i < c.lower->len; i++) {
        all += fp_res_list_get(&((FpPod *)g_ptr_array_index(c.lower, i))->requests, res);
    }
    if (c.lower->len == 0 ||
        fits_after(s->view, s->policy, s->demand, st, all, &reason) == FIT_NO) {
        g_ptr_array_unref(c.lower);
        return;
    }
    /* Reprieve the highest-priority pods first while the pod still fits. */
    FpPreemptPlan *plan = g_new0(FpPreemptPlan, 1);
    plan->node = g_strdup(st->name);
    plan->victims = g_ptr_array_new_with_free_func((GDestroyNotify)fp_pod_unref);
    int64_t freed = all;
    for (guint i = 0; i < c.lower->len; i++) {
        FpPod *v = g_ptr_array_index(c.lower, i);
        int64_t need = fp_res_list_get(&v->requests, res);
        if (fits_after(s->view, s->policy, s->demand, st, freed - need, &reason) != FIT_NO) {
            freed -= need; /* reprieved */
        } else {
            g_ptr_array_add(plan->victims, fp_pod_ref(v));
        }
    }
    g_ptr_array_unref(c.lower);
    g_ptr_array_add(s->plans, plan);
}

static int64_t priority_sum(const FpPreemptPlan *plan)
{
    int64_t sum = 0;
    for (guint i = 0; i < plan->victims->len; i++) {
        sum += ((FpPod *)g_ptr_array_index(plan->victims, i))->priority;
    }
    return sum;
}

/* kube-scheduler's order for picking a preemption node (without PDBs and
 * start times, which the dry run does not model): the lowest highest-victim
 * priority, then the smallest sum of victim priorities, then the fewest
 * victims; then node name, for a stable listing. */
static gint plan_cmp(gconstpointer a, gconstpointer b)
{
    const FpPreemptPlan *x = *(FpPreemptPlan *const *)a, *y = *(FpPreemptPlan *const *)b;
    /* Victims are sorted highest priority first. */
    int32_t xh = x->victims->len ? ((FpPod *)g_ptr_array_index(x->victims, 0))->priority : 0;
    int32_t yh = y->victims->len ? ((FpPod *)g_ptr_array_index(y->victims, 0))->priority : 0;
    if (xh != yh) {
        return xh < yh ? -1 : 1;
    }
    int64_t xs = priority_sum(x), ys = priority_sum(y);
    if (xs != ys) {
        return xs < ys ? -1 : 1;
    }
    if (x->victims->len != y->victims->len) {
        return x->victims->len < y->victims->len ? -1 : 1;
    }
    return strcmp(x->node, y->node);
}

GPtrArray *fp_preempt_plans(FpView *view, const FpPolicy *policy, const FpPod *pod)
{
    g_autoptr(FpDemand) demand = fp_demand_new(pod, policy);
    GPtrArray *plans = g_ptr_array_new_with_free_func((GDestroyNotify)fp_preempt_plan_free);
    if (!demand->resource || demand->invalid_reason) {
        return plans;
    }
    PlanScan s = {view, policy, pod, demand, plans};
    fp_view_read_lock(view);
    fp_view_foreach_node_locked(view, plan_node, &s);
    fp_view_read_unlock(view);
    g_ptr_array_sort(plans, plan_cmp);
    return plans;
}
