/*
 * test/tsan_glib.h - make GLib's futex-based GMutex and GCond visible to
 * ThreadSanitizer.
 *
 * Purpose: on Linux, GLib implements GMutex and GCond with raw futexes
 * (gthread-posix.c, USE_NATIVE_MUTEX), not pthread mutexes, and Debian's
 * libglib is not instrumented, so TSan sees neither the lock nor the
 * ordering it gives: every access guarded by a GMutex is reported as a race.
 * The -DFP_SANITIZE=thread build force-includes this header into every
 * flexplace translation unit (CMakeLists.txt); it redirects our calls of
 * g_mutex_lock/trylock/unlock and g_cond_wait/wait_until to wrappers that
 * call GLib and then tell TSan about the happens-before edge with
 * __tsan_acquire / __tsan_release on the mutex's address; likewise for
 * GAtomicRcBox reference counts (FpNode, FpPod, FpPolicy) and interned
 * strings.  GRWLock and
 * GRecMutex are pthread-based and need nothing.  GLib's own internal use of
 * its mutexes is not covered (nor inline helpers parsed before this header,
 * such as g_mutex_locker_new); test/tsan.supp lists what that leaves.
 *
 * Ownership and errors: none.  Thread context: any; the wrappers add no
 * locking of their own.  Never included in a normal or ASan build.
 */
#ifndef FP_TEST_TSAN_GLIB_H
#define FP_TEST_TSAN_GLIB_H

#include <glib.h>
#include <pthread.h>

void __tsan_acquire(void *addr);
void __tsan_release(void *addr);

static inline void fp_tsan_mutex_lock(GMutex *m)
{
    (g_mutex_lock)(m);
    __tsan_acquire(m);
}

static inline gboolean fp_tsan_mutex_trylock(GMutex *m)
{
    gboolean ok = (g_mutex_trylock)(m);
    if (ok) {
        __tsan_acquire(m);
    }
    return ok;
}

static inline void fp_tsan_mutex_unlock(GMutex *m)
{
    __tsan_release(m);
    (g_mutex_unlock)(m);
}

static inline void fp_tsan_cond_wait(GCond *c, GMutex *m)
{
    __tsan_release(m);
    (g_cond_wait)(c, m);
    __tsan_acquire(m);
}

static inline gboolean fp_tsan_cond_wait_until(GCond *c, GMutex *m, gint64 end_time)
{
    __tsan_release(m);
    gboolean signalled = (g_cond_wait_until)(c, m, end_time);
    __tsan_acquire(m);
    return signalled;
}

/* GAtomicRcBox counts in uninstrumented GLib code, so TSan does not see
 * that the last release (which frees) comes after every other holder's
 * release: publish each release and make the releaser acquire them all. */
static inline void fp_tsan_rc_box_release_full(gpointer mem, GDestroyNotify clear)
{
    __tsan_release(mem);
    __tsan_acquire(mem);
    (g_atomic_rc_box_release_full)(mem, clear);
}

static inline gpointer fp_tsan_rc_box_acquire(gpointer mem)
{
    gpointer p = (g_atomic_rc_box_acquire)(mem);
    __tsan_acquire(mem);
    return p;
}

/* g_intern_string fills GLib's string table under a lock TSan cannot see;
 * one weak (so process-wide) pthread mutex around our calls makes the
 * writes of a first intern visible to the threads that intern it later. */
__attribute__((weak)) pthread_mutex_t fp_tsan_intern_lock = PTHREAD_MUTEX_INITIALIZER;

static inline const gchar *fp_tsan_intern_string(const gchar *s)
{
    pthread_mutex_lock(&fp_tsan_intern_lock);
    const gchar *r = (g_intern_string)(s);
    pthread_mutex_unlock(&fp_tsan_intern_lock);
    return r;
}

static inline const gchar *fp_tsan_intern_static_string(const gchar *s)
{
    pthread_mutex_lock(&fp_tsan_intern_lock);
    const gchar *r = (g_intern_static_string)(s);
    pthread_mutex_unlock(&fp_tsan_intern_lock);
    return r;
}

#define g_intern_string(s) fp_tsan_intern_string(s)
#define g_intern_static_string(s) fp_tsan_intern_static_string(s)
#define g_atomic_rc_box_release_full(m, c) fp_tsan_rc_box_release_full((m), (c))
#undef g_atomic_rc_box_acquire /* grcbox.h's typed wrapper */
#define g_atomic_rc_box_acquire(m) ((glib_typeof(m))fp_tsan_rc_box_acquire(m))
#define g_mutex_lock(m) fp_tsan_mutex_lock(m)
#define g_mutex_trylock(m) fp_tsan_mutex_trylock(m)
#define g_mutex_unlock(m) fp_tsan_mutex_unlock(m)
#define g_cond_wait(c, m) fp_tsan_cond_wait((c), (m))
#define g_cond_wait_until(c, m, t) fp_tsan_cond_wait_until((c), (m), (t))

#endif /* FP_TEST_TSAN_GLIB_H */
