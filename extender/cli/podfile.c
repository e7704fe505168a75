/*
 * extender/cli/podfile.c - the pods a manifest's operator would create.
 */
#include "extender/cli/podfile.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "cache/pod_model.h"
#include "cache/yamljson.h"
#include "scoring/device.h"
#include "scoring/names.h"

GQuark fp_podfile_error_quark(void)
{
    return g_quark_from_static_string("fp-podfile-error-quark");
}

#define PODFILE_MAX_BYTES (64u << 20)
/* Bounds on what one document may ask for: pods per document (worker
 * groups), GPUs a derived container is given. */
#define PODFILE_MAX_PODS 64
#define PODFILE_MAX_GPUS 1024

/* One pod a document yields, before it becomes an FpPod. */
typedef struct {
    json_t *pod;
    char *role; /* "leader", "worker", "worker group gpu-group", ... or NULL */
    guint copies;
    gint64 replicas;
    bool grouped;
} Derived;

static void derived_free(gpointer p)
{
    Derived *d = p;
    json_decref(d->pod);
    g_free(d->role);
    g_free(d);
}

/* What a document is being turned into. */
typedef struct {
    json_t *doc;
    const char *kind;
    const char *name;
    const char *ns;
    GPtrArray *out;    /* Derived* */
    GPtrArray *notes;  /* may be NULL */
    const char *where; /* "file:line:col" prefix for notes, may be "" */
    bool truncated;    /* more pods than PODFILE_MAX_PODS: said once */
} Ctx;

static void note(Ctx *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void note(Ctx *c, const char *fmt, ...)
{
    if (!c->notes) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_ptr_array_add(c->notes,
                    g_strdup_printf("%s%s %s/%s: %s", c->where, c->kind, c->ns, c->name, msg));
}

/* ---- JSON helpers ------------------------------------------------------ */

static json_t *walk(json_t *root, const char *const *path)
{
    json_t *v = root;
    for (guint i = 0; v && path[i]; i++) {
        v = json_object_get(v, path[i]);
    }
    return v;
}
#define WALK(root, ...) walk((root), (const char *[]){__VA_ARGS__, NULL})

static json_t *obj_at(json_t *parent, const char *key)
{
    json_t *v = json_object_get(parent, key);
    if (!json_is_object(v)) {
        v = json_object();
        json_object_set_new(parent, key, v);
    }
    return v;
}

static json_t *arr_at(json_t *parent, const char *key)
{
    json_t *v = json_object_get(parent, key);
    if (!json_is_array(v)) {
        v = json_array();
        json_object_set_new(parent, key, v);
    }
    return v;
}

/* A string or an integer as text (replicas: 3 or "3"), else NULL. */
static gint64 int_of(json_t *v, gint64 dflt)
{
    if (json_is_integer(v)) {
        return json_integer_value(v);
    }
    return dflt;
}

static void set_annotation(json_t *pod, const char *key, const char *value)
{
    json_t *ann = obj_at(obj_at(pod, "metadata"), "annotations");
    if (value && !json_object_get(ann, key)) {
        json_object_set_new(ann, key, json_string(value));
    }
}

static void set_label(json_t *pod, const char *key, const char *value)
{
    json_t *labels = obj_at(obj_at(pod, "metadata"), "labels");
    if (value && !json_object_get(labels, key)) {
        json_object_set_new(labels, key, json_string(value));
    }
}

static void add_toleration(json_t *pod, const char *key, const char *op, const char *value,
                           const char *effect)
{
    json_t *t = json_pack("{s:s, s:s, s:s}", "key", key, "operator", op, "effect", effect);
    if (value) {
        json_object_set_new(t, "value", json_string(value));
    }
    json_array_append_new(arr_at(obj_at(pod, "spec"), "tolerations"), t);
}

/* AND @expr (a NodeSelectorRequirement, stolen) into the pod's required
 * node affinity: appended to every term, or a term of its own. */
static void require_node(json_t *pod, json_t *expr)
{
    json_t *req = obj_at(obj_at(obj_at(obj_at(pod, "spec"), "affinity"), "nodeAffinity"),
                         "requiredDuringSchedulingIgnoredDuringExecution");
    json_t *terms = arr_at(req, "nodeSelectorTerms");
    if (json_array_size(terms) == 0) {
        json_array_append_new(terms, json_object());
    }
    size_t i;
    json_t *t;
    json_array_foreach(terms, i, t)
    {
        if (json_is_object(t)) {
            json_array_append(arr_at(t, "matchExpressions"), expr);
        }
    }
    json_decref(expr);
}

/* A LabelSelector (matchLabels, matchExpressions) as required node affinity:
 * KAITO puts it on the pods it creates, and labels the nodes it provisions
 * with it.  Returns how many requirements were added. */
static guint require_selector(json_t *pod, json_t *selector)
{
    guint n = 0;
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(selector, "matchLabels"), key, v)
    {
        if (json_is_string(v) && n < 64) {
            require_node(pod,
                         json_pack("{s:s, s:s, s:[O]}", "key", key, "operator", "In", "values", v));
            n++;
        }
    }
    size_t i;
    json_array_foreach(json_object_get(selector, "matchExpressions"), i, v)
    {
        if (json_is_object(v) && n < 64) {
            require_node(pod, json_deep_copy(v));
            n++;
        }
    }
    return n;
}

