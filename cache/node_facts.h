/*
 * cache/node_facts.h - fp_node_facts() computed once per (policy, node).
 *
 * Purpose: a node's facts (pool, region, product, memory, price ...) cost
 * about twenty label lookups, and the same nodes are asked for over and
 * over.  The view keeps each node's facts under its current policy
 * (view.h: FpNodeState.facts); this cache serves the rest: the Nodes of
 * full-Node requests, the CLI's placements, and view nodes under a policy
 * other than the view's (a request that began before a reload, the pool
 * totals of such a policy).  Facts are a pure function of (policy, node) and
 * both are immutable, so one process-wide cache keeps them.
 *
 * Exactness: the cache holds a reference on its policy and on every node it
 * has an entry for, so neither address can be reused by another object while
 * an entry names it; a hit returns exactly what fp_node_facts would.  A
 * different policy empties the cache.
 * Bounds: a lookup passes a capacity (callers use about twice the nodes of
 * the view); an insert that would pass it empties the cache first, which also
 * drops nodes that were replaced or deleted since.
 *
 * Ownership: facts borrow strings from the node and the policy, as
 * fp_node_facts' do: valid while the caller holds those.
 * Thread context: any thread.  Lookups of one batch share one read lock;
 * misses are computed outside any lock and inserted under the write lock.
 * Lock order: may be called with the view's lock held, never the reverse.
 * Errors: none.
 */
#ifndef FP_CACHE_NODE_FACTS_H
#define FP_CACHE_NODE_FACTS_H

#include <glib.h>

#include "cache/gpu_inventory.h"
#include "scoring/engine.h"

G_BEGIN_DECLS

/* out[i] = fp_node_facts(policy, nodes[i]) for each i < n with nodes[i]
 * non-NULL (entries for NULL nodes are left untouched). */
void fp_node_facts_cached(const FpPolicy *policy, const FpNode *const *nodes, guint n,
                          FpNodeFacts *out, guint capacity);

/* The same, and with @inv_out (may be NULL) each node's GPU inventory
 * (fp_gpu_inventory_new under @policy): a new reference, or NULL for a node
 * without GPUs; release with fp_gpu_inventory_unref.  The cache keeps the
 * inventory beside the facts. */
void fp_node_facts_inventory_cached(const FpPolicy *policy, const FpNode *const *nodes, guint n,
                                    FpNodeFacts *out, FpGpuInventory **inv_out, guint capacity);

/* Entries currently held (for tests). */
guint fp_node_facts_cache_size(void);

G_END_DECLS

#endif /* FP_CACHE_NODE_FACTS_H */
