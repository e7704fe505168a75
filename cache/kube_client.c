/*
 * cache/kube_client.c - libcurl requests to the API server (see
 * kube_client.h).  One easy handle per request: handles are cheap next to a
 * TLS handshake and this keeps every thread independent; connection reuse
 * across requests is not needed at our request rate (a LIST per relist, a
 * watch per resource, a bind per pod).
 */

#include "cache/kube_client.h"

#include "cache/dynbuf.h"

#include <string.h>

#include "cache/readfile.h"

#ifndef FP_VERSION
#define FP_VERSION "0"
#endif

#define MAX_TOKEN_FILE ((gsize)64 * 1024)

GQuark fp_kube_error_quark(void)
{
    return g_quark_from_static_string("fp-kube-error-quark");
}

struct FpKubeClient {
    FpKubeConfig *cfg;
    char *base_url;   /* server URL, host replaced by tls-server-name when set */
    char *connect_to; /* "name:port:host:port" for tls-server-name, or NULL */
    guint timeout_ms;
    size_t max_body;
    GMutex lock; /* guards the fields below */
    char *token;
    gint64 token_read_us; /* monotonic time of the last token file read */
    guint unauthorized;
    /* Connections, TLS sessions and DNS answers shared by every handle of
     * the client: a handle is made per call, but the connection (and its TLS
     * handshake) is reused, so a bind's Binding POST does not open one. */
    CURLSH *share;
    GMutex share_locks[CURL_LOCK_DATA_LAST];
};

struct FpKubeHandle {
    CURL *curl;
    struct curl_slist *headers;
    struct curl_slist *connect_to;
    char errbuf[CURL_ERROR_SIZE];
};

/* ---- client ---------------------------------------------------------- */

static gpointer global_init_once(gpointer data)
{
    curl_global_init(CURL_GLOBAL_ALL);
    return NULL;
}

/* Split the server URL and prepare tls-server-name handling. */
static gboolean setup_url(FpKubeClient *c, GError **error)
{
    CURLU *u = curl_url();
    char *host = NULL;
    char *port = NULL;
    char *url = NULL;
    gboolean ok = FALSE;
    if (!u || curl_url_set(u, CURLUPART_URL, c->cfg->server, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        g_set_error(error, FP_KUBE_ERROR, FP_KUBE_ERROR_CONFIG,
                    "server URL \"%s\" (from %s) does not parse", c->cfg->server,
                    c->cfg->source ? c->cfg->source : "config");
        goto out;
    }
    if (c->cfg->tls_server_name && *c->cfg->tls_server_name) {
        /* Connect to the real address but speak TLS (SNI and certificate
         * check) to the configured name. */
        if (curl_url_set(u, CURLUPART_HOST, c->cfg->tls_server_name, 0) != CURLUE_OK) {
            g_set_error(error, FP_KUBE_ERROR, FP_KUBE_ERROR_CONFIG,
                        "tls-server-name \"%s\" is not a host name", c->cfg->tls_server_name);
            goto out;
        }
        c->connect_to = g_strdup_printf("%s:%s:%s:%s", c->cfg->tls_server_name, port, host, port);
    }
    if (curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
        g_set_error(error, FP_KUBE_ERROR, FP_KUBE_ERROR_CONFIG, "server URL \"%s\" is invalid",
                    c->cfg->server);
        goto out;
    }
    c->base_url = g_strdup(url);
    gsize n = strlen(c->base_url);
    while (n > 0 && c->base_url[n - 1] == '/') {
        c->base_url[--n] = '\0';
    }
    ok = TRUE;
out:
    curl_free(host);
    curl_free(port);
    curl_free(url);
    curl_url_cleanup(u);
    return ok;
}

static void share_lock(CURL *handle, curl_lock_data data, curl_lock_access access, void *user)
{
    FpKubeClient *c = user;
    g_mutex_lock(&c->share_locks[data < CURL_LOCK_DATA_LAST ? data : 0]);
}

static void share_unlock(CURL *handle, curl_lock_data data, void *user)
{
    FpKubeClient *c = user;
    g_mutex_unlock(&c->share_locks[data < CURL_LOCK_DATA_LAST ? data : 0]);
}

FpKubeClient *fp_kube_client_new(const FpKubeConfig *cfg, GError **error)
{
    static GOnce once = G_ONCE_INIT;
    g_once(&once, global_init_once, NULL);
    g_return_val_if_fail(cfg != NULL && cfg->server != NULL, NULL);

    FpKubeClient *c = g_new0(FpKubeClient, 1);
    c->cfg = fp_kubeconfig_copy(cfg);
    c->timeout_ms = FP_KUBE_DEFAULT_TIMEOUT_MS;
    c->max_body = FP_KUBE_DEFAULT_MAX_BODY;
    g_mutex_init(&c->lock);
    for (guint i = 0; i < G_N_ELEMENTS(c->share_locks); i++) {
        g_mutex_init(&c->share_locks[i]);
    }
    c->share = curl_share_init();
    if (c->share) {
        curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
        curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
        curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    }
    if (!setup_url(c, error)) {
        fp_kube_client_free(c);
        return NULL;
    }
    if (c->cfg->token_file) {
        g_autofree char *tok = fp_kube_client_token(c, true, error);
        if (!tok) {
            fp_kube_client_free(c);
            return NULL;
        }
    }
    return c;
}

static void wipe_free(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        g_free(s);
    }
}