/* Set @resource: @count in the limits and requests of @container. */
static void container_resource(json_t *container, const char *resource, gint64 count)
{
    json_t *res = obj_at(container, "resources");
    json_object_set_new(obj_at(res, "limits"), resource, json_integer(count));
    json_object_set_new(obj_at(res, "requests"), resource, json_integer(count));
}

static bool asks_gpu(json_t *container)
{
    const char *kinds[] = {"limits", "requests"};
    for (size_t k = 0; k < G_N_ELEMENTS(kinds); k++) {
        const char *key;
        json_t *v;
        json_object_foreach(WALK(container, "resources", kinds[k]), key, v)
        {
            if (strstr(key, "gpu") || g_str_has_prefix(key, "nvidia.com/mig-")) {
                return true;
            }
        }
    }
    return false;
}

static bool pod_asks_gpu(json_t *pod)
{
    size_t i;
    json_t *c;
    json_array_foreach(WALK(pod, "spec", "containers"), i, c)
    {
        if (asks_gpu(c)) {
            return true;
        }
    }
    return false;
}

/* ---- pods out of templates ----------------------------------------------- */

/* A v1.Pod from PodTemplateSpec @tpl (borrowed), named @name, owned by the
 * document's workload. */
static json_t *pod_from_template(Ctx *c, json_t *tpl, const char *name)
{
    json_t *pod = json_object();
    json_t *pmeta = json_object();
    json_t *tmeta = json_object_get(tpl, "metadata");
    if (json_is_object(tmeta)) {
        json_object_update(pmeta, tmeta);
        /* Copies: annotations and labels are changed below. */
        json_t *a = json_object_get(tmeta, "annotations"), *l = json_object_get(tmeta, "labels");
        if (json_is_object(a)) {
            json_object_set_new(pmeta, "annotations", json_copy(a));
        }
        if (json_is_object(l)) {
            json_object_set_new(pmeta, "labels", json_copy(l));
        }
    }
    json_object_set_new(pmeta, "name", json_string(name));
    json_object_set_new(pmeta, "namespace", json_string(c->ns));
    g_autofree char *uid = g_strdup_printf("dry-run/%s/%s/%s", c->ns, c->kind, name);
    json_object_set_new(pmeta, "uid", json_string(uid));
    g_autofree char *owner_uid = g_strdup_printf("dry-run/%s/%s/%s", c->ns, c->kind, c->name);
    json_t *owner = json_pack("{s:s, s:s, s:s, s:b}", "kind", c->kind, "name", c->name, "uid",
                              owner_uid, "controller", 1);
    json_object_set_new(pmeta, "ownerReferences", json_pack("[o]", owner));
    json_object_set_new(pod, "metadata", pmeta);
    json_t *spec = json_object_get(tpl, "spec");
    json_object_set_new(pod, "spec", json_is_object(spec) ? json_deep_copy(spec) : json_object());
    return pod;
}

static Derived *emit(Ctx *c, json_t *pod, const char *role, gint64 replicas)
{
    Derived *d = g_new0(Derived, 1);
    d->pod = pod;
    d->role = g_strdup(role);
    d->copies = 1;
    d->replicas = replicas;
    if (c->out->len < PODFILE_MAX_PODS) {
        g_ptr_array_add(c->out, d);
        return d;
    }
    if (!c->truncated) {
        note(c, "more than %d pod templates: the rest are not scored", PODFILE_MAX_PODS);
        c->truncated = true;
    }
    derived_free(d);
    return NULL;
}

/* A PodSpec @spec (borrowed) wrapped as a template with @meta (may be NULL). */
static json_t *template_of(json_t *spec, json_t *meta)
{
    json_t *tpl = json_object();
    json_object_set(tpl, "spec", json_is_object(spec) ? spec : json_object());
    if (json_is_object(meta)) {
        json_object_set(tpl, "metadata", meta);
    }
    return tpl;
}

/* ---- plain workloads ----------------------------------------------------- */

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
};

static bool derive_template_kind(Ctx *c, const char *const *path)
{
    json_t *tpl = walk(c->doc, path);
    if (!json_is_object(tpl)) {
        g_autofree char *p = g_strjoinv(".", (char **)path);
        note(c, "skipped: no pod template at %s", p);
        return false;
    }
    emit(c, pod_from_template(c, tpl, c->name), NULL, int_of(WALK(c->doc, "spec", "replicas"), 0));
    return true;
}

/* ---- Run:ai-style pods -------------------------------------------------- */

