/*
 * extender/cli/simulate.c - one replica placed as kube-scheduler and the bind
 * verb would (simulate.h).
 */
#include "extender/cli/simulate.h"

#include <string.h>

/* kube-scheduler's constants: an extender's 0..10 counts x weight x
 * (MaxNodeScore 100 / MaxExtenderPriority 10). */
#define KUBE_EXTENDER_SCALE 10
/* The in-tree score plugin simulate computes: TaintToleration, weight 3 in
 * the shipped profile. */
#define KUBE_TAINT_WEIGHT 3

static FpSelReq *copy_reqs(const FpSelReq *src, guint n)
{
    FpSelReq *dst = g_new0(FpSelReq, n + 1);
    for (guint k = 0; k < n; k++) {
        dst[k].key = g_strdup(src[k].key);
        dst[k].op = src[k].op;
        dst[k].values = g_strdupv(src[k].values);
    }
    return dst;
}

static void copy_affinity(FpPod *pod, const FpPod *tmpl)
{
    pod->has_required_affinity = tmpl->has_required_affinity;
    pod->n_affinity_terms = tmpl->n_affinity_terms;
    pod->affinity_terms = g_new0(FpSelTerm, tmpl->n_affinity_terms + 1);
    for (guint t = 0; t < tmpl->n_affinity_terms; t++) {
        const FpSelTerm *src = &tmpl->affinity_terms[t];
        FpSelTerm *dst = &pod->affinity_terms[t];
        dst->n_exprs = src->n_exprs;
        dst->exprs = copy_reqs(src->exprs, src->n_exprs);
        dst->n_fields = src->n_fields;
        dst->fields = copy_reqs(src->fields, src->n_fields);
    }
}

static void copy_tolerations(FpPod *pod, const FpPod *tmpl)
{
    pod->n_tolerations = tmpl->n_tolerations;
    pod->tolerations = g_new0(FpToleration, tmpl->n_tolerations + 1);
    for (guint t = 0; t < tmpl->n_tolerations; t++) {
        pod->tolerations[t].key = g_strdup(tmpl->tolerations[t].key);
        pod->tolerations[t].op_exists = tmpl->tolerations[t].op_exists;
        pod->tolerations[t].value = g_strdup(tmpl->tolerations[t].value);
        pod->tolerations[t].effect = tmpl->tolerations[t].effect;
    }
}

FpPod *fp_sim_replica(const FpPod *tmpl, guint index)
{
    FpPod *pod = fp_pod_new();
    pod->ns = g_strdup(tmpl->ns);
    pod->name = g_strdup_printf("%s-%u", tmpl->name, index);
    pod->uid = g_strdup_printf("simulate/%s/%s/%u", tmpl->ns, tmpl->name, index);
    pod->phase = FP_PHASE_PENDING;
    pod->priority = tmpl->priority;
    if (tmpl->labels) {
        pod->labels = g_hash_table_ref(tmpl->labels);
    }
    if (tmpl->annotations) {
        pod->annotations = g_hash_table_ref(tmpl->annotations);
    }
    fp_res_list_copy(&pod->requests, &tmpl->requests);
    pod->resource_keys = g_strdupv(tmpl->resource_keys);
    pod->model = fp_model_request_copy(tmpl->model); /* the fit and time to serve */
    pod->detailed = tmpl->detailed;
    if (tmpl->node_selector) {
        pod->node_selector = g_hash_table_ref(tmpl->node_selector);
    }
    /* Affinity and tolerations: deep copies keep ownership simple. */
    copy_affinity(pod, tmpl);
    copy_tolerations(pod, tmpl);
    if (tmpl->owner_uid) {
        pod->owner_kind = g_strdup(tmpl->owner_kind);
        pod->owner_name = g_strdup(tmpl->owner_name);
        pod->owner_uid = g_strdup(tmpl->owner_uid);
    } else {
        pod->owner_kind = g_strdup("Pod");
        pod->owner_name = g_strdup(tmpl->name);
        pod->owner_uid = g_strdup_printf("simulate/%s/%s", tmpl->ns, tmpl->name);
    }
    return pod;
}

/* Whether kube-scheduler gets to score candidate @i: it passed flexplace's
 * filter and the filter's answer named it (the short list left it in). */
static bool scored(const FpPlacement *p, guint i)
{
    return p->verdicts[i].pass && !p->verdicts[i].omit && p->nodes[i];
}

/* The most untolerated PreferNoSchedule taints on a scored candidate:
 * TaintToleration normalises over them. */
static guint max_soft_taints(const FpPlacement *p, const FpPod *pod)
{
    guint max_taints = 0;
    for (guint i = 0; i < p->n; i++) {
        if (scored(p, i)) {
            max_taints = MAX(max_taints, fp_kube_untolerated_soft_taints(pod, p->nodes[i]));
        }
    }
    return max_taints;
}

FpSimChoice fp_sim_kube_choice(const FpPlacement *p, const FpPod *pod, int extender_weight,
                               GRand *rand)
{
    FpSimChoice out = {.index = -1};
    guint max_taints = max_soft_taints(p, pod);
    int64_t best = -1;
    g_autofree guint *top = g_new(guint, MAX(p->n, 1));
    guint n_top = 0;
    for (guint i = 0; i < p->n; i++) {
        if (!scored(p, i)) {
            continue;
        }
        guint t = fp_kube_untolerated_soft_taints(pod, p->nodes[i]);
        int64_t taint = max_taints ? 100 - (int64_t)t * 100 / max_taints : 100;
        int64_t total = (int64_t)p->verdicts[i].score * extender_weight * KUBE_EXTENDER_SCALE +
                        taint * KUBE_TAINT_WEIGHT;
        if (total > best) {
            best = total;
            n_top = 0;
        }
        if (total == best) {
            top[n_top++] = i;
        }
    }
    if (n_top == 0) {
        return out;
    }
    out.index = (int)top[n_top > 1 ? (guint)g_rand_int_range(rand, 0, (gint32)n_top) : 0];
    out.tied = n_top;
    for (guint k = 1; k < n_top; k++) {
        out.across_pools |=
            g_strcmp0(p->verdicts[top[k]].facts.pool, p->verdicts[top[0]].facts.pool) != 0;
    }
    return out;
}

bool fp_sim_bind(FpView *view, FpPod *pod, const FpDemand *demand, const char *node,
                 const char *label, const char **why)
{
    g_autofree char *uid = g_strdup(pod->uid);
    g_autofree char *ns = g_strdup(pod->ns);
    fp_view_apply_pod(view, pod);
    return !demand->resource ||
           fp_view_assume(view, uid, ns, label, node, demand->resource, demand->count, 1e9, why);
}
