/*
 * test/bench/gen.c - the generated cluster: Node objects modelled on the real
 * ones in the shared reference data, pods, policy and request bodies.
 *
 * Node template: the complete Node object of a 2x Tesla-T4 GCE node
 * (nodes/runai-fake-gpu-operator__gce-tesla-t4-x2.yaml: NFD and GFD labels,
 * annotations, addresses, conditions, nodeInfo and status.images), without
 * kind/apiVersion as kube-scheduler's informer objects come, plus the
 * managedFields of the Node kube-scheduler sent in the nodecache-false
 * capture.  status.images is trimmed (or, for the synthetic fallback,
 * padded) so that one node is about 12 KB of compact JSON, the size the
 * performance issue measured on real clusters.  Per node the name, pool,
 * region, zone, instance type, GPU product/memory/count, allocatable GPUs,
 * Ready and spec.unschedulable vary.
 *
 * Pods are produced on demand from their index (30 per node by default:
 * the node's GPU usage is spread over its first pods, one GPU each; the rest
 * request CPU only), so a 450,000-pod LIST costs no memory here.
 *
 * Prices and latencies in the generated policy are illustrative round numbers
 * of the right magnitude, not quotes.
 */
#include <string.h>

#include "cache/yamljson.h"
#include "test/bench/bench.h"

#define TARGET_NODE_BYTES 12000
#define NODE_TEMPLATE "nodes/runai-fake-gpu-operator__gce-tesla-t4-x2.yaml"
#define NODE_CAPTURE "kube-scheduler-captures/nodecache-false/filter-001.json"
#define POD_CAPTURE "kube-scheduler-captures/nodecache-true/filter-001.json"

typedef struct {
    const char *cloud;
    const char *region;
    const char *zone;
    const char *instance_type;
    const char *product;
    guint memory_mib;
    guint gpus;
    const char *pool_label;
    const char *pool;
    double price; /* per GPU-hour, illustrative */
    double throughput;
} PoolKind;

static const PoolKind kinds[] = {
    {"aws", "us-east-1", "us-east-1a", "g6.12xlarge", "NVIDIA-L4", 23034, 4,
     "karpenter.sh/nodepool", "aws-use1-l4", 1.15, 0.5},
    {"aws", "us-east-1", "us-east-1b", "p5.48xlarge", "NVIDIA-H100-80GB-HBM3", 81559, 8,
     "karpenter.sh/nodepool", "aws-use1-h100", 6.9, 3.0},
    {"aws", "us-west-2", "us-west-2a", "g5.12xlarge", "NVIDIA-A10G", 23028, 4,
     "eks.amazonaws.com/nodegroup", "aws-usw2-a10g", 1.42, 0.45},
    {"aws", "eu-west-1", "eu-west-1a", "g6e.12xlarge", "NVIDIA-L40S", 46068, 4,
     "karpenter.sh/nodepool", "aws-euw1-l40s", 2.6, 1.0},
    {"azure", "eastus", "eastus-1", "Standard_NC24ads_A100_v4", "NVIDIA-A100-80GB-PCIe", 81920, 1,
     "kubernetes.azure.com/agentpool", "aks-eus-a100", 3.67, 1.6},
    {"azure", "westeurope", "westeurope-2", "Standard_NC4as_T4_v3", "Tesla-T4", 15360, 1,
     "kubernetes.azure.com/agentpool", "aks-weu-t4", 0.6, 0.25},
    {"gcp", "us-central1", "us-central1-a", "g2-standard-24", "NVIDIA-L4", 23034, 2,
     "cloud.google.com/gke-nodepool", "gke-usc1-l4", 0.71, 0.5},
    {"gcp", "europe-west4", "europe-west4-a", "a2-highgpu-1g", "NVIDIA-A100-SXM4-40GB", 40960, 1,
     "cloud.google.com/gke-nodepool", "gke-euw4-a100", 2.93, 1.4},
};
#define N_KINDS G_N_ELEMENTS(kinds)
#define POOLS_PER_KIND 3

