/*
 * test/bench/bench_main.c - fp_bench: orchestration, checks and the report.
 *
 * Per cluster size: generate the cluster, start the fake API server, start
 * `flexplace serve --kubeconfig` against it, wait until /readyz says the view
 * is synced, check one reply of every verb for correctness, then time:
 * small requests at concurrency 1 (keep-alive and a new connection each),
 * filter and prioritize with every node as candidate in names mode and in
 * full-Node mode, bind, and names-mode filter again while the fake API server
 * replays pod events; then the baselines (jansson DOM of the same bodies, a
 * no-op libmicrohttpd round trip) and an in-process measurement of one watch
 * event applied to a view of the same size.  Prints Markdown tables and the
 * targets of the performance issue with what was measured.
 *
 * --smoke: a tiny cluster, a fraction of a second per phase, every reply
 * checked; exits non-zero on any failed request.  It is the ctest `bench`
 * test; the real run is `cmake --build BUILD --target bench`.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "cache/kobj.h"
#include "cache/view.h"
#include "extender/server/decisions.h"
#include "extender/server/reasons.h"
#include "extender/server/score_memo.h"
#include "cache/placement.h"
#include "extender/wire/protocol.h"
#include "policies/policy_load.h"
#include "test/bench/bench.h"
#include "test/bench/free_port.h"

#ifndef FP_BENCH_FLEXPLACE
#define FP_BENCH_FLEXPLACE "flexplace"
#endif

typedef struct {
    /* options */
    char *flexplace;
    char *sizes;
    double seconds;
    gboolean smoke;
    char *out_path;
    int full_max;
    int threads;
    int pods_per_node;
    char *label;
    gboolean no_baselines;
    gboolean in_process;
    int cycle_reps; /* distinct-pod cycles per mode in process */
    int full_reps;  /* single full-Node requests timed by server CPU */
    /* state */
    GString *report;
    int failures;
    const char *shared;
} Bench;

/* Numbers the targets are checked against (the 5,000-node run, or the
 * largest run below it). */
typedef struct {
    guint nodes;
    double names_filter_p99, names_prio_p99, names_filter_rps_c2, names_prio_rps_c2;
    double bind_p99;
    double full_filter_p50, jansson_full_ms;
    double event_apply_p99_us, event_total_p99_us;
    double inproc_us; /* the verb path in process, median CPU µs */
    double peak_rss_mib;
    double small_ka_p50, small_fresh_p50;
    double rps_events_c2, events_per_s;
} Targets;

static Targets targets;

static void out(Bench *b, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void out(Bench *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fputs(s, stdout);
    fflush(stdout);
    g_string_append(b->report, s);
}

static void fail(Bench *b, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void fail(Bench *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "fp_bench: FAILED: %s\n", s);
    b->failures++;
}

/* ---- the server under test -------------------------------------------------- */

typedef struct {
    GPid pid;
    guint16 port;
    char *dir;
    char *log;
} Server;

static long http_get_status(guint16 port, const char *path)
{
    CURL *h = curl_easy_init();
    char url[128];
    g_snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fwrite);
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(h, CURLOPT_WRITEDATA, devnull);
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    }
    fclose(devnull);
    curl_easy_cleanup(h);
    return status;
}

static gboolean server_start(Bench *b, const BenchCluster *c, guint16 kube_port, Server *s)
{
    memset(s, 0, sizeof *s);
    s->dir = g_dir_make_tmp("fp-bench-XXXXXX", NULL);
    g_autofree char *kc = g_build_filename(s->dir, "kubeconfig", NULL);
    g_autofree char *pol = g_build_filename(s->dir, "policy.yaml", NULL);
    s->log = g_build_filename(s->dir, "flexplace.log", NULL);
    g_autofree char *kc_text = g_strdup_printf(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: bench\n  cluster:\n"
        "    server: http://127.0.0.1:%u\ncontexts:\n- name: bench\n  context:\n"
        "    cluster: bench\n    user: bench\ncurrent-context: bench\nusers:\n- name: bench\n"
        "  user: {}\n",
        kube_port);
    g_file_set_contents(kc, kc_text, -1, NULL);
    g_file_set_contents(pol, c->policy_yaml, -1, NULL);
    s->port = fp_bench_free_port("fp_bench");
    g_autofree char *listen = g_strdup_printf("127.0.0.1:%u", s->port);
    g_autofree char *threads = g_strdup_printf("%d", b->threads);
    g_autofree char *a_serve = g_strdup("serve"), *a_kc = g_strdup("--kubeconfig"),
                    *a_pol = g_strdup("--policy"), *a_listen = g_strdup("--listen"),
                    *a_threads = g_strdup("--threads");
    /* Above serve's default view limits (10,000 nodes, 300,000 pods) raise
     * them; below, pass nothing, so that older binaries run too. */
    bool big = c->n_nodes > 10000 || bench_cluster_pod_count(c) > 300000;
    g_autofree char *max_nodes = g_strdup_printf("--max-nodes=%u", c->n_nodes * 2);
    g_autofree char *max_pods = g_strdup_printf("--max-pods=%u", bench_cluster_pod_count(c) * 2);
    char *argv[] = {b->flexplace,
                    a_serve,
                    a_kc,
                    kc,
                    a_pol,
                    pol,
                    a_listen,
                    listen,
                    a_threads,
                    threads,
                    big ? max_nodes : NULL,
                    max_pods,
                    NULL};
    int logfd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    g_autoptr(GError) error = NULL;
    if (!g_spawn_async_with_fds(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &s->pid,
                                -1, logfd, logfd, &error)) {
        g_printerr("fp_bench: cannot start %s: %s\n", b->flexplace, error->message);
        exit(1);
    }
    close(logfd);
    gint64 deadline = g_get_monotonic_time() + 600 * G_USEC_PER_SEC;
    while (g_get_monotonic_time() < deadline) {
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            g_autofree char *log = NULL;
            g_file_get_contents(s->log, &log, NULL, NULL);
            g_printerr("fp_bench: flexplace exited during start-up:\n%s\n", log ? log : "");
            exit(1);
        }
        if (http_get_status(s->port, "/readyz") == 200) {
            return TRUE;
        }
        g_usleep(100 * 1000);
    }
    return FALSE;
}

static void server_stop(Server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        int st;
        waitpid(s->pid, &st, 0);
        g_spawn_close_pid(s->pid);
    }
    g_autofree char *kc = g_build_filename(s->dir, "kubeconfig", NULL);
    g_autofree char *pol = g_build_filename(s->dir, "policy.yaml", NULL);
    g_unlink(kc);
    g_unlink(pol);
    g_unlink(s->log);
    g_rmdir(s->dir);
    g_free(s->dir);
    g_free(s->log);
}

