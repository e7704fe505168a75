/*
 * test/bench/quality.c - fp_quality: how far `flexplace simulate`'s greedy,
 * arrival-order placement is from the offline optimum of the same
 * objective, on generated mixed bursts (test/bench/README.md, "Placement
 * quality").
 *
 * Per scenario (seeded): a small fleet of GPU pools (instance types, GPU
 * products, memory and prices of the built-in catalog's AWS rows, regions
 * the built-in round-trip table knows, burst ceilings, GPUs already in use),
 * a policy with three profiles (the built-in defaults, an interactive one
 * with a latency limit, a batch one that prices work) and a burst of pods
 * of five shapes (1, 2, 4 and 8 GPUs; SKU allow-lists; latency-critical and
 * batch), arriving in a random order.
 *
 *  - simulate: each pod, in arrival order, through the library steps
 *    `flexplace simulate` runs (fp_cli_place, fp_sim_kube_choice with the
 *    shipped extender weight and a seeded GRand, fp_sim_bind).
 *  - optimum: an exact dynamic programme over the same engine: for each
 *    pod in arrival order, every node the engine passes it on at that
 *    moment (nodes alike in pool, size and GPUs in use are one choice), or
 *    leaving it unplaced; the state is the GPUs in use per node, memoised.
 *    simulate's path is one of the paths it explores, so its objective can
 *    never beat the optimum's: a run where it does fails.
 *
 * Objective: the sum over placed pods of the engine's weighted total
 * (FpVerdict.total, in [0, 1], what the 0..10 mapping ranks) at the moment
 * the pod is placed.  Printed as a cost, sum over all pods of (1 - total),
 * an unplaced pod costing 1, so the ratio simulate / optimum is 1.00 at the
 * optimum and above 1 when worse.
 *
 * Also counted: pods simulate left unplaced while a pool their hard
 * constraints allow (SKU, latency limit) had a node with enough free GPUs.
 *
 * Exit status: 0 when every scenario ran and no invariant broke (simulate
 * never better than the optimum, no pod unplaced while an allowed pool had
 * room, the DP within its state budget); 1 otherwise; 2 usage.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cache/kobj.h"
#include "cache/placement.h"
#include "cache/snapshot.h"
#include "extender/cli/cli.h"
#include "extender/cli/simulate.h"
#include "policies/policy_load.h"

#define RESOURCE "nvidia.com/gpu"
#define NS "bench"
#define ORIGIN "us-east-1"
#define STATE_BUDGET 2000000u
#define MAX_NODES_PER_POOL 3

/* A pool template: facts of the built-in catalog (scoring/catalog/
 * gpu_catalog.csv, AWS us-east-1 on-demand price per GPU-hour of the
 * instance type) in a region of the built-in round-trip table. */
typedef struct {
    const char *name;
    const char *region;
    const char *instance_type;
    const char *product; /* GPU Feature Discovery's nvidia.com/gpu.product */
    int gpus;            /* per node */
    int memory_mib;      /* nvidia.com/gpu.memory as GFD reports it */
    double price;        /* per GPU-hour */
} PoolKind;

static const PoolKind POOL_KINDS[] = {
    {"use1-l4x8", "us-east-1", "g6.48xlarge", "NVIDIA-L4", 8, 23034, 1.6688},
    {"use1-t4x4", "us-east-1", "g4dn.12xlarge", "Tesla-T4", 4, 15360, 0.978},
    {"use1-a100x8", "us-east-1", "p4d.24xlarge", "NVIDIA-A100-SXM4-40GB", 8, 40960, 2.744705},
    {"use2-l4x4", "us-east-2", "g6.12xlarge", "NVIDIA-L4", 4, 23034, 1.1504},
    {"use2-a10gx4", "us-east-2", "g5.12xlarge", "NVIDIA-A10G", 4, 23028, 1.418},
    {"use2-h100x8", "us-east-2", "p5.48xlarge", "NVIDIA-H100-80GB-HBM3", 8, 81559, 6.88},
    {"usw2-a10gx8", "us-west-2", "g5.48xlarge", "NVIDIA-A10G", 8, 23028, 2.036},
    {"usw2-l40sx4", "us-west-2", "g6e.12xlarge", "NVIDIA-L40S", 4, 46068, 2.62316},
    {"euw1-h100x8", "eu-west-1", "p5.48xlarge", "NVIDIA-H100-80GB-HBM3", 8, 81559, 6.88},
};
#define N_POOL_KINDS G_N_ELEMENTS(POOL_KINDS)

/* A pod shape: GPUs, profile, origins, SKU allow-list (NULL = any). */
typedef struct {
    const char *name;
    int gpus;
    const char *profile;
    const char *origins;
    const char *skus;
    double max_latency_ms; /* the profile's limit, < 0 none: for the room check */
} Shape;

