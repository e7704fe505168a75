/*
 * extender/cli/cmd_policy.c - "flexplace policy check": validate a
 * PlacementPolicy (file, directory, ConfigMap manifest or stdin) and print
 * either a summary of what it compiles to or every error, one per line.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "extender/cli/commands.h"
#include "cache/snapshot.h"
#include "policies/policy_cluster.h"
#include "policies/policy_load.h"

static void usage(FILE *out)
{
    fprintf(out, "Usage: flexplace policy check FILE|DIR|- [-o text|json] [--cluster FILE]\n"
                 "       flexplace policy --help\n"
                 "\n"
                 "Validate a PlacementPolicy: a YAML or JSON file, a directory (a mounted\n"
                 "ConfigMap: its *.yaml, *.yml and *.json files are merged), a ConfigMap\n"
                 "manifest (kind: ConfigMap; each data key is one file), or - for stdin.\n"
                 "\n"
                 "On success prints what the policy compiles to (GPU resources, profiles\n"
                 "with weights and limits, namespaces, pools, SKUs, regions) and exits 0.\n"
                 "On failure prints every error, one per line, as\n"
                 "  file:line:column: key.path: message\n"
                 "to stderr (text) or as {\"valid\": false, \"errors\": [...]} to stdout\n"
                 "(json), and exits 1.\n"
                 "\n"
                 "Options:\n"
                 "  -o, --output FORMAT   text (default) or json\n"
                 "  --cluster FILE        also list the pool names, regions and SKUs of the\n"
                 "                        policy that match no node of this cluster snapshot\n"
                 "                        (kubectl get nodes -o yaml); warnings, not errors:\n"
                 "                        an autoscaled pool may have no node right now\n"
                 "  -h, --help            show this help\n"
                 "\n"
                 "Exit status: 0 valid, 1 invalid policy, 2 usage error or unreadable path.\n");
}

static int cmp_strp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted keys of a string-keyed hash table (borrowed strings). */
static GPtrArray *keys_of(GHashTable *table)
{
    GPtrArray *keys = g_ptr_array_new();
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, table);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        g_ptr_array_add(keys, k);
    }
    g_ptr_array_sort(keys, cmp_strp);
    return keys;
}

/* The regions named in the latency matrix, sorted (owned strings). */
static GPtrArray *matrix_regions(const FpPolicy *p)
{
    g_autofree char *probe = fp_policy_latency_key("a", "b");
    char sep = probe[1];
    g_autoptr(GHashTable) set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, p->latency);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        const char *key = k;
        const char *cut = strchr(key, sep);
        if (!cut) {
            continue;
        }
        g_hash_table_add(set, g_strndup(key, (gsize)(cut - key)));
        g_hash_table_add(set, g_strdup(cut + 1));
    }
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    g_hash_table_iter_init(&it, set);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        g_ptr_array_add(out, g_strdup(k));
    }
    g_ptr_array_sort(out, cmp_strp);
    return out;
}

static char *join_strv(char **v)
{
    return v ? g_strjoinv(", ", v) : g_strdup("");
}

static char *weights_text(const FpProfile *pr)
{
    GString *s = g_string_new(NULL);
    for (int t = 0; t < FP_N_TERMS; t++) {
        if (pr->weights[t] > 0) {
            g_string_append_printf(s, "%s%s=%g", s->len ? " " : "", fp_term_name((FpTermId)t),
                                   pr->weights[t]);
        }
    }
    return g_string_free(s, FALSE);
}