/* Run:ai (and KAI scheduler) pods ask a GPU share through annotations and
 * no device-plugin resource.  flexplace places device-plugin resources, so
 * the dry run asks the equivalent: a MIG annotation its MIG resource; a
 * fraction or a memory size one nvidia.com/gpu device (on a time-sliced
 * node, the default renameByDefault=false, that is one shared replica),
 * with gpu-memory (MiB) as a memory floor per device. */
static bool runai_request(Ctx *c, json_t *pod)
{
    json_t *ann = WALK(pod, "metadata", "annotations");
    json_t *container = json_array_get(WALK(pod, "spec", "containers"), 0);
    if (!json_is_object(ann) || !json_is_object(container) || pod_asks_gpu(pod)) {
        return true;
    }
    const char *key;
    json_t *v;
    json_object_foreach(ann, key, v)
    {
        if (!g_str_has_prefix(key, "nvidia.com/mig-") || !json_is_string(v)) {
            continue;
        }
        guint64 n = 0;
        if (fp_qualified_name_problem(key, strlen(key)) ||
            !g_ascii_string_to_unsigned(json_string_value(v), 10, 1, 64, &n, NULL)) {
            note(c, "skipped: Run:ai MIG annotation %.64s: want a MIG resource and a count 1..64",
                 key);
            return false;
        }
        container_resource(container, key, (gint64)n);
        note(c,
             "Run:ai annotation %s: \"%" G_GUINT64_FORMAT
             "\" read as a request of %" G_GUINT64_FORMAT " %s",
             key, n, n, key);
        return true;
    }
    const char *frac = json_string_value(json_object_get(ann, "gpu-fraction"));
    const char *mem = json_string_value(json_object_get(ann, "gpu-memory"));
    if (!frac && !mem) {
        return true;
    }
    if (frac) {
        char *end = NULL;
        double f = g_ascii_strtod(frac, &end);
        if (!end || *end || !isfinite(f) || f <= 0 || f > 1 || strlen(frac) > 16) {
            note(c,
                 "skipped: Run:ai annotation gpu-fraction: want a number in (0, 1], got "
                 "\"%.16s\"",
                 frac);
            return false;
        }
    }
    if (mem) {
        guint64 mib = 0;
        if (!g_ascii_string_to_unsigned(mem, 10, 1, 16u << 20, &mib, NULL)) {
            note(c, "skipped: Run:ai annotation gpu-memory: want MiB 1..16777216, got \"%.16s\"",
                 mem);
            return false;
        }
        g_autofree char *floor = g_strdup_printf("%" G_GUINT64_FORMAT "Mi", mib);
        set_annotation(pod, "flexplace.io/min-gpu-memory", floor);
    }
    container_resource(container, "nvidia.com/gpu", 1);
    note(c,
         "Run:ai annotation%s %s%s%s read as one nvidia.com/gpu device (a time-sliced replica "
         "where GPUs are shared)%s",
         frac && mem ? "s" : "", frac ? "gpu-fraction" : "", frac && mem ? " and " : "",
         mem ? "gpu-memory" : "", mem ? " with gpu-memory as flexplace.io/min-gpu-memory" : "");
    return true;
}

static bool derive_pod(Ctx *c)
{
    json_t *pod = json_deep_copy(c->doc);
    json_t *spec = obj_at(pod, "spec");
    const char *node = json_string_value(json_object_get(spec, "nodeName"));
    const char *sched = json_string_value(json_object_get(spec, "schedulerName"));
    if (node) {
        note(c, "was bound to %s%s%s (spec.nodeName): scored as if it were pending", node,
             sched ? " by " : "", sched ? sched : "");
        json_object_del(spec, "nodeName");
    } else if (sched && !g_str_equal(sched, "default-scheduler")) {
        note(c,
             "schedulerName %s: kube-scheduler (and so flexplace) would not see this pod; "
             "scored as if it did",
             sched);
    }
    json_object_del(pod, "status");
    if (!runai_request(c, pod)) {
        json_decref(pod);
        return false;
    }
    emit(c, pod, NULL, 0);
    return true;
}

/* ---- LeaderWorkerSet ------------------------------------------------------ */

/* The group: a leader (the leaderTemplate, else the workerTemplate) and
 * size - 1 workers, all of which must fit.  LWS labels its pods with the
 * set, group and worker index; they are added here so selectors see them. */
