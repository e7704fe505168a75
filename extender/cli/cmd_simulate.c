/*
 * extender/cli/cmd_simulate.c - `flexplace simulate`: where would a burst go?
 *
 * Places N replicas of each pod (several pod files make a mixed burst; their
 * replicas arrive interleaved) one after another through exactly the
 * server's path: kube-scheduler's own checks, flexplace's filters and scores
 * (cache/placement.c), the top-scored node chosen as kube-scheduler would
 * (kube-scheduler's arithmetic: the extender score x weight x 10 plus
 * TaintToleration, random among exact ties, which are reported), and
 * the bind verb's assumption (fp_view_assume; both steps in simulate.h, which
 * the quality benchmark calls too) so the next replica sees the
 * GPUs taken, pool ceilings fill and bursts spill over.  Replicas of one pod
 * file share an owner, so failover spread (spread-min-pools) applies.
 *
 * Reports, per pool/region/SKU: replicas placed, GPUs, utilisation of the
 * pool's schedulable GPUs before -> after, cost per hour of the placed
 * replicas, mean and max latency to the pod's origin; replicas left
 * unplaced with the reason; and GPUs stranded on partly used nodes (free
 * GPUs on a node that already runs something, too few for one more replica
 * of the largest request in the burst).
 *
 * Exit codes: 0 every replica placed; 3 some replicas unplaced; 2 usage or
 * input error; 1 runtime failure.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "extender/cli/cli.h"
#include "extender/cli/commands.h"
#include "extender/cli/simulate.h"

#define FP_EXIT_UNPLACED 3
#define SIMULATE_MAX_REPLICAS 100000

typedef struct {
    char *pool;
    char *region;
    char *sku;
    char *device; /* fp_verdict_device_name: what the group's pods got */
    char *resource;
    guint replicas;
    int64_t gpus;
    double cost_per_hour;
    double latency_sum;
    double latency_max;
    guint latency_n;
    FpPoolStat before;
    FpPoolStat after;
} Group;

static void group_free(gpointer p)
{
    Group *g = p;
    g_free(g->pool);
    g_free(g->region);
    g_free(g->sku);
    g_free(g->device);
    g_free(g->resource);
    g_free(g);
}

typedef struct {
    char *pod;
    char *node; /* NULL when unplaced */
    char *reason;
    int score;
    guint tied;        /* nodes with the same top kube-scheduler score (1: no tie) */
    bool across_pools; /* ... and they were in more than one pool */
    bool tts_known;    /* the chosen node's time-to-serve estimate */
    FpTts tts;
} Placement;

static void placement_free(gpointer p)
{
    Placement *x = p;
    g_free(x->pod);
    g_free(x->node);
    g_free(x->reason);
    g_free(x);
}

static Group *group_for(GHashTable *groups, const FpVerdict *v, const char *resource)
{
    char device[FP_DEVICE_DESCRIBE_MAX];
    fp_verdict_device_name(v, device, sizeof device);
    g_autofree char *key =
        g_strdup_printf("%s\x1f%s\x1f%s", v->facts.pool, v->facts.region, device);
    Group *g = g_hash_table_lookup(groups, key);
    if (!g) {
        g = g_new0(Group, 1);
        g->pool = g_strdup(v->facts.pool);
        g->region = g_strdup(v->facts.region);
        g->sku = g_strdup(v->facts.product);
        g->device = g_strdup(device);
        g->resource = g_strdup(resource);
        g_hash_table_insert(groups, g_steal_pointer(&key), g);
    }
    return g;
}

/* The most common rejection reason of a placement nobody passed. */
static char *dominant_reason(const FpPlacement *p)
{
    GHashTable *counts = g_hash_table_new(g_str_hash, g_str_equal);
    const char *best = NULL;
    guint best_n = 0;
    for (guint i = 0; i < p->n; i++) {
        const char *r = p->verdicts[i].reason;
        if (!r) {
            continue;
        }
        guint n = GPOINTER_TO_UINT(g_hash_table_lookup(counts, r)) + 1;
        g_hash_table_insert(counts, (gpointer)r, GUINT_TO_POINTER(n));
        if (n > best_n) {
            best_n = n;
            best = r;
        }
    }
    char *out = best ? g_strdup_printf("%s (%u of %u nodes)", best, best_n, p->n)
                     : g_strdup("no nodes in the cluster view");
    g_hash_table_unref(counts);
    return out;
}

