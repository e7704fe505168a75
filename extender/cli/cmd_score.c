/*
 * extender/cli/cmd_score.c - `flexplace score`: where would this pod go, and why?
 *
 * Runs kube-scheduler's own feasibility checks for GPU pods, then exactly the
 * server's filters and scores (cache/placement.c), on every node of a
 * snapshot, the demo cluster or a live cluster, and prints the ranking, each
 * term, and the rejected nodes grouped by reason and by who rejected them.
 *
 * Exit codes: 0 every pod has a feasible node; 3 some pod has none (it would
 * stay Pending: a verdict, not a failure); 2 usage or input error; 1 runtime
 * failure.
 */
#include <stdio.h>

#include "extender/cli/cli.h"
#include "extender/cli/commands.h"
#include "extender/server/decisions.h"
#include "extender/server/preempt.h"

#define FP_EXIT_NO_FEASIBLE 3
/* Pods one group check places at most (an LWS of size 1024 is allowed). */
#define GROUP_MAX_PODS 1024

/* ---- groups: a LeaderWorkerSet's leader and workers, in one pool --------- */

/* The pool a verdict's node counts in; a node in no pool is a pool alone. */
static char *pool_of(const FpPlacement *p, guint i)
{
    const char *pool = p->verdicts[i].facts.pool;
    return pool && *pool ? g_strdup(pool) : g_strdup_printf("node %s", p->nodes[i]->name);
}

/* The best passing node of @pod in @pool with the GPUs the view has left
 * (assumed ones counted), or -1; *pp receives the placement. */
static int best_in_pool(FpCli *cli, const FpPod *pod, const char *pool, FpPlacement **pp)
{
    FpPlacement *p = fp_cli_place(cli, pod);
    int best = -1;
    for (guint i = 0; i < p->n; i++) {
        if (!p->verdicts[i].pass || !p->nodes[i]) {
            continue;
        }
        g_autofree char *pl = pool_of(p, i);
        if (g_str_equal(pl, pool) &&
            (best < 0 || p->verdicts[i].total > p->verdicts[best].total + 1e-12)) {
            best = (int)i;
        }
    }
    *pp = p;
    return best;
}

typedef struct {
    guint group;
    GPtrArray *members; /* const FpPodfileItem*, leader first */
    guint pods;
    gint64 gpus;
    const char *resource;
} Group;

/* Try the whole group in @pool: each member's copies on its best node of
 * the pool, the GPUs assumed as they go, then rolled back.  Returns how many
 * pods found room; @placed (may be NULL) gets "pod -> node" strings. */
static guint try_pool(FpCli *cli, const Group *g, const char *pool, GPtrArray *placed)
{
    GPtrArray *uids = g_ptr_array_new_with_free_func(g_free);
    guint fit = 0;
    bool full = false;
    for (guint m = 0; m < g->members->len && !full; m++) {
        const FpPodfileItem *it = g_ptr_array_index(g->members, m);
        for (guint k = 0; k < it->copies && !full; k++) {
            FpPlacement *p = NULL;
            int best = best_in_pool(cli, it->pod, pool, &p);
            const char *why = NULL;
            g_autofree char *uid = g_strdup_printf("group-check/%u/%u/%u", g->group, m, k);
            bool ok = best >= 0;
            if (ok && p->demand->resource) {
                ok =
                    fp_view_assume(cli->view, uid, it->pod->ns, it->pod->name, p->nodes[best]->name,
                                   p->demand->resource, p->demand->count, 1e9, &why);
                if (ok) {
                    g_ptr_array_add(uids, g_steal_pointer(&uid));
                }
            }
            if (ok) {
                fit++;
                if (placed) {
                    g_ptr_array_add(placed, g_strdup_printf("%s%s -> %s", it->pod->name, "",
                                                            p->nodes[best]->name));
                }
            }
            full = !ok;
            fp_placement_free(p);
        }
    }
    for (guint u = 0; u < uids->len; u++) {
        fp_view_forget_assumed(cli->view, g_ptr_array_index(uids, u));
    }
    g_ptr_array_unref(uids);
    return fit;
}

/* Pools where the leader passes, best first (its placement's ranking). */
static GPtrArray *candidate_pools(FpCli *cli, const FpPod *leader)
{
    g_autoptr(FpPlacement) p = fp_cli_place(cli, leader);
    GArray *order = g_array_new(FALSE, FALSE, sizeof(guint));
    for (guint i = 0; i < p->n; i++) {
        if (p->verdicts[i].pass && p->nodes[i]) {
            g_array_append_val(order, i);
        }
    }
    GPtrArray *pools = g_ptr_array_new_with_free_func(g_free);
    /* Selection by total, highest first; few nodes pass, so quadratic is fine. */
    while (order->len) {
        guint bi = 0;
        for (guint k = 1; k < order->len; k++) {
            if (p->verdicts[g_array_index(order, guint, k)].total >
                p->verdicts[g_array_index(order, guint, bi)].total + 1e-12) {
                bi = k;
            }
        }
        char *pool = pool_of(p, g_array_index(order, guint, bi));
        bool seen = false;
        for (guint q = 0; q < pools->len && !seen; q++) {
            seen = g_str_equal(g_ptr_array_index(pools, q), pool);
        }
        if (seen) {
            g_free(pool);
        } else {
            g_ptr_array_add(pools, pool);
        }
        g_array_remove_index(order, bi);
    }
    g_array_unref(order);
    return pools;
}

