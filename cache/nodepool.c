/*
 * cache/nodepool.c - Karpenter NodePools as pool templates (contract in the
 * header).
 */
#include "cache/nodepool.h"

#include <string.h>

#include "cache/kobj.h"
#include "cache/linebuf.h"
#include "scoring/engine.h"
#include "scoring/quantity.h"
#include "scoring/scale_up.h"

G_DEFINE_QUARK(fp - nodepool - error - quark, fp_nodepool_error)

#define CAPACITY_KEY "karpenter.sh/capacity-type"
#define NODEPOOL_PATH "/apis/karpenter.sh/v1/nodepools"

static const char *const GPU_NAME_KEYS[] = {"karpenter.k8s.aws/instance-gpu-name",
                                            "karpenter.azure.com/sku-gpu-name", NULL};
static const char *const CAPACITY_TYPES[] = {"on-demand", "spot", "reserved", NULL};
static const char *const FAMILY_KEYS[] = {"karpenter.k8s.aws/instance-family", NULL};
static const char *const GPU_COUNT_KEYS[] = {"karpenter.k8s.aws/instance-gpu-count",
                                             "karpenter.azure.com/sku-gpu-count", NULL};

void fp_pool_template_free(FpPoolTemplate *t)
{
    if (!t) {
        return;
    }
    g_free(t->name);
    if (t->labels) {
        g_hash_table_unref(t->labels);
    }
    for (guint i = 0; i < t->n_requirements; i++) {
        g_free(t->requirements[i].key);
        g_strfreev(t->requirements[i].values);
    }
    g_free(t->requirements);
    g_strfreev(t->products);
    g_strfreev(t->regions);
    g_strfreev(t->capacity_types);
    g_strfreev(t->gpu_names);
    g_strfreev(t->instance_types);
    g_strfreev(t->families);
    g_free(t->pool);
    fp_res_list_clear(&t->limits);
    g_free(t);
}

static bool shape(GError **error, const char *name, const char *what)
{
    g_set_error(error, FP_NODEPOOL_ERROR, FP_NODEPOOL_ERROR_SHAPE, "NodePool %s: %s",
                name ? name : "(unnamed)", what);
    return false;
}

static bool read_labels(FpPoolTemplate *t, const json_t *labels, GError **error)
{
    t->labels = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    if (!labels || json_is_null(labels)) {
        return true;
    }
    if (!json_is_object(labels)) {
        return shape(error, t->name, "spec.template.metadata.labels is not a map");
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)labels, key, v)
    {
        if (!json_is_string(v)) {
            return shape(error, t->name, "a template label value is not a string");
        }
        g_hash_table_replace(t->labels, g_strdup(key), g_strdup(json_string_value(v)));
    }
    return true;
}

static bool op_from(const char *s, FpSelOp *op)
{
    static const struct {
        const char *name;
        FpSelOp op;
    } ops[] = {{"In", FP_SEL_IN},         {"NotIn", FP_SEL_NOT_IN},
               {"Exists", FP_SEL_EXISTS}, {"DoesNotExist", FP_SEL_DOES_NOT_EXIST},
               {"Gt", FP_SEL_GT},         {"Lt", FP_SEL_LT}};
    for (guint i = 0; s && i < G_N_ELEMENTS(ops); i++) {
        if (g_str_equal(s, ops[i].name)) {
            *op = ops[i].op;
            return true;
        }
    }
    return false;
}

static bool read_requirement(FpPoolTemplate *t, const json_t *r, FpSelReq *out, GError **error)
{
    const char *key = json_string_value(json_object_get(r, "key"));
    if (!json_is_object(r) || !key ||
        !op_from(json_string_value(json_object_get(r, "operator")), &out->op)) {
        return shape(error, t->name, "a requirement needs a key and a known operator");
    }
    json_t *values = json_object_get(r, "values");
    if (values && !json_is_null(values) && !json_is_array(values)) {
        return shape(error, t->name, "requirement values is not a list");
    }
    if (json_array_size(values) > FP_NODEPOOL_MAX_VALUES) {
        g_set_error(error, FP_NODEPOOL_ERROR, FP_NODEPOOL_ERROR_LIMIT,
                    "NodePool %s: requirement %s has more than %d values", t->name, key,
                    FP_NODEPOOL_MAX_VALUES);
        return false;
    }
    out->key = g_strdup(key);
    out->values = g_new0(char *, json_array_size(values) + 1);
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v)
    {
        if (!json_is_string(v)) {
            return shape(error, t->name, "a requirement value is not a string");
        }
        out->values[i] = g_strdup(json_string_value(v));
    }
    return true;
}

