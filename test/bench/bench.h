/*
 * test/bench/bench.h - the flexplace benchmark harness (fp_bench).
 *
 * Purpose: measure the extender the way kube-scheduler uses it.  fp_bench
 * generates a cluster modelled on real GPU Node objects (gen.c), serves it
 * from an in-process fake Kubernetes API server that also replays pod watch
 * events at a chosen rate and answers Binding POSTs (fakekube.c), starts a
 * real `flexplace serve` against it, and drives the verbs over HTTP with a
 * libcurl-multi client at a fixed concurrency (driver.c).  Baselines (a
 * jansson DOM of the same body, a no-op libmicrohttpd handler) run in the same
 * process and the same run (noop.c).  bench_main.c orchestrates and prints
 * the tables.  See test/bench/README.md.
 *
 * Ownership: generated strings are g_malloc'ed and owned by the BenchCluster
 * (bench_cluster_free).  The fake API server borrows its cluster, which must
 * outlive it.  Driver results own their sample arrays (bench_run_clear).
 * Thread context: generation and the driver run on the main thread; the fake
 * API server and the no-op server answer on their own libmicrohttpd threads
 * and read the cluster only (the event rate is an atomic).
 * Errors: setup failures are fatal for the benchmark (a message and exit 1);
 * failed requests are counted, never hidden.
 */
#ifndef FP_BENCH_H
#define FP_BENCH_H

#include <glib.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

/* ---- generated cluster (gen.c) ---- */

typedef struct {
    char *name;
    char *json; /* compact Node JSON, shaped like the real template */
    size_t len;
    guint gpus;       /* allocatable nvidia.com/gpu */
    guint gpus_used;  /* by the running pods generated on it */
    guint gpus_bound; /* by the benchmark's bind requests */
    bool ready;
    bool unschedulable;
} BenchNode;

typedef struct {
    guint n_nodes;
    guint pods_per_node;
    guint n_pending; /* pending GPU pods at the end of the pod list (bind targets) */
    BenchNode *nodes;
    char *pod_json; /* the Pod of every ExtenderArgs (a capture's Pod when available) */
    char *policy_yaml;
    const char *node_template_source; /* where the Node template came from */
    const char *pod_template_source;
    size_t node_bytes_mean;
    guint64 seed;
} BenchCluster;

/* Build a cluster of @n_nodes nodes and @pods_per_node running pods per node,
 * plus @n_pending pending GPU pods.  @shared_data may be NULL (synthetic
 * templates of the same size and shape are used). */
BenchCluster *bench_cluster_new(guint n_nodes, guint pods_per_node, guint n_pending,
                                const char *shared_data, guint64 seed);
void bench_cluster_free(BenchCluster *c);

/* Total pods listed by the fake API server (running + pending). */
guint bench_cluster_pod_count(const BenchCluster *c);
/* Append pod @index (0 .. pod_count-1) as compact JSON; @rv is its
 * resourceVersion, @variant changes a status field (for MODIFIED events). */
void bench_cluster_append_pod(const BenchCluster *c, guint index, guint64 rv, guint variant,
                              GString *out);
/* Name, namespace and UID of pod @index. */
void bench_cluster_pod_identity(const BenchCluster *c, guint index, char *name, size_t name_len,
                                char *ns, size_t ns_len, char *uid, size_t uid_len);

/* ExtenderArgs bodies, exactly as kube-scheduler writes them (compact,
 * Go field names, the unused node form null).  Candidates are @n nodes
 * starting at @first (wrapping). */
char *bench_body_names(const BenchCluster *c, guint first, guint n, size_t *len);
/* The same with the NULL-terminated list @names as NodeNames. */
char *bench_body_name_list(const BenchCluster *c, const char *const *names, size_t *len);
/* The same with another Pod's JSON. */
char *bench_body_names_for(const BenchCluster *c, const char *pod_json, guint first, guint n,
                           size_t *len);
char *bench_body_name_list_for(const char *pod_json, const char *const *names, size_t *len);
/* The request Pod as a distinct pod @i (its own name and UID), with
 * flexplace.io/profile @profile when not NULL ("every-node": the default
 * profile without the short list).  g_free. */
char *bench_pod_variant(const BenchCluster *c, guint i, const char *profile);
char *bench_body_full(const BenchCluster *c, guint first, guint n, size_t *len);
/* ExtenderBindingArgs for pending pod @k on @node. */
char *bench_body_bind(const BenchCluster *c, guint k, const char *node, size_t *len);

/* ---- fake Kubernetes API server (fakekube.c) ---- */

typedef struct BenchKube BenchKube;

BenchKube *bench_kube_start(const BenchCluster *c);
guint16 bench_kube_port(BenchKube *k);
/* Pod watch events per second written to every open pod watch (0 = none). */
void bench_kube_set_event_rate(BenchKube *k, guint per_second);
guint64 bench_kube_events_sent(BenchKube *k);
guint64 bench_kube_bindings(BenchKube *k);
void bench_kube_stop(BenchKube *k);

/* ---- no-op libmicrohttpd server (noop.c) ---- */

typedef struct BenchNoop BenchNoop;

/* Same thread mode and limits as flexplace's server; the handler reads the
 * body and answers {} (200). */
BenchNoop *bench_noop_start(guint threads);
guint16 bench_noop_port(BenchNoop *n);
void bench_noop_stop(BenchNoop *n);

/* ---- HTTP driver (driver.c) ---- */

typedef struct {
    const char *path;
    const char *body;
    size_t len;
} BenchReq;

typedef struct {
    guint concurrency;
    double seconds;      /* run at least this long ... */
    guint max_requests;  /* ... or stop after this many (0 = no cap) */
    guint min_requests;  /* ... but not before this many */
    bool fresh_connects; /* a new TCP connection per request (no keep-alive) */
    bool once;           /* send each request of the list at most once */
    /* Optional: called with every reply (index into the request list). */
    bool (*check)(guint index, long status, const char *body, size_t len, void *data);
    void *check_data;
} BenchDriveOpts;

typedef struct {
    guint64 ok;       /* 200 and, with a check, accepted */
    guint64 failed;   /* transport error, other status, or rejected by the check */
    double elapsed;   /* seconds */
    GArray *lat_us;   /* double, one per completed request */
    guint64 connects; /* new connections made */
    char *first_error;
} BenchRun;

void bench_drive(guint16 port, const BenchReq *reqs, guint n_reqs, const BenchDriveOpts *opts,
                 BenchRun *out);
void bench_run_clear(BenchRun *r);
/* Percentile @p (0..100) of the run's latencies in microseconds. */
double bench_run_pct(BenchRun *r, double p);

/* ---- process statistics of the server under test ---- */

/* User + system CPU seconds of process @pid (all threads). */
double bench_proc_cpu(int pid);
/* VmHWM / VmRSS of @pid in KiB (0 when unreadable). */
guint64 bench_proc_hwm_kib(int pid);
guint64 bench_proc_rss_kib(int pid);
/* Reset @pid's VmHWM to its current RSS (Linux clear_refs 5). */
void bench_proc_reset_hwm(int pid);

G_END_DECLS

#endif /* FP_BENCH_H */
