/*
 * cache/kube_client.h - HTTP(S) requests to the Kubernetes API server with
 * libcurl: one-shot JSON GET/POST and the streaming GET a watch needs.
 *
 * Purpose: everything about talking to the API server that is not list/watch
 * logic: TLS (CA file or in-memory PEM, client certificate and key as files
 * or in-memory PEM via CURLOPT_*_BLOB, insecure-skip-tls-verify,
 * tls-server-name via CURLOPT_CONNECT_TO), the bearer token (inline, or a
 * file re-read at most every FP_KUBE_TOKEN_REFRESH_S seconds and at once
 * after a 401, after which the request is retried once), Accept:
 * application/json, User-Agent flexplace/<version>, connect timeout and TCP
 * keepalive, body caps, 429 Retry-After, and errors that carry the HTTP
 * status and the API server's Status message.
 *
 * Every handle gets CURLOPT_NOSIGNAL.  The process must call
 * curl_global_init() before starting threads (main does);
 * fp_kube_client_new() also calls it once as a safety net.
 *
 * Ownership: the client copies the FpKubeConfig it is given.  Handles from
 * fp_kube_handle_new are owned by the caller and freed with
 * fp_kube_handle_free; json_t results are new references.
 * Thread context: an FpKubeClient is shared by any number of threads (token
 * state is behind a mutex); each request uses its own curl easy handle, and
 * one FpKubeHandle must be used by one thread at a time.
 * Errors: FP_KUBE_ERROR, codes below; messages read
 * "GET /api/v1/nodes: HTTP 403 Forbidden: nodes is forbidden: ...".
 */
#ifndef FP_CACHE_KUBE_CLIENT_H
#define FP_CACHE_KUBE_CLIENT_H

#include <curl/curl.h>
#include <glib.h>
#include <jansson.h>
#include <stdbool.h>

#include "cache/kubeconfig.h"

G_BEGIN_DECLS

#define FP_KUBE_ERROR (fp_kube_error_quark())
GQuark fp_kube_error_quark(void);
typedef enum {
    FP_KUBE_ERROR_TRANSPORT,    /* connect, TLS, reset, timeout: curl failed */
    FP_KUBE_ERROR_HTTP,         /* a non-2xx status not listed below */
    FP_KUBE_ERROR_UNAUTHORIZED, /* 401 (after one token re-read and retry) or 403 */
    FP_KUBE_ERROR_EXPIRED,      /* 410 Gone (expired continue token or resourceVersion) */
    FP_KUBE_ERROR_THROTTLED,    /* 429 after the allowed Retry-After waits */
    FP_KUBE_ERROR_CONFLICT,     /* 409 */
    FP_KUBE_ERROR_TOO_LARGE,    /* the body passed its cap */
    FP_KUBE_ERROR_DECODE,       /* a 2xx body that is not a JSON object */
    FP_KUBE_ERROR_CONFIG,       /* bad server URL, unreadable token file */
    FP_KUBE_ERROR_CANCELLED,    /* the cancel flag was set */
} FpKubeErrorCode;

/* Token files are re-read at most this often (and right after a 401). */
#define FP_KUBE_TOKEN_REFRESH_S 60
/* Defaults of the limits below. */
#define FP_KUBE_DEFAULT_TIMEOUT_MS 60000u
#define FP_KUBE_DEFAULT_MAX_BODY ((size_t)256 * 1024 * 1024)
#define FP_KUBE_CONNECT_TIMEOUT_S 10
/* Error bodies (Status objects) are kept up to this size. */
#define FP_KUBE_MAX_ERROR_BODY ((size_t)64 * 1024)

typedef struct FpKubeClient FpKubeClient;

/* Validate @cfg (server URL, token readable) and build a client. */
FpKubeClient *fp_kube_client_new(const FpKubeConfig *cfg, GError **error);
void fp_kube_client_free(FpKubeClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpKubeClient, fp_kube_client_free)

/* Borrowed: the client's copy of its configuration. */
const FpKubeConfig *fp_kube_client_config(const FpKubeClient *client);
/* Default total timeout and body cap of one-shot requests (0 keeps the
 * current value).  Call before sharing the client between threads. */
void fp_kube_client_set_limits(FpKubeClient *client, guint timeout_ms, size_t max_body);
/* Current bearer token (newly allocated, NULL when none), re-reading the
 * token file when older than FP_KUBE_TOKEN_REFRESH_S or @force. */
char *fp_kube_client_token(FpKubeClient *client, bool force, GError **error);
/* Number of 401 replies seen (each one forces a token re-read). */
guint fp_kube_client_unauthorized_count(FpKubeClient *client);