#define INTERACTIVE_MAX_LATENCY_MS 40.0
static const Shape SHAPES[] = {
    {"chat", 1, "interactive", ORIGIN, NULL, INTERACTIVE_MAX_LATENCY_MS},
    {"embed", 1, "default", ORIGIN, "Tesla-T4,NVIDIA-L4", -1},
    {"summarize", 2, "interactive", "us-east-1=3,us-west-2=1", NULL, INTERACTIVE_MAX_LATENCY_MS},
    {"eval", 4, "batch", NULL, NULL, -1},
    {"llm70b", 8, "default", ORIGIN, "NVIDIA-A100-SXM4-40GB,NVIDIA-H100-80GB-HBM3", -1},
};
#define N_SHAPES G_N_ELEMENTS(SHAPES)

typedef enum { CLASS_SINGLE, CLASS_MIXED, CLASS_TIGHT, N_CLASSES } ScenarioClass;
static const char *const CLASS_NAMES[N_CLASSES] = {"1-GPU chat burst", "mixed, room",
                                                   "mixed, tight"};

typedef struct {
    const PoolKind *kind;
    int nodes;
    double ceiling;
} Pool;

typedef struct {
    ScenarioClass klass;
    Pool pools[4];
    int n_pools;
    GArray *used;  /* int: GPUs in use per node before the burst, in node order */
    GArray *burst; /* guint: shape index per arriving pod */
    guint32 seed;
} Scenario;

/* ---- generation -------------------------------------------------------- */

static json_t *node_json(const Pool *pool, int i)
{
    const PoolKind *k = pool->kind;
    char name[64], zone[64], mem[16], gpus[8];
    g_snprintf(name, sizeof name, "%s-%d", k->name, i);
    g_snprintf(zone, sizeof zone, "%sa", k->region);
    g_snprintf(mem, sizeof mem, "%d", k->memory_mib);
    g_snprintf(gpus, sizeof gpus, "%d", k->gpus);
    json_t *labels = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kubernetes.io/hostname", name,
        "karpenter.sh/nodepool", k->name, "topology.kubernetes.io/region", k->region,
        "topology.kubernetes.io/zone", zone, "node.kubernetes.io/instance-type", k->instance_type,
        "nvidia.com/gpu.product", k->product, "nvidia.com/gpu.memory", mem);
    json_t *res = json_pack("{s:s, s:s, s:s, s:s}", "cpu", "96", "memory", "384Gi", "pods", "110",
                            RESOURCE, gpus);
    return json_pack("{s:s, s:s, s:{s:s, s:o}, s:{}, s:{s:O, s:o, s:[{s:s, s:s}]}}", "apiVersion",
                     "v1", "kind", "Node", "metadata", "name", name, "labels", labels, "spec",
                     "status", "allocatable", res, "capacity", res, "conditions", "type", "Ready",
                     "status", "True");
}

static json_t *gpu_container(int gpus)
{
    char n[8];
    g_snprintf(n, sizeof n, "%d", gpus);
    return json_pack("[{s:s, s:{s:{s:s}, s:{s:s}}}]", "name", "main", "resources", "requests",
                     RESOURCE, n, "limits", RESOURCE, n);
}

static json_t *running_pod_json(const char *node, int i, int gpus)
{
    char name[80];
    g_snprintf(name, sizeof name, "running-%d", i);
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:o}, s:{s:s}}", "apiVersion", "v1",
                     "kind", "Pod", "metadata", "name", name, "namespace", NS, "uid", name, "spec",
                     "nodeName", node, "containers", gpu_container(gpus), "status", "phase",
                     "Running");
}

/* The cluster as `kubectl get nodes,pods -o json` prints it. */
static char *cluster_json(const Scenario *sc)
{
    json_t *items = json_array();
    guint n = 0;
    for (int p = 0; p < sc->n_pools; p++) {
        for (int i = 0; i < sc->pools[p].nodes; i++, n++) {
            json_t *node = node_json(&sc->pools[p], i);
            int used = g_array_index(sc->used, int, n);
            if (used > 0) {
                const char *name =
                    json_string_value(json_object_get(json_object_get(node, "metadata"), "name"));
                json_array_append_new(items, running_pod_json(name, (int)n, used));
            }
            json_array_append_new(items, node);
        }
    }
    json_t *doc = json_pack("{s:s, s:s, s:o}", "apiVersion", "v1", "kind", "List", "items", items);
    char *out = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return out;
}

/* The policy: pools with their prices and ceilings; the built-in default
 * profile (weights 6/2/1/1/1/2), an interactive one and a batch one. */
static const char *interactive_packing = "spread";

