/*
 * cache/snapshot.c - Nodes and Pods from kubectl-style documents.
 */
#include "cache/snapshot.h"

#include <string.h>

#include "cache/kobj.h"

GQuark fp_snapshot_error_quark(void)
{
    return g_quark_from_static_string("fp-snapshot-error-quark");
}

typedef enum { ITEM_OTHER, ITEM_NODE, ITEM_POD } ItemKind;

static ItemKind kind_of(const json_t *item, ItemKind list_default)
{
    const char *kind = json_string_value(json_object_get(item, "kind"));
    if (kind) {
        return !strcmp(kind, "Node") ? ITEM_NODE : !strcmp(kind, "Pod") ? ITEM_POD : ITEM_OTHER;
    }
    return list_default;
}

static gboolean add_item(const FpDocs *docs, const json_t *item, ItemKind kind, guint doc,
                         size_t index, GPtrArray *nodes, GPtrArray *pods, guint *skipped,
                         GError **error)
{
    g_autoptr(GError) local = NULL;
    if (kind == ITEM_NODE) {
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

gboolean fp_snapshot_from_docs(const FpDocs *docs, GPtrArray *nodes, GPtrArray *pods,
                               guint *skipped, GError **error)
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
            ItemKind dflt = !kind                       ? ITEM_OTHER
                            : !strcmp(kind, "NodeList") ? ITEM_NODE
                            : !strcmp(kind, "PodList")  ? ITEM_POD
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
                if (!add_item(docs, item, kind_of(item, dflt), d, i, nodes, pods, skipped, error)) {
                    return FALSE;
                }
            }
        } else if (!add_item(docs, root, kind_of(root, ITEM_OTHER), d, 0, nodes, pods, skipped,
                             error)) {
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean install(FpView *view, FpDocs *docs, GError **error)
{
    GPtrArray *nodes = g_ptr_array_new_with_free_func((GDestroyNotify)fp_node_unref);
    GPtrArray *pods = g_ptr_array_new_with_free_func((GDestroyNotify)fp_pod_unref);
    if (!fp_snapshot_from_docs(docs, nodes, pods, NULL, error)) {
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
    g_autoptr(FpDocs) docs = fp_docs_load_file(path, FP_SNAPSHOT_MAX_BYTES, error);
    return docs && install(view, docs, error);
}

gboolean fp_snapshot_load_buffer(FpView *view, const char *buf, size_t len, const char *name,
                                 GError **error)
{
    g_autoptr(FpDocs) docs = fp_docs_parse(buf, len, name, error);
    return docs && install(view, docs, error);
}
