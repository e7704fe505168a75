/*
 * test/test_kubeconfig.c - kubeconfig files, the in-cluster service account
 * and the client's token cache.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <string.h>

#include "cache/kube_client.h"
#include "cache/kubeconfig.h"
#include "support/support.h"

static char *fixture(void)
{
    return fp_test_data_path("kube/kubeconfig.yaml");
}

static char *make_tmpdir(void)
{
    g_autoptr(GError) error = NULL;
    char *dir = g_dir_make_tmp("fp-kubeconfig-XXXXXX", &error);
    assert_non_null(dir);
    return dir;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    assert_true(g_file_set_contents(path, text, -1, NULL));
}

static void rm_tree(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (d) {
        const char *name;
        while ((name = g_dir_read_name(d))) {
            g_autofree char *path = g_build_filename(dir, name, NULL);
            g_remove(path);
        }
        g_dir_close(d);
    }
    g_rmdir(dir);
}

static bool has_suffix(const char *s, const char *suffix)
{
    return s && suffix && g_str_has_suffix(s, suffix);
}

static bool bytes_contain(GBytes *b, const char *needle)
{
    if (!b) {
        return false;
    }
    gsize n = 0;
    const char *data = g_bytes_get_data(b, &n);
    return g_strstr_len(data, (gssize)n, needle) != NULL;
}

/* ---- the fixture file, one row per context ---------------------------- */

typedef struct {
    const char *context; /* NULL = current-context */
    const char *server;
    const char *ns;
    const char *ca_file_suffix; /* NULL = none */
    const char *ca_data_has;    /* substring of decoded CA, NULL = none */
    const char *token;
    const char *token_file_suffix;
    const char *cert_file_suffix;
    const char *key_data_has;
    bool insecure;
    const char *sni;
} ContextRow;

static const ContextRow context_rows[] = {
    {NULL, "https://127.0.0.1:6443", "ml", "kube/certs/ca.crt", NULL, NULL, NULL,
     "kube/certs/client.crt", "BEGIN PRIVATE KEY", false, "kubernetes.default.svc"},
    {"dev", "https://127.0.0.1:6443", "ml", "kube/certs/ca.crt", NULL, NULL, NULL,
     "kube/certs/client.crt", "BEGIN PRIVATE KEY", false, "kubernetes.default.svc"},
    {"prod", "https://[2001:db8::1]:443", "default", NULL, "BEGIN CERTIFICATE", NULL, "kube/token",
     NULL, NULL, false, NULL},
    {"inline", "http://localhost:8080", "default", NULL, NULL, "abc.def.ghi", NULL, NULL, NULL,
     true, NULL},
};

static void test_fixture_contexts(void **state)
{
    g_autofree char *path = fixture();
    for (size_t i = 0; i < G_N_ELEMENTS(context_rows); i++) {
        const ContextRow *row = &context_rows[i];
        g_autoptr(GError) error = NULL;
        g_autoptr(FpKubeConfig) cfg = fp_kubeconfig_load(path, row->context, &error);
        if (!cfg) {
            fail_msg("context %s: %s", row->context ? row->context : "(current)", error->message);
        }
        assert_string_equal(cfg->server, row->server);
        assert_string_equal(cfg->ns, row->ns);
        assert_string_equal(cfg->source, path);
        if (row->ca_file_suffix) {
            assert_true(has_suffix(cfg->ca_file, row->ca_file_suffix));
            assert_true(g_path_is_absolute(cfg->ca_file) ||
                        g_str_has_prefix(cfg->ca_file, FP_TEST_DATA));
        } else {
            assert_null(cfg->ca_file);
        }
        if (row->ca_data_has) {
            assert_true(bytes_contain(cfg->ca_data, row->ca_data_has));
        } else {
            assert_null(cfg->ca_data);
        }
        if (row->token) {
            assert_string_equal(cfg->token, row->token);
        } else {
            assert_null(cfg->token);
        }
        if (row->token_file_suffix) {
            assert_true(has_suffix(cfg->token_file, row->token_file_suffix));
        } else {
            assert_null(cfg->token_file);
        }
        if (row->cert_file_suffix) {
            assert_true(has_suffix(cfg->cert_file, row->cert_file_suffix));
        } else {
            assert_null(cfg->cert_file);
        }
        if (row->key_data_has) {
            assert_true(bytes_contain(cfg->key_data, row->key_data_has));
        } else {
            assert_null(cfg->key_data);
        }
        assert_int_equal(cfg->insecure, row->insecure);
        if (row->sni) {
            assert_string_equal(cfg->tls_server_name, row->sni);
        } else {
            assert_null(cfg->tls_server_name);
        }
        /* a copy is deep and equal */
        g_autoptr(FpKubeConfig) copy = fp_kubeconfig_copy(cfg);
        assert_ptr_not_equal(copy->server, cfg->server);
        assert_string_equal(copy->server, cfg->server);
        assert_int_equal(copy->insecure, cfg->insecure);
    }
}

