/*
 * cache/view.c - the cluster view (see view.h for the locking scheme).
 *
 * Layout: one NodeState per node name (created on demand by a Node, an active
 * pod or an assumption, dropped when none refers to it any more), the pods by
 * UID, two indexes (pods per node, pods per controller owner) and the assumed
 * allocations by pod UID.  Usage counters are adjusted incrementally, so an
 * event costs O(resources of the pod), independent of cluster size.
 */
#include "cache/view.h"

#include "cache/clock.h"
#include "cache/node_facts.h"
#include "scoring/hash.h"

#include <stdatomic.h>
#include <string.h>

#define POOL_STATS_CACHE_SIZE 8

#define SHORT_NAME 52

typedef struct {
    /* First, on the line a lookup reads: the name's hash (for the index)
     * and the name itself when it is short (else it follows the struct). */
    guint32 hash;
    char short_name[SHORT_NAME];
    FpNodeState pub;  /* pub.name: short_name or after the struct; the hash key */
    GHashTable *pods; /* uid -> FpPod* (borrowed from view->pods): pods bound here */
    guint n_assumed;  /* assumptions naming this node */
} NodeState;

typedef struct {
    char *uid;
    char *ns;
    char *name;
    char *node;
    char *resource;
    int64_t count;
    gint64 expires_us; /* fp_clock_now_us() */
    guint64 seq;       /* view->assume_seq when recorded (fp_view_assume_mark) */
    bool held;         /* the bind's outcome is unknown: kept until the watch or the TTL */
    char *held_key;    /* "uid\nnode" when in view->held (displaced by a retry elsewhere) */
} Assumed;

/* What one node adds to one pool-stats entry (it counts when it has a
 * Node, is Ready and schedulable, has a pool and the resource). */
typedef struct {
    char *pool;
    int64_t alloc;
    int64_t used;
    int64_t assumed;
} Contrib;

typedef struct {
    guint64 view_generation;
    const FpPolicy *policy; /* a reference; compared by identity */
    guint64 policy_generation;
    char *resource;
    GHashTable *stats;      /* pool -> FpPoolStat*, refcounted, never changed once built */
    GHashTable *contrib;    /* FpNodeState* -> Contrib*: the nodes counted in stats */
    GHashTable *pool_nodes; /* pool -> GUINT_TO_POINTER(nodes counted) */
} PoolStatsEntry;

/* The readers' name -> state index: open addressing with linear probing
 * over (hash, state) pairs, so a lookup touches one entry and the state
 * (whose name is in the same block) instead of GHashTable's separate hash,
 * key, value and key-string memory.  Half full at most; removal shifts the
 * following entries back (no tombstones). */
typedef struct {
    guint32 hash;
    NodeState *st; /* NULL = free */
} IndexEntry;

typedef struct {
    IndexEntry *entries;
    guint mask; /* capacity - 1 */
    guint n;
} StateIndex;

struct FpView {
    GRWLock lock;
    GHashTable *states;          /* name -> NodeState* (owns them) */
    StateIndex index;            /* the same, for lookups */
    GHashTable *pods;            /* uid -> FpPod* (owned ref) */
    GHashTable *owners;          /* owner uid -> GHashTable(uid -> FpPod* borrowed) */
    GHashTable *assumed;         /* uid -> Assumed* */
    GHashTable *held;            /* held_key -> Assumed*: held ones a retry moved away from */
    _Atomic uint64_t assume_seq; /* assumptions recorded so far; written under the write lock */
    _Atomic uint64_t generation; /* written under the write lock, read anywhere */
    _Atomic unsigned n_nodes;
    _Atomic unsigned n_pods;
    _Atomic bool synced[2];
    _Atomic int64_t last_event_us; /* monotonic; 0 = never */
    /* Bounds (fp_view_set_limits): per kind the cap (0 = none), whether
     * objects were dropped since the last relist that fitted, and how many. */
    _Atomic unsigned max[2];
    _Atomic bool over[2];
    _Atomic uint64_t dropped[2];
    GMutex stats_mutex;
    PoolStatsEntry stats_cache[POOL_STATS_CACHE_SIZE];
    guint stats_next;
    /* Pool stats follow usage changes instead of being rebuilt: a writer
     * that changes only some nodes (a pod, an assumption, one Node) lists
     * the node states it touched, and before its generation bump the
     * entries that are current move by those nodes' deltas (see
     * pool_stats_advance).  Relists are not tracked: they make every entry
     * stale. */
    bool tracking;
    GPtrArray *touched; /* NodeState* */
    /* The policy every state's facts are computed under (a reference), and
     * its address for lock-free comparison. */
    FpPolicy *facts_policy;
    gpointer facts_policy_id;
};

static bool is_extended(const char *resource)
{
    return strchr(resource, '/') != NULL;
}

/* Node facts kept in states hold their strings as interned GRefStrings:
 * one copy per distinct value for the whole view, and equal values share an
 * address, which lets the engine's per-request memo skip hashing them. */
static void facts_intern(FpNodeFacts *f)
{
    const char **fields[] = {&f->pool,    &f->region,        &f->zone,
                             &f->product, &f->instance_type, &f->capacity_type};
    for (guint i = 0; i < G_N_ELEMENTS(fields); i++) {
        *fields[i] = g_ref_string_new_intern(*fields[i] ? *fields[i] : "");
    }
}

static void facts_release(FpNodeFacts *f)
{
    const char **fields[] = {&f->pool,    &f->region,        &f->zone,
                             &f->product, &f->instance_type, &f->capacity_type};
    for (guint i = 0; i < G_N_ELEMENTS(fields); i++) {
        if (*fields[i]) {
            g_ref_string_release((char *)*fields[i]);
            *fields[i] = NULL;
        }
    }
}

/* Add @value of @name to the slot of that resource (@which: 0 allocatable,
 * 1 used, 2 assumed), taking the interned name from @old when it has it. */
static void slot_add(FpNodeState *st, const FpGpuSlot *old, guint n_old, const char *name,
                     int which, int64_t value)
{
    guint k = 0;
    while (k < st->n_gpu && strcmp(st->gpu[k].resource, name) != 0) {
        k++;
    }
    if (k == st->n_gpu) {
        if (k == FP_VIEW_GPU_SLOTS) {
            st->gpu_complete = false;
            return;
        }
        const char *interned = NULL;
        for (guint j = 0; j < n_old && !interned; j++) {
            if (strcmp(old[j].resource, name) == 0) {
                interned = g_ref_string_acquire((char *)old[j].resource);
            }
        }
        st->gpu[k] = (FpGpuSlot){.resource = interned ? interned : g_ref_string_new_intern(name)};
        st->n_gpu++;
    }
    if (which == 0) {
        st->gpu[k].listed = true;
        st->gpu[k].allocatable = value;
    } else if (which == 1) {
        st->gpu[k].used = value;
    } else {
        st->gpu[k].assumed = value;
    }
}

