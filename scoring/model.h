/*
 * scoring/model.h - the plain data model every flexplace module shares.
 *
 * Purpose: Node, Pod and Policy facts as plain C structs, decoded once at the
 * edges (cache/ from the API server or a snapshot file, policies/ from a
 * ConfigMap) and read by the pure scoring code.  Nothing here does I/O, takes a
 * lock or knows JSON.
 *
 * Ownership: FpNode, FpPod and FpPolicy are immutable once built and are
 * reference counted (fp_*_ref / fp_*_unref, atomic), so a reader can keep one
 * alive for a request while a writer swaps in a new version.  All strings and
 * tables inside are owned by the struct.  "Borrowed" pointers returned by the
 * getters below live as long as the struct they came from.
 *
 * Thread context: any thread; refcounts are atomic, contents never change after
 * construction.
 */
#ifndef FP_SCORING_MODEL_H
#define FP_SCORING_MODEL_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

/* ---- resource lists -------------------------------------------------- */

/* One resource amount.  Extended resources, memory and counts hold Value()
 * (ceiling, away from zero); "cpu" holds MilliValue(). */
typedef struct {
    char *name;
    int64_t value;
} FpResAmount;

/* A small owned array of resource amounts (typically under ten entries). */
typedef struct {
    FpResAmount *items;
    guint len;
} FpResList;

/* Value of @name in @list, or 0 when absent. */
int64_t fp_res_list_get(const FpResList *list, const char *name);
/* Whether @name is a key of @list (a "0" amount counts as present). */
bool fp_res_list_has(const FpResList *list, const char *name);
/* Set @name to @value (adds the entry when absent). */
void fp_res_list_set(FpResList *list, const char *name, int64_t value);
/* Add @value to @name (adds the entry when absent). Saturates at INT64_MAX. */
void fp_res_list_add(FpResList *list, const char *name, int64_t value);
/* Free the entries; leaves an empty list. */
void fp_res_list_clear(FpResList *list);
/* Deep copy. */
void fp_res_list_copy(FpResList *dst, const FpResList *src);

/* ---- nodes ----------------------------------------------------------- */

typedef enum {
    FP_TAINT_NO_SCHEDULE,
    FP_TAINT_PREFER_NO_SCHEDULE,
    FP_TAINT_NO_EXECUTE,
    FP_TAINT_OTHER, /* an effect string this build does not know */
} FpTaintEffect;

typedef struct {
    char *key;
    char *value; /* may be NULL */
    FpTaintEffect effect;
} FpTaint;

/* A Node as placement needs it.  Built by cache/ from a v1.Node. */
typedef struct FpNode {
    char *name;
    /* char* -> char*, owned; never NULL.  With labels_interned (Nodes decoded
     * by cache/kobj.c) keys and values are interned GRefStrings, shared by
     * every Node with the same label; add to such a table only through
     * fp_node_set_label. */
    GHashTable *labels;
    bool labels_interned;
    FpTaint *taints;
    guint n_taints;
    bool unschedulable; /* spec.unschedulable */
    bool ready;         /* Ready condition "True"; true when no Ready condition is reported */
    FpResList allocatable;
    char *resource_version; /* may be NULL */
    /* status.images, compactly (scoring/time_to_serve.h): fp_image_key of
     * each name, sorted ascending without duplicates, and at the same index
     * the image's sizeBytes in MiB (rounded up, saturated at UINT32_MAX);
     * at most FP_NODE_MAX_IMAGE_NAMES (12 bytes each, so at most 1.5 KiB a
     * node).  One allocation: image_keys owns it, image_mib points into
     * it.  Set through fp_node_set_images. */
    guint64 *image_keys;
    guint32 *image_mib;
    guint n_images;
} FpNode;

FpNode *fp_node_new(const char *name);
/* Set label @key to @value (copies), whichever kind of table @node has. */
void fp_node_set_label(FpNode *node, const char *key, const char *value);
/* Set every label of @labels (char* -> char*; may be NULL) on @node. */
void fp_node_set_labels(FpNode *node, GHashTable *labels);
/* Set @value under the first key of @keys (a policy's label list, e.g.
 * label_region); nothing when @value is NULL or "" or @keys is empty. */
void fp_node_set_first_label(FpNode *node, char *const *keys, const char *value);
/* An empty table of interned GRefString keys and values. */
GHashTable *fp_interned_table_new(void);
/* Replace @node's images with @n (key, size in bytes) pairs: keys of 0 are
 * skipped, duplicates keep the larger size, and past
 * FP_NODE_MAX_IMAGE_NAMES distinct keys the rest are dropped (the first
 * ones given are kept: kubelet lists the largest images first). */
