/*
 * extender/server/collectors.c - the metric collectors that read the view,
 * the informer, the policy store and the HTTP servers at scrape time.
 */
#include "extender/server/collectors.h"

#include "cache/node_facts.h"

#include <string.h>

static void collect_cache(FpMetricsWriter *w, void *data)
{
    const FpServerSources *src = data;
    fp_metrics_writer_family(w, "flexplace_cache_objects", "Objects in the cluster view, by kind.",
                             FP_METRIC_GAUGE);
    fp_metrics_writer_sample(w, FP_LABEL_NAMES("kind"), FP_LABELS("nodes"),
                             fp_view_node_count(src->view));
    fp_metrics_writer_sample(w, FP_LABEL_NAMES("kind"), FP_LABELS("pods"),
                             fp_view_pod_count(src->view));
    fp_metrics_writer_family(w, "flexplace_cache_synced",
                             "1 when the view of a kind has completed its list.", FP_METRIC_GAUGE);
    fp_metrics_writer_sample(w, FP_LABEL_NAMES("kind"), FP_LABELS("nodes"),
                             fp_view_synced(src->view, FP_KIND_NODES));
    fp_metrics_writer_sample(w, FP_LABEL_NAMES("kind"), FP_LABELS("pods"),
                             fp_view_synced(src->view, FP_KIND_PODS));
    double age = fp_view_last_event_age(src->view);
    if (age >= 0) {
        fp_metrics_writer_family(w, "flexplace_cache_last_event_age_seconds",
                                 "Seconds since the last watch event or bookmark (or since a "
                                 "snapshot was loaded).",
                                 FP_METRIC_GAUGE);
        fp_metrics_writer_sample(w, NULL, NULL, age);
    }
    fp_metrics_writer_family(w, "flexplace_assumed_gpus",
                             "GPUs flexplace bound pods to that the watch has not shown yet.",
                             FP_METRIC_GAUGE);
    fp_metrics_writer_sample(w, NULL, NULL, (double)fp_view_assumed_total(src->view));
    fp_metrics_writer_family(w, "flexplace_assumed_held",
                             "Assumptions held because their bind's outcome is unknown (the "
                             "Binding may still commit).",
                             FP_METRIC_GAUGE);
    fp_metrics_writer_sample(w, NULL, NULL, (double)fp_view_held_count(src->view));
}

static void collect_policy(FpMetricsWriter *w, void *data)
{
    const FpServerSources *src = data;
    FpPolicyStoreStatus st;
    fp_policy_store_status(src->policies, &st);
    fp_metrics_writer_family(w, "flexplace_policy_generation",
                             "Generation of the policy in force (1 = the first one loaded).",
                             FP_METRIC_GAUGE);
    fp_metrics_writer_sample(w, NULL, NULL, (double)st.generation);
    fp_metrics_writer_family(w, "flexplace_policy_reload_errors_total",
                             "Policy reloads rejected (the last good policy stayed).",
                             FP_METRIC_COUNTER);
    fp_metrics_writer_sample(w, NULL, NULL, (double)st.reload_errors);
    fp_metrics_writer_family(w, "flexplace_policy_reloads_total", "Policy reloads installed.",
                             FP_METRIC_COUNTER);
    fp_metrics_writer_sample(w, NULL, NULL, (double)st.reloads_ok);
    fp_metrics_writer_family(w, "flexplace_policy_last_reload_success",
                             "1 when the last policy reload succeeded.", FP_METRIC_GAUGE);
    fp_metrics_writer_sample(w, NULL, NULL, st.last_ok ? 1 : 0);
    fp_policy_store_status_clear(&st);
    FpPolicyMatchStatus ms = {0};
    if (src->match) {
        fp_policy_match_status(src->match, &ms);
    }
    if (ms.known) {
        fp_metrics_writer_family(w, "flexplace_policy_unmatched_names",
                                 "Names in the policy that match no node of the cluster, by kind "
                                 "(a misspelt pool loses its ceiling and price).",
                                 FP_METRIC_GAUGE);
        fp_metrics_writer_sample(w, FP_LABEL_NAMES("kind"), FP_LABELS("pool"), ms.pools);
        fp_metrics_writer_sample(w, FP_LABEL_NAMES("kind"), FP_LABELS("region"), ms.regions);
        fp_metrics_writer_sample(w, FP_LABEL_NAMES("kind"), FP_LABELS("sku"), ms.skus);
    }
    fp_policy_match_status_clear(&ms);
}

