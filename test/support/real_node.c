/*
 * test/support/real_node.c - a Node from the shared data's real node files
 * (contract in the header).
 */
#include "test/support/real_node.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "scoring/device.h"
#include "test/support/support.h"

static bool is_gpu_resource_name(const char *k)
{
    if (strcmp(k, "nvidia.com/gpu") == 0 || strcmp(k, "amd.com/gpu") == 0 ||
        strcmp(k, "nvidia.com/gpu.shared") == 0) {
        return true;
    }
    if (!g_str_has_prefix(k, "nvidia.com/mig-")) {
        return false;
    }
    const char *p = k + strlen("nvidia.com/mig-");
    return fp_device_mig_compute(p) > 0 && g_str_has_suffix(p, "gb");
}

static char *unquote(const char *v)
{
    g_autofree char *t = g_strstrip(g_strdup(v));
    gsize n = strlen(t);
    if (n >= 2 && (t[0] == '"' || t[0] == '\'') && t[n - 1] == t[0]) {
        return g_strndup(t + 1, n - 2);
    }
    return g_strdup(t);
}

static void read_line(FpNode *node, GHashTable *seen_alloc, const char *line, const char *section)
{
    g_autofree char *t = g_strstrip(g_strdup(line));
    if (!*t || t[0] == '$' || t[0] == '#' || t[0] == '`') {
        return;
    }
    const char *colon = strstr(t, ": ");
    if (!colon && g_str_has_suffix(t, ":")) {
        colon = t + strlen(t) - 1;
    }
    const char *eq = strchr(t, '=');
    g_autofree char *key = NULL;
    g_autofree char *value = NULL;
    if (colon && (!eq || colon < eq)) {
        key = g_strndup(t, (gsize)(colon - t));
        value = unquote(colon + 1);
    } else if (eq) {
        key = g_strndup(t, (gsize)(eq - t));
        value = g_strdup(eq + 1);
    } else {
        return;
    }
    g_autofree char *k = unquote(key);
    if (!strchr(k, '/') || strchr(k, ' ')) {
        return;
    }
    if (is_gpu_resource_name(k) && g_ascii_isdigit(value[0])) {
        bool alloc = strcmp(section, "allocatable") == 0;
        if (alloc || !g_hash_table_contains(seen_alloc, k)) {
            fp_res_list_set(&node->allocatable, k, g_ascii_strtoll(value, NULL, 10));
            g_hash_table_add(seen_alloc, g_strdup(k));
        }
        return;
    }
    if (strcmp(section, "annotations") == 0 || strcmp(section, "taints") == 0 ||
        strcmp(section, "capacity") == 0 || strcmp(section, "allocatable") == 0) {
        return;
    }
    fp_node_set_label(node, k, value);
}

FpNode *fp_test_node_from_file(const char *path, const char *name)
{
    g_autofree char *text = fp_test_read_file(path, NULL);
    FpNode *node = fp_node_new(name);
    const char *start = text + strspn(text, " \t\r\n");
    if (*start == '{') {
        json_error_t err;
        json_t *obj = json_loads(start, 0, &err);
        assert_non_null(obj);
        const char *k;
        json_t *v;
        json_object_foreach(obj, k, v)
        {
            if (json_is_string(v)) {
                fp_node_set_label(node, k, json_string_value(v));
            }
        }
        json_decref(obj);
        return node;
    }
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    char section[32] = "";
    gsize section_indent = 0;
    for (guint i = 0; lines[i]; i++) {
        const char *l = lines[i];
        gsize indent = strspn(l, " ");
        const char *body = l + indent;
        if (*body && indent <= section_indent && section[0] && !g_ascii_isspace(*body)) {
            /* a line at or left of the section's header ends it (YAML) */
            if (indent < section_indent || strchr(body, ':') != NULL) {
                section[0] = '\0';
            }
        }
        /* a header: "Word:" or "Word:   rest" with a plain word */
        gsize w = 0;
        while (g_ascii_isalpha(body[w])) {
            w++;
        }
        if (w > 0 && body[w] == ':' && (body[w + 1] == '\0' || body[w + 1] == ' ')) {
            g_strlcpy(section, body, MIN(w + 1, sizeof section));
            for (char *p = section; *p; p++) {
                *p = g_ascii_tolower(*p);
            }
            section_indent = indent;
            const char *rest = body + w + 1;
            if (strchr(rest, '=') || strchr(rest, ':')) {
                read_line(node, seen, rest, section); /* "Labels:   first=label" */
            }
            continue;
        }
        read_line(node, seen, l, section);
    }
    return node;
}