/* ---- reply checks ----------------------------------------------------------------- */

typedef struct {
    guint n;      /* candidates */
    bool full;    /* Nodes form */
    guint passed; /* of the last checked reply */
    char **passed_names;
    size_t reply_len; /* of the last checked reply */
} FilterCheck;

static bool check_filter(guint index, long status, const char *body, size_t len, void *data)
{
    FilterCheck *fc = data;
    json_error_t jerr;
    json_t *r = json_loadb(body, len, 0, &jerr);
    bool ok = json_is_object(r);
    json_t *names = json_object_get(r, "NodeNames");
    json_t *nodes = json_object_get(r, "Nodes");
    json_t *items = json_object_get(nodes, "items");
    size_t n_pass = fc->full ? json_array_size(items) : json_array_size(names);
    size_t n_fail = json_object_size(json_object_get(r, "FailedNodes"));
    size_t n_unres = json_object_size(json_object_get(r, "FailedAndUnresolvableNodes"));
    ok = ok && json_is_string(json_object_get(r, "Error")) &&
         g_str_equal(json_string_value(json_object_get(r, "Error")), "");
    ok = ok && (fc->full ? json_is_array(items) && json_is_null(names)
                         : json_is_array(names) && json_is_null(nodes));
    /* Every candidate accounted for once, or the short list: some pass,
     * no reasons (extender/README.md, the short list). */
    ok = ok && (n_pass + n_fail + n_unres == fc->n ||
                (n_pass >= 1 && n_pass <= fc->n && n_fail + n_unres == 0));
    if (ok && !fc->full) {
        g_strfreev(fc->passed_names);
        fc->passed_names = g_new0(char *, n_pass + 1);
        for (size_t i = 0; i < n_pass; i++) {
            fc->passed_names[i] = g_strdup(json_string_value(json_array_get(names, i)));
        }
    }
    fc->passed = (guint)n_pass;
    fc->reply_len = len;
    json_decref(r);
    return ok;
}

static bool check_prioritize(guint index, long status, const char *body, size_t len, void *data)
{
    guint *n = data;
    json_t *r = json_loadb(body, len, 0, NULL);
    bool ok = json_is_array(r) && json_array_size(r) <= *n; /* scores of 0 are left out */
    size_t i;
    json_t *e;
    json_array_foreach(r, i, e)
    {
        json_t *score = json_object_get(e, "Score");
        ok = ok && json_is_string(json_object_get(e, "Host")) && json_is_integer(score) &&
             json_integer_value(score) >= 0 && json_integer_value(score) <= 10;
    }
    json_decref(r);
    return ok;
}

/* Reply sizes of a filter, prioritize, filter, ... run. */
typedef struct {
    guint64 bytes[2];
    guint n[2];
} CycleSizes;

static bool check_cycle(guint index, long status, const char *body, size_t len, void *data)
{
    CycleSizes *cs = data;
    cs->bytes[index % 2] += len;
    cs->n[index % 2]++;
    return status == 200;
}

static bool check_bind(guint index, long status, const char *body, size_t len, void *data)
{
    return len == 12 && memcmp(body, "{\"Error\":\"\"}", 12) == 0;
}

/* ---- one timed run ---------------------------------------------------------------- */

typedef struct {
    double rps, p50, p99, p999, cpu_ms;
    guint64 n, failed;
} Row;

static Row run(Bench *b, Server *s, guint16 port, const BenchReq *reqs, guint n_reqs,
               BenchDriveOpts *o)
{
    Row row = {0};
    double cpu0 = s ? bench_proc_cpu(s->pid) : 0;
    BenchRun r;
    bench_drive(port, reqs, n_reqs, o, &r);
    double cpu1 = s ? bench_proc_cpu(s->pid) : 0;
    row.n = r.ok;
    row.failed = r.failed;
    row.rps = r.elapsed > 0 ? (double)r.ok / r.elapsed : 0;
    row.p50 = bench_run_pct(&r, 50) / 1000.0;
    row.p99 = bench_run_pct(&r, 99) / 1000.0;
    row.p999 = bench_run_pct(&r, 99.9) / 1000.0;
    row.cpu_ms = r.ok ? (cpu1 - cpu0) * 1000.0 / (double)r.ok : 0;
    if (r.failed) {
        fail(b, "%s: %" G_GUINT64_FORMAT " failed requests; first: %s", reqs[0].path, r.failed,
             r.first_error);
    }
    bench_run_clear(&r);
    return row;
}

static void row_out(Bench *b, const char *what, guint conc, const Row *r, bool cpu)
{
    char cpu_text[32] = "-";
    if (cpu) {
        g_snprintf(cpu_text, sizeof cpu_text, "%.3f", r->cpu_ms);
    }
    out(b, "| %s | %u | %" G_GUINT64_FORMAT " | %.*f | %.3f | %.3f | %.3f | %s |\n", what, conc,
        r->n, r->rps < 10 ? 2 : 0, r->rps, r->p50, r->p99, r->p999, cpu_text);
}

static const char *row_header =
    "| verb | concurrency | requests | req/s | p50 ms | p99 ms | "
    "p99.9 ms | server CPU ms/req |\n|---|---|---|---|---|---|---|---|\n";

