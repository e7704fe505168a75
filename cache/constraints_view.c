/*
 * cache/constraints_view.c - gather offers from the view, compute constraints.
 */
#include "cache/constraints_view.h"

#include <string.h>

typedef struct {
    const FpPolicy *policy;
    const char *resource;
    GArray *offers;   /* FpOffer */
    GHashTable *seen; /* offer key -> itself */
} Gather;

static char *offer_key(const FpNodeFacts *f)
{
    return g_strdup_printf("%s|%s|%s|%s|%.3f|%.6f", f->pool, f->region, f->product,
                           f->capacity_type, f->gpu_memory_mib, f->price_per_gpu_hour);
}

static void gather_node(const FpNodeState *st, void *data)
{
    Gather *g = data;
    if (fp_res_list_get(&st->node->allocatable, g->resource) <= 0) {
        return;
    }
    FpOffer o = {.name = st->name};
    if (st->facts_policy == g->policy) {
        o.facts = st->facts;
    } else {
        fp_node_facts(g->policy, st->node, &o.facts);
    }
    char *key = offer_key(&o.facts);
    if (!g_hash_table_add(g->seen, key)) {
        return; /* the set owns keys: a duplicate was freed by add */
    }
    g_array_append_val(g->offers, o);
}

FpConstraints *fp_view_constraints(FpView *view, const FpPolicy *policy, const FpDemand *demand,
                                   const FpOffer *templates, guint n_templates, bool preferred)
{
    Gather g = {
        .policy = policy,
        .resource = demand->resource,
        .offers = g_array_new(FALSE, TRUE, sizeof(FpOffer)),
        .seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
    };
    if (templates && n_templates) {
        g_array_append_vals(g.offers, templates, n_templates);
    }
    fp_view_read_lock(view);
    if (demand->resource) {
        fp_view_foreach_node_locked(view, gather_node, &g);
    }
    FpConstraints *c = fp_constraints_new(policy, demand, (const FpOffer *)(void *)g.offers->data,
                                          g.offers->len, preferred);
    fp_view_read_unlock(view);
    g_array_unref(g.offers);
    g_hash_table_unref(g.seen);
    return c;
}
