/*
 * scoring/constraints.c - a demand's hard constraints as node selector
 * requirements (contract in the header).
 */
#include "scoring/constraints.h"

#include <math.h>
#include <string.h>

#include "scoring/device.h"
#include "scoring/engine_private.h"
#include "scoring/model_fit.h"
#include "scoring/names.h"

/* Region names in the latency table's keys are joined by this byte
 * (scoring/placement_policy.c). */
#define LATENCY_KEY_SEP '|'

#define MIG_RESOURCE_PREFIX "nvidia.com/mig-"
#define SHARED_RESOURCE "nvidia.com/gpu.shared"
#define AMD_RESOURCE "amd.com/gpu"
#define AMD_DEVICE_ID_KEY "amd.com/gpu.device-id"
#define SHARED_SUFFIX "-SHARED"

/* The device classes of scoring/device.h by the resource that offers them. */
typedef enum {
    RES_GPU,    /* nvidia.com/gpu or another policy gpuResource */
    RES_SHARED, /* nvidia.com/gpu.shared (renameByDefault true) */
    RES_MIG,    /* nvidia.com/mig-<profile> (MIG mixed) */
    RES_AMD,    /* amd.com/gpu */
} ResKind;

static ResKind res_kind(const char *resource)
{
    if (!resource) {
        return RES_GPU;
    }
    if (g_str_has_prefix(resource, MIG_RESOURCE_PREFIX) &&
        resource[strlen(MIG_RESOURCE_PREFIX)] != '\0') {
        return RES_MIG;
    }
    if (strcmp(resource, SHARED_RESOURCE) == 0) {
        return RES_SHARED;
    }
    return strcmp(resource, AMD_RESOURCE) == 0 ? RES_AMD : RES_GPU;
}

/* @resource + @suffix as a label key, or NULL when that is no valid key
 * (a MIG profile "1g.10gb+me" names none). */
static const char *suffixed_key(const char *resource, const char *suffix, char *buf, gsize size)
{
    int n = g_snprintf(buf, size, "%s%s", resource, suffix);
    if (n < 0 || (gsize)n >= size || fp_qualified_name_problem(buf, (gsize)n) != NULL) {
        return NULL;
    }
    return buf;
}

const char *fp_constraints_product_key(const FpPolicy *policy, const char *resource, char *buf,
                                       gsize size)
{
    switch (res_kind(resource)) {
    case RES_MIG:
        return suffixed_key(resource, ".product", buf, size);
    case RES_AMD:
        return AMD_DEVICE_ID_KEY;
    default:
        return policy->label_product && policy->label_product[0] ? policy->label_product[0] : NULL;
    }
}

const char *fp_constraints_memory_key(const char *resource, char *buf, gsize size)
{
    return res_kind(resource) == RES_MIG ? suffixed_key(resource, ".memory", buf, size) : NULL;
}

/* A value a node label can hold (an empty one never goes in a list). */
static bool value_ok(const char *v)
{
    return v && *v && fp_name_problem(v, strlen(v), FP_NAME_LABEL_VALUE) == NULL;
}

/* An ordered set of non-empty strings (borrowed or copied: copies). */
typedef struct {
    GPtrArray *items;
    GHashTable *seen;
} StrSet;

static void set_init(StrSet *s)
{
    s->items = g_ptr_array_new_with_free_func(g_free);
    s->seen = g_hash_table_new(g_str_hash, g_str_equal);
}

static void set_clear(StrSet *s)
{
    g_hash_table_unref(s->seen);
    g_ptr_array_unref(s->items);
}

static void set_add(StrSet *s, const char *v)
{
    if (!v || !*v || g_hash_table_contains(s->seen, v)) {
        return;
    }
    char *copy = g_strdup(v);
    g_ptr_array_add(s->items, copy);
    g_hash_table_add(s->seen, copy);
}

static bool set_has(const StrSet *s, const char *v)
{
    return v && g_hash_table_contains(s->seen, v);
}

/* ---- the hard filters ----------------------------------------------- */

static char *const *allowed_list(const FpDemand *d)
{
    return d->allowed_skus ? d->allowed_skus : d->profile->allowed_skus;
}