static bool read_requirements(FpPoolTemplate *t, const json_t *reqs, GError **error)
{
    if (!reqs || json_is_null(reqs)) {
        return true;
    }
    if (!json_is_array(reqs) || json_array_size(reqs) > FP_NODEPOOL_MAX_VALUES) {
        return shape(error, t->name, "spec.template.spec.requirements is not a (short) list");
    }
    t->requirements = g_new0(FpSelReq, json_array_size(reqs) + 1);
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r)
    {
        /* Counted first, so a half-read requirement is freed too. */
        t->n_requirements++;
        if (!read_requirement(t, r, &t->requirements[i], error)) {
            return false;
        }
    }
    return true;
}

static bool read_limits(FpPoolTemplate *t, const json_t *limits, GError **error)
{
    json_t *list = json_object_get(limits, "resources"); /* v1beta1 */
    if (!list) {
        list = (json_t *)limits;
    }
    if (!list || json_is_null(list)) {
        return true;
    }
    if (!json_is_object(list)) {
        return shape(error, t->name, "spec.limits is not a map of resources");
    }
    const char *name;
    json_t *v;
    json_object_foreach(list, name, v)
    {
        g_autofree char *text =
            json_is_string(v)    ? g_strdup(json_string_value(v))
            : json_is_integer(v) ? g_strdup_printf("%" JSON_INTEGER_FORMAT, json_integer_value(v))
                                 : NULL;
        FpQuantity q;
        if (!text || fp_quantity_parse(text, strlen(text), &q) != FP_QTY_OK) {
            return shape(error, t->name, "a limit is not a quantity");
        }
        fp_res_list_set(&t->limits, name,
                        g_str_equal(name, "cpu") ? fp_quantity_milli(&q) : fp_quantity_value(&q));
    }
    return true;
}

/* Values of @keys: the first template label under one of them, else the
 * "In" values of a requirement on one of them. */
static char **values_for(const FpPoolTemplate *t, char *const *keys)
{
    for (char *const *k = keys; k && *k; k++) {
        const char *v = g_hash_table_lookup(t->labels, *k);
        if (v && *v) {
            return g_strsplit(v, "\x01", 1); /* a one-element copy */
        }
    }
    for (char *const *k = keys; k && *k; k++) {
        for (guint i = 0; i < t->n_requirements; i++) {
            const FpSelReq *r = &t->requirements[i];
            if (r->op == FP_SEL_IN && g_str_equal(r->key, *k)) {
                return g_strdupv(r->values);
            }
        }
    }
    return g_new0(char *, 1);
}

