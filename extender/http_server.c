/*
 * extender/http_server.c - libmicrohttpd front end (see http_server.h).
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
 * Threads: MHD's internal thread pool polling with poll() (not epoll; see
 * fp_http_server_start).  Handlers and the callbacks below run on pool
 * threads; the server struct is read-only after start except for the atomic
 * counters and what the mutex guards.  The raw query string (FpHttpRequest
 * .query) comes from MHD's URI log callback, which sees the request target
 * before MHD splits and decodes it.
 */
#include "extender/http_server.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <microhttpd.h>

#define HTTP_LOG_DOMAIN "flexplace-http"

#define DEFAULT_THREADS 4u
#define DEFAULT_MAX_BODY ((size_t)128 * 1024 * 1024)
#define DEFAULT_TIMEOUT_S 120u
#define DEFAULT_CONNECTION_LIMIT 256u
#define CONNECTION_MEMORY_LIMIT ((size_t)128 * 1024)
/* First body allocation: the Content-Length when small, else this much; a
 * client cannot make us reserve memory it has not sent. */
#define BODY_INITIAL_MAX ((size_t)64 * 1024)
#define LISTEN_MAX_LEN 512
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
} Route;

struct FpHttpServer {
    struct MHD_Daemon *daemon;
    Route *routes;
    guint n_routes;
    char *prefix; /* normalised: "" or "/x" without a trailing slash */
    size_t prefix_len;
    size_t max_body;
    void *user_data;
    gboolean verify_clients;
    gint active;    /* atomic: requests between first call and completion */
    gint quiescing; /* atomic: set by fp_http_server_quiesce */
    GMutex lock;    /* quiesce and the log rate limiter */
    MHD_socket quiesced_fd;
    guint16 port;
    gint64 log_window_start;
    guint log_count;
    guint log_suppressed;
    char *tls_cert_pem; /* kept until MHD_stop_daemon */
    char *tls_key_pem;
    char *client_ca_pem;
};

typedef struct {
    FpHttpServer *server;
    gboolean started; /* first access-handler call seen */
    gboolean counted; /* contributes to server->active */
    gboolean answered;
    const Route *route;
    char *query; /* raw query from the request line, or NULL */
    char *body;
    size_t body_len;
    size_t body_cap;
    size_t size_hint;
    gboolean too_large; /* dropping data: 413 at the final call */
    gboolean no_memory;
    char *client_subject;
} RequestCtx;

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

/* ---- request context -------------------------------------------------------------------- */

static RequestCtx *ctx_new(FpHttpServer *server)
{
    RequestCtx *ctx = g_new0(RequestCtx, 1);
    ctx->server = server;
    return ctx;
}

static void ctx_free(RequestCtx *ctx)
{
    if (ctx->counted) {
        g_atomic_int_dec_and_test(&ctx->server->active);
    }
    g_free(ctx->query);
    g_free(ctx->body);
    g_free(ctx->client_subject);
    g_free(ctx);
}

