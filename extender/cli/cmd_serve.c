/*
 * extender/cli/cmd_serve.c - `flexplace serve`: the extender daemon.
 *
 * Main thread: a GMainLoop for signals (SIGTERM/SIGINT stop, SIGHUP reloads
 * the policy), the policy directory monitor and periodic housekeeping.  HTTP
 * requests run on libmicrohttpd's thread pool.
 */
#include <glib-unix.h>
#include <jansson.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <math.h>
#include <string.h>

#include "extender/cli/cmd_serve.h"
#include "extender/cli/commands.h"
#include "extender/obs/log.h"
#include "policies/policy_watch.h"

typedef struct {
    GMainLoop *loop;
    FpApp *app;
    int signal_received;
    bool was_ready;
    guint sources[3]; /* SIGTERM, SIGINT, SIGHUP */
} ServeState;

/* Stop handling signals and free the loop. */
static void serve_state_clear(ServeState *s)
{
    for (guint i = G_N_ELEMENTS(s->sources); i > 0; i--) {
        g_source_remove(s->sources[i - 1]);
    }
    g_main_loop_unref(s->loop);
}

static gboolean on_stop_signal(gpointer data)
{
    ServeState *s = data;
    s->signal_received = 1;
    g_message("shutting down: stop accepting connections, finish requests in flight");
    g_main_loop_quit(s->loop);
    return G_SOURCE_CONTINUE;
}

static gboolean on_hup(gpointer data)
{
    ServeState *s = data;
    g_autoptr(GError) error = NULL;
    g_message("SIGHUP: reloading the policy");
    if (!fp_policy_store_reload(s->app->policies, &error)) {
        g_warning("policy reload failed, keeping the last good policy: %s", error->message);
        g_clear_error(&error);
    }
    /* Certificates are reloaded when their files change; SIGHUP forces it. */
    if (s->app->cfg.tls_cert && !fp_http_server_reload_tls(s->app->http, &error)) {
        g_warning("TLS reload failed, keeping the current certificate: %s", error->message);
    }
    return G_SOURCE_CONTINUE;
}

static gboolean on_tick(gpointer data)
{
    ServeState *s = data;
    guint expired = fp_view_expire_assumed(s->app->view);
    if (expired) {
        g_warning("%u assumed GPU allocations expired: the watch never showed those pods bound",
                  expired);
    }
    const char *why = NULL;
    bool ready = fp_app_ready(s->app, &why);
    if (ready && !s->was_ready) {
        /* The LIST's pages and decoded lists are freed by now: hand the
         * freed heap back instead of holding the sync's peak. */
#ifdef __GLIBC__
        malloc_trim(0);
#endif
    }
    s->was_ready = ready;
    if (fp_readiness_stale(&s->app->readiness)) {
        fp_log_warn_limited("stale-view", 60,
                            "cluster view is stale: no watch event or bookmark for %.0f s",
                            fp_view_last_event_age(s->app->view));
    }
    return G_SOURCE_CONTINUE;
}

/* One numeric flag's value and the range it must be in. */
typedef struct {
    const char *flag;
    double value;
    double min;
    double max;
    const char *unit;
} FlagRange;

/* The shortest --bind-timeout: below it libcurl's millisecond timeouts
 * round towards 0, which it reads as "no timeout". */
#define BIND_TIMEOUT_MIN_S 0.1
/* What a bind needs besides its API calls (decode, re-check, assumption,
 * the reply) and the network to kube-scheduler, under its httpTimeout. */
#define BIND_HEADROOM_S 1.0

/* Every numeric flag within its range (also refuses nan and inf), with a
 * message naming the flag, the range and the value given. */
static gboolean check_ranges(const FlagRange *r, guint n, GError **error)
{
    for (guint i = 0; i < n; i++) {
        if (!(isfinite(r[i].value) && r[i].value >= r[i].min && r[i].value <= r[i].max)) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "--%s must be between %g%s and %g%s (got %g)", r[i].flag, r[i].min,
                        r[i].unit, r[i].max, r[i].unit, r[i].value);
            return FALSE;
        }
    }
    return TRUE;
}

