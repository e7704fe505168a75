/*
 * extender/obs/metrics.h - a small, dependency-free metrics registry and a
 * renderer for the Prometheus text exposition format 0.0.4.
 *
 * Purpose: counters, gauges and fixed-bucket histograms updated from the
 * request path without locks, plus collectors that emit samples computed at
 * scrape time (cache sizes, policy generation, per-pool GPU numbers, process
 * statistics), rendered as text for GET /metrics.
 *
 * Model: a metric family (FpCounter, FpGauge, FpHistogram) has a name, a
 * help text and a fixed list of label names.  Each distinct tuple of label
 * values is one series (FpCounterSeries, ...), created on first use and never
 * freed before the registry.  A family without labels has exactly one series.
 *
 * Series lookup: every family holds a fixed array of FP_METRICS_MAX_SERIES
 * (+1) series pointers and an atomic count.  A new series is created under
 * the registry mutex, written into the next slot, and then published by a
 * release store of the count; readers load the count with acquire and search
 * the published slots linearly (comparing a precomputed hash first), without
 * any lock.  Label values come from small known sets (verb, code, reason,
 * result, resource, cause, kind), so the scan is short; a hot path that wants
 * no scan at all keeps the handle from fp_counter_with() and friends.
 *
 * Bounds (hostile label values cannot grow memory without limit):
 *   - at most FP_METRICS_MAX_SERIES distinct label tuples per family; later
 *     new tuples are folded into one overflow series whose every label value
 *     is "other" (so FP_METRICS_MAX_SERIES + 1 series at most), and each such
 *     update is counted (fp_metrics_overflow_count, and the
 *     flexplace_metrics_overflow_total metric of fp_metrics_add_standard);
 *   - a label value keeps at most FP_METRICS_MAX_LABEL_VALUE bytes (cut at a
 *     UTF-8 character boundary); invalid UTF-8 is replaced by U+FFFD, so two
 *     values that differ only past the cap, or only in invalid bytes, share a
 *     series, and the output is always valid UTF-8;
 *   - a collector family keeps at most FP_METRICS_MAX_COLLECTOR_SAMPLES
 *     samples per render; the rest are dropped and counted as overflow.
 * Memory: a family costs about 2.2 KiB (its slot array); a series about
 * 100 bytes plus twice its label text, and 8 bytes per histogram bucket, so
 * even a family filled to the cap with long values stays well under 1 MiB.
 *
 * Text format: "# HELP name text" (text escapes '\' and newline), "# TYPE
 * name counter|gauge|histogram|untyped", then samples
 * `name{label="value",...} number`, label values escaping '\', '"' and
 * newline; histograms as cumulative name_bucket{...,le="..."} lines ending
 * with le="+Inf", then name_sum and name_count; the text ends with "\n".
 * Families appear in registration order, then the collectors' families in
 * registration order; series in creation order.  A labelled family with no
 * series yet is left out.  Numbers: see fp_metrics_format_number.
 *
 * Ownership: the registry owns its families and series; the pointers it
 * returns stay valid until fp_metrics_free.  Strings passed in are copied.
 * fp_metrics_render returns a g_malloc'ed string.
 *
 * Thread context: registration, updates and rendering may all happen on any
 * thread, concurrently.  Updates of an existing series are lock-free (C11
 * atomics; counter increments by whole numbers are a single fetch-add, other
 * additions a compare-and-swap loop on the double's bit pattern).  Creating a
 * series and registering take the registry mutex.  Renders are serialised, so
 * a collector is never called concurrently with itself; collectors run
 * without the registry mutex and may update metrics, but must not render.
 * fp_metrics_free must not race with anything.
 *
 * Errors: a bad metric or label name, a name registered twice with a
 * different shape, a negative counter increment or a NULL label-values
 * array for a labelled family are programming errors: g_critical (via
 * g_return_if_fail) and the call does nothing / returns NULL.  Every update
 * and lookup function accepts a NULL family or series and does nothing, so a
 * failed registration never turns into a crash.
 */
#ifndef FP_EXTENDER_METRICS_H
#define FP_EXTENDER_METRICS_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

G_BEGIN_DECLS