/* Spot or preemptible capacity by the facts' capacity type (the first
 * capacity label present): "spot" in any case, or "true" (GKE's
 * cloud.google.com/gke-spot), as cache/gpu_inventory.c reads the labels. */
static bool facts_spot(const FpNodeFacts *f)
{
    const char *c = f->capacity_type;
    return c && (g_ascii_strcasecmp(c, "spot") == 0 || strcmp(c, "true") == 0);
}

/* Filter 6a: a shared replica passes when the profile allows sharing, the
 * pod asked for the gpu.shared resource, or its allow-list names the
 * product (an entry matches a "-SHARED" product only when it names it). */
static bool shared_allowed(const FpDemand *d, const char *product)
{
    char *const *allowed = allowed_list(d);
    return d->profile->allow_shared || g_strcmp0(d->resource, SHARED_RESOURCE) == 0 ||
           (allowed && fp_sku_list_index(allowed, product, NULL) >= 0);
}

/* Whether the pod's model fits one device of @memory_mib (the fit filter,
 * 7b, as fp_evaluate applies it): true without a known model; a device of
 * unknown memory (<= 0) fits when @unknown_fits (the engine does not judge
 * what it cannot measure), and never when the SKU table is asked (it
 * cannot vouch for a product it has no memory for). */
static bool model_fits(const FpPolicy *policy, const FpDemand *d, double memory_mib,
                       bool unknown_fits)
{
    if (!d->model_known) {
        return true;
    }
    if (!(memory_mib > 0)) {
        return unknown_fits;
    }
    FpFit fit;
    fp_model_fit(&d->model_plan, &policy->fit, memory_mib / 1024.0, &fit);
    return fit.fits;
}

static const char *reason_of(const FpPolicy *policy, const FpDemand *d, const FpNodeFacts *f,
                             bool shared)
{
    char *const *allowed = allowed_list(d);
    if (allowed && fp_sku_list_index(allowed, f->product, NULL) < 0) {
        return FP_REASON_SKU;
    }
    if (shared && !shared_allowed(d, f->product)) {
        return FP_REASON_SHARED;
    }
    if (d->profile->avoid_spot && facts_spot(f)) {
        return FP_REASON_SPOT;
    }
    if (d->min_gpu_memory_mib > 0 && !(f->gpu_memory_mib >= d->min_gpu_memory_mib)) {
        return FP_REASON_GPU_MEMORY;
    }
    if (!model_fits(policy, d, f->gpu_memory_mib, true)) {
        return FP_REASON_MODEL_FIT;
    }
    if (d->n_origins > 0 && d->max_latency_ms >= 0 &&
        fp_weighted_latency(policy, d, f->region) > d->max_latency_ms) {
        return FP_REASON_LATENCY;
    }
    if (d->max_price >= 0 && (f->price_per_gpu_hour < 0 || f->price_per_gpu_hour > d->max_price)) {
        return FP_REASON_PRICE;
    }
    return NULL;
}

const char *fp_constraints_hard_reason(const FpPolicy *policy, const FpDemand *d,
                                       const FpNodeFacts *f)
{
    return reason_of(policy, d, f, false);
}

/* Whether @o offers the demand's resource (an offer without one does). */
static bool offers_resource(const FpDemand *d, const FpOffer *o)
{
    return !o->resource || !d->resource || strcmp(o->resource, d->resource) == 0;
}

const char *fp_constraints_offer_reason(const FpPolicy *policy, const FpDemand *d, const FpOffer *o)
{
    if (!offers_resource(d, o)) {
        return FP_REASON_NO_GPU_RESOURCE;
    }
    return reason_of(policy, d, &o->facts, o->shared);
}

/* Whether a node of @product passes the memory floor and the price limit
 * by the policy's SKU table (price: the SKU's, else the policy default). */
static bool product_passes_table(const FpPolicy *policy, const FpDemand *d, const char *product,
                                 bool check_model)
{
    const FpSku *sku = fp_policy_find_sku(policy, product, !fp_sku_is_mig(product), NULL);
    if (d->min_gpu_memory_mib > 0 && !(sku && sku->memory_gib * 1024.0 >= d->min_gpu_memory_mib)) {
        return false;
    }
    if (check_model && !model_fits(policy, d, sku ? sku->memory_gib * 1024.0 : 0, false)) {
        return false;
    }
    if (d->max_price >= 0) {
        double price = sku && sku->price_per_gpu_hour >= 0 ? sku->price_per_gpu_hour
                                                           : policy->default_price_per_gpu_hour;
        if (price < 0 || price > d->max_price) {
            return false;
        }
    }
    return true;
}

