/*
 * test/test_bounds.c - every bound on hostile input: the limit holds, the
 * refusal says why, a metric counts it, and memory stays bounded.
 *
 *   request body        413 over max_body (Content-Length or chunked), 503 +
 *                       Retry-After when bodies in flight pass their budget
 *   nodes per request   FP_PROTOCOL_ERROR_LIMIT past FP_PROTOCOL_MAX_NODES
 *   request headers     MHD's answer past the per-connection memory
 *   connections         the limit is served, the next one waits its turn;
 *                       the listen queue is drained while the pool is busy
 *   per-request time    a client trickling bytes is cut at the deadline
 *   JSON / YAML depth   a clear error, no deep recursion
 *   policy size         FP_POLICY_MAX_FILE_BYTES
 *   watch line          the framer's cap, its buffer never above it
 *   tracked objects     the view's node and pod limits, readiness says so
 *   files               kubeconfig, token and TLS paths to devices or huge
 *                       files are refused without reading them whole
 * and the app's /metrics shows the HTTP refusals.  test_memory_bounded
 * sends hundreds of oversized, hostile and cut-off requests and checks the
 * heap returns to where it was.
 *
 * HTTP tests run an in-process server on 127.0.0.1 (port 0) with tiny
 * limits; no test needs the shared data.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <malloc.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cache/kobj.h"
#include "cache/kube_client.h"
#include "cache/kubeconfig.h"
#include "cache/linebuf.h"
#include "cache/readfile.h"
#include "cache/view.h"
#include "cache/yamljson.h"
#include "extender/server/app.h"
#include "extender/http/http_server.h"
#include "extender/wire/protocol.h"
#include "policies/policy_load.h"
#include "support/http_client.h"
#include "support/support.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define FP_SANITIZER_HEAP 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FP_SANITIZER_HEAP 1
#endif
#ifdef FP_SANITIZER_HEAP
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)
#define READ_MS 5000

/* Bytes of heap in use now: the sanitizer allocator's count when there is
 * one, else glibc's (every arena, and mmapped chunks). */
static size_t heap_in_use(void)
{
#ifdef FP_SANITIZER_HEAP
    return __sanitizer_get_current_allocated_bytes();
#else
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#endif
}

/* ---- an HTTP server with tiny limits ---------------------------------------------------- */

static void echo_len(const FpHttpRequest *req, FpHttpResponse *resp, void *user_data)
{
    resp->body = g_strdup_printf("%zu", req->body_len);
    resp->body_len = strlen(resp->body);
    resp->content_type = "text/plain";
}

static void ok_handler(const FpHttpRequest *req, FpHttpResponse *resp, void *user_data)
{
    resp->body_static = "ok";
    resp->content_type = "text/plain";
}

static const FpRoute routes[] = {
    {"POST", "/filter", echo_len, NULL},
    {"GET", "/healthz", ok_handler, NULL},
};

static FpHttpServer *start(FpHttpConfig cfg)
{
    cfg.listen = "127.0.0.1:0";
    GError *error = NULL;
    FpHttpServer *s = fp_http_server_start(&cfg, routes, G_N_ELEMENTS(routes), NULL, &error);
    if (!s) {
        fail_msg("server did not start: %s", error->message);
    }
    return s;
}

static int connect_to(FpHttpServer *s)
{
    int fd = fp_test_http_connect(fp_http_server_port(s));
    assert_true(fd >= 0);
    return fd;
}

static guint64 rejected(FpHttpServer *s, FpHttpReject reason)
{
    FpHttpStats st;
    fp_http_server_stats(s, &st);
    return st.rejected[reason];
}

static void wait_idle(FpHttpServer *s)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    FpHttpStats st;
    do {
        g_usleep(2000);
        fp_http_server_stats(s, &st);
    } while ((fp_http_server_active(s) > 0 || st.body_bytes > 0) &&
             g_get_monotonic_time() < deadline);
    assert_int_equal(fp_http_server_active(s), 0);
    assert_int_equal(st.body_bytes, 0);
}

/* Send @head then @n body bytes of 'x' in 64 KiB writes; FALSE when the
 * server closed first. */
static gboolean send_body(int fd, const char *head, size_t n)
{
    if (head && !fp_test_http_send(fd, head, strlen(head))) {
        return FALSE;
    }
    char chunk[64 * 1024];
    memset(chunk, 'x', sizeof chunk);
    while (n > 0) {
        size_t k = MIN(n, sizeof chunk);
        if (!fp_test_http_send(fd, chunk, k)) {
            return FALSE;
        }
        n -= k;
    }
    return TRUE;
}

static void assert_error_mentions(const FpTestHttpReply *r, long status, const char *needle)
{
    assert_int_equal(r->status, status);
    json_t *doc = json_loadb(r->body, r->body_len, 0, NULL);
    assert_non_null(doc);
    const char *msg = json_string_value(json_object_get(doc, "error"));
    assert_non_null(msg);
    if (!strstr(msg, needle)) {
        fail_msg("error \"%s\" does not mention \"%s\"", msg, needle);
    }
    json_decref(doc);
}

/* ---- request body --------------------------------------------------------------------- */