static char **capacity_types(const FpPoolTemplate *t)
{
    const char *label = g_hash_table_lookup(t->labels, CAPACITY_KEY);
    if (label) {
        return g_strsplit(label, "\x01", 1);
    }
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    bool constrained = false;
    for (const char *const *c = CAPACITY_TYPES; *c; c++) {
        bool ok = true;
        for (guint i = 0; i < t->n_requirements; i++) {
            const FpSelReq *r = &t->requirements[i];
            if (!g_str_equal(r->key, CAPACITY_KEY)) {
                continue;
            }
            bool listed = g_strv_contains((const char *const *)r->values, *c);
            if (r->op == FP_SEL_IN) {
                constrained = true;
                ok = ok && listed;
            } else if (r->op == FP_SEL_NOT_IN) {
                constrained = true;
                ok = ok && !listed;
            }
        }
        if (ok) {
            g_ptr_array_add(out, g_strdup(*c));
        }
    }
    if (!constrained) {
        /* Karpenter launches on-demand capacity unless a NodePool asks
         * for another type. */
        g_ptr_array_set_size(out, 0);
        g_ptr_array_add(out, g_strdup("on-demand"));
    }
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

static void derive(FpPoolTemplate *t, const FpPolicy *policy)
{
    t->products = values_for(t, policy->label_product);
    t->regions = values_for(t, policy->label_region);
    t->gpu_names = values_for(t, (char *const *)GPU_NAME_KEYS);
    t->instance_types = values_for(t, policy->label_instance_type);
    t->families = values_for(t, (char *const *)FAMILY_KEYS);
    t->capacity_types = capacity_types(t);
    for (char **k = policy->label_pool; k && *k && !t->pool; k++) {
        const char *v = g_hash_table_lookup(t->labels, *k);
        if (v && *v) {
            t->pool = g_strdup(v);
        }
    }
    if (!t->pool) {
        t->pool = g_strdup(t->name);
    }
}

/* The kinds of machine the NodePool names, in the order the offers use:
 * its instance types, else its instance families, else its GPU names
 * (one offer each), else one machine it does not describe. */
typedef enum { MACHINE_TYPE, MACHINE_FAMILY, MACHINE_GPU_NAME, MACHINE_UNKNOWN } MachineKind;

static MachineKind machine_kind(const FpPoolTemplate *t, char ***values)
{
    if (t->instance_types && t->instance_types[0]) {
        *values = t->instance_types;
        return MACHINE_TYPE;
    }
    if (t->families && t->families[0]) {
        *values = t->families;
        return MACHINE_FAMILY;
    }
    if (t->gpu_names && t->gpu_names[0]) {
        *values = t->gpu_names;
        return MACHINE_GPU_NAME;
    }
    *values = NULL;
    return MACHINE_UNKNOWN;
}

static guint n_machines(const FpPoolTemplate *t)
{
    char **values = NULL;
    machine_kind(t, &values);
    return values ? MAX(g_strv_length(values), 1) : 1;
}

FpPoolTemplate *fp_nodepool_parse(const json_t *obj, const FpPolicy *policy, GError **error)
{
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const char *api = json_string_value(json_object_get(obj, "apiVersion"));
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    g_autoptr(FpPoolTemplate) t = g_new0(FpPoolTemplate, 1);
    t->name = g_strdup(name);
    /* Items of a LIST carry no kind; a document that names another does. */
    if (!json_is_object(obj) || !name || !*name || (kind && !g_str_equal(kind, "NodePool")) ||
        (api && !g_str_has_prefix(api, "karpenter.sh/"))) {
        shape(error, name, "not a karpenter.sh NodePool with a name");
        return NULL;
    }
    json_t *spec = json_object_get(obj, "spec");
    json_t *tmpl = json_object_get(spec, "template");
    if (!read_labels(t, json_object_get(json_object_get(tmpl, "metadata"), "labels"), error) ||
        !read_requirements(t, json_object_get(json_object_get(tmpl, "spec"), "requirements"),
                           error) ||
        !read_limits(t, json_object_get(spec, "limits"), error)) {
        return NULL;
    }
    derive(t, policy);
    guint64 combos = (guint64)MAX(g_strv_length(t->products), 1) *
                     MAX(g_strv_length(t->regions), 1) * n_machines(t);
    if (combos > FP_NODEPOOL_MAX_OFFERS) {
        g_set_error(error, FP_NODEPOOL_ERROR, FP_NODEPOOL_ERROR_LIMIT,
                    "NodePool %s: %" G_GUINT64_FORMAT
                    " product, region and instance type combinations, more than %d",
                    name, combos, FP_NODEPOOL_MAX_OFFERS);
        return NULL;
    }
    return g_steal_pointer(&t);
}

/* The GPU resource a NodePool's nodes offer: the policy's first. */
static const char *gpu_resource(const FpPolicy *policy)
{
    return policy->gpu_resources && policy->gpu_resources[0] ? policy->gpu_resources[0]
                                                             : "nvidia.com/gpu";
}

/* The node this template makes with @product and @region, as a Node. */
static FpNode *template_node(const FpPoolTemplate *t, const FpPolicy *policy, const char *product,
                             const char *region)
{
    FpNode *n = fp_node_new(t->name);
    fp_node_set_labels(n, t->labels);
    fp_node_set_first_label(n, policy->label_product, product);
    fp_node_set_first_label(n, policy->label_region, region);
    fp_node_set_label(n, CAPACITY_KEY, t->capacity_types[0]);
    fp_node_set_label(n, "karpenter.sh/nodepool", t->name);
    return n;
}

/* GPUs of a node the NodePool adds: the largest value its GPU count
 * requirement (In, or Lt) allows; 0 when it does not say. */
static int64_t gpus_per_node(const FpPoolTemplate *t)
{
    int64_t most = 0;
    for (guint i = 0; i < t->n_requirements; i++) {
        const FpSelReq *r = &t->requirements[i];
        if (!g_strv_contains(GPU_COUNT_KEYS, r->key)) {
            continue;
        }
        for (char **v = r->values; v && *v; v++) {
            gint64 n = 0;
            if (!g_ascii_string_to_signed(*v, 10, 0, 1024, &n, NULL)) {
                continue;
            }
            if (r->op == FP_SEL_IN) {
                most = MAX(most, n);
            } else if (r->op == FP_SEL_LT && n > 1) {
                most = MAX(most, n - 1);
            }
        }
    }
    return most;
}

/* Why the NodePool cannot add a node now (spec.limits against @use), or
 * NULL. */
static const char *limit_reached(const FpPoolTemplate *t, const FpPolicy *policy,
                                 const FpPoolUse *use, int64_t per_node)
{
    if (!use) {
        return NULL;
    }
    int64_t nodes = fp_res_list_get(&t->limits, "nodes");
    if (fp_res_list_has(&t->limits, "nodes") && (int64_t)use->nodes >= nodes) {
        return FP_REASON_TEMPLATE_NODE_LIMIT;
    }
    if (fp_res_list_has(&t->limits, "cpu") &&
        use->cpu_milli >= fp_res_list_get(&t->limits, "cpu")) {
        return FP_REASON_TEMPLATE_CPU_LIMIT;
    }
    for (char **r = policy->gpu_resources; r && *r; r++) {
        if (fp_res_list_has(&t->limits, *r) &&
            fp_res_list_get(&use->gpus, *r) + MAX(per_node, 1) > fp_res_list_get(&t->limits, *r)) {
            return FP_REASON_TEMPLATE_GPU_LIMIT;
        }
    }
    return NULL;
}

/* Label the template node with machine @value of @kind: an instance
 * type, a family (as "<family>.*", which the catalog reads as any size of
 * it), or Karpenter's GPU name. */
static void label_machine(FpNode *n, const FpPolicy *policy, MachineKind kind, const char *value)
{
    if (kind == MACHINE_TYPE) {
        fp_node_set_first_label(n, policy->label_instance_type, value);
    } else if (kind == MACHINE_FAMILY) {
        g_autofree char *any = g_strconcat(value, ".*", NULL);
        fp_node_set_first_label(n, policy->label_instance_type, any);
    } else if (kind == MACHINE_GPU_NAME) {
        fp_node_set_label(n, GPU_NAME_KEYS[0], value);
    }
}

void fp_nodepool_offers(const FpPoolTemplate *t, const FpPolicy *policy, const FpPoolUsage *usage,
                        GArray *offers)
{
    int64_t per_node = gpus_per_node(t);
    const FpPoolUse *use = fp_pool_usage_nodepool(usage, t->name);
    char *none[] = {(char *)"", NULL};
    char **products = t->products && t->products[0] ? t->products : none;
    char **regions = t->regions && t->regions[0] ? t->regions : none;
    char **machines = NULL;
    MachineKind kind = machine_kind(t, &machines);
    if (!machines) {
        machines = none;
    }
    for (char **p = products; *p; p++) {
        for (char **r = regions; *r; r++) {
            for (char **m = machines; *m; m++) {
                g_autoptr(FpNode) n = template_node(t, policy, *p, *r);
                label_machine(n, policy, kind, *m);
                fp_res_list_set(&n->allocatable, gpu_resource(policy), per_node ? per_node : 1);
                FpOffer o = {.name = g_intern_string(t->name),
                             .is_template = true,
                             .gpus_per_node = per_node,
                             .resource = gpu_resource(policy)};
                fp_node_facts(policy, n, &o.facts);
                o.facts.pool = t->pool;
                o.cannot_grow = limit_reached(t, policy, use, per_node);
                if (fp_template_mig_offers(policy, n, &o, -1, offers)) {
                    continue; /* its labels describe MIG mixed nodes */
                }
                /* the machine's device where the NodePool does not say;
                 * a family's sizes differ in GPU count: only a type says */
                fp_template_whole_offer(&o, policy, n, o.facts.product && *o.facts.product, false,
                                        kind == MACHINE_TYPE);
                o.cannot_grow = limit_reached(t, policy, use, o.gpus_per_node);
                g_array_append_val(offers, o);
            }
        }
    }
}

/* The items of a LIST (new reference), or NULL with *absent on a 404;
 * @rv (may be NULL) receives the list's resourceVersion. */
static json_t *fetch_items(FpKubeClient *client, gboolean *absent, char **rv, GError **error)
{
    *absent = FALSE;
    json_t *list = NULL;
    long status = 0;
    GError *err = NULL;
    if (!fp_kube_get_json(client, NODEPOOL_PATH, &list, &status, &err)) {
        json_decref(list);
        if (status == 404) {
            *absent = TRUE;
            g_error_free(err);
            return NULL;
        }
        g_set_error(error, FP_NODEPOOL_ERROR, FP_NODEPOOL_ERROR_API, "listing NodePools: %s",
                    err ? err->message : "failed");
        g_clear_error(&err);
        return NULL;
    }
    json_t *items = json_object_get(list, "items");
    json_t *out = json_is_array(items) ? json_incref(items) : json_array();
    if (rv) {
        *rv = g_strdup(json_string_value(
            json_object_get(json_object_get(list, "metadata"), "resourceVersion")));
    }
    json_decref(list);
    return out;
}

gboolean fp_nodepools_fetch(FpKubeClient *client, const FpPolicy *policy, GPtrArray *out,
                            gboolean *absent, guint *skipped, GError **error)
{
    GError *err = NULL;
    json_t *items = fetch_items(client, absent, NULL, &err);
    if (!items) {
        if (err) {
            g_propagate_error(error, err);
            return FALSE;
        }
        return TRUE; /* absent */
    }
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        if (out->len >= FP_NODEPOOL_MAX_POOLS) {
            break;
        }
        FpPoolTemplate *t = fp_nodepool_parse(item, policy, &err);
        if (t) {
            g_ptr_array_add(out, t);
        } else {
            g_debug("skipping a NodePool: %s", err->message);
            g_clear_error(&err);
            if (skipped) {
                (*skipped)++;
            }
        }
    }
    json_decref(items);
    return TRUE;
}