static int cmp_ms(gconstpointer a, gconstpointer b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Server CPU of single full-Node filter requests, one at a time: the
 * median and the max (outliers are what a per-run mean hides). */
static void full_cpu_per_request(Bench *b, Server *srv, const char *body, size_t len, guint reps)
{
    BenchReq req = {"/filter", body, len};
    GArray *ms = g_array_new(FALSE, FALSE, sizeof(double));
    for (guint i = 0; i < reps; i++) {
        BenchDriveOpts o = {.concurrency = 1, .max_requests = 1};
        double cpu0 = bench_proc_cpu(srv->pid);
        Row r = run(b, srv, srv->port, &req, 1, &o);
        double cpu = (bench_proc_cpu(srv->pid) - cpu0) * 1000.0;
        if (r.n == 1) {
            g_array_append_val(ms, cpu);
        }
    }
    g_array_sort(ms, cmp_ms);
    if (ms->len) {
        out(b,
            "\nFull-Node filter, server CPU per request over %u single requests (the process's "
            "utime+stime, 10 ms ticks): median %.0f ms, max %.0f ms (max / median %.2f).\n",
            ms->len, g_array_index(ms, double, ms->len / 2), g_array_index(ms, double, ms->len - 1),
            g_array_index(ms, double, ms->len - 1) /
                MAX(g_array_index(ms, double, ms->len / 2), 1e-9));
    }
    g_array_unref(ms);
}

/* ---- kube-scheduler's cycle for distinct pods ------------------------------------ */

/* Each of @n pods filtered once over every node, then prioritized once over
 * exactly what its filter named (as kube-scheduler does: a repeated body
 * would only measure flexplace's decoded-Pod cache and score memo), with
 * the short list (the default profile) and without it (a profile that is
 * the default with shortList: 0).  Each pod's filter answer is learnt in
 * an untimed pass first; with 200 pods the timed filter finds neither the
 * decoded-Pod cache (8 pods) nor the score memo (8 entries) warm. */
static void distinct_pods_bench(Bench *b, BenchCluster *c, Server *srv, bool smoke)
{
    guint n = smoke ? 4 : 200; /* the CPU ticks are 10 ms: 400 requests */
    const char *modes[] = {NULL, "every-node"};
    out(b,
        "\nkube-scheduler's cycle for %u distinct pods (each filtered once over all %u nodes, "
        "then prioritized once over what its filter named; at concurrency 1), with the short "
        "list and without it; server CPU per pod is twice the per-request figure:\n\n"
        "| mode | pods | filter answer bytes (mean) | names per answer | prioritize answer "
        "bytes (mean) | p50 ms | p99 ms | server CPU ms per pod |\n"
        "|---|---|---|---|---|---|---|---|\n",
        n, c->n_nodes);
    for (guint m = 0; m < 2; m++) {
        BenchReq *reqs = g_new0(BenchReq, 2 * n);
        char **pods = g_new0(char *, n);
        guint names_total = 0;
        bool ok = true;
        for (guint i = 0; i < n && ok; i++) {
            pods[i] = bench_pod_variant(c, 1000 * (m + 1) + i, modes[m]);
            size_t len;
            reqs[2 * i].path = "/filter";
            reqs[2 * i].body = bench_body_names_for(c, pods[i], 0, c->n_nodes, &len);
            reqs[2 * i].len = len;
            FilterCheck fc = {.n = c->n_nodes};
            BenchDriveOpts chk = {
                .concurrency = 1, .max_requests = 1, .check = check_filter, .check_data = &fc};
            Row r = run(b, srv, srv->port, &reqs[2 * i], 1, &chk);
            ok = r.n == 1;
            names_total += fc.passed;
            reqs[2 * i + 1].path = "/prioritize";
            reqs[2 * i + 1].body =
                bench_body_name_list_for(pods[i], (const char *const *)fc.passed_names, &len);
            reqs[2 * i + 1].len = len;
            g_strfreev(fc.passed_names);
        }
        if (ok) {
            CycleSizes cs;
            memset(&cs, 0, sizeof cs);
            BenchDriveOpts o = {.concurrency = 1,
                                .once = true,
                                .max_requests = 2 * n,
                                .check = check_cycle,
                                .check_data = &cs};
            Row r = run(b, srv, srv->port, reqs, 2 * n, &o);
            out(b, "| %s | %u | %.0f | %.1f | %.0f | %.3f | %.3f | %.3f |\n",
                m ? "every passing node (shortList: 0)" : "short list (default 20)", n,
                cs.n[0] ? (double)cs.bytes[0] / cs.n[0] : 0, (double)names_total / n,
                cs.n[1] ? (double)cs.bytes[1] / cs.n[1] : 0, r.p50, r.p99, 2 * r.cpu_ms);
        }
        for (guint i = 0; i < 2 * n; i++) {
            g_free((char *)reqs[i].body);
        }
        for (guint i = 0; i < n; i++) {
            g_free(pods[i]);
        }
        g_free(pods);
        g_free(reqs);
    }
}

/* ---- baselines ------------------------------------------------------------------ */

/* Median json_loadb time in ms over @reps parses of @body. */
static double jansson_ms(const char *body, size_t len, guint reps)
{
    GArray *t = g_array_new(FALSE, FALSE, sizeof(double));
    for (guint i = 0; i < reps; i++) {
        gint64 t0 = g_get_monotonic_time();
        json_t *v = json_loadb(body, len, 0, NULL);
        double ms = (double)(g_get_monotonic_time() - t0) / 1000.0;
        json_decref(v);
        g_array_append_val(t, ms);
    }
    BenchRun r = {.lat_us = t};
    double med = bench_run_pct(&r, 50);
    g_array_unref(t);
    return med;
}

/* ---- watch event apply, in process -------------------------------------------------- */

static double heap_in_use(void);
static double bench_nodes_heap; /* heap in use once bench_view_new has the nodes */

/* The generated cluster decoded into a view, as the informer would. */
static FpView *bench_view_new(const BenchCluster *c)
{
    FpView *view = fp_view_new();
    fp_view_set_limits(view, 0, 0); /* no cap: the whole generated cluster */
    GPtrArray *nodes = g_ptr_array_new();
    for (guint i = 0; i < c->n_nodes; i++) {
        json_t *j = json_loadb(c->nodes[i].json, c->nodes[i].len, 0, NULL);
        g_ptr_array_add(nodes, fp_node_from_json(j, NULL));
        json_decref(j);
    }
    fp_view_replace_nodes(view, nodes);
    bench_nodes_heap = heap_in_use();
    guint n_pods = bench_cluster_pod_count(c);
    GPtrArray *pods = g_ptr_array_new();
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < n_pods; i++) {
        g_string_truncate(s, 0);
        bench_cluster_append_pod(c, i, 1000 + i, 0, s);
        json_t *j = json_loadb(s->str, s->len, 0, NULL);
        g_ptr_array_add(pods, fp_pod_from_json(j, FP_POD_CACHE, NULL));
        json_decref(j);
    }
    fp_view_replace_pods(view, pods);
    g_string_free(s, TRUE);
    return view;
}

/* Heap bytes in use (all arenas). */
static double heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (double)mi.uordblks + (double)mi.hblkhd;
}

/* The view of the generated cluster, and what it holds on the heap. */
static FpView *bench_view_measured(Bench *b, const BenchCluster *c)
{
    double before = heap_in_use();
    FpView *view = bench_view_new(c);
    double after = heap_in_use();
    guint n_pods = bench_cluster_pod_count(c);
    double mib = 1024.0 * 1024.0;
    out(b,
        "\nThe view's heap (in process, mallinfo2): %.1f MiB for %u nodes and %u pods: %.1f MiB "
        "of nodes (%.0f bytes each), %.1f MiB of pods (%.0f bytes each).\n",
        (after - before) / mib, c->n_nodes, n_pods, (bench_nodes_heap - before) / mib,
        (bench_nodes_heap - before) / c->n_nodes, (after - bench_nodes_heap) / mib,
        (after - bench_nodes_heap) / MAX(n_pods, 1));
    return view;
}

