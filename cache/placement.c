/*
 * cache/placement.c - view + policy + engine for one pod.
 */
#include "cache/placement.h"

#include "cache/node_facts.h"
#include "scoring/hash.h"
#include "scoring/short_list.h"

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
    for (guint i = 0; p->inventories && i < p->n; i++) {
        fp_gpu_inventory_unref(p->inventories[i]);
    }
    g_free(p->inventories);
    g_free(p->names);
    g_free(p->verdicts);
    g_free(p->kube_reason);
    g_free(p->listed_idx);
    fp_demand_free(p->demand);
    fp_scale_up_free(p->scale_up);
    g_free(p);
}

bool fp_placement_unmet(const FpPlacement *p)
{
    const FpDemand *d = p->demand;
    if (!d || !d->resource || d->invalid_reason || p->best >= 0) {
        return false;
    }
    for (guint i = 0; i < p->n; i++) {
        if (p->verdicts[i].pass) {
            return false;
        }
    }
    return true;
}

const FpScaleUp *fp_placement_judge_scale_up(FpPlacement *p, const FpPolicy *policy,
                                             const FpOffer *offers, guint n)
{
    g_clear_pointer(&p->scale_up, fp_scale_up_free);
    if (fp_placement_unmet(p)) {
        p->scale_up = fp_scale_up_new(policy, p->demand, offers, n);
    }
    return p->scale_up;
}

/* Fill @cand's GPU counts (and, when the state's facts are current for
 * @policy, its facts and the prepared copies) from view state @st.
 * @resource_id is the demand's resource interned (view.h: FpGpuSlot).
 * Without @use_state_facts everything comes from the lists and the Node
 * (the plain path, which test_fast_path holds the fast one to). */
static void candidate_from_state(FpCandidate *cand, const FpNodeState *st, const FpPolicy *policy,
                                 const char *resource, const char *resource_id,
                                 bool use_state_facts, FpGpuInventory **inv)
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
        /* the inventory's resource names are interned like resource_id */
        cand->device = fp_gpu_inventory_find(st->gpu_inventory, resource_id);
        *inv = st->gpu_inventory;
    }
}

/* One evaluation in progress: the placement being built and the engine's
 * candidates (those that passed kube-scheduler's checks, when asked). */
typedef struct {
    FpView *view;
    const FpPolicy *policy;
    const FpPod *pod;
    const FpCandidates *c;
    FpPlacement *p;
    char *resource_id;  /* the demand's resource, interned */
    bool state_facts;   /* read the facts the view keeps per node */
    FpCandidate *cands; /* m of them */
    guint *index;       /* with kube checks: cands[k] is request entry index[k] */
    guint m;
    FpNodeFacts *facts;    /* facts computed here for candidates without state facts */
    FpGpuInventory **invs; /* per candidate: the inventory of its device (borrowed from
                              the view's state, or a ref held in p->inventories) */
    GHashTable *owner_pools;
    FpEvalContext ctx;
    int64_t image_mib[G_N_ELEMENTS(((FpDemand *)NULL)->image_keys)];
} Eval;

static FpPlacement *placement_new(const FpPolicy *policy, const FpPod *pod, const FpCandidates *c)
{
    FpPlacement *p = g_new0(FpPlacement, 1);
    p->n = c->n;
    /* fp_evaluate writes every verdict it is given; only those left out of
     * it (kube-scheduler's checks failed) need zeroing here. */
    p->verdicts = c->kube_checks ? g_new0(FpVerdict, c->n) : g_new(FpVerdict, MAX(c->n, 1));
    p->nodes = g_new0(FpNode *, c->n);
    p->names = g_new(const char *, c->n + 1);
    p->kube_reason = g_new0(const char *, c->n);
    p->inventories = g_new0(FpGpuInventory *, c->n);
    p->demand = fp_demand_new(pod, policy);
    p->best = -1;
    for (guint i = 0; i < c->n; i++) {
        p->names[i] = c->names ? c->names[i] : c->nodes[i]->name;
    }
    p->names[c->n] = NULL;
    return p;
}

