/*
 * extender/wire/protocol.c - decode and encode kube-scheduler's extender v1 types.
 */
#include "extender/wire/protocol.h"

#include "cache/view.h"
#include "scoring/hash.h"

#include <string.h>

#include "cache/kobj.h"

GQuark fp_protocol_error_quark(void)
{
    return g_quark_from_static_string("fp-protocol-error-quark");
}

json_t *fp_protocol_member(const json_t *obj, const char *name)
{
    if (!json_is_object(obj)) {
        return NULL;
    }
    json_t *found = NULL;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        if (g_ascii_strcasecmp(key, name) == 0) {
            found = value;
        }
    }
    return found;
}

json_t *fp_protocol_parse_json(const char *body, size_t len, GError **error)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!root && json_error_code(&jerr) == json_error_stack_overflow) {
        /* A bound, not a syntax error: say which one. */
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_LIMIT,
                    "JSON nested deeper than %d levels (line %d, column %d)", JSON_PARSER_MAX_DEPTH,
                    jerr.line, jerr.column);
    } else if (!root) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_JSON,
                    "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
    }
    return root;
}

void fp_extender_args_free(FpExtenderArgs *args)
{
    if (!args) {
        return;
    }
    g_clear_pointer(&args->pod, fp_pod_unref);
    g_free(args->node_names); /* strings are borrowed from root or names_arena */
    g_clear_pointer(&args->nodes, g_ptr_array_unref);
    json_decref(args->root);
    g_free(args->item_spans);
    g_free(args->names_arena);
    g_free(args->name_hashes);
    g_free(args);
}

guint fp_extender_args_count(const FpExtenderArgs *args)
{
    return args->nodes ? args->nodes->len : args->n_names;
}

const char *fp_extender_args_name(const FpExtenderArgs *args, guint i)
{
    if (args->nodes) {
        return ((FpNode *)g_ptr_array_index(args->nodes, i))->name;
    }
    return args->node_names[i];
}

static gboolean parse_node_names(FpExtenderArgs *args, json_t *names, GError **error)
{
    size_t n = json_array_size(names);
    if (n > FP_PROTOCOL_MAX_NODES) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_LIMIT,
                    "NodeNames: %zu names, more than the limit of %d", n, FP_PROTOCOL_MAX_NODES);
        return FALSE;
    }
    args->node_names = g_new0(char *, n + 1);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(names, i);
        if (!json_is_string(v)) {
            g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                        "NodeNames[%zu]: expected a string", i);
            return FALSE;
        }
        args->node_names[i] = (char *)json_string_value(v);
    }
    args->n_names = (guint)n;
    return TRUE;
}

static gboolean parse_nodes(FpExtenderArgs *args, json_t *nodes, GError **error)
{
    if (!json_is_object(nodes)) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                    "Nodes: expected a NodeList object or null");
        return FALSE;
    }
    json_t *items = json_object_get(nodes, "items");
    if (items && !json_is_array(items) && !json_is_null(items)) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                    "Nodes.items: expected an array");
        return FALSE;
    }
    size_t n = json_array_size(items);
    if (n > FP_PROTOCOL_MAX_NODES) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_LIMIT,
                    "Nodes.items: %zu nodes, more than the limit of %d", n, FP_PROTOCOL_MAX_NODES);
        return FALSE;
    }
    args->nodes = g_ptr_array_new_full((guint)n, (GDestroyNotify)fp_node_unref);
    args->node_items = items;
    for (size_t i = 0; i < n; i++) {
        g_autoptr(GError) local = NULL;
        FpNode *node = fp_node_from_json(json_array_get(items, i), &local);
        if (!node) {
            g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE, "Nodes.items[%zu]: %s",
                        i, local->message);
            return FALSE;
        }
        g_ptr_array_add(args->nodes, node);
    }
    return TRUE;
}

/* Both decoders' answer to ExtenderArgs without candidates. */
static FpExtenderArgs *no_candidates(GError **error)
{
    g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                "ExtenderArgs: neither NodeNames nor Nodes is set");
    return NULL;
}