static void event_apply_bench(Bench *b, const BenchCluster *c, FpView *view)
{
    guint n_pods = bench_cluster_pod_count(c);
    GString *s = g_string_new(NULL);
    guint n_events = b->smoke ? 2000 : 20000;
    guint running = c->n_nodes * c->pods_per_node;
    GArray *total = g_array_new(FALSE, FALSE, sizeof(double));
    GArray *apply = g_array_new(FALSE, FALSE, sizeof(double));
    for (guint e = 0; e < n_events && running; e++) {
        g_string_assign(s, "{\"type\":\"MODIFIED\",\"object\":");
        bench_cluster_append_pod(c, (e * 7919u) % running, 2000000 + e, e + 1, s);
        g_string_append(s, "}");
        gint64 t0 = g_get_monotonic_time();
        json_t *ev = json_loadb(s->str, s->len, 0, NULL);
        FpPod *pod = fp_pod_from_json(json_object_get(ev, "object"), FP_POD_CACHE, NULL);
        gint64 t1 = g_get_monotonic_time();
        fp_view_apply_pod(view, pod);
        gint64 t2 = g_get_monotonic_time();
        json_decref(ev);
        double tt = (double)(t2 - t0), ta = (double)(t2 - t1);
        g_array_append_val(total, tt);
        g_array_append_val(apply, ta);
    }
    BenchRun rt = {.lat_us = total}, ra = {.lat_us = apply};
    double p50 = bench_run_pct(&rt, 50), p99 = bench_run_pct(&rt, 99);
    double a50 = bench_run_pct(&ra, 50), a99 = bench_run_pct(&ra, 99);
    out(b,
        "\nWatch event applied to the view (in process, %u nodes, %u pods, %u MODIFIED events "
        "of %zu-byte pods):\n\n| step | p50 µs | p99 µs |\n|---|---|---|\n"
        "| decode line + FP_POD_CACHE + apply | %.1f | %.1f |\n| apply under the write lock | "
        "%.1f | %.1f |\n",
        c->n_nodes, n_pods, n_events, s->len, p50, p99, a50, a99);
    if (c->n_nodes <= 5000 || targets.nodes == 0) {
        targets.event_apply_p99_us = a99;
        targets.event_total_p99_us = p99;
    }
    g_array_unref(total);
    g_array_unref(apply);
    g_string_free(s, TRUE);
}

/* ---- the verb path, in process -------------------------------------------------------- */

static double thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void count_nothing(const char *reason, guint count, void *data)
{
    (void)reason;
    (void)count;
    (void)data;
}

enum { CYC_DECODE, CYC_EVALUATE, CYC_ENCODE, CYC_ACCOUNT, CYC_PRIORITIZE, CYC_STEPS };

/* One distinct pod's cycle as the server's verbs run it, each step timed:
 * the filter's decode, evaluation (short list as the pod's profile says),
 * reply, score memo, decision and reason count; then the prioritize of the
 * names the filter answered (decode, memo, reply).  Returns the passing
 * candidates and the names answered through @passed, @listed. */
static bool cycle_once(FpView *view, const FpPolicy *policy, FpScoreMemo *memo,
                       FpDecisionRing *ring, const char *pod_json, const char *body, size_t len,
                       double *at, guint *passed, guint *listed)
{
    at[0] = thread_cpu_us();
    FpExtenderArgs *args = fp_extender_args_parse(body, len, NULL);
    at[1] = thread_cpu_us();
    if (!args) {
        return false;
    }
    FpCandidates cands = {.names = (const char *const *)args->node_names,
                          .n = fp_extender_args_count(args),
                          .name_hashes = args->name_hashes,
                          .best_node_only = true,
                          .short_list = true};
    FpPlacement *p = fp_placement_evaluate(view, policy, args->pod, &cands);
    at[2] = thread_cpu_us();
    size_t out_len;
    char *reply = p->listed_idx ? fp_encode_filter_listed(args, p->verdicts, p->listed_idx,
                                                          p->listed, &out_len)
                                : fp_encode_filter_result(args, p->verdicts, NULL, &out_len);
    at[3] = thread_cpu_us();
    fp_score_memo_put(memo, args, policy, p->verdicts, p->listed_idx, p->listed);
    fp_decision_record(ring, "filter", args->pod, p, p->names, policy->generation, 0, NULL);
    *passed = fp_count_reasons(p, count_nothing, NULL);
    at[4] = thread_cpu_us();
    /* kube-scheduler's prioritize: the same Pod, the names answered. */
    GPtrArray *names = g_ptr_array_new();
    for (guint i = 0; i < p->n; i++) {
        if (p->verdicts[i].pass && !p->verdicts[i].omit) {
            g_ptr_array_add(names, (char *)p->names[i]);
        }
    }
    *listed = names->len;
    g_ptr_array_add(names, NULL);
    size_t plen = 0;
    g_autofree char *prio_body =
        bench_body_name_list_for(pod_json, (const char *const *)names->pdata, &plen);
    g_ptr_array_free(names, TRUE);
    double t_prio = thread_cpu_us();
    FpExtenderArgs *pargs = fp_extender_args_parse(prio_body, plen, NULL);
    guint8 *scores = pargs ? fp_score_memo_get(memo, pargs, policy) : NULL;
    if (scores) {
        g_free(fp_encode_priority_scores(pargs, scores, &out_len));
    }
    at[5] = at[4] + (thread_cpu_us() - t_prio);
    bool ok = scores != NULL;
    g_free(scores);
    fp_extender_args_free(pargs);
    g_free(reply);
    fp_placement_free(p);
    fp_extender_args_free(args);
    return ok;
}

/* What kube-scheduler's cycle for distinct pods costs without HTTP, in
 * CPU time of this thread per step: each pod its own name and UID (so
 * neither the decoded-Pod cache nor the score memo helps its filter), on
 * the same view and bodies as the server runs; with the short list (the
 * default profile) and without it (shortList: 0). */
