/*
 * test_gpu_inventory.c - a node's GPU inventory (cache/gpu_inventory.h,
 * scoring/device.h): the label schemes on the real node files of the shared
 * reference data, each scheme and each bad label on written label sets,
 * the catalog and the device names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "cache/gpu_inventory.h"
#include "scoring/device.h"
#include "scoring/engine.h"
#include "test/support/real_node.h"
#include "test/support/support.h"

/* ---- a Node from label lines -------------------------------------------- */

static FpNode *node_of(const char *name, const char *const *labels, const char *const *alloc)
{
    FpNode *node = fp_node_new(name);
    for (guint i = 0; labels && labels[i]; i += 2) {
        fp_node_set_label(node, labels[i], labels[i + 1]);
    }
    for (guint i = 0; alloc && alloc[i]; i += 2) {
        fp_res_list_set(&node->allocatable, alloc[i], g_ascii_strtoll(alloc[i + 1], NULL, 10));
    }
    return node;
}

static FpGpuInventory *inventory_of(const FpPolicy *policy, const FpNode *node)
{
    FpNodeFacts facts;
    fp_node_facts(policy, node, &facts);
    return fp_gpu_inventory_new(policy, node, &facts);
}

/* "resource=<name>" lines of every class, joined by "; " */
static char *describe_all(const FpGpuInventory *inv, const FpNode *node)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; inv && i < inv->n; i++) {
        char buf[FP_DEVICE_DESCRIBE_MAX];
        const FpDeviceClass *d = &inv->classes[i];
        g_string_append_printf(s, "%s%s ", i ? "; " : "", d->resource);
        if (fp_res_list_has(&node->allocatable, d->resource)) {
            g_string_append_printf(s, "x%" G_GINT64_FORMAT,
                                   fp_res_list_get(&node->allocatable, d->resource));
        } else {
            g_string_append(s, "(not advertised)");
        }
        if (d->labelled_count > 0) {
            g_string_append_printf(s, " labels x%u", d->labelled_count);
        }
        g_string_append_printf(s, ": %s | %.0f MiB", fp_device_describe(d, buf, sizeof buf),
                               d->memory_mib);
        if (d->price_per_hour >= 0) {
            g_string_append_printf(s, ", $%.4g/h", d->price_per_hour);
        }
        if (d->spot) {
            g_string_append(s, ", spot");
        }
        if (d->problem) {
            g_string_append_printf(s, " [%s]", d->problem);
        }
    }
    return g_string_free(s, FALSE);
}

typedef struct {
    const char *file;
    const char *expect; /* describe_all() of the node's inventory */
} RealNode;