/* A bind's API calls share one deadline of --bind-timeout from the
 * request's arrival; kube-scheduler gives up on the call after its
 * httpTimeout and retries the pod.  The deadline must end early enough that
 * flexplace still answers before that, and an assumption must outlive it. */
static gboolean check_bind_budget(const FpAppConfig *cfg, GError **error)
{
    if (cfg->bind_timeout_s + BIND_HEADROOM_S > cfg->scheduler_http_timeout_s) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--bind-timeout %g s leaves no room under kube-scheduler's httpTimeout of "
                    "%g s (--scheduler-http-timeout): a bind must answer before kube-scheduler "
                    "gives up, so use at most %g s, or raise httpTimeout and "
                    "--scheduler-http-timeout together",
                    cfg->bind_timeout_s, cfg->scheduler_http_timeout_s,
                    cfg->scheduler_http_timeout_s - BIND_HEADROOM_S);
        return FALSE;
    }
    if (cfg->assume_ttl_s <= cfg->scheduler_http_timeout_s) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--assume-ttl %g s must be longer than kube-scheduler's httpTimeout "
                    "(--scheduler-http-timeout %g s): an assumption must outlive its bind",
                    cfg->assume_ttl_s, cfg->scheduler_http_timeout_s);
        return FALSE;
    }
    return TRUE;
}