static void test_body_limit(void **unused)
{
    FpHttpServer *s = start((FpHttpConfig){.max_body_bytes = 64 * KIB});
    guint16 port = fp_http_server_port(s);

    /* Exactly at the limit: served. */
    g_autofree char *body = g_malloc0(64 * KIB);
    memset(body, ' ', 64 * KIB);
    FpTestHttpReply r;
    assert_true(fp_test_http_post(port, "/filter", body, 64 * KIB, &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "65536");
    fp_test_http_reply_clear(&r);

    /* One byte more, announced by Content-Length: refused before reading. */
    int fd = connect_to(s);
    assert_true(fp_test_http_send(
        fd, "POST /filter HTTP/1.1\r\nHost: t\r\nContent-Length: 65537\r\n\r\n", 58));
    assert_true(fp_test_http_read_reply(fd, READ_MS, &r));
    assert_error_mentions(&r, 413, "limit is 65536");
    fp_test_http_reply_clear(&r);
    close(fd);

    /* Chunked: refused once the running total passes the limit. */
    fd = connect_to(s);
    const char *head = "POST /filter HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_true(fp_test_http_send(fd, head, strlen(head)));
    for (int i = 0; i < 5; i++) {
        assert_true(send_body(fd, "8000\r\n", 32 * KIB)); /* 0x8000 = 32 KiB */
        assert_true(fp_test_http_send(fd, "\r\n", 2));
    }
    assert_true(fp_test_http_send(fd, "0\r\n\r\n", 5));
    assert_true(fp_test_http_read_reply(fd, READ_MS, &r));
    assert_error_mentions(&r, 413, "limit is 65536");
    fp_test_http_reply_clear(&r);
    close(fd);

    assert_int_equal(rejected(s, FP_HTTP_REJECT_BODY_TOO_LARGE), 2);
    wait_idle(s);
    fp_http_server_stop(s, 1000);
}

/* Two bodies at once may not hold more than max_total_body_bytes: the one
 * that would pass it gets 503 with Retry-After, the other is served. */
static void test_body_budget(void **unused)
{
    FpHttpServer *s =
        start((FpHttpConfig){.max_body_bytes = MIB, .max_total_body_bytes = MIB + MIB / 2});
    const char *head = "POST /filter HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                       "Content-Length: 1048576\r\n\r\n";
    int a = connect_to(s);
    assert_true(send_body(a, head, 900 * KIB));
    /* The first body's buffer has grown to its full size. */
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    FpHttpStats st;
    do {
        g_usleep(2000);
        fp_http_server_stats(s, &st);
    } while (st.body_bytes < MIB && g_get_monotonic_time() < deadline);
    assert_true(st.body_bytes >= MIB);

    int b = connect_to(s);
    assert_true(send_body(b, head, MIB));
    FpTestHttpReply r;
    assert_true(fp_test_http_read_reply(b, READ_MS, &r));
    assert_error_mentions(&r, 503, "busy");
    g_autofree char *retry = fp_test_http_reply_header(&r, "Retry-After");
    assert_non_null(retry);
    assert_string_equal(retry, "1");
    fp_test_http_reply_clear(&r);
    close(b);

    assert_true(send_body(a, NULL, MIB - 900 * KIB));
    assert_true(fp_test_http_read_reply(a, READ_MS, &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "1048576");
    fp_test_http_reply_clear(&r);
    close(a);

    assert_int_equal(rejected(s, FP_HTTP_REJECT_BODY_BUDGET), 1);
    wait_idle(s); /* every reservation returned */
    fp_http_server_stop(s, 1000);
}

/* ---- headers ------------------------------------------------------------------------------ */

static void test_header_limit(void **unused)
{
    FpHttpServer *s = start((FpHttpConfig){0});
    g_autofree char *big_header = g_strdup_printf(
        "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: %0*d\r\n\r\n", (int)(200 * KIB), 0);
    g_autofree char *big_uri =
        g_strdup_printf("GET /%0*d HTTP/1.1\r\nHost: t\r\n\r\n", (int)(200 * KIB), 0);
    const char *cases[] = {big_header, big_uri};
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        int fd = connect_to(s);
        fp_test_http_send(fd, cases[i], strlen(cases[i])); /* may be cut short */
        FpTestHttpReply r;
        assert_true(fp_test_http_read_reply(fd, READ_MS, &r));
        print_message("request %u over the header memory: HTTP %ld\n", i, r.status);
        assert_true(r.status == 413 || r.status == 414 || r.status == 431);
        fp_test_http_reply_clear(&r);
        close(fd);
    }
    /* MHD answers these itself; they count as malformed once the
     * connection is done. */
    gint64 deadline = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
    while (rejected(s, FP_HTTP_REJECT_MALFORMED) < 1 && g_get_monotonic_time() < deadline) {
        g_usleep(5000);
    }
    assert_true(rejected(s, FP_HTTP_REJECT_MALFORMED) >= 1);
    FpTestHttpReply r;
    assert_true(fp_test_http_get(fp_http_server_port(s), "/healthz", &r));
    assert_int_equal(r.status, 200);
    fp_test_http_reply_clear(&r);
    fp_http_server_stop(s, 1000);
}

/* ---- connections -------------------------------------------------------------------------- */

static void get_on(int fd, long expect_status)
{
    const char *get = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_true(fp_test_http_send(fd, get, strlen(get)));
    FpTestHttpReply r;
    assert_true(fp_test_http_read_reply(fd, READ_MS, &r));
    assert_int_equal(r.status, expect_status);
    fp_test_http_reply_clear(&r);
}

/* Past the connection limit a new connection is served at once and the
 * connection that waited longest unserved (here: the first idle one) is
 * cut to make room; the others stay. */
static void test_connection_limit(void **unused)
{
    FpHttpServer *s = start((FpHttpConfig){.threads = 1, .connection_limit = 3});
    int held[3];
    for (int i = 0; i < 3; i++) {
        held[i] = connect_to(s);
        get_on(held[i], 200); /* open, served, kept alive */
    }
    FpHttpStats st;
    fp_http_server_stats(s, &st);
    assert_int_equal(st.open_connections, 3);
    assert_int_equal(st.connection_limit, 3);
    assert_int_equal(st.rejected[FP_HTTP_REJECT_CONNECTION_LIMIT], 0);

    int extra = connect_to(s);
    get_on(extra, 200);
    assert_true(fp_test_http_wait_closed(held[0], READ_MS) >= 0);
    get_on(held[1], 200);
    get_on(held[2], 200);
    assert_int_equal(rejected(s, FP_HTTP_REJECT_CONNECTION_LIMIT), 1);
    for (int i = 0; i < 3; i++) {
        close(held[i]);
    }
    close(extra);
    fp_http_server_stop(s, 1000);
}

/* Wait until the server has accepted @n connections: a client's connect()
 * returns once the kernel has it, before the server's threads accept it. */
static void wait_open(FpHttpServer *s, guint n)
{
    gint64 guard = g_get_monotonic_time() + 30 * G_USEC_PER_SEC; /* against a hang only */
    FpHttpStats st;
    fp_http_server_stats(s, &st);
    while (st.open_connections < n && g_get_monotonic_time() < guard) {
        g_usleep(1000);
        fp_http_server_stats(s, &st);
    }
    assert_int_equal(st.open_connections, n);
}

/* One address may hold per_address_limit connections: the next one from it
 * displaces that address's longest-waiting connection, whatever the global
 * limit. */
static void test_per_address_limit(void **unused)
{
    FpHttpServer *s = start((FpHttpConfig){.per_address_limit = 2});
    int a = connect_to(s);
    int b = connect_to(s);
    const char *partial = "GET /healthz HTTP/1.1\r\nX-Slow: ";
    assert_true(fp_test_http_send(a, partial, strlen(partial))); /* still arriving */
    /* both accepted before b is served: a late accept of a would make it
     * newer than b's served request, and b the one displaced */
    wait_open(s, 2);
    get_on(b, 200);
    int c = connect_to(s);
    get_on(c, 200);
    assert_true(fp_test_http_wait_closed(a, READ_MS) >= 0);
    get_on(b, 200);
    assert_int_equal(rejected(s, FP_HTTP_REJECT_ADDRESS_LIMIT), 1);
    close(a);
    close(b);
    close(c);
    fp_http_server_stop(s, 1000);
}

/* A handler that holds its pool thread until the test opens the gate. */
typedef struct {
    GMutex lock;
    GCond cond;
    gboolean entered;
    gboolean open;
} Gate;

static void gate_handler(const FpHttpRequest *req, FpHttpResponse *resp, void *user_data)
{
    Gate *g = user_data;
    g_mutex_lock(&g->lock);
    g->entered = TRUE;
    g_cond_broadcast(&g->cond);
    gint64 guard = g_get_monotonic_time() + 60 * G_USEC_PER_SEC; /* against a hang only */
    while (!g->open && g_cond_wait_until(&g->cond, &g->lock, guard)) {
    }
    g_mutex_unlock(&g->lock);
    resp->body_static = "released";
    resp->content_type = "text/plain";
}

/* Wait until the server has taken @n connections off its listen queue. */
static void wait_accepted(FpHttpServer *s, guint64 n)
{
    gint64 guard = g_get_monotonic_time() + 30 * G_USEC_PER_SEC; /* against a hang only */
    FpHttpStats st;
    fp_http_server_stats(s, &st);
    while (st.accepted < n && g_get_monotonic_time() < guard) {
        g_usleep(1000);
        fp_http_server_stats(s, &st);
    }
    assert_int_equal(st.accepted, n);
}

#define QUEUED_CONNECTIONS 256

/* The listen queue is drained by a thread of its own, not by the pool
 * threads between two rounds of serving their connections: with the one
 * pool thread held in a handler, QUEUED_CONNECTIONS connections are still
 * accepted (counted); once it is free, they all stay open, each trickling a
 * request that never ends, and a new client's request is answered among
 * them.  (libmicrohttpd's own accept, one connection per pool-thread
 * iteration, accepted none while the thread was busy, and a new client
 * queued behind them all.) */
static void test_accept_while_pool_busy(void **unused)
{
    Gate gate = {0};
    g_mutex_init(&gate.lock);
    g_cond_init(&gate.cond);
    const FpRoute gated[] = {
        {"GET", "/gate", gate_handler, &gate},
        {"GET", "/healthz", ok_handler, NULL},
    };
    FpHttpConfig cfg = {.listen = "127.0.0.1:0", .threads = 1, .request_timeout_s = 120};
    GError *error = NULL;
    FpHttpServer *s = fp_http_server_start(&cfg, gated, G_N_ELEMENTS(gated), NULL, &error);
    if (!s) {
        fail_msg("server did not start: %s", error->message);
    }

    int busy = connect_to(s);
    const char *get_gate = "GET /gate HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_true(fp_test_http_send(busy, get_gate, strlen(get_gate)));
    g_mutex_lock(&gate.lock);
    gint64 guard = g_get_monotonic_time() + 30 * G_USEC_PER_SEC; /* against a hang only */
    while (!gate.entered && g_cond_wait_until(&gate.cond, &gate.lock, guard)) {
    }
    assert_true(gate.entered);
    g_mutex_unlock(&gate.lock);

    /* The pool thread is in the handler: every connection below waits
     * for it, but none waits in the kernel's queue. */
    int held[QUEUED_CONNECTIONS];
    const char *partial = "GET /healthz HTTP/1.1\r\nX-Slow: ";
    for (int i = 0; i < QUEUED_CONNECTIONS; i++) {
        held[i] = connect_to(s);
        assert_true(fp_test_http_send(held[i], partial, strlen(partial)));
    }
    wait_accepted(s, QUEUED_CONNECTIONS + 1);

    g_mutex_lock(&gate.lock);
    gate.open = TRUE;
    g_cond_broadcast(&gate.cond);
    g_mutex_unlock(&gate.lock);
    FpTestHttpReply r;
    assert_true(fp_test_http_read_reply(busy, READ_MS, &r));
    assert_int_equal(r.status, 200);
    fp_test_http_reply_clear(&r);

    /* All held; a new client is served among them. */
    wait_open(s, QUEUED_CONNECTIONS + 1);
    for (int i = 0; i < QUEUED_CONNECTIONS; i++) {
        assert_true(fp_test_http_send(held[i], "a", 1));
    }
    int fresh = connect_to(s);
    get_on(fresh, 200);
    FpHttpStats st;
    fp_http_server_stats(s, &st);
    assert_int_equal(st.accepted, QUEUED_CONNECTIONS + 2);
    assert_int_equal(st.connections, QUEUED_CONNECTIONS + 2);
    assert_int_equal(st.open_connections, QUEUED_CONNECTIONS + 2);
    assert_int_equal(st.accept_errors, 0);
    assert_int_equal(st.handoff_errors, 0);
    for (int k = 0; k < FP_HTTP_REJECT_N; k++) {
        assert_int_equal(st.rejected[k], 0);
    }
    for (int i = 0; i < QUEUED_CONNECTIONS; i++) {
        assert_int_equal(fp_test_http_wait_closed(held[i], 0), -1); /* still open */
        close(held[i]);
    }
    close(fresh);
    close(busy);
    fp_http_server_stop(s, 1000);
    g_mutex_clear(&gate.lock);
    g_cond_clear(&gate.cond);
}

/* Out of descriptors (EMFILE), accept fails while the connection stays
 * queued: the accept thread counts it and pauses FP_HTTP_ACCEPT_BACKOFF_MS
 * between attempts instead of spinning, and serves the connection once a
 * descriptor is free.  The process's descriptor limit is lowered to the
 * lowest free descriptor, so every new one fails. */
static void test_accept_out_of_descriptors(void **unused)
{
    FpHttpServer *s = start((FpHttpConfig){.threads = 1});
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    int lowest_free = dup(0);
    assert_true(lowest_free >= 0);
    close(lowest_free);
    struct rlimit saved;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    struct rlimit low = {.rlim_cur = (rlim_t)lowest_free, .rlim_max = saved.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);

    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons(fp_http_server_port(s)),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    gint64 start_us = g_get_monotonic_time();
    int rc = connect(fd, (struct sockaddr *)&sin, sizeof sin); /* no new descriptor */
    gint64 guard = start_us + 30 * G_USEC_PER_SEC;             /* against a hang only */
    FpHttpStats st;
    fp_http_server_stats(s, &st);
    while (rc == 0 && st.accept_errors < 3 && g_get_monotonic_time() < guard) {
        g_usleep(1000);
        fp_http_server_stats(s, &st);
    }
    gint64 elapsed_ms = (g_get_monotonic_time() - start_us) / 1000;
    setrlimit(RLIMIT_NOFILE, &saved); /* before any assertion can end the test */
    assert_int_equal(rc, 0);
    assert_true(st.accept_errors >= 3);
    assert_int_equal(st.accepted, 0);
    /* three failures are two pauses apart at least: no spinning */
    print_message("%" G_GUINT64_FORMAT " accept errors in %" G_GINT64_FORMAT " ms\n",
                  st.accept_errors, elapsed_ms);
    assert_true(elapsed_ms >= 2 * FP_HTTP_ACCEPT_BACKOFF_MS);

    get_on(fd, 200); /* accepted once a descriptor is free */
    fp_http_server_stats(s, &st);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.handoff_errors, 0);
    close(fd);
    fp_http_server_stop(s, 1000);
}