typedef struct {
    const char *context;
    FpKubeConfigError code;
    const char *message_has[3];
} ErrorRow;

static const ErrorRow fixture_errors[] = {
    {"nope", FP_KUBECONFIG_ERROR_NOT_FOUND, {"context \"nope\" not found in ", "kubeconfig.yaml"}},
    {"no-cluster", FP_KUBECONFIG_ERROR_NOT_FOUND, {"cluster \"nowhere\" not found in "}},
    {"no-user", FP_KUBECONFIG_ERROR_NOT_FOUND, {"user \"nobody\" not found in "}},
    {"gke",
     FP_KUBECONFIG_ERROR_UNSUPPORTED,
     {"exec credential plugin", "gke-gcloud-auth-plugin", "kubectl create token"}},
    {"oidc", FP_KUBECONFIG_ERROR_UNSUPPORTED, {"auth-provider", "\"oidc\"", "client certificates"}},
};

static void test_fixture_errors(void **state)
{
    g_autofree char *path = fixture();
    for (size_t i = 0; i < G_N_ELEMENTS(fixture_errors); i++) {
        const ErrorRow *row = &fixture_errors[i];
        g_autoptr(GError) error = NULL;
        FpKubeConfig *cfg = fp_kubeconfig_load(path, row->context, &error);
        assert_null(cfg);
        assert_non_null(error);
        if (!g_error_matches(error, FP_KUBECONFIG_ERROR, (gint)row->code)) {
            fail_msg("context %s: want code %d, got %s", row->context, row->code, error->message);
        }
        for (int k = 0; k < 3 && row->message_has[k]; k++) {
            if (!strstr(error->message, row->message_has[k])) {
                fail_msg("context %s: message \"%s\" lacks \"%s\"", row->context, error->message,
                         row->message_has[k]);
            }
        }
    }
}

/* ---- documents in memory ------------------------------------------------ */

#define PEM_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmFiYwotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg=="
#define NOT_PEM_B64 "aGVsbG8gd29ybGQ="

#define DOC(cluster, user)                                                                         \
    "current-context: c\n"                                                                         \
    "contexts: [{name: c, context: {cluster: k, user: u}}]\n"                                      \
    "clusters: [{name: k, cluster: {" cluster "}}]\n"                                              \
    "users: [{name: u, user: {" user "}}]\n"

typedef struct {
    const char *name;
    const char *doc;
    int code; /* -1 = success */
    const char *message_has;
} DocRow;