gboolean fp_serve_parse_args(int argc, char **argv, FpAppConfig *cfg, GError **error)
{
    gboolean demo = FALSE;
    gboolean no_annotation = FALSE;
    gboolean no_pod_events = !cfg->pod_events;
    gboolean insecure_bind = FALSE;
    gboolean mutate_preferred = cfg->mutate_preferred;
    gboolean nodepools = cfg->nodepools;
    int decision_ring = (int)cfg->decision_ring;
    int decision_nodes = (int)cfg->decision_nodes;
    int max_body_mib = (int)(cfg->max_body_bytes >> 20);
    int max_nodes = (int)cfg->max_nodes;
    int max_pods = (int)cfg->max_pods;
    GOptionEntry entries[] = {
        {"listen", 'l', 0, G_OPTION_ARG_STRING, &cfg->listen,
         "Address to serve on, HOST:PORT (default 127.0.0.1:8888)", "HOST:PORT"},
        {"metrics-listen", 0, 0, G_OPTION_ARG_STRING, &cfg->metrics_listen,
         "Also serve the read-only routes (/metrics, /healthz, /readyz, /version) here, e.g. "
         ":9090 for Prometheus and kubelet probes (default off)",
         "HOST:PORT"},
        {"prefix", 0, 0, G_OPTION_ARG_STRING, &cfg->prefix,
         "Path prefix of every route, the path part of urlPrefix (default none)", "/PATH"},
        {"filter-verb", 0, 0, G_OPTION_ARG_STRING, &cfg->filter_verb,
         "filterVerb route name, empty to disable (default filter)", "NAME"},
        {"prioritize-verb", 0, 0, G_OPTION_ARG_STRING, &cfg->prioritize_verb,
         "prioritizeVerb route name, empty to disable (default prioritize)", "NAME"},
        {"bind-verb", 0, 0, G_OPTION_ARG_STRING, &cfg->bind_verb,
         "bindVerb route name, empty to disable (default bind)", "NAME"},
        {"preempt-verb", 0, 0, G_OPTION_ARG_STRING, &cfg->preempt_verb,
         "preemptVerb route name, empty to disable (default preempt)", "NAME"},
        {"mutate-verb", 0, 0, G_OPTION_ARG_STRING, &cfg->mutate_verb,
         "Route of the admission webhook (POST), empty to disable (default mutate)", "NAME"},
        {"mutate-preferred", 0, 0, G_OPTION_ARG_NONE, &mutate_preferred,
         "The webhook also adds the nearest regions as preferred node affinity", NULL},
        {"karpenter-nodepools", 0, 0, G_OPTION_ARG_NONE, &nodepools,
         "Count Karpenter NodePools (karpenter.sh/v1) as pools that can grow: the webhook offers "
         "them, unmet pods are judged against them",
         NULL},
        {"cluster", 'c', 0, G_OPTION_ARG_FILENAME, &cfg->cluster_file,
         "Serve from a snapshot: kubectl get nodes,pods -A -o json|yaml", "FILE"},
        {"demo", 0, 0, G_OPTION_ARG_NONE, &demo, "Serve the bundled demo cluster", NULL},
        {"kubeconfig", 0, 0, G_OPTION_ARG_FILENAME, &cfg->kubeconfig,
         "Watch the cluster of this kubeconfig (default: in-cluster, then $KUBECONFIG)", "FILE"},
        {"context", 0, 0, G_OPTION_ARG_STRING, &cfg->context, "kubeconfig context", "NAME"},
        {"policy", 'p', 0, G_OPTION_ARG_FILENAME, &cfg->policy_path,
         "PlacementPolicy file, directory (mounted ConfigMap) or ConfigMap manifest", "PATH"},
        {"assume-ttl", 0, 0, G_OPTION_ARG_DOUBLE, &cfg->assume_ttl_s,
         "Seconds a bound pod's GPUs stay assumed if the watch never shows it (default 120)",
         "SECONDS"},
        {"bind-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &cfg->bind_timeout_s,
         "One deadline for all the API calls of a bind, from the request's arrival, seconds "
         "(default 3; at least 1 s below --scheduler-http-timeout)",
         "SECONDS"},
        {"scheduler-http-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &cfg->scheduler_http_timeout_s,
         "kube-scheduler's httpTimeout for this extender, seconds: --bind-timeout must fit "
         "under it (default 5, as in manifests/scheduler-config.yaml)",
         "SECONDS"},
        {"no-placement-annotation", 0, 0, G_OPTION_ARG_NONE, &no_annotation,
         "Do not write the flexplace.io/placement annotation when binding", NULL},
        {"no-pod-events", 0, 0, G_OPTION_ARG_NONE, &no_pod_events,
         "Do not post a FlexplaceUnschedulable Event on GPU pods that fit no node", NULL},
        {"stale-after", 0, 0, G_OPTION_ARG_DOUBLE, &cfg->stale_after_s,
         "Report the live view stale after this many seconds without an event or bookmark "
         "(default 600; 0 disables)",
         "SECONDS"},
        {"tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &cfg->tls_cert,
         "Serve HTTPS with this PEM certificate (chain)", "FILE"},
        {"tls-key", 0, 0, G_OPTION_ARG_FILENAME, &cfg->tls_key, "PEM private key for --tls-cert",
         "FILE"},
        {"client-ca", 0, 0, G_OPTION_ARG_FILENAME, &cfg->client_ca,
         "Require client certificates signed by this PEM CA (kube-scheduler's tlsConfig "
         "certFile/keyFile)",
         "FILE"},
        {"insecure-allow-unauthenticated-bind", 0, 0, G_OPTION_ARG_NONE, &insecure_bind,
         "Serve the bind verb on a non-loopback address without TLS client certificates "
         "(anyone who can reach the port can then place pods)",
         NULL},
        {"threads", 0, 0, G_OPTION_ARG_INT, &cfg->threads, "HTTP worker threads (default 4)", "N"},
        {"max-body-mib", 0, 0, G_OPTION_ARG_INT, &max_body_mib,
         "Largest request body accepted, MiB (default 256)", "MIB"},
        {"connection-timeout", 0, 0, G_OPTION_ARG_INT, &cfg->connection_timeout_s,
         "Seconds a kept-alive connection may stay idle between requests (default 120)", "SECONDS"},
        {"request-timeout", 0, 0, G_OPTION_ARG_INT, &cfg->request_timeout_s,
         "Seconds a request gets to arrive (request line, headers and body) and its reply to "
         "leave; a client stalled or trickling longer is cut (default 5)",
         "SECONDS"},
        {"max-connections", 0, 0, G_OPTION_ARG_INT, &cfg->connection_limit,
         "Connections held at once; past it a new one displaces the longest-waiting unserved "
         "one (default 4096)",
         "N"},
        {"max-connections-per-address", 0, 0, G_OPTION_ARG_INT, &cfg->per_address_limit,
         "Connections held at once from one IP address, with the same rule (default 1024)", "N"},
        {"max-nodes", 0, 0, G_OPTION_ARG_INT, &max_nodes,
         "Nodes the cluster view holds; past it flexplace reports not ready (default 10000, "
         "0 = no limit)",
         "N"},
        {"max-pods", 0, 0, G_OPTION_ARG_INT, &max_pods,
         "Pods the cluster view holds; past it flexplace reports not ready (default 300000, "
         "0 = no limit)",
         "N"},
        {"verbosity", 'v', 0, G_OPTION_ARG_INT, &cfg->verbosity,
         "Log verbosity: 0 warnings and lifecycle, 2 one line per decision, 4 debug "
         "(default 0)",
         "N"},
        {"log-format", 0, 0, G_OPTION_ARG_STRING, &cfg->log_format,
         "Log line format: text or json (default text)", "FORMAT"},
        {"decision-ring", 0, 0, G_OPTION_ARG_INT, &decision_ring,
         "Decisions kept for /debug/decisions (default 256)", "N"},
        {"decision-nodes", 0, 0, G_OPTION_ARG_INT, &decision_nodes,
         "Node verdicts kept per decision (default 200)", "N"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- serve kube-scheduler's extender verbs");
    g_option_context_add_main_entries(ctx, entries, NULL);
    /* GOption removes the options it consumes from the array it is given:
     * hand it a shallow copy, so the caller's argv stays intact and nothing
     * it drops is lost (the strings belong to the caller). */
    g_autofree char **parsed = g_new0(char *, (gsize)argc + 1);
    memcpy(parsed, argv, sizeof(char *) * (gsize)argc);
    char **cursor = parsed;
    int n = argc;
    /* A string option given on the command line replaces the default
     * without freeing it (GOption does not own the initial value): remember
     * the defaults and free those that were replaced. */
    char *prev[G_N_ELEMENTS(entries)];
    for (guint i = 0; i < G_N_ELEMENTS(entries); i++) {
        bool str = entries[i].arg == G_OPTION_ARG_STRING || entries[i].arg == G_OPTION_ARG_FILENAME;
        prev[i] = str ? *(char **)entries[i].arg_data : NULL;
    }
    gboolean parsed_ok = g_option_context_parse(ctx, &n, &cursor, error);
    for (guint i = 0; i < G_N_ELEMENTS(entries); i++) {
        if (prev[i] && *(char **)entries[i].arg_data != prev[i]) {
            g_free(prev[i]);
        }
    }
    if (!parsed_ok) {
        return FALSE;
    }
    if (n > 1) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "unexpected argument '%s'",
                    cursor[1]);
        return FALSE;
    }
    FpLogFormat log_format;
    const FlagRange ranges[] = {
        {"threads", cfg->threads, 1, 256, ""},
        {"max-body-mib", max_body_mib, 1, 16384, " MiB"},
        {"connection-timeout", cfg->connection_timeout_s, 1, 86400, " s"},
        {"request-timeout", cfg->request_timeout_s, 1, 3600, " s"},
        {"max-connections", cfg->connection_limit, 1, 100000, ""},
        {"max-connections-per-address", cfg->per_address_limit, 1, 100000, ""},
        {"assume-ttl", cfg->assume_ttl_s, 1, 86400, " s"},
        {"bind-timeout", cfg->bind_timeout_s, BIND_TIMEOUT_MIN_S, 600, " s"},
        {"scheduler-http-timeout", cfg->scheduler_http_timeout_s, 1, 600, " s"},
        {"stale-after", cfg->stale_after_s, 0, 86400 * 7, " s"},
        {"max-nodes", max_nodes, 0, 10000000, ""},
        {"max-pods", max_pods, 0, 100000000, ""},
        {"decision-ring", decision_ring, 1, 100000, ""},
        {"decision-nodes", decision_nodes, 0, 100000, ""},
        {"verbosity", cfg->verbosity, 0, 10, ""},
    };
    if (!check_ranges(ranges, G_N_ELEMENTS(ranges), error) || !check_bind_budget(cfg, error)) {
        return FALSE;
    }
    if (!fp_log_format_parse(cfg->log_format, &log_format)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--log-format must be text or json");
        return FALSE;
    }
    cfg->max_nodes = (guint)max_nodes;
    cfg->max_pods = (guint)max_pods;
    cfg->decision_ring = (guint)decision_ring;
    cfg->decision_nodes = (guint)decision_nodes;
    cfg->demo = demo;
    cfg->annotate = !no_annotation;
    cfg->pod_events = !no_pod_events;
    cfg->insecure_bind = insecure_bind;
    cfg->mutate_preferred = mutate_preferred;
    cfg->nodepools = nodepools;
    cfg->max_body_bytes = (gint64)max_body_mib << 20;
    return TRUE;
}

