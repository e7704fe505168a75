/*
 * cache/kobj.c - v1.Node / v1.Pod JSON -> FpNode / FpPod (cache/kobj.h).
 *
 * Decoding rules, in the order a reader meets them:
 *  - null is accepted anywhere and means "absent"; unknown fields are ignored;
 *    a field we read with the wrong JSON type is an error, as it would be for
 *    Go's decoder (FP_KOBJ_ERROR_TYPE).
 *  - The field path of an error is built only when an error happens: every
 *    level keeps a small Path on the stack pointing at its parent.
 *  - Quantities are summed exactly in nano-units (scoring/quantity.h) and
 *    turned into Value()/MilliValue() once, at the end, as the scheduler does
 *    (it sums Quantity objects, then reads them).
 *  - Effective pod requests follow component-helpers' PodRequests, see
 *    pod_requests() below.
 */
#include "cache/kobj.h"

#include <stdarg.h>
#include <string.h>

#include "cache/pod_model.h"
#include "cache/yamljson.h"
#include "scoring/quantity.h"
#include "scoring/time_to_serve.h"

GQuark fp_kobj_error_quark(void)
{
    return g_quark_from_static_string("fp-kobj-error-quark");
}

/* Longest piece of user text (a key, a bad value) quoted in a message. */
#define QUOTE_MAX 64
/* Quantity caps (|value| <= 2^63-1 units) in nano-units; sums saturate here. */
#define NANO_CAP ((__int128)INT64_MAX * 1000000000)

/* ---- field paths ------------------------------------------------------ */

typedef struct Path {
    const struct Path *up;
    const char *field; /* ".field" */
    const char *key;   /* ["key"] (a map key) */
    gssize index;      /* [index] when >= 0 */
} Path;

#define FIELD(up_, name_) (&(Path){.up = (up_), .field = (name_), .index = -1})
#define KEY(up_, key_) (&(Path){.up = (up_), .key = (key_), .index = -1})
#define INDEX(up_, i_) (&(Path){.up = (up_), .index = (gssize)(i_)})

/* Append @s (at most QUOTE_MAX bytes of it) C-escaped. */
static void append_quoted(GString *out, const char *s, size_t len)
{
    size_t n = len > QUOTE_MAX ? QUOTE_MAX : len;
    g_autofree char *cut = g_strndup(s, n);
    g_autofree char *esc = g_strescape(cut, NULL);
    g_string_append_c(out, '"');
    g_string_append(out, esc);
    if (n < len || strlen(cut) < n) {
        g_string_append(out, "...");
    }
    g_string_append_c(out, '"');
}

static void path_render(GString *out, const Path *p)
{
    if (!p) {
        return;
    }
    path_render(out, p->up);
    if (p->field) {
        if (out->len > 0) {
            g_string_append_c(out, '.');
        }
        g_string_append(out, p->field);
    } else if (p->key) {
        g_string_append_c(out, '[');
        append_quoted(out, p->key, strlen(p->key));
        g_string_append_c(out, ']');
    } else if (p->index >= 0) {
        g_string_append_printf(out, "[%" G_GSSIZE_FORMAT "]", p->index);
    }
}

static bool fail(GError **error, FpKobjError code, const Path *path, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

/* Set @error to "<path>: <message>" and return false. */
static bool fail(GError **error, FpKobjError code, const Path *path, const char *fmt, ...)
{
    g_autoptr(GString) msg = g_string_new(NULL);
    path_render(msg, path);
    if (msg->len > 0) {
        g_string_append(msg, ": ");
    }
    va_list ap;
    va_start(ap, fmt);
    g_string_append_vprintf(msg, fmt, ap);
    va_end(ap);
    g_set_error_literal(error, FP_KOBJ_ERROR, code, msg->str);
    return false;
}

static const char *type_name(const json_t *v)
{
    return fp_json_type_name(v, FP_WORDS_JSON);
}

static bool wrong_type(GError **error, const Path *path, const char *want, const json_t *got)
{
    return fail(error, FP_KOBJ_ERROR_TYPE, path, "expected %s, got %s", want, type_name(got));
}

/* ---- typed member access (absent and null both give "absent") --------- */

static json_t *member(const json_t *obj, const char *key)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    return json_is_null(v) ? NULL : v;
}

/* @v itself must be an object, null or absent. */
static bool check_object(json_t *v, const Path *path, GError **error)
{
    return !v || json_is_null(v) || json_is_object(v) || wrong_type(error, path, "an object", v);
}