static bool derive_lws(Ctx *c)
{
    json_t *lwt = WALK(c->doc, "spec", "leaderWorkerTemplate");
    json_t *worker = json_object_get(lwt, "workerTemplate");
    json_t *leader = json_object_get(lwt, "leaderTemplate");
    if (!json_is_object(worker)) {
        note(c, "skipped: no spec.leaderWorkerTemplate.workerTemplate");
        return false;
    }
    gint64 size = int_of(json_object_get(lwt, "size"), 1);
    if (size < 1 || size > 1024) {
        note(c, "skipped: spec.leaderWorkerTemplate.size %" G_GINT64_FORMAT " is not 1..1024",
             size);
        return false;
    }
    gint64 replicas = int_of(WALK(c->doc, "spec", "replicas"), 1);
    g_autofree char *lname = g_strdup_printf("%s-0", c->name);
    json_t *lpod = pod_from_template(c, json_is_object(leader) ? leader : worker, lname);
    set_label(lpod, "leaderworkerset.sigs.k8s.io/name", c->name);
    set_label(lpod, "leaderworkerset.sigs.k8s.io/group-index", "0");
    set_label(lpod, "leaderworkerset.sigs.k8s.io/worker-index", "0");
    Derived *d = emit(c, lpod, "leader", replicas);
    if (d) {
        d->grouped = true;
    }
    if (size > 1) {
        g_autofree char *wname = g_strdup_printf("%s-0-1", c->name);
        json_t *wpod = pod_from_template(c, worker, wname);
        set_label(wpod, "leaderworkerset.sigs.k8s.io/name", c->name);
        set_label(wpod, "leaderworkerset.sigs.k8s.io/group-index", "0");
        set_label(wpod, "leaderworkerset.sigs.k8s.io/worker-index", "1");
        d = emit(c, wpod, "worker", replicas);
        if (d) {
            d->grouped = true;
            d->copies = (guint)(size - 1);
        }
    }
    return true;
}

/* ---- KServe -------------------------------------------------------------- */

static const char *const kserve_frameworks[] = {"model",    "sklearn", "tensorflow",  "pytorch",
                                                "triton",   "onnx",    "huggingface", "xgboost",
                                                "lightgbm", "pmml",    "paddle"};

/* InferenceService: spec.predictor is a PodSpec plus at most one model
 * spec (model: or a framework key) that becomes the kserve-container with
 * its image, command, args, env and resources; its storageUri becomes the
 * annotation the KServe webhook writes for the storage initializer. */
static bool derive_isvc(Ctx *c)
{
    json_t *pred = WALK(c->doc, "spec", "predictor");
    if (!json_is_object(pred)) {
        note(c, "skipped: no spec.predictor");
        return false;
    }
    json_t *spec = json_deep_copy(pred);
    json_t *containers = arr_at(spec, "containers");
    const char *format = NULL, *uri = NULL;
    for (guint i = 0; i < G_N_ELEMENTS(kserve_frameworks); i++) {
        json_t *m = json_object_get(pred, kserve_frameworks[i]);
        json_object_del(spec, kserve_frameworks[i]);
        if (!json_is_object(m)) {
            continue;
        }
        json_t *ctr = json_pack("{s:s}", "name", "kserve-container");
        const char *keys[] = {"image", "command", "args", "env", "resources"};
        for (guint k = 0; k < G_N_ELEMENTS(keys); k++) {
            json_t *v = json_object_get(m, keys[k]);
            if (v) {
                json_object_set(ctr, keys[k], v);
            }
        }
        json_array_insert_new(containers, 0, ctr);
        uri = json_string_value(json_object_get(m, "storageUri"));
        format = json_string_value(WALK(m, "modelFormat", "name"));
        if (!format && !g_str_equal(kserve_frameworks[i], "model")) {
            format = kserve_frameworks[i];
        }
    }
    json_object_del(spec, "minReplicas");
    json_object_del(spec, "maxReplicas");
    json_t *meta = json_pack("{s:{s:s}}", "labels", "serving.kserve.io/inferenceservice", c->name);
    if (uri) {
        /* What KServe's webhook writes for its storage initializer. */
        json_object_set_new(
            meta, "annotations",
            json_pack("{s:s}", "internal.serving.kserve.io/storage-initializer-sourceuri", uri));
    }
    json_t *tpl = template_of(spec, meta);
    json_t *pod = pod_from_template(c, tpl, c->name);
    json_decref(tpl);
    json_decref(meta);
    json_decref(spec);
    if (format) {
        note(c, "model format %s", format);
    }
    emit(c, pod, "predictor", int_of(json_object_get(pred, "minReplicas"), 0));
    return true;
}

/* LLMInferenceService: spec.template (a PodSpec, container "main", vLLM by
 * default) and spec.model {uri, name}; spec.worker, when present, is the
 * PodSpec of the other pods of a multi-node replica. */
static bool derive_llmisvc(Ctx *c)
{
    json_t *spec = WALK(c->doc, "spec", "template");
    if (!json_is_object(spec)) {
        note(c, "skipped: no spec.template (the LLMInferenceServiceConfig presets it refers to "
                "are not read)");
        return false;
    }
    const char *uri = json_string_value(WALK(c->doc, "spec", "model", "uri"));
    const char *mname = json_string_value(WALK(c->doc, "spec", "model", "name"));
    gint64 replicas = int_of(WALK(c->doc, "spec", "replicas"), 1);
    json_t *tpl = template_of(spec, NULL);
    json_t *pod = pod_from_template(c, tpl, c->name);
    json_decref(tpl);
    set_label(pod, "app.kubernetes.io/name", c->name);
    if (mname) {
        set_annotation(pod, FP_ANN_MODEL, mname);
    } else if (uri && g_str_has_prefix(uri, "hf://")) {
        set_annotation(pod, FP_ANN_MODEL, uri + 5);
    }
    set_annotation(pod, FP_ANN_WEIGHTS_LOCATION, uri);
    Derived *d = emit(c, pod, NULL, replicas);
    json_t *worker = WALK(c->doc, "spec", "worker");
    if (json_is_object(worker) && d) {
        d->role = g_strdup("leader");
        d->grouped = true;
        tpl = template_of(worker, NULL);
        g_autofree char *wname = g_strdup_printf("%s-worker", c->name);
        json_t *wpod = pod_from_template(c, tpl, wname);
        json_decref(tpl);
        Derived *w = emit(c, wpod, "worker", replicas);
        if (w) {
            w->grouped = true;
        }
        note(c, "spec.worker: one worker pod scored with the leader (the parallelism that sets "
                "how many is not read)");
    }
    return true;
}