/* ---- the requirement set ------------------------------------------- */

typedef struct {
    const FpPolicy *policy;
    const FpDemand *d;
    const FpOffer *offers;
    guint n;
    bool *accepted; /* per offer */
    bool *mine;     /* per offer: it offers the demand's resource */
    ResKind kind;
    const char *product_key; /* NULL: the policy has none for the resource */
    const char *memory_key;  /* MIG mixed only */
    char product_key_buf[FP_CONSTRAINTS_KEY_MAX];
    char memory_key_buf[FP_CONSTRAINTS_KEY_MAX];
    StrSet products;       /* device products that pass */
    StrSet product_values; /* their values of product_key */
    bool products_on;
    int64_t memory_gt; /* memory_key Gt this, when memory_on */
    bool memory_on;
    StrSet regions;
    bool regions_on;
    StrSet excluded_pools;
    StrSet excluded_hosts; /* nodes without a pool label */
    bool model_narrowed;   /* the model's fit took out a product */
    /* Without other product limits: the product label values of the
     * shared replicas the filter refuses, written as NotIn so that a
     * product that appears later is not left out. */
    StrSet shared_values;
    bool shared_on;
} Build;

/* Products known to the cluster or the policy, sorted: offers of the
 * resource, then the SKU table. */
static GPtrArray *known_products(const Build *b)
{
    GPtrArray *out = g_ptr_array_new();
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < b->n; i++) {
        const char *p = b->offers[i].facts.product;
        if (b->mine[i] && p && *p && g_hash_table_add(seen, (gpointer)p)) {
            g_ptr_array_add(out, (gpointer)p);
        }
    }
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, b->policy->skus);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        if (g_hash_table_add(seen, key)) {
            g_ptr_array_add(out, key);
        }
    }
    g_hash_table_unref(seen);
    return out;
}

