/*
 * cache/pool_templates.c - policy pool templates as offers; pool usage
 * (contract in the header).
 */
#include "cache/pool_templates.h"

#include <string.h>

#include "cache/gpu_inventory.h"
#include "scoring/scale_up.h"

#define NODEPOOL_LABEL "karpenter.sh/nodepool"
#define MIG_PREFIX "nvidia.com/mig-"

/* ---- usage ------------------------------------------------------------ */

static void use_free(gpointer p)
{
    FpPoolUse *u = p;
    fp_res_list_clear(&u->gpus);
    g_free(u);
}

static FpPoolUse *use_of(GHashTable *table, const char *name)
{
    FpPoolUse *u = g_hash_table_lookup(table, name);
    if (!u) {
        u = g_new0(FpPoolUse, 1);
        g_hash_table_insert(table, g_strdup(name), u);
    }
    return u;
}

static void use_add(FpPoolUse *u, const FpPolicy *policy, const FpNode *node)
{
    u->nodes++;
    u->cpu_milli += fp_res_list_get(&node->allocatable, "cpu");
    for (char **r = policy->gpu_resources; r && *r; r++) {
        int64_t n = fp_res_list_get(&node->allocatable, *r);
        if (n > 0) {
            fp_res_list_add(&u->gpus, *r, n);
        }
    }
}

typedef struct {
    const FpPolicy *policy;
    FpPoolUsage *usage;
} Walk;

static void count_node(const FpNodeState *st, void *data)
{
    Walk *w = data;
    if (!st->node) {
        return;
    }
    FpNodeFacts facts;
    if (st->facts_policy == w->policy) {
        facts = st->facts;
    } else {
        fp_node_facts(w->policy, st->node, &facts);
    }
    if (facts.pool && *facts.pool) {
        use_add(use_of(w->usage->by_pool, facts.pool), w->policy, st->node);
    }
    const char *np = fp_node_label(st->node, NODEPOOL_LABEL);
    if (np && *np) {
        use_add(use_of(w->usage->by_nodepool, np), w->policy, st->node);
    }
}

FpPoolUsage *fp_pool_usage_new(FpView *view, const FpPolicy *policy)
{
    FpPoolUsage *u = g_new0(FpPoolUsage, 1);
    u->by_pool = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, use_free);
    u->by_nodepool = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, use_free);
    Walk w = {.policy = policy, .usage = u};
    fp_view_read_lock(view);
    fp_view_foreach_node_locked(view, count_node, &w);
    fp_view_read_unlock(view);
    return u;
}

void fp_pool_usage_free(FpPoolUsage *u)
{
    if (!u) {
        return;
    }
    g_hash_table_unref(u->by_pool);
    g_hash_table_unref(u->by_nodepool);
    g_free(u);
}

const FpPoolUse *fp_pool_usage_pool(const FpPoolUsage *u, const char *name)
{
    return u && name ? g_hash_table_lookup(u->by_pool, name) : NULL;
}

const FpPoolUse *fp_pool_usage_nodepool(const FpPoolUsage *u, const char *name)
{
    return u && name ? g_hash_table_lookup(u->by_nodepool, name) : NULL;
}

/* ---- policy template offers -------------------------------------------- */

static const char *gpu_resource(const FpPolicy *policy)
{
    return policy->gpu_resources && policy->gpu_resources[0] ? policy->gpu_resources[0]
                                                             : "nvidia.com/gpu";
}

/* The Node a template adds, as its labels and allocatable describe it. */
static FpNode *template_node(const FpPolicy *policy, const FpPolicyTemplate *t)
{
    FpNode *n = fp_node_new(t->name);
    fp_node_set_labels(n, t->labels);
    bool has_pool = false;
    for (char **key = policy->label_pool; key && *key; key++) {
        has_pool = has_pool || g_hash_table_contains(t->labels, *key);
    }
    if (!has_pool) {
        fp_node_set_first_label(n, policy->label_pool, t->name);
    }
    fp_node_set_first_label(n, policy->label_product, t->product);
    fp_node_set_first_label(n, policy->label_region, t->region);
    fp_node_set_first_label(n, policy->label_instance_type, t->instance_type);
    fp_node_set_first_label(n, policy->label_capacity_type, t->capacity_type);
    if (t->memory_gib > 0) {
        g_autofree char *mib = g_strdup_printf("%.0f", t->memory_gib * 1024.0);
        fp_node_set_first_label(n, policy->label_memory, mib);
    }
    fp_res_list_set(&n->allocatable, gpu_resource(policy), t->gpus_per_node ? t->gpus_per_node : 1);
    return n;
}

/* The interned value of the label @key of @n, or NULL. */
static const char *label_interned(const FpNode *n, const char *key)
{
    const char *v = key ? fp_node_label(n, key) : NULL;
    return v ? g_intern_string(v) : NULL;
}

