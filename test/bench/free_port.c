/*
 * test/bench/free_port.c - a free TCP port on 127.0.0.1 (free_port.h).
 */
#include "test/bench/free_port.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

guint16 fp_bench_free_port(const char *who)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
        g_printerr("%s: no free port: %s\n", who, g_strerror(errno));
        exit(1);
    }
    close(fd);
    return ntohs(sin.sin_port);
}
