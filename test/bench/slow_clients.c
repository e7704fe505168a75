/*
 * test/bench/slow_clients.c - fp_bench_slow_clients: is kube-scheduler
 * still served while hostile clients trickle bytes at flexplace?
 *
 * Starts `flexplace serve --demo` on 127.0.0.1 with its default HTTP
 * bounds, then an attacker thread holds --connections connections from the
 * same address (127.0.0.1, as any process in the pod could): each sends
 * the start of a request (half a header block, half a POST whose body never
 * ends) and then one byte every --drip-ms, and reconnects at once whenever
 * the server cuts it.  While that runs, a client sends filter calls the way
 * kube-scheduler does (the README's Quick start request), each on a new
 * connection and, in a second series, on one kept-alive connection; every
 * reply must be 200 with the expected nodes.
 *
 * Prints: filter latency without and under the flood (p50, p99, max), the
 * connections the attacker held and how often it was cut, the server's
 * open connections and its rejection counters from /metrics, and the
 * server's RSS before, at its peak and after.  Exits 1 when a call failed,
 * or (without --smoke) when the slowest call under the flood took longer
 * than --target-ms.
 *
 * --smoke: 100 connections, 2 s: that every call is answered (ctest
 * bench_slow_clients_smoke); timing is not judged.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

#include "test/bench/free_port.h"

#ifndef FP_BENCH_FLEXPLACE
#define FP_BENCH_FLEXPLACE "flexplace"
#endif

static const char filter_body[] =
    "{\"Pod\":{\"metadata\":{\"name\":\"triage-llm-0\",\"namespace\":\"incident-triage\","
    "\"uid\":\"bench-uid\"},\"spec\":{\"containers\":[{\"name\":\"vllm\",\"resources\":"
    "{\"limits\":{\"nvidia.com/gpu\":\"1\"}}}]}},\"Nodes\":null,\"NodeNames\":"
    "[\"aws-use1-l4-1\",\"aws-use1-l4-2\",\"aws-use1-h100-1\",\"aks-gput4-2\","
    "\"gke-l4-pool-2\",\"nowhere\"]}";

typedef struct {
    guint16 port;
    guint target;  /* connections to hold */
    guint drip_ms; /* one byte per connection this often */
    gint stop;     /* atomic */
    gint open;     /* atomic: connections held now */
    gint64 opened; /* total connects */
    gint64 cut;    /* connections the server closed */
    gint64 peak;   /* most held at once */
} Attack;

/* A non-blocking connection to the server with the start of a request sent;
 * -1 when the connect fails. */
static int attacker_connect(guint16 port, guint i)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_in sin = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The request start each attacker connection sends once it is connected:
 * headers that never end, or a body that never ends. */
static const char *attack_prefix(guint i)
{
    return i % 2 ? "POST /filter HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Content-Length: 1000000\r\n\r\n{\"Pod\":"
                 : "POST /filter HTTP/1.1\r\nHost: x\r\nX-Slow: ";
}

typedef struct {
    int fd;
    gboolean sent_prefix;
} Slot;

