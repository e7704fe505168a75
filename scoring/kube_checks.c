/*
 * scoring/kube_checks.c - the kube-scheduler filters that matter for GPU
 * pods, so the dry-run CLI can say which nodes kube-scheduler itself would
 * reject before asking flexplace.
 *
 * Checks run in kube-scheduler's default filter order (NodeUnschedulable,
 * TaintToleration, NodeAffinity, NodeResourcesFit) and the first failure's
 * message is returned, with kube-scheduler's texts:
 *  - NodeUnschedulable: spec.unschedulable, unless the pod tolerates
 *    node.kubernetes.io/unschedulable:NoSchedule;
 *  - TaintToleration: every NoSchedule / NoExecute taint must be tolerated;
 *  - NodeAffinity: nodeSelector (every pair equals a node label) and
 *    required node affinity (OR of terms, each the AND of its requirements;
 *    a term without requirements matches nothing);
 *  - NodeResourcesFit, extended resources only (names containing '/'):
 *    used + request must not exceed allocatable.
 */
#include "scoring/engine.h"

#include <string.h>

#define MSG_AFFINITY "node(s) didn't match Pod's node affinity/selector"
#define MSG_UNSCHEDULABLE "node(s) were unschedulable"
#define MSG_TAINT "node(s) had untolerated taint"
#define TAINT_UNSCHEDULABLE "node.kubernetes.io/unschedulable"

/* Kubernetes' Toleration.ToleratesTaint. */
static bool tolerates(const FpToleration *t, const char *key, const char *value,
                      FpTaintEffect effect)
{
    if (t->effect >= 0 && t->effect != (int)effect) {
        return false;
    }
    if (t->key && *t->key && strcmp(t->key, key) != 0) {
        return false;
    }
    if (t->op_exists) {
        return true;
    }
    return g_strcmp0(t->value ? t->value : "", value ? value : "") == 0;
}

static bool pod_tolerates(const FpPod *pod, const char *key, const char *value,
                          FpTaintEffect effect)
{
    for (guint i = 0; i < pod->n_tolerations; i++) {
        if (tolerates(&pod->tolerations[i], key, value, effect)) {
            return true;
        }
    }
    return false;
}

/* A whole decimal integer, as Kubernetes' strconv.ParseInt(s, 10, 64). */
static bool parse_int(const char *s, int64_t *out)
{
    if (!s || !*s) {
        return false;
    }
    const char *p = (*s == '-' || *s == '+') ? s + 1 : s;
    if (!*p) {
        return false;
    }
    for (const char *q = p; *q; q++) {
        if (!g_ascii_isdigit(*q)) {
            return false;
        }
    }
    gint64 v = 0;
    if (!g_ascii_string_to_signed(*s == '+' ? s + 1 : s, 10, G_MININT64, G_MAXINT64, &v, NULL)) {
        return false;
    }
    *out = v;
    return true;
}

static bool strv_contains(char **values, const char *s)
{
    for (char **v = values; v && *v; v++) {
        if (strcmp(*v, s) == 0) {
            return true;
        }
    }
    return false;
}

static guint strv_len(char **values)
{
    return values ? g_strv_length(values) : 0;
}

/* One matchExpressions requirement against the node's labels. */
static bool expr_matches(const FpSelReq *r, const FpNode *node)
{
    const char *label = r->key ? fp_node_label(node, r->key) : NULL;
    int64_t have;
    int64_t want;
    switch (r->op) {
    case FP_SEL_IN:
        return label && strv_contains(r->values, label);
    case FP_SEL_NOT_IN:
        return !label || !strv_contains(r->values, label);
    case FP_SEL_EXISTS:
        return label != NULL;
    case FP_SEL_DOES_NOT_EXIST:
        return label == NULL;
    case FP_SEL_GT:
    case FP_SEL_LT:
        if (!label || strv_len(r->values) != 1 || !parse_int(label, &have) ||
            !parse_int(r->values[0], &want)) {
            return false;
        }
        return r->op == FP_SEL_GT ? have > want : have < want;
    }
    return false;
}

/* One matchFields requirement: only metadata.name with In / NotIn. */
static bool field_matches(const FpSelReq *r, const FpNode *node)
{
    if (!r->key || strcmp(r->key, "metadata.name") != 0) {
        return false;
    }
    const char *name = node->name ? node->name : "";
    switch (r->op) {
    case FP_SEL_IN:
        return strv_contains(r->values, name);
    case FP_SEL_NOT_IN:
        return !strv_contains(r->values, name);
    default:
        return false;
    }
}

static bool term_matches(const FpSelTerm *t, const FpNode *node)
{
    if (t->n_exprs == 0 && t->n_fields == 0) {
        return false;
    }
    for (guint i = 0; i < t->n_exprs; i++) {
        if (!expr_matches(&t->exprs[i], node)) {
            return false;
        }
    }
    for (guint i = 0; i < t->n_fields; i++) {
        if (!field_matches(&t->fields[i], node)) {
            return false;
        }
    }
    return true;
}

static bool affinity_matches(const FpPod *pod, const FpNode *node)
{
    if (pod->node_selector) {
        GHashTableIter it;
        gpointer k;
        gpointer v;
        g_hash_table_iter_init(&it, pod->node_selector);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            const char *label = fp_node_label(node, k);
            if (!label || g_strcmp0(label, v) != 0) {
                return false;
            }
        }
    }
    if (!pod->has_required_affinity) {
        return true;
    }
    for (guint i = 0; i < pod->n_affinity_terms; i++) {
        if (term_matches(&pod->affinity_terms[i], node)) {
            return true;
        }
    }
    return false;
}

const char *fp_kube_feasible(const FpPod *pod, const FpNode *node, const FpResList *used)
{
    if (!pod || !node) {
        return MSG_AFFINITY;
    }
    if (node->unschedulable &&
        !pod_tolerates(pod, TAINT_UNSCHEDULABLE, NULL, FP_TAINT_NO_SCHEDULE)) {
        return MSG_UNSCHEDULABLE;
    }
    for (guint i = 0; i < node->n_taints; i++) {
        const FpTaint *t = &node->taints[i];
        if (t->effect != FP_TAINT_NO_SCHEDULE && t->effect != FP_TAINT_NO_EXECUTE) {
            continue;
        }
        if (!pod_tolerates(pod, t->key ? t->key : "", t->value, t->effect)) {
            return MSG_TAINT;
        }
    }
    if (!affinity_matches(pod, node)) {
        return MSG_AFFINITY;
    }
    for (guint i = 0; i < pod->requests.len; i++) {
        const FpResAmount *req = &pod->requests.items[i];
        if (req->value <= 0 || !strchr(req->name, '/')) {
            continue;
        }
        int64_t in_use = used ? fp_res_list_get(used, req->name) : 0;
        int64_t need;
        if (__builtin_add_overflow(in_use, req->value, &need) ||
            need > fp_res_list_get(&node->allocatable, req->name)) {
            g_autofree char *msg = g_strconcat("Insufficient ", req->name, NULL);
            return g_intern_string(msg);
        }
    }
    return NULL;
}

guint fp_kube_untolerated_soft_taints(const FpPod *pod, const FpNode *node)
{
    guint n = 0;
    for (guint i = 0; node && i < node->n_taints; i++) {
        const FpTaint *t = &node->taints[i];
        if (t->effect == FP_TAINT_PREFER_NO_SCHEDULE &&
            !pod_tolerates(pod, t->key ? t->key : "", t->value, t->effect)) {
            n++;
        }
    }
    return n;
}
