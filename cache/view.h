/*
 * cache/view.h - the cluster view: nodes, the GPUs their pods use, and the
 * GPUs flexplace has assumed for pods it bound but the watch has not shown.
 *
 * Purpose: the one source of "is this GPU free?" for every verb.  Fed by a
 * snapshot file (fp_view_replace_*) or by the live informer (cache/informer.h)
 * and read by HTTP threads and the CLI.
 *
 * Concurrency scheme: one GRWLock.  Writers (the informer threads, the bind
 * path recording an assumption) decode JSON *outside* the lock and take the
 * write lock only to swap pointers and adjust counters: O(1) per event, or
 * O(nodes + pods) for a relist swap of prebuilt tables.  Readers take the read
 * lock around lookups and the pure scoring loop only, never across I/O or JSON
 * work, so a request never waits for the network.  Nodes are immutable and
 * refcounted: a reader that needs one after unlocking takes a reference.
 *
 * Ownership: the view owns every FpNode and FpPod it was given ("transfer
 * full" below).  Pointers returned by *_locked functions are borrowed and valid
 * only while the caller holds the read (or write) lock.
 *
 * Accounting rules (kube-scheduler's): a pod uses its effective requests on
 * spec.nodeName while it is bound and not Succeeded/Failed; terminating pods
 * still count; pending pods count nowhere.  Only extended resources (names
 * containing '/', e.g. nvidia.com/gpu) are tracked.
 */
#ifndef FP_CACHE_VIEW_H
#define FP_CACHE_VIEW_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "cache/gpu_inventory.h"
#include "scoring/engine.h"
#include "scoring/model.h"

G_BEGIN_DECLS

typedef struct FpView FpView;

/* One extended resource of a node, for the request path: interned name
 * (g_ref_string_new_intern: compare by address with an interned name), the
 * node's allocatable (@listed: the Node lists it) and what active pods use
 * and flexplace assumed. */
typedef struct {
    const char *resource;
    bool listed;
    int64_t allocatable;
    int64_t used;
    int64_t assumed;
} FpGpuSlot;

#define FP_VIEW_GPU_SLOTS 6

/* Per node name.  Exists while a Node, an active pod or an assumption refers
 * to the name.  The fields a request reads for a candidate come first, so
 * that they share few cache lines. */
typedef struct {
    const char *name;
    const FpNode *node; /* NULL when no Node object of that name is known */
    /* Kept beside the Node for the request path, so that a candidate costs
     * one lookup and no walk through the Node (set with the Node): */
    bool ready;         /* node->ready */
    bool unschedulable; /* node->unschedulable */
    /* The extended resources of ext_allocatable, used and assumed, kept
     * together (gpu_complete: all of them fit in the slots; else read the
     * lists). */
    bool gpu_complete;
    guint n_gpu;
    const FpPolicy *facts_policy; /* the policy @facts were computed under (the
                                     view's, fp_view_use_policy), or NULL */
    /* fp_node_facts(facts_policy, node), its strings interned
     * (GRefString): like the rest, valid only while the lock is held. */
    FpNodeFacts facts;
    /* The node's GPU inventory under facts_policy (a reference; NULL
     * without GPUs), computed when the Node or the policy changes: the
     * device class of each GPU resource. */
    FpGpuInventory *gpu_inventory;
    FpGpuSlot gpu[FP_VIEW_GPU_SLOTS];
    FpResList used;            /* extended resources requested by active pods bound here */
    FpResList assumed;         /* extended resources assumed by flexplace's bind verb */
    FpResList ext_allocatable; /* the extended resources of node->allocatable */
} FpNodeState;

FpView *fp_view_new(void);
void fp_view_free(FpView *view);

/* ---- writers (any thread; each call takes the write lock briefly) ---- */

/* Add or replace the node of that name (transfer full). */
void fp_view_apply_node(FpView *view, FpNode *node);
void fp_view_remove_node(FpView *view, const char *name);
/* Add or replace the pod of that UID (transfer full); moves its usage. */
void fp_view_apply_pod(FpView *view, FpPod *pod);
void fp_view_remove_pod(FpView *view, const char *uid);
/* Replace every node / every pod at once (a relist).  The arrays' elements
 * are taken over (transfer full) and the arrays are unreffed. */
