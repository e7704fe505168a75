/*
 * cache/demo_cluster.c - load the bundled demo cluster (cache/demo_cluster.h).
 */
#include "cache/demo_cluster.h"

#include "cache/snapshot.h"

gboolean fp_demo_cluster_load(FpView *view, GError **error)
{
    return fp_demo_cluster_load_nodepools(view, NULL, error);
}

gboolean fp_demo_cluster_load_nodepools(FpView *view, GPtrArray *nodepools, GError **error)
{
    return fp_snapshot_load_buffer_nodepools(view, (const char *)fp_demo_cluster_json,
                                             fp_demo_cluster_json_len, "demo-cluster.json",
                                             nodepools, error);
}
