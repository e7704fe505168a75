/*
 * cache/snapshot.c - Nodes and Pods from kubectl-style documents.
 */
#include "cache/snapshot.h"

#include <stdbool.h>
#include <string.h>

#include "cache/kobj.h"

GQuark fp_snapshot_error_quark(void)
{
    return g_quark_from_static_string("fp-snapshot-error-quark");
}

typedef enum { ITEM_OTHER, ITEM_NODE, ITEM_POD, ITEM_NODEPOOL } ItemKind;

/* Where the items go. */
typedef struct {
    GPtrArray *nodes;
    GPtrArray *pods;
    GPtrArray *nodepools; /* FpSnapshotObject*, or NULL: skipped */
    guint *skipped;
} Sink;

static bool is_karpenter(const json_t *item)
{
    const char *api = json_string_value(json_object_get(item, "apiVersion"));
    return !api || g_str_has_prefix(api, "karpenter.sh/");
}

static ItemKind kind_of(const json_t *item, ItemKind list_default)
{
    const char *kind = json_string_value(json_object_get(item, "kind"));
    if (kind) {
        return !strcmp(kind, "Node")                             ? ITEM_NODE
               : !strcmp(kind, "Pod")                            ? ITEM_POD
               : !strcmp(kind, "NodePool") && is_karpenter(item) ? ITEM_NODEPOOL
                                                                 : ITEM_OTHER;
    }
    return list_default;
}

void fp_snapshot_object_free(FpSnapshotObject *o)
{
    if (o) {
        json_decref(o->object);
        g_free(o->where);
        g_free(o);
    }
}

static void keep_nodepool(const FpDocs *docs, const json_t *item, const Sink *sink)
{
    if (!sink->nodepools) {
        if (sink->skipped) {
            (*sink->skipped)++;
        }
        return;
    }
    guint line = 0, col = 0;
    fp_docs_position(docs, item, &line, &col);
    FpSnapshotObject *o = g_new0(FpSnapshotObject, 1);
    o->object = json_deep_copy(item); /* the documents go away with the load */
    o->where = g_strdup_printf("%s:%u:%u", fp_docs_name(docs), line, col);
    g_ptr_array_add(sink->nodepools, o);
}

static gboolean add_item(const FpDocs *docs, const json_t *item, ItemKind kind, guint doc,
                         size_t index, const Sink *sink, GError **error)
{
    g_autoptr(GError) local = NULL;
    GPtrArray *nodes = sink->nodes;
    GPtrArray *pods = sink->pods;
    guint *skipped = sink->skipped;
    if (kind == ITEM_NODEPOOL) {
        keep_nodepool(docs, item, sink);
    } else if (kind == ITEM_NODE) {
        FpNode *node = fp_node_from_json(item, &local);
        if (node) {
            g_ptr_array_add(nodes, node);
        }
    } else if (kind == ITEM_POD) {
        FpPod *pod = fp_pod_from_json(item, FP_POD_AUTO, &local);
        if (pod && (!pod->uid || !*pod->uid)) {
            /* kubectl always prints a UID; a hand-written snapshot may not.
             * The view keys pods by UID, so give it one from the name. */
            g_free(pod->uid);
            pod->uid = g_strdup_printf("snapshot:%s/%s", pod->ns, pod->name);
        }
        if (pod) {
            g_ptr_array_add(pods, pod);
        }
    } else if (skipped) {
        (*skipped)++;
    }
    if (local) {
        guint line = 0, col = 0;
        fp_docs_position(docs, item, &line, &col);
        g_set_error(error, FP_SNAPSHOT_ERROR, FP_SNAPSHOT_ERROR_INVALID,
                    "%s:%u:%u: document %u, item %zu: %s", fp_docs_name(docs), line, col, doc + 1,
                    index, local->message);
        return FALSE;
    }
    return TRUE;
}