/* ---- KAITO --------------------------------------------------------------- */

/* KAITO's pod for @resource (Workspace.resource, may be NULL) and
 * @inference (Workspace.inference): the custom template, or a preset's pod
 * asking the instance type's GPUs; node affinity on the labelSelector and
 * the instance type; the workspace label; the preset as the model. */
static json_t *kaito_pod(Ctx *c, json_t *resource, json_t *inference, json_t *selector)
{
    const char *itype = json_string_value(json_object_get(resource, "instanceType"));
    const FpCatalogRow *row = NULL;
    if (itype && *itype) {
        bool same = false;
        row = fp_gpu_catalog_instance(itype, NULL, &same);
        if (!row || row->gpu_count == 0) {
            note(c,
                 "skipped: resource.instanceType %.64s is not in the built-in GPU catalog: "
                 "its GPUs are unknown (scoring/catalog)",
                 itype);
            return NULL;
        }
    }
    json_t *tpl = json_object_get(inference, "template");
    const char *preset = json_string_value(WALK(inference, "preset", "name"));
    json_t *pod = NULL;
    if (json_is_object(tpl)) {
        pod = pod_from_template(c, tpl, c->name);
    } else if (preset) {
        gint64 gpus = row ? row->gpu_count : int_of(WALK(resource, "partition", "count"), 1);
        if (gpus < 1 || gpus > PODFILE_MAX_GPUS) {
            note(c, "skipped: %" G_GINT64_FORMAT " GPUs is not 1..%d", gpus, PODFILE_MAX_GPUS);
            return NULL;
        }
        json_t *ctr = json_pack("{s:s}", "name", c->name);
        container_resource(ctr, "nvidia.com/gpu", gpus);
        json_t *spec = json_pack("{s:[o]}", "containers", ctr);
        json_t *t = template_of(spec, NULL);
        pod = pod_from_template(c, t, c->name);
        json_decref(t);
        json_decref(spec);
        set_annotation(pod, FP_ANN_MODEL, preset);
        if (row) {
            note(c, "preset %s on %s: %u x %s per pod (KAITO asks the instance type's GPUs)",
                 preset, itype, row->gpu_count, row->model);
        } else {
            note(c,
                 "preset %s without resource.instanceType: KAITO sizes on the nodes it finds; "
                 "scored as %" G_GINT64_FORMAT " nvidia.com/gpu%s",
                 preset, gpus,
                 json_object_get(WALK(resource, "partition"), "count")
                     ? " (resource.partition.count)"
                     : "");
        }
    } else {
        note(c, "skipped: neither inference.preset.name nor inference.template");
        return NULL;
    }
    set_label(pod, "kaito.sh/workspace", c->name);
    guint n = require_selector(pod, selector);
    if (itype && *itype) {
        require_node(pod, json_pack("{s:s, s:s, s:[s]}", "key", "node.kubernetes.io/instance-type",
                                    "operator", "In", "values", itype));
        n++;
    }
    if (n) {
        note(c, "node affinity on %u requirement%s (labelSelector%s), as KAITO's pods have", n,
             n == 1 ? "" : "s", itype && *itype ? " and instance type" : "");
    }
    add_toleration(pod, "sku", "Equal", "gpu", "NoSchedule");
    add_toleration(pod, "nvidia.com/gpu", "Exists", NULL, "NoSchedule");
    return pod;
}

static bool derive_workspace(Ctx *c)
{
    json_t *resource = json_object_get(c->doc, "resource");
    json_t *inference = json_object_get(c->doc, "inference");
    if (!json_is_object(inference)) {
        note(c, "skipped: no inference section (a tuning Workspace is not served)");
        return false;
    }
    json_t *pod = kaito_pod(c, resource, inference, json_object_get(resource, "labelSelector"));
    if (!pod) {
        return false;
    }
    emit(c, pod, NULL, int_of(json_object_get(resource, "count"), 1));
    return true;
}

/* InferenceSet: spec.replicas Workspaces of spec.template (inference and
 * optional resource), nodes chosen by spec.labelSelector. */