/* Append @n bytes; past the cap switch to counting-and-dropping. */
static void body_append(RequestCtx *ctx, const char *data, size_t n)
{
    size_t max = ctx->server->max_body;
    if (ctx->too_large || ctx->no_memory) {
        return;
    }
    if (n > max - ctx->body_len) {
        ctx->too_large = TRUE;
        g_clear_pointer(&ctx->body, g_free);
        ctx->body_len = ctx->body_cap = 0;
        return;
    }
    size_t need = ctx->body_len + n + 1; /* <= max + 1: room for the NUL */
    if (need > ctx->body_cap) {
        size_t cap = ctx->body_cap;
        if (cap == 0) {
            cap = MIN(MAX(ctx->size_hint, (size_t)1) + 1, BODY_INITIAL_MAX);
        }
        while (cap < need) {
            cap = cap > (max + 1) / 2 ? max + 1 : cap * 2;
        }
        char *grown = g_try_realloc(ctx->body, cap);
        if (grown == NULL) {
            ctx->no_memory = TRUE;
            g_clear_pointer(&ctx->body, g_free);
            ctx->body_len = ctx->body_cap = 0;
            return;
        }
        ctx->body = grown;
        ctx->body_cap = cap;
    }
    memcpy(ctx->body + ctx->body_len, data, n);
    ctx->body_len += n;
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
        *ret = queue_error(ctx, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "server is shutting down", NULL,
                           TRUE);
        return FALSE;
    }
    if (s->verify_clients && !verify_client(ctx, conn)) {
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
            *ret = queue_error(ctx, conn, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large",
                               NULL, TRUE);
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
        return queue_error(ctx, conn, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large", NULL,
                           FALSE);
    }
    if (ctx->no_memory) {
        return queue_error(ctx, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", NULL, TRUE);
    }
    if (ctx->body != NULL) {
        ctx->body[ctx->body_len] = '\0'; /* body_cap > body_len always */
    }
    FpHttpRequest req = {
        .method = method,
        .path = strip_prefix(s, url),
        .query = ctx->query ? ctx->query : "",
        .content_type =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .body = ctx->body ? ctx->body : "",
        .body_len = ctx->body_len,
        .client_cert_subject = ctx->client_subject,
        .connection = conn,
    };
    FpHttpResponse resp = {.status = MHD_HTTP_OK};
    ctx->route->handler(&req, &resp, s->user_data);
    ctx->answered = TRUE;
    return queue_response(conn, &resp, FALSE);
}

/* ---- MHD callbacks ---------------------------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
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
    RequestCtx *ctx = *con_cls;
    if (ctx != NULL) {
        ctx_free(ctx);
        *con_cls = NULL;
    }
}

/* MHD's error log to g_log, at most LOG_BURST lines per second. */
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

/* ---- start / stop ------------------------------------------------------------------------ */