static char *limits_text(const FpProfile *pr)
{
    GString *s = g_string_new(NULL);
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (s->len) {                                                                              \
            g_string_append_c(s, ' ');                                                             \
        }                                                                                          \
        g_string_append_printf(s, __VA_ARGS__);                                                    \
    } while (0)
    if (pr->max_latency_ms >= 0) {
        ADD("maxLatencyMs=%g", pr->max_latency_ms);
    }
    if (pr->max_price_per_gpu_hour >= 0) {
        ADD("maxPricePerGPUHour=%g", pr->max_price_per_gpu_hour);
    }
    if (pr->min_gpu_memory_gib > 0) {
        ADD("minGPUMemory=%gGi", pr->min_gpu_memory_gib);
    }
    ADD("packing=%s", pr->packing == FP_PACK_SPREAD ? "spread" : "binpack");
    ADD("cost=%s", pr->cost_mode == FP_COST_PER_WORK ? "perWork" : "perGPUHour");
    if (pr->allowed_skus) {
        g_autofree char *j = join_strv(pr->allowed_skus);
        ADD("allowedSKUs=[%s]", j);
    }
    if (pr->sku_preference) {
        g_autofree char *j = join_strv(pr->sku_preference);
        ADD("skuPreference=[%s]", j);
    }
    if (pr->origin_regions) {
        ADD("originRegions=%s", pr->origin_regions);
    }
    if (pr->min_spread) {
        ADD("minSpreadPools=%u", pr->min_spread);
    }
    if (pr->allow_shared) {
        ADD("allowShared=true");
    }
    if (pr->avoid_spot) {
        ADD("avoidSpot=true");
    }
#undef ADD
    return g_string_free(s, FALSE);
}

static void print_labels(const char *fact, char **keys)
{
    g_autofree char *j = join_strv(keys);
    printf("  %-13s %s\n", fact, j);
}

/* The pools that can grow the policy declares (policies/README.md); nothing
 * when it declares none. */
static void print_templates(const FpPolicy *p)
{
    g_autoptr(GPtrArray) names = keys_of(p->templates);
    if (names->len == 0) {
        return;
    }
    printf("pool templates (%u):\n", names->len);
    printf("  %-24s %-24s %-20s %-14s %-5s %-10s %s\n", "NAME", "GPU", "INSTANCE", "REGION", "GPUS",
           "CAPACITY", "MAX-NODES");
    for (guint i = 0; i < names->len; i++) {
        const FpPolicyTemplate *t = g_hash_table_lookup(p->templates, g_ptr_array_index(names, i));
        g_autofree char *gpus =
            t->gpus_per_node ? g_strdup_printf("%u", t->gpus_per_node) : g_strdup("-");
        g_autofree char *max = t->max_nodes ? g_strdup_printf("%u", t->max_nodes) : g_strdup("-");
        printf("  %-24s %-24s %-20s %-14s %-5s %-10s %s\n", t->name,
               t->product ? t->product : "(instance type)",
               t->instance_type ? t->instance_type : "-", t->region ? t->region : "-", gpus,
               t->capacity_type, max);
    }
}

