/*
 * extender/http/http_server.c - libmicrohttpd front end (see http_server.h).
 *
 * One RequestCtx per HTTP request, created by MHD's URI log callback (so the
 * raw query string can be kept) or by the first access-handler call, and freed
 * in the completion callback, which MHD runs for finished and aborted requests
 * alike.  The access handler is a small state machine:
 *
 *   first call   checks (shutdown, client certificate, route, method,
 *                Content-Type, Content-Length) and may queue an early error;
 *   middle calls append the body to a capped buffer that grows by doubling;
 *                past the cap the data is counted and dropped;
 *   final call   runs the route handler, or answers 413 for an oversized
 *                chunked body, and queues the response.
 *
 * Responses are MHD buffer responses, so MHD sends headers and body with one
 * sendmsg() and TCP_NODELAY: no Nagle/delayed-ACK stall on keep-alive
 * connections.
 *
 * Threads: an accept thread of our own feeds MHD's internal thread pool,
 * which polls with poll() (not epoll; see fp_http_server_start), through
 * MHD_add_connection (see "the accept thread").  Handlers and the MHD
 * callbacks below run on pool threads; the server struct is read-only
 * after start except for the atomic counters, what the mutexes guard, and
 * the listening socket and accept thread, which only the quiesce stops.
 * The raw query string (FpHttpRequest.query) comes from MHD's URI log
 * callback, which sees the request target before MHD splits and decodes it.
 */
#include "extender/http/http_server.h"
#include "extender/http/listen.h"
#include "cache/dynbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <microhttpd.h>

#include "cache/readfile.h"

#define HTTP_LOG_DOMAIN "flexplace-http"

#define DEFAULT_THREADS 4u
#define DEFAULT_MAX_BODY ((size_t)128 * 1024 * 1024)
#define DEFAULT_TIMEOUT_S 120u
#define DEFAULT_REQUEST_TIMEOUT_S 5u
#define DEFAULT_CONNECTION_LIMIT 4096u
#define DEFAULT_PER_ADDRESS_LIMIT 1024u
/* MHD's own connection limit sits this far above ours, so that a new
 * connection always reaches on_connection, which makes room by cutting the
 * longest-waiting connection that is not being served (see make_room). */
#define MHD_LIMIT_SLACK 256u
#define CONNECTION_MEMORY_LIMIT FP_HTTP_CONNECTION_MEMORY
/* MHD's own idle timeout fires this long after the watchdog's deadline, so
 * every timeout is the watchdog's (and counted). */
#define MHD_TIMEOUT_SLACK_S 2u
/* Connections cut per watchdog pass at most: a flood of connections that
 * reach their deadline together is cut (and reconnects) in small waves, not
 * all at once, which would stall the pool threads for everyone else.  16
 * every 62.5 ms is the 256 a second that 64 every 250 ms was, in bursts a
 * quarter the size: a request that arrives with a burst waits behind 16
 * closes and reconnects, not 64. */
#define CUT_BATCH 16u
/* Watchdog period; TLS files are checked every TLS_CHECK_US. */
#define WATCHDOG_PERIOD_US (62500)
#define TLS_CHECK_US G_USEC_PER_SEC
/* A replaced TLS credential set is freed this long after its last
 * connection closed (MHD may still end that TLS session just after). */
#define TLS_RETIRE_US (5 * G_USEC_PER_SEC)
/* First body allocation: the Content-Length when small, else this much; a
 * client cannot make us reserve much memory it has not sent (past it, the
 * rest of the Content-Length is taken at once, within the body budgets). */
#define BODY_INITIAL_MAX ((size_t)64 * 1024)
#define TLS_FILE_MAX ((gsize)1024 * 1024)
/* MHD log lines allowed per LOG_WINDOW_US before the rest are counted. */
#define LOG_BURST 20u
#define LOG_WINDOW_US G_USEC_PER_SEC

GQuark fp_http_error_quark(void)
{
    return g_quark_from_static_string("fp-http-error-quark");
}

typedef struct {
    char *method;
    char *path;
    FpHttpHandler handler;
    void *data; /* the route's own, else the server's user_data */
} Route;

/* One loaded set of certificate, key and client CA.  Sessions point at it
 * (gnutls does not copy credentials), so it is reference counted by the
 * connections using it and freed only TLS_RETIRE_US after it was replaced
 * and its last connection closed.  refs and idle_since_us: tls_lock. */
typedef struct {
    gnutls_certificate_credentials_t cred;
    guint refs;
    gint64 idle_since_us; /* replaced and unused since then; 0 otherwise */
    gint64 not_after;     /* expiry of the serving certificate (Unix time) */
} TlsCreds;

/* What identifies a version of a file on disk. */
typedef struct {
    gboolean exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    struct timespec ctime;
} FileSig;

/* One open connection (its MHD socket context).  Fields: conn_lock. */
typedef struct {
    MHD_socket fd;
    gint64 milestone_us; /* opened, request line seen, handler returned, or request completed */
    gboolean idle;       /* kept alive between requests: the idle deadline applies */
    gboolean in_handler; /* a route handler is running for it */
    gboolean cut;        /* shut down (deadline, or room made for a newer connection) */
    char *address;       /* the peer's IP address, the key of FpHttpServer.per_address */
    TlsCreds *creds;     /* TLS: the credentials its session uses (a ref) */
} ConnInfo;

struct FpHttpServer {
    struct MHD_Daemon *daemon;
    Route *routes;
    guint n_routes;
    char *prefix; /* normalised: "" or "/x" without a trailing slash */
    size_t prefix_len;
    size_t max_body;
    gboolean verify_clients;
    gint active;    /* atomic: requests between first call and completion */
    gint quiescing; /* atomic: set by fp_http_server_quiesce */
    GMutex lock;    /* the log rate limiter */
    /* The listening socket and its accept thread (see "the accept thread"):
     * quiesce_lock serialises stopping them; listen_fd is -1 once closed. */
    GMutex quiesce_lock;
    int listen_fd;
    int wake_fd[2]; /* a pipe: a byte in it stops the accept thread */
    GThread *acceptor;
    _Atomic guint64 accepted;
    _Atomic guint64 accept_errors;
    _Atomic guint64 handoff_errors;
    guint16 port;
    gint64 log_window_start;
    guint log_count;
    guint log_suppressed;
    char *tls_cert_pem; /* kept until MHD_stop_daemon */
    char *tls_key_pem;
    char *client_ca_pem;
    /* Bounds */
    size_t max_total_body;
    gint64 deadline_us;      /* a request arriving (or its reply leaving) */
    gint64 idle_deadline_us; /* a kept-alive connection between requests */
    guint connection_limit;  /* ours; MHD's is MHD_LIMIT_SLACK higher */
    guint per_address_limit; /* open connections from one address */
    GHashTable *per_address; /* address -> open connections not cut yet (GUINT_TO_POINTER);
                                conn_lock */
    guint open_uncut;        /* open connections not cut yet; conn_lock */
    _Atomic guint64 body_bytes;
    _Atomic guint64 rejected[FP_HTTP_REJECT_N];
    _Atomic guint64 connections;
    /* Open connections: ConnInfo* (owned), for the watchdog. */
    GMutex conn_lock;
    GHashTable *conns;
    /* The watchdog thread: request deadlines and TLS file changes. */
    GThread *watchdog;
    GMutex wd_lock;
    GCond wd_cond;
    gboolean wd_stop;
    /* TLS reload (tls_lock): the files, the signatures of the loaded set,
     * of the last set that failed, the current credentials and the ones
     * replaced but not yet freed. */
    char *tls_paths[3]; /* cert, key, client CA (may be NULL) */
    FileSig tls_loaded[3];
    FileSig tls_failed[3];
    GMutex tls_lock;
    TlsCreds *creds;
    GPtrArray *retired;
    _Atomic guint64 tls_reloads;
    _Atomic guint64 tls_reload_errors;
};

