/*
 * cache/snapshot.h - a cluster view from a file instead of the API server.
 *
 * Purpose: `flexplace serve --cluster FILE`, `flexplace score --cluster FILE`
 * and the bundled demo read what `kubectl get nodes,pods -A -o json` (or
 * `-o yaml`) prints: a List of Nodes and Pods, or a NodeList and a PodList,
 * or bare Node and Pod documents, in one or several YAML/JSON documents.
 * Items carry their kind; items of a NodeList/PodList may omit it.
 * Karpenter NodePools (kind NodePool, apiVersion karpenter.sh/v1 or
 * v1beta1, as `kubectl get nodes,pods,nodepools -o yaml` lists them; items
 * of a NodePoolList) are kept as JSON for a caller that asks for them (the
 * dry run's pool templates, parsed by cache/nodepool.h once the policy is
 * known), with where they were read.  Other kinds (Services, Deployments
 * ...) are skipped.
 *
 * Ownership: fills caller-provided arrays with new references.
 * Errors: FP_SNAPSHOT_ERROR with the file name and item index.
 * Thread context: any thread.
 */
#ifndef FP_CACHE_SNAPSHOT_H
#define FP_CACHE_SNAPSHOT_H

#include <glib.h>
#include <stddef.h>

#include "cache/view.h"
#include "cache/yamljson.h"

G_BEGIN_DECLS

#define FP_SNAPSHOT_ERROR (fp_snapshot_error_quark())
GQuark fp_snapshot_error_quark(void);
typedef enum { FP_SNAPSHOT_ERROR_INVALID } FpSnapshotError;

/* Largest snapshot file read (a 5,000-node cluster with its pods). */
#define FP_SNAPSHOT_MAX_BYTES ((size_t)1 << 30)

/* Append the Nodes and Pods of @docs to @nodes / @pods (FpNode*, FpPod*).
 * @skipped (may be NULL) counts items of other kinds. */
gboolean fp_snapshot_from_docs(const FpDocs *docs, GPtrArray *nodes, GPtrArray *pods,
                               guint *skipped, GError **error);
/* An object the snapshot keeps for its caller, and where it was read. */
typedef struct {
    json_t *object; /* a reference (a copy of the document's) */
    char *where;    /* "FILE:LINE:COLUMN" */
} FpSnapshotObject;
void fp_snapshot_object_free(FpSnapshotObject *o);

/* Read a snapshot file (YAML or JSON) and install it in @view. */
gboolean fp_snapshot_load_file(FpView *view, const char *path, GError **error);
/* Same from a buffer (the embedded demo); @name is used in messages. */
gboolean fp_snapshot_load_buffer(FpView *view, const char *buf, size_t len, const char *name,
                                 GError **error);

/* As the two above, also appending the file's NodePools to @nodepools
 * (FpSnapshotObject*, free func fp_snapshot_object_free; NULL: skip them).
 * Nothing is appended when the load fails. */
gboolean fp_snapshot_load_file_nodepools(FpView *view, const char *path, GPtrArray *nodepools,
                                         GError **error);
gboolean fp_snapshot_load_buffer_nodepools(FpView *view, const char *buf, size_t len,
                                           const char *name, GPtrArray *nodepools, GError **error);

G_END_DECLS

#endif