static void collect_informer(FpMetricsWriter *w, void *data)
{
    const FpServerSources *src = data;
    const struct {
        FpKind kind;
        const char *name;
    } kinds[] = {{FP_KIND_NODES, "nodes"}, {FP_KIND_PODS, "pods"}};
    /* A snapshot has no watch: the families still render (as 0) so that
     * dashboards and alerts see the series either way. */
    FpInformerStats st[2];
    memset(st, 0, sizeof st);
    for (guint k = 0; src->informer && k < 2; k++) {
        fp_informer_get_stats(src->informer, kinds[k].kind, &st[k]);
    }
    fp_metrics_writer_family(w, "flexplace_watch_restarts_total",
                             "Watch restarts by resource and cause.", FP_METRIC_COUNTER);
    for (guint k = 0; k < 2; k++) {
        for (int c = 0; c < FP_RESTART_N_CAUSES; c++) {
            fp_metrics_writer_sample(w, FP_LABEL_NAMES("resource", "cause"),
                                     FP_LABELS(kinds[k].name, fp_restart_cause_name(c)),
                                     (double)st[k].restarts[c]);
        }
    }
    fp_metrics_writer_family(w, "flexplace_relists_total", "Completed LISTs by resource.",
                             FP_METRIC_COUNTER);
    for (guint k = 0; k < 2; k++) {
        fp_metrics_writer_sample(w, FP_LABEL_NAMES("resource"), FP_LABELS(kinds[k].name),
                                 (double)st[k].relists);
    }
    fp_metrics_writer_family(w, "flexplace_watch_events_total",
                             "Watch events applied to the view by resource.", FP_METRIC_COUNTER);
    for (guint k = 0; k < 2; k++) {
        fp_metrics_writer_sample(w, FP_LABEL_NAMES("resource"), FP_LABELS(kinds[k].name),
                                 (double)st[k].events);
    }
    fp_metrics_writer_family(w, "flexplace_watch_decode_errors_total",
                             "Watch lines or objects skipped because they did not decode.",
                             FP_METRIC_COUNTER);
    for (guint k = 0; k < 2; k++) {
        fp_metrics_writer_sample(w, FP_LABEL_NAMES("resource"), FP_LABELS(kinds[k].name),
                                 (double)st[k].decode_errors);
    }
    for (guint k = 0; k < 2; k++) {
        fp_informer_stats_clear(&st[k]);
    }
}

typedef struct {
    const FpPolicy *policy;
    GHashTable *groups; /* "pool\x1fregion\x1fsku" -> gint64[3] */
    guint n_nodes;
} PoolScan;

static void scan_pool(const FpNodeState *st, void *data)
{
    PoolScan *s = data;
    FpNodeFacts facts;
    fp_node_facts(s->policy, st->node, &facts);
    /* the view's inventory when it is under this policy, else the cache's */
    g_autoptr(FpGpuInventory) own = NULL;
    const FpGpuInventory *inv = st->gpu_inventory;
    if (st->facts_policy != s->policy) {
        fp_node_facts_inventory_cached(s->policy, &st->node, 1, &facts, &own,
                                       2 * s->n_nodes + 1024);
        inv = own;
    }
    for (guint i = 0; i < st->node->allocatable.len; i++) {
        const char *r = st->node->allocatable.items[i].name;
        int64_t alloc = st->node->allocatable.items[i].value;
        if (alloc <= 0 || !fp_policy_is_gpu_resource(s->policy, r)) {
            continue;
        }
        /* the sku label names the device: "A100-SXM4-40GB MIG 1g.5gb (1/7),
         * 4.75 GiB", "T4 shared 1/4", else the GPU product */
        const FpDeviceClass *d = fp_gpu_inventory_find(inv, r);
        char device[FP_DEVICE_DESCRIBE_MAX];
        if (d) {
            fp_device_describe(d, device, sizeof device);
        } else {
            g_strlcpy(device, facts.product ? facts.product : "", sizeof device);
        }
        char *key = g_strdup_printf("%s\x1f%s\x1f%s", facts.pool, facts.region, device);
        gint64 *v = g_hash_table_lookup(s->groups, key);
        if (!v) {
            v = g_new0(gint64, 3);
            g_hash_table_insert(s->groups, key, v);
        } else {
            g_free(key);
        }
        v[0] += alloc;
        v[1] += fp_res_list_get(&st->used, r);
        v[2] += fp_res_list_get(&st->assumed, r);
    }
}

static void collect_pools(FpMetricsWriter *w, void *data)
{
    const FpServerSources *src = data;
    g_autoptr(FpPolicy) policy = fp_policy_store_get(src->policies);
    PoolScan s = {policy, g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
                  fp_view_node_count(src->view)};
    fp_view_read_lock(src->view);
    fp_view_foreach_node_locked(src->view, scan_pool, &s);
    fp_view_read_unlock(src->view);
    fp_metrics_writer_family(w, "flexplace_pool_gpus",
                             "GPUs by pool, region and SKU: allocatable, used by bound pods, "
                             "assumed by flexplace's binds.",
                             FP_METRIC_GAUGE);
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, s.groups);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        g_auto(GStrv) parts = g_strsplit(key, "\x1f", 3);
        const gint64 *v = value;
        const char *states[] = {"allocatable", "used", "assumed"};
        for (int k = 0; k < 3; k++) {
            fp_metrics_writer_sample(w, FP_LABEL_NAMES("pool", "region", "sku", "state"),
                                     FP_LABELS(parts[0], parts[1], parts[2], states[k]),
                                     (double)v[k]);
        }
    }
    g_hash_table_unref(s.groups);
}

/* The HTTP servers' bounds (extender/http/http_server.h): what they refused or
 * cut and why, open connections against the limit, connections accepted and
 * accept errors, body bytes being buffered, and with TLS the reloads and the
 * serving certificate's expiry. */