typedef struct {
    FpHttpServer *server;
    gboolean started; /* first access-handler call seen */
    gboolean counted; /* contributes to server->active */
    gboolean answered;
    const Route *route;
    char *query;   /* raw query from the request line, or NULL */
    FpDynbuf body; /* capped at the server's max_body */
    size_t size_hint;
    gboolean too_large;   /* dropping data: 413 at the final call */
    gboolean over_budget; /* dropping data: 503 at the final call */
    gboolean no_memory;
    size_t reserved; /* bytes counted in server->body_bytes */
    char *client_subject;
} RequestCtx;

static void count_reject(FpHttpServer *s, FpHttpReject reason)
{
    atomic_fetch_add(&s->rejected[reason], 1);
}

const char *fp_http_reject_name(FpHttpReject reason)
{
    static const char *const names[FP_HTTP_REJECT_N] = {
        "body_too_large",     "body_budget",   "malformed",     "timeout", "connection_limit",
        "client_certificate", "shutting_down", "address_limit", "idle",
    };
    return (unsigned)reason < FP_HTTP_REJECT_N ? names[reason] : "unknown";
}

/* ---- responses ------------------------------------------------------------------------ */

void fp_http_response_error(FpHttpResponse *resp, unsigned int status, const char *message)
{
    g_return_if_fail(resp != NULL);
    g_autofree char *valid = g_utf8_make_valid(message ? message : "", -1);
    json_t *obj = json_object();
    char *dumped = NULL;
    if (obj && json_object_set_new(obj, "error", json_string(valid)) == 0) {
        dumped = json_dumps(obj, JSON_COMPACT);
    }
    json_decref(obj);

    g_free(resp->body);
    resp->status = status;
    resp->content_type = "application/json";
    resp->body_static = NULL;
    if (dumped) {
        resp->body = g_strdup(dumped);
        free(dumped);
    } else {
        resp->body = g_strdup("{\"error\":\"internal error\"}");
    }
    resp->body_len = strlen(resp->body);
}

/* Queue @r (status, body, headers) on @conn.  Ownership of r->body passes to
 * MHD.  @close_conn adds "Connection: close".  MHD_NO only when MHD refuses. */
static enum MHD_Result queue_response(struct MHD_Connection *conn, FpHttpResponse *r,
                                      gboolean close_conn)
{
    struct MHD_Response *mr;
    if (r->body != NULL) {
        mr = MHD_create_response_from_buffer_with_free_callback(r->body_len, r->body, g_free);
        if (mr == NULL) {
            g_free(r->body);
        }
        r->body = NULL;
    } else if (r->body_static != NULL) {
        size_t n = r->body_len ? r->body_len : strlen(r->body_static);
        mr = MHD_create_response_from_buffer_with_free_callback(n, (void *)r->body_static, NULL);
    } else {
        mr = MHD_create_response_from_buffer_with_free_callback(0, NULL, NULL);
    }
    if (mr == NULL) {
        g_log(HTTP_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "cannot create an HTTP response");
        return MHD_NO;
    }
    const char *ctype = r->content_type ? r->content_type : "application/json";
    if (MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != MHD_YES) {
        g_log(HTTP_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "invalid Content-Type from a handler");
    }
    if (r->allow && MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, r->allow) != MHD_YES) {
        g_log(HTTP_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "invalid Allow header from a handler");
    }
    if (r->retry_after &&
        MHD_add_response_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, r->retry_after) != MHD_YES) {
        g_log(HTTP_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "invalid Retry-After header from a handler");
    }
    if (close_conn) {
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    enum MHD_Result ret = MHD_queue_response(conn, r->status ? r->status : MHD_HTTP_OK, mr);
    MHD_destroy_response(mr);
    return ret;
}

static enum MHD_Result queue_error(RequestCtx *ctx, struct MHD_Connection *conn,
                                   unsigned int status, const char *message, const char *allow,
                                   gboolean close_conn)
{
    FpHttpResponse r = {0};
    fp_http_response_error(&r, status, message);
    r.allow = allow;
    ctx->answered = TRUE;
    return queue_response(conn, &r, close_conn);
}

/* 503 with Retry-After: the bodies in flight use up the server's budget. */
static enum MHD_Result queue_busy(RequestCtx *ctx, struct MHD_Connection *conn)
{
    FpHttpResponse r = {0};
    g_autofree char *msg =
        g_strdup_printf("server busy: request bodies being received exceed %zu bytes in all; retry",
                        ctx->server->max_total_body);
    fp_http_response_error(&r, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
    r.retry_after = "1";
    ctx->answered = TRUE;
    return queue_response(conn, &r, FALSE);
}

/* ---- request context -------------------------------------------------------------------- */

static RequestCtx *ctx_new(FpHttpServer *server)
{
    RequestCtx *ctx = g_new0(RequestCtx, 1);
    ctx->server = server;
    fp_dynbuf_init(&ctx->body, server->max_body);
    return ctx;
}

/* Return the body reservation of @ctx to the server's budget. */
static void body_release(RequestCtx *ctx)
{
    if (ctx->reserved) {
        atomic_fetch_sub(&ctx->server->body_bytes, (guint64)ctx->reserved);
        ctx->reserved = 0;
    }
}

static void ctx_free(RequestCtx *ctx)
{
    if (ctx->counted) {
        g_atomic_int_dec_and_test(&ctx->server->active);
    }
    body_release(ctx);
    g_free(ctx->query);
    fp_dynbuf_free(&ctx->body);
    g_free(ctx->client_subject);
    g_free(ctx);
}

/* Drop the body and its budget: the request will be refused. */
static void body_drop(RequestCtx *ctx, gboolean *why)
{
    *why = TRUE;
    fp_dynbuf_free(&ctx->body);
    body_release(ctx);
}

/* The allocation a body of @need bytes (NUL included) grows to: the
 * Content-Length (small ones) or BODY_INITIAL_MAX first, then the rest of
 * the Content-Length at once rather than copying the body at every doubling
 * (a 60 MB full-Node body took ten), else doubling; never past max + 1. */
static size_t body_next_alloc(const RequestCtx *ctx, size_t need, size_t max)
{
    size_t alloc = fp_dynbuf_alloc(&ctx->body);
    if (alloc == 0) {
        alloc = MIN(MAX(ctx->size_hint, (size_t)1) + 1, BODY_INITIAL_MAX);
    } else if (ctx->size_hint >= need - 1 && ctx->size_hint <= max) {
        alloc = MAX(alloc, ctx->size_hint + 1);
    }
    while (alloc < need) {
        alloc = alloc > (max + 1) / 2 ? max + 1 : alloc * 2;
    }
    return alloc;
}

/* Append @n bytes; past the cap switch to counting-and-dropping.  Growth
 * is reserved in the server-wide body budget before it is allocated. */
static void body_append(RequestCtx *ctx, const char *data, size_t n)
{
    FpHttpServer *s = ctx->server;
    size_t max = s->max_body;
    if (ctx->too_large || ctx->no_memory || ctx->over_budget) {
        return;
    }
    size_t len = fp_dynbuf_len(&ctx->body);
    if (n > max - len) {
        body_drop(ctx, &ctx->too_large);
        return;
    }
    size_t need = len + n + 1; /* <= max + 1: room for the NUL */
    size_t have = fp_dynbuf_alloc(&ctx->body);
    if (need > have) {
        size_t alloc = body_next_alloc(ctx, need, max);
        guint64 grow = (guint64)(alloc - have);
        guint64 before = atomic_fetch_add(&s->body_bytes, grow);
        if (before + grow > (guint64)s->max_total_body) {
            atomic_fetch_sub(&s->body_bytes, grow);
            body_drop(ctx, &ctx->over_budget);
            return;
        }
        ctx->reserved += (size_t)grow;
        if (!fp_dynbuf_grow(&ctx->body, alloc)) {
            body_drop(ctx, &ctx->no_memory);
            return;
        }
    }
    fp_dynbuf_add(&ctx->body, data, n); /* fits: cannot fail */
}

/* ---- first call ---------------------------------------------------------------------- */

/* Verify the TLS client certificate of @conn against the configured CA and keep
 * its subject DN in @ctx.  FALSE when there is none or it does not verify. */
static gboolean verify_client(RequestCtx *ctx, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (ci == NULL || ci->tls_session == NULL) {
        return FALSE;
    }
    gnutls_session_t session = (gnutls_session_t)ci->tls_session;
    gnutls_typed_vdata_st purpose = {
        .type = GNUTLS_DT_KEY_PURPOSE_OID,
        .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT,
    };
    unsigned int status = 0;
    if (gnutls_certificate_verify_peers(session, &purpose, 1, &status) != GNUTLS_E_SUCCESS ||
        status != 0) {
        return FALSE;
    }
    unsigned int n = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(session, &n);
    if (certs == NULL || n == 0) {
        return FALSE;
    }
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) != GNUTLS_E_SUCCESS) {
        return FALSE;
    }
    gboolean ok = FALSE;
    gnutls_datum_t dn = {NULL, 0};
    if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == GNUTLS_E_SUCCESS &&
        gnutls_x509_crt_get_dn3(crt, &dn, 0) == GNUTLS_E_SUCCESS) {
        ctx->client_subject = g_strndup((const char *)dn.data, dn.size);
        ok = TRUE;
    }
    gnutls_free(dn.data);
    gnutls_x509_crt_deinit(crt);
    return ok;
}

