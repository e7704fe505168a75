/*
 * cache/kubeconfig.c - kubeconfig files and the in-cluster service account
 * (see kubeconfig.h).  Field names follow client-go's clientcmd v1 types.
 */

#include "cache/kubeconfig.h"

#include <jansson.h>
#include <string.h>

#include "cache/readfile.h"
#include "cache/yamljson.h"

GQuark fp_kubeconfig_error_quark(void)
{
    return g_quark_from_static_string("fp-kubeconfig-error-quark");
}

void fp_kubeconfig_free(FpKubeConfig *cfg)
{
    if (!cfg) {
        return;
    }
    g_free(cfg->server);
    g_free(cfg->ca_file);
    g_clear_pointer(&cfg->ca_data, g_bytes_unref);
    if (cfg->token) {
        /* do not leave credentials in freed memory */
        memset(cfg->token, 0, strlen(cfg->token));
        g_free(cfg->token);
    }
    g_free(cfg->token_file);
    g_free(cfg->cert_file);
    g_clear_pointer(&cfg->cert_data, g_bytes_unref);
    g_free(cfg->key_file);
    g_clear_pointer(&cfg->key_data, g_bytes_unref);
    g_free(cfg->tls_server_name);
    g_free(cfg->ns);
    g_free(cfg->source);
    g_free(cfg);
}

FpKubeConfig *fp_kubeconfig_copy(const FpKubeConfig *cfg)
{
    FpKubeConfig *c = g_new0(FpKubeConfig, 1);
    c->server = g_strdup(cfg->server);
    c->ca_file = g_strdup(cfg->ca_file);
    c->ca_data = cfg->ca_data ? g_bytes_ref(cfg->ca_data) : NULL;
    c->token = g_strdup(cfg->token);
    c->token_file = g_strdup(cfg->token_file);
    c->cert_file = g_strdup(cfg->cert_file);
    c->cert_data = cfg->cert_data ? g_bytes_ref(cfg->cert_data) : NULL;
    c->key_file = g_strdup(cfg->key_file);
    c->key_data = cfg->key_data ? g_bytes_ref(cfg->key_data) : NULL;
    c->insecure = cfg->insecure;
    c->tls_server_name = g_strdup(cfg->tls_server_name);
    c->ns = g_strdup(cfg->ns);
    c->source = g_strdup(cfg->source);
    return c;
}

/* ---- small JSON helpers --------------------------------------------- */

/* Optional string member: TRUE with *out NULL when absent or null. */
static gboolean get_str(const json_t *obj, const char *key, const char *what, const char *name,
                        const char **out, GError **error)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        return TRUE;
    }
    if (!json_is_string(v)) {
        g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_INVALID,
                    "%s: %s: \"%s\" must be a string", name, what, key);
        return FALSE;
    }
    *out = json_string_value(v);
    return TRUE;
}

/* Find the entry named @want in the list @list_key ("contexts") and return
 * its inner object (@inner_key, "context"); NULL with @error otherwise. */
static json_t *named_entry(const json_t *root, const char *list_key, const char *inner_key,
                           const char *kind, const char *want, const char *name, GError **error)
{
    json_t *list = json_object_get(root, list_key);
    if (list && !json_is_null(list) && !json_is_array(list)) {
        g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_INVALID,
                    "%s: \"%s\" must be a list", name, list_key);
        return NULL;
    }
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item)
    {
        json_t *n = json_object_get(item, "name");
        if (json_is_string(n) && strcmp(json_string_value(n), want) == 0) {
            json_t *inner = json_object_get(item, inner_key);
            if (!json_is_object(inner)) {
                g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_INVALID,
                            "%s: %s \"%s\" has no \"%s\" map", name, kind, want, inner_key);
                return NULL;
            }
            return inner;
        }
    }
    g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_NOT_FOUND,
                "%s \"%s\" not found in %s", kind, want, name);
    return NULL;
}