/* The DOM decoder: @root (owned) is the parsed body. */
static FpExtenderArgs *args_from_dom(json_t *root, GError **error)
{
    g_autoptr(FpExtenderArgs) args = g_new0(FpExtenderArgs, 1);
    args->root = root;
    if (!json_is_object(root)) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                    "ExtenderArgs: expected a JSON object");
        return NULL;
    }
    json_t *pod = fp_protocol_member(root, "Pod");
    if (!pod || json_is_null(pod)) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE, "ExtenderArgs: missing Pod");
        return NULL;
    }
    if (!json_is_object(pod)) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                    "Pod: expected a Pod object");
        return NULL;
    }
    g_autoptr(GError) local = NULL;
    args->pod = fp_pod_from_json(pod, FP_POD_FULL, &local);
    if (!args->pod) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE, "Pod: %s", local->message);
        return NULL;
    }
    json_t *names = fp_protocol_member(root, "NodeNames");
    json_t *nodes = fp_protocol_member(root, "Nodes");
    if (names && !json_is_null(names)) {
        if (!json_is_array(names)) {
            g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                        "NodeNames: expected an array of strings or null");
            return NULL;
        }
        if (!parse_node_names(args, names, error)) {
            return NULL;
        }
    } else if (nodes && !json_is_null(nodes)) {
        if (!parse_nodes(args, nodes, error)) {
            return NULL;
        }
    } else {
        return no_candidates(error);
    }
    return g_steal_pointer(&args);
}

/* ---- the scanner decoder (same answers and errors as args_from_dom) ---- */

typedef struct {
    FpExtenderArgs *args;
    const char *body;
    guint first_bad; /* index of the first element that is not a string */
    bool bad;
    char *at;       /* next free byte of the arena */
    guint capacity; /* of args->node_names, without its NULL */
} NamesWalk;

/* One pass over NodeNames: check each element and copy it out, decoded,
 * into the arena. */
static gboolean take_name(FpSpan elem, guint index, void *data)
{
    NamesWalk *w = data;
    if (w->body[elem.off] != '"') {
        w->bad = true;
        w->first_bad = index;
        return FALSE;
    }
    if (index >= FP_PROTOCOL_MAX_NODES) {
        return TRUE; /* counted, not kept: the caller refuses the request */
    }
    if (index == w->capacity) {
        w->capacity = MAX(64, 2 * w->capacity);
        w->args->node_names = g_renew(char *, w->args->node_names, w->capacity + 1);
    }
    size_t n = fp_nodescan_string(w->body, elem, w->at);
    w->at[n] = '\0';
    w->args->node_names[index] = w->at;
    w->at += n + 1;
    return TRUE;
}

static gboolean scan_node_names(FpExtenderArgs *args, const char *body, FpSpan span, GError **error)
{
    /* Decoded names are never longer than their tokens: one arena. */
    args->names_arena = g_malloc(span.len + 1);
    NamesWalk w = {.args = args, .body = body, .at = args->names_arena};
    guint n = fp_nodescan_array_foreach(body, span, take_name, &w);
    if (w.bad) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                    "NodeNames[%u]: expected a string", w.first_bad);
        return FALSE;
    }
    if (n > FP_PROTOCOL_MAX_NODES) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_LIMIT,
                    "NodeNames: %u names, more than the limit of %d", n, FP_PROTOCOL_MAX_NODES);
        return FALSE;
    }
    if (!args->node_names) {
        args->node_names = g_new(char *, 1);
    }
    args->node_names[n] = NULL;
    args->n_names = n;
    return TRUE;
}

/* ---- decoded Pods ---------------------------------------------------------------------
 *
 * kube-scheduler sends each pod twice in a row, to filter and then to
 * prioritize, with the same bytes (and again when it retries the pod).  The
 * last few decoded Pods are kept under their exact bytes (compared in full):
 * same bytes, same pod, since decoding is a pure function of them and FpPod
 * is immutable once built.  Bounded: POD_CACHE_SIZE entries of at most
 * POD_CACHE_MAX_BYTES each.
 */
#define POD_CACHE_SIZE 8
#define POD_CACHE_MAX_BYTES ((size_t)64 * 1024)

typedef struct {
    char *bytes; /* NULL = empty */
    size_t len;
    guint32 hash;
    FpPod *pod; /* ref */
} PodEntry;

static GMutex pod_cache_lock; /* static storage: needs no init */
static PodEntry pod_cache[POD_CACHE_SIZE];
static guint pod_cache_next;