void fp_view_replace_nodes(FpView *view, GPtrArray *nodes);
void fp_view_replace_pods(FpView *view, GPtrArray *pods);
/* fp_view_replace_pods for a LIST from the API server that began when
 * fp_view_assume_mark() returned @mark: the assumptions recorded by then
 * (held ones included) of pods the list does not contain are dropped, as a
 * DELETED event would drop them - the pod was deleted or finished while the
 * watch was down (an API server restart, a 410).  Assumptions recorded
 * after @mark are kept: the list may predate their pod.  @mark 0 drops
 * none.  Returns how many were dropped. */
guint fp_view_replace_pods_listed(FpView *view, GPtrArray *pods, guint64 mark);
/* A mark for fp_view_replace_pods_listed, taken before the LIST's first
 * request: it orders the assumptions recorded so far before the list. */
guint64 fp_view_assume_mark(FpView *view);

/* ---- assumed allocations (bind verb) ---- */

/* Record that pod @uid was bound to @node and uses @count of @resource, until
 * the watch shows the pod bound (then its own requests count), it is deleted
 * (or a relist no longer lists it, fp_view_replace_pods_listed),
 * fp_view_forget_assumed is called (failed bind), or @ttl_seconds pass.
 * Returns FALSE (and records nothing) when @node lacks @count free GPUs of
 * @resource counting used and assumed ones, with @why set to a static reason;
 * the check and the record are one atomic step.  Assuming a UID again (a
 * retried bind) replaces its earlier assumption, whose GPUs do not count
 * against it on the same node; a refused retry leaves the earlier one in
 * place.  A pod the view shows bound is never assumed: TRUE when bound to
 * @node, FALSE otherwise. */
bool fp_view_assume(FpView *view, const char *uid, const char *ns, const char *name,
                    const char *node, const char *resource, int64_t count, double ttl_seconds,
                    const char **why);
/* Roll back an assumption (the bind definitely failed).  An assumption
 * held for an unknown outcome (fp_view_hold_assumed) is kept.  Returns
 * whether one was dropped. */
bool fp_view_forget_assumed(FpView *view, const char *uid);
/* The bind of pod @uid ended with its outcome unknown (the Binding POST
 * timed out or lost its connection, and the pod does not show as bound):
 * the API server may still commit it.  Its assumption is held: a definite
 * failure of a later retry does not roll it back, and a retry to another
 * node leaves it in place (both count) instead of moving it.  Held
 * assumptions end only when the watch shows the pod bound (on any node),
 * finished or deleted, when the API server confirms it bound
 * (fp_view_settle_assumed), or at their TTL.  Returns whether one existed. */
bool fp_view_hold_assumed(FpView *view, const char *uid);
/* The API server confirmed pod @uid bound to @node: held assumptions it
 * left on other nodes can no longer commit and are dropped (returns how
 * many); the one on @node is no longer unknown. */
guint fp_view_settle_assumed(FpView *view, const char *uid, const char *node);
/* How many assumptions are held for an unknown outcome. */
guint fp_view_held_count(FpView *view);
/* Drop assumptions older than their TTL (held ones too). Returns how many
 * expired. */
guint fp_view_expire_assumed(FpView *view);
/* Total GPUs currently assumed (all resources, held ones included). */
int64_t fp_view_assumed_total(FpView *view);
/* Whether pod @uid has an assumption; if so *node (may be NULL) receives its
 * node name (g_free it) and *count (may be NULL) its GPUs. */
bool fp_view_assumed_lookup(FpView *view, const char *uid, char **node, int64_t *count);

/* Keep every node's facts (FpNodeState.facts) computed under @policy from
 * now on.  Recomputes them for every node under the write lock when @policy
 * is not the current one (about 1 µs per node), unless it is older (a lower
 * generation) than the current one: a request that began before a reload
 * does not flip the view back.  The view holds a reference on the policy. */
void fp_view_use_policy(FpView *view, const FpPolicy *policy);
/* The policy of the nodes' facts, compared by identity; NULL when none.
 * Lock-free; not to be dereferenced. */
