/*
 * extender/server/app.c - build, wire, serve and tear down the extender.
 */
#include "extender/server/app.h"

#include <gio/gio.h>
#include <string.h>

#include "cache/demo_cluster.h"
#include "cache/kubeconfig.h"
#include "cache/snapshot.h"
#include "extender/http/listen.h"

void fp_app_config_init(FpAppConfig *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->listen = g_strdup("127.0.0.1:8888");
    cfg->prefix = g_strdup("");
    cfg->filter_verb = g_strdup("filter");
    cfg->prioritize_verb = g_strdup("prioritize");
    cfg->bind_verb = g_strdup("bind");
    cfg->preempt_verb = g_strdup("preempt");
    cfg->mutate_verb = g_strdup("mutate");
    cfg->threads = 4;
    cfg->max_body_bytes = 256 * 1024 * 1024;
    cfg->connection_timeout_s = 120;
    cfg->request_timeout_s = 5;
    cfg->connection_limit = 4096;
    cfg->per_address_limit = 1024;
    cfg->max_nodes = FP_VIEW_DEFAULT_MAX_NODES;
    cfg->max_pods = FP_VIEW_DEFAULT_MAX_PODS;
    cfg->stale_after_s = 600;
    cfg->assume_ttl_s = 120;
    cfg->bind_timeout_s = 3;
    cfg->scheduler_http_timeout_s = 5;
    cfg->annotate = true;
    cfg->pod_events = true;
    cfg->log_format = g_strdup("text");
    cfg->decision_ring = 256;
    cfg->decision_nodes = 200;
}

void fp_app_config_clear(FpAppConfig *cfg)
{
    g_free(cfg->listen);
    g_free(cfg->prefix);
    g_free(cfg->filter_verb);
    g_free(cfg->prioritize_verb);
    g_free(cfg->bind_verb);
    g_free(cfg->preempt_verb);
    g_free(cfg->mutate_verb);
    g_free(cfg->tls_cert);
    g_free(cfg->tls_key);
    g_free(cfg->client_ca);
    g_free(cfg->cluster_file);
    g_free(cfg->kubeconfig);
    g_free(cfg->context);
    g_free(cfg->policy_path);
    g_free(cfg->log_format);
    g_free(cfg->metrics_listen);
    memset(cfg, 0, sizeof *cfg);
}

static void config_copy(FpAppConfig *dst, const FpAppConfig *src)
{
    *dst = *src;
    dst->listen = g_strdup(src->listen);
    dst->prefix = g_strdup(src->prefix);
    dst->filter_verb = g_strdup(src->filter_verb);
    dst->prioritize_verb = g_strdup(src->prioritize_verb);
    dst->bind_verb = g_strdup(src->bind_verb);
    dst->preempt_verb = g_strdup(src->preempt_verb);
    dst->mutate_verb = g_strdup(src->mutate_verb);
    dst->tls_cert = g_strdup(src->tls_cert);
    dst->tls_key = g_strdup(src->tls_key);
    dst->client_ca = g_strdup(src->client_ca);
    dst->cluster_file = g_strdup(src->cluster_file);
    dst->kubeconfig = g_strdup(src->kubeconfig);
    dst->context = g_strdup(src->context);
    dst->policy_path = g_strdup(src->policy_path);
    dst->log_format = g_strdup(src->log_format);
    dst->metrics_listen = g_strdup(src->metrics_listen);
}

/* The cluster file's NodePools that do not parse under the policy at
 * start: logged once, then left out of the templates. */