void fp_kube_client_free(FpKubeClient *client)
{
    if (!client) {
        return;
    }
    /* Every handle is gone by now (the informer is stopped first). */
    if (client->share) {
        curl_share_cleanup(client->share);
    }
    for (guint i = 0; i < G_N_ELEMENTS(client->share_locks); i++) {
        g_mutex_clear(&client->share_locks[i]);
    }
    fp_kubeconfig_free(client->cfg);
    g_free(client->base_url);
    g_free(client->connect_to);
    wipe_free(client->token);
    g_mutex_clear(&client->lock);
    g_free(client);
}

const FpKubeConfig *fp_kube_client_config(const FpKubeClient *client)
{
    return client->cfg;
}

void fp_kube_client_set_limits(FpKubeClient *client, guint timeout_ms, size_t max_body)
{
    if (timeout_ms) {
        client->timeout_ms = timeout_ms;
    }
    if (max_body) {
        client->max_body = max_body;
    }
}

guint fp_kube_client_unauthorized_count(FpKubeClient *client)
{
    g_mutex_lock(&client->lock);
    guint n = client->unauthorized;
    g_mutex_unlock(&client->lock);
    return n;
}

/* Read and trim the token file; NULL with @error. */
static char *read_token_file(const char *path, GError **error)
{
    size_t len = 0;
    g_autoptr(GError) io = NULL;
    /* Capped: the file is re-read on rotation and must never be read without end. */
    char *buf = fp_read_file_capped(path, MAX_TOKEN_FILE, &len, &io);
    if (!buf) {
        g_set_error(error, FP_KUBE_ERROR, FP_KUBE_ERROR_CONFIG, "cannot read token file: %s",
                    io->message);
        return NULL;
    }
    if (memchr(buf, '\0', len)) {
        wipe_free(buf);
        g_set_error(error, FP_KUBE_ERROR, FP_KUBE_ERROR_CONFIG,
                    "token file %s is not a token (binary or over %zu bytes)", path,
                    (size_t)MAX_TOKEN_FILE);
        return NULL;
    }
    g_strstrip(buf);
    if (!*buf || strpbrk(buf, "\r\n")) {
        wipe_free(buf);
        g_set_error(error, FP_KUBE_ERROR, FP_KUBE_ERROR_CONFIG,
                    "token file %s is empty or holds more than one line", path);
        return NULL;
    }
    return buf;
}

