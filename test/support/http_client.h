/*
 * test/support/http_client.h - a small HTTP client for loopback tests.
 *
 * Purpose: talk to a server under test on 127.0.0.1 in two ways:
 *   - libcurl (FpTestHttpClient): one easy handle, reused so that keep-alive
 *     connections are reused; optional TLS with in-memory PEM blobs;
 *   - raw sockets (fp_test_http_connect/_send/_read_reply): for byte-exact
 *     requests, slow or broken clients, and pipelining on one connection.
 *
 * Ownership: replies own their strings (g_malloc'ed); release them with
 * fp_test_http_reply_clear.  Clients are freed with fp_test_http_client_free.
 *
 * Threads: a client and a socket belong to one thread at a time; different
 * threads may use different clients concurrently.
 *
 * Errors: request functions return FALSE when the exchange failed at the
 * transport level (connect, TLS, timeout, malformed response) and then put a
 * message in reply->error; an HTTP error status is not a failure.
 */
#ifndef FP_TEST_HTTP_CLIENT_H
#define FP_TEST_HTTP_CLIENT_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    long status;   /* HTTP status, 0 when no response was read */
    char *headers; /* raw header block (status line included), or NULL */
    char *body;    /* NUL-terminated, may contain NULs before body_len */
    size_t body_len;
    long num_connects; /* libcurl only: new connections made (0 = reused) */
    char *error;       /* transport error message, or NULL */
} FpTestHttpReply;

typedef struct FpTestHttpClient FpTestHttpClient;

/* A client for http://127.0.0.1:@port; requests time out after 10 s. */
FpTestHttpClient *fp_test_http_client_new(guint16 port);
/* Switch to https://@host:@port (host should match the server certificate).
 * @ca_pem verifies the server; @cert_pem/@key_pem, if not NULL, are the client
 * certificate.  The strings are copied. */
void fp_test_http_client_set_tls(FpTestHttpClient *client, const char *host, const char *ca_pem,
                                 const char *cert_pem, const char *key_pem);
void fp_test_http_client_free(FpTestHttpClient *client);

/* One request.  @content_type NULL sends no Content-Type header (curl's form
 * default is suppressed); @body NULL sends no body.  @chunked sends the body
 * with Transfer-Encoding: chunked instead of Content-Length. */
gboolean fp_test_http_client_request(FpTestHttpClient *client, const char *method, const char *path,
                                     const char *content_type, const void *body, size_t body_len,
                                     gboolean chunked, FpTestHttpReply *reply);

/* Value of response header @name (case-insensitive), newly allocated, or NULL. */
char *fp_test_http_reply_header(const FpTestHttpReply *reply, const char *name);
void fp_test_http_reply_clear(FpTestHttpReply *reply);

/* One-off requests on a fresh client with Content-Type application/json. */
gboolean fp_test_http_post(guint16 port, const char *path, const void *body, size_t body_len,
                           FpTestHttpReply *reply);
gboolean fp_test_http_get(guint16 port, const char *path, FpTestHttpReply *reply);

/* A blocking TCP socket connected to 127.0.0.1:@port (TCP_NODELAY set), or -1. */
int fp_test_http_connect(guint16 port);
/* Send all of @buf; FALSE on error (peer closed, reset). Never raises SIGPIPE. */
gboolean fp_test_http_send(int fd, const void *buf, size_t len);
/* Read one response from @fd: headers, then a Content-Length body, or up to
 * EOF without Content-Length (chunked responses and HEAD are not supported).
 * Use it for one request at a time: bytes past the response are dropped.
 * Gives up after @timeout_ms in total and after 64 MiB.  FALSE when no
 * complete response arrived. */
gboolean fp_test_http_read_reply(int fd, guint timeout_ms, FpTestHttpReply *reply);
/* Wait up to @timeout_ms for the peer to close @fd (EOF or reset); returns
 * the milliseconds waited, or -1 when it stayed open.  Any data is dropped. */
gint64 fp_test_http_wait_closed(int fd, guint timeout_ms);

#endif
