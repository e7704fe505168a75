/*
 * test/test_manifests.c - the deployment manifests agree with the code.
 *
 * Renders manifests/ with `kubectl kustomize` (no cluster needed; skipped
 * with a message when kubectl is not on PATH), parses the stream with
 * fp_docs_parse and checks it against the code's own tables, not a second
 * hand-kept copy:
 *
 *  - the route table fp_app_routes builds for the flexplace container's
 *    flags (fp_app_config_init defaults plus what the args set): every
 *    configured extender verb is a POST route, every probe path a GET route;
 *  - the listen address: urlPrefix host, port and path, the probe port;
 *  - the deployed policy (fp_policy_load_buffer on the rendered ConfigMap):
 *    it loads without errors and covers every managedResources name;
 *  - the Dockerfile: ENTRYPOINT (the effective command line), USER (the
 *    runAsUser) and the runtime packages (an exec probe's program);
 *  - kube-scheduler's strict decoding of KubeSchedulerConfiguration v1 (a
 *    table of the v1 field names), its --config file, its Lease;
 *  - RBAC: the flexplace-extender ClusterRole is exactly the API calls the
 *    code makes (expected_api below);
 *  - security context, volumes (no subPath), pinned images;
 *  - kustomization.yaml lists every manifest and no example;
 *  - manifests/examples/inference-deployment.yaml reaches flexplace
 *    (schedulerName, managedResources) and has a feasible node in the demo
 *    cluster.
 *
 * Every check appends a readable problem to a list instead of failing at
 * once, so one run names every disagreement; test_mutations proves each
 * check can fail by breaking a copy of the rendered objects.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "cache/view.h"
#include "cache/yamljson.h"
#include "extender/server/app.h"
#include "extender/cli/cmd_serve.h"
#include "cache/placement.h"
#include "extender/cli/podfile.h"
#include "policies/policy_load.h"
#include "scoring/engine.h"
#include "support/support.h"

#define RENDER_MAX_BYTES ((gsize)4 << 20)
#define SCHEDULER_NAME "flexplace-scheduler"
#define FLEXPLACE_CONTAINER "flexplace"
#define KUBE_SCHEDULER_CONTAINER "kube-scheduler"
#define EXTENDER_ROLE "flexplace-extender"

/* What flexplace's code calls on the API server: cache/informer.c lists and
 * watches nodes and pods; extender/server/bind.c creates pods/binding (the
 * flexplace.io/placement annotation rides on the Binding's metadata) and
 * reads a pod after a timeout or a conflict; cache/event_sink.c creates
 * Events (events.k8s.io/v1, core/v1 as the fallback).  This table belongs next to
 * those calls (cache/ should export it, e.g. as fp_kube_api_permissions);
 * until then it lives here. */
static const struct {
    const char *group;
    const char *resource;
    const char *verb;
} expected_api[] = {
    {"", "nodes", "get"},
    {"", "nodes", "list"},
    {"", "nodes", "watch"},
    {"", "pods", "get"},
    {"", "pods", "list"},
    {"", "pods", "watch"},
    {"", "pods/binding", "create"},
    {"", "events", "create"},
    {"events.k8s.io", "events", "create"},
    {"karpenter.sh", "nodepools", "list"},
    {"karpenter.sh", "nodepools", "watch"},
};

/* ---- KubeSchedulerConfiguration v1 field names ---------------------------
 * kube-scheduler decodes its config strictly: any other key stops it.  From
 * k8s.io/kube-scheduler/config/v1/types.go and component-base's
 * LeaderElectionConfiguration / ClientConnectionConfiguration. */
static const char *const ksc_fields[] = {"apiVersion",
                                         "kind",
                                         "parallelism",
                                         "leaderElection",
                                         "clientConnection",
                                         "enableProfiling",
                                         "enableContentionProfiling",
                                         "percentageOfNodesToScore",
                                         "podInitialBackoffSeconds",
                                         "podMaxBackoffSeconds",
                                         "profiles",
                                         "extenders",
                                         "delayCacheUntilActive",
                                         NULL};
static const char *const leader_fields[] = {
    "leaderElect",  "leaseDuration", "renewDeadline",     "retryPeriod",
    "resourceLock", "resourceName",  "resourceNamespace", NULL};
static const char *const client_fields[] = {
    "kubeconfig", "acceptContentTypes", "contentType", "qps", "burst", NULL};
static const char *const profile_fields[] = {"schedulerName", "percentageOfNodesToScore", "plugins",
                                             "pluginConfig", NULL};
static const char *const extender_fields[] = {
    "urlPrefix",        "filterVerb",  "preemptVerb", "prioritizeVerb", "weight",
    "bindVerb",         "enableHTTPS", "tlsConfig",   "httpTimeout",    "nodeCacheCapable",
    "managedResources", "ignorable",   NULL};
static const char *const tls_fields[] = {"insecure", "serverName", "certFile", "keyFile", "caFile",
                                         "certData", "keyData",    "caData",   NULL};
static const char *const managed_fields[] = {"name", "ignoredByScheduler", NULL};
/* v1.Plugins, PluginSet, Plugin, PluginConfig (k8s.io/kube-scheduler/config/v1). */
static const char *const plugins_fields[] = {
    "preEnqueue", "queueSort", "preFilter", "filter", "postFilter", "preScore",   "score",
    "reserve",    "permit",    "preBind",   "bind",   "postBind",   "multiPoint", NULL};
static const char *const plugin_set_fields[] = {"enabled", "disabled", NULL};
static const char *const plugin_fields[] = {"name", "weight", NULL};
static const char *const plugin_config_fields[] = {"name", "args", NULL};
/* PodTopologySpreadArgs (v1). */
static const char *const pts_args_fields[] = {"apiVersion", "kind", "defaultConstraints",
                                              "defaultingType", NULL};
/* The in-tree plugins of kube-scheduler 1.32's default registry. */
static const char *const intree_plugins[] = {"PrioritySort",
                                             "NodeUnschedulable",
                                             "NodeName",
                                             "TaintToleration",
                                             "NodeAffinity",
                                             "NodePorts",
                                             "NodeResourcesFit",
                                             "VolumeRestrictions",
                                             "NodeVolumeLimits",
                                             "VolumeBinding",
                                             "VolumeZone",
                                             "PodTopologySpread",
                                             "InterPodAffinity",
                                             "DefaultPreemption",
                                             "NodeResourcesBalancedAllocation",
                                             "ImageLocality",
                                             "DefaultBinder",
                                             "SchedulingGates",
                                             "DynamicResources",
                                             NULL};
/* Score plugins that fight flexplace for GPU pods: off in its profile. */
static const char *const fighting_scores[] = {"NodeResourcesFit", "NodeResourcesBalancedAllocation",
                                              "ImageLocality", NULL};
/* Every verb flexplace serves is configured. */
static const char *const verb_fields[] = {"filterVerb", "prioritizeVerb", "preemptVerb", "bindVerb",
                                          NULL};

/* ---- the Dockerfile ---------------------------------------------------- */

typedef struct {
    bool found;
    char **entrypoint;           /* JSON-form ENTRYPOINT of the final stage, or NULL */
    char *user;                  /* USER of the final stage, or NULL */
    GPtrArray *runtime_packages; /* apt-get install'ed in the final stage */
} DockerFacts;

static void docker_facts_clear(DockerFacts *d)
{
    g_strfreev(d->entrypoint);
    g_free(d->user);
    if (d->runtime_packages) {
        g_ptr_array_unref(d->runtime_packages);
    }
    memset(d, 0, sizeof *d);
}

/* Packages of "apt-get install [-opts] pkg ..." up to && ; | in @line. */
static void collect_apt_packages(const char *line, GPtrArray *out)
{
    g_auto(GStrv) tok = g_strsplit_set(line, " \t", -1);
    bool apt = false;
    bool in_install = false;
    for (guint i = 0; tok[i]; i++) {
        const char *t = tok[i];
        if (!*t) {
            continue;
        }
        if (g_str_equal(t, "&&") || g_str_equal(t, ";") || g_str_equal(t, "|")) {
            apt = in_install = false;
        } else if (g_str_equal(t, "apt-get") || g_str_equal(t, "apt")) {
            apt = true;
        } else if (apt && g_str_equal(t, "install")) {
            in_install = true;
        } else if (in_install && t[0] != '-') {
            g_ptr_array_add(out, g_strdup(t));
        }
    }
}

static void docker_facts_load(DockerFacts *d, const char *path)
{
    memset(d, 0, sizeof *d);
    d->runtime_packages = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        return;
    }
    d->found = true;
    /* Join continuation lines. */
    g_autoptr(GString) joined = g_string_new(NULL);
    for (const char *p = text; *p; p++) {
        if (p[0] == '\\' && p[1] == '\n') {
            g_string_append_c(joined, ' ');
            p++;
        } else {
            g_string_append_c(joined, *p);
        }
    }
    g_auto(GStrv) lines = g_strsplit(joined->str, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        char *line = g_strstrip(lines[i]);
        if (!*line || line[0] == '#') {
            continue;
        }
        const char *sp = strpbrk(line, " \t");
        g_autofree char *instr = g_ascii_strup(line, sp ? sp - line : -1);
        const char *rest = sp ? sp + strspn(sp, " \t") : "";
        if (g_str_equal(instr, "FROM")) { /* a new stage: forget the previous one */
            g_strfreev(d->entrypoint);
            d->entrypoint = NULL;
            g_clear_pointer(&d->user, g_free);
            g_ptr_array_set_size(d->runtime_packages, 0);
        } else if (g_str_equal(instr, "ENTRYPOINT")) {
            g_strfreev(d->entrypoint);
            d->entrypoint = NULL;
            json_t *arr = json_loads(rest, 0, NULL);
            if (json_is_array(arr)) {
                d->entrypoint = g_new0(char *, json_array_size(arr) + 1);
                for (size_t k = 0; k < json_array_size(arr); k++) {
                    const char *s = json_string_value(json_array_get(arr, k));
                    d->entrypoint[k] = g_strdup(s ? s : "");
                }
            }
            json_decref(arr);
        } else if (g_str_equal(instr, "USER")) {
            g_free(d->user);
            d->user = g_strdup(rest);
        } else if (g_str_equal(instr, "RUN")) {
            collect_apt_packages(rest, d->runtime_packages);
        }
    }
}

static bool docker_installs(const DockerFacts *d, const char *package)
{
    for (guint i = 0; i < d->runtime_packages->len; i++) {
        if (g_str_equal(g_ptr_array_index(d->runtime_packages, i), package)) {
            return true;
        }
    }
    return false;
}

/* ---- JSON helpers ------------------------------------------------------ */

/* Walk object keys (NULL-terminated); NULL when any step is missing. */
static json_t *jget(json_t *v, ...)
{
    va_list ap;
    va_start(ap, v);
    const char *key;
    while (v && (key = va_arg(ap, const char *))) {
        v = json_is_object(v) ? json_object_get(v, key) : NULL;
    }
    va_end(ap);
    return v;
}

static const char *jstr(json_t *v, const char *key)
{
    return json_string_value(json_object_get(v, key));
}

static const char *obj_kind(json_t *o)
{
    return jstr(o, "kind");
}

static const char *obj_name(json_t *o)
{
    return jstr(json_object_get(o, "metadata"), "name");
}

static const char *obj_ns(json_t *o)
{
    return jstr(json_object_get(o, "metadata"), "namespace");
}

/* The object of @kind and @name (and @ns unless NULL) in @objs, or NULL. */
static json_t *find_object(json_t *objs, const char *kind, const char *ns, const char *name)
{
    size_t i;
    json_t *o;
    json_array_foreach(objs, i, o)
    {
        const char *k = obj_kind(o), *n = obj_name(o), *s = obj_ns(o);
        if (k && n && g_str_equal(k, kind) && g_str_equal(n, name) &&
            (!ns || (s && g_str_equal(s, ns)))) {
            return o;
        }
    }
    return NULL;
}

static guint count_kind(json_t *objs, const char *kind)
{
    guint n = 0;
    size_t i;
    json_t *o;
    json_array_foreach(objs, i, o)
    {
        const char *k = obj_kind(o);
        n += k && g_str_equal(k, kind);
    }
    return n;
}

static json_t *find_named(json_t *array, const char *name)
{
    size_t i;
    json_t *o;
    json_array_foreach(array, i, o)
    {
        const char *n = jstr(o, "name");
        if (n && g_str_equal(n, name)) {
            return o;
        }
    }
    return NULL;
}

static bool json_strv_contains(json_t *array, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(array, i, v)
    {
        if (json_is_string(v) && g_str_equal(json_string_value(v), s)) {
            return true;
        }
    }
    return false;
}

/* ---- small parsers ----------------------------------------------------- */

/* "HOST:PORT", "[v6]:PORT" or ":PORT" -> host (maybe "") and port. */
static bool split_hostport(const char *s, char **host, int *port)
{
    const char *colon;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':') {
            return false;
        }
        *host = g_strndup(s + 1, (gsize)(end - s - 1));
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) {
            return false;
        }
        *host = g_strndup(s, (gsize)(colon - s));
    }
    guint64 p = 0;
    if (!g_ascii_string_to_unsigned(colon + 1, 10, 0, 65535, &p, NULL)) {
        g_clear_pointer(host, g_free);
        return false;
    }
    *port = (int)p;
    return true;
}

static bool host_is_loopback(const char *host)
{
    return host && (g_str_has_prefix(host, "127.") || g_str_equal(host, "::1") ||
                    g_ascii_strcasecmp(host, "localhost") == 0);
}

