/*
 * extender/cli/podfile.c - Pod or pod template out of manifest documents.
 */
#include "extender/cli/podfile.h"

#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "cache/kobj.h"
#include "cache/yamljson.h"

GQuark fp_podfile_error_quark(void)
{
    return g_quark_from_static_string("fp-podfile-error-quark");
}

#define PODFILE_MAX_BYTES (64u << 20)

/* Where each kind keeps its pod template (a PodTemplateSpec). */
static const struct {
    const char *kind;
    const char *path[5];
} templates[] = {
    {"Deployment", {"spec", "template", NULL}},
    {"StatefulSet", {"spec", "template", NULL}},
    {"ReplicaSet", {"spec", "template", NULL}},
    {"ReplicationController", {"spec", "template", NULL}},
    {"DaemonSet", {"spec", "template", NULL}},
    {"Job", {"spec", "template", NULL}},
    {"CronJob", {"spec", "jobTemplate", "spec", "template", NULL}},
    {"LeaderWorkerSet", {"spec", "leaderWorkerTemplate", "workerTemplate", NULL}},
    {"Workspace", {"inference", "template", NULL}}, /* KAITO, custom model */
};

static json_t *walk(json_t *root, const char *const *path)
{
    json_t *v = root;
    for (guint i = 0; v && path[i]; i++) {
        v = json_object_get(v, path[i]);
    }
    return json_is_object(v) ? v : NULL;
}

/* KServe InferenceService: spec.predictor is a PodSpec with an optional
 * "model" container carrying the resources. */
static json_t *kserve_template(json_t *doc)
{
    json_t *pred = walk(doc, (const char *[]){"spec", "predictor", NULL});
    if (!pred) {
        return NULL;
    }
    json_t *spec = json_deep_copy(pred);
    json_t *containers = json_object_get(spec, "containers");
    if (!json_is_array(containers)) {
        containers = json_array();
        json_object_set_new(spec, "containers", containers);
    }
    const char *frameworks[] = {"model", "sklearn",     "tensorflow", "pytorch", "triton",
                                "onnx",  "huggingface", "xgboost",    "lightgbm"};
    for (guint i = 0; i < G_N_ELEMENTS(frameworks); i++) {
        json_t *m = json_object_get(pred, frameworks[i]);
        if (json_is_object(m)) {
            json_t *c = json_object();
            json_object_set_new(c, "name", json_string("kserve-container"));
            json_t *res = json_object_get(m, "resources");
            if (res) {
                json_object_set(c, "resources", res);
            }
            json_array_append_new(containers, c);
            json_object_del(spec, frameworks[i]);
        }
    }
    json_t *tpl = json_object();
    json_object_set_new(tpl, "spec", spec);
    return tpl; /* new reference */
}

/* RayCluster / RayService: the worker group (or head) templates that
 * request GPUs become one pod each, named <name>-<groupName>. */
static json_t *ray_cluster_spec(json_t *doc, const char *kind)
{
    if (g_str_equal(kind, "RayCluster")) {
        return json_object_get(doc, "spec");
    }
    return walk(doc, (const char *[]){"spec", "rayClusterConfig", NULL});
}

static json_t *pod_from_template(json_t *doc, json_t *tpl, const char *kind);

static void add_ray_pods(json_t *doc, const char *kind, GPtrArray *out)
{
    json_t *spec = ray_cluster_spec(doc, kind);
    json_t *groups = json_object_get(spec, "workerGroupSpecs");
    const char *name = json_string_value(json_object_get(json_object_get(doc, "metadata"), "name"));
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g)
    {
        json_t *tpl = json_object_get(g, "template");
        if (!json_is_object(tpl)) {
            continue;
        }
        const char *group = json_string_value(json_object_get(g, "groupName"));
        json_t *pod = pod_from_template(doc, tpl, kind);
        g_autofree char *pod_name =
            g_strdup_printf("%s-%s", name ? name : "ray", group ? group : "workers");
        json_object_set_new(json_object_get(pod, "metadata"), "name", json_string(pod_name));
        g_ptr_array_add(out, pod);
    }
}

static json_t *pod_from_template(json_t *doc, json_t *tpl, const char *kind)
{
    json_t *meta = json_object_get(doc, "metadata");
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    json_t *pod = json_object();
    json_t *pmeta = json_object();
    json_t *tmeta = json_object_get(tpl, "metadata");
    if (json_is_object(tmeta)) {
        json_object_update(pmeta, tmeta);
    }
    json_object_set_new(pmeta, "name", json_string(name ? name : "unnamed"));
    json_object_set_new(pmeta, "namespace", json_string(ns ? ns : "default"));
    g_autofree char *uid =
        g_strdup_printf("dry-run/%s/%s/%s", ns ? ns : "default", kind, name ? name : "unnamed");
    json_object_set_new(pmeta, "uid", json_string(uid));
    json_t *owner = json_pack("{s:s, s:s, s:s, s:b}", "kind", kind, "name", name ? name : "unnamed",
                              "uid", uid, "controller", 1);
    json_object_set_new(pmeta, "ownerReferences", json_pack("[o]", owner));
    json_object_set_new(pod, "metadata", pmeta);
    json_t *spec = json_object_get(tpl, "spec");
    json_object_set(pod, "spec", json_is_object(spec) ? spec : json_object());
    return pod;
}

