/*
 * test/support/http_client.c - loopback HTTP client for tests (see http_client.h).
 */
#include "http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#define REPLY_MAX ((size_t)64 * 1024 * 1024)
#define REQUEST_TIMEOUT_MS 10000L

struct FpTestHttpClient {
    CURL *curl;
    guint16 port;
    char *tls_host; /* NULL = plain HTTP */
    char *ca_pem;
    char *cert_pem;
    char *key_pem;
};

typedef struct {
    const char *data;
    size_t len;
    size_t off;
} UploadSource;

static gpointer global_init(gpointer unused)
{
    curl_global_init(CURL_GLOBAL_ALL);
    return NULL;
}

FpTestHttpClient *fp_test_http_client_new(guint16 port)
{
    static GOnce once = G_ONCE_INIT;
    g_once(&once, global_init, NULL);
    FpTestHttpClient *c = g_new0(FpTestHttpClient, 1);
    c->curl = curl_easy_init();
    c->port = port;
    g_assert_nonnull(c->curl);
    return c;
}

void fp_test_http_client_set_tls(FpTestHttpClient *client, const char *host, const char *ca_pem,
                                 const char *cert_pem, const char *key_pem)
{
    g_free(client->tls_host);
    g_free(client->ca_pem);
    g_free(client->cert_pem);
    g_free(client->key_pem);
    client->tls_host = g_strdup(host);
    client->ca_pem = g_strdup(ca_pem);
    client->cert_pem = g_strdup(cert_pem);
    client->key_pem = g_strdup(key_pem);
}

void fp_test_http_client_free(FpTestHttpClient *client)
{
    if (client == NULL) {
        return;
    }
    curl_easy_cleanup(client->curl);
    g_free(client->tls_host);
    g_free(client->ca_pem);
    g_free(client->cert_pem);
    g_free(client->key_pem);
    g_free(client);
}

void fp_test_http_reply_clear(FpTestHttpReply *reply)
{
    g_free(reply->headers);
    g_free(reply->body);
    g_free(reply->error);
    memset(reply, 0, sizeof *reply);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    GByteArray *buf = userdata;
    size_t n = size * nmemb;
    if (buf->len + n > REPLY_MAX) {
        return 0; /* aborts the transfer */
    }
    g_byte_array_append(buf, (const guint8 *)ptr, (guint)n);
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    GString *headers = userdata;
    size_t n = size * nmemb;
    /* A new status line (after 100 Continue or a redirect) starts over. */
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        g_string_truncate(headers, 0);
    }
    g_string_append_len(headers, ptr, (gssize)n);
    return n;
}

static size_t on_upload(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    UploadSource *src = userdata;
    size_t n = MIN(size * nmemb, src->len - src->off);
    memcpy(ptr, src->data + src->off, n);
    src->off += n;
    return n;
}

static void blob(CURL *curl, CURLoption opt, const char *pem)
{
    struct curl_blob b = {.data = (void *)pem, .len = strlen(pem), .flags = CURL_BLOB_COPY};
    curl_easy_setopt(curl, opt, &b);
}

gboolean fp_test_http_client_request(FpTestHttpClient *client, const char *method, const char *path,
                                     const char *content_type, const void *body, size_t body_len,
                                     gboolean chunked, FpTestHttpReply *reply)
{
    CURL *curl = client->curl;
    memset(reply, 0, sizeof *reply);
    curl_easy_reset(curl); /* keeps the connection cache */

    g_autofree char *url = NULL;
    g_autofree char *resolve_entry = NULL;
    struct curl_slist *resolve = NULL;
    if (client->tls_host) {
        url = g_strdup_printf("https://%s:%u%s", client->tls_host, client->port, path);
        resolve_entry = g_strdup_printf("%s:%u:127.0.0.1", client->tls_host, client->port);
        resolve = curl_slist_append(NULL, resolve_entry);
        curl_easy_setopt(curl, CURLOPT_RESOLVE, resolve);
        if (client->ca_pem) {
            blob(curl, CURLOPT_CAINFO_BLOB, client->ca_pem);
        }
        if (client->cert_pem && client->key_pem) {
            blob(curl, CURLOPT_SSLCERT_BLOB, client->cert_pem);
            curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
            blob(curl, CURLOPT_SSLKEY_BLOB, client->key_pem);
            curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
        }
    } else {
        url = g_strdup_printf("http://127.0.0.1:%u%s", client->port, path);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);

    struct curl_slist *hdrs = curl_slist_append(NULL, "Expect:");
    g_autofree char *ctype = g_strdup_printf("Content-Type:%s%s", content_type ? " " : "",
                                             content_type ? content_type : "");
    hdrs = curl_slist_append(hdrs, ctype);
    UploadSource src = {body, body_len, 0};
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (body != NULL || strcmp(method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        if (chunked) {
            hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
            curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_upload);
            curl_easy_setopt(curl, CURLOPT_READDATA, &src);
        } else {
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        }
        if (strcmp(method, "POST") != 0) {
            curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        }
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);

    GByteArray *buf = g_byte_array_new();
    GString *headers = g_string_new(NULL);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, buf);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, headers);

    CURLcode result = curl_easy_perform(curl);
    curl_slist_free_all(hdrs);
    curl_slist_free_all(resolve);
    if (result == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
        curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &reply->num_connects);
    } else {
        reply->error = g_strdup(curl_easy_strerror(result));
    }
    g_byte_array_append(buf, (const guint8 *)"", 1);
    reply->body_len = buf->len - 1;
    reply->body = (char *)g_byte_array_free(buf, FALSE);
    reply->headers = g_string_free(headers, FALSE);
    return result == CURLE_OK;
}