/* A new reference on the Pod decoded from exactly these bytes, or NULL. */
static FpPod *pod_cache_get(const char *bytes, size_t len, guint32 hash)
{
    FpPod *pod = NULL;
    g_mutex_lock(&pod_cache_lock);
    for (guint i = 0; i < POD_CACHE_SIZE && !pod; i++) {
        const PodEntry *e = &pod_cache[i];
        if (e->bytes && e->hash == hash && e->len == len && memcmp(e->bytes, bytes, len) == 0) {
            pod = fp_pod_ref(e->pod);
        }
    }
    g_mutex_unlock(&pod_cache_lock);
    return pod;
}

static void pod_cache_put(const char *bytes, size_t len, guint32 hash, FpPod *pod)
{
    char *copy = g_memdup2(bytes, len);
    g_mutex_lock(&pod_cache_lock);
    PodEntry old = pod_cache[pod_cache_next];
    pod_cache[pod_cache_next] = (PodEntry){copy, len, hash, fp_pod_ref(pod)};
    pod_cache_next = (pod_cache_next + 1) % POD_CACHE_SIZE;
    g_mutex_unlock(&pod_cache_lock);
    g_free(old.bytes);
    if (old.pod) {
        fp_pod_unref(old.pod);
    }
}

/* ---- decoded Nodes of full-Node requests ----------------------------------------------
 *
 * kube-scheduler sends the same Node objects request after request.  A Node
 * decodes (cache/kobj.c) to a value that depends only on the bytes of the
 * members the scanner records, so the decoded FpNode is kept under exactly
 * those bytes (with their structure) as key: same bytes, same node.  Keys are
 * compared in full; the hash only finds them.  Bounded: past 2 x the largest
 * request + 1024 entries the cache starts over (nodes whose status changed
 * leave stale entries until then).  Read lock for the lookups of a request,
 * write lock to insert its misses.
 */
typedef struct {
    guint64 hash;
    char *key;
    size_t key_len;
    FpNode *node; /* ref */
} NodeEntry;

static GRWLock node_cache_lock; /* static storage: needs no init */
static GHashTable *node_cache;  /* &entry->hash -> NodeEntry* */

static void node_entry_free(gpointer p)
{
    NodeEntry *e = p;
    fp_node_unref(e->node);
    g_free(e->key);
    g_free(e);
}

static void key_span(GByteArray *k, const char *body, FpSpan span, guint8 tag)
{
    guint64 len = span.len;
    g_byte_array_append(k, &tag, 1);
    g_byte_array_append(k, (const guint8 *)&len, sizeof len);
    if (span.len) {
        g_byte_array_append(k, (const guint8 *)body + span.off, (guint)span.len);
    }
}

/* The key of one item: everything fp_nodescan_node_json reads, with its
 * structure. */
static void node_key(GByteArray *k, const char *body, const FpScanNode *nd)
{
    g_byte_array_set_size(k, 0);
    if (!nd->is_object) {
        key_span(k, body, nd->item, 'I');
        return;
    }
    const FpSpan parts[3] = {nd->metadata, nd->spec, nd->status};
    const FpSpan subs[3][3] = {{nd->name, nd->labels, nd->resource_version},
                               {nd->unschedulable, nd->taints, {0, 0}},
                               {nd->allocatable, nd->conditions, {0, 0}}};
    for (int p = 0; p < 3; p++) {
        if (parts[p].len && body[parts[p].off] == '{') {
            guint8 tag = 'O';
            g_byte_array_append(k, &tag, 1);
            for (int q = 0; q < 3; q++) {
                key_span(k, body, subs[p][q], 's');
            }
        } else {
            key_span(k, body, parts[p], 'V');
        }
    }
}

static guint64 key_hash(const guint8 *p, size_t n)
{
    guint64 h = 0x243F6A8885A308D3ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        guint64 w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
    }
    for (; i < n; i++) {
        h = (h ^ p[i]) * 0x100000001B3ULL;
    }
    return h ^ (h >> 32);
}

/* out[i] = a reference on the cached node of item i, else NULL and i is
 * listed in @miss (in order).  Returns the number of misses. */
static guint node_cache_lookup(const char *body, const FpScanNode *tab, guint n, FpNode **out,
                               guint *miss)
{
    guint n_miss = 0;
    GByteArray *k = g_byte_array_new();
    g_rw_lock_reader_lock(&node_cache_lock);
    for (guint i = 0; i < n; i++) {
        out[i] = NULL;
        if (node_cache) {
            node_key(k, body, &tab[i]);
            guint64 h = key_hash(k->data, k->len);
            const NodeEntry *e = g_hash_table_lookup(node_cache, &h);
            if (e && e->key_len == k->len && memcmp(e->key, k->data, k->len) == 0) {
                out[i] = fp_node_ref(e->node);
                continue;
            }
        }
        miss[n_miss++] = i;
    }
    g_rw_lock_reader_unlock(&node_cache_lock);
    g_byte_array_unref(k);
    return n_miss;
}