static guint64 splitmix(guint64 x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static json_t *load_json_or_yaml(const char *dir, const char *rel)
{
    if (!dir) {
        return NULL;
    }
    g_autofree char *path = g_build_filename(dir, rel, NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(FpDocs) docs = fp_docs_load_file(path, 64 * 1024 * 1024, &error);
    if (!docs || fp_docs_count(docs) < 1) {
        return NULL;
    }
    return json_deep_copy(fp_docs_get(docs, 0));
}

static size_t compact_size(const json_t *v)
{
    return json_dumpb(v, NULL, 0, JSON_COMPACT);
}

/* A synthetic node of the template's shape, for runs without shared data. */
static json_t *synthetic_node(void)
{
    json_t *labels = json_object();
    static const char *const feats[] = {"AESNI", "AVX",   "AVX2", "FMA3", "HYPERVISOR",
                                        "IBPB",  "STIBP", "SSE4", "VMX",  "ADX"};
    for (guint i = 0; i < G_N_ELEMENTS(feats); i++) {
        g_autofree char *k = g_strdup_printf("feature.node.kubernetes.io/cpu-cpuid.%s", feats[i]);
        json_object_set_new(labels, k, json_string("true"));
    }
    static const char *const kv[] = {"beta.kubernetes.io/arch",
                                     "amd64",
                                     "beta.kubernetes.io/os",
                                     "linux",
                                     "kubernetes.io/arch",
                                     "amd64",
                                     "kubernetes.io/os",
                                     "linux",
                                     "nvidia.com/cuda.driver.major",
                                     "550",
                                     "nvidia.com/cuda.driver.minor",
                                     "54",
                                     "nvidia.com/cuda.runtime.major",
                                     "12",
                                     "nvidia.com/cuda.runtime.minor",
                                     "4",
                                     "nvidia.com/gfd.timestamp",
                                     "1716196054",
                                     "nvidia.com/gpu.compute.major",
                                     "9",
                                     "nvidia.com/gpu.compute.minor",
                                     "0",
                                     "nvidia.com/gpu.deploy.container-toolkit",
                                     "true",
                                     "nvidia.com/gpu.deploy.dcgm",
                                     "true",
                                     "nvidia.com/gpu.deploy.dcgm-exporter",
                                     "true",
                                     "nvidia.com/gpu.deploy.device-plugin",
                                     "true",
                                     "nvidia.com/gpu.deploy.driver",
                                     "true",
                                     "nvidia.com/gpu.deploy.gpu-feature-discovery",
                                     "true",
                                     "nvidia.com/gpu.family",
                                     "hopper",
                                     "nvidia.com/gpu.machine",
                                     "standard-pc",
                                     "nvidia.com/gpu.present",
                                     "true",
                                     "nvidia.com/gpu.replicas",
                                     "1",
                                     "nvidia.com/mig.capable",
                                     "false",
                                     "nvidia.com/mig.strategy",
                                     "single",
                                     NULL};
    for (guint i = 0; kv[i]; i += 2) {
        json_object_set_new(labels, kv[i], json_string(kv[i + 1]));
    }
    json_t *images = json_array();
    for (guint i = 0; i < 60; i++) {
        GString *digest = g_string_new(NULL);
        for (guint j = 0; j < 4; j++) {
            g_string_append_printf(digest, "%016" G_GINT64_MODIFIER "x", splitmix(i * 8 + j));
        }
        g_autofree char *a =
            g_strdup_printf("registry.example/inference/model-%02u@sha256:%s", i, digest->str);
        g_autofree char *b = g_strdup_printf("registry.example/inference/model-%02u:v1.%u", i, i);
        json_array_append_new(images, json_pack("{s:[s,s], s:I}", "names", a, b, "sizeBytes",
                                                (json_int_t)(1000000000 + i * 7919)));
        g_string_free(digest, TRUE);
    }
    json_t *conds = json_array();
    static const char *const types[] = {"MemoryPressure", "DiskPressure", "PIDPressure", "Ready"};
    for (guint i = 0; i < G_N_ELEMENTS(types); i++) {
        bool ready = g_str_equal(types[i], "Ready");
        json_array_append_new(
            conds, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "lastHeartbeatTime",
                             "2026-11-27T07:00:00Z", "lastTransitionTime", "2026-11-20T07:00:00Z",
                             "message", ready ? "kubelet is posting ready status" : "no pressure",
                             "reason", ready ? "KubeletReady" : "KubeletHasNoPressure", "status",
                             ready ? "True" : "False", "type", types[i]));
    }
    json_t *res =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "cpu", "48", "ephemeral-storage", "93492209510",
                  "memory", "193000000Ki", "nvidia.com/gpu", "4", "pods", "110");
    return json_pack(
        "{s:{s:s, s:s, s:s, s:s, s:o, s:{s:s, s:s}}, s:{s:s, s:[s]},"
        " s:{s:[{s:s, s:s}], s:O, s:o, s:o, s:{s:{s:i}}, s:o,"
        " s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}}}",
        "metadata", "name", "template", "uid", "00000000-0000-4000-8000-000000000000",
        "resourceVersion", "1", "creationTimestamp", "2026-11-20T07:00:00Z", "labels", labels,
        "annotations", "node.alpha.kubernetes.io/ttl", "0",
        "volumes.kubernetes.io/controller-managed-attach-detach", "true", "spec", "podCIDR",
        "10.244.1.0/24", "podCIDRs", "10.244.1.0/24", "status", "addresses", "address", "10.0.0.4",
        "type", "InternalIP", "allocatable", res, "capacity", res, "conditions", conds,
        "daemonEndpoints", "kubeletEndpoint", "Port", 10250, "images", images, "nodeInfo",
        "architecture", "amd64", "bootID", "5d5b7f0c-2b8e-4c59-9d64-0c9e6f2f6f7e",
        "containerRuntimeVersion", "containerd://1.7.22", "kernelVersion", "6.1.0-27-cloud-amd64",
        "kubeProxyVersion", "v1.32.6", "kubeletVersion", "v1.32.6", "machineID",
        "4a1c0e7f3b2d4c5e8f9a0b1c2d3e4f50", "operatingSystem", "linux", "osImage",
        "Debian GNU/Linux 12 (bookworm)", "systemUUID", "4a1c0e7f-3b2d-4c5e-8f9a-0b1c2d3e4f50");
}