static void verb_path_bench(Bench *b, const BenchCluster *c, FpView *view)
{
    static const char *const step_names[CYC_STEPS] = {
        "filter: decode ExtenderArgs (names)", "filter: evaluate (lookup, filters, terms, list)",
        "filter: encode ExtenderFilterResult", "filter: score memo, decision, reason counts",
        "prioritize: decode, score memo, encode"};
    g_autoptr(FpPolicy) policy =
        fp_policy_load_buffer(c->policy_yaml, strlen(c->policy_yaml), "bench-policy", NULL);
    if (!policy) {
        fail(b, "the generated policy does not load");
        return;
    }
    policy->generation = 1;
    guint reps = b->smoke ? 20 : (guint)MAX(b->cycle_reps, 1);
    static const char *const modes[] = {NULL, "every-node"};
    for (guint m = 0; m < G_N_ELEMENTS(modes); m++) {
        FpDecisionRing *ring = fp_decision_ring_new(256, 200);
        FpScoreMemo *memo = fp_score_memo_new();
        GArray *t[CYC_STEPS + 1];
        for (guint k = 0; k <= CYC_STEPS; k++) {
            t[k] = g_array_new(FALSE, FALSE, sizeof(double));
        }
        guint passed = 0, listed = 0;
        /* More pods than the decoded-Pod cache and the score memo hold
         * (8 each), made before anything is timed. */
        enum { PODS = 32 };
        char *pods[PODS], *bodies[PODS];
        size_t lens[PODS];
        for (guint i = 0; i < PODS; i++) {
            pods[i] = bench_pod_variant(c, 5000 + i, modes[m]);
            bodies[i] =
                bench_body_names_for(c, pods[i], (i % 4) * c->n_nodes / 4, c->n_nodes, &lens[i]);
        }
        /* the first one warms up (the view's facts) */
        for (guint r = 0; r <= reps; r++) {
            guint i = r % PODS;
            double at[CYC_STEPS + 1];
            if (!cycle_once(view, policy, memo, ring, pods[i], bodies[i], lens[i], at, &passed,
                            &listed)) {
                fail(b, "in-process cycle failed");
                break;
            }
            for (guint k = 0; r > 0 && k <= CYC_STEPS; k++) {
                double us = k < CYC_STEPS ? at[k + 1] - at[k] : at[CYC_STEPS] - at[0];
                g_array_append_val(t[k], us);
            }
        }
        out(b,
            "\nVerb path in process (no HTTP), kube-scheduler's cycle for %u distinct pods, %s: "
            "filter of all %u nodes (%u pass, %u answered), then prioritize of the %u answered; "
            "CPU time of one thread per step:\n\n| step | p50 µs | p99 µs | p50 ns per "
            "candidate |\n|---|---|---|---|\n",
            reps, m ? "every passing node (shortList: 0)" : "short list (default 20)", c->n_nodes,
            passed, listed, listed);
        for (guint k = 0; k <= CYC_STEPS; k++) {
            BenchRun run = {.lat_us = t[k]};
            double med = bench_run_pct(&run, 50);
            out(b, "| %s | %.0f | %.0f | %.0f |\n", k < CYC_STEPS ? step_names[k] : "**total**",
                med, bench_run_pct(&run, 99), med * 1000.0 / c->n_nodes);
            if (m == 0 && k == CYC_STEPS && (c->n_nodes <= 5000 || targets.nodes == 0)) {
                targets.inproc_us = med;
            }
            g_array_unref(t[k]);
        }
        for (guint i = 0; i < PODS; i++) {
            g_free(pods[i]);
            g_free(bodies[i]);
        }
        fp_score_memo_free(memo);
        fp_decision_ring_free(ring);
    }
}

/* ---- one cluster size ------------------------------------------------------------------ */

static void free_reqs(BenchReq *reqs, guint n)
{
    for (guint i = 0; i < n; i++) {
        g_free((char *)reqs[i].body);
    }
    g_free(reqs);
}