static int cmp_strptr(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

static bool offered_and_accepted(const Build *b, const char *product)
{
    for (guint i = 0; i < b->n; i++) {
        if (b->accepted[i] && g_strcmp0(b->offers[i].facts.product, product) == 0) {
            return true;
        }
    }
    return false;
}

/* Whether a device of the demand's resource can have @product
 * (scoring/device.h: the product spellings gpu_inventory gives). */
static bool product_of_resource(const Build *b, const char *product)
{
    switch (b->kind) {
    case RES_MIG: {
        const char *profile = b->d->resource + strlen(MIG_RESOURCE_PREFIX);
        g_autofree char *plain = g_strconcat("-MIG-", profile, NULL);
        g_autofree char *shared = g_strconcat("-MIG-", profile, SHARED_SUFFIX, NULL);
        return g_str_has_suffix(product, plain) || g_str_has_suffix(product, shared);
    }
    case RES_SHARED:
        return g_str_has_suffix(product, SHARED_SUFFIX);
    case RES_AMD: {
        const FpGpuModel *m = fp_gpu_model_by_product(product);
        return g_str_has_prefix(product, "AMD-") || (m && strcmp(m->vendor, "AMD") == 0);
    }
    case RES_GPU:
        break;
    }
    return true;
}

/* A "-SHARED" product (time-slicing or MPS: scoring/device.h) the filter
 * refuses for this demand. */
static bool shared_refused(const Build *b, const char *product)
{
    return g_str_has_suffix(product, SHARED_SUFFIX) && !shared_allowed(b->d, product);
}

static bool product_ok(Build *b, const char *product)
{
    if (!product || !*product || !product_of_resource(b, product) || shared_refused(b, product)) {
        return false;
    }
    if (product_passes_table(b->policy, b->d, product, true) || offered_and_accepted(b, product)) {
        return true;
    }
    if (b->d->model_known && product_passes_table(b->policy, b->d, product, false)) {
        b->model_narrowed = true;
    }
    return false;
}

/* Whether offer @i is a shared replica of the resource the filter refuses. */
static bool refused_shared(const Build *b, guint i)
{
    return b->mine[i] && b->offers[i].shared && !shared_allowed(b->d, b->offers[i].facts.product);
}

/* Whether a known offer of the resource is a shared replica the filter
 * refuses: then they are kept out even without other limits. */
static bool refused_shared_offer(const Build *b)
{
    for (guint i = 0; i < b->n; i++) {
        if (refused_shared(b, i)) {
            return true;
        }
    }
    return false;
}

/* The product label values of the refused shared replicas into
 * b->shared_values; false when one of them has none (a NotIn could not
 * exclude it). */
static bool collect_shared_values(Build *b)
{
    for (guint i = 0; i < b->n; i++) {
        if (!refused_shared(b, i)) {
            continue;
        }
        if (!value_ok(b->offers[i].product_label)) {
            return false;
        }
        set_add(&b->shared_values, b->offers[i].product_label);
    }
    return true;
}

static void build_products(Build *b)
{
    char *const *allowed = allowed_list(b->d);
    bool limits = allowed || b->d->min_gpu_memory_mib > 0 || b->d->max_price >= 0;
    bool shared = refused_shared_offer(b);
    bool by_node_facts = limits || shared;
    b->products_on = by_node_facts || b->d->model_known;
    if (!b->products_on) {
        return;
    }
    GPtrArray *known = known_products(b);
    g_ptr_array_sort(known, cmp_strptr);
    if (allowed) {
        for (char *const *e = allowed; *e; e++) {
            if (!g_str_has_suffix(*e, "-MIG-*") && product_ok(b, *e)) {
                set_add(&b->products, *e);
            }
            for (guint i = 0; i < known->len; i++) {
                const char *p = known->pdata[i];
                if (fp_sku_matches(*e, p) && product_ok(b, p)) {
                    set_add(&b->products, p);
                }
            }
        }
    } else {
        for (guint i = 0; i < known->len; i++) {
            if (product_ok(b, known->pdata[i])) {
                set_add(&b->products, known->pdata[i]);
            }
        }
    }
    g_ptr_array_unref(known);
    /* a model every known product fits narrows nothing: no requirement */
    b->products_on = by_node_facts || b->model_narrowed;
    /* only the shared replicas to keep out: NotIn their values */
    if (shared && !limits && !b->model_narrowed && b->product_key && collect_shared_values(b)) {
        b->products_on = false;
        b->shared_on = true;
    }
}

/* The catalog's PCI device ids of AMD @product (its aliases of four hex
 * digits), into @values. */
static void add_amd_device_ids(StrSet *values, const char *product)
{
    const FpGpuModel *m = fp_gpu_model_by_product(product);
    if (!m || strcmp(m->vendor, "AMD") != 0 || !m->aliases) {
        return;
    }
    g_auto(GStrv) aliases = g_strsplit(m->aliases, " ", -1);
    for (char **a = aliases; *a; a++) {
        bool hex = strlen(*a) == 4;
        for (const char *c = *a; hex && *c; c++) {
            hex = g_ascii_isxdigit(*c);
        }
        if (hex) {
            set_add(values, *a);
        }
    }
}

/* The label values of the products: what the known offers of each carry,
 * and the product's own spelling where the resource's key holds it. */
static void build_product_values(Build *b)
{
    if (!b->products_on) {
        return;
    }
    for (guint k = 0; k < b->products.items->len; k++) {
        const char *p = b->products.items->pdata[k];
        for (guint i = 0; i < b->n; i++) {
            const FpOffer *o = &b->offers[i];
            if (b->mine[i] && g_strcmp0(o->facts.product, p) == 0 && value_ok(o->product_label)) {
                set_add(&b->product_values, o->product_label);
            }
        }
        if (b->kind == RES_AMD) {
            add_amd_device_ids(&b->product_values, p);
        } else if (b->kind == RES_SHARED) {
            g_autofree char *base = g_strndup(p, strlen(p) - strlen(SHARED_SUFFIX));
            if (value_ok(base)) {
                set_add(&b->product_values, base);
            }
        } else if (value_ok(p)) {
            set_add(&b->product_values, p);
        }
    }
}

/* A MIG mixed pod's memory floor over the slice's own memory label. */
static void build_memory(Build *b)
{
    double floor_mib = b->d->min_gpu_memory_mib;
    b->memory_on = b->memory_key && floor_mib > 0 && floor_mib < 1e15;
    b->memory_gt = b->memory_on ? (int64_t)ceil(floor_mib) - 1 : 0;
}

/* An integer label as node affinity's Gt/Lt read it: base 10, 64 bits. */
static bool label_int(const char *v, int64_t *out)
{
    gint64 n = 0;
    if (!v || !g_ascii_string_to_signed(v, 10, G_MININT64, G_MAXINT64, &n, NULL)) {
        return false;
    }
    *out = n;
    return true;
}

typedef struct {
    const char *region;
    double ms;
} RegionRtt;

static int cmp_rtt(gconstpointer a, gconstpointer b)
{
    const RegionRtt *x = a;
    const RegionRtt *y = b;
    if (x->ms != y->ms) {
        return x->ms < y->ms ? -1 : 1;
    }
    return strcmp(x->region, y->region);
}

/* Every region the offers, the matrix and the origins name, with its
 * weighted round trip, nearest first. */
static GArray *regions_by_rtt(const Build *b, GHashTable *names)
{
    for (guint i = 0; i < b->n; i++) {
        const char *r = b->offers[i].facts.region;
        if (r && *r) {
            g_hash_table_add(names, g_strdup(r));
        }
    }
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, b->policy->latency);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        char **pair = g_strsplit(key, (char[]){LATENCY_KEY_SEP, 0}, 2);
        for (char **p = pair; *p; p++) {
            if (**p) {
                g_hash_table_add(names, g_strdup(*p));
            }
        }
        g_strfreev(pair);
    }
    for (guint i = 0; i < b->d->n_origins; i++) {
        g_hash_table_add(names, g_strdup(b->d->origins[i].region));
    }
    GArray *out = g_array_new(FALSE, FALSE, sizeof(RegionRtt));
    g_hash_table_iter_init(&it, names);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        RegionRtt r = {key, fp_weighted_latency(b->policy, b->d, key)};
        g_array_append_val(out, r);
    }
    g_array_sort(out, cmp_rtt);
    return out;
}