static gboolean from_docs(const FpDocs *docs, const Sink *sink, GError **error)
{
    for (guint d = 0; d < fp_docs_count(docs); d++) {
        json_t *root = fp_docs_get(docs, d);
        if (!json_is_object(root)) {
            g_set_error(error, FP_SNAPSHOT_ERROR, FP_SNAPSHOT_ERROR_INVALID,
                        "%s: document %u is not an object (expected a List, NodeList, PodList, "
                        "Node or Pod)",
                        fp_docs_name(docs), d + 1);
            return FALSE;
        }
        json_t *items = json_object_get(root, "items");
        if (json_is_array(items)) {
            const char *kind = json_string_value(json_object_get(root, "kind"));
            ItemKind dflt = !kind                                                 ? ITEM_OTHER
                            : !strcmp(kind, "NodeList")                           ? ITEM_NODE
                            : !strcmp(kind, "PodList")                            ? ITEM_POD
                            : !strcmp(kind, "NodePoolList") && is_karpenter(root) ? ITEM_NODEPOOL
                                                                                  : ITEM_OTHER;
            size_t i;
            json_t *item;
            json_array_foreach(items, i, item)
            {
                if (!json_is_object(item)) {
                    g_set_error(error, FP_SNAPSHOT_ERROR, FP_SNAPSHOT_ERROR_INVALID,
                                "%s: document %u, item %zu is not an object", fp_docs_name(docs),
                                d + 1, i);
                    return FALSE;
                }
                if (!add_item(docs, item, kind_of(item, dflt), d, i, sink, error)) {
                    return FALSE;
                }
            }
        } else if (!add_item(docs, root, kind_of(root, ITEM_OTHER), d, 0, sink, error)) {
            return FALSE;
        }
    }
    return TRUE;
}

gboolean fp_snapshot_from_docs(const FpDocs *docs, GPtrArray *nodes, GPtrArray *pods,
                               guint *skipped, GError **error)
{
    Sink sink = {.nodes = nodes, .pods = pods, .skipped = skipped};
    return from_docs(docs, &sink, error);
}

static gboolean install(FpView *view, FpDocs *docs, GPtrArray *nodepools, GError **error)
{
    GPtrArray *nodes = g_ptr_array_new_with_free_func((GDestroyNotify)fp_node_unref);
    GPtrArray *pods = g_ptr_array_new_with_free_func((GDestroyNotify)fp_pod_unref);
    Sink sink = {.nodes = nodes, .pods = pods, .nodepools = nodepools};
    guint kept = nodepools ? nodepools->len : 0;
    if (!from_docs(docs, &sink, error)) {
        if (nodepools) {
            g_ptr_array_set_size(nodepools, kept);
        }
        g_ptr_array_unref(nodes);
        g_ptr_array_unref(pods);
        return FALSE;
    }
    fp_view_replace_nodes(view, nodes);
    fp_view_replace_pods(view, pods);
    fp_view_set_synced(view, FP_KIND_NODES, true);
    fp_view_set_synced(view, FP_KIND_PODS, true);
    fp_view_touch(view);
    return TRUE;
}

gboolean fp_snapshot_load_file(FpView *view, const char *path, GError **error)
{
    return fp_snapshot_load_file_nodepools(view, path, NULL, error);
}

gboolean fp_snapshot_load_buffer(FpView *view, const char *buf, size_t len, const char *name,
                                 GError **error)
{
    return fp_snapshot_load_buffer_nodepools(view, buf, len, name, NULL, error);
}

gboolean fp_snapshot_load_file_nodepools(FpView *view, const char *path, GPtrArray *nodepools,
                                         GError **error)
{
    g_autoptr(FpDocs) docs = fp_docs_load_file(path, FP_SNAPSHOT_MAX_BYTES, error);
    return docs && install(view, docs, nodepools, error);
}

gboolean fp_snapshot_load_buffer_nodepools(FpView *view, const char *buf, size_t len,
                                           const char *name, GPtrArray *nodepools, GError **error)
{
    g_autoptr(FpDocs) docs = fp_docs_parse(buf, len, name, error);
    return docs && install(view, docs, nodepools, error);
}
