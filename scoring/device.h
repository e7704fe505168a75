/*
 * scoring/device.h - what one GPU device of a node is: the device class
 * model, the built-in GPU catalog and how a class is named.
 *
 * Purpose: a pod that requests `nvidia.com/mig-1g.5gb: 1`, or one
 * `nvidia.com/gpu` on a time-sliced node, gets a device that is not a whole
 * GPU.  An FpDeviceClass says what that device is: the product a `gpu-sku`
 * entry matches, its memory, which fraction of a physical GPU it is, and
 * (resolved under a policy) its price and relative throughput.  The filters
 * and score terms (engine.h) read these, never the node's whole-GPU labels.
 * cache/gpu_inventory.h builds the classes of a node from its labels.
 *
 * For other modules (e.g. model fit): the memory a workload can count on
 * per device is memory_mib when memory_isolated is true; a time-sliced
 * replica (FP_DEVICE_SHARED) reports the physical GPU's memory with
 * memory_isolated false, since every replica can use (and exhaust) all of
 * it; memory_mib 0 means unknown.
 *
 * Ownership: an FpDeviceClass holds borrowed strings (from whoever built
 * it: cache/gpu_inventory.c keeps them interned in its inventory).  Catalog
 * rows and models are static.
 * Thread context: pure, any thread.  Errors: none (NULL / 0 for unknown).
 */
#ifndef FP_SCORING_DEVICE_H
#define FP_SCORING_DEVICE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef enum {
    FP_DEVICE_WHOLE,  /* a whole physical GPU */
    FP_DEVICE_MIG,    /* a MIG instance: isolated memory and compute slices */
    FP_DEVICE_SHARED, /* a time-sliced replica: no memory or fault isolation */
    FP_DEVICE_MPS,    /* an MPS replica: memory limited to memory / replicas */
} FpDeviceKind;

/* Where a class's product and memory came from. */
typedef enum {
    FP_DEVICE_FROM_NONE,          /* nothing but the resource: product unknown */
    FP_DEVICE_FROM_GFD,           /* NVIDIA GPU Feature Discovery labels */
    FP_DEVICE_FROM_AMD,           /* the AMD node labeller's labels */
    FP_DEVICE_FROM_CLOUD_LABEL,   /* karpenter.k8s.aws/instance-gpu-*, GKE accelerator */
    FP_DEVICE_FROM_INSTANCE_TYPE, /* the catalog (built-in or policy) by instance type */
} FpDeviceSource;

/* One kind of device a node offers under one extended resource. */
typedef struct {
    const char *resource; /* "nvidia.com/gpu", "nvidia.com/mig-1g.5gb", "amd.com/gpu", ... */
    /* What gpu-sku entries and the SKU table match: the GFD product
     * ("NVIDIA-A100-SXM4-40GB-MIG-1g.5gb"; a time-sliced or MPS replica
     * always carries "-SHARED": "Tesla-T4-SHARED"), "AMD-Instinct-MI300X"
     * for AMD; "" when unknown. */
    const char *product;
    const char *base;    /* the physical GPU's product, no -MIG-/-SHARED suffix; "" unknown */
    const char *model;   /* short name for people: "A100-SXM4-40GB", "T4", "MI300X"; "" */
    const char *profile; /* MIG profile ("1g.5gb"), else "" */
    const char *origin;  /* the instance type or cloud label value the facts came from, else "" */
    /* Why the labels are not trusted (a static sentence), else NULL: the
     * class is then conservative (unknown memory fails memory floors). */
    const char *problem;
    FpDeviceKind kind;
    FpDeviceSource source;
    /* Fraction of a physical GPU: share_num / share_den (whole 1/1, MIG
     * g/7, time-slicing and MPS 1/replicas); 0/0 when unknown (bad labels):
     * priced as a whole GPU. */
    uint16_t share_num;
    uint16_t share_den;
    /* Devices the labels say the node has (GFD count x replicas, the MIG
     * profile's .count, Karpenter's instance-gpu-count, the catalog's
     * count); 0 = not said.  Informational: kube-scheduler and the engine
     * count the node's allocatable. */
    uint16_t labelled_count;
    bool memory_isolated; /* false for time-sliced replicas */
    bool spot;            /* the node is spot/preemptible capacity */
    double memory_mib;    /* per device; 0 = unknown */
    /* Resolved under a policy (cache/gpu_inventory.c); < 0 = unknown. */
    double price_per_hour;      /* per device: physical GPU price x fraction, spot factor applied */
    double relative_throughput; /* per device: physical x fraction; > 0 */
} FpDeviceClass;