/* Rebuild @st's GPU slots from its lists; call after any change to them.
 * Write lock held. */
static void state_sync_gpu(NodeState *ns)
{
    FpNodeState *st = &ns->pub;
    FpGpuSlot old[FP_VIEW_GPU_SLOTS];
    guint n_old = st->n_gpu;
    memcpy(old, st->gpu, sizeof old);
    st->n_gpu = 0;
    st->gpu_complete = true;
    const FpResList *lists[] = {&st->ext_allocatable, &st->used, &st->assumed};
    for (int w = 0; w < 3; w++) {
        for (guint i = 0; i < lists[w]->len; i++) {
            slot_add(st, old, n_old, lists[w]->items[i].name, w, lists[w]->items[i].value);
        }
    }
    for (guint j = 0; j < n_old; j++) {
        g_ref_string_release((char *)old[j].resource);
    }
}

/* The node's GPU inventory under @policy (NULL without a policy), its
 * problems logged once per node. */
static FpGpuInventory *inventory_of(const FpPolicy *policy, const FpNode *node,
                                    const FpNodeFacts *facts)
{
    if (!policy || !node) {
        return NULL;
    }
    FpGpuInventory *inv = fp_gpu_inventory_new(policy, node, facts);
    fp_gpu_inventory_warn_once(node->name, inv);
    return inv;
}

/* The request path's copies of the node (view.h): @facts and @inv are
 * fp_node_facts(view->facts_policy, node) and its inventory when the caller
 * computed them (@inv: transfer full), else NULL.  @node NULL drops the
 * Node.  Write lock held. */
static void state_set_node(FpView *view, NodeState *st, FpNode *node, const FpNodeFacts *facts,
                           FpGpuInventory *inv)
{
    if (st->pub.node) {
        fp_node_unref((FpNode *)st->pub.node);
    }
    st->pub.node = node;
    fp_res_list_clear(&st->pub.ext_allocatable);
    facts_release(&st->pub.facts);
    g_clear_pointer(&st->pub.gpu_inventory, fp_gpu_inventory_unref);
    st->pub.ready = node && node->ready;
    st->pub.unschedulable = node && node->unschedulable;
    st->pub.facts_policy = node ? view->facts_policy : NULL;
    if (!node) {
        memset(&st->pub.facts, 0, sizeof st->pub.facts);
        state_sync_gpu(st);
        return;
    }
    for (guint i = 0; i < node->allocatable.len; i++) {
        if (is_extended(node->allocatable.items[i].name)) {
            fp_res_list_set(&st->pub.ext_allocatable, node->allocatable.items[i].name,
                            node->allocatable.items[i].value);
        }
    }
    if (facts) {
        st->pub.facts = *facts; /* interned by the caller: taken over */
        st->pub.gpu_inventory = inv;
    } else {
        fp_node_facts(view->facts_policy, node, &st->pub.facts);
        facts_intern(&st->pub.facts);
        st->pub.gpu_inventory = inventory_of(view->facts_policy, node, &st->pub.facts);
    }
    state_sync_gpu(st);
}

static void node_state_free(gpointer p)
{
    NodeState *st = p;
    if (st->pub.node) {
        fp_node_unref((FpNode *)st->pub.node);
    }
    fp_res_list_clear(&st->pub.ext_allocatable);
    facts_release(&st->pub.facts);
    g_clear_pointer(&st->pub.gpu_inventory, fp_gpu_inventory_unref);
    for (guint j = 0; j < st->pub.n_gpu; j++) {
        g_ref_string_release((char *)st->pub.gpu[j].resource);
    }
    fp_res_list_clear(&st->pub.used);
    fp_res_list_clear(&st->pub.assumed);
    g_hash_table_unref(st->pods);
    g_free(st);
}

static void assumed_free(gpointer p)
{
    Assumed *a = p;
    g_free(a->uid);
    g_free(a->ns);
    g_free(a->name);
    g_free(a->node);
    g_free(a->resource);
    g_free(a->held_key);
    g_free(a);
}

static void contrib_free(gpointer p)
{
    Contrib *c = p;
    g_free(c->pool);
    g_free(c);
}

static void pool_stats_entry_clear(PoolStatsEntry *e)
{
    g_clear_pointer(&e->stats, g_hash_table_unref);
    g_clear_pointer(&e->contrib, g_hash_table_unref);
    g_clear_pointer(&e->pool_nodes, g_hash_table_unref);
    g_clear_pointer(&e->resource, g_free);
    if (e->policy) {
        fp_policy_unref((FpPolicy *)e->policy);
        e->policy = NULL;
    }
}

/* What @st adds to @e's totals; FALSE when it does not count. */
static bool contrib_of(const PoolStatsEntry *e, const FpNodeState *st, guint cap, Contrib *out)
{
    memset(out, 0, sizeof *out);
    if (!st->node || st->node->unschedulable || !st->node->ready) {
        return false; /* capacity nobody can schedule onto is not headroom */
    }
    FpNodeFacts facts;
    if (st->facts_policy == e->policy) {
        facts = st->facts; /* kept current by the view (fp_view_use_policy) */
    } else {
        fp_node_facts_cached(e->policy, &st->node, 1, &facts, cap);
    }
    if (!facts.pool || !*facts.pool) {
        return false;
    }
    int64_t alloc = fp_res_list_get(&st->node->allocatable, e->resource);
    if (alloc <= 0) {
        return false;
    }
    out->pool = (char *)facts.pool; /* borrowed until stored */
    out->alloc = alloc;
    out->used = fp_res_list_get(&st->used, e->resource);
    out->assumed = fp_res_list_get(&st->assumed, e->resource);
    return true;
}

static GHashTable *stats_copy(GHashTable *stats)
{
    GHashTable *copy = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, stats);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        g_hash_table_insert(copy, g_strdup(k), g_memdup2(v, sizeof(FpPoolStat)));
    }
    return copy;
}