static void pool_stat_lookup(FpCli *cli, const char *resource, const char *pool, FpPoolStat *out)
{
    memset(out, 0, sizeof *out);
    if (!resource || !pool || !*pool) {
        return;
    }
    fp_view_read_lock(cli->view);
    GHashTable *stats = fp_view_pool_stats_locked(cli->view, cli->policy, resource);
    fp_view_read_unlock(cli->view);
    FpPoolStat *s = g_hash_table_lookup(stats, pool);
    if (s) {
        *out = *s;
    }
    g_hash_table_unref(stats);
}

typedef struct {
    int64_t largest;
    GHashTable *resources; /* resources requested by the burst */
    int64_t stranded;
    json_t *nodes;
} StrandedScan;

static void scan_stranded(const FpNodeState *st, void *data)
{
    StrandedScan *s = data;
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, s->resources);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        int64_t alloc = fp_res_list_get(&st->node->allocatable, key);
        int64_t taken = fp_res_list_get(&st->used, key) + fp_res_list_get(&st->assumed, key);
        int64_t free_gpus = alloc - taken;
        if (alloc > 0 && taken > 0 && free_gpus > 0 && free_gpus < s->largest) {
            s->stranded += free_gpus;
            json_array_append_new(s->nodes,
                                  json_pack("{s:s, s:s, s:I}", "node", st->name, "resource",
                                            (const char *)key, "free", (json_int_t)free_gpus));
        }
    }
}

static gint group_cmp(gconstpointer a, gconstpointer b)
{
    const Group *x = a, *y = b;
    int c = strcmp(x->pool, y->pool);
    if (!c) {
        c = strcmp(x->region, y->region);
    }
    return c ? c : strcmp(x->sku, y->sku);
}

static double pct(const FpPoolStat *s)
{
    return s->allocatable > 0 ? 100.0 * (double)(s->used + s->assumed) / (double)s->allocatable : 0;
}

/* One simulated burst: the inputs, and what happened so far. */
typedef struct {
    FpCli cli;
    int replicas;
    GHashTable *groups;    /* "pool\x1fregion\x1fsku" -> Group */
    GPtrArray *placements; /* Placement, in arrival order */
    StrandedScan scan;
    guint placed, unplaced;
    double total_cost;
    GList *sorted; /* the groups, sorted (after the burst) */
    int extender_weight;
    int seed;
    GRand *rand;
    guint ties, ties_across_pools;
    /* Time to serve of the placed replicas that have an estimate: each is
     * estimated against the cluster as the burst found it (replicas start
     * together, so each pulls and transfers its own copy). */
    guint tts_n;
    double tts_sum, tts_max, tts_min, egress_usd;
} Sim;

/* Options into @sim; FP_EXIT_OK or FP_EXIT_USAGE after saying why. */
static int parse_args(Sim *sim, int argc, char **argv)
{
    g_autofree GOptionEntry *common = fp_cli_option_entries(&sim->cli);
    GOptionEntry extra[] = {
        {"replicas", 'n', 0, G_OPTION_ARG_INT, &sim->replicas,
         "Replicas of each pod to place, one after another (required)", "N"},
        {"extender-weight", 0, 0, G_OPTION_ARG_INT, &sim->extender_weight,
         "The extender weight in kube-scheduler's configuration (default 10, as shipped)", "N"},
        {"seed", 0, 0, G_OPTION_ARG_INT, &sim->seed,
         "Seed of the random choice among exact ties (default 1)", "N"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- place a burst of replicas and report");
    g_option_context_add_main_entries(ctx, common, NULL);
    g_option_context_add_main_entries(ctx, extra, NULL);
    g_option_context_set_description(
        ctx, "Exit status: 0 every replica placed, 3 some unplaced, 2 usage or input error,\n"
             "1 runtime failure.\n\n"
             "Example:\n  flexplace simulate --demo --pod pod.yaml --replicas 20\n");
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "flexplace simulate: %s\n", error->message);
        return FP_EXIT_USAGE;
    }
    if (sim->extender_weight < 1 || sim->extender_weight > 1000000) {
        fprintf(stderr, "flexplace simulate: --extender-weight must be 1..1000000\n");
        return FP_EXIT_USAGE;
    }
    if (argc > 1 || sim->replicas <= 0 || sim->replicas > SIMULATE_MAX_REPLICAS) {
        fprintf(stderr, "flexplace simulate: --replicas N (1..%d) and --pod FILE are required\n",
                SIMULATE_MAX_REPLICAS);
        return FP_EXIT_USAGE;
    }
    return FP_EXIT_OK;
}

