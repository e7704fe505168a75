/*
 * extender/server/unmet.c - unmet GPU demand as metrics (contract in the
 * header).
 */
#include "extender/server/unmet.h"

#include <string.h>

#include "extender/server/reasons.h"

typedef struct {
    char *ns;
    char *name;
    char *pool;
    char *sku;
    char *region;
    gint64 gpus;
    gint64 first_us;
    gint64 last_us;
} Entry;

struct FpUnmet {
    FpView *view;
    GMutex lock;
    GHashTable *pods; /* uid -> Entry* */
};

static void entry_free(gpointer p)
{
    Entry *e = p;
    g_free(e->ns);
    g_free(e->name);
    g_free(e->pool);
    g_free(e->sku);
    g_free(e->region);
    g_free(e);
}

FpUnmet *fp_unmet_new(FpView *view)
{
    FpUnmet *u = g_new0(FpUnmet, 1);
    u->view = view;
    g_mutex_init(&u->lock);
    u->pods = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, entry_free);
    return u;
}

void fp_unmet_free(FpUnmet *u)
{
    if (!u) {
        return;
    }
    g_hash_table_unref(u->pods);
    g_mutex_clear(&u->lock);
    g_free(u);
}

void fp_unmet_record(FpUnmet *u, const char *uid, const char *ns, const char *name, gint64 gpus,
                     const FpScaleUp *scale_up)
{
    if (!uid || !*uid) {
        return;
    }
    gint64 now = g_get_monotonic_time();
    g_mutex_lock(&u->lock);
    Entry *e = g_hash_table_lookup(u->pods, uid);
    if (!e && g_hash_table_size(u->pods) < FP_UNMET_MAX_PODS) {
        e = g_new0(Entry, 1);
        e->first_us = now;
        e->ns = g_strdup(ns);
        e->name = g_strdup(name);
        g_hash_table_insert(u->pods, g_strdup(uid), e);
    }
    if (e) {
        g_free(e->pool);
        g_free(e->sku);
        g_free(e->region);
        bool fits = scale_up && scale_up->fits;
        e->pool = g_strdup(fits ? scale_up->pool : "");
        e->sku = g_strdup(fits ? scale_up->product : "");
        e->region = g_strdup(fits ? scale_up->region : "");
        e->gpus = gpus;
        e->last_us = now;
    }
    g_mutex_unlock(&u->lock);
}

void fp_unmet_forget(FpUnmet *u, const char *uid)
{
    g_mutex_lock(&u->lock);
    g_hash_table_remove(u->pods, uid);
    g_mutex_unlock(&u->lock);
}

/* Whether the view says the pod ended its wait: bound, or gone. */
static bool ended_in_view(FpView *view, const char *uid, const Entry *e, gint64 now_us)
{
    const FpPod *pod = fp_view_pod_locked(view, uid);
    if (pod) {
        return pod->node_name && *pod->node_name;
    }
    return now_us - e->first_us > (gint64)(FP_UNMET_GONE_GRACE_S * G_TIME_SPAN_SECOND);
}

void fp_unmet_expire(FpUnmet *u, gint64 now_us)
{
    fp_view_read_lock(u->view);
    g_mutex_lock(&u->lock);
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, u->pods);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        const Entry *e = value;
        bool stale = now_us - e->last_us > (gint64)(FP_UNMET_TTL_S * G_TIME_SPAN_SECOND);
        if (stale || ended_in_view(u->view, key, e, now_us)) {
            g_hash_table_iter_remove(&it);
        }
    }
    g_mutex_unlock(&u->lock);
    fp_view_read_unlock(u->view);
}

guint fp_unmet_count(FpUnmet *u)
{
    g_mutex_lock(&u->lock);
    guint n = g_hash_table_size(u->pods);
    g_mutex_unlock(&u->lock);
    return n;
}

typedef struct {
    double gpus;
    double pods;
} Sum;