/* ---- time --------------------------------------------------------------------------------- */

/* Trickle @prefix, then one more byte of @drip every 100 ms, until the
 * server cuts the connection; returns the milliseconds it took (-1: not cut
 * within 60 s, a guard against a hang, not a bound). */
static gint64 trickle_until_cut(FpHttpServer *s, const char *prefix, char drip)
{
    int fd = connect_to(s);
    gint64 start = g_get_monotonic_time();
    assert_true(fp_test_http_send(fd, prefix, strlen(prefix)));
    gint64 cut = -1;
    while (g_get_monotonic_time() - start < 60 * G_USEC_PER_SEC) {
        g_usleep(100 * 1000);
        if (!fp_test_http_send(fd, &drip, 1) || fp_test_http_wait_closed(fd, 0) >= 0) {
            cut = (g_get_monotonic_time() - start) / 1000;
            break;
        }
    }
    close(fd);
    return cut;
}

static void test_request_deadline(void **unused)
{
    /* 1 s for a request to arrive, 60 s of idle keep-alive */
    FpHttpServer *s = start((FpHttpConfig){.request_timeout_s = 1, .connection_timeout_s = 60});
    int idle = connect_to(s);
    get_on(idle, 200);
    /* Headers and a body that never end, each byte well within MHD's idle
     * timeout: the request deadline cuts them - not before its 1 s, and
     * counted as a request deadline, not as idle (the idle deadline is
     * 60 s): the count tells which deadline cut, not the wall clock. */
    gint64 ms = trickle_until_cut(s, "GET /healthz HTTP/1.1\r\nX-Slow: ", 'a');
    print_message("header trickler cut after %" G_GINT64_FORMAT " ms\n", ms);
    assert_true(ms >= 900);
    assert_int_equal(rejected(s, FP_HTTP_REJECT_TIMEOUT), 1);
    ms = trickle_until_cut(s, "POST /filter HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n",
                           ' ');
    print_message("body trickler cut after %" G_GINT64_FORMAT " ms\n", ms);
    assert_true(ms >= 900);
    assert_int_equal(rejected(s, FP_HTTP_REJECT_TIMEOUT), 2);
    /* The kept-alive connection, idle all along, is still served. */
    get_on(idle, 200);
    assert_int_equal(rejected(s, FP_HTTP_REJECT_IDLE), 0);
    close(idle);

    /* A client that completes each request in time keeps its connection:
     * the deadline runs from the previous response. */
    int fd = connect_to(s);
    for (int i = 0; i < 4; i++) {
        get_on(fd, 200);
        g_usleep(600 * 1000);
    }
    close(fd);
    fp_http_server_stop(s, 1000);
}