static char *resolve_path(const char *base_dir, const char *path)
{
    if (g_path_is_absolute(path) || !base_dir) {
        return g_strdup(path);
    }
    return g_build_filename(base_dir, path, NULL);
}

/* A referenced file must exist now, so mistakes show at start-up. */
static gboolean check_file(const char *path, const char *what, const char *name, GError **error)
{
    if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
        g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_IO,
                    "%s: %s file %s does not exist or is not a regular file", name, what, path);
        return FALSE;
    }
    return TRUE;
}

/* Decode a *-data field: base64 of a PEM document. */
static GBytes *decode_pem_b64(const char *b64, const char *field, const char *name, GError **error)
{
    g_autoptr(GString) clean = g_string_new(NULL);
    for (const char *p = b64; *p; p++) {
        if (g_ascii_isspace(*p)) {
            continue;
        }
        if (!g_ascii_isalnum(*p) && *p != '+' && *p != '/' && *p != '=') {
            g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_INVALID,
                        "%s: %s is not base64 (unexpected character '%c')", name, field,
                        g_ascii_isprint(*p) ? *p : '?');
            return NULL;
        }
        g_string_append_c(clean, *p);
    }
    if (clean->len == 0 || clean->len % 4 != 0) {
        g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_INVALID,
                    "%s: %s is not base64 (length %zu)", name, field, clean->len);
        return NULL;
    }
    gsize n = 0;
    guchar *raw = g_base64_decode(clean->str, &n);
    if (n == 0 || !g_strstr_len((const char *)raw, (gssize)n, "-----BEGIN ")) {
        g_free(raw);
        g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_INVALID,
                    "%s: %s does not decode to a PEM document", name, field);
        return NULL;
    }
    return g_bytes_new_take(raw, n);
}

/* One of the "X" / "X-data" pairs (certificate-authority, client-*). */
static gboolean file_or_data(const json_t *obj, const char *key, const char *what, const char *name,
                             const char *base_dir, char **file_out, GBytes **data_out,
                             GError **error)
{
    const char *path = NULL;
    const char *data = NULL;
    g_autofree char *data_key = g_strdup_printf("%s-data", key);
    if (!get_str(obj, key, what, name, &path, error) ||
        !get_str(obj, data_key, what, name, &data, error)) {
        return FALSE;
    }
    if (data && *data) {
        g_autofree char *field = g_strdup_printf("%s: %s", what, data_key);
        *data_out = decode_pem_b64(data, field, name, error);
        return *data_out != NULL;
    }
    if (path && *path) {
        g_autofree char *full = resolve_path(base_dir, path);
        g_autofree char *field = g_strdup_printf("%s: %s", what, key);
        if (!check_file(full, field, name, error)) {
            return FALSE;
        }
        *file_out = g_steal_pointer(&full);
    }
    return TRUE;
}

static gboolean parse_cluster(FpKubeConfig *cfg, const json_t *cluster, const char *cname,
                              const char *name, const char *base_dir, GError **error)
{
    g_autofree char *what = g_strdup_printf("cluster \"%s\"", cname);
    const char *server = NULL;
    const char *sni = NULL;
    const char *proxy = NULL;
    if (!get_str(cluster, "server", what, name, &server, error) ||
        !get_str(cluster, "tls-server-name", what, name, &sni, error) ||
        !get_str(cluster, "proxy-url", what, name, &proxy, error)) {
        return FALSE;
    }
    if (!server || !*server) {
        g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_INVALID, "%s: %s has no server",
                    name, what);
        return FALSE;
    }
    if (!g_str_has_prefix(server, "https://") && !g_str_has_prefix(server, "http://")) {
        g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_INVALID,
                    "%s: %s: server \"%s\" must start with https:// or http://", name, what,
                    server);
        return FALSE;
    }
    if (proxy && *proxy) {
        g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_UNSUPPORTED,
                    "%s: %s uses proxy-url, which flexplace does not support; reach the API "
                    "server directly",
                    name, what);
        return FALSE;
    }
    cfg->server = g_strdup(server);
    gsize n = strlen(cfg->server);
    while (n > 0 && cfg->server[n - 1] == '/') {
        cfg->server[--n] = '\0';
    }
    cfg->tls_server_name = (sni && *sni) ? g_strdup(sni) : NULL;
    json_t *insecure = json_object_get(cluster, "insecure-skip-tls-verify");
    if (insecure && !json_is_null(insecure)) {
        if (!json_is_boolean(insecure)) {
            g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_INVALID,
                        "%s: %s: insecure-skip-tls-verify must be true or false", name, what);
            return FALSE;
        }
        cfg->insecure = json_is_true(insecure);
    }
    return file_or_data(cluster, "certificate-authority", what, name, base_dir, &cfg->ca_file,
                        &cfg->ca_data, error);
}