static void node_cache_insert(const char *body, const FpScanNode *tab, guint n,
                              FpNode *const *nodes, const guint *miss, guint n_miss)
{
    if (n_miss == 0) {
        return;
    }
    GByteArray *k = g_byte_array_new();
    g_rw_lock_writer_lock(&node_cache_lock);
    if (!node_cache) {
        node_cache = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, node_entry_free);
    }
    guint cap = 2 * n + 1024;
    if (g_hash_table_size(node_cache) + n_miss > cap) {
        g_hash_table_remove_all(node_cache);
    }
    for (guint j = 0; j < n_miss && g_hash_table_size(node_cache) < cap; j++) {
        guint i = miss[j];
        node_key(k, body, &tab[i]);
        NodeEntry *e = g_new(NodeEntry, 1);
        e->hash = key_hash(k->data, k->len);
        e->key_len = k->len;
        e->key = g_memdup2(k->data, k->len);
        e->node = fp_node_ref(nodes[i]);
        g_hash_table_replace(node_cache, &e->hash, e);
    }
    g_rw_lock_writer_unlock(&node_cache_lock);
    g_byte_array_unref(k);
}

static gboolean scan_nodes(FpExtenderArgs *args, const char *body, const FpArgsScan *scan,
                           GError **error)
{
    if (body[scan->nodes.off] != '{') {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                    "Nodes: expected a NodeList object or null");
        return FALSE;
    }
    if (scan->items.len && !scan->items_is_array && body[scan->items.off] != 'n') {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                    "Nodes.items: expected an array");
        return FALSE;
    }
    guint n = scan->items_is_array ? scan->n_nodes : 0;
    if (n > FP_PROTOCOL_MAX_NODES || scan->truncated) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_LIMIT,
                    "Nodes.items: %u nodes, more than the limit of %d", n, FP_PROTOCOL_MAX_NODES);
        return FALSE;
    }
    args->nodes = g_ptr_array_new_full(n, (GDestroyNotify)fp_node_unref);
    args->item_spans = g_new(FpSpan, n ? n : 1);
    g_ptr_array_set_size(args->nodes, (gint)n);
    g_autofree guint *miss = g_new(guint, n ? n : 1);
    guint n_miss = node_cache_lookup(body, scan->node_tab, n, (FpNode **)args->nodes->pdata, miss);
    for (guint k = 0; k < n_miss; k++) {
        guint i = miss[k];
        g_autoptr(GError) local = NULL;
        json_t *obj = fp_nodescan_node_json(body, &scan->node_tab[i]);
        FpNode *node = fp_node_from_json(obj, &local);
        json_decref(obj);
        if (!node) {
            /* the first failing item: cached nodes all decoded */
            g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE, "Nodes.items[%u]: %s", i,
                        local->message);
            return FALSE;
        }
        args->nodes->pdata[i] = node;
    }
    node_cache_insert(body, scan->node_tab, n, (FpNode **)args->nodes->pdata, miss, n_miss);
    for (guint i = 0; i < n; i++) {
        args->item_spans[i] = scan->node_tab[i].item;
    }
    return TRUE;
}