static char *policy_json(const Scenario *sc)
{
    json_t *pools = json_array();
    for (int p = 0; p < sc->n_pools; p++) {
        json_array_append_new(pools,
                              json_pack("{s:s, s:s, s:f, s:f}", "name", sc->pools[p].kind->name,
                                        "cloud", "aws", "pricePerGPUHour", sc->pools[p].kind->price,
                                        "maxUtilization", sc->pools[p].ceiling));
    }
    json_t *profiles = json_pack(
        "{s:{s:{s:i, s:i, s:i, s:i}, s:f, s:s}, s:{s:{s:i, s:i, s:i}, s:s, s:s}}", "interactive",
        "weights", "latency", 8, "cost", 2, "headroom", 2, "packing", 1, "maxLatencyMs",
        INTERACTIVE_MAX_LATENCY_MS, "packing", interactive_packing, "batch", "weights", "cost", 6,
        "packing", 2, "headroom", 1, "cost", "perWork", "packing", "binpack");
    json_t *doc = json_pack("{s:s, s:s, s:{s:s}, s:o, s:o}", "apiVersion", "flexplace.io/v1alpha1",
                            "kind", "PlacementPolicy", "metadata", "name", "quality-bench", "pools",
                            pools, "profiles", profiles);
    char *out = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return out;
}

static FpPod *burst_pod(const Shape *s, guint index)
{
    char name[64];
    g_snprintf(name, sizeof name, "%s-%u", s->name, index);
    json_t *ann = json_pack("{s:s}", "flexplace.io/profile", s->profile);
    if (s->origins) {
        json_object_set_new(ann, "flexplace.io/origin-region", json_string(s->origins));
    }
    if (s->skus) {
        json_object_set_new(ann, "flexplace.io/gpu-sku", json_string(s->skus));
    }
    json_t *doc = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:o}, s:{s:o}, s:{s:s}}", "apiVersion",
                            "v1", "kind", "Pod", "metadata", "name", name, "namespace", NS, "uid",
                            name, "annotations", ann, "spec", "containers", gpu_container(s->gpus),
                            "status", "phase", "Pending");
    g_autoptr(GError) error = NULL;
    FpPod *pod = fp_pod_from_json(doc, FP_POD_FULL, &error);
    json_decref(doc);
    if (!pod) {
        fprintf(stderr, "fp_quality: pod %s: %s\n", name, error->message);
        exit(1);
    }
    return pod;
}

static int rand_in(GRand *r, int lo, int hi) /* [lo, hi] */
{
    return g_rand_int_range(r, lo, hi + 1);
}

static void pick_pools(Scenario *sc, GRand *r)
{
    static const double ceilings[] = {0.75, 0.9, 1.0};
    bool taken[N_POOL_KINDS] = {false};
    sc->n_pools = rand_in(r, 3, 4);
    for (int p = 0; p < sc->n_pools; p++) {
        guint k;
        do {
            k = (guint)g_rand_int_range(r, 0, N_POOL_KINDS);
        } while (taken[k]);
        taken[k] = true;
        sc->pools[p].kind = &POOL_KINDS[k];
        sc->pools[p].nodes = rand_in(r, 1, MAX_NODES_PER_POOL);
        sc->pools[p].ceiling = ceilings[g_rand_int_range(r, 0, 3)];
    }
    if (sc->klass == CLASS_SINGLE) { /* the near L4 pool, so chat always has a near choice */
        for (int p = 0; p < sc->n_pools; p++) {
            if (sc->pools[p].kind == &POOL_KINDS[0]) {
                return;
            }
        }
        sc->pools[0].kind = &POOL_KINDS[0];
    }
}

static int free_gpus(const Scenario *sc)
{
    int free_total = 0;
    guint n = 0;
    for (int p = 0; p < sc->n_pools; p++) {
        for (int i = 0; i < sc->pools[p].nodes; i++, n++) {
            free_total += sc->pools[p].kind->gpus - g_array_index(sc->used, int, n);
        }
    }
    return free_total;
}

/* GPUs in use per node: none, or up to half the node. */
static void pick_usage(Scenario *sc, GRand *r)
{
    for (int p = 0; p < sc->n_pools; p++) {
        for (int i = 0; i < sc->pools[p].nodes; i++) {
            int used = g_rand_boolean(r) ? rand_in(r, 0, sc->pools[p].kind->gpus / 2) : 0;
            g_array_append_val(sc->used, used);
        }
    }
}

/* Pods until their GPUs reach @share of the free ones (at least 3 pods,
 * at most @max_pods so the exact DP stays small). */
static void pick_burst(Scenario *sc, GRand *r, guint max_pods)
{
    double share = sc->klass == CLASS_TIGHT ? 1.1 : 0.6;
    int want = MAX(3, (int)(share * free_gpus(sc)));
    int gpus = 0;
    while (gpus < want && sc->burst->len < max_pods) {
        guint s = sc->klass == CLASS_SINGLE ? 0 : (guint)g_rand_int_range(r, 0, N_SHAPES);
        g_array_append_val(sc->burst, s);
        gpus += SHAPES[s].gpus;
    }
    while (sc->burst->len < 3) {
        guint s = 0;
        g_array_append_val(sc->burst, s);
    }
}