static bool host_is_any(const char *host)
{
    return !host || !*host || g_str_equal(host, "0.0.0.0") || g_str_equal(host, "::") ||
           g_str_equal(host, "*");
}

/* A Go duration ("5s", "1m30s", "500ms") in seconds; -1 when malformed. */
static double parse_go_duration(const char *s)
{
    static const struct {
        const char *unit;
        double seconds;
    } units[] = {{"ns", 1e-9}, {"us", 1e-6}, {"µs", 1e-6}, {"ms", 1e-3},
                 {"s", 1},     {"m", 60},    {"h", 3600}};
    if (!s || !*s || strlen(s) > 64) {
        return -1;
    }
    if (g_str_equal(s, "0")) {
        return 0;
    }
    double total = 0;
    const char *p = s;
    while (*p) {
        char *end = NULL;
        double v = g_ascii_strtod(p, &end);
        if (end == p || !isfinite(v) || v < 0) {
            return -1;
        }
        p = end;
        guint best = G_N_ELEMENTS(units);
        size_t best_len = 0;
        for (guint u = 0; u < G_N_ELEMENTS(units); u++) { /* longest unit that matches */
            size_t n = strlen(units[u].unit);
            if (strncmp(p, units[u].unit, n) == 0 && n > best_len) {
                best = u;
                best_len = n;
            }
        }
        if (best == G_N_ELEMENTS(units)) {
            return -1;
        }
        total += v * units[best].seconds;
        p += best_len;
    }
    return total;
}

/* ---- one run of every check over a set of rendered objects ------------- */

typedef struct {
    json_t *objs; /* the rendered objects (borrowed) */
    const DockerFacts *docker;
    GPtrArray *problems; /* char*: what disagrees */
    /* Derived */
    json_t *deploy, *pod_spec, *ksched, *flex;
    const char *ns;  /* the Deployment's namespace */
    char **argv;     /* effective flexplace command line */
    FpAppConfig cfg; /* flexplace's configuration as its flags set it */
    char *listen_host;
    int listen_port;
    char *metrics_host;      /* --metrics-listen, NULL when not set */
    int metrics_port;        /* -1 when not set */
    FpApp *app;              /* demo-equivalent app for cfg: the route table */
    char *sched_config_text; /* kube-scheduler's --config file */
    FpDocs *sched_docs;
    json_t *sched;     /* KubeSchedulerConfiguration (borrowed from sched_docs) */
    json_t *ext;       /* extenders[0] */
    json_t *policy_cm; /* the ConfigMap behind --policy */
    FpPolicy *policy;  /* loaded from it, NULL when it does not load */
} Check;

static void problem(Check *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void problem(Check *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_ptr_array_add(c->problems, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

static void check_clear(Check *c)
{
    g_strfreev(c->argv);
    fp_app_config_clear(&c->cfg);
    g_free(c->listen_host);
    g_free(c->metrics_host);
    if (c->app) {
        fp_app_free(c->app);
    }
    g_free(c->sched_config_text);
    if (c->sched_docs) {
        fp_docs_free(c->sched_docs);
    }
    if (c->policy) {
        fp_policy_unref(c->policy);
    }
    g_ptr_array_unref(c->problems);
    memset(c, 0, sizeof *c);
}

static json_t *container(json_t *pod_spec, const char *name)
{
    return find_named(json_object_get(pod_spec, "containers"), name);
}

/* command + args, or the image's ENTRYPOINT + args when command is unset. */
static char **effective_argv(Check *c, json_t *ctr)
{
    GPtrArray *argv = g_ptr_array_new();
    json_t *command = json_object_get(ctr, "command");
    size_t i;
    json_t *v;
    if (command) {
        json_array_foreach(command, i, v)
        {
            g_ptr_array_add(argv, g_strdup(json_string_value(v) ? json_string_value(v) : ""));
        }
    } else if (c->docker->entrypoint) {
        for (guint k = 0; c->docker->entrypoint[k]; k++) {
            g_ptr_array_add(argv, g_strdup(c->docker->entrypoint[k]));
        }
    }
    json_array_foreach(json_object_get(ctr, "args"), i, v)
    {
        g_ptr_array_add(argv, g_strdup(json_string_value(v) ? json_string_value(v) : ""));
    }
    g_ptr_array_add(argv, NULL);
    return (char **)g_ptr_array_free(argv, FALSE);
}

/* Apply the container's `flexplace serve` flags to c->cfg with serve's own
 * parser (fp_serve_parse_args), so the manifests are read exactly as the
 * binary reads them. */
static void apply_serve_flags(Check *c, char **argv)
{
    guint argc = g_strv_length(argv);
    if (argc < 2 || !g_str_equal(argv[1], "serve")) {
        problem(c, "flexplace container: the subcommand is \"%s\", not serve",
                argc < 2 ? "(none)" : argv[1]);
        return;
    }
    g_autoptr(GError) error = NULL;
    if (!fp_serve_parse_args((int)argc - 1, argv + 1, &c->cfg, &error)) {
        g_autofree char *line = g_strjoinv(" ", argv);
        problem(c, "flexplace container: serve rejects its flags: %s (command line: %s)",
                error->message, line);
    }
}

/* Resolve a file or directory @path inside @ctr to the ConfigMap volume that
 * provides it.  Sets *cm (the rendered ConfigMap, or NULL), *key (the data
 * key for a file; NULL for the directory itself) and *mount. */
static void resolve_path(Check *c, json_t *ctr, const char *path, json_t **cm, const char **key,
                         json_t **mount_out)
{
    *cm = NULL;
    *key = NULL;
    *mount_out = NULL;
    json_t *best = NULL;
    size_t best_len = 0;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(ctr, "volumeMounts"), i, m)
    {
        const char *mp = jstr(m, "mountPath");
        if (!mp) {
            continue;
        }
        size_t n = strlen(mp);
        while (n > 1 && mp[n - 1] == '/') {
            n--;
        }
        if (strncmp(path, mp, n) == 0 && (path[n] == '\0' || path[n] == '/') && n > best_len) {
            best = m;
            best_len = n;
        }
    }
    const char *cname = jstr(ctr, "name");
    if (!best) {
        problem(c, "container %s: no volume is mounted at %s", cname, path);
        return;
    }
    *mount_out = best;
    json_t *vol = find_named(json_object_get(c->pod_spec, "volumes"), jstr(best, "name"));
    json_t *cmref = json_object_get(vol, "configMap");
    if (!cmref) {
        problem(c, "container %s: %s is not on a ConfigMap volume", cname, path);
        return;
    }
    const char *cm_name = jstr(cmref, "name");
    *cm = cm_name ? find_object(c->objs, "ConfigMap", c->ns, cm_name) : NULL;
    if (!*cm) {
        problem(c,
                "container %s: volume %s refers to ConfigMap %s, which the manifests do not "
                "create in %s",
                cname, jstr(best, "name"), cm_name ? cm_name : "(unnamed)", c->ns);
        return;
    }
    const char *rel = path[best_len] ? path + best_len + 1 : NULL;
    const char *sub = jstr(best, "subPath");
    if (sub) {
        rel = rel ? NULL : sub; /* a subPath mount is one file, nothing below it */
    }
    if (!rel) {
        return;
    }
    *key = rel;
    json_t *items = json_object_get(cmref, "items");
    if (items) {
        *key = NULL;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            const char *p = jstr(it, "path");
            if (p && g_str_equal(p, rel)) {
                *key = jstr(it, "key");
            }
        }
        if (!*key) {
            problem(c, "container %s: no item of ConfigMap %s is projected as %s", cname, cm_name,
                    rel);
            return;
        }
    }
    if (!json_is_string(jget(*cm, "data", *key, NULL))) {
        problem(c, "container %s: %s needs key \"%s\" in ConfigMap %s, which has no such key",
                cname, path, *key, cm_name);
        *key = NULL;
    }
}

static const char *flag_value(char **argv, const char *flag)
{
    size_t n = strlen(flag);
    for (guint i = 0; argv && argv[i]; i++) {
        if (strncmp(argv[i], flag, n) == 0 && argv[i][n] == '=') {
            return argv[i] + n + 1;
        }
        if (g_str_equal(argv[i], flag) && argv[i + 1]) {
            return argv[i + 1];
        }
    }
    return NULL;
}

static bool has_route(Check *c, const char *method, const char *path)
{
    if (!c->app) {
        return false;
    }
    guint n = 0;
    FpRoute *routes = fp_app_routes(c->app, &n);
    for (guint i = 0; i < n; i++) {
        if (g_str_equal(routes[i].method, method) && g_str_equal(routes[i].path, path)) {
            return true;
        }
    }
    return false;
}

/* Everything the checks share; problems for whatever is missing. */
static void check_derive(Check *c)
{
    fp_app_config_init(&c->cfg);
    guint deployments = count_kind(c->objs, "Deployment");
    if (deployments != 1) {
        problem(c, "the base must hold exactly one Deployment, found %u", deployments);
    }
    c->deploy = find_object(c->objs, "Deployment", NULL, SCHEDULER_NAME);
    if (!c->deploy) {
        problem(c, "no Deployment %s", SCHEDULER_NAME);
        return;
    }
    c->ns = obj_ns(c->deploy) ? obj_ns(c->deploy) : "";
    c->pod_spec = jget(c->deploy, "spec", "template", "spec", NULL);
    c->ksched = container(c->pod_spec, KUBE_SCHEDULER_CONTAINER);
    c->flex = container(c->pod_spec, FLEXPLACE_CONTAINER);
    if (!c->ksched || !c->flex) {
        problem(c, "Deployment %s needs containers %s and %s", SCHEDULER_NAME,
                KUBE_SCHEDULER_CONTAINER, FLEXPLACE_CONTAINER);
        return;
    }

    /* flexplace's configuration and route table */
    c->argv = effective_argv(c, c->flex);
    if (!c->argv[0]) {
        problem(c, "flexplace container: no command and no image ENTRYPOINT");
        return;
    }
    g_autofree char *base = g_path_get_basename(c->argv[0]);
    if (!g_str_equal(base, "flexplace")) {
        problem(c, "flexplace container runs %s, not flexplace", c->argv[0]);
    }
    apply_serve_flags(c, c->argv);
    if (!split_hostport(c->cfg.listen, &c->listen_host, &c->listen_port)) {
        problem(c, "flexplace --listen \"%s\" is not HOST:PORT", c->cfg.listen);
    }
    c->metrics_port = -1;
    if (c->cfg.metrics_listen &&
        !split_hostport(c->cfg.metrics_listen, &c->metrics_host, &c->metrics_port)) {
        problem(c, "flexplace --metrics-listen \"%s\" is not HOST:PORT", c->cfg.metrics_listen);
    }
    FpAppConfig demo = c->cfg;
    demo.listen = (char *)"127.0.0.1:0";
    demo.demo = true;
    demo.cluster_file = NULL;
    demo.kubeconfig = NULL;
    demo.policy_path = NULL;
    g_autoptr(GError) error = NULL;
    c->app = fp_app_new(&demo, &error);
    if (!c->app) {
        problem(c, "cannot build flexplace's route table: %s", error->message);
    }

    /* kube-scheduler's configuration file */
    g_auto(GStrv) ks_argv = effective_argv(c, c->ksched);
    const char *config_path = flag_value(ks_argv, "--config");
    if (!config_path) {
        problem(c, "kube-scheduler container: no --config");
    } else {
        json_t *cm = NULL, *mount = NULL;
        const char *key = NULL;
        resolve_path(c, c->ksched, config_path, &cm, &key, &mount);
        if (cm && key) {
            c->sched_config_text = g_strdup(json_string_value(jget(cm, "data", key, NULL)));
            c->sched_docs = fp_docs_parse(c->sched_config_text, strlen(c->sched_config_text),
                                          config_path, &error);
            if (!c->sched_docs) {
                problem(c, "%s does not parse: %s", config_path, error->message);
            } else if (fp_docs_count(c->sched_docs) != 1) {
                problem(c, "%s holds %u documents, want 1", config_path,
                        fp_docs_count(c->sched_docs));
            } else {
                c->sched = fp_docs_get(c->sched_docs, 0);
            }
        } else if (cm && !key) {
            problem(c, "kube-scheduler --config %s is a directory, not a file", config_path);
        }
    }
    json_t *exts = json_object_get(c->sched, "extenders");
    if (c->sched && json_array_size(exts) != 1) {
        problem(c, "%s: want exactly one extender, found %zu", config_path, json_array_size(exts));
    }
    c->ext = json_array_get(exts, 0);

    /* the policy flexplace is given */
    if (!c->cfg.policy_path) {
        problem(c, "flexplace container: no --policy (the policy ConfigMap is not used)");
    } else {
        json_t *mount = NULL;
        const char *key = NULL;
        resolve_path(c, c->flex, c->cfg.policy_path, &c->policy_cm, &key, &mount);
        if (mount && key) {
            problem(c,
                    "flexplace --policy %s is one file of the ConfigMap; give the mounted "
                    "directory so updates are seen",
                    c->cfg.policy_path);
        }
        if (c->policy_cm) {
            g_autofree char *text = json_dumps(c->policy_cm, JSON_COMPACT);
            g_autoptr(FpPolicyReport) report = fp_policy_report_new();
            c->policy = fp_policy_load_buffer(text, strlen(text), obj_name(c->policy_cm), report);
            if (!c->policy) {
                g_autofree char *all = fp_policy_report_join_errors(report, "; ");
                problem(c, "the deployed policy (ConfigMap %s) does not load: %s",
                        obj_name(c->policy_cm), all);
            }
        }
    }
}

/* ---- the checks -------------------------------------------------------- */

static bool kind_is_cluster_scoped(const char *kind)
{
    static const char *const kinds[] = {"Namespace",
                                        "ClusterRole",
                                        "ClusterRoleBinding",
                                        "PriorityClass",
                                        "CustomResourceDefinition",
                                        NULL};
    return g_strv_contains(kinds, kind);
}

static void check_objects(Check *c)
{
    static const struct {
        const char *kind, *ns, *name;
    } expected[] = {
        {"Namespace", NULL, "flexplace-system"},
        {"ServiceAccount", "flexplace-system", SCHEDULER_NAME},
        {"ClusterRole", NULL, EXTENDER_ROLE},
        {"ConfigMap", "flexplace-system", "flexplace-scheduler-config"},
        {"ConfigMap", "flexplace-system", "flexplace-policy"},
        {"Deployment", "flexplace-system", SCHEDULER_NAME},
        {"PodDisruptionBudget", "flexplace-system", SCHEDULER_NAME},
    };
    for (guint i = 0; i < G_N_ELEMENTS(expected); i++) {
        if (!find_object(c->objs, expected[i].kind, expected[i].ns, expected[i].name)) {
            problem(c, "missing %s %s%s%s", expected[i].kind, expected[i].ns ? expected[i].ns : "",
                    expected[i].ns ? "/" : "", expected[i].name);
        }
    }
    static const char *const labels[] = {"app.kubernetes.io/name", "app.kubernetes.io/part-of",
                                         "app.kubernetes.io/managed-by"};
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    size_t i;
    json_t *o;
    json_array_foreach(c->objs, i, o)
    {
        const char *kind = obj_kind(o), *name = obj_name(o), *ns = obj_ns(o);
        if (!jstr(o, "apiVersion") || !kind || !name) {
            problem(c, "object %zu has no apiVersion, kind or metadata.name", i);
            continue;
        }
        if (!kind_is_cluster_scoped(kind) && !ns) {
            problem(c, "%s %s has no namespace: kubectl would put it in the current one", kind,
                    name);
        }
        if (ns && !g_str_equal(ns, "kube-system") && !find_object(c->objs, "Namespace", NULL, ns)) {
            problem(c, "%s %s is in namespace %s, which the manifests do not create", kind, name,
                    ns);
        }
        char *id = g_strdup_printf("%s/%s/%s", kind, ns ? ns : "", name);
        if (!g_hash_table_add(seen, id)) {
            problem(c, "%s appears twice", id);
        }
        for (guint l = 0; l < G_N_ELEMENTS(labels); l++) {
            if (!json_is_string(jget(o, "metadata", "labels", labels[l], NULL))) {
                problem(c, "%s %s lacks label %s", kind, name, labels[l]);
            }
        }
    }
}

/* Unknown keys of @obj (a strict decoder refuses them), with a hint when
 * only the case differs (enableHttps). */
static void check_fields(Check *c, json_t *obj, const char *const *known, const char *where)
{
    if (!obj) {
        return;
    }
    if (!json_is_object(obj)) {
        problem(c, "%s: not a mapping", where);
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (g_strv_contains(known, key)) {
            continue;
        }
        const char *hint = NULL;
        for (guint k = 0; known[k]; k++) {
            if (g_ascii_strcasecmp(known[k], key) == 0) {
                hint = known[k];
            }
        }
        problem(c,
                "%s: unknown field \"%s\"%s%s%s (kube-scheduler decodes strictly and would not "
                "start)",
                where, key, hint ? " (did you mean \"" : "", hint ? hint : "", hint ? "\"?)" : "");
    }
}

static bool in_strv(const char *const *list, const char *s)
{
    for (; s && *list; list++) {
        if (g_str_equal(*list, s)) {
            return true;
        }
    }
    return false;
}

/* A profile's plugins and pluginConfig as kube-scheduler decodes and
 * validates them: known fields, known plugin names, score weights 1..100
 * (ValidateKubeSchedulerConfiguration), PodTopologySpreadArgs' defaulting
 * type; and for flexplace's profile, the fighting score plugins off and no
 * system default spreading. */
static void check_profile_plugins(Check *c, json_t *profile)
{
    json_t *plugins = json_object_get(profile, "plugins");
    check_fields(c, plugins, plugins_fields, "profiles[].plugins");
    const char *key;
    json_t *set;
    json_object_foreach(plugins, key, set)
    {
        check_fields(c, set, plugin_set_fields, "profiles[].plugins.<point>");
        const char *which;
        json_t *list;
        json_object_foreach(set, which, list)
        {
            size_t i;
            json_t *pl;
            json_array_foreach(list, i, pl)
            {
                check_fields(c, pl, plugin_fields, "profiles[].plugins.<point>.<set>[]");
                const char *name = jstr(pl, "name");
                if (!in_strv(intree_plugins, name) && g_strcmp0(name, "*") != 0) {
                    problem(c, "plugins.%s.%s: unknown plugin %s", key, which, name ? name : "");
                }
                json_t *w = json_object_get(pl, "weight");
                if (w && (!json_is_integer(w) || json_integer_value(w) < 1 ||
                          json_integer_value(w) > 100)) {
                    problem(c, "plugins.%s.%s: %s weight must be 1..100", key, which, name);
                }
            }
        }
    }
    size_t i;
    json_t *pc;
    bool list_defaulting = false;
    json_array_foreach(json_object_get(profile, "pluginConfig"), i, pc)
    {
        check_fields(c, pc, plugin_config_fields, "profiles[].pluginConfig[]");
        const char *name = jstr(pc, "name");
        if (!in_strv(intree_plugins, name)) {
            problem(c, "pluginConfig: unknown plugin %s", name ? name : "");
        }
        if (g_strcmp0(name, "PodTopologySpread") == 0) {
            json_t *args = json_object_get(pc, "args");
            check_fields(c, args, pts_args_fields, "PodTopologySpreadArgs");
            const char *dt = jstr(args, "defaultingType");
            if (dt && !g_str_equal(dt, "List") && !g_str_equal(dt, "System")) {
                problem(c, "PodTopologySpreadArgs.defaultingType %s is neither List nor System",
                        dt);
            }
            list_defaulting = dt && g_str_equal(dt, "List") &&
                              json_array_size(json_object_get(args, "defaultConstraints")) == 0;
        }
    }
    if (g_strcmp0(jstr(profile, "schedulerName"), SCHEDULER_NAME) != 0) {
        return;
    }
    json_t *disabled = jget(plugins, "score", "disabled", NULL);
    for (const char *const *f = fighting_scores; *f; f++) {
        bool off = false;
        json_array_foreach(disabled, i, pc)
        {
            off |= g_strcmp0(jstr(pc, "name"), *f) == 0;
        }
        if (!off) {
            problem(c, "profile %s: score plugin %s fights flexplace for GPU pods: disable it",
                    SCHEDULER_NAME, *f);
        }
    }
    if (!list_defaulting) {
        problem(c,
                "profile %s: PodTopologySpread's system default constraints spread every "
                "ReplicaSet over hosts and zones, against pools filling in order: set "
                "defaultingType: List",
                SCHEDULER_NAME);
    }
}

static void check_scheduler_config(Check *c)
{
    json_t *s = c->sched;
    if (!s) {
        return; /* reported by check_derive */
    }
    const char *api = jstr(s, "apiVersion");
    if (!api || !g_str_equal(api, "kubescheduler.config.k8s.io/v1")) {
        problem(c, "scheduler config apiVersion is %s, want kubescheduler.config.k8s.io/v1",
                api ? api : "(none)");
    }
    const char *kind = jstr(s, "kind");
    if (!kind || !g_str_equal(kind, "KubeSchedulerConfiguration")) {
        problem(c, "scheduler config kind is %s, want KubeSchedulerConfiguration",
                kind ? kind : "(none)");
    }
    check_fields(c, s, ksc_fields, "KubeSchedulerConfiguration");
    check_fields(c, json_object_get(s, "leaderElection"), leader_fields, "leaderElection");
    check_fields(c, json_object_get(s, "clientConnection"), client_fields, "clientConnection");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(s, "profiles"), i, v)
    {
        check_fields(c, v, profile_fields, "profiles[]");
        check_profile_plugins(c, v);
    }
    json_array_foreach(json_object_get(s, "extenders"), i, v)
    {
        check_fields(c, v, extender_fields, "extenders[]");
        check_fields(c, json_object_get(v, "tlsConfig"), tls_fields, "extenders[].tlsConfig");
        size_t k;
        json_t *m;
        json_array_foreach(json_object_get(v, "managedResources"), k, m)
        {
            check_fields(c, m, managed_fields, "extenders[].managedResources[]");
        }
    }

    json_t *le = json_object_get(s, "leaderElection");
    if (!json_is_true(json_object_get(le, "leaderElect"))) {
        problem(c, "leaderElection.leaderElect must be true: the Deployment runs %lld replicas",
                (long long)json_integer_value(jget(c->deploy, "spec", "replicas", NULL)));
    }
    const char *lns = jstr(le, "resourceNamespace");
    if (!lns || !g_str_equal(lns, c->ns)) {
        problem(c, "leaderElection.resourceNamespace is %s, want the scheduler's namespace %s",
                lns ? lns : "(kube-system by default)", c->ns);
    }
    const char *lname = jstr(le, "resourceName");
    if (!lname || g_str_equal(lname, "kube-scheduler")) {
        problem(c, "leaderElection.resourceName must be set and differ from the default "
                   "scheduler's kube-scheduler");
    }
    json_t *pct = json_object_get(s, "percentageOfNodesToScore");
    if (!json_is_integer(pct) || json_integer_value(pct) != 100) {
        problem(c, "percentageOfNodesToScore must be 100 so flexplace sees every feasible node");
    }
    bool profile = false;
    json_array_foreach(json_object_get(s, "profiles"), i, v)
    {
        const char *n = jstr(v, "schedulerName");
        profile |= n && g_str_equal(n, SCHEDULER_NAME);
    }
    if (!profile) {
        problem(c, "no profile with schedulerName %s", SCHEDULER_NAME);
    }
}