void fp_node_set_images(FpNode *node, const guint64 *keys, const int64_t *size_bytes, guint n);
/* The size in MiB of the image with key @key on @node, or -1 when the node
 * does not report it. */
int64_t fp_node_image_mib(const FpNode *node, guint64 key);
FpNode *fp_node_ref(FpNode *node);
void fp_node_unref(FpNode *node);
/* Borrowed label value or NULL. */
const char *fp_node_label(const FpNode *node, const char *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpNode, fp_node_unref)

/* ---- pods ------------------------------------------------------------ */

typedef enum {
    FP_PHASE_PENDING,
    FP_PHASE_RUNNING,
    FP_PHASE_SUCCEEDED,
    FP_PHASE_FAILED,
    FP_PHASE_UNKNOWN,
} FpPodPhase;

typedef enum {
    FP_SEL_IN,
    FP_SEL_NOT_IN,
    FP_SEL_EXISTS,
    FP_SEL_DOES_NOT_EXIST,
    FP_SEL_GT,
    FP_SEL_LT,
} FpSelOp;

/* One node selector requirement (matchExpressions or matchFields entry). */
typedef struct {
    char *key;
    FpSelOp op;
    char **values; /* NULL-terminated, owned; may be empty */
} FpSelReq;

/* One nodeSelectorTerm: all requirements must hold (AND). */
typedef struct {
    FpSelReq *exprs;
    guint n_exprs;
    FpSelReq *fields; /* matchFields; only metadata.name is meaningful */
    guint n_fields;
} FpSelTerm;

typedef struct {
    char *key; /* NULL or "" with op_exists matches every key */
    bool op_exists;
    char *value; /* for Equal */
    int effect;  /* FpTaintEffect, or -1 for "all effects" */
} FpToleration;

/* A Pod as placement needs it.  Built by cache/ from a v1.Pod.  Pods kept in
 * the live cache carry only identity, node, phase, priority, owner and
 * requests (labels/annotations/affinity NULL or empty to save memory). */
typedef struct FpPod {
    char *ns;
    char *name;
    char *uid;
    char *node_name;      /* spec.nodeName, NULL while pending */
    char *scheduler_name; /* may be NULL */
    FpPodPhase phase;
    bool terminating;        /* metadata.deletionTimestamp set */
    int32_t priority;        /* spec.priority, 0 when absent */
    GHashTable *labels;      /* char* -> char*, may be NULL */
    GHashTable *annotations; /* char* -> char*, may be NULL */
    /* Effective requests, Kubernetes' PodRequests rule: max(sum of containers
     * plus sidecars, largest init-container need), plus overhead; limits
     * default requests for resources a container only limits. */
    FpResList requests;
    /* Resource keys named in any container or init container requests or
     * limits (kube-scheduler's managedResources "interest" test). */
    char **resource_keys;      /* NULL-terminated, may be NULL */
    GHashTable *node_selector; /* char* -> char*, may be NULL */
    FpSelTerm *affinity_terms; /* required node affinity, OR of terms */
    guint n_affinity_terms;
    bool has_required_affinity;
    FpToleration *tolerations;
    guint n_tolerations;
    char *owner_kind; /* controller ownerReference, may be NULL */
    char *owner_name;
    char *owner_uid;
    char *resource_version; /* may be NULL */
    /* What the pod says about the model it serves (scoring/model_fit.h),
     * owned; NULL when it says nothing.  Only on detailed pods. */
    struct FpModelRequest *model;
    /* Decoded with everything placement reads (labels, annotations,
     * selectors, tolerations); false for the live cache's compact pods. */
    bool detailed;
    /* ns, node_name and owner_* are interned GRefStrings (the live cache's
     * compact pods): released, not freed, and never to be replaced. */
    bool interned;
} FpPod;

FpPod *fp_pod_new(void);
FpPod *fp_pod_ref(FpPod *pod);
void fp_pod_unref(FpPod *pod);
const char *fp_pod_annotation(const FpPod *pod, const char *key);
/* Whether the pod holds resources on its node: bound and not Succeeded/Failed. */
bool fp_pod_is_active(const FpPod *pod);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpPod, fp_pod_unref)

G_END_DECLS

#endif /* FP_SCORING_MODEL_H */