static void collect(FpMetricsWriter *w, void *data)
{
    FpUnmet *u = data;
    fp_unmet_expire(u, g_get_monotonic_time());
    GHashTable *sums = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_mutex_lock(&u->lock);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, u->pods);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        const Entry *e = value;
        char *key = g_strjoin("\x1f", e->pool, e->sku, e->region, NULL);
        Sum *s = g_hash_table_lookup(sums, key);
        if (!s) {
            s = g_new0(Sum, 1);
            g_hash_table_insert(sums, key, s);
        } else {
            g_free(key);
        }
        s->gpus += (double)e->gpus;
        s->pods += 1;
    }
    g_mutex_unlock(&u->lock);
    static const char *const labels[] = {"pool", "sku", "region", NULL};
    for (int family = 0; family < 2; family++) {
        fp_metrics_writer_family(
            w, family == 0 ? "flexplace_unmet_gpus" : "flexplace_unmet_pods",
            family == 0 ? "GPUs requested by pods that fit no existing node, by where they would "
                          "fit after a scale-up (pool, sku, region; empty when unknown)"
                        : "Pods that fit no existing node, by where they would fit after a "
                          "scale-up",
            FP_METRIC_GAUGE);
        GHashTableIter si;
        gpointer k, v;
        g_hash_table_iter_init(&si, sums);
        while (g_hash_table_iter_next(&si, &k, &v)) {
            g_auto(GStrv) parts = g_strsplit(k, "\x1f", 3);
            const char *values[] = {parts[0], parts[1] ? parts[1] : "",
                                    parts[1] && parts[2] ? parts[2] : ""};
            const Sum *s = v;
            fp_metrics_writer_sample(w, labels, values, family == 0 ? s->gpus : s->pods);
        }
    }
    g_hash_table_unref(sums);
}

void fp_unmet_register(FpUnmet *u, FpMetrics *m)
{
    fp_metrics_add_collector(m, collect, u, NULL);
}

/* ---- the Event's note -------------------------------------------------- */

typedef struct {
    const char *reason;
    guint count;
} Tally;

static void tally(const char *reason, guint count, void *data)
{
    GArray *a = data;
    for (guint i = 0; i < a->len; i++) {
        Tally *t = &g_array_index(a, Tally, i);
        if (t->reason == reason || g_strcmp0(t->reason, reason) == 0) {
            t->count += count;
            return;
        }
    }
    Tally t = {reason, count};
    g_array_append_val(a, t);
}

static gint by_count(gconstpointer a, gconstpointer b)
{
    const Tally *x = a, *y = b;
    if (x->count != y->count) {
        return x->count > y->count ? -1 : 1;
    }
    return g_strcmp0(x->reason, y->reason);
}

/* "8 x nvidia.com/gpu (NVIDIA-L4, NVIDIA-A10G), >= 40 GiB per GPU, within
 * 40 ms of eastus, <= $1.00/h" */
static void describe_demand(GString *out, const FpDemand *d)
{
    g_string_append_printf(out, "%" G_GINT64_FORMAT " x %s", (gint64)d->count, d->resource);
    char *const *skus = d->allowed_skus ? d->allowed_skus : d->profile->allowed_skus;
    if (skus && skus[0]) {
        g_autofree char *list = g_strjoinv(", ", (char **)skus);
        g_string_append_printf(out, " (%s)", list);
    }
    if (d->min_gpu_memory_mib > 0) {
        g_string_append_printf(out, ", >= %g GiB per GPU", d->min_gpu_memory_mib / 1024.0);
    }
    if (d->n_origins > 0 && d->max_latency_ms >= 0) {
        g_string_append_printf(out, ", within %g ms of ", d->max_latency_ms);
        for (guint i = 0; i < d->n_origins; i++) {
            g_string_append_printf(out, "%s%s", i ? "+" : "", d->origins[i].region);
        }
    }
    if (d->max_price >= 0) {
        g_string_append_printf(out, ", <= $%.2f/h", d->max_price);
    }
    if (d->profile->avoid_spot) {
        g_string_append(out, ", no spot");
    }
}

char *fp_unmet_event_note(const FpPlacement *p)
{
    GString *out = g_string_new(NULL);
    describe_demand(out, p->demand);
    g_autoptr(GArray) reasons = g_array_new(FALSE, FALSE, sizeof(Tally));
    fp_count_reasons(p, tally, reasons);
    g_array_sort(reasons, by_count);
    g_string_append(out, ": no node fits");
    if (p->n == 0) {
        g_string_append(out, " (no candidate nodes)");
    }
    for (guint i = 0; i < reasons->len && i < FP_EVENT_MAX_REASONS; i++) {
        const Tally *t = &g_array_index(reasons, Tally, i);
        g_string_append_printf(out, "%s%s", i ? "; " : " (", t->reason ? t->reason : "rejected");
    }
    if (reasons->len) {
        g_string_append_c(out, ')');
    }
    if (p->scale_up) {
        g_string_append_printf(out, "; %s", p->scale_up->text);
    }
    return g_string_free(out, FALSE);
}