/* ---- JSON and YAML depth ---------------------------------------------------------------- */

static char *nested(const char *before, guint depth, const char *open, const char *close,
                    const char *after)
{
    GString *s = g_string_new(before);
    for (guint i = 0; i < depth; i++) {
        g_string_append(s, open);
    }
    for (guint i = 0; i < depth; i++) {
        g_string_append(s, close);
    }
    g_string_append(s, after);
    return g_string_free(s, FALSE);
}

static void test_json_depth(void **unused)
{
    /* Deeper than jansson's JSON_PARSER_MAX_DEPTH (2048): refused with a
     * message, no deep recursion anywhere. */
    g_autofree char *deep = nested("{\"Pod\":{\"metadata\":{\"name\":\"p\",\"x\":", 5000, "[", "]",
                                   "}},\"NodeNames\":[\"a\"]}");
    GError *error = NULL;
    FpExtenderArgs *args = fp_extender_args_parse(deep, strlen(deep), &error);
    assert_null(args);
    assert_non_null(error);
    print_message("depth 5000: %s\n", error->message);
    assert_true(g_error_matches(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_LIMIT));
    assert_non_null(strstr(error->message, "deeper than 2048"));
    g_clear_error(&error);

    /* Within the limit: decoded (unknown fields are ignored). */
    g_autofree char *ok = nested("{\"Pod\":{\"metadata\":{\"name\":\"p\",\"x\":", 1000, "[", "]",
                                 "}},\"NodeNames\":[\"a\"]}");
    args = fp_extender_args_parse(ok, strlen(ok), &error);
    assert_non_null(args);
    fp_extender_args_free(args);

    /* YAML files (policies, snapshots, kubeconfigs) stop at FP_YAML_MAX_DEPTH. */
    g_autofree char *yaml = nested("a: ", FP_YAML_MAX_DEPTH + 10, "[", "]", "\n");
    FpDocs *docs = fp_docs_parse(yaml, strlen(yaml), "deep.yaml", &error);
    assert_null(docs);
    assert_true(g_error_matches(error, FP_YAML_ERROR, FP_YAML_ERROR_LIMIT));
    print_message("YAML depth %d: %s\n", FP_YAML_MAX_DEPTH + 10, error->message);
    g_clear_error(&error);
}