const void *fp_view_facts_policy(FpView *view);

/* ---- readers ---- */

void fp_view_read_lock(FpView *view);
void fp_view_read_unlock(FpView *view);
/* Borrowed; NULL when unknown.  Caller holds the lock. */
const FpNodeState *fp_view_node_locked(FpView *view, const char *name);
/* fp_view_node_locked for each of @n names into @out, faster than one by one
 * for many names (the memory of later names is fetched while earlier ones
 * are compared).  Caller holds the lock. */
void fp_view_nodes_locked(FpView *view, const char *const *names, const guint32 *hashes, guint n,
                          const FpNodeState **out);
/* The hash of a node name the view indexes by; callers that hash the names
 * anyway pass these to fp_view_nodes_locked (@hashes, else NULL). */
guint32 fp_view_name_hash(const char *name);
/* Borrowed; NULL when unknown.  Caller holds the lock. */
const FpPod *fp_view_pod_locked(FpView *view, const char *uid);
/* Call @fn for every node state with a Node object. Caller holds the lock. */
void fp_view_foreach_node_locked(FpView *view, void (*fn)(const FpNodeState *st, void *data),
                                 void *data);
/* Call @fn for every pod bound to @node. Caller holds the lock. */
void fp_view_foreach_pod_on_node_locked(FpView *view, const char *node,
                                        void (*fn)(const FpPod *pod, void *data), void *data);
/* Pool name -> FpPoolStat* for @resource under @policy's pool labels, over
 * every schedulable, Ready node of the view (nodes without a pool label, and
 * cordoned or NotReady nodes, whose GPUs no new pod can use, are left out).  Cached
 * per (view generation, policy, resource); returns a new reference that the
 * caller releases with g_hash_table_unref (it stays valid after unlocking). */
GHashTable *fp_view_pool_stats_locked(FpView *view, const FpPolicy *policy, const char *resource);
/* Number of distinct pools holding active or assumed pods whose controller
 * owner has uid @owner_uid, and fills @pools_out (may be NULL) with pool name
 * -> GUINT_TO_POINTER(replicas). Caller holds the lock. */
guint fp_view_owner_pools_locked(FpView *view, const FpPolicy *policy, const char *owner_uid,
                                 GHashTable *pools_out);

/* ---- state for readiness and metrics (lock-free reads) ---- */

guint64 fp_view_generation(FpView *view);
guint fp_view_node_count(FpView *view);
guint fp_view_pod_count(FpView *view);
typedef enum { FP_KIND_NODES, FP_KIND_PODS } FpKind;
void fp_view_set_synced(FpView *view, FpKind kind, bool synced);
bool fp_view_synced(FpView *view, FpKind kind);

/* ---- bounds ----
 *
 * The view keeps at most max_nodes Node objects and max_pods pods (0 = no
 * limit).  An object that would pass its limit is dropped (freed), counted,
 * and its kind is marked over its limit until a relist
 * (fp_view_replace_nodes / _pods) fits again.  A view that misses objects
 * under-counts used GPUs, so it must not answer: fp_app_ready reports
 * "not ready" while either kind is over its limit.  The informer also stops
 * a LIST that passes the limit (the list fails, and is retried).  Defaults:
 * twice Kubernetes' published limits (5,000 nodes, 150,000 pods), about
 * 15 MiB and 200 MiB of view. */
#define FP_VIEW_DEFAULT_MAX_NODES 10000u
#define FP_VIEW_DEFAULT_MAX_PODS 300000u
void fp_view_set_limits(FpView *view, guint max_nodes, guint max_pods);
guint fp_view_limit(FpView *view, FpKind kind);
bool fp_view_over_limit(FpView *view, FpKind kind);
/* Objects dropped by the limit since the view was made. */
guint64 fp_view_dropped(FpView *view, FpKind kind);
/* Record that an event or bookmark arrived now (monotonic clock). */
void fp_view_touch(FpView *view);
/* Seconds since the last event or bookmark; -1 when none yet. */
double fp_view_last_event_age(FpView *view);

G_END_DECLS

#endif /* FP_CACHE_VIEW_H */