/* Add (@sign 1) or remove (-1) one node's contribution to @stats. */
static void stats_add(PoolStatsEntry *e, GHashTable *stats, const Contrib *c, int sign)
{
    FpPoolStat *ps = g_hash_table_lookup(stats, c->pool);
    guint n = GPOINTER_TO_UINT(g_hash_table_lookup(e->pool_nodes, c->pool));
    if (!ps) {
        ps = g_new0(FpPoolStat, 1);
        g_hash_table_insert(stats, g_strdup(c->pool), ps);
    }
    ps->allocatable += sign * c->alloc;
    ps->used += sign * c->used;
    ps->assumed += sign * c->assumed;
    n = sign > 0 ? n + 1 : n - 1;
    if (n == 0) { /* a rebuild would not list a pool without nodes */
        g_hash_table_remove(e->pool_nodes, c->pool);
        g_hash_table_remove(stats, c->pool);
    } else {
        g_hash_table_replace(e->pool_nodes, g_strdup(c->pool), GUINT_TO_POINTER(n));
    }
}

/* Bring @e's record of @st up to date (@gone: the state is being freed).
 * *copy is the entry's new stats table, made on the first change. */
static void entry_update(PoolStatsEntry *e, const FpNodeState *st, bool gone, guint cap,
                         GHashTable **copy)
{
    Contrib *old = g_hash_table_lookup(e->contrib, st);
    Contrib now;
    bool counted = !gone && contrib_of(e, st, cap, &now);
    if (!old && !counted) {
        return;
    }
    if (old && counted && old->alloc == now.alloc && old->used == now.used &&
        old->assumed == now.assumed && strcmp(old->pool, now.pool) == 0) {
        return;
    }
    if (!*copy) {
        *copy = stats_copy(e->stats);
    }
    if (old) {
        stats_add(e, *copy, old, -1);
    }
    if (counted) {
        stats_add(e, *copy, &now, +1);
        Contrib *c = g_memdup2(&now, sizeof now);
        c->pool = g_strdup(now.pool);
        g_hash_table_replace(e->contrib, (gpointer)st, c);
    } else {
        g_hash_table_remove(e->contrib, st);
    }
}

static void entry_install(PoolStatsEntry *e, GHashTable *copy)
{
    if (copy) {
        g_hash_table_unref(e->stats);
        e->stats = copy;
    }
}

FpView *fp_view_new(void)
{
    FpView *view = g_new0(FpView, 1);
    g_rw_lock_init(&view->lock);
    g_mutex_init(&view->stats_mutex);
    view->states = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, node_state_free);
    view->pods = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)fp_pod_unref);
    view->owners =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_hash_table_unref);
    view->assumed = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, assumed_free);
    view->held = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, assumed_free);
    view->generation = 1;
    view->touched = g_ptr_array_new();
    view->max[FP_KIND_NODES] = FP_VIEW_DEFAULT_MAX_NODES;
    view->max[FP_KIND_PODS] = FP_VIEW_DEFAULT_MAX_PODS;
    return view;
}

/* Whether one more object of @kind (holding @count now) would pass its cap;
 * if so it is dropped: count it and mark the kind over its limit.  Write
 * lock held. */
static bool at_limit(FpView *view, FpKind kind, unsigned count)
{
    unsigned max = view->max[kind];
    if (max == 0 || count < max) {
        return false;
    }
    view->dropped[kind]++;
    if (!view->over[kind]) {
        view->over[kind] = true;
        g_warning("cluster view: more %s than the limit of %u; further ones are dropped and "
                  "flexplace reports itself not ready (raise --max-%s)",
                  kind == FP_KIND_NODES ? "nodes" : "pods", max,
                  kind == FP_KIND_NODES ? "nodes" : "pods");
    }
    return true;
}

void fp_view_free(FpView *view)
{
    if (!view) {
        return;
    }
    for (guint i = 0; i < POOL_STATS_CACHE_SIZE; i++) {
        pool_stats_entry_clear(&view->stats_cache[i]);
    }
    g_hash_table_destroy(view->held);
    g_hash_table_destroy(view->assumed);
    g_hash_table_destroy(view->owners);
    g_hash_table_destroy(view->states);
    g_free(view->index.entries);
    g_hash_table_destroy(view->pods);
    g_mutex_clear(&view->stats_mutex);
    g_ptr_array_unref(view->touched);
    if (view->facts_policy) {
        fp_policy_unref(view->facts_policy);
    }
    g_rw_lock_clear(&view->lock);
    g_free(view);
}

/* ---- the lookup index ---- */

static NodeState *index_find(const StateIndex *idx, const char *name)
{
    if (!idx->entries) {
        return NULL;
    }
    guint32 hash = fp_fnv1a_str(name);
    for (guint i = hash & idx->mask;; i = (i + 1) & idx->mask) {
        const IndexEntry *e = &idx->entries[i];
        if (!e->st) {
            return NULL;
        }
        if (e->hash == hash && strcmp(e->st->pub.name, name) == 0) {
            return e->st;
        }
    }
}

static void index_put(IndexEntry *entries, guint mask, guint32 hash, NodeState *st)
{
    guint i = hash & mask;
    while (entries[i].st) {
        i = (i + 1) & mask;
    }
    entries[i] = (IndexEntry){hash, st};
}

static void index_insert(StateIndex *idx, NodeState *st)
{
    if (!idx->entries || 2 * (idx->n + 1) > idx->mask + 1) {
        guint mask = idx->entries ? 2 * idx->mask + 1 : 63;
        IndexEntry *entries = g_new0(IndexEntry, mask + 1);
        for (guint i = 0; idx->entries && i <= idx->mask; i++) {
            if (idx->entries[i].st) {
                index_put(entries, mask, idx->entries[i].hash, idx->entries[i].st);
            }
        }
        g_free(idx->entries);
        idx->entries = entries;
        idx->mask = mask;
    }
    index_put(idx->entries, idx->mask, st->hash, st);
    idx->n++;
}

static void index_remove(StateIndex *idx, NodeState *st)
{
    guint i = st->hash & idx->mask;
    while (idx->entries[i].st != st) {
        if (!idx->entries[i].st) {
            return; /* not indexed */
        }
        i = (i + 1) & idx->mask;
    }
    /* Shift back every following entry of the run that may move to i. */
    for (guint j = (i + 1) & idx->mask; idx->entries[j].st; j = (j + 1) & idx->mask) {
        guint home = idx->entries[j].hash & idx->mask;
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            idx->entries[i] = idx->entries[j];
            i = j;
        }
    }
    idx->entries[i].st = NULL;
    idx->n--;
}

/* ---- internal helpers; all run under the write lock ---- */

static NodeState *state_get(FpView *view, const char *name, bool create)
{
    NodeState *st = g_hash_table_lookup(view->states, name);
    if (!st && create) {
        /* the name lives in the same block, next to what lookups read */
        size_t len = strlen(name);
        bool is_short = len < SHORT_NAME;
        st = g_malloc0(sizeof(NodeState) + (is_short ? 0 : len + 1));
        char *key = is_short ? st->short_name : (char *)(st + 1);
        memcpy(key, name, len + 1);
        st->pub.name = key;
        st->hash = fp_fnv1a_str(key);
        index_insert(&view->index, st);
        st->pods = g_hash_table_new(g_str_hash, g_str_equal);
        g_hash_table_insert(view->states, key, st);
    }
    return st;
}