/* The path after the prefix, or NULL when the prefix does not match as a
 * whole path segment ("/sched/filter" matches "/sched", "/schedfilter" not). */
static const char *strip_prefix(const FpHttpServer *s, const char *url)
{
    if (s->prefix_len == 0) {
        return url;
    }
    if (strncmp(url, s->prefix, s->prefix_len) != 0 || url[s->prefix_len] != '/') {
        return NULL;
    }
    return url + s->prefix_len;
}

static gboolean method_matches(const Route *r, const char *method)
{
    return strcmp(r->method, method) == 0 ||
           (strcmp(method, MHD_HTTP_METHOD_HEAD) == 0 && strcmp(r->method, "GET") == 0);
}

/* Allow header value for @path: each route method once, HEAD after GET. */
static char *allow_for_path(const FpHttpServer *s, const char *path)
{
    GString *allow = g_string_new(NULL);
    gboolean has_get = FALSE, has_head = FALSE;
    for (guint i = 0; i < s->n_routes; i++) {
        const Route *r = &s->routes[i];
        if (strcmp(r->path, path) != 0) {
            continue;
        }
        gboolean seen = FALSE;
        for (guint j = 0; j < i; j++) {
            seen = seen || (strcmp(s->routes[j].path, path) == 0 &&
                            strcmp(s->routes[j].method, r->method) == 0);
        }
        if (seen) {
            continue;
        }
        g_string_append_printf(allow, "%s%s", allow->len ? ", " : "", r->method);
        has_get = has_get || strcmp(r->method, "GET") == 0;
        has_head = has_head || strcmp(r->method, "HEAD") == 0;
    }
    if (has_get && !has_head) {
        g_string_append(allow, ", HEAD");
    }
    return g_string_free(allow, FALSE);
}

/* "application/json", optionally with parameters, in any letter case. */
static gboolean is_json_media_type(const char *value)
{
    while (*value == ' ' || *value == '\t') {
        value++;
    }
    size_t n = strcspn(value, ";");
    while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t')) {
        n--;
    }
    return n == strlen("application/json") &&
           g_ascii_strncasecmp(value, "application/json", n) == 0;
}

/* Checks of the first call.  Returns TRUE when the request may proceed;
 * otherwise an error response has been queued (or queueing failed: *ret). */