/* Count a placed replica in its pool/region/SKU group @g. */
static void account(Sim *sim, Group *g, const FpVerdict *v, const FpDemand *d)
{
    g->replicas++;
    g->gpus += d->resource ? d->count : 0;
    if (v->facts.price_per_gpu_hour >= 0 && d->resource) {
        g->cost_per_hour += v->facts.price_per_gpu_hour * (double)d->count;
        sim->total_cost += v->facts.price_per_gpu_hour * (double)d->count;
    }
    if (d->n_origins) {
        double lat = fp_weighted_latency(sim->cli.policy, d, v->facts.region);
        g->latency_sum += lat;
        g->latency_max = MAX(g->latency_max, lat);
        g->latency_n++;
    }
}

/* Place replica @r of template @tmpl as kube-scheduler and the bind verb
 * would. */
static void place_replica(Sim *sim, const FpPod *tmpl, guint r)
{
    FpPod *pod = fp_sim_replica(tmpl, r);
    g_autoptr(FpPlacement) p = fp_cli_place(&sim->cli, pod);
    Placement *rec = g_new0(Placement, 1);
    rec->pod = g_strdup_printf("%s/%s", pod->ns, pod->name);
    g_ptr_array_add(sim->placements, rec);
    const FpDemand *d = p->demand;
    if (d->resource) {
        g_hash_table_add(sim->scan.resources, (gpointer)g_intern_string(d->resource));
        sim->scan.largest = MAX(sim->scan.largest, d->count);
    }
    FpSimChoice choice = fp_sim_kube_choice(p, pod, sim->extender_weight, sim->rand);
    int best = choice.index;
    rec->tied = choice.tied;
    rec->across_pools = choice.across_pools;
    sim->ties += choice.tied > 1;
    sim->ties_across_pools += choice.across_pools;
    if (best < 0) {
        rec->reason = dominant_reason(p);
        sim->unplaced++;
        fp_pod_unref(pod);
        return;
    }
    const FpVerdict *v = &p->verdicts[best];
    const char *node = p->nodes[best]->name;
    /* The pool before the burst's first replica in it is bound. */
    Group *g = group_for(sim->groups, v, d->resource);
    if (g->replicas == 0) {
        pool_stat_lookup(&sim->cli, d->resource, g->pool, &g->before);
    }
    const char *why = NULL;
    if (!fp_sim_bind(sim->cli.view, pod, d, node, rec->pod, &why)) {
        rec->reason = g_strdup(why);
        sim->unplaced++;
        return;
    }
    rec->node = g_strdup(node);
    rec->score = v->score;
    sim->placed++;
    account(sim, g, v, d);
    if (v->tts_known) {
        rec->tts_known = true;
        rec->tts = v->tts;
        sim->tts_min = sim->tts_n ? MIN(sim->tts_min, v->tts.total_s) : v->tts.total_s;
        sim->tts_n++;
        sim->tts_sum += v->tts.total_s;
        sim->tts_max = MAX(sim->tts_max, v->tts.total_s);
        sim->egress_usd += v->tts.egress_usd;
    }
}

/* Pool utilisation after the burst, and stranded GPUs. */
static void finish(Sim *sim)
{
    sim->sorted = g_list_sort(g_hash_table_get_values(sim->groups), group_cmp);
    for (GList *l = sim->sorted; l; l = l->next) {
        Group *g = l->data;
        pool_stat_lookup(&sim->cli, g->resource, g->pool, &g->after);
    }
    fp_view_read_lock(sim->cli.view);
    fp_view_foreach_node_locked(sim->cli.view, scan_stranded, &sim->scan);
    fp_view_read_unlock(sim->cli.view);
}

static json_t *group_json(const Group *g)
{
    json_t *e =
        json_pack("{s:s, s:s, s:s, s:i, s:I, s:f, s:f, s:f}", "pool", g->pool, "region", g->region,
                  "sku", g->sku, "replicas", g->replicas, "gpus", (json_int_t)g->gpus,
                  "utilizationBefore", pct(&g->before) / 100, "utilizationAfter",
                  pct(&g->after) / 100, "costPerHour", g->cost_per_hour);
    json_object_set_new(e, "device", json_string(g->device));
    json_object_set_new(e, "latencyMeanMs",
                        g->latency_n ? json_real(g->latency_sum / g->latency_n) : json_null());
    json_object_set_new(e, "latencyMaxMs", g->latency_n ? json_real(g->latency_max) : json_null());
    return e;
}