/* `flexplace simulate` reproduces kube-scheduler's arithmetic with the
 * shipped extender weight: the two must be equal. */
static void check_simulate_weight(Check *c, json_int_t weight)
{
    g_autofree char *pod =
        g_build_filename(FP_SOURCE_DIR, "manifests", "examples", "inference-deployment.yaml", NULL);
    const char *args[] = {"--demo", "--pod", pod, "--replicas", "1", "-o", "json", NULL};
    FpTestRun r = {0};
    fp_test_run_flexplace(&r, NULL, "simulate", args);
    json_t *doc = json_loads(r.out ? r.out : "", 0, NULL);
    json_t *w = json_object_get(doc, "extenderWeight");
    if (!json_is_integer(w) || json_integer_value(w) != weight) {
        problem(c, "extender weight %lld, but flexplace simulate assumes %s", (long long)weight,
                json_is_integer(w) ? "another" : "none (no extenderWeight in its output)");
    }
    json_decref(doc);
    fp_test_run_clear(&r);
}

static void check_extender(Check *c)
{
    json_t *e = c->ext;
    if (!e || !c->app) {
        return; /* reported by check_derive */
    }
    const char *url = jstr(e, "urlPrefix");
    g_autoptr(GError) error = NULL;
    g_autoptr(GUri) uri = url ? g_uri_parse(url, G_URI_FLAGS_NONE, &error) : NULL;
    if (!uri) {
        problem(c, "extender urlPrefix \"%s\" is not a URL", url ? url : "");
        return;
    }
    const char *scheme = g_uri_get_scheme(uri);
    bool https = g_ascii_strcasecmp(scheme, "https") == 0;
    if (!https && g_ascii_strcasecmp(scheme, "http") != 0) {
        problem(c, "extender urlPrefix scheme %s is neither http nor https", scheme);
    }
    bool tls_flag = json_is_true(json_object_get(e, "enableHTTPS"));
    if (!json_is_boolean(json_object_get(e, "enableHTTPS"))) {
        problem(c, "extender: write enableHTTPS (capital HTTPS) explicitly, as a boolean");
    } else if (tls_flag != https) {
        problem(c, "extender: enableHTTPS is %s but urlPrefix is %s", tls_flag ? "true" : "false",
                scheme);
    }
    if (https != (c->cfg.tls_cert != NULL)) {
        problem(c, "extender urlPrefix is %s but flexplace serves %s", scheme,
                c->cfg.tls_cert ? "TLS" : "plain HTTP");
    }
    int port = g_uri_get_port(uri);
    if (port < 0) {
        port = https ? 443 : 80;
    }
    if (port != c->listen_port) {
        problem(c, "extender urlPrefix port %d differs from flexplace's --listen port %d", port,
                c->listen_port);
    }
    const char *host = g_uri_get_host(uri);
    if (!host_is_loopback(host)) {
        problem(c, "extender urlPrefix host %s: flexplace is a sidecar, call it on loopback", host);
    }
    if (!host_is_loopback(c->listen_host)) {
        problem(c,
                "flexplace listens on \"%s\": keep it on loopback, the verbs (bind) have no "
                "authentication",
                c->cfg.listen);
    }
    json_t *ports = json_object_get(c->flex, "ports");
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
        json_int_t cport = json_integer_value(json_object_get(p, "containerPort"));
        if (cport != c->listen_port && cport != c->metrics_port) {
            problem(c,
                    "flexplace containerPort %lld is neither its --listen port %d nor its "
                    "--metrics-listen port %d",
                    (long long)cport, c->listen_port, c->metrics_port);
        }
    }
    /* kube-scheduler posts to urlPrefix + "/" + verb; flexplace strips --prefix. */
    g_autofree char *want_prefix = g_strdup(g_uri_get_path(uri));
    g_autofree char *have_prefix = g_strdup(c->cfg.prefix ? c->cfg.prefix : "");
    while (*want_prefix && want_prefix[strlen(want_prefix) - 1] == '/') {
        want_prefix[strlen(want_prefix) - 1] = '\0';
    }
    while (*have_prefix && have_prefix[strlen(have_prefix) - 1] == '/') {
        have_prefix[strlen(have_prefix) - 1] = '\0';
    }
    if (!g_str_equal(want_prefix, have_prefix)) {
        problem(c, "extender urlPrefix path \"%s\" differs from flexplace --prefix \"%s\"",
                want_prefix, have_prefix);
    }
    for (guint k = 0; verb_fields[k]; k++) {
        const char *verb = jstr(e, verb_fields[k]);
        if (!verb || !*verb) {
            problem(c, "extender: %s is not set; flexplace serves it", verb_fields[k]);
            continue;
        }
        g_autofree char *path = g_strdup_printf("/%s", verb);
        if (!has_route(c, "POST", path)) {
            problem(c, "extender %s \"%s\": flexplace has no route POST %s", verb_fields[k], verb,
                    path);
        }
    }
    json_t *weight = json_object_get(e, "weight");
    if (jstr(e, "prioritizeVerb") && (!json_is_integer(weight) || json_integer_value(weight) < 1)) {
        problem(c, "extender: prioritizeVerb needs an integer weight >= 1");
    } else if (json_is_integer(weight)) {
        check_simulate_weight(c, json_integer_value(weight));
    }
    const char *timeout = jstr(e, "httpTimeout");
    double seconds = timeout ? parse_go_duration(timeout) : 5.0;
    if (seconds < 0) {
        problem(c, "extender httpTimeout \"%s\" is not a duration", timeout);
    } else if (seconds <= c->cfg.bind_timeout_s) {
        problem(c, "extender httpTimeout %s is not above flexplace's bind API timeout %.1f s",
                timeout ? timeout : "5s (default)", c->cfg.bind_timeout_s);
    }
    if (!json_is_true(json_object_get(e, "nodeCacheCapable"))) {
        problem(c, "extender: nodeCacheCapable should be true (flexplace keeps its own cache)");
    }
    if (!json_is_boolean(json_object_get(e, "ignorable"))) {
        problem(c, "extender: decide ignorable explicitly (true or false)");
    }
    json_t *managed = json_object_get(e, "managedResources");
    if (json_array_size(managed) == 0) {
        problem(c, "extender: managedResources is empty: every pod would go through flexplace");
    }
    json_array_foreach(managed, i, p)
    {
        if (json_is_true(json_object_get(p, "ignoredByScheduler"))) {
            problem(c,
                    "managedResources %s: ignoredByScheduler must stay false (device plugins "
                    "advertise GPUs in allocatable)",
                    jstr(p, "name"));
        }
    }
}

