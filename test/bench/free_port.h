/*
 * test/bench/free_port.h - a free TCP port on 127.0.0.1 for a server the
 * benchmarks start (fp_bench, fp_bench_slow_clients).
 */
#ifndef FP_BENCH_FREE_PORT_H
#define FP_BENCH_FREE_PORT_H

#include <glib.h>

/* A port the kernel just handed out on 127.0.0.1 and that is closed again;
 * on failure prints "@who: no free port: ..." and exits 1. */
guint16 fp_bench_free_port(const char *who);

#endif /* FP_BENCH_FREE_PORT_H */