static void print_json(Sim *sim, guint total)
{
    json_t *jg = json_array();
    for (GList *l = sim->sorted; l; l = l->next) {
        json_array_append_new(jg, group_json(l->data));
    }
    json_t *jp = json_array();
    for (guint i = 0; i < sim->placements->len; i++) {
        Placement *x = g_ptr_array_index(sim->placements, i);
        json_t *e = x->node
                        ? json_pack("{s:s, s:s, s:i, s:i}", "pod", x->pod, "node", x->node, "score",
                                    x->score, "tiedWith", (int)x->tied - 1)
                        : json_pack("{s:s, s:n, s:s}", "pod", x->pod, "node", "reason", x->reason);
        if (x->tts_known) {
            json_object_set_new(e, "timeToServe",
                                json_pack("{s:f, s:f, s:s, s:f, s:f, s:f}", "seconds",
                                          x->tts.total_s, "pullSeconds", x->tts.pull_s, "source",
                                          fp_weight_source_name(x->tts.source), "transferSeconds",
                                          x->tts.transfer_s, "loadSeconds", x->tts.load_s,
                                          "egressUSD", x->tts.egress_usd));
        }
        json_array_append_new(jp, e);
    }
    json_t *doc = json_pack("{s:s, s:i, s:i, s:i, s:f, s:o, s:I, s:O, s:o}", "apiVersion",
                            "flexplace.io/v1alpha1", "replicas", total, "placed", sim->placed,
                            "unplaced", sim->unplaced, "costPerHour", sim->total_cost, "groups", jg,
                            "strandedGPUs", (json_int_t)sim->scan.stranded, "strandedNodes",
                            sim->scan.nodes, "placements", jp);
    json_object_set_new(doc, "extenderWeight", json_integer(sim->extender_weight));
    if (sim->tts_n) {
        json_object_set_new(doc, "timeToServe",
                            json_pack("{s:i, s:f, s:f, s:f, s:f, s:f}", "replicas", (int)sim->tts_n,
                                      "totalSeconds", sim->tts_sum, "meanSeconds",
                                      sim->tts_sum / sim->tts_n, "minSeconds", sim->tts_min,
                                      "maxSeconds", sim->tts_max, "egressUSD", sim->egress_usd));
    }
    json_object_set_new(doc, "ties",
                        json_pack("{s:i, s:i}", "replicas", (int)sim->ties, "acrossPools",
                                  (int)sim->ties_across_pools));
    json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    fputc('\n', stdout);
    json_decref(doc);
}

static void print_group_row(const Group *g)
{
    g_autofree char *util = g_strdup_printf("%.0f%% -> %.0f%%", pct(&g->before), pct(&g->after));
    char mean[32] = "-", max[32] = "-";
    if (g->latency_n) {
        g_snprintf(mean, sizeof mean, "%.1f ms", g->latency_sum / g->latency_n);
        g_snprintf(max, sizeof max, "%.1f ms", g->latency_max);
    }
    printf("%-18s %-14s %-24s %8u %5" G_GINT64_FORMAT "  %-17s %9.2f %9s %9s\n",
           *g->pool ? g->pool : "-", *g->region ? g->region : "-", *g->device ? g->device : "-",
           g->replicas, g->gpus, util, g->cost_per_hour, mean, max);
}