/* Start a writer: @tracked for one that changes a few nodes' usage or one
 * Node (pool stats then move by deltas), not for relists. */
static void track(FpView *view, bool tracked)
{
    view->tracking = tracked;
    g_ptr_array_set_size(view->touched, 0);
}

static void touch(FpView *view, NodeState *st)
{
    if (view->tracking) {
        g_ptr_array_add(view->touched, st);
    }
}

static guint facts_cap(FpView *view)
{
    return 2 * view->n_nodes + 1024;
}

/* Whether pool-stats entry @e is current (it matches the generation about
 * to be bumped). */
static bool entry_current(FpView *view, const PoolStatsEntry *e)
{
    return e->stats && e->contrib && e->view_generation == atomic_load(&view->generation);
}

/* Drop a state nobody refers to any more. */
static void state_gc(FpView *view, NodeState *st)
{
    if (!st->pub.node && g_hash_table_size(st->pods) == 0 && st->n_assumed == 0) {
        if (view->tracking) {
            /* current entries forget it now; it must not be touched later */
            for (guint i = 0; i < POOL_STATS_CACHE_SIZE; i++) {
                PoolStatsEntry *e = &view->stats_cache[i];
                if (entry_current(view, e)) {
                    GHashTable *copy = NULL;
                    entry_update(e, &st->pub, true, facts_cap(view), &copy);
                    entry_install(e, copy);
                }
            }
            while (g_ptr_array_remove_fast(view->touched, st)) {
            }
        }
        index_remove(&view->index, st);
        g_hash_table_remove(view->states, st->pub.name);
    }
}

/* Move the current pool-stats entries by the deltas of the touched nodes,
 * so that they stay current across the bump that follows. */
static void pool_stats_advance(FpView *view)
{
    guint64 next = atomic_load(&view->generation) + 1;
    g_mutex_lock(&view->stats_mutex);
    for (guint i = 0; i < POOL_STATS_CACHE_SIZE; i++) {
        PoolStatsEntry *e = &view->stats_cache[i];
        if (!entry_current(view, e)) {
            continue;
        }
        GHashTable *copy = NULL;
        for (guint k = 0; k < view->touched->len; k++) {
            NodeState *st = g_ptr_array_index(view->touched, k);
            entry_update(e, &st->pub, false, facts_cap(view), &copy);
        }
        entry_install(e, copy);
        e->view_generation = next;
    }
    g_mutex_unlock(&view->stats_mutex);
}

static void bump(FpView *view)
{
    if (view->tracking) {
        pool_stats_advance(view);
    }
    track(view, false);
    atomic_fetch_add(&view->generation, 1);
}

static void res_add_extended(FpResList *dst, const FpResList *src, int sign)
{
    for (guint i = 0; i < src->len; i++) {
        if (is_extended(src->items[i].name)) {
            fp_res_list_add(dst, src->items[i].name, sign * src->items[i].value);
        }
    }
}

static void unassume(FpView *view, Assumed *a)
{
    NodeState *st = state_get(view, a->node, false);
    if (st) {
        fp_res_list_add(&st->pub.assumed, a->resource, -a->count);
        state_sync_gpu(st);
        st->n_assumed--;
        touch(view, st);
        state_gc(view, st);
    }
    if (a->held_key) {
        g_hash_table_remove(view->held, a->held_key);
    } else {
        g_hash_table_remove(view->assumed, a->uid);
    }
}

/* Drop pod @uid's assumption and every held one it left on other nodes. */
static void unassume_pod(FpView *view, const char *uid)
{
    Assumed *a = g_hash_table_lookup(view->assumed, uid);
    if (a) {
        unassume(view, a);
    }
    if (g_hash_table_size(view->held) == 0) {
        return;
    }
    GPtrArray *drop = g_ptr_array_new();
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, view->held);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        if (strcmp(((Assumed *)value)->uid, uid) == 0) {
            g_ptr_array_add(drop, value);
        }
    }
    for (guint i = 0; i < drop->len; i++) {
        unassume(view, drop->pdata[i]);
    }
    g_ptr_array_unref(drop);
}

/* Remove @pod's contribution (usage, indexes). Does not free it. */
static void pod_detach(FpView *view, FpPod *pod)
{
    if (pod->node_name && *pod->node_name) {
        NodeState *st = state_get(view, pod->node_name, false);
        if (st && g_hash_table_remove(st->pods, pod->uid)) {
            if (fp_pod_is_active(pod)) {
                res_add_extended(&st->pub.used, &pod->requests, -1);
                state_sync_gpu(st);
            }
            touch(view, st);
            state_gc(view, st);
        }
    }
    if (pod->owner_uid) {
        GHashTable *set = g_hash_table_lookup(view->owners, pod->owner_uid);
        if (set) {
            g_hash_table_remove(set, pod->uid);
            if (g_hash_table_size(set) == 0) {
                g_hash_table_remove(view->owners, pod->owner_uid);
            }
        }
    }
}

static void pod_attach(FpView *view, FpPod *pod)
{
    if (fp_pod_is_active(pod)) {
        NodeState *st = state_get(view, pod->node_name, true);
        g_hash_table_insert(st->pods, pod->uid, pod);
        res_add_extended(&st->pub.used, &pod->requests, +1);
        state_sync_gpu(st);
        touch(view, st);
    }
    if (pod->owner_uid) {
        GHashTable *set = g_hash_table_lookup(view->owners, pod->owner_uid);
        if (!set) {
            set = g_hash_table_new(g_str_hash, g_str_equal);
            g_hash_table_insert(view->owners, g_strdup(pod->owner_uid), set);
        }
        g_hash_table_insert(set, pod->uid, pod);
    }
    /* Once the watch shows the pod bound (anywhere) or finished, its own
     * requests count and its assumptions, held ones included, have served
     * their purpose. */
    if ((pod->node_name && *pod->node_name) || pod->phase == FP_PHASE_SUCCEEDED ||
        pod->phase == FP_PHASE_FAILED) {
        unassume_pod(view, pod->uid);
    }
}

/* ---- writers ---- */