static FpExtenderArgs *args_from_scan(const char *body, const FpArgsScan *scan, GError **error)
{
    g_autoptr(FpExtenderArgs) args = g_new0(FpExtenderArgs, 1);
    args->body = body;
    if (!scan->root_is_object) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                    "ExtenderArgs: expected a JSON object");
        return NULL;
    }
    if (scan->pod.len == 0 || body[scan->pod.off] == 'n') {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE, "ExtenderArgs: missing Pod");
        return NULL;
    }
    if (body[scan->pod.off] != '{') {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                    "Pod: expected a Pod object");
        return NULL;
    }
    g_autoptr(GError) local = NULL;
    const char *pod_bytes = body + scan->pod.off;
    bool cacheable = scan->pod.len <= POD_CACHE_MAX_BYTES;
    guint32 pod_hash = cacheable ? fp_fnv1a(FP_FNV1A_INIT, pod_bytes, scan->pod.len) : 0;
    args->pod = cacheable ? pod_cache_get(pod_bytes, scan->pod.len, pod_hash) : NULL;
    if (!args->pod) {
        json_t *pod = fp_nodescan_value(body, scan->pod);
        args->pod = fp_pod_from_json(pod, FP_POD_FULL, &local);
        json_decref(pod);
        if (args->pod && cacheable) {
            pod_cache_put(pod_bytes, scan->pod.len, pod_hash, args->pod);
        }
    }
    if (!args->pod) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE, "Pod: %s", local->message);
        return NULL;
    }
    if (scan->node_names.len && body[scan->node_names.off] != 'n') {
        if (body[scan->node_names.off] != '[') {
            g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                        "NodeNames: expected an array of strings or null");
            return NULL;
        }
        if (!scan_node_names(args, body, scan->node_names, error)) {
            return NULL;
        }
    } else if (scan->nodes.len && body[scan->nodes.off] != 'n') {
        if (!scan_nodes(args, body, scan, error)) {
            return NULL;
        }
    } else {
        return no_candidates(error);
    }
    return g_steal_pointer(&args);
}

/* Whether two candidates share a name: an open-addressing set of indexes.
 * Keeps each name's fp_view_name_hash in args->name_hashes (the view's
 * lookup reuses them). */
static bool names_unique(FpExtenderArgs *args)
{
    guint n = fp_extender_args_count(args);
    args->name_hashes = g_new(guint32, MAX(n, 1));
    for (guint i = 0; i < n; i++) {
        args->name_hashes[i] = fp_view_name_hash(fp_extender_args_name(args, i));
    }
    if (n < 2) {
        return true;
    }
    guint cap = 1;
    while (cap < 2 * n) {
        cap <<= 1;
    }
    g_autofree guint *slots = g_new(guint, cap);
    memset(slots, 0xff, cap * sizeof *slots);
    for (guint i = 0; i < n; i++) {
        const char *name = fp_extender_args_name(args, i);
        guint h = args->name_hashes[i] & (cap - 1);
        while (slots[h] != G_MAXUINT) {
            if (args->name_hashes[slots[h]] == args->name_hashes[i] &&
                strcmp(fp_extender_args_name(args, slots[h]), name) == 0) {
                return false;
            }
            h = (h + 1) & (cap - 1);
        }
        slots[h] = i;
    }
    return true;
}

FpExtenderArgs *fp_extender_args_parse_dom(const char *body, size_t len, GError **error)
{
    json_t *root = fp_protocol_parse_json(body, len, error);
    FpExtenderArgs *args = root ? args_from_dom(root, error) : NULL;
    if (args) {
        args->body = body;
        args->unique_names = names_unique(args);
    }
    return args;
}

FpExtenderArgs *fp_extender_args_parse(const char *body, size_t len, GError **error)
{
    FpArgsScan scan;
    FpExtenderArgs *args;
    if (fp_nodescan_args(body, len, FP_PROTOCOL_MAX_NODES, &scan)) {
        args = args_from_scan(body, &scan, error);
        fp_args_scan_clear(&scan);
    } else {
        /* Not JSON by jansson's rules: jansson says why (line, column).
         * Should jansson accept it after all, its DOM decides. */
        json_t *root = fp_protocol_parse_json(body, len, error);
        if (!root) {
            return NULL;
        }
        static gsize warned = 0;
        if (g_once_init_enter(&warned)) {
            g_warning("request body scanner rejected a body that jansson accepts; "
                      "decoding with jansson");
            g_once_init_leave(&warned, 1);
        }
        args = args_from_dom(root, error);
    }
    if (args) {
        args->body = body;
        args->unique_names = names_unique(args);
    }
    return args;
}

/* Error texts reach kube-scheduler, whose older versions pass them to a
 * printf-style formatter: keep '%' out. */
static json_t *error_string(const char *text)
{
    if (!text || !strchr(text, '%')) {
        return json_string(text ? text : "");
    }
    g_autoptr(GString) s = g_string_new(NULL);
    for (const char *p = text; *p; p++) {
        if (*p == '%') {
            g_string_append(s, " percent");
        } else {
            g_string_append_c(s, *p);
        }
    }
    return json_string(s->str);
}

