/*
 * cache/placement.c - view + policy + engine for one pod.
 */
#include "cache/placement.h"

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
    g_free(p->names);
    g_free(p->verdicts);
    g_free(p->kube_reason);
    fp_demand_free(p->demand);
    g_free(p);
}

/* Fill @cand's GPU counts (and, when the state's facts are current for
 * @policy, its facts and the prepared copies) from view state @st.
 * @resource_id is the demand's resource interned (view.h: FpGpuSlot).
 * Without @use_state_facts everything comes from the lists and the Node
 * (the plain path, which test_fast_path holds the fast one to). */
static void candidate_from_state(FpCandidate *cand, const FpNodeState *st, const FpPolicy *policy,
                                 const char *resource, const char *resource_id,
                                 bool use_state_facts)
{
    bool has = false;
    int64_t alloc = 0;
    if (resource && use_state_facts && st->gpu_complete) {
        for (guint k = 0; k < st->n_gpu; k++) {
            const FpGpuSlot *g = &st->gpu[k];
            if (g->resource == resource_id) {
                cand->gpu_used = g->used;
                cand->gpu_assumed = g->assumed;
                has = g->listed;
                alloc = g->allocatable;
                break;
            }
        }
    } else if (resource) {
        cand->gpu_used = fp_res_list_get(&st->used, resource);
        cand->gpu_assumed = fp_res_list_get(&st->assumed, resource);
        has = fp_res_list_has(&st->ext_allocatable, resource);
        alloc = fp_res_list_get(&st->ext_allocatable, resource);
    }
    if (use_state_facts && st->facts_policy == policy && st->node == cand->node) {
        cand->facts = &st->facts;
        cand->prepared = true;
        cand->ready = st->ready;
        cand->unschedulable = st->unschedulable;
        cand->has_resource = has;
        cand->allocatable = alloc;
    }
}

