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
    if (all) {
        json_t *doc =
            json_pack("{s:s, s:o}", "apiVersion", "flexplace.io/v1alpha1", "placements", all);
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        fputc('\n', stdout);
        json_decref(doc);
    }
    fp_cli_free(&cli);
    return rc;
}