static json_t *node_template(const char *shared, const char **source)
{
    json_t *node = load_json_or_yaml(shared, NODE_TEMPLATE);
    if (node && json_is_object(node) && json_is_object(json_object_get(node, "status"))) {
        *source = NODE_TEMPLATE;
        json_object_del(node, "apiVersion");
        json_object_del(node, "kind");
        json_t *cap = load_json_or_yaml(shared, NODE_CAPTURE);
        json_t *items = json_object_get(json_object_get(cap, "Nodes"), "items");
        json_t *mf =
            json_object_get(json_object_get(json_array_get(items, 0), "metadata"), "managedFields");
        if (mf) {
            json_object_set(json_object_get(node, "metadata"), "managedFields", mf);
        }
        json_decref(cap);
    } else {
        json_decref(node);
        node = synthetic_node();
        *source = "synthetic (shared data absent)";
    }
    /* About 12 KB a node, mostly status.images, as on real clusters. */
    json_t *images = json_object_get(json_object_get(node, "status"), "images");
    while (json_array_size(images) > 1 && compact_size(node) > TARGET_NODE_BYTES + 600) {
        json_array_remove(images, json_array_size(images) - 1);
    }
    return node;
}

static json_t *pod_template(const char *shared, const char **source)
{
    json_t *cap = load_json_or_yaml(shared, POD_CAPTURE);
    json_t *pod = json_object_get(cap, "Pod");
    if (pod && json_is_object(pod)) {
        pod = json_deep_copy(pod);
        *source = POD_CAPTURE;
    } else {
        pod = json_pack(
            "{s:{s:s, s:s, s:s, s:{s:s}}, s:{s:[{s:s, s:s, s:{s:{s:s}, s:{s:s, s:s, s:s}}}],"
            " s:s, s:i}, s:{s:s, s:s}}",
            "metadata", "name", "gpu-pod", "namespace", "default", "uid",
            "4227b061-57f1-416d-ae31-2a1649712bb7", "labels", "app", "gpu-test", "spec",
            "containers", "name", "cuda", "image", "example.invalid/gpu-test:never-pulled",
            "resources", "limits", "nvidia.com/gpu", "1", "requests", "cpu", "100m", "memory",
            "64Mi", "nvidia.com/gpu", "1", "schedulerName", "default-scheduler", "priority", 0,
            "status", "phase", "Pending", "qosClass", "Burstable");
        *source = "synthetic (shared data absent)";
    }
    json_decref(cap);
    /* A real policy decision: latency from two origins counts. */
    json_t *meta = json_object_get(pod, "metadata");
    json_object_set_new(meta, "annotations",
                        json_pack("{s:s}", "flexplace.io/origin-region", "us-east-1=3,eastus=1"));
    return pod;
}