static gboolean parse_user(FpKubeConfig *cfg, const json_t *user, const char *uname,
                           const char *name, const char *base_dir, GError **error)
{
    g_autofree char *what = g_strdup_printf("user \"%s\"", uname);
    json_t *exec = json_object_get(user, "exec");
    json_t *provider = json_object_get(user, "auth-provider");
    if ((exec && !json_is_null(exec)) || (provider && !json_is_null(provider))) {
        const char *plugin = NULL;
        if (exec && json_is_string(json_object_get(exec, "command"))) {
            plugin = json_string_value(json_object_get(exec, "command"));
        } else if (provider && json_is_string(json_object_get(provider, "name"))) {
            plugin = json_string_value(json_object_get(provider, "name"));
        }
        g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_UNSUPPORTED,
                    "%s: %s authenticates with %s%s%s%s, which flexplace does not support; use "
                    "a service-account token instead (kubectl create token <serviceaccount> -n "
                    "<namespace>, set as the user's token or tokenFile) or client "
                    "certificates (client-certificate / client-key)",
                    name, what, exec ? "an exec credential plugin" : "an auth-provider",
                    plugin ? " (\"" : "", plugin ? plugin : "", plugin ? "\")" : "");
        return FALSE;
    }
    const char *username = NULL;
    const char *impersonate = NULL;
    if (!get_str(user, "username", what, name, &username, error) ||
        !get_str(user, "as", what, name, &impersonate, error)) {
        return FALSE;
    }
    if (username && *username) {
        g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_UNSUPPORTED,
                    "%s: %s uses username/password (basic auth), which Kubernetes removed in "
                    "1.19; use a service-account token or client certificates",
                    name, what);
        return FALSE;
    }
    if (impersonate && *impersonate) {
        g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_UNSUPPORTED,
                    "%s: %s uses impersonation (as), which flexplace does not support", name, what);
        return FALSE;
    }
    const char *token = NULL;
    const char *token_file = NULL;
    if (!get_str(user, "token", what, name, &token, error) ||
        !get_str(user, "tokenFile", what, name, &token_file, error)) {
        return FALSE;
    }
    if (token_file && *token_file) {
        g_autofree char *full = resolve_path(base_dir, token_file);
        g_autofree char *field = g_strdup_printf("%s: tokenFile", what);
        if (!check_file(full, field, name, error)) {
            return FALSE;
        }
        cfg->token_file = g_steal_pointer(&full);
    } else if (token && *token) {
        cfg->token = g_strdup(token);
    }
    if (!file_or_data(user, "client-certificate", what, name, base_dir, &cfg->cert_file,
                      &cfg->cert_data, error) ||
        !file_or_data(user, "client-key", what, name, base_dir, &cfg->key_file, &cfg->key_data,
                      error)) {
        return FALSE;
    }
    bool has_cert = cfg->cert_file || cfg->cert_data;
    bool has_key = cfg->key_file || cfg->key_data;
    if (has_cert != has_key) {
        g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_INVALID,
                    "%s: %s has a client %s but no client %s", name, what,
                    has_cert ? "certificate" : "key", has_cert ? "key" : "certificate");
        return FALSE;
    }
    return TRUE;
}