static char *dump(json_t *v, size_t *len)
{
    char *out = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (!out) { /* only on out of memory, where GLib would abort anyway */
        out = strdup("{\"Error\":\"flexplace: out of memory\"}");
        g_assert(out);
    }
    /* Hand over a g_malloc'ed copy: callers free with g_free. */
    size_t n = strlen(out);
    char *copy = g_memdup2(out, n + 1);
    free(out);
    if (len) {
        *len = n;
    }
    return copy;
}

/* A JSON string as jansson's dump_string writes it with JSON_COMPACT:
 * '"' and '\\' escaped, control characters as \b \f \n \r \t or \u00XX,
 * everything else (UTF-8 included) as is. */
/* Room for @n more bytes at the end of @s; returns where they go and counts
 * them in s->len (finish() terminates the string). */
static inline char *grow(GString *s, gsize n)
{
    if (s->len + n >= s->allocated_len) {
        gsize len = s->len;
        g_string_set_size(s, len + n);
        s->len = len;
    }
    char *d = s->str + s->len;
    s->len += n;
    return d;
}

/* JSON's two-character escape of @c (backslash and a letter, or the quote
 * or backslash itself), or NULL when it has none (other control characters
 * are written as \u00XX). */
static const char *json_short_escape(unsigned char c)
{
    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\b':
        return "\\b";
    case '\f':
        return "\\f";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    default:
        return NULL;
    }
}

static void put_string(GString *s, const char *str)
{
    /* Node names and reasons need no escapes: one copy. */
    size_t n = 0;
    for (unsigned char c; (c = (unsigned char)str[n]) >= 0x20 && c != '"' && c != '\\';) {
        n++;
    }
    if (str[n] == '\0') {
        char *d = grow(s, n + 2);
        d[0] = '"';
        memcpy(d + 1, str, n);
        d[n + 1] = '"';
        return;
    }
    g_string_append_c(s, '"');
    const char *run = str;
    for (const char *p = str;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c != 0 && c != '"' && c != '\\' && c >= 0x20) {
            continue;
        }
        g_string_append_len(s, run, p - run);
        if (c == 0) {
            break;
        }
        const char *esc = json_short_escape(c);
        if (esc) {
            g_string_append(s, esc);
        } else {
            g_string_append_printf(s, "\\u%04X", c);
        }
        run = p + 1;
    }
    g_string_append_c(s, '"');
}

static const char *verdict_reason(const FpVerdict *v)
{
    return v->reason ? v->reason : "rejected by flexplace";
}

/* Error text for the reply, '%' spelled out (see error_string). */
static char *error_text_clean(const char *text)
{
    json_t *v = error_string(text);
    char *out = g_strdup(json_string_value(v));
    json_decref(v);
    return out;
}

static char *finish(GString *s, size_t *len)
{
    s->str[s->len] = '\0'; /* after grow() */
    if (len) {
        *len = s->len;
    }
    return g_string_free(s, FALSE);
}

/* The failure maps of a filter result: @unresolvable selects which. */
static void put_failed(GString *s, const FpExtenderArgs *args, const FpVerdict *verdicts,
                       const char *error_text, bool unresolvable)
{
    g_string_append_c(s, '{');
    bool first = true;
    guint n = fp_extender_args_count(args);
    for (guint i = 0; !error_text && i < n; i++) {
        if (verdicts[i].pass || verdicts[i].omit || verdicts[i].unresolvable != unresolvable) {
            continue;
        }
        if (!first) {
            g_string_append_c(s, ',');
        }
        first = false;
        put_string(s, fp_extender_args_name(args, i));
        g_string_append_c(s, ':');
        put_string(s, verdict_reason(&verdicts[i]));
    }
    g_string_append_c(s, '}');
}

/* The jansson encoder, for requests that repeat a name (a JSON object keeps
 * one member per key: the last value, at the first key's place). */