/* Check one group; prints it (table) or returns its JSON.  TRUE when the
 * whole group fits in one pool. */
static bool check_group(FpCli *cli, Group *g, json_t **json_out)
{
    const FpPodfileItem *leader = g_ptr_array_index(g->members, 0);
    g_autoptr(GPtrArray) pools = candidate_pools(cli, leader->pod);
    g_autoptr(GPtrArray) placed = g_ptr_array_new_with_free_func(g_free);
    const char *fits = NULL;
    const char *closest = NULL;
    guint closest_fit = 0;
    for (guint q = 0; q < pools->len && !fits; q++) {
        const char *pool = g_ptr_array_index(pools, q);
        g_ptr_array_set_size(placed, 0);
        guint n = try_pool(cli, g, pool, placed);
        if (n >= g->pods) {
            fits = pool;
        } else if (n > closest_fit) {
            closest_fit = n;
            closest = pool;
        }
    }
    g_autofree char *reason = NULL;
    if (!fits) {
        reason = closest ? g_strdup_printf("no pool has room for all %u pods: the closest, %s, "
                                           "has room for %u",
                                           g->pods, closest, closest_fit)
                         : g_strdup("the leader fits no node");
    }
    g_autofree char *what = g_strdup_printf(
        "%u pods (a leader and %u worker%s), %" G_GINT64_FORMAT " %s in all", g->pods, g->pods - 1,
        g->pods == 2 ? "" : "s", g->gpus, g->resource ? g->resource : "GPUs");
    if (json_out) {
        json_t *pl = json_array();
        for (guint k = 0; fits && k < placed->len; k++) {
            json_array_append_new(pl, json_string(g_ptr_array_index(placed, k)));
        }
        *json_out = json_pack("{s:s, s:I, s:I, s:s?, s:b, s:s?, s:o, s:s?}", "source",
                              leader->origin, "pods", (json_int_t)g->pods, "gpus",
                              (json_int_t)g->gpus, "resource", g->resource, "fits", fits != NULL,
                              "pool", fits, "placements", pl, "reason", reason);
        return fits != NULL;
    }
    printf("\n---\n\nGroup: %s\n  %s, all in one pool\n", leader->origin, what);
    if (fits) {
        printf("  Fits in pool %s:", fits);
        for (guint k = 0; k < placed->len; k++) {
            printf("%s %s", k ? "," : "", (char *)g_ptr_array_index(placed, k));
        }
        printf("\n");
    } else {
        printf("  Does not fit: %s; the group would stay Pending.\n", reason);
    }
    return fits != NULL;
}

/* The groups of the loaded items (members in file order, leader first). */
static GPtrArray *collect_groups(FpCli *cli)
{
    GPtrArray *groups = g_ptr_array_new();
    for (guint i = 0; i < cli->items->len; i++) {
        const FpPodfileItem *it = g_ptr_array_index(cli->items, i);
        if (!it->group) {
            continue;
        }
        Group *g = NULL;
        for (guint k = 0; k < groups->len && !g; k++) {
            Group *c = g_ptr_array_index(groups, k);
            g = c->group == it->group ? c : NULL;
        }
        if (!g) {
            g = g_new0(Group, 1);
            g->group = it->group;
            g->members = g_ptr_array_new();
            g_ptr_array_add(groups, g);
        }
        g_ptr_array_add(g->members, (gpointer)it);
        g->pods = MIN(g->pods + it->copies, GROUP_MAX_PODS);
        g_autoptr(FpPlacement) p = fp_cli_place(cli, it->pod);
        if (p->demand->resource) {
            g->gpus += p->demand->count * it->copies;
            g->resource = g->resource ? g->resource : g_intern_string(p->demand->resource);
        }
    }
    return groups;
}

static void group_free(gpointer p)
{
    Group *g = p;
    g_ptr_array_unref(g->members);
    g_free(g);
}

/* Preemption plans on nodes kube-scheduler itself would consider: those it
 * rejected for nothing but resource fit (or not at all). */
static GPtrArray *preemption_plans(FpCli *cli, const FpPod *pod, const FpPlacement *p)
{
    GPtrArray *plans = fp_preempt_plans(cli->view, cli->policy, pod);
    for (guint k = plans->len; k-- > 0;) {
        FpPreemptPlan *plan = g_ptr_array_index(plans, k);
        for (guint i = 0; i < p->n; i++) {
            const char *kr = p->kube_reason[i];
            if (p->nodes[i] && g_str_equal(p->nodes[i]->name, plan->node) && kr &&
                !g_str_has_prefix(kr, "Insufficient ")) {
                g_ptr_array_remove_index(plans, k);
                break;
            }
        }
    }
    return plans;
}