static const RealNode real_nodes[] = {
    {"runai-fake-gpu-operator__gce-tesla-t4-x2.yaml",
     "nvidia.com/gpu x2 labels x2: T4 | 16384 MiB, $0.526/h"},
    {"runai-fake-gpu-operator__gce-a100-sxm4-40gb-mig-3instances.yaml",
     "nvidia.com/gpu x0 labels x1: A100-SXM4-40GB | 40960 MiB, $2.745/h; "
     "nvidia.com/mig-1g.5gb x2 labels x2: A100-SXM4-40GB MIG 1g.5gb (1/7), 4.75 GiB | 4864 MiB, "
     "$0.3921/h; "
     "nvidia.com/mig-2g.10gb x1 labels x1: A100-SXM4-40GB MIG 2g.10gb (2/7), 9.62 GiB | 9856 MiB, "
     "$0.7842/h; "
     "nvidia.com/mig-3g.20gb x0: A100-SXM4-40GB MIG 3g.20gb (3/7), memory unknown | 0 MiB, "
     "$1.176/h"},
    {"runai-fake-gpu-operator__gce-a100-sxm4-40gb-mig-4instances.yaml",
     "nvidia.com/gpu x0 labels x1: A100-SXM4-40GB | 40960 MiB, $2.745/h; "
     "nvidia.com/mig-1g.5gb x3 labels x3: A100-SXM4-40GB MIG 1g.5gb (1/7), 4.75 GiB | 4864 MiB, "
     "$0.3921/h; "
     "nvidia.com/mig-2g.10gb x1 labels x1: A100-SXM4-40GB MIG 2g.10gb (2/7), 9.62 GiB | 9856 MiB, "
     "$0.7842/h; "
     "nvidia.com/mig-3g.20gb x0: A100-SXM4-40GB MIG 3g.20gb (3/7), memory unknown | 0 MiB, "
     "$1.176/h"},
    {"runai-fake-gpu-operator__gce-a100-sxm4-40gb-mig-7g40gb.yaml",
     "nvidia.com/gpu x0 labels x1: A100-SXM4-40GB | 40960 MiB, $2.745/h; "
     "nvidia.com/mig-1g.5gb x0: A100-SXM4-40GB MIG 1g.5gb (1/7), memory unknown | 0 MiB, "
     "$0.3921/h; "
     "nvidia.com/mig-2g.10gb x0: A100-SXM4-40GB MIG 2g.10gb (2/7), memory unknown | 0 MiB, "
     "$0.7842/h; "
     "nvidia.com/mig-3g.20gb x0: A100-SXM4-40GB MIG 3g.20gb (3/7), memory unknown | 0 MiB, "
     "$1.176/h; "
     "nvidia.com/mig-7g.40gb x1 labels x1: A100-SXM4-40GB MIG 7g.40gb (7/7), 39.25 GiB | 40192 "
     "MiB, $2.745/h"},
    {"nvidia-cloud-native-docs__h100-80gb-hbm3-node-labels.json",
     "nvidia.com/gpu (not advertised) labels x1: H100-80GB-HBM3 | 81920 MiB, $6.88/h"},
    {"nvidia-cloud-native-docs__h100-80gb-hbm3-mig-mixed-node-labels.json",
     "nvidia.com/gpu (not advertised) labels x1: H100-80GB-HBM3 | 81920 MiB, $6.88/h; "
     "nvidia.com/mig-1g.10gb (not advertised) labels x2: H100-80GB-HBM3 MIG 1g.10gb (1/7), 9.75 "
     "GiB | 9984 MiB, $0.9829/h; "
     "nvidia.com/mig-2g.20gb (not advertised) labels x1: H100-80GB-HBM3 MIG 2g.20gb (2/7), 19.62 "
     "GiB | 20096 MiB, $1.966/h; "
     "nvidia.com/mig-3g.40gb (not advertised) labels x1: H100-80GB-HBM3 MIG 3g.40gb (3/7), 39.38 "
     "GiB | 40320 MiB, $2.949/h"},
    {"aimldocs__eks-g5-2xlarge-ap-south-1-a10g.describe-grep.txt",
     "nvidia.com/gpu x0 labels x1: A10G | 24576 MiB, $1.006/h"},
    {"issue-excerpt__nvidia-gfd-76__eks-g5xlarge-us-west-2.describe.txt",
     "nvidia.com/gpu (not advertised): A10G (from instance type g5.xlarge) | 24576 MiB, $1.006/h"},
    {"issue-excerpt__bottlerocket-4087__eks-g4dn2xlarge-eu-central-1.describe.txt",
     "nvidia.com/gpu (not advertised) labels x1: T4 (from cloud label t4) | 16384 MiB, $0.526/h"},
    {"issue-excerpt__kubernetes-55005__gke-n1-standard-2-k80-us-east1.yaml.txt",
     "nvidia.com/gpu (not advertised): K80 (from cloud label nvidia-tesla-k80) | 0 MiB, $4/h"},
    {"issue-excerpt__pangeo-425__gke-n1-standard-4-t4.describe.txt",
     "nvidia.com/gpu (not advertised): T4 (from cloud label nvidia-tesla-t4) | 16384 MiB, "
     "$0.526/h"},
    {"issue-excerpt__gpu-operator-684__eks-timeslicing-capacity.describe.txt",
     "nvidia.com/gpu x12: unknown GPU | 0 MiB, $4/h [GPU capacity without any label naming the "
     "GPU]"},
    {"issue-excerpt__hami-314__k3s-a100-pcie-40gb.describe.txt", ""},
    {"issue-excerpt__rocm-k8s-device-plugin-112__aks-nd96isr-mi300x-v5.labels.txt",
     "amd.com/gpu (not advertised) labels x8: MI300X | 196608 MiB, $6/h"},
    {"issue-excerpt__karpenter-aws-1476__eks-g5xlarge-spot-eu-west-1.describe.txt",
     "nvidia.com/gpu (not advertised): A10G (from instance type g5.xlarge) | 24576 MiB, $0.4024/h, "
     "spot"},
};