static void print_text(Sim *sim, guint total)
{
    FpCli *cli = &sim->cli;
    const FpPod *first = g_ptr_array_index(cli->pods, 0);
    const char *policy = cli->policy->source ? cli->policy->source : "-";
    if (cli->pods->len == 1) {
        printf("Burst of %u replicas of %s/%s on %s, policy %s\n", total, first->ns, first->name,
               cli->view_source, policy);
    } else {
        printf("Mixed burst of %u replicas (%d of each of %u pods%s) on %s, policy %s\n", total,
               sim->replicas, cli->pods->len,
               total != (guint)sim->replicas * cli->pods->len
                   ? "; a LeaderWorkerSet's worker template counts its size - 1 workers"
                   : "",
               cli->view_source, policy);
    }
    printf("Placed %u, unplaced %u, cost of the placed replicas $%.2f/hour\n", sim->placed,
           sim->unplaced, sim->total_cost);
    if (sim->tts_n) {
        double hours = cli->policy->transfer.amortization_hours;
        printf("Time to serve (%u replicas, estimated): total %.0f s, mean %.0f s, first %.0f s, "
               "last %.0f s; weight transfer egress $%.2f once (+$%.2f/hour over %.0f h)\n",
               sim->tts_n, sim->tts_sum, sim->tts_sum / sim->tts_n, sim->tts_min, sim->tts_max,
               sim->egress_usd, hours > 0 ? sim->egress_usd / hours : 0, hours);
    }
    printf("\n");
    printf("%-18s %-14s %-24s %8s %5s  %-17s %9s %9s %9s\n", "POOL", "REGION", "SKU", "REPLICAS",
           "GPUS", "POOL UTIL", "$/HOUR", "LAT MEAN", "LAT MAX");
    for (GList *l = sim->sorted; l; l = l->next) {
        print_group_row(l->data);
    }
    if (sim->unplaced) {
        printf("\nUnplaced:\n");
        for (guint i = 0; i < sim->placements->len; i++) {
            Placement *x = g_ptr_array_index(sim->placements, i);
            if (!x->node) {
                printf("  %s: %s\n", x->pod, x->reason);
            }
        }
    }
    printf("\nExact ties kube-scheduler breaks at random (extender weight %d, seed %d): %u "
           "replica%s, %u of them between pools\n",
           sim->extender_weight, sim->seed, sim->ties, sim->ties == 1 ? "" : "s",
           sim->ties_across_pools);
    printf("\nGPUs stranded on partly used nodes (free, but fewer than %" G_GINT64_FORMAT
           " GPUs): %" G_GINT64_FORMAT "\n",
           sim->scan.largest, sim->scan.stranded);
    printf("\nPlacements:\n");
    for (guint i = 0; i < sim->placements->len; i++) {
        Placement *x = g_ptr_array_index(sim->placements, i);
        if (x->node && x->tts_known) {
            printf("  %-40s -> %s (score %d; serves in %.0f s: pull %.0f, %s %.0f, load %.0f)\n",
                   x->pod, x->node, x->score, x->tts.total_s, x->tts.pull_s,
                   fp_weight_source_name(x->tts.source), x->tts.transfer_s, x->tts.load_s);
        } else if (x->node) {
            printf("  %-40s -> %s (score %d)\n", x->pod, x->node, x->score);
        }
    }
}

static void sim_free(Sim *sim)
{
    if (sim->scan.nodes) {
        json_decref(sim->scan.nodes);
    }
    if (sim->scan.resources) {
        g_hash_table_unref(sim->scan.resources);
    }
    g_list_free(sim->sorted);
    if (sim->placements) {
        g_ptr_array_unref(sim->placements);
    }
    if (sim->groups) {
        g_hash_table_unref(sim->groups);
    }
    if (sim->rand) {
        g_rand_free(sim->rand);
    }
    fp_cli_free(&sim->cli);
}

int fp_cmd_simulate(int argc, char **argv)
{
    Sim sim = {.extender_weight = FP_SIM_SHIPPED_EXTENDER_WEIGHT, .seed = 1};
    int rc = parse_args(&sim, argc, argv);
    if (rc == FP_EXIT_OK) {
        rc = fp_cli_load(&sim.cli, "simulate");
    }
    if (rc != FP_EXIT_OK) {
        sim_free(&sim);
        return rc;
    }
    sim.groups = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, group_free);
    sim.placements = g_ptr_array_new_with_free_func(placement_free);
    sim.scan.resources = g_hash_table_new(g_str_hash, g_str_equal);
    sim.scan.nodes = json_array();
    sim.rand = g_rand_new_with_seed((guint32)sim.seed);
    /* A template that stands for several pods of one replica (an LWS
     * worker template: size - 1 workers) places that many per replica. */
    guint total = 0;
    for (guint r = 0; r < (guint)sim.replicas; r++) {
        for (guint t = 0; t < sim.cli.pods->len; t++) {
            const FpPodfileItem *it = g_ptr_array_index(sim.cli.items, t);
            for (guint k = 0; k < it->copies; k++, total++) {
                place_replica(&sim, it->pod, r * it->copies + k);
            }
        }
    }
    finish(&sim);
    if (sim.cli.format == FP_OUT_JSON) {
        print_json(&sim, total);
    } else {
        print_text(&sim, total);
    }
    rc = sim.unplaced ? FP_EXIT_UNPLACED : FP_EXIT_OK;
    sim_free(&sim);
    return rc;
}