/* kube-scheduler's own checks for request entry @i; false (and the verdict
 * written) when they fail. */
static bool passes_kube_checks(Eval *e, guint i, const FpNode *node, const FpNodeState *st)
{
    FpResList taken = {0};
    if (st) {
        fp_res_list_copy(&taken, &st->used);
        for (guint k = 0; k < st->assumed.len; k++) {
            fp_res_list_add(&taken, st->assumed.items[k].name, st->assumed.items[k].value);
        }
    }
    FpPlacement *p = e->p;
    p->kube_reason[i] = fp_kube_feasible(e->pod, node, &taken);
    fp_res_list_clear(&taken);
    if (!p->kube_reason[i]) {
        return true;
    }
    p->verdicts[i].pass = false;
    p->verdicts[i].reason = p->kube_reason[i];
    /* As kube-scheduler's plugins report them: a resource shortage is
     * Unschedulable (preemption may help); selector, affinity, taint and
     * cordon failures are UnschedulableAndUnresolvable. */
    p->verdicts[i].unresolvable = !g_str_has_prefix(p->kube_reason[i], "Insufficient ");
    fp_node_facts(e->policy, node, &p->verdicts[i].facts);
    return false;
}

/* The engine's candidates from the request and the view (under its lock). */
static void gather_candidates(Eval *e)
{
    const FpCandidates *c = e->c;
    FpPlacement *p = e->p;
    g_autofree const FpNodeState **states = g_new(const FpNodeState *, MAX(c->n, 1));
    fp_view_nodes_locked(e->view, p->names, c->name_hashes, c->n, states);
    for (guint i = 0; i < c->n; i++) {
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
        if (c->kube_checks && node && !passes_kube_checks(e, i, node, st)) {
            continue;
        }
        FpCandidate *cand = &e->cands[e->m];
        /* written whole here, while its lines are in the cache, instead of
         * zeroing the whole array first */
        *cand = (FpCandidate){.node = node, .name = p->names[i]};
        if (st) {
            candidate_from_state(cand, st, e->policy, p->demand->resource, e->resource_id,
                                 e->state_facts, &e->invs[e->m]);
        }
        if (e->index) {
            e->index[e->m] = i;
        }
        e->m++;
    }
}

/* Facts of the other candidates (full-Node requests, a view without
 * current facts) come from the (policy, node) cache: extender/wire/protocol.c
 * reuses the Nodes of full-Node requests while their bytes do not change. */
static void fill_missing_facts(Eval *e)
{
    g_autofree guint *missing = g_new(guint, MAX(e->m, 1));
    guint n_missing = 0;
    for (guint k = 0; k < e->m; k++) {
        if (e->cands[k].node && !e->cands[k].facts) {
            missing[n_missing++] = k;
        }
    }
    if (n_missing == 0) {
        return;
    }
    e->facts = g_new(FpNodeFacts, n_missing);
    g_autofree const FpNode **nodes = g_new(const FpNode *, n_missing);
    g_autofree FpGpuInventory **invs = g_new0(FpGpuInventory *, n_missing);
    for (guint k = 0; k < n_missing; k++) {
        nodes[k] = e->cands[missing[k]].node;
    }
    fp_node_facts_inventory_cached(e->policy, nodes, n_missing, e->facts, invs,
                                   2 * (fp_view_node_count(e->view) + n_missing) + 1024);
    const char *resource = e->p->demand->resource;
    for (guint k = 0; k < n_missing; k++) {
        guint c = missing[k];
        e->cands[c].facts = &e->facts[k];
        e->cands[c].device = resource ? fp_gpu_inventory_find(invs[k], resource) : NULL;
        e->invs[c] = invs[k];
        /* the placement holds the reference: entry i of the request */
        guint i = e->index ? e->index[c] : c;
        fp_gpu_inventory_unref(e->p->inventories[i]);
        e->p->inventories[i] = invs[k];
    }
}