static bool derive_inferenceset(Ctx *c)
{
    json_t *tpl = WALK(c->doc, "spec", "template");
    json_t *inference = json_object_get(tpl, "inference");
    if (!json_is_object(inference)) {
        note(c, "skipped: no spec.template.inference");
        return false;
    }
    json_t *resource = json_object_get(tpl, "resource");
    json_t *selector = WALK(c->doc, "spec", "labelSelector");
    if (!json_is_object(selector)) {
        selector = json_object_get(resource, "labelSelector");
    }
    json_t *pod = kaito_pod(c, resource, inference, selector);
    if (!pod) {
        return false;
    }
    emit(c, pod, NULL, int_of(WALK(c->doc, "spec", "replicas"), 1));
    return true;
}

/* ---- NVIDIA NIM ------------------------------------------------------------ */

/* NIMService: one container from spec.image, spec.resources, spec.env; the
 * pod-level nodeSelector, tolerations, affinity; the model from the image
 * name (nvcr.io/nim/<org>/<model>). */
static bool derive_nim(Ctx *c)
{
    json_t *spec = json_object_get(c->doc, "spec");
    const char *repo = json_string_value(WALK(spec, "image", "repository"));
    const char *tag = json_string_value(WALK(spec, "image", "tag"));
    if (!repo) {
        note(c, "skipped: no spec.image.repository");
        return false;
    }
    g_autofree char *image = g_strdup_printf("%s%s%s", repo, tag ? ":" : "", tag ? tag : "");
    json_t *ctr = json_pack("{s:s, s:s}", "name", "nim", "image", image);
    const char *ckeys[] = {"resources", "env", "command", "args"};
    for (guint k = 0; k < G_N_ELEMENTS(ckeys); k++) {
        json_t *v = json_object_get(spec, ckeys[k]);
        if (v) {
            json_object_set(ctr, ckeys[k], v);
        }
    }
    json_t *pspec = json_pack("{s:[o]}", "containers", ctr);
    const char *pkeys[] = {"nodeSelector", "tolerations", "affinity", "runtimeClassName",
                           "schedulerName"};
    for (guint k = 0; k < G_N_ELEMENTS(pkeys); k++) {
        json_t *v = json_object_get(spec, pkeys[k]);
        if (v) {
            json_object_set(pspec, pkeys[k], v);
        }
    }
    json_t *meta = json_object();
    if (json_is_object(json_object_get(spec, "annotations"))) {
        json_object_set(meta, "annotations", json_object_get(spec, "annotations"));
    }
    if (json_is_object(json_object_get(spec, "labels"))) {
        json_object_set(meta, "labels", json_object_get(spec, "labels"));
    }
    json_t *tpl = template_of(pspec, meta);
    json_t *pod = pod_from_template(c, tpl, c->name);
    json_decref(tpl);
    json_decref(pspec);
    json_decref(meta);
    const char *model = strstr(repo, "/nim/");
    if (model && model[5]) {
        set_annotation(pod, FP_ANN_MODEL, model + 5);
    } else {
        note(c, "image %s is not nvcr.io/nim/<org>/<model>: no model from it", repo);
    }
    const char *cache = json_string_value(WALK(spec, "storage", "nimCache", "name"));
    if (cache) {
        note(c, "weights from NIMCache %s (a PVC; not located here)", cache);
    }
    emit(c, pod, NULL, int_of(json_object_get(spec, "replicas"), 1));
    return true;
}

/* ---- KubeRay ---------------------------------------------------------------- */

/* The model of a Ray Serve application: runtime_env.env_vars MODEL_ID and
 * MAX_MODEL_LEN of serveConfigV2 (a YAML string) onto @pod. */
static void ray_model(json_t *doc, json_t *pod)
{
    const char *cfg = json_string_value(WALK(doc, "spec", "serveConfigV2"));
    if (!cfg || strlen(cfg) > (1u << 20)) {
        return;
    }
    g_autoptr(GError) error = NULL;
    g_autoptr(FpDocs) docs = fp_docs_parse(cfg, strlen(cfg), "serveConfigV2", &error);
    if (!docs || fp_docs_count(docs) == 0) {
        return;
    }
    size_t i;
    json_t *app;
    json_array_foreach(json_object_get(fp_docs_get(docs, 0), "applications"), i, app)
    {
        json_t *env = WALK(app, "runtime_env", "env_vars");
        const char *id = json_string_value(json_object_get(env, "MODEL_ID"));
        const char *len = json_string_value(json_object_get(env, "MAX_MODEL_LEN"));
        if (id) {
            set_annotation(pod, FP_ANN_MODEL, id);
            if (len && fp_parse_context_len(len) > 0) {
                set_annotation(pod, FP_ANN_MAX_MODEL_LEN, len);
            }
            return;
        }
    }
}

/* RayCluster / RayService: each worker group (and a head) that requests a
 * GPU becomes one pod, named <name>-<groupName>. */
