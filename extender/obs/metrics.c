/*
 * extender/obs/metrics.c - metrics registry and Prometheus text renderer.
 *
 * Layout: a family owns a fixed array of series pointers published with a
 * release store of its series count (see the header for why the read side
 * needs no lock).  A series holds its canonical label values (for lookup),
 * its label text already escaped (for rendering), and its value as 64-bit
 * atomics: counters split into a whole-number part (fetch-add) and a
 * fractional part (a double updated by compare-and-swap); gauges and
 * histogram sums are doubles kept as bit patterns; histogram buckets are
 * plain per-bucket counts made cumulative at render time, and _count is
 * their total, so the +Inf bucket always equals _count.
 */
#include "extender/obs/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "extender/obs/proc_stats.h"
#include "scoring/hash.h"

const double fp_metrics_duration_buckets[FP_METRICS_DURATION_BUCKETS_N] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,
};

/* 2^53: doubles below it hold every integer exactly. */
#define EXACT_INT_LIMIT 9007199254740992.0

typedef struct FpFamily FpFamily;

typedef struct {
    const FpFamily *family; /* for the histogram bounds */
    guint32 hash;
    char **values;         /* canonical label values, one per label name */
    size_t *value_lens;    /* their lengths */
    char *labels;          /* `a="x",b="y"` escaped; "" without labels */
    _Atomic uint64_t ints; /* counter: whole-number increments */
    /* Bits of a double: counter: fractional increments; gauge: the value;
     * histogram: the sum of observations. */
    _Atomic uint64_t bits;
    _Atomic uint64_t buckets[]; /* histogram: n_bounds + 1 counts, the last one +Inf */
} FpSeries;

struct FpFamily {
    FpMetrics *registry;
    FpMetricType type;
    char *name;
    char *help; /* escaped, or NULL */
    guint n_labels;
    char **label_names; /* NULL-terminated */
    guint n_bounds;
    double *bounds;
    char **bound_text; /* formatted upper bounds for le="..." */
    /* Slots [0, n_series) are published; written only under registry->lock. */
    FpSeries *slots[FP_METRICS_MAX_SERIES + 1];
    _Atomic guint n_series;
    guint n_regular;              /* series that are not the overflow one (under lock) */
    _Atomic(FpSeries *) overflow; /* set once the cap is reached */
};

typedef struct {
    FpMetricsCollectFn collect;
    void *data;
    GDestroyNotify destroy;
} Collector;

struct FpMetrics {
    /* pthread mutexes rather than GMutex so that ThreadSanitizer sees them. */
    pthread_mutex_t lock;        /* families, names, collectors, series creation */
    pthread_mutex_t render_lock; /* one render at a time */
    GPtrArray *families;
    GHashTable *by_name; /* name -> FpFamily* (borrowed) */
    GArray *collectors;  /* Collector */
    _Atomic uint64_t overflow;
    atomic_bool warned_duplicate;
};

struct FpMetricsWriter {
    FpMetrics *m;
    GString *out;
    GHashTable *seen; /* family names already written, owned strings */
    char *name;       /* current family, NULL when none or rejected */
    char *help;
    FpMetricType type;
    bool header_done;
    guint samples;
};

/* ---- numbers ---- */

static double bits_to_double(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof(d));
    return d;
}

static uint64_t double_to_bits(double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof(bits));
    return bits;
}

static void atomic_add_double(_Atomic uint64_t *bits, double by)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
    for (;;) {
        uint64_t next = double_to_bits(bits_to_double(old) + by);
        if (atomic_compare_exchange_weak_explicit(bits, &old, next, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            return;
        }
    }
}

static double load_double(_Atomic uint64_t *bits)
{
    return bits_to_double(atomic_load_explicit(bits, memory_order_relaxed));
}

const char *fp_metrics_format_number(double v, char *buf)
{
    if (isnan(v)) {
        g_strlcpy(buf, "NaN", FP_METRICS_NUMBER_BUF);
    } else if (isinf(v)) {
        g_strlcpy(buf, v > 0 ? "+Inf" : "-Inf", FP_METRICS_NUMBER_BUF);
    } else if (v == floor(v) && fabs(v) < EXACT_INT_LIMIT) {
        g_snprintf(buf, FP_METRICS_NUMBER_BUF, "%" G_GINT64_FORMAT, (gint64)v);
    } else {
        static const char *const formats[] = {"%.15g", "%.16g", "%.17g"};
        for (guint i = 0; i < G_N_ELEMENTS(formats); i++) {
            g_ascii_formatd(buf, FP_METRICS_NUMBER_BUF, formats[i], v);
            if (g_ascii_strtod(buf, NULL) == v) {
                break;
            }
        }
    }
    return buf;
}

