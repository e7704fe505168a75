/*
 * cache/clock.c - the monotonic clock, with a fake for tests (clock.h).
 */
#include "cache/clock.h"

#include <stdatomic.h>

/* 0: the real clock; otherwise the fake's time (never 0 once installed). */
static _Atomic gint64 fake_us;

gint64 fp_clock_now_us(void)
{
    gint64 fake = atomic_load(&fake_us);
    return fake ? fake : g_get_monotonic_time();
}

void fp_clock_fake_install(void)
{
    gint64 now = g_get_monotonic_time();
    atomic_store(&fake_us, now > 0 ? now : 1);
}

void fp_clock_fake_advance(gint64 us)
{
    g_return_if_fail(us >= 0);
    g_return_if_fail(atomic_load(&fake_us) != 0);
    atomic_fetch_add(&fake_us, us);
}

void fp_clock_fake_remove(void)
{
    atomic_store(&fake_us, 0);
}
