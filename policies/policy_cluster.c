/*
 * policies/policy_cluster.c - names in a policy that match nothing in a
 * cluster (policy_cluster.h).
 */
#include "policies/policy_cluster.h"

#include <string.h>

#include "scoring/engine.h"

#define SHOWN_MAX 10

/* What the cluster's nodes carry, as sets of borrowed-then-copied strings. */
typedef struct {
    const FpPolicy *policy;
    GHashTable *pools;    /* owned strings */
    GHashTable *regions;  /* owned strings */
    GHashTable *products; /* owned strings */
} Seen;

static void add_nonempty(GHashTable *set, const char *s)
{
    if (s && *s && !g_hash_table_contains(set, s)) {
        g_hash_table_add(set, g_strdup(s));
    }
}

static void seen_node(const FpNodeState *st, void *data)
{
    Seen *seen = data;
    if (!st->node) {
        return;
    }
    FpNodeFacts f;
    fp_node_facts(seen->policy, st->node, &f);
    add_nonempty(seen->pools, f.pool);
    add_nonempty(seen->regions, f.region);
    add_nonempty(seen->products, f.product);
}

static gint cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append @name to @out unless it is there already. */
static void add_unique(GPtrArray *out, const char *name)
{
    for (guint i = 0; i < out->len; i++) {
        if (strcmp(g_ptr_array_index(out, i), name) == 0) {
            return;
        }
    }
    g_ptr_array_add(out, g_strdup(name));
}

static bool any_product_matches(GHashTable *products, const char *entry)
{
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, products);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        if (fp_sku_matches(entry, k)) {
            return true;
        }
    }
    return false;
}

static void unmatched_pools(const FpPolicy *policy, const Seen *seen, GPtrArray *out)
{
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, policy->pools);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        if (!g_hash_table_contains(seen->pools, k)) {
            add_unique(out, k);
        }
    }
}

/* The region names of an origin spec "eastus=3,westeurope". */
static void add_origin_regions(const char *spec, GHashTable *set)
{
    g_auto(GStrv) items = g_strsplit(spec ? spec : "", ",", -1);
    for (guint i = 0; items[i]; i++) {
        char *eq = strchr(items[i], '=');
        if (eq) {
            *eq = '\0';
        }
        add_nonempty(set, g_strstrip(items[i]));
    }
}

static void unmatched_regions(const FpPolicy *policy, const Seen *seen, GPtrArray *out)
{
    g_autoptr(GHashTable) origins = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, policy->profiles);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        add_origin_regions(((const FpProfile *)v)->origin_regions, origins);
    }
    g_autofree char *probe = fp_policy_latency_key("a", "b");
    const char sep = probe[1];
    g_hash_table_iter_init(&it, policy->latency);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        g_auto(GStrv) pair = g_strsplit(k, (char[]){sep, '\0'}, 2);
        for (guint i = 0; pair[i]; i++) {
            if (*pair[i] && !g_hash_table_contains(seen->regions, pair[i]) &&
                !g_hash_table_contains(origins, pair[i])) {
                add_unique(out, pair[i]);
            }
        }
    }
}

static void check_products(char **list, const Seen *seen, GPtrArray *out)
{
    for (char **e = list; e && *e; e++) {
        if (!any_product_matches(seen->products, *e)) {
            add_unique(out, *e);
        }
    }
}

static void unmatched_skus(const FpPolicy *policy, const Seen *seen, GPtrArray *out)
{
    g_autoptr(FpPolicy) builtin = fp_policy_new_default();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, policy->skus);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        if (!g_hash_table_contains(builtin->skus, k) && !any_product_matches(seen->products, k)) {
            add_unique(out, k);
        }
    }
    g_hash_table_iter_init(&it, policy->profiles);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const FpProfile *p = v;
        check_products(p->allowed_skus, seen, out);
        check_products(p->sku_preference, seen, out);
    }
}

FpPolicyUnmatched *fp_policy_unmatched(const FpPolicy *policy, FpView *view)
{
    FpPolicyUnmatched *u = g_new0(FpPolicyUnmatched, 1);
    u->pools = g_ptr_array_new_with_free_func(g_free);
    u->regions = g_ptr_array_new_with_free_func(g_free);
    u->skus = g_ptr_array_new_with_free_func(g_free);
    Seen seen = {
        .policy = policy,
        .pools = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
        .regions = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
        .products = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
    };
    fp_view_read_lock(view);
    fp_view_foreach_node_locked(view, seen_node, &seen);
    fp_view_read_unlock(view);
    unmatched_pools(policy, &seen, u->pools);
    unmatched_regions(policy, &seen, u->regions);
    unmatched_skus(policy, &seen, u->skus);
    g_ptr_array_sort(u->pools, cmp_str);
    g_ptr_array_sort(u->regions, cmp_str);
    g_ptr_array_sort(u->skus, cmp_str);
    g_hash_table_unref(seen.pools);
    g_hash_table_unref(seen.regions);
    g_hash_table_unref(seen.products);
    return u;
}

void fp_policy_unmatched_free(FpPolicyUnmatched *u)
{
    if (!u) {
        return;
    }
    g_ptr_array_unref(u->pools);
    g_ptr_array_unref(u->regions);
    g_ptr_array_unref(u->skus);
    g_free(u);
}

guint fp_policy_unmatched_count(const FpPolicyUnmatched *u)
{
    return u->pools->len + u->regions->len + u->skus->len;
}

static void append_list(GString *s, const char *what, const GPtrArray *names)
{
    if (names->len == 0) {
        return;
    }
    g_string_append_printf(s, "%s%s ", s->len ? "; " : "", what);
    for (guint i = 0; i < names->len && i < SHOWN_MAX; i++) {
        g_string_append_printf(s, "%s%s", i ? ", " : "", (const char *)g_ptr_array_index(names, i));
    }
    if (names->len > SHOWN_MAX) {
        g_string_append_printf(s, " and %u more", names->len - SHOWN_MAX);
    }
}

char *fp_policy_unmatched_text(const FpPolicyUnmatched *u)
{
    if (fp_policy_unmatched_count(u) == 0) {
        return NULL;
    }
    GString *s = g_string_new(NULL);
    append_list(s, "pools", u->pools);
    append_list(s, "regions", u->regions);
    append_list(s, "SKUs", u->skus);
    return g_string_free(s, FALSE);
}