static void test_real_nodes(void **state)
{
    g_autofree char *dir = fp_test_shared_data("nodes");
    if (!dir || !g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        FP_SKIP("shared-data", "FP_SHARED_DATA not available: no real node files");
    }
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    guint failed = 0;
    for (guint i = 0; i < G_N_ELEMENTS(real_nodes); i++) {
        g_autofree char *path = g_build_filename(dir, real_nodes[i].file, NULL);
        g_autoptr(FpNode) node = fp_test_node_from_file(path, real_nodes[i].file);
        g_autoptr(FpGpuInventory) inv = inventory_of(policy, node);
        g_autofree char *got = describe_all(inv, node);
        print_message("%s: %s\n", real_nodes[i].file, got);
        if (strcmp(real_nodes[i].expect, got) != 0) {
            print_error("%s:\n  got    %s\n  wanted %s\n", real_nodes[i].file, got,
                        real_nodes[i].expect);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

/* ---- the engine on devices --------------------------------------------- */

/* A pending pod requesting @count of @resource, with annotation pairs. */
static FpPod *pod_of(const char *resource, int64_t count, const char *const *ann)
{
    FpPod *pod = fp_pod_new();
    pod->ns = g_strdup("default");
    pod->name = g_strdup("p");
    pod->uid = g_strdup("uid-p");
    pod->detailed = true;
    fp_res_list_set(&pod->requests, resource, count);
    pod->annotations = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (guint i = 0; ann && ann[i]; i += 2) {
        g_hash_table_replace(pod->annotations, g_strdup(ann[i]), g_strdup(ann[i + 1]));
    }
    return pod;
}

typedef struct {
    FpNode *node;
    FpGpuInventory *inv;
} Cand;

/* Evaluate @pod on one node; *out receives the verdict. */
static void eval_one(const FpPolicy *policy, const FpPod *pod, FpNode *node, FpVerdict *out)
{
    g_autoptr(FpDemand) d = fp_demand_new(pod, policy);
    assert_null(d->invalid_detail);
    g_autoptr(FpGpuInventory) inv = inventory_of(policy, node);
    FpCandidate cand = {.node = node, .name = node->name};
    cand.device = d->resource ? fp_gpu_inventory_find(inv, d->resource) : NULL;
    FpEvalContext ctx = {.policy = policy, .demand = d};
    fp_evaluate(&ctx, &cand, 1, out);
    out->device = NULL; /* borrowed from the inventory freed here */
    memset(&out->facts, 0, sizeof out->facts);
}

static const char *reason_of(const FpPolicy *policy, const FpPod *pod, FpNode *node)
{
    FpVerdict v;
    eval_one(policy, pod, node, &v);
    return v.pass ? "pass" : v.reason;
}

static FpProfile *default_profile(FpPolicy *policy)
{
    return g_hash_table_lookup(policy->profiles, "default");
}

static const char *const T4_SHARED[] = {"nvidia.com/gpu.product",
                                        "Tesla-T4-SHARED",
                                        "nvidia.com/gpu.memory",
                                        "15360",
                                        "nvidia.com/gpu.count",
                                        "1",
                                        "nvidia.com/gpu.replicas",
                                        "4",
                                        "nvidia.com/gpu.sharing-strategy",
                                        "time-slicing",
                                        NULL};
static const char *const T4_SHARED_ALLOC[] = {"nvidia.com/gpu", "4", NULL};

/* A time-sliced T4 is 1/4 of a T4: a quarter of its price and throughput,
 * no memory isolation, and only for pods whose profile allows sharing or
 * that name the -SHARED product. */
static void test_time_sliced(void **state)
{
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    g_autoptr(FpNode) node = node_of("ts", T4_SHARED, T4_SHARED_ALLOC);
    g_autoptr(FpGpuInventory) inv = inventory_of(policy, node);
    const FpDeviceClass *d = fp_gpu_inventory_find(inv, "nvidia.com/gpu");
    assert_non_null(d);
    char buf[FP_DEVICE_DESCRIBE_MAX];
    assert_string_equal(fp_device_describe(d, buf, sizeof buf), "T4 shared 1/4");
    assert_int_equal(d->kind, FP_DEVICE_SHARED);
    assert_false(d->memory_isolated);
    assert_true(fabs(d->price_per_hour - 0.526 / 4) < 1e-9);
    assert_true(fabs(d->relative_throughput - 0.25 / 4) < 1e-9);

    g_autoptr(FpPod) plain = pod_of("nvidia.com/gpu", 1, NULL);
    assert_string_equal(reason_of(policy, plain, node), FP_REASON_SHARED);
    const char *const whole_sku[] = {FP_ANN_SKU, "Tesla-T4", NULL};
    g_autoptr(FpPod) whole = pod_of("nvidia.com/gpu", 1, whole_sku);
    assert_string_equal(reason_of(policy, whole, node), FP_REASON_SKU);
    const char *const shared_sku[] = {FP_ANN_SKU, "Tesla-T4-SHARED", NULL};
    g_autoptr(FpPod) named = pod_of("nvidia.com/gpu", 1, shared_sku);
    assert_string_equal(reason_of(policy, named, node), "pass");

    default_profile(policy)->allow_shared = true;
    assert_string_equal(reason_of(policy, plain, node), "pass");
    /* no isolation: a floor is compared with the whole GPU's memory, which
     * every replica can see (and exhaust) */
    const char *const floor[] = {FP_ANN_MIN_MEMORY, "15Gi", NULL};
    g_autoptr(FpPod) floored = pod_of("nvidia.com/gpu", 1, floor);
    assert_string_equal(reason_of(policy, floored, node), "pass");
}

/* renameByDefault=true: the node offers nvidia.com/gpu.shared, and a pod
 * that asks for it asked for sharing. */
static void test_time_sliced_renamed(void **state)
{
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    const char *const labels[] = {"nvidia.com/gpu.product",
                                  "Tesla-T4",
                                  "nvidia.com/gpu.replicas",
                                  "2",
                                  "nvidia.com/gpu.sharing-strategy",
                                  "time-slicing",
                                  NULL};
    const char *const alloc[] = {"nvidia.com/gpu.shared", "2", NULL};
    g_autoptr(FpNode) node = node_of("renamed", labels, alloc);
    g_autoptr(FpGpuInventory) inv = inventory_of(policy, node);
    const FpDeviceClass *d = fp_gpu_inventory_find(inv, "nvidia.com/gpu.shared");
    assert_non_null(d);
    assert_string_equal(d->product, "Tesla-T4-SHARED");
    char buf[FP_DEVICE_DESCRIBE_MAX];
    assert_string_equal(fp_device_describe(d, buf, sizeof buf), "T4 shared 1/2");
    g_autoptr(FpPod) pod = pod_of("nvidia.com/gpu.shared", 1, NULL);
    assert_string_equal(reason_of(policy, pod, node), "pass");
    g_autoptr(FpPod) whole = pod_of("nvidia.com/gpu", 1, NULL);
    assert_string_equal(reason_of(policy, whole, node), FP_REASON_NO_GPU_RESOURCE);
}

/* MPS: each replica is limited to memory / replicas, isolated. */
static void test_mps(void **state)
{
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    const char *const labels[] = {"nvidia.com/gpu.product",
                                  "NVIDIA-H100-80GB-HBM3-SHARED",
                                  "nvidia.com/gpu.memory",
                                  "81559",
                                  "nvidia.com/gpu.replicas",
                                  "2",
                                  "nvidia.com/gpu.sharing-strategy",
                                  "mps",
                                  NULL};
    const char *const alloc[] = {"nvidia.com/gpu", "2", NULL};
    g_autoptr(FpNode) node = node_of("mps", labels, alloc);
    g_autoptr(FpGpuInventory) inv = inventory_of(policy, node);
    const FpDeviceClass *d = fp_gpu_inventory_find(inv, "nvidia.com/gpu");
    assert_int_equal(d->kind, FP_DEVICE_MPS);
    assert_true(d->memory_isolated);
    assert_true(fabs(d->memory_mib - 40960) < 1e-6); /* the 80 GiB class, halved */
    char buf[FP_DEVICE_DESCRIBE_MAX];
    assert_string_equal(fp_device_describe(d, buf, sizeof buf), "H100-80GB-HBM3 MPS 1/2, 40 GiB");
    default_profile(policy)->allow_shared = true;
    const char *const fits[] = {FP_ANN_MIN_MEMORY, "40Gi", NULL};
    const char *const too_big[] = {FP_ANN_MIN_MEMORY, "41Gi", NULL};
    g_autoptr(FpPod) a = pod_of("nvidia.com/gpu", 1, fits);
    g_autoptr(FpPod) b = pod_of("nvidia.com/gpu", 1, too_big);
    assert_string_equal(reason_of(policy, a, node), "pass");
    assert_string_equal(reason_of(policy, b, node), FP_REASON_GPU_MEMORY);
}

static const char *const A100_MIXED[] = {"nvidia.com/gpu.product",
                                         "NVIDIA-A100-SXM4-40GB",
                                         "nvidia.com/gpu.memory",
                                         "40960",
                                         "nvidia.com/mig.strategy",
                                         "mixed",
                                         "nvidia.com/mig-1g.5gb.count",
                                         "2",
                                         "nvidia.com/mig-1g.5gb.memory",
                                         "4864",
                                         "nvidia.com/mig-1g.5gb.product",
                                         "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb",
                                         NULL};
static const char *const A100_MIXED_ALLOC[] = {"nvidia.com/gpu", "0", "nvidia.com/mig-1g.5gb", "2",
                                               NULL};

/* MIG mixed: the slice's own product and memory, 1/7 of the price. */
static void test_mig_mixed(void **state)
{
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    g_autoptr(FpNode) node = node_of("mixed", A100_MIXED, A100_MIXED_ALLOC);
    const char *const exact[] = {FP_ANN_SKU, "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", NULL};
    const char *const wild[] = {FP_ANN_SKU, "NVIDIA-A100-SXM4-40GB-MIG-*", NULL};
    const char *const whole[] = {FP_ANN_SKU, "NVIDIA-A100-SXM4-40GB", NULL};
    const char *const ten[] = {FP_ANN_MIN_MEMORY, "10Gi", NULL};
    const char *const four[] = {FP_ANN_MIN_MEMORY, "4Gi", NULL};
    const char *const *cases[] = {exact, wild, whole, ten, four};
    const char *want[] = {"pass", "pass", FP_REASON_SKU, FP_REASON_GPU_MEMORY, "pass"};
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(FpPod) pod = pod_of("nvidia.com/mig-1g.5gb", 1, cases[i]);
        assert_string_equal(reason_of(policy, pod, node), want[i]);
    }
    FpVerdict v;
    g_autoptr(FpPod) pod = pod_of("nvidia.com/mig-1g.5gb", 1, NULL);
    g_autoptr(FpDemand) dem = fp_demand_new(pod, policy);
    assert_string_equal(dem->resource, "nvidia.com/mig-1g.5gb");
    eval_one(policy, pod, node, &v);
    assert_true(v.pass);
    assert_int_equal(v.gpus_free, 2);
    g_autoptr(FpGpuInventory) inv = inventory_of(policy, node);
    const FpDeviceClass *d = fp_gpu_inventory_find(inv, "nvidia.com/mig-1g.5gb");
    char buf[FP_DEVICE_DESCRIBE_MAX];
    assert_string_equal(fp_device_describe(d, buf, sizeof buf),
                        "A100-SXM4-40GB MIG 1g.5gb (1/7), 4.75 GiB");
    assert_true(fabs(d->price_per_hour - 2.744705 / 7) < 1e-9);
}

/* MIG single: GFD renames the product and reports the slice's memory. */
static void test_mig_single(void **state)
{
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    const char *const labels[] = {"nvidia.com/gpu.product",
                                  "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb",
                                  "nvidia.com/gpu.memory",
                                  "4864",
                                  "nvidia.com/gpu.count",
                                  "7",
                                  "nvidia.com/mig.strategy",
                                  "single",
                                  NULL};
    const char *const alloc[] = {"nvidia.com/gpu", "7", NULL};
    g_autoptr(FpNode) node = node_of("single", labels, alloc);
    g_autoptr(FpGpuInventory) inv = inventory_of(policy, node);
    const FpDeviceClass *d = fp_gpu_inventory_find(inv, "nvidia.com/gpu");
    assert_int_equal(d->kind, FP_DEVICE_MIG);
    assert_string_equal(d->profile, "1g.5gb");
    assert_true(fabs(d->memory_mib - 4864) < 1e-6);
    const char *const ten[] = {FP_ANN_MIN_MEMORY, "10Gi", NULL};
    const char *const whole[] = {FP_ANN_SKU, "NVIDIA-A100-SXM4-40GB", NULL};
    const char *const wild[] = {FP_ANN_SKU, "A100-SXM4-40GB-MIG-*", NULL};
    g_autoptr(FpPod) a = pod_of("nvidia.com/gpu", 1, ten);
    g_autoptr(FpPod) b = pod_of("nvidia.com/gpu", 1, whole);
    g_autoptr(FpPod) c = pod_of("nvidia.com/gpu", 1, wild);
    assert_string_equal(reason_of(policy, a, node), FP_REASON_GPU_MEMORY);
    assert_string_equal(reason_of(policy, b, node), FP_REASON_SKU);
    assert_string_equal(reason_of(policy, c, node), "pass");
}

/* AMD: recognised from the node labeller's labels with no policy edit. */
static void test_amd(void **state)
{
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    const char *const labels[] = {"amd.com/gpu.device-id",
                                  "74b5",
                                  "amd.com/gpu.vram",
                                  "191G",
                                  "amd.com/gpu.family",
                                  "AI",
                                  NULL};
    const char *const alloc[] = {"amd.com/gpu", "8", NULL};
    g_autoptr(FpNode) node = node_of("mi300x", labels, alloc);
    g_autoptr(FpGpuInventory) inv = inventory_of(policy, node);
    const FpDeviceClass *d = fp_gpu_inventory_find(inv, "amd.com/gpu");
    char buf[FP_DEVICE_DESCRIBE_MAX];
    assert_string_equal(fp_device_describe(d, buf, sizeof buf), "MI300X");
    assert_string_equal(d->product, "AMD-Instinct-MI300X");
    assert_true(d->memory_mib >= 191 * 1024.0);
    assert_true(fabs(d->price_per_hour - 6.0) < 1e-9);
    const char *const floor[] = {FP_ANN_MIN_MEMORY, "180Gi", NULL};
    g_autoptr(FpPod) pod = pod_of("amd.com/gpu", 1, floor);
    assert_string_equal(reason_of(policy, pod, node), "pass");
    /* a product-name label wins over the device id */
    const char *const named[] = {"amd.com/gpu.product-name", "AMD_Instinct_MI300X_OAM", NULL};
    g_autoptr(FpNode) n2 = node_of("named", named, alloc);
    g_autoptr(FpGpuInventory) i2 = inventory_of(policy, n2);
    assert_string_equal(fp_gpu_inventory_find(i2, "amd.com/gpu")->model, "MI300X");
}

/* No GFD labels: the instance type names the GPU, priced for its region. */
static void test_instance_type_only(void **state)
{
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    const char *const labels[] = {"node.kubernetes.io/instance-type", "g6.12xlarge",
                                  "topology.kubernetes.io/region", "us-east-1", NULL};
    const char *const alloc[] = {"nvidia.com/gpu", "4", NULL};
    g_autoptr(FpNode) node = node_of("g6", labels, alloc);
    g_autoptr(FpGpuInventory) inv = inventory_of(policy, node);
    const FpDeviceClass *d = fp_gpu_inventory_find(inv, "nvidia.com/gpu");
    char buf[FP_DEVICE_DESCRIBE_MAX];
    assert_string_equal(fp_device_describe(d, buf, sizeof buf),
                        "L4 (from instance type g6.12xlarge)");
    assert_string_equal(d->product, "NVIDIA-L4");
    assert_int_equal(d->labelled_count, 4);
    assert_true(fabs(d->memory_mib - 24576) < 1e-6);
    /* the instance type's own price in its region (g6.12xlarge us-east-1
     * 4.6016 / 4), not the SKU table's g6.xlarge one */
    assert_true(fabs(d->price_per_hour - 4.6016 / 4) < 1e-9);
    const char *const sku[] = {FP_ANN_SKU, "NVIDIA-L4", FP_ANN_MIN_MEMORY, "20Gi", NULL};
    g_autoptr(FpPod) pod = pod_of("nvidia.com/gpu", 1, sku);
    assert_string_equal(reason_of(policy, pod, node), "pass");

    /* the policy overrides the catalog entry */
    FpInstanceType *it = fp_instance_type_new("g6.12xlarge");
    it->price_per_gpu_hour = 0.5;
    g_hash_table_replace(policy->instance_types, g_strdup(it->name), it);
    g_autoptr(FpGpuInventory) inv2 = inventory_of(policy, node);
    assert_true(fabs(fp_gpu_inventory_find(inv2, "nvidia.com/gpu")->price_per_hour - 0.5) < 1e-9);
}

/* Spot: priced by spotPriceFactor, and avoided by profiles that say so. */
static void test_spot(void **state)
{
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    const char *const labels[] = {"nvidia.com/gpu.product", "NVIDIA-A10G",
                                  "karpenter.sh/capacity-type", "spot", NULL};
    const char *const alloc[] = {"nvidia.com/gpu", "1", NULL};
    g_autoptr(FpNode) node = node_of("spot", labels, alloc);
    g_autoptr(FpGpuInventory) inv = inventory_of(policy, node);
    const FpDeviceClass *d = fp_gpu_inventory_find(inv, "nvidia.com/gpu");
    assert_true(d->spot);
    assert_true(fabs(d->price_per_hour - 1.006 * FP_DEFAULT_SPOT_PRICE_FACTOR) < 1e-9);
    g_autoptr(FpPod) pod = pod_of("nvidia.com/gpu", 1, NULL);
    assert_string_equal(reason_of(policy, pod, node), "pass");
    default_profile(policy)->avoid_spot = true;
    assert_string_equal(reason_of(policy, pod, node), FP_REASON_SPOT);
    /* GKE says it with its own label */
    const char *const gke[] = {"nvidia.com/gpu.product", "NVIDIA-L4", "cloud.google.com/gke-spot",
                               "true", NULL};
    g_autoptr(FpNode) n2 = node_of("gke", gke, alloc);
    g_autoptr(FpGpuInventory) i2 = inventory_of(policy, n2);
    assert_true(fp_gpu_inventory_find(i2, "nvidia.com/gpu")->spot);
}

/* Bad or contradictory labels: conservative, with a problem, never a crash. */
static void test_bad_labels(void **state)
{
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    default_profile(policy)->allow_shared = true;
    const char *const floor[] = {FP_ANN_MIN_MEMORY, "1Gi", NULL};
    g_autoptr(FpPod) gpu_pod = pod_of("nvidia.com/gpu", 1, floor);
    g_autoptr(FpPod) mig_pod = pod_of("nvidia.com/mig-1g.5gb", 1, floor);
    char long_product[100];
    memset(long_product, 'A', sizeof long_product - 1);
    long_product[sizeof long_product - 1] = '\0';
    struct {
        const char *const *labels;
        const char *const *alloc;
        const FpPod *pod;
        const char *reason;
    } rows[] = {
        /* replicas 0, absurd, missing, garbage with sharing */
        {(const char *const[]){"nvidia.com/gpu.product", "Tesla-T4-SHARED",
                               "nvidia.com/gpu.replicas", "0", NULL},
         T4_SHARED_ALLOC, gpu_pod, FP_REASON_GPU_MEMORY_UNKNOWN},
        {(const char *const[]){"nvidia.com/gpu.product", "Tesla-T4-SHARED",
                               "nvidia.com/gpu.replicas", "99999", NULL},
         T4_SHARED_ALLOC, gpu_pod, FP_REASON_GPU_MEMORY_UNKNOWN},
        {(const char *const[]){"nvidia.com/gpu.product", "Tesla-T4-SHARED", NULL}, T4_SHARED_ALLOC,
         gpu_pod, FP_REASON_GPU_MEMORY_UNKNOWN},
        {(const char *const[]){"nvidia.com/gpu.product", "Tesla-T4",
                               "nvidia.com/gpu.sharing-strategy", "time-slicing",
                               "nvidia.com/gpu.replicas", "-3", NULL},
         T4_SHARED_ALLOC, gpu_pod, FP_REASON_GPU_MEMORY_UNKNOWN},
        /* MIG memory label missing */
        {(const char *const[]){"nvidia.com/gpu.product", "NVIDIA-A100-SXM4-40GB", NULL},
         (const char *const[]){"nvidia.com/mig-1g.5gb", "2", NULL}, mig_pod,
         FP_REASON_GPU_MEMORY_UNKNOWN},
        /* capacity without any labels */
        {NULL, (const char *const[]){"nvidia.com/gpu", "8", NULL}, gpu_pod,
         FP_REASON_GPU_MEMORY_UNKNOWN},
        /* a product over the label limit */
        {(const char *const[]){"nvidia.com/gpu.product", long_product, "nvidia.com/gpu.memory",
                               "40960", NULL},
         (const char *const[]){"nvidia.com/gpu", "1", NULL}, gpu_pod, FP_REASON_GPU_MEMORY_UNKNOWN},
    };
    for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
        g_autoptr(FpNode) node = node_of("bad", rows[i].labels, rows[i].alloc);
        g_autoptr(FpGpuInventory) inv = inventory_of(policy, node);
        assert_non_null(inv);
        assert_non_null(inv->problem);
        print_message("row %u: %s\n", i, inv->problem);
        assert_string_equal(reason_of(policy, rows[i].pod, node), rows[i].reason);
        fp_gpu_inventory_warn_once("bad", inv); /* logged once, not per call */
    }
}

/* Nodes with equal labels share one inventory; one nobody holds is freed
 * by a later sweep. */
static void test_shared_inventories(void **state)
{
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    FpGpuInventory *first = NULL;
    for (guint i = 0; i < 100; i++) {
        g_autofree char *name = g_strdup_printf("ts-%u", i);
        g_autoptr(FpNode) node = node_of(name, T4_SHARED, T4_SHARED_ALLOC);
        FpGpuInventory *inv = inventory_of(policy, node);
        if (!first) {
            first = inv;
        } else {
            assert_ptr_equal(inv, first);
            fp_gpu_inventory_unref(inv);
        }
    }
    assert_true(fp_gpu_inventory_shared_count() >= 1);
    assert_int_equal(first->refs_, 2); /* ours and the table's */
    fp_gpu_inventory_unref(first);
    /* distinct ones, enough to sweep: the table does not keep growing */
    for (guint i = 0; i < 2000; i++) {
        g_autofree char *mem = g_strdup_printf("%u", 10000 + i);
        const char *const labels[] = {"nvidia.com/gpu.product", "NVIDIA-L4",
                                      "nvidia.com/gpu.memory", mem, NULL};
        g_autoptr(FpNode) node = node_of("l4", labels, T4_SHARED_ALLOC);
        g_autoptr(FpGpuInventory) inv = inventory_of(policy, node);
        assert_non_null(inv);
    }
    assert_true(fp_gpu_inventory_shared_count() < 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_nodes),
        cmocka_unit_test(test_time_sliced),
        cmocka_unit_test(test_time_sliced_renamed),
        cmocka_unit_test(test_mps),
        cmocka_unit_test(test_mig_mixed),
        cmocka_unit_test(test_mig_single),
        cmocka_unit_test(test_amd),
        cmocka_unit_test(test_instance_type_only),
        cmocka_unit_test(test_spot),
        cmocka_unit_test(test_bad_labels),
        cmocka_unit_test(test_shared_inventories),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