static char *encode_filter_dom(const FpExtenderArgs *args, const FpVerdict *verdicts,
                               const char *error_text, size_t *len)
{
    json_t *failed = json_object();
    json_t *unresolvable = json_object();
    json_t *passed = json_array();
    guint n = fp_extender_args_count(args);
    for (guint i = 0; !error_text && i < n; i++) {
        const char *name = fp_extender_args_name(args, i);
        if (verdicts[i].omit) {
            continue; /* the short list left it out of the answer */
        }
        if (verdicts[i].pass) {
            if (args->nodes && args->node_items) {
                json_array_append(passed, json_array_get(args->node_items, i));
            } else if (args->nodes) {
                json_array_append_new(passed, fp_nodescan_value(args->body, args->item_spans[i]));
            } else {
                json_array_append_new(passed, json_string(name));
            }
        } else {
            json_object_set_new(verdicts[i].unresolvable ? unresolvable : failed, name,
                                json_string(verdict_reason(&verdicts[i])));
        }
    }
    json_t *out = json_object();
    if (args->nodes) {
        json_t *list = json_object();
        json_object_set_new(list, "metadata", json_object());
        json_object_set_new(list, "items", passed);
        json_object_set_new(out, "Nodes", list);
        json_object_set_new(out, "NodeNames", json_null());
    } else {
        json_object_set_new(out, "Nodes", json_null());
        json_object_set_new(out, "NodeNames", passed);
    }
    json_object_set_new(out, "FailedNodes", failed);
    json_object_set_new(out, "FailedAndUnresolvableNodes", unresolvable);
    json_object_set_new(out, "Error", error_string(error_text));
    return dump(out, len);
}

/* Candidate @i as the reply names it: its name, or its Node item copied
 * from the request (re-encoded when the request was decoded as a DOM). */
static void put_candidate(GString *s, const FpExtenderArgs *args, guint i)
{
    if (!args->nodes) {
        put_string(s, args->node_names[i]);
    } else if (args->item_spans) {
        g_string_append_len(s, args->body + args->item_spans[i].off,
                            (gssize)args->item_spans[i].len);
    } else {
        char *item =
            json_dumps(json_array_get(args->node_items, i), JSON_COMPACT | JSON_ENCODE_ANY);
        g_string_append(s, item ? item : "null");
        free(item);
    }
}

/* The candidates that passed, comma-separated (none with @error_text):
 * Node items copied from the request (or re-encoded), or names. */
static void put_passing(GString *s, const FpExtenderArgs *args, const FpVerdict *verdicts,
                        const char *error_text)
{
    guint n = fp_extender_args_count(args);
    bool first = true;
    for (guint i = 0; !error_text && i < n; i++) {
        if (!verdicts[i].pass || verdicts[i].omit) {
            continue;
        }
        if (!first) {
            g_string_append_c(s, ',');
        }
        first = false;
        put_candidate(s, args, i);
    }
}

char *fp_encode_filter_result(const FpExtenderArgs *args, const FpVerdict *verdicts,
                              const char *error_text, size_t *len)
{
    if (!args->unique_names || (args->nodes && !args->item_spans && !args->node_items)) {
        return encode_filter_dom(args, verdicts, error_text, len);
    }
    guint n = fp_extender_args_count(args);
    /* Written directly: byte for byte what the jansson encoder writes, except
     * that a passing Node is copied from the request instead of re-encoded. */
    GString *s = g_string_sized_new(128 + (gsize)n * 48);
    if (args->nodes) {
        g_string_append(s, "{\"Nodes\":{\"metadata\":{},\"items\":[");
        put_passing(s, args, verdicts, error_text);
        g_string_append(s, "]},\"NodeNames\":null");
    } else {
        g_string_append(s, "{\"Nodes\":null,\"NodeNames\":[");
        put_passing(s, args, verdicts, error_text);
        g_string_append_c(s, ']');
    }
    g_string_append(s, ",\"FailedNodes\":");
    put_failed(s, args, verdicts, error_text, false);
    g_string_append(s, ",\"FailedAndUnresolvableNodes\":");
    put_failed(s, args, verdicts, error_text, true);
    g_string_append(s, ",\"Error\":");
    g_autofree char *err = error_text_clean(error_text);
    put_string(s, err);
    g_string_append_c(s, '}');
    return finish(s, len);
}

char *fp_encode_filter_listed(const FpExtenderArgs *args, const FpVerdict *verdicts,
                              const guint *listed, guint n_listed, size_t *len)
{
    if (!args->unique_names || (args->nodes && !args->item_spans && !args->node_items)) {
        return encode_filter_dom(args, verdicts, NULL, len);
    }
    GString *s = g_string_sized_new(160 + (gsize)n_listed * 48);
    g_string_append(s, args->nodes ? "{\"Nodes\":{\"metadata\":{},\"items\":["
                                   : "{\"Nodes\":null,\"NodeNames\":[");
    for (guint k = 0; k < n_listed; k++) {
        guint i = listed[k];
        if (k > 0) {
            g_string_append_c(s, ',');
        }
        put_candidate(s, args, i);
    }
    /* every other candidate is omitted: both fail maps are empty */
    g_string_append(s, args->nodes ? "]},\"NodeNames\":null" : "]");
    g_string_append(s, ",\"FailedNodes\":{},\"FailedAndUnresolvableNodes\":{},\"Error\":\"\"}");
    return finish(s, len);
}

