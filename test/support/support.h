/*
 * test/support/support.h - helpers shared by the tests.
 *
 * fp_test_read_file: whole file into a g_malloc'ed, NUL-terminated buffer
 * (aborts the test on failure).  fp_test_shared_data: path under
 * ../shared/data, or NULL when that folder is absent (tests then skip with a
 * message).  fp_test_data_path: path under test/data.
 */
#ifndef FP_TEST_SUPPORT_H
#define FP_TEST_SUPPORT_H

#include <glib.h>
#include <stddef.h>

struct FpApp;
struct FpPolicy;

char *fp_test_read_file(const char *path, size_t *len);
/* Newly allocated path of @rel under the shared data folder, or NULL. */
char *fp_test_shared_data(const char *rel);
/* Newly allocated path of @rel under test/data. */
char *fp_test_data_path(const char *rel);

/* Skipping, honestly.  FP_SKIP(need, fmt, ...) skips the running test case
 * because @need (a short key: "shared-data", "kubectl", "promtool", ...) is
 * missing, after printing why; skip() longjmps, so nothing may be allocated
 * at the call.  The executable then exits 77 (FP_RUN_TESTS), which ctest
 * reports as skipped (SKIP_RETURN_CODE), never as passed.
 *
 * With FP_ALLOWED_SKIPS naming a file (.ci/run sets it to .ci/allowed-skips),
 * a skip whose @need is not listed there fails the test instead: a test CI
 * requires cannot pass by not running. */
#define FP_SKIP(need, ...)                                                                         \
    do {                                                                                           \
        fp_test_note_skip(__func__, need, __VA_ARGS__);                                            \
        skip();                                                                                    \
    } while (0)
void fp_test_note_skip(const char *test, const char *need, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
/* The exit code of a test executable: @failed (cmocka's count) when not 0,
 * else 77 when any case skipped, else 0. */
int fp_test_exit_code(int failed);
#define FP_RUN_TESTS(tests, setup, teardown)                                                       \
    fp_test_exit_code(cmocka_run_group_tests(tests, setup, teardown))

/* Poll @cond every 10 ms until it holds, or fail the test after @ms with
 * the printf-style message after it. */
#define FP_WAIT_FOR(cond, ms, ...)                                                                 \
    do {                                                                                           \
        gint64 end_ = g_get_monotonic_time() + (gint64)(ms)*1000;                                  \
        while (!(cond)) {                                                                          \
            if (g_get_monotonic_time() > end_) {                                                   \
                fail_msg("timed out waiting for " #cond ": " __VA_ARGS__);                         \
            }                                                                                      \
            g_usleep(10000);                                                                       \
        }                                                                                          \
    } while (0)

/* The real server on 127.0.0.1 (a free port) serving the snapshot
 * @cluster_file with the default configuration, route @prefix and policy
 * @policy (each NULL: none / the built-in one); fails the test when it
 * cannot start.  Free with fp_app_free; the port is
 * fp_http_server_port(app->http). */
struct FpApp *fp_test_app_start(const char *cluster_file, const char *prefix, const char *policy);

/* The policy of @yaml (a PlacementPolicy document), or the built-in one
 * for NULL; fails the test with the loader's errors when it is refused. */
struct FpPolicy *fp_test_policy(const char *yaml);

/* One run of the flexplace binary (FP_BINARY). */
typedef struct {
    int status; /* exit code */
    char *out;
    char *err;
} FpTestRun;

/* Run `flexplace COMMAND ARGS...` (@args NULL-terminated) in @cwd (NULL:
 * here); fails the test when it cannot start or dies by a signal. */
void fp_test_run_flexplace(FpTestRun *r, const char *cwd, const char *command,
                           const char *const *args);
void fp_test_run_clear(FpTestRun *r);
/* The flexplace binary under test: $FP_BINARY, else the build's. */
const char *fp_test_binary(void);

#endif
