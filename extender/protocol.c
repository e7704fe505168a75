/*
 * extender/protocol.c - decode and encode kube-scheduler's extender v1 types.
 */
#include "extender/protocol.h"

#include <string.h>

#include "cache/kobj.h"

G_DEFINE_QUARK(fp - protocol - error - quark, fp_protocol_error)

json_t *fp_protocol_member(const json_t *obj, const char *name)
{
    if (!json_is_object(obj)) {
        return NULL;
    }
    json_t *found = NULL;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        if (g_ascii_strcasecmp(key, name) == 0) {
            found = value;
        }
    }
    return found;
}

json_t *fp_protocol_parse_json(const char *body, size_t len, GError **error)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!root) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_JSON,
                    "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
    }
    return root;
}

void fp_extender_args_free(FpExtenderArgs *args)
{
    if (!args) {
        return;
    }
    g_clear_pointer(&args->pod, fp_pod_unref);
    g_free(args->node_names); /* strings are borrowed from root */
    g_clear_pointer(&args->nodes, g_ptr_array_unref);
    json_decref(args->root);
    g_free(args);
}

guint fp_extender_args_count(const FpExtenderArgs *args)
{
    return args->nodes ? args->nodes->len : args->n_names;
}

const char *fp_extender_args_name(const FpExtenderArgs *args, guint i)
{
    if (args->nodes) {
        return ((FpNode *)g_ptr_array_index(args->nodes, i))->name;
    }
    return args->node_names[i];
}

static gboolean parse_node_names(FpExtenderArgs *args, json_t *names, GError **error)
{
    size_t n = json_array_size(names);
    if (n > FP_PROTOCOL_MAX_NODES) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_LIMIT,
                    "NodeNames: %zu names, more than the limit of %d", n, FP_PROTOCOL_MAX_NODES);
        return FALSE;
    }
    args->node_names = g_new0(char *, n + 1);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(names, i);
        if (!json_is_string(v)) {
            g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                        "NodeNames[%zu]: expected a string", i);
            return FALSE;
        }
        args->node_names[i] = (char *)json_string_value(v);
    }
    args->n_names = (guint)n;
    return TRUE;
}

static gboolean parse_nodes(FpExtenderArgs *args, json_t *nodes, GError **error)
{
    if (!json_is_object(nodes)) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                    "Nodes: expected a NodeList object or null");
        return FALSE;
    }
    json_t *items = json_object_get(nodes, "items");
    if (items && !json_is_array(items) && !json_is_null(items)) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                    "Nodes.items: expected an array");
        return FALSE;
    }
    size_t n = json_array_size(items);
    if (n > FP_PROTOCOL_MAX_NODES) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_LIMIT,
                    "Nodes.items: %zu nodes, more than the limit of %d", n, FP_PROTOCOL_MAX_NODES);
        return FALSE;
    }
    args->nodes = g_ptr_array_new_full((guint)n, (GDestroyNotify)fp_node_unref);
    args->node_items = items;
    for (size_t i = 0; i < n; i++) {
        g_autoptr(GError) local = NULL;
        FpNode *node = fp_node_from_json(json_array_get(items, i), &local);
        if (!node) {
            g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE, "Nodes.items[%zu]: %s",
                        i, local->message);
            return FALSE;
        }
        g_ptr_array_add(args->nodes, node);
    }
    return TRUE;
}

FpExtenderArgs *fp_extender_args_parse(const char *body, size_t len, GError **error)
{
    json_t *root = fp_protocol_parse_json(body, len, error);
    if (!root) {
        return NULL;
    }
    g_autoptr(FpExtenderArgs) args = g_new0(FpExtenderArgs, 1);
    args->root = root;
    if (!json_is_object(root)) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                    "ExtenderArgs: expected a JSON object");
        return NULL;
    }
    json_t *pod = fp_protocol_member(root, "Pod");
    if (!pod || json_is_null(pod)) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE, "ExtenderArgs: missing Pod");
        return NULL;
    }
    if (!json_is_object(pod)) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                    "Pod: expected a Pod object");
        return NULL;
    }
    g_autoptr(GError) local = NULL;
    args->pod = fp_pod_from_json(pod, FP_POD_FULL, &local);
    if (!args->pod) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE, "Pod: %s", local->message);
        return NULL;
    }
    json_t *names = fp_protocol_member(root, "NodeNames");
    json_t *nodes = fp_protocol_member(root, "Nodes");
    if (names && !json_is_null(names)) {
        if (!json_is_array(names)) {
            g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                        "NodeNames: expected an array of strings or null");
            return NULL;
        }
        if (!parse_node_names(args, names, error)) {
            return NULL;
        }
    } else if (nodes && !json_is_null(nodes)) {
        if (!parse_nodes(args, nodes, error)) {
            return NULL;
        }
    } else {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                    "ExtenderArgs: neither NodeNames nor Nodes is set");
        return NULL;
    }
    return g_steal_pointer(&args);
}

/* Error texts reach kube-scheduler, whose older versions pass them to a
 * printf-style formatter: keep '%' out. */