static void print_text(const FpPolicy *p, const FpPolicyReport *r)
{
    printf("policy OK: %s\n", p->source);
    for (guint i = 0; i < r->sources->len; i++) {
        printf("  read %s\n", (char *)g_ptr_array_index(r->sources, i));
    }
    g_autofree char *gpus = join_strv(p->gpu_resources);
    printf("\nGPU resources: %s%s\n", gpus,
           fp_policy_is_gpu_resource(p, "nvidia.com/mig-1g.5gb") ? " (and nvidia.com/mig-*)" : "");
    printf("node labels:\n");
    print_labels("pool", p->label_pool);
    print_labels("region", p->label_region);
    print_labels("zone", p->label_zone);
    print_labels("gpuProduct", p->label_product);
    print_labels("gpuMemory", p->label_memory);
    print_labels("instanceType", p->label_instance_type);
    print_labels("capacityType", p->label_capacity_type);

    g_autoptr(GPtrArray) profiles = keys_of(p->profiles);
    printf("\nprofiles (%u), default %s:\n", profiles->len, p->default_profile);
    for (guint i = 0; i < profiles->len; i++) {
        const FpProfile *pr = fp_policy_profile(p, g_ptr_array_index(profiles, i));
        g_autofree char *w = weights_text(pr);
        g_autofree char *l = limits_text(pr);
        printf("  %-20s weights: %s\n  %-20s limits:  %s\n", pr->name, w, "", l);
    }
    g_autoptr(GPtrArray) ns = keys_of(p->namespaces);
    printf("\nnamespaces (%u):%s\n", ns->len, ns->len ? "" : " none");
    for (guint i = 0; i < ns->len; i++) {
        const char *n = g_ptr_array_index(ns, i);
        printf("  %-20s -> %s\n", n, (const char *)g_hash_table_lookup(p->namespaces, n));
    }
    g_autoptr(GPtrArray) pools = keys_of(p->pools);
    printf("\npools (%u):%s\n", pools->len, pools->len ? "" : " none (SKU prices apply)");
    if (pools->len) {
        printf("  %-24s %-8s %-14s %s\n", "NAME", "CLOUD", "USD/GPU-HOUR", "MAX-UTILIZATION");
    }
    for (guint i = 0; i < pools->len; i++) {
        const FpPool *pool = g_hash_table_lookup(p->pools, g_ptr_array_index(pools, i));
        g_autofree char *price = pool->price_per_gpu_hour >= 0
                                     ? g_strdup_printf("%.10g", pool->price_per_gpu_hour)
                                     : g_strdup("(SKU)");
        printf("  %-24s %-8s %-14s %g\n", pool->name, pool->cloud ? pool->cloud : "-", price,
               pool->max_utilization);
    }
    g_autoptr(GPtrArray) skus = keys_of(p->skus);
    printf("\nSKUs (%u):\n", skus->len);
    printf("  %-28s %-10s %-12s %s\n", "PRODUCT", "MEMORY-GIB", "THROUGHPUT", "USD/GPU-HOUR");
    for (guint i = 0; i < skus->len; i++) {
        const FpSku *sku = g_hash_table_lookup(p->skus, g_ptr_array_index(skus, i));
        g_autofree char *price = sku->price_per_gpu_hour >= 0
                                     ? g_strdup_printf("%.10g", sku->price_per_gpu_hour)
                                     : g_strdup("(default)");
        printf("  %-28s %-10g %-12g %s\n", sku->product, sku->memory_gib, sku->relative_throughput,
               price);
    }
    g_autoptr(GPtrArray) regions = matrix_regions(p);
    printf("\nregions in the latency matrix (%u):", regions->len);
    for (guint i = 0; i < regions->len; i++) {
        printf("%s%s", i ? ", " : " ", (char *)g_ptr_array_index(regions, i));
    }
    printf("%s\n", regions->len ? "" : " none");
    printf("defaults: %g ms for a pair not in the matrix, %g ms within a region, "
           "%g USD per GPU-hour\n",
           p->default_latency_ms, p->same_region_latency_ms, p->default_price_per_gpu_hour);
    printf("spot price factor: %g; instance types overriding the built-in catalog: %u\n",
           p->spot_price_factor, g_hash_table_size(p->instance_types));
    print_templates(p);
    for (guint i = 0; i < r->notes->len; i++) {
        printf("note: %s\n", (char *)g_ptr_array_index(r->notes, i));
    }
}

static json_t *strv_json(char **v)
{
    json_t *a = json_array();
    for (; v && *v; v++) {
        json_array_append_new(a, json_string(*v));
    }
    return a;
}

static json_t *ptr_array_json(const GPtrArray *v)
{
    json_t *a = json_array();
    for (guint i = 0; v && i < v->len; i++) {
        json_array_append_new(a, json_string(g_ptr_array_index(v, i)));
    }
    return a;
}

