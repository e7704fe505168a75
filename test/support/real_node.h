/*
 * test/support/real_node.h - a Node from one of the real node files of the
 * shared reference data (nodes/: kubectl describe text, YAML Node objects
 * or excerpts, JSON label maps).
 *
 * A loose reader: labels are "key=value" (describe) or "key: value" lines
 * (YAML) outside annotation and taint sections, and the keys of a JSON
 * object; a GPU resource name (nvidia.com/gpu, nvidia.com/gpu.shared,
 * amd.com/gpu, nvidia.com/mig-<g>g.<m>gb) with a number is allocatable
 * (allocatable wins over capacity).  The node is named @name.  Aborts the
 * test when the file cannot be read.
 */
#ifndef FP_TEST_SUPPORT_REAL_NODE_H
#define FP_TEST_SUPPORT_REAL_NODE_H

#include "scoring/model.h"

FpNode *fp_test_node_from_file(const char *path, const char *name);

#endif
