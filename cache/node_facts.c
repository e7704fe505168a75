/*
 * cache/node_facts.c - the (policy, node) -> facts cache (node_facts.h).
 */
#include "cache/node_facts.h"

typedef struct {
    FpNode *node; /* ref */
    FpNodeFacts facts;
    FpGpuInventory *inv; /* ref, or NULL */
} Entry;

static GRWLock lock;      /* static storage: needs no init */
static FpPolicy *policy_; /* ref: the policy of every entry */
static GHashTable *table; /* FpNode* -> Entry* */

static void entry_free(gpointer p)
{
    Entry *e = p;
    fp_node_unref(e->node);
    fp_gpu_inventory_unref(e->inv);
    g_free(e);
}

void fp_node_facts_cached(const FpPolicy *policy, const FpNode *const *nodes, guint n,
                          FpNodeFacts *out, guint capacity)
{
    fp_node_facts_inventory_cached(policy, nodes, n, out, NULL, capacity);
}

void fp_node_facts_inventory_cached(const FpPolicy *policy, const FpNode *const *nodes, guint n,
                                    FpNodeFacts *out, FpGpuInventory **inv_out, guint capacity)
{
    if (n == 0) {
        return;
    }
    g_autofree guint *miss = g_new(guint, n);
    guint n_miss = 0;
    g_rw_lock_reader_lock(&lock);
    bool same = table && policy_ == policy;
    for (guint i = 0; i < n; i++) {
        if (!nodes[i]) {
            continue;
        }
        const Entry *e = same ? g_hash_table_lookup(table, nodes[i]) : NULL;
        if (e) {
            out[i] = e->facts;
            if (inv_out) {
                inv_out[i] = fp_gpu_inventory_ref(e->inv);
            }
        } else {
            miss[n_miss++] = i;
        }
    }
    g_rw_lock_reader_unlock(&lock);
    if (n_miss == 0) {
        return;
    }
    g_autofree FpGpuInventory **invs = g_new(FpGpuInventory *, n_miss);
    for (guint k = 0; k < n_miss; k++) {
        fp_node_facts(policy, nodes[miss[k]], &out[miss[k]]);
        invs[k] = fp_gpu_inventory_new(policy, nodes[miss[k]], &out[miss[k]]);
        if (inv_out) {
            inv_out[miss[k]] = fp_gpu_inventory_ref(invs[k]);
        }
    }
    g_rw_lock_writer_lock(&lock);
    if (!table) {
        table = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, entry_free);
    }
    if (policy_ != policy || g_hash_table_size(table) + n_miss > capacity) {
        g_hash_table_remove_all(table);
        if (policy_ != policy) {
            g_clear_pointer(&policy_, fp_policy_unref);
            policy_ = fp_policy_ref((FpPolicy *)policy);
        }
    }
    for (guint k = 0; k < n_miss && g_hash_table_size(table) < capacity; k++) {
        const FpNode *node = nodes[miss[k]];
        if (!g_hash_table_contains(table, node)) {
            Entry *e = g_new(Entry, 1);
            e->node = fp_node_ref((FpNode *)node);
            e->facts = out[miss[k]];
            e->inv = g_steal_pointer(&invs[k]);
            g_hash_table_insert(table, e->node, e);
        }
    }
    g_rw_lock_writer_unlock(&lock);
    for (guint k = 0; k < n_miss; k++) {
        fp_gpu_inventory_unref(invs[k]);
    }
}

guint fp_node_facts_cache_size(void)
{
    g_rw_lock_reader_lock(&lock);
    guint n = table ? g_hash_table_size(table) : 0;
    g_rw_lock_reader_unlock(&lock);
    return n;
}
