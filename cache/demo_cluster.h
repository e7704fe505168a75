/*
 * cache/demo_cluster.h - the bundled demo cluster (serve --demo,
 * score/simulate --demo).
 *
 * cache/demo-cluster.json is compiled into the library at build time
 * (cache/CMakeLists.txt), so the Quick start needs no files.  The bytes are a
 * snapshot document, NUL-terminated; the length excludes the NUL.
 */
#ifndef FP_CACHE_DEMO_CLUSTER_H
#define FP_CACHE_DEMO_CLUSTER_H

#include <glib.h>
#include <stddef.h>

#include "cache/view.h"

G_BEGIN_DECLS

extern const unsigned char fp_demo_cluster_json[];
extern const size_t fp_demo_cluster_json_len;

/* Loads the bundled demo cluster into @view, as fp_snapshot_load_buffer()
 * does with any snapshot document. */
gboolean fp_demo_cluster_load(FpView *view, GError **error);
/* The same, with the demo's Karpenter NodePools (if it holds any) appended
 * to @nodepools as fp_snapshot_load_buffer_nodepools() does. */
gboolean fp_demo_cluster_load_nodepools(FpView *view, GPtrArray *nodepools, GError **error);

G_END_DECLS

#endif /* FP_CACHE_DEMO_CLUSTER_H */
