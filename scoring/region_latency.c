/*
 * scoring/region_latency.c - lookups in the built-in round-trip tables
 * (region_latency.h); the data is generated from scoring/latency/.
 */
#include "scoring/region_latency.h"

#include <string.h>

const FpBuiltinRegion *fp_builtin_region(const char *name)
{
    size_t lo = 0, hi = fp_builtin_regions_len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, fp_builtin_regions[mid].region);
        if (c == 0) {
            return &fp_builtin_regions[mid];
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

/* The measured pair within one cloud; a region to itself is @self_rtt's. */
static bool measured(const char *a, const char *b, FpSelfRtt self_rtt, const void *ctx, double *ms)
{
    int order = strcmp(a, b);
    if (order == 0) {
        *ms = self_rtt(a, ctx);
        return true;
    }
    if (order > 0) {
        const char *t = a;
        a = b;
        b = t;
    }
    size_t lo = 0, hi = fp_builtin_rtt_len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const FpBuiltinRtt *e = &fp_builtin_rtt[mid];
        int c = strcmp(a, e->a);
        if (c == 0) {
            c = strcmp(b, e->b);
        }
        if (c == 0) {
            *ms = e->ms;
            return true;
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return false;
}

/* The region of @cloud in @r's metro, or NULL. */
static const char *twin_in(const FpBuiltinRegion *r, const char *cloud)
{
    if (!r->metro) {
        return NULL;
    }
    for (size_t i = 0; i < fp_builtin_regions_len; i++) {
        const FpBuiltinRegion *t = &fp_builtin_regions[i];
        if (t->metro && strcmp(t->metro, r->metro) == 0 && strcmp(t->cloud, cloud) == 0) {
            return t->region;
        }
    }
    return NULL;
}

bool fp_builtin_latency(const char *a, const char *b, FpSelfRtt self_rtt, const void *ctx,
                        double *ms)
{
    const FpBuiltinRegion *ra = fp_builtin_region(a);
    const FpBuiltinRegion *rb = fp_builtin_region(b);
    if (!ra || !rb) {
        return false;
    }
    if (strcmp(ra->cloud, rb->cloud) == 0) {
        return measured(a, b, self_rtt, ctx, ms);
    }
    bool found = false;
    double best = 0, v;
    const char *ta = twin_in(ra, rb->cloud); /* a's twin in b's cloud */
    if (ta && measured(ta, b, self_rtt, ctx, &v)) {
        best = v;
        found = true;
    }
    const char *tb = twin_in(rb, ra->cloud); /* b's twin in a's cloud */
    if (tb && measured(a, tb, self_rtt, ctx, &v) && (!found || v < best)) {
        best = v;
        found = true;
    }
    if (found) {
        *ms = best + FP_CROSS_CLOUD_HOP_MS;
    }
    return found;
}