static gboolean first_call(RequestCtx *ctx, struct MHD_Connection *conn, const char *url,
                           const char *method, enum MHD_Result *ret)
{
    FpHttpServer *s = ctx->server;
    *ret = MHD_YES;

    if (g_atomic_int_get(&s->quiescing)) {
        count_reject(s, FP_HTTP_REJECT_SHUTTING_DOWN);
        *ret = queue_error(ctx, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "server is shutting down", NULL,
                           TRUE);
        return FALSE;
    }
    if (s->verify_clients && !verify_client(ctx, conn)) {
        count_reject(s, FP_HTTP_REJECT_CLIENT_CERT);
        *ret = queue_error(ctx, conn, MHD_HTTP_FORBIDDEN, "a valid client certificate is required",
                           NULL, TRUE);
        return FALSE;
    }

    const char *path = strip_prefix(s, url);
    gboolean path_known = FALSE;
    for (guint i = 0; path && i < s->n_routes && ctx->route == NULL; i++) {
        if (strcmp(s->routes[i].path, path) == 0) {
            path_known = TRUE;
            if (method_matches(&s->routes[i], method)) {
                ctx->route = &s->routes[i];
            }
        }
    }
    if (!path_known) {
        *ret = queue_error(ctx, conn, MHD_HTTP_NOT_FOUND, "not found", NULL, FALSE);
        return FALSE;
    }
    if (ctx->route == NULL) {
        g_autofree char *allow = allow_for_path(s, path);
        *ret =
            queue_error(ctx, conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", allow, FALSE);
        return FALSE;
    }

    const char *ctype =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (strcmp(method, MHD_HTTP_METHOD_POST) == 0 && ctype && *ctype &&
        !is_json_media_type(ctype)) {
        *ret = queue_error(ctx, conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                           "Content-Type must be application/json", NULL, FALSE);
        return FALSE;
    }

    /* MHD has already rejected a malformed Content-Length with 400. */
    const char *clen =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (clen != NULL) {
        guint64 n = g_ascii_strtoull(clen, NULL, 10);
        if (n > s->max_body) {
            count_reject(s, FP_HTTP_REJECT_BODY_TOO_LARGE);
            g_autofree char *msg = g_strdup_printf("request body too large: %" G_GUINT64_FORMAT
                                                   " bytes, the limit is %zu",
                                                   n, s->max_body);
            *ret = queue_error(ctx, conn, MHD_HTTP_CONTENT_TOO_LARGE, msg, NULL, TRUE);
            return FALSE;
        }
        ctx->size_hint = (size_t)n;
    }
    return TRUE;
}

/* ---- final call ------------------------------------------------------------------------ */

static enum MHD_Result final_call(RequestCtx *ctx, struct MHD_Connection *conn, const char *url,
                                  const char *method)
{
    FpHttpServer *s = ctx->server;
    if (ctx->too_large) {
        count_reject(s, FP_HTTP_REJECT_BODY_TOO_LARGE);
        g_autofree char *msg =
            g_strdup_printf("request body too large: the limit is %zu bytes", s->max_body);
        return queue_error(ctx, conn, MHD_HTTP_CONTENT_TOO_LARGE, msg, NULL, FALSE);
    }
    if (ctx->over_budget) {
        count_reject(s, FP_HTTP_REJECT_BODY_BUDGET);
        return queue_busy(ctx, conn);
    }
    if (ctx->no_memory) {
        return queue_error(ctx, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", NULL, TRUE);
    }
    FpHttpRequest req = {
        .method = method,
        .path = strip_prefix(s, url),
        .query = ctx->query ? ctx->query : "",
        .content_type =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .body = fp_dynbuf_len(&ctx->body) ? fp_dynbuf_ptr(&ctx->body) : "",
        .body_len = fp_dynbuf_len(&ctx->body),
        .client_cert_subject = ctx->client_subject,
        .connection = conn,
    };
    FpHttpResponse resp = {.status = MHD_HTTP_OK};
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    ConnInfo *info = ci ? ci->socket_context : NULL;
    if (info) {
        g_mutex_lock(&s->conn_lock);
        info->in_handler = TRUE;
        g_mutex_unlock(&s->conn_lock);
    }
    ctx->route->handler(&req, &resp, ctx->route->data);
    if (info) {
        /* The reply now has the request deadline to leave. */
        g_mutex_lock(&s->conn_lock);
        info->in_handler = FALSE;
        info->milestone_us = g_get_monotonic_time();
        g_mutex_unlock(&s->conn_lock);
    }
    /* The reply is built: the body is no longer needed, so its memory and
     * its share of the budget return now, not when the reply is sent. */
    fp_dynbuf_free(&ctx->body);
    body_release(ctx);
    ctx->answered = TRUE;
    return queue_response(conn, &resp, FALSE);
}

/* ---- MHD callbacks ---------------------------------------------------------------------- */

/* The connection's ConnInfo, or NULL. */
static ConnInfo *conn_info(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* A request line arrived: the request deadline runs from now. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    FpHttpServer *s = cls;
    ConnInfo *info = conn_info(conn);
    if (info) {
        g_mutex_lock(&s->conn_lock);
        if (info->idle) {
            info->idle = FALSE;
            info->milestone_us = g_get_monotonic_time();
        }
        g_mutex_unlock(&s->conn_lock);
    }
    RequestCtx *ctx = ctx_new(cls);
    const char *q = uri ? strchr(uri, '?') : NULL;
    if (q != NULL) {
        ctx->query = g_strdup(q + 1);
    }
    return ctx;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    FpHttpServer *s = cls;
    RequestCtx *ctx = *con_cls;
    if (ctx == NULL) {
        ctx = ctx_new(s);
        *con_cls = ctx;
    }
    if (!ctx->started) {
        ctx->started = TRUE;
        ctx->counted = TRUE;
        g_atomic_int_inc(&s->active);
        enum MHD_Result ret;
        first_call(ctx, conn, url, method, &ret);
        return ret;
    }
    if (*upload_data_size > 0) {
        if (!ctx->answered) {
            body_append(ctx, upload_data, *upload_data_size);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (ctx->answered) {
        return MHD_YES;
    }
    return final_call(ctx, conn, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    FpHttpServer *s = cls;
    RequestCtx *ctx = *con_cls;
    if (ctx != NULL) {
        /* A request MHD saw but never handed to us: it answered it itself
         * (bad request line, URI or headers over the connection memory). */
        if (!ctx->started && (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ||
                              toe == MHD_REQUEST_TERMINATED_WITH_ERROR)) {
            count_reject(s, FP_HTTP_REJECT_MALFORMED);
        }
        ctx_free(ctx);
        *con_cls = NULL;
    }
    /* Kept alive: the idle deadline runs from now. */
    ConnInfo *info = conn_info(conn);
    if (info) {
        g_mutex_lock(&s->conn_lock);
        info->idle = TRUE;
        info->milestone_us = g_get_monotonic_time();
        g_mutex_unlock(&s->conn_lock);
    }
}

/* ---- TLS credentials -------------------------------------------------------------------- */

static void creds_free(TlsCreds *c)
{
    gnutls_certificate_free_credentials(c->cred);
    g_free(c);
}

/* Expiry of the first certificate of @pem (Unix time), 0 when unknown. */
static gint64 pem_not_after(const char *pem)
{
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) != GNUTLS_E_SUCCESS) {
        return 0;
    }
    gnutls_datum_t d = {(unsigned char *)pem, (unsigned)strlen(pem)};
    gint64 t = 0;
    if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) == GNUTLS_E_SUCCESS) {
        time_t exp = gnutls_x509_crt_get_expiration_time(crt);
        t = exp == (time_t)-1 ? 0 : (gint64)exp;
    }
    gnutls_x509_crt_deinit(crt);
    return t;
}

/* Build credentials from PEM text; NULL with @error naming what is wrong. */
static TlsCreds *creds_new(const char *cert_pem, const char *key_pem, const char *ca_pem,
                           GError **error)
{
    TlsCreds *c = g_new0(TlsCreds, 1);
    int rc = gnutls_certificate_allocate_credentials(&c->cred);
    if (rc != GNUTLS_E_SUCCESS) {
        g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_START, "TLS: %s", gnutls_strerror(rc));
        g_free(c);
        return NULL;
    }
    gnutls_datum_t cert = {(unsigned char *)cert_pem, (unsigned)strlen(cert_pem)};
    gnutls_datum_t key = {(unsigned char *)key_pem, (unsigned)strlen(key_pem)};
    /* Checks that the key belongs to the certificate, too. */
    rc = gnutls_certificate_set_x509_key_mem(c->cred, &cert, &key, GNUTLS_X509_FMT_PEM);
    if (rc < 0) {
        g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_START,
                    "TLS certificate and key do not load: %s", gnutls_strerror(rc));
        creds_free(c);
        return NULL;
    }
    if (ca_pem) {
        gnutls_datum_t ca = {(unsigned char *)ca_pem, (unsigned)strlen(ca_pem)};
        rc = gnutls_certificate_set_x509_trust_mem(c->cred, &ca, GNUTLS_X509_FMT_PEM);
        if (rc <= 0) {
            g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_START,
                        "client CA holds no usable certificate: %s",
                        rc < 0 ? gnutls_strerror(rc) : "none found");
            creds_free(c);
            return NULL;
        }
    }
    c->not_after = pem_not_after(cert_pem);
    return c;
}

static void file_sig(const char *path, FileSig *sig)
{
    struct stat st;
    memset(sig, 0, sizeof *sig);
    if (path && stat(path, &st) == 0) {
        sig->exists = TRUE;
        sig->dev = st.st_dev;
        sig->ino = st.st_ino;
        sig->size = st.st_size;
        sig->mtime = st.st_mtim;
        sig->ctime = st.st_ctim;
    }
}

