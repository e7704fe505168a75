/*
 * scoring/model.c - helpers of the plain data model (scoring/model.h).
 *
 * Nodes and pods live in atomic reference-counted boxes (g_atomic_rc_box), so
 * ref/unref are lock-free and the last unref frees every owned string and
 * table.  The free functions accept partly built structs (counts always match
 * what was allocated), which is what the decoders in cache/ rely on when they
 * give up half way through an object.
 */
#include "scoring/model.h"

#include <stdlib.h>
#include <string.h>

#include "scoring/model_fit.h"
#include "scoring/time_to_serve.h"

/* ---- resource lists -------------------------------------------------- */

static FpResAmount *res_find(const FpResList *list, const char *name)
{
    if (!list || !name) {
        return NULL;
    }
    for (guint i = 0; i < list->len; i++) {
        if (strcmp(list->items[i].name, name) == 0) {
            return &list->items[i];
        }
    }
    return NULL;
}

static FpResAmount *res_append(FpResList *list, const char *name)
{
    list->items = g_renew(FpResAmount, list->items, list->len + 1);
    FpResAmount *a = &list->items[list->len++];
    a->name = g_strdup(name);
    a->value = 0;
    return a;
}

int64_t fp_res_list_get(const FpResList *list, const char *name)
{
    const FpResAmount *a = res_find(list, name);
    return a ? a->value : 0;
}

bool fp_res_list_has(const FpResList *list, const char *name)
{
    return res_find(list, name) != NULL;
}

void fp_res_list_set(FpResList *list, const char *name, int64_t value)
{
    g_return_if_fail(list != NULL && name != NULL);
    FpResAmount *a = res_find(list, name);
    if (!a) {
        a = res_append(list, name);
    }
    a->value = value;
}

/* a + b clamped to [INT64_MIN, INT64_MAX]. */
static int64_t add_saturating(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) {
        return b > 0 ? INT64_MAX : INT64_MIN;
    }
    return r;
}

void fp_res_list_add(FpResList *list, const char *name, int64_t value)
{
    g_return_if_fail(list != NULL && name != NULL);
    FpResAmount *a = res_find(list, name);
    if (!a) {
        a = res_append(list, name);
    }
    a->value = add_saturating(a->value, value);
}

void fp_res_list_clear(FpResList *list)
{
    if (!list) {
        return;
    }
    for (guint i = 0; i < list->len; i++) {
        g_free(list->items[i].name);
    }
    g_free(list->items);
    list->items = NULL;
    list->len = 0;
}

/* @dst must be an initialised list (zeroed or in use); its old entries are
 * freed and replaced by a copy of @src. */
void fp_res_list_copy(FpResList *dst, const FpResList *src)
{
    g_return_if_fail(dst != NULL);
    if (dst == src) {
        return;
    }
    fp_res_list_clear(dst);
    if (!src || src->len == 0) {
        return;
    }
    dst->items = g_new(FpResAmount, src->len);
    for (guint i = 0; i < src->len; i++) {
        dst->items[i].name = g_strdup(src->items[i].name);
        dst->items[i].value = src->items[i].value;
    }
    dst->len = src->len;
}

/* ---- nodes ----------------------------------------------------------- */

static GHashTable *string_table_new(void)
{
    return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

GHashTable *fp_interned_table_new(void)
{
    return g_hash_table_new_full(g_str_hash, g_str_equal, (GDestroyNotify)g_ref_string_release,
                                 (GDestroyNotify)g_ref_string_release);
}

void fp_node_set_label(FpNode *node, const char *key, const char *value)
{
    if (node->labels_interned) {
        g_hash_table_replace(node->labels, g_ref_string_new_intern(key),
                             g_ref_string_new_intern(value));
    } else {
        g_hash_table_replace(node->labels, g_strdup(key), g_strdup(value));
    }
}

void fp_node_set_labels(FpNode *node, GHashTable *labels)
{
    if (!labels) {
        return;
    }
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, labels);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        fp_node_set_label(node, k, v);
    }
}

void fp_node_set_first_label(FpNode *node, char *const *keys, const char *value)
{
    if (value && *value && keys && keys[0]) {
        fp_node_set_label(node, keys[0], value);
    }
}

FpNode *fp_node_new(const char *name)
{
    FpNode *node = g_atomic_rc_box_new0(FpNode);
    node->name = g_strdup(name);
    node->labels = string_table_new();
    node->ready = true;
    return node;
}

FpNode *fp_node_ref(FpNode *node)
{
    g_return_val_if_fail(node != NULL, NULL);
    return g_atomic_rc_box_acquire(node);
}

static void node_clear(gpointer data)
{
    FpNode *node = data;
    g_free(node->name);
    if (node->labels) {
        g_hash_table_unref(node->labels);
    }
    for (guint i = 0; i < node->n_taints; i++) {
        g_free(node->taints[i].key);
        g_free(node->taints[i].value);
    }
    g_free(node->taints);
    fp_res_list_clear(&node->allocatable);
    g_free(node->resource_version);
    g_free(node->image_keys);
}

