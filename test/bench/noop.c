/*
 * test/bench/noop.c - the "no-op handler" baseline: a libmicrohttpd server
 * with flexplace's thread mode and limits (poll, internal thread pool, 128
 * KiB connection memory) whose handler receives the whole body, does nothing
 * with it and answers {} with 200.  Whatever flexplace costs above this
 * round trip is its own work.
 */
#include <microhttpd.h>
#include <netinet/in.h>
#include <string.h>

#include "test/bench/bench.h"

struct BenchNoop {
    struct MHD_Daemon *daemon;
    guint16 port;
};

typedef struct {
    size_t received;
} NoopCtx;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    NoopCtx *ctx = *con_cls;
    if (ctx == NULL) {
        *con_cls = g_new0(NoopCtx, 1);
        return MHD_YES;
    }
    if (*upload_data_size) {
        ctx->received += *upload_data_size;
        *upload_data_size = 0;
        return MHD_YES;
    }
    static const char body[] = "{}";
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(2, (void *)body, NULL);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    g_free(*con_cls);
    *con_cls = NULL;
}

BenchNoop *bench_noop_start(guint threads)
{
    BenchNoop *n = g_new0(BenchNoop, 1);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    n->daemon =
        MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL,
                         NULL, on_request, n, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&sin,
                         MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                         (size_t)128 * 1024, MHD_OPTION_CONNECTION_TIMEOUT, 120u,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, n, MHD_OPTION_END);
    if (!n->daemon) {
        g_printerr("fp_bench: cannot start the no-op server\n");
        exit(1);
    }
    n->port = MHD_get_daemon_info(n->daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
    return n;
}

guint16 bench_noop_port(BenchNoop *n)
{
    return n->port;
}

void bench_noop_stop(BenchNoop *n)
{
    if (n) {
        MHD_stop_daemon(n->daemon);
        g_free(n);
    }
}