static json_t *policy_json(const FpPolicy *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "source", json_string(p->source));
    json_object_set_new(o, "gpuResources", strv_json(p->gpu_resources));
    json_t *labels = json_object();
    json_object_set_new(labels, "pool", strv_json(p->label_pool));
    json_object_set_new(labels, "region", strv_json(p->label_region));
    json_object_set_new(labels, "zone", strv_json(p->label_zone));
    json_object_set_new(labels, "gpuProduct", strv_json(p->label_product));
    json_object_set_new(labels, "gpuMemory", strv_json(p->label_memory));
    json_object_set_new(labels, "instanceType", strv_json(p->label_instance_type));
    json_object_set_new(labels, "capacityType", strv_json(p->label_capacity_type));
    json_object_set_new(o, "nodeLabels", labels);

    json_t *profiles = json_object();
    g_autoptr(GPtrArray) names = keys_of(p->profiles);
    for (guint i = 0; i < names->len; i++) {
        const FpProfile *pr = fp_policy_profile(p, g_ptr_array_index(names, i));
        json_t *j = json_object();
        json_t *w = json_object();
        for (int t = 0; t < FP_N_TERMS; t++) {
            json_object_set_new(w, fp_term_name((FpTermId)t), json_real(pr->weights[t]));
        }
        json_object_set_new(j, "weights", w);
        json_object_set_new(j, "maxLatencyMs",
                            pr->max_latency_ms >= 0 ? json_real(pr->max_latency_ms) : json_null());
        json_object_set_new(j, "maxPricePerGPUHour",
                            pr->max_price_per_gpu_hour >= 0 ? json_real(pr->max_price_per_gpu_hour)
                                                            : json_null());
        json_object_set_new(j, "minGPUMemoryGiB", json_real(pr->min_gpu_memory_gib));
        json_object_set_new(j, "packing",
                            json_string(pr->packing == FP_PACK_SPREAD ? "spread" : "binpack"));
        json_object_set_new(
            j, "cost", json_string(pr->cost_mode == FP_COST_PER_WORK ? "perWork" : "perGPUHour"));
        json_object_set_new(j, "allowedSKUs",
                            pr->allowed_skus ? strv_json(pr->allowed_skus) : json_null());
        json_object_set_new(j, "skuPreference", strv_json(pr->sku_preference));
        json_object_set_new(j, "originRegions",
                            pr->origin_regions ? json_string(pr->origin_regions) : json_null());
        json_object_set_new(j, "minSpreadPools", json_integer(pr->min_spread));
        json_object_set_new(j, "allowShared", json_boolean(pr->allow_shared));
        json_object_set_new(j, "avoidSpot", json_boolean(pr->avoid_spot));
        json_object_set_new(profiles, pr->name, j);
    }
    json_object_set_new(o, "profiles", profiles);
    json_object_set_new(o, "defaultProfile", json_string(p->default_profile));

    json_t *ns = json_object();
    g_autoptr(GPtrArray) nss = keys_of(p->namespaces);
    for (guint i = 0; i < nss->len; i++) {
        const char *n = g_ptr_array_index(nss, i);
        json_object_set_new(ns, n, json_string(g_hash_table_lookup(p->namespaces, n)));
    }
    json_object_set_new(o, "namespaces", ns);

    json_t *pools = json_array();
    g_autoptr(GPtrArray) pns = keys_of(p->pools);
    for (guint i = 0; i < pns->len; i++) {
        const FpPool *pool = g_hash_table_lookup(p->pools, g_ptr_array_index(pns, i));
        json_t *j = json_object();
        json_object_set_new(j, "name", json_string(pool->name));
        json_object_set_new(j, "cloud", pool->cloud ? json_string(pool->cloud) : json_null());
        json_object_set_new(j, "pricePerGPUHour",
                            pool->price_per_gpu_hour >= 0 ? json_real(pool->price_per_gpu_hour)
                                                          : json_null());
        json_object_set_new(j, "maxUtilization", json_real(pool->max_utilization));
        json_array_append_new(pools, j);
    }
    json_object_set_new(o, "pools", pools);

    json_t *skus = json_object();
    g_autoptr(GPtrArray) sns = keys_of(p->skus);
    for (guint i = 0; i < sns->len; i++) {
        const FpSku *sku = g_hash_table_lookup(p->skus, g_ptr_array_index(sns, i));
        json_t *j = json_object();
        json_object_set_new(j, "memoryGiB", json_real(sku->memory_gib));
        json_object_set_new(j, "relativeThroughput", json_real(sku->relative_throughput));
        json_object_set_new(j, "pricePerGPUHour",
                            sku->price_per_gpu_hour >= 0 ? json_real(sku->price_per_gpu_hour)
                                                         : json_null());
        json_object_set_new(skus, sku->product, j);
    }
    json_object_set_new(o, "skus", skus);

    g_autoptr(GPtrArray) regions = matrix_regions(p);
    json_t *matrix = json_object();
    for (guint i = 0; i < regions->len; i++) {
        const char *a = g_ptr_array_index(regions, i);
        json_t *row = json_object();
        for (guint k = 0; k < regions->len; k++) {
            const char *b = g_ptr_array_index(regions, k);
            bool known = false;
            double ms = fp_policy_latency(p, a, b, &known);
            if (known) {
                json_object_set_new(row, b, json_real(ms));
            }
        }
        json_object_set_new(matrix, a, row);
    }
    json_t *reg = json_object();
    json_object_set_new(reg, "latencyMs", matrix);
    json_object_set_new(reg, "defaultLatencyMs", json_real(p->default_latency_ms));
    json_object_set_new(reg, "sameRegionLatencyMs", json_real(p->same_region_latency_ms));
    json_object_set_new(o, "regions", reg);
    json_object_set_new(o, "defaultPricePerGPUHour", json_real(p->default_price_per_gpu_hour));
    return o;
}