static void check_policy(Check *c)
{
    if (!c->ext || !c->policy) {
        return; /* reported by check_derive */
    }
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(c->ext, "managedResources"), i, m)
    {
        const char *name = jstr(m, "name");
        if (!name || !fp_policy_is_gpu_resource(c->policy, name)) {
            problem(c,
                    "managedResources %s is not a GPU resource of the deployed policy "
                    "(gpuResources)",
                    name ? name : "(unnamed)");
        }
    }
}

/* Where a probe sends its request: method GET, the path and the port. */
static void check_probe(Check *c, json_t *ctr, const char *kind, const char *want_path,
                        bool required)
{
    json_t *probe = json_object_get(ctr, kind);
    const char *cname = jstr(ctr, "name");
    if (!probe) {
        if (required) {
            problem(c, "container %s has no %s", cname, kind);
        }
        return;
    }
    const char *path = NULL;
    int port = -1;
    const char *host = NULL;
    g_autoptr(GUri) uri = NULL;
    json_t *http = json_object_get(probe, "httpGet");
    json_t *exec = json_object_get(probe, "exec");
    if (http) {
        path = jstr(http, "path");
        json_t *p = json_object_get(http, "port");
        if (json_is_integer(p)) {
            port = (int)json_integer_value(p);
        } else if (json_is_string(p)) {
            json_t *named = find_named(json_object_get(ctr, "ports"), json_string_value(p));
            port = named ? (int)json_integer_value(json_object_get(named, "containerPort")) : -1;
        }
        host = jstr(http, "host");
        bool metrics_port =
            c->metrics_port > 0 && port == c->metrics_port && host_is_any(c->metrics_host);
        if (ctr == c->flex && !metrics_port && !host_is_any(c->listen_host) && !host) {
            problem(c,
                    "container %s %s: an httpGet probe connects to the pod IP, but flexplace "
                    "listens on %s only; probe from inside the container (exec)",
                    cname, kind, c->cfg.listen);
        }
    } else if (exec) {
        json_t *cmd = json_object_get(exec, "command");
        size_t i;
        json_t *a;
        json_array_foreach(cmd, i, a)
        {
            const char *s = json_string_value(a);
            if (!uri && s && (g_str_has_prefix(s, "http://") || g_str_has_prefix(s, "https://"))) {
                uri = g_uri_parse(s, G_URI_FLAGS_NONE, NULL);
            }
        }
        if (!uri) {
            problem(c, "container %s %s: exec probe without an http:// URL", cname, kind);
            return;
        }
        path = g_uri_get_path(uri);
        port = g_uri_get_port(uri);
        host = g_uri_get_host(uri);
        const char *program = json_string_value(json_array_get(cmd, 0));
        g_autofree char *prog = program ? g_path_get_basename(program) : NULL;
        if (ctr == c->flex && c->docker->found && (!prog || !docker_installs(c->docker, prog))) {
            problem(c,
                    "container %s %s runs %s, which the Dockerfile's runtime stage does not "
                    "install",
                    cname, kind, prog ? prog : "nothing");
        }
        if (ctr == c->flex && host && !host_is_loopback(host) &&
            !g_str_equal(host, c->listen_host)) {
            problem(c, "container %s %s: probes %s, flexplace listens on %s", cname, kind, host,
                    c->cfg.listen);
        }
    } else {
        problem(c, "container %s %s: neither httpGet nor exec", cname, kind);
        return;
    }
    if (!path || !g_str_equal(path, want_path)) {
        problem(c, "container %s %s probes %s, want %s", cname, kind, path ? path : "(no path)",
                want_path);
    }
    if (ctr == c->flex) {
        if (port != c->listen_port && port != c->metrics_port) {
            problem(c, "container %s %s probes port %d, flexplace listens on %d and %d", cname,
                    kind, port, c->listen_port, c->metrics_port);
        }
        if (path && !has_route(c, "GET", path)) {
            problem(c, "container %s %s: %s is not a GET route flexplace serves", cname, kind,
                    path);
        }
    } else if (!find_named(json_object_get(ctr, "ports"), "https") || port != 10259 || !http ||
               g_strcmp0(jstr(http, "scheme"), "HTTPS") != 0) {
        problem(c, "container %s %s: probe kube-scheduler's secure port 10259 over HTTPS", cname,
                kind);
    }
}

static void check_probes(Check *c)
{
    if (!c->flex || !c->ksched) {
        return;
    }
    check_probe(c, c->flex, "livenessProbe", "/healthz", true);
    check_probe(c, c->flex, "readinessProbe", "/readyz", true);
    check_probe(c, c->flex, "startupProbe", "/healthz", false);
    check_probe(c, c->ksched, "livenessProbe", "/healthz", true);
    check_probe(c, c->ksched, "readinessProbe", "/readyz", true);
    check_probe(c, c->ksched, "startupProbe", "/healthz", false);
}

static void check_volumes(Check *c)
{
    if (!c->pod_spec) {
        return;
    }
    json_t *volumes = json_object_get(c->pod_spec, "volumes");
    size_t i;
    json_t *v;
    json_array_foreach(volumes, i, v)
    {
        json_t *cmref = json_object_get(v, "configMap");
        if (!cmref) {
            continue;
        }
        const char *name = jstr(cmref, "name");
        json_t *cm = name ? find_object(c->objs, "ConfigMap", c->ns, name) : NULL;
        if (!cm) {
            if (!json_is_true(json_object_get(cmref, "optional"))) {
                problem(c, "volume %s: ConfigMap %s is not in the manifests", jstr(v, "name"),
                        name ? name : "(unnamed)");
            }
            continue;
        }
        size_t k;
        json_t *it;
        json_array_foreach(json_object_get(cmref, "items"), k, it)
        {
            if (!json_is_string(jget(cm, "data", jstr(it, "key"), NULL))) {
                problem(c, "volume %s: ConfigMap %s has no key %s", jstr(v, "name"), name,
                        jstr(it, "key"));
            }
        }
    }
    json_t *ctrs = json_object_get(c->pod_spec, "containers");
    json_t *ctr;
    json_array_foreach(ctrs, i, ctr)
    {
        size_t k;
        json_t *m;
        json_array_foreach(json_object_get(ctr, "volumeMounts"), k, m)
        {
            json_t *vol = find_named(volumes, jstr(m, "name"));
            if (!vol) {
                problem(c, "container %s mounts volume %s, which the pod does not declare",
                        jstr(ctr, "name"), jstr(m, "name"));
            } else if (json_object_get(vol, "configMap") && json_object_get(m, "subPath")) {
                problem(c,
                        "container %s mounts ConfigMap volume %s with subPath: it would never "
                        "receive updates",
                        jstr(ctr, "name"), jstr(m, "name"));
            }
        }
    }
}

/* Whether @role's rules grant @verb on @group/@resource (for @name, when a
 * rule lists resourceNames). */
static bool role_grants(json_t *role, const char *group, const char *resource, const char *verb,
                        const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(role, "rules"), i, r)
    {
        json_t *names = json_object_get(r, "resourceNames");
        if (json_strv_contains(json_object_get(r, "apiGroups"), group) &&
            json_strv_contains(json_object_get(r, "resources"), resource) &&
            json_strv_contains(json_object_get(r, "verbs"), verb) &&
            (!names || json_array_size(names) == 0 || json_strv_contains(names, name))) {
            return true;
        }
    }
    return false;
}

/* Whether a (Cluster)RoleBinding in @ns (NULL: cluster) gives @role_kind
 * @role to the scheduler's ServiceAccount. */
static bool sa_bound(Check *c, const char *binding_kind, const char *ns, const char *role_kind,
                     const char *role)
{
    const char *sa = jstr(c->pod_spec, "serviceAccountName");
    size_t i;
    json_t *b;
    json_array_foreach(c->objs, i, b)
    {
        if (g_strcmp0(obj_kind(b), binding_kind) != 0 || (ns && g_strcmp0(obj_ns(b), ns) != 0) ||
            g_strcmp0(jstr(json_object_get(b, "roleRef"), "kind"), role_kind) != 0 ||
            g_strcmp0(jstr(json_object_get(b, "roleRef"), "name"), role) != 0) {
            continue;
        }
        size_t k;
        json_t *s;
        json_array_foreach(json_object_get(b, "subjects"), k, s)
        {
            if (g_strcmp0(jstr(s, "kind"), "ServiceAccount") == 0 &&
                g_strcmp0(jstr(s, "name"), sa) == 0 &&
                g_strcmp0(jstr(s, "namespace"), c->ns) == 0) {
                return true;
            }
        }
    }
    return false;
}