/* ---- nodes per request ------------------------------------------------------------------ */

static void test_nodes_per_request(void **unused)
{
    GString *names = g_string_new("{\"Pod\":{\"metadata\":{\"name\":\"p\"}},\"NodeNames\":[");
    GString *items =
        g_string_new("{\"Pod\":{\"metadata\":{\"name\":\"p\"}},\"Nodes\":{\"items\":[");
    for (guint i = 0; i <= FP_PROTOCOL_MAX_NODES; i++) {
        g_string_append_printf(names, "%s\"n%u\"", i ? "," : "", i);
        g_string_append(items, i ? ",{}" : "{}");
    }
    g_string_append(names, "]}");
    g_string_append(items, "]}}");
    const GString *bodies[] = {names, items};
    for (guint k = 0; k < 2; k++) {
        GError *error = NULL;
        FpExtenderArgs *args = fp_extender_args_parse(bodies[k]->str, bodies[k]->len, &error);
        assert_null(args);
        print_message("%u+1 nodes: %s\n", FP_PROTOCOL_MAX_NODES, error->message);
        assert_true(g_error_matches(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_LIMIT));
        assert_non_null(strstr(error->message, "100000"));
        g_clear_error(&error);
    }
    g_string_free(names, TRUE);
    g_string_free(items, TRUE);
}

/* ---- policy size ------------------------------------------------------------------------ */

static void test_policy_size(void **unused)
{
    /* A valid document padded with a comment past the limit. */
    size_t n = FP_POLICY_MAX_FILE_BYTES + 1;
    char *buf = g_malloc(n);
    const char *doc = "profiles:\n  default: {weights: {cost: 1}}\n#";
    memcpy(buf, doc, strlen(doc));
    memset(buf + strlen(doc), 'x', n - strlen(doc));
    FpPolicyReport *report = fp_policy_report_new();
    FpPolicy *policy = fp_policy_load_buffer(buf, n, "big.yaml", report);
    assert_null(policy);
    g_autofree char *errors = fp_policy_report_join_errors(report, "\n");
    print_message("policy of %zu bytes: %s\n", n, errors);
    assert_non_null(strstr(errors, "1048576"));
    fp_policy_report_free(report);

    /* The same as a file, and a path to a device. */
    g_autofree char *dir = g_dir_make_tmp("fp-bounds-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "policy.yaml", NULL);
    assert_true(g_file_set_contents(path, buf, (gssize)n, NULL));
    g_free(buf);
    const char *paths[] = {path, "/dev/zero"};
    for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
        /* /dev/zero never ends: a reader without its cap would not return
         * (ctest's timeout fails the test), so returning is the bound. */
        report = fp_policy_report_new();
        assert_null(fp_policy_load_path(paths[i], report));
        assert_true(report->errors->len > 0);
        print_message("%s: %s\n", paths[i], (char *)report->errors->pdata[0]);
        fp_policy_report_free(report);
    }
    g_unlink(path);
    g_rmdir(dir);
}