static void append_number(GString *out, double v)
{
    char buf[FP_METRICS_NUMBER_BUF];
    g_string_append(out, fp_metrics_format_number(v, buf));
}

/* ---- names and text ---- */

static bool valid_metric_name(const char *s)
{
    if (!s || !(g_ascii_isalpha(*s) || *s == '_' || *s == ':')) {
        return false;
    }
    for (s++; *s; s++) {
        if (!(g_ascii_isalnum(*s) || *s == '_' || *s == ':')) {
            return false;
        }
    }
    return true;
}

static bool valid_label_name(const char *s)
{
    if (!s || !(g_ascii_isalpha(*s) || *s == '_') || g_str_has_prefix(s, "__")) {
        return false;
    }
    for (s++; *s; s++) {
        if (!(g_ascii_isalnum(*s) || *s == '_')) {
            return false;
        }
    }
    return true;
}

/* Number of names in a NULL-terminated list; G_MAXUINT when any is invalid
 * or duplicated or there are more than FP_METRICS_MAX_LABELS. */
static guint check_label_names(const char *const *names, bool histogram)
{
    guint n = 0;
    for (; names && names[n]; n++) {
        if (n >= FP_METRICS_MAX_LABELS || !valid_label_name(names[n]) ||
            (histogram && strcmp(names[n], "le") == 0)) {
            return G_MAXUINT;
        }
        for (guint j = 0; j < n; j++) {
            if (strcmp(names[j], names[n]) == 0) {
                return G_MAXUINT;
            }
        }
    }
    return n;
}

/* Largest n' <= n such that s[0..n') does not end inside a UTF-8 character
 * (s[n] is the first byte left out and must be readable). */
static size_t utf8_cut(const char *s, size_t n)
{
    while (n > 0 && ((guchar)s[n] & 0xC0) == 0x80) {
        n--;
    }
    return n;
}

/* Append @s (@len bytes, valid UTF-8) escaping '\' and newline, and '"' when
 * @quote is set (label values). */
static void append_escaped(GString *out, const char *s, size_t len, bool quote)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\\') {
            g_string_append(out, "\\\\");
        } else if (c == '\n') {
            g_string_append(out, "\\n");
        } else if (c == '"' && quote) {
            g_string_append(out, "\\\"");
        } else {
            g_string_append_c(out, c);
        }
    }
}

/* Escaped help text (made valid UTF-8), or NULL for none. */
static char *escape_help(const char *help)
{
    if (!help || !*help) {
        return NULL;
    }
    g_autofree char *valid = g_utf8_make_valid(help, -1);
    GString *out = g_string_sized_new(strlen(valid) + 8);
    append_escaped(out, valid, strlen(valid), false);
    return g_string_free(out, FALSE);
}

static const char *type_name(FpMetricType type)
{
    switch (type) {
    case FP_METRIC_COUNTER:
        return "counter";
    case FP_METRIC_GAUGE:
        return "gauge";
    case FP_METRIC_HISTOGRAM:
        return "histogram";
    case FP_METRIC_UNTYPED:
    default:
        return "untyped";
    }
}

static void append_header(GString *out, const char *name, const char *escaped_help,
                          FpMetricType type)
{
    if (escaped_help) {
        g_string_append_printf(out, "# HELP %s %s\n", name, escaped_help);
    }
    g_string_append_printf(out, "# TYPE %s %s\n", name, type_name(type));
}

/* ---- lookup keys ---- */

/* Canonical form of a tuple of label values: each cut to the cap at a
 * character boundary and made valid UTF-8.  Valid values are borrowed from
 * the caller (no allocation on the hot path); fixed ones are owned. */
typedef struct {
    guint n;
    const char *ptr[FP_METRICS_MAX_LABELS];
    size_t len[FP_METRICS_MAX_LABELS];
    char *owned[FP_METRICS_MAX_LABELS];
    guint32 hash;
} Key;