/* A HostPriorityList of @args' candidates: scores from @verdicts (0 for
 * those that did not pass), else from @scores.  A score of 0 is left out:
 * kube-scheduler adds nothing for a node the list does not name, exactly
 * what 0 adds (extender-protocol.md, section 4.2). */
static char *encode_priorities(const FpExtenderArgs *args, const FpVerdict *verdicts,
                               const guint8 *scores, size_t *len)
{
    guint n = fp_extender_args_count(args);
    GString *s = g_string_sized_new(8 + (gsize)n * 48);
    g_string_append_c(s, '[');
    for (guint i = 0; i < n; i++) {
        int score = verdicts ? (verdicts[i].pass ? CLAMP(verdicts[i].score, 0, 10) : 0)
                             : CLAMP(scores[i], 0, 10);
        if (score == 0) {
            continue;
        }
        if (s->len > 1) {
            g_string_append_c(s, ',');
        }
        memcpy(grow(s, 8), "{\"Host\":", 8);
        put_string(s, fp_extender_args_name(args, i));
        /* 0..10: no printf per entry on a 5,000-node reply */
        if (score == 10) {
            memcpy(grow(s, 12), ",\"Score\":10}", 12);
        } else {
            char *d = grow(s, 11);
            memcpy(d, ",\"Score\":", 9);
            d[9] = (char)('0' + score);
            d[10] = '}';
        }
    }
    g_string_append_c(s, ']');
    return finish(s, len);
}

char *fp_encode_priorities(const FpExtenderArgs *args, const FpVerdict *verdicts, size_t *len)
{
    return encode_priorities(args, verdicts, NULL, len);
}

char *fp_encode_priority_scores(const FpExtenderArgs *args, const guint8 *scores, size_t *len)
{
    return encode_priorities(args, NULL, scores, len);
}

static char *dup_member_string(json_t *root, const char *name, gboolean required, GError **error)
{
    json_t *v = fp_protocol_member(root, name);
    if (!v || json_is_null(v)) {
        if (required) {
            g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                        "ExtenderBindingArgs: missing %s", name);
        }
        return required ? NULL : g_strdup("");
    }
    if (!json_is_string(v)) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                    "ExtenderBindingArgs: %s must be a string", name);
        return NULL;
    }
    return g_strdup(json_string_value(v));
}

void fp_binding_args_free(FpBindingArgs *args)
{
    if (!args) {
        return;
    }
    g_free(args->pod_name);
    g_free(args->pod_namespace);
    g_free(args->pod_uid);
    g_free(args->node);
    g_free(args);
}

FpBindingArgs *fp_binding_args_parse(const char *body, size_t len, GError **error)
{
    json_t *root = fp_protocol_parse_json(body, len, error);
    if (!root) {
        return NULL;
    }
    g_autoptr(FpBindingArgs) args = g_new0(FpBindingArgs, 1);
    gboolean ok = json_is_object(root);
    if (!ok) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                    "ExtenderBindingArgs: expected a JSON object");
    }
    ok = ok && (args->pod_name = dup_member_string(root, "PodName", TRUE, error)) != NULL;
    ok = ok && (args->pod_namespace = dup_member_string(root, "PodNamespace", FALSE, error));
    ok = ok && (args->pod_uid = dup_member_string(root, "PodUID", FALSE, error)) != NULL;
    ok = ok && (args->node = dup_member_string(root, "Node", TRUE, error)) != NULL;
    json_decref(root);
    if (!ok) {
        return NULL;
    }
    if (!*args->pod_name || !*args->node) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                    "ExtenderBindingArgs: PodName and Node must not be empty");
        return NULL;
    }
    if (!*args->pod_namespace) {
        g_free(args->pod_namespace);
        args->pod_namespace = g_strdup("default");
    }
    return g_steal_pointer(&args);
}

char *fp_encode_binding_result(const char *error_text, size_t *len)
{
    json_t *out = json_object();
    json_object_set_new(out, "Error", error_string(error_text));
    return dump(out, len);
}