/* ---- watch lines -------------------------------------------------------------------------- */

static bool count_line(const char *line, size_t len, void *user)
{
    (*(guint *)user)++;
    return true;
}

static void test_watch_line(void **unused)
{
    const size_t cap = 64 * KIB;
    FpLineBuf *lb = fp_linebuf_new(cap);
    char piece[4096];
    memset(piece, 'x', sizeof piece);
    guint lines = 0;
    FpLineBufResult res = FP_LINEBUF_OK;
    size_t fed = 0;
    /* 8 MiB without a newline: refused just past the cap. */
    while (fed < 8 * MIB && res == FP_LINEBUF_OK) {
        res = fp_linebuf_feed(lb, piece, sizeof piece, count_line, &lines);
        fed += sizeof piece;
        assert_true(fp_linebuf_capacity(lb) <= 2 * cap);
    }
    assert_int_equal(res, FP_LINEBUF_TOO_LONG);
    assert_true(fed <= cap + sizeof piece);
    assert_int_equal(lines, 0);
    /* A new stream works again. */
    fp_linebuf_reset(lb);
    assert_int_equal(fp_linebuf_feed(lb, "{}\n{}\n", 6, count_line, &lines), FP_LINEBUF_OK);
    assert_int_equal(lines, 2);
    fp_linebuf_free(lb);
}

/* ---- tracked nodes and pods ------------------------------------------------------------- */

static FpNode *node_named(const char *name)
{
    json_t *obj = json_pack("{s:{s:s}}", "metadata", "name", name);
    FpNode *node = fp_node_from_json(obj, NULL);
    json_decref(obj);
    assert_non_null(node);
    return node;
}

static FpPod *pod_with_uid(const char *uid)
{
    FpPod *pod = fp_pod_new();
    pod->ns = g_strdup("default");
    pod->name = g_strdup(uid);
    pod->uid = g_strdup(uid);
    pod->node_name = g_strdup("n0");
    pod->phase = FP_PHASE_RUNNING;
    fp_res_list_set(&pod->requests, "nvidia.com/gpu", 1);
    return pod;
}

static void test_view_limits(void **unused)
{
    FpView *view = fp_view_new();
    assert_int_equal(fp_view_limit(view, FP_KIND_NODES), FP_VIEW_DEFAULT_MAX_NODES);
    assert_int_equal(fp_view_limit(view, FP_KIND_PODS), FP_VIEW_DEFAULT_MAX_PODS);
    fp_view_set_limits(view, 2, 3);

    for (int i = 0; i < 4; i++) {
        g_autofree char *name = g_strdup_printf("n%d", i);
        fp_view_apply_node(view, node_named(name));
    }
    assert_int_equal(fp_view_node_count(view), 2);
    assert_true(fp_view_over_limit(view, FP_KIND_NODES));
    assert_int_equal(fp_view_dropped(view, FP_KIND_NODES), 2);
    /* Updating a node already held is not a new one. */
    fp_view_apply_node(view, node_named("n0"));
    assert_int_equal(fp_view_dropped(view, FP_KIND_NODES), 2);

    for (int i = 0; i < 5; i++) {
        g_autofree char *uid = g_strdup_printf("u%d", i);
        fp_view_apply_pod(view, pod_with_uid(uid));
    }
    assert_int_equal(fp_view_pod_count(view), 3);
    assert_true(fp_view_over_limit(view, FP_KIND_PODS));
    assert_int_equal(fp_view_dropped(view, FP_KIND_PODS), 2);

    /* A relist that fits clears the state; one that does not keeps it. */
    GPtrArray *nodes = g_ptr_array_new();
    g_ptr_array_add(nodes, node_named("a"));
    g_ptr_array_add(nodes, node_named("b"));
    fp_view_replace_nodes(view, nodes);
    assert_false(fp_view_over_limit(view, FP_KIND_NODES));
    GPtrArray *pods = g_ptr_array_new();
    for (int i = 0; i < 4; i++) {
        g_autofree char *uid = g_strdup_printf("r%d", i);
        g_ptr_array_add(pods, pod_with_uid(uid));
    }
    fp_view_replace_pods(view, pods);
    assert_int_equal(fp_view_pod_count(view), 3);
    assert_true(fp_view_over_limit(view, FP_KIND_PODS));
    fp_view_free(view);

    /* The app reports itself not ready, and says why. */
    FpAppConfig cfg;
    fp_app_config_init(&cfg);
    cfg.demo = true;
    cfg.max_nodes = 5; /* the demo has 12 */
    GError *error = NULL;
    FpApp *app = fp_app_new(&cfg, &error);
    fp_app_config_clear(&cfg);
    assert_non_null(app);
    const char *why = NULL;
    assert_false(fp_app_ready(app, &why));
    assert_non_null(strstr(why, "--max-nodes"));
    g_autofree char *detail = fp_app_not_ready_detail(app);
    assert_non_null(strstr(detail, "--max-nodes"));
    fp_app_free(app);
}

/* ---- files -------------------------------------------------------------------------------- */