static void build_regions(Build *b)
{
    b->regions_on = b->d->n_origins > 0 && b->d->max_latency_ms >= 0;
    if (!b->regions_on) {
        return;
    }
    GHashTable *names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GArray *rtt = regions_by_rtt(b, names);
    for (guint i = 0; i < rtt->len; i++) {
        const RegionRtt *r = &g_array_index(rtt, RegionRtt, i);
        if (r->ms <= b->d->max_latency_ms && value_ok(r->region)) {
            set_add(&b->regions, r->region);
        }
    }
    g_array_unref(rtt);
    g_hash_table_unref(names);
}

/* Whether offer @o passes the product, memory and region requirements and
 * the pools excluded so far. */
static bool admitted(const Build *b, const FpOffer *o)
{
    const FpNodeFacts *f = &o->facts;
    int64_t mib = 0;
    return (!b->products_on || set_has(&b->product_values, o->product_label)) &&
           (!b->shared_on || !set_has(&b->shared_values, o->product_label)) &&
           (!b->memory_on || (label_int(o->memory_label, &mib) && mib > b->memory_gt)) &&
           (!b->regions_on || set_has(&b->regions, f->region)) &&
           !(b->d->profile->avoid_spot && facts_spot(f)) && !set_has(&b->excluded_pools, f->pool) &&
           !set_has(&b->excluded_hosts, o->host);
}

/* The correction: a known offer of the resource the requirements admit but
 * flexplace rejects takes its pool out, or, a node without a pool label,
 * itself (by its hostname label). */
static void build_pool_exclusions(Build *b)
{
    for (guint i = 0; i < b->n; i++) {
        const FpOffer *o = &b->offers[i];
        const FpNodeFacts *f = &o->facts;
        if (!b->mine[i] || b->accepted[i] || !admitted(b, o)) {
            continue;
        }
        if (f->pool && *f->pool && value_ok(f->pool)) {
            set_add(&b->excluded_pools, f->pool);
        } else if (value_ok(o->host)) {
            set_add(&b->excluded_hosts, o->host);
        }
    }
}

