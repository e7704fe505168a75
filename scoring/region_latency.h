/*
 * scoring/region_latency.h - the built-in inter-region round trips.
 *
 * Purpose: a policy need not write a latency matrix for the regions of
 * AWS, Azure and GCP: flexplace knows their round trips from the project's
 * tables in scoring/latency/ (region-rtt.csv: measured pairs within each
 * cloud, sources named there; region-metros.csv: the rule for pairs across
 * clouds), generated into C at build time.  A policy's regions.latencyMs
 * entries override these; fp_policy_latency (placement_policy.h) applies
 * the order.
 *
 * Thread context: static data and pure functions, any thread.
 */
#ifndef FP_SCORING_REGION_LATENCY_H
#define FP_SCORING_REGION_LATENCY_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

G_BEGIN_DECLS

/* One measured pair of distinct regions of one cloud (a < b by strcmp). */
typedef struct {
    const char *a;
    const char *b;
    double ms;
} FpBuiltinRtt;

/* A region the tables know: its cloud, and its metro when another cloud
 * has a region there too (else NULL). */
typedef struct {
    const char *region;
    const char *cloud;
    const char *metro;
} FpBuiltinRegion;

/* Generated: sorted by (a, b) and by region. */
extern const FpBuiltinRtt fp_builtin_rtt[];
extern const size_t fp_builtin_rtt_len;
extern const FpBuiltinRegion fp_builtin_regions[];
extern const size_t fp_builtin_regions_len;

/* The hop between two clouds inside one metro (region-metros.csv). */
#define FP_CROSS_CLOUD_HOP_MS 3.0

/* The region named @name, or NULL when the tables do not know it. */
const FpBuiltinRegion *fp_builtin_region(const char *name);

/* A region's round trip to itself, as the caller (the policy) knows it. */
typedef double (*FpSelfRtt)(const char *region, const void *ctx);

/* Round trip between regions @a and @b (distinct) from the tables: the
 * measured pair within one cloud, else the cross-cloud rule of
 * region-metros.csv, where a twin's round trip to itself is
 * @self_rtt(twin, @ctx).  False when the tables cannot tell. */
bool fp_builtin_latency(const char *a, const char *b, FpSelfRtt self_rtt, const void *ctx,
                        double *ms);

G_END_DECLS

#endif