char *fp_kube_client_token(FpKubeClient *client, bool force, GError **error)
{
    if (!client->cfg->token_file) {
        return g_strdup(client->cfg->token);
    }
    g_mutex_lock(&client->lock);
    gint64 now = g_get_monotonic_time();
    if (force || !client->token ||
        now - client->token_read_us >= (gint64)FP_KUBE_TOKEN_REFRESH_S * G_USEC_PER_SEC) {
        g_autoptr(GError) local = NULL;
        char *fresh = read_token_file(client->cfg->token_file, &local);
        if (fresh) {
            wipe_free(client->token);
            client->token = fresh;
            client->token_read_us = now;
        } else if (client->token) {
            /* keep the last good token; the file may be mid-rotation */
            g_warning("%s; keeping the previous token", local->message);
            client->token_read_us = now;
        } else {
            g_mutex_unlock(&client->lock);
            g_propagate_error(error, g_steal_pointer(&local));
            return NULL;
        }
    }
    char *tok = g_strdup(client->token);
    g_mutex_unlock(&client->lock);
    return tok;
}

/* A 401 arrived: count it and re-read the token file now. */
static void note_unauthorized(FpKubeClient *client)
{
    g_mutex_lock(&client->lock);
    client->unauthorized++;
    g_mutex_unlock(&client->lock);
    g_autoptr(GError) error = NULL;
    g_autofree char *tok = fp_kube_client_token(client, true, &error);
    (void)tok;
}

/* ---- handles --------------------------------------------------------- */

static void set_blob(CURL *curl, CURLoption opt, GBytes *bytes)
{
    gsize len = 0;
    struct curl_blob blob;
    blob.data = (void *)g_bytes_get_data(bytes, &len);
    blob.len = len;
    blob.flags = CURL_BLOB_COPY;
    curl_easy_setopt(curl, opt, &blob);
}

FpKubeHandle *fp_kube_handle_new(FpKubeClient *client, const char *path_and_query, GError **error)
{
    g_return_val_if_fail(path_and_query && path_and_query[0] == '/', NULL);
    g_autofree char *token = fp_kube_client_token(client, false, error);
    if (!token && client->cfg->token_file) {
        return NULL;
    }
    CURL *curl = curl_easy_init();
    if (!curl) {
        g_set_error(error, FP_KUBE_ERROR, FP_KUBE_ERROR_TRANSPORT,
                    "curl_easy_init failed (out of memory?)");
        return NULL;
    }
    FpKubeHandle *h = g_new0(FpKubeHandle, 1);
    h->curl = curl;
    const FpKubeConfig *cfg = client->cfg;
    g_autofree char *url = g_strconcat(client->base_url, path_and_query, NULL);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (client->share) {
        curl_easy_setopt(curl, CURLOPT_SHARE, client->share);
    }
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)FP_KUBE_CONNECT_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPINTVL, 15L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "flexplace/" FP_VERSION);
    if (cfg->insecure) {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (cfg->ca_data) {
        set_blob(curl, CURLOPT_CAINFO_BLOB, cfg->ca_data);
    } else if (cfg->ca_file) {
        curl_easy_setopt(curl, CURLOPT_CAINFO, cfg->ca_file);
    }
    if (cfg->cert_data) {
        set_blob(curl, CURLOPT_SSLCERT_BLOB, cfg->cert_data);
        curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
    } else if (cfg->cert_file) {
        curl_easy_setopt(curl, CURLOPT_SSLCERT, cfg->cert_file);
    }
    if (cfg->key_data) {
        set_blob(curl, CURLOPT_SSLKEY_BLOB, cfg->key_data);
        curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
    } else if (cfg->key_file) {
        curl_easy_setopt(curl, CURLOPT_SSLKEY, cfg->key_file);
    }
    if (client->connect_to) {
        h->connect_to = curl_slist_append(NULL, client->connect_to);
        curl_easy_setopt(curl, CURLOPT_CONNECT_TO, h->connect_to);
    }
    h->headers = curl_slist_append(h->headers, "Accept: application/json");
    if (token) {
        g_autofree char *auth = g_strconcat("Authorization: Bearer ", token, NULL);
        h->headers = curl_slist_append(h->headers, auth);
        memset(auth, 0, strlen(auth));
        memset(token, 0, strlen(token));
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h->headers);
    return h;
}