/* ---- output ---------------------------------------------------------- */

static void add_req(GArray *reqs, const char *key, FpSelOp op, const StrSet *values)
{
    FpSelReq r = {.key = g_strdup(key), .op = op, .values = g_new0(char *, values->items->len + 1)};
    for (guint i = 0; i < values->items->len; i++) {
        r.values[i] = g_strdup(values->items->pdata[i]);
    }
    g_array_append_val(reqs, r);
}

/* avoid_spot: every capacity label the policy reads NotIn its spot values
 * (the spellings clouds write: "spot" for Karpenter and AKS, "SPOT" for EKS
 * managed node groups; "true" for GKE's spot and preemptible labels). */
static void add_spot_exclusions(GArray *reqs, const FpPolicy *policy)
{
    StrSet spot, yes;
    set_init(&spot);
    set_init(&yes);
    set_add(&spot, "spot");
    set_add(&spot, "Spot");
    set_add(&spot, "SPOT");
    set_add(&yes, "true");
    bool gke_preemptible = false;
    for (char **k = policy->label_capacity_type; k && *k; k++) {
        bool flag = strstr(*k, "spot") || strstr(*k, "preemptible");
        add_req(reqs, *k, FP_SEL_NOT_IN, flag ? &yes : &spot);
        gke_preemptible = gke_preemptible || g_str_equal(*k, "cloud.google.com/gke-preemptible");
    }
    if (!gke_preemptible) {
        add_req(reqs, "cloud.google.com/gke-preemptible", FP_SEL_NOT_IN, &yes);
    }
    set_clear(&spot);
    set_clear(&yes);
}

static void emit_required(FpConstraints *c, const Build *b)
{
    GArray *reqs = g_array_new(FALSE, TRUE, sizeof(FpSelReq));
    char **label_region = b->policy->label_region;
    if (b->products_on) {
        add_req(reqs, b->product_key, FP_SEL_IN, &b->product_values);
    }
    if (b->shared_on && b->product_key) {
        add_req(reqs, b->product_key, FP_SEL_NOT_IN, &b->shared_values);
    }
    if (b->memory_on) {
        StrSet gt;
        set_init(&gt);
        char v[32];
        g_snprintf(v, sizeof v, "%" G_GINT64_FORMAT, b->memory_gt);
        set_add(&gt, v);
        add_req(reqs, b->memory_key, FP_SEL_GT, &gt);
        set_clear(&gt);
    }
    if (b->regions_on && label_region && label_region[0]) {
        add_req(reqs, label_region[0], FP_SEL_IN, &b->regions);
    }
    if (b->excluded_pools.items->len > 0) {
        for (char **k = b->policy->label_pool; k && *k; k++) {
            add_req(reqs, *k, FP_SEL_NOT_IN, &b->excluded_pools);
        }
    }
    if (b->excluded_hosts.items->len > 0) {
        add_req(reqs, FP_CONSTRAINTS_HOSTNAME_KEY, FP_SEL_NOT_IN, &b->excluded_hosts);
    }
    if (b->d->profile->avoid_spot) {
        add_spot_exclusions(reqs, b->policy);
    }
    c->n_required = reqs->len;
    c->required = (FpSelReq *)(void *)g_array_free(reqs, FALSE);
}

/* A requirement pair no node matches: @key both present and absent. */
static void emit_unsatisfiable(FpConstraints *c, const char *key)
{
    c->unsatisfiable = true;
    c->n_required = 2;
    c->required = g_new0(FpSelReq, 2);
    c->required[0] = (FpSelReq){.key = g_strdup(key), .op = FP_SEL_EXISTS};
    c->required[1] = (FpSelReq){.key = g_strdup(key), .op = FP_SEL_DOES_NOT_EXIST};
}

