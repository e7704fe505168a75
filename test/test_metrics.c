/*
 * test/test_metrics.c - the metrics registry and its Prometheus text output:
 * exact rendering (labels, escaping, cumulative histogram buckets, collectors),
 * number formatting, label value canonicalisation, the series cap, exact
 * totals under concurrent updates, registration rules, procfs parsing and
 * live process metrics, and (when promtool is installed) promtool's verdict.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "extender/obs/metrics.h"
#include "extender/obs/proc_stats.h"
#include "support/support.h"

/* ---- helpers ---- */

/* Collects the flexplace-domain warnings and criticals that a test provokes
 * on purpose, and keeps them from aborting under G_DEBUG=fatal-criticals. */
typedef struct {
    guint criticals;
    guint warnings;
    guint handler;
    GLogLevelFlags old_fatal;
} LogTrap;

static void trap_handler(const char *domain, GLogLevelFlags level, const char *message, void *data)
{
    LogTrap *trap = data;
    if (level & G_LOG_LEVEL_CRITICAL) {
        trap->criticals++;
    } else if (level & G_LOG_LEVEL_WARNING) {
        trap->warnings++;
    }
}

static void trap_begin(LogTrap *trap)
{
    memset(trap, 0, sizeof(*trap));
    trap->old_fatal = g_log_set_always_fatal(G_LOG_LEVEL_ERROR);
    trap->handler = g_log_set_handler(G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING,
                                      trap_handler, trap);
}

static void trap_end(LogTrap *trap)
{
    g_log_remove_handler(G_LOG_DOMAIN, trap->handler);
    g_log_set_always_fatal(trap->old_fatal);
}

/* Value of the sample line that starts with @series followed by a space, or
 * NAN when there is none; fails on a second such line (duplicate series). */
static double sample_value(const char *text, const char *series)
{
    double value = NAN;
    size_t n = strlen(series);
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        if (strncmp(line, series, n) == 0 && line[n] == ' ') {
            assert_true(isnan(value));
            value = g_ascii_strtod(line + n + 1, NULL);
        }
        line = nl ? nl + 1 : NULL;
    }
    return value;
}