static void bench_size(Bench *b, guint n_nodes)
{
    bool smoke = b->smoke;
    double secs = b->seconds;
    guint n_pending = smoke ? 60 : MIN(3000, n_nodes * 2);
    gint64 t0 = g_get_monotonic_time();
    BenchCluster *c = bench_cluster_new(n_nodes, (guint)b->pods_per_node, n_pending, b->shared, 42);
    double gen_s = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
    if (b->in_process) {
        out(b, "\n## %u nodes, %u pods, in process only\n", n_nodes, bench_cluster_pod_count(c));
        FpView *view = bench_view_measured(b, c);
        event_apply_bench(b, c, view);
        verb_path_bench(b, c, view);
        fp_view_free(view);
        bench_cluster_free(c);
        return;
    }
    BenchKube *kube = bench_kube_start(c);
    Server srv;
    t0 = g_get_monotonic_time();
    if (!server_start(b, c, bench_kube_port(kube), &srv)) {
        fail(b, "flexplace did not become ready");
        server_stop(&srv);
        bench_kube_stop(kube);
        bench_cluster_free(c);
        return;
    }
    double sync_s = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
    guint64 rss_synced = bench_proc_rss_kib(srv.pid);
    guint64 hwm_synced = bench_proc_hwm_kib(srv.pid);
    bench_proc_reset_hwm(srv.pid);

    size_t names_len, full_len;
    g_autofree char *names_body = bench_body_names(c, 0, n_nodes, &names_len);
    out(b,
        "\n## %u nodes, %u pods (%u pending)\n\nNode template: %s, mean %zu bytes of JSON per "
        "node; request Pod: %s.  Generated in %.1f s; flexplace listed and synced the view in "
        "%.1f s (RSS %.0f MiB, peak %.0f MiB so far).\n",
        n_nodes, bench_cluster_pod_count(c), n_pending, c->node_template_source, c->node_bytes_mean,
        c->pod_template_source, gen_s, sync_s, rss_synced / 1024.0, hwm_synced / 1024.0);

    /* Correctness of one reply per verb before timing anything. */
    FilterCheck fc = {.n = n_nodes};
    BenchReq one = {"/filter", names_body, names_len};
    BenchDriveOpts chk = {
        .concurrency = 1, .max_requests = 1, .check = check_filter, .check_data = &fc};
    Row r = run(b, &srv, srv.port, &one, 1, &chk);
    guint names_passed = fc.passed;
    guint n_prio = n_nodes;
    chk.check = check_prioritize;
    chk.check_data = &n_prio;
    one.path = "/prioritize";
    run(b, &srv, srv.port, &one, 1, &chk);

    /* Small requests at concurrency 1: no delayed-ACK stall. */
    size_t small_len;
    g_autofree char *small = bench_body_names(c, 0, MIN(n_nodes, 10), &small_len);
    BenchReq small_req = {"/filter", small, small_len};
    out(b, "\nSmall filter request (%zu bytes, 10 candidates), concurrency 1:\n\n%s", small_len,
        row_header);
    BenchDriveOpts o = {
        .concurrency = 1, .seconds = smoke ? 0.2 : MIN(secs, 2.0), .min_requests = 20};
    Row ka = run(b, &srv, srv.port, &small_req, 1, &o);
    row_out(b, "filter, keep-alive", 1, &ka, true);
    o.fresh_connects = true;
    Row fresh = run(b, &srv, srv.port, &small_req, 1, &o);
    row_out(b, "filter, new connection each", 1, &fresh, true);
    o.fresh_connects = false;

    /* Names mode. */
    guint n_bodies = smoke ? 2 : 8;
    BenchReq *names = g_new0(BenchReq, n_bodies);
    for (guint i = 0; i < n_bodies; i++) {
        size_t l;
        names[i].body = bench_body_names(c, i * (n_nodes / n_bodies + 1), n_nodes, &l);
        names[i].len = l;
        names[i].path = "/filter";
    }
    out(b,
        "\nNames mode (nodeCacheCapable: true): every node a candidate, body %zu bytes; %u of %u "
        "pass filter; prioritize is sent all %u:\n\n%s",
        names_len, names_passed, n_nodes, n_nodes, row_header);
    static const guint concs[] = {1, 2, 8};
    Row names_c2[2] = {{0}};
    Row names_c1 = {0};
    for (guint v = 0; v < 2; v++) {
        for (guint i = 0; i < n_bodies; i++) {
            names[i].path = v ? "/prioritize" : "/filter";
        }
        for (guint k = 0; k < G_N_ELEMENTS(concs); k++) {
            o = (BenchDriveOpts){
                .concurrency = concs[k], .seconds = smoke ? 0.2 : secs, .min_requests = 10};
            r = run(b, &srv, srv.port, names, n_bodies, &o);
            row_out(b, v ? "prioritize" : "filter", concs[k], &r, true);
            if (concs[k] == 2) {
                names_c2[v] = r;
            }
            if (concs[k] == 1 && v == 0) {
                names_c1 = r;
            }
        }
    }

    /* kube-scheduler's cycle: each pod's filter, then prioritize of exactly
     * the nodes it passed, in its order (extender/server/score_memo.h). */
    size_t cyc_len;
    g_autofree char *cyc_body =
        bench_body_name_list(c, (const char *const *)fc.passed_names, &cyc_len);
    BenchReq cycle[2] = {{"/filter", names_body, names_len}, {"/prioritize", cyc_body, cyc_len}};
    o = (BenchDriveOpts){.concurrency = 1, .seconds = smoke ? 0.2 : secs, .min_requests = 10};
    Row cyc = run(b, &srv, srv.port, cycle, 2, &o);
    out(b,
        "\nkube-scheduler's cycle: filter of all %u, then prioritize of the %u it passed "
        "(answered from the filter's scores), alternating at concurrency 1; per request, so "
        "one pod is two rows' worth (%.2f ms of server CPU per pod):\n\n%s",
        n_nodes, names_passed, 2 * cyc.cpu_ms, row_header);
    row_out(b, "filter, prioritize", 1, &cyc, true);
    distinct_pods_bench(b, c, &srv, smoke);

    /* Bind: distinct pending pods onto nodes with room, in pools below
     * their burst ceiling (as flexplace counts them: Ready, schedulable
     * nodes), so that every bind goes through to the API call. */
    g_autoptr(GHashTable) pools = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (guint i = 0; i < n_nodes; i++) {
        BenchNode *nd = &c->nodes[i];
        if (!nd->ready || nd->unschedulable) {
            continue;
        }
        char *pool = g_strndup(nd->name, strlen(nd->name) - 6); /* drop "-NNNNN" */
        double *ps = g_hash_table_lookup(pools, pool);
        if (!ps) {
            ps = g_new0(double, 2);
            g_hash_table_insert(pools, g_strdup(pool), ps);
        }
        ps[0] += nd->gpus;
        ps[1] += nd->gpus_used;
        g_free(pool);
    }
    guint n_bind = 0;
    BenchReq *binds = g_new0(BenchReq, n_pending);
    for (guint cursor = 0; n_bind < n_pending && cursor < n_nodes * 8; cursor++) {
        BenchNode *nd = &c->nodes[(cursor * 7) % n_nodes];
        g_autofree char *pool = g_strndup(nd->name, strlen(nd->name) - 6);
        double *ps = g_hash_table_lookup(pools, pool);
        if (ps && nd->ready && !nd->unschedulable && nd->gpus_used + nd->gpus_bound < nd->gpus &&
            ps[1] + 1 <= 0.79 * ps[0]) {
            size_t l;
            binds[n_bind].path = "/bind";
            binds[n_bind].body = bench_body_bind(c, n_bind, nd->name, &l);
            binds[n_bind].len = l;
            nd->gpus_bound++;
            ps[1] += 1;
            n_bind++;
        }
    }
    out(b,
        "\nBind (each request a different pending pod; the fake API server answers the "
        "Binding POST at once, so this includes one loopback API call):\n\n%s",
        row_header);
    guint bind_at = 0;
    Row bind_c1 = {0};
    for (guint k = 0; k < G_N_ELEMENTS(concs) && bind_at < n_bind; k++) {
        guint share = (n_bind - bind_at) / (G_N_ELEMENTS(concs) - k);
        o = (BenchDriveOpts){
            .concurrency = concs[k], .seconds = 0, .once = true, .check = check_bind};
        r = run(b, &srv, srv.port, binds + bind_at, share, &o);
        bind_at += share;
        row_out(b, "bind", concs[k], &r, true);
        if (k == 0) {
            bind_c1 = r;
        }
    }
    free_reqs(binds, n_bind);
    guint64 hwm_names = bench_proc_hwm_kib(srv.pid);

    /* Live pod events while filtering. */
    guint rate = smoke ? 200 : 1000;
    guint64 ev0 = bench_kube_events_sent(kube);
    bench_kube_set_event_rate(kube, rate);
    g_usleep(smoke ? 100000 : 500000);
    for (guint i = 0; i < n_bodies; i++) {
        names[i].path = "/filter";
    }
    gint64 te = g_get_monotonic_time();
    o = (BenchDriveOpts){.concurrency = 2, .seconds = smoke ? 0.3 : secs, .min_requests = 10};
    Row ev = run(b, &srv, srv.port, names, n_bodies, &o);
    double ev_s = (double)(g_get_monotonic_time() - te) / G_USEC_PER_SEC;
    bench_kube_set_event_rate(kube, 0);
    double ev_rate = (double)(bench_kube_events_sent(kube) - ev0) / (ev_s + (smoke ? 0.1 : 0.5));
    out(b,
        "\nNames-mode filter while the fake API server replays %u pod MODIFIED events/s into "
        "the live view (%.0f events/s delivered):\n\n%s",
        rate, ev_rate, row_header);
    row_out(b, "filter, no events", 2, &names_c2[0], true);
    row_out(b, "filter, with events", 2, &ev, true);

    /* Full-Node mode. */
    double full_p50 = 0;
    double jfull = 0;
    char *full_body = NULL;
    if ((int)n_nodes <= b->full_max) {
        full_body = bench_body_full(c, 0, n_nodes, &full_len);
        BenchReq full = {"/filter", full_body, full_len};
        FilterCheck ffc = {.n = n_nodes, .full = true};
        BenchDriveOpts fchk = {
            .concurrency = 1, .max_requests = 1, .check = check_filter, .check_data = &ffc};
        run(b, &srv, srv.port, &full, 1, &fchk);
        out(b,
            "\nFull-Node mode (nodeCacheCapable: false): every node a candidate, body %.1f MB; "
            "%u pass filter and are echoed back:\n\n%s",
            full_len / 1e6, ffc.passed, row_header);
        guint minr = smoke ? 2 : (n_nodes > 5000 ? 3 : 5);
        for (guint k = 0; k < 2; k++) {
            o = (BenchDriveOpts){
                .concurrency = k + 1, .seconds = smoke ? 0.2 : secs, .min_requests = minr};
            r = run(b, &srv, srv.port, &full, 1, &o);
            row_out(b, "filter", k + 1, &r, true);
            if (k == 0) {
                full_p50 = r.p50;
            }
        }
        full.path = "/prioritize";
        o = (BenchDriveOpts){.concurrency = 1, .seconds = smoke ? 0.2 : secs, .min_requests = minr};
        r = run(b, &srv, srv.port, &full, 1, &o);
        row_out(b, "prioritize", 1, &r, true);
        full_cpu_per_request(b, &srv, full_body, full_len, smoke ? 3 : (guint)MAX(b->full_reps, 1));
    }
    guint64 hwm_all = bench_proc_hwm_kib(srv.pid);
    out(b,
        "\nMemory of flexplace: RSS %.0f MiB once synced (peak %.0f MiB during the LIST); peak "
        "%.0f MiB over the names-mode and bind runs; peak %.0f MiB including full-Node mode.\n",
        rss_synced / 1024.0, hwm_synced / 1024.0, hwm_names / 1024.0, hwm_all / 1024.0);
    server_stop(&srv);
    bench_kube_stop(kube);

    /* Baselines, same bodies, same run. */
    double jnames = 0;
    if (!b->no_baselines) {
        jnames = jansson_ms(names_body, names_len, smoke ? 3 : 30);
        BenchNoop *noop = bench_noop_start((guint)b->threads);
        out(b, "\nBaselines (same bodies, same machine, same run):\n\n| body | jansson "
               "json_loadb ms (median) | no-op MHD p50 ms, c=1 | no-op req/s, c=2 | flexplace "
               "filter p50 ms, c=1 | flexplace / jansson | flexplace / no-op |\n"
               "|---|---|---|---|---|---|---|\n");
        o = (BenchDriveOpts){
            .concurrency = 1, .seconds = smoke ? 0.2 : MIN(secs, 2.0), .min_requests = 10};
        Row n1 = run(b, NULL, bench_noop_port(noop), names, n_bodies, &o);
        o.concurrency = 2;
        Row n2 = run(b, NULL, bench_noop_port(noop), names, n_bodies, &o);
        out(b, "| names, %zu bytes | %.3f | %.3f | %.0f | %.3f | %.2f | %.2f |\n", names_len,
            jnames, n1.p50, n2.rps, names_c1.p50, names_c1.p50 / jnames, names_c1.p50 / n1.p50);
        if (full_body) {
            jfull = jansson_ms(full_body, full_len, smoke ? 1 : (n_nodes > 5000 ? 1 : 3));
            o = (BenchDriveOpts){
                .concurrency = 1, .seconds = smoke ? 0.1 : 1, .min_requests = smoke ? 1 : 3};
            BenchReq full = {"/filter", full_body, full_len};
            Row f1 = run(b, NULL, bench_noop_port(noop), &full, 1, &o);
            out(b, "| full, %.1f MB | %.1f | %.1f | - | %.1f | %.2f | %.2f |\n", full_len / 1e6,
                jfull, f1.p50, full_p50, full_p50 / jfull, full_p50 / f1.p50);
        }
        bench_noop_stop(noop);
    }
    g_free(full_body);

    FpView *view = bench_view_measured(b, c);
    event_apply_bench(b, c, view);
    verb_path_bench(b, c, view);
    fp_view_free(view);

    if (n_nodes <= 5000 || targets.nodes == 0) {
        targets.nodes = n_nodes;
        targets.names_filter_rps_c2 = names_c2[0].rps;
        targets.names_prio_rps_c2 = names_c2[1].rps;
        targets.names_filter_p99 = MAX(names_c2[0].p99, 0);
        targets.names_prio_p99 = MAX(names_c2[1].p99, 0);
        targets.bind_p99 = bind_c1.p99;
        targets.full_filter_p50 = full_p50;
        targets.jansson_full_ms = jfull;
        targets.peak_rss_mib = hwm_names / 1024.0;
        targets.small_ka_p50 = ka.p50;
        targets.small_fresh_p50 = fresh.p50;
        targets.rps_events_c2 = ev.rps;
        targets.events_per_s = ev_rate;
    }
    g_strfreev(fc.passed_names);
    free_reqs(names, n_bodies);
    bench_cluster_free(c);
}

