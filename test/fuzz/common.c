/*
 * test/fuzz/common.c - shared set-up of the fuzz targets (see fuzz.h).
 */
#include "test/fuzz/fuzz.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/demo_cluster.h"
#include "cache/snapshot.h"
#include "policies/policy_load.h"

/* Regions, profiles with every limit, pools and SKUs: the annotation and
 * request targets resolve demands against this. */
static const char rich_policy_yaml[] =
    "apiVersion: flexplace.io/v1alpha1\n"
    "kind: PlacementPolicy\n"
    "skus:\n"
    "  NVIDIA-L4: {memoryGiB: 24, relativeThroughput: 0.5, pricePerGPUHour: 0.8}\n"
    "  NVIDIA-H100-80GB-HBM3: {pricePerGPUHour: 6.98}\n"
    "pools:\n"
    "  - {name: aws-use1-l4, pricePerGPUHour: 0.98, maxUtilization: 0.5, cloud: aws}\n"
    "  - {name: gke-l4-pool, maxUtilization: 0.9}\n"
    "regions:\n"
    "  latencyMs:\n"
    "    us-east-1: {us-west-2: 62, eastus: 8, westeurope: 80, us-central1: 30}\n"
    "    us-west-2: {eastus: 65, westeurope: 140, us-central1: 40}\n"
    "    eastus: {westeurope: 82, us-central1: 28}\n"
    "    westeurope: {us-central1: 100}\n"
    "  defaultLatencyMs: 200\n"
    "profiles:\n"
    "  default: {weights: {latency: 3, cost: 2, headroom: 3, packing: 1, sku: 1, spread: 2}}\n"
    "  latency-critical:\n"
    "    weights: {latency: 8, headroom: 2}\n"
    "    maxLatencyMs: 40\n"
    "    maxPricePerGPUHour: 10\n"
    "    minGPUMemory: 20Gi\n"
    "    packing: spread\n"
    "    cost: perWork\n"
    "    allowedSKUs: [NVIDIA-L4, NVIDIA-H100-80GB-HBM3, NVIDIA-A100-SXM4-40GB-MIG-*]\n"
    "    skuPreference: [NVIDIA-H100-80GB-HBM3]\n"
    "    originRegions: \"us-east-1=3,westeurope=1\"\n"
    "    minSpreadPools: 2\n"
    "namespaces: {incident-triage: latency-critical}\n";

static gsize init_done;
static FpView *demo_view;
static const char **demo_names;
static guint demo_n;
static FpPolicy *default_policy;
static FpPolicy *rich_policy;

void fp_fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", file, line, what);
    abort();
}

static GLogWriterOutput quiet_writer(GLogLevelFlags level, const GLogField *fields, gsize n,
                                     gpointer user_data)
{
    if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR)) {
        for (gsize i = 0; i < n; i++) {
            if (strcmp(fields[i].key, "MESSAGE") == 0 && fields[i].length < 0) {
                fprintf(stderr, "critical log message: %s\n", (const char *)fields[i].value);
            }
        }
        abort();
    }
    return G_LOG_WRITER_HANDLED;
}

static void collect_name(const FpNodeState *st, void *data)
{
    g_ptr_array_add(data, (gpointer)st->name);
}

void fp_fuzz_init(void)
{
    if (!g_once_init_enter(&init_done)) {
        return;
    }
    g_log_set_writer_func(quiet_writer, NULL, NULL);
    /* A fixed seed keeps runs reproducible. */
    json_object_seed(1);
    g_once_init_leave(&init_done, 1);
}

FpView *fp_fuzz_demo_view(void)
{
    fp_fuzz_init();
    if (demo_view) {
        return demo_view;
    }
    GError *error = NULL;
    demo_view = fp_view_new();
    if (!fp_demo_cluster_load(demo_view, &error)) {
        fprintf(stderr, "cannot load the demo cluster: %s\n", error->message);
        abort();
    }
    GPtrArray *names = g_ptr_array_new();
    fp_view_read_lock(demo_view);
    fp_view_foreach_node_locked(demo_view, collect_name, names);
    fp_view_read_unlock(demo_view);
    g_ptr_array_add(names, (gpointer) "no-such-node");
    demo_n = names->len;
    g_ptr_array_add(names, NULL);
    demo_names = (const char **)g_ptr_array_free(names, FALSE);
    return demo_view;
}

const char *const *fp_fuzz_demo_names(guint *n)
{
    fp_fuzz_demo_view();
    *n = demo_n;
    return demo_names;
}

const FpPolicy *fp_fuzz_default_policy(void)
{
    fp_fuzz_init();
    if (!default_policy) {
        default_policy = fp_policy_new_default();
    }
    return default_policy;
}

const FpPolicy *fp_fuzz_rich_policy(void)
{
    fp_fuzz_init();
    if (!rich_policy) {
        FpPolicyReport *report = fp_policy_report_new();
        rich_policy = fp_policy_load_buffer(rich_policy_yaml, sizeof rich_policy_yaml - 1,
                                            "rich-policy.yaml", report);
        if (!rich_policy) {
            char *errors = fp_policy_report_join_errors(report, "\n");
            fprintf(stderr, "the fuzz policy does not load:\n%s\n", errors);
            abort();
        }
        fp_policy_report_free(report);
    }
    return rich_policy;
}
