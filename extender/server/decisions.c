/*
 * extender/server/decisions.c - the bounded decision ring (see decisions.h).
 */
#include "extender/server/decisions.h"

#include "extender/server/reasons.h"

#include <math.h>
#include <string.h>

typedef struct {
    char *node;
    bool pass;
    bool listed; /* passed and named in the filter's answer (not cut by the short list) */
    bool unresolvable;
    const char *reason; /* interned */
    float term[FP_N_TERMS];
    guint8 active; /* bit per term */
    float total;
    gint8 score;
    gint64 gpus_free;
} NodeVerdict;

typedef struct {
    gint64 time_us;   /* wall clock */
    const char *verb; /* static */
    char *ns;
    char *name;
    char *uid;
    char *profile;
    char *resource;
    char *device;     /* the best node's device (fp_verdict_device_name), or NULL */
    char *model;      /* the model the pod names, or NULL */
    char *model_note; /* why there are no model terms, or NULL */
    bool model_known;
    bool has_model; /* the pod says something about a model */
    bool tts_known; /* the best node's time-to-serve estimate, in tts */
    FpTts tts;
    gint64 count;
    guint64 policy_generation;
    gint64 duration_us;
    char *error;
    char *bound_node; /* bind */
    guint n_total;
    guint n_passed;
    guint short_list; /* K applied (FpPlacement.short_list), 0 = none */
    guint n_listed;   /* passing nodes the filter's answer named */
    NodeVerdict *verdicts;
    guint n_verdicts;
    GHashTable *rejections; /* interned reason -> count */
    json_t *scale_up;       /* fp_scale_up_to_json, or NULL */
} Decision;

struct FpDecisionRing {
    GMutex lock;
    Decision **slots;
    guint capacity;
    guint next;
    guint size;
    guint max_nodes;
};

static void decision_free(Decision *d)
{
    if (!d) {
        return;
    }
    json_decref(d->scale_up);
    for (guint i = 0; i < d->n_verdicts; i++) {
        g_free(d->verdicts[i].node);
    }
    g_free(d->verdicts);
    if (d->rejections) {
        g_hash_table_unref(d->rejections);
    }
    g_free(d->ns);
    g_free(d->name);
    g_free(d->uid);
    g_free(d->profile);
    g_free(d->resource);
    g_free(d->device);
    g_free(d->model);
    g_free(d->model_note);
    g_free(d->error);
    g_free(d->bound_node);
    g_free(d);
}

FpDecisionRing *fp_decision_ring_new(guint capacity, guint max_nodes)
{
    FpDecisionRing *ring = g_new0(FpDecisionRing, 1);
    g_mutex_init(&ring->lock);
    ring->capacity = MAX(capacity, 1);
    ring->max_nodes = max_nodes;
    ring->slots = g_new0(Decision *, ring->capacity);
    return ring;
}

void fp_decision_ring_free(FpDecisionRing *ring)
{
    if (!ring) {
        return;
    }
    for (guint i = 0; i < ring->capacity; i++) {
        decision_free(ring->slots[i]);
    }
    g_free(ring->slots);
    g_mutex_clear(&ring->lock);
    g_free(ring);
}

static void push(FpDecisionRing *ring, Decision *d)
{
    g_mutex_lock(&ring->lock);
    Decision *old = ring->slots[ring->next];
    ring->slots[ring->next] = d;
    ring->next = (ring->next + 1) % ring->capacity;
    if (ring->size < ring->capacity) {
        ring->size++;
    }
    g_mutex_unlock(&ring->lock);
    decision_free(old); /* outside the lock */
}

/* A passing verdict's rank key, copied out of the 184-byte verdicts so
 * that selecting and sorting read a dense array instead of missing the
 * cache at every comparison. */
typedef struct {
    double total;
    guint i; /* index of the verdict */
} Ranked;