static json_t *plans_json(GPtrArray *plans)
{
    json_t *out = json_array();
    for (guint k = 0; k < plans->len; k++) {
        FpPreemptPlan *plan = g_ptr_array_index(plans, k);
        json_t *victims = json_array();
        for (guint v = 0; v < plan->victims->len; v++) {
            FpPod *pod = g_ptr_array_index(plan->victims, v);
            json_array_append_new(victims,
                                  json_pack("{s:s, s:s, s:s?, s:i}", "namespace", pod->ns, "name",
                                            pod->name, "uid", pod->uid, "priority", pod->priority));
        }
        json_array_append_new(out, json_pack("{s:s, s:o}", "node", plan->node, "victims", victims));
    }
    return out;
}

static void print_plans(GPtrArray *plans)
{
    if (plans->len == 0) {
        printf("Preemption would not help: no node fits even after evicting lower-priority "
               "pods.\n");
        return;
    }
    printf("After preemption it could run on (in kube-scheduler's order of preference: lowest "
           "victim priorities, then fewest victims):\n");
    for (guint k = 0; k < plans->len; k++) {
        FpPreemptPlan *plan = g_ptr_array_index(plans, k);
        printf("  %s, evicting", plan->node);
        for (guint v = 0; v < plan->victims->len; v++) {
            FpPod *pod = g_ptr_array_index(plan->victims, v);
            printf("%s %s/%s (priority %d)", v ? "," : "", pod->ns, pod->name, pod->priority);
        }
        printf("\n");
    }
}

int fp_cmd_score(int argc, char **argv)
{
    FpCli cli = {0};
    g_autofree GOptionEntry *entries = fp_cli_option_entries(&cli);
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("- dry run: where would this pod go, and why?");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(
        ctx, "Exit status: 0 every pod has a feasible node, 3 some pod has none, 2 usage or\n"
             "input error, 1 runtime failure.\n\n"
             "Example:\n  flexplace score --demo --pod pod.yaml -o wide\n");
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "flexplace score: %s\n", error->message);
        fp_cli_free(&cli);
        return FP_EXIT_USAGE;
    }
    if (argc > 1) {
        fprintf(stderr, "flexplace score: unexpected argument '%s' (use --pod FILE)\n", argv[1]);
        fp_cli_free(&cli);
        return FP_EXIT_USAGE;
    }
    int rc = fp_cli_load(&cli, "score");
    if (rc != FP_EXIT_OK) {
        fp_cli_free(&cli);
        return rc;
    }
    json_t *all = cli.format == FP_OUT_JSON ? json_array() : NULL;
    g_autoptr(GArray) templates = fp_cli_templates(&cli);
    for (guint i = 0; i < cli.pods->len; i++) {
        const FpPod *pod = g_ptr_array_index(cli.pods, i);
        g_autoptr(FpPlacement) p = fp_cli_place(&cli, pod);
        g_autoptr(GPtrArray) plans = NULL;
        const FpScaleUp *scale_up = fp_placement_judge_scale_up(
            p, cli.policy, (const FpOffer *)(void *)templates->data, templates->len);
        if (fp_placement_best(p) < 0) {
            rc = FP_EXIT_NO_FEASIBLE;
            /* Eviction cannot cure a malformed annotation: no plans then
             * ("preemption": null), rather than "would not help". */
            if (!p->demand->invalid_reason) {
                plans = preemption_plans(&cli, pod, p);
            }
        }
        if (all) {
            json_t *one = fp_cli_placement_json(&cli, pod, p);
            json_object_set_new(one, "preemption", plans ? plans_json(plans) : json_null());
            json_object_set_new(one, "scaleUp",
                                scale_up ? fp_scale_up_to_json(scale_up) : json_null());
            json_array_append_new(all, one);
        } else {
            if (i) {
                printf("\n---\n\n");
            }
            fp_cli_print_table(stdout, &cli, pod, p, cli.format == FP_OUT_WIDE);
            if (plans) {
                print_plans(plans);
            }
            if (scale_up) {
                printf("%c%s.\n", g_ascii_toupper(scale_up->text[0]), scale_up->text + 1);
            }
        }
    }
    /* A LeaderWorkerSet group must fit as a whole, in one pool. */
    GPtrArray *groups = collect_groups(&cli);
    json_t *group_json = all ? json_array() : NULL;
    for (guint k = 0; k < groups->len; k++) {
        json_t *one = NULL;
        if (!check_group(&cli, g_ptr_array_index(groups, k), all ? &one : NULL)) {
            rc = FP_EXIT_NO_FEASIBLE;
        }
        if (one) {
            json_array_append_new(group_json, one);
        }
    }
    g_ptr_array_set_free_func(groups, group_free);
    g_ptr_array_unref(groups);
    if (all) {
        json_t *doc = json_pack("{s:s, s:o, s:o}", "apiVersion", "flexplace.io/v1alpha1",
                                "placements", all, "groups", group_json);
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        fputc('\n', stdout);
        json_decref(doc);
    }
    fp_cli_free(&cli);
    return rc;
}