void fp_view_apply_node(FpView *view, FpNode *node)
{
    g_return_if_fail(node && node->name);
    g_rw_lock_writer_lock(&view->lock);
    track(view, true);
    NodeState *st = state_get(view, node->name, false);
    if ((!st || !st->pub.node) && at_limit(view, FP_KIND_NODES, view->n_nodes)) {
        g_rw_lock_writer_unlock(&view->lock);
        fp_node_unref(node);
        return;
    }
    st = st ? st : state_get(view, node->name, true);
    if (!st->pub.node) {
        view->n_nodes++;
    }
    state_set_node(view, st, node, NULL, NULL);
    touch(view, st);
    bump(view);
    g_rw_lock_writer_unlock(&view->lock);
}

void fp_view_remove_node(FpView *view, const char *name)
{
    g_rw_lock_writer_lock(&view->lock);
    track(view, true);
    NodeState *st = state_get(view, name, false);
    if (st && st->pub.node) {
        state_set_node(view, st, NULL, NULL, NULL);
        view->n_nodes--;
        touch(view, st);
        state_gc(view, st);
        bump(view);
    }
    g_rw_lock_writer_unlock(&view->lock);
}

void fp_view_apply_pod(FpView *view, FpPod *pod)
{
    g_return_if_fail(pod && pod->uid);
    g_rw_lock_writer_lock(&view->lock);
    track(view, true);
    FpPod *old = g_hash_table_lookup(view->pods, pod->uid);
    if (!old && at_limit(view, FP_KIND_PODS, view->n_pods)) {
        g_rw_lock_writer_unlock(&view->lock);
        fp_pod_unref(pod);
        return;
    }
    if (old) {
        pod_detach(view, old);
        g_hash_table_remove(view->pods, old->uid); /* frees old */
    } else {
        view->n_pods++;
    }
    g_hash_table_insert(view->pods, pod->uid, pod);
    pod_attach(view, pod);
    bump(view);
    g_rw_lock_writer_unlock(&view->lock);
}

void fp_view_remove_pod(FpView *view, const char *uid)
{
    g_rw_lock_writer_lock(&view->lock);
    track(view, true);
    FpPod *old = g_hash_table_lookup(view->pods, uid);
    if (old) {
        pod_detach(view, old);
        g_hash_table_remove(view->pods, uid);
        view->n_pods--;
    }
    /* A deleted pod frees its assumptions too. */
    unassume_pod(view, uid);
    bump(view);
    g_rw_lock_writer_unlock(&view->lock);
}

void fp_view_replace_nodes(FpView *view, GPtrArray *nodes)
{
    /* The facts of the new nodes are computed before the write lock, under
     * the policy current then (recomputed below if it changed meanwhile). */
    guint n_new = nodes ? nodes->len : 0;
    g_autofree FpNodeFacts *facts = g_new(FpNodeFacts, MAX(n_new, 1));
    g_autofree FpGpuInventory **invs = g_new0(FpGpuInventory *, MAX(n_new, 1));
    g_rw_lock_reader_lock(&view->lock);
    FpPolicy *policy = view->facts_policy ? fp_policy_ref(view->facts_policy) : NULL;
    g_rw_lock_reader_unlock(&view->lock);
    for (guint i = 0; i < n_new; i++) {
        fp_node_facts(policy, g_ptr_array_index(nodes, i), &facts[i]);
        invs[i] = inventory_of(policy, g_ptr_array_index(nodes, i), &facts[i]);
        facts_intern(&facts[i]);
    }

    g_rw_lock_writer_lock(&view->lock);
    track(view, false);
    bool facts_current = policy == view->facts_policy;
    /* Drop every current node object, then install the new list. */
    GHashTableIter it;
    gpointer value;
    GPtrArray *empty = g_ptr_array_new();
    g_hash_table_iter_init(&it, view->states);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        NodeState *st = value;
        if (st->pub.node) {
            state_set_node(view, st, NULL, NULL, NULL);
        }
        g_ptr_array_add(empty, st);
    }
    view->n_nodes = 0;
    view->over[FP_KIND_NODES] = false;
    for (guint i = 0; nodes && i < nodes->len; i++) {
        FpNode *node = g_ptr_array_index(nodes, i);
        NodeState *known = state_get(view, node->name, false);
        if ((!known || !known->pub.node) && at_limit(view, FP_KIND_NODES, view->n_nodes)) {
            fp_node_unref(node);
            continue;
        }
        NodeState *st = known ? known : state_get(view, node->name, true);
        if (!st->pub.node) { /* else a duplicate name in the list: last wins */
            view->n_nodes++;
        }
        state_set_node(view, st, node, facts_current ? &facts[i] : NULL,
                       facts_current ? invs[i] : NULL);
        if (facts_current) {
            facts[i].pool = NULL; /* taken over */
            invs[i] = NULL;
        }
    }
    for (guint i = 0; i < empty->len; i++) {
        state_gc(view, g_ptr_array_index(empty, i));
    }
    g_ptr_array_unref(empty);
    bump(view);
    g_rw_lock_writer_unlock(&view->lock);
    for (guint i = 0; i < n_new; i++) {
        if (facts[i].pool) { /* not installed: dropped, or the policy changed */
            facts_release(&facts[i]);
        }
        if (invs[i]) {
            fp_gpu_inventory_unref(invs[i]);
        }
    }
    if (policy) {
        fp_policy_unref(policy);
    }
    if (nodes) {
        g_ptr_array_set_free_func(nodes, NULL);
        g_ptr_array_unref(nodes);
    }
}

/* Call @fn for every state that has a Node. */
static void each_node_state(FpView *view, void (*fn)(NodeState *st, gpointer data), gpointer data)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, view->states);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        NodeState *st = value;
        if (st->pub.node) {
            fn(st, data);
        }
    }
}

static void refresh_facts(NodeState *st, gpointer policy)
{
    st->pub.facts_policy = policy;
    facts_release(&st->pub.facts);
    g_clear_pointer(&st->pub.gpu_inventory, fp_gpu_inventory_unref);
    fp_node_facts(policy, st->pub.node, &st->pub.facts);
    st->pub.gpu_inventory = inventory_of(policy, st->pub.node, &st->pub.facts);
    facts_intern(&st->pub.facts);
}

typedef struct {
    void (*fn)(const FpNodeState *st, void *data);
    void *data;
} PublicVisit;

static void visit_public(NodeState *st, gpointer data)
{
    PublicVisit *v = data;
    v->fn(&st->pub, v->data);
}

