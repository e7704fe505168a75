/*
 * test/support/jsonpatch.c - RFC 6902 apply (contract in the header).
 */
#include "test/support/jsonpatch.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Reference tokens of @pointer, unescaped; NULL when it does not start
 * with '/' (the empty pointer, the whole document, is not used here). */
static char **split_pointer(const char *pointer)
{
    if (!pointer || pointer[0] != '/') {
        return NULL;
    }
    char **parts = g_strsplit(pointer + 1, "/", -1);
    for (char **p = parts; *p; p++) {
        GString *s = g_string_new(NULL);
        for (const char *c = *p; *c; c++) {
            if (c[0] == '~' && c[1] == '1') {
                g_string_append_c(s, '/');
                c++;
            } else if (c[0] == '~' && c[1] == '0') {
                g_string_append_c(s, '~');
                c++;
            } else {
                g_string_append_c(s, *c);
            }
        }
        g_free(*p);
        *p = g_string_free(s, FALSE);
    }
    return parts;
}

static bool parse_index(const char *tok, size_t max, size_t *out)
{
    if (!*tok || (tok[0] == '0' && tok[1]) || strspn(tok, "0123456789") != strlen(tok)) {
        return false;
    }
    unsigned long long v = strtoull(tok, NULL, 10);
    if (v > max) {
        return false;
    }
    *out = (size_t)v;
    return true;
}

static json_t *child(json_t *parent, const char *tok)
{
    size_t i;
    if (json_is_object(parent)) {
        return json_object_get(parent, tok);
    }
    if (json_is_array(parent) && parse_index(tok, json_array_size(parent), &i)) {
        return json_array_get(parent, i);
    }
    return NULL;
}

static bool apply_one(json_t *doc, const json_t *op, char **error)
{
    const char *name = json_string_value(json_object_get(op, "op"));
    const char *path = json_string_value(json_object_get(op, "path"));
    json_t *value = json_object_get(op, "value");
    char **toks = split_pointer(path);
    bool ok = false;
    if (!name || !toks || !toks[0]) {
        *error = g_strdup_printf("bad operation %s", path ? path : "(no path)");
        g_strfreev(toks);
        return false;
    }
    guint n = g_strv_length(toks);
    json_t *parent = doc;
    for (guint i = 0; i + 1 < n && parent; i++) {
        parent = child(parent, toks[i]);
    }
    const char *last = toks[n - 1];
    size_t idx = 0;
    if (!parent) {
        *error = g_strdup_printf("%s %s: parent does not exist", name, path);
    } else if (g_str_equal(name, "add") && value) {
        if (json_is_object(parent)) {
            ok = json_object_set(parent, last, value) == 0;
        } else if (json_is_array(parent) && g_str_equal(last, "-")) {
            ok = json_array_append(parent, value) == 0;
        } else if (json_is_array(parent) && parse_index(last, json_array_size(parent), &idx)) {
            ok = json_array_insert(parent, idx, value) == 0;
        }
    } else if (g_str_equal(name, "replace") && value && child(parent, last)) {
        ok = json_is_object(parent) ? json_object_set(parent, last, value) == 0
                                    : (parse_index(last, json_array_size(parent) - 1, &idx) &&
                                       json_array_set(parent, idx, value) == 0);
    } else if (g_str_equal(name, "remove") && child(parent, last)) {
        ok = json_is_object(parent) ? json_object_del(parent, last) == 0
                                    : (parse_index(last, json_array_size(parent) - 1, &idx) &&
                                       json_array_remove(parent, idx) == 0);
    } else if (g_str_equal(name, "test") && value) {
        ok = json_equal(child(parent, last), value);
    }
    if (!ok && !*error) {
        *error = g_strdup_printf("%s %s failed", name, path);
    }
    g_strfreev(toks);
    return ok;
}

json_t *fp_test_json_patch_apply(const json_t *doc, const json_t *patch, char **error)
{
    *error = NULL;
    if (!json_is_array(patch)) {
        *error = g_strdup("a JSON Patch is an array");
        return NULL;
    }
    json_t *out = json_deep_copy(doc);
    size_t i;
    json_t *op;
    json_array_foreach(patch, i, op)
    {
        if (!apply_one(out, op, error)) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}