/* Passing nodes best first (higher total; within 1e-12, request order). */
static gint ranked_order(gconstpointer a, gconstpointer b, gpointer data)
{
    (void)data;
    const Ranked *x = a, *y = b;
    if (fabs(x->total - y->total) > 1e-12) {
        return x->total > y->total ? -1 : 1;
    }
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Add @count rejections for @reason (interned here) to @table. */
/* Add @count to @reason's entry in the rejections table (@data): each
 * distinct reason is interned once (g_intern_string takes a global lock). */
static void count_rejection(const char *reason, guint count, void *data)
{
    GHashTable *table = data;
    const char *r = g_intern_string(reason);
    guint c = GPOINTER_TO_UINT(g_hash_table_lookup(table, r));
    g_hash_table_insert(table, (gpointer)r, GUINT_TO_POINTER(c + count));
}

/* Reorder @a[0..n) so that its first @k entries are the @k first in
 * ranked_order (in any order): quickselect, O(n) on average. */
static void select_first(Ranked *a, guint n, guint k)
{
    guint lo = 0, hi = n; /* the k-th boundary lies in [lo, hi) */
    while (hi - lo > 1) {
        Ranked pivot = a[lo + (hi - lo) / 2];
        /* three-way partition: < pivot, == pivot, > pivot */
        guint lt = lo, i = lo, gt = hi;
        while (i < gt) {
            gint c = ranked_order(&a[i], &pivot, NULL);
            if (c < 0) {
                Ranked t = a[lt];
                a[lt++] = a[i];
                a[i++] = t;
            } else if (c > 0) {
                Ranked t = a[--gt];
                a[gt] = a[i];
                a[i] = t;
            } else {
                i++;
            }
        }
        if (k < lt) {
            hi = lt;
        } else if (k > gt) {
            lo = gt;
        } else {
            return;
        }
    }
}

void fp_decision_record(FpDecisionRing *ring, const char *verb, const FpPod *pod,
                        const FpPlacement *p, const char *const *names, guint64 policy_generation,
                        gint64 duration_us, const char *error)
{
    Decision *d = g_new0(Decision, 1);
    d->time_us = g_get_real_time();
    d->verb = verb;
    d->ns = g_strdup(pod->ns);
    d->name = g_strdup(pod->name);
    d->uid = g_strdup(pod->uid);
    d->policy_generation = policy_generation;
    d->duration_us = duration_us;
    d->error = g_strdup(error);
    d->rejections = g_hash_table_new(g_direct_hash, g_direct_equal);
    if (p) {
        d->profile = g_strdup(p->demand->profile_name);
        d->resource = g_strdup(p->demand->resource);
        d->count = p->demand->count;
        /* The model, and once per decision why it has no model terms. */
        d->has_model = pod->model != NULL && !p->demand->invalid_reason;
        d->model = d->has_model ? g_strdup(pod->model->name) : NULL;
        d->model_known = p->demand->model_known;
        d->model_note = d->has_model ? g_strdup(p->demand->model_note) : NULL;
        if (p->best >= 0) {
            char device[FP_DEVICE_DESCRIBE_MAX];
            d->device =
                g_strdup(fp_verdict_device_name(&p->verdicts[p->best], device, sizeof device));
            d->tts_known = p->verdicts[p->best].tts_known;
            d->tts = p->verdicts[p->best].tts;
        }
        d->scale_up = p->scale_up ? fp_scale_up_to_json(p->scale_up) : NULL;
        d->n_total = p->n;
        g_autofree Ranked *ranked = g_new(Ranked, MAX(p->n, 1));
        guint n_ranked = 0;
        for (guint i = 0; i < p->n; i++) {
            if (p->verdicts[i].pass) {
                ranked[n_ranked++] = (Ranked){p->verdicts[i].total, i};
            }
        }
        d->n_passed = fp_count_reasons(p, count_rejection, d->rejections);
        d->short_list = p->short_list;
        d->n_listed = p->short_list ? p->listed : d->n_passed;
        /* Passing nodes first, best first (only the first max_nodes are
         * kept: select them, then sort those), then rejected ones in
         * request order. */
        guint keep = MIN(n_ranked, ring->max_nodes);
        if (keep < n_ranked) {
            select_first(ranked, n_ranked, keep);
        }
        g_qsort_with_data(ranked, (gint)keep, sizeof(Ranked), ranked_order, NULL);
        g_autofree guint *order = g_new(guint, MAX(MIN(p->n, ring->max_nodes), 1));
        guint n_order = 0;
        for (; n_order < keep; n_order++) {
            order[n_order] = ranked[n_order].i;
        }
        for (guint i = 0; i < p->n && n_order < ring->max_nodes; i++) {
            if (!p->verdicts[i].pass) {
                order[n_order++] = i;
            }
        }
        d->n_verdicts = MIN(p->n, ring->max_nodes);
        d->verdicts = g_new0(NodeVerdict, MAX(d->n_verdicts, 1));
        for (guint k = 0; k < d->n_verdicts; k++) {
            guint i = order[k];
            const FpVerdict *v = &p->verdicts[i];
            NodeVerdict *nv = &d->verdicts[k];
            nv->node = g_strdup(names[i]);
            nv->pass = v->pass;
            nv->listed = v->pass && !v->omit;
            nv->unresolvable = v->unresolvable;
            nv->reason = v->reason ? g_intern_string(v->reason) : NULL;
            for (int t = 0; t < FP_N_TERMS; t++) {
                nv->term[t] = (float)v->term[t];
                nv->active |= v->term_active[t] ? (1u << t) : 0;
            }
            nv->total = (float)v->total;
            nv->score = (gint8)v->score;
            nv->gpus_free = v->gpus_free;
        }
    }
    push(ring, d);
}

void fp_decision_record_bind(FpDecisionRing *ring, const char *ns, const char *name,
                             const char *uid, const char *node, const char *error)
{
    Decision *d = g_new0(Decision, 1);
    d->time_us = g_get_real_time();
    d->verb = "bind";
    d->ns = g_strdup(ns);
    d->name = g_strdup(name);
    d->uid = g_strdup(uid);
    d->bound_node = g_strdup(node);
    d->error = g_strdup(error);
    push(ring, d);
}

static json_t *decision_json(const Decision *d, guint max_nodes)
{
    g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc(d->time_us / G_USEC_PER_SEC);
    g_autofree char *ts = when ? g_date_time_format(when, "%Y-%m-%dT%H:%M:%S") : g_strdup("");
    g_autofree char *stamp =
        g_strdup_printf("%s.%03dZ", ts, (int)((d->time_us % G_USEC_PER_SEC) / 1000));
    json_t *o = json_object();
    json_object_set_new(o, "time", json_string(stamp));
    json_object_set_new(o, "verb", json_string(d->verb));
    json_object_set_new(o, "uid", d->uid ? json_string(d->uid) : json_null());
    json_object_set_new(o, "error", d->error ? json_string(d->error) : json_null());
    if (g_str_equal(d->verb, "bind")) {
        json_object_set_new(o, "node", json_string(d->bound_node ? d->bound_node : ""));
        return o;
    }
    json_object_set_new(o, "policyGeneration", json_integer((json_int_t)d->policy_generation));
    json_object_set_new(o, "profile", d->profile ? json_string(d->profile) : json_null());
    json_object_set_new(o, "resource", d->resource ? json_string(d->resource) : json_null());
    json_object_set_new(o, "device", d->device ? json_string(d->device) : json_null());
    json_object_set_new(o, "count", json_integer(d->count));
    json_object_set_new(o, "model",
                        d->has_model ? json_pack("{s:s?, s:b, s:s?}", "name", d->model, "known",
                                                 d->model_known, "note", d->model_note)
                                     : json_null());
    json_object_set_new(o, "timeToServe",
                        d->tts_known
                            ? json_pack("{s:f, s:f, s:s, s:f, s:f, s:f}", "seconds", d->tts.total_s,
                                        "pullSeconds", d->tts.pull_s, "source",
                                        fp_weight_source_name(d->tts.source), "transferSeconds",
                                        d->tts.transfer_s, "loadSeconds", d->tts.load_s,
                                        "egressUSD", d->tts.egress_usd)
                            : json_null());
    json_object_set_new(o, "durationMicros", json_integer(d->duration_us));
    json_object_set_new(o, "nodes", json_integer(d->n_total));
    json_object_set_new(o, "passed", json_integer(d->n_passed));
    json_object_set_new(o, "shortList", json_integer(d->short_list));
    json_object_set_new(o, "shortListed", json_integer(d->n_listed));
    json_t *rej = json_object();
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, d->rejections);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        json_object_set_new(rej, key, json_integer(GPOINTER_TO_UINT(value)));
    }
    json_object_set_new(o, "rejections", rej);
    json_t *verdicts = json_array();
    for (guint k = 0; k < d->n_verdicts; k++) {
        const NodeVerdict *nv = &d->verdicts[k];
        json_t *v = json_object();
        json_object_set_new(v, "node", json_string(nv->node));
        json_object_set_new(v, "pass", json_boolean(nv->pass));
        if (nv->pass) {
            json_t *terms = json_object();
            for (int t = 0; t < FP_N_TERMS; t++) {
                json_object_set_new(terms, fp_term_name(t),
                                    (nv->active & (1u << t)) ? json_real(nv->term[t])
                                                             : json_null());
            }
            json_object_set_new(v, "terms", terms);
            json_object_set_new(v, "total", json_real(nv->total));
            json_object_set_new(v, "score", json_integer(nv->score));
            json_object_set_new(v, "shortListed", json_boolean(nv->listed));
        } else {
            json_object_set_new(v, "reason", json_string(nv->reason ? nv->reason : ""));
            json_object_set_new(v, "unresolvable", json_boolean(nv->unresolvable));
        }
        json_object_set_new(v, "gpusFree", json_integer(nv->gpus_free));
        json_array_append_new(verdicts, v);
    }
    json_object_set_new(o, "verdicts", verdicts);
    if (d->scale_up) {
        json_object_set(o, "scaleUp", d->scale_up);
    }
    json_object_set_new(o, "truncated", json_boolean(d->n_verdicts < d->n_total));
    (void)max_nodes;
    return o;
}

