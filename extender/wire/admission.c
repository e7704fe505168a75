/*
 * extender/wire/admission.c - decode AdmissionReview requests, encode replies.
 */
#include "extender/wire/admission.h"

#include <string.h>

#include "cache/kobj.h"

G_DEFINE_QUARK(fp - admission - error - quark, fp_admission_error)

/* Names, namespaces and GVK parts are at most 253 bytes in Kubernetes; a
 * longer one is not a real request. */
#define MAX_FIELD 512

void fp_admission_request_free(FpAdmissionRequest *req)
{
    if (!req) {
        return;
    }
    g_free(req->api_version);
    g_free(req->uid);
    g_free(req->kind.group);
    g_free(req->kind.version);
    g_free(req->kind.name);
    g_free(req->resource.group);
    g_free(req->resource.version);
    g_free(req->resource.name);
    g_free(req->sub_resource);
    g_free(req->name);
    g_free(req->namespace_);
    g_free(req->operation);
    json_decref(req->root);
    g_free(req);
}

/* @obj[@key] as a new string: "" when absent or null; an error naming
 * @path when it is another type or longer than @max bytes. */
static bool take_string(const json_t *obj, const char *key, const char *path, size_t max,
                        char **out, GError **error)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *out = g_strdup("");
        return true;
    }
    if (!json_is_string(v)) {
        g_set_error(error, FP_ADMISSION_ERROR, FP_ADMISSION_ERROR_SHAPE, "%s%s: must be a string",
                    path, key);
        return false;
    }
    size_t len = json_string_length(v);
    if (len > max || memchr(json_string_value(v), '\0', len)) {
        g_set_error(error, FP_ADMISSION_ERROR, FP_ADMISSION_ERROR_LIMIT,
                    "%s%s: longer than %zu bytes or holds a NUL", path, key, max);
        return false;
    }
    *out = g_strndup(json_string_value(v), len);
    return true;
}

static bool take_gvk(const json_t *req, const char *key, const char *name_key, FpAdmissionGvk *out,
                     GError **error)
{
    json_t *v = json_object_get(req, key);
    g_autofree char *path = g_strdup_printf("request.%s.", key);
    if (v && !json_is_null(v) && !json_is_object(v)) {
        g_set_error(error, FP_ADMISSION_ERROR, FP_ADMISSION_ERROR_SHAPE,
                    "request.%s: must be an object", key);
        return false;
    }
    return take_string(v, "group", path, MAX_FIELD, &out->group, error) &&
           take_string(v, "version", path, MAX_FIELD, &out->version, error) &&
           take_string(v, name_key, path, MAX_FIELD, &out->name, error);
}