static char *policy_yaml(void)
{
    GString *s = g_string_new("apiVersion: flexplace.io/v1alpha1\n"
                              "kind: PlacementPolicy\n"
                              "# Generated by fp_bench; prices and latencies are illustrative.\n"
                              "skus:\n");
    for (guint k = 0; k < N_KINDS; k++) {
        bool seen = false;
        for (guint j = 0; j < k; j++) {
            seen = seen || g_str_equal(kinds[j].product, kinds[k].product);
        }
        if (!seen) {
            g_string_append_printf(
                s, "  %s: {memoryGiB: %u, relativeThroughput: %.2f, pricePerGPUHour: %.2f}\n",
                kinds[k].product, (kinds[k].memory_mib + 1023) / 1024, kinds[k].throughput,
                kinds[k].price);
        }
    }
    g_string_append(s, "pools:\n");
    for (guint k = 0; k < N_KINDS; k++) {
        for (guint p = 0; p < POOLS_PER_KIND; p++) {
            g_string_append_printf(s,
                                   "  - name: %s-%c\n    cloud: %s\n    pricePerGPUHour: %.2f\n"
                                   "    maxUtilization: %.2f\n",
                                   kinds[k].pool, 'a' + p, kinds[k].cloud,
                                   kinds[k].price * (1.0 + 0.05 * p), p == 2 ? 0.8 : 0.95);
        }
    }
    static const char *const regions[] = {"us-east-1",  "us-west-2",   "eu-west-1",   "eastus",
                                          "westeurope", "us-central1", "europe-west4"};
    static const double coords[][2] = {{0, 0},   {62, 0}, {70, 30}, {2, 1},
                                       {75, 28}, {25, 3}, {80, 33}};
    g_string_append(s, "regions:\n  latencyMs:\n");
    for (guint i = 0; i < G_N_ELEMENTS(regions); i++) {
        g_string_append_printf(s, "    %s: {", regions[i]);
        for (guint j = i; j < G_N_ELEMENTS(regions); j++) {
            double dx = coords[i][0] - coords[j][0], dy = coords[i][1] - coords[j][1];
            double ms = i == j ? 2.0 : 4.0 + (dx < 0 ? -dx : dx) + (dy < 0 ? -dy : dy);
            g_string_append_printf(s, "%s%s: %.1f", j == i ? "" : ", ", regions[j], ms);
        }
        g_string_append(s, "}\n");
    }
    g_string_append(s, "profiles:\n"
                       "  default:\n"
                       "    weights: {latency: 3, cost: 2, headroom: 3, packing: 1, sku: 1}\n"
                       "    skuPreference: [NVIDIA-H100-80GB-HBM3, NVIDIA-A100-80GB-PCIe, "
                       "NVIDIA-L40S, NVIDIA-L4]\n"
                       "  every-node:   # the default without the short list\n"
                       "    weights: {latency: 3, cost: 2, headroom: 3, packing: 1, sku: 1}\n"
                       "    skuPreference: [NVIDIA-H100-80GB-HBM3, NVIDIA-A100-80GB-PCIe, "
                       "NVIDIA-L40S, NVIDIA-L4]\n"
                       "    shortList: 0\n"
                       "  latency-critical:\n"
                       "    weights: {latency: 8, headroom: 2}\n"
                       "    maxLatencyMs: 60\n"
                       "namespaces: {incident-triage: latency-critical}\n");
    return g_string_free(s, FALSE);
}

static void set_str(json_t *obj, const char *key, const char *value)
{
    json_object_set_new(obj, key, json_string(value));
}