/* Content-Type of the rendered text. */
#define FP_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Distinct label tuples per family before updates go to the "other" series. */
#define FP_METRICS_MAX_SERIES 256
/* Label names per family. */
#define FP_METRICS_MAX_LABELS 8
/* Bytes kept of one label value. */
#define FP_METRICS_MAX_LABEL_VALUE 128
/* Buckets per histogram, +Inf not counted. */
#define FP_METRICS_MAX_BUCKETS 64
/* Samples per collector family per render. */
#define FP_METRICS_MAX_COLLECTOR_SAMPLES 20000
/* Label value of the overflow series. */
#define FP_METRICS_OVERFLOW_VALUE "other"

/* Build a label-values (or label-names) array in place:
 *   fp_counter_inc(requests, FP_LABELS("filter", "200")); */
#define FP_LABELS(...) ((const char *const[]){__VA_ARGS__})
/* Label names are NULL-terminated:  FP_LABEL_NAMES("verb", "code"). */
#define FP_LABEL_NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Buckets of flexplace_request_duration_seconds: 50 us to 5 s. */
extern const double fp_metrics_duration_buckets[];
#define FP_METRICS_DURATION_BUCKETS_N 16

typedef enum {
    FP_METRIC_COUNTER,
    FP_METRIC_GAUGE,
    FP_METRIC_HISTOGRAM,
    FP_METRIC_UNTYPED,
} FpMetricType;

typedef struct FpMetrics FpMetrics;
typedef struct FpCounter FpCounter;
typedef struct FpGauge FpGauge;
typedef struct FpHistogram FpHistogram;
typedef struct FpCounterSeries FpCounterSeries;
typedef struct FpGaugeSeries FpGaugeSeries;
typedef struct FpHistogramSeries FpHistogramSeries;

/* ---- registry ---- */

/* An empty registry (no process or build metrics; see fp_metrics_add_standard). */
FpMetrics *fp_metrics_new(void);
/* Free the registry, its families and series, and call the collectors'
 * destroy notifies.  NULL is allowed. */
void fp_metrics_free(FpMetrics *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpMetrics, fp_metrics_free)

/* Register the conventional extras: flexplace_build_info{version=@version} 1,
 * flexplace_metrics_overflow_total (updates and samples diverted or dropped by
 * the bounds above) and the process_* metrics (fp_metrics_add_process_collector). */
void fp_metrics_add_standard(FpMetrics *m, const char *version);

/* Register a collector for the process_* metrics read from /proc at each
 * render: process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_open_fds, process_max_fds,
 * process_start_time_seconds.  Values that cannot be read are left out. */
void fp_metrics_add_process_collector(FpMetrics *m);

/* Updates diverted to an overflow series plus collector samples dropped. */
guint64 fp_metrics_overflow_count(FpMetrics *m);

/* ---- families ----
 *
 * @name must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*
 * without a leading "__" (and not "le" for histograms), at most
 * FP_METRICS_MAX_LABELS of them, no duplicates.  @label_names is
 * NULL-terminated, or NULL for no labels.  @help may be NULL.  Registering
 * the same name again with the same type, label names (and buckets) returns
 * the existing family; with a different shape it is an error (NULL). */
FpCounter *fp_metrics_counter(FpMetrics *m, const char *name, const char *help,
                              const char *const *label_names);
FpGauge *fp_metrics_gauge(FpMetrics *m, const char *name, const char *help,
                          const char *const *label_names);
/* @buckets: @n_buckets finite upper bounds, strictly increasing (a final
 * +Inf may be given and is dropped: the +Inf bucket is always there),
 * 1 <= n <= FP_METRICS_MAX_BUCKETS. */
FpHistogram *fp_metrics_histogram(FpMetrics *m, const char *name, const char *help,
                                  const char *const *label_names, const double *buckets,
                                  guint n_buckets);

/* ---- series handles ----
 *
 * @label_values has one entry per label name, in the same order (a NULL
 * entry means ""); it may be NULL for a family without labels.  The series is
 * created on first use (pre-register known tuples at startup so they render
 * as 0); past FP_METRICS_MAX_SERIES the overflow series is returned.  The
 * handle stays valid until fp_metrics_free. */
