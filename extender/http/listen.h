/*
 * extender/http/listen.h - the one parser of listen addresses (--listen,
 * --metrics-listen).
 *
 * Forms: "HOST:PORT" (a name or IPv4 address), "[IPV6]:PORT", ":PORT" (every
 * IPv4 interface).  PORT is 0..65535 (0: the kernel picks one).  An
 * unbracketed IPv6 address is refused (the port would be ambiguous).  The
 * same parse decides both where the server binds (fp_listen_resolve) and
 * whether the address is loopback only (fp_listen_is_loopback, which gates
 * serving the bind verb without TLS), so the two cannot disagree.
 *
 * Errors: FP_HTTP_ERROR_ADDRESS, naming the address.  Thread context: any
 * (fp_listen_resolve may block on name resolution).
 */
#ifndef FP_EXTENDER_LISTEN_H
#define FP_EXTENDER_LISTEN_H

#include <glib.h>
#include <stdbool.h>
#include <sys/socket.h>

G_BEGIN_DECLS

/* Longest listen address accepted. */
#define FP_LISTEN_MAX_LEN 512

typedef struct {
    char *host;   /* without brackets; "" for ":PORT" */
    guint16 port; /* 0: any free port */
    bool ipv6;    /* given as [IPV6]:PORT */
} FpListenAddr;

/* Split @listen into host and port (no name resolution).  FALSE with
 * @error when it is not one of the forms above. */
gboolean fp_listen_parse(const char *listen, FpListenAddr *out, GError **error);
void fp_listen_addr_clear(FpListenAddr *addr);

/* Parse and resolve @listen to the socket address to bind (a name that
 * resolves to IPv4 and IPv6 binds IPv4).  FALSE with @error. */
gboolean fp_listen_resolve(const char *listen, struct sockaddr_storage *ss, socklen_t *ss_len,
                           GError **error);

/* Whether @listen parses and names a loopback address only: "localhost"
 * (any case) or a literal loopback address (127.0.0.0/8, ::1).  Other names
 * are not resolved and count as not loopback; ":PORT" listens on every
 * interface. */
bool fp_listen_is_loopback(const char *listen);

G_END_DECLS

#endif /* FP_EXTENDER_LISTEN_H */