/* Every reader below is pointed at /dev/zero, which never ends: a reader
 * without its cap would not return (ctest's timeout fails the test), so
 * returning with an error is the bound - no wall-clock limit is needed. */
static void test_file_caps(void **unused)
{
    GError *error = NULL;
    /* A kubeconfig path that is a device. */
    assert_null(fp_kubeconfig_load("/dev/zero", NULL, &error));
    print_message("kubeconfig /dev/zero: %s\n", error->message);
    g_clear_error(&error);

    /* A token file that is a device is refused when the kubeconfig is
     * read; one that grows past the token cap (it is re-read on rotation)
     * is refused by the client without reading it whole. */
    g_autofree char *tdir = g_dir_make_tmp("fp-bounds-XXXXXX", NULL);
    g_autofree char *token = g_build_filename(tdir, "token", NULL);
    g_autofree char *huge = g_malloc(100 * KIB);
    memset(huge, 'a', 100 * KIB);
    assert_true(g_file_set_contents(token, huge, 100 * KIB, NULL));
    const char *devices[] = {"/dev/zero", token};
    for (guint i = 0; i < G_N_ELEMENTS(devices); i++) {
        g_autofree char *kc =
            g_strdup_printf("apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                            "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
                            "clusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]\n"
                            "users: [{name: u, user: {tokenFile: %s}}]\n",
                            devices[i]);
        FpKubeConfig *cfg = fp_kubeconfig_parse(kc, strlen(kc), "kc", NULL, NULL, &error);
        if (cfg) {
            FpKubeClient *client = fp_kube_client_new(cfg, &error);
            assert_null(client);
            fp_kubeconfig_free(cfg);
        }
        assert_non_null(error);
        print_message("tokenFile %s: %s\n", devices[i], error->message);
        g_clear_error(&error);
    }
    g_unlink(token);
    g_rmdir(tdir);

    /* TLS files that are devices. */
    FpHttpConfig tls = {.listen = "127.0.0.1:0", .tls_cert = "/dev/zero", .tls_key = "/dev/zero"};
    assert_null(fp_http_server_start(&tls, routes, G_N_ELEMENTS(routes), NULL, &error));
    assert_true(g_error_matches(error, FP_HTTP_ERROR, FP_HTTP_ERROR_START));
    print_message("TLS /dev/zero: %s\n", error->message);
    g_clear_error(&error);

    /* The reader itself: over the cap, and a file of exactly the cap. */
    g_autofree char *dir = g_dir_make_tmp("fp-bounds-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "f", NULL);
    assert_true(g_file_set_contents(path, "0123456789", 10, NULL));
    assert_null(fp_read_file_capped(path, 9, NULL, &error));
    assert_true(g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_FAILED));
    g_clear_error(&error);
    size_t len = 0;
    g_autofree char *all = fp_read_file_capped(path, 10, &len, &error);
    assert_non_null(all);
    assert_int_equal(len, 10);
    assert_string_equal(all, "0123456789");
    g_unlink(path);
    g_rmdir(dir);
}

/* ---- the app's metrics ------------------------------------------------------------------ */

static char *get_metrics(guint16 port)
{
    FpTestHttpReply r;
    assert_true(fp_test_http_get(port, "/metrics", &r));
    assert_int_equal(r.status, 200);
    char *body = g_steal_pointer(&r.body);
    fp_test_http_reply_clear(&r);
    return body;
}

static void test_metrics_report_bounds(void **unused)
{
    FpAppConfig cfg;
    fp_app_config_init(&cfg);
    cfg.demo = true;
    g_free(cfg.listen);
    cfg.listen = g_strdup("127.0.0.1:0");
    cfg.max_body_bytes = 64 * KIB;
    GError *error = NULL;
    FpApp *app = fp_app_new(&cfg, &error);
    fp_app_config_clear(&cfg);
    assert_non_null(app);
    assert_true(fp_app_serve(app, &error));
    guint16 port = fp_http_server_port(app->http);

    g_autofree char *before = get_metrics(port);
    assert_non_null(strstr(before, "flexplace_http_rejections_total{reason=\"body_too_large\"} 0"));
    assert_non_null(strstr(before, "flexplace_http_connection_limit 4096"));

    int fd = fp_test_http_connect(port);
    const char *head = "POST /filter HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n";
    assert_true(fp_test_http_send(fd, head, strlen(head)));
    FpTestHttpReply r;
    assert_true(fp_test_http_read_reply(fd, READ_MS, &r));
    assert_int_equal(r.status, 413);
    fp_test_http_reply_clear(&r);
    close(fd);

    /* A body that does not decode, counted by reason. */
    GError *limit = g_error_new(FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_LIMIT, "too many");
    fp_verb_count_request_error(&app->verb_metrics, "filter", limit);
    g_error_free(limit);

    g_autofree char *after = get_metrics(port);
    assert_non_null(strstr(after, "flexplace_http_rejections_total{reason=\"body_too_large\"} 1"));
    assert_non_null(
        strstr(after, "flexplace_request_errors_total{verb=\"filter\",reason=\"limit\"} 1"));
    assert_non_null(strstr(after, "flexplace_http_connections "));
    /* three connections: two GETs of /metrics and the 413 */
    assert_non_null(strstr(after, "flexplace_http_accepted_connections_total 3"));
    assert_non_null(strstr(after, "flexplace_http_accept_errors_total{stage=\"accept\"} 0"));
    assert_non_null(strstr(after, "flexplace_http_accept_errors_total{stage=\"handoff\"} 0"));
    fp_app_free(app);
}

/* ---- memory under abuse ------------------------------------------------------------------ */

typedef struct {
    FpHttpServer *server;
    guint rounds;
    guint index;
    guint answered;
    gint done; /* atomic */
} Abuser;