static guint count_lines_with_prefix(const char *text, const char *prefix)
{
    guint count = 0;
    for (const char *line = text; line && *line;) {
        if (g_str_has_prefix(line, prefix)) {
            count++;
        }
        const char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    return count;
}

/* ---- number formatting ---- */

static void test_format_number(void **state)
{
    const struct {
        double v;
        const char *want;
    } cases[] = {
        {0, "0"},
        {-0.0, "0"},
        {1, "1"},
        {-3, "-3"},
        {42, "42"},
        {400000, "400000"},
        {9007199254740991.0, "9007199254740991"},
        {9007199254740992.0, "9007199254740992"}, /* 2^53: exponent-free by %.17g too */
        {1e300, "1e+300"},
        {0.5, "0.5"},
        {0.1, "0.1"},
        {0.00005, "5e-05"},
        {2.5, "2.5"},
        {1.0 / 3.0, "0.3333333333333333"},
        {0.1 + 0.2, "0.30000000000000004"},
        {-12.75, "-12.75"},
        {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"},
        {NAN, "NaN"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        char buf[FP_METRICS_NUMBER_BUF];
        const char *got = fp_metrics_format_number(cases[i].v, buf);
        if (strcmp(got, cases[i].want) != 0) {
            fail_msg("case %u: got %s, want %s", i, got, cases[i].want);
        }
        /* Every finite output reads back as the same double. */
        if (isfinite(cases[i].v)) {
            assert_true(g_ascii_strtod(got, NULL) == cases[i].v);
        }
    }
}

/* ---- exact rendering ---- */

static void collect_pools(FpMetricsWriter *w, void *data)
{
    guint *calls = data;
    (*calls)++;
    /* A family that emits nothing does not appear. */
    fp_metrics_writer_family(w, "flexplace_empty", "Never sampled.", FP_METRIC_GAUGE);
    fp_metrics_writer_family(w, "flexplace_pool_gpus", "GPUs per pool and state.", FP_METRIC_GAUGE);
    const char *const *names = FP_LABEL_NAMES("pool", "state");
    fp_metrics_writer_sample(w, names, FP_LABELS("aws-use1-l4", "free"), 3);
    fp_metrics_writer_sample(w, names, FP_LABELS("odd\"pool\\\n", "used"), 1.5);
    fp_metrics_writer_family(w, "flexplace_last_event_age_seconds", NULL, FP_METRIC_UNTYPED);
    fp_metrics_writer_sample(w, NULL, NULL, INFINITY);
}

static const char expected_render[] =
    "# HELP flexplace_requests_total Extender requests by verb and HTTP code.\n"
    "# TYPE flexplace_requests_total counter\n"
    "flexplace_requests_total{verb=\"filter\",code=\"200\"} 3\n"
    "flexplace_requests_total{verb=\"prioritize\",code=\"503\"} 0.5\n"
    "# HELP flexplace_policy_generation Generation of the policy.\\nLine two: a \\\\ and a \".\n"
    "# TYPE flexplace_policy_generation gauge\n"
    "flexplace_policy_generation -7.25\n"
    "# HELP flexplace_filter_rejections_total Nodes rejected by reason.\n"
    "# TYPE flexplace_filter_rejections_total counter\n"
    "flexplace_filter_rejections_total{reason=\"say \\\"hi\\\"\\\\path\\nnext\"} 1\n"
    "flexplace_filter_rejections_total{reason=\"\"} 2\n"
    "# HELP flexplace_request_duration_seconds Request latency by verb.\n"
    "# TYPE flexplace_request_duration_seconds histogram\n"
    "flexplace_request_duration_seconds_bucket{verb=\"filter\",le=\"0.25\"} 1\n"
    "flexplace_request_duration_seconds_bucket{verb=\"filter\",le=\"1\"} 2\n"
    "flexplace_request_duration_seconds_bucket{verb=\"filter\",le=\"2.5\"} 3\n"
    "flexplace_request_duration_seconds_bucket{verb=\"filter\",le=\"+Inf\"} 4\n"
    "flexplace_request_duration_seconds_sum{verb=\"filter\"} 12.75\n"
    "flexplace_request_duration_seconds_count{verb=\"filter\"} 4\n"
    "flexplace_request_duration_seconds_bucket{verb=\"bind\",le=\"0.25\"} 0\n"
    "flexplace_request_duration_seconds_bucket{verb=\"bind\",le=\"1\"} 0\n"
    "flexplace_request_duration_seconds_bucket{verb=\"bind\",le=\"2.5\"} 0\n"
    "flexplace_request_duration_seconds_bucket{verb=\"bind\",le=\"+Inf\"} 0\n"
    "flexplace_request_duration_seconds_sum{verb=\"bind\"} 0\n"
    "flexplace_request_duration_seconds_count{verb=\"bind\"} 0\n"
    "# HELP flexplace_scrape_seconds Unlabelled histogram.\n"
    "# TYPE flexplace_scrape_seconds histogram\n"
    "flexplace_scrape_seconds_bucket{le=\"5e-05\"} 1\n"
    "flexplace_scrape_seconds_bucket{le=\"+Inf\"} 1\n"
    "flexplace_scrape_seconds_sum -1\n"
    "flexplace_scrape_seconds_count 1\n"
    "# HELP flexplace_pool_gpus GPUs per pool and state.\n"
    "# TYPE flexplace_pool_gpus gauge\n"
    "flexplace_pool_gpus{pool=\"aws-use1-l4\",state=\"free\"} 3\n"
    "flexplace_pool_gpus{pool=\"odd\\\"pool\\\\\\n\",state=\"used\"} 1.5\n"
    "# TYPE flexplace_last_event_age_seconds untyped\n"
    "flexplace_last_event_age_seconds +Inf\n";

static void test_render_exact(void **state)
{
    g_autoptr(FpMetrics) m = fp_metrics_new();
    FpCounter *req = fp_metrics_counter(m, "flexplace_requests_total",
                                        "Extender requests by verb and HTTP code.",
                                        FP_LABEL_NAMES("verb", "code"));
    FpGauge *gen = fp_metrics_gauge(m, "flexplace_policy_generation",
                                    "Generation of the policy.\nLine two: a \\ and a \".", NULL);
    FpCounter *rej = fp_metrics_counter(m, "flexplace_filter_rejections_total",
                                        "Nodes rejected by reason.", FP_LABEL_NAMES("reason"));
    /* Registered with labels but never used: left out of the output. */
    FpCounter *unused = fp_metrics_counter(m, "flexplace_binds_total", "Bindings by result.",
                                           FP_LABEL_NAMES("result"));
    FpHistogram *dur =
        fp_metrics_histogram(m, "flexplace_request_duration_seconds", "Request latency by verb.",
                             FP_LABEL_NAMES("verb"), (const double[]){0.25, 1, 2.5}, 3);
    FpHistogram *scrape =
        fp_metrics_histogram(m, "flexplace_scrape_seconds", "Unlabelled histogram.", NULL,
                             (const double[]){0.00005, INFINITY}, 2);
    assert_non_null(req);
    assert_non_null(gen);
    assert_non_null(rej);
    assert_non_null(unused);
    assert_non_null(dur);
    assert_non_null(scrape);

    fp_counter_inc(req, FP_LABELS("filter", "200"));
    fp_counter_add(req, FP_LABELS("filter", "200"), 2);
    fp_counter_add(req, FP_LABELS("prioritize", "503"), 0.5);
    fp_gauge_set(gen, NULL, 3);
    fp_gauge_add(gen, NULL, -10.25);
    fp_counter_inc(rej, FP_LABELS("say \"hi\"\\path\nnext"));
    fp_counter_inc(rej, FP_LABELS(NULL)); /* NULL means "" */
    fp_counter_inc(rej, FP_LABELS(""));
    /* Cumulative buckets; a value equal to a bound falls in that bucket. */
    fp_histogram_observe(dur, FP_LABELS("filter"), 0.25);
    fp_histogram_observe(dur, FP_LABELS("filter"), 0.5);
    fp_histogram_observe(dur, FP_LABELS("filter"), 2);
    fp_histogram_observe(dur, FP_LABELS("filter"), 10);
    fp_histogram_observe(dur, FP_LABELS("filter"), NAN);        /* ignored */
    assert_non_null(fp_histogram_with(dur, FP_LABELS("bind"))); /* pre-registered: zeros */
    fp_histogram_observe(scrape, NULL, -1);

    guint calls = 0;
    fp_metrics_add_collector(m, collect_pools, &calls, NULL);

    size_t len = 0;
    g_autofree char *text = fp_metrics_render(m, &len);
    assert_int_equal(len, strlen(text));
    assert_string_equal(text, expected_render);
    assert_int_equal(calls, 1);

    /* Rendering twice gives the same text (collectors run again). */
    g_autofree char *again = fp_metrics_render(m, NULL);
    assert_string_equal(again, expected_render);
    assert_int_equal(calls, 2);

    /* Reading back. */
    assert_true(fp_counter_get(req, FP_LABELS("filter", "200")) == 3);
    assert_true(fp_counter_get(req, FP_LABELS("filter", "500")) == 0);
    assert_true(fp_gauge_get(gen, NULL) == -7.25);
    assert_int_equal(fp_histogram_get_count(dur, FP_LABELS("filter")), 4);
    assert_true(fp_histogram_get_sum(dur, FP_LABELS("filter")) == 12.75);
    assert_int_equal(fp_histogram_get_count(dur, FP_LABELS("bind")), 0);
    /* Reading never creates a series. */
    assert_int_equal(fp_metrics_series_count(m, "flexplace_requests_total"), 2);
    assert_int_equal(fp_metrics_series_count(m, "flexplace_binds_total"), 0);
    assert_int_equal(fp_metrics_overflow_count(m), 0);
}

static void test_respond(void **state)
{
    g_autoptr(FpMetrics) m = fp_metrics_new();
    FpCounter *c = fp_metrics_counter(m, "flexplace_test_total", "Test.", NULL);
    fp_counter_add(c, NULL, 5);
    size_t len = 0;
    g_autofree char *body = fp_metrics_render(m, &len);
    assert_string_equal(FP_METRICS_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(body);
    assert_int_equal(len, strlen(body));
    assert_string_equal(body, "# HELP flexplace_test_total Test.\n"
                              "# TYPE flexplace_test_total counter\n"
                              "flexplace_test_total 5\n");
}

/* ---- label values ---- */

static void test_label_value_canonical(void **state)
{
    g_autoptr(FpMetrics) m = fp_metrics_new();
    FpCounter *c =
        fp_metrics_counter(m, "flexplace_reason_total", "By reason.", FP_LABEL_NAMES("reason"));

    /* Values that differ only past the cap share a series. */
    g_autofree char *long_a = g_strnfill(FP_METRICS_MAX_LABEL_VALUE + 50, 'a');
    g_autofree char *long_b = g_strdup(long_a);
    long_b[FP_METRICS_MAX_LABEL_VALUE + 10] = 'b';
    fp_counter_inc(c, FP_LABELS(long_a));
    fp_counter_inc(c, FP_LABELS(long_b));
    assert_int_equal(fp_metrics_series_count(m, "flexplace_reason_total"), 1);
    assert_true(fp_counter_get(c, FP_LABELS(long_a)) == 2);

    /* The cut never splits a character: 127 ASCII bytes + "é" keeps 127. */
    g_autofree char *ascii127 = g_strnfill(FP_METRICS_MAX_LABEL_VALUE - 1, 'x');
    g_autofree char *with_e = g_strconcat(ascii127, "\xc3\xa9tail", NULL);
    fp_counter_inc(c, FP_LABELS(with_e));
    assert_true(fp_counter_get(c, FP_LABELS(ascii127)) == 1);

    /* Invalid UTF-8 becomes U+FFFD; bytes that map to the same text share a series. */
    fp_counter_inc(c, FP_LABELS("bad\xff"));
    fp_counter_inc(c, FP_LABELS("bad\xfe"));
    assert_true(fp_counter_get(c, FP_LABELS("bad\xef\xbf\xbd")) == 2);
    assert_int_equal(fp_metrics_series_count(m, "flexplace_reason_total"), 3);

    g_autofree char *text = fp_metrics_render(m, NULL);
    assert_true(g_utf8_validate(text, -1, NULL));
    g_autofree char *want_long = g_strdup_printf("flexplace_reason_total{reason=\"%.*s\"}",
                                                 FP_METRICS_MAX_LABEL_VALUE, long_a);
    assert_true(sample_value(text, want_long) == 2);
    assert_true(sample_value(text, "flexplace_reason_total{reason=\"bad\xef\xbf\xbd\"}") == 2);
}

/* ---- series cap ---- */

static void test_series_cap(void **state)
{
    g_autoptr(FpMetrics) m = fp_metrics_new();
    FpCounter *c =
        fp_metrics_counter(m, "flexplace_reason_total", "By reason.", FP_LABEL_NAMES("reason"));
    for (guint i = 0; i < FP_METRICS_MAX_SERIES; i++) {
        g_autofree char *v = g_strdup_printf("reason-%u", i);
        fp_counter_inc(c, FP_LABELS(v));
    }
    assert_int_equal(fp_metrics_series_count(m, "flexplace_reason_total"), FP_METRICS_MAX_SERIES);
    assert_int_equal(fp_metrics_overflow_count(m), 0);

    /* The 257th distinct value goes to "other", and so does every later one. */
    fp_counter_inc(c, FP_LABELS("reason-256"));
    assert_int_equal(fp_metrics_series_count(m, "flexplace_reason_total"),
                     FP_METRICS_MAX_SERIES + 1);
    assert_true(fp_counter_get(c, FP_LABELS("reason-256")) == 0);
    assert_true(fp_counter_get(c, FP_LABELS("other")) == 1);
    for (guint i = 0; i < 1000; i++) {
        g_autofree char *v = g_strdup_printf("hostile-%u", i);
        fp_counter_add(c, FP_LABELS(v), 2);
    }
    assert_int_equal(fp_metrics_series_count(m, "flexplace_reason_total"),
                     FP_METRICS_MAX_SERIES + 1);
    assert_true(fp_counter_get(c, FP_LABELS("other")) == 2001);
    assert_int_equal(fp_metrics_overflow_count(m), 1001);
    /* Existing series keep working past the cap. */
    fp_counter_inc(c, FP_LABELS("reason-7"));
    assert_true(fp_counter_get(c, FP_LABELS("reason-7")) == 2);
    /* Handles past the cap are the overflow series. */
    assert_ptr_equal(fp_counter_with(c, FP_LABELS("new")), fp_counter_with(c, FP_LABELS("other")));

    g_autofree char *text = fp_metrics_render(m, NULL);
    assert_int_equal(count_lines_with_prefix(text, "flexplace_reason_total{"),
                     FP_METRICS_MAX_SERIES + 1);
    assert_true(sample_value(text, "flexplace_reason_total{reason=\"other\"}") == 2001);
}

static void test_series_cap_other_already_used(void **state)
{
    /* "other" used as a real value before the cap: the overflow adopts it,
     * so the output never holds the same series twice. */
    g_autoptr(FpMetrics) m = fp_metrics_new();
    FpGauge *g = fp_metrics_gauge(m, "flexplace_kind_things", "Two labels.",
                                  FP_LABEL_NAMES("kind", "cause"));
    fp_gauge_set(g, FP_LABELS("other", "other"), 5);
    for (guint i = 1; i < FP_METRICS_MAX_SERIES; i++) {
        g_autofree char *v = g_strdup_printf("k%u", i);
        fp_gauge_set(g, FP_LABELS(v, "x"), 1);
    }
    fp_gauge_add(g, FP_LABELS("one-too-many", "x"), 10);
    assert_int_equal(fp_metrics_series_count(m, "flexplace_kind_things"), FP_METRICS_MAX_SERIES);
    assert_true(fp_gauge_get(g, FP_LABELS("other", "other")) == 15);
    g_autofree char *text = fp_metrics_render(m, NULL);
    assert_true(sample_value(text, "flexplace_kind_things{kind=\"other\",cause=\"other\"}") == 15);
    assert_int_equal(count_lines_with_prefix(text, "flexplace_kind_things{"),
                     FP_METRICS_MAX_SERIES);
}

/* ---- concurrency ---- */

#define THREADS 4
#define ITERATIONS 100000
#define SHARED_VALUES 50

typedef struct {
    FpMetrics *m;
    FpCounter *requests;
    FpCounter *fractions;
    FpCounter *spread;
    FpGauge *inflight;
    FpHistogram *latency;
    guint index;
    gint *stop_render;
    guint renders;
} Worker;

static void *worker_main(void *data)
{
    Worker *w = data;
    FpCounterSeries *frac = fp_counter_with(w->fractions, NULL);
    for (guint i = 0; i < ITERATIONS; i++) {
        fp_counter_inc(w->requests, FP_LABELS("filter", "200"));
        fp_counter_series_add(frac, 0.5);
        fp_gauge_add(w->inflight, NULL, 1);
        fp_histogram_observe(w->latency, FP_LABELS("filter"), (double)(i % 4) * 0.25);
        fp_gauge_add(w->inflight, NULL, -1);
        if (i % 100 == 0) {
            /* Every thread creates the same series concurrently. */
            char v[16];
            g_snprintf(v, sizeof(v), "v%u", (i / 100) % SHARED_VALUES);
            fp_counter_inc(w->spread, FP_LABELS(v));
        }
    }
    return NULL;
}

static void *render_main(void *data)
{
    Worker *w = data;
    while (!g_atomic_int_get(w->stop_render)) {
        g_autofree char *text = fp_metrics_render(w->m, NULL);
        assert_non_null(text);
        w->renders++;
    }
    return NULL;
}

static void test_concurrent_updates(void **state)
{
    g_autoptr(FpMetrics) m = fp_metrics_new();
    Worker base = {
        .m = m,
        .requests = fp_metrics_counter(m, "flexplace_requests_total", "Requests.",
                                       FP_LABEL_NAMES("verb", "code")),
        .fractions = fp_metrics_counter(m, "flexplace_fractions_total", "Halves.", NULL),
        .spread =
            fp_metrics_counter(m, "flexplace_spread_total", "Spread.", FP_LABEL_NAMES("value")),
        .inflight = fp_metrics_gauge(m, "flexplace_inflight", "In flight.", NULL),
        .latency = fp_metrics_histogram(m, "flexplace_latency_seconds", "Latency.",
                                        FP_LABEL_NAMES("verb"), (const double[]){0.3, 0.6}, 2),
    };
    gint stop = 0;
    base.stop_render = &stop;
    Worker workers[THREADS];
    GThread *threads[THREADS];
    for (guint i = 0; i < THREADS; i++) {
        workers[i] = base;
        workers[i].index = i;
        threads[i] = g_thread_new("metrics-worker", worker_main, &workers[i]);
    }
    Worker renderer = base;
    GThread *render_thread = g_thread_new("metrics-render", render_main, &renderer);
    for (guint i = 0; i < THREADS; i++) {
        g_thread_join(threads[i]);
    }
    g_atomic_int_set(&stop, 1);
    g_thread_join(render_thread);

    const double total = (double)THREADS * ITERATIONS;
    assert_true(fp_counter_get(base.requests, FP_LABELS("filter", "200")) == total);
    assert_int_equal(fp_metrics_series_count(m, "flexplace_requests_total"), 1);
    assert_true(fp_counter_get(base.fractions, NULL) == total / 2);
    assert_true(fp_gauge_get(base.inflight, NULL) == 0);
    assert_int_equal(fp_histogram_get_count(base.latency, FP_LABELS("filter")),
                     THREADS * ITERATIONS);
    /* Sum of (i % 4) * 0.25 over i: each block of 4 adds 1.5; exact in binary. */
    assert_true(fp_histogram_get_sum(base.latency, FP_LABELS("filter")) == total / 4 * 1.5);
    assert_int_equal(fp_metrics_series_count(m, "flexplace_spread_total"), SHARED_VALUES);
    for (guint v = 0; v < SHARED_VALUES; v++) {
        char name[16];
        g_snprintf(name, sizeof(name), "v%u", v);
        assert_true(fp_counter_get(base.spread, FP_LABELS(name)) ==
                    THREADS * (ITERATIONS / 100 / SHARED_VALUES));
    }

    g_autofree char *text = fp_metrics_render(m, NULL);
    assert_true(sample_value(text, "flexplace_requests_total{verb=\"filter\",code=\"200\"}") ==
                total);
    /* Buckets: values 0, 0.25 -> le 0.3; 0.5 -> le 0.6; 0.75 -> +Inf. */
    assert_true(
        sample_value(text, "flexplace_latency_seconds_bucket{verb=\"filter\",le=\"0.3\"}") ==
        total / 2);
    assert_true(
        sample_value(text, "flexplace_latency_seconds_bucket{verb=\"filter\",le=\"0.6\"}") ==
        total * 3 / 4);
    assert_true(
        sample_value(text, "flexplace_latency_seconds_bucket{verb=\"filter\",le=\"+Inf\"}") ==
        total);
    print_message("concurrent renders while updating: %u\n", renderer.renders);
}

/* ---- registration rules ---- */

static void test_registration_rules(void **state)
{
    g_autoptr(FpMetrics) m = fp_metrics_new();
    FpCounter *c = fp_metrics_counter(m, "flexplace_x_total", "X.", FP_LABEL_NAMES("verb"));
    assert_non_null(c);
    /* Same shape again: the same family. */
    assert_ptr_equal(
        fp_metrics_counter(m, "flexplace_x_total", "other help", FP_LABEL_NAMES("verb")), c);
    FpHistogram *h =
        fp_metrics_histogram(m, "flexplace_h_seconds", "H.", NULL, fp_metrics_duration_buckets,
                             FP_METRICS_DURATION_BUCKETS_N);
    assert_non_null(h);
    assert_ptr_equal(fp_metrics_histogram(m, "flexplace_h_seconds", "H.", NULL,
                                          fp_metrics_duration_buckets,
                                          FP_METRICS_DURATION_BUCKETS_N),
                     h);

    const double increasing_not[] = {1, 1};
    const double with_nan[] = {0.1, NAN};
    const double many[FP_METRICS_MAX_BUCKETS + 1] = {0};
    LogTrap trap;
    trap_begin(&trap);
    guint expected = 0;
#define EXPECT_NULL(expr)                                                                          \
    do {                                                                                           \
        assert_null(expr);                                                                         \
        expected++;                                                                                \
        assert_int_equal(trap.criticals, expected);                                                \
    } while (0)
    EXPECT_NULL(fp_metrics_counter(m, "flexplace_x_total", "X.", FP_LABEL_NAMES("code")));
    EXPECT_NULL(fp_metrics_gauge(m, "flexplace_x_total", "X.", FP_LABEL_NAMES("verb")));
    EXPECT_NULL(fp_metrics_counter(m, "1starts_with_digit", "X.", NULL));
    EXPECT_NULL(fp_metrics_counter(m, "has-dash", "X.", NULL));
    EXPECT_NULL(fp_metrics_counter(m, "", "X.", NULL));
    EXPECT_NULL(fp_metrics_counter(m, NULL, "X.", NULL));
    EXPECT_NULL(fp_metrics_counter(m, "flexplace_y_total", "X.", FP_LABEL_NAMES("__reserved")));
    EXPECT_NULL(fp_metrics_counter(m, "flexplace_y_total", "X.", FP_LABEL_NAMES("a:b")));
    EXPECT_NULL(fp_metrics_counter(m, "flexplace_y_total", "X.", FP_LABEL_NAMES("a", "a")));
    EXPECT_NULL(fp_metrics_counter(
        m, "flexplace_y_total", "X.",
        FP_LABEL_NAMES("a", "b", "c", "d", "e", "f", "g", "h", "i"))); /* > MAX_LABELS */
    EXPECT_NULL(
        fp_metrics_histogram(m, "flexplace_z", "X.", FP_LABEL_NAMES("le"), (const double[]){1}, 1));
    EXPECT_NULL(fp_metrics_histogram(m, "flexplace_z", "X.", NULL, increasing_not, 2));
    EXPECT_NULL(fp_metrics_histogram(m, "flexplace_z", "X.", NULL, with_nan, 2));
    EXPECT_NULL(fp_metrics_histogram(m, "flexplace_z", "X.", NULL, many, G_N_ELEMENTS(many)));
    EXPECT_NULL(fp_metrics_histogram(m, "flexplace_z", "X.", NULL, NULL, 0));
    EXPECT_NULL(fp_metrics_histogram(m, "flexplace_h_seconds", "H.", NULL, (const double[]){1}, 1));
    /* A labelled family needs label values; counters never go down. */
    EXPECT_NULL(fp_counter_with(c, NULL));
    fp_counter_add(c, FP_LABELS("filter"), -1);
    assert_int_equal(trap.criticals, ++expected);
    fp_counter_add(c, FP_LABELS("filter"), NAN);
    assert_int_equal(trap.criticals, ++expected);
    trap_end(&trap);
#undef EXPECT_NULL
    assert_true(fp_counter_get(c, FP_LABELS("filter")) == 0);

    /* A failed registration never turns into a crash. */
    fp_counter_inc(NULL, FP_LABELS("x"));
    fp_gauge_set(NULL, NULL, 1);
    fp_histogram_observe(NULL, NULL, 1);
    fp_counter_series_add(NULL, 1);
    assert_true(fp_counter_get(NULL, NULL) == 0);
    assert_null(fp_counter_with(NULL, FP_LABELS("x")));
    fp_metrics_free(NULL);

    /* The failed registrations left nothing behind. */
    g_autofree char *text = fp_metrics_render(m, NULL);
    assert_null(strstr(text, "flexplace_y_total"));
    assert_null(strstr(text, "flexplace_z"));
}

/* ---- collectors ---- */

static void collect_duplicate(FpMetricsWriter *w, void *data)
{
    /* Same name as a registered family: skipped. */
    fp_metrics_writer_family(w, "flexplace_dup_total", "Again.", FP_METRIC_COUNTER);
    fp_metrics_writer_sample(w, NULL, NULL, 99);
    fp_metrics_writer_family(w, "flexplace_many", "Many.", FP_METRIC_GAUGE);
    for (guint i = 0; i < FP_METRICS_MAX_COLLECTOR_SAMPLES + 5; i++) {
        char v[16];
        g_snprintf(v, sizeof(v), "%u", i);
        fp_metrics_writer_sample(w, FP_LABEL_NAMES("i"), FP_LABELS(v), i);
    }
    /* Same name as this collector's earlier family: skipped too. */
    fp_metrics_writer_family(w, "flexplace_many", "Many.", FP_METRIC_GAUGE);
    fp_metrics_writer_sample(w, FP_LABEL_NAMES("i"), FP_LABELS("x"), 1);
}

static void destroy_counter(void *data)
{
    (*(guint *)data)++;
}

static void test_collector_rules(void **state)
{
    guint destroyed = 0;
    FpMetrics *m = fp_metrics_new();
    FpCounter *dup = fp_metrics_counter(m, "flexplace_dup_total", "Static.", NULL);
    fp_counter_inc(dup, NULL);
    fp_metrics_add_collector(m, collect_duplicate, &destroyed, destroy_counter);

    LogTrap trap;
    trap_begin(&trap);
    g_autofree char *text = fp_metrics_render(m, NULL);
    g_autofree char *again = fp_metrics_render(m, NULL);
    trap_end(&trap);
    assert_int_equal(trap.warnings, 1); /* once per registry */
    assert_int_equal(trap.criticals, 0);

    assert_true(sample_value(text, "flexplace_dup_total") == 1);
    assert_int_equal(count_lines_with_prefix(text, "# TYPE flexplace_dup_total"), 1);
    assert_int_equal(count_lines_with_prefix(text, "flexplace_many{"),
                     FP_METRICS_MAX_COLLECTOR_SAMPLES);
    assert_int_equal(count_lines_with_prefix(text, "# TYPE flexplace_many"), 1);
    assert_null(strstr(text, "flexplace_many{i=\"x\"}"));
    assert_int_equal(fp_metrics_overflow_count(m), 10); /* 5 per render */
    assert_string_equal(text, again);

    fp_metrics_free(m);
    assert_int_equal(destroyed, 1);
}

/* ---- procfs ---- */

static void test_proc_parse_stat(void **state)
{
    const struct {
        const char *text;
        bool ok;
        guint64 utime, stime, start, vsize, rss;
    } cases[] = {
        {"1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 250 130 0 0 20 0 1 0 4242 123456789 2048 18 1\n",
         true, 250, 130, 4242, 123456789, 2048},
        /* comm with spaces and parentheses: fields counted from the last ')' */
        {"77 (a) b) (c d) R 1 2 3 4 -1 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21\n", true, 10,
         11, 18, 19, 20},
        /* exactly 24 fields, no newline */
        {"9 (x) S 1 1 1 0 0 0 0 0 0 0 1 2 0 0 0 0 1 0 3 4 5", true, 1, 2, 3, 4, 5},
        {"9 (x) S 1 1 1 0 0 0 0 0 0 0 1 2 0 0 0 0 1 0 3 4", false, 0, 0, 0, 0, 0}, /* 23 fields */
        {"9 (x) S 1 1 1 0 0 0 0 0 0 0 -1 2 0 0 0 0 1 0 3 4 5", false, 0, 0, 0, 0,
         0}, /* negative utime */
        {"9 (x) S 1 1 1 0 0 0 0 0 0 0 1x 2 0 0 0 0 1 0 3 4 5", false, 0, 0, 0, 0, 0}, /* junk */
        {"9 (x) S 1 1 1 0 0 0 0 0 0 0 99999999999999999999 2 0 0 0 0 1 0 3 4 5", false, 0, 0, 0, 0,
         0},                                                                       /* >u64 */
        {"9 x S 1 1 1 0 0 0 0 0 0 0 1 2 0 0 0 0 1 0 3 4 5", false, 0, 0, 0, 0, 0}, /* no ')' */
        {"", false, 0, 0, 0, 0, 0},
        {")", false, 0, 0, 0, 0, 0},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        FpProcStat st = {0};
        bool ok = fp_proc_parse_stat(cases[i].text, strlen(cases[i].text), &st);
        if (ok != cases[i].ok) {
            fail_msg("case %u: ok=%d, want %d", i, ok, cases[i].ok);
        }
        if (ok) {
            assert_int_equal(st.utime_ticks, cases[i].utime);
            assert_int_equal(st.stime_ticks, cases[i].stime);
            assert_int_equal(st.starttime_ticks, cases[i].start);
            assert_int_equal(st.vsize_bytes, cases[i].vsize);
            assert_int_equal(st.rss_pages, cases[i].rss);
        }
    }
    /* The length bounds the parse: a valid line cut short fails. */
    const char *line = cases[0].text;
    FpProcStat st;
    assert_false(fp_proc_parse_stat(line, 40, &st));
}

static void test_proc_parse_btime_limits(void **state)
{
    const struct {
        const char *text;
        bool ok;
        guint64 want;
    } btimes[] = {
        {"cpu 1 2 3\nbtime 1700000000\nprocesses 5\n", true, 1700000000},
        {"btime 42", true, 42},
        {"cpu 1\nbtime x\n", false, 0},
        {"cpu 1\nbtime 12 13\n", false, 0},
        {"cpu 1\nxbtime 12\n", false, 0},
        {"", false, 0},
    };
    for (guint i = 0; i < G_N_ELEMENTS(btimes); i++) {
        guint64 v = 0;
        bool ok = fp_proc_parse_btime(btimes[i].text, strlen(btimes[i].text), &v);
        assert_int_equal(ok, btimes[i].ok);
        if (ok) {
            assert_int_equal(v, btimes[i].want);
        }
    }
    const struct {
        const char *text;
        bool ok;
        guint64 want;
    } limits[] = {
        {"Limit  Soft Limit  Hard Limit  Units\nMax open files            1024                 "
         "524288               files\n",
         true, 1024},
        {"Max open files            unlimited            unlimited            files\n", true,
         G_MAXUINT64},
        {"Max open filesx 10 10 files\n", false, 0},
        {"Max open files            lots                 10   files\n", false, 0},
        {"Max processes 10 10 processes\n", false, 0},
    };
    for (guint i = 0; i < G_N_ELEMENTS(limits); i++) {
        guint64 v = 0;
        bool ok = fp_proc_parse_max_fds(limits[i].text, strlen(limits[i].text), &v);
        if (ok != limits[i].ok) {
            fail_msg("limits case %u: ok=%d", i, ok);
        }
        if (ok) {
            assert_int_equal(v, limits[i].want);
        }
    }
}

static void test_proc_stats_fixture(void **state)
{
    g_autofree char *root = fp_test_data_path("metrics/proc");
    FpProcStats st;
    assert_true(fp_proc_stats_read(root, &st));
    double ticks = (double)sysconf(_SC_CLK_TCK);
    double page = (double)sysconf(_SC_PAGESIZE);
    assert_true(st.have_cpu && st.have_rss && st.have_vsize && st.have_start);
    assert_true(st.have_open_fds && st.have_max_fds);
    assert_true(st.cpu_seconds == (250.0 + 130.0) / ticks);
    assert_true(st.resident_bytes == 2048 * page);
    assert_true(st.virtual_bytes == 123456789.0);
    assert_true(st.start_time == 1700000000.0 + 4242.0 / ticks);
    assert_true(st.open_fds == 5);
    assert_true(st.max_fds == 1024);

    /* A tree without the files reads nothing and says so. */
    g_autofree char *empty = fp_test_data_path("metrics/no-such-proc");
    assert_false(fp_proc_stats_read(empty, &st));
    assert_false(st.have_cpu || st.have_open_fds || st.have_max_fds);
}

static void test_process_metrics_live(void **state)
{
    g_autoptr(FpMetrics) m = fp_metrics_new();
    fp_metrics_add_standard(m, FP_VERSION);
    g_autofree char *text = fp_metrics_render(m, NULL);

    g_autofree char *info = g_strdup_printf("flexplace_build_info{version=\"%s\"}", FP_VERSION);
    assert_true(sample_value(text, info) == 1);
    assert_true(sample_value(text, "flexplace_metrics_overflow_total") == 0);
    assert_int_equal(count_lines_with_prefix(text, "# TYPE process_cpu_seconds_total counter"), 1);

    double cpu = sample_value(text, "process_cpu_seconds_total");
    double rss = sample_value(text, "process_resident_memory_bytes");
    double vsz = sample_value(text, "process_virtual_memory_bytes");
    double open_fds = sample_value(text, "process_open_fds");
    double max_fds = sample_value(text, "process_max_fds");
    double start = sample_value(text, "process_start_time_seconds");
    print_message("cpu=%g rss=%g vsz=%g fds=%g/%g start=%.2f\n", cpu, rss, vsz, open_fds, max_fds,
                  start);
    assert_true(cpu >= 0);
    assert_true(rss > 0);
    assert_true(vsz >= rss);
    assert_true(open_fds >= 3);
    assert_true(max_fds >= open_fds);
    /* btime is whole seconds, so allow a little slack either way. */
    double now = (double)g_get_real_time() / G_USEC_PER_SEC;
    assert_true(start <= now + 2);
    assert_true(start > now - 3600);
}

/* ---- promtool ---- */

/* promtool also lints: every family needs help text. */
static void collect_lint_clean(FpMetricsWriter *w, void *data)
{
    fp_metrics_writer_family(w, "flexplace_pool_gpus", "GPUs per pool and state.", FP_METRIC_GAUGE);
    const char *const *names = FP_LABEL_NAMES("pool", "state");
    fp_metrics_writer_sample(w, names, FP_LABELS("aws-use1-l4", "free"), 3);
    fp_metrics_writer_sample(w, names, FP_LABELS("odd\"pool\\\n\xfe", "used"), 1.5);
    fp_metrics_writer_family(w, "flexplace_last_event_age_seconds",
                             "Seconds since the last watch event.", FP_METRIC_GAUGE);
    fp_metrics_writer_sample(w, NULL, NULL, INFINITY);
}

/* Exit status of `promtool check metrics < text`; *output gets its output.
 * Plain g_spawn_sync through sh (no GIO worker threads, so the test stays
 * quiet under ThreadSanitizer). */
static int promtool_check(const char *promtool, const char *text, char **output)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *path = NULL;
    int fd = g_file_open_tmp("fp-metrics-XXXXXX.prom", &path, &error);
    if (fd < 0) {
        fail_msg("temp file: %s", error->message);
    }
    close(fd);
    if (!g_file_set_contents(path, text, -1, &error)) {
        fail_msg("write %s: %s", path, error->message);
    }
    const char *argv[] = {"/bin/sh", "-c", "exec \"$0\" check metrics < \"$1\" 2>&1",
                          promtool,  path, NULL};
    int wait_status = 0;
    gboolean ran = g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, output,
                                NULL, &wait_status, &error);
    g_unlink(path);
    if (!ran) {
        fail_msg("cannot run %s: %s", promtool, error->message);
    }
    assert_true(WIFEXITED(wait_status));
    return WEXITSTATUS(wait_status);
}

static void test_promtool(void **state)
{
    g_autofree char *promtool = g_find_program_in_path("promtool");
    if (!promtool) {
        FP_SKIP("promtool", "promtool not found in PATH (Debian package prometheus)");
    }
    g_autoptr(FpMetrics) m = fp_metrics_new();
    FpCounter *req = fp_metrics_counter(m, "flexplace_requests_total",
                                        "Extender requests by verb and HTTP code.",
                                        FP_LABEL_NAMES("verb", "code"));
    FpCounter *rej = fp_metrics_counter(m, "flexplace_filter_rejections_total",
                                        "Nodes rejected by \"reason\"\nsecond line \\ here.",
                                        FP_LABEL_NAMES("reason"));
    FpHistogram *dur = fp_metrics_histogram(
        m, "flexplace_request_duration_seconds", "Extender request latency by verb.",
        FP_LABEL_NAMES("verb"), fp_metrics_duration_buckets, FP_METRICS_DURATION_BUCKETS_N);
    FpGauge *gen = fp_metrics_gauge(m, "flexplace_policy_generation",
                                    "Generation of the loaded policy.", NULL);
    fp_counter_inc(req, FP_LABELS("filter", "200"));
    fp_counter_add(req, FP_LABELS("prioritize", "200"), 0.5);
    fp_counter_inc(rej, FP_LABELS("say \"hi\"\\path\nnext \xff"));
    for (guint i = 0; i < FP_METRICS_MAX_SERIES + 3; i++) {
        g_autofree char *v = g_strdup_printf("r%u", i);
        fp_counter_inc(rej, FP_LABELS(v));
    }
    fp_histogram_observe(dur, FP_LABELS("filter"), 0.0003);
    fp_histogram_observe(dur, FP_LABELS("filter"), 7);
    fp_gauge_set(gen, NULL, 3);
    fp_metrics_add_collector(m, collect_lint_clean, NULL, NULL);
    fp_metrics_add_standard(m, FP_VERSION);

    g_autofree char *text = fp_metrics_render(m, NULL);
    g_autofree char *output = NULL;
    int rc = promtool_check(promtool, text, &output);
    if (rc != 0) {
        fail_msg("promtool check metrics exited %d:\n%s\n--- input ---\n%s", rc, output, text);
    }

    /* The check can fail: a second TYPE line for a family is rejected. */
    g_autofree char *broken = g_strconcat(text, "# TYPE flexplace_policy_generation gauge\n", NULL);
    g_autofree char *broken_output = NULL;
    assert_int_equal(promtool_check(promtool, broken, &broken_output), 1);
    assert_non_null(strstr(broken_output, "second TYPE line"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_number),
        cmocka_unit_test(test_render_exact),
        cmocka_unit_test(test_respond),
        cmocka_unit_test(test_label_value_canonical),
        cmocka_unit_test(test_series_cap),
        cmocka_unit_test(test_series_cap_other_already_used),
        cmocka_unit_test(test_concurrent_updates),
        cmocka_unit_test(test_registration_rules),
        cmocka_unit_test(test_collector_rules),
        cmocka_unit_test(test_proc_parse_stat),
        cmocka_unit_test(test_proc_parse_btime_limits),
        cmocka_unit_test(test_proc_stats_fixture),
        cmocka_unit_test(test_process_metrics_live),
        cmocka_unit_test(test_promtool),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