static gboolean sigs_equal(const FileSig *a, const FileSig *b)
{
    for (int i = 0; i < 3; i++) {
        if (a[i].exists != b[i].exists || a[i].dev != b[i].dev || a[i].ino != b[i].ino ||
            a[i].size != b[i].size || a[i].mtime.tv_sec != b[i].mtime.tv_sec ||
            a[i].mtime.tv_nsec != b[i].mtime.tv_nsec || a[i].ctime.tv_sec != b[i].ctime.tv_sec ||
            a[i].ctime.tv_nsec != b[i].ctime.tv_nsec) {
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean read_pem(const char *path, const char *what, char **out, GError **error);

/* Read the three files and build credentials; the signatures are taken
 * before reading, so a change while reading is seen at the next check. */
static TlsCreds *load_tls_files(FpHttpServer *s, FileSig *sigs, GError **error)
{
    for (int i = 0; i < 3; i++) {
        file_sig(s->tls_paths[i], &sigs[i]);
    }
    g_autofree char *cert = NULL;
    g_autofree char *key = NULL;
    g_autofree char *ca = NULL;
    if (!read_pem(s->tls_paths[0], "TLS certificate", &cert, error) ||
        !read_pem(s->tls_paths[1], "TLS key", &key, error) ||
        (s->tls_paths[2] && !read_pem(s->tls_paths[2], "client CA", &ca, error))) {
        if (key) {
            explicit_bzero(key, strlen(key));
        }
        return NULL;
    }
    TlsCreds *c = creds_new(cert, key, ca, error);
    explicit_bzero(key, strlen(key));
    return c;
}

/* Install @c as the current set (tls_lock held). */
static void install_creds_locked(FpHttpServer *s, TlsCreds *c)
{
    TlsCreds *old = s->creds;
    s->creds = c;
    if (old) {
        old->idle_since_us = old->refs == 0 ? g_get_monotonic_time() : 0;
        g_ptr_array_add(s->retired, old);
    }
}

/* Reload when the files changed since the loaded set (or when @force). */
static gboolean tls_check(FpHttpServer *s, gboolean force, GError **error)
{
    FileSig now[3];
    for (int i = 0; i < 3; i++) {
        file_sig(s->tls_paths[i], &now[i]);
    }
    g_mutex_lock(&s->tls_lock);
    gboolean unchanged = sigs_equal(now, s->tls_loaded);
    gboolean known_bad = sigs_equal(now, s->tls_failed);
    g_mutex_unlock(&s->tls_lock);
    if (!force && (unchanged || known_bad)) {
        return TRUE;
    }
    FileSig sigs[3];
    g_autoptr(GError) local = NULL;
    TlsCreds *c = load_tls_files(s, sigs, &local);
    g_mutex_lock(&s->tls_lock);
    if (c) {
        install_creds_locked(s, c);
        memcpy(s->tls_loaded, sigs, sizeof sigs);
    } else {
        memcpy(s->tls_failed, sigs, sizeof sigs);
    }
    g_mutex_unlock(&s->tls_lock);
    if (!c) {
        atomic_fetch_add(&s->tls_reload_errors, 1);
        g_log(HTTP_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
              "TLS files changed but do not load, keeping the previous certificate: %s",
              local->message);
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
    atomic_fetch_add(&s->tls_reloads, 1);
    g_log(HTTP_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE,
          "TLS certificate%s reloaded from %s; new connections use it",
          s->tls_paths[2] ? " and client CA" : "", s->tls_paths[0]);
    return TRUE;
}

gboolean fp_http_server_reload_tls(FpHttpServer *server, GError **error)
{
    g_return_val_if_fail(server != NULL, FALSE);
    if (!server->tls_paths[0]) {
        return TRUE;
    }
    return tls_check(server, TRUE, error);
}

/* Free replaced credential sets that nobody has used for TLS_RETIRE_US. */
static void tls_sweep(FpHttpServer *s, gint64 now)
{
    g_mutex_lock(&s->tls_lock);
    for (guint i = 0; i < s->retired->len;) {
        TlsCreds *c = g_ptr_array_index(s->retired, i);
        if (c->refs == 0 && c->idle_since_us && now - c->idle_since_us >= TLS_RETIRE_US) {
            g_ptr_array_remove_index_fast(s->retired, i);
            creds_free(c);
        } else {
            i++;
        }
    }
    g_mutex_unlock(&s->tls_lock);
}

static void creds_unref(FpHttpServer *s, TlsCreds *c)
{
    g_mutex_lock(&s->tls_lock);
    if (--c->refs == 0 && c != s->creds) {
        c->idle_since_us = g_get_monotonic_time();
    }
    g_mutex_unlock(&s->tls_lock);
}

/* ---- connections and the watchdog ---------------------------------------------------------- */

/* The peer's IP address as text ("" when MHD does not say). */
static char *peer_address(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    char text[INET6_ADDRSTRLEN] = "";
    if (sa && sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, text, sizeof text);
    } else if (sa && sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, text, sizeof text);
    }
    return g_strdup(text);
}

/* Under conn_lock: @info no longer counts against its address's cap. */
static void address_forget_locked(FpHttpServer *s, const ConnInfo *info)
{
    guint from_address = GPOINTER_TO_UINT(g_hash_table_lookup(s->per_address, info->address));
    if (from_address > 1) {
        g_hash_table_insert(s->per_address, g_strdup(info->address),
                            GUINT_TO_POINTER(from_address - 1));
    } else {
        g_hash_table_remove(s->per_address, info->address);
    }
}

/* Under conn_lock: shut @info down (its client sees the end of the stream,
 * MHD closes it).  From now on it counts against neither limit: a client
 * that reconnects at once must not find its address still full of
 * connections MHD has not closed yet, or each reconnect would cut another
 * one (measured: 1,851 such cuts in 80 s of a flood on one pool thread). */
static void cut_locked(FpHttpServer *s, ConnInfo *info)
{
    shutdown(info->fd, SHUT_RDWR);
    info->cut = TRUE;
    s->open_uncut--;
    address_forget_locked(s, info);
}

/* Under conn_lock: cut the connection that has waited longest without being
 * served (not in a handler, not cut yet), from @address only when it is not
 * NULL; returns whether there was one.  That is a slow or stalled client,
 * or an idle kept-alive one (which reconnects): the newest connection is
 * the one most likely to carry a request now, so it is kept. */
static gboolean cut_longest_waiting_locked(FpHttpServer *s, const char *address)
{
    ConnInfo *victim = NULL;
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, s->conns);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        ConnInfo *c = key;
        if (c->cut || c->in_handler || c->fd == MHD_INVALID_SOCKET ||
            (address && strcmp(c->address, address) != 0)) {
            continue;
        }
        if (!victim || c->milestone_us < victim->milestone_us) {
            victim = c;
        }
    }
    if (victim) {
        cut_locked(s, victim);
    }
    return victim != NULL;
}

/* Under conn_lock, for a new connection from @address: keep within the
 * per-address cap and the connection limit by cutting the longest-waiting
 * connection (of that address, for the cap).  Slow or hostile clients thus
 * cannot hold every slot: each new connection, kube-scheduler's included,
 * displaces the oldest unserved one. */
static void make_room_locked(FpHttpServer *s, const char *address, guint from_address)
{
    if (from_address > s->per_address_limit && cut_longest_waiting_locked(s, address)) {
        atomic_fetch_add(&s->rejected[FP_HTTP_REJECT_ADDRESS_LIMIT], 1);
    }
    /* a counter, not a walk over every connection: this runs for each new
     * connection, under the lock the request path takes, and a flood
     * reconnects by the hundred a second */
    if (s->open_uncut > s->connection_limit && cut_longest_waiting_locked(s, NULL)) {
        atomic_fetch_add(&s->rejected[FP_HTTP_REJECT_CONNECTION_LIMIT], 1);
    }
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    FpHttpServer *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        ConnInfo *info = g_new0(ConnInfo, 1);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        info->fd = ci ? ci->connect_fd : MHD_INVALID_SOCKET;
        info->milestone_us = g_get_monotonic_time();
        info->address = peer_address(conn);
        if (s->tls_paths[0]) {
            /* Give the session the current credentials (before its
             * handshake, which runs on this connection's first read). */
            const union MHD_ConnectionInfo *ti =
                MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
            g_mutex_lock(&s->tls_lock);
            if (ti && ti->tls_session && s->creds &&
                gnutls_credentials_set((gnutls_session_t)ti->tls_session, GNUTLS_CRD_CERTIFICATE,
                                       s->creds->cred) == GNUTLS_E_SUCCESS) {
                info->creds = s->creds;
                info->creds->refs++;
                info->creds->idle_since_us = 0;
            }
            g_mutex_unlock(&s->tls_lock);
        }
        g_mutex_lock(&s->conn_lock);
        g_hash_table_add(s->conns, info);
        s->open_uncut++;
        guint from_address =
            GPOINTER_TO_UINT(g_hash_table_lookup(s->per_address, info->address)) + 1;
        g_hash_table_insert(s->per_address, g_strdup(info->address),
                            GUINT_TO_POINTER(from_address));
        make_room_locked(s, info->address, from_address);
        g_mutex_unlock(&s->conn_lock);
        atomic_fetch_add(&s->connections, 1);
        *socket_context = info;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        ConnInfo *info = *socket_context;
        if (!info) {
            return;
        }
        g_mutex_lock(&s->conn_lock);
        g_hash_table_remove(s->conns, info);
        if (!info->cut) {
            s->open_uncut--;
            address_forget_locked(s, info);
        }
        g_mutex_unlock(&s->conn_lock);
        if (info->creds) {
            creds_unref(s, info->creds);
        }
        g_free(info->address);
        g_free(info);
        *socket_context = NULL;
    }
}

