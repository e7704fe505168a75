/*
 * scoring/model_catalog.c - model lookup by name (scoring/model_catalog.h).
 */
#include "scoring/model_catalog.h"

#include <string.h>

FpModelSpec *fp_model_spec_new(const char *name)
{
    FpModelSpec *spec = g_new0(FpModelSpec, 1);
    spec->name = g_strdup(name ? name : "");
    spec->dtype = g_strdup("-");
    spec->quant = g_strdup("-");
    spec->source = g_strdup("policy");
    return spec;
}

FpModelSpec *fp_model_spec_copy(const FpModelSpec *src, const char *name)
{
    FpModelSpec *spec = g_new(FpModelSpec, 1);
    *spec = *src;
    spec->name = g_strdup(name ? name : src->name);
    spec->dtype = g_strdup(src->dtype ? src->dtype : "-");
    spec->quant = g_strdup(src->quant ? src->quant : "-");
    spec->source = g_strdup(src->source ? src->source : "policy");
    return spec;
}

void fp_model_spec_free(FpModelSpec *spec)
{
    if (!spec) {
        return;
    }
    g_free((char *)spec->name);
    g_free((char *)spec->dtype);
    g_free((char *)spec->quant);
    g_free((char *)spec->source);
    g_free(spec);
}

void fp_model_spec_set_string(const char **field, const char *value)
{
    g_free((char *)*field);
    *field = g_strdup(value ? value : "-");
}

/* Remove @suffix from the end of @s (in place) when present. */
static bool strip_suffix(char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    if (n > m && strcmp(s + n - m, suffix) == 0) {
        s[n - m] = '\0';
        return true;
    }
    return false;
}

char *fp_model_name_key(const char *name)
{
    if (!name) {
        return g_strdup("");
    }
    const char *slash = strrchr(name, '/');
    char *key = g_ascii_strdown(slash ? slash + 1 : name, -1);
    if (g_str_has_prefix(key, "meta-") && key[5] != '\0') {
        memmove(key, key + 5, strlen(key + 5) + 1);
    }
    static const char *const suffixes[] = {"-instruct", "-it", "-chat", "-hf", "-fp8"};
    for (bool again = true; again;) {
        again = false;
        for (size_t i = 0; i < G_N_ELEMENTS(suffixes); i++) {
            again = again || strip_suffix(key, suffixes[i]);
        }
    }
    return key;
}

static const FpModelSpec *find_overrides(GHashTable *overrides, const char *name, const char *key)
{
    if (!overrides || g_hash_table_size(overrides) == 0) {
        return NULL;
    }
    const FpModelSpec *spec = g_hash_table_lookup(overrides, name);
    if (spec) {
        return spec;
    }
    GHashTableIter it;
    gpointer k, v;
    const FpModelSpec *loose = NULL;
    g_hash_table_iter_init(&it, overrides);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const FpModelSpec *s = v;
        if (g_ascii_strcasecmp(s->name, name) == 0) {
            return s;
        }
        if (!loose) {
            g_autofree char *skey = fp_model_name_key(s->name);
            if (g_str_equal(skey, key)) {
                loose = s;
            }
        }
    }
    return loose;
}

static const FpModelSpec *find_builtin(const char *name, const char *key)
{
    for (size_t i = 0; i < fp_model_catalog_builtin_len; i++) {
        if (g_ascii_strcasecmp(fp_model_catalog_builtin[i].name, name) == 0) {
            return &fp_model_catalog_builtin[i];
        }
    }
    for (size_t i = 0; i < fp_model_catalog_builtin_len; i++) {
        g_autofree char *skey = fp_model_name_key(fp_model_catalog_builtin[i].name);
        if (g_str_equal(skey, key)) {
            return &fp_model_catalog_builtin[i];
        }
    }
    return NULL;
}

const FpModelSpec *fp_model_catalog_find(GHashTable *overrides, const char *name)
{
    if (!name || !*name) {
        return NULL;
    }
    g_autofree char *key = fp_model_name_key(name);
    if (!*key) {
        return NULL;
    }
    const FpModelSpec *spec = find_overrides(overrides, name, key);
    if (spec) {
        return spec;
    }
    const char *target = fp_model_alias_target(name);
    if (target) {
        g_autofree char *tkey = fp_model_name_key(target);
        spec = find_overrides(overrides, target, tkey);
        if (!spec) {
            spec = find_builtin(target, tkey);
        }
        if (spec) {
            return spec;
        }
    }
    return find_builtin(name, key);
}

const char *fp_model_alias_target(const char *name)
{
    for (size_t i = 0; name && i < fp_model_aliases_builtin_len; i++) {
        if (g_ascii_strcasecmp(fp_model_aliases_builtin[i].alias, name) == 0) {
            return fp_model_aliases_builtin[i].model;
        }
    }
    return NULL;
}