json_t *fp_decision_ring_query(FpDecisionRing *ring, const char *ns, const char *name)
{
    json_t *out = json_array();
    g_mutex_lock(&ring->lock);
    for (guint k = 0; k < ring->size; k++) {
        guint i = (ring->next + ring->capacity - 1 - k) % ring->capacity;
        const Decision *d = ring->slots[i];
        if (d && g_str_equal(d->ns, ns) && g_str_equal(d->name, name)) {
            json_array_append_new(out, decision_json(d, ring->max_nodes));
        }
    }
    g_mutex_unlock(&ring->lock);
    return out;
}

guint fp_decision_ring_size(FpDecisionRing *ring)
{
    g_mutex_lock(&ring->lock);
    guint n = ring->size;
    g_mutex_unlock(&ring->lock);
    return n;
}

gboolean fp_decision_ring_verdict(FpDecisionRing *ring, const char *uid, const char *node,
                                  FpVerdict *out, guint64 *policy_generation)
{
    gboolean found = FALSE;
    if (!uid || !*uid) {
        return FALSE;
    }
    g_mutex_lock(&ring->lock);
    for (guint k = 0; k < ring->size && !found; k++) {
        guint i = (ring->next + ring->capacity - 1 - k) % ring->capacity;
        const Decision *d = ring->slots[i];
        if (!d || !d->uid || !g_str_equal(d->uid, uid) || g_str_equal(d->verb, "bind")) {
            continue;
        }
        for (guint j = 0; j < d->n_verdicts; j++) {
            const NodeVerdict *nv = &d->verdicts[j];
            if (nv->pass && g_str_equal(nv->node, node)) {
                for (int t = 0; t < FP_N_TERMS; t++) {
                    out->term[t] = nv->term[t];
                    out->term_active[t] = (nv->active & (1u << t)) != 0;
                }
                out->total = nv->total;
                out->score = nv->score;
                *policy_generation = d->policy_generation;
                found = TRUE;
                break;
            }
        }
    }
    g_mutex_unlock(&ring->lock);
    return found;
}

json_t *fp_scale_up_to_json(const FpScaleUp *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "fits", json_boolean(s->fits));
    json_object_set_new(o, "template", s->fits ? json_string(s->template_name) : json_null());
    json_object_set_new(o, "pool", s->fits ? json_string(s->pool) : json_null());
    json_object_set_new(o, "sku", s->fits ? json_string(s->product) : json_null());
    json_object_set_new(o, "region", s->fits ? json_string(s->region) : json_null());
    json_object_set_new(o, "latencyMs",
                        s->fits && s->latency_ms >= 0 ? json_real(s->latency_ms) : json_null());
    json_object_set_new(o, "pricePerGPUHour",
                        s->fits && s->price_per_gpu_hour >= 0 ? json_real(s->price_per_gpu_hour)
                                                              : json_null());
    json_object_set_new(o, "templates", json_integer(s->templates));
    json_object_set_new(o, "message", json_string(s->text));
    return o;
}