static bool get_object(const json_t *obj, const char *key, const Path *up, json_t **out,
                       GError **error)
{
    *out = member(obj, key);
    return check_object(*out, FIELD(up, key), error);
}

static bool get_array(const json_t *obj, const char *key, const Path *up, json_t **out,
                      GError **error)
{
    *out = member(obj, key);
    return !*out || json_is_array(*out) || wrong_type(error, FIELD(up, key), "an array", *out);
}

/* Borrowed string or NULL. */
static bool get_string(const json_t *obj, const char *key, const Path *up, const char **out,
                       GError **error)
{
    json_t *v = member(obj, key);
    *out = NULL;
    if (!v) {
        return true;
    }
    if (!json_is_string(v)) {
        return wrong_type(error, FIELD(up, key), "a string", v);
    }
    *out = json_string_value(v);
    return true;
}

/* Newly allocated copy of a string member, NULL when absent or empty. */
static bool dup_string(const json_t *obj, const char *key, const Path *up, char **out,
                       GError **error)
{
    const char *s = NULL;
    if (!get_string(obj, key, up, &s, error)) {
        return false;
    }
    *out = s && *s ? g_strdup(s) : NULL;
    return true;
}

static bool get_bool(const json_t *obj, const char *key, const Path *up, bool *out, GError **error)
{
    json_t *v = member(obj, key);
    *out = false;
    if (!v) {
        return true;
    }
    if (!json_is_boolean(v)) {
        return wrong_type(error, FIELD(up, key), "a boolean", v);
    }
    *out = json_is_true(v);
    return true;
}

/* A map[string]string as a new table (NULL when absent).  Null values are
 * empty strings, as Go's decoder makes them. */
/* A string map member as a table of owned strings; with @intern, of
 * interned GRefStrings (model.h: FpNode labels), which the many Nodes of a
 * cluster share. */
static bool get_string_map_full(const json_t *obj, const char *key, const Path *up,
                                GHashTable **out, bool intern, GError **error)
{
    const Path *path = FIELD(up, key);
    json_t *map = member(obj, key);
    *out = NULL;
    if (!check_object(map, path, error)) {
        return false;
    }
    if (!map) {
        return true;
    }
    g_autoptr(GHashTable) table =
        intern ? fp_interned_table_new()
               : g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    const char *k;
    json_t *v;
    json_object_foreach(map, k, v)
    {
        if (!json_is_null(v) && !json_is_string(v)) {
            return wrong_type(error, KEY(path, k), "a string", v);
        }
        const char *value = json_is_null(v) ? "" : json_string_value(v);
        if (intern) {
            g_hash_table_replace(table, g_ref_string_new_intern(k), g_ref_string_new_intern(value));
        } else {
            g_hash_table_replace(table, g_strdup(k), g_strdup(value));
        }
    }
    *out = g_steal_pointer(&table);
    return true;
}

static bool get_string_map(const json_t *obj, const char *key, const Path *up, GHashTable **out,
                           GError **error)
{
    return get_string_map_full(obj, key, up, out, false, error);
}

/* Replace an owned string by its interned GRefString. */
static char *intern_take(char *s)
{
    if (!s) {
        return NULL;
    }
    char *r = g_ref_string_new_intern(s);
    g_free(s);
    return r;
}

/* ---- quantities --------------------------------------------------------- */

/* Shortest "%.*g" text that reads back as @d, so 0.1 stays "0.1". */
static void format_real(double d, char *buf, size_t size)
{
    for (int prec = 1; prec <= 17; prec++) {
        g_snprintf(buf, size, "%.*g", prec, d);
        if (g_ascii_strtod(buf, NULL) == d) {
            return;
        }
    }
}

/* A quantity given as a JSON string or number (null = 0), as
 * Quantity.UnmarshalJSON accepts it. */
static bool parse_quantity(json_t *v, const Path *path, FpQuantity *q, GError **error)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    const char *text;
    size_t len;
    *q = (FpQuantity){0};
    if (!v || json_is_null(v)) {
        return true;
    }
    if (json_is_string(v)) {
        text = json_string_value(v);
        len = json_string_length(v);
    } else if (json_is_integer(v)) {
        g_snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        text = buf;
        len = strlen(buf);
    } else if (json_is_real(v)) {
        format_real(json_real_value(v), buf, sizeof buf);
        text = buf;
        len = strlen(buf);
    } else {
        return wrong_type(error, path, "a quantity (string or number)", v);
    }
    FpQtyResult r = fp_quantity_parse(text, len, q);
    if (r != FP_QTY_OK) {
        g_autoptr(GString) shown = g_string_new(NULL);
        append_quoted(shown, text, len);
        return fail(error, FP_KOBJ_ERROR_QUANTITY, path, "invalid quantity %s (%s)", shown->str,
                    fp_quantity_strerror(r));
    }
    return true;
}