CURL *fp_kube_handle_curl(FpKubeHandle *handle)
{
    return handle->curl;
}

const char *fp_kube_handle_errbuf(FpKubeHandle *handle)
{
    return handle->errbuf;
}

void fp_kube_handle_free(FpKubeHandle *handle)
{
    if (!handle) {
        return;
    }
    curl_easy_cleanup(handle->curl);
    curl_slist_free_all(handle->headers);
    curl_slist_free_all(handle->connect_to);
    g_free(handle);
}

/* Add a header to a handle's list (before perform). */
static void handle_add_header(FpKubeHandle *h, const char *line)
{
    h->headers = curl_slist_append(h->headers, line);
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
}

/* ---- shared transfer state ------------------------------------------- */

typedef struct {
    CURL *curl;
    FpDynbuf body;  /* collected body (one-shot), or error body (stream) */
    bool too_large; /* a 2xx one-shot body passed the cap */
    double retry_after;
    long status; /* known once the first body byte arrived */
    const volatile gint *cancel;
    /* streaming */
    FpKubeStreamFn fn;
    void *user;
    bool delivered;  /* some body bytes reached fn */
    bool fn_stopped; /* fn returned false */
    bool sending;    /* a connection was made or reused for the request (CURLOPT_PREREQFUNCTION) */
} Xfer;

double fp_kube_parse_retry_after(const char *value)
{
    while (value && g_ascii_isspace(*value)) {
        value++;
    }
    if (!value || !g_ascii_isdigit(*value)) {
        return -1; /* HTTP-date form or garbage: let the caller back off */
    }
    guint64 secs = 0;
    g_autofree char *trimmed = g_strstrip(g_strdup(value));
    if (!g_ascii_string_to_unsigned(trimmed, 10, 0, G_MAXUINT32, &secs, NULL)) {
        return -1;
    }
    return (double)MIN(secs, 3600);
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *user)
{
    Xfer *x = user;
    size_t n = size * nitems;
    if (n >= 5 && g_ascii_strncasecmp(buf, "HTTP/", 5) == 0) {
        x->retry_after = -1; /* a new response (after a redirect or 100) */
    } else if (n > 12 && g_ascii_strncasecmp(buf, "Retry-After:", 12) == 0) {
        g_autofree char *v = g_strndup(buf + 12, MIN(n - 12, 64));
        x->retry_after = fp_kube_parse_retry_after(v);
    }
    return n;
}

static int xferinfo_cb(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    Xfer *x = user;
    return (x->cancel && g_atomic_int_get(x->cancel)) ? 1 : 0;
}

static bool is_2xx(long status)
{
    return status >= 200 && status < 300;
}

/* The write callbacks' common first step: the status, and a non-2xx body
 * kept (its start, for the error message).  TRUE when the bytes were taken
 * as an error body. */
static bool took_error_body(Xfer *x, const char *data, size_t n)
{
    if (x->status == 0) {
        curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->status);
    }
    if (is_2xx(x->status)) {
        return false;
    }
    fp_dynbuf_add_upto(&x->body, data, n, FP_KUBE_MAX_ERROR_BODY);
    return true;
}

/* Body bytes: a stream's go to fn as they arrive; a one-shot reply is
 * collected up to its cap (past it the transfer aborts: too_large). */
static size_t write_cb(char *data, size_t size, size_t nmemb, void *user)
{
    Xfer *x = user;
    size_t n = size * nmemb;
    if (took_error_body(x, data, n)) {
        return n;
    }
    if (x->fn) {
        x->delivered = true;
        x->fn_stopped = !x->fn(data, n, x->user);
        return x->fn_stopped ? 0 : n;
    }
    if (fp_dynbuf_add(&x->body, data, n) != FP_DYNBUF_OK) {
        x->too_large = true;
        return 0; /* abort: CURLE_WRITE_ERROR */
    }
    return n;
}

/* Called when a connection is ready and the request is about to be sent:
 * from here on the server may have seen it.  It stays set when libcurl then
 * retries the request on a fresh connection (a reused one had died), whose
 * connect may fail: the first copy may have been read and committed. */