static bool derive_ray(Ctx *c)
{
    json_t *spec = g_str_equal(c->kind, "RayCluster") ? json_object_get(c->doc, "spec")
                                                      : WALK(c->doc, "spec", "rayClusterConfig");
    guint before = c->out->len;
    json_t *head = WALK(spec, "headGroupSpec", "template");
    if (json_is_object(head)) {
        g_autofree char *hname = g_strdup_printf("%s-head", c->name);
        json_t *pod = pod_from_template(c, head, hname);
        if (pod_asks_gpu(pod)) {
            ray_model(c->doc, pod);
            emit(c, pod, "head", 1);
        } else {
            json_decref(pod);
            note(c, "head group requests no GPU: not scored");
        }
    }
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(spec, "workerGroupSpecs"), i, g)
    {
        json_t *tpl = json_object_get(g, "template");
        if (!json_is_object(tpl)) {
            continue;
        }
        const char *group = json_string_value(json_object_get(g, "groupName"));
        g_autofree char *pname = g_strdup_printf("%s-%s", c->name, group ? group : "workers");
        json_t *pod = pod_from_template(c, tpl, pname);
        ray_model(c->doc, pod);
        g_autofree char *role = g_strdup_printf("worker group %s", group ? group : "workers");
        emit(c, pod, role, int_of(json_object_get(g, "replicas"), 1));
    }
    if (c->out->len == before) {
        note(c, "skipped: no worker group template");
        return false;
    }
    return true;
}

/* ---- dispatch ---------------------------------------------------------------- */

static const struct {
    const char *kind;
    bool (*derive)(Ctx *c);
} special[] = {
    {"Pod", derive_pod},
    {"LeaderWorkerSet", derive_lws},
    {"InferenceService", derive_isvc},
    {"LLMInferenceService", derive_llmisvc},
    {"Workspace", derive_workspace},
    {"InferenceSet", derive_inferenceset},
    {"NIMService", derive_nim},
    {"RayService", derive_ray},
    {"RayCluster", derive_ray},
};

static bool derive(Ctx *c)
{
    for (guint i = 0; i < G_N_ELEMENTS(special); i++) {
        if (g_str_equal(c->kind, special[i].kind)) {
            return special[i].derive(c);
        }
    }
    for (guint i = 0; i < G_N_ELEMENTS(templates); i++) {
        if (g_str_equal(c->kind, templates[i].kind)) {
            return derive_template_kind(c, templates[i].path);
        }
    }
    if (json_is_array(WALK(c->doc, "spec", "template", "spec", "containers"))) {
        note(c, "not a kind flexplace knows: spec.template used as its pod template");
        return derive_template_kind(c, (const char *[]){"spec", "template", NULL});
    }
    if (c->notes) {
        g_ptr_array_add(c->notes,
                        g_strdup_printf("%sskipped a %s document: not a workload (looked for a "
                                        "Pod, a kind extender/cli/README.md lists, or "
                                        "spec.template.spec.containers)",
                                        c->where, c->kind));
    }
    return false;
}

/* Derived pods of @doc; @where prefixes notes. */
static GPtrArray *derive_doc(json_t *doc, const char *where, GPtrArray *notes)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(derived_free);
    if (!json_is_object(doc)) {
        if (notes) {
            g_ptr_array_add(notes,
                            g_strdup_printf("%sskipped a document that is not an object", where));
        }
        return out;
    }
    json_t *meta = json_object_get(doc, "metadata");
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    Ctx c = {.doc = doc,
             .kind = kind && *kind ? kind : "Pod",
             .name = name && *name ? name : "unnamed",
             .ns = ns && *ns ? ns : "default",
             .out = out,
             .notes = notes,
             .where = where};
    derive(&c);
    return out;
}

GPtrArray *fp_podfile_derive(json_t *doc, GPtrArray *notes)
{
    g_autoptr(GPtrArray) out = derive_doc(doc, "", notes);
    if (out->len == 0) {
        return NULL;
    }
    GPtrArray *pods = g_ptr_array_new_with_free_func((GDestroyNotify)json_decref);
    for (guint i = 0; i < out->len; i++) {
        Derived *d = g_ptr_array_index(out, i);
        g_ptr_array_add(pods, json_incref(d->pod));
    }
    return pods;
}

/* ---- files ----------------------------------------------------------------- */

void fp_podfile_item_free(FpPodfileItem *item)
{
    if (!item) {
        return;
    }
    if (item->pod) {
        fp_pod_unref(item->pod);
    }
    g_free(item->origin);
    g_free(item);
}

static guint next_group = 1;

/* Items of document @d of @docs into @items; FALSE with @error when a
 * derived pod does not parse. */