/* A failed LIST or WATCH, at most one line per minute. */
static void fp_log_nodepool_error(const GError *error)
{
    static gint64 last;
    gint64 now = g_get_monotonic_time();
    if (now - last > 60 * G_TIME_SPAN_SECOND) {
        last = now;
        g_warning("%s (keeping the last NodePools)", error->message);
    }
}

/* ---- the live source: LIST, then WATCH from its resourceVersion ------ */

#define WATCH_TIMEOUT_MIN_S 300
#define WATCH_TIMEOUT_MAX_S 600
#define BACKOFF_MIN_MS 1000
#define WATCH_LINE_MAX (4u << 20)

struct FpNodePoolSource {
    FpKubeClient *client;
    guint interval_s; /* relist period while the resource is absent; backoff cap */
    GMutex lock;
    GCond cond;
    volatile gint stop;
    /* name -> NodePool object, or NULL before the first LIST and while
     * absent; replaced, never changed in place (readers take a
     * reference). */
    json_t *items;
    guint64 lists;
    guint64 events;
    gboolean absent;
    GThread *thread;
    /* watch state (the thread's own) */
    char *rv;
    FpLineBuf *lb;
    bool expired; /* the watch said 410: relist at once */
    bool relist;  /* an ERROR event or an undecodable stream: relist */
};

