/*
 * scoring/short_list.c - the best K passing nodes (short_list.h).
 */
#include "scoring/short_list.h"

#include <string.h>

#include "scoring/hash.h"

guint fp_short_list_size(const FpPolicy *policy, const FpDemand *demand)
{
    if (!demand->resource) {
        return 0;
    }
    if (demand->profile && demand->profile->short_list >= 0) {
        return (guint)demand->profile->short_list;
    }
    return policy->short_list;
}

guint32 fp_short_list_seed(const FpPod *pod)
{
    if (pod->uid && *pod->uid) {
        return fp_fnv1a_str(pod->uid);
    }
    guint32 h = fp_fnv1a_str(pod->ns ? pod->ns : "");
    h = fp_fnv1a(h, "/", 1);
    return fp_fnv1a(h, pod->name ? pod->name : "", pod->name ? strlen(pod->name) : 0);
}

guint32 fp_short_list_tie(guint32 seed, guint32 name_hash)
{
    /* murmur3's finalizer over both: every bit of each moves the key */
    guint32 h = seed ^ (name_hash * 0x9e3779b1u);
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

bool fp_short_list_before(const FpVerdict *a, guint32 tie_a, const FpVerdict *b, guint32 tie_b)
{
    if (a->total > b->total + 1e-12) {
        return true;
    }
    if (a->total < b->total - 1e-12) {
        return false;
    }
    if (a->score != b->score) {
        return a->score > b->score;
    }
    return tie_a < tie_b;
}

/* The heap keeps the K best seen so far with the worst of them at the root. */
typedef struct {
    const FpVerdict *v;
    const guint32 *tie;
    guint *idx;
    guint len;
} Heap;

static bool worse(const Heap *h, guint a, guint b)
{
    return fp_short_list_before(&h->v[h->idx[b]], h->tie[h->idx[b]], &h->v[h->idx[a]],
                                h->tie[h->idx[a]]);
}

static void sift_down(Heap *h, guint at)
{
    for (;;) {
        guint l = 2 * at + 1;
        guint r = l + 1;
        guint w = at;
        if (l < h->len && worse(h, l, w)) {
            w = l;
        }
        if (r < h->len && worse(h, r, w)) {
            w = r;
        }
        if (w == at) {
            return;
        }
        guint t = h->idx[at];
        h->idx[at] = h->idx[w];
        h->idx[w] = t;
        at = w;
    }
}

static void sift_up(Heap *h, guint at)
{
    while (at > 0) {
        guint parent = (at - 1) / 2;
        if (!worse(h, at, parent)) {
            return;
        }
        guint t = h->idx[at];
        h->idx[at] = h->idx[parent];
        h->idx[parent] = t;
        at = parent;
    }
}

/* Omit every passing verdict but the best @k (more than @k pass). */
static void keep_best(FpVerdict *v, guint n, const guint32 *tie, guint k)
{
    Heap h = {.v = v, .tie = tie, .idx = g_new(guint, k), .len = 0};
    for (guint i = 0; i < n; i++) {
        if (!v[i].pass) {
            continue;
        }
        if (h.len < k) {
            h.idx[h.len++] = i;
            sift_up(&h, h.len - 1);
        } else if (fp_short_list_before(&v[i], tie[i], &v[h.idx[0]], tie[h.idx[0]])) {
            v[h.idx[0]].omit = true;
            h.idx[0] = i;
            sift_down(&h, 0);
        } else {
            v[i].omit = true;
        }
    }
    g_free(h.idx);
}

guint fp_short_list_apply(FpVerdict *v, guint n, const guint32 *tie, guint k, guint *listed)
{
    guint passing = 0;
    for (guint i = 0; i < n; i++) {
        passing += v[i].pass;
    }
    if (k == 0 || passing == 0) {
        return passing;
    }
    if (passing > k) {
        keep_best(v, n, tie, k);
    }
    guint n_listed = 0;
    for (guint i = 0; i < n; i++) {
        if (!v[i].pass) {
            v[i].omit = true;
        } else if (!v[i].omit && listed) {
            listed[n_listed++] = i;
        }
    }
    return MIN(passing, k);
}