static void emit_preferred(FpConstraints *c, const Build *b)
{
    char **label_region = b->policy->label_region;
    if (b->d->n_origins == 0 || !label_region || !label_region[0]) {
        return;
    }
    GHashTable *names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GArray *rtt = regions_by_rtt(b, names);
    c->preferred = g_new0(FpPreferredTerm, FP_CONSTRAINTS_MAX_PREFERRED);
    for (guint i = 0; i < rtt->len && c->n_preferred < FP_CONSTRAINTS_MAX_PREFERRED; i++) {
        const RegionRtt *r = &g_array_index(rtt, RegionRtt, i);
        if ((b->regions_on && !set_has(&b->regions, r->region)) || !value_ok(r->region)) {
            continue;
        }
        FpSelReq *e = g_new0(FpSelReq, 1);
        e->key = g_strdup(label_region[0]);
        e->op = FP_SEL_IN;
        e->values = g_new0(char *, 2);
        e->values[0] = g_strdup(r->region);
        long w = lround(100.0 * fp_latency_term(r->ms));
        c->preferred[c->n_preferred++] =
            (FpPreferredTerm){.weight = (int)CLAMP(w, 1, 100), .exprs = e, .n_exprs = 1};
    }
    g_array_unref(rtt);
    g_hash_table_unref(names);
}

static void join_set(GString *s, const StrSet *set, guint max)
{
    for (guint i = 0; i < set->items->len && i < max; i++) {
        g_string_append_printf(s, "%s%s", i ? ", " : "", (char *)set->items->pdata[i]);
    }
    if (set->items->len > max) {
        g_string_append_printf(s, " and %u more", set->items->len - max);
    }
}

static char *summary(const Build *b)
{
    GString *s = g_string_new(NULL);
    if (b->products_on && b->products.items->len == 0) {
        g_string_append(s, "no GPU product");
    } else if (b->products_on) {
        join_set(s, &b->products, 8);
    } else {
        g_string_append(s, "any GPU");
    }
    const FpDemand *d = b->d;
    if (b->regions_on) {
        g_string_append_printf(s, " within %g ms of ", d->max_latency_ms);
        for (guint i = 0; i < d->n_origins; i++) {
            g_string_append_printf(s, "%s%s", i ? ", " : "", d->origins[i].region);
        }
    }
    if (d->min_gpu_memory_mib > 0) {
        g_string_append_printf(s, " with at least %g GiB per GPU", d->min_gpu_memory_mib / 1024.0);
    }
    if (b->model_narrowed) {
        const FpModelPlan *m = &d->model_plan;
        g_string_append_printf(s, " that fit %s (%.1f GiB of weights over %d GPU%s)",
                               m->spec && m->spec->name ? m->spec->name : "the model",
                               m->weights_gib, m->tensor_parallel,
                               m->tensor_parallel == 1 ? "" : "s");
    }
    if (d->max_price >= 0) {
        g_string_append_printf(s, " at most $%.2f per GPU-hour", d->max_price);
    }
    if (d->profile->avoid_spot) {
        g_string_append(s, ", not on spot capacity");
    }
    if (b->shared_on) {
        g_string_append(s, ", not on shared (time-sliced or MPS) GPUs: ");
        join_set(s, &b->shared_values, 4);
    }
    if (b->excluded_pools.items->len > 0) {
        g_string_append(s, ", not in pool ");
        join_set(s, &b->excluded_pools, 4);
    }
    if (b->excluded_hosts.items->len > 0) {
        g_string_append(s, ", not on node ");
        join_set(s, &b->excluded_hosts, 4);
    }
    return g_string_free(s, FALSE);
}

static void decide_problem(FpConstraints *c, const Build *b)
{
    bool no_key = b->products_on && !b->product_key;
    bool no_product = b->products_on && b->product_values.items->len == 0;
    c->expressible = !no_key && !no_product && !(b->regions_on && b->regions.items->len == 0);
    if (no_key) {
        c->problem = g_strdup_printf("no node label names the GPU product of %s, so the pod's "
                                     "constraints (%s) cannot be written",
                                     b->d->resource, c->summary);
    } else if (!c->expressible) {
        c->problem = g_strdup_printf(
            "no %s satisfies the pod's constraints (%s): no node or pool can take it",
            no_product ? "GPU product" : "region", c->summary);
    } else if (c->offers_accepted == 0) {
        c->problem = g_strdup_printf("no node or pool template offers %s: the pod stays "
                                     "Pending until one does",
                                     c->summary);
    }
}