static void print_targets(Bench *b)
{
    const Targets *t = &targets;
    out(b,
        "\n## Targets (issue \"Performance\"), measured on the %u-node run\n\n"
        "| target | measured | met |\n|---|---|---|\n",
        t->nodes);
#define T(desc, fmt, val, ok) out(b, "| " desc " | " fmt " | %s |\n", val, (ok) ? "yes" : "**no**")
    T("names filter p99 <= 2 ms (c=2)", "%.3f ms", t->names_filter_p99, t->names_filter_p99 <= 2);
    T("names prioritize p99 <= 2 ms (c=2)", "%.3f ms", t->names_prio_p99, t->names_prio_p99 <= 2);
    T("names filter >= 2,000 req/s at c=2", "%.0f req/s", t->names_filter_rps_c2,
      t->names_filter_rps_c2 >= 2000);
    T("names prioritize >= 2,000 req/s at c=2", "%.0f req/s", t->names_prio_rps_c2,
      t->names_prio_rps_c2 >= 2000);
    T("bind p99 <= 1 ms (c=1, including a loopback API call)", "%.3f ms", t->bind_p99,
      t->bind_p99 <= 1);
    if (t->jansson_full_ms > 0) {
        out(b,
            "| full-Node filter p50 >= 5x faster than a jansson DOM of the body | %.1f ms vs "
            "%.1f ms (%.1fx) | %s |\n",
            t->full_filter_p50, t->jansson_full_ms, t->jansson_full_ms / t->full_filter_p50,
            t->jansson_full_ms / t->full_filter_p50 >= 5 ? "yes" : "**no**");
    }
    T("watch event applied to the view in <= 50 µs (p99, under the write lock)", "%.1f µs",
      t->event_apply_p99_us, t->event_apply_p99_us <= 50);
    T("watch event decoded and applied in <= 50 µs (p99, JSON decode outside the lock)", "%.1f µs",
      t->event_total_p99_us, t->event_total_p99_us <= 50);
    T("peak RSS <= 150 MB (names mode and bind, view synced)", "%.0f MiB", t->peak_rss_mib,
      t->peak_rss_mib * 1.048576 <= 150);
    T("small request p50 well under 1 ms, keep-alive", "%.3f ms", t->small_ka_p50,
      t->small_ka_p50 < 0.5);
    T("small request p50 well under 1 ms, new connection", "%.3f ms", t->small_fresh_p50,
      t->small_fresh_p50 < 0.5);
    out(b,
        "| no lock convoy: names filter c=2 with ~1,000 pod events/s | %.0f req/s (%.0f "
        "events/s) | - |\n",
        t->rps_events_c2, t->events_per_s);
    out(b,
        "| for reference: the names-mode verb path in process, every step (CPU, p50) "
        "| %.0f µs | - |\n",
        t->inproc_us);
#undef T
}