void fp_view_use_policy(FpView *view, const FpPolicy *policy)
{
    g_return_if_fail(policy);
    g_rw_lock_writer_lock(&view->lock);
    const FpPolicy *cur = view->facts_policy;
    if (cur != policy && (!cur || policy->generation >= cur->generation)) {
        if (cur) {
            fp_policy_unref((FpPolicy *)cur);
        }
        view->facts_policy = fp_policy_ref((FpPolicy *)policy);
        g_atomic_pointer_set(&view->facts_policy_id, (gpointer)policy);
        each_node_state(view, refresh_facts, (gpointer)policy);
    }
    g_rw_lock_writer_unlock(&view->lock);
}

const void *fp_view_facts_policy(FpView *view)
{
    return g_atomic_pointer_get(&view->facts_policy_id);
}

/* Drop the assumptions recorded up to @mark (held ones too) of pods the
 * view no longer has.  Write lock held.  Returns how many. */
static guint drop_unlisted(FpView *view, guint64 mark)
{
    if (mark == 0) {
        return 0;
    }
    GPtrArray *drop = g_ptr_array_new();
    GHashTable *tables[] = {view->assumed, view->held};
    for (guint t = 0; t < G_N_ELEMENTS(tables); t++) {
        GHashTableIter it;
        gpointer value;
        g_hash_table_iter_init(&it, tables[t]);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
            Assumed *a = value;
            if (a->seq <= mark && !g_hash_table_contains(view->pods, a->uid)) {
                g_ptr_array_add(drop, a);
            }
        }
    }
    for (guint i = 0; i < drop->len; i++) {
        unassume(view, drop->pdata[i]);
    }
    guint n = drop->len;
    g_ptr_array_unref(drop);
    return n;
}

guint64 fp_view_assume_mark(FpView *view)
{
    return atomic_load(&view->assume_seq);
}

void fp_view_replace_pods(FpView *view, GPtrArray *pods)
{
    fp_view_replace_pods_listed(view, pods, 0);
}

guint fp_view_replace_pods_listed(FpView *view, GPtrArray *pods, guint64 mark)
{
    g_rw_lock_writer_lock(&view->lock);
    track(view, false);
    /* Clear all usage and indexes, then attach the new pods. */
    GHashTableIter it;
    gpointer value;
    GPtrArray *states = g_ptr_array_new();
    g_hash_table_iter_init(&it, view->states);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        NodeState *st = value;
        g_hash_table_remove_all(st->pods);
        fp_res_list_clear(&st->pub.used);
        state_sync_gpu(st);
        g_ptr_array_add(states, st);
    }
    g_hash_table_remove_all(view->owners);
    g_hash_table_remove_all(view->pods);
    view->n_pods = 0;
    view->over[FP_KIND_PODS] = false;
    for (guint i = 0; pods && i < pods->len; i++) {
        FpPod *pod = g_ptr_array_index(pods, i);
        if (!pod->uid) {
            g_critical("fp_view_replace_pods: pod %s/%s has no UID", pod->ns, pod->name);
            fp_pod_unref(pod);
            continue;
        }
        FpPod *dup = g_hash_table_lookup(view->pods, pod->uid);
        if (!dup && at_limit(view, FP_KIND_PODS, view->n_pods)) {
            fp_pod_unref(pod);
            continue;
        }
        if (dup) {
            pod_detach(view, dup);
            g_hash_table_remove(view->pods, dup->uid);
        } else {
            view->n_pods++;
        }
        g_hash_table_insert(view->pods, pod->uid, pod);
        pod_attach(view, pod);
    }
    for (guint i = 0; i < states->len; i++) {
        NodeState *st = g_ptr_array_index(states, i);
        /* pod_attach may have re-created usage; collect only the unused. */
        if (g_hash_table_lookup(view->states, st->pub.name) == st) {
            state_gc(view, st);
        }
    }
    g_ptr_array_unref(states);
    guint dropped = drop_unlisted(view, mark);
    bump(view);
    g_rw_lock_writer_unlock(&view->lock);
    if (pods) {
        g_ptr_array_set_free_func(pods, NULL);
        g_ptr_array_unref(pods);
    }
    return dropped;
}

/* ---- assumptions ---- */

bool fp_view_assume(FpView *view, const char *uid, const char *ns, const char *name,
                    const char *node, const char *resource, int64_t count, double ttl_seconds,
                    const char **why)
{
    const char *reason = NULL;
    bool ok = false;
    g_rw_lock_writer_lock(&view->lock);
    track(view, true);
    NodeState *st = state_get(view, node, false);
    FpPod *pod = uid ? g_hash_table_lookup(view->pods, uid) : NULL;
    Assumed *prev = uid ? g_hash_table_lookup(view->assumed, uid) : NULL;
    g_autofree char *key = uid ? g_strdup_printf("%s\n%s", uid, node) : NULL;
    /* This pod's held assumption on @node, left there by a retry elsewhere. */
    Assumed *held_here = key ? g_hash_table_lookup(view->held, key) : NULL;
    if (!st || !st->pub.node) {
        reason = FP_REASON_NOT_IN_VIEW;
        goto out;
    }
    if (pod && pod->node_name && *pod->node_name) {
        /* The watch already shows the pod bound: its requests count already. */
        if (strcmp(pod->node_name, node) == 0) {
            ok = true;
        } else {
            reason = "pod already bound to another node";
        }
        goto out;
    }
    int64_t alloc = fp_res_list_get(&st->pub.node->allocatable, resource);
    int64_t taken =
        fp_res_list_get(&st->pub.used, resource) + fp_res_list_get(&st->pub.assumed, resource);
    bool same = prev && strcmp(prev->node, node) == 0;
    if (same && strcmp(prev->resource, resource) == 0) {
        /* A retried bind: its own earlier assumption does not count against it. */
        taken -= prev->count;
    }
    if (held_here && strcmp(held_here->resource, resource) == 0) {
        taken -= held_here->count;
    }
    if (count > 0 && alloc - taken < count) {
        /* Refused: the call has no effect, an earlier assumption stays. */
        reason = FP_REASON_INSUFFICIENT_GPUS;
        goto out;
    }
    /* An outcome still unknown here stays unknown for the new record. */
    bool held = (same && prev->held) || held_here;
    if (held_here) {
        unassume(view, held_here);
    }
    if (prev && !same && prev->held) {
        /* Moved while the earlier bind's outcome is unknown: that Binding
         * may still commit, so its GPUs stay held where they are. */
        g_hash_table_steal(view->assumed, prev->uid);
        prev->held_key = g_strdup_printf("%s\n%s", prev->uid, prev->node);
        g_hash_table_insert(view->held, prev->held_key, prev);
    } else if (prev) {
        /* Replace the earlier assumption (same node: idempotent; another
         * node: moved). */
        unassume(view, prev);
    }
    st = state_get(view, node, true);
    Assumed *a = g_new0(Assumed, 1);
    a->held = held;
    a->uid = g_strdup(uid);
    a->ns = g_strdup(ns);
    a->name = g_strdup(name);
    a->node = g_strdup(node);
    a->resource = g_strdup(resource);
    a->count = count;
    a->expires_us = fp_clock_now_us() + (gint64)(ttl_seconds * G_USEC_PER_SEC);
    a->seq = atomic_load(&view->assume_seq) + 1;
    atomic_store(&view->assume_seq, a->seq);
    g_hash_table_insert(view->assumed, a->uid, a);
    fp_res_list_add(&st->pub.assumed, resource, count);
    state_sync_gpu(st);
    st->n_assumed++;
    touch(view, st);
    ok = true;
out:
    if (ok) {
        bump(view);
    }
    g_rw_lock_writer_unlock(&view->lock);
    if (why) {
        *why = reason;
    }
    return ok;
}

