/*
 * extender/http/http_server.h - the HTTP front end (libmicrohttpd).
 *
 * Purpose: accept kube-scheduler's connections (keep-alive, several at once),
 * read each request body into a capped buffer, dispatch by exact path to a
 * route handler, and send the handler's response in one write (headers and
 * body together, so no Nagle/delayed-ACK stall).  Protocol-level errors are
 * answered here with a JSON body {"error": "..."}: 404 unknown path, 405 wrong
 * method (with Allow), 413 body over the cap, 415 a POST whose Content-Type is
 * present and not JSON, 503 while shutting down.
 *
 * Bounds (each refusal is counted in FpHttpStats, by FpHttpReject):
 *   - body: max_body_bytes per request (413, by Content-Length or as soon as
 *     a chunked body passes it); all bodies being received together may hold
 *     at most max_total_body_bytes, beyond which a request gets 503 with
 *     Retry-After (so connection_limit x max_body_bytes is never buffered);
 *   - request line and headers: MHD's per-connection memory
 *     (FP_HTTP_CONNECTION_MEMORY, 128 KiB) - MHD itself answers 414 or 431
 *     (counted as "malformed", with unparseable requests);
 *   - connections: at most connection_limit open at once, and at most
 *     per_address_limit from one IP address.  A new connection is always
 *     accepted: when it passes either bound, the connection that has waited
 *     longest without being served (not in a handler: a request still
 *     arriving, a reply leaving, or idle keep-alive) is cut to make room -
 *     of the same address for the per-address cap (counted as
 *     "address_limit" / "connection_limit").  So slow, stalled or hostile
 *     clients, from one address or many, loopback included, cannot keep
 *     kube-scheduler's next connection out; a request being handled is
 *     never cut.  A connection cut (here or at a deadline) counts against
 *     neither bound from then on: it is shut down and MHD closes it at its
 *     next look, and a client that reconnects at once must not find its
 *     address still full.  MHD's own limit is set higher, as a backstop;
 *   - time, two deadlines enforced by a watchdog however slowly a client
 *     trickles bytes: a request must arrive (a new connection's first
 *     request line, headers and body; on a kept-alive connection from its
 *     request line on) and its reply leave within request_timeout_s
 *     (counted as "timeout"); a kept-alive connection may sit idle between
 *     requests for connection_timeout_s (sized for kube-scheduler's idle
 *     keep-alive; counted as "idle").  A client that trickles the first
 *     bytes of a request line on a kept-alive connection is idle until the
 *     line is complete; it had to send one whole request first.  MHD's own
 *     idle timeout is a backstop 2 s after the longer of the two.
 *
 * TLS: with tls_cert/tls_key the server speaks HTTPS only; with client_ca it
 * requests a client certificate and every request without one that
 * verifies against that CA (and carries the TLS client-auth purpose) gets
 * 403 before routing.  The three files are checked for changes every second
 * (size, mtime, inode: a Secret or ConfigMap volume's atomic ..data swap
 * counts) and reloaded together: new connections use the new certificate
 * and CA at once, open connections keep theirs.  A set that does not load
 * (unreadable, not PEM, key not matching the certificate, a half-written
 * rotation) is logged once and the previous set stays in force; the check
 * retries when the files change again.  fp_http_server_reload_tls forces a
 * reload (SIGHUP).
 *
 * Threading: one accept thread owns the listening socket (SO_REUSEADDR;
 * IPv6-only for an IPv6 address; backlog SOMAXCONN or more): it drains the
 * kernel's accept queue (accept4 until EAGAIN) and hands each connection to
 * MHD's internal thread pool (MHD_add_connection; MHD runs with
 * MHD_USE_NO_LISTEN_SOCKET), which picks a pool thread and wakes it.  MHD's
 * own accept took one connection per pool-thread loop iteration, after
 * serving all of that thread's connections: behind a reconnect wave of
 * 1,000 trickling clients, kube-scheduler's new connection waited in the
 * kernel's queue.  Measured (test/README.md "Slow clients"): the slowest
 * filter call on a new connection went from 99.6-162 ms to 14-82 ms, and
 * with one pool thread under 14 CPU hogs from 7.9-9.2 s to 2.1-4.4 s.  The
 * price, under those hogs with 4 threads: the median new-connection call is
 * about four times slower (23-62 ms against 5-26 ms), because before
 * whichever pool thread got a CPU first accepted it, and now it waits for
 * the accept thread and then for the one pool thread it is handed to.  Accept
 * errors never end the thread: a lost client is skipped, and when
 * descriptors or memory run out (EMFILE, ENFILE, ENOBUFS, ENOMEM) the
 * thread pauses FP_HTTP_ACCEPT_BACKOFF_MS between attempts (counted in
 * FpHttpStats.accept_errors, logged at most once a second).  The pool
 * polls with poll() (epoll in MHD 0.9.75 leaves connections that a client
 * aborts mid-request hanging until the connection timeout, so it is not
 * used).  Handlers run on pool threads, concurrently; they must be
 * thread-safe and must not block on I/O other than what the route itself is
 * for (the bind verb's API call).
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
    const char *body;         /* NUL-terminated copy of the body; "" when none;
                                 freed when the handler returns */
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
    const char *retry_after; /* Retry-After header (seconds) for 503/429, or NULL */
} FpHttpResponse;

/* Fill @resp with {"error": message} and @status. */
void fp_http_response_error(FpHttpResponse *resp, unsigned int status, const char *message);