static void key_init(Key *k, guint n, const char *const *values)
{
    k->n = n;
    k->hash = FP_FNV1A_INIT;
    for (guint i = 0; i < n; i++) {
        const char *v = values[i] ? values[i] : "";
        size_t len = strnlen(v, FP_METRICS_MAX_LABEL_VALUE);
        if (len == FP_METRICS_MAX_LABEL_VALUE && v[len] != '\0') {
            len = utf8_cut(v, len);
        }
        k->owned[i] = NULL;
        if (!g_utf8_validate_len(v, len, NULL)) {
            char *fixed = g_utf8_make_valid(v, (gssize)len);
            size_t flen = strlen(fixed);
            if (flen > FP_METRICS_MAX_LABEL_VALUE) {
                flen = utf8_cut(fixed, FP_METRICS_MAX_LABEL_VALUE);
                fixed[flen] = '\0';
            }
            k->owned[i] = fixed;
            v = fixed;
            len = flen;
        }
        k->ptr[i] = v;
        k->len[i] = len;
        /* 0xff never occurs in UTF-8: an unambiguous separator. */
        k->hash = fp_fnv1a(fp_fnv1a(k->hash, v, len), "\xff", 1);
    }
}

static void key_clear(Key *k)
{
    for (guint i = 0; i < k->n; i++) {
        g_free(k->owned[i]);
    }
}

static bool key_matches(const Key *k, const FpSeries *s)
{
    if (s->hash != k->hash) {
        return false;
    }
    for (guint i = 0; i < k->n; i++) {
        if (s->value_lens[i] != k->len[i] || memcmp(s->values[i], k->ptr[i], k->len[i]) != 0) {
            return false;
        }
    }
    return true;
}

/* ---- series ---- */

static FpSeries *series_new(const FpFamily *f, const Key *k)
{
    guint n_buckets = f->type == FP_METRIC_HISTOGRAM ? f->n_bounds + 1 : 0;
    FpSeries *s = g_malloc0(sizeof(FpSeries) + n_buckets * sizeof(_Atomic uint64_t));
    s->family = f;
    s->hash = k->hash;
    s->values = g_new0(char *, f->n_labels + 1);
    s->value_lens = g_new0(size_t, f->n_labels + 1);
    GString *labels = g_string_new(NULL);
    for (guint i = 0; i < f->n_labels; i++) {
        s->values[i] = g_strndup(k->ptr[i], k->len[i]);
        s->value_lens[i] = k->len[i];
        g_string_append_printf(labels, "%s%s=\"", i ? "," : "", f->label_names[i]);
        append_escaped(labels, k->ptr[i], k->len[i], true);
        g_string_append_c(labels, '"');
    }
    s->labels = g_string_free(labels, FALSE);
    atomic_init(&s->ints, 0);
    atomic_init(&s->bits, double_to_bits(0.0));
    for (guint i = 0; i < n_buckets; i++) {
        atomic_init(&s->buckets[i], 0);
    }
    return s;
}

static void series_free(FpSeries *s)
{
    if (s) {
        g_strfreev(s->values);
        g_free(s->value_lens);
        g_free(s->labels);
        g_free(s);
    }
}

/* Published series matching @k, or NULL.  Lock-free. */
static FpSeries *family_find(FpFamily *f, const Key *k)
{
    guint n = atomic_load_explicit(&f->n_series, memory_order_acquire);
    for (guint i = 0; i < n; i++) {
        if (key_matches(k, f->slots[i])) {
            return f->slots[i];
        }
    }
    return NULL;
}

/* Caller holds the registry lock. */
static void family_publish_locked(FpFamily *f, FpSeries *s)
{
    guint n = atomic_load_explicit(&f->n_series, memory_order_relaxed);
    g_assert(n < G_N_ELEMENTS(f->slots));
    f->slots[n] = s;
    atomic_store_explicit(&f->n_series, n + 1, memory_order_release);
}

/* The overflow series, created (or adopted, when "other" for every label is
 * already a regular series) on first need.  Caller holds the registry lock. */
