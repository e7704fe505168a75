/*
 * test/bench/driver.c - the load driver: libcurl's multi interface keeps
 * @concurrency requests in flight on keep-alive connections (or on a fresh
 * connection per request), one thread, and records every request's latency
 * from hand-off to curl until the whole reply is in.  Also the /proc readers
 * for the server's CPU time and memory.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test/bench/bench.h"

typedef struct {
    CURL *easy;
    guint index;
    gint64 start_us;
    GString *reply;
    bool capture;
} Slot;

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *data)
{
    Slot *s = data;
    if (s->capture) {
        g_string_append_len(s->reply, ptr, (gssize)(size * nmemb));
    }
    return size * nmemb;
}

static void slot_start(CURLM *m, Slot *s, guint16 port, const BenchReq *r, guint index,
                       const BenchDriveOpts *o, struct curl_slist *headers)
{
    char url[256];
    g_snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, r->path);
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, 120000L);
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(s->easy, CURLOPT_FRESH_CONNECT, o->fresh_connects ? 1L : 0L);
    curl_easy_setopt(s->easy, CURLOPT_FORBID_REUSE, o->fresh_connects ? 1L : 0L);
    s->index = index;
    s->capture = o->check != NULL;
    g_string_truncate(s->reply, 0);
    s->start_us = g_get_monotonic_time();
    curl_multi_add_handle(m, s->easy);
}

void bench_drive(guint16 port, const BenchReq *reqs, guint n_reqs, const BenchDriveOpts *o,
                 BenchRun *out)
{
    memset(out, 0, sizeof *out);
    out->lat_us = g_array_new(FALSE, FALSE, sizeof(double));
    if (n_reqs == 0 || o->concurrency == 0) {
        return;
    }
    CURLM *m = curl_multi_init();
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
    guint conc = o->concurrency;
    Slot *slots = g_new0(Slot, conc);
    gint64 t0 = g_get_monotonic_time();
    guint next = 0, sent = 0, running = 0;
    for (guint i = 0; i < conc; i++) {
        slots[i].easy = curl_easy_init();
        slots[i].reply = g_string_new(NULL);
        curl_easy_setopt(slots[i].easy, CURLOPT_PRIVATE, &slots[i]);
    }
    for (guint i = 0;
         i < conc && !(o->once && next >= n_reqs) && !(o->max_requests && sent >= o->max_requests);
         i++) {
        slot_start(m, &slots[i], port, &reqs[next % n_reqs], next % n_reqs, o, headers);
        next++, sent++, running++;
    }
    while (running > 0) {
        int still = 0;
        curl_multi_perform(m, &still);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE) {
                continue;
            }
            Slot *s = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            gint64 now = g_get_monotonic_time();
            double lat = (double)(now - s->start_us);
            long status = 0, connects = 0;
            curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
            curl_easy_getinfo(s->easy, CURLINFO_NUM_CONNECTS, &connects);
            out->connects += (guint64)connects;
            bool good = msg->data.result == CURLE_OK && status == 200;
            if (good && o->check) {
                good = o->check(s->index, status, s->reply->str, s->reply->len, o->check_data);
            }
            if (good) {
                out->ok++;
                g_array_append_val(out->lat_us, lat);
            } else {
                out->failed++;
                if (!out->first_error) {
                    out->first_error = g_strdup_printf("request %u: %s, HTTP %ld: %.200s", s->index,
                                                       curl_easy_strerror(msg->data.result), status,
                                                       s->reply->str);
                }
            }
            curl_multi_remove_handle(m, s->easy);
            running--;
            double elapsed = (double)(now - t0) / G_USEC_PER_SEC;
            bool more = !(o->once && next >= n_reqs) &&
                        !(o->max_requests && sent >= o->max_requests) &&
                        (o->once || elapsed < o->seconds || sent < o->min_requests);
            if (more) {
                slot_start(m, s, port, &reqs[next % n_reqs], next % n_reqs, o, headers);
                next++, sent++, running++;
            }
        }
        if (running > 0) {
            curl_multi_poll(m, NULL, 0, 50, NULL);
        }
    }
    out->elapsed = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
    for (guint i = 0; i < conc; i++) {
        curl_easy_cleanup(slots[i].easy);
        g_string_free(slots[i].reply, TRUE);
    }
    g_free(slots);
    curl_slist_free_all(headers);
    curl_multi_cleanup(m);
}

void bench_run_clear(BenchRun *r)
{
    if (r->lat_us) {
        g_array_unref(r->lat_us);
    }
    g_free(r->first_error);
    memset(r, 0, sizeof *r);
}

static int cmp_double(gconstpointer a, gconstpointer b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_run_pct(BenchRun *r, double p)
{
    if (!r->lat_us || r->lat_us->len == 0) {
        return 0;
    }
    g_array_sort(r->lat_us, cmp_double);
    double rank = p / 100.0 * (r->lat_us->len - 1);
    guint lo = (guint)rank;
    guint hi = MIN(lo + 1, r->lat_us->len - 1);
    double f = rank - lo;
    return g_array_index(r->lat_us, double, lo) * (1 - f) +
           g_array_index(r->lat_us, double, hi) * f;
}

double bench_proc_cpu(int pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", pid);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        return 0;
    }
    const char *p = strrchr(text, ')'); /* the command may contain spaces */
    if (!p) {
        return 0;
    }
    g_auto(GStrv) f = g_strsplit(p + 2, " ", 0);
    /* after ")": state(3) ... utime is field 14, stime 15 (1-based) */
    if (g_strv_length(f) < 13) {
        return 0;
    }
    double ticks =
        (double)g_ascii_strtoull(f[11], NULL, 10) + (double)g_ascii_strtoull(f[12], NULL, 10);
    return ticks / (double)sysconf(_SC_CLK_TCK);
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

guint64 bench_proc_hwm_kib(int pid)
{
    return status_kib(pid, "VmHWM:");
}

guint64 bench_proc_rss_kib(int pid)
{
    return status_kib(pid, "VmRSS:");
}

void bench_proc_reset_hwm(int pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/clear_refs", pid);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}