/* One hostile client: oversized bodies announced and chunked, headers over
 * the limit, bodies cut off mid-way, deep JSON. */
static gpointer abuse(gpointer data)
{
    Abuser *a = data;
    guint16 port = fp_http_server_port(a->server);
    g_autofree char *deep = nested("", 3000, "[", "]", "");
    for (guint i = 0; i < a->rounds; i++) {
        int fd = fp_test_http_connect(port);
        if (fd < 0) {
            continue;
        }
        switch ((i + a->index) % 5) {
        case 0:
            send_body(fd, "POST /filter HTTP/1.1\r\nHost: t\r\nContent-Length: 9999999\r\n\r\n", 0);
            break;
        case 1: {
            const char *head =
                "POST /filter HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
            fp_test_http_send(fd, head, strlen(head));
            for (int k = 0; k < 12; k++) { /* 768 KiB in all, over the 512 KiB cap */
                if (!send_body(fd, "10000\r\n", 64 * KIB) || !fp_test_http_send(fd, "\r\n", 2)) {
                    break;
                }
            }
            fp_test_http_send(fd, "0\r\n\r\n", 5);
            break;
        }
        case 2: {
            g_autofree char *big = g_strdup_printf(
                "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: %0*d\r\n\r\n", (int)(150 * KIB), 0);
            fp_test_http_send(fd, big, strlen(big));
            break;
        }
        case 3: /* a body cut off half-way */
            send_body(fd, "POST /filter HTTP/1.1\r\nHost: t\r\nContent-Length: 400000\r\n\r\n",
                      200 * KIB);
            close(fd);
            fd = -1;
            break;
        case 4: {
            g_autofree char *head = g_strdup_printf(
                "POST /filter HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", strlen(deep));
            fp_test_http_send(fd, head, strlen(head));
            fp_test_http_send(fd, deep, strlen(deep));
            break;
        }
        }
        if (fd >= 0) {
            shutdown(fd, SHUT_WR);
            FpTestHttpReply r;
            if (fp_test_http_read_reply(fd, READ_MS, &r)) {
                a->answered++;
            }
            fp_test_http_reply_clear(&r);
            close(fd);
        }
    }
    g_atomic_int_set(&a->done, 1);
    return NULL;
}

static void test_memory_bounded(void **unused)
{
    FpHttpServer *s = start((FpHttpConfig){.max_body_bytes = 512 * KIB,
                                           .max_total_body_bytes = 2 * MIB,
                                           .connection_limit = 16,
                                           .threads = 2});
    /* Warm up: thread pools, MHD's pools and the allocator's arenas. */
    Abuser warm = {.server = s, .rounds = 10};
    abuse(&warm);
    wait_idle(s);
    size_t baseline = heap_in_use();

    enum { CLIENTS = 6, ROUNDS = 40 };
    Abuser abusers[CLIENTS];
    GThread *threads[CLIENTS];
    for (guint i = 0; i < CLIENTS; i++) {
        abusers[i] = (Abuser){.server = s, .rounds = ROUNDS, .index = i};
        threads[i] = g_thread_new("abuser", abuse, &abusers[i]);
    }
    /* Sample the body reservations and the heap while they run. */
    guint64 peak_body = 0;
    size_t peak_heap = 0;
    for (;;) {
        guint done = 0;
        for (guint i = 0; i < CLIENTS; i++) {
            done += (guint)g_atomic_int_get(&abusers[i].done);
        }
        FpHttpStats st;
        fp_http_server_stats(s, &st);
        peak_body = MAX(peak_body, st.body_bytes);
        peak_heap = MAX(peak_heap, heap_in_use());
        if (done == CLIENTS) {
            break;
        }
        g_usleep(1000);
    }
    for (guint i = 0; i < CLIENTS; i++) {
        g_thread_join(threads[i]);
    }
    wait_idle(s);
    size_t after = heap_in_use();
    guint answered = 0;
    for (guint i = 0; i < CLIENTS; i++) {
        answered += abusers[i].answered;
    }
    print_message("%u hostile requests, %u answered; body buffers peaked at %" G_GUINT64_FORMAT
                  " bytes; heap %zu KiB before, peak %zu KiB, %zu KiB after\n",
                  CLIENTS * ROUNDS, answered, peak_body, baseline / KIB, peak_heap / KIB,
                  after / KIB);
    assert_true(answered >= CLIENTS * ROUNDS * 3 / 5);
    assert_true(peak_body <= 2 * MIB);
    /* Everything a request allocated was freed with it. */
    assert_true(after < baseline + 2 * MIB);
    FpTestHttpReply r;
    assert_true(fp_test_http_get(fp_http_server_port(s), "/healthz", &r));
    assert_int_equal(r.status, 200);
    fp_test_http_reply_clear(&r);
    fp_http_server_stop(s, 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_body_budget),
        cmocka_unit_test(test_header_limit),
        cmocka_unit_test(test_connection_limit),
        cmocka_unit_test(test_per_address_limit),
        cmocka_unit_test(test_request_deadline),
        cmocka_unit_test(test_json_depth),
        cmocka_unit_test(test_nodes_per_request),
        cmocka_unit_test(test_policy_size),
        cmocka_unit_test(test_watch_line),
        cmocka_unit_test(test_view_limits),
        cmocka_unit_test(test_file_caps),
        cmocka_unit_test(test_metrics_report_bounds),
        cmocka_unit_test(test_accept_while_pool_busy),
        cmocka_unit_test(test_accept_out_of_descriptors),
        cmocka_unit_test(test_memory_bounded),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