static FpSeries *family_overflow_locked(FpFamily *f)
{
    FpSeries *s = atomic_load_explicit(&f->overflow, memory_order_acquire);
    if (s) {
        return s;
    }
    const char *values[FP_METRICS_MAX_LABELS];
    for (guint i = 0; i < f->n_labels; i++) {
        values[i] = FP_METRICS_OVERFLOW_VALUE;
    }
    Key k;
    key_init(&k, f->n_labels, values);
    s = family_find(f, &k);
    if (!s) {
        s = series_new(f, &k);
        family_publish_locked(f, s);
    }
    key_clear(&k);
    atomic_store_explicit(&f->overflow, s, memory_order_release);
    return s;
}

/* The series of @values: found without a lock, else created under the lock
 * (or the overflow series past the cap).  With @create false, NULL when absent. */
static FpSeries *family_series(FpFamily *f, const char *const *values, bool create)
{
    if (f->n_labels == 0) {
        return f->slots[0];
    }
    g_return_val_if_fail(values != NULL, NULL);
    Key k;
    key_init(&k, f->n_labels, values);
    FpSeries *s = family_find(f, &k);
    if (!s && create) {
        FpSeries *overflow = atomic_load_explicit(&f->overflow, memory_order_acquire);
        if (overflow) {
            /* Cap reached: no lock for hostile values either. */
            atomic_fetch_add_explicit(&f->registry->overflow, 1, memory_order_relaxed);
            s = overflow;
        } else {
            pthread_mutex_lock(&f->registry->lock);
            s = family_find(f, &k);
            if (!s && f->n_regular < FP_METRICS_MAX_SERIES) {
                s = series_new(f, &k);
                family_publish_locked(f, s);
                f->n_regular++;
            } else if (!s) {
                atomic_fetch_add_explicit(&f->registry->overflow, 1, memory_order_relaxed);
                s = family_overflow_locked(f);
            }
            pthread_mutex_unlock(&f->registry->lock);
        }
    }
    key_clear(&k);
    return s;
}

/* ---- families ---- */

static void family_free(FpFamily *f)
{
    guint n = atomic_load_explicit(&f->n_series, memory_order_acquire);
    for (guint i = 0; i < n; i++) {
        series_free(f->slots[i]);
    }
    g_free(f->name);
    g_free(f->help);
    g_strfreev(f->label_names);
    g_free(f->bounds);
    g_strfreev(f->bound_text);
    g_free(f);
}

static bool same_shape(const FpFamily *f, FpMetricType type, const char *const *label_names,
                       guint n_labels, const double *bounds, guint n_bounds)
{
    if (f->type != type || f->n_labels != n_labels || f->n_bounds != n_bounds) {
        return false;
    }
    for (guint i = 0; i < n_labels; i++) {
        if (strcmp(f->label_names[i], label_names[i]) != 0) {
            return false;
        }
    }
    for (guint i = 0; i < n_bounds; i++) {
        if (f->bounds[i] != bounds[i]) {
            return false;
        }
    }
    return true;
}

static FpFamily *register_family(FpMetrics *m, FpMetricType type, const char *name,
                                 const char *help, const char *const *label_names,
                                 const double *bounds, guint n_bounds)
{
    g_return_val_if_fail(m != NULL, NULL);
    g_return_val_if_fail(valid_metric_name(name), NULL);
    guint n_labels = check_label_names(label_names, type == FP_METRIC_HISTOGRAM);
    g_return_val_if_fail(n_labels != G_MAXUINT, NULL);

    pthread_mutex_lock(&m->lock);
    FpFamily *f = g_hash_table_lookup(m->by_name, name);
    if (f) {
        bool same = same_shape(f, type, label_names, n_labels, bounds, n_bounds);
        pthread_mutex_unlock(&m->lock);
        g_return_val_if_fail(same, NULL);
        return f;
    }
    f = g_new0(FpFamily, 1);
    f->registry = m;
    f->type = type;
    f->name = g_strdup(name);
    f->help = escape_help(help);
    f->n_labels = n_labels;
    f->label_names = g_new0(char *, n_labels + 1);
    for (guint i = 0; i < n_labels; i++) {
        f->label_names[i] = g_strdup(label_names[i]);
    }
    if (n_bounds > 0) {
        f->n_bounds = n_bounds;
        f->bounds = g_new(double, n_bounds);
        memcpy(f->bounds, bounds, n_bounds * sizeof(double));
        f->bound_text = g_new0(char *, n_bounds + 1);
        for (guint i = 0; i < n_bounds; i++) {
            char buf[FP_METRICS_NUMBER_BUF];
            f->bound_text[i] = g_strdup(fp_metrics_format_number(bounds[i], buf));
        }
    }
    atomic_init(&f->n_series, 0);
    atomic_init(&f->overflow, NULL);
    if (n_labels == 0) {
        Key k;
        key_init(&k, 0, NULL);
        family_publish_locked(f, series_new(f, &k));
        f->n_regular = 1;
    }
    g_ptr_array_add(m->families, f);
    g_hash_table_insert(m->by_name, f->name, f);
    pthread_mutex_unlock(&m->lock);
    return f;
}