FpConstraints *fp_constraints_new(const FpPolicy *policy, const FpDemand *demand,
                                  const FpOffer *offers, guint n, bool preferred)
{
    FpConstraints *c = g_new0(FpConstraints, 1);
    c->n_offers = n;
    if (demand->invalid_reason) {
        c->problem =
            g_strdup(demand->invalid_detail ? demand->invalid_detail : demand->invalid_reason);
        return c;
    }
    if (!demand->resource) {
        return c;
    }
    c->applies = true;
    Build b = {.policy = policy, .d = demand, .offers = offers, .n = n};
    b.kind = res_kind(demand->resource);
    b.product_key = fp_constraints_product_key(policy, demand->resource, b.product_key_buf,
                                               sizeof b.product_key_buf);
    b.memory_key =
        fp_constraints_memory_key(demand->resource, b.memory_key_buf, sizeof b.memory_key_buf);
    b.accepted = g_new0(bool, n ? n : 1);
    b.mine = g_new0(bool, n ? n : 1);
    for (guint i = 0; i < n; i++) {
        b.mine[i] = offers_resource(demand, &offers[i]);
        b.accepted[i] = fp_constraints_offer_reason(policy, demand, &offers[i]) == NULL;
        c->offers_accepted += b.accepted[i];
        c->templates_accepted += b.accepted[i] && offers[i].is_template;
    }
    set_init(&b.products);
    set_init(&b.product_values);
    set_init(&b.regions);
    set_init(&b.excluded_pools);
    set_init(&b.excluded_hosts);
    set_init(&b.shared_values);
    build_products(&b);
    build_product_values(&b);
    build_memory(&b);
    build_regions(&b);
    build_pool_exclusions(&b);
    c->summary = summary(&b);
    decide_problem(c, &b);
    if (c->expressible) {
        emit_required(c, &b);
        if (preferred) {
            emit_preferred(c, &b);
        }
    } else if (b.products_on && b.product_key && b.product_values.items->len == 0) {
        emit_unsatisfiable(c, b.product_key);
    } else if (b.regions_on && b.regions.items->len == 0 && b.policy->label_region &&
               b.policy->label_region[0]) {
        emit_unsatisfiable(c, b.policy->label_region[0]);
    }
    set_clear(&b.products);
    set_clear(&b.product_values);
    set_clear(&b.regions);
    set_clear(&b.excluded_pools);
    set_clear(&b.excluded_hosts);
    set_clear(&b.shared_values);
    g_free(b.accepted);
    g_free(b.mine);
    return c;
}

static void sel_req_clear(FpSelReq *r)
{
    g_free(r->key);
    g_strfreev(r->values);
}

void fp_constraints_free(FpConstraints *c)
{
    if (!c) {
        return;
    }
    for (guint i = 0; i < c->n_required; i++) {
        sel_req_clear(&c->required[i]);
    }
    g_free(c->required);
    for (guint i = 0; i < c->n_preferred; i++) {
        FpSelReq *e = (FpSelReq *)c->preferred[i].exprs;
        sel_req_clear(e);
        g_free(e);
    }
    g_free(c->preferred);
    g_free(c->summary);
    g_free(c->problem);
    g_free(c);
}

bool fp_constraints_admit(const FpConstraints *c, GHashTable *labels)
{
    for (guint i = 0; i < c->n_required; i++) {
        const FpSelReq *r = &c->required[i];
        const char *v = labels ? g_hash_table_lookup(labels, r->key) : NULL;
        bool in = v && r->values && g_strv_contains((const char *const *)r->values, v);
        int64_t have = 0, want = 0;
        bool ints = (r->op == FP_SEL_GT || r->op == FP_SEL_LT) && r->values && r->values[0] &&
                    !r->values[1] && label_int(v, &have) && label_int(r->values[0], &want);
        bool ok = r->op == FP_SEL_IN               ? in
                  : r->op == FP_SEL_NOT_IN         ? !in
                  : r->op == FP_SEL_EXISTS         ? v != NULL
                  : r->op == FP_SEL_DOES_NOT_EXIST ? v == NULL
                  : r->op == FP_SEL_GT             ? ints && have > want
                  : r->op == FP_SEL_LT             ? ints && have < want
                                                   : false;
        if (!ok) {
            return false;
        }
    }
    return true;
}
