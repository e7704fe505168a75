/*
 * extender/http_server.h - the HTTP front end (libmicrohttpd).
 *
 * Purpose: accept kube-scheduler's connections (keep-alive, several at once),
 * read each request body into a capped buffer, dispatch by exact path to a
 * route handler, and send the handler's response in one write (headers and
 * body together, so no Nagle/delayed-ACK stall).  Protocol-level errors are
 * answered here with a JSON body {"error": "..."}: 404 unknown path, 405 wrong
 * method (with Allow), 413 body over the cap, 415 a POST whose Content-Type is
 * present and not JSON, 503 while shutting down.
 *
 * Threading: MHD's internal thread pool with poll() (epoll in MHD 0.9.75
 * leaves connections that a client aborts mid-request hanging until the
 * connection timeout, so it is not used).  Handlers run on pool
 * threads, concurrently; they must be thread-safe and must not block on I/O
 * other than what the route itself is for (the bind verb's API call).
 *
 * Ownership: the server copies the route table.  A handler fills an
 * FpHttpResponse whose body it allocates with g_malloc (or sets body_static);
 * the server frees it after sending.
 */
#ifndef FP_EXTENDER_HTTP_SERVER_H
#define FP_EXTENDER_HTTP_SERVER_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

#define FP_HTTP_ERROR (fp_http_error_quark())
GQuark fp_http_error_quark(void);
typedef enum {
    FP_HTTP_ERROR_ADDRESS, /* --listen does not parse or resolve */
    FP_HTTP_ERROR_START,   /* MHD failed to start (port in use, TLS files) */
} FpHttpError;

typedef struct {
    const char *method;       /* "GET", "POST", ... */
    const char *path;         /* request path with the configured prefix removed */
    const char *query;        /* raw query string without '?', or "" */
    const char *content_type; /* may be NULL */
    const char *body;         /* NUL-terminated copy of the body; "" when none */
    size_t body_len;
    const char *client_cert_subject; /* verified client certificate subject, or NULL */
    void *connection;                /* opaque, for fp_http_request_header */
} FpHttpRequest;

/* Value of a request header, or NULL. */
const char *fp_http_request_header(const FpHttpRequest *req, const char *name);
/* Value of a query parameter (URL-decoded by MHD), or NULL. */
const char *fp_http_request_arg(const FpHttpRequest *req, const char *name);

typedef struct {
    unsigned int status;      /* default 200 */
    const char *content_type; /* default "application/json" */
    char *body;               /* g_malloc'ed, freed by the server; or NULL */
    size_t body_len;
    const char *body_static; /* alternative to body for constant replies */
    const char *allow;       /* Allow header for 405, or NULL */
} FpHttpResponse;

/* Fill @resp with {"error": message} and @status. */
void fp_http_response_error(FpHttpResponse *resp, unsigned int status, const char *message);

typedef void (*FpHttpHandler)(const FpHttpRequest *req, FpHttpResponse *resp, void *user_data);

typedef struct {
    const char *method; /* "GET" or "POST" */
    const char *path;   /* exact path after the prefix, e.g. "/filter" */
    FpHttpHandler handler;
} FpRoute;

typedef struct {
    const char *listen;         /* "HOST:PORT", "[v6]:PORT"; port 0 picks a free port */
    const char *prefix;         /* path prefix stripped before routing, "" or "/sched" */
    guint threads;              /* MHD thread pool size, default 4 */
    size_t max_body_bytes;      /* 413 past it; default 128 MiB */
    guint connection_timeout_s; /* idle/slow connection timeout, default 120 */
    guint connection_limit;     /* concurrent connections, default 256 */
    const char *tls_cert;       /* PEM files; NULL = plain HTTP */
    const char *tls_key;
    const char *client_ca; /* require and verify client certificates */
} FpHttpConfig;

typedef struct FpHttpServer FpHttpServer;

/* Start serving. Routes are copied. NULL on error with @error set. */
FpHttpServer *fp_http_server_start(const FpHttpConfig *cfg, const FpRoute *routes, guint n_routes,
                                   void *user_data, GError **error);
/* The bound port (useful with port 0). */
guint16 fp_http_server_port(FpHttpServer *server);
/* Stop accepting new connections; requests in flight finish. */
void fp_http_server_quiesce(FpHttpServer *server);
/* Wait up to @grace_ms for in-flight requests, then stop and free. */
void fp_http_server_stop(FpHttpServer *server, guint grace_ms);
/* Requests currently being processed. */
guint fp_http_server_active(FpHttpServer *server);

G_END_DECLS

#endif /* FP_EXTENDER_HTTP_SERVER_H */