static void warn_file_nodepools(FpApp *app)
{
    if (!app->file_nodepools || app->file_nodepools->len == 0) {
        return;
    }
    if (app->file_nodepools->len > FP_NODEPOOL_MAX_POOLS) {
        g_warning("%s: more than %d NodePools: those after the first %d are not counted",
                  app->cfg.cluster_file ? app->cfg.cluster_file : "demo cluster",
                  FP_NODEPOOL_MAX_POOLS, FP_NODEPOOL_MAX_POOLS);
        g_ptr_array_set_size(app->file_nodepools, FP_NODEPOOL_MAX_POOLS);
    }
    g_autoptr(FpPolicy) policy = fp_policy_store_get(app->policies);
    for (guint i = 0; i < app->file_nodepools->len; i++) {
        const FpSnapshotObject *o = g_ptr_array_index(app->file_nodepools, i);
        g_autoptr(GError) error = NULL;
        g_autoptr(FpPoolTemplate) t = fp_nodepool_parse(o->object, policy, &error);
        if (!t) {
            g_warning("%s: skipped, not counted as a pool that can grow: %s", o->where,
                      error->message);
        }
    }
}

static gboolean load_view(FpApp *app, GError **error)
{
    const FpAppConfig *cfg = &app->cfg;
    fp_view_set_limits(app->view, cfg->max_nodes, cfg->max_pods);
    if (cfg->demo || cfg->cluster_file) {
        app->file_nodepools =
            g_ptr_array_new_with_free_func((GDestroyNotify)fp_snapshot_object_free);
    }
    if (cfg->demo) {
        app->readiness.source = FP_SOURCE_DEMO;
        return fp_demo_cluster_load_nodepools(app->view, app->file_nodepools, error);
    }
    if (cfg->cluster_file) {
        app->readiness.source = FP_SOURCE_SNAPSHOT;
        return fp_snapshot_load_file_nodepools(app->view, cfg->cluster_file, app->file_nodepools,
                                               error);
    }
    app->readiness.source = FP_SOURCE_LIVE;
    g_autoptr(FpKubeConfig) kc = NULL;
    const char *env_kubeconfig = g_getenv("KUBECONFIG");
    if (cfg->kubeconfig) {
        kc = fp_kubeconfig_load(cfg->kubeconfig, cfg->context, error);
    } else if (g_getenv("KUBERNETES_SERVICE_HOST")) {
        kc = fp_kubeconfig_in_cluster(error);
    } else if (env_kubeconfig && *env_kubeconfig) {
        kc = fp_kubeconfig_load(NULL, cfg->context, error);
    } else {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                    "no cluster to watch: give --kubeconfig FILE (or set KUBECONFIG), run "
                    "in a cluster, or serve a snapshot with --cluster FILE or --demo");
        return FALSE;
    }
    if (!kc) {
        return FALSE;
    }
    FpKubeClient *client = fp_kube_client_new(kc, error);
    if (!client) {
        return FALSE;
    }
    app->client = client;
    FpInformerConfig icfg = {0};
    app->informer = fp_informer_start(app->view, client, &icfg, error);
    if (!app->informer) {
        return FALSE;
    }
    g_message("watching nodes and pods at %s (%s)", kc->server, kc->source);
    return TRUE;
}

static bool mutate_ready(void *ctx, const char **why)
{
    return fp_readiness_check(ctx, why);
}

/* The pools that can grow under @policy: Karpenter NodePools (when
 * watched) and the policy's poolTemplates, growth judged against the
 * view's nodes now. */
static GArray *app_templates(void *ctx, const FpPolicy *policy)
{
    FpApp *app = ctx;
    g_autoptr(FpPoolUsage) usage = fp_pool_usage_new(app->view, policy);
    GArray *offers = app->nodepools ? fp_nodepool_source_offers(app->nodepools, policy, usage)
                                    : g_array_new(FALSE, TRUE, sizeof(FpOffer));
    for (guint i = 0; app->file_nodepools && i < app->file_nodepools->len; i++) {
        const FpSnapshotObject *o = g_ptr_array_index(app->file_nodepools, i);
        g_autoptr(FpPoolTemplate) t = fp_nodepool_parse(o->object, policy, NULL);
        if (t) {
            fp_nodepool_offers(t, policy, usage, offers);
        }
    }
    fp_policy_template_offers(policy, usage, offers);
    return offers;
}