/* A resource list being summed exactly: name (borrowed from the JSON tree,
 * which outlives it) -> __int128 nano-units. */
typedef GHashTable NanoList;

static GHashTable *nano_list_new(void)
{
    return g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
}

static __int128 nano_clamp(__int128 v)
{
    return v > NANO_CAP ? NANO_CAP : (v < -NANO_CAP ? -NANO_CAP : v);
}

static __int128 *nano_slot(NanoList *list, const char *name)
{
    __int128 *slot = g_hash_table_lookup(list, name);
    if (!slot) {
        slot = g_new0(__int128, 1);
        g_hash_table_insert(list, (gpointer)name, slot);
    }
    return slot;
}

static void nano_set(NanoList *list, const char *name, __int128 v)
{
    *nano_slot(list, name) = v;
}

static void nano_add(NanoList *list, const char *name, __int128 v)
{
    __int128 *slot = nano_slot(list, name);
    *slot = nano_clamp(*slot + v);
}

static void nano_add_all(NanoList *dst, NanoList *src)
{
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, src);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        nano_add(dst, k, *(__int128 *)v);
    }
}

/* maxResourceList: every key of @src, raised in @dst where larger or absent. */
static void nano_max_all(NanoList *dst, NanoList *src)
{
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, src);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        __int128 *cur = g_hash_table_lookup(dst, k);
        if (!cur || *(__int128 *)v > *cur) {
            nano_set(dst, k, *(__int128 *)v);
        }
    }
}

static int compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Read @list out as Value() ("cpu": MilliValue()) amounts, sorted by name;
 * with @extended_only, only names containing '/'. */
static void nano_list_to_res(NanoList *list, bool extended_only, FpResList *out)
{
    guint n = 0;
    g_autofree gpointer *names = g_hash_table_get_keys_as_array(list, &n);
    qsort(names, n, sizeof *names, compare_names);
    fp_res_list_clear(out);
    out->items = n ? g_new(FpResAmount, n) : NULL;
    for (guint i = 0; i < n; i++) {
        const char *name = names[i];
        if (extended_only && !strchr(name, '/')) {
            continue;
        }
        FpQuantity q = {.nano = *(__int128 *)g_hash_table_lookup(list, name)};
        out->items[out->len].name = g_strdup(name);
        out->items[out->len].value =
            strcmp(name, "cpu") == 0 ? fp_quantity_milli(&q) : fp_quantity_value(&q);
        out->len++;
    }
    if (out->len == 0) {
        g_free(out->items);
        out->items = NULL;
    }
}

/* A map resourceName -> quantity into @list (set, not added), keys into
 * @keys (a set, may be NULL). */
static bool get_quantity_map(const json_t *obj, const char *key, const Path *up, NanoList *list,
                             GHashTable *keys, GError **error)
{
    const Path *path = FIELD(up, key);
    json_t *map = member(obj, key);
    if (!check_object(map, path, error)) {
        return false;
    }
    const char *k;
    json_t *v;
    json_object_foreach(map, k, v)
    {
        FpQuantity q;
        if (!parse_quantity(v, KEY(path, k), &q, error)) {
            return false;
        }
        nano_set(list, k, q.nano);
        if (keys) {
            g_hash_table_add(keys, (gpointer)k);
        }
    }
    return true;
}

/* ---- nodes ---------------------------------------------------------------- */

static FpTaintEffect taint_effect(const char *s)
{
    if (!s) {
        return FP_TAINT_OTHER;
    }
    if (strcmp(s, "NoSchedule") == 0) {
        return FP_TAINT_NO_SCHEDULE;
    }
    if (strcmp(s, "PreferNoSchedule") == 0) {
        return FP_TAINT_PREFER_NO_SCHEDULE;
    }
    if (strcmp(s, "NoExecute") == 0) {
        return FP_TAINT_NO_EXECUTE;
    }
    return FP_TAINT_OTHER;
}