static void collect_http(FpMetricsWriter *w, void *data)
{
    const FpServerSources *src = data;
    FpHttpServer *servers[] = {g_atomic_pointer_get(src->http),
                               g_atomic_pointer_get(src->http_metrics)};
    FpHttpStats sum = {0};
    gint64 not_after = 0;
    bool any = false;
    for (guint k = 0; k < G_N_ELEMENTS(servers); k++) {
        if (!servers[k]) {
            continue;
        }
        FpHttpStats st;
        fp_http_server_stats(servers[k], &st);
        for (int r = 0; r < FP_HTTP_REJECT_N; r++) {
            sum.rejected[r] += st.rejected[r];
        }
        sum.open_connections += st.open_connections;
        sum.accepted += st.accepted;
        sum.accept_errors += st.accept_errors;
        sum.handoff_errors += st.handoff_errors;
        sum.connection_limit += st.connection_limit;
        sum.body_bytes += st.body_bytes;
        sum.tls_reloads += st.tls_reloads;
        sum.tls_reload_errors += st.tls_reload_errors;
        if (k == 0) {
            not_after = st.tls_not_after;
        }
        any = true;
    }
    if (!any) {
        return;
    }
    fp_metrics_writer_family(w, "flexplace_http_rejections_total",
                             "Requests or connections the HTTP server refused or cut, by bound: "
                             "body_too_large (413), body_budget (503), malformed (bad request "
                             "line or headers over the limit), timeout (a request not arrived "
                             "within its deadline), connection_limit and address_limit (cut "
                             "to make room for a newer connection), client_certificate "
                             "(403), shutting_down (503), idle (keep-alive past its idle "
                             "deadline).",
                             FP_METRIC_COUNTER);
    for (int r = 0; r < FP_HTTP_REJECT_N; r++) {
        fp_metrics_writer_sample(w, FP_LABEL_NAMES("reason"), FP_LABELS(fp_http_reject_name(r)),
                                 (double)sum.rejected[r]);
    }
    fp_metrics_writer_family(w, "flexplace_http_connections", "Open HTTP connections.",
                             FP_METRIC_GAUGE);
    fp_metrics_writer_sample(w, NULL, NULL, sum.open_connections);
    fp_metrics_writer_family(w, "flexplace_http_accepted_connections_total",
                             "Connections taken off the listen queue by the accept thread.",
                             FP_METRIC_COUNTER);
    fp_metrics_writer_sample(w, NULL, NULL, (double)sum.accepted);
    fp_metrics_writer_family(w, "flexplace_http_accept_errors_total",
                             "Connections not accepted, by stage: accept (accept() failed for "
                             "want of descriptors or memory; the accept thread pauses briefly), "
                             "handoff (accepted, then refused by libmicrohttpd and closed).",
                             FP_METRIC_COUNTER);
    fp_metrics_writer_sample(w, FP_LABEL_NAMES("stage"), FP_LABELS("accept"),
                             (double)sum.accept_errors);
    fp_metrics_writer_sample(w, FP_LABEL_NAMES("stage"), FP_LABELS("handoff"),
                             (double)sum.handoff_errors);
    fp_metrics_writer_family(w, "flexplace_http_connection_limit",
                             "Connections held at once; past it the longest-waiting unserved "
                             "one is cut for a new one.",
                             FP_METRIC_GAUGE);
    fp_metrics_writer_sample(w, NULL, NULL, sum.connection_limit);
    fp_metrics_writer_family(w, "flexplace_http_body_buffered_bytes",
                             "Memory reserved for request bodies being received.", FP_METRIC_GAUGE);
    fp_metrics_writer_sample(w, NULL, NULL, (double)sum.body_bytes);
    if (src->tls) {
        fp_metrics_writer_family(w, "flexplace_tls_reloads_total",
                                 "TLS certificate reloads after their files changed, by result.",
                                 FP_METRIC_COUNTER);
        fp_metrics_writer_sample(w, FP_LABEL_NAMES("result"), FP_LABELS("ok"),
                                 (double)sum.tls_reloads);
        fp_metrics_writer_sample(w, FP_LABEL_NAMES("result"), FP_LABELS("error"),
                                 (double)sum.tls_reload_errors);
        if (not_after > 0) {
            fp_metrics_writer_family(w, "flexplace_tls_certificate_expiry_timestamp_seconds",
                                     "Expiry (Unix time) of the serving certificate in use.",
                                     FP_METRIC_GAUGE);
            fp_metrics_writer_sample(w, NULL, NULL, (double)not_after);
        }
    }
}

void fp_server_collectors_add(FpMetrics *m, const FpServerSources *src)
{
    void *data = (void *)src;
    fp_metrics_add_collector(m, collect_cache, data, NULL);
    fp_metrics_add_collector(m, collect_policy, data, NULL);
    fp_metrics_add_collector(m, collect_informer, data, NULL);
    fp_metrics_add_collector(m, collect_pools, data, NULL);
    fp_metrics_add_collector(m, collect_http, data, NULL);
}