static void check_rbac(Check *c)
{
    if (!c->pod_spec) {
        return;
    }
    const char *sa = jstr(c->pod_spec, "serviceAccountName");
    if (!sa || !find_object(c->objs, "ServiceAccount", c->ns, sa)) {
        problem(c, "the pod's serviceAccountName %s is not created in %s", sa ? sa : "(unset)",
                c->ns);
        return;
    }
    json_t *role = find_object(c->objs, "ClusterRole", NULL, EXTENDER_ROLE);
    if (role) {
        g_autoptr(GHashTable) have = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(role, "rules"), i, r)
        {
            if (json_object_get(r, "resourceNames") || json_object_get(r, "nonResourceURLs")) {
                problem(c, "ClusterRole %s: rule %zu has resourceNames or nonResourceURLs",
                        EXTENDER_ROLE, i);
            }
            size_t a, b, d;
            json_t *g, *res, *verb;
            json_array_foreach(json_object_get(r, "apiGroups"), a, g)
            {
                json_array_foreach(json_object_get(r, "resources"), b, res)
                {
                    json_array_foreach(json_object_get(r, "verbs"), d, verb)
                    {
                        g_hash_table_add(have, g_strdup_printf("%s|%s|%s", json_string_value(g),
                                                               json_string_value(res),
                                                               json_string_value(verb)));
                    }
                }
            }
        }
        for (guint k = 0; k < G_N_ELEMENTS(expected_api); k++) {
            g_autofree char *key = g_strdup_printf("%s|%s|%s", expected_api[k].group,
                                                   expected_api[k].resource, expected_api[k].verb);
            if (!g_hash_table_remove(have, key)) {
                problem(c, "ClusterRole %s does not grant %s %s (flexplace's code calls it)",
                        EXTENDER_ROLE, expected_api[k].resource, expected_api[k].verb);
            }
        }
        GHashTableIter it;
        gpointer key;
        g_hash_table_iter_init(&it, have);
        while (g_hash_table_iter_next(&it, &key, NULL)) {
            g_auto(GStrv) parts = g_strsplit(key, "|", 3);
            problem(c, "ClusterRole %s grants %s%s%s %s, which flexplace's code never calls",
                    EXTENDER_ROLE, parts[0], *parts[0] ? "/" : "", parts[1], parts[2]);
        }
    }
    static const struct {
        const char *binding_kind, *ns, *role_kind, *role;
    } bindings[] = {
        {"ClusterRoleBinding", NULL, "ClusterRole", EXTENDER_ROLE},
        {"ClusterRoleBinding", NULL, "ClusterRole", "system:kube-scheduler"},
        {"ClusterRoleBinding", NULL, "ClusterRole", "system:volume-scheduler"},
        {"RoleBinding", "kube-system", "Role", "extension-apiserver-authentication-reader"},
    };
    for (guint k = 0; k < G_N_ELEMENTS(bindings); k++) {
        if (!sa_bound(c, bindings[k].binding_kind, bindings[k].ns, bindings[k].role_kind,
                      bindings[k].role)) {
            problem(c, "no %s%s%s gives %s %s to ServiceAccount %s/%s", bindings[k].binding_kind,
                    bindings[k].ns ? " in " : "", bindings[k].ns ? bindings[k].ns : "",
                    bindings[k].role_kind, bindings[k].role, c->ns, sa);
        }
    }
    /* The Lease of leaderElection. */
    json_t *le = json_object_get(c->sched, "leaderElection");
    const char *lns = jstr(le, "resourceNamespace");
    const char *lname = jstr(le, "resourceName");
    if (!lns || !lname) {
        return; /* reported by check_scheduler_config */
    }
    bool granted = false;
    size_t i;
    json_t *o;
    json_array_foreach(c->objs, i, o)
    {
        if (g_strcmp0(obj_kind(o), "Role") != 0 || g_strcmp0(obj_ns(o), lns) != 0) {
            continue;
        }
        if (role_grants(o, "coordination.k8s.io", "leases", "get", lname) &&
            role_grants(o, "coordination.k8s.io", "leases", "update", lname) &&
            role_grants(o, "coordination.k8s.io", "leases", "create", lname) &&
            sa_bound(c, "RoleBinding", lns, "Role", obj_name(o))) {
            granted = true;
        }
    }
    if (!granted) {
        problem(c, "no Role bound to %s grants leases get, update and create for Lease %s/%s", sa,
                lns, lname);
    }
}

static bool effective_true(json_t *ctr_sc, json_t *pod_sc, const char *key)
{
    json_t *v = json_object_get(ctr_sc, key);
    return v ? json_is_true(v) : json_is_true(json_object_get(pod_sc, key));
}

static void check_security(Check *c)
{
    if (!c->pod_spec) {
        return;
    }
    json_t *pod_sc = json_object_get(c->pod_spec, "securityContext");
    if (g_strcmp0(jstr(json_object_get(pod_sc, "seccompProfile"), "type"), "RuntimeDefault") != 0) {
        problem(c, "pod securityContext.seccompProfile.type should be RuntimeDefault");
    }
    size_t i;
    json_t *ctr;
    json_array_foreach(json_object_get(c->pod_spec, "containers"), i, ctr)
    {
        const char *n = jstr(ctr, "name");
        json_t *sc = json_object_get(ctr, "securityContext");
        if (!effective_true(sc, pod_sc, "runAsNonRoot")) {
            problem(c, "container %s: runAsNonRoot is not true", n);
        }
        if (!json_is_true(json_object_get(sc, "readOnlyRootFilesystem"))) {
            problem(c, "container %s: readOnlyRootFilesystem is not true", n);
        }
        if (!json_is_false(json_object_get(sc, "allowPrivilegeEscalation"))) {
            problem(c, "container %s: allowPrivilegeEscalation is not false", n);
        }
        if (json_is_true(json_object_get(sc, "privileged"))) {
            problem(c, "container %s: privileged", n);
        }
        if (!json_strv_contains(jget(sc, "capabilities", "drop", NULL), "ALL")) {
            problem(c, "container %s: capabilities.drop lacks ALL", n);
        }
        if (json_array_size(jget(sc, "capabilities", "add", NULL)) > 0) {
            problem(c, "container %s: adds capabilities", n);
        }
    }
    /* The image's USER and the pod's runAsUser agree. */
    if (c->flex && c->docker->user) {
        json_t *uid = json_object_get(json_object_get(c->flex, "securityContext"), "runAsUser");
        if (!uid) {
            uid = json_object_get(pod_sc, "runAsUser");
        }
        guint64 want = 0;
        g_auto(GStrv) parts = g_strsplit(c->docker->user, ":", 2);
        if (g_ascii_string_to_unsigned(parts[0], 10, 0, G_MAXUINT32, &want, NULL) &&
            (!json_is_integer(uid) || (guint64)json_integer_value(uid) != want)) {
            problem(c, "flexplace runAsUser %lld differs from the Dockerfile's USER %s",
                    (long long)json_integer_value(uid), c->docker->user);
        }
    }
}

static void check_command_and_images(Check *c)
{
    if (!c->flex || !c->argv) {
        return;
    }
    if (c->cfg.demo || c->cfg.cluster_file) {
        problem(c, "flexplace container serves %s, not the live cluster",
                c->cfg.demo ? "the demo cluster" : "a snapshot file");
    }
    const char *ks_image = jstr(c->ksched, "image");
    g_autoptr(GRegex) re =
        g_regex_new("^registry\\.k8s\\.io/kube-scheduler:v1\\.([0-9]+)\\.[0-9]+$", 0, 0, NULL);
    g_autoptr(GMatchInfo) mi = NULL;
    if (!ks_image || !g_regex_match(re, ks_image, 0, &mi)) {
        problem(c, "kube-scheduler image %s is not pinned to registry.k8s.io/kube-scheduler:v1.N.P",
                ks_image ? ks_image : "(none)");
    } else {
        g_autofree char *minor = g_match_info_fetch(mi, 1);
        guint64 m = 0;
        if (!g_ascii_string_to_unsigned(minor, 10, 0, 1000, &m, NULL) || m < 25) {
            problem(c, "kube-scheduler %s predates KubeSchedulerConfiguration v1 (1.25)", ks_image);
        }
    }
    const char *image = jstr(c->flex, "image");
    const char *tag = image ? strrchr(image, ':') : NULL;
    if (!image ||
        (!strchr(image, '@') && (!tag || strchr(tag, '/') || g_str_equal(tag, ":latest")))) {
        problem(c, "flexplace image %s has no version tag or digest", image ? image : "(none)");
    }
}

typedef void (*CheckFn)(Check *c);

/* Run @fns over @objs; a new array of problems. */
static GPtrArray *run_checks(json_t *objs, const DockerFacts *docker, const CheckFn *fns, guint n)
{
    Check c = {.objs = objs, .docker = docker, .problems = g_ptr_array_new_with_free_func(g_free)};
    check_derive(&c);
    for (guint i = 0; i < n; i++) {
        fns[i](&c);
    }
    GPtrArray *out = g_ptr_array_ref(c.problems);
    check_clear(&c);
    return out;
}

static const CheckFn all_checks[] = {
    check_objects, check_scheduler_config, check_extender,
    check_policy,  check_probes,           check_volumes,
    check_rbac,    check_security,         check_command_and_images,
};

/* ---- fixtures ---------------------------------------------------------- */

typedef struct {
    char *skip_reason; /* kubectl is not installed */
    char *render_error;
    json_t *objs; /* every rendered object */
    DockerFacts docker;
} Manifests;

static int group_setup(void **state)
{
    Manifests *m = g_new0(Manifests, 1);
    *state = m;
    g_autofree char *dockerfile = g_build_filename(FP_SOURCE_DIR, "Dockerfile", NULL);
    docker_facts_load(&m->docker, dockerfile);
    g_autofree char *kubectl = g_find_program_in_path("kubectl");
    if (!kubectl) {
        m->skip_reason = g_strdup("kubectl is not on PATH: cannot render manifests/ with "
                                  "`kubectl kustomize`; install kubectl to run these checks");
        return 0;
    }
    g_autofree char *dir = g_build_filename(FP_SOURCE_DIR, "manifests", NULL);
    const char *argv[] = {kubectl, "kustomize", dir, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status = 0;
    g_autoptr(GError) error = NULL;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status,
                      &error) ||
        !g_spawn_check_wait_status(status, &error)) {
        m->render_error = g_strdup_printf("kubectl kustomize %s failed: %s\n%s", dir,
                                          error->message, err ? err : "");
        return 0;
    }
    if (strlen(out) > RENDER_MAX_BYTES) {
        m->render_error = g_strdup("kubectl kustomize printed more than 4 MiB");
        return 0;
    }
    g_autoptr(FpDocs) docs = fp_docs_parse(out, strlen(out), "kubectl kustomize manifests", &error);
    if (!docs) {
        m->render_error =
            g_strdup_printf("the rendered manifests do not parse: %s", error->message);
        return 0;
    }
    m->objs = json_array();
    for (guint i = 0; i < fp_docs_count(docs); i++) {
        json_array_append_new(m->objs, json_deep_copy(fp_docs_get(docs, i)));
    }
    return 0;
}

static int group_teardown(void **state)
{
    Manifests *m = *state;
    g_free(m->skip_reason);
    g_free(m->render_error);
    json_decref(m->objs);
    docker_facts_clear(&m->docker);
    g_free(m);
    return 0;
}

/* Skip or fail before the test allocates anything (FP_SKIP longjmps). */
static Manifests *need_render(void **state)
{
    Manifests *m = *state;
    if (m->skip_reason) {
        FP_SKIP("kubectl", "%s", m->skip_reason);
    }
    if (m->render_error) {
        fail_msg("%s", m->render_error);
    }
    return m;
}

static void assert_no_problems(GPtrArray *problems)
{
    for (guint i = 0; i < problems->len; i++) {
        print_error("  %s\n", (char *)g_ptr_array_index(problems, i));
    }
    guint n = problems->len;
    g_ptr_array_unref(problems);
    if (n) {
        fail_msg("%u problem(s) in the manifests", n);
    }
}

static void run_one(void **state, CheckFn fn)
{
    Manifests *m = need_render(state);
    assert_no_problems(run_checks(m->objs, &m->docker, &fn, 1));
}

/* ---- tests over the real manifests ------------------------------------- */

static void test_rendered_objects(void **state)
{
    Manifests *m = need_render(state);
    assert_true(json_array_size(m->objs) >= 10);
    run_one(state, check_objects);
}

static void test_dockerfile(void **state)
{
    Manifests *m = *state;
    if (!m->docker.found) {
        fail_msg("no Dockerfile at the top of the repository");
    }
    assert_non_null(m->docker.entrypoint);
    g_autofree char *base = g_path_get_basename(m->docker.entrypoint[0]);
    assert_string_equal(base, "flexplace");
    assert_non_null(m->docker.user);
    /* Numeric, non-root: runAsNonRoot can only verify a numeric USER. */
    guint64 uid = 0;
    g_auto(GStrv) parts = g_strsplit(m->docker.user, ":", 2);
    assert_true(g_ascii_string_to_unsigned(parts[0], 10, 1, G_MAXUINT32, &uid, NULL));
    static const char *const runtime[] = {"libmicrohttpd12", "libjansson4", "libcurl4",
                                          "libglib2.0-0",    "libyaml-0-2", "ca-certificates"};
    for (guint i = 0; i < G_N_ELEMENTS(runtime); i++) {
        if (!docker_installs(&m->docker, runtime[i])) {
            fail_msg("the Dockerfile's runtime stage does not install %s", runtime[i]);
        }
    }
    /* The build stage reads the package list CI uses. */
    g_autofree char *path = g_build_filename(FP_SOURCE_DIR, "Dockerfile", NULL);
    g_autofree char *text = fp_test_read_file(path, NULL);
    assert_non_null(strstr(text, ".ci/packages.txt"));
    assert_non_null(strstr(text, "-DBUILD_TESTING=OFF"));
}

static void test_scheduler_config(void **state)
{
    run_one(state, check_scheduler_config);
}

static void test_extender_matches_flexplace(void **state)
{
    run_one(state, check_extender);
}

static void test_managed_resources_in_policy(void **state)
{
    run_one(state, check_policy);
}

static void test_probes(void **state)
{
    run_one(state, check_probes);
}

static void test_volumes(void **state)
{
    run_one(state, check_volumes);
}

static void test_rbac(void **state)
{
    run_one(state, check_rbac);
}

static void test_security_context(void **state)
{
    run_one(state, check_security);
}

static void test_command_and_images(void **state)
{
    run_one(state, check_command_and_images);
}

/* kustomization.yaml lists every manifest in manifests/ (a new file that is
 * not listed would silently not be installed), and nothing from examples/. */