FpCounter *fp_metrics_counter(FpMetrics *m, const char *name, const char *help,
                              const char *const *label_names)
{
    return (FpCounter *)register_family(m, FP_METRIC_COUNTER, name, help, label_names, NULL, 0);
}

FpGauge *fp_metrics_gauge(FpMetrics *m, const char *name, const char *help,
                          const char *const *label_names)
{
    return (FpGauge *)register_family(m, FP_METRIC_GAUGE, name, help, label_names, NULL, 0);
}

FpHistogram *fp_metrics_histogram(FpMetrics *m, const char *name, const char *help,
                                  const char *const *label_names, const double *buckets,
                                  guint n_buckets)
{
    g_return_val_if_fail(buckets != NULL && n_buckets > 0, NULL);
    /* A trailing +Inf is implicit. */
    if (n_buckets > 1 && isinf(buckets[n_buckets - 1]) && buckets[n_buckets - 1] > 0) {
        n_buckets--;
    }
    g_return_val_if_fail(n_buckets <= FP_METRICS_MAX_BUCKETS, NULL);
    for (guint i = 0; i < n_buckets; i++) {
        g_return_val_if_fail(isfinite(buckets[i]), NULL);
        g_return_val_if_fail(i == 0 || buckets[i] > buckets[i - 1], NULL);
    }
    return (FpHistogram *)register_family(m, FP_METRIC_HISTOGRAM, name, help, label_names, buckets,
                                          n_buckets);
}

/* ---- series handles and updates ---- */

FpCounterSeries *fp_counter_with(FpCounter *c, const char *const *label_values)
{
    return c ? (FpCounterSeries *)family_series((FpFamily *)c, label_values, true) : NULL;
}

FpGaugeSeries *fp_gauge_with(FpGauge *g, const char *const *label_values)
{
    return g ? (FpGaugeSeries *)family_series((FpFamily *)g, label_values, true) : NULL;
}

FpHistogramSeries *fp_histogram_with(FpHistogram *h, const char *const *label_values)
{
    return h ? (FpHistogramSeries *)family_series((FpFamily *)h, label_values, true) : NULL;
}

void fp_counter_series_add(FpCounterSeries *cs, double by)
{
    FpSeries *s = (FpSeries *)cs;
    if (!s) {
        return;
    }
    g_return_if_fail(by >= 0); /* also rejects NaN */
    if (by < EXACT_INT_LIMIT && by == floor(by)) {
        atomic_fetch_add_explicit(&s->ints, (uint64_t)by, memory_order_relaxed);
    } else {
        atomic_add_double(&s->bits, by);
    }
}

void fp_counter_add(FpCounter *c, const char *const *label_values, double by)
{
    fp_counter_series_add(fp_counter_with(c, label_values), by);
}

void fp_gauge_series_set(FpGaugeSeries *gs, double v)
{
    FpSeries *s = (FpSeries *)gs;
    if (s) {
        atomic_store_explicit(&s->bits, double_to_bits(v), memory_order_relaxed);
    }
}

void fp_gauge_series_add(FpGaugeSeries *gs, double by)
{
    FpSeries *s = (FpSeries *)gs;
    if (s) {
        atomic_add_double(&s->bits, by);
    }
}

void fp_gauge_set(FpGauge *g, const char *const *label_values, double v)
{
    fp_gauge_series_set(fp_gauge_with(g, label_values), v);
}