static bool node_taints(FpNode *node, const json_t *spec, const Path *up, GError **error)
{
    json_t *arr;
    const Path *path = FIELD(up, "taints");
    if (!get_array(spec, "taints", up, &arr, error)) {
        return false;
    }
    if (!arr) {
        return true;
    }
    node->taints = g_new0(FpTaint, json_array_size(arr));
    size_t i;
    json_t *t;
    json_array_foreach(arr, i, t)
    {
        const Path *tp = INDEX(path, i);
        const char *key, *value, *effect;
        if (json_is_null(t)) {
            continue;
        }
        if (!check_object(t, tp, error) || !get_string(t, "key", tp, &key, error) ||
            !get_string(t, "value", tp, &value, error) ||
            !get_string(t, "effect", tp, &effect, error)) {
            return false;
        }
        FpTaint *taint = &node->taints[node->n_taints++];
        taint->key = g_strdup(key ? key : "");
        taint->value = value && *value ? g_strdup(value) : NULL;
        taint->effect = taint_effect(effect);
    }
    return true;
}

static bool node_ready(FpNode *node, const json_t *status, const Path *up, GError **error)
{
    json_t *arr;
    const Path *path = FIELD(up, "conditions");
    node->ready = true; /* no Ready condition reported */
    if (!get_array(status, "conditions", up, &arr, error)) {
        return false;
    }
    size_t i;
    json_t *c;
    json_array_foreach(arr, i, c)
    {
        const Path *cp = INDEX(path, i);
        const char *type, *st;
        if (json_is_null(c)) {
            continue;
        }
        if (!check_object(c, cp, error) || !get_string(c, "type", cp, &type, error) ||
            !get_string(c, "status", cp, &st, error)) {
            return false;
        }
        if (type && strcmp(type, "Ready") == 0) {
            node->ready = st && strcmp(st, "True") == 0;
        }
    }
    return true;
}

/* status.images, compactly (model.h: FpNode.image_keys).  Lenient: the
 * images only speed a placement up, so an entry that is not
 * {names: [string], sizeBytes: integer} is skipped, never an error.  Reads
 * at most MAX_NODE_IMAGES entries of MAX_IMAGE_NAMES names each. */
#define MAX_NODE_IMAGES 256
#define MAX_IMAGE_NAMES 8

static void node_images(FpNode *node, const json_t *status)
{
    json_t *arr = json_object_get(status, "images");
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        return;
    }
    guint64 keys[FP_NODE_MAX_IMAGE_NAMES];
    int64_t sizes[FP_NODE_MAX_IMAGE_NAMES];
    guint n = 0;
    size_t n_arr = MIN(json_array_size(arr), MAX_NODE_IMAGES);
    for (size_t i = 0; i < n_arr && n < FP_NODE_MAX_IMAGE_NAMES; i++) {
        json_t *img = json_array_get(arr, i);
        json_t *names = json_object_get(img, "names");
        json_t *size = json_object_get(img, "sizeBytes");
        if (!json_is_array(names)) {
            continue;
        }
        int64_t bytes = json_is_integer(size) ? (int64_t)json_integer_value(size) : 0;
        size_t n_names = MIN(json_array_size(names), MAX_IMAGE_NAMES);
        for (size_t j = 0; j < n_names && n < FP_NODE_MAX_IMAGE_NAMES; j++) {
            guint64 key = fp_image_key(json_string_value(json_array_get(names, j)));
            if (key) {
                keys[n] = key;
                sizes[n++] = bytes;
            }
        }
    }
    fp_node_set_images(node, keys, sizes, n);
}

FpNode *fp_node_from_json(const json_t *obj, GError **error)
{
    g_return_val_if_fail(error == NULL || *error == NULL, NULL);
    json_t *meta, *spec, *status;
    const char *name;
    if (!obj || !json_is_object(obj)) {
        wrong_type(error, NULL, "a Node object", obj ? obj : json_null());
        return NULL;
    }
    const Path *mp = FIELD(NULL, "metadata");
    const Path *sp = FIELD(NULL, "spec");
    const Path *stp = FIELD(NULL, "status");
    if (!get_object(obj, "metadata", NULL, &meta, error) ||
        !get_string(meta, "name", mp, &name, error)) {
        return NULL;
    }
    if (!name || !*name) {
        fail(error, FP_KOBJ_ERROR_MISSING, FIELD(mp, "name"), "required field is missing");
        return NULL;
    }
    g_autoptr(FpNode) node = fp_node_new(name);
    GHashTable *labels = NULL;
    if (!get_string_map_full(meta, "labels", mp, &labels, true, error) ||
        !dup_string(meta, "resourceVersion", mp, &node->resource_version, error)) {
        return NULL;
    }
    if (labels) {
        g_hash_table_unref(node->labels);
        node->labels = labels;
        node->labels_interned = true;
    }

    if (!get_object(obj, "spec", NULL, &spec, error) ||
        !get_bool(spec, "unschedulable", sp, &node->unschedulable, error) ||
        !node_taints(node, spec, sp, error)) {
        return NULL;
    }

    g_autoptr(GHashTable) alloc = nano_list_new();
    if (!get_object(obj, "status", NULL, &status, error) ||
        !get_quantity_map(status, "allocatable", stp, alloc, NULL, error) ||
        !node_ready(node, status, stp, error)) {
        return NULL;
    }
    nano_list_to_res(alloc, false, &node->allocatable);
    node_images(node, status);
    return g_steal_pointer(&node);
}