static int prereq_cb(void *user, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
                     int conn_local_port)
{
    (void)conn_primary_ip;
    (void)conn_local_ip;
    (void)conn_primary_port;
    (void)conn_local_port;
    ((Xfer *)user)->sending = true;
    return CURL_PREREQFUNC_OK;
}

static void xfer_init(Xfer *x, CURL *curl, size_t cap, const volatile gint *cancel)
{
    memset(x, 0, sizeof(*x));
    x->curl = curl;
    fp_dynbuf_init(&x->body, cap);
    x->retry_after = -1;
    x->cancel = cancel;
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_PREREQFUNCTION, prereq_cb);
    curl_easy_setopt(curl, CURLOPT_PREREQDATA, x);
}

static void xfer_clear(Xfer *x)
{
    fp_dynbuf_free(&x->body);
}

static FpKubeErrorCode code_for_status(long status)
{
    switch (status) {
    case 401:
    case 403:
        return FP_KUBE_ERROR_UNAUTHORIZED;
    case 409:
        return FP_KUBE_ERROR_CONFLICT;
    case 410:
        return FP_KUBE_ERROR_EXPIRED;
    case 429:
        return FP_KUBE_ERROR_THROTTLED;
    default:
        return FP_KUBE_ERROR_HTTP;
    }
}

/* The request line for messages: the path with a long query cut short. */
static char *describe(const char *method, const char *path)
{
    if (strlen(path) > 160) {
        return g_strdup_printf("%s %.160s...", method, path);
    }
    return g_strdup_printf("%s %s", method, path);
}

/* Set @error for a non-2xx reply whose body (a Status, maybe) is @json or
 * the raw bytes in @body. */
static void set_http_error(GError **error, const char *method, const char *path, long status,
                           const json_t *json, const FpDynbuf *body)
{
    g_autofree char *what = describe(method, path);
    const char *reason = json_string_value(json_object_get(json, "reason"));
    const char *message = json_string_value(json_object_get(json, "message"));
    g_autofree char *text = NULL;
    if (!message && fp_dynbuf_len(body) > 0) {
        /* not a Status: quote the start of the body, printable bytes only */
        gsize n = MIN(fp_dynbuf_len(body), 200);
        text = g_strndup(fp_dynbuf_ptr(body), n);
        for (char *p = text; *p; p++) {
            if (!g_ascii_isprint(*p)) {
                *p = ' ';
            }
        }
        message = g_strstrip(text);
    }
    g_set_error(error, FP_KUBE_ERROR, code_for_status(status), "%s: HTTP %ld%s%s%s%s", what, status,
                reason ? " " : "", reason ? reason : "", message && *message ? ": " : "",
                message ? message : "");
}

static void set_transport_error(GError **error, const char *method, const char *path, CURLcode res,
                                const char *errbuf)
{
    g_autofree char *what = describe(method, path);
    g_set_error(error, FP_KUBE_ERROR, FP_KUBE_ERROR_TRANSPORT, "%s: %s%s%s", what,
                curl_easy_strerror(res), *errbuf ? ": " : "", errbuf);
}

/* Sleep up to @ms in short steps, returning early (FALSE) on @cancel. */
static gboolean sleep_unless_cancelled(guint ms, const volatile gint *cancel)
{
    gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
    for (;;) {
        if (cancel && g_atomic_int_get(cancel)) {
            return FALSE;
        }
        gint64 left = end - g_get_monotonic_time();
        if (left <= 0) {
            return TRUE;
        }
        g_usleep((gulong)MIN(left, 100000));
    }
}

/* ---- one-shot -------------------------------------------------------- */

void fp_kube_response_clear(FpKubeResponse *resp)
{
    if (resp) {
        g_clear_pointer(&resp->json, json_decref);
    }
}

/* One request, as the attempt loop runs it: a one-shot call (a reply body
 * collected up to a cap, a deadline over every attempt, 429s retried) or a
 * stream (body bytes handed to fn as they arrive). */