static json_t *unmatched_json(const FpPolicyUnmatched *u)
{
    json_t *o = json_object();
    json_object_set_new(o, "pools", ptr_array_json(u->pools));
    json_object_set_new(o, "regions", ptr_array_json(u->regions));
    json_object_set_new(o, "skus", ptr_array_json(u->skus));
    return o;
}

static int print_json(const FpPolicy *p, const FpPolicyReport *r, const FpPolicyUnmatched *u)
{
    json_t *o = json_object();
    if (u) {
        json_object_set_new(o, "unmatched", unmatched_json(u));
    }
    json_object_set_new(o, "valid", json_boolean(p != NULL));
    json_object_set_new(o, "errors", ptr_array_json(r->errors));
    json_object_set_new(o, "notes", ptr_array_json(r->notes));
    json_object_set_new(o, "sources", ptr_array_json(r->sources));
    if (p) {
        json_object_set_new(o, "policy", policy_json(p));
    }
    int rc = json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    fputc('\n', stdout);
    json_decref(o);
    return rc == 0 ? 0 : -1;
}

/* All of stdin, at most @max + 1 bytes (the loader reports the excess). */
static char *read_stdin(size_t max, size_t *len)
{
    char *buf = g_malloc(max + 2);
    size_t used = 0;
    while (used <= max) {
        size_t n = fread(buf + used, 1, max + 1 - used, stdin);
        if (n == 0) {
            break;
        }
        used += n;
    }
    if (ferror(stdin)) {
        g_free(buf);
        return NULL;
    }
    buf[used] = '\0';
    *len = used;
    return buf;
}

/* GOption's messages start with a capital ("Unknown option --frob"); ours
 * continue "flexplace policy check: ". */
static int usage_error(const char *message)
{
    fprintf(stderr, "flexplace policy check: %c%s\n", g_ascii_tolower(message[0]), message + 1);
    return FP_EXIT_USAGE;
}

/* Parse "check [-o FORMAT] PATH": on success *path borrows from @argv and
 * *json says which output.  Returns FP_EXIT_OK, or the exit status after
 * printing why (help, usage error). */
static int parse_check_args(int argc, char **argv, const char **path, gboolean *json,
                            char **cluster)
{
    g_autofree char *format = NULL;
    gboolean help = FALSE;
    GOptionEntry entries[] = {
        {"output", 'o', 0, G_OPTION_ARG_STRING, &format, "text (default) or json", "FORMAT"},
        {"cluster", 0, 0, G_OPTION_ARG_FILENAME, cluster, "a cluster snapshot to match", "FILE"},
        {"help", 'h', 0, G_OPTION_ARG_NONE, &help, "show this help", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("FILE|DIR|-");
    g_option_context_set_help_enabled(ctx, FALSE);
    g_option_context_add_main_entries(ctx, entries, NULL);
    /* GOption removes what it consumes: parse a shallow copy of argv. */
    g_autofree char **args = g_new0(char *, (gsize)argc + 1);
    memcpy(args, argv, sizeof(char *) * (gsize)argc);
    char **cursor = args;
    int n = argc;
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &n, &cursor, &error)) {
        usage_error(error->message);
        usage(stderr);
        return FP_EXIT_USAGE;
    }
    if (help) {
        usage(stdout);
        return FP_EXIT_OK;
    }
    *json = format && !strcmp(format, "json");
    if (format && !*json && strcmp(format, "text") != 0) {
        fprintf(stderr, "flexplace policy check: -o must be text or json, not %s\n", format);
        return FP_EXIT_USAGE;
    }
    if (n > 2) {
        fprintf(stderr, "flexplace policy check: one path only (got %s and %s)\n", cursor[1],
                cursor[2]);
        return FP_EXIT_USAGE;
    }
    if (n < 2) {
        fprintf(stderr, "flexplace policy check: a FILE, DIR or - is required\n\n");
        usage(stderr);
        return FP_EXIT_USAGE;
    }
    *path = cursor[1];
    return FP_EXIT_OK;
}

/* Load the policy at @path ("-" for stdin) into @report.  Returns
 * FP_EXIT_OK with *out set (NULL when invalid), or FP_EXIT_USAGE after
 * printing why the path could not be read. */
