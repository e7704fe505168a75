/*
 * extender/http/listen.c - parse and resolve listen addresses.
 */
#include "extender/http/listen.h"

#include <gio/gio.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>

#include "extender/http/http_server.h"

void fp_listen_addr_clear(FpListenAddr *addr)
{
    g_clear_pointer(&addr->host, g_free);
}

/* The host part: "[V6]" (brackets dropped) or everything before the one
 * colon.  Returns the port text after it, or NULL with @error. */
static const char *split_host(const char *listen, FpListenAddr *out, GError **error)
{
    if (listen[0] == '[') {
        const char *end = strchr(listen, ']');
        if (end == NULL || end[1] != ':' || end == listen + 1) {
            g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_ADDRESS,
                        "listen address '%s': expected [IPV6]:PORT", listen);
            return NULL;
        }
        out->host = g_strndup(listen + 1, (gsize)(end - listen - 1));
        out->ipv6 = true;
        return end + 2;
    }
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || memchr(listen, ':', (size_t)(colon - listen)) != NULL) {
        g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_ADDRESS,
                    "listen address '%s': expected HOST:PORT (IPv6 as [ADDR]:PORT)", listen);
        return NULL;
    }
    out->host = g_strndup(listen, (gsize)(colon - listen));
    return colon + 1;
}

gboolean fp_listen_parse(const char *listen, FpListenAddr *out, GError **error)
{
    memset(out, 0, sizeof *out);
    if (listen == NULL || *listen == '\0' || strlen(listen) > FP_LISTEN_MAX_LEN) {
        g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_ADDRESS,
                    "listen address must be HOST:PORT, [IPV6]:PORT or :PORT");
        return FALSE;
    }
    const char *port_str = split_host(listen, out, error);
    if (!port_str) {
        fp_listen_addr_clear(out);
        return FALSE;
    }
    guint64 port = 0;
    size_t digits = strspn(port_str, "0123456789");
    if (digits == 0 || digits > 5 || port_str[digits] != '\0' ||
        (port = g_ascii_strtoull(port_str, NULL, 10)) > 65535) {
        g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_ADDRESS,
                    "listen address '%s': port must be a number from 0 to 65535", listen);
        fp_listen_addr_clear(out);
        return FALSE;
    }
    out->port = (guint16)port;
    return TRUE;
}

/* Resolve @a's host (IPv4 preferred for a name with both families) into
 * @ss, port included. */
static gboolean resolve_host(const char *listen, const FpListenAddr *a, struct sockaddr_storage *ss,
                             socklen_t *ss_len, GError **error)
{
    struct addrinfo hints = {
        .ai_family = a->ipv6 ? AF_INET6 : AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_flags = a->ipv6 ? AI_NUMERICHOST : 0,
    };
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(a->host, NULL, &hints, &res);
    if (rc != 0 || res == NULL) {
        g_set_error(error, FP_HTTP_ERROR, FP_HTTP_ERROR_ADDRESS,
                    "listen address '%s': cannot resolve '%s': %s", listen, a->host,
                    rc ? gai_strerror(rc) : "no address");
        if (res) {
            freeaddrinfo(res);
        }
        return FALSE;
    }
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
        ((struct sockaddr_in *)ss)->sin_port = htons(a->port);
    } else {
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(a->port);
    }
    return TRUE;
}

gboolean fp_listen_resolve(const char *listen, struct sockaddr_storage *ss, socklen_t *ss_len,
                           GError **error)
{
    FpListenAddr a;
    if (!fp_listen_parse(listen, &a, error)) {
        return FALSE;
    }
    memset(ss, 0, sizeof *ss);
    gboolean ok = TRUE;
    if (*a.host == '\0') {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_ANY);
        sin->sin_port = htons(a.port);
        *ss_len = sizeof *sin;
    } else {
        ok = resolve_host(listen, &a, ss, ss_len, error);
    }
    fp_listen_addr_clear(&a);
    return ok;
}

bool fp_listen_is_loopback(const char *listen)
{
    FpListenAddr a;
    if (!fp_listen_parse(listen, &a, NULL)) {
        return false;
    }
    bool loopback = false;
    if (*a.host == '\0') {
        loopback = false; /* ":PORT" listens on every interface */
    } else if (g_ascii_strcasecmp(a.host, "localhost") == 0) {
        loopback = true;
    } else {
        g_autoptr(GInetAddress) addr = g_inet_address_new_from_string(a.host);
        loopback = addr && g_inet_address_get_is_loopback(addr);
    }
    fp_listen_addr_clear(&a);
    return loopback;
}