void fp_offer_intern(FpOffer *o)
{
    o->facts.pool = g_intern_string(o->facts.pool);
    o->facts.region = g_intern_string(o->facts.region);
    o->facts.zone = g_intern_string(o->facts.zone);
    o->facts.product = g_intern_string(o->facts.product);
    o->facts.instance_type = g_intern_string(o->facts.instance_type);
    o->facts.capacity_type = g_intern_string(o->facts.capacity_type);
    o->resource = o->resource ? g_intern_string(o->resource) : NULL;
}

void fp_offer_set_labels(FpOffer *o, const FpPolicy *policy, const FpNode *n)
{
    char key[FP_CONSTRAINTS_KEY_MAX];
    o->product_label =
        label_interned(n, fp_constraints_product_key(policy, o->resource, key, sizeof key));
    o->memory_label = label_interned(n, fp_constraints_memory_key(o->resource, key, sizeof key));
}

static bool is_mig_mixed_resource(const char *resource)
{
    return g_str_has_prefix(resource, MIG_PREFIX) && resource[strlen(MIG_PREFIX)] != '\0';
}

gboolean fp_template_mig_offers(const FpPolicy *policy, const FpNode *n, const FpOffer *base,
                                double price_per_gpu, GArray *offers)
{
    const char *strategy = fp_node_label(n, "nvidia.com/mig.strategy");
    gboolean mixed = g_strcmp0(strategy, "mixed") == 0;
    FpNodeFacts facts;
    fp_node_facts(policy, n, &facts);
    g_autoptr(FpGpuInventory) inv = fp_gpu_inventory_new(policy, n, &facts);
    for (guint i = 0; inv && i < inv->n; i++) {
        const FpDeviceClass *dev = &inv->classes[i];
        if (!is_mig_mixed_resource(dev->resource)) {
            continue;
        }
        mixed = TRUE;
        FpOffer o = *base;
        o.resource = dev->resource;
        fp_facts_apply_device(&o.facts, dev);
        if (price_per_gpu >= 0) {
            o.facts.price_per_gpu_hour = price_per_gpu * fp_device_fraction(dev);
        }
        o.shared = fp_device_is_shared(dev);
        o.gpus_per_node = dev->labelled_count;
        fp_offer_set_labels(&o, policy, n);
        fp_offer_intern(&o); /* the inventory goes away here */
        g_array_append_val(offers, o);
    }
    return mixed;
}

void fp_template_whole_offer(FpOffer *o, const FpPolicy *policy, const FpNode *n, bool keep_product,
                             bool keep_memory, bool count_from_device)
{
    g_autoptr(FpGpuInventory) inv = fp_gpu_inventory_new(policy, n, &o->facts);
    const FpDeviceClass *dev = fp_gpu_inventory_find(inv, o->resource);
    if (dev && !keep_product && dev->product && *dev->product) {
        o->facts.product = dev->product;
    }
    if (dev && !keep_memory && dev->memory_mib > 0) {
        o->facts.gpu_memory_mib = dev->memory_mib;
    }
    if (dev && dev->price_per_hour >= 0) {
        o->facts.price_per_gpu_hour = dev->price_per_hour;
    }
    o->shared = dev && fp_device_is_shared(dev);
    if (o->gpus_per_node == 0 && count_from_device && dev && dev->labelled_count) {
        o->gpus_per_node = dev->labelled_count;
    }
    fp_offer_set_labels(o, policy, n);
    /* The node and inventory go away here: intern what the offer keeps. */
    fp_offer_intern(o);
}

/* A template's offers: one per MIG mixed resource its labels describe, else
 * one of the policy's GPU resource. */
static void template_offers(const FpPolicy *policy, const FpPolicyTemplate *t,
                            const FpPoolUsage *usage, GArray *offers)
{
    g_autoptr(FpNode) n = template_node(policy, t);
    FpOffer o = {
        .name = g_intern_string(t->name), .is_template = true, .resource = gpu_resource(policy)};
    fp_node_facts(policy, n, &o.facts);
    const FpPoolUse *u = fp_pool_usage_pool(usage, o.facts.pool);
    if (t->max_nodes > 0 && u && u->nodes >= t->max_nodes) {
        o.cannot_grow = FP_REASON_TEMPLATE_MAX_NODES;
    }
    if (fp_template_mig_offers(policy, n, &o, t->price_per_gpu_hour, offers)) {
        return; /* MIG mixed: no whole GPU under nvidia.com/gpu */
    }
    o.gpus_per_node = t->gpus_per_node;
    fp_template_whole_offer(&o, policy, n, t->product != NULL, t->memory_gib > 0, true);
    if (t->price_per_gpu_hour >= 0) {
        o.facts.price_per_gpu_hour = t->price_per_gpu_hour;
    }
    g_array_append_val(offers, o);
}

void fp_policy_template_offers(const FpPolicy *policy, const FpPoolUsage *usage, GArray *offers)
{
    if (!policy->templates) {
        return;
    }
    g_autoptr(GList) names = g_hash_table_get_keys(policy->templates);
    names = g_list_sort(names, (GCompareFunc)strcmp);
    for (GList *l = names; l; l = l->next) {
        const FpPolicyTemplate *t = g_hash_table_lookup(policy->templates, l->data);
        template_offers(policy, t, usage, offers);
    }
}