static void build_node(BenchCluster *c, guint i, const json_t *tmpl)
{
    BenchNode *n = &c->nodes[i];
    const PoolKind *k = &kinds[i % N_KINDS];
    guint pool = (i / N_KINDS) % POOLS_PER_KIND;
    guint64 r = splitmix(c->seed * 1000003 + i);
    n->name = g_strdup_printf("%s-%c-%05u", k->pool, 'a' + pool, i);
    n->gpus = k->gpus;
    /* Usage varies from empty to full; a few nodes are NotReady or cordoned. */
    n->gpus_used = (guint)((r >> 8) % (k->gpus + 1));
    n->ready = (r % 97) != 0;
    n->unschedulable = (r % 89) == 0;

    json_t *node = json_deep_copy(tmpl);
    json_t *meta = json_object_get(node, "metadata");
    char buf[128];
    set_str(meta, "name", n->name);
    g_snprintf(buf, sizeof buf, "%08x-5e1f-4d6a-9c2b-%012" G_GINT64_MODIFIER "x", i,
               (guint64)(r & 0xffffffffffffULL));
    set_str(meta, "uid", buf);
    g_snprintf(buf, sizeof buf, "%u", 100000 + i);
    set_str(meta, "resourceVersion", buf);
    json_t *labels = json_object_get(meta, "labels");
    if (!json_is_object(labels)) {
        labels = json_object();
        json_object_set_new(meta, "labels", labels);
    }
    set_str(labels, "kubernetes.io/hostname", n->name);
    set_str(labels, "node.kubernetes.io/instance-type", k->instance_type);
    set_str(labels, "topology.kubernetes.io/region", k->region);
    set_str(labels, "topology.kubernetes.io/zone", k->zone);
    g_snprintf(buf, sizeof buf, "%s-%c", k->pool, 'a' + pool);
    set_str(labels, k->pool_label, buf);
    set_str(labels, "nvidia.com/gpu.product", k->product);
    g_snprintf(buf, sizeof buf, "%u", k->memory_mib);
    set_str(labels, "nvidia.com/gpu.memory", buf);
    g_snprintf(buf, sizeof buf, "%u", k->gpus);
    set_str(labels, "nvidia.com/gpu.count", buf);

    json_t *spec = json_object_get(node, "spec");
    if (n->unschedulable) {
        json_object_set_new(spec, "taints",
                            json_pack("[{s:s, s:s, s:s}]", "effect", "NoSchedule", "key",
                                      "node.kubernetes.io/unschedulable", "timeAdded",
                                      "2026-11-27T06:00:00Z"));
        json_object_set_new(spec, "unschedulable", json_true());
    }
    json_t *status = json_object_get(node, "status");
    g_snprintf(buf, sizeof buf, "%u", k->gpus);
    set_str(json_object_get(status, "allocatable"), "nvidia.com/gpu", buf);
    set_str(json_object_get(status, "capacity"), "nvidia.com/gpu", buf);
    size_t ci;
    json_t *cond;
    json_array_foreach(json_object_get(status, "conditions"), ci, cond)
    {
        if (g_strcmp0(json_string_value(json_object_get(cond, "type")), "Ready") == 0) {
            set_str(cond, "status", n->ready ? "True" : "False");
            set_str(cond, "reason", n->ready ? "KubeletReady" : "NodeStatusUnknown");
        }
    }
    n->json = json_dumps(node, JSON_COMPACT);
    n->len = strlen(n->json);
    json_decref(node);
}

BenchCluster *bench_cluster_new(guint n_nodes, guint pods_per_node, guint n_pending,
                                const char *shared_data, guint64 seed)
{
    BenchCluster *c = g_new0(BenchCluster, 1);
    c->n_nodes = n_nodes;
    c->pods_per_node = pods_per_node;
    c->n_pending = n_pending;
    c->seed = seed;
    c->nodes = g_new0(BenchNode, n_nodes);
    json_t *tmpl = node_template(shared_data, &c->node_template_source);
    size_t total = 0;
    for (guint i = 0; i < n_nodes; i++) {
        build_node(c, i, tmpl);
        total += c->nodes[i].len;
        /* A node runs at most pods_per_node pods, one GPU each. */
        c->nodes[i].gpus_used = MIN(c->nodes[i].gpus_used, pods_per_node);
    }
    json_decref(tmpl);
    c->node_bytes_mean = n_nodes ? total / n_nodes : 0;
    json_t *pod = pod_template(shared_data, &c->pod_template_source);
    c->pod_json = json_dumps(pod, JSON_COMPACT);
    json_decref(pod);
    c->policy_yaml = policy_yaml();
    return c;
}