FpPlacement *fp_placement_evaluate(FpView *view, const FpPolicy *policy, const FpPod *pod,
                                   const FpCandidates *c)
{
    FpPlacement *p = g_new0(FpPlacement, 1);
    p->n = c->n;
    /* fp_evaluate writes every verdict it is given; only those left out of
     * it (kube-scheduler's checks failed) need zeroing here. */
    p->verdicts = c->kube_checks ? g_new0(FpVerdict, c->n) : g_new(FpVerdict, MAX(c->n, 1));
    p->nodes = g_new0(FpNode *, c->n);
    p->names = g_new(const char *, c->n + 1);
    p->kube_reason = g_new0(const char *, c->n);
    p->demand = fp_demand_new(pod, policy);
    p->best = -1;
    const char *resource = p->demand->resource;
    char *resource_id = resource ? g_ref_string_new_intern(resource) : NULL;
    /* The server's names mode reads the facts the view keeps per node for
     * its policy (their strings live only as long as the node's state, so
     * not when the placement keeps every verdict's facts). */
    bool state_facts = c->names != NULL && c->best_node_only;
    if (state_facts && fp_view_facts_policy(view) != (const void *)policy) {
        fp_view_use_policy(view, policy);
    }
    FpCandidate *cands = g_new0(FpCandidate, c->n);
    /* Candidates that pass kube-scheduler's checks, when those are asked
     * for; without them candidate k is request entry k. */
    g_autofree guint *index = c->kube_checks ? g_new0(guint, c->n) : NULL;
    guint m = 0;

    for (guint i = 0; i < c->n; i++) {
        p->names[i] = c->names ? c->names[i] : c->nodes[i]->name;
    }
    p->names[c->n] = NULL;
    g_autofree const FpNodeState **states = g_new(const FpNodeState *, MAX(c->n, 1));

    fp_view_read_lock(view);
    fp_view_nodes_locked(view, p->names, c->name_hashes, c->n, states);
    for (guint i = 0; i < c->n; i++) {
        const char *name = p->names[i];
        const FpNodeState *st = states[i];
        if (i + 4 < c->n && states[i + 4]) {
            /* the lines candidate_from_state reads beyond the first */
            const char *ahead = (const char *)states[i + 4];
            __builtin_prefetch(ahead + 64);
            __builtin_prefetch(ahead + 128);
            __builtin_prefetch(ahead + 192);
        }
        const FpNode *node = c->nodes ? c->nodes[i] : (st ? st->node : NULL);
        if (node && !c->best_node_only) {
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
        if (st) {
            candidate_from_state(cand, st, policy, resource, resource_id, state_facts);
        }
        if (index) {
            index[m] = i;
        }
        m++;
    }

    /* Facts of the other candidates (full-Node requests, a view without
     * current facts) come from the (policy, node) cache: extender/wire/protocol.c
     * reuses the Nodes of full-Node requests while their bytes do not
     * change. */
    g_autofree FpNodeFacts *facts = NULL;
    g_autofree guint *missing = g_new(guint, MAX(m, 1));
    guint n_missing = 0;
    for (guint k = 0; k < m; k++) {
        if (cands[k].node && !cands[k].facts) {
            missing[n_missing++] = k;
        }
    }
    if (n_missing > 0) {
        facts = g_new(FpNodeFacts, n_missing);
        g_autofree const FpNode **nodes = g_new(const FpNode *, n_missing);
        for (guint k = 0; k < n_missing; k++) {
            nodes[k] = cands[missing[k]].node;
        }
        fp_node_facts_cached(policy, nodes, n_missing, facts,
                             2 * (fp_view_node_count(view) + n_missing) + 1024);
        for (guint k = 0; k < n_missing; k++) {
            cands[missing[k]].facts = &facts[k];
        }
    }

    FpEvalContext ctx = {
        .policy = policy, .demand = p->demand, .skip_facts_copy = c->best_node_only};
    GHashTable *owner_pools = NULL;
    if (resource) {
        ctx.pool_stats = fp_view_pool_stats_locked(view, policy, resource);
    }
    if (p->demand->min_spread > 0 && pod->owner_uid) {
        owner_pools = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        ctx.workload_pools = fp_view_owner_pools_locked(view, policy, pod->owner_uid, owner_pools);
        for (guint k = 0; k < m; k++) {
            if (!cands[k].node) {
                continue;
            }
            const FpNodeFacts *nf = cands[k].facts;
            const char *pool = nf->pool && *nf->pool ? nf->pool : cands[k].name;
            cands[k].workload_replicas_in_pool =
                GPOINTER_TO_UINT(g_hash_table_lookup(owner_pools, pool));
        }
    }
    if (index) {
        FpVerdict *out = g_new0(FpVerdict, m ? m : 1);
        fp_evaluate(&ctx, cands, m, out);
        for (guint k = 0; k < m; k++) {
            p->verdicts[index[k]] = out[k];
        }
        g_free(out);
    } else {
        fp_evaluate(&ctx, cands, m, p->verdicts);
    }
    p->best = fp_placement_best(p);
    if (c->best_node_only) {
        /* The others' facts borrow from nodes this placement holds no
         * reference on: clear them before the lock goes. */
        for (guint k = 0; k < m && p->best >= 0; k++) {
            if ((index ? index[k] : k) == (guint)p->best && cands[k].node) {
                p->nodes[p->best] = fp_node_ref((FpNode *)cands[k].node);
                /* the same facts, borrowed from the node now held */
                fp_node_facts(policy, p->nodes[p->best], &p->verdicts[p->best].facts);
                break;
            }
        }
        /* The others' facts were not copied (skip_facts_copy: zeroed), but
         * for kube-scheduler's failures, which borrow from their nodes. */
        for (guint i = 0; index && i < p->n; i++) {
            if (p->kube_reason[i]) {
                memset(&p->verdicts[i].facts, 0, sizeof p->verdicts[i].facts);
            }
        }
    }
    fp_view_read_unlock(view);

    g_free(cands);
    if (resource_id) {
        g_ref_string_release(resource_id);
    }
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
             (v->score > b->score ||
              (v->score == b->score && strcmp(p->names[i], p->names[best]) < 0)))) {
            best = (int)i;
        }
    }
    return best;
}