/* ---- configured easy handles ---------------------------------------- */

/* A curl easy handle set up for GET of @path_and_query (which starts with
 * '/'; the query must already be URL-encoded): URL, TLS, headers including
 * the current token, NOSIGNAL, connect timeout, keepalive, error buffer.
 * The handle owns its header list and error buffer. */
typedef struct FpKubeHandle FpKubeHandle;
FpKubeHandle *fp_kube_handle_new(FpKubeClient *client, const char *path_and_query, GError **error);
/* Borrowed; valid until fp_kube_handle_free. */
CURL *fp_kube_handle_curl(FpKubeHandle *handle);
/* curl's detailed message of the last transfer ("" when none). */
const char *fp_kube_handle_errbuf(FpKubeHandle *handle);
void fp_kube_handle_free(FpKubeHandle *handle);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpKubeHandle, fp_kube_handle_free)

/* ---- one-shot requests ---------------------------------------------- */

typedef struct {
    guint timeout_ms;            /* whole exchange, waits included; 0 = client default */
    size_t max_body;             /* 0 = client default */
    guint throttle_retries;      /* 429s retried after Retry-After within the timeout */
    const volatile gint *cancel; /* optional; abort when it becomes non-zero */
} FpKubeCallOptions;

typedef struct {
    long status;        /* HTTP status of the last attempt; 0 = no response */
    double retry_after; /* seconds from Retry-After of a 429/503, -1 when absent */
    json_t *json;       /* decoded body (2xx object, or the error Status), may be NULL */
    /* Whether the request may have reached the server: a connection was
     * made or reused for it (libcurl's transparent retry of a request
     * whose reused connection had died counts as sent, even when the
     * retry's connect then fails).  false with status 0: the server cannot
     * have seen it (connection refused, name not resolved, connect timed
     * out, on the only attempt). */
    bool sent;
} FpKubeResponse;

/* Release what a response holds; the struct itself is the caller's. */
void fp_kube_response_clear(FpKubeResponse *resp);

/* @method "GET" or "POST" (@body sent as compact JSON with Content-Type:
 * application/json).  TRUE on a 2xx with a JSON object body (a 2xx with an
 * empty body gives json NULL).  FALSE with @error otherwise; @resp (may be
 * NULL) is filled either way. */
gboolean fp_kube_call(FpKubeClient *client, const char *method, const char *path_and_query,
                      const json_t *body, const FpKubeCallOptions *opts, FpKubeResponse *resp,
                      GError **error);

/* GET returning the decoded object in @out (new reference) and the status
 * in @status (either may be NULL); 429s are retried twice within the
 * client's default timeout. */
gboolean fp_kube_get_json(FpKubeClient *client, const char *path_and_query, json_t **out,
                          long *status, GError **error);

/* POST @body to @path with a total timeout of @timeout_ms (0 = client
 * default), no 429 retries (the caller decides).  @status and @reply (the
 * decoded reply, success or Status; new reference) may be NULL. */
gboolean fp_kube_post_json(FpKubeClient *client, const char *path, const json_t *body,
                           guint timeout_ms, long *status, json_t **reply, GError **error);

/* ---- streaming GET (watch) ------------------------------------------ */

/* Receives body bytes of a 2xx reply as they arrive (any size, not
 * NUL-terminated).  Return false to end the stream. */
typedef bool (*FpKubeStreamFn)(const char *data, size_t len, void *user);

typedef struct {
    /* abort when the server sends nothing for this long (0 = never); set it
     * above the watch's timeoutSeconds so only a dead peer trips it */
    guint idle_timeout_s;
    const volatile gint *stop; /* checked at least about once a second */
} FpKubeStreamOptions;

/* GET @path_and_query and feed the body to @fn.  Returns TRUE when the
 * server ended the body normally, @fn asked to stop, or *stop was set (the
 * caller knows which).  FALSE with @error on a non-2xx status (the Status
 * message is in the error, retry_after in @resp), a transport error (a
 * connection dropped mid-body included) or an idle timeout.  A 401 re-reads
 * the token and retries once before any byte reached @fn. */
gboolean fp_kube_stream(FpKubeClient *client, const char *path_and_query,
                        const FpKubeStreamOptions *opts, FpKubeStreamFn fn, void *user,
                        FpKubeResponse *resp, GError **error);

/* Parse a Retry-After header value (delta-seconds only); -1 if unusable. */
double fp_kube_parse_retry_after(const char *value);

G_END_DECLS

#endif /* FP_CACHE_KUBE_CLIENT_H */