static gpointer attack_main(gpointer data)
{
    Attack *a = data;
    Slot *slots = g_new0(Slot, a->target);
    struct pollfd *pfd = g_new0(struct pollfd, a->target);
    for (guint i = 0; i < a->target; i++) {
        slots[i].fd = -1;
    }
    gint64 next_drip = g_get_monotonic_time();
    while (!g_atomic_int_get(&a->stop)) {
        guint held = 0;
        for (guint i = 0; i < a->target; i++) {
            if (slots[i].fd < 0) {
                slots[i].fd = attacker_connect(a->port, i);
                slots[i].sent_prefix = FALSE;
                a->opened += slots[i].fd >= 0;
            }
            pfd[i].fd = slots[i].fd;
            pfd[i].events = slots[i].sent_prefix ? POLLIN : POLLOUT;
            pfd[i].revents = 0;
            held += slots[i].fd >= 0;
        }
        g_atomic_int_set(&a->open, (gint)held);
        a->peak = MAX(a->peak, (gint64)held);
        poll(pfd, a->target, 20);
        gboolean drip = g_get_monotonic_time() >= next_drip;
        if (drip) {
            next_drip = g_get_monotonic_time() + (gint64)a->drip_ms * 1000;
        }
        for (guint i = 0; i < a->target; i++) {
            Slot *s = &slots[i];
            if (s->fd < 0) {
                continue;
            }
            gboolean dead = (pfd[i].revents & (POLLERR | POLLHUP)) != 0;
            if (!dead && (pfd[i].revents & POLLIN)) {
                char buf[512];
                ssize_t n = recv(s->fd, buf, sizeof buf, MSG_DONTWAIT);
                dead = n == 0 || (n < 0 && errno != EAGAIN);
            }
            if (!dead && !s->sent_prefix && (pfd[i].revents & POLLOUT)) {
                const char *p = attack_prefix(i);
                dead = send(s->fd, p, strlen(p), MSG_NOSIGNAL) < 0;
                s->sent_prefix = TRUE;
            } else if (!dead && s->sent_prefix && drip) {
                dead = send(s->fd, "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN;
            }
            if (dead) {
                close(s->fd);
                s->fd = -1;
                a->cut++;
            }
        }
    }
    for (guint i = 0; i < a->target; i++) {
        if (slots[i].fd >= 0) {
            close(slots[i].fd);
        }
    }
    g_free(slots);
    g_free(pfd);
    return NULL;
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *data)
{
    g_string_append_len(data, ptr, (gssize)(size * nmemb));
    return size * nmemb;
}

/* One filter call on @h (a new connection when @fresh); its latency in ms,
 * or -1 when it failed or the reply was not the expected one. */
static double filter_call(CURL *h, guint16 port, gboolean fresh, GString *err)
{
    char url[64];
    g_snprintf(url, sizeof url, "http://127.0.0.1:%u/filter", port);
    GString *body = g_string_new(NULL);
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    hdr = curl_slist_append(hdr, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, filter_body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, fresh ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, fresh ? 1L : 0L);
    gint64 t0 = g_get_monotonic_time();
    CURLcode rc = curl_easy_perform(h);
    double ms = (double)(g_get_monotonic_time() - t0) / 1000.0;
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    gboolean ok = rc == CURLE_OK && status == 200 && strstr(body->str, "\"aws-use1-l4-1\"") &&
                  !strstr(body->str, "\"Error\":\"flexplace");
    if (!ok && err->len < 400) {
        g_string_append_printf(err, "[%s, HTTP %ld: %.120s] ", curl_easy_strerror(rc), status,
                               body->str);
    }
    g_string_free(body, TRUE);
    return ok ? ms : -1;
}

typedef struct {
    GArray *ms; /* double */
    guint failed;
} Series;

static int cmp_double(gconstpointer a, gconstpointer b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(Series *s, double p)
{
    if (s->ms->len == 0) {
        return 0;
    }
    g_array_sort(s->ms, cmp_double);
    guint i = (guint)(p / 100.0 * (s->ms->len - 1) + 0.5);
    return g_array_index(s->ms, double, MIN(i, s->ms->len - 1));
}

/* @n filter calls, each on a new connection or all on one kept-alive one,
 * @gap_ms apart. */
static Series run_series(guint16 port, guint n, gboolean fresh, guint gap_ms, GString *err)
{
    Series s = {g_array_new(FALSE, FALSE, sizeof(double)), 0};
    CURL *h = curl_easy_init();
    for (guint i = 0; i < n; i++) {
        double ms = filter_call(h, port, fresh, err);
        if (ms < 0) {
            s.failed++;
        } else {
            g_array_append_val(s.ms, ms);
        }
        g_usleep(gap_ms * 1000);
    }
    curl_easy_cleanup(h);
    return s;
}

static void series_print(const char *what, Series *s)
{
    printf("| %-44s | %5u | %6u | %7.2f | %7.2f | %7.2f |\n", what, s->ms->len + s->failed,
           s->failed, pct(s, 50), pct(s, 99), pct(s, 100));
}

static guint64 status_kib(int pid, const char *key)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", pid);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        return 0;
    }
    const char *p = strstr(text, key);
    return p ? g_ascii_strtoull(p + strlen(key), NULL, 10) : 0;
}