GPtrArray *fp_podfile_load(const char *path, GPtrArray *notes, GError **error)
{
    g_autoptr(FpDocs) docs = NULL;
    if (g_str_equal(path, "-")) {
        g_autoptr(GIOChannel) ch = g_io_channel_unix_new(STDIN_FILENO);
        g_autofree char *buf = NULL;
        gsize len = 0;
        if (g_io_channel_read_to_end(ch, &buf, &len, error) != G_IO_STATUS_NORMAL) {
            return NULL;
        }
        docs = fp_docs_parse(buf, len, "<stdin>", error);
    } else {
        docs = fp_docs_load_file(path, PODFILE_MAX_BYTES, error);
    }
    if (!docs) {
        return NULL;
    }
    GPtrArray *pods = g_ptr_array_new_with_free_func((GDestroyNotify)fp_pod_unref);
    for (guint d = 0; d < fp_docs_count(docs); d++) {
        json_t *doc = fp_docs_get(docs, d);
        const char *kind = json_string_value(json_object_get(doc, "kind"));
        guint line = 0, col = 0;
        fp_docs_position(docs, doc, &line, &col);
        json_t *podjson = NULL;
        if (!json_is_object(doc)) {
            kind = NULL;
        } else if (!kind || g_str_equal(kind, "Pod")) {
            podjson = json_incref(doc);
            kind = "Pod";
        } else if (g_str_equal(kind, "RayService") || g_str_equal(kind, "RayCluster")) {
            /* Several pods per document: handled here, then on to the next. */
            g_autoptr(GPtrArray) ray = g_ptr_array_new_with_free_func((GDestroyNotify)json_decref);
            add_ray_pods(doc, kind, ray);
            for (guint r = 0; r < ray->len; r++) {
                g_autoptr(GError) local = NULL;
                FpPod *pod = fp_pod_from_json(g_ptr_array_index(ray, r), FP_POD_FULL, &local);
                if (!pod) {
                    g_set_error(error, FP_PODFILE_ERROR, FP_PODFILE_ERROR_INVALID,
                                "%s:%u:%u: %s: %s", fp_docs_name(docs), line, col, kind,
                                local->message);
                    g_ptr_array_unref(pods);
                    return NULL;
                }
                g_ptr_array_add(pods, pod);
            }
            if (ray->len == 0 && notes) {
                g_ptr_array_add(notes, g_strdup_printf("%s:%u:%u: skipped a %s document: no "
                                                       "worker group template",
                                                       fp_docs_name(docs), line, col, kind));
            }
            continue;
        } else if (g_str_equal(kind, "InferenceService")) {
            json_t *tpl = kserve_template(doc);
            if (tpl) {
                podjson = pod_from_template(doc, tpl, kind);
                json_decref(tpl);
            }
        } else {
            for (guint i = 0; i < G_N_ELEMENTS(templates); i++) {
                if (g_str_equal(kind, templates[i].kind)) {
                    json_t *tpl = walk(doc, templates[i].path);
                    if (tpl) {
                        podjson = pod_from_template(doc, tpl, kind);
                    }
                    break;
                }
            }
        }
        if (!podjson) {
            if (notes) {
                g_ptr_array_add(notes,
                                g_strdup_printf("%s:%u:%u: skipped a %s document: no pod template",
                                                fp_docs_name(docs), line, col,
                                                kind ? kind : "non-object"));
            }
            continue;
        }
        g_autoptr(GError) local = NULL;
        FpPod *pod = fp_pod_from_json(podjson, FP_POD_FULL, &local);
        json_decref(podjson);
        if (!pod) {
            g_set_error(error, FP_PODFILE_ERROR, FP_PODFILE_ERROR_INVALID, "%s:%u:%u: %s: %s",
                        fp_docs_name(docs), line, col, kind, local->message);
            g_ptr_array_unref(pods);
            return NULL;
        }
        g_ptr_array_add(pods, pod);
    }
    if (pods->len == 0) {
        g_set_error(error, FP_PODFILE_ERROR, FP_PODFILE_ERROR_EMPTY,
                    "%s: no Pod or pod template found", fp_docs_name(docs));
        g_ptr_array_unref(pods);
        return NULL;
    }
    return pods;
}