static Scenario *scenario_new(ScenarioClass klass, guint32 seed, guint max_pods)
{
    Scenario *sc = g_new0(Scenario, 1);
    sc->klass = klass;
    sc->seed = seed;
    sc->used = g_array_new(FALSE, FALSE, sizeof(int));
    sc->burst = g_array_new(FALSE, FALSE, sizeof(guint));
    GRand *r = g_rand_new_with_seed(seed);
    pick_pools(sc, r);
    pick_usage(sc, r);
    pick_burst(sc, r, max_pods);
    g_rand_free(r);
    return sc;
}

static void scenario_free(Scenario *sc)
{
    g_array_unref(sc->used);
    g_array_unref(sc->burst);
    g_free(sc);
}

/* ---- one scenario's world: view, policy, the arriving pods -------------- */

typedef struct {
    FpCli cli;
    GPtrArray *pods;    /* FpPod*, arrival order: fp_sim_replica of each template */
    GHashTable *index;  /* node name -> node index + 1 (the scenario's node order) */
    GArray *taken;      /* int: GPUs in use or assumed per node */
    GArray *node_pool;  /* int: pool index per node */
    GArray *node_alloc; /* int: GPUs per node */
} World;

static void world_free(World *w)
{
    fp_cli_free(&w->cli);
    g_ptr_array_unref(w->pods);
    g_hash_table_unref(w->index);
    g_array_unref(w->taken);
    g_array_unref(w->node_pool);
    g_array_unref(w->node_alloc);
}

static void world_nodes(World *w, const Scenario *sc)
{
    guint n = 0;
    for (int p = 0; p < sc->n_pools; p++) {
        for (int i = 0; i < sc->pools[p].nodes; i++, n++) {
            g_hash_table_insert(w->index, g_strdup_printf("%s-%d", sc->pools[p].kind->name, i),
                                GUINT_TO_POINTER(n + 1));
            g_array_append_val(w->taken, g_array_index(sc->used, int, n));
            g_array_append_val(w->node_pool, p);
            g_array_append_val(w->node_alloc, sc->pools[p].kind->gpus);
        }
    }
}

static void world_load(World *w, const Scenario *sc)
{
    memset(w, 0, sizeof *w);
    g_autofree char *cluster = cluster_json(sc);
    g_autofree char *policy = policy_json(sc);
    g_autoptr(GError) error = NULL;
    w->cli.view = fp_view_new();
    if (!fp_snapshot_load_buffer(w->cli.view, cluster, strlen(cluster), "scenario", &error)) {
        fprintf(stderr, "fp_quality: cluster: %s\n", error->message);
        exit(1);
    }
    g_autoptr(FpPolicyReport) report = fp_policy_report_new();
    w->cli.policy = fp_policy_load_buffer(policy, strlen(policy), "quality-bench", report);
    if (!w->cli.policy) {
        fprintf(stderr, "fp_quality: policy: %s\n",
                report->errors->len ? (char *)g_ptr_array_index(report->errors, 0) : "?");
        exit(1);
    }
    w->pods = g_ptr_array_new_with_free_func((GDestroyNotify)fp_pod_unref);
    for (guint k = 0; k < sc->burst->len; k++) {
        g_autoptr(FpPod) tmpl = burst_pod(&SHAPES[g_array_index(sc->burst, guint, k)], k);
        g_ptr_array_add(w->pods, fp_sim_replica(tmpl, 0));
    }
    w->index = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    w->taken = g_array_new(FALSE, FALSE, sizeof(int));
    w->node_pool = g_array_new(FALSE, FALSE, sizeof(int));
    w->node_alloc = g_array_new(FALSE, FALSE, sizeof(int));
    world_nodes(w, sc);
}

static int node_index(const World *w, const char *name)
{
    int i = GPOINTER_TO_INT(g_hash_table_lookup(w->index, name)) - 1;
    if (i < 0) {
        fprintf(stderr, "fp_quality: node %s is not the scenario's\n", name);
        exit(1);
    }
    return i;
}

/* Whether @shape's hard constraints allow @kind: its SKU allow-list, and
 * its profile's latency limit over the weighted round trip from its
 * origins (fp_policy_latency: the built-in table the policy falls back to). */
