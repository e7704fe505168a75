#include "support.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>

#include "extender/server/app.h"
#include "policies/policy_load.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

static int skipped_cases;

/* Is @need a key of the allowed-skips file @path ("need  reason" lines,
 * '#' comments)? */
static bool skip_allowed(const char *path, const char *need)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        return false;
    }
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        g_strstrip(lines[i]);
        size_t n = strcspn(lines[i], " \t");
        if (lines[i][0] != '#' && n == strlen(need) && strncmp(lines[i], need, n) == 0) {
            return true;
        }
    }
    return false;
}

void fp_test_note_skip(const char *test, const char *need, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    g_vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    const char *allowed = g_getenv("FP_ALLOWED_SKIPS");
    if (allowed && *allowed && !skip_allowed(allowed, need)) {
        fail_msg("required test %s/%s did not run: %s (needs %s, which %s does not allow to "
                 "be missing)",
                 program_invocation_short_name, test, why, need, allowed);
    }
    print_message("[  SKIP    ] %s/%s: %s (needs %s)\n", program_invocation_short_name, test, why,
                  need);
    skipped_cases++;
}

int fp_test_exit_code(int failed)
{
    if (failed) {
        return failed;
    }
    return skipped_cases ? 77 : 0;
}

char *fp_test_read_file(const char *path, size_t *len)
{
    char *buf = NULL;
    gsize n = 0;
    g_autoptr(GError) error = NULL;
    if (!g_file_get_contents(path, &buf, &n, &error)) {
        fail_msg("cannot read %s: %s", path, error->message);
    }
    if (len) {
        *len = n;
    }
    return buf;
}

char *fp_test_shared_data(const char *rel)
{
    const char *root = g_getenv("FP_SHARED_DATA");
    if (!root || !*root || !g_file_test(root, G_FILE_TEST_IS_DIR)) {
        return NULL;
    }
    char *path = g_build_filename(root, rel, NULL);
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_free(path);
        return NULL;
    }
    return path;
}

char *fp_test_data_path(const char *rel)
{
    return g_build_filename(FP_TEST_DATA, rel, NULL);
}

struct FpApp *fp_test_app_start(const char *cluster_file, const char *prefix, const char *policy)
{
    FpAppConfig cfg;
    fp_app_config_init(&cfg);
    g_free(cfg.listen);
    cfg.listen = g_strdup("127.0.0.1:0");
    cfg.cluster_file = g_strdup(cluster_file);
    if (prefix) {
        g_free(cfg.prefix);
        cfg.prefix = g_strdup(prefix);
    }
    cfg.policy_path = g_strdup(policy);
    GError *error = NULL;
    FpApp *app = fp_app_new(&cfg, &error);
    fp_app_config_clear(&cfg);
    if (!app || !fp_app_serve(app, &error)) {
        char msg[512];
        g_strlcpy(msg, error ? error->message : "unknown error", sizeof msg);
        g_clear_error(&error);
        fail_msg("cannot start the server: %s", msg);
    }
    return app;
}

const char *fp_test_binary(void)
{
    const char *env = g_getenv("FP_BINARY");
    return env && *env ? env : FP_BINARY;
}

void fp_test_run_clear(FpTestRun *r)
{
    g_free(r->out);
    g_free(r->err);
    memset(r, 0, sizeof *r);
}

void fp_test_run_flexplace(FpTestRun *r, const char *cwd, const char *command,
                           const char *const *args)
{
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, (gpointer)fp_test_binary());
    g_ptr_array_add(argv, (gpointer)command);
    for (guint i = 0; args[i]; i++) {
        g_ptr_array_add(argv, (gpointer)args[i]);
    }
    g_ptr_array_add(argv, NULL);
    int wait_status = 0;
    GError *error = NULL;
    memset(r, 0, sizeof *r);
    gboolean ok = g_spawn_sync(cwd, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &r->out, &r->err, &wait_status, &error);
    g_ptr_array_unref(argv);
    if (!ok) {
        char msg[512];
        g_strlcpy(msg, error->message, sizeof msg);
        g_error_free(error);
        fail_msg("cannot run %s: %s", fp_test_binary(), msg);
    }
    if (!WIFEXITED(wait_status)) {
        fail_msg("flexplace %s died (wait status %d); stderr:\n%s", command, wait_status, r->err);
    }
    r->status = WEXITSTATUS(wait_status);
}

FpPolicy *fp_test_policy(const char *yaml)
{
    if (!yaml) {
        return fp_policy_new_default();
    }
    g_autoptr(FpPolicyReport) report = fp_policy_report_new();
    FpPolicy *p = fp_policy_load_buffer(yaml, strlen(yaml), "<test>", report);
    if (!p) {
        g_autofree char *errs = fp_policy_report_join_errors(report, "\n");
        fail_msg("policy does not load:\n%s", errs);
    }
    return p;
}
