/*
 * cache/gpu_inventory.h - what each GPU resource of a node is, read from its
 * labels: the node's GPU inventory.
 *
 * Purpose: for every GPU-like extended resource a node offers
 * (`nvidia.com/gpu`, `nvidia.com/gpu.shared`, `nvidia.com/mig-<profile>`,
 * `amd.com/gpu`, and any other the policy's gpuResources names) one device
 * class (scoring/device.h): product, memory per device, fraction of a
 * physical GPU, and, under the policy, price and relative throughput per
 * device.  The view computes it when a Node is applied (and when the policy
 * changes), never per request; the engine reads the class of the resource a
 * pod requests.
 *
 * Label schemes read (first match wins, per resource):
 *  - NVIDIA GPU Feature Discovery (GPU Operator): the policy's gpuProduct /
 *    gpuMemory keys (default nvidia.com/gpu.product, nvidia.com/gpu.memory
 *    in MiB); MIG `single` (product "<gpu>-MIG-<profile>" on nvidia.com/gpu,
 *    memory label = the slice's), MIG `mixed` (nvidia.com/mig-<profile>
 *    resources, labels nvidia.com/mig-<profile>.product / .memory /
 *    .replicas / .sharing-strategy); time-slicing with renameByDefault false
 *    ("<gpu>-SHARED" product, nvidia.com/gpu.replicas,
 *    nvidia.com/gpu.sharing-strategy=time-slicing) and true (resource
 *    nvidia.com/gpu.shared); MPS (sharing-strategy=mps: memory / replicas).
 *  - The AMD node labeller: amd.com/gpu.product-name, .device-id, .vram,
 *    also under beta.amd.com/.
 *  - Cloud labels when GFD's are absent: karpenter.k8s.aws/instance-gpu-name
 *    / -count / -memory (MiB), cloud.google.com/gke-accelerator.
 *  - The instance type (policy instanceTypes, then the built-in catalog:
 *    exact type, then its AWS family) when nothing above names the GPU.
 *  - Spot: a capacity-type label (the policy's keys) whose value is "spot"
 *    (any case), or cloud.google.com/gke-spot / gke-preemptible = "true".
 *
 * Bad or contradictory labels (a product over 63 characters, sharing
 * without a valid replica count (1..1024), a MIG resource without its
 * memory label, GPU capacity without any label naming the GPU) make the
 * class conservative: memory 0 (unknown: memory floors fail with a reason
 * that says so), fraction unknown (priced as a whole GPU), and set
 * `problem`.  At most FP_GPU_INVENTORY_MAX classes are kept.
 *
 * Memory: equal inventories are shared: every node whose labels, pool
 * price and region give the same classes holds the same inventory (16
 * bytes + 96 per class), so a node costs one pointer in the view; strings
 * are interned (GRefString).  Nodes without GPUs have none (NULL).  The
 * table of shared inventories frees those no node holds any more when it
 * has doubled since its last sweep.
 *
 * Ownership: refcounted (atomic); immutable once built; the classes'
 * strings live as long as the inventory.
 * Thread context: any thread.  fp_gpu_inventory_warn_once takes a mutex.
 */
#ifndef FP_CACHE_GPU_INVENTORY_H
#define FP_CACHE_GPU_INVENTORY_H

#include <glib.h>

#include "scoring/device.h"
#include "scoring/engine.h"

G_BEGIN_DECLS

#define FP_GPU_INVENTORY_MAX 16

typedef struct {
    guint n;
    gint refs_;          /* private: the reference count */
    const char *problem; /* the first class's problem, or NULL */
    FpDeviceClass classes[];
} FpGpuInventory;

/* The inventory of @node under @policy; @facts are fp_node_facts(policy,
 * node) (pool, region, instance type, capacity type).  NULL when the node
 * offers no GPU resource and no label names a GPU. */
FpGpuInventory *fp_gpu_inventory_new(const FpPolicy *policy, const FpNode *node,
                                     const FpNodeFacts *facts);
FpGpuInventory *fp_gpu_inventory_ref(FpGpuInventory *inv);
void fp_gpu_inventory_unref(FpGpuInventory *inv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpGpuInventory, fp_gpu_inventory_unref)

/* The class of @resource (compared by content), or NULL.  @inv may be NULL. */
const FpDeviceClass *fp_gpu_inventory_find(const FpGpuInventory *inv, const char *resource);

/* Distinct inventories currently shared (for tests and the memory
 * statement). */
guint fp_gpu_inventory_shared_count(void);

/* Bytes held by @inv (for the memory statement and tests). */
gsize fp_gpu_inventory_size(const FpGpuInventory *inv);

/* Log @inv's problem for node @name once: again only when the node's
 * problem changes (a bounded record of nodes already reported). */
void fp_gpu_inventory_warn_once(const char *name, const FpGpuInventory *inv);

G_END_DECLS

#endif /* FP_CACHE_GPU_INVENTORY_H */