static bool shape_allows(const FpPolicy *policy, const Shape *shape, const PoolKind *kind)
{
    if (shape->skus) {
        g_auto(GStrv) skus = g_strsplit(shape->skus, ",", -1);
        if (!g_strv_contains((const char *const *)skus, kind->product)) {
            return false;
        }
    }
    if (shape->max_latency_ms < 0 || !shape->origins) {
        return true;
    }
    g_auto(GStrv) origins = g_strsplit(shape->origins, ",", -1);
    double sum = 0, weights = 0;
    for (guint i = 0; origins[i]; i++) {
        g_auto(GStrv) kv = g_strsplit(origins[i], "=", 2);
        double weight = kv[1] ? g_ascii_strtod(kv[1], NULL) : 1.0;
        sum += weight * fp_policy_latency(policy, kv[0], kind->region, NULL);
        weights += weight;
    }
    return sum / weights <= shape->max_latency_ms;
}

/* Whether a pool that @shape may use has a node with @gpus free (the
 * burst overflow rule lifts ceilings when nothing else fits, so a
 * ceiling alone never leaves a pod Pending). */
static bool allowed_room(const World *w, const Scenario *sc, const Shape *shape)
{
    for (guint n = 0; n < w->taken->len; n++) {
        const Pool *pool = &sc->pools[g_array_index(w->node_pool, int, n)];
        int free_n = g_array_index(w->node_alloc, int, n) - g_array_index(w->taken, int, n);
        if (free_n >= shape->gpus && shape_allows(w->cli.policy, shape, pool->kind)) {
            return true;
        }
    }
    return false;
}

/* ---- simulate's placement ---------------------------------------------- */

typedef struct {
    double objective; /* sum of the placed pods' totals */
    guint placed;
    guint unplaced_with_room;
    guint ties;
} Outcome;

/* The pod's arrival, for the --show lists. */
static void log_pod(GString *log, const Scenario *sc, guint k, const char *node, double total)
{
    if (!log) {
        return;
    }
    const Shape *shape = &SHAPES[g_array_index(sc->burst, guint, k)];
    g_string_append_printf(log, "  %2u %-9s %d GPU  -> ", k, shape->name, shape->gpus);
    if (node) {
        g_string_append_printf(log, "%-14s total %.3f\n", node, total);
    } else {
        g_string_append(log, "unplaced\n");
    }
}

static Outcome run_simulate(const Scenario *sc, GString *log)
{
    World w;
    world_load(&w, sc);
    Outcome out = {0};
    GRand *rand = g_rand_new_with_seed(sc->seed);
    for (guint k = 0; k < w.pods->len; k++) {
        FpPod *pod = fp_pod_ref(g_ptr_array_index(w.pods, k));
        g_autoptr(FpPlacement) p = fp_cli_place(&w.cli, pod);
        FpSimChoice c = fp_sim_kube_choice(p, pod, FP_SIM_SHIPPED_EXTENDER_WEIGHT, rand);
        out.ties += c.tied > 1;
        if (c.index < 0) {
            out.unplaced_with_room +=
                allowed_room(&w, sc, &SHAPES[g_array_index(sc->burst, guint, k)]);
            fp_pod_unref(pod);
            log_pod(log, sc, k, NULL, 0);
            continue;
        }
        const char *node = p->nodes[c.index]->name;
        const char *why = NULL;
        if (!fp_sim_bind(w.cli.view, pod, p->demand, node, pod->name, &why)) {
            fprintf(stderr, "fp_quality: bind refused: %s\n", why);
            exit(1);
        }
        g_array_index(w.taken, int, node_index(&w, node)) += (int)p->demand->count;
        out.objective += p->verdicts[c.index].total;
        log_pod(log, sc, k, node, p->verdicts[c.index].total);
        out.placed++;
    }
    g_rand_free(rand);
    world_free(&w);
    return out;
}

/* ---- the offline optimum: exact DP over the same engine ------------------ */

typedef struct {
    double value; /* best sum of totals from here to the end of the burst */
    guint placed;
    int node;     /* the next pod's node in that solution, -1 unplaced */
    double total; /* ... and its total there */
} Best;

typedef struct {
    World w;
    const Scenario *sc;
    GHashTable *memo; /* state key -> Best* */
    guint states;
    bool over_budget;
    bool class_mismatch; /* alike nodes scored differently */
} Dp;

/* The state: the next pod, and per pool the sorted GPUs taken on its nodes
 * (nodes of one pool are alike but for their names). */
static char *state_key(const Dp *dp, guint k)
{
    GString *key = g_string_new(NULL);
    g_string_append_printf(key, "%u", k);
    guint n = 0;
    for (int p = 0; p < dp->sc->n_pools; p++) {
        int nodes = dp->sc->pools[p].nodes;
        int t[MAX_NODES_PER_POOL];
        for (int i = 0; i < nodes; i++) {
            t[i] = g_array_index(dp->w.taken, int, n + (guint)i);
        }
        for (int i = 1; i < nodes; i++) { /* insertion sort of at most MAX_NODES_PER_POOL */
            for (int j = i; j > 0 && t[j - 1] > t[j]; j--) {
                int x = t[j];
                t[j] = t[j - 1];
                t[j - 1] = x;
            }
        }
        g_string_append_c(key, '|');
        for (int i = 0; i < nodes; i++) {
            g_string_append_printf(key, "%d,", t[i]);
        }
        n += (guint)nodes;
    }
    return g_string_free(key, FALSE);
}

