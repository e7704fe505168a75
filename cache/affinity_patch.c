/*
 * cache/affinity_patch.c - AND node selector requirements into a Pod's
 * required node affinity, as a JSON Patch (contract in the header).
 */
#include "cache/affinity_patch.h"

#include <string.h>

#include "scoring/names.h"

#define REQUIRED_KEY "requiredDuringSchedulingIgnoredDuringExecution"
#define PREFERRED_KEY "preferredDuringSchedulingIgnoredDuringExecution"

const char *fp_sel_op_name(FpSelOp op)
{
    static const char *const names[] = {
        [FP_SEL_IN] = "In",         [FP_SEL_NOT_IN] = "NotIn",
        [FP_SEL_EXISTS] = "Exists", [FP_SEL_DOES_NOT_EXIST] = "DoesNotExist",
        [FP_SEL_GT] = "Gt",         [FP_SEL_LT] = "Lt",
    };
    return (guint)op < G_N_ELEMENTS(names) ? names[op] : "In";
}

json_t *fp_sel_req_to_json(const FpSelReq *req)
{
    json_t *values = json_array();
    for (char **v = req->values; v && *v; v++) {
        json_array_append_new(values, json_string(*v));
    }
    json_t *out = json_object();
    json_object_set_new(out, "key", json_string(req->key));
    json_object_set_new(out, "operator", json_string(fp_sel_op_name(req->op)));
    if (json_array_size(values) > 0 || req->op == FP_SEL_IN || req->op == FP_SEL_NOT_IN) {
        json_object_set_new(out, "values", values);
    } else {
        json_decref(values);
    }
    return out;
}

static bool label_key_valid(const char *key)
{
    return key && fp_qualified_name_problem(key, strlen(key)) == NULL;
}

static bool integer_text(const char *s)
{
    if (!s || !*s) {
        return false;
    }
    const char *p = (*s == '-' || *s == '+') ? s + 1 : s;
    if (!*p || strlen(p) > 18) {
        return false;
    }
    for (; *p; p++) {
        if (!g_ascii_isdigit(*p)) {
            return false;
        }
    }
    return true;
}

bool fp_sel_req_valid(const FpSelReq *req, const char **why)
{
    guint n = req->values ? g_strv_length(req->values) : 0;
    const char *problem = NULL;
    if (!label_key_valid(req->key)) {
        problem = "key is not a valid label name";
    } else if ((req->op == FP_SEL_IN || req->op == FP_SEL_NOT_IN) && n == 0) {
        problem = "In and NotIn need values";
    } else if ((req->op == FP_SEL_EXISTS || req->op == FP_SEL_DOES_NOT_EXIST) && n > 0) {
        problem = "Exists and DoesNotExist take no values";
    } else if ((req->op == FP_SEL_GT || req->op == FP_SEL_LT) &&
               (n != 1 || !integer_text(req->values[0]))) {
        problem = "Gt and Lt take exactly one integer";
    } else if (n > FP_AFFINITY_MAX_VALUES) {
        problem = "more values than flexplace writes into one expression";
    }
    if (why) {
        *why = problem;
    }
    return problem == NULL;
}

char *fp_json_pointer_escape(const char *token)
{
    GString *s = g_string_sized_new(strlen(token) + 4);
    for (const char *p = token; *p; p++) {
        if (*p == '~') {
            g_string_append(s, "~0");
        } else if (*p == '/') {
            g_string_append(s, "~1");
        } else {
            g_string_append_c(s, *p);
        }
    }
    return g_string_free(s, FALSE);
}

/* ---- building the patch ---------------------------------------------- */

typedef struct {
    const FpAffinityMerge *m;
    json_t *ops;
    char *warning; /* first problem, g_malloc'ed */
} Builder;

static void problem(Builder *b, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void problem(Builder *b, const char *fmt, ...)
{
    if (b->warning) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    b->warning = g_strdup_printf("flexplace: pod left unchanged: %s", text);
}

static void emit(Builder *b, const char *op, const char *path, json_t *value)
{
    json_array_append_new(b->ops,
                          json_pack("{s:s, s:s, s:o}", "op", op, "path", path, "value", value));
}

/* "add" for an absent member, "replace" for one that is present (null). */
static const char *add_or_replace(const json_t *parent, const char *key)
{
    return json_object_get(parent, key) ? "replace" : "add";
}

static json_t *required_exprs(const FpAffinityMerge *m)
{
    json_t *arr = json_array();
    for (guint i = 0; i < m->n_required; i++) {
        json_array_append_new(arr, fp_sel_req_to_json(&m->required[i]));
    }
    return arr;
}

static json_t *preferred_term(const FpPreferredTerm *t)
{
    json_t *exprs = json_array();
    for (guint i = 0; i < t->n_exprs; i++) {
        json_array_append_new(exprs, fp_sel_req_to_json(&t->exprs[i]));
    }
    return json_pack("{s:i, s:{s:o}}", "weight", t->weight, "preference", "matchExpressions",
                     exprs);
}

static json_t *required_value(const FpAffinityMerge *m)
{
    return json_pack("{s:[{s:o}]}", "nodeSelectorTerms", "matchExpressions", required_exprs(m));
}

static json_t *preferred_value(const FpAffinityMerge *m)
{
    json_t *arr = json_array();
    for (guint i = 0; i < m->n_preferred; i++) {
        json_array_append_new(arr, preferred_term(&m->preferred[i]));
    }
    return arr;
}

static json_t *node_affinity_value(const FpAffinityMerge *m)
{
    json_t *na = json_object();
    if (m->n_required > 0) {
        json_object_set_new(na, REQUIRED_KEY, required_value(m));
    }
    if (m->n_preferred > 0) {
        json_object_set_new(na, PREFERRED_KEY, preferred_value(m));
    }
    return na;
}

static bool array_has_equal(const json_t *arr, const json_t *item)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_equal(v, item)) {
            return true;
        }
    }
    return false;
}