/* Pool totals, and the workload's replicas per pool for failover spread. */
/* The sizes of the pod's images as any node of the view reports them
 * (engine.h: FpEvalContext.image_mib): one pass over the nodes, only for
 * pods with a time-to-serve estimate. */
typedef struct {
    const FpDemand *d;
    int64_t *mib;
} ImageScan;

static void scan_images(const FpNodeState *st, void *data)
{
    ImageScan *s = data;
    for (guint k = 0; k < s->d->n_images; k++) {
        if (s->mib[k] < 0) {
            s->mib[k] = fp_node_image_mib(st->node, s->d->image_keys[k]);
        }
    }
}

static void image_context(Eval *e)
{
    const FpDemand *d = e->p->demand;
    if (!d->tts || !d->resource || d->n_images == 0) {
        return;
    }
    for (guint k = 0; k < d->n_images; k++) {
        e->image_mib[k] = -1;
    }
    ImageScan scan = {d, e->image_mib};
    fp_view_foreach_node_locked(e->view, scan_images, &scan);
    e->ctx.image_mib = e->image_mib;
}

static void pool_context(Eval *e)
{
    const FpDemand *d = e->p->demand;
    if (d->resource) {
        e->ctx.pool_stats = fp_view_pool_stats_locked(e->view, e->policy, d->resource);
    }
    if (d->min_spread == 0 || !e->pod->owner_uid) {
        return;
    }
    e->owner_pools = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    e->ctx.workload_pools =
        fp_view_owner_pools_locked(e->view, e->policy, e->pod->owner_uid, e->owner_pools);
    for (guint k = 0; k < e->m; k++) {
        FpCandidate *cand = &e->cands[k];
        if (!cand->node) {
            continue;
        }
        const char *pool = cand->facts->pool && *cand->facts->pool ? cand->facts->pool : cand->name;
        cand->workload_replicas_in_pool =
            GPOINTER_TO_UINT(g_hash_table_lookup(e->owner_pools, pool));
    }
}

static void run_engine(Eval *e)
{
    FpPlacement *p = e->p;
    if (!e->index) {
        fp_evaluate(&e->ctx, e->cands, e->m, p->verdicts);
        return;
    }
    FpVerdict *out = g_new0(FpVerdict, e->m ? e->m : 1);
    fp_evaluate(&e->ctx, e->cands, e->m, out);
    for (guint k = 0; k < e->m; k++) {
        p->verdicts[e->index[k]] = out[k];
    }
    g_free(out);
}

/* Count rejected verdict @v under its reason (FpPlacement.reasons). */
static void tally_reason(FpPlacement *p, const FpVerdict *v)
{
    const char *r = v->reason ? v->reason : "rejected";
    guint k = 0;
    while (k < p->n_reasons && p->reasons[k] != r) {
        k++;
    }
    if (k == p->n_reasons) {
        if (k == FP_PLACEMENT_REASONS) {
            p->reasons_counted = false;
            return;
        }
        p->reasons[k] = r;
        p->reason_counts[k] = 0;
        p->n_reasons++;
    }
    p->reason_counts[k]++;
}

/* One pass over the verdicts: how many passed, the rejections by reason,
 * and (with a short list) the passing candidates' tie keys, from the name
 * hashes the request brought, else from the names; then the short list
 * (scoring/short_list.h). */
static void apply_short_list(Eval *e)
{
    FpPlacement *p = e->p;
    guint k = e->c->short_list ? fp_short_list_size(e->policy, p->demand) : 0;
    g_autofree guint32 *tie = k > 0 ? g_new(guint32, MAX(p->n, 1)) : NULL;
    guint32 seed = k > 0 ? fp_short_list_seed(e->pod) : 0;
    p->passed = 0;
    p->n_reasons = 0;
    p->reasons_counted = true;
    for (guint i = 0; i < p->n; i++) {
        const FpVerdict *v = &p->verdicts[i];
        if (!v->pass) {
            tally_reason(p, v);
            continue;
        }
        p->passed++;
        if (tie) {
            guint32 h = e->c->name_hashes ? e->c->name_hashes[i] : fp_fnv1a_str(p->names[i]);
            tie[i] = fp_short_list_tie(seed, h);
        }
    }
    p->short_list = k;
    if (k > 0 && p->passed > 0) {
        p->listed_idx = g_new(guint, MIN(k, p->passed));
    }
    p->listed = fp_short_list_apply(p->verdicts, p->n, tie, k, p->listed_idx);
}

