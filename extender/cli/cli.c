/*
 * extender/cli/cli.c - shared plumbing of `flexplace score` and `simulate`.
 */
#include "extender/cli/cli.h"

#include <math.h>
#include <gio/gio.h>
#include <string.h>

#include "cache/demo_cluster.h"
#include "cache/informer.h"
#include "cache/kube_client.h"
#include "cache/kubeconfig.h"
#include "cache/nodepool.h"
#include "cache/pool_templates.h"
#include "cache/snapshot.h"
#include "extender/cli/commands.h"
#include "extender/cli/podfile.h"
#include "policies/policy_load.h"

GOptionEntry *fp_cli_option_entries(FpCli *cli)
{
    GOptionEntry entries[] = {
        {"policy", 'p', 0, G_OPTION_ARG_FILENAME, &cli->policy_path,
         "PlacementPolicy file, directory or ConfigMap manifest (default: built-in)", "PATH"},
        {"cluster", 'c', 0, G_OPTION_ARG_FILENAME, &cli->cluster_file,
         "Cluster snapshot: kubectl get nodes,pods -A -o json|yaml", "FILE"},
        {"demo", 0, 0, G_OPTION_ARG_NONE, &cli->demo, "Use the bundled demo cluster", NULL},
        {"kubeconfig", 0, 0, G_OPTION_ARG_FILENAME, &cli->kubeconfig,
         "List nodes and pods from a live cluster once", "FILE"},
        {"context", 0, 0, G_OPTION_ARG_STRING, &cli->context, "kubeconfig context", "NAME"},
        {"pod", 'f', 0, G_OPTION_ARG_FILENAME_ARRAY, &cli->pod_files,
         "Pod or workload manifest (YAML/JSON, several documents allowed); repeatable", "FILE"},
        {"output", 'o', 0, G_OPTION_ARG_STRING, &cli->output, "table (default), wide or json",
         "FORMAT"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GOptionEntry *copy = g_new0(GOptionEntry, G_N_ELEMENTS(entries));
    memcpy(copy, entries, sizeof entries);
    return copy;
}

void fp_cli_free(FpCli *cli)
{
    g_free(cli->policy_path);
    g_free(cli->cluster_file);
    g_free(cli->kubeconfig);
    g_free(cli->context);
    g_strfreev(cli->pod_files);
    g_free(cli->output);
    g_free(cli->view_source);
    if (cli->view) {
        fp_view_free(cli->view);
    }
    if (cli->policy) {
        fp_policy_unref(cli->policy);
    }
    if (cli->pods) {
        g_ptr_array_unref(cli->pods);
    }
    if (cli->items) {
        g_ptr_array_unref(cli->items);
    }
    if (cli->nodepools) {
        g_ptr_array_unref(cli->nodepools);
    }
    if (cli->file_nodepools) {
        g_ptr_array_unref(cli->file_nodepools);
    }
    if (cli->client) {
        fp_kube_client_free(cli->client);
    }
    memset(cli, 0, sizeof *cli);
}

static int load_view(FpCli *cli, const char *command)
{
    g_autoptr(GError) error = NULL;
    int sources = (cli->demo ? 1 : 0) + (cli->cluster_file ? 1 : 0) + (cli->kubeconfig ? 1 : 0);
    if (sources != 1) {
        fprintf(stderr, "flexplace %s: give exactly one of --cluster FILE, --demo, --kubeconfig\n",
                command);
        return FP_EXIT_USAGE;
    }
    cli->view = fp_view_new();
    cli->file_nodepools = g_ptr_array_new_with_free_func((GDestroyNotify)fp_snapshot_object_free);
    gboolean ok;
    if (cli->demo) {
        cli->view_source = g_strdup("bundled demo cluster");
        ok = fp_demo_cluster_load_nodepools(cli->view, cli->file_nodepools, &error);
    } else if (cli->cluster_file) {
        cli->view_source = g_strdup(cli->cluster_file);
        ok = fp_snapshot_load_file_nodepools(cli->view, cli->cluster_file, cli->file_nodepools,
                                             &error);
    } else {
        /* One paginated LIST of nodes and pods through the server's client. */
        g_autoptr(FpKubeConfig) kc = fp_kubeconfig_load(cli->kubeconfig, cli->context, &error);
        g_autoptr(FpKubeClient) client = kc ? fp_kube_client_new(kc, &error) : NULL;
        ok = client && fp_informer_list_once(cli->view, client, &error);
        if (ok) {
            cli->view_source = g_strdup_printf("%s (%s)", kc->server, kc->source);
            cli->client = g_steal_pointer(&client);
        }
    }
    if (!ok) {
        fprintf(stderr, "flexplace %s: %s\n", command, error->message);
        return FP_EXIT_USAGE;
    }
    return FP_EXIT_OK;
}

/* The NodePools of the cluster file, parsed under the policy as the live
 * source parses them (cache/nodepool.h); one that does not parse, or past
 * FP_NODEPOOL_MAX_POOLS, is skipped with a note. */
static void parse_file_nodepools(FpCli *cli)
{
    for (guint i = 0; cli->file_nodepools && i < cli->file_nodepools->len; i++) {
        const FpSnapshotObject *o = g_ptr_array_index(cli->file_nodepools, i);
        g_autoptr(GError) error = NULL;
        FpPoolTemplate *t = NULL;
        if (cli->nodepools->len >= FP_NODEPOOL_MAX_POOLS) {
            const char *name =
                json_string_value(json_object_get(json_object_get(o->object, "metadata"), "name"));
            g_set_error(&error, FP_NODEPOOL_ERROR, FP_NODEPOOL_ERROR_LIMIT,
                        "NodePool %s: more than %d NodePools", name ? name : "(no name)",
                        FP_NODEPOOL_MAX_POOLS);
        } else {
            t = fp_nodepool_parse(o->object, cli->policy, &error);
        }
        if (t) {
            g_ptr_array_add(cli->nodepools, t);
            continue;
        }
        g_autofree char *note = g_strdup_printf(
            "%s: skipped, not counted as a pool that can grow: %s", o->where, error->message);
        g_autofree char *printable = fp_cli_printable(note);
        fprintf(stderr, "note: %s\n", printable);
    }
    g_clear_pointer(&cli->file_nodepools, g_ptr_array_unref);
}

/* Karpenter NodePools for the scale-up judgement: those of the cluster
 * file, or those of a live cluster, where a cluster without them (404) has
 * none and a failure is a warning. */
static void load_nodepools(FpCli *cli, const char *command)
{
    cli->nodepools = g_ptr_array_new_with_free_func((GDestroyNotify)fp_pool_template_free);
    parse_file_nodepools(cli);
    if (!cli->client) {
        return;
    }
    gboolean absent = FALSE;
    g_autoptr(GError) error = NULL;
    if (!fp_nodepools_fetch(cli->client, cli->policy, cli->nodepools, &absent, NULL, &error)) {
        fprintf(stderr, "flexplace %s: warning: %s (judging scale-ups without NodePools)\n",
                command, error->message);
    }
}

char *fp_cli_printable(const char *text)
{
    g_autofree char *valid = g_utf8_make_valid(text ? text : "", -1);
    GString *out = g_string_sized_new(strlen(valid));
    for (const char *c = valid; *c; c = g_utf8_next_char(c)) {
        gunichar u = g_utf8_get_char(c);
        if (g_unichar_iscntrl(u) || u == 0x2028 || u == 0x2029) {
            g_string_append_printf(out, u < 0x100 ? "\\x%02x" : "\\u%04x", (unsigned)u);
        } else {
            g_string_append_len(out, c, g_utf8_next_char(c) - c);
        }
    }
    return g_string_free(out, FALSE);
}

int fp_cli_load(FpCli *cli, const char *command)
{
    if (!cli->output || g_str_equal(cli->output, "table")) {
        cli->format = FP_OUT_TABLE;
    } else if (g_str_equal(cli->output, "wide")) {
        cli->format = FP_OUT_WIDE;
    } else if (g_str_equal(cli->output, "json")) {
        cli->format = FP_OUT_JSON;
    } else {
        fprintf(stderr, "flexplace %s: -o must be table, wide or json\n", command);
        return FP_EXIT_USAGE;
    }
    if (!cli->pod_files || !cli->pod_files[0]) {
        fprintf(stderr, "flexplace %s: --pod FILE is required\n", command);
        return FP_EXIT_USAGE;
    }
    int rc = load_view(cli, command);
    if (rc != FP_EXIT_OK) {
        return rc;
    }
    g_autoptr(GError) error = NULL;
    if (cli->policy_path) {
        g_autoptr(FpPolicyReport) report = fp_policy_report_new();
        cli->policy = fp_policy_load_path(cli->policy_path, report);
        if (!cli->policy) {
            fprintf(stderr, "flexplace %s: invalid policy %s\n", command, cli->policy_path);
            for (guint i = 0; i < report->errors->len; i++) {
                fprintf(stderr, "  %s\n", (char *)g_ptr_array_index(report->errors, i));
            }
            return FP_EXIT_USAGE;
        }
    } else {
        cli->policy = fp_policy_new_default();
    }
    load_nodepools(cli, command);
    cli->pods = g_ptr_array_new_with_free_func((GDestroyNotify)fp_pod_unref);
    cli->items = g_ptr_array_new_with_free_func((GDestroyNotify)fp_podfile_item_free);
    for (guint f = 0; cli->pod_files[f]; f++) {
        g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
        GPtrArray *items = fp_podfile_load_items(cli->pod_files[f], notes, &error);
        for (guint i = 0; i < notes->len; i++) {
            g_autofree char *note = fp_cli_printable(g_ptr_array_index(notes, i));
            fprintf(stderr, "note: %s\n", note);
        }
        if (!items) {
            g_autofree char *message = fp_cli_printable(error->message);
            fprintf(stderr, "flexplace %s: %s\n", command, message);
            return FP_EXIT_USAGE;
        }
        for (guint i = 0; i < items->len; i++) {
            FpPodfileItem *it = g_ptr_array_index(items, i);
            g_ptr_array_add(cli->pods, fp_pod_ref(it->pod));
        }
        g_ptr_array_extend_and_steal(cli->items, items);
    }
    return FP_EXIT_OK;
}

const FpPodfileItem *fp_cli_pod_item(const FpCli *cli, const FpPod *pod)
{
    for (guint i = 0; cli->items && i < cli->items->len; i++) {
        const FpPodfileItem *it = g_ptr_array_index(cli->items, i);
        if (it->pod == pod) {
            return it;
        }
    }
    return NULL;
}

GArray *fp_cli_templates(const FpCli *cli)
{
    g_autoptr(FpPoolUsage) usage = fp_pool_usage_new(cli->view, cli->policy);
    GArray *offers = g_array_new(FALSE, TRUE, sizeof(FpOffer));
    for (guint i = 0; cli->nodepools && i < cli->nodepools->len; i++) {
        fp_nodepool_offers(g_ptr_array_index(cli->nodepools, i), cli->policy, usage, offers);
    }
    fp_policy_template_offers(cli->policy, usage, offers);
    return offers;
}

static gint name_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void collect_name(const FpNodeState *st, void *data)
{
    g_ptr_array_add(data, (gpointer)st->name);
}

FpPlacement *fp_cli_place(FpCli *cli, const FpPod *pod)
{
    /* Node names, sorted, so output order is stable. The names are borrowed
     * from the view, which this single-threaded CLI does not modify while
     * they are in use. */
    GPtrArray *names = g_ptr_array_new();
    fp_view_read_lock(cli->view);
    fp_view_foreach_node_locked(cli->view, collect_name, names);
    fp_view_read_unlock(cli->view);
    g_ptr_array_sort(names, name_cmp);
    FpCandidates c = {.names = (const char *const *)names->pdata,
                      .n = names->len,
                      .kube_checks = true,
                      .short_list = true};
    FpPlacement *p = fp_placement_evaluate(cli->view, cli->policy, pod, &c);
    g_ptr_array_unref(names);
    return p;
}

/* Passing candidates ordered best first (the order fp_placement_best uses):
 * among equals, those on the short list first, so that it is ranks 1..K. */
static int rank_cmp(gconstpointer a, gconstpointer b, gpointer data)
{
    const FpPlacement *p = data;
    guint i = *(const guint *)a, j = *(const guint *)b;
    const FpVerdict *x = &p->verdicts[i], *y = &p->verdicts[j];
    if (fabs(x->total - y->total) > 1e-12) {
        return x->total > y->total ? -1 : 1;
    }
    if (x->score != y->score) {
        return x->score > y->score ? -1 : 1;
    }
    if (x->omit != y->omit) {
        return x->omit ? 1 : -1;
    }
    return strcmp(p->nodes[i]->name, p->nodes[j]->name);
}

static GArray *ranked(const FpPlacement *p)
{
    GArray *order = g_array_new(FALSE, FALSE, sizeof(guint));
    for (guint i = 0; i < p->n; i++) {
        if (p->verdicts[i].pass) {
            g_array_append_val(order, i);
        }
    }
    g_array_sort_with_data(order, rank_cmp, (gpointer)p);
    return order;
}

static const char *node_name(const FpPlacement *p, guint i)
{
    return p->nodes[i] ? p->nodes[i]->name : "?";
}

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

static void term_cell(char *buf, size_t len, const FpVerdict *v, int t)
{
    if (v->term_active[t]) {
        g_snprintf(buf, len, "%.2f", v->term[t]);
    } else {
        g_strlcpy(buf, "-", len);
    }
}

/* The timeToServe column only for pods it can apply to (a known model):
 * every other table stays as it was. */
static bool shown_term(const FpDemand *d, int t)
{
    return t != FP_TERM_TIME_TO_SERVE || d->tts;
}

/* Wide: the time-to-serve estimate and its parts. */
static void print_tts_cells(FILE *out, const FpVerdict *v)
{
    if (!v->tts_known) {
        fprintf(out, " %-7s %-7s %-12s %-7s %-7s %-8s", "-", "-", "-", "-", "-", "-");
        return;
    }
    const FpTts *t = &v->tts;
    fprintf(out, " %-7.0f %-7.0f %-12s %-7.0f %-7.0f %-8.2f", t->total_s, t->pull_s,
            fp_weight_source_name(t->source), t->transfer_s, t->load_s, t->egress_usd);
}

/* The estimate as JSON. */
static json_t *tts_json(const FpTts *t)
{
    return json_pack("{s:f, s:f, s:s, s:f, s:f, s:f}", "seconds", t->total_s, "pullSeconds",
                     t->pull_s, "source", fp_weight_source_name(t->source), "transferSeconds",
                     t->transfer_s, "loadSeconds", t->load_s, "egressUSD", t->egress_usd);
}

/* Rejected nodes grouped by (who, reason), in order of first appearance. */
typedef struct {
    const char *by;
    const char *reason;
    GPtrArray *nodes;
} RejectGroup;

static GPtrArray *reject_groups(const FpPlacement *p)
{
    GPtrArray *groups = g_ptr_array_new();
    for (guint i = 0; i < p->n; i++) {
        const FpVerdict *v = &p->verdicts[i];
        if (v->pass) {
            continue;
        }
        const char *by = p->kube_reason[i] ? "kube-scheduler" : "flexplace";
        RejectGroup *g = NULL;
        for (guint k = 0; k < groups->len; k++) {
            RejectGroup *c = g_ptr_array_index(groups, k);
            if (c->by == by && g_str_equal(c->reason, v->reason)) {
                g = c;
                break;
            }
        }
        if (!g) {
            g = g_new0(RejectGroup, 1);
            g->by = by;
            g->reason = v->reason;
            g->nodes = g_ptr_array_new();
            g_ptr_array_add(groups, g);
        }
        g_ptr_array_add(g->nodes, (gpointer)node_name(p, i));
    }
    return groups;
}

static void reject_groups_free(GPtrArray *groups)
{
    for (guint k = 0; k < groups->len; k++) {
        RejectGroup *g = g_ptr_array_index(groups, k);
        g_ptr_array_unref(g->nodes);
        g_free(g);
    }
    g_ptr_array_unref(groups);
}

/* The weights line: where the weights come from, for time to serve. */
static void print_weights(FILE *out, const FpModelRequest *m, const FpDemand *d)
{
    if (!d->tts) {
        return;
    }
    fprintf(out, "Weights: %s", m->weights_location ? m->weights_location : "(no location)");
    if (d->store_in_cluster) {
        fprintf(out, " (in the cluster: same region)");
    } else if (d->weights_store) {
        fprintf(out, " (store region %s, cloud %s)", d->store_region ? d->store_region : "unknown",
                d->store_cloud ? d->store_cloud : "unknown");
    }
    if (d->weights_hub) {
        fprintf(out, " (the hub)");
    }
    fprintf(out, "; node caches:");
    for (guint i = 0; i < G_N_ELEMENTS(d->cache_labels) && d->cache_labels[i]; i++) {
        fprintf(out, "%s %s", i ? "," : "", d->cache_labels[i]);
    }
    fprintf(out, "; %u image(s)", d->n_images);
    if (d->max_tts_s > 0) {
        fprintf(out, "; limit %.0f s", d->max_tts_s);
    }
    fprintf(out, "\n");
}

/* The model line: what the pod serves and what the fit works with, or why
 * there are no model terms. */
static void print_model(FILE *out, const FpPod *pod, const FpDemand *d)
{
    const FpModelRequest *m = pod->model;
    if (!m || d->invalid_reason) {
        return;
    }
    fprintf(out, "Model: %s", m->name ? m->name : "(unnamed)");
    if (m->name_from) {
        fprintf(out, " (from %s)", m->name_from);
    }
    if (!d->model_known) {
        fprintf(out, "; %s\n", d->model_note ? d->model_note : "no model terms");
        return;
    }
    const FpModelPlan *pl = &d->model_plan;
    fprintf(out, "; weights %.2f GiB%s, tensor parallel %d", pl->weights_gib,
            pl->moe ? " (MoE: every expert resident)" : "", pl->tensor_parallel);
    if (pl->pipeline_parallel > 1) {
        fprintf(out, " x pipeline %d", pl->pipeline_parallel);
    }
    fprintf(out, ", context %" G_GINT64_FORMAT " tokens", pl->context);
    if (pl->kv_bytes_per_token > 0) {
        fprintf(out, " x %.0f B KV", pl->kv_bytes_per_token);
    } else {
        fprintf(out, " (KV size unknown)");
    }
    fprintf(out, ", memory utilisation %.2f (%s)\n", pl->utilization, fp_engine_name(m->engine));
    print_weights(out, m, d);
}

/* need/usable GiB per device of node @v under the demand's model plan. */
static bool fit_cell(char *buf, gsize size, const FpCli *cli, const FpDemand *d, const FpVerdict *v)
{
    if (!d->model_known || !(v->facts.gpu_memory_mib > 0)) {
        g_strlcpy(buf, "-", size);
        return false;
    }
    FpFit fit;
    fp_model_fit(&d->model_plan, &cli->policy->fit, v->facts.gpu_memory_mib / 1024.0, &fit);
    g_snprintf(buf, size, "%.1f/%.1f", fit.need_gib, fit.usable_gib);
    return true;
}

static void print_demand(FILE *out, const FpCli *cli, const FpPod *pod, const FpDemand *d)
{
    fprintf(out, "Pod %s/%s", pod->ns, pod->name);
    if (d->resource) {
        fprintf(out, ": %s x%" G_GINT64_FORMAT, d->resource, d->count);
    } else {
        fprintf(out, ": requests no GPU (every node passes with a neutral score)");
    }
    fprintf(out, ", profile %s; policy %s; cluster %s\n",
            d->profile_name ? d->profile_name : "default",
            cli->policy->source ? cli->policy->source : "-", cli->view_source);
    const FpPodfileItem *it = fp_cli_pod_item(cli, pod);
    if (it && it->origin && it->derived) {
        fprintf(out, "From: %s\n", it->origin);
    }
    if (d->invalid_reason) {
        fprintf(out, "Error: %s\n", d->invalid_detail ? d->invalid_detail : d->invalid_reason);
    }
    if (d->n_origins) {
        fprintf(out, "Origin:");
        for (guint i = 0; i < d->n_origins; i++) {
            fprintf(out, " %s=%.2f", d->origins[i].region, d->origins[i].weight);
        }
        fprintf(out, "\n");
    }
    print_model(out, pod, d);
}

/* Wide: what each node the model does not fit would need per device. */
static void print_fit_rejects(FILE *out, const FpCli *cli, const FpPlacement *p)
{
    bool header = false;
    for (guint i = 0; i < p->n; i++) {
        const FpVerdict *v = &p->verdicts[i];
        char cell[32];
        if (v->pass || !v->reason || strcmp(v->reason, FP_REASON_MODEL_FIT) != 0 ||
            !fit_cell(cell, sizeof cell, cli, p->demand, v)) {
            continue;
        }
        if (!header) {
            fprintf(out, "Model fit per device (need/usable GiB):\n");
            header = true;
        }
        fprintf(out, "  %-22s %-11s %.0f MiB x %.2f\n", node_name(p, i), cell,
                v->facts.gpu_memory_mib, p->demand->model_plan.utilization);
    }
}

void fp_cli_print_table(FILE *out, const FpCli *cli, const FpPod *pod, const FpPlacement *p,
                        bool wide)
{
    print_demand(out, cli, pod, p->demand);
    GArray *order = ranked(p);
    if (order->len) {
        fprintf(out, "\n%-4s %-22s %-16s %-14s %-24s %-6s", "RANK", "NODE", "POOL", "REGION", "SKU",
                "FREE");
        if (wide) {
            fprintf(out, " %-16s %-20s %-8s %-9s", "ZONE", "INSTANCE", "$/GPU-H", "MEM-MIB");
            if (p->demand->model_known) {
                fprintf(out, " %-11s", "FIT-GIB");
            }
            if (p->demand->tts) {
                fprintf(out, " %-7s %-7s %-12s %-7s %-7s %-8s", "TTS-S", "PULL-S", "SOURCE",
                        "XFER-S", "LOAD-S", "EGRESS$");
            }
        }
        for (int t = 0; t < FP_N_TERMS; t++) {
            if (!shown_term(p->demand, t)) {
                continue;
            }
            g_autofree char *up =
                t == FP_TERM_TIME_TO_SERVE ? g_strdup("TTS") : g_ascii_strup(fp_term_name(t), -1);
            fprintf(out, " %-8s", up);
        }
        fprintf(out, " %-6s %s\n", "TOTAL", "SCORE");
        for (guint r = 0; r < order->len; r++) {
            guint i = g_array_index(order, guint, r);
            const FpVerdict *v = &p->verdicts[i];
            const FpNode *node = p->nodes[i];
            int64_t alloc =
                p->demand->resource ? fp_res_list_get(&node->allocatable, p->demand->resource) : 0;
            g_autofree char *free_cell =
                g_strdup_printf("%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT, v->gpus_free, alloc);
            char device[FP_DEVICE_DESCRIBE_MAX];
            fp_verdict_device_name(v, device, sizeof device);
            fprintf(out, "%-4u %-22s %-16s %-14s %-24s %-6s", r + 1, node->name,
                    or_dash(v->facts.pool), or_dash(v->facts.region), or_dash(device), free_cell);
            if (wide) {
                char price[32], mem[32];
                if (v->facts.price_per_gpu_hour >= 0) {
                    g_snprintf(price, sizeof price, "%.3f", v->facts.price_per_gpu_hour);
                } else {
                    g_strlcpy(price, "-", sizeof price);
                }
                g_snprintf(mem, sizeof mem, "%.0f", v->facts.gpu_memory_mib);
                fprintf(out, " %-16s %-20s %-8s %-9s", or_dash(v->facts.zone),
                        or_dash(v->facts.instance_type), price, mem);
                if (p->demand->model_known) {
                    char fit[32];
                    fit_cell(fit, sizeof fit, cli, p->demand, v);
                    fprintf(out, " %-11s", fit);
                }
                if (p->demand->tts) {
                    print_tts_cells(out, v);
                }
            }
            for (int t = 0; t < FP_N_TERMS; t++) {
                if (!shown_term(p->demand, t)) {
                    continue;
                }
                char cell[16];
                term_cell(cell, sizeof cell, v, t);
                fprintf(out, " %-8s", cell);
            }
            fprintf(out, " %-6.3f %d\n", v->total, v->score);
        }
    }
    GPtrArray *groups = reject_groups(p);
    guint rejected = p->n - order->len;
    if (rejected) {
        fprintf(out, "\nRejected: %u of %u nodes\n", rejected, p->n);
        for (guint k = 0; k < groups->len; k++) {
            RejectGroup *g = g_ptr_array_index(groups, k);
            fprintf(out, "  %-14s %s (%u):", g->by, g->reason, g->nodes->len);
            for (guint j = 0; j < g->nodes->len; j++) {
                fprintf(out, "%s %s", j ? "," : "", (char *)g_ptr_array_index(g->nodes, j));
            }
            fprintf(out, "\n");
        }
    }
    if (p->listed < order->len) {
        fprintf(out,
                "\nShort list: the filter answers with ranks 1-%u of the %u feasible nodes "
                "(shortList %u); kube-scheduler chooses among those.\n",
                p->listed, order->len, p->short_list);
    }
    if (wide && p->demand->model_known) {
        print_fit_rejects(out, cli, p);
    }
    if (order->len) {
        fprintf(out, "\nBest: %s\n", node_name(p, g_array_index(order, guint, 0)));
    } else {
        fprintf(out, "\nNo feasible node: the pod would stay Pending.\n");
    }
    reject_groups_free(groups);
    g_array_unref(order);
}

static json_t *number_or_null(double v, bool known)
{
    return known ? json_real(v) : json_null();
}

json_t *fp_cli_placement_json(const FpCli *cli, const FpPod *pod, const FpPlacement *p)
{
    const FpDemand *d = p->demand;
    json_t *out = json_object();
    json_object_set_new(out, "pod",
                        json_pack("{s:s, s:s}", "namespace", pod->ns, "name", pod->name));
    const FpPodfileItem *it = fp_cli_pod_item(cli, pod);
    json_object_set_new(out, "source", it && it->origin ? json_string(it->origin) : json_null());
    json_t *demand = json_object();
    json_object_set_new(demand, "resource", d->resource ? json_string(d->resource) : json_null());
    json_object_set_new(demand, "count", json_integer(d->count));
    json_object_set_new(demand, "profile", json_string(d->profile_name ? d->profile_name : ""));
    json_t *origins = json_array();
    for (guint i = 0; i < d->n_origins; i++) {
        json_array_append_new(origins, json_pack("{s:s, s:f}", "region", d->origins[i].region,
                                                 "weight", d->origins[i].weight));
    }
    json_object_set_new(demand, "origins", origins);
    json_object_set_new(demand, "maxLatencyMs",
                        number_or_null(d->max_latency_ms, d->max_latency_ms >= 0));
    json_object_set_new(demand, "maxPricePerGPUHour",
                        number_or_null(d->max_price, d->max_price >= 0));
    json_object_set_new(demand, "minGPUMemoryMiB",
                        number_or_null(d->min_gpu_memory_mib, d->min_gpu_memory_mib > 0));
    json_object_set_new(demand, "error",
                        d->invalid_detail ? json_string(d->invalid_detail) : json_null());
    if (pod->model && !d->invalid_reason) {
        const FpModelPlan *pl = &d->model_plan;
        json_t *m = json_pack("{s:s?, s:s?, s:s, s:b}", "name", pod->model->name, "from",
                              pod->model->name_from, "engine", fp_engine_name(pod->model->engine),
                              "known", d->model_known);
        if (d->model_known) {
            json_object_set_new(m, "weightsGiB", json_real(pl->weights_gib));
            json_object_set_new(m, "tensorParallel", json_integer(pl->tensor_parallel));
            json_object_set_new(m, "pipelineParallel", json_integer(pl->pipeline_parallel));
            json_object_set_new(m, "contextTokens", json_integer(pl->context));
            json_object_set_new(m, "kvBytesPerToken", json_real(pl->kv_bytes_per_token));
            json_object_set_new(m, "memoryUtilization", json_real(pl->utilization));
            json_object_set_new(m, "moe", json_boolean(pl->moe));
        }
        if (d->tts) {
            json_t *w = json_pack("{s:s?, s:b, s:b, s:b, s:s?, s:s?, s:i}", "location",
                                  pod->model->weights_location, "store", d->weights_store,
                                  "inCluster", d->store_in_cluster, "hub", d->weights_hub,
                                  "storeRegion", d->store_region, "storeCloud", d->store_cloud,
                                  "images", (int)d->n_images);
            json_t *labels = json_array();
            for (guint i = 0; i < G_N_ELEMENTS(d->cache_labels) && d->cache_labels[i]; i++) {
                json_array_append_new(labels, json_string(d->cache_labels[i]));
            }
            json_object_set_new(w, "cacheLabels", labels);
            json_object_set_new(w, "maxTimeToServeSeconds",
                                number_or_null(d->max_tts_s, d->max_tts_s > 0));
            json_object_set_new(m, "weights", w);
        }
        json_object_set_new(m, "note", d->model_note ? json_string(d->model_note) : json_null());
        json_object_set_new(demand, "model", m);
    }
    json_object_set_new(out, "demand", demand);
    json_object_set_new(out, "policy",
                        json_pack("{s:s, s:I}", "source",
                                  cli->policy->source ? cli->policy->source : "", "generation",
                                  (json_int_t)cli->policy->generation));
    json_t *feasible = json_array();
    GArray *order = ranked(p);
    for (guint r = 0; r < order->len; r++) {
        guint i = g_array_index(order, guint, r);
        const FpVerdict *v = &p->verdicts[i];
        json_t *terms = json_object();
        for (int t = 0; t < FP_N_TERMS; t++) {
            if (shown_term(d, t)) {
                json_object_set_new(terms, fp_term_name(t),
                                    v->term_active[t] ? json_real(v->term[t]) : json_null());
            }
        }
        json_t *e = json_object();
        json_object_set_new(e, "rank", json_integer(r + 1));
        json_object_set_new(e, "node", json_string(node_name(p, i)));
        json_object_set_new(e, "pool", json_string(v->facts.pool ? v->facts.pool : ""));
        json_object_set_new(e, "region", json_string(v->facts.region ? v->facts.region : ""));
        json_object_set_new(e, "zone", json_string(v->facts.zone ? v->facts.zone : ""));
        json_object_set_new(e, "sku", json_string(v->facts.product ? v->facts.product : ""));
        char device[FP_DEVICE_DESCRIBE_MAX];
        json_object_set_new(e, "device",
                            json_string(fp_verdict_device_name(v, device, sizeof device)));
        json_object_set_new(e, "instanceType",
                            json_string(v->facts.instance_type ? v->facts.instance_type : ""));
        json_object_set_new(e, "gpusFree", json_integer(v->gpus_free));
        if (d->model_known && v->facts.gpu_memory_mib > 0) {
            FpFit fit;
            fp_model_fit(&d->model_plan, &cli->policy->fit, v->facts.gpu_memory_mib / 1024.0, &fit);
            json_object_set_new(e, "modelFit",
                                json_pack("{s:f, s:f, s:f, s:f, s:f}", "needGiB", fit.need_gib,
                                          "usableGiB", fit.usable_gib, "weightsGiB",
                                          fit.weights_gib, "kvGiB", fit.kv_gib, "overheadGiB",
                                          fit.overhead_gib));
        }
        if (v->tts_known) {
            json_object_set_new(e, "timeToServe", tts_json(&v->tts));
        }
        json_object_set_new(e, "gpuMemoryMiB",
                            number_or_null(v->facts.gpu_memory_mib, v->facts.gpu_memory_mib > 0));
        json_object_set_new(
            e, "pricePerGPUHour",
            number_or_null(v->facts.price_per_gpu_hour, v->facts.price_per_gpu_hour >= 0));
        json_object_set_new(e, "terms", terms);
        json_object_set_new(e, "total", json_real(v->total));
        json_object_set_new(e, "score", json_integer(v->score));
        json_object_set_new(e, "shortListed", json_boolean(!v->omit));
        json_array_append_new(feasible, e);
    }
    json_object_set_new(out, "feasible", feasible);
    json_object_set_new(out, "shortList", json_integer(p->short_list));
    json_object_set_new(out, "shortListed", json_integer(p->short_list ? p->listed : order->len));
    json_object_set_new(out, "best",
                        order->len ? json_string(node_name(p, g_array_index(order, guint, 0)))
                                   : json_null());
    GPtrArray *groups = reject_groups(p);
    json_t *rejected = json_array();
    for (guint k = 0; k < groups->len; k++) {
        RejectGroup *g = g_ptr_array_index(groups, k);
        json_t *nodes = json_array();
        for (guint j = 0; j < g->nodes->len; j++) {
            json_array_append_new(nodes, json_string(g_ptr_array_index(g->nodes, j)));
        }
        json_array_append_new(rejected, json_pack("{s:s, s:s, s:o}", "by", g->by, "reason",
                                                  g->reason, "nodes", nodes));
    }
    json_object_set_new(out, "rejected", rejected);
    reject_groups_free(groups);
    g_array_unref(order);
    return out;
}