/* share_num / share_den, or 1 when unknown. */
double fp_device_fraction(const FpDeviceClass *d);
/* Whether the device shares a GPU with other pods' processes without MIG
 * isolation (time-slicing or MPS). */
bool fp_device_is_shared(const FpDeviceClass *d);

/* The name people read (score, simulate, decisions, the metrics' sku
 * label): "A100-SXM4-40GB MIG 1g.5gb (1/7), 4.75 GiB", "T4 shared 1/4",
 * "H100-80GB-HBM3 MPS 1/2, 39.8 GiB", "MI300X",
 * "L4 (from instance type g6.12xlarge)", the product when nothing better is
 * known, "unknown GPU" when not even that.  Writes at most @size bytes (NUL included) and
 * returns @buf. */
char *fp_device_describe(const FpDeviceClass *d, char *buf, gsize size);
/* Enough for any fp_device_describe() of label-sized strings. */
#define FP_DEVICE_DESCRIBE_MAX 192

/* The short model name of a GPU product: "NVIDIA-" / "AMD-Instinct-" /
 * "Tesla-" prefixes and "-MIG-<profile>" / "-SHARED" suffixes removed, into
 * @buf (at most @size bytes). */
char *fp_device_model_of(const char *product, char *buf, gsize size);

/* Compute slices a MIG profile's "<g>g" counts out of: 4 for A30, else 7
 * (A100, H100, H200, B200). */
guint fp_device_mig_slices(const char *base_product);
/* The "<g>" of a MIG profile "<g>g.<mem>gb[+me...]"; 0 when the profile is
 * not of that shape. */
guint fp_device_mig_compute(const char *profile);

/* ---- the built-in GPU catalog (scoring/catalog/ CSV files, generated into C
 * at build time; see scoring/catalog/README.md) ---- */

/* A GPU model: the catalog's model key, vendor, the product string GFD (or,
 * for AMD, flexplace) reports, nominal memory, MIG compute slices (0 when
 * the GPU has no MIG) and space-separated lowercase aliases (Karpenter's
 * instance-gpu-name, GKE accelerator names, AMD PCI device ids). */
typedef struct {
    const char *model;
    const char *vendor;
    const char *product;
    double memory_mib; /* 0 = unknown */
    guint compute_slices;
    const char *aliases;
} FpGpuModel;

/* One priced instance type (or, for GCP, one attached accelerator) in one
 * region: on-demand price per GPU-hour. */
typedef struct {
    const char *cloud;
    const char *region;
    const char *instance_type; /* "" for a GCP accelerator row */
    const char *accelerator;   /* GKE accelerator name, else "" */
    const char *model;         /* FpGpuModel.model */
    guint gpu_count;
    double memory_mib; /* per GPU */
    double price_per_gpu_hour;
} FpCatalogRow;

extern const FpGpuModel fp_gpu_models[];
extern const guint fp_gpu_n_models;
extern const FpCatalogRow fp_gpu_catalog[];
extern const guint fp_gpu_catalog_len;

/* The model whose key or one of whose aliases is @name (ASCII
 * case-insensitive), or NULL. */
const FpGpuModel *fp_gpu_model_by_name(const char *name);
/* The model whose product is @product (either "NVIDIA-" spelling, -MIG-/
 * -SHARED suffixes ignored), or NULL. */
const FpGpuModel *fp_gpu_model_by_product(const char *product);
/* The catalog row of @instance_type in @region, else of the same instance
 * type in another region (*same_region false; its price is then not used by
 * the inventory), else NULL.  @region may be "" or NULL. */
const FpCatalogRow *fp_gpu_catalog_instance(const char *instance_type, const char *region,
                                            bool *same_region);
/* A row of the same instance family ("g5" of "g5.2xlarge", the text before
 * the first '.'; AWS naming only), for the model and memory; NULL when none
 * or when @instance_type has no '.'. */
const FpCatalogRow *fp_gpu_catalog_family(const char *instance_type);
/* The GCP row of accelerator @accelerator in @region (same_region as
 * above), or NULL. */
const FpCatalogRow *fp_gpu_catalog_accelerator(const char *accelerator, const char *region,
                                               bool *same_region);

G_END_DECLS

#endif /* FP_SCORING_DEVICE_H */