FpCounterSeries *fp_counter_with(FpCounter *c, const char *const *label_values);
FpGaugeSeries *fp_gauge_with(FpGauge *g, const char *const *label_values);
FpHistogramSeries *fp_histogram_with(FpHistogram *h, const char *const *label_values);

/* ---- updates (lock-free on an existing series) ---- */

/* Add @by (>= 0, not NaN) to a counter series. */
void fp_counter_series_add(FpCounterSeries *s, double by);
/* Find or create the series of @label_values and add @by. */
void fp_counter_add(FpCounter *c, const char *const *label_values, double by);
#define fp_counter_inc(c, label_values) fp_counter_add((c), (label_values), 1.0)

void fp_gauge_series_set(FpGaugeSeries *s, double v);
void fp_gauge_series_add(FpGaugeSeries *s, double by);
void fp_gauge_set(FpGauge *g, const char *const *label_values, double v);
void fp_gauge_add(FpGauge *g, const char *const *label_values, double by);

/* Count @v in the first bucket whose upper bound is >= v (+Inf otherwise)
 * and add it to the sum.  NaN is ignored. */
void fp_histogram_series_observe(FpHistogramSeries *s, double v);
void fp_histogram_observe(FpHistogram *h, const char *const *label_values, double v);

/* ---- reading back (tests, /readyz details); never creates a series ----
 *
 * Current value of the series of @label_values, or 0 when it does not exist.
 * Values are read atomically per field, so a histogram's count and sum may
 * be one concurrent observation apart. */
double fp_counter_get(FpCounter *c, const char *const *label_values);
double fp_gauge_get(FpGauge *g, const char *const *label_values);
guint64 fp_histogram_get_count(FpHistogram *h, const char *const *label_values);
double fp_histogram_get_sum(FpHistogram *h, const char *const *label_values);
/* Number of series of the registered family @name (the overflow series
 * included); 0 when there is no such family.  Takes the registry mutex. */
guint fp_metrics_series_count(FpMetrics *m, const char *name);

/* ---- collectors ---- */

typedef struct FpMetricsWriter FpMetricsWriter;
/* Called at every render, on the rendering thread, without the registry
 * mutex.  Emits families and their samples through @w. */
typedef void (*FpMetricsCollectFn)(FpMetricsWriter *w, void *data);

/* Add a collector; @destroy (may be NULL) is called on @data by fp_metrics_free. */
void fp_metrics_add_collector(FpMetrics *m, FpMetricsCollectFn collect, void *data,
                              GDestroyNotify destroy);

/* Start a family (counter, gauge or untyped; not histogram).  Names follow
 * the rules above; a family whose name is already rendered (a registered
 * family or an earlier collector family) is skipped with its samples, and a
 * warning is logged once per registry.  HELP and TYPE are written with the
 * first sample, so a family without samples does not appear. */
void fp_metrics_writer_family(FpMetricsWriter *w, const char *name, const char *help,
                              FpMetricType type);
/* One sample of the current family.  @label_names is NULL-terminated (or
 * NULL) and @label_values has as many entries; values are escaped and made
 * valid UTF-8 (not truncated).  The collector must not emit the same label
 * tuple twice in one family. */
void fp_metrics_writer_sample(FpMetricsWriter *w, const char *const *label_names,
                              const char *const *label_values, double value);

/* ---- output ---- */

/* Render every family and collector.  Returns a g_malloc'ed, NUL-terminated
 * string; *len (may be NULL) receives its length. */
char *fp_metrics_render(FpMetrics *m, size_t *len);

/* Format @v as a Prometheus sample value into @buf (at least
 * FP_METRICS_NUMBER_BUF bytes) and return @buf: integral values with
 * |v| < 2^53 without exponent or fraction ("42", "-3", "0"); others as the
 * shortest of %.15g/%.16g/%.17g that reads back as @v ("0.25", "5e-05");
 * "+Inf", "-Inf", "NaN".  Independent of the C locale. */
#define FP_METRICS_NUMBER_BUF 40
const char *fp_metrics_format_number(double v, char *buf);

G_END_DECLS

#endif /* FP_EXTENDER_METRICS_H */