char *fp_test_http_reply_header(const FpTestHttpReply *reply, const char *name)
{
    if (reply->headers == NULL) {
        return NULL;
    }
    size_t name_len = strlen(name);
    g_auto(GStrv) lines = g_strsplit(reply->headers, "\n", -1);
    for (guint i = 1; lines[i]; i++) { /* line 0 is the status line */
        const char *line = lines[i];
        if (g_ascii_strncasecmp(line, name, name_len) == 0 && line[name_len] == ':') {
            char *value = g_strdup(line + name_len + 1);
            return g_strstrip(value);
        }
    }
    return NULL;
}

gboolean fp_test_http_post(guint16 port, const char *path, const void *body, size_t body_len,
                           FpTestHttpReply *reply)
{
    FpTestHttpClient *c = fp_test_http_client_new(port);
    gboolean ok = fp_test_http_client_request(c, "POST", path, "application/json", body, body_len,
                                              FALSE, reply);
    fp_test_http_client_free(c);
    return ok;
}

gboolean fp_test_http_get(guint16 port, const char *path, FpTestHttpReply *reply)
{
    FpTestHttpClient *c = fp_test_http_client_new(port);
    gboolean ok = fp_test_http_client_request(c, "GET", path, NULL, NULL, 0, FALSE, reply);
    fp_test_http_client_free(c);
    return ok;
}

/* ---- raw sockets ------------------------------------------------------------------------ */

int fp_test_http_connect(guint16 port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

gboolean fp_test_http_send(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return FALSE;
        }
        p += n;
        len -= (size_t)n;
    }
    return TRUE;
}

/* recv with a deadline: >0 bytes, 0 EOF, -1 error or timeout. */
static ssize_t recv_until(int fd, char *buf, size_t len, gint64 deadline_us)
{
    for (;;) {
        gint64 left_ms = (deadline_us - g_get_monotonic_time()) / 1000;
        if (left_ms <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int rc = poll(&pfd, 1, (int)MIN(left_ms, 1000));
        if (rc < 0 && errno != EINTR) {
            return -1;
        }
        if (rc <= 0) {
            continue;
        }
        ssize_t n = recv(fd, buf, len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        return n;
    }
}

gboolean fp_test_http_read_reply(int fd, guint timeout_ms, FpTestHttpReply *reply)
{
    memset(reply, 0, sizeof *reply);
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    GByteArray *buf = g_byte_array_new();
    char chunk[65536];
    gssize header_end = -1;
    gboolean eof = FALSE;
    size_t want = 0; /* total bytes wanted once the headers are known */
    gboolean until_eof = FALSE;

    while (!eof) {
        if (header_end >= 0 && !until_eof && buf->len >= want) {
            break;
        }
        ssize_t n = recv_until(fd, chunk, sizeof chunk, deadline);
        if (n < 0) {
            reply->error = g_strdup_printf("recv: %s", g_strerror(errno));
            break;
        }
        if (n == 0) {
            eof = TRUE;
        } else {
            g_byte_array_append(buf, (const guint8 *)chunk, (guint)n);
        }
        if (buf->len > REPLY_MAX) {
            reply->error = g_strdup("response too large");
            break;
        }
        if (header_end < 0 && buf->len > 0) {
            const char *end = g_strstr_len((const char *)buf->data, buf->len, "\r\n\r\n");
            if (end == NULL) {
                continue;
            }
            header_end = end + 4 - (const char *)buf->data;
            reply->headers = g_strndup((const char *)buf->data, (gsize)header_end);
            if (sscanf(reply->headers, "HTTP/1.%*1[01] %ld", &reply->status) != 1) {
                reply->error = g_strdup("malformed status line");
                reply->status = 0;
                break;
            }
            g_autofree char *te = fp_test_http_reply_header(reply, "Transfer-Encoding");
            if (te != NULL) {
                reply->error = g_strdup("chunked responses are not supported");
                break;
            }
            g_autofree char *clen = fp_test_http_reply_header(reply, "Content-Length");
            if (clen != NULL) {
                guint64 cl = g_ascii_strtoull(clen, NULL, 10);
                if (cl > REPLY_MAX) {
                    reply->error = g_strdup("Content-Length too large");
                    break;
                }
                want = (size_t)header_end + (size_t)cl;
            } else {
                until_eof = TRUE;
            }
        }
    }
    gboolean ok = reply->error == NULL && header_end >= 0 && (until_eof ? eof : buf->len >= want);
    if (ok) {
        size_t body_len = buf->len - (size_t)header_end;
        if (!until_eof) {
            body_len = want - (size_t)header_end;
        }
        reply->body = g_malloc(body_len + 1);
        memcpy(reply->body, buf->data + header_end, body_len);
        reply->body[body_len] = '\0';
        reply->body_len = body_len;
    } else if (reply->error == NULL) {
        reply->error =
            g_strdup(eof ? "connection closed before a complete response" : "incomplete response");
    }
    g_byte_array_free(buf, TRUE);
    return ok;
}

gint64 fp_test_http_wait_closed(int fd, guint timeout_ms)
{
    gint64 start = g_get_monotonic_time();
    gint64 deadline = start + (gint64)timeout_ms * 1000;
    char chunk[4096];
    for (;;) {
        ssize_t n = recv_until(fd, chunk, sizeof chunk, deadline);
        if (n == 0 || (n < 0 && errno != ETIMEDOUT)) {
            return (g_get_monotonic_time() - start) / 1000;
        }
        if (n < 0) {
            return -1;
        }
    }
}