/* flexplace_pod_events_total{result}: what the Event sink did. */
static void collect_events(FpMetricsWriter *w, void *data)
{
    FpEventSinkStats st;
    fp_event_sink_stats(data, &st);
    static const char *const labels[] = {"result", NULL};
    const struct {
        const char *result;
        guint64 n;
    } rows[] = {{"posted", st.posted},
                {"deduplicated", st.deduplicated},
                {"dropped", st.dropped},
                {"failed", st.failed}};
    fp_metrics_writer_family(w, "flexplace_pod_events_total",
                             "Events on GPU pods that fit no node: posted, deduplicated (same pod "
                             "and note within the window), dropped (queue full), failed",
                             FP_METRIC_COUNTER);
    for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
        const char *values[] = {rows[i].result};
        fp_metrics_writer_sample(w, labels, values, (double)rows[i].n);
    }
    fp_metrics_writer_family(w, "flexplace_pod_events_queued",
                             "Events waiting for the sender (rate limit)", FP_METRIC_GAUGE);
    fp_metrics_writer_sample(w, NULL, NULL, (double)st.queued);
}

/* Give each route and collector the parts it reads, once the view (and in
 * live mode the client and informer) exist. */
static void wire_parts(FpApp *app)
{
    const FpAppConfig *cfg = &app->cfg;
    app->readiness.view = app->view;
    app->readiness.informer = app->informer;
    app->readiness.stale_after_s = cfg->stale_after_s;
    app->sources = (FpServerSources){
        .view = app->view,
        .policies = app->policies,
        .informer = app->informer,
        .http = &app->http,
        .http_metrics = &app->http_metrics,
        .tls = cfg->tls_cert != NULL,
        .match = app->policy_match,
    };
    fp_server_collectors_add(app->metrics, &app->sources);
    app->extender_env = (FpExtenderEnv){
        .view = app->view,
        .policies = app->policies,
        .readiness = &app->readiness,
        .decisions = app->decisions,
        .score_memo = app->score_memo,
        .metrics = &app->verb_metrics,
        .unmet = app->unmet,
        .templates = app_templates,
        .templates_ctx = app,
        .events = app->events,
    };
    app->preempt_env = (FpPreemptEnv){
        .view = app->view,
        .policies = app->policies,
        .readiness = &app->readiness,
        .metrics = &app->verb_metrics,
    };
    app->bind_env.view = app->view;
    app->bind_env.policies = app->policies;
    app->bind_env.client = app->client;
    app->bind_env.readiness = &app->readiness;
    app->bind_env.timeout_s = cfg->bind_timeout_s;
    app->bind_env.assume_ttl_s = cfg->assume_ttl_s;
    app->bind_env.annotate = cfg->annotate;
    app->bind_verb_env = (FpBindVerbEnv){
        .bind = &app->bind_env,
        .decisions = app->decisions,
        .metrics = &app->verb_metrics,
        .unmet = app->unmet,
    };
    app->readyz_env = (FpReadyzEnv){
        .readiness = &app->readiness, .policies = app->policies, .match = app->policy_match};
    app->mutate_env = (FpMutateEnv){
        .view = app->view,
        .policies = app->policies,
        .ready = mutate_ready,
        .ready_ctx = &app->readiness,
        .preferred = cfg->mutate_preferred,
        .templates = app_templates,
        .templates_ctx = app,
        .reviews = fp_mutate_metrics(app->metrics),
    };
}