/* Shut down connections past their request deadline.  MHD still owns the
 * descriptors: they are only shut down (MHD sees the end of the stream and
 * closes them), under conn_lock, and MHD removes a connection from the set
 * (NOTIFY_CLOSED) before it closes its descriptor. */
static void cut_late_connections(FpHttpServer *s, gint64 now)
{
    guint cut = 0;
    guint idle = 0;
    g_mutex_lock(&s->conn_lock);
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, s->conns);
    while (cut + idle < CUT_BATCH && g_hash_table_iter_next(&it, &key, NULL)) {
        ConnInfo *info = key;
        gint64 deadline = info->idle ? s->idle_deadline_us : s->deadline_us;
        if (!info->cut && !info->in_handler && info->fd != MHD_INVALID_SOCKET &&
            now - info->milestone_us > deadline) {
            /* counted before the client can see the end of the stream */
            atomic_fetch_add(
                &s->rejected[info->idle ? FP_HTTP_REJECT_IDLE : FP_HTTP_REJECT_TIMEOUT], 1);
            cut_locked(s, info);
            *(info->idle ? &idle : &cut) += 1;
        }
    }
    g_mutex_unlock(&s->conn_lock);
}

static gpointer watchdog_main(gpointer data)
{
    FpHttpServer *s = data;
    gint64 next_tls = g_get_monotonic_time() + TLS_CHECK_US;
    g_mutex_lock(&s->wd_lock);
    while (!s->wd_stop) {
        gint64 wake = g_get_monotonic_time() + WATCHDOG_PERIOD_US;
        while (!s->wd_stop && g_cond_wait_until(&s->wd_cond, &s->wd_lock, wake)) {
        }
        if (s->wd_stop) {
            break;
        }
        g_mutex_unlock(&s->wd_lock);
        gint64 now = g_get_monotonic_time();
        cut_late_connections(s, now);
        if (s->tls_paths[0] && now >= next_tls) {
            next_tls = now + TLS_CHECK_US;
            tls_check(s, FALSE, NULL);
            tls_sweep(s, now);
        }
        g_mutex_lock(&s->wd_lock);
    }
    g_mutex_unlock(&s->wd_lock);
    return NULL;
}

/* MHD's error log to g_log, at most LOG_BURST lines per second. */
G_GNUC_PRINTF(2, 0)
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    FpHttpServer *s = cls;
    guint suppressed = 0;
    gboolean emit;
    gint64 now = g_get_monotonic_time();
    g_mutex_lock(&s->lock);
    if (now - s->log_window_start >= LOG_WINDOW_US) {
        suppressed = s->log_suppressed;
        s->log_window_start = now;
        s->log_count = 0;
        s->log_suppressed = 0;
    }
    emit = s->log_count < LOG_BURST;
    if (emit) {
        s->log_count++;
    } else {
        s->log_suppressed++;
    }
    g_mutex_unlock(&s->lock);

    if (suppressed > 0) {
        g_log(HTTP_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "%u libmicrohttpd messages suppressed",
              suppressed);
    }
    if (emit) {
        g_autofree char *msg = g_strdup_vprintf(fmt, ap);
        g_strchomp(msg);
        g_log(HTTP_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "libmicrohttpd: %s", msg);
    }
}

/* ---- the accept thread -------------------------------------------------------------------- */

/* Why flexplace accepts connections itself, not libmicrohttpd: in
 * MHD_USE_POLL_INTERNAL_THREAD mode with a thread pool, MHD 0.9.75 accepts
 * ONE connection per pool-thread loop iteration (MHD_poll_all), and each
 * iteration first polls and serves all of that thread's connections.  When
 * 1,000 trickling connections reach their deadline and reconnect as a wave,
 * a new connection from kube-scheduler waits in the kernel's accept queue
 * behind them, drained at a few connections per round, each round slower
 * under CPU contention (measured in test/README.md, "Slow clients": the
 * slowest new-connection call 99.6-162 ms with 4 pool threads, 7.9-9.2 s
 * with one under 14 CPU hogs; 14-82 ms and 2.1-4.4 s with this thread, at
 * the price of a slower median under those hogs, see http_server.h).
 * Here one thread does nothing
 * but drain the queue (accept4 until EAGAIN) and hand each socket to MHD
 * (MHD_add_connection: MHD picks a pool thread and wakes it through its
 * inter-thread channel; the pool thread takes every handed-over connection
 * in its next iteration and runs on_connection for it, so the connection
 * limits below apply as before).  MHD runs with MHD_USE_NO_LISTEN_SOCKET. */

/* Accept attempts in one go before the thread looks at its wake-up pipe. */
#define ACCEPT_BATCH 256u
/* Accept errors are logged at most once per ACCEPT_LOG_US. */
#define ACCEPT_LOG_US G_USEC_PER_SEC
#define ACCEPT_PAUSE_NOTE                                                                          \
    "; accepts pause " G_STRINGIFY(FP_HTTP_ACCEPT_BACKOFF_MS) " ms between attempts"
/* At least libmicrohttpd's backlog (SOMAXCONN); the kernel caps it at
 * net.core.somaxconn. */
#define LISTEN_BACKLOG (SOMAXCONN > 4096 ? SOMAXCONN : 4096)

/* The accept thread's log rate limiter (that thread only). */
typedef struct {
    gint64 logged_us; /* the last line; 0: none yet */
    guint unlogged;   /* errors since that line, this one included */
} AcceptLog;

/* Log "@what: <error>@then", at most once per ACCEPT_LOG_US. */
static void accept_log(AcceptLog *log, const char *what, int err, const char *then)
{
    log->unlogged++;
    gint64 now = g_get_monotonic_time();
    if (log->logged_us != 0 && now - log->logged_us < ACCEPT_LOG_US) {
        return;
    }
    if (log->unlogged == 1) {
        g_log(HTTP_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "%s: %s%s", what, g_strerror(err), then);
    } else {
        g_log(HTTP_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
              "%s: %s%s (%u times since the last such message)", what, g_strerror(err), then,
              log->unlogged);
    }
    log->logged_us = now;
    log->unlogged = 0;
}

/* accept() errors after which the next pending connection may be accepted
 * at once: a signal, a client that went away, a firewall rule, or one of
 * the network errors Linux reports for that one connection (accept(2):
 * "treat them like EAGAIN by retrying"). */
static gboolean accept_error_transient(int err)
{
    switch (err) {
    case EINTR:
    case ECONNABORTED:
    case EPERM:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
        return TRUE;
    default:
        return FALSE;
    }
}

/* Give @fd to MHD.  MHD owns it from here: on refusal (every pool thread
 * at MHD's own limit, or out of memory) it has closed it already. */
static void hand_off(FpHttpServer *s, int fd, const struct sockaddr_storage *addr, socklen_t len,
                     AcceptLog *log)
{
    if (MHD_add_connection(s->daemon, fd, (const struct sockaddr *)addr, len) != MHD_YES) {
        int err = errno;
        atomic_fetch_add(&s->handoff_errors, 1);
        accept_log(log, "libmicrohttpd refused an accepted connection, closed it", err, "");
    }
}

/* Accept what is queued, until EAGAIN or ACCEPT_BATCH attempts.  Returns
 * the pause to take before accepting again: FP_HTTP_ACCEPT_BACKOFF_MS after an
 * error such as EMFILE, ENFILE, ENOBUFS or ENOMEM (counted), else 0. */
static int accept_pending(FpHttpServer *s, AcceptLog *log)
{
    for (guint i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage addr;
        socklen_t len = sizeof addr;
        int fd =
            accept4(s->listen_fd, (struct sockaddr *)&addr, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            atomic_fetch_add(&s->accepted, 1);
            hand_off(s, fd, &addr, len, log);
            continue;
        }
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK) {
            return 0;
        }
        if (!accept_error_transient(err)) {
            atomic_fetch_add(&s->accept_errors, 1);
            accept_log(log, "cannot accept a connection", err, ACCEPT_PAUSE_NOTE);
            return FP_HTTP_ACCEPT_BACKOFF_MS;
        }
    }
    return 0;
}