typedef struct {
    const char *method;
    const char *path;
    const char *payload; /* POST body, or NULL */
    const volatile gint *cancel;
    size_t cap; /* reply body cap (one-shot) or error body cap (stream) */
    /* one-shot */
    guint timeout_ms;
    gint64 deadline; /* monotonic */
    guint throttle_left;
    /* stream */
    FpKubeStreamFn fn;
    void *user;
    guint idle_timeout_s;
} Request;

typedef enum {
    ATTEMPT_OK,
    ATTEMPT_FAILED, /* @error is set */
    ATTEMPT_RETRY,
} AttemptResult;

static void response_reset(FpKubeResponse *resp)
{
    resp->status = 0;
    resp->retry_after = -1;
    resp->json = NULL;
    resp->sent = false;
}

static void set_cancelled(GError **error, const Request *rq)
{
    g_set_error(error, FP_KUBE_ERROR, FP_KUBE_ERROR_CANCELLED, "%s %s: cancelled", rq->method,
                rq->path);
}

/* The time a one-shot attempt may take (*left_ms); FALSE with @error once
 * the deadline passed.  Streams have no deadline. */
static bool attempt_time(const Request *rq, long *left_ms, GError **error)
{
    *left_ms = 0;
    if (rq->fn) {
        return true;
    }
    gint64 left = (rq->deadline - g_get_monotonic_time()) / 1000;
    if (left <= 0) {
        g_autofree char *what = describe(rq->method, rq->path);
        g_set_error(error, FP_KUBE_ERROR, FP_KUBE_ERROR_TRANSPORT, "%s: timed out after %u ms",
                    what, rq->timeout_ms);
        return false;
    }
    *left_ms = (long)left;
    return true;
}

/* Set up @h for one attempt of @rq. */
static void attempt_setup(const Request *rq, FpKubeHandle *h, Xfer *x, long left_ms)
{
    CURL *curl = h->curl;
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, x);
    if (rq->fn) {
        x->fn = rq->fn;
        x->user = rq->user;
        if (rq->idle_timeout_s) {
            curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
            curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, (long)rq->idle_timeout_s);
        }
        return;
    }
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, left_ms);
    if (strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, rq->method);
        handle_add_header(h, "Content-Type: application/json");
        handle_add_header(h, "Expect:");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, rq->payload ? rq->payload : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE,
                         (long)(rq->payload ? strlen(rq->payload) : 0));
    }
}

/* A 401: the first one with a token file re-reads the token and is
 * retried (when @may_retry); any other is counted.  TRUE to retry. */
static bool retry_unauthorized(FpKubeClient *client, long status, bool may_retry,
                               bool *auth_retried)
{
    if (status != 401) {
        return false;
    }
    if (may_retry && !*auth_retried && client->cfg->token_file) {
        note_unauthorized(client);
        *auth_retried = true;
        return true;
    }
    g_mutex_lock(&client->lock);
    client->unauthorized++;
    g_mutex_unlock(&client->lock);
    return false;
}

/* A 429 with retries left: wait out its Retry-After (1 s without one)
 * when the deadline allows.  TRUE when it waited, or was cancelled while
 * waiting (*cancelled): no retry then. */
static bool wait_throttled(Request *rq, const Xfer *x, bool *cancelled)
{
    double wait_s = x->retry_after >= 0 ? x->retry_after : 1.0;
    gint64 wait_ms = (gint64)(wait_s * 1000);
    if (g_get_monotonic_time() + wait_ms * 1000 >= rq->deadline) {
        return false;
    }
    rq->throttle_left--;
    *cancelled = !sleep_unless_cancelled((guint)wait_ms, rq->cancel);
    return true;
}

/* Decode a one-shot reply: a 2xx must carry a JSON object (or nothing);
 * any other status is an error quoting its Status. */