FpKubeConfig *fp_kubeconfig_parse(const char *buf, gsize len, const char *name,
                                  const char *base_dir, const char *context, GError **error)
{
    g_autoptr(FpDocs) docs = fp_docs_parse(buf, len, name, error);
    if (!docs) {
        return NULL;
    }
    if (fp_docs_count(docs) != 1 || !json_is_object(fp_docs_get(docs, 0))) {
        g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_INVALID,
                    "%s: expected one kubeconfig document (a map), found %u documents", name,
                    fp_docs_count(docs));
        return NULL;
    }
    const json_t *root = fp_docs_get(docs, 0);
    const char *ctx_name = context;
    if (!ctx_name || !*ctx_name) {
        if (!get_str(root, "current-context", "kubeconfig", name, &ctx_name, error)) {
            return NULL;
        }
        if (!ctx_name || !*ctx_name) {
            g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_NOT_FOUND,
                        "%s has no current-context; name a context explicitly", name);
            return NULL;
        }
    }
    json_t *ctx = named_entry(root, "contexts", "context", "context", ctx_name, name, error);
    if (!ctx) {
        return NULL;
    }
    g_autofree char *what = g_strdup_printf("context \"%s\"", ctx_name);
    const char *cluster_name = NULL;
    const char *user_name = NULL;
    const char *ns = NULL;
    if (!get_str(ctx, "cluster", what, name, &cluster_name, error) ||
        !get_str(ctx, "user", what, name, &user_name, error) ||
        !get_str(ctx, "namespace", what, name, &ns, error)) {
        return NULL;
    }
    if (!cluster_name || !*cluster_name) {
        g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_INVALID,
                    "%s: %s names no cluster", name, what);
        return NULL;
    }
    g_autoptr(FpKubeConfig) cfg = g_new0(FpKubeConfig, 1);
    cfg->source = g_strdup(name);
    cfg->ns = g_strdup((ns && *ns) ? ns : "default");
    json_t *cluster =
        named_entry(root, "clusters", "cluster", "cluster", cluster_name, name, error);
    if (!cluster || !parse_cluster(cfg, cluster, cluster_name, name, base_dir, error)) {
        return NULL;
    }
    if (user_name && *user_name) {
        json_t *user = named_entry(root, "users", "user", "user", user_name, name, error);
        if (!user || !parse_user(cfg, user, user_name, name, base_dir, error)) {
            return NULL;
        }
    }
    return g_steal_pointer(&cfg);
}

/* The kubeconfig file to read when no path is given; NULL with @error. */
static char *default_path(GError **error)
{
    const char *env = g_getenv("KUBECONFIG");
    if (env && *env) {
        g_auto(GStrv) parts = g_strsplit(env, G_SEARCHPATH_SEPARATOR_S, -1);
        for (guint i = 0; parts[i]; i++) {
            if (*parts[i] && g_file_test(parts[i], G_FILE_TEST_IS_REGULAR)) {
                return g_strdup(parts[i]);
            }
        }
        g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_NOT_FOUND,
                    "none of the files in $KUBECONFIG (%s) exists", env);
        return NULL;
    }
    const char *home = g_get_home_dir();
    char *path = g_build_filename(home, ".kube", "config", NULL);
    if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
        g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_NOT_FOUND,
                    "no kubeconfig: %s does not exist and $KUBECONFIG is not set", path);
        g_free(path);
        return NULL;
    }
    return path;
}

