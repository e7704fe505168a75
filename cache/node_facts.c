/*
 * cache/node_facts.c - the (policy, node) -> facts cache (node_facts.h).
 */
#include "cache/node_facts.h"

typedef struct {
    FpNode *node; /* ref */
    FpNodeFacts facts;
} Entry;

static GRWLock lock;      /* static storage: needs no init */
static FpPolicy *policy_; /* ref: the policy of every entry */
static GHashTable *table; /* FpNode* -> Entry* */

static void entry_free(gpointer p)
{
    Entry *e = p;
    fp_node_unref(e->node);
    g_free(e);
}

void fp_node_facts_cached(const FpPolicy *policy, const FpNode *const *nodes, guint n,
                          FpNodeFacts *out, guint capacity)
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
        } else {
            miss[n_miss++] = i;
        }
    }
    g_rw_lock_reader_unlock(&lock);
    if (n_miss == 0) {
        return;
    }
    for (guint k = 0; k < n_miss; k++) {
        fp_node_facts(policy, nodes[miss[k]], &out[miss[k]]);
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
            g_hash_table_insert(table, e->node, e);
        }
    }
    g_rw_lock_writer_unlock(&lock);
}

guint fp_node_facts_cache_size(void)
{
    g_rw_lock_reader_lock(&lock);
    guint n = table ? g_hash_table_size(table) : 0;
    g_rw_lock_reader_unlock(&lock);
    return n;
}