static bool source_stopped(FpNodePoolSource *s)
{
    return g_atomic_int_get(&s->stop) != 0;
}

/* Wait @ms or until stopped; false when stopped. */
static bool source_sleep(FpNodePoolSource *s, guint ms)
{
    g_mutex_lock(&s->lock);
    gint64 until = g_get_monotonic_time() + (gint64)ms * 1000;
    while (!source_stopped(s) && g_cond_wait_until(&s->cond, &s->lock, until)) {
    }
    g_mutex_unlock(&s->lock);
    return !source_stopped(s);
}

static void publish(FpNodePoolSource *s, json_t *items, gboolean absent, bool listed)
{
    g_mutex_lock(&s->lock);
    json_decref(s->items);
    s->items = items;
    s->absent = absent;
    s->lists += listed;
    s->events += !listed;
    g_mutex_unlock(&s->lock);
}

/* LIST: install the result; TRUE when the watch can start from s->rv. */
static gboolean relist(FpNodePoolSource *s, gboolean *absent, GError **error)
{
    g_clear_pointer(&s->rv, g_free);
    json_t *items = fetch_items(s->client, absent, &s->rv, error);
    if (!items && !*absent) {
        return FALSE; /* keep the last good list */
    }
    json_t *map = json_object();
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        const char *name =
            json_string_value(json_object_get(json_object_get(item, "metadata"), "name"));
        if (name && json_object_size(map) < FP_NODEPOOL_MAX_POOLS) {
            json_object_set(map, name, item);
        }
    }
    json_decref(items);
    publish(s, *absent ? (json_decref(map), NULL) : map, *absent, true);
    return !*absent && s->rv && *s->rv;
}