static const DocRow doc_rows[] = {
    {"minimal", DOC("server: 'https://h:1'", ""), -1, NULL},
    {"json is yaml",
     "{\"current-context\":\"c\",\"contexts\":[{\"name\":\"c\",\"context\":{\"cluster\":\"k\"}}],"
     "\"clusters\":[{\"name\":\"k\",\"cluster\":{\"server\":\"https://h:1\"}}]}",
     -1, NULL},
    {"ca data", DOC("server: 'https://h:1', certificate-authority-data: " PEM_B64, ""), -1, NULL},
    {"ca data with whitespace",
     DOC("server: 'https://h:1', certificate-authority-data: \"LS0tLS1CRUdJTiBDRVJUSUZJ "
         "Q0FURS0tLS0tCmFiYwotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==\"",
         ""),
     -1, NULL},
    {"no server", DOC("insecure-skip-tls-verify: true", ""), FP_KUBECONFIG_ERROR_INVALID,
     "has no server"},
    {"bad scheme", DOC("server: 'ftp://h:1'", ""), FP_KUBECONFIG_ERROR_INVALID,
     "must start with https://"},
    {"server not a string", DOC("server: [1]", ""), FP_KUBECONFIG_ERROR_INVALID,
     "\"server\" must be a string"},
    {"bad base64", DOC("server: 'https://h:1', certificate-authority-data: 'ab$cd'", ""),
     FP_KUBECONFIG_ERROR_INVALID, "not base64"},
    {"base64 length", DOC("server: 'https://h:1', certificate-authority-data: 'abcde'", ""),
     FP_KUBECONFIG_ERROR_INVALID, "not base64"},
    {"not pem", DOC("server: 'https://h:1', certificate-authority-data: " NOT_PEM_B64, ""),
     FP_KUBECONFIG_ERROR_INVALID, "does not decode to a PEM"},
    {"insecure not bool", DOC("server: 'https://h:1', insecure-skip-tls-verify: 'yes please'", ""),
     FP_KUBECONFIG_ERROR_INVALID, "insecure-skip-tls-verify must be true or false"},
    {"cert without key", DOC("server: 'https://h:1'", "client-certificate-data: " PEM_B64),
     FP_KUBECONFIG_ERROR_INVALID, "no client key"},
    {"key without cert", DOC("server: 'https://h:1'", "client-key-data: " PEM_B64),
     FP_KUBECONFIG_ERROR_INVALID, "no client certificate"},
    {"basic auth", DOC("server: 'https://h:1'", "username: admin, password: secret"),
     FP_KUBECONFIG_ERROR_UNSUPPORTED, "basic auth"},
    {"impersonation", DOC("server: 'https://h:1'", "as: someone"), FP_KUBECONFIG_ERROR_UNSUPPORTED,
     "impersonation"},
    {"proxy", DOC("server: 'https://h:1', proxy-url: 'http://proxy:3128'", ""),
     FP_KUBECONFIG_ERROR_UNSUPPORTED, "proxy-url"},
    {"missing token file", DOC("server: 'https://h:1'", "tokenFile: /nonexistent/fp/token"),
     FP_KUBECONFIG_ERROR_IO, "/nonexistent/fp/token"},
    {"missing ca file", DOC("server: 'https://h:1', certificate-authority: /nonexistent/ca", ""),
     FP_KUBECONFIG_ERROR_IO, "/nonexistent/ca"},
    {"no current context", "clusters: []\n", FP_KUBECONFIG_ERROR_NOT_FOUND, "no current-context"},
    {"contexts not a list", "current-context: c\ncontexts: {c: 1}\n", FP_KUBECONFIG_ERROR_INVALID,
     "\"contexts\" must be a list"},
    {"context without map", "current-context: c\ncontexts: [{name: c}]\n",
     FP_KUBECONFIG_ERROR_INVALID, "has no \"context\" map"},
    {"two documents", "a: 1\n---\nb: 2\n", FP_KUBECONFIG_ERROR_INVALID, "one kubeconfig document"},
    {"a list", "- 1\n- 2\n", FP_KUBECONFIG_ERROR_INVALID, "one kubeconfig document"},
};

static void test_documents(void **state)
{
    for (size_t i = 0; i < G_N_ELEMENTS(doc_rows); i++) {
        const DocRow *row = &doc_rows[i];
        g_autoptr(GError) error = NULL;
        g_autoptr(FpKubeConfig) cfg =
            fp_kubeconfig_parse(row->doc, strlen(row->doc), "mem.yaml", NULL, NULL, &error);
        if (row->code < 0) {
            if (!cfg) {
                fail_msg("%s: %s", row->name, error->message);
            }
            assert_string_equal(cfg->server, "https://h:1");
            continue;
        }
        if (cfg) {
            fail_msg("%s: loaded, want an error", row->name);
        }
        if (!g_error_matches(error, FP_KUBECONFIG_ERROR, row->code)) {
            fail_msg("%s: want code %d, got %s %d: %s", row->name, row->code,
                     g_quark_to_string(error->domain), error->code, error->message);
        }
        if (!strstr(error->message, row->message_has) || !strstr(error->message, "mem.yaml")) {
            fail_msg("%s: message \"%s\" lacks \"%s\" or the file name", row->name, error->message,
                     row->message_has);
        }
    }
}