bool fp_view_forget_assumed(FpView *view, const char *uid)
{
    g_rw_lock_writer_lock(&view->lock);
    track(view, true);
    Assumed *a = g_hash_table_lookup(view->assumed, uid);
    bool drop = a && !a->held;
    if (drop) {
        unassume(view, a);
        bump(view);
    }
    g_rw_lock_writer_unlock(&view->lock);
    return drop;
}

bool fp_view_hold_assumed(FpView *view, const char *uid)
{
    g_rw_lock_writer_lock(&view->lock);
    Assumed *a = g_hash_table_lookup(view->assumed, uid);
    if (a) {
        a->held = true;
    }
    g_rw_lock_writer_unlock(&view->lock);
    return a != NULL;
}

guint fp_view_settle_assumed(FpView *view, const char *uid, const char *node)
{
    guint n = 0;
    g_rw_lock_writer_lock(&view->lock);
    track(view, true);
    GPtrArray *drop = g_ptr_array_new();
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, view->held);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        Assumed *a = value;
        if (strcmp(a->uid, uid) == 0 && strcmp(a->node, node) != 0) {
            g_ptr_array_add(drop, a);
        }
    }
    for (guint i = 0; i < drop->len; i++) {
        unassume(view, drop->pdata[i]);
        n++;
    }
    g_ptr_array_unref(drop);
    Assumed *a = g_hash_table_lookup(view->assumed, uid);
    if (a && strcmp(a->node, node) == 0) {
        a->held = false; /* known now: bound there */
    }
    if (n) {
        bump(view);
    }
    g_rw_lock_writer_unlock(&view->lock);
    return n;
}

guint fp_view_held_count(FpView *view)
{
    guint n = 0;
    g_rw_lock_reader_lock(&view->lock);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, view->assumed);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        n += ((Assumed *)value)->held;
    }
    n += g_hash_table_size(view->held);
    g_rw_lock_reader_unlock(&view->lock);
    return n;
}

guint fp_view_expire_assumed(FpView *view)
{
    gint64 now = fp_clock_now_us();
    guint n = 0;
    g_rw_lock_writer_lock(&view->lock);
    track(view, true);
    GHashTableIter it;
    gpointer value;
    GPtrArray *expired = g_ptr_array_new();
    GHashTable *tables[] = {view->assumed, view->held};
    for (guint t = 0; t < G_N_ELEMENTS(tables); t++) {
        g_hash_table_iter_init(&it, tables[t]);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
            Assumed *a = value;
            if (a->expires_us <= now) {
                g_ptr_array_add(expired, a);
            }
        }
    }
    for (guint i = 0; i < expired->len; i++) {
        unassume(view, g_ptr_array_index(expired, i));
        n++;
    }
    g_ptr_array_unref(expired);
    if (n) {
        bump(view);
    }
    g_rw_lock_writer_unlock(&view->lock);
    return n;
}

int64_t fp_view_assumed_total(FpView *view)
{
    int64_t total = 0;
    g_rw_lock_reader_lock(&view->lock);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, view->assumed);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        total += ((Assumed *)value)->count;
    }
    g_hash_table_iter_init(&it, view->held);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        total += ((Assumed *)value)->count;
    }
    g_rw_lock_reader_unlock(&view->lock);
    return total;
}

bool fp_view_assumed_lookup(FpView *view, const char *uid, char **node, int64_t *count)
{
    g_rw_lock_reader_lock(&view->lock);
    const Assumed *a = uid ? g_hash_table_lookup(view->assumed, uid) : NULL;
    if (a && node) {
        *node = g_strdup(a->node);
    }
    if (a && count) {
        *count = a->count;
    }
    g_rw_lock_reader_unlock(&view->lock);
    return a != NULL;
}

/* ---- readers ---- */

void fp_view_read_lock(FpView *view)
{
    g_rw_lock_reader_lock(&view->lock);
}

void fp_view_read_unlock(FpView *view)
{
    g_rw_lock_reader_unlock(&view->lock);
}

/* How many names ahead fp_view_nodes_locked fetches. */
#define PREFETCH_AHEAD 8

guint32 fp_view_name_hash(const char *name)
{
    return fp_fnv1a_str(name);
}

void fp_view_nodes_locked(FpView *view, const char *const *names, const guint32 *given, guint n,
                          const FpNodeState **out)
{
    const StateIndex *idx = &view->index;
    if (!idx->entries) {
        memset(out, 0, n * sizeof *out);
        return;
    }
    g_autofree guint32 *hashes = g_new(guint32, MAX(n, 1));
    for (guint i = 0; i < n; i++) {
        hashes[i] = given ? given[i] : fp_fnv1a_str(names[i]);
        __builtin_prefetch(&idx->entries[hashes[i] & idx->mask]);
    }
    for (guint i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n) {
            /* the entry was fetched above: fetch its state's first line */
            const IndexEntry *e = &idx->entries[hashes[i + PREFETCH_AHEAD] & idx->mask];
            if (e->st) {
                __builtin_prefetch(e->st);
            }
        }
        NodeState *found = NULL;
        for (guint k = hashes[i] & idx->mask;; k = (k + 1) & idx->mask) {
            const IndexEntry *e = &idx->entries[k];
            if (!e->st) {
                break;
            }
            if (e->hash == hashes[i] && strcmp(e->st->pub.name, names[i]) == 0) {
                found = e->st;
                break;
            }
        }
        out[i] = found ? &found->pub : NULL;
    }
}

const FpNodeState *fp_view_node_locked(FpView *view, const char *name)
{
    NodeState *st = index_find(&view->index, name);
    return st ? &st->pub : NULL;
}

const FpPod *fp_view_pod_locked(FpView *view, const char *uid)
{
    return g_hash_table_lookup(view->pods, uid);
}