void bench_cluster_free(BenchCluster *c)
{
    if (!c) {
        return;
    }
    for (guint i = 0; i < c->n_nodes; i++) {
        g_free(c->nodes[i].name);
        free(c->nodes[i].json);
    }
    g_free(c->nodes);
    free(c->pod_json);
    g_free(c->policy_yaml);
    g_free(c);
}

guint bench_cluster_pod_count(const BenchCluster *c)
{
    return c->n_nodes * c->pods_per_node + c->n_pending;
}

void bench_cluster_pod_identity(const BenchCluster *c, guint index, char *name, size_t name_len,
                                char *ns, size_t ns_len, char *uid, size_t uid_len)
{
    guint running = c->n_nodes * c->pods_per_node;
    if (index < running) {
        guint node = index / c->pods_per_node, slot = index % c->pods_per_node;
        g_snprintf(name, name_len, "infer-%05u-%02u", node, slot);
        g_snprintf(ns, ns_len, "team-%u", node % 40);
    } else {
        g_snprintf(name, name_len, "burst-%05u", index - running);
        g_snprintf(ns, ns_len, "burst");
    }
    g_snprintf(uid, uid_len, "%08x-7a3c-4f1e-8b2d-%012x", index, index * 2654435761u);
}

void bench_cluster_append_pod(const BenchCluster *c, guint index, guint64 rv, guint variant,
                              GString *out)
{
    char name[64], ns[64], uid[64];
    bench_cluster_pod_identity(c, index, name, sizeof name, ns, sizeof ns, uid, sizeof uid);
    guint running = c->n_nodes * c->pods_per_node;
    const char *node = NULL;
    bool gpu = true;
    guint owner = index / 10;
    if (index < running) {
        const BenchNode *n = &c->nodes[index / c->pods_per_node];
        node = n->name;
        gpu = index % c->pods_per_node < n->gpus_used;
    }
    g_string_append_printf(
        out,
        "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"%s\","
        "\"resourceVersion\":\"%" G_GUINT64_FORMAT "\","
        "\"creationTimestamp\":\"2026-11-27T07:00:00Z\",\"labels\":{\"app\":\"infer-%u\","
        "\"pod-template-hash\":\"7d9f8c6b5\"},\"ownerReferences\":[{\"apiVersion\":\"apps/v1\","
        "\"kind\":\"ReplicaSet\",\"name\":\"infer-%u-7d9f8c6b5\",\"uid\":\"%08x-0d2e-4b7a-9c1f-"
        "000000000000\",\"controller\":true,\"blockOwnerDeletion\":true}]},"
        "\"spec\":{\"containers\":[{\"name\":\"server\",\"image\":\"vllm/vllm-openai:v0.6.3\","
        "\"ports\":[{\"containerPort\":8000,\"protocol\":\"TCP\"}],\"resources\":{",
        name, ns, uid, rv, owner, owner, owner);
    if (gpu) {
        g_string_append(out, "\"limits\":{\"nvidia.com/gpu\":\"1\"},\"requests\":{\"cpu\":\"4\","
                             "\"memory\":\"16Gi\",\"nvidia.com/gpu\":\"1\"}}");
    } else {
        g_string_append(out, "\"requests\":{\"cpu\":\"250m\",\"memory\":\"512Mi\"}}");
    }
    g_string_append(out, ",\"terminationMessagePath\":\"/dev/termination-log\","
                         "\"terminationMessagePolicy\":\"File\",\"imagePullPolicy\":"
                         "\"IfNotPresent\"}],\"restartPolicy\":\"Always\","
                         "\"terminationGracePeriodSeconds\":30,\"dnsPolicy\":\"ClusterFirst\","
                         "\"serviceAccountName\":\"default\",");
    if (node) {
        g_string_append_printf(out, "\"nodeName\":\"%s\",", node);
    }
    g_string_append_printf(
        out,
        "\"schedulerName\":\"flexplace-scheduler\",\"priority\":0,\"tolerations\":[{\"key\":"
        "\"nvidia.com/gpu\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}]},"
        "\"status\":{\"phase\":\"%s\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"%s\","
        "\"lastProbeTime\":null,\"lastTransitionTime\":\"2026-11-27T07:0%u:00Z\"}],"
        "\"qosClass\":\"Burstable\"}}",
        node ? "Running" : "Pending", variant % 2 ? "False" : "True", variant % 10);
}