static AttemptResult decode_reply(const Request *rq, const Xfer *x, long status,
                                  FpKubeResponse *resp, GError **error)
{
    json_error_t jerr;
    json_t *json = NULL;
    size_t len = fp_dynbuf_len(&x->body);
    if (len > 0) {
        json = json_loadb(fp_dynbuf_ptr(&x->body), len, 0, &jerr);
    }
    if (!is_2xx(status)) {
        set_http_error(error, rq->method, rq->path, status, json, &x->body);
        resp->json = json;
        return ATTEMPT_FAILED;
    }
    if (len > 0 && !json_is_object(json)) {
        g_autofree char *what = describe(rq->method, rq->path);
        g_set_error(error, FP_KUBE_ERROR, FP_KUBE_ERROR_DECODE,
                    "%s: HTTP %ld with a body that is not a JSON object%s%s", what, status,
                    json ? "" : ": ", json ? "" : jerr.text);
        json_decref(json);
        return ATTEMPT_FAILED;
    }
    resp->json = json;
    return ATTEMPT_OK;
}

/* What a one-shot attempt came to. */
static AttemptResult judge_oneshot(FpKubeClient *client, Request *rq, FpKubeHandle *h,
                                   const Xfer *x, CURLcode res, bool *auth_retried,
                                   FpKubeResponse *resp, GError **error)
{
    if (res != CURLE_OK) {
        if (res == CURLE_ABORTED_BY_CALLBACK) {
            set_cancelled(error, rq);
        } else if (x->too_large) {
            g_autofree char *what = describe(rq->method, rq->path);
            g_set_error(error, FP_KUBE_ERROR, FP_KUBE_ERROR_TOO_LARGE,
                        "%s: response body larger than %zu bytes", what, rq->cap);
        } else {
            set_transport_error(error, rq->method, rq->path, res, h->errbuf);
        }
        return ATTEMPT_FAILED;
    }
    if (retry_unauthorized(client, resp->status, true, auth_retried)) {
        return ATTEMPT_RETRY;
    }
    bool cancelled = false;
    if (resp->status == 429 && rq->throttle_left > 0 && wait_throttled(rq, x, &cancelled)) {
        if (cancelled) {
            set_cancelled(error, rq);
            return ATTEMPT_FAILED;
        }
        return ATTEMPT_RETRY;
    }
    return decode_reply(rq, x, resp->status, resp, error);
}

/* What a stream attempt came to. */
static AttemptResult judge_stream(FpKubeClient *client, const Request *rq, FpKubeHandle *h,
                                  const Xfer *x, CURLcode res, bool *auth_retried,
                                  FpKubeResponse *resp, GError **error)
{
    long status = resp->status;
    if ((res == CURLE_WRITE_ERROR && x->fn_stopped) ||
        (res == CURLE_ABORTED_BY_CALLBACK && rq->cancel && g_atomic_int_get(rq->cancel))) {
        return ATTEMPT_OK;
    }
    if (status != 0 && !is_2xx(status)) {
        if (retry_unauthorized(client, status, !x->delivered, auth_retried)) {
            return ATTEMPT_RETRY;
        }
        size_t len = fp_dynbuf_len(&x->body);
        json_t *json = len ? json_loadb(fp_dynbuf_ptr(&x->body), len, 0, NULL) : NULL;
        set_http_error(error, rq->method, rq->path, status, json, &x->body);
        resp->json = json;
        return ATTEMPT_FAILED;
    }
    if (res != CURLE_OK) {
        set_transport_error(error, rq->method, rq->path, res, h->errbuf);
        return ATTEMPT_FAILED;
    }
    return ATTEMPT_OK;
}

/* The one attempt loop of every request: a fresh handle per attempt
 * (credentials may have rotated), perform, judge; retried after the first
 * 401 with a token file and, one-shot, after a 429 within the deadline. */
