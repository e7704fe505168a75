/*
 * extender/server/app.h - the running extender: configuration, the cluster view,
 * the policy store, the API client, the HTTP server and the verb handlers.
 *
 * Ownership: FpApp owns everything it points to; fp_app_free tears down in
 * reverse order of creation.
 * Thread context: created and freed on the main thread; the verb handlers
 * (extender/server/verbs.c) run on HTTP pool threads and only read shared state
 * through the view's lock, the policy store's refs and atomics.
 */
#ifndef FP_EXTENDER_APP_H
#define FP_EXTENDER_APP_H

#include <glib.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "cache/informer.h"
#include "cache/kube_client.h"
#include "cache/view.h"
#include "extender/server/decisions.h"
#include "extender/server/score_memo.h"
#include "extender/http/http_server.h"
#include "extender/obs/metrics.h"
#include "policies/policy_store.h"

G_BEGIN_DECLS

typedef enum {
    FP_SOURCE_DEMO,     /* the bundled demo cluster */
    FP_SOURCE_SNAPSHOT, /* --cluster FILE */
    FP_SOURCE_LIVE,     /* list/watch from the API server */
} FpViewSource;

const char *fp_view_source_name(FpViewSource source);

typedef struct {
    /* HTTP */
    char *listen;
    char *prefix;
    char *filter_verb;
    char *prioritize_verb;
    char *bind_verb;
    char *preempt_verb;
    int threads;
    gint64 max_body_bytes;
    int connection_timeout_s;
    int connection_limit;
    char *tls_cert;
    char *tls_key;
    char *client_ca;
    bool insecure_bind;   /* allow /bind off loopback without mTLS */
    char *metrics_listen; /* read-only routes on a second address, or NULL */
    /* Cluster view */
    bool demo;
    char *cluster_file;
    char *kubeconfig;
    char *context;
    double stale_after_s; /* view without events or bookmarks for this long is stale */
    guint max_nodes;      /* view bounds (fp_view_set_limits); 0 = no limit */
    guint max_pods;
    double assume_ttl_s; /* assumed allocation expiry */
    double bind_timeout_s;
    bool annotate; /* write flexplace.io/placement on the pods flexplace binds */
    /* Policy */
    char *policy_path;
    /* Observability */
    int verbosity;
    char *log_format;
    guint decision_ring;  /* decisions kept for /debug/decisions */
    guint decision_nodes; /* node verdicts kept per decision */
} FpAppConfig;

/* Defaults for every field. */
void fp_app_config_init(FpAppConfig *cfg);
/* Apply `flexplace serve` command-line flags (argv[0] is "serve") to @cfg,
 * which holds defaults or earlier values; validates ranges.  The one parser
 * of serve's flags, shared with the manifest checks. */
gboolean fp_serve_parse_args(int argc, char **argv, FpAppConfig *cfg, GError **error);
void fp_app_config_clear(FpAppConfig *cfg);

typedef struct FpApp FpApp;

struct FpApp {
    FpAppConfig cfg;
    FpViewSource source;
    FpView *view;
    FpPolicyStore *policies;
    FpInformer *informer; /* live mode only */
    FpKubeClient *client; /* live mode only */
    FpHttpServer *http;
    FpHttpServer *http_metrics; /* --metrics-listen, or NULL */
    _Atomic bool shutting_down;
    FpMetrics *metrics;
    FpCounter *m_requests;
    FpHistogram *m_duration;
    FpCounter *m_rejections;
    FpCounter *m_bindings;
    FpCounter *m_prioritize;
    FpDecisionRing *decisions;
    FpScoreMemo *score_memo; /* filter scores for the pod's prioritize */
    /* Bind verb (extender/server/bind.c): serialises the pool-ceiling check with
     * the assumption, and remembers pods refused once for a ceiling. */
    GMutex bind_lock;
    GHashTable *ceiling_refused;
    /* Route table built by fp_app_routes (paths owned here). */
    FpRoute routes[16];
    char *route_paths[8];
    guint n_routes;
};

/* Build the app (view loaded or informer started, policy loaded) without
 * serving yet.  On error returns NULL with @error set. */
FpApp *fp_app_new(const FpAppConfig *cfg, GError **error);
/* Whether @listen ("HOST:PORT") names a loopback address only. */
bool fp_listen_is_loopback(const char *listen);

/* Start the HTTP server.  Refuses to serve the bind verb on a non-loopback
 * address without TLS and client-certificate verification unless
 * cfg.insecure_bind is set. */
gboolean fp_app_serve(FpApp *app, GError **error);
void fp_app_free(FpApp *app);

/* Readiness: policy loaded and both node and pod views synced. When not
 * ready, *why (may be NULL) says what is missing (static or interned). */
bool fp_app_ready(FpApp *app, const char **why);
/* Why the app is not ready, with the cause when one is known (the API
 * server's last error for a view that is not synced), for texts that reach
 * kube-scheduler's events and /readyz: "node view not synced yet: GET
 * /api/v1/nodes?...: Failed to connect ...".  NULL when ready; g_free it. */
char *fp_app_not_ready_detail(FpApp *app);

/* Whether the live view has seen neither an event nor a bookmark for
 * --stale-after seconds (never true for a snapshot).  A stale view still
 * answers: /readyz and the logs say so. */
bool fp_app_view_stale(FpApp *app);

/* Register flexplace's metric families and collectors (extender/server/app_metrics.c). */
void fp_app_metrics_init(FpApp *app);
/* Count one answered request and its duration. */
void fp_app_observe(FpApp *app, const char *verb, unsigned int status, gint64 start_us);
/* Count a request body that did not decode (flexplace_request_errors_total
 * by verb and a reason from the FP_PROTOCOL_ERROR code of @error). */
void fp_app_count_request_error(FpApp *app, const char *verb, const GError *error);

/* Build (once) and return the route table for @app's configuration; *n
 * receives its length.  Table and strings live as long as @app. */
FpRoute *fp_app_routes(FpApp *app, guint *n);

G_END_DECLS

#endif