FpKubeConfig *fp_kubeconfig_load(const char *path, const char *context, GError **error)
{
    g_autofree char *chosen = (path && *path) ? g_strdup(path) : default_path(error);
    if (!chosen) {
        return NULL;
    }
    size_t len = 0;
    g_autoptr(GError) io = NULL;
    /* Capped: a path to a device or a huge file must not be read without end. */
    g_autofree char *buf = fp_read_file_capped(chosen, FP_KUBECONFIG_MAX_FILE, &len, &io);
    if (!buf) {
        g_set_error(
            error, FP_KUBECONFIG_ERROR,
            g_error_matches(io, G_FILE_ERROR, G_FILE_ERROR_NOENT)    ? FP_KUBECONFIG_ERROR_NOT_FOUND
            : g_error_matches(io, G_FILE_ERROR, G_FILE_ERROR_FAILED) ? FP_KUBECONFIG_ERROR_INVALID
                                                                     : FP_KUBECONFIG_ERROR_IO,
            "cannot read kubeconfig: %s", io->message);
        return NULL;
    }
    g_autofree char *dir = g_path_get_dirname(chosen);
    return fp_kubeconfig_parse(buf, len, chosen, dir, context, error);
}

/* ---- in-cluster ------------------------------------------------------ */

FpKubeConfig *fp_kubeconfig_in_cluster(GError **error)
{
    return fp_kubeconfig_in_cluster_at(NULL, error);
}

FpKubeConfig *fp_kubeconfig_in_cluster_at(const char *sa_dir, GError **error)
{
    const char *host = g_getenv("KUBERNETES_SERVICE_HOST");
    const char *port = g_getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host || !port || !*port) {
        g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_NOT_IN_CLUSTER,
                    "not running in a cluster: KUBERNETES_SERVICE_HOST and "
                    "KUBERNETES_SERVICE_PORT must both be set (or pass a kubeconfig)");
        return NULL;
    }
    guint64 port_num = 0;
    if (!g_ascii_string_to_unsigned(port, 10, 1, 65535, &port_num, NULL)) {
        g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_INVALID,
                    "KUBERNETES_SERVICE_PORT \"%s\" is not a port number", port);
        return NULL;
    }
    if (strpbrk(host, "/[]@ ")) {
        g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_INVALID,
                    "KUBERNETES_SERVICE_HOST \"%s\" is not a host name or address", host);
        return NULL;
    }
    if (!sa_dir || !*sa_dir) {
        sa_dir = g_getenv("FP_SA_DIR");
    }
    if (!sa_dir || !*sa_dir) {
        sa_dir = FP_SA_DIR_DEFAULT;
    }
    g_autoptr(FpKubeConfig) cfg = g_new0(FpKubeConfig, 1);
    cfg->source = g_strdup("in-cluster");
    bool v6 = strchr(host, ':') != NULL;
    cfg->server =
        g_strdup_printf("https://%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "", (guint)port_num);
    cfg->token_file = g_build_filename(sa_dir, "token", NULL);
    if (!g_file_test(cfg->token_file, G_FILE_TEST_IS_REGULAR)) {
        g_set_error(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_IO,
                    "in-cluster: service-account token %s does not exist (is "
                    "automountServiceAccountToken off?)",
                    cfg->token_file);
        return NULL;
    }
    char *ca = g_build_filename(sa_dir, "ca.crt", NULL);
    if (g_file_test(ca, G_FILE_TEST_IS_REGULAR)) {
        cfg->ca_file = ca;
    } else {
        g_warning("in-cluster: %s missing; verifying the API server with the system CAs", ca);
        g_free(ca);
    }
    const char *ns = g_getenv("POD_NAMESPACE");
    if (ns && *ns) {
        cfg->ns = g_strdup(ns);
    } else {
        g_autofree char *ns_path = g_build_filename(sa_dir, "namespace", NULL);
        g_autofree char *ns_buf = fp_read_file_capped(ns_path, 4096, NULL, NULL);
        if (ns_buf) {
            g_strstrip(ns_buf);
            if (*ns_buf) {
                cfg->ns = g_strdup(ns_buf);
            }
        }
    }
    if (!cfg->ns) {
        cfg->ns = g_strdup("default");
    }
    return g_steal_pointer(&cfg);
}