typedef void (*FpHttpHandler)(const FpHttpRequest *req, FpHttpResponse *resp, void *user_data);

/* One route: the handler is called with @data, or with the server's
 * user_data when @data is NULL.  A route table lets each handler receive
 * only the environment it needs. */
typedef struct {
    const char *method; /* "GET" or "POST" */
    const char *path;   /* exact path after the prefix, e.g. "/filter" */
    FpHttpHandler handler;
    void *data; /* the handler's environment; NULL: user_data */
} FpRoute;

typedef struct {
    const char *listen;          /* "HOST:PORT", "[v6]:PORT"; port 0 picks a free port */
    const char *prefix;          /* path prefix stripped before routing, "" or "/sched" */
    guint threads;               /* MHD thread pool size, default 4 */
    size_t max_body_bytes;       /* 413 past it; default 128 MiB */
    guint connection_timeout_s;  /* idle keep-alive between requests, default 120 */
    guint request_timeout_s;     /* a request arriving / its reply leaving, default 5 */
    guint connection_limit;      /* concurrent connections, default 4096 */
    guint per_address_limit;     /* concurrent connections from one IP address, default 1024 */
    size_t max_total_body_bytes; /* bodies buffered at once; default 2 x max_body_bytes */
    const char *tls_cert;        /* PEM files; NULL = plain HTTP */
    const char *tls_key;
    const char *client_ca; /* require and verify client certificates */
} FpHttpConfig;

/* After accept() fails for want of descriptors or memory (EMFILE, ENFILE,
 * ENOBUFS, ENOMEM: the connection stays queued), the accept thread pauses
 * this long before it tries again; each failure is counted in
 * FpHttpStats.accept_errors and logged at most once a second. */
#define FP_HTTP_ACCEPT_BACKOFF_MS 20

/* MHD's per-connection memory: request line and headers must fit in it. */
#define FP_HTTP_CONNECTION_MEMORY ((size_t)128 * 1024)

typedef struct FpHttpServer FpHttpServer;

/* Start serving. Routes are copied (their data pointers are not owned: they
 * must outlive the server). @user_data goes to every route without data
 * of its own. NULL on error with @error set. */
FpHttpServer *fp_http_server_start(const FpHttpConfig *cfg, const FpRoute *routes, guint n_routes,
                                   void *user_data, GError **error);
/* The bound port (useful with port 0). */
guint16 fp_http_server_port(FpHttpServer *server);
/* Stop accepting: when it returns the accept thread has stopped and the
 * listening socket is closed, so new connections are refused (those still
 * in the kernel's queue are reset).  Requests in flight finish; a new
 * request on an open connection gets 503.  Idempotent. */
void fp_http_server_quiesce(FpHttpServer *server);
/* Quiesce, wait up to @grace_ms for in-flight requests, then stop and free. */
void fp_http_server_stop(FpHttpServer *server, guint grace_ms);
/* Requests currently being processed. */
guint fp_http_server_active(FpHttpServer *server);

/* Re-read the TLS files now (SIGHUP) even when they look unchanged.  FALSE
 * with @error when they do not load (the current set stays); TRUE without
 * TLS. */
gboolean fp_http_server_reload_tls(FpHttpServer *server, GError **error);

/* Why the server refused or cut a client (metric label values). */
typedef enum {
    FP_HTTP_REJECT_BODY_TOO_LARGE,   /* 413 */
    FP_HTTP_REJECT_BODY_BUDGET,      /* 503: too many large bodies at once */
    FP_HTTP_REJECT_MALFORMED,        /* MHD answered: bad request, URI or headers too large */
    FP_HTTP_REJECT_TIMEOUT,          /* cut by the request deadline (slow or stalled) */
    FP_HTTP_REJECT_CONNECTION_LIMIT, /* cut to make room under the connection limit */
    FP_HTTP_REJECT_CLIENT_CERT,      /* 403: no verified client certificate */
    FP_HTTP_REJECT_SHUTTING_DOWN,    /* 503 after quiesce */
    FP_HTTP_REJECT_ADDRESS_LIMIT,    /* cut to make room under the per-address cap */
    FP_HTTP_REJECT_IDLE,             /* kept-alive connection closed at its idle deadline */
    FP_HTTP_REJECT_N,
} FpHttpReject;

/* "body_too_large", "body_budget", "malformed", "timeout",
 * "connection_limit", "client_certificate", "shutting_down", "address_limit",
 * "idle". */
const char *fp_http_reject_name(FpHttpReject reason);

typedef struct {
    guint64 rejected[FP_HTTP_REJECT_N];
    guint64 connections;       /* served since start (libmicrohttpd took them) */
    guint64 accepted;          /* taken off the listen queue since start */
    guint64 accept_errors;     /* accepts that failed: descriptors or memory exhausted */
    guint64 handoff_errors;    /* accepted but refused by libmicrohttpd (closed) */
    guint open_connections;    /* open now */
    guint connection_limit;    /* as configured (after defaults) */
    guint64 body_bytes;        /* reserved for bodies being received now */
    guint64 tls_reloads;       /* certificate sets installed after the first */
    guint64 tls_reload_errors; /* changed sets that did not load */
    gint64 tls_not_after;      /* expiry (Unix time) of the serving certificate; 0 = none */
} FpHttpStats;

/* A consistent-enough snapshot of the counters (each read atomically). */
void fp_http_server_stats(FpHttpServer *server, FpHttpStats *out);

G_END_DECLS

#endif /* FP_EXTENDER_HTTP_SERVER_H */