static gboolean add_doc(FpDocs *docs, guint d, GPtrArray *items, GPtrArray *notes, GError **error)
{
    json_t *doc = fp_docs_get(docs, d);
    guint line = 0, col = 0;
    fp_docs_position(docs, doc, &line, &col);
    g_autofree char *where =
        g_strdup_printf("%s:%u:%u (document %u): ", fp_docs_name(docs), line, col, d + 1);
    g_autoptr(GPtrArray) derived = derive_doc(doc, where, notes);
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    guint group = 0;
    for (guint i = 0; i < derived->len; i++) {
        Derived *dv = g_ptr_array_index(derived, i);
        g_autoptr(GError) local = NULL;
        FpPod *pod = fp_pod_from_json(dv->pod, FP_POD_FULL, &local);
        if (!pod) {
            g_set_error(error, FP_PODFILE_ERROR, FP_PODFILE_ERROR_INVALID, "%s:%u:%u: %s: %s",
                        fp_docs_name(docs), line, col, kind ? kind : "Pod", local->message);
            return FALSE;
        }
        if (dv->grouped && group == 0) {
            group = g_atomic_int_add(&next_group, 1);
        }
        FpPodfileItem *it = g_new0(FpPodfileItem, 1);
        it->pod = pod;
        it->origin = g_strdup_printf("%s:%u:%u (document %u): %s %s/%s%s%s", fp_docs_name(docs),
                                     line, col, d + 1, kind ? kind : "Pod", pod->ns,
                                     json_string_value(WALK(doc, "metadata", "name"))
                                         ? json_string_value(WALK(doc, "metadata", "name"))
                                         : pod->name,
                                     dv->role ? ", " : "", dv->role ? dv->role : "");
        it->derived = (kind && !g_str_equal(kind, "Pod")) || fp_docs_count(docs) > 1;
        it->group = dv->grouped ? group : 0;
        it->copies = dv->copies;
        it->replicas = dv->replicas;
        g_ptr_array_add(items, it);
    }
    return TRUE;
}

static GPtrArray *items_of(FpDocs *docs, GError *parse_error, GPtrArray *notes, GError **error)
{
    GPtrArray *items = g_ptr_array_new_with_free_func((GDestroyNotify)fp_podfile_item_free);
    for (guint d = 0; d < fp_docs_count(docs); d++) {
        if (!add_doc(docs, d, items, notes, error)) {
            g_ptr_array_unref(items);
            return NULL;
        }
    }
    if (parse_error) {
        if (items->len == 0) {
            g_set_error(error, FP_PODFILE_ERROR, FP_PODFILE_ERROR_INVALID, "%s%s",
                        parse_error->message,
                        fp_docs_count(docs) ? " (no pod in the documents before it)" : "");
            g_ptr_array_unref(items);
            return NULL;
        }
        if (notes) {
            g_ptr_array_add(notes,
                            g_strdup_printf("%s: invalid YAML, the rest of the file is not read; "
                                            "the %u document%s before it %s used",
                                            parse_error->message, fp_docs_count(docs),
                                            fp_docs_count(docs) == 1 ? "" : "s",
                                            fp_docs_count(docs) == 1 ? "is" : "are"));
        }
    }
    if (items->len == 0) {
        g_set_error(error, FP_PODFILE_ERROR, FP_PODFILE_ERROR_EMPTY,
                    "%s: no Pod or pod template found", fp_docs_name(docs));
        g_ptr_array_unref(items);
        return NULL;
    }
    return items;
}

GPtrArray *fp_podfile_parse_items(const char *buf, gsize len, const char *name, GPtrArray *notes,
                                  GError **error)
{
    g_autoptr(GError) parse_error = NULL;
    g_autoptr(FpDocs) docs = fp_docs_parse_partial(buf, len, name, &parse_error);
    if (!docs) {
        g_propagate_error(error, g_steal_pointer(&parse_error));
        return NULL;
    }
    return items_of(docs, parse_error, notes, error);
}

GPtrArray *fp_podfile_load_items(const char *path, GPtrArray *notes, GError **error)
{
    if (g_str_equal(path, "-")) {
        g_autoptr(GIOChannel) ch = g_io_channel_unix_new(STDIN_FILENO);
        g_autofree char *buf = NULL;
        gsize len = 0;
        if (g_io_channel_read_to_end(ch, &buf, &len, error) != G_IO_STATUS_NORMAL) {
            return NULL;
        }
        return fp_podfile_parse_items(buf, len, "<stdin>", notes, error);
    }
    g_autoptr(GError) parse_error = NULL;
    g_autoptr(FpDocs) docs = fp_docs_load_file_partial(path, PODFILE_MAX_BYTES, &parse_error);
    if (!docs) {
        g_propagate_error(error, g_steal_pointer(&parse_error));
        return NULL;
    }
    return items_of(docs, parse_error, notes, error);
}

GPtrArray *fp_podfile_load(const char *path, GPtrArray *notes, GError **error)
{
    g_autoptr(GPtrArray) items = fp_podfile_load_items(path, notes, error);
    if (!items) {
        return NULL;
    }
    GPtrArray *pods = g_ptr_array_new_with_free_func((GDestroyNotify)fp_pod_unref);
    for (guint i = 0; i < items->len; i++) {
        FpPodfileItem *it = g_ptr_array_index(items, i);
        g_ptr_array_add(pods, fp_pod_ref(it->pod));
    }
    return pods;
}