/* ---- pods: effective requests --------------------------------------------- */

/* One container's requests after defaulting (a limit without a request
 * becomes the request); every key named goes into @keys. */
static bool container_requests(json_t *c, const Path *cp, NanoList *reqs, GHashTable *keys,
                               GError **error)
{
    json_t *res;
    const Path *rp = FIELD(cp, "resources");
    if (!get_object(c, "resources", cp, &res, error)) {
        return false;
    }
    g_autoptr(GHashTable) limits = nano_list_new();
    if (!get_quantity_map(res, "requests", rp, reqs, keys, error) ||
        !get_quantity_map(res, "limits", rp, limits, keys, error)) {
        return false;
    }
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, limits);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        if (!g_hash_table_contains(reqs, k)) {
            nano_set(reqs, k, *(__int128 *)v);
        }
    }
    return true;
}

static bool is_pod_level_resource(const char *name)
{
    return strcmp(name, "cpu") == 0 || strcmp(name, "memory") == 0 ||
           g_str_has_prefix(name, "hugepages-");
}

/*
 * component-helpers resource.PodRequests:
 *   reqs = sum(containers) + each sidecar (init container, restartPolicy
 *          Always); every init container i needs its own requests plus the
 *          sidecars declared before it (a sidecar: the sidecars up to and
 *          including itself); reqs = max(reqs, largest need);
 *   pod-level spec.resources.requests replace cpu / memory / hugepages-*
 *          (after defaulting: a pod-level limit without a request becomes
 *          the request, except that cpu and memory then keep the containers'
 *          aggregate when they request it);
 *   + spec.overhead.
 */
static bool pod_requests(const json_t *spec, const Path *sp, NanoList *out, GHashTable *keys,
                         GError **error)
{
    json_t *containers, *inits, *podres, *c;
    size_t i;
    if (!get_array(spec, "containers", sp, &containers, error) ||
        !get_array(spec, "initContainers", sp, &inits, error) ||
        !get_object(spec, "resources", sp, &podres, error)) {
        return false;
    }

    const Path *cpath = FIELD(sp, "containers");
    json_array_foreach(containers, i, c)
    {
        const Path *cp = INDEX(cpath, i);
        if (json_is_null(c)) {
            continue;
        }
        if (!check_object(c, cp, error)) {
            return false;
        }
        g_autoptr(GHashTable) creq = nano_list_new();
        if (!container_requests(c, cp, creq, keys, error)) {
            return false;
        }
        nano_add_all(out, creq);
    }

    const Path *ipath = FIELD(sp, "initContainers");
    g_autoptr(GHashTable) sidecars = nano_list_new();
    g_autoptr(GHashTable) init_max = nano_list_new();
    json_array_foreach(inits, i, c)
    {
        const Path *cp = INDEX(ipath, i);
        const char *restart;
        if (json_is_null(c)) {
            continue;
        }
        if (!check_object(c, cp, error) || !get_string(c, "restartPolicy", cp, &restart, error)) {
            return false;
        }
        g_autoptr(GHashTable) creq = nano_list_new();
        if (!container_requests(c, cp, creq, keys, error)) {
            return false;
        }
        if (restart && strcmp(restart, "Always") == 0) {
            nano_add_all(out, creq);
            nano_add_all(sidecars, creq);
            nano_max_all(init_max, sidecars);
        } else {
            nano_add_all(creq, sidecars);
            nano_max_all(init_max, creq);
        }
    }
    nano_max_all(out, init_max);

    if (podres) {
        const Path *pp = FIELD(sp, "resources");
        g_autoptr(GHashTable) preq = nano_list_new();
        g_autoptr(GHashTable) plim = nano_list_new();
        if (!get_quantity_map(podres, "requests", pp, preq, NULL, error) ||
            !get_quantity_map(podres, "limits", pp, plim, NULL, error)) {
            return false;
        }
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, plim);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            bool overcommit = strcmp(k, "cpu") == 0 || strcmp(k, "memory") == 0;
            if (is_pod_level_resource(k) && !g_hash_table_contains(preq, k) &&
                !(overcommit && g_hash_table_contains(out, k))) {
                nano_set(preq, k, *(__int128 *)v);
            }
        }
        g_hash_table_iter_init(&it, preq);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            if (is_pod_level_resource(k)) {
                nano_set(out, k, *(__int128 *)v);
            }
        }
    }

    g_autoptr(GHashTable) overhead = nano_list_new();
    if (!get_quantity_map(spec, "overhead", sp, overhead, NULL, error)) {
        return false;
    }
    nano_add_all(out, overhead);
    return true;
}