static void body_head(GString *s, const char *pod_json)
{
    g_string_append(s, "{\"Pod\":");
    g_string_append(s, pod_json);
}

char *bench_body_names_for(const BenchCluster *c, const char *pod_json, guint first, guint n,
                           size_t *len)
{
    GString *s = g_string_sized_new(64 + (gsize)n * 32 + strlen(pod_json));
    body_head(s, pod_json);
    g_string_append(s, ",\"Nodes\":null,\"NodeNames\":[");
    for (guint i = 0; i < n; i++) {
        g_string_append_printf(s, "%s\"%s\"", i ? "," : "",
                               c->nodes[(first + i) % c->n_nodes].name);
    }
    g_string_append(s, "]}");
    *len = s->len;
    return g_string_free(s, FALSE);
}

char *bench_body_names(const BenchCluster *c, guint first, guint n, size_t *len)
{
    return bench_body_names_for(c, c->pod_json, first, n, len);
}

char *bench_body_name_list_for(const char *pod_json, const char *const *names, size_t *len)
{
    GString *s = g_string_new(NULL);
    body_head(s, pod_json);
    g_string_append(s, ",\"Nodes\":null,\"NodeNames\":[");
    for (guint i = 0; names && names[i]; i++) {
        g_string_append_printf(s, "%s\"%s\"", i ? "," : "", names[i]);
    }
    g_string_append(s, "]}");
    *len = s->len;
    return g_string_free(s, FALSE);
}

char *bench_body_name_list(const BenchCluster *c, const char *const *names, size_t *len)
{
    return bench_body_name_list_for(c->pod_json, names, len);
}

char *bench_pod_variant(const BenchCluster *c, guint i, const char *profile)
{
    json_t *pod = json_loads(c->pod_json, 0, NULL);
    json_t *meta = json_object_get(pod, "metadata");
    g_autofree char *name =
        g_strdup_printf("%s-%u", json_string_value(json_object_get(meta, "name")), i);
    g_autofree char *uid = g_strdup_printf("00000000-0000-4000-8000-%012u", i);
    json_object_set_new(meta, "name", json_string(name));
    json_object_set_new(meta, "uid", json_string(uid));
    if (profile) {
        json_t *ann = json_object_get(meta, "annotations");
        json_object_set_new(ann, "flexplace.io/profile", json_string(profile));
    }
    char *out = json_dumps(pod, JSON_COMPACT);
    json_decref(pod);
    return out;
}

char *bench_body_full(const BenchCluster *c, guint first, guint n, size_t *len)
{
    GString *s = g_string_sized_new(64 + (gsize)n * (c->node_bytes_mean + 2));
    body_head(s, c->pod_json);
    g_string_append(s, ",\"Nodes\":{\"metadata\":{},\"items\":[");
    for (guint i = 0; i < n; i++) {
        if (i) {
            g_string_append_c(s, ',');
        }
        const BenchNode *node = &c->nodes[(first + i) % c->n_nodes];
        g_string_append_len(s, node->json, (gssize)node->len);
    }
    g_string_append(s, "]},\"NodeNames\":null}");
    *len = s->len;
    return g_string_free(s, FALSE);
}

char *bench_body_bind(const BenchCluster *c, guint k, const char *node, size_t *len)
{
    char name[64], ns[64], uid[64];
    bench_cluster_pod_identity(c, c->n_nodes * c->pods_per_node + k, name, sizeof name, ns,
                               sizeof ns, uid, sizeof uid);
    char *s = g_strdup_printf("{\"PodName\":\"%s\",\"PodNamespace\":\"%s\",\"PodUID\":\"%s\","
                              "\"Node\":\"%s\"}",
                              name, ns, uid, node);
    *len = strlen(s);
    return s;
}
