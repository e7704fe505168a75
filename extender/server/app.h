/*
 * extender/server/app.h - the running extender: configuration, and the one
 * place that builds the parts and wires them together (the composition
 * root).
 *
 * fp_app_new builds the cluster view (or starts the informer), the policy
 * store, the metrics registry, and each verb's narrow environment
 * (extender/server/verbs.h, probes.h, bind.h); fp_app_serve builds the route
 * table from them (fp_app_routes) and hands it to the HTTP server.  Nothing
 * below includes this header: the verbs see only their environments.
 *
 * Ownership: FpApp owns everything it points to; fp_app_free tears down in
 * reverse order of creation.
 * Thread context: created and freed on the main thread; the route handlers
 * run on HTTP pool threads and only read shared state through the view's
 * lock, the policy store's refs and atomics.
 */
#ifndef FP_EXTENDER_APP_H
#define FP_EXTENDER_APP_H

#include <glib.h>
#include <stdbool.h>

#include "cache/event_sink.h"
#include "cache/informer.h"
#include "cache/kube_client.h"
#include "cache/nodepool.h"
#include "cache/view.h"
#include "extender/http/http_server.h"
#include "extender/obs/metrics.h"
#include "extender/server/bind.h"
#include "extender/server/collectors.h"
#include "extender/server/decisions.h"
#include "extender/server/mutate.h"
#include "extender/server/probes.h"
#include "extender/server/readiness.h"
#include "extender/server/score_memo.h"
#include "extender/server/verb_metrics.h"
#include "extender/server/verbs.h"
#include "policies/policy_store.h"

G_BEGIN_DECLS

typedef struct {
    /* HTTP */
    char *listen;
    char *prefix;
    char *filter_verb;
    char *prioritize_verb;
    char *bind_verb;
    char *preempt_verb;
    char *mutate_verb;     /* the admission webhook's route (extender/server/mutate.h) */
    bool mutate_preferred; /* the webhook also writes nearest regions as preferred terms */
    bool nodepools;        /* list Karpenter NodePools as pool templates (live mode) */
    bool pod_events;       /* post an Event on GPU pods that fit no node (live mode) */
    int threads;
    gint64 max_body_bytes;
    int connection_timeout_s; /* idle keep-alive between requests */
    int request_timeout_s;    /* a request arriving, its reply leaving */
    int connection_limit;
    int per_address_limit; /* connections from one IP address */
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
    double assume_ttl_s;             /* assumed allocation expiry */
    double bind_timeout_s;           /* one deadline for all of a bind's API calls */
    double scheduler_http_timeout_s; /* kube-scheduler's extender httpTimeout */
    bool annotate;                   /* write flexplace.io/placement on the pods flexplace binds */
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
void fp_app_config_clear(FpAppConfig *cfg);

/* The route table's size: the four verbs, the webhook and five read-only
 * routes. */
#define FP_APP_MAX_ROUTES 10

typedef struct FpApp FpApp;

struct FpApp {
    FpAppConfig cfg;
    FpView *view;
    FpPolicyStore *policies;
    FpInformer *informer; /* live mode only */
    FpKubeClient *client; /* live mode only */
    FpHttpServer *http;
    FpHttpServer *http_metrics; /* --metrics-listen, or NULL */
    FpMetrics *metrics;
    FpDecisionRing *decisions;
    FpScoreMemo *score_memo;     /* filter scores for the pod's prioritize */
    FpPolicyMatch *policy_match; /* the policy's names that match no node */
    /* The parts the routes and collectors see, each only what it reads. */
    FpReadiness readiness;
    FpVerbMetrics verb_metrics;
    FpServerSources sources;
    FpExtenderEnv extender_env;
    FpPreemptEnv preempt_env;
    FpBindEnv bind_env;
    FpBindVerbEnv bind_verb_env;
    FpReadyzEnv readyz_env;
    FpMutateEnv mutate_env;
    FpNodePoolSource *nodepools; /* --karpenter-nodepools in live mode, or NULL */
    /* FpSnapshotObject*: the NodePools of the --cluster file or the demo
     * (parsed under the policy in force when templates are asked for) */
    GPtrArray *file_nodepools;
    FpUnmet *unmet;      /* GPU pods that fit no node (flexplace_unmet_*) */
    FpEventSink *events; /* their Events (live mode with pod_events), or NULL */
    /* Route table built by fp_app_routes (paths owned here). */
    FpRoute routes[FP_APP_MAX_ROUTES];
    char *route_paths[5];
    guint n_routes;
};

/* Build the app (view loaded or informer started, policy loaded) without
 * serving yet.  On error returns NULL with @error set. */
FpApp *fp_app_new(const FpAppConfig *cfg, GError **error);

/* Start the HTTP server.  Refuses to serve the bind verb on a non-loopback
 * address without TLS and client-certificate verification unless
 * cfg.insecure_bind is set. */
gboolean fp_app_serve(FpApp *app, GError **error);
void fp_app_free(FpApp *app);

/* fp_readiness_check and fp_readiness_detail on @app's view
 * (extender/server/readiness.h). */
bool fp_app_ready(FpApp *app, const char **why);
char *fp_app_not_ready_detail(FpApp *app);

/* Build (once) and return the route table for @app's configuration; *n
 * receives its length.  Table and strings live as long as @app. */
FpRoute *fp_app_routes(FpApp *app, guint *n);

G_END_DECLS

#endif
