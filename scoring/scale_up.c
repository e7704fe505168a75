/*
 * scoring/scale_up.c - would a pod fit after a scale-up (contract in the
 * header).
 */
#include "scoring/scale_up.h"

#include <math.h>
#include <string.h>

const char *fp_scale_up_reason(const FpPolicy *policy, const FpDemand *d, const FpOffer *o)
{
    const char *hard = fp_constraints_offer_reason(policy, d, o);
    if (hard) {
        return hard;
    }
    if (o->gpus_per_node > 0 && o->gpus_per_node < d->count) {
        return FP_REASON_TEMPLATE_TOO_FEW_GPUS;
    }
    return o->cannot_grow;
}

/* Whether @a is a better target than @b (NULL): cheaper (known prices
 * first), then nearer, then the smaller template name. */
static bool better(const FpOffer *a, double lat_a, const FpOffer *b, double lat_b)
{
    if (!b) {
        return true;
    }
    double pa = a->facts.price_per_gpu_hour, pb = b->facts.price_per_gpu_hour;
    if ((pa >= 0) != (pb >= 0)) {
        return pa >= 0;
    }
    if (pa >= 0 && pa != pb) {
        return pa < pb;
    }
    if (lat_a != lat_b) {
        return lat_a < lat_b;
    }
    return g_strcmp0(a->name, b->name) < 0;
}

static double offer_latency(const FpPolicy *policy, const FpDemand *d, const FpOffer *o)
{
    return d->n_origins > 0 ? fp_weighted_latency(policy, d, o->facts.region) : -1;
}

static const char *or_unknown(const char *s, const char *unknown)
{
    return s && *s ? s : unknown;
}

static char *fits_text(const FpScaleUp *s)
{
    GString *t = g_string_new(NULL);
    g_string_append_printf(t, "would fit after scale-up: pool %s (%s, %s", s->pool,
                           or_unknown(s->product, "GPU unknown"),
                           or_unknown(s->region, "region unknown"));
    if (s->latency_ms >= 0) {
        g_string_append_printf(t, ", %.0f ms", s->latency_ms);
    }
    if (s->price_per_gpu_hour >= 0) {
        g_string_append_printf(t, ", $%.2f/h", s->price_per_gpu_hour);
    }
    g_string_append_c(t, ')');
    return g_string_free(t, FALSE);
}

/* "no pool can grow to fit: A: reason; B: reason; and N more": the first
 * reason of each template, templates by name. */
static char *misfit_text(const FpPolicy *policy, const FpDemand *d, const FpOffer *offers, guint n)
{
    g_autoptr(GTree) why = g_tree_new((GCompareFunc)strcmp); /* name -> reason */
    for (guint i = 0; i < n; i++) {
        const FpOffer *o = &offers[i];
        if (o->is_template && o->name && !g_tree_lookup(why, o->name)) {
            const char *r = fp_scale_up_reason(policy, d, o);
            g_tree_insert(why, (gpointer)o->name, (gpointer)(r ? r : "no room"));
        }
    }
    GString *t = g_string_new("no pool can grow to fit: ");
    guint total = (guint)g_tree_nnodes(why);
    if (total == 0) {
        g_string_append(t, "no pool templates known (policy poolTemplates, Karpenter NodePools)");
        return g_string_free(t, FALSE);
    }
    GTreeNode *node = g_tree_node_first(why);
    for (guint k = 0; node && k < FP_SCALE_UP_MAX_LISTED; k++, node = g_tree_node_next(node)) {
        g_string_append_printf(t, "%s%s: %s", k ? "; " : "", (const char *)g_tree_node_key(node),
                               (const char *)g_tree_node_value(node));
    }
    if (total > FP_SCALE_UP_MAX_LISTED) {
        g_string_append_printf(t, "; and %u more", total - FP_SCALE_UP_MAX_LISTED);
    }
    return g_string_free(t, FALSE);
}

FpScaleUp *fp_scale_up_new(const FpPolicy *policy, const FpDemand *d, const FpOffer *offers,
                           guint n)
{
    FpScaleUp *s = g_new0(FpScaleUp, 1);
    s->latency_ms = -1;
    s->price_per_gpu_hour = -1;
    const FpOffer *best = NULL;
    double best_lat = -1;
    for (guint i = 0; i < n; i++) {
        const FpOffer *o = &offers[i];
        if (!o->is_template) {
            continue;
        }
        s->templates++;
        if (fp_scale_up_reason(policy, d, o)) {
            continue;
        }
        double lat = offer_latency(policy, d, o);
        if (better(o, lat, best, best_lat)) {
            best = o;
            best_lat = lat;
        }
    }
    if (best) {
        s->fits = true;
        s->template_name = g_strdup(best->name);
        s->pool = g_strdup(or_unknown(best->facts.pool, best->name));
        s->product = g_strdup(best->facts.product ? best->facts.product : "");
        s->region = g_strdup(best->facts.region ? best->facts.region : "");
        s->latency_ms = best_lat;
        s->price_per_gpu_hour = best->facts.price_per_gpu_hour;
        s->text = fits_text(s);
    } else {
        s->text = misfit_text(policy, d, offers, n);
    }
    return s;
}

void fp_scale_up_free(FpScaleUp *s)
{
    if (!s) {
        return;
    }
    g_free(s->template_name);
    g_free(s->pool);
    g_free(s->product);
    g_free(s->region);
    g_free(s->text);
    g_free(s);
}