static void test_kustomization_lists_every_file(void **state)
{
    g_autofree char *dir = g_build_filename(FP_SOURCE_DIR, "manifests", NULL);
    g_autofree char *kpath = g_build_filename(dir, "kustomization.yaml", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(FpDocs) docs = fp_docs_load_file(kpath, 1 << 20, &error);
    if (!docs) {
        fail_msg("%s: %s", kpath, error->message);
    }
    assert_int_equal(fp_docs_count(docs), 1);
    json_t *resources = json_object_get(fp_docs_get(docs, 0), "resources");
    assert_true(json_array_size(resources) > 0);
    g_autoptr(GDir) d = g_dir_open(dir, 0, &error);
    assert_non_null(d);
    guint files = 0;
    const char *name;
    while ((name = g_dir_read_name(d))) {
        if (!g_str_has_suffix(name, ".yaml") || g_str_equal(name, "kustomization.yaml")) {
            continue;
        }
        files++;
        if (!json_strv_contains(resources, name)) {
            fail_msg("manifests/%s is not listed in kustomization.yaml resources", name);
        }
    }
    assert_int_equal(files, json_array_size(resources));
    size_t i;
    json_t *r;
    json_array_foreach(resources, i, r)
    {
        assert_null(strstr(json_string_value(r), "examples"));
    }
}

/* `flexplace policy check` on the example ConfigMap file itself. */
static void test_policy_configmap_file(void **state)
{
    g_autofree char *path =
        g_build_filename(FP_SOURCE_DIR, "manifests", "policy-configmap.yaml", NULL);
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_free(path);
        path = NULL;
        FP_SKIP("policy-configmap", "manifests/policy-configmap.yaml is not written yet");
    }
    g_autoptr(FpPolicyReport) report = fp_policy_report_new();
    g_autoptr(FpPolicy) policy = fp_policy_load_path(path, report);
    if (!policy) {
        g_autofree char *all = fp_policy_report_join_errors(report, "\n  ");
        fail_msg("%s does not pass policy check:\n  %s", path, all);
    }
}

/* The real binary accepts the container's flags (GOption exits 0 on --help
 * only when every flag before it parsed). */
static void test_binary_accepts_flags(void **state)
{
    Manifests *m = need_render(state);
    const char *bin = g_getenv("FP_BINARY");
    if (!bin || !*bin) {
        bin = FP_BINARY;
    }
    if (!g_file_test(bin, G_FILE_TEST_IS_EXECUTABLE)) {
        FP_SKIP("flexplace-binary", "%s is not built: cannot try the container's flags", bin);
    }
    Check c = {
        .objs = m->objs, .docker = &m->docker, .problems = g_ptr_array_new_with_free_func(g_free)};
    check_derive(&c);
    assert_non_null(c.argv);
    assert_non_null(c.argv[0]);
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, (gpointer)bin);
    for (guint i = 1; c.argv[i]; i++) {
        g_ptr_array_add(argv, c.argv[i]);
    }
    g_ptr_array_add(argv, (gpointer) "--help");
    g_ptr_array_add(argv, NULL);
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status = 0;
    g_autoptr(GError) error = NULL;
    gboolean ok = g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out,
                               &err, &status, &error) &&
                  g_spawn_check_wait_status(status, &error);
    g_autofree char *line = g_strjoinv(" ", (char **)argv->pdata);
    g_ptr_array_unref(argv);
    check_clear(&c);
    if (!ok) {
        fail_msg("`%s` failed: %s\n%s", line, error->message, err ? err : "");
    }
    assert_non_null(strstr(out, "--listen"));
}

/* manifests/examples/inference-deployment.yaml: scheduled by flexplace-scheduler,
 * seen by the extender, valid annotations, a feasible node in the demo. */
static void collect_name(const FpNodeState *st, void *data)
{
    g_ptr_array_add(data, g_strdup(st->name));
}

static void test_example_workload(void **state)
{
    Manifests *m = need_render(state);
    g_autofree char *path =
        g_build_filename(FP_SOURCE_DIR, "manifests", "examples", "inference-deployment.yaml", NULL);
    g_autoptr(GError) error = NULL;
    GPtrArray *pods = fp_podfile_load(path, NULL, &error);
    if (!pods) {
        fail_msg("%s: %s", path, error->message);
    }
    assert_int_equal(pods->len, 1);
    const FpPod *pod = g_ptr_array_index(pods, 0);

    Check c = {
        .objs = m->objs, .docker = &m->docker, .problems = g_ptr_array_new_with_free_func(g_free)};
    check_derive(&c);
    assert_non_null(c.sched);
    assert_non_null(c.ext);
    assert_non_null(c.app);

    /* Pods of the example are for this scheduler... */
    bool profile = false;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(c.sched, "profiles"), i, v)
    {
        profile |= g_strcmp0(jstr(v, "schedulerName"), pod->scheduler_name) == 0;
    }
    if (!profile) {
        fail_msg("the example's schedulerName %s is no profile of the scheduler config",
                 pod->scheduler_name ? pod->scheduler_name : "(default-scheduler)");
    }
    /* ...and reach flexplace: a managed resource is named (IsInterested). */
    bool interested = false;
    json_array_foreach(json_object_get(c.ext, "managedResources"), i, v)
    {
        const char *name = jstr(v, "name");
        interested |= name && pod->resource_keys &&
                      g_strv_contains((const char *const *)pod->resource_keys, name);
    }
    assert_true(interested);
    /* Its annotations are valid under the deployed policy and the default. */
    g_autoptr(FpPolicy) def = fp_policy_new_default();
    const FpPolicy *policies[] = {c.policy, def};
    for (guint p = 0; p < G_N_ELEMENTS(policies); p++) {
        assert_non_null(policies[p]);
        g_autoptr(FpDemand) d = fp_demand_new(pod, policies[p]);
        if (d->invalid_reason) {
            fail_msg("%s: %s", d->invalid_reason, d->invalid_detail ? d->invalid_detail : "");
        }
        assert_string_equal(d->resource, "nvidia.com/gpu");
        assert_int_equal(d->count, 1);
        assert_int_equal(d->n_origins, 1);
        assert_true(d->max_latency_ms > 0);
        assert_true(d->min_gpu_memory_mib >= 20 * 1024);
    }
    /* `flexplace score --demo`: at least one demo node takes it. */
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    fp_view_read_lock(c.app->view);
    fp_view_foreach_node_locked(c.app->view, collect_name, names);
    fp_view_read_unlock(c.app->view);
    assert_true(names->len > 0);
    FpCandidates cands = {
        .names = (const char *const *)names->pdata, .n = names->len, .kube_checks = true};
    FpPlacement *pl = fp_placement_evaluate(c.app->view, def, pod, &cands);
    int best = fp_placement_best(pl);
    if (best < 0) {
        fail_msg("no demo node is feasible for the example (flexplace score --demo would exit 3)");
    }
    /* The SKU list is honoured. */
    const char *product = pl->verdicts[best].facts.product;
    assert_true(g_strcmp0(product, "NVIDIA-L4") == 0 || g_strcmp0(product, "NVIDIA-A10G") == 0);
    fp_placement_free(pl);
    g_ptr_array_unref(names);
    g_ptr_array_unref(pods);
    check_clear(&c);
    /* Examples are not part of the install. */
    assert_null(find_object(m->objs, "Deployment", NULL, "vllm-gemma2-2b"));
}

/* ---- every check can fail ---------------------------------------------- */

static json_t *mut_find(json_t *objs, const char *kind, const char *name)
{
    json_t *o = find_object(objs, kind, NULL, name);
    if (!o) {
        fail_msg("mutation: no %s %s", kind, name);
    }
    return o;
}

static json_t *mut_container(json_t *objs, const char *name)
{
    json_t *pod =
        jget(mut_find(objs, "Deployment", SCHEDULER_NAME), "spec", "template", "spec", NULL);
    json_t *ctr = container(pod, name);
    if (!ctr) {
        fail_msg("mutation: no container %s", name);
    }
    return ctr;
}

/* Replace @from by @to in the scheduler config text. */
static void mut_sched_text(json_t *objs, const char *from, const char *to)
{
    json_t *data =
        json_object_get(mut_find(objs, "ConfigMap", "flexplace-scheduler-config"), "data");
    const char *key = NULL;
    json_t *v;
    json_object_foreach(data, key, v)
    {
        const char *text = json_string_value(v);
        if (text && strstr(text, from)) {
            g_auto(GStrv) parts = g_strsplit(text, from, -1);
            g_autofree char *joined = g_strjoinv(to, parts);
            json_object_set_new(data, key, json_string(joined));
            return;
        }
    }
    fail_msg("mutation: \"%s\" is not in the scheduler config", from);
}

/* Replace the flexplace container argument starting with @prefix. */
static void mut_flex_arg(json_t *objs, const char *prefix, const char *to)
{
    json_t *args = json_object_get(mut_container(objs, FLEXPLACE_CONTAINER), "args");
    size_t i;
    json_t *v;
    json_array_foreach(args, i, v)
    {
        if (g_str_has_prefix(json_string_value(v), prefix)) {
            json_array_set_new(args, i, json_string(to));
            return;
        }
    }
    fail_msg("mutation: no flexplace argument %s", prefix);
}

static void mut_fit_scores(json_t *o)
{
    mut_sched_text(o, "name: NodeResourcesFit\n", "name: NodeAffinity\n");
}
static void mut_system_spread(json_t *o)
{
    mut_sched_text(o, "defaultingType: List", "defaultingType: System");
}
static void mut_plugin_typo(json_t *o)
{
    mut_sched_text(o, "- name: ImageLocality", "- name: ImageLocalty");
}
static void mut_weight(json_t *o)
{
    mut_sched_text(o, "weight: 10", "weight: 7");
}
static void mut_enable_https_case(json_t *o)
{
    mut_sched_text(o, "enableHTTPS:", "enableHttps:");
}
static void mut_url_port(json_t *o)
{
    mut_sched_text(o, "127.0.0.1:8888", "127.0.0.1:8889");
}
static void mut_bind_verb(json_t *o)
{
    mut_sched_text(o, "bindVerb: bind", "bindVerb: binder");
}
static void mut_no_preempt(json_t *o)
{
    mut_sched_text(o, "preemptVerb: preempt", "preemptVerb: \"\"");
}
static void mut_percentage(json_t *o)
{
    mut_sched_text(o, "percentageOfNodesToScore: 100", "percentageOfNodesToScore: 50");
}
static void mut_timeout(json_t *o)
{
    mut_sched_text(o, "httpTimeout: 5s", "httpTimeout: 2s");
}
static void mut_managed_fpga(json_t *o)
{
    mut_sched_text(o, "- name: amd.com/gpu", "- name: example.com/fpga");
}
static void mut_lease_name(json_t *o)
{
    mut_sched_text(o, "resourceName: flexplace-scheduler", "resourceName: other-scheduler");
}
static void mut_api_version(json_t *o)
{
    mut_sched_text(o, "kubescheduler.config.k8s.io/v1\n", "kubescheduler.config.k8s.io/v1beta3\n");
}
static void mut_listen_everywhere(json_t *o)
{
    mut_flex_arg(o, "--listen", "--listen=0.0.0.0:8888");
}
static void mut_listen_port(json_t *o)
{
    mut_flex_arg(o, "--listen", "--listen=127.0.0.1:9999");
}
static void mut_demo(json_t *o)
{
    mut_flex_arg(o, "--policy", "--demo");
}
static void mut_no_serve(json_t *o)
{
    /* The image's ENTRYPOINT is the bare binary: args must name the command. */
    json_array_remove(json_object_get(mut_container(o, FLEXPLACE_CONTAINER), "args"), 0);
}
static void mut_subpath(json_t *o)
{
    json_t *mounts = json_object_get(mut_container(o, FLEXPLACE_CONTAINER), "volumeMounts");
    json_t *m = find_named(mounts, "policy");
    if (!m) {
        fail_msg("mutation: no policy mount");
    }
    json_object_set_new(m, "subPath", json_string("policy.yaml"));
}
static void mut_policy_cm_name(json_t *o)
{
    json_t *pod = jget(mut_find(o, "Deployment", SCHEDULER_NAME), "spec", "template", "spec", NULL);
    json_t *v = find_named(json_object_get(pod, "volumes"), "policy");
    if (!v) {
        fail_msg("mutation: no policy volume");
    }
    json_object_set_new(json_object_get(v, "configMap"), "name", json_string("flexplace-polcy"));
}
static void mut_readiness_path(json_t *o)
{
    json_t *probe = json_object_get(mut_container(o, FLEXPLACE_CONTAINER), "readinessProbe");
    json_object_clear(probe);
    json_object_set_new(
        probe, "exec",
        json_pack("{s:[s,s,s]}", "command", "curl", "-fsS", "http://127.0.0.1:8888/ready"));
}
static void mut_httpget_probe(json_t *o)
{
    json_t *probe = json_object_get(mut_container(o, FLEXPLACE_CONTAINER), "livenessProbe");
    json_object_clear(probe);
    json_object_set_new(probe, "httpGet",
                        json_pack("{s:s, s:i}", "path", "/healthz", "port", 8888));
}
static void mut_wget_probe(json_t *o)
{
    json_t *probe = json_object_get(mut_container(o, FLEXPLACE_CONTAINER), "livenessProbe");
    json_object_clear(probe);
    json_object_set_new(
        probe, "exec",
        json_pack("{s:[s,s,s]}", "command", "wget", "-q", "http://127.0.0.1:8888/healthz"));
}
static void mut_rw_root(json_t *o)
{
    json_object_set_new(json_object_get(mut_container(o, FLEXPLACE_CONTAINER), "securityContext"),
                        "readOnlyRootFilesystem", json_false());
}
static void mut_run_as_root_uid(json_t *o)
{
    json_object_set_new(json_object_get(mut_container(o, FLEXPLACE_CONTAINER), "securityContext"),
                        "runAsUser", json_integer(1000));
}
static void mut_role_extra_verb(json_t *o)
{
    json_t *rules = json_object_get(mut_find(o, "ClusterRole", EXTENDER_ROLE), "rules");
    json_array_append_new(rules, json_pack("{s:[s], s:[s], s:[s]}", "apiGroups", "", "resources",
                                           "pods", "verbs", "delete"));
}
static void mut_role_no_binding(json_t *o)
{
    json_t *rules = json_object_get(mut_find(o, "ClusterRole", EXTENDER_ROLE), "rules");
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r)
    {
        if (json_strv_contains(json_object_get(r, "resources"), "pods/binding")) {
            json_array_remove(rules, i);
            return;
        }
    }
    fail_msg("mutation: no pods/binding rule");
}
static void mut_no_auth_reader(json_t *o)
{
    json_t *b =
        mut_find(o, "RoleBinding", "flexplace-scheduler-extension-apiserver-authentication-reader");
    json_object_set_new(json_object_get(b, "metadata"), "namespace", json_string("default"));
}
static void mut_latest_scheduler(json_t *o)
{
    json_object_set_new(mut_container(o, KUBE_SCHEDULER_CONTAINER), "image",
                        json_string("registry.k8s.io/kube-scheduler:latest"));
}
static void mut_no_namespace(json_t *o)
{
    json_object_del(json_object_get(mut_find(o, "PodDisruptionBudget", SCHEDULER_NAME), "metadata"),
                    "namespace");
}