/* Until a byte arrives on the wake-up pipe: wait for connections and
 * accept them; after an error, watch only the pipe for the pause. */
static gpointer acceptor_main(gpointer data)
{
    FpHttpServer *s = data;
    AcceptLog log = {0};
    int pause_ms = 0;
    for (;;) {
        struct pollfd pfd[2] = {
            {.fd = s->wake_fd[0], .events = POLLIN},
            {.fd = s->listen_fd, .events = POLLIN},
        };
        int n = poll(pfd, pause_ms ? 1 : 2, pause_ms ? pause_ms : -1);
        if (n < 0 && errno != EINTR) {
            atomic_fetch_add(&s->accept_errors, 1);
            accept_log(&log, "cannot poll the listening socket", errno, ACCEPT_PAUSE_NOTE);
            pause_ms = FP_HTTP_ACCEPT_BACKOFF_MS;
            continue;
        }
        if (n > 0 && pfd[0].revents != 0) {
            break;
        }
        if (pause_ms) {
            pause_ms = 0; /* paused (or interrupted): poll both again */
        } else if (n > 0 && pfd[1].revents != 0) {
            pause_ms = accept_pending(s, &log);
        }
    }
    return NULL;
}

/* The listening socket for @ss, as libmicrohttpd made it: SO_REUSEADDR (a
 * restart binds while old connections are in TIME_WAIT), IPv6-only for an
 * IPv6 address; non-blocking.  -1 with @error. */
static int listen_socket(const struct sockaddr_storage *ss, socklen_t len, const char *address,
                         GError **error)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int on = 1;
    if (fd >= 0) {
        /* as MHD: a failure here is not fatal */
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (ss->ss_family == AF_INET6) {
            (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
        }
    }
    if (fd < 0 || bind(fd, (const struct sockaddr *)ss, len) != 0 ||
        listen(fd, LISTEN_BACKLOG) != 0) {
        int err = errno;
        if (fd >= 0) {
            close(fd);
        }
        g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_START, "cannot listen on %s: %s", address,
                    g_strerror(err));
        return -1;
    }
    return fd;
}

/* The port @fd is bound to (0 when unknown). */
static guint16 bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        return 0;
    }
    return ntohs(ss.ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((const struct sockaddr_in *)&ss)->sin_port);
}

/* Stop the accept thread (joined) and close the listening socket: clients
 * connecting from now on are refused by the kernel, and connections still
 * in its queue are reset.  Idempotent; quiesce_lock held. */
static void acceptor_stop(FpHttpServer *s)
{
    if (s->acceptor) {
        char byte = 1;
        while (write(s->wake_fd[1], &byte, 1) < 0 && errno == EINTR) {
        }
        g_thread_join(s->acceptor);
        s->acceptor = NULL;
    }
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
        s->listen_fd = -1;
    }
}

/* ---- start / stop ------------------------------------------------------------------------ */

static char *normalise_prefix(const char *prefix)
{
    if (prefix == NULL) {
        return g_strdup("");
    }
    g_autofree char *p = g_strdup(prefix);
    g_strstrip(p);
    size_t n = strlen(p);
    while (n > 0 && p[n - 1] == '/') {
        p[--n] = '\0';
    }
    if (n == 0) {
        return g_strdup("");
    }
    return p[0] == '/' ? g_steal_pointer(&p) : g_strconcat("/", p, NULL);
}

static gboolean read_pem(const char *path, const char *what, char **out, GError **error)
{
    g_autoptr(GError) local = NULL;
    size_t len = 0;
    *out = fp_read_file_capped(path, TLS_FILE_MAX, &len, &local);
    if (*out == NULL) {
        g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_START, "cannot read %s: %s", what,
                    local->message);
        return FALSE;
    }
    if (len == 0 || memchr(*out, '\0', len) != NULL) {
        explicit_bzero(*out, len);
        g_clear_pointer(out, g_free);
        g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_START, "%s %s is not a PEM file", what,
                    path);
        return FALSE;
    }
    return TRUE;
}

static void server_free(FpHttpServer *s)
{
    for (guint i = 0; i < s->n_routes; i++) {
        g_free(s->routes[i].method);
        g_free(s->routes[i].path);
    }
    g_free(s->routes);
    g_free(s->prefix);
    if (s->tls_key_pem) {
        explicit_bzero(s->tls_key_pem, strlen(s->tls_key_pem));
    }
    g_free(s->tls_key_pem);
    g_free(s->tls_cert_pem);
    g_free(s->client_ca_pem);
    for (int i = 0; i < 3; i++) {
        g_free(s->tls_paths[i]);
    }
    if (s->creds) {
        creds_free(s->creds);
    }
    if (s->retired) {
        /* Every connection is closed by now. */
        g_ptr_array_set_free_func(s->retired, (GDestroyNotify)creds_free);
        g_ptr_array_unref(s->retired);
    }
    if (s->conns) {
        g_hash_table_unref(s->conns);
    }
    if (s->per_address) {
        g_hash_table_unref(s->per_address);
    }
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
    }
    for (int i = 0; i < 2; i++) {
        if (s->wake_fd[i] >= 0) {
            close(s->wake_fd[i]);
        }
    }
    g_mutex_clear(&s->quiesce_lock);
    g_mutex_clear(&s->tls_lock);
    g_mutex_clear(&s->conn_lock);
    g_mutex_clear(&s->wd_lock);
    g_cond_clear(&s->wd_cond);
    g_mutex_clear(&s->lock);
    g_free(s);
}