static bool better(Best a, Best b)
{
    if (a.value > b.value + 1e-12) {
        return true;
    }
    return a.value > b.value - 1e-12 && a.placed > b.placed;
}

static Best dp_solve(Dp *dp, guint k);

/* Place pod @k on node @i of @p (assumed, as the bind verb does), solve the
 * rest, roll back. */
static Best dp_branch(Dp *dp, guint k, const FpPlacement *p, guint i)
{
    const FpPod *pod = g_ptr_array_index(dp->w.pods, k);
    const char *node = p->nodes[i]->name;
    int n = node_index(&dp->w, node);
    const char *why = NULL;
    if (!fp_view_assume(dp->w.cli.view, pod->uid, pod->ns, pod->name, node, p->demand->resource,
                        p->demand->count, 1e9, &why)) {
        fprintf(stderr, "fp_quality: optimum: assume refused: %s\n", why);
        exit(1);
    }
    g_array_index(dp->w.taken, int, n) += (int)p->demand->count;
    Best rest = dp_solve(dp, k + 1);
    g_array_index(dp->w.taken, int, n) -= (int)p->demand->count;
    fp_view_forget_assumed(dp->w.cli.view, pod->uid);
    return (Best){p->verdicts[i].total + rest.value, rest.placed + 1, n, p->verdicts[i].total};
}

/* Every passing node, one per (pool, GPUs taken) class, and leaving the pod
 * unplaced. */
static Best dp_expand(Dp *dp, guint k)
{
    const FpPod *pod = g_ptr_array_index(dp->w.pods, k);
    g_autoptr(FpPlacement) p = fp_cli_place(&dp->w.cli, pod);
    Best best = dp_solve(dp, k + 1);
    best.node = -1;
    best.total = 0;
    g_autoptr(GHashTable) seen = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (guint i = 0; i < p->n; i++) {
        if (!p->verdicts[i].pass || !p->nodes[i]) {
            continue;
        }
        int n = node_index(&dp->w, p->nodes[i]->name);
        int cls =
            g_array_index(dp->w.node_pool, int, n) * 1000 + g_array_index(dp->w.taken, int, n);
        gpointer first;
        if (g_hash_table_lookup_extended(seen, GINT_TO_POINTER(cls + 1), NULL, &first)) {
            /* Alike nodes must score alike, or merging them is not exact. */
            dp->class_mismatch |=
                fabs(p->verdicts[GPOINTER_TO_UINT(first)].total - p->verdicts[i].total) > 1e-9;
            continue;
        }
        g_hash_table_insert(seen, GINT_TO_POINTER(cls + 1), GUINT_TO_POINTER(i));
        Best b = dp_branch(dp, k, p, i);
        if (better(b, best)) {
            best = b;
        }
    }
    return best;
}

static Best dp_solve(Dp *dp, guint k)
{
    if (k == dp->w.pods->len || dp->over_budget) {
        return (Best){0, 0, -1, 0};
    }
    char *key = state_key(dp, k);
    Best *memo = g_hash_table_lookup(dp->memo, key);
    if (memo) {
        g_free(key);
        return *memo;
    }
    if (++dp->states > STATE_BUDGET) {
        dp->over_budget = true;
        g_free(key);
        return (Best){0, 0, -1, 0};
    }
    Best best = dp_expand(dp, k);
    g_hash_table_insert(dp->memo, key, g_memdup2(&best, sizeof best));
    return best;
}

static const char *node_name(const Scenario *sc, int n, char *buf, gsize size)
{
    for (int p = 0; p < sc->n_pools; p++) {
        if (n < sc->pools[p].nodes) {
            g_snprintf(buf, size, "%s-%d", sc->pools[p].kind->name, n);
            return buf;
        }
        n -= sc->pools[p].nodes;
    }
    return "?";
}

/* The optimum's choices, pod by pod, from the memo. */
static void log_optimum(Dp *dp, GString *log)
{
    for (guint k = 0; k < dp->w.pods->len; k++) {
        g_autofree char *key = state_key(dp, k);
        const Best *b = g_hash_table_lookup(dp->memo, key);
        if (!b) {
            return;
        }
        char name[64];
        log_pod(log, dp->sc, k, b->node < 0 ? NULL : node_name(dp->sc, b->node, name, sizeof name),
                b->total);
        if (b->node >= 0) {
            g_array_index(dp->w.taken, int, b->node) +=
                SHAPES[g_array_index(dp->sc->burst, guint, k)].gpus;
        }
    }
}