static bool empty_list(const json_t *v)
{
    return !v || json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0);
}

/* AND the requirements into term @i. */
static void narrow_term(Builder *b, const json_t *term, size_t i, const char *terms_path)
{
    if (json_is_null(term)) {
        return; /* a null term matches nothing: leave it */
    }
    if (!json_is_object(term)) {
        problem(b, "nodeSelectorTerms[%zu] is not an object", i);
        return;
    }
    json_t *me = json_object_get(term, "matchExpressions");
    json_t *mf = json_object_get(term, "matchFields");
    if (empty_list(me) && empty_list(mf)) {
        return; /* an empty term matches nothing: narrowing it would widen it */
    }
    if (me && !json_is_null(me) && !json_is_array(me)) {
        problem(b, "nodeSelectorTerms[%zu].matchExpressions is not a list", i);
        return;
    }
    g_autofree char *me_path = g_strdup_printf("%s/%zu/matchExpressions", terms_path, i);
    if (!json_is_array(me)) {
        if (b->m->n_required > FP_AFFINITY_MAX_EXPRS) {
            problem(b, "more than %d expressions in a nodeSelectorTerm", FP_AFFINITY_MAX_EXPRS);
            return;
        }
        emit(b, add_or_replace(term, "matchExpressions"), me_path, required_exprs(b->m));
        return;
    }
    size_t total = json_array_size(me);
    g_autofree char *append = g_strdup_printf("%s/-", me_path);
    for (guint k = 0; k < b->m->n_required; k++) {
        json_t *e = fp_sel_req_to_json(&b->m->required[k]);
        if (array_has_equal(me, e)) {
            json_decref(e);
            continue;
        }
        if (++total > FP_AFFINITY_MAX_EXPRS) {
            json_decref(e);
            problem(b, "nodeSelectorTerms[%zu] would hold more than %d expressions", i,
                    FP_AFFINITY_MAX_EXPRS);
            return;
        }
        emit(b, "add", append, e);
    }
}

static void narrow_required(Builder *b, const json_t *na, const char *na_path)
{
    if (b->m->n_required == 0) {
        return;
    }
    json_t *req = json_object_get(na, REQUIRED_KEY);
    g_autofree char *req_path = g_strdup_printf("%s/" REQUIRED_KEY, na_path);
    if (!req || json_is_null(req)) {
        emit(b, add_or_replace(na, REQUIRED_KEY), req_path, required_value(b->m));
        return;
    }
    if (!json_is_object(req)) {
        problem(b, "nodeAffinity." REQUIRED_KEY " is not an object");
        return;
    }
    json_t *terms = json_object_get(req, "nodeSelectorTerms");
    if (empty_list(terms)) {
        return; /* no term: no node matches already (and Kubernetes refuses it) */
    }
    if (!json_is_array(terms)) {
        problem(b, "nodeSelectorTerms is not a list");
        return;
    }
    if (json_array_size(terms) > FP_AFFINITY_MAX_TERMS) {
        problem(b, "more than %d nodeSelectorTerms", FP_AFFINITY_MAX_TERMS);
        return;
    }
    g_autofree char *terms_path = g_strdup_printf("%s/nodeSelectorTerms", req_path);
    size_t i;
    json_t *term;
    json_array_foreach(terms, i, term)
    {
        narrow_term(b, term, i, terms_path);
    }
}