/* best_node_only: hold the best node, and clear the facts that borrow from
 * nodes this placement holds no reference on, before the lock goes. */
static void keep_best_node(Eval *e)
{
    FpPlacement *p = e->p;
    for (guint k = 0; k < e->m && p->best >= 0; k++) {
        if ((e->index ? e->index[k] : k) == (guint)p->best && e->cands[k].node) {
            p->nodes[p->best] = fp_node_ref((FpNode *)e->cands[k].node);
            /* the same facts, borrowed from the node now held, and the
             * device from its inventory, held too */
            fp_node_facts(e->policy, p->nodes[p->best], &p->verdicts[p->best].facts);
            if (!p->inventories[p->best]) {
                p->inventories[p->best] = fp_gpu_inventory_ref(e->invs[k]);
            }
            p->verdicts[p->best].device = e->cands[k].device;
            fp_facts_apply_device(&p->verdicts[p->best].facts, e->cands[k].device);
            break;
        }
    }
    /* The others' facts were not copied (skip_facts_copy: zeroed), but for
     * kube-scheduler's failures, which borrow from their nodes. */
    for (guint i = 0; e->index && i < p->n; i++) {
        if (p->kube_reason[i]) {
            memset(&p->verdicts[i].facts, 0, sizeof p->verdicts[i].facts);
        }
    }
}

FpPlacement *fp_placement_evaluate(FpView *view, const FpPolicy *policy, const FpPod *pod,
                                   const FpCandidates *c)
{
    Eval e = {.view = view, .policy = policy, .pod = pod, .c = c};
    e.p = placement_new(policy, pod, c);
    const char *resource = e.p->demand->resource;
    e.resource_id = resource ? g_ref_string_new_intern(resource) : NULL;
    /* The server's names mode reads the facts the view keeps per node for
     * its policy (their strings live only as long as the node's state, so
     * not when the placement keeps every verdict's facts). */
    e.state_facts = c->names != NULL && c->best_node_only;
    if (e.state_facts && fp_view_facts_policy(view) != (const void *)policy) {
        fp_view_use_policy(view, policy);
    }
    e.cands = g_new(FpCandidate, MAX(c->n, 1)); /* each written by gather_candidates */
    e.invs = g_new0(FpGpuInventory *, c->n);
    e.index = c->kube_checks ? g_new0(guint, c->n) : NULL;
    e.ctx = (FpEvalContext){
        .policy = policy, .demand = e.p->demand, .skip_facts_copy = c->best_node_only};

    fp_view_read_lock(view);
    gather_candidates(&e);
    fill_missing_facts(&e);
    pool_context(&e);
    image_context(&e);
    run_engine(&e);
    apply_short_list(&e);
    e.p->best = fp_placement_best(e.p);
    if (c->best_node_only) {
        keep_best_node(&e);
    }
    fp_view_read_unlock(view);

    g_free(e.cands);
    g_free(e.invs);
    g_free(e.index);
    g_free(e.facts);
    if (e.resource_id) {
        g_ref_string_release(e.resource_id);
    }
    if (e.ctx.pool_stats) {
        g_hash_table_unref(e.ctx.pool_stats);
    }
    if (e.owner_pools) {
        g_hash_table_unref(e.owner_pools);
    }
    return e.p;
}

int fp_placement_best(const FpPlacement *p)
{
    int best = -1;
    guint n = p->listed_idx ? p->listed : p->n; /* the listed ones hold the best */
    for (guint j = 0; j < n; j++) {
        guint i = p->listed_idx ? p->listed_idx[j] : j;
        const FpVerdict *v = &p->verdicts[i];
        if (!v->pass || v->omit) {
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