typedef struct {
    const char *what;
    void (*mutate)(json_t *objs);
    const char *want; /* a substring of some problem */
} Mutation;

static const Mutation mutations[] = {
    {"LeastAllocated scoring on", mut_fit_scores, "score plugin NodeResourcesFit fights flexplace"},
    {"system default spreading", mut_system_spread, "set defaultingType: List"},
    {"unknown plugin", mut_plugin_typo, "unknown plugin ImageLocalty"},
    {"extender weight differs from simulate's", mut_weight,
     "extender weight 7, but flexplace simulate"},
    {"enableHttps spelling", mut_enable_https_case, "unknown field \"enableHttps\" (did you mean"},
    {"urlPrefix port", mut_url_port, "urlPrefix port 8889 differs"},
    {"bind verb without a route", mut_bind_verb, "no route POST /binder"},
    {"preempt verb off", mut_no_preempt, "preemptVerb is not set"},
    {"sampling nodes", mut_percentage, "percentageOfNodesToScore must be 100"},
    {"timeout below bind", mut_timeout, "httpTimeout 2s is not above"},
    {"managed resource not a GPU", mut_managed_fpga, "example.com/fpga is not a GPU resource"},
    {"Lease without a grant", mut_lease_name, "Lease flexplace-system/other-scheduler"},
    {"old config version", mut_api_version, "want kubescheduler.config.k8s.io/v1"},
    {"verbs on the pod network", mut_listen_everywhere, "keep it on loopback"},
    {"listen port drift", mut_listen_port, "differs from flexplace's --listen port 9999"},
    {"demo cluster in production", mut_demo, "serves the demo cluster"},
    {"no serve subcommand", mut_no_serve, "not serve"},
    {"policy via subPath", mut_subpath, "subPath"},
    {"policy ConfigMap missing", mut_policy_cm_name, "ConfigMap flexplace-polcy"},
    {"readiness path not served", mut_readiness_path, "/ready is not a GET route"},
    {"httpGet on a loopback listener", mut_httpget_probe, "httpGet probe connects to the pod IP"},
    {"probe program not in the image", mut_wget_probe, "runs wget, which the Dockerfile"},
    {"writable root", mut_rw_root, "readOnlyRootFilesystem is not true"},
    {"UID drift", mut_run_as_root_uid, "runAsUser 1000 differs"},
    {"RBAC: extra verb", mut_role_extra_verb, "grants pods delete, which flexplace's code never"},
    {"RBAC: no binding", mut_role_no_binding, "does not grant pods/binding create"},
    {"RBAC: auth reader elsewhere", mut_no_auth_reader,
     "gives Role extension-apiserver-authentication-reader"},
    {"unpinned scheduler", mut_latest_scheduler, "is not pinned"},
    {"object without namespace", mut_no_namespace,
     "PodDisruptionBudget flexplace-scheduler has no"},
};

static void test_mutations(void **state)
{
    Manifests *m = need_render(state);
    for (guint i = 0; i < G_N_ELEMENTS(mutations); i++) {
        json_t *objs = json_deep_copy(m->objs);
        mutations[i].mutate(objs);
        GPtrArray *problems = run_checks(objs, &m->docker, all_checks, G_N_ELEMENTS(all_checks));
        bool found = false;
        for (guint k = 0; k < problems->len; k++) {
            found |= strstr(g_ptr_array_index(problems, k), mutations[i].want) != NULL;
        }
        if (!found) {
            print_error("mutation \"%s\": problems were:\n", mutations[i].what);
            for (guint k = 0; k < problems->len; k++) {
                print_error("  %s\n", (char *)g_ptr_array_index(problems, k));
            }
        }
        g_ptr_array_unref(problems);
        json_decref(objs);
        if (!found) {
            fail_msg("mutation \"%s\" went unnoticed (want a problem with \"%s\")",
                     mutations[i].what, mutations[i].want);
        }
    }
}

/* ---- the admission webhook add-on (manifests/webhook) -------------------
 *
 * Rendered on its own (kubectl kustomize manifests/webhook) and checked
 * against the code: the route the API server calls is a POST route of the
 * flexplace container's own flags; the Service reaches the container's
 * --listen port; TLS comes from the Certificate's Secret and no client
 * certificate is required (the API server presents none); the API server's
 * side fails open (failurePolicy Ignore, short timeout, no side effects,
 * CREATE of pods only, admission.k8s.io/v1); cert-manager injects the CA of
 * that Certificate; opt-in by flexplace's schedulerName; the webhook's own
 * namespace is excluded; its ClusterRole is exactly nodes and pods get, list,
 * watch. */

#define WEBHOOK_NAME "flexplace-webhook"

static const struct {
    const char *resource;
    const char *verb;
} webhook_api[] = {
    {"nodes", "get"}, {"nodes", "list"}, {"nodes", "watch"},    {"pods", "get"},
    {"pods", "list"}, {"pods", "watch"}, {"nodepools", "list"}, {"nodepools", "watch"},
};

static json_t *render_dir(const char *dir, char **error_out)
{
    g_autofree char *kubectl = g_find_program_in_path("kubectl");
    if (!kubectl) {
        return NULL;
    }
    const char *argv[] = {kubectl, "kustomize", dir, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status = 0;
    g_autoptr(GError) error = NULL;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status,
                      &error) ||
        !g_spawn_check_wait_status(status, &error)) {
        *error_out = g_strdup_printf("kubectl kustomize %s failed: %s\n%s", dir, error->message,
                                     err ? err : "");
        return NULL;
    }
    g_autoptr(FpDocs) docs = fp_docs_parse(out, strlen(out), dir, &error);
    if (!docs) {
        *error_out = g_strdup_printf("%s does not parse: %s", dir, error->message);
        return NULL;
    }
    json_t *objs = json_array();
    for (guint i = 0; i < fp_docs_count(docs); i++) {
        json_array_append_new(objs, json_deep_copy(fp_docs_get(docs, i)));
    }
    return objs;
}

static void wproblem(GPtrArray *problems, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void wproblem(GPtrArray *problems, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_ptr_array_add(problems, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

/* The webhook's own flags -> its route table: POST @path must be a route. */
static void check_webhook_route(json_t *ctr, const DockerFacts *docker, const char *path,
                                GPtrArray *problems)
{
    Check c = {.docker = docker, .problems = problems};
    fp_app_config_init(&c.cfg);
    c.argv = effective_argv(&c, ctr);
    apply_serve_flags(&c, c.argv);
    if (c.cfg.client_ca) {
        wproblem(problems, "the webhook requires client certificates (--client-ca), which the "
                           "API server does not present to webhooks");
    }
    if (!c.cfg.tls_cert || !c.cfg.tls_key) {
        wproblem(problems, "the webhook serves without --tls-cert/--tls-key: the API server "
                           "calls webhooks over HTTPS only");
    }
    FpAppConfig demo = c.cfg;
    demo.listen = (char *)"127.0.0.1:0";
    demo.demo = true;
    demo.cluster_file = NULL;
    demo.kubeconfig = NULL;
    demo.policy_path = NULL;
    g_autoptr(GError) error = NULL;
    FpApp *app = fp_app_new(&demo, &error);
    bool found = false;
    if (app) {
        guint n = 0;
        FpRoute *routes = fp_app_routes(app, &n);
        for (guint i = 0; i < n; i++) {
            found = found ||
                    (g_str_equal(routes[i].method, "POST") && g_strcmp0(routes[i].path, path) == 0);
        }
        fp_app_free(app);
    }
    if (!found) {
        wproblem(problems, "the webhook container serves no POST %s (its flags: --mutate-verb)",
                 path ? path : "(no path)");
    }
    int port = 0;
    g_autofree char *host = NULL;
    if (split_hostport(c.cfg.listen, &host, &port)) {
        bool declared = false;
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(ctr, "ports"), i, p)
        {
            declared = declared || json_integer_value(json_object_get(p, "containerPort")) == port;
        }
        if (!declared || host_is_loopback(host)) {
            wproblem(problems,
                     "the webhook's --listen %s is not a declared container port on "
                     "the pod network",
                     c.cfg.listen);
        }
    }
    g_strfreev(c.argv);
    fp_app_config_clear(&c.cfg);
}

static void check_webhook_api_side(json_t *wh, GPtrArray *problems)
{
    if (g_strcmp0(jstr(wh, "failurePolicy"), "Ignore") != 0) {
        wproblem(problems, "failurePolicy must be Ignore: flexplace's own failure never blocks "
                           "a pod (the extender still enforces at filter)");
    }
    json_t *t = json_object_get(wh, "timeoutSeconds");
    if (!json_is_integer(t) || json_integer_value(t) < 1 || json_integer_value(t) > 5) {
        wproblem(problems, "timeoutSeconds must be set, 1..5: pod creation waits on it");
    }
    const char *se = jstr(wh, "sideEffects");
    if (g_strcmp0(se, "None") != 0) {
        wproblem(problems, "sideEffects must be None (the webhook only answers)");
    }
    if (!json_strv_contains(json_object_get(wh, "admissionReviewVersions"), "v1")) {
        wproblem(problems, "admissionReviewVersions must include v1 (what flexplace decodes)");
    }
    json_t *rules = json_object_get(wh, "rules");
    json_t *r0 = json_array_get(rules, 0);
    if (json_array_size(rules) != 1 ||
        !json_strv_contains(json_object_get(r0, "operations"), "CREATE") ||
        json_array_size(json_object_get(r0, "operations")) != 1 ||
        !json_strv_contains(json_object_get(r0, "resources"), "pods") ||
        json_array_size(json_object_get(r0, "resources")) != 1 ||
        !json_strv_contains(json_object_get(r0, "apiGroups"), "")) {
        wproblem(problems, "rules must be exactly CREATE of core pods (what flexplace mutates)");
    }
    const char *rp = jstr(wh, "reinvocationPolicy");
    if (rp && !g_str_equal(rp, "Never")) {
        wproblem(problems, "reinvocationPolicy must be Never");
    }
    bool opt_in = false;
    size_t i;
    json_t *mc;
    json_array_foreach(json_object_get(wh, "matchConditions"), i, mc)
    {
        const char *e = jstr(mc, "expression");
        opt_in = opt_in || (e && strstr(e, "'" SCHEDULER_NAME "'"));
    }
    if (!opt_in && !json_object_get(wh, "objectSelector")) {
        wproblem(problems,
                 "no opt-in: a matchCondition on schedulerName %s or an "
                 "objectSelector",
                 SCHEDULER_NAME);
    }
}

static void check_webhook_service(json_t *objs, json_t *wh, json_t *deploy, GPtrArray *problems)
{
    json_t *svc_ref = jget(wh, "clientConfig", "service", NULL);
    json_t *svc = find_object(objs, "Service", jstr(svc_ref, "namespace"), jstr(svc_ref, "name"));
    if (!svc) {
        wproblem(problems, "clientConfig.service %s/%s is not a rendered Service",
                 jstr(svc_ref, "namespace"), jstr(svc_ref, "name"));
        return;
    }
    json_t *ns_sel = json_object_get(wh, "namespaceSelector");
    g_autofree char *sel = json_dumps(ns_sel, JSON_COMPACT);
    if (!sel || !strstr(sel, "NotIn") || !strstr(sel, obj_ns(svc))) {
        wproblem(problems, "namespaceSelector must leave out %s, the webhook's own namespace",
                 obj_ns(svc));
    }
    json_t *want_port = json_object_get(svc_ref, "port");
    json_t *port = json_array_get(jget(svc, "spec", "ports", NULL), 0);
    long long p = json_is_integer(want_port) ? json_integer_value(want_port) : 443;
    if (json_integer_value(json_object_get(port, "port")) != p) {
        wproblem(problems, "clientConfig.service.port %lld is not the Service's port", p);
    }
    json_t *labels = jget(deploy, "spec", "template", "metadata", "labels", NULL);
    const char *key;
    json_t *v;
    json_object_foreach(jget(svc, "spec", "selector", NULL), key, v)
    {
        if (!json_equal(json_object_get(labels, key), v)) {
            wproblem(problems, "Service %s selects %s=%s, which the webhook pods lack",
                     obj_name(svc), key, json_string_value(v));
        }
    }
    const char *target = jstr(port, "targetPort");
    json_t *ctr = json_array_get(jget(deploy, "spec", "template", "spec", "containers", NULL), 0);
    if (target && !find_named(json_object_get(ctr, "ports"), target)) {
        wproblem(problems, "Service targetPort %s is not a named container port", target);
    }
}

/* TLS from the Certificate's Secret; cert-manager injects its CA. */
static void check_webhook_tls(json_t *objs, json_t *mwc, json_t *wh, json_t *deploy,
                              GPtrArray *problems)
{
    const char *inject =
        jstr(jget(mwc, "metadata", "annotations", NULL), "cert-manager.io/inject-ca-from");
    g_auto(GStrv) parts = inject ? g_strsplit(inject, "/", 2) : NULL;
    json_t *cert =
        parts && parts[0] && parts[1] ? find_object(objs, "Certificate", parts[0], parts[1]) : NULL;
    if (!cert) {
        wproblem(problems, "cert-manager.io/inject-ca-from (%s) names no rendered Certificate",
                 inject ? inject : "unset");
        return;
    }
    json_t *svc_ref = jget(wh, "clientConfig", "service", NULL);
    g_autofree char *dns =
        g_strdup_printf("%s.%s.svc", jstr(svc_ref, "name"), jstr(svc_ref, "namespace"));
    if (!json_strv_contains(jget(cert, "spec", "dnsNames", NULL), dns)) {
        wproblem(problems, "Certificate %s does not name %s, the host the API server calls",
                 obj_name(cert), dns);
    }
    const char *secret = jstr(json_object_get(cert, "spec"), "secretName");
    bool mounted = false;
    size_t i;
    json_t *vol;
    json_array_foreach(jget(deploy, "spec", "template", "spec", "volumes", NULL), i, vol)
    {
        mounted =
            mounted || g_strcmp0(jstr(json_object_get(vol, "secret"), "secretName"), secret) == 0;
    }
    if (!mounted) {
        wproblem(problems, "the webhook pods do not mount Secret %s (the Certificate's)",
                 secret ? secret : "(none)");
    }
}

static void check_webhook_rbac(json_t *objs, json_t *deploy, GPtrArray *problems)
{
    const char *sa = jstr(jget(deploy, "spec", "template", "spec", NULL), "serviceAccountName");
    g_autoptr(GHashTable) have = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    size_t i;
    json_t *o;
    bool bound = false;
    json_array_foreach(objs, i, o)
    {
        if (g_strcmp0(obj_kind(o), "ClusterRoleBinding") != 0 &&
            g_strcmp0(obj_kind(o), "RoleBinding") != 0) {
            continue;
        }
        bool ours = false;
        size_t k;
        json_t *s;
        json_array_foreach(json_object_get(o, "subjects"), k, s)
        {
            ours = ours || (g_strcmp0(jstr(s, "name"), sa) == 0 &&
                            g_strcmp0(jstr(s, "namespace"), obj_ns(deploy)) == 0);
        }
        json_t *role = ours ? find_object(objs, jstr(json_object_get(o, "roleRef"), "kind"),
                                          obj_ns(o), jstr(json_object_get(o, "roleRef"), "name"))
                            : NULL;
        if (!role) {
            continue;
        }
        bound = true;
        size_t a, b, d;
        json_t *r, *res, *verb;
        json_array_foreach(json_object_get(role, "rules"), k, r)
        {
            json_array_foreach(json_object_get(r, "resources"), a, res)
            {
                json_array_foreach(json_object_get(r, "verbs"), b, verb)
                {
                    (void)d;
                    g_hash_table_add(have, g_strdup_printf("%s|%s", json_string_value(res),
                                                           json_string_value(verb)));
                }
            }
        }
    }
    if (!sa || !find_object(objs, "ServiceAccount", obj_ns(deploy), sa) || !bound) {
        wproblem(problems, "the webhook's ServiceAccount %s is not created and bound",
                 sa ? sa : "(unset)");
        return;
    }
    for (guint k = 0; k < G_N_ELEMENTS(webhook_api); k++) {
        g_autofree char *key =
            g_strdup_printf("%s|%s", webhook_api[k].resource, webhook_api[k].verb);
        if (!g_hash_table_remove(have, key)) {
            wproblem(problems, "the webhook's role lacks %s %s", webhook_api[k].resource,
                     webhook_api[k].verb);
        }
    }
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, have);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        wproblem(problems, "the webhook's role grants %s, which the webhook never calls",
                 (char *)key);
    }
}