static Best run_optimum(const Scenario *sc, guint *states, bool *broken, GString *log)
{
    Dp dp = {.sc = sc};
    world_load(&dp.w, sc);
    dp.memo = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    Best best = dp_solve(&dp, 0);
    if (log && !dp.over_budget) {
        log_optimum(&dp, log);
    }
    *states = dp.states;
    *broken = dp.over_budget || dp.class_mismatch;
    g_hash_table_unref(dp.memo);
    world_free(&dp.w);
    return best;
}

/* ---- the report ---------------------------------------------------------- */

typedef struct {
    guint scenarios;
    double ratio_sum;
    double ratio_max;
    guint optimal; /* ratio within 0.5 % of 1 */
    guint pods, unplaced_sim, unplaced_opt;
} ClassSum;

typedef struct {
    guint per_class;
    guint32 seed;
    int show;       /* one scenario with its placements, or -1 */
    guint max_pods; /* per burst: keeps the exact DP small */
    ClassSum sums[N_CLASSES];
    guint violations;
    guint unplaced_with_room;
    guint states_max;
    /* Scenarios where simulate placed as many pods as the optimum, and
     * the others (a later pod did not fit after earlier choices). */
    guint same_n, fewer_n;
    double same_sum, fewer_sum;
} Run;

static void describe(const Scenario *sc, GString *pools, GString *pods)
{
    int free_total = free_gpus(sc);
    for (int p = 0; p < sc->n_pools; p++) {
        const Pool *pool = &sc->pools[p];
        g_string_append_printf(pools, "%s%s %dx%d@%.0f%%", p ? ", " : "", pool->kind->name,
                               pool->nodes, pool->kind->gpus, pool->ceiling * 100);
    }
    guint count[N_SHAPES] = {0};
    int gpus = 0;
    for (guint k = 0; k < sc->burst->len; k++) {
        guint s = g_array_index(sc->burst, guint, k);
        count[s]++;
        gpus += SHAPES[s].gpus;
    }
    for (guint s = 0; s < N_SHAPES; s++) {
        if (count[s]) {
            g_string_append_printf(pods, "%s%u %s", pods->len ? ", " : "", count[s],
                                   SHAPES[s].name);
        }
    }
    g_string_append_printf(pods, " (%d of %d free GPUs)", gpus, free_total);
}

/* Run one scenario, print its row, add it to the sums. */
static void run_scenario(Run *run, guint id, ScenarioClass klass)
{
    Scenario *sc = scenario_new(klass, run->seed + id * 7919u, run->max_pods);
    guint n = sc->burst->len;
    g_autoptr(GString) sim_log = run->show >= 0 ? g_string_new(NULL) : NULL;
    g_autoptr(GString) opt_log = run->show >= 0 ? g_string_new(NULL) : NULL;
    Outcome sim = run_simulate(sc, sim_log);
    guint states = 0;
    bool over = false;
    Best opt = run_optimum(sc, &states, &over, opt_log);
    double cost_sim = n - sim.objective, cost_opt = n - opt.value;
    double ratio = cost_opt > 1e-9 ? cost_sim / cost_opt : 1.0;
    const char *broken = over ? "DP over its state budget, or alike nodes scored apart"
                         : sim.objective > opt.value + 1e-9 ? "simulate above the optimum"
                         : sim.unplaced_with_room           ? "unplaced with room"
                                                            : NULL;
    g_autoptr(GString) pools = g_string_new(NULL);
    g_autoptr(GString) pods = g_string_new(NULL);
    describe(sc, pools, pods);
    printf("| %u | %s | %s | %s | %.3f | %.3f | **%.3f** | %u/%u | %u | %u | %u%s%s |\n", id,
           CLASS_NAMES[klass], pools->str, pods->str, cost_sim, cost_opt, ratio, sim.placed,
           opt.placed, sim.unplaced_with_room, sim.ties, states, broken ? " BROKEN: " : "",
           broken ? broken : "");
    if (sim_log) {
        printf("\nsimulate, in arrival order:\n%s\noptimum:\n%s", sim_log->str, opt_log->str);
    }
    ClassSum *s = &run->sums[klass];
    s->scenarios++;
    s->ratio_sum += ratio;
    s->ratio_max = MAX(s->ratio_max, ratio);
    s->optimal += ratio < 1.005;
    s->pods += n;
    s->unplaced_sim += n - sim.placed;
    s->unplaced_opt += n - opt.placed;
    run->violations += broken != NULL;
    run->unplaced_with_room += sim.unplaced_with_room;
    if (sim.placed < opt.placed) {
        run->fewer_n++;
        run->fewer_sum += ratio;
    } else {
        run->same_n++;
        run->same_sum += ratio;
    }
    run->states_max = MAX(run->states_max, states);
    scenario_free(sc);
}