int main(int argc, char **argv)
{
    Bench b = {.seconds = 3,
               .full_max = 15000,
               .threads = 4,
               .pods_per_node = 30,
               .cycle_reps = 300,
               .full_reps = 30};
    GOptionEntry entries[] = {
        {"flexplace", 0, 0, G_OPTION_ARG_FILENAME, &b.flexplace, "flexplace binary to test",
         "PATH"},
        {"sizes", 0, 0, G_OPTION_ARG_STRING, &b.sizes,
         "Cluster sizes in nodes (default 500,5000,15000)", "N,N"},
        {"seconds", 0, 0, G_OPTION_ARG_DOUBLE, &b.seconds, "Seconds per timed run (default 3)",
         "S"},
        {"full-max", 0, 0, G_OPTION_ARG_INT, &b.full_max,
         "Largest size also run in full-Node mode (default 15000)", "N"},
        {"threads", 0, 0, G_OPTION_ARG_INT, &b.threads, "flexplace --threads (default 4)", "N"},
        {"pods-per-node", 0, 0, G_OPTION_ARG_INT, &b.pods_per_node, "default 30", "N"},
        {"no-baselines", 0, 0, G_OPTION_ARG_NONE, &b.no_baselines, "Skip the baselines", NULL},
        {"in-process", 0, 0, G_OPTION_ARG_NONE, &b.in_process,
         "Only the in-process measurements (watch event apply, the verb path): no server", NULL},
        {"cycle-reps", 0, 0, G_OPTION_ARG_INT, &b.cycle_reps,
         "Distinct-pod cycles timed in process, per mode (default 300; more for a profiler)", "N"},
        {"full-reps", 0, 0, G_OPTION_ARG_INT, &b.full_reps,
         "Single full-Node requests timed by server CPU for median and max (default 30)", "N"},
        {"smoke", 0, 0, G_OPTION_ARG_NONE, &b.smoke,
         "Tiny cluster, short runs, every reply checked (the ctest test)", NULL},
        {"label", 0, 0, G_OPTION_ARG_STRING, &b.label, "A label printed in the report title",
         "TEXT"},
        {"out", 'o', 0, G_OPTION_ARG_FILENAME, &b.out_path, "Also write the report here", "FILE"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- benchmark a flexplace binary");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        g_printerr("fp_bench: %s\n", error->message);
        return 2;
    }
    if (!b.flexplace) {
        const char *env = g_getenv("FP_BINARY");
        b.flexplace = g_strdup(env && *env ? env : FP_BENCH_FLEXPLACE);
    }
    const char *shared = g_getenv("FP_SHARED_DATA");
    b.shared = shared && *shared && g_file_test(shared, G_FILE_TEST_IS_DIR) ? shared : NULL;
    if (!b.sizes) {
        b.sizes = g_strdup(b.smoke ? "40" : "500,5000,15000");
    }
    if (b.smoke) {
        b.seconds = 0.2;
    }
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    json_object_seed(1);
    b.report = g_string_new(NULL);

    struct utsname u;
    uname(&u);
    g_autofree char *cpu = NULL;
    g_autofree char *cpuinfo = NULL;
    if (g_file_get_contents("/proc/cpuinfo", &cpuinfo, NULL, NULL)) {
        const char *m = strstr(cpuinfo, "model name");
        const char *colon = m ? strchr(m, ':') : NULL;
        cpu = colon ? g_strndup(colon + 2, strcspn(colon + 2, "\n")) : NULL;
    }
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *when = g_date_time_format(now, "%Y-%m-%d %H:%M UTC");
    out(&b,
        "# fp_bench%s%s — %s\n\nMachine: %s, %ld CPUs, Linux %s.  flexplace --threads %d; "
        "%.1f s per timed run; client: libcurl multi in one thread on the same machine.  Shared "
        "data: %s.\n",
        b.label ? " — " : "", b.label ? b.label : "", when, cpu ? cpu : "unknown CPU",
        sysconf(_SC_NPROCESSORS_ONLN), u.release, b.threads, b.seconds,
        b.shared ? "present" : "absent (synthetic templates)");
    g_auto(GStrv) sizes = g_strsplit(b.sizes, ",", 0);
    for (guint i = 0; sizes[i]; i++) {
        guint64 n = g_ascii_strtoull(sizes[i], NULL, 10);
        if (n == 0 || n > 100000) {
            g_printerr("fp_bench: bad size '%s'\n", sizes[i]);
            return 2;
        }
        bench_size(&b, (guint)n);
    }
    print_targets(&b);
    if (b.out_path) {
        g_file_set_contents(b.out_path, b.report->str, (gssize)b.report->len, NULL);
    }
    out(&b, "\n%s\n", b.failures ? "fp_bench: some requests FAILED" : "fp_bench: all requests OK");
    g_string_free(b.report, TRUE);
    curl_global_cleanup();
    g_free(b.flexplace);
    g_free(b.sizes);
    g_free(b.out_path);
    g_free(b.label);
    return b.failures ? 1 : 0;
}
