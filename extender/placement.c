/*
 * extender/placement.c - view + policy + engine for one pod.
 */
#include "extender/placement.h"

#include "cache/node_facts.h"

#include <string.h>

void fp_placement_free(FpPlacement *p)
{
    if (!p) {
        return;
    }
    for (guint i = 0; i < p->n; i++) {
        if (p->nodes[i]) {
            fp_node_unref(p->nodes[i]);
        }
    }
    g_free(p->nodes);
    g_free(p->verdicts);
    g_free(p->kube_reason);
    fp_demand_free(p->demand);
    g_free(p);
}

FpPlacement *fp_placement_evaluate(FpView *view, const FpPolicy *policy, const FpPod *pod,
                                   const FpCandidates *c)
{
    FpPlacement *p = g_new0(FpPlacement, 1);
    p->n = c->n;
    p->verdicts = g_new0(FpVerdict, c->n);
    p->nodes = g_new0(FpNode *, c->n);
    p->kube_reason = g_new0(const char *, c->n);
    p->demand = fp_demand_new(pod, policy);
    FpCandidate *cands = g_new0(FpCandidate, c->n);
    /* Candidates that pass kube-scheduler's checks, when those are asked for. */
    guint *index = g_new0(guint, c->n);
    guint m = 0;

    fp_view_read_lock(view);
    for (guint i = 0; i < c->n; i++) {
        const char *name = c->names ? c->names[i] : c->nodes[i]->name;
        const FpNodeState *st = fp_view_node_locked(view, name);
        const FpNode *node = c->nodes ? c->nodes[i] : (st ? st->node : NULL);
        if (node) {
            p->nodes[i] = fp_node_ref((FpNode *)node);
        }
        if (c->kube_checks && node) {
            FpResList taken = {0};
            if (st) {
                fp_res_list_copy(&taken, &st->used);
                for (guint k = 0; k < st->assumed.len; k++) {
                    fp_res_list_add(&taken, st->assumed.items[k].name, st->assumed.items[k].value);
                }
            }
            p->kube_reason[i] = fp_kube_feasible(pod, node, &taken);
            fp_res_list_clear(&taken);
            if (p->kube_reason[i]) {
                p->verdicts[i].pass = false;
                p->verdicts[i].reason = p->kube_reason[i];
                fp_node_facts(policy, node, &p->verdicts[i].facts);
                continue;
            }
        }
        FpCandidate *cand = &cands[m];
        cand->node = node;
        cand->name = name;
        if (st && p->demand->resource) {
            cand->gpu_used = fp_res_list_get(&st->used, p->demand->resource);
            cand->gpu_assumed = fp_res_list_get(&st->assumed, p->demand->resource);
        }
        index[m++] = i;
    }

    /* Facts come from the (policy, node) cache: view nodes, and the Nodes
     * of full-Node requests, which extender/protocol.c reuses while their
     * bytes do not change. */
    g_autofree FpNodeFacts *facts = NULL;
    if (m > 0) {
        facts = g_new(FpNodeFacts, m);
        g_autofree const FpNode **nodes = g_new(const FpNode *, m);
        for (guint k = 0; k < m; k++) {
            nodes[k] = cands[k].node;
        }
        fp_node_facts_cached(policy, nodes, m, facts, 2 * (fp_view_node_count(view) + m) + 1024);
        for (guint k = 0; k < m; k++) {
            cands[k].facts = cands[k].node ? &facts[k] : NULL;
        }
    }

    FpEvalContext ctx = {.policy = policy, .demand = p->demand};
    GHashTable *owner_pools = NULL;
    if (p->demand->resource) {
        ctx.pool_stats = fp_view_pool_stats_locked(view, policy, p->demand->resource);
    }
    if (p->demand->min_spread > 0 && pod->owner_uid) {
        owner_pools = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        ctx.workload_pools = fp_view_owner_pools_locked(view, policy, pod->owner_uid, owner_pools);
        for (guint k = 0; k < m; k++) {
            if (!cands[k].node) {
                continue;
            }
            FpNodeFacts own;
            const FpNodeFacts *nf = cands[k].facts;
            if (!nf) {
                fp_node_facts(policy, cands[k].node, &own);
                nf = &own;
            }
            const char *pool = nf->pool && *nf->pool ? nf->pool : cands[k].name;
            cands[k].workload_replicas_in_pool =
                GPOINTER_TO_UINT(g_hash_table_lookup(owner_pools, pool));
        }
    }
    FpVerdict *out = g_new0(FpVerdict, m ? m : 1);
    fp_evaluate(&ctx, cands, m, out);
    fp_view_read_unlock(view);

    for (guint k = 0; k < m; k++) {
        p->verdicts[index[k]] = out[k];
    }
    g_free(out);
    g_free(index);
    g_free(cands);
    if (ctx.pool_stats) {
        g_hash_table_unref(ctx.pool_stats);
    }
    if (owner_pools) {
        g_hash_table_unref(owner_pools);
    }
    return p;
}

int fp_placement_best(const FpPlacement *p)
{
    int best = -1;
    for (guint i = 0; i < p->n; i++) {
        const FpVerdict *v = &p->verdicts[i];
        if (!v->pass) {
            continue;
        }
        if (best < 0) {
            best = (int)i;
            continue;
        }
        const FpVerdict *b = &p->verdicts[best];
        if (v->total > b->total + 1e-12 ||
            (v->total > b->total - 1e-12 &&
             (v->score > b->score || (v->score == b->score && p->nodes[i] && p->nodes[best] &&
                                      strcmp(p->nodes[i]->name, p->nodes[best]->name) < 0)))) {
            best = (int)i;
        }
    }
    return best;
}
