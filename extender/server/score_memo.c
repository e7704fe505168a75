/*
 * extender/server/score_memo.c - a pod's filter scores for its prioritize call
 * (score_memo.h).
 */
#include "extender/server/score_memo.h"

#include <string.h>

#include "cache/clock.h"
#include "cache/view.h"

typedef struct {
    FpPod *pod;       /* ref; NULL = empty slot */
    FpPolicy *policy; /* ref */
    guint64 policy_generation;
    gint64 stored_us; /* monotonic */
    guint n;
    char *arena;        /* the names, NUL-separated */
    const char **names; /* into arena */
    guint32 *hashes;    /* fp_view_name_hash of each name */
    guint8 *scores;
} Entry;

struct FpScoreMemo {
    GMutex lock;
    Entry entries[FP_SCORE_MEMO_ENTRIES];
    guint next;
};

static void entry_clear(Entry *e)
{
    if (e->pod) {
        fp_pod_unref(e->pod);
    }
    if (e->policy) {
        fp_policy_unref(e->policy);
    }
    g_free(e->arena);
    g_free(e->names);
    g_free(e->hashes);
    g_free(e->scores);
    memset(e, 0, sizeof *e);
}

FpScoreMemo *fp_score_memo_new(void)
{
    FpScoreMemo *memo = g_new0(FpScoreMemo, 1);
    g_mutex_init(&memo->lock);
    return memo;
}

void fp_score_memo_free(FpScoreMemo *memo)
{
    if (!memo) {
        return;
    }
    for (guint i = 0; i < FP_SCORE_MEMO_ENTRIES; i++) {
        entry_clear(&memo->entries[i]);
    }
    g_mutex_clear(&memo->lock);
    g_free(memo);
}

static bool same_key(const Entry *e, const FpPod *pod, const FpPolicy *policy)
{
    return e->pod == pod && e->policy == policy && e->policy_generation == policy->generation;
}

/* The indices of @args' verdicts on the filter's answer: @listed, else
 * those that pass and are not omitted (a new array, *n of them). */
static guint *answered(const FpExtenderArgs *args, const FpVerdict *verdicts, const guint *listed,
                       guint n_listed, guint *n)
{
    if (listed) {
        *n = n_listed;
        return g_memdup2(listed, sizeof *listed * MAX(n_listed, 1));
    }
    guint n_all = fp_extender_args_count(args);
    guint *idx = g_new(guint, MAX(n_all, 1));
    *n = 0;
    for (guint i = 0; i < n_all; i++) {
        if (verdicts[i].pass && !verdicts[i].omit) {
            idx[(*n)++] = i;
        }
    }
    return idx;
}

void fp_score_memo_put(FpScoreMemo *memo, const FpExtenderArgs *args, const FpPolicy *policy,
                       const FpVerdict *verdicts, const guint *listed, guint n_listed)
{
    if (!args->node_names || !args->name_hashes || !args->unique_names || !args->pod) {
        return;
    }
    /* Built outside the lock. */
    Entry fresh = {0};
    g_autofree guint *idx = answered(args, verdicts, listed, n_listed, &fresh.n);
    size_t bytes = 0;
    for (guint k = 0; k < fresh.n; k++) {
        bytes += strlen(args->node_names[idx[k]]) + 1;
    }
    fresh.arena = g_malloc(MAX(bytes, 1));
    fresh.names = g_new(const char *, MAX(fresh.n, 1));
    fresh.hashes = g_new(guint32, MAX(fresh.n, 1));
    fresh.scores = g_new(guint8, MAX(fresh.n, 1));
    char *at = fresh.arena;
    for (guint k = 0; k < fresh.n; k++) {
        guint i = idx[k];
        size_t len = strlen(args->node_names[i]);
        memcpy(at, args->node_names[i], len + 1);
        fresh.names[k] = at;
        fresh.hashes[k] = args->name_hashes[i];
        fresh.scores[k] = (guint8)CLAMP(verdicts[i].score, 0, 10);
        at += len + 1;
    }
    fresh.pod = fp_pod_ref(args->pod);
    fresh.policy = fp_policy_ref((FpPolicy *)policy);
    fresh.policy_generation = policy->generation;
    fresh.stored_us = fp_clock_now_us();

    Entry old;
    g_mutex_lock(&memo->lock);
    guint slot = FP_SCORE_MEMO_ENTRIES;
    for (guint i = 0; i < FP_SCORE_MEMO_ENTRIES && slot == FP_SCORE_MEMO_ENTRIES; i++) {
        if (same_key(&memo->entries[i], args->pod, policy)) {
            slot = i; /* the pod filtered again: its newer answer replaces the older */
        }
    }
    if (slot == FP_SCORE_MEMO_ENTRIES) {
        slot = memo->next;
        memo->next = (memo->next + 1) % FP_SCORE_MEMO_ENTRIES;
    }
    old = memo->entries[slot];
    memo->entries[slot] = fresh;
    g_mutex_unlock(&memo->lock);
    entry_clear(&old);
}

guint8 *fp_score_memo_get(FpScoreMemo *memo, const FpExtenderArgs *args, const FpPolicy *policy)
{
    if (!args->node_names || !args->name_hashes || !args->unique_names || !args->pod) {
        return NULL;
    }
    guint n = fp_extender_args_count(args);
    gint64 now = fp_clock_now_us();
    guint8 *scores = NULL;
    g_mutex_lock(&memo->lock);
    for (guint i = 0; i < FP_SCORE_MEMO_ENTRIES && !scores; i++) {
        const Entry *e = &memo->entries[i];
        if (!same_key(e, args->pod, policy) || e->n != n ||
            now - e->stored_us > FP_SCORE_MEMO_TTL_US) {
            continue;
        }
        guint k = 0;
        while (k < n && e->hashes[k] == args->name_hashes[k] &&
               strcmp(e->names[k], args->node_names[k]) == 0) {
            k++;
        }
        if (k == n) {
            scores = g_memdup2(e->scores, MAX(n, 1));
        }
    }
    g_mutex_unlock(&memo->lock);
    return scores;
}