static void print_summary(const Run *run)
{
    printf("\n| class | scenarios | pods | mean ratio | max ratio | at the optimum (< 1.005) | "
           "unplaced simulate / optimum |\n|---|---|---|---|---|---|---|\n");
    ClassSum all = {0};
    for (int c = 0; c < N_CLASSES; c++) {
        const ClassSum *s = &run->sums[c];
        printf("| %s | %u | %u | %.3f | %.3f | %u | %u / %u |\n", CLASS_NAMES[c], s->scenarios,
               s->pods, s->scenarios ? s->ratio_sum / s->scenarios : 0, s->ratio_max, s->optimal,
               s->unplaced_sim, s->unplaced_opt);
        all.scenarios += s->scenarios;
        all.ratio_sum += s->ratio_sum;
        all.ratio_max = MAX(all.ratio_max, s->ratio_max);
        all.optimal += s->optimal;
        all.pods += s->pods;
        all.unplaced_sim += s->unplaced_sim;
        all.unplaced_opt += s->unplaced_opt;
    }
    printf("| **all** | %u | %u | **%.3f** | %.3f | %u | %u / %u |\n", all.scenarios, all.pods,
           all.scenarios ? all.ratio_sum / all.scenarios : 0, all.ratio_max, all.optimal,
           all.unplaced_sim, all.unplaced_opt);
    printf("\nMean ratio where simulate placed as many pods as the optimum: %.3f (%u "
           "scenarios); where it placed fewer: %.3f (%u).\n",
           run->same_n ? run->same_sum / run->same_n : 0, run->same_n,
           run->fewer_n ? run->fewer_sum / run->fewer_n : 0, run->fewer_n);
    printf("Pods left unplaced by simulate while an allowed pool had room: %u.  Largest DP: %u "
           "states.  Broken invariants: %u.\n",
           run->unplaced_with_room, run->states_max, run->violations);
}

static int parse_args(Run *run, int argc, char **argv)
{
    int per_class = 20, seed = 20;
    int show = -1;
    gchar *packing = NULL;
    gboolean smoke = FALSE;
    GOptionEntry entries[] = {
        {"scenarios", 'n', 0, G_OPTION_ARG_INT, &per_class, "Scenarios per class (default 20)",
         "N"},
        {"seed", 0, 0, G_OPTION_ARG_INT, &seed, "Seed of the generator (default 20)", "S"},
        {"smoke", 0, 0, G_OPTION_ARG_NONE, &smoke,
         "Three small scenarios per class (at most 7 pods; ctest)", NULL},
        {"interactive-packing", 0, 0, G_OPTION_ARG_STRING, &packing,
         "The interactive profile's packing: spread (default) or binpack", "P"},
        {"show", 0, 0, G_OPTION_ARG_INT, &show,
         "Run only scenario ID and list both placements pod by pod", "ID"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("- simulate's placement against the offline optimum");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc > 1 || per_class < 1 ||
        per_class > 10000) {
        fprintf(stderr, "fp_quality: %s\n", error ? error->message : "bad arguments (--help)");
        return 2;
    }
    if (packing && (g_str_equal(packing, "spread") || g_str_equal(packing, "binpack"))) {
        interactive_packing = g_intern_string(packing);
    } else if (packing) {
        fprintf(stderr, "fp_quality: --interactive-packing is spread or binpack\n");
        g_free(packing);
        return 2;
    }
    g_free(packing);
    run->per_class = smoke ? 3 : (guint)per_class;
    run->seed = (guint32)seed;
    run->show = show;
    run->max_pods = smoke ? 7 : 10;
    return 0;
}

int main(int argc, char **argv)
{
    Run run = {0};
    int rc = parse_args(&run, argc, argv);
    if (rc) {
        return rc;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    printf("fp_quality: %u scenarios per class, seed %u, extender weight %d, interactive "
           "packing %s\n\n",
           run.per_class, run.seed, FP_SIM_SHIPPED_EXTENDER_WEIGHT, interactive_packing);
    printf("| # | class | pools (nodes x GPUs @ ceiling) | burst, arrival order mixed | cost "
           "simulate | cost optimum | ratio | placed sim/opt | unplaced with room | ties | DP "
           "states |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    guint id = 0;
    for (int c = 0; c < N_CLASSES; c++) {
        for (guint i = 0; i < run.per_class; i++, id++) {
            if (run.show < 0 || (guint)run.show == id) {
                run_scenario(&run, id, (ScenarioClass)c);
            }
        }
    }
    print_summary(&run);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("Ran in %.1f s.\n",
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return run.violations ? 1 : 0;
}