static json_t *load_json(const char *body, size_t len, GError **error)
{
    if (len > FP_ADMISSION_MAX_BYTES) {
        g_set_error(error, FP_ADMISSION_ERROR, FP_ADMISSION_ERROR_LIMIT,
                    "AdmissionReview of %zu bytes is over the limit of %zu", len,
                    FP_ADMISSION_MAX_BYTES);
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!root && json_error_code(&jerr) == json_error_stack_overflow) {
        g_set_error(error, FP_ADMISSION_ERROR, FP_ADMISSION_ERROR_LIMIT,
                    "JSON nested deeper than %d levels (line %d, column %d)", JSON_PARSER_MAX_DEPTH,
                    jerr.line, jerr.column);
    } else if (!root) {
        g_set_error(error, FP_ADMISSION_ERROR, FP_ADMISSION_ERROR_JSON,
                    "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
    }
    return root;
}

/* apiVersion and kind of the review itself. */
static bool check_envelope(const json_t *root, FpAdmissionRequest *req, GError **error)
{
    if (!json_is_object(root)) {
        g_set_error(error, FP_ADMISSION_ERROR, FP_ADMISSION_ERROR_SHAPE,
                    "an AdmissionReview must be a JSON object");
        return false;
    }
    g_autofree char *kind = NULL;
    if (!take_string(root, "apiVersion", "", MAX_FIELD, &req->api_version, error) ||
        !take_string(root, "kind", "", MAX_FIELD, &kind, error)) {
        return false;
    }
    if (!g_str_equal(kind, "AdmissionReview") ||
        (!g_str_equal(req->api_version, "admission.k8s.io/v1") &&
         !g_str_equal(req->api_version, "admission.k8s.io/v1beta1"))) {
        g_set_error(error, FP_ADMISSION_ERROR, FP_ADMISSION_ERROR_SHAPE,
                    "not an AdmissionReview: apiVersion must be admission.k8s.io/v1 (or v1beta1) "
                    "and kind AdmissionReview");
        return false;
    }
    return true;
}

static bool take_request(const json_t *r, FpAdmissionRequest *req, GError **error)
{
    if (!json_is_object(r)) {
        g_set_error(error, FP_ADMISSION_ERROR, FP_ADMISSION_ERROR_SHAPE,
                    "request: missing or not an object");
        return false;
    }
    if (!take_string(r, "uid", "request.", FP_ADMISSION_MAX_UID, &req->uid, error)) {
        return false;
    }
    if (!*req->uid) {
        g_set_error(error, FP_ADMISSION_ERROR, FP_ADMISSION_ERROR_SHAPE,
                    "request.uid: missing or empty (the reply must echo it)");
        return false;
    }
    if (!take_gvk(r, "kind", "kind", &req->kind, error) ||
        !take_gvk(r, "resource", "resource", &req->resource, error) ||
        !take_string(r, "subResource", "request.", MAX_FIELD, &req->sub_resource, error) ||
        !take_string(r, "name", "request.", MAX_FIELD, &req->name, error) ||
        !take_string(r, "namespace", "request.", MAX_FIELD, &req->namespace_, error) ||
        !take_string(r, "operation", "request.", MAX_FIELD, &req->operation, error)) {
        return false;
    }
    json_t *dry = json_object_get(r, "dryRun");
    if (dry && !json_is_null(dry) && !json_is_boolean(dry)) {
        g_set_error(error, FP_ADMISSION_ERROR, FP_ADMISSION_ERROR_SHAPE,
                    "request.dryRun: must be a boolean");
        return false;
    }
    req->dry_run = json_is_true(dry);
    json_t *obj = json_object_get(r, "object");
    req->object = json_is_null(obj) ? NULL : obj;
    return true;
}

FpAdmissionRequest *fp_admission_request_parse(const char *body, size_t len, GError **error)
{
    json_t *root = load_json(body, len, error);
    if (!root) {
        return NULL;
    }
    g_autoptr(FpAdmissionRequest) req = g_new0(FpAdmissionRequest, 1);
    req->root = root;
    if (!check_envelope(root, req, error) ||
        !take_request(json_object_get(root, "request"), req, error)) {
        return NULL;
    }
    return g_steal_pointer(&req);
}

bool fp_admission_is_pod_create(const FpAdmissionRequest *req)
{
    return g_str_equal(req->operation, "CREATE") && g_str_equal(req->kind.group, "") &&
           g_str_equal(req->kind.version, "v1") && g_str_equal(req->kind.name, "Pod") &&
           g_str_equal(req->resource.group, "") && g_str_equal(req->resource.name, "pods") &&
           g_str_equal(req->sub_resource, "") && json_is_object(req->object);
}

FpPod *fp_admission_pod(const FpAdmissionRequest *req, GError **error)
{
    if (!json_is_object(req->object)) {
        g_set_error(error, FP_ADMISSION_ERROR, FP_ADMISSION_ERROR_SHAPE,
                    "request.object: not a Pod object");
        return NULL;
    }
    /* A shallow copy whose metadata has a name and a namespace (kobj needs
     * the name; a generateName pod has none until it is stored). */
    json_t *obj = json_copy(req->object);
    json_t *meta = json_object_get(obj, "metadata");
    json_t *meta_copy = json_is_object(meta) ? json_copy(meta) : json_object();
    const char *name = json_string_value(json_object_get(meta_copy, "name"));
    if (!name || !*name) {
        const char *gen = json_string_value(json_object_get(meta_copy, "generateName"));
        char *made = g_strdup_printf("%s%.5s", gen && *gen ? gen : "pod-", req->uid);
        json_object_set_new(meta_copy, "name", json_string(made));
        g_free(made);
    }
    const char *ns = json_string_value(json_object_get(meta_copy, "namespace"));
    if ((!ns || !*ns) && *req->namespace_) {
        json_object_set_new(meta_copy, "namespace", json_string(req->namespace_));
    }
    json_object_set_new(obj, "metadata", meta_copy);
    GError *err = NULL;
    FpPod *pod = fp_pod_from_json(obj, FP_POD_FULL, &err);
    json_decref(obj);
    if (!pod) {
        g_set_error(error, FP_ADMISSION_ERROR, FP_ADMISSION_ERROR_SHAPE, "request.object: %s",
                    err->message);
        g_error_free(err);
    }
    return pod;
}

/* @w cut to FP_ADMISSION_MAX_WARNING bytes at a UTF-8 boundary, invalid
 * UTF-8 and control characters replaced: the API server passes warnings to
 * clients as HTTP Warning headers. */
static json_t *bounded_warning(const char *w)
{
    g_autofree char *valid = g_utf8_make_valid(w, -1);
    GString *s = g_string_sized_new(64);
    for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        const char *next = g_utf8_next_char(p);
        gsize n = (gsize)(next - p);
        if (s->len + n > FP_ADMISSION_MAX_WARNING - 3) {
            g_string_append(s, "...");
            break;
        }
        if (g_unichar_iscntrl(c)) {
            g_string_append_c(s, ' ');
        } else {
            g_string_append_len(s, p, (gssize)n);
        }
    }
    json_t *out = json_stringn(s->str, s->len);
    g_string_free(s, TRUE);
    return out;
}

char *fp_admission_encode_response(const char *api_version, const char *uid, bool allowed,
                                   const json_t *patch, char *const *warnings, const char *message,
                                   size_t *len)
{
    json_t *resp = json_object();
    json_object_set_new(resp, "uid", json_string(uid ? uid : ""));
    json_object_set_new(resp, "allowed", json_boolean(allowed));
    if (allowed && json_is_array(patch) && json_array_size(patch) > 0) {
        char *text = json_dumps(patch, JSON_COMPACT);
        g_autofree char *b64 = g_base64_encode((const guchar *)text, strlen(text));
        free(text);
        json_object_set_new(resp, "patchType", json_string("JSONPatch"));
        json_object_set_new(resp, "patch", json_string(b64));
    }
    if (!allowed) {
        json_t *status = json_pack("{s:i, s:s}", "code", 403, "message", message ? message : "");
        json_object_set_new(resp, "status", status);
    }
    if (warnings && warnings[0]) {
        json_t *arr = json_array();
        for (guint i = 0; warnings[i] && i < FP_ADMISSION_MAX_WARNINGS; i++) {
            json_array_append_new(arr, bounded_warning(warnings[i]));
        }
        json_object_set_new(resp, "warnings", arr);
    }
    json_t *root = json_object();
    json_object_set_new(
        root, "apiVersion",
        json_string(api_version && *api_version ? api_version : "admission.k8s.io/v1"));
    json_object_set_new(root, "kind", json_string("AdmissionReview"));
    json_object_set_new(root, "response", resp);
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    char *out = g_strdup(text ? text : "{}");
    free(text);
    if (len) {
        *len = strlen(out);
    }
    return out;
}