void fp_view_foreach_node_locked(FpView *view, void (*fn)(const FpNodeState *st, void *data),
                                 void *data)
{
    PublicVisit v = {fn, data};
    each_node_state(view, visit_public, &v);
}

void fp_view_foreach_pod_on_node_locked(FpView *view, const char *node,
                                        void (*fn)(const FpPod *pod, void *data), void *data)
{
    NodeState *st = g_hash_table_lookup(view->states, node);
    if (!st) {
        return;
    }
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, st->pods);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        fn(value, data);
    }
}

/* The node states whose GPUs count as pool capacity. */
static void collect_pool_node(const FpNodeState *st, void *data)
{
    if (st->node->unschedulable || !st->node->ready) {
        return; /* capacity nobody can schedule onto is not headroom */
    }
    g_ptr_array_add(data, (gpointer)st);
}

/* Fill @e (policy, resource set) with the totals over @states, each node
 * counted as contrib_of counts it, and the record of what each node added. */
static void build_pool_stats(PoolStatsEntry *e, GPtrArray *states, guint n_nodes)
{
    e->stats = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    e->contrib = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, contrib_free);
    e->pool_nodes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    guint cap = 2 * (n_nodes + states->len) + 1024;
    for (guint i = 0; i < states->len; i++) {
        const FpNodeState *st = g_ptr_array_index(states, i);
        Contrib now;
        if (contrib_of(e, st, cap, &now)) {
            Contrib *c = g_memdup2(&now, sizeof now);
            c->pool = g_strdup(now.pool);
            g_hash_table_insert(e->contrib, (gpointer)st, c);
            stats_add(e, e->stats, c, +1);
        }
    }
}

GHashTable *fp_view_pool_stats_locked(FpView *view, const FpPolicy *policy, const char *resource)
{
    guint64 gen = fp_view_generation(view);
    GHashTable *result = NULL;
    g_mutex_lock(&view->stats_mutex);
    for (guint i = 0; i < POOL_STATS_CACHE_SIZE; i++) {
        PoolStatsEntry *e = &view->stats_cache[i];
        if (e->stats && e->view_generation == gen && e->policy == policy &&
            e->policy_generation == policy->generation && strcmp(e->resource, resource) == 0) {
            result = g_hash_table_ref(e->stats);
            break;
        }
    }
    g_mutex_unlock(&view->stats_mutex);
    if (result) {
        return result;
    }
    GPtrArray *states = g_ptr_array_new();
    fp_view_foreach_node_locked(view, collect_pool_node, states);
    PoolStatsEntry built = {
        .view_generation = gen,
        .policy = fp_policy_ref((FpPolicy *)policy),
        .policy_generation = policy->generation,
        .resource = g_strdup(resource),
    };
    build_pool_stats(&built, states, fp_view_node_count(view));
    g_ptr_array_unref(states);
    GHashTable *result_stats = g_hash_table_ref(built.stats);
    g_mutex_lock(&view->stats_mutex);
    PoolStatsEntry *e = &view->stats_cache[view->stats_next++ % POOL_STATS_CACHE_SIZE];
    pool_stats_entry_clear(e);
    *e = built;
    g_mutex_unlock(&view->stats_mutex);
    return result_stats;
}

static void count_pool(FpView *view, const FpPolicy *policy, const char *node_name,
                       GHashTable *pools)
{
    NodeState *st = g_hash_table_lookup(view->states, node_name);
    if (!st || !st->pub.node) {
        return;
    }
    FpNodeFacts facts;
    fp_node_facts(policy, st->pub.node, &facts);
    const char *pool = facts.pool && *facts.pool ? facts.pool : node_name;
    guint n = GPOINTER_TO_UINT(g_hash_table_lookup(pools, pool));
    g_hash_table_replace(pools, g_strdup(pool), GUINT_TO_POINTER(n + 1));
}

guint fp_view_owner_pools_locked(FpView *view, const FpPolicy *policy, const char *owner_uid,
                                 GHashTable *pools_out)
{
    if (!owner_uid) {
        return 0;
    }
    GHashTable *pools = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GHashTable *set = g_hash_table_lookup(view->owners, owner_uid);
    if (set) {
        GHashTableIter it;
        gpointer value;
        g_hash_table_iter_init(&it, set);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
            FpPod *pod = value;
            if (fp_pod_is_active(pod)) {
                count_pool(view, policy, pod->node_name, pools);
            } else {
                Assumed *a = g_hash_table_lookup(view->assumed, pod->uid);
                if (a) {
                    count_pool(view, policy, a->node, pools);
                }
            }
        }
    }
    guint n = g_hash_table_size(pools);
    if (pools_out) {
        GHashTableIter it;
        gpointer key, value;
        g_hash_table_iter_init(&it, pools);
        while (g_hash_table_iter_next(&it, &key, &value)) {
            g_hash_table_replace(pools_out, g_strdup(key), value);
        }
    }
    g_hash_table_unref(pools);
    return n;
}

/* ---- lock-free state ---- */

guint64 fp_view_generation(FpView *view)
{
    return atomic_load(&view->generation);
}

guint fp_view_node_count(FpView *view)
{
    return atomic_load(&view->n_nodes);
}

guint fp_view_pod_count(FpView *view)
{
    return atomic_load(&view->n_pods);
}

void fp_view_set_synced(FpView *view, FpKind kind, bool synced)
{
    atomic_store(&view->synced[kind == FP_KIND_PODS], synced);
}

bool fp_view_synced(FpView *view, FpKind kind)
{
    return atomic_load(&view->synced[kind == FP_KIND_PODS]);
}

void fp_view_set_limits(FpView *view, guint max_nodes, guint max_pods)
{
    atomic_store(&view->max[FP_KIND_NODES], max_nodes);
    atomic_store(&view->max[FP_KIND_PODS], max_pods);
}

guint fp_view_limit(FpView *view, FpKind kind)
{
    return atomic_load(&view->max[kind == FP_KIND_PODS]);
}

bool fp_view_over_limit(FpView *view, FpKind kind)
{
    return atomic_load(&view->over[kind == FP_KIND_PODS]);
}

guint64 fp_view_dropped(FpView *view, FpKind kind)
{
    return atomic_load(&view->dropped[kind == FP_KIND_PODS]);
}

void fp_view_touch(FpView *view)
{
    atomic_store(&view->last_event_us, fp_clock_now_us());
}

double fp_view_last_event_age(FpView *view)
{
    int64_t t = atomic_load(&view->last_event_us);
    if (t == 0) {
        return -1;
    }
    return (double)(fp_clock_now_us() - t) / G_USEC_PER_SEC;
}
