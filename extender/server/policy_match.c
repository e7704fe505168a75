/*
 * extender/server/policy_match.c - the policy's unmatched names, cached
 * (policy_match.h).
 */
#include "extender/server/policy_match.h"

#include <string.h>

#include "policies/policy_cluster.h"

struct FpPolicyMatch {
    FpPolicyStore *policies;
    FpView *view;
    GMutex lock;
    bool known;
    guint64 generation; /* of the policy last matched */
    gint64 at_us;       /* monotonic time of the last match */
    guint counts[3];
    char *text;
};

FpPolicyMatch *fp_policy_match_new(FpPolicyStore *policies, FpView *view)
{
    FpPolicyMatch *m = g_new0(FpPolicyMatch, 1);
    m->policies = policies;
    m->view = view;
    g_mutex_init(&m->lock);
    return m;
}

void fp_policy_match_free(FpPolicyMatch *m)
{
    if (!m) {
        return;
    }
    g_mutex_clear(&m->lock);
    g_free(m->text);
    g_free(m);
}

/* Recompute under m->lock; log when the set changed. */
static void refresh_locked(FpPolicyMatch *m, FpPolicy *policy)
{
    g_autoptr(FpPolicyUnmatched) u = fp_policy_unmatched(policy, m->view);
    char *text = fp_policy_unmatched_text(u);
    if (g_strcmp0(text, m->text) != 0) {
        if (text) {
            g_warning("policy %s: names that match no node of the cluster: %s",
                      policy->source ? policy->source : "-", text);
        } else if (m->known) {
            g_message("policy %s: every pool, region and SKU it names matches the cluster",
                      policy->source ? policy->source : "-");
        }
    }
    g_free(m->text);
    m->text = text;
    m->counts[0] = u->pools->len;
    m->counts[1] = u->regions->len;
    m->counts[2] = u->skus->len;
    m->known = true;
    m->generation = policy->generation;
    m->at_us = g_get_monotonic_time();
}

void fp_policy_match_status(FpPolicyMatch *m, FpPolicyMatchStatus *out)
{
    memset(out, 0, sizeof *out);
    if (!fp_view_synced(m->view, FP_KIND_NODES)) {
        return;
    }
    g_autoptr(FpPolicy) policy = fp_policy_store_get(m->policies);
    g_mutex_lock(&m->lock);
    gint64 now = g_get_monotonic_time();
    if (policy && (!m->known || m->generation != policy->generation ||
                   now - m->at_us > (gint64)(FP_POLICY_MATCH_INTERVAL_S * G_USEC_PER_SEC))) {
        refresh_locked(m, policy);
    }
    out->known = m->known;
    out->pools = m->counts[0];
    out->regions = m->counts[1];
    out->skus = m->counts[2];
    out->text = g_strdup(m->text);
    g_mutex_unlock(&m->lock);
}

void fp_policy_match_status_clear(FpPolicyMatchStatus *st)
{
    g_clear_pointer(&st->text, g_free);
}