static void test_malformed_yaml(void **state)
{
    const char *bad = "current-context: [unclosed\n";
    g_autoptr(GError) error = NULL;
    FpKubeConfig *cfg = fp_kubeconfig_parse(bad, strlen(bad), "bad.yaml", NULL, NULL, &error);
    assert_null(cfg);
    assert_non_null(error);
    assert_non_null(strstr(error->message, "bad.yaml"));
}

/* ---- file selection ------------------------------------------------------ */

static void test_kubeconfig_env(void **state)
{
    g_autofree char *path = fixture();
    g_autofree char *list = g_strdup_printf("/nonexistent/a:%s:/nonexistent/b", path);
    g_setenv("KUBECONFIG", list, TRUE);
    g_autoptr(GError) error = NULL;
    g_autoptr(FpKubeConfig) cfg = fp_kubeconfig_load(NULL, "prod", &error);
    assert_non_null(cfg);
    assert_string_equal(cfg->source, path);

    g_setenv("KUBECONFIG", "/nonexistent/a:/nonexistent/b", TRUE);
    FpKubeConfig *none = fp_kubeconfig_load(NULL, NULL, &error);
    assert_null(none);
    assert_true(g_error_matches(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_NOT_FOUND));
    assert_non_null(strstr(error->message, "/nonexistent/a:/nonexistent/b"));
    g_clear_error(&error);

    FpKubeConfig *missing = fp_kubeconfig_load("/nonexistent/kubeconfig", NULL, &error);
    assert_null(missing);
    assert_true(g_error_matches(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_NOT_FOUND));
    g_unsetenv("KUBECONFIG");
}

/* ---- in-cluster ------------------------------------------------------------ */

static void test_in_cluster(void **state)
{
    g_autofree char *dir = make_tmpdir();
    write_file(dir, "token", "sa-token-1\n");
    write_file(dir, "ca.crt", "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n");
    write_file(dir, "namespace", "flexplace-system\n");
    g_autoptr(GError) error = NULL;

    g_unsetenv("KUBERNETES_SERVICE_HOST");
    g_unsetenv("KUBERNETES_SERVICE_PORT");
    g_unsetenv("POD_NAMESPACE");
    assert_null(fp_kubeconfig_in_cluster_at(dir, &error));
    assert_true(g_error_matches(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_NOT_IN_CLUSTER));
    g_clear_error(&error);

    g_setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", TRUE);
    g_setenv("KUBERNETES_SERVICE_PORT", "443", TRUE);
    FpKubeConfig *cfg = fp_kubeconfig_in_cluster_at(dir, &error);
    assert_non_null(cfg);
    assert_string_equal(cfg->server, "https://10.96.0.1:443");
    assert_true(has_suffix(cfg->token_file, "/token"));
    assert_true(has_suffix(cfg->ca_file, "/ca.crt"));
    assert_string_equal(cfg->ns, "flexplace-system");
    assert_string_equal(cfg->source, "in-cluster");
    fp_kubeconfig_free(cfg);

    /* IPv6 literal is bracketed; POD_NAMESPACE wins; FP_SA_DIR is used */
    g_setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", TRUE);
    g_setenv("POD_NAMESPACE", "from-downward-api", TRUE);
    g_setenv("FP_SA_DIR", dir, TRUE);
    cfg = fp_kubeconfig_in_cluster(&error);
    assert_non_null(cfg);
    assert_string_equal(cfg->server, "https://[fd00:10:96::1]:443");
    assert_string_equal(cfg->ns, "from-downward-api");
    assert_true(g_str_has_prefix(cfg->token_file, dir));
    fp_kubeconfig_free(cfg);
    g_unsetenv("POD_NAMESPACE");
    g_unsetenv("FP_SA_DIR");

    /* bad port */
    g_setenv("KUBERNETES_SERVICE_PORT", "https", TRUE);
    assert_null(fp_kubeconfig_in_cluster_at(dir, &error));
    assert_true(g_error_matches(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_INVALID));
    g_clear_error(&error);
    g_setenv("KUBERNETES_SERVICE_PORT", "70000", TRUE);
    assert_null(fp_kubeconfig_in_cluster_at(dir, &error));
    g_clear_error(&error);
    g_setenv("KUBERNETES_SERVICE_PORT", "6443", TRUE);

    /* no CA: system CAs (ca_file NULL); no namespace file: "default" */
    g_autofree char *ca = g_build_filename(dir, "ca.crt", NULL);
    g_autofree char *ns = g_build_filename(dir, "namespace", NULL);
    g_remove(ca);
    g_remove(ns);
    cfg = fp_kubeconfig_in_cluster_at(dir, &error);
    assert_non_null(cfg);
    assert_null(cfg->ca_file);
    assert_string_equal(cfg->ns, "default");
    fp_kubeconfig_free(cfg);

    /* no token: an error that says so */
    g_autofree char *tok = g_build_filename(dir, "token", NULL);
    g_remove(tok);
    assert_null(fp_kubeconfig_in_cluster_at(dir, &error));
    assert_true(g_error_matches(error, FP_KUBECONFIG_ERROR, FP_KUBECONFIG_ERROR_IO));
    assert_non_null(strstr(error->message, "token"));
    g_clear_error(&error);

    g_unsetenv("KUBERNETES_SERVICE_HOST");
    g_unsetenv("KUBERNETES_SERVICE_PORT");
    rm_tree(dir);
}