/* ---- pods: scheduling constraints ------------------------------------------ */

static bool sel_op(const char *s, FpSelOp *op)
{
    static const struct {
        const char *name;
        FpSelOp op;
    } ops[] = {
        {"In", FP_SEL_IN},         {"NotIn", FP_SEL_NOT_IN},
        {"Exists", FP_SEL_EXISTS}, {"DoesNotExist", FP_SEL_DOES_NOT_EXIST},
        {"Gt", FP_SEL_GT},         {"Lt", FP_SEL_LT},
    };
    for (size_t i = 0; s && i < G_N_ELEMENTS(ops); i++) {
        if (strcmp(s, ops[i].name) == 0) {
            *op = ops[i].op;
            return true;
        }
    }
    return false;
}

/* A list of NodeSelectorRequirement into a new array (count in @n). */
static bool sel_reqs(const json_t *term, const char *key, const Path *up, FpSelReq **out, guint *n,
                     GError **error)
{
    json_t *arr, *r;
    size_t i;
    const Path *path = FIELD(up, key);
    if (!get_array(term, key, up, &arr, error)) {
        return false;
    }
    if (!arr) {
        return true;
    }
    *out = g_new0(FpSelReq, json_array_size(arr));
    json_array_foreach(arr, i, r)
    {
        const Path *rp = INDEX(path, i);
        const char *k, *op;
        json_t *values, *v;
        size_t j;
        if (json_is_null(r)) {
            continue;
        }
        if (!check_object(r, rp, error) || !get_string(r, "key", rp, &k, error) ||
            !get_string(r, "operator", rp, &op, error) ||
            !get_array(r, "values", rp, &values, error)) {
            return false;
        }
        FpSelReq *req = &(*out)[*n];
        if (!sel_op(op, &req->op)) {
            g_autoptr(GString) shown = g_string_new(NULL);
            append_quoted(shown, op ? op : "", op ? strlen(op) : 0);
            return fail(error, FP_KOBJ_ERROR_VALUE, FIELD(rp, "operator"),
                        "unknown operator %s (want In, NotIn, Exists, DoesNotExist, Gt or Lt)",
                        shown->str);
        }
        req->key = g_strdup(k ? k : "");
        req->values = g_new0(char *, (values ? json_array_size(values) : 0) + 1);
        (*n)++;
        guint nv = 0;
        json_array_foreach(values, j, v)
        {
            if (!json_is_string(v)) {
                return wrong_type(error, INDEX(FIELD(rp, "values"), j), "a string", v);
            }
            req->values[nv++] = g_strdup(json_string_value(v));
        }
    }
    return true;
}

static bool pod_affinity(FpPod *pod, const json_t *spec, const Path *sp, GError **error)
{
    json_t *aff, *na, *req, *terms, *t;
    size_t i;
    const Path *ap = FIELD(sp, "affinity");
    const Path *np = FIELD(ap, "nodeAffinity");
    const Path *rp = FIELD(np, "requiredDuringSchedulingIgnoredDuringExecution");
    if (!get_object(spec, "affinity", sp, &aff, error) ||
        !get_object(aff, "nodeAffinity", ap, &na, error) ||
        !get_object(na, "requiredDuringSchedulingIgnoredDuringExecution", np, &req, error) ||
        !get_array(req, "nodeSelectorTerms", rp, &terms, error)) {
        return false;
    }
    pod->has_required_affinity = req != NULL;
    if (!terms) {
        return true;
    }
    const Path *tp = FIELD(rp, "nodeSelectorTerms");
    pod->affinity_terms = g_new0(FpSelTerm, json_array_size(terms));
    json_array_foreach(terms, i, t)
    {
        /* A null term is an empty term: it matches no node. */
        FpSelTerm *term = &pod->affinity_terms[pod->n_affinity_terms++];
        const Path *p = INDEX(tp, i);
        if (!check_object(t, p, error) ||
            !sel_reqs(t, "matchExpressions", p, &term->exprs, &term->n_exprs, error) ||
            !sel_reqs(t, "matchFields", p, &term->fields, &term->n_fields, error)) {
            return false;
        }
    }
    return true;
}

