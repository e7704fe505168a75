/*
 * test/fuzz/fuzz_gpu_labels.c - the GPU inventory's label parser
 * (cache/gpu_inventory.h).
 *
 * Input: lines "key=value" become node labels, lines "@resource=count"
 * allocatable (count a decimal, clamped to 0..1000); the inventory is built
 * under the built-in policy and under one with a spot factor, an instance
 * type override and an extra GPU resource.  Every class must be sane: a
 * known resource name, fraction in (0, 1] or unknown (0/0), memory >= 0,
 * price unknown or >= 0, a description that fits; a problem means memory 0.
 */
#include <math.h>
#include <string.h>

#include "cache/gpu_inventory.h"
#include "scoring/engine.h"
#include "test/fuzz/fuzz.h"

static FpPolicy *policies[2];

static void init_policies(void)
{
    if (policies[0]) {
        return;
    }
    policies[0] = fp_policy_new_default();
    FpPolicy *p = fp_policy_new_default();
    p->spot_price_factor = 0.3;
    g_strfreev(p->gpu_resources);
    p->gpu_resources = g_strsplit("nvidia.com/gpu,amd.com/gpu,example.com/npu", ",", -1);
    FpInstanceType *it = fp_instance_type_new("g6.12xlarge");
    it->product = g_strdup("NVIDIA-L4");
    it->gpu_count = 4;
    it->price_per_gpu_hour = 1.0;
    g_hash_table_replace(p->instance_types, g_strdup(it->name), it);
    policies[1] = p;
}

static void check_class(const FpDeviceClass *d)
{
    char buf[FP_DEVICE_DESCRIBE_MAX];
    if (!d->resource || !d->product || !d->base || !d->model || !d->profile || !d->origin) {
        abort();
    }
    double f = fp_device_fraction(d);
    if (!(f > 0 && f <= 1.0 + 1e-9) && !(d->share_num == 0 || d->share_den == 0)) {
        abort();
    }
    if (!(d->memory_mib >= 0) || (d->problem && d->memory_mib != 0)) {
        abort();
    }
    if (!(d->price_per_hour < 0 || isfinite(d->price_per_hour)) || !(d->relative_throughput > 0)) {
        abort();
    }
    fp_device_describe(d, buf, sizeof buf);
    if (strlen(buf) >= sizeof buf) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_policies();
    FpNode *node = fp_node_new("fuzz-node");
    const char *p = (const char *)data;
    const char *end = p + size;
    for (guint lines = 0; p < end && lines < 64; lines++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        const char *eq = memchr(p, '=', (size_t)(line_end - p));
        if (eq) {
            g_autofree char *key = g_strndup(p, (gsize)(eq - p));
            g_autofree char *value = g_strndup(eq + 1, (gsize)(line_end - eq - 1));
            if (key[0] == '@' && key[1]) {
                gint64 v = g_ascii_strtoll(value, NULL, 10);
                fp_res_list_set(&node->allocatable, key + 1, CLAMP(v, 0, 1000));
            } else {
                fp_node_set_label(node, key, value);
            }
        }
        p = nl ? nl + 1 : end;
    }
    for (guint k = 0; k < G_N_ELEMENTS(policies); k++) {
        FpNodeFacts facts;
        fp_node_facts(policies[k], node, &facts);
        FpGpuInventory *inv = fp_gpu_inventory_new(policies[k], node, &facts);
        for (guint i = 0; inv && i < inv->n; i++) {
            check_class(&inv->classes[i]);
            if (fp_gpu_inventory_find(inv, inv->classes[i].resource) == NULL) {
                abort();
            }
        }
        if (inv && inv->n > FP_GPU_INVENTORY_MAX) {
            abort();
        }
        fp_gpu_inventory_unref(inv);
    }
    fp_node_unref(node);
    return 0;
}