static int load_policy(const char *path, FpPolicyReport *report, FpPolicy **out)
{
    *out = NULL;
    if (!strcmp(path, "-")) {
        size_t len = 0;
        g_autofree char *buf = read_stdin(FP_POLICY_MAX_FILE_BYTES, &len);
        if (!buf) {
            fprintf(stderr, "flexplace policy check: cannot read stdin: %s\n", g_strerror(errno));
            return FP_EXIT_USAGE;
        }
        *out = fp_policy_load_buffer(buf, len, "<stdin>", report);
        return FP_EXIT_OK;
    }
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        fprintf(stderr, "flexplace policy check: %s: %s\n", path, g_strerror(ENOENT));
        return FP_EXIT_USAGE;
    }
    *out = fp_policy_load_path(path, report);
    return FP_EXIT_OK;
}

static void print_errors(const FpPolicyReport *report)
{
    for (guint i = 0; i < report->notes->len; i++) {
        fprintf(stderr, "note: %s\n", (char *)g_ptr_array_index(report->notes, i));
    }
    for (guint i = 0; i < report->errors->len; i++) {
        fprintf(stderr, "%s\n", (char *)g_ptr_array_index(report->errors, i));
    }
    guint n = report->errors->len;
    const char *last = n ? g_ptr_array_index(report->errors, n - 1) : "";
    if (g_str_has_prefix(last, "... and ")) {
        n = n - 1 + (guint)g_ascii_strtoull(last + strlen("... and "), NULL, 10);
    }
    fprintf(stderr, "policy invalid: %u error%s\n", n, n == 1 ? "" : "s");
}

/* The names of @policy that match no node of snapshot @cluster; NULL (and
 * *rc set after saying why) when the snapshot cannot be read. */
static FpPolicyUnmatched *match_cluster(const FpPolicy *policy, const char *cluster, int *rc)
{
    FpView *view = fp_view_new();
    g_autoptr(GError) error = NULL;
    FpPolicyUnmatched *u = NULL;
    if (!fp_snapshot_load_file(view, cluster, &error)) {
        fprintf(stderr, "flexplace policy check: --cluster: %s\n", error->message);
        *rc = FP_EXIT_USAGE;
    } else {
        u = fp_policy_unmatched(policy, view);
    }
    fp_view_free(view);
    return u;
}

static void print_unmatched(const FpPolicyUnmatched *u, const char *cluster)
{
    g_autofree char *text = fp_policy_unmatched_text(u);
    if (!text) {
        printf("\nEvery pool, region and SKU the policy names matches %s.\n", cluster);
        return;
    }
    printf("\nwarning: names in the policy that match nothing in %s: %s\n", cluster, text);
}

static int cmd_check(int argc, char **argv)
{
    const char *path = NULL;
    gboolean json = FALSE;
    g_autofree char *cluster = NULL;
    int rc = parse_check_args(argc, argv, &path, &json, &cluster);
    if (rc != FP_EXIT_OK || !path) {
        return rc;
    }
    g_autoptr(FpPolicyReport) report = fp_policy_report_new();
    g_autoptr(FpPolicy) policy = NULL;
    rc = load_policy(path, report, &policy);
    if (rc != FP_EXIT_OK) {
        return rc;
    }
    g_autoptr(FpPolicyUnmatched) unmatched = NULL;
    if (policy && cluster && !(unmatched = match_cluster(policy, cluster, &rc))) {
        return rc;
    }
    if (json) {
        if (print_json(policy, report, unmatched) != 0) {
            return FP_EXIT_FAILURE;
        }
    } else if (policy) {
        print_text(policy, report);
        if (unmatched) {
            print_unmatched(unmatched, cluster);
        }
    } else {
        print_errors(report);
    }
    fflush(stdout);
    return policy ? FP_EXIT_OK : FP_EXIT_FAILURE;
}

int fp_cmd_policy(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return FP_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help")) {
        usage(stdout);
        return FP_EXIT_OK;
    }
    if (!strcmp(sub, "check")) {
        return cmd_check(argc - 1, argv + 1);
    }
    fprintf(stderr, "flexplace policy: unknown subcommand '%s'\n\n", sub);
    usage(stderr);
    return FP_EXIT_USAGE;
}