void fp_gauge_add(FpGauge *g, const char *const *label_values, double by)
{
    fp_gauge_series_add(fp_gauge_with(g, label_values), by);
}

void fp_histogram_series_observe(FpHistogramSeries *hs, double v)
{
    FpSeries *s = (FpSeries *)hs;
    if (!s || isnan(v)) {
        return;
    }
    const FpFamily *f = s->family;
    /* First bound >= v; n_bounds (the +Inf bucket) when none. */
    guint lo = 0, hi = f->n_bounds;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        if (v <= f->bounds[mid]) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    atomic_fetch_add_explicit(&s->buckets[lo], 1, memory_order_relaxed);
    atomic_add_double(&s->bits, v);
}

void fp_histogram_observe(FpHistogram *h, const char *const *label_values, double v)
{
    fp_histogram_series_observe(fp_histogram_with(h, label_values), v);
}

/* ---- reading back ---- */

static double counter_value(FpSeries *s)
{
    return (double)atomic_load_explicit(&s->ints, memory_order_relaxed) + load_double(&s->bits);
}

static guint64 histogram_total(FpSeries *s)
{
    guint64 total = 0;
    for (guint i = 0; i <= s->family->n_bounds; i++) {
        total += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
    }
    return total;
}

double fp_counter_get(FpCounter *c, const char *const *label_values)
{
    FpSeries *s = c ? family_series((FpFamily *)c, label_values, false) : NULL;
    return s ? counter_value(s) : 0;
}

double fp_gauge_get(FpGauge *g, const char *const *label_values)
{
    FpSeries *s = g ? family_series((FpFamily *)g, label_values, false) : NULL;
    return s ? load_double(&s->bits) : 0;
}

guint64 fp_histogram_get_count(FpHistogram *h, const char *const *label_values)
{
    FpSeries *s = h ? family_series((FpFamily *)h, label_values, false) : NULL;
    return s ? histogram_total(s) : 0;
}

double fp_histogram_get_sum(FpHistogram *h, const char *const *label_values)
{
    FpSeries *s = h ? family_series((FpFamily *)h, label_values, false) : NULL;
    return s ? load_double(&s->bits) : 0;
}

guint fp_metrics_series_count(FpMetrics *m, const char *name)
{
    g_return_val_if_fail(m != NULL && name != NULL, 0);
    pthread_mutex_lock(&m->lock);
    FpFamily *f = g_hash_table_lookup(m->by_name, name);
    guint n = f ? atomic_load_explicit(&f->n_series, memory_order_acquire) : 0;
    pthread_mutex_unlock(&m->lock);
    return n;
}

guint64 fp_metrics_overflow_count(FpMetrics *m)
{
    return m ? atomic_load_explicit(&m->overflow, memory_order_relaxed) : 0;
}

/* ---- registry ---- */

FpMetrics *fp_metrics_new(void)
{
    FpMetrics *m = g_new0(FpMetrics, 1);
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->render_lock, NULL);
    m->families = g_ptr_array_new_with_free_func((GDestroyNotify)family_free);
    m->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    m->collectors = g_array_new(FALSE, TRUE, sizeof(Collector));
    atomic_init(&m->overflow, 0);
    atomic_init(&m->warned_duplicate, false);
    return m;
}

void fp_metrics_free(FpMetrics *m)
{
    if (!m) {
        return;
    }
    for (guint i = 0; i < m->collectors->len; i++) {
        Collector *c = &g_array_index(m->collectors, Collector, i);
        if (c->destroy) {
            c->destroy(c->data);
        }
    }
    g_array_unref(m->collectors);
    g_hash_table_unref(m->by_name);
    g_ptr_array_unref(m->families);
    pthread_mutex_destroy(&m->lock);
    pthread_mutex_destroy(&m->render_lock);
    g_free(m);
}

void fp_metrics_add_collector(FpMetrics *m, FpMetricsCollectFn collect, void *data,
                              GDestroyNotify destroy)
{
    g_return_if_fail(m != NULL && collect != NULL);
    Collector c = {collect, data, destroy};
    pthread_mutex_lock(&m->lock);
    g_array_append_val(m->collectors, c);
    pthread_mutex_unlock(&m->lock);
}

/* ---- collector writer ---- */

