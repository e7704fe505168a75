/*
 * test/fuzz/fuzz_snapshot.c - YAML/JSON documents (cache/yamljson.c, the
 * reader behind every user file) and cluster snapshots (--cluster FILE).
 *
 * Input: a file as `kubectl get nodes,pods -A -o yaml|json` would print it,
 * or anything else.  Documents that parse report a position for their root,
 * and their Nodes and Pods load into a view whose counts match what was
 * decoded.
 */
#include <string.h>

#include "cache/snapshot.h"
#include "cache/yamljson.h"
#include "test/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fp_fuzz_init();
    GError *error = NULL;
    FpDocs *docs = fp_docs_parse((const char *)data, size, "fuzz.yaml", &error);
    if (!docs) {
        FP_FUZZ_CHECK(error != NULL && error->message[0] != '\0');
        g_error_free(error);
        return 0;
    }
    for (guint i = 0; i < fp_docs_count(docs); i++) {
        json_t *root = fp_docs_get(docs, i);
        FP_FUZZ_CHECK(root != NULL);
        guint line = 0, column = 0;
        if (json_is_object(root) || json_is_array(root)) {
            FP_FUZZ_CHECK(fp_docs_position(docs, root, &line, &column));
            FP_FUZZ_CHECK(line >= 1 && column >= 1);
        }
    }
    GPtrArray *nodes = g_ptr_array_new_with_free_func((GDestroyNotify)fp_node_unref);
    GPtrArray *pods = g_ptr_array_new_with_free_func((GDestroyNotify)fp_pod_unref);
    guint skipped = 0;
    if (fp_snapshot_from_docs(docs, nodes, pods, &skipped, &error)) {
        FpView *view = fp_view_new();
        guint n_nodes = nodes->len;
        /* The view takes the arrays and their elements. */
        fp_view_replace_nodes(view, g_steal_pointer(&nodes));
        fp_view_replace_pods(view, g_steal_pointer(&pods));
        FP_FUZZ_CHECK(fp_view_node_count(view) <= n_nodes);
        fp_view_free(view);
    } else {
        FP_FUZZ_CHECK(error != NULL && error->message[0] != '\0');
        g_clear_error(&error);
        g_ptr_array_unref(nodes);
        g_ptr_array_unref(pods);
    }
    fp_docs_free(docs);
    return 0;
}