FpApp *fp_app_new(const FpAppConfig *cfg, GError **error)
{
    FpApp *app = g_new0(FpApp, 1);
    config_copy(&app->cfg, cfg);
    app->view = fp_view_new();
    app->decisions = fp_decision_ring_new(cfg->decision_ring, cfg->decision_nodes);
    app->score_memo = fp_score_memo_new();
    fp_bind_env_init(&app->bind_env);
    app->metrics = fp_metrics_new();
    fp_metrics_add_standard(app->metrics, FP_VERSION);
    fp_verb_metrics_init(&app->verb_metrics, app->metrics);
    app->policies = fp_policy_store_new(cfg->policy_path, error);
    if (!app->policies || !load_view(app, error)) {
        fp_app_free(app);
        return NULL;
    }
    warn_file_nodepools(app);
    if (cfg->nodepools && app->client) {
        /* Pool templates for the webhook and the scale-up judgement. */
        app->nodepools = fp_nodepool_source_start(app->client, 60);
    }
    if (cfg->pod_events && app->client) {
        FpEventSinkConfig ecfg = {.instance = g_getenv("POD_NAME")};
        app->events = fp_event_sink_new(app->client, &ecfg);
        fp_metrics_add_collector(app->metrics, collect_events, app->events, NULL);
    }
    app->unmet = fp_unmet_new(app->view);
    fp_unmet_register(app->unmet, app->metrics);
    app->policy_match = fp_policy_match_new(app->policies, app->view);
    wire_parts(app);
    return app;
}

gboolean fp_app_serve(FpApp *app, GError **error)
{
    bool bind_on = app->cfg.bind_verb && *app->cfg.bind_verb;
    bool mtls = app->cfg.tls_cert && app->cfg.tls_key && app->cfg.client_ca;
    if (bind_on && !mtls && !app->cfg.insecure_bind && !fp_listen_is_loopback(app->cfg.listen)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                    "refusing to serve the bind verb on %s without TLS and client certificates: "
                    "anyone who reaches the port could place pods on any node. Listen on "
                    "loopback (the sidecar model), give --tls-cert, --tls-key and --client-ca, "
                    "disable binding with --bind-verb=, or pass "
                    "--insecure-allow-unauthenticated-bind",
                    app->cfg.listen);
        return FALSE;
    }
    if ((app->cfg.tls_cert == NULL) != (app->cfg.tls_key == NULL)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "--tls-cert and --tls-key go together");
        return FALSE;
    }
    if (app->cfg.client_ca && !app->cfg.tls_cert) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "--client-ca needs --tls-cert and --tls-key");
        return FALSE;
    }
    guint n = 0;
    FpRoute *routes = fp_app_routes(app, &n);
    FpHttpConfig http = {
        .listen = app->cfg.listen,
        .prefix = app->cfg.prefix,
        .threads = (guint)app->cfg.threads,
        .max_body_bytes = (size_t)app->cfg.max_body_bytes,
        .connection_timeout_s = (guint)app->cfg.connection_timeout_s,
        .request_timeout_s = (guint)app->cfg.request_timeout_s,
        .connection_limit = (guint)app->cfg.connection_limit,
        .per_address_limit = (guint)app->cfg.per_address_limit,
        .tls_cert = app->cfg.tls_cert,
        .tls_key = app->cfg.tls_key,
        .client_ca = app->cfg.client_ca,
    };
    /* Published atomically: /metrics on the server's own threads reads it. */
    g_atomic_pointer_set(&app->http, fp_http_server_start(&http, routes, n, NULL, error));
    if (!app->http) {
        return FALSE;
    }
    if (app->cfg.metrics_listen) {
        /* Only the read-only GET routes, without the debug endpoint (it names
         * pods): probes and scrapes from the pod network, verbs on loopback. */
        FpRoute ro[FP_APP_MAX_ROUTES];
        guint k = 0;
        for (guint i = 0; i < n && k < G_N_ELEMENTS(ro); i++) {
            if (g_str_equal(routes[i].method, "GET") &&
                !g_str_has_prefix(routes[i].path, "/debug/")) {
                ro[k++] = routes[i];
            }
        }
        FpHttpConfig mcfg = http;
        mcfg.listen = app->cfg.metrics_listen;
        mcfg.prefix = "";
        mcfg.threads = 1;
        mcfg.max_body_bytes = 4096;
        mcfg.tls_cert = mcfg.tls_key = mcfg.client_ca = NULL;
        g_atomic_pointer_set(&app->http_metrics, fp_http_server_start(&mcfg, ro, k, NULL, error));
        if (!app->http_metrics) {
            return FALSE;
        }
    }
    return TRUE;
}