/* One watch event: a copy of the map with the change, published. */
static void apply_event(FpNodePoolSource *s, const char *type, json_t *obj)
{
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    const char *rv =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    if (rv && *rv) {
        g_free(s->rv);
        s->rv = g_strdup(rv);
    }
    if (!name || g_str_equal(type, "BOOKMARK")) {
        return;
    }
    g_mutex_lock(&s->lock);
    json_t *map = s->items ? json_copy(s->items) : json_object();
    g_mutex_unlock(&s->lock);
    if (g_str_equal(type, "DELETED")) {
        json_object_del(map, name);
    } else if (json_object_size(map) < FP_NODEPOOL_MAX_POOLS || json_object_get(map, name)) {
        json_object_set(map, name, obj);
    }
    publish(s, map, FALSE, false);
}

static bool watch_line(const char *line, size_t len, void *user)
{
    FpNodePoolSource *s = user;
    json_t *ev = json_loadb(line, len, 0, NULL);
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *obj = json_object_get(ev, "object");
    bool go_on = true;
    if (!type || !json_is_object(obj)) {
        g_debug("NodePools: skipping a malformed watch line");
    } else if (g_str_equal(type, "ERROR")) {
        json_int_t code = json_integer_value(json_object_get(obj, "code"));
        s->expired = code == 410;
        s->relist = true;
        if (!s->expired) {
            g_warning("NodePools: watch ERROR event %" JSON_INTEGER_FORMAT ": %s", code,
                      json_string_value(json_object_get(obj, "message")));
        }
        go_on = false;
    } else if (g_str_equal(type, "ADDED") || g_str_equal(type, "MODIFIED") ||
               g_str_equal(type, "DELETED") || g_str_equal(type, "BOOKMARK")) {
        apply_event(s, type, obj);
    }
    json_decref(ev);
    return go_on;
}

static bool watch_chunk(const char *data, size_t len, void *user)
{
    FpNodePoolSource *s = user;
    FpLineBufResult r = fp_linebuf_feed(s->lb, data, len, watch_line, s);
    if (r == FP_LINEBUF_TOO_LONG) {
        g_warning("NodePools: a watch line longer than %u bytes; relisting", WATCH_LINE_MAX);
        s->relist = true;
    }
    return r == FP_LINEBUF_OK;
}

/* WATCH from s->rv until it ends: TRUE when it ended normally (watch
 * again), FALSE to relist (410, an error, or 404: *absent). */
