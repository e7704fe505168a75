/*
 * extender/server/readiness.c - readiness and staleness of the cluster view.
 */
#include "extender/server/readiness.h"

const char *fp_view_source_name(FpViewSource source)
{
    switch (source) {
    case FP_SOURCE_DEMO:
        return "demo";
    case FP_SOURCE_SNAPSHOT:
        return "snapshot";
    case FP_SOURCE_LIVE:
        return "live";
    }
    return "unknown";
}

bool fp_readiness_stale(FpReadiness *r)
{
    if (r->source != FP_SOURCE_LIVE || r->stale_after_s <= 0) {
        return false;
    }
    double age = fp_view_last_event_age(r->view);
    return age < 0 || age > r->stale_after_s;
}

bool fp_readiness_check(FpReadiness *r, const char **why)
{
    const char *reason = NULL;
    if (atomic_load(&r->shutting_down)) {
        reason = "shutting down";
    } else if (!fp_view_synced(r->view, FP_KIND_NODES)) {
        reason = "node view not synced yet";
    } else if (!fp_view_synced(r->view, FP_KIND_PODS)) {
        reason = "pod view not synced yet";
    } else if (fp_view_over_limit(r->view, FP_KIND_NODES)) {
        reason = "the cluster has more nodes than --max-nodes allows";
    } else if (fp_view_over_limit(r->view, FP_KIND_PODS)) {
        reason = "the cluster has more pods than --max-pods allows";
    }
    if (why) {
        *why = reason;
    }
    return reason == NULL;
}

char *fp_readiness_detail(FpReadiness *r)
{
    const char *why = NULL;
    if (fp_readiness_check(r, &why)) {
        return NULL;
    }
    g_autofree char *cause = NULL;
    FpKind kind = fp_view_synced(r->view, FP_KIND_NODES) ? FP_KIND_PODS : FP_KIND_NODES;
    if (r->informer && !atomic_load(&r->shutting_down) && !fp_view_synced(r->view, kind)) {
        FpInformerStats st;
        fp_informer_get_stats(r->informer, kind, &st);
        cause = g_steal_pointer(&st.last_error);
        fp_informer_stats_clear(&st);
    }
    return cause ? g_strdup_printf("%s: %s", why, cause) : g_strdup(why);
}

char *fp_readiness_refusal(FpReadiness *r, const char *why)
{
    g_autofree char *detail = fp_readiness_detail(r);
    return g_strdup_printf("flexplace not ready: %s", detail ? detail : why);
}