/* ---- the client's token cache -------------------------------------------- */

static void test_token_cache(void **state)
{
    g_autofree char *dir = make_tmpdir();
    write_file(dir, "token", "  token-A\n");
    FpKubeConfig cfg = {0};
    cfg.server = (char *)"https://127.0.0.1:1";
    cfg.token_file = g_build_filename(dir, "token", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(FpKubeClient) client = fp_kube_client_new(&cfg, &error);
    assert_non_null(client);

    g_autofree char *t1 = fp_kube_client_token(client, false, &error);
    assert_string_equal(t1, "token-A");
    write_file(dir, "token", "token-B\n");
    /* within FP_KUBE_TOKEN_REFRESH_S the cached token is used */
    g_autofree char *t2 = fp_kube_client_token(client, false, &error);
    assert_string_equal(t2, "token-A");
    /* forced (after a 401): re-read */
    g_autofree char *t3 = fp_kube_client_token(client, true, &error);
    assert_string_equal(t3, "token-B");
    /* a bad file mid-rotation keeps the last good token */
    write_file(dir, "token", "");
    g_autofree char *t4 = fp_kube_client_token(client, true, &error);
    assert_string_equal(t4, "token-B");

    /* a client cannot start without a readable token */
    FpKubeClient *bad = fp_kube_client_new(&cfg, &error);
    assert_null(bad);
    assert_true(g_error_matches(error, FP_KUBE_ERROR, FP_KUBE_ERROR_CONFIG));
    g_clear_error(&error);

    /* inline tokens need no file */
    FpKubeConfig inline_cfg = {0};
    inline_cfg.server = (char *)"http://127.0.0.1:1/prefix/";
    inline_cfg.token = (char *)"inline-token";
    g_autoptr(FpKubeClient) c2 = fp_kube_client_new(&inline_cfg, &error);
    assert_non_null(c2);
    g_autofree char *t5 = fp_kube_client_token(c2, true, &error);
    assert_string_equal(t5, "inline-token");

    /* a server URL curl cannot parse */
    FpKubeConfig bad_url = {0};
    bad_url.server = (char *)"https://[not-an-address";
    assert_null(fp_kube_client_new(&bad_url, &error));
    assert_true(g_error_matches(error, FP_KUBE_ERROR, FP_KUBE_ERROR_CONFIG));

    g_free(cfg.token_file);
    rm_tree(dir);
}

static void test_retry_after(void **state)
{
    static const struct {
        const char *in;
        double want;
    } rows[] = {
        {"5", 5},         {" 12 ", 12}, {"0", 0},
        {"999999", 3600}, {"-1", -1},   {"", -1},
        {"abc", -1},      {"1.5", -1},  {"Wed, 21 Oct 2015 07:28:00 GMT", -1},
        {NULL, -1},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        double got = fp_kube_parse_retry_after(rows[i].in);
        if (got != rows[i].want) {
            fail_msg("Retry-After \"%s\": got %g want %g", rows[i].in ? rows[i].in : "(null)", got,
                     rows[i].want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_contexts), cmocka_unit_test(test_fixture_errors),
        cmocka_unit_test(test_documents),        cmocka_unit_test(test_malformed_yaml),
        cmocka_unit_test(test_kubeconfig_env),   cmocka_unit_test(test_in_cluster),
        cmocka_unit_test(test_token_cache),      cmocka_unit_test(test_retry_after),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