static gboolean watch_once(FpNodePoolSource *s, gboolean *absent, GError **error)
{
    guint timeout_s = (guint)g_random_int_range(WATCH_TIMEOUT_MIN_S, WATCH_TIMEOUT_MAX_S + 1);
    g_autofree char *rv_q = g_uri_escape_string(s->rv, NULL, FALSE);
    g_autofree char *path =
        g_strdup_printf("%s?watch=1&resourceVersion=%s&allowWatchBookmarks=true&timeoutSeconds=%u",
                        NODEPOOL_PATH, rv_q, timeout_s);
    FpKubeStreamOptions opts = {.idle_timeout_s = timeout_s + 60, .stop = &s->stop};
    fp_linebuf_reset(s->lb);
    s->expired = false;
    s->relist = false;
    FpKubeResponse resp = {0};
    gboolean ok = fp_kube_stream(s->client, path, &opts, watch_chunk, s, &resp, error);
    *absent = !ok && resp.status == 404;
    fp_kube_response_clear(&resp);
    if (ok && !s->relist) {
        fp_linebuf_finish(s->lb, watch_line, s);
    }
    return ok && !s->relist;
}

static gpointer source_main(gpointer data)
{
    FpNodePoolSource *s = data;
    guint backoff = BACKOFF_MIN_MS;
    guint backoff_max = MAX(s->interval_s * 1000, BACKOFF_MIN_MS);
    while (!source_stopped(s)) {
        gboolean absent = FALSE;
        GError *error = NULL;
        s->expired = false;
        bool watchable = relist(s, &absent, &error);
        while (watchable && !source_stopped(s)) {
            backoff = BACKOFF_MIN_MS; /* a LIST and a WATCH went through */
            watchable = watch_once(s, &absent, &error);
            if (absent) {
                publish(s, NULL, TRUE, false); /* Karpenter went away */
            }
        }
        /* Absent: the slow relist.  Failed, or nothing to watch from: back
         * off.  A 410 (or an ERROR event): relist at once. */
        guint wait = absent ? s->interval_s * 1000 : s->expired ? 0 : backoff;
        if (error) {
            if (!source_stopped(s)) {
                fp_log_nodepool_error(error);
            }
            g_error_free(error);
        }
        if (!absent && !s->expired) {
            backoff = MIN(backoff * 2, backoff_max);
        }
        if (wait && !source_sleep(s, (guint)(wait * g_random_double_range(0.8, 1.2)))) {
            break;
        }
    }
    return NULL;
}

FpNodePoolSource *fp_nodepool_source_start(FpKubeClient *client, guint interval_s)
{
    FpNodePoolSource *s = g_new0(FpNodePoolSource, 1);
    s->client = client;
    s->interval_s = MAX(interval_s, 1);
    s->lb = fp_linebuf_new(WATCH_LINE_MAX);
    g_mutex_init(&s->lock);
    g_cond_init(&s->cond);
    s->thread = g_thread_new("nodepools", source_main, s);
    return s;
}

void fp_nodepool_source_stop(FpNodePoolSource *s)
{
    if (!s) {
        return;
    }
    g_mutex_lock(&s->lock);
    g_atomic_int_set(&s->stop, 1);
    g_cond_broadcast(&s->cond);
    g_mutex_unlock(&s->lock);
    g_thread_join(s->thread);
    json_decref(s->items);
    fp_linebuf_free(s->lb);
    g_free(s->rv);
    g_mutex_clear(&s->lock);
    g_cond_clear(&s->cond);
    g_free(s);
}

GArray *fp_nodepool_source_offers(FpNodePoolSource *s, const FpPolicy *policy,
                                  const FpPoolUsage *usage)
{
    GArray *offers = g_array_new(FALSE, TRUE, sizeof(FpOffer));
    g_mutex_lock(&s->lock);
    json_t *items = s->items ? json_incref(s->items) : NULL;
    g_mutex_unlock(&s->lock);
    const char *name;
    json_t *item;
    json_object_foreach(items, name, item)
    {
        g_autoptr(FpPoolTemplate) t = fp_nodepool_parse(item, policy, NULL);
        if (t) {
            fp_nodepool_offers(t, policy, usage, offers);
        }
    }
    json_decref(items);
    return offers;
}

guint64 fp_nodepool_source_events(FpNodePoolSource *s)
{
    g_mutex_lock(&s->lock);
    guint64 n = s->events;
    g_mutex_unlock(&s->lock);
    return n;
}

guint64 fp_nodepool_source_lists(FpNodePoolSource *s, gboolean *absent)
{
    g_mutex_lock(&s->lock);
    guint64 n = s->lists;
    if (absent) {
        *absent = s->absent;
    }
    g_mutex_unlock(&s->lock);
    return n;
}
