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
#include <string.h>

#include "cache/gpu_inventory.h"
#include "scoring/device.h"
#include "scoring/engine.h"
#include "test/support/support.h"

/* ---- a Node from label lines -------------------------------------------- */

G_GNUC_UNUSED static FpNode *node_of(const char *name, const char *const *labels,
                                     const char *const *alloc)
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

/* ---- the real node files: a loose reader ----------------------------------
 *
 * The files are kubectl describe text, YAML Node objects or excerpts, and
 * JSON label maps.  Labels are "key=value" (describe) or "key: value" lines
 * (YAML) outside annotation and taint sections; a GPU resource name with a
 * number is allocatable (allocatable wins over capacity). */

static bool is_gpu_resource_name(const char *k)
{
    if (strcmp(k, "nvidia.com/gpu") == 0 || strcmp(k, "amd.com/gpu") == 0 ||
        strcmp(k, "nvidia.com/gpu.shared") == 0) {
        return true;
    }
    if (!g_str_has_prefix(k, "nvidia.com/mig-")) {
        return false;
    }
    const char *p = k + strlen("nvidia.com/mig-");
    return fp_device_mig_compute(p) > 0 && g_str_has_suffix(p, "gb");
}

static char *unquote(const char *v)
{
    g_autofree char *t = g_strstrip(g_strdup(v));
    gsize n = strlen(t);
    if (n >= 2 && (t[0] == '"' || t[0] == '\'') && t[n - 1] == t[0]) {
        return g_strndup(t + 1, n - 2);
    }
    return g_strdup(t);
}

static void read_line(FpNode *node, GHashTable *seen_alloc, const char *line, const char *section)
{
    g_autofree char *t = g_strstrip(g_strdup(line));
    if (!*t || t[0] == '$' || t[0] == '#' || t[0] == '`') {
        return;
    }
    const char *colon = strstr(t, ": ");
    if (!colon && g_str_has_suffix(t, ":")) {
        colon = t + strlen(t) - 1;
    }
    const char *eq = strchr(t, '=');
    g_autofree char *key = NULL;
    g_autofree char *value = NULL;
    if (colon && (!eq || colon < eq)) {
        key = g_strndup(t, (gsize)(colon - t));
        value = unquote(colon + 1);
    } else if (eq) {
        key = g_strndup(t, (gsize)(eq - t));
        value = g_strdup(eq + 1);
    } else {
        return;
    }
    g_autofree char *k = unquote(key);
    if (!strchr(k, '/') || strchr(k, ' ')) {
        return;
    }
    if (is_gpu_resource_name(k) && g_ascii_isdigit(value[0])) {
        bool alloc = strcmp(section, "allocatable") == 0;
        if (alloc || !g_hash_table_contains(seen_alloc, k)) {
            fp_res_list_set(&node->allocatable, k, g_ascii_strtoll(value, NULL, 10));
            g_hash_table_add(seen_alloc, g_strdup(k));
        }
        return;
    }
    if (strcmp(section, "annotations") == 0 || strcmp(section, "taints") == 0 ||
        strcmp(section, "capacity") == 0 || strcmp(section, "allocatable") == 0) {
        return;
    }
    fp_node_set_label(node, k, value);
}

static FpNode *node_from_file(const char *path, const char *name)
{
    g_autofree char *text = fp_test_read_file(path, NULL);
    FpNode *node = fp_node_new(name);
    const char *start = text + strspn(text, " \t\r\n");
    if (*start == '{') {
        json_error_t err;
        json_t *obj = json_loads(start, 0, &err);
        assert_non_null(obj);
        const char *k;
        json_t *v;
        json_object_foreach(obj, k, v)
        {
            if (json_is_string(v)) {
                fp_node_set_label(node, k, json_string_value(v));
            }
        }
        json_decref(obj);
        return node;
    }
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    char section[32] = "";
    gsize section_indent = 0;
    for (guint i = 0; lines[i]; i++) {
        const char *l = lines[i];
        gsize indent = strspn(l, " ");
        const char *body = l + indent;
        if (*body && indent <= section_indent && section[0] && !g_ascii_isspace(*body)) {
            /* a line at or left of the section's header ends it (YAML) */
            if (indent < section_indent || strchr(body, ':') != NULL) {
                section[0] = '\0';
            }
        }
        /* a header: "Word:" or "Word:   rest" with a plain word */
        gsize w = 0;
        while (g_ascii_isalpha(body[w])) {
            w++;
        }
        if (w > 0 && body[w] == ':' && (body[w + 1] == '\0' || body[w + 1] == ' ')) {
            g_strlcpy(section, body, MIN(w + 1, sizeof section));
            for (char *p = section; *p; p++) {
                *p = g_ascii_tolower(*p);
            }
            section_indent = indent;
            const char *rest = body + w + 1;
            if (strchr(rest, '=') || strchr(rest, ':')) {
                read_line(node, seen, rest, section); /* "Labels:   first=label" */
            }
            continue;
        }
        read_line(node, seen, l, section);
    }
    return node;
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
        print_message("FP_SHARED_DATA not available: skipping the real node files\n");
        skip();
    }
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    guint failed = 0;
    for (guint i = 0; i < G_N_ELEMENTS(real_nodes); i++) {
        g_autofree char *path = g_build_filename(dir, real_nodes[i].file, NULL);
        g_autoptr(FpNode) node = node_from_file(path, real_nodes[i].file);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