/* Parse "HOST:PORT", "[V6]:PORT" or ":PORT" (all IPv4 interfaces) into @ss. */
static gboolean parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *ss_len,
                             GError **error)
{
    if (listen == NULL || *listen == '\0' || strlen(listen) > LISTEN_MAX_LEN) {
        g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_ADDRESS,
                    "listen address must be HOST:PORT, [IPV6]:PORT or :PORT");
        return FALSE;
    }
    g_autofree char *host = NULL;
    const char *port_str;
    gboolean v6 = FALSE;
    if (listen[0] == '[') {
        const char *end = strchr(listen, ']');
        if (end == NULL || end[1] != ':' || end == listen + 1) {
            g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_ADDRESS,
                        "listen address '%s': expected [IPV6]:PORT", listen);
            return FALSE;
        }
        host = g_strndup(listen + 1, (gsize)(end - listen - 1));
        port_str = end + 2;
        v6 = TRUE;
    } else {
        const char *colon = strrchr(listen, ':');
        if (colon == NULL || memchr(listen, ':', (size_t)(colon - listen)) != NULL) {
            g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_ADDRESS,
                        "listen address '%s': expected HOST:PORT (IPv6 as [ADDR]:PORT)", listen);
            return FALSE;
        }
        host = g_strndup(listen, (gsize)(colon - listen));
        port_str = colon + 1;
    }
    guint64 port = 0;
    size_t digits = strspn(port_str, "0123456789");
    if (digits == 0 || digits > 5 || port_str[digits] != '\0' ||
        (port = g_ascii_strtoull(port_str, NULL, 10)) > 65535) {
        g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_ADDRESS,
                    "listen address '%s': port must be a number from 0 to 65535", listen);
        return FALSE;
    }

    memset(ss, 0, sizeof *ss);
    if (*host == '\0') {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_ANY);
        sin->sin_port = htons((uint16_t)port);
        *ss_len = sizeof *sin;
        return TRUE;
    }
    struct addrinfo hints = {
        .ai_family = v6 ? AF_INET6 : AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_flags = v6 ? AI_NUMERICHOST : 0,
    };
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || res == NULL) {
        g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_ADDRESS,
                    "listen address '%s': cannot resolve '%s': %s", listen, host,
                    rc ? gai_strerror(rc) : "no address");
        if (res) {
            freeaddrinfo(res);
        }
        return FALSE;
    }
    /* Prefer IPv4 for a name such as "localhost" that resolves to both. */
    const struct addrinfo *pick = res;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
    }
    if ((pick->ai_family != AF_INET && pick->ai_family != AF_INET6) ||
        pick->ai_addrlen > sizeof *ss) {
        freeaddrinfo(res);
        g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_ADDRESS,
                    "listen address '%s': unsupported address family", listen);
        return FALSE;
    }
    memcpy(ss, pick->ai_addr, pick->ai_addrlen);
    *ss_len = pick->ai_addrlen;
    freeaddrinfo(res);
    if (ss->ss_family == AF_INET) {
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    } else {
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    }
    return TRUE;
}

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
    gsize len = 0;
    if (!g_file_get_contents(path, out, &len, &local)) {
        g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_START, "cannot read %s: %s", what,
                    local->message);
        return FALSE;
    }
    if (len == 0 || len > TLS_FILE_MAX || memchr(*out, '\0', len) != NULL) {
        g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_START, "%s %s is not a PEM file", what,
                    path);
        g_clear_pointer(out, g_free);
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
    if (!parse_listen(cfg->listen, &ss, &ss_len, error)) {
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
    s->quiesced_fd = MHD_INVALID_SOCKET;
    s->user_data = user_data;
    s->prefix = normalise_prefix(cfg->prefix);
    s->prefix_len = strlen(s->prefix);
    s->max_body =
        cfg->max_body_bytes ? MIN(cfg->max_body_bytes, (size_t)G_MAXSIZE / 4) : DEFAULT_MAX_BODY;
    s->routes = g_new0(Route, n_routes ? n_routes : 1);
    s->n_routes = n_routes;
    for (guint i = 0; i < n_routes; i++) {
        s->routes[i].method = g_strdup(routes[i].method);
        s->routes[i].path = g_strdup(routes[i].path);
        s->routes[i].handler = routes[i].handler;
    }

    /* poll(), not epoll: with MHD 0.9.75's edge-triggered epoll, a client that
     * sends a partial request and closes at once (data and FIN read in one go)
     * leaves the connection in CLOSE_WAIT, counted as active and holding its
     * body buffer, until the connection timeout (measured: 15-19 of 20 such
     * connections, even with MHD_USE_TURBO).  With poll() all are closed
     * immediately; for our few hundred connections poll costs nothing. */
    unsigned int flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    struct MHD_OptionItem opts[5]; /* the optional ones */
    guint n_opts = 0;
    if (cfg->tls_cert) {
        flags |= MHD_USE_TLS;
        if (!read_pem(cfg->tls_cert, "TLS certificate", &s->tls_cert_pem, error) ||
            !read_pem(cfg->tls_key, "TLS key", &s->tls_key_pem, error) ||
            (cfg->client_ca && !read_pem(cfg->client_ca, "client CA", &s->client_ca_pem, error))) {
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
    unsigned int timeout =
        cfg->connection_timeout_s ? cfg->connection_timeout_s : DEFAULT_TIMEOUT_S;
    unsigned int limit = cfg->connection_limit ? cfg->connection_limit : DEFAULT_CONNECTION_LIMIT;
    limit = MAX(limit, threads); /* MHD splits the limit over the pool threads */

    /* The logger goes first so that MHD reports option errors through it. */
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT, timeout,
        MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        CONNECTION_MEMORY_LIMIT, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (s->daemon == NULL) {
        g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_START,
                    "cannot start the HTTP server on %s (address in use, or bad TLS files; "
                    "see the log)",
                    cfg->listen);
        server_free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : 0;
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
    g_mutex_lock(&server->lock);
    if (!g_atomic_int_get(&server->quiescing)) {
        g_atomic_int_set(&server->quiescing, 1);
        server->quiesced_fd = MHD_quiesce_daemon(server->daemon);
        /* MHD's threads may still hold the descriptor, so it is closed only
         * after MHD_stop_daemon; shutting it down now makes new clients see a
         * refused connection instead of waiting in the backlog. */
        if (server->quiesced_fd != MHD_INVALID_SOCKET) {
            shutdown(server->quiesced_fd, SHUT_RDWR);
        }
    }
    g_mutex_unlock(&server->lock);
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
    MHD_stop_daemon(server->daemon);
    if (server->quiesced_fd != MHD_INVALID_SOCKET) {
        close(server->quiesced_fd);
    }
    server_free(server);
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