static GPtrArray *check_webhook(json_t *objs, const DockerFacts *docker)
{
    GPtrArray *problems = g_ptr_array_new_with_free_func(g_free);
    json_t *mwc = find_object(objs, "MutatingWebhookConfiguration", NULL, "flexplace");
    json_t *deploy = find_object(objs, "Deployment", NULL, WEBHOOK_NAME);
    json_t *wh = json_array_get(jget(mwc, "webhooks", NULL), 0);
    if (!mwc || !wh || !deploy) {
        wproblem(problems, "need MutatingWebhookConfiguration flexplace with one webhook and "
                           "Deployment " WEBHOOK_NAME);
        return problems;
    }
    json_t *ctr = json_array_get(jget(deploy, "spec", "template", "spec", "containers", NULL), 0);
    check_webhook_route(ctr, docker, jstr(jget(wh, "clientConfig", "service", NULL), "path"),
                        problems);
    check_webhook_api_side(wh, problems);
    check_webhook_service(objs, wh, deploy, problems);
    check_webhook_tls(objs, mwc, wh, deploy, problems);
    check_webhook_rbac(objs, deploy, problems);
    return problems;
}

static json_t *render_webhook(void **state)
{
    Manifests *m = need_render(state);
    (void)m;
    g_autofree char *dir = g_build_filename(FP_SOURCE_DIR, "manifests", "webhook", NULL);
    g_autofree char *err = NULL;
    json_t *objs = render_dir(dir, &err);
    if (!objs) {
        fail_msg("%s", err ? err : "kubectl missing");
    }
    return objs;
}

static void test_webhook_addon(void **state)
{
    Manifests *m = *state;
    json_t *objs = render_webhook(state);
    GPtrArray *problems = check_webhook(objs, &m->docker);
    json_decref(objs);
    assert_no_problems(problems);
}

/* Each webhook check can fail: break a copy, expect a problem naming it. */
static void wmut_fail_closed(json_t *o)
{
    json_object_set_new(
        json_array_get(jget(find_object(o, "MutatingWebhookConfiguration", NULL, "flexplace"),
                            "webhooks", NULL),
                       0),
        "failurePolicy", json_string("Fail"));
}
static json_t *wmut_webhook(json_t *o)
{
    return json_array_get(
        jget(find_object(o, "MutatingWebhookConfiguration", NULL, "flexplace"), "webhooks", NULL),
        0);
}
static void wmut_long_timeout(json_t *o)
{
    json_object_set_new(wmut_webhook(o), "timeoutSeconds", json_integer(30));
}
static void wmut_path(json_t *o)
{
    json_object_set_new(jget(wmut_webhook(o), "clientConfig", "service", NULL), "path",
                        json_string("/admit"));
}
static void wmut_updates(json_t *o)
{
    json_array_append_new(
        json_object_get(json_array_get(json_object_get(wmut_webhook(o), "rules"), 0), "operations"),
        json_string("UPDATE"));
}
static void wmut_no_opt_in(json_t *o)
{
    json_object_del(wmut_webhook(o), "matchConditions");
}
static void wmut_inject(json_t *o)
{
    json_t *mwc = find_object(o, "MutatingWebhookConfiguration", NULL, "flexplace");
    json_object_set_new(jget(mwc, "metadata", "annotations", NULL),
                        "cert-manager.io/inject-ca-from", json_string("flexplace-system/other"));
}
static void wmut_dns(json_t *o)
{
    json_t *cert = find_object(o, "Certificate", NULL, WEBHOOK_NAME);
    json_object_set_new(json_object_get(cert, "spec"), "dnsNames",
                        json_pack("[s]", "flexplace.example.com"));
}
static void wmut_client_ca(json_t *o)
{
    json_t *d = find_object(o, "Deployment", NULL, WEBHOOK_NAME);
    json_array_append_new(
        json_object_get(json_array_get(jget(d, "spec", "template", "spec", "containers", NULL), 0),
                        "args"),
        json_string("--client-ca=/etc/flexplace/tls/ca.crt"));
}
static void wmut_role(json_t *o)
{
    json_t *role = find_object(o, "ClusterRole", NULL, WEBHOOK_NAME);
    json_array_append_new(json_object_get(role, "rules"),
                          json_pack("{s:[s], s:[s], s:[s]}", "apiGroups", "", "resources",
                                    "pods/binding", "verbs", "create"));
}
static void wmut_own_namespace(json_t *o)
{
    json_object_del(wmut_webhook(o), "namespaceSelector");
}
static void wmut_mutate_off(json_t *o)
{
    json_t *d = find_object(o, "Deployment", NULL, WEBHOOK_NAME);
    json_array_append_new(
        json_object_get(json_array_get(jget(d, "spec", "template", "spec", "containers", NULL), 0),
                        "args"),
        json_string("--mutate-verb="));
}

static void test_webhook_mutations(void **state)
{
    Manifests *m = *state;
    json_t *objs = render_webhook(state);
    static const struct {
        void (*mutate)(json_t *);
        const char *expect;
    } cases[] = {
        {wmut_fail_closed, "failurePolicy"},
        {wmut_long_timeout, "timeoutSeconds"},
        {wmut_path, "POST /admit"},
        {wmut_updates, "CREATE of core pods"},
        {wmut_no_opt_in, "opt-in"},
        {wmut_inject, "inject-ca-from"},
        {wmut_dns, "the host the API server"},
        {wmut_client_ca, "client certificates"},
        {wmut_role, "never calls"},
        {wmut_own_namespace, "own namespace"},
        {wmut_mutate_off, "POST /mutate"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        json_t *copy = json_deep_copy(objs);
        cases[i].mutate(copy);
        GPtrArray *problems = check_webhook(copy, &m->docker);
        bool found = false;
        for (guint k = 0; k < problems->len; k++) {
            found = found || strstr(g_ptr_array_index(problems, k), cases[i].expect);
        }
        if (!found) {
            for (guint k = 0; k < problems->len; k++) {
                print_error("  %s\n", (char *)g_ptr_array_index(problems, k));
            }
            fail_msg("mutation %u: no problem mentions \"%s\"", i, cases[i].expect);
        }
        g_ptr_array_unref(problems);
        json_decref(copy);
    }
    json_decref(objs);
}

/* The small parsers the checks rely on. */
static void test_parsers(void **state)
{
    static const struct {
        const char *in;
        double want;
    } durations[] = {{"5s", 5},     {"500ms", 0.5}, {"1m30s", 90}, {"2h", 7200}, {"0", 0},
                     {"1.5s", 1.5}, {"10us", 1e-5}, {"5", -1},     {"", -1},     {"s", -1},
                     {"5 s", -1},   {"-1s", -1},    {"5d", -1}};
    for (guint i = 0; i < G_N_ELEMENTS(durations); i++) {
        double got = parse_go_duration(durations[i].in);
        if (fabs(got - durations[i].want) > 1e-12) {
            fail_msg("parse_go_duration(\"%s\") = %g, want %g", durations[i].in, got,
                     durations[i].want);
        }
    }
    static const struct {
        const char *in;
        const char *host;
        int port;
    } hostports[] = {{"127.0.0.1:8888", "127.0.0.1", 8888},
                     {":8888", "", 8888},
                     {"[::1]:80", "::1", 80},
                     {"localhost:1", "localhost", 1},
                     {"127.0.0.1", NULL, 0},
                     {"127.0.0.1:99999", NULL, 0},
                     {"[::1]80", NULL, 0},
                     {"h:x", NULL, 0}};
    for (guint i = 0; i < G_N_ELEMENTS(hostports); i++) {
        char *host = NULL;
        int port = 0;
        bool ok = split_hostport(hostports[i].in, &host, &port);
        assert_int_equal(ok, hostports[i].host != NULL);
        if (ok) {
            assert_string_equal(host, hostports[i].host);
            assert_int_equal(port, hostports[i].port);
        }
        g_free(host);
    }
    assert_true(host_is_loopback("127.0.0.1"));
    assert_true(host_is_loopback("::1"));
    assert_false(host_is_loopback("0.0.0.0"));
    assert_false(host_is_loopback(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_dockerfile),
        cmocka_unit_test(test_kustomization_lists_every_file),
        cmocka_unit_test(test_rendered_objects),
        cmocka_unit_test(test_scheduler_config),
        cmocka_unit_test(test_extender_matches_flexplace),
        cmocka_unit_test(test_managed_resources_in_policy),
        cmocka_unit_test(test_probes),
        cmocka_unit_test(test_volumes),
        cmocka_unit_test(test_rbac),
        cmocka_unit_test(test_security_context),
        cmocka_unit_test(test_command_and_images),
        cmocka_unit_test(test_policy_configmap_file),
        cmocka_unit_test(test_binary_accepts_flags),
        cmocka_unit_test(test_example_workload),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_webhook_addon),
        cmocka_unit_test(test_webhook_mutations),
    };
    return FP_RUN_TESTS(tests, group_setup, group_teardown);
}