/* glibc gives each thread that allocates its own heap arena, up to 8 per
 * core, and a freed request's megabytes stay in the arena of the thread that
 * served it: with the informer and HTTP threads that held 30-50 MiB more
 * than the view needs (fp_bench: peak 164 MiB with the default, 115 MiB with
 * two arenas, at no measurable cost in speed).  MALLOC_ARENA_MAX in the
 * environment still wins. */
static void limit_malloc_arenas(void)
{
#ifdef __GLIBC__
    if (!g_getenv("MALLOC_ARENA_MAX")) {
        mallopt(M_ARENA_MAX, 2);
    }
#endif
}

int fp_cmd_serve(int argc, char **argv)
{
    limit_malloc_arenas();
    FpAppConfig cfg;
    fp_app_config_init(&cfg);
    g_autoptr(GError) error = NULL;
    if (!fp_serve_parse_args(argc, argv, &cfg, &error)) {
        fprintf(stderr, "flexplace serve: %s\n", error->message);
        fp_app_config_clear(&cfg);
        return FP_EXIT_USAGE;
    }
    FpLogFormat log_format = FP_LOG_TEXT;
    fp_log_format_parse(cfg.log_format, &log_format);
    fp_log_init(log_format, cfg.verbosity);
    signal(SIGPIPE, SIG_IGN);
    json_object_seed(0);
    /* Signals are caught from the start (a SIGHUP or SIGTERM during start-up
     * must not kill the process with the default action); they are handled
     * once the loop runs. */
    ServeState s = {.loop = g_main_loop_new(NULL, FALSE)};
    s.sources[0] = g_unix_signal_add(SIGTERM, on_stop_signal, &s);
    s.sources[1] = g_unix_signal_add(SIGINT, on_stop_signal, &s);
    s.sources[2] = g_unix_signal_add(SIGHUP, on_hup, &s);

    FpApp *app = fp_app_new(&cfg, &error);
    fp_app_config_clear(&cfg);
    if (app && !fp_app_serve(app, &error)) {
        g_clear_pointer(&app, fp_app_free);
    }
    if (!app) {
        fprintf(stderr, "flexplace serve: %s\n", error->message);
        serve_state_clear(&s);
        return FP_EXIT_FAILURE;
    }
    s.app = app;
    /* A mounted ConfigMap is watched for kubelet's atomic ..data swap, from
     * before "serving" is announced. */
    FpPolicyWatch *watch = NULL;
    if (fp_policy_store_path(app->policies)) {
        watch = fp_policy_watch_new(app->policies, 500, NULL, NULL, &error);
        if (!watch) {
            g_warning("not watching the policy for changes (SIGHUP still reloads): %s",
                      error->message);
            g_clear_error(&error);
        }
    }
    guint tick = g_timeout_add_seconds(1, on_tick, &s);
    g_message("flexplace %s serving on %s (port %u), cluster view: %s, %u nodes, %u pods",
              FP_VERSION, app->cfg.listen, fp_http_server_port(app->http),
              fp_view_source_name(app->readiness.source), fp_view_node_count(app->view),
              fp_view_pod_count(app->view));
    g_main_loop_run(s.loop);

    if (watch) {
        fp_policy_watch_free(watch);
    }
    /* New connections are refused and new requests on open ones get 503
     * from here on, so /readyz fails; requests already in flight are
     * answered normally from the view (not "shutting down"). */
    fp_http_server_quiesce(app->http);
    /* The metrics server first: its /metrics reads the main server's stats. */
    if (app->http_metrics) {
        fp_http_server_stop(app->http_metrics, 1000);
        app->http_metrics = NULL;
    }
    fp_http_server_stop(app->http, 10000);
    app->http = NULL;
    atomic_store(&app->readiness.shutting_down, true);
    g_source_remove(tick);
    serve_state_clear(&s);
    fp_app_free(app);
    g_message("stopped");
    return FP_EXIT_OK;
}