static void add_preferred(Builder *b, const json_t *na, const char *na_path)
{
    if (b->m->n_preferred == 0) {
        return;
    }
    json_t *pref = json_object_get(na, PREFERRED_KEY);
    g_autofree char *path = g_strdup_printf("%s/" PREFERRED_KEY, na_path);
    if (!pref || json_is_null(pref)) {
        emit(b, add_or_replace(na, PREFERRED_KEY), path, preferred_value(b->m));
        return;
    }
    if (!json_is_array(pref)) {
        problem(b, "nodeAffinity." PREFERRED_KEY " is not a list");
        return;
    }
    size_t total = json_array_size(pref);
    g_autofree char *append = g_strdup_printf("%s/-", path);
    for (guint i = 0; i < b->m->n_preferred; i++) {
        json_t *t = preferred_term(&b->m->preferred[i]);
        if (array_has_equal(pref, t)) {
            json_decref(t);
            continue;
        }
        if (++total > FP_AFFINITY_MAX_TERMS) {
            json_decref(t);
            problem(b, "more than %d preferred terms", FP_AFFINITY_MAX_TERMS);
            return;
        }
        emit(b, "add", append, t);
    }
}

/* Walk spec.affinity.nodeAffinity, adding the shallowest missing level. */
static void narrow_pod(Builder *b, const json_t *pod)
{
    json_t *spec = json_object_get(pod, "spec");
    if (!json_is_object(spec)) {
        problem(b, "the pod has no spec");
        return;
    }
    json_t *aff = json_object_get(spec, "affinity");
    if (!aff || json_is_null(aff)) {
        json_t *value = json_pack("{s:o}", "nodeAffinity", node_affinity_value(b->m));
        emit(b, add_or_replace(spec, "affinity"), "/spec/affinity", value);
        return;
    }
    if (!json_is_object(aff)) {
        problem(b, "spec.affinity is not an object");
        return;
    }
    json_t *na = json_object_get(aff, "nodeAffinity");
    if (!na || json_is_null(na)) {
        emit(b, add_or_replace(aff, "nodeAffinity"), "/spec/affinity/nodeAffinity",
             node_affinity_value(b->m));
        return;
    }
    if (!json_is_object(na)) {
        problem(b, "spec.affinity.nodeAffinity is not an object");
        return;
    }
    narrow_required(b, na, "/spec/affinity/nodeAffinity");
    add_preferred(b, na, "/spec/affinity/nodeAffinity");
}

static void annotate(Builder *b, const json_t *pod)
{
    const FpAffinityMerge *m = b->m;
    if (!m->annotation_key || json_array_size(b->ops) == 0) {
        return;
    }
    json_t *meta = json_object_get(pod, "metadata");
    json_t *anns = json_object_get(meta, "annotations");
    if (!json_is_object(meta)) {
        json_t *v = json_pack("{s:{s:s}}", "annotations", m->annotation_key, m->annotation_value);
        emit(b, add_or_replace(pod, "metadata"), "/metadata", v);
    } else if (!json_is_object(anns)) {
        json_t *v = json_pack("{s:s}", m->annotation_key, m->annotation_value);
        emit(b, add_or_replace(meta, "annotations"), "/metadata/annotations", v);
    } else {
        g_autofree char *token = fp_json_pointer_escape(m->annotation_key);
        g_autofree char *path = g_strdup_printf("/metadata/annotations/%s", token);
        emit(b, add_or_replace(anns, m->annotation_key), path,
             json_string(m->annotation_value ? m->annotation_value : ""));
    }
}

static bool merge_valid(Builder *b)
{
    const char *why = NULL;
    for (guint i = 0; i < b->m->n_required; i++) {
        if (!fp_sel_req_valid(&b->m->required[i], &why)) {
            problem(b, "requirement on %s: %s", b->m->required[i].key, why);
            return false;
        }
    }
    for (guint i = 0; i < b->m->n_preferred; i++) {
        const FpPreferredTerm *t = &b->m->preferred[i];
        if (t->weight < 1 || t->weight > 100 || t->n_exprs == 0) {
            problem(b, "a preferred term needs a weight of 1..100 and an expression");
            return false;
        }
        for (guint k = 0; k < t->n_exprs; k++) {
            if (!fp_sel_req_valid(&t->exprs[k], &why)) {
                problem(b, "preferred requirement on %s: %s", t->exprs[k].key, why);
                return false;
            }
        }
    }
    return true;
}

json_t *fp_affinity_patch(const json_t *pod, const FpAffinityMerge *merge, char **warning)
{
    Builder b = {.m = merge, .ops = json_array()};
    if (!json_is_object(pod)) {
        problem(&b, "not a Pod object");
    } else if (merge->n_required == 0 && merge->n_preferred == 0) {
        return b.ops; /* nothing to add */
    } else if (merge_valid(&b)) {
        narrow_pod(&b, pod);
        annotate(&b, pod);
    }
    if (!b.warning) {
        size_t size = json_dumpb(pod, NULL, 0, JSON_COMPACT) + json_dumpb(b.ops, NULL, 0, 0);
        if (size > FP_AFFINITY_MAX_POD_BYTES) {
            problem(&b, "the pod would grow past %zu bytes, what etcd stores",
                    FP_AFFINITY_MAX_POD_BYTES);
        }
    }
    if (b.warning) {
        json_decref(b.ops);
        if (warning) {
            *warning = b.warning;
        } else {
            g_free(b.warning);
        }
        return NULL;
    }
    return b.ops;
}
