/*
 * cache/clock.h - the monotonic clock behind flexplace's TTLs, staleness and
 * deadlines.
 *
 * Purpose: every decision that depends on how much time has passed (an
 * assumption's --assume-ttl, the view's last-event age, the score memo's
 * freshness, a bind's deadline) reads fp_clock_now_us() instead of
 * g_get_monotonic_time(), so a test can install a fake clock and move it on
 * by exactly the amount a case needs, instead of sleeping and hoping.  Real
 * waits (condition variables, sockets, libcurl's timeouts) keep the real
 * clock: the fake moves decisions, not the kernel.
 *
 * Contract: fp_clock_now_us() is g_get_monotonic_time() (microseconds) until
 * fp_clock_fake_install(); from then on it returns the fake's time, which
 * only fp_clock_fake_advance() moves, until fp_clock_fake_remove().  The fake
 * is process-wide; install it before the threads that read it start, or
 * accept that they see the jump.
 *
 * Thread context: any thread; the time is one atomic value.
 */
#ifndef FP_CACHE_CLOCK_H
#define FP_CACHE_CLOCK_H

#include <glib.h>

G_BEGIN_DECLS

/* Now, in microseconds of the monotonic clock (or the fake's). */
gint64 fp_clock_now_us(void);

/* Tests only: use a fake clock starting at the real monotonic time. */
void fp_clock_fake_install(void);
/* Tests only: move the fake clock on by @us (>= 0). */
void fp_clock_fake_advance(gint64 us);
/* Tests only: back to the real clock. */
void fp_clock_fake_remove(void);

G_END_DECLS

#endif /* FP_CACHE_CLOCK_H */