static json_t *error_string(const char *text)
{
    if (!text || !strchr(text, '%')) {
        return json_string(text ? text : "");
    }
    g_autoptr(GString) s = g_string_new(NULL);
    for (const char *p = text; *p; p++) {
        if (*p == '%') {
            g_string_append(s, " percent");
        } else {
            g_string_append_c(s, *p);
        }
    }
    return json_string(s->str);
}

static char *dump(json_t *v, size_t *len)
{
    char *out = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (!out) { /* only on out of memory, where GLib would abort anyway */
        out = strdup("{\"Error\":\"flexplace: out of memory\"}");
        g_assert(out);
    }
    /* Hand over a g_malloc'ed copy: callers free with g_free. */
    size_t n = strlen(out);
    char *copy = g_memdup2(out, n + 1);
    free(out);
    if (len) {
        *len = n;
    }
    return copy;
}

char *fp_encode_filter_result(const FpExtenderArgs *args, const FpVerdict *verdicts,
                              const char *error_text, size_t *len)
{
    json_t *failed = json_object();
    json_t *unresolvable = json_object();
    json_t *passed = json_array();
    guint n = fp_extender_args_count(args);
    for (guint i = 0; !error_text && i < n; i++) {
        const char *name = fp_extender_args_name(args, i);
        if (verdicts[i].pass) {
            if (args->nodes) {
                json_array_append(passed, json_array_get(args->node_items, i));
            } else {
                json_array_append_new(passed, json_string(name));
            }
        } else {
            json_object_set_new(
                verdicts[i].unresolvable ? unresolvable : failed, name,
                json_string(verdicts[i].reason ? verdicts[i].reason : "rejected by flexplace"));
        }
    }
    json_t *out = json_object();
    if (args->nodes) {
        json_t *list = json_object();
        json_object_set_new(list, "metadata", json_object());
        json_object_set_new(list, "items", passed);
        json_object_set_new(out, "Nodes", list);
        json_object_set_new(out, "NodeNames", json_null());
    } else {
        json_object_set_new(out, "Nodes", json_null());
        json_object_set_new(out, "NodeNames", passed);
    }
    json_object_set_new(out, "FailedNodes", failed);
    json_object_set_new(out, "FailedAndUnresolvableNodes", unresolvable);
    json_object_set_new(out, "Error", error_string(error_text));
    return dump(out, len);
}

char *fp_encode_priorities(const FpExtenderArgs *args, const FpVerdict *verdicts, size_t *len)
{
    json_t *out = json_array();
    guint n = fp_extender_args_count(args);
    for (guint i = 0; i < n; i++) {
        int score = verdicts[i].pass ? CLAMP(verdicts[i].score, 0, 10) : 0;
        json_t *e = json_object();
        json_object_set_new(e, "Host", json_string(fp_extender_args_name(args, i)));
        json_object_set_new(e, "Score", json_integer(score));
        json_array_append_new(out, e);
    }
    return dump(out, len);
}

static char *dup_member_string(json_t *root, const char *name, gboolean required, GError **error)
{
    json_t *v = fp_protocol_member(root, name);
    if (!v || json_is_null(v)) {
        if (required) {
            g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                        "ExtenderBindingArgs: missing %s", name);
        }
        return required ? NULL : g_strdup("");
    }
    if (!json_is_string(v)) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                    "ExtenderBindingArgs: %s must be a string", name);
        return NULL;
    }
    return g_strdup(json_string_value(v));
}

void fp_binding_args_free(FpBindingArgs *args)
{
    if (!args) {
        return;
    }
    g_free(args->pod_name);
    g_free(args->pod_namespace);
    g_free(args->pod_uid);
    g_free(args->node);
    g_free(args);
}

FpBindingArgs *fp_binding_args_parse(const char *body, size_t len, GError **error)
{
    json_t *root = fp_protocol_parse_json(body, len, error);
    if (!root) {
        return NULL;
    }
    g_autoptr(FpBindingArgs) args = g_new0(FpBindingArgs, 1);
    gboolean ok = json_is_object(root);
    if (!ok) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                    "ExtenderBindingArgs: expected a JSON object");
    }
    ok = ok && (args->pod_name = dup_member_string(root, "PodName", TRUE, error)) != NULL;
    ok = ok && (args->pod_namespace = dup_member_string(root, "PodNamespace", FALSE, error));
    ok = ok && (args->pod_uid = dup_member_string(root, "PodUID", FALSE, error)) != NULL;
    ok = ok && (args->node = dup_member_string(root, "Node", TRUE, error)) != NULL;
    json_decref(root);
    if (!ok) {
        return NULL;
    }
    if (!*args->pod_name || !*args->node) {
        g_set_error(error, FP_PROTOCOL_ERROR, FP_PROTOCOL_ERROR_SHAPE,
                    "ExtenderBindingArgs: PodName and Node must not be empty");
        return NULL;
    }
    if (!*args->pod_namespace) {
        g_free(args->pod_namespace);
        args->pod_namespace = g_strdup("default");
    }
    return g_steal_pointer(&args);
}

char *fp_encode_binding_result(const char *error_text, size_t *len)
{
    json_t *out = json_object();
    json_object_set_new(out, "Error", error_string(error_text));
    return dump(out, len);
}