static int cmp_u64(const void *a, const void *b)
{
    guint64 x = *(const guint64 *)a;
    guint64 y = *(const guint64 *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    guint64 key;
    guint32 mib;
} ImagePair;

static int cmp_pair(const void *a, const void *b)
{
    return cmp_u64(&((const ImagePair *)a)->key, &((const ImagePair *)b)->key);
}

static guint32 size_mib(int64_t bytes)
{
    if (bytes <= 0) {
        return 0;
    }
    guint64 mib = ((guint64)bytes + (1u << 20) - 1) >> 20;
    return mib > G_MAXUINT32 ? G_MAXUINT32 : (guint32)mib;
}

void fp_node_set_images(FpNode *node, const guint64 *keys, const int64_t *size_bytes, guint n)
{
    g_clear_pointer(&node->image_keys, g_free);
    node->image_mib = NULL;
    node->n_images = 0;
    ImagePair *pairs = g_new(ImagePair, MIN(n, FP_NODE_MAX_IMAGE_NAMES) + 1);
    guint m = 0;
    for (guint i = 0; i < n; i++) {
        if (keys[i] == 0) {
            continue;
        }
        guint32 mib = size_mib(size_bytes[i]);
        bool dup = false;
        for (guint j = 0; j < m && !dup; j++) { /* at most 128 x 128 */
            if (pairs[j].key == keys[i]) {
                pairs[j].mib = MAX(pairs[j].mib, mib);
                dup = true;
            }
        }
        if (!dup && m < FP_NODE_MAX_IMAGE_NAMES) {
            pairs[m++] = (ImagePair){keys[i], mib};
        }
    }
    if (m > 0) {
        qsort(pairs, m, sizeof *pairs, cmp_pair);
        guint8 *block = g_malloc(m * (sizeof(guint64) + sizeof(guint32)));
        node->image_keys = (guint64 *)block;
        node->image_mib = (guint32 *)(block + m * sizeof(guint64));
        for (guint i = 0; i < m; i++) {
            node->image_keys[i] = pairs[i].key;
            node->image_mib[i] = pairs[i].mib;
        }
        node->n_images = m;
    }
    g_free(pairs);
}

int64_t fp_node_image_mib(const FpNode *node, guint64 key)
{
    if (!node || node->n_images == 0 || key == 0) {
        return -1;
    }
    const guint64 *hit = bsearch(&key, node->image_keys, node->n_images, sizeof(guint64), cmp_u64);
    return hit ? (int64_t)node->image_mib[hit - node->image_keys] : -1;
}

void fp_node_unref(FpNode *node)
{
    if (node) {
        g_atomic_rc_box_release_full(node, node_clear);
    }
}

const char *fp_node_label(const FpNode *node, const char *key)
{
    if (!node || !node->labels || !key) {
        return NULL;
    }
    return g_hash_table_lookup(node->labels, key);
}

/* ---- pods ------------------------------------------------------------ */

FpPod *fp_pod_new(void)
{
    FpPod *pod = g_atomic_rc_box_new0(FpPod);
    pod->phase = FP_PHASE_PENDING;
    return pod;
}

FpPod *fp_pod_ref(FpPod *pod)
{
    g_return_val_if_fail(pod != NULL, NULL);
    return g_atomic_rc_box_acquire(pod);
}

static void table_unref(GHashTable *table)
{
    if (table) {
        g_hash_table_unref(table);
    }
}

static void sel_reqs_free(FpSelReq *reqs, guint n)
{
    for (guint i = 0; i < n; i++) {
        g_free(reqs[i].key);
        g_strfreev(reqs[i].values);
    }
    g_free(reqs);
}

static void pod_clear(gpointer data)
{
    FpPod *pod = data;
    void (*release)(gpointer) = pod->interned ? (void (*)(gpointer))g_ref_string_release : g_free;
    if (pod->ns) {
        release(pod->ns);
    }
    g_free(pod->name);
    g_free(pod->uid);
    if (pod->node_name) {
        release(pod->node_name);
    }
    g_free(pod->scheduler_name);
    table_unref(pod->labels);
    table_unref(pod->annotations);
    fp_res_list_clear(&pod->requests);
    g_strfreev(pod->resource_keys);
    table_unref(pod->node_selector);
    for (guint i = 0; i < pod->n_affinity_terms; i++) {
        sel_reqs_free(pod->affinity_terms[i].exprs, pod->affinity_terms[i].n_exprs);
        sel_reqs_free(pod->affinity_terms[i].fields, pod->affinity_terms[i].n_fields);
    }
    g_free(pod->affinity_terms);
    for (guint i = 0; i < pod->n_tolerations; i++) {
        g_free(pod->tolerations[i].key);
        g_free(pod->tolerations[i].value);
    }
    g_free(pod->tolerations);
    fp_model_request_free(pod->model);
    char *owner[] = {pod->owner_kind, pod->owner_name, pod->owner_uid};
    for (guint i = 0; i < G_N_ELEMENTS(owner); i++) {
        if (owner[i]) {
            release(owner[i]);
        }
    }
    g_free(pod->resource_version);
}

void fp_pod_unref(FpPod *pod)
{
    if (pod) {
        g_atomic_rc_box_release_full(pod, pod_clear);
    }
}

const char *fp_pod_annotation(const FpPod *pod, const char *key)
{
    if (!pod || !pod->annotations || !key) {
        return NULL;
    }
    return g_hash_table_lookup(pod->annotations, key);
}

bool fp_pod_is_active(const FpPod *pod)
{
    if (!pod || !pod->node_name || pod->node_name[0] == '\0') {
        return false;
    }
    return pod->phase != FP_PHASE_SUCCEEDED && pod->phase != FP_PHASE_FAILED;
}