/* The value of the metric line starting with @prefix in /metrics, or -1. */
static double metric(guint16 port, const char *prefix)
{
    char url[64];
    g_snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", port);
    CURL *h = curl_easy_init();
    GString *body = g_string_new(NULL);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    double v = -1;
    if (curl_easy_perform(h) == CURLE_OK) {
        g_autofree char *needle = g_strdup_printf("\n%s ", prefix);
        const char *p = strstr(body->str, needle);
        if (p) {
            v = g_ascii_strtod(p + strlen(needle), NULL);
        }
    }
    g_string_free(body, TRUE);
    curl_easy_cleanup(h);
    return v;
}

int main(int argc, char **argv)
{
    char *flexplace = NULL;
    int connections = 1000;
    double seconds = 10;
    int drip_ms = 100;
    double target_ms = 100;
    gboolean smoke = FALSE;
    char **serve_args = NULL;
    GOptionEntry entries[] = {
        {"serve-arg", 0, 0, G_OPTION_ARG_STRING_ARRAY, &serve_args,
         "One more flag for flexplace serve (repeat for more), e.g. "
         "--serve-arg=--max-connections-per-address=64",
         "FLAG"},
        {"flexplace", 0, 0, G_OPTION_ARG_FILENAME, &flexplace, "flexplace binary", "PATH"},
        {"connections", 0, 0, G_OPTION_ARG_INT, &connections,
         "Trickling connections from 127.0.0.1 (default 1000)", "N"},
        {"seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "Flood length (default 10)", "S"},
        {"drip-ms", 0, 0, G_OPTION_ARG_INT, &drip_ms,
         "One byte per connection this often (default 100)", "MS"},
        {"target-ms", 0, 0, G_OPTION_ARG_DOUBLE, &target_ms,
         "Slowest filter call allowed under the flood (default 100)", "MS"},
        {"smoke", 0, 0, G_OPTION_ARG_NONE, &smoke, "100 connections, 2 s, no timing verdict", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("- filter latency under a slowloris flood");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        g_printerr("fp_bench_slow_clients: %s\n", error->message);
        return 2;
    }
    if (smoke) {
        connections = 100;
        seconds = 2;
    }
    if (connections < 1 || connections > 50000 || !(seconds > 0) || drip_ms < 1) {
        g_printerr("fp_bench_slow_clients: bad --connections, --seconds or --drip-ms\n");
        return 2;
    }
    /* the attacker's descriptors, and the server's if it inherits ours */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    guint16 port = fp_bench_free_port("fp_bench_slow_clients");
    g_autofree char *listen = g_strdup_printf("127.0.0.1:%u", port);
    const char *bin = flexplace ? flexplace : FP_BENCH_FLEXPLACE;
    GPtrArray *server_argv = g_ptr_array_new();
    const char *fixed[] = {bin, "serve", "--demo", "--listen", listen};
    for (guint i = 0; i < G_N_ELEMENTS(fixed); i++) {
        g_ptr_array_add(server_argv, (gpointer)fixed[i]);
    }
    for (guint i = 0; serve_args && serve_args[i]; i++) {
        g_ptr_array_add(server_argv, serve_args[i]);
    }
    g_ptr_array_add(server_argv, NULL);
    GPid pid = 0;
    if (!g_spawn_async(NULL, (char **)server_argv->pdata, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                       NULL, &pid, &error)) {
        g_printerr("fp_bench_slow_clients: cannot start %s: %s\n", bin, error->message);
        return 1;
    }
    GString *err = g_string_new(NULL);
    gint64 up_by = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
    while (metric(port, "flexplace_http_connections") < 0) {
        if (g_get_monotonic_time() > up_by) {
            g_printerr("fp_bench_slow_clients: the server did not come up\n");
            kill(pid, SIGKILL);
            return 1;
        }
        g_usleep(50 * 1000);
    }

    Series quiet_fresh = run_series(port, 50, TRUE, 10, err);
    Series quiet_ka = run_series(port, 50, FALSE, 10, err);
    guint64 rss_before = status_kib(pid, "VmRSS:");

    Attack a = {.port = port, .target = (guint)connections, .drip_ms = (guint)drip_ms};
    GThread *attacker = g_thread_new("attacker", attack_main, &a);
    /* let the flood build up: every connection opened once */
    gint64 ramp_by = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (g_atomic_int_get(&a.open) < connections && g_get_monotonic_time() < ramp_by) {
        g_usleep(20 * 1000);
    }
    guint calls = (guint)MAX(20, seconds * 1000 / 2 / 50);
    Series flood_fresh = run_series(port, calls, TRUE, 40, err);
    double server_open = metric(port, "flexplace_http_connections");
    Series flood_ka = run_series(port, calls, FALSE, 40, err);
    guint64 rss_flood = status_kib(pid, "VmRSS:");
    guint64 hwm = status_kib(pid, "VmHWM:");
    g_atomic_int_set(&a.stop, 1);
    g_thread_join(attacker);
    double rej_addr = metric(port, "flexplace_http_rejections_total{reason=\"address_limit\"}");
    double rej_limit = metric(port, "flexplace_http_rejections_total{reason=\"connection_limit\"}");
    double rej_timeout = metric(port, "flexplace_http_rejections_total{reason=\"timeout\"}");
    g_usleep(500 * 1000);
    guint64 rss_after = status_kib(pid, "VmRSS:");

    printf("slow-client flood: %d connections from 127.0.0.1, one byte each per %d ms, "
           "reconnecting when cut; flexplace serve --demo with its default HTTP bounds\n\n",
           connections, drip_ms);
    printf("| %-44s | %5s | %6s | %7s | %7s | %7s |\n", "filter calls", "calls", "failed", "p50 ms",
           "p99 ms", "max ms");
    printf("|----------------------------------------------|-------|--------|---------|---------|"
           "---------|\n");
    series_print("no flood, new connection each", &quiet_fresh);
    series_print("no flood, one kept-alive connection", &quiet_ka);
    series_print("under the flood, new connection each", &flood_fresh);
    series_print("under the flood, one kept-alive connection", &flood_ka);
    printf("\nattacker: held up to %" G_GINT64_FORMAT " connections at once, %" G_GINT64_FORMAT
           " connects, cut %" G_GINT64_FORMAT " times by the server\n",
           a.peak, a.opened, a.cut);
    printf("server: %.0f connections open during the flood; cut to make room: %.0f per-address, "
           "%.0f connection limit; cut at the request deadline: %.0f\n",
           server_open, rej_addr, rej_limit, rej_timeout);
    printf("server memory: RSS %" G_GUINT64_FORMAT " KiB before, %" G_GUINT64_FORMAT
           " KiB during, peak %" G_GUINT64_FORMAT " KiB, %" G_GUINT64_FORMAT " KiB after\n",
           rss_before, rss_flood, hwm, rss_after);

    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    guint failed = quiet_fresh.failed + quiet_ka.failed + flood_fresh.failed + flood_ka.failed;
    double worst = MAX(pct(&flood_fresh, 100), pct(&flood_ka, 100));
    int rc = 0;
    if (failed) {
        printf("FAIL: %u filter calls failed: %s\n", failed, err->str);
        rc = 1;
    } else if (!smoke && worst > target_ms) {
        printf("FAIL: slowest filter call under the flood %.2f ms, target %.0f ms\n", worst,
               target_ms);
        rc = 1;
    } else {
        printf("%s: every filter call answered; slowest under the flood %.2f ms (target %.0f "
               "ms%s)\n",
               smoke ? "OK" : "PASS", worst, target_ms, smoke ? ", not judged in smoke mode" : "");
    }
    g_string_free(err, TRUE);
    g_ptr_array_unref(server_argv);
    g_strfreev(serve_args);
    g_free(flexplace);
    return rc;
}