static void writer_end_family(FpMetricsWriter *w)
{
    g_clear_pointer(&w->name, g_free);
    g_clear_pointer(&w->help, g_free);
    w->header_done = false;
    w->samples = 0;
}

void fp_metrics_writer_family(FpMetricsWriter *w, const char *name, const char *help,
                              FpMetricType type)
{
    g_return_if_fail(w != NULL);
    writer_end_family(w);
    g_return_if_fail(valid_metric_name(name));
    g_return_if_fail(type == FP_METRIC_COUNTER || type == FP_METRIC_GAUGE ||
                     type == FP_METRIC_UNTYPED);
    if (g_hash_table_contains(w->seen, name)) {
        if (!atomic_exchange(&w->m->warned_duplicate, true)) {
            g_warning("metrics: collector family %s is already rendered; skipped", name);
        }
        return;
    }
    g_hash_table_add(w->seen, g_strdup(name));
    w->name = g_strdup(name);
    w->help = escape_help(help);
    w->type = type;
}

void fp_metrics_writer_sample(FpMetricsWriter *w, const char *const *label_names,
                              const char *const *label_values, double value)
{
    g_return_if_fail(w != NULL);
    if (!w->name) {
        return; /* no family, or a rejected one */
    }
    guint n = 0;
    for (; label_names && label_names[n]; n++) {
        g_return_if_fail(valid_label_name(label_names[n]));
    }
    g_return_if_fail(n == 0 || label_values != NULL);
    if (w->samples >= FP_METRICS_MAX_COLLECTOR_SAMPLES) {
        atomic_fetch_add_explicit(&w->m->overflow, 1, memory_order_relaxed);
        return;
    }
    if (!w->header_done) {
        append_header(w->out, w->name, w->help, w->type);
        w->header_done = true;
    }
    w->samples++;
    g_string_append(w->out, w->name);
    for (guint i = 0; i < n; i++) {
        const char *v = label_values[i] ? label_values[i] : "";
        g_autofree char *valid = g_utf8_make_valid(v, -1);
        g_string_append_printf(w->out, "%s%s=\"", i ? "," : "{", label_names[i]);
        append_escaped(w->out, valid, strlen(valid), true);
        g_string_append_c(w->out, '"');
    }
    g_string_append(w->out, n ? "} " : " ");
    append_number(w->out, value);
    g_string_append_c(w->out, '\n');
}

/* ---- rendering ---- */

/* `name{labels[,extra]} ` */
static void append_series_name(GString *out, const char *name, const char *suffix,
                               const char *labels, const char *extra)
{
    g_string_append(out, name);
    g_string_append(out, suffix);
    bool has_labels = labels && *labels;
    if (has_labels || extra) {
        g_string_append_c(out, '{');
        if (has_labels) {
            g_string_append(out, labels);
        }
        if (extra) {
            if (has_labels) {
                g_string_append_c(out, ',');
            }
            g_string_append(out, extra);
        }
        g_string_append_c(out, '}');
    }
    g_string_append_c(out, ' ');
}

static void render_family(GString *out, FpFamily *f)
{
    guint n = atomic_load_explicit(&f->n_series, memory_order_acquire);
    if (n == 0) {
        return;
    }
    append_header(out, f->name, f->help, f->type);
    for (guint i = 0; i < n; i++) {
        FpSeries *s = f->slots[i];
        switch (f->type) {
        case FP_METRIC_COUNTER:
            append_series_name(out, f->name, "", s->labels, NULL);
            append_number(out, counter_value(s));
            g_string_append_c(out, '\n');
            break;
        case FP_METRIC_HISTOGRAM: {
            guint64 cumulative = 0;
            for (guint b = 0; b <= f->n_bounds; b++) {
                cumulative += atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
                g_autofree char *le =
                    g_strdup_printf("le=\"%s\"", b < f->n_bounds ? f->bound_text[b] : "+Inf");
                append_series_name(out, f->name, "_bucket", s->labels, le);
                g_string_append_printf(out, "%" G_GUINT64_FORMAT "\n", cumulative);
            }
            append_series_name(out, f->name, "_sum", s->labels, NULL);
            append_number(out, load_double(&s->bits));
            g_string_append_c(out, '\n');
            append_series_name(out, f->name, "_count", s->labels, NULL);
            g_string_append_printf(out, "%" G_GUINT64_FORMAT "\n", cumulative);
            break;
        }
        case FP_METRIC_GAUGE:
        case FP_METRIC_UNTYPED:
        default:
            append_series_name(out, f->name, "", s->labels, NULL);
            append_number(out, load_double(&s->bits));
            g_string_append_c(out, '\n');
            break;
        }
    }
}

