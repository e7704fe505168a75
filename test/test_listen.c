/*
 * test/test_listen.c - the one listen-address parser (extender/http/listen.h):
 * the forms it accepts and refuses, and that the loopback decision that
 * gates serving /bind without TLS comes from the same parse as the bind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <string.h>

#include "extender/http/http_server.h"
#include "extender/http/listen.h"
#include "support/support.h"

static void test_parse_forms(void **state)
{
    const struct {
        const char *listen;
        const char *host;
        guint16 port;
        bool ipv6;
    } ok[] = {
        {"127.0.0.1:8888", "127.0.0.1", 8888, false},
        {"localhost:0", "localhost", 0, false},
        {":9090", "", 9090, false},
        {"[::1]:8888", "::1", 8888, true},
        {"[fe80::1%eth0]:1", "fe80::1%eth0", 1, true},
        {"0.0.0.0:65535", "0.0.0.0", 65535, false},
        {"example.com:443", "example.com", 443, false},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        FpListenAddr a;
        g_autoptr(GError) error = NULL;
        assert_true(fp_listen_parse(ok[i].listen, &a, &error));
        assert_null(error);
        assert_string_equal(a.host, ok[i].host);
        assert_int_equal(a.port, ok[i].port);
        assert_int_equal(a.ipv6, ok[i].ipv6);
        fp_listen_addr_clear(&a);
        assert_null(a.host);
    }
}

static void test_parse_refusals(void **state)
{
    char too_long[FP_LISTEN_MAX_LEN + 8];
    memset(too_long, 'a', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    too_long[sizeof too_long - 3] = ':';
    const char *bad[] = {
        NULL,   "",     "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:123456",
        ":-1",  ":80x", "::1:8888",  "[::1]8888",  "[]:80",           "[::1:80",
        ":+80", ": 80", too_long,
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        FpListenAddr a;
        g_autoptr(GError) error = NULL;
        assert_false(fp_listen_parse(bad[i], &a, &error));
        assert_true(g_error_matches(error, FP_HTTP_ERROR, FP_HTTP_ERROR_ADDRESS));
        assert_null(a.host);
        /* What does not parse is never loopback, and never binds. */
        assert_false(fp_listen_is_loopback(bad[i]));
        struct sockaddr_storage ss;
        socklen_t len = 0;
        assert_false(fp_listen_resolve(bad[i], &ss, &len, NULL));
    }
}

static void test_loopback(void **state)
{
    const char *yes[] = {"127.0.0.1:8888", "127.1.2.3:1", "[::1]:8888", "localhost:8888",
                         "LocalHost:80"};
    const char *no[] = {":8888",         "0.0.0.0:8888",   "[::]:8888",
                        "10.0.0.1:8888", "example.com:80", "localhost.example.com:80"};
    for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
        assert_true(fp_listen_is_loopback(yes[i]));
    }
    for (size_t i = 0; i < G_N_ELEMENTS(no); i++) {
        assert_false(fp_listen_is_loopback(no[i]));
    }
}

/* Where a loopback address binds is a loopback address. */
static void test_resolve_agrees_with_loopback(void **state)
{
    const char *addrs[] = {"127.0.0.1:8888", "[::1]:0", ":7070", "0.0.0.0:1"};
    for (size_t i = 0; i < G_N_ELEMENTS(addrs); i++) {
        struct sockaddr_storage ss;
        socklen_t len = 0;
        g_autoptr(GError) error = NULL;
        assert_true(fp_listen_resolve(addrs[i], &ss, &len, &error));
        bool loopback = false;
        guint16 port = 0;
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
            loopback = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
            port = ntohs(sin->sin_port);
            assert_int_equal(len, sizeof *sin);
        } else {
            assert_int_equal(ss.ss_family, AF_INET6);
            const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
            loopback = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
            port = ntohs(sin6->sin6_port);
        }
        assert_int_equal(loopback, fp_listen_is_loopback(addrs[i]));
        FpListenAddr a;
        assert_true(fp_listen_parse(addrs[i], &a, NULL));
        assert_int_equal(port, a.port);
        fp_listen_addr_clear(&a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_forms),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_resolve_agrees_with_loopback),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
