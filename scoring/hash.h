/*
 * scoring/hash.h - FNV-1a, the one string hash of flexplace's own tables.
 *
 * Purpose: the view's name index, the engine's per-request memo, the
 * decoded-Pod cache and the metrics' series keys hash short strings on hot
 * paths; FNV-1a is small, fast on them and well spread in its low bits for
 * power-of-two tables.  Not for anything an attacker could aim collisions
 * at without a bound: every table that uses it compares keys in full and
 * stays bounded.
 *
 * Thread context: pure functions, any thread.
 */
#ifndef FP_SCORING_HASH_H
#define FP_SCORING_HASH_H

#include <glib.h>
#include <stddef.h>

G_BEGIN_DECLS

#define FP_FNV1A_INIT 2166136261u

/* Continue hash @h over @len bytes of @data (start with FP_FNV1A_INIT). */
static inline guint32 fp_fnv1a(guint32 h, const void *data, size_t len)
{
    const guint8 *p = data;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}

/* The hash of the NUL-terminated @s. */
static inline guint32 fp_fnv1a_str(const char *s)
{
    guint32 h = FP_FNV1A_INIT;
    for (; *s; s++) {
        h = (h ^ (guint8)*s) * 16777619u;
    }
    return h;
}

G_END_DECLS

#endif /* FP_SCORING_HASH_H */