static bool pod_tolerations(FpPod *pod, const json_t *spec, const Path *sp, GError **error)
{
    json_t *arr, *t;
    size_t i;
    const Path *path = FIELD(sp, "tolerations");
    if (!get_array(spec, "tolerations", sp, &arr, error)) {
        return false;
    }
    if (!arr) {
        return true;
    }
    pod->tolerations = g_new0(FpToleration, json_array_size(arr));
    json_array_foreach(arr, i, t)
    {
        const Path *p = INDEX(path, i);
        const char *key, *op, *value, *effect;
        if (json_is_null(t)) {
            continue;
        }
        if (!check_object(t, p, error) || !get_string(t, "key", p, &key, error) ||
            !get_string(t, "operator", p, &op, error) ||
            !get_string(t, "value", p, &value, error) ||
            !get_string(t, "effect", p, &effect, error)) {
            return false;
        }
        bool exists;
        if (!op || !*op || strcmp(op, "Equal") == 0) {
            exists = false;
        } else if (strcmp(op, "Exists") == 0) {
            exists = true;
        } else {
            g_autoptr(GString) shown = g_string_new(NULL);
            append_quoted(shown, op, strlen(op));
            return fail(error, FP_KOBJ_ERROR_VALUE, FIELD(p, "operator"),
                        "unknown toleration operator %s (want Exists or Equal)", shown->str);
        }
        FpToleration *tol = &pod->tolerations[pod->n_tolerations++];
        tol->key = key && *key ? g_strdup(key) : NULL;
        tol->op_exists = exists;
        tol->value = value && *value ? g_strdup(value) : NULL;
        tol->effect = effect && *effect ? (int)taint_effect(effect) : -1;
    }
    return true;
}

/* ---- pods ------------------------------------------------------------------ */

static FpPodPhase pod_phase(const char *s)
{
    if (!s || !*s || strcmp(s, "Pending") == 0) {
        return FP_PHASE_PENDING;
    }
    if (strcmp(s, "Running") == 0) {
        return FP_PHASE_RUNNING;
    }
    if (strcmp(s, "Succeeded") == 0) {
        return FP_PHASE_SUCCEEDED;
    }
    if (strcmp(s, "Failed") == 0) {
        return FP_PHASE_FAILED;
    }
    return FP_PHASE_UNKNOWN;
}

/* The controller ownerReference, else the first one. */
static bool pod_owner(FpPod *pod, const json_t *meta, const Path *mp, GError **error)
{
    json_t *arr, *ref, *chosen = NULL;
    size_t i, chosen_index = 0;
    bool chosen_is_controller = false;
    const Path *path = FIELD(mp, "ownerReferences");
    if (!get_array(meta, "ownerReferences", mp, &arr, error)) {
        return false;
    }
    json_array_foreach(arr, i, ref)
    {
        const Path *p = INDEX(path, i);
        bool controller;
        if (json_is_null(ref)) {
            continue;
        }
        if (!check_object(ref, p, error) || !get_bool(ref, "controller", p, &controller, error)) {
            return false;
        }
        if (!chosen || (controller && !chosen_is_controller)) {
            chosen = ref;
            chosen_index = i;
            chosen_is_controller = controller;
        }
    }
    if (!chosen) {
        return true;
    }
    const Path *p = INDEX(path, chosen_index);
    return dup_string(chosen, "kind", p, &pod->owner_kind, error) &&
           dup_string(chosen, "name", p, &pod->owner_name, error) &&
           dup_string(chosen, "uid", p, &pod->owner_uid, error);
}

static bool pod_priority(FpPod *pod, const json_t *spec, const Path *sp, GError **error)
{
    json_t *v = member(spec, "priority");
    const Path *p = FIELD(sp, "priority");
    if (!v) {
        return true;
    }
    if (!json_is_integer(v)) {
        return wrong_type(error, p, "an integer", v);
    }
    json_int_t prio = json_integer_value(v);
    if (prio < INT32_MIN || prio > INT32_MAX) {
        return fail(error, FP_KOBJ_ERROR_VALUE, p, "%" JSON_INTEGER_FORMAT " is out of int32 range",
                    prio);
    }
    pod->priority = (int32_t)prio;
    return true;
}