char *fp_metrics_render(FpMetrics *m, size_t *len)
{
    g_return_val_if_fail(m != NULL, NULL);
    pthread_mutex_lock(&m->render_lock);

    /* Snapshot the lists; families and collectors live until fp_metrics_free. */
    pthread_mutex_lock(&m->lock);
    guint n_families = m->families->len;
    FpFamily **families = g_new(FpFamily *, n_families + 1);
    for (guint i = 0; i < n_families; i++) {
        families[i] = g_ptr_array_index(m->families, i);
    }
    GArray *collectors = g_array_copy(m->collectors);
    pthread_mutex_unlock(&m->lock);

    FpMetricsWriter w = {
        .m = m,
        .out = g_string_sized_new(4096),
        .seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
    };
    for (guint i = 0; i < n_families; i++) {
        g_hash_table_add(w.seen, g_strdup(families[i]->name));
        render_family(w.out, families[i]);
    }
    for (guint i = 0; i < collectors->len; i++) {
        Collector *c = &g_array_index(collectors, Collector, i);
        c->collect(&w, c->data);
        writer_end_family(&w);
    }
    g_hash_table_unref(w.seen);
    g_array_unref(collectors);
    g_free(families);
    pthread_mutex_unlock(&m->render_lock);

    if (len) {
        *len = w.out->len;
    }
    return g_string_free(w.out, FALSE);
}

/* ---- standard collectors ---- */

static void collect_process(FpMetricsWriter *w, void *data)
{
    FpProcStats st;
    fp_proc_stats_read(data, &st);
    const struct {
        bool have;
        const char *name;
        const char *help;
        FpMetricType type;
        double value;
    } rows[] = {
        {st.have_cpu, "process_cpu_seconds_total",
         "Total user and system CPU time spent in seconds.", FP_METRIC_COUNTER, st.cpu_seconds},
        {st.have_rss, "process_resident_memory_bytes", "Resident memory size in bytes.",
         FP_METRIC_GAUGE, st.resident_bytes},
        {st.have_vsize, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
         FP_METRIC_GAUGE, st.virtual_bytes},
        {st.have_open_fds, "process_open_fds", "Number of open file descriptors.", FP_METRIC_GAUGE,
         st.open_fds},
        {st.have_max_fds, "process_max_fds", "Maximum number of open file descriptors.",
         FP_METRIC_GAUGE, st.max_fds},
        {st.have_start, "process_start_time_seconds",
         "Start time of the process since unix epoch in seconds.", FP_METRIC_GAUGE, st.start_time},
    };
    for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
        if (rows[i].have) {
            fp_metrics_writer_family(w, rows[i].name, rows[i].help, rows[i].type);
            fp_metrics_writer_sample(w, NULL, NULL, rows[i].value);
        }
    }
}

void fp_metrics_add_process_collector(FpMetrics *m)
{
    fp_metrics_add_collector(m, collect_process, NULL, NULL);
}

static void collect_overflow(FpMetricsWriter *w, void *data)
{
    FpMetrics *m = data;
    fp_metrics_writer_family(w, "flexplace_metrics_overflow_total",
                             "Metric updates folded into an \"other\" series because a metric "
                             "reached its series cap, plus collector samples dropped.",
                             FP_METRIC_COUNTER);
    fp_metrics_writer_sample(w, NULL, NULL, (double)fp_metrics_overflow_count(m));
}

void fp_metrics_add_standard(FpMetrics *m, const char *version)
{
    g_return_if_fail(m != NULL);
    FpGauge *info = fp_metrics_gauge(m, "flexplace_build_info",
                                     "A metric with a constant '1' value labeled by the version "
                                     "of flexplace.",
                                     FP_LABEL_NAMES("version"));
    fp_gauge_set(info, FP_LABELS(version ? version : "unknown"), 1);
    fp_metrics_add_collector(m, collect_overflow, m, NULL);
    fp_metrics_add_process_collector(m);
}
