/*
 * cache/constraints_view.c - gather offers from the view, compute constraints.
 */
#include "cache/constraints_view.h"

#include <string.h>

#include "cache/gpu_inventory.h"

typedef struct {
    const FpPolicy *policy;
    const char *resource;
    const char *product_key; /* fp_constraints_product_key of the resource */
    const char *memory_key;  /* fp_constraints_memory_key, or NULL */
    GArray *offers;          /* FpOffer */
    GHashTable *seen;        /* offer key -> itself */
    GPtrArray *inventories;  /* computed here under another policy: held until done */
} Gather;

static char *offer_key(const FpOffer *o)
{
    const FpNodeFacts *f = &o->facts;
    /* nodes without a pool are corrected one by one (by hostname) */
    const char *host = f->pool && *f->pool ? "" : o->host ? o->host : "\x01";
    return g_strdup_printf("%s|%s|%s|%s|%.3f|%.6f|%d|%s|%s|%s", f->pool, f->region, f->product,
                           f->capacity_type, f->gpu_memory_mib, f->price_per_gpu_hour, o->shared,
                           o->product_label ? o->product_label : "\x01",
                           o->memory_label ? o->memory_label : "\x01", host);
}

/* The device class of the demand's resource on @st's node, under the
 * gather's policy. */
static const FpDeviceClass *device_of(Gather *g, const FpNodeState *st, const FpNodeFacts *facts)
{
    if (st->facts_policy == g->policy) {
        return fp_gpu_inventory_find(st->gpu_inventory, g->resource);
    }
    FpGpuInventory *inv = fp_gpu_inventory_new(g->policy, st->node, facts);
    if (!inv) {
        return NULL;
    }
    g_ptr_array_add(g->inventories, inv);
    return fp_gpu_inventory_find(inv, g->resource);
}

static void gather_node(const FpNodeState *st, void *data)
{
    Gather *g = data;
    if (fp_res_list_get(&st->node->allocatable, g->resource) <= 0) {
        return;
    }
    FpOffer o = {.name = st->name, .resource = g->resource};
    if (st->facts_policy == g->policy) {
        o.facts = st->facts;
    } else {
        fp_node_facts(g->policy, st->node, &o.facts);
    }
    const FpDeviceClass *dev = device_of(g, st, &o.facts);
    fp_facts_apply_device(&o.facts, dev);
    o.shared = dev && fp_device_is_shared(dev);
    o.product_label = g->product_key ? fp_node_label(st->node, g->product_key) : NULL;
    o.memory_label = g->memory_key ? fp_node_label(st->node, g->memory_key) : NULL;
    o.host = fp_node_label(st->node, FP_CONSTRAINTS_HOSTNAME_KEY);
    char *key = offer_key(&o);
    if (!g_hash_table_add(g->seen, key)) {
        return; /* the set owns keys: a duplicate was freed by add */
    }
    g_array_append_val(g->offers, o);
}

FpConstraints *fp_view_constraints(FpView *view, const FpPolicy *policy, const FpDemand *demand,
                                   const FpOffer *templates, guint n_templates, bool preferred)
{
    char product_key[FP_CONSTRAINTS_KEY_MAX];
    char memory_key[FP_CONSTRAINTS_KEY_MAX];
    Gather g = {
        .policy = policy,
        .resource = demand->resource,
        .offers = g_array_new(FALSE, TRUE, sizeof(FpOffer)),
        .seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
        .inventories = g_ptr_array_new_with_free_func((GDestroyNotify)fp_gpu_inventory_unref),
    };
    if (demand->resource) {
        g.product_key =
            fp_constraints_product_key(policy, demand->resource, product_key, sizeof product_key);
        g.memory_key = fp_constraints_memory_key(demand->resource, memory_key, sizeof memory_key);
    }
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
    g_ptr_array_unref(g.inventories);
    return c;
}