/* Sorted, unique resource keys as a NULL-terminated vector (NULL if none). */
static char **sorted_keys(GHashTable *keys)
{
    guint n = 0;
    if (g_hash_table_size(keys) == 0) {
        return NULL;
    }
    g_autofree gpointer *names = g_hash_table_get_keys_as_array(keys, &n);
    qsort(names, n, sizeof *names, compare_names);
    char **out = g_new(char *, n + 1);
    for (guint i = 0; i < n; i++) {
        out[i] = g_strdup(names[i]);
    }
    out[n] = NULL;
    return out;
}

FpPod *fp_pod_from_json(const json_t *obj, FpPodDetail detail, GError **error)
{
    g_return_val_if_fail(error == NULL || *error == NULL, NULL);
    json_t *meta, *spec, *status;
    const char *name, *ns, *deletion, *phase;
    if (detail == FP_POD_AUTO) {
        const char *node =
            json_string_value(json_object_get(json_object_get(obj, "spec"), "nodeName"));
        detail = node && *node ? FP_POD_CACHE : FP_POD_FULL;
    }
    const bool full = detail == FP_POD_FULL;
    if (!obj || !json_is_object(obj)) {
        wrong_type(error, NULL, "a Pod object", obj ? obj : json_null());
        return NULL;
    }
    const Path *mp = FIELD(NULL, "metadata");
    const Path *sp = FIELD(NULL, "spec");
    const Path *stp = FIELD(NULL, "status");

    if (!get_object(obj, "metadata", NULL, &meta, error) ||
        !get_string(meta, "name", mp, &name, error) ||
        !get_string(meta, "namespace", mp, &ns, error) ||
        !get_string(meta, "deletionTimestamp", mp, &deletion, error)) {
        return NULL;
    }
    if (!name || !*name) {
        fail(error, FP_KOBJ_ERROR_MISSING, FIELD(mp, "name"), "required field is missing");
        return NULL;
    }
    g_autoptr(FpPod) pod = fp_pod_new();
    pod->detailed = full;
    pod->name = g_strdup(name);
    pod->ns = g_strdup(ns && *ns ? ns : "default");
    pod->terminating = deletion && *deletion;
    if (!dup_string(meta, "uid", mp, &pod->uid, error) || !pod_owner(pod, meta, mp, error)) {
        return NULL;
    }
    if (full && (!get_string_map(meta, "labels", mp, &pod->labels, error) ||
                 !get_string_map(meta, "annotations", mp, &pod->annotations, error) ||
                 !dup_string(meta, "resourceVersion", mp, &pod->resource_version, error))) {
        return NULL;
    }

    if (!get_object(obj, "spec", NULL, &spec, error) ||
        !dup_string(spec, "nodeName", sp, &pod->node_name, error) ||
        !pod_priority(pod, spec, sp, error)) {
        return NULL;
    }
    if (full && (!dup_string(spec, "schedulerName", sp, &pod->scheduler_name, error) ||
                 !get_string_map(spec, "nodeSelector", sp, &pod->node_selector, error) ||
                 !pod_affinity(pod, spec, sp, error) || !pod_tolerations(pod, spec, sp, error))) {
        return NULL;
    }

    /* Keys point into the JSON tree, which outlives these tables. */
    g_autoptr(GHashTable) keys = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GHashTable) reqs = nano_list_new();
    if (!pod_requests(spec, sp, reqs, keys, error)) {
        return NULL;
    }
    nano_list_to_res(reqs, !full, &pod->requests);
    if (full) {
        pod->resource_keys = sorted_keys(keys);
        pod->model = fp_pod_model_from_json(obj);
    }

    if (!get_object(obj, "status", NULL, &status, error) ||
        !get_string(status, "phase", stp, &phase, error)) {
        return NULL;
    }
    pod->phase = pod_phase(phase);
    if (!full) {
        /* The live cache's many pods share their namespace, node and owner
         * strings (model.h: FpPod.interned). */
        pod->interned = true;
        pod->ns = intern_take(pod->ns);
        pod->node_name = intern_take(pod->node_name);
        pod->owner_kind = intern_take(pod->owner_kind);
        pod->owner_name = intern_take(pod->owner_name);
        pod->owner_uid = intern_take(pod->owner_uid);
    }
    return g_steal_pointer(&pod);
}