FpHttpServer *fp_http_server_start(const FpHttpConfig *cfg, const FpRoute *routes, guint n_routes,
                                   void *user_data, GError **error)
{
    g_return_val_if_fail(cfg != NULL, NULL);
    g_return_val_if_fail(routes != NULL || n_routes == 0, NULL);
    g_return_val_if_fail(error == NULL || *error == NULL, NULL);

    struct sockaddr_storage ss;
    socklen_t ss_len = 0;
    if (!fp_listen_resolve(cfg->listen, &ss, &ss_len, error)) {
        return NULL;
    }
    for (guint i = 0; i < n_routes; i++) {
        if (!routes[i].method || !routes[i].path || routes[i].path[0] != '/' ||
            !routes[i].handler) {
            g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_START,
                        "route %u is incomplete or its path does not start with '/'", i);
            return NULL;
        }
    }
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL) ||
        (cfg->client_ca != NULL && cfg->tls_cert == NULL)) {
        g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_START,
                    "TLS needs both a certificate and a key (and a client CA only with them)");
        return NULL;
    }

    FpHttpServer *s = g_new0(FpHttpServer, 1);
    g_mutex_init(&s->lock);
    g_mutex_init(&s->quiesce_lock);
    s->listen_fd = -1;
    s->wake_fd[0] = s->wake_fd[1] = -1;
    g_mutex_init(&s->conn_lock);
    g_mutex_init(&s->tls_lock);
    g_mutex_init(&s->wd_lock);
    g_cond_init(&s->wd_cond);
    s->conns = g_hash_table_new(NULL, NULL);
    s->per_address = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    s->retired = g_ptr_array_new();
    s->prefix = normalise_prefix(cfg->prefix);
    s->prefix_len = strlen(s->prefix);
    s->max_body =
        cfg->max_body_bytes ? MIN(cfg->max_body_bytes, (size_t)G_MAXSIZE / 4) : DEFAULT_MAX_BODY;
    s->max_total_body = cfg->max_total_body_bytes ? cfg->max_total_body_bytes : 2 * s->max_body;
    /* One body of the largest size must always fit. */
    s->max_total_body = MAX(s->max_total_body, s->max_body + 1);
    s->routes = g_new0(Route, n_routes ? n_routes : 1);
    s->n_routes = n_routes;
    for (guint i = 0; i < n_routes; i++) {
        s->routes[i].method = g_strdup(routes[i].method);
        s->routes[i].path = g_strdup(routes[i].path);
        s->routes[i].handler = routes[i].handler;
        s->routes[i].data = routes[i].data ? routes[i].data : user_data;
    }

    /* poll(), not epoll: with MHD 0.9.75's edge-triggered epoll, a client that
     * sends a partial request and closes at once (data and FIN read in one go)
     * leaves the connection in CLOSE_WAIT, counted as active and holding its
     * body buffer, until the connection timeout (measured: 15-19 of 20 such
     * connections, even with MHD_USE_TURBO).  With poll() all are closed
     * immediately; for our few hundred connections poll costs nothing. */
    unsigned int flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                         MHD_USE_NO_LISTEN_SOCKET; /* see "the accept thread" */
    struct MHD_OptionItem opts[5];                 /* the optional ones */
    guint n_opts = 0;
    if (cfg->tls_cert) {
        flags |= MHD_USE_TLS;
        s->tls_paths[0] = g_strdup(cfg->tls_cert);
        s->tls_paths[1] = g_strdup(cfg->tls_key);
        s->tls_paths[2] = g_strdup(cfg->client_ca);
        for (int i = 0; i < 3; i++) {
            file_sig(s->tls_paths[i], &s->tls_loaded[i]);
        }
        if (!read_pem(cfg->tls_cert, "TLS certificate", &s->tls_cert_pem, error) ||
            !read_pem(cfg->tls_key, "TLS key", &s->tls_key_pem, error) ||
            (cfg->client_ca && !read_pem(cfg->client_ca, "client CA", &s->client_ca_pem, error)) ||
            !(s->creds = creds_new(s->tls_cert_pem, s->tls_key_pem, s->client_ca_pem, error))) {
            server_free(s);
            return NULL;
        }
        opts[n_opts++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert_pem};
        opts[n_opts++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key_pem};
        if (s->client_ca_pem) {
            opts[n_opts++] =
                (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, s->client_ca_pem};
            s->verify_clients = TRUE;
        }
    }

    unsigned int threads = cfg->threads ? cfg->threads : DEFAULT_THREADS;
    if (threads > 1) { /* one thread is MHD's single polling thread, no pool */
        opts[n_opts++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, threads, NULL};
    }
    opts[n_opts] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    unsigned int idle_s = cfg->connection_timeout_s ? cfg->connection_timeout_s : DEFAULT_TIMEOUT_S;
    unsigned int request_s =
        cfg->request_timeout_s ? cfg->request_timeout_s : DEFAULT_REQUEST_TIMEOUT_S;
    s->idle_deadline_us = (gint64)idle_s * G_USEC_PER_SEC;
    s->deadline_us = (gint64)request_s * G_USEC_PER_SEC;
    /* MHD's own timeout is a backstop: the watchdog cuts first, and counts it */
    unsigned int timeout = MAX(idle_s, request_s) + MHD_TIMEOUT_SLACK_S;
    unsigned int limit = cfg->connection_limit ? cfg->connection_limit : DEFAULT_CONNECTION_LIMIT;
    limit = MAX(limit, threads); /* MHD splits the limit over the pool threads */
    s->connection_limit = limit;
    s->per_address_limit =
        cfg->per_address_limit ? cfg->per_address_limit : DEFAULT_PER_ADDRESS_LIMIT;
    /* MHD splits its limit evenly over the pool threads: leave each thread
     * room above ours, so make_room_locked (not MHD) decides who goes. */
    unsigned int mhd_limit = limit + MAX(MHD_LIMIT_SLACK, threads * 16);

    s->listen_fd = listen_socket(&ss, ss_len, cfg->listen, error);
    if (s->listen_fd < 0) {
        server_free(s);
        return NULL;
    }
    if (pipe2(s->wake_fd, O_CLOEXEC | O_NONBLOCK) != 0) {
        g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_START, "cannot create a pipe: %s",
                    g_strerror(errno));
        server_free(s);
        return NULL;
    }
    /* The logger goes first so that MHD reports option errors through it. */
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
        MHD_OPTION_CONNECTION_TIMEOUT, timeout, MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY_LIMIT, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (s->daemon == NULL) {
        g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_START,
                    "cannot start the HTTP server on %s (bad TLS files? see the log)", cfg->listen);
        server_free(s);
        return NULL;
    }
    s->port = bound_port(s->listen_fd);
    s->watchdog = g_thread_new("fp-http-watchdog", watchdog_main, s);
    s->acceptor = g_thread_new("fp-http-accept", acceptor_main, s);
    return s;
}

guint16 fp_http_server_port(FpHttpServer *server)
{
    g_return_val_if_fail(server != NULL, 0);
    return server->port;
}

void fp_http_server_quiesce(FpHttpServer *server)
{
    g_return_if_fail(server != NULL);
    /* Requests on open connections from now on get 503; new connections
     * are refused once the accept thread has stopped (it only polls, so
     * that takes no longer than one batch of accepts). */
    g_atomic_int_set(&server->quiescing, 1);
    g_mutex_lock(&server->quiesce_lock);
    acceptor_stop(server);
    g_mutex_unlock(&server->quiesce_lock);
}

void fp_http_server_stop(FpHttpServer *server, guint grace_ms)
{
    if (server == NULL) {
        return;
    }
    fp_http_server_quiesce(server);
    gint64 deadline = g_get_monotonic_time() + (gint64)grace_ms * 1000;
    while (g_atomic_int_get(&server->active) > 0 && g_get_monotonic_time() < deadline) {
        g_usleep(2000);
    }
    g_mutex_lock(&server->wd_lock);
    server->wd_stop = TRUE;
    g_cond_signal(&server->wd_cond);
    g_mutex_unlock(&server->wd_lock);
    g_thread_join(server->watchdog);
    MHD_stop_daemon(server->daemon); /* the accept thread was joined by the quiesce */
    server_free(server);
}

void fp_http_server_stats(FpHttpServer *server, FpHttpStats *out)
{
    g_return_if_fail(server != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    for (int i = 0; i < FP_HTTP_REJECT_N; i++) {
        out->rejected[i] = atomic_load(&server->rejected[i]);
    }
    out->connections = atomic_load(&server->connections);
    out->accepted = atomic_load(&server->accepted);
    out->accept_errors = atomic_load(&server->accept_errors);
    out->handoff_errors = atomic_load(&server->handoff_errors);
    g_mutex_lock(&server->conn_lock);
    out->open_connections = g_hash_table_size(server->conns);
    g_mutex_unlock(&server->conn_lock);
    out->connection_limit = server->connection_limit;
    out->body_bytes = atomic_load(&server->body_bytes);
    out->tls_reloads = atomic_load(&server->tls_reloads);
    out->tls_reload_errors = atomic_load(&server->tls_reload_errors);
    g_mutex_lock(&server->tls_lock);
    out->tls_not_after = server->creds ? server->creds->not_after : 0;
    g_mutex_unlock(&server->tls_lock);
}

guint fp_http_server_active(FpHttpServer *server)
{
    g_return_val_if_fail(server != NULL, 0);
    gint n = g_atomic_int_get(&server->active);
    return n > 0 ? (guint)n : 0;
}

const char *fp_http_request_header(const FpHttpRequest *req, const char *name)
{
    g_return_val_if_fail(req != NULL && name != NULL, NULL);
    if (req->connection == NULL) {
        return NULL;
    }
    return MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, name);
}

const char *fp_http_request_arg(const FpHttpRequest *req, const char *name)
{
    g_return_val_if_fail(req != NULL && name != NULL, NULL);
    if (req->connection == NULL) {
        return NULL;
    }
    return MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, name);
}