void fp_app_free(FpApp *app)
{
    if (!app) {
        return;
    }
    if (app->http_metrics) {
        fp_http_server_stop(app->http_metrics, 0);
    }
    if (app->http) {
        fp_http_server_stop(app->http, 0);
    }
    if (app->informer) {
        fp_informer_stop(app->informer);
    }
    fp_nodepool_source_stop(app->nodepools);
    if (app->file_nodepools) {
        g_ptr_array_unref(app->file_nodepools);
    }
    fp_event_sink_free(app->events); /* before the client it posts through */
    if (app->client) {
        fp_kube_client_free(app->client);
    }
    if (app->policies) {
        fp_policy_store_free(app->policies);
    }
    fp_view_free(app->view);
    fp_decision_ring_free(app->decisions);
    fp_score_memo_free(app->score_memo);
    fp_policy_match_free(app->policy_match);
    fp_bind_env_clear(&app->bind_env);
    fp_metrics_free(app->metrics);
    fp_unmet_free(app->unmet); /* after the registry: its collector reads it */
    for (guint i = 0; i < G_N_ELEMENTS(app->route_paths); i++) {
        g_free(app->route_paths[i]);
    }
    fp_app_config_clear(&app->cfg);
    g_free(app);
}

bool fp_app_ready(FpApp *app, const char **why)
{
    return fp_readiness_check(&app->readiness, why);
}

char *fp_app_not_ready_detail(FpApp *app)
{
    return fp_readiness_detail(&app->readiness);
}

FpRoute *fp_app_routes(FpApp *app, guint *n)
{
    if (app->n_routes == 0) {
        const struct {
            const char *verb;
            FpHttpHandler handler;
            void *env;
        } verbs[] = {
            {app->cfg.filter_verb, fp_verb_filter, &app->extender_env},
            {app->cfg.prioritize_verb, fp_verb_prioritize, &app->extender_env},
            {app->cfg.bind_verb, fp_verb_bind, &app->bind_verb_env},
            {app->cfg.preempt_verb, fp_verb_preempt, &app->preempt_env},
            {app->cfg.mutate_verb, fp_mutate_handle, &app->mutate_env},
        };
        G_STATIC_ASSERT(G_N_ELEMENTS(verbs) == G_N_ELEMENTS(app->route_paths));
        guint k = 0;
        for (guint i = 0; i < G_N_ELEMENTS(verbs); i++) {
            if (!verbs[i].verb || !*verbs[i].verb) {
                continue; /* verb switched off */
            }
            app->route_paths[i] = g_strdup_printf("/%s", verbs[i].verb);
            app->routes[k++] =
                (FpRoute){"POST", app->route_paths[i], verbs[i].handler, verbs[i].env};
        }
        app->routes[k++] = (FpRoute){"GET", "/healthz", fp_probe_healthz, NULL};
        app->routes[k++] = (FpRoute){"GET", "/readyz", fp_probe_readyz, &app->readyz_env};
        app->routes[k++] = (FpRoute){"GET", "/version", fp_probe_version, NULL};
        app->routes[k++] = (FpRoute){"GET", "/metrics", fp_probe_metrics, app->metrics};
        app->routes[k++] = (FpRoute){"GET", "/debug/decisions", fp_probe_decisions, app->decisions};
        g_assert(k <= G_N_ELEMENTS(app->routes));
        app->n_routes = k;
    }
    *n = app->n_routes;
    return app->routes;
}