static gboolean run_request(FpKubeClient *client, Request *rq, FpKubeResponse *resp, GError **error)
{
    FpKubeResponse local_resp = {0};
    if (!resp) {
        resp = &local_resp;
    }
    response_reset(resp);
    bool auth_retried = false;
    AttemptResult result = ATTEMPT_FAILED;
    for (;;) {
        long left_ms = 0;
        if (!attempt_time(rq, &left_ms, error)) {
            break;
        }
        g_autoptr(FpKubeHandle) h = fp_kube_handle_new(client, rq->path, error);
        if (!h) {
            break;
        }
        Xfer x;
        xfer_init(&x, h->curl, rq->cap, rq->cancel);
        attempt_setup(rq, h, &x, left_ms);
        CURLcode res = curl_easy_perform(h->curl);
        curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
        long request_size = 0;
        curl_easy_getinfo(h->curl, CURLINFO_REQUEST_SIZE, &request_size);
        resp->sent = x.sending || request_size > 0 || resp->status != 0;
        resp->retry_after = x.retry_after;
        result = rq->fn ? judge_stream(client, rq, h, &x, res, &auth_retried, resp, error)
                        : judge_oneshot(client, rq, h, &x, res, &auth_retried, resp, error);
        xfer_clear(&x);
        if (result != ATTEMPT_RETRY) {
            break;
        }
    }
    fp_kube_response_clear(&local_resp);
    return result == ATTEMPT_OK;
}

gboolean fp_kube_call(FpKubeClient *client, const char *method, const char *path_and_query,
                      const json_t *body, const FpKubeCallOptions *opts, FpKubeResponse *resp,
                      GError **error)
{
    g_return_val_if_fail(client && method && path_and_query, FALSE);
    FpKubeCallOptions defaults = {0};
    if (!opts) {
        opts = &defaults;
    }
    g_autofree char *payload = NULL;
    if (body && !(payload = json_dumps(body, JSON_COMPACT))) {
        if (resp) {
            response_reset(resp);
        }
        g_set_error(error, FP_KUBE_ERROR, FP_KUBE_ERROR_CONFIG,
                    "cannot serialise the request body");
        return FALSE;
    }
    Request rq = {
        .method = method,
        .path = path_and_query,
        .payload = payload,
        .cancel = opts->cancel,
        .cap = opts->max_body ? opts->max_body : client->max_body,
        .timeout_ms = opts->timeout_ms ? opts->timeout_ms : client->timeout_ms,
        .throttle_left = opts->throttle_retries,
    };
    rq.deadline = g_get_monotonic_time() + (gint64)rq.timeout_ms * 1000;
    return run_request(client, &rq, resp, error);
}

gboolean fp_kube_get_json(FpKubeClient *client, const char *path_and_query, json_t **out,
                          long *status, GError **error)
{
    FpKubeCallOptions opts = {.throttle_retries = 2};
    FpKubeResponse resp = {0};
    gboolean ok = fp_kube_call(client, "GET", path_and_query, NULL, &opts, &resp, error);
    if (status) {
        *status = resp.status;
    }
    if (ok && out) {
        *out = g_steal_pointer(&resp.json);
    }
    fp_kube_response_clear(&resp);
    return ok;
}

gboolean fp_kube_post_json(FpKubeClient *client, const char *path, const json_t *body,
                           guint timeout_ms, long *status, json_t **reply, GError **error)
{
    FpKubeCallOptions opts = {.timeout_ms = timeout_ms};
    FpKubeResponse resp = {0};
    gboolean ok = fp_kube_call(client, "POST", path, body, &opts, &resp, error);
    if (status) {
        *status = resp.status;
    }
    if (reply) {
        *reply = g_steal_pointer(&resp.json);
    }
    fp_kube_response_clear(&resp);
    return ok;
}

/* ---- streaming ------------------------------------------------------- */

gboolean fp_kube_stream(FpKubeClient *client, const char *path_and_query,
                        const FpKubeStreamOptions *opts, FpKubeStreamFn fn, void *user,
                        FpKubeResponse *resp, GError **error)
{
    g_return_val_if_fail(client && path_and_query && fn, FALSE);
    FpKubeStreamOptions defaults = {0};
    if (!opts) {
        opts = &defaults;
    }
    Request rq = {
        .method = "GET",
        .path = path_and_query,
        .cancel = opts->stop,
        .cap = FP_KUBE_MAX_ERROR_BODY,
        .fn = fn,
        .user = user,
        .idle_timeout_s = opts->idle_timeout_s,
    };
    return run_request(client, &rq, resp, error);
}
