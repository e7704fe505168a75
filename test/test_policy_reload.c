/*
 * test/test_policy_reload.c - the policy store and its file watch on a
 * directory laid out like kubelet's ConfigMap volume:
 *
 *   dir/..2026_01/policy.yaml
 *   dir/..data -> ..2026_01
 *   dir/policy.yaml -> ..data/policy.yaml
 *
 * An update swaps ..data atomically (symlink ..data_tmp, rename over
 * ..data): exactly one reload and generation + 1; garbage is counted as a
 * reload error and the old policy stays (with the error text visible); a
 * good policy afterwards recovers.  Also: a single watched file, the
 * built-in default store, and requests holding an old policy across a swap.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policies/policy_store.h"
#include "policies/policy_watch.h"
#include "support/support.h"

#define DEBOUNCE_MS 100
#define WAIT_MS 5000

typedef struct {
    guint calls;
    guint ok;
    guint failed;
} Seen;

static void on_reload(FpPolicyStore *store, gboolean ok, gpointer data)
{
    Seen *seen = data;
    seen->calls++;
    if (ok) {
        seen->ok++;
    } else {
        seen->failed++;
    }
}

static gboolean timed_out(gpointer data)
{
    *(gboolean *)data = TRUE;
    return G_SOURCE_REMOVE;
}

/* Iterate the default main context until @seen->calls reaches @calls or
 * @ms pass.  Returns whether the count was reached. */
static gboolean run_until(Seen *seen, guint calls, guint ms)
{
    gboolean expired = FALSE;
    guint id = g_timeout_add(ms, timed_out, &expired);
    while (seen->calls < calls && !expired) {
        g_main_context_iteration(NULL, TRUE);
    }
    if (!expired) {
        g_source_remove(id);
    }
    return seen->calls >= calls;
}

/* Let the loop run for @ms whatever happens. */
static void run_for(guint ms)
{
    gboolean expired = FALSE;
    g_timeout_add(ms, timed_out, &expired);
    while (!expired) {
        g_main_context_iteration(NULL, TRUE);
    }
}

static char *policy_text(const char *profile)
{
    return g_strdup_printf("apiVersion: flexplace.io/v1alpha1\n"
                           "kind: PlacementPolicy\n"
                           "profiles:\n"
                           "  %s: {weights: {latency: 1}}\n"
                           "namespaces: {ns: %s}\n",
                           profile, profile);
}

/* kubelet's atomic_writer: new timestamped dir, ..data_tmp, rename, drop
 * the old dir. */
static void kubelet_update(const char *dir, const char *stamp, const char *text, char **old_stamp)
{
    g_autofree char *ts = g_build_filename(dir, stamp, NULL);
    assert_int_equal(mkdir(ts, 0755), 0);
    g_autofree char *file = g_build_filename(ts, "policy.yaml", NULL);
    assert_true(g_file_set_contents(file, text, -1, NULL));
    g_autofree char *tmp = g_build_filename(dir, "..data_tmp", NULL);
    assert_int_equal(symlink(stamp, tmp), 0);
    g_autofree char *data = g_build_filename(dir, "..data", NULL);
    assert_int_equal(rename(tmp, data), 0);
    if (old_stamp && *old_stamp) {
        g_autofree char *old = g_build_filename(dir, *old_stamp, NULL);
        g_autofree char *old_file = g_build_filename(old, "policy.yaml", NULL);
        assert_int_equal(unlink(old_file), 0);
        assert_int_equal(rmdir(old), 0);
        g_free(*old_stamp);
    }
    if (old_stamp) {
        *old_stamp = g_strdup(stamp);
    }
}

static void remove_tree(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
            remove_tree(path);
        } else {
            unlink(path);
        }
    }
    rmdir(dir);
}

static gboolean has_profile(FpPolicyStore *store, const char *name)
{
    g_autoptr(FpPolicy) p = fp_policy_store_get(store);
    return fp_policy_profile(p, name) != NULL;
}

static void test_kubelet_swaps(void **state)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("fp-reload-XXXXXX", &error);
    assert_non_null(dir);
    g_autofree char *stamp = NULL;
    g_autofree char *v1 = policy_text("one");
    kubelet_update(dir, "..2026_01", v1, &stamp);
    g_autofree char *link = g_build_filename(dir, "policy.yaml", NULL);
    assert_int_equal(symlink("..data/policy.yaml", link), 0);

    g_autoptr(FpPolicyStore) store = fp_policy_store_new(dir, &error);
    assert_non_null(store);
    assert_int_equal(fp_policy_store_generation(store), 1);
    assert_true(has_profile(store, "one"));

    Seen seen = {0};
    g_autoptr(FpPolicyWatch) watch =
        fp_policy_watch_new(store, DEBOUNCE_MS, on_reload, &seen, &error);
    assert_non_null(watch);

    /* A request in flight holds generation 1 across the swap. */
    g_autoptr(FpPolicy) in_flight = fp_policy_store_get(store);

    /* 1. a new valid policy: exactly one reload, generation 2 */
    g_autofree char *v2 = policy_text("two");
    kubelet_update(dir, "..2026_02", v2, &stamp);
    assert_true(run_until(&seen, 1, WAIT_MS));
    run_for(3 * DEBOUNCE_MS);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.ok, 1);
    assert_int_equal(fp_policy_watch_reloads(watch), 1);
    assert_int_equal(fp_policy_store_generation(store), 2);
    assert_true(has_profile(store, "two"));
    assert_false(has_profile(store, "one"));
    assert_int_equal(in_flight->generation, 1);
    assert_non_null(fp_policy_profile(in_flight, "one"));

    /* 2. garbage: an error counted, generation 2 kept, the error visible */
    kubelet_update(dir, "..2026_03", "profiles:\n  bad: [\n", &stamp);
    assert_true(run_until(&seen, 2, WAIT_MS));
    run_for(3 * DEBOUNCE_MS);
    assert_int_equal(seen.calls, 2);
    assert_int_equal(seen.failed, 1);
    assert_int_equal(fp_policy_store_generation(store), 2);
    assert_true(has_profile(store, "two"));
    FpPolicyStoreStatus st;
    fp_policy_store_status(store, &st);
    assert_false(st.last_ok);
    assert_int_equal(st.reloads_ok, 1);
    assert_int_equal(st.reload_errors, 1);
    assert_int_equal(st.generation, 2);
    assert_non_null(st.last_error);
    g_autofree char *where = g_strdup_printf("%s/policy.yaml:3:1: ", dir);
    if (!g_str_has_prefix(st.last_error, where)) {
        fail_msg("last_error \"%s\" does not start with \"%s\"", st.last_error, where);
    }
    assert_true(st.last_attempt_us >= st.last_success_us);
    fp_policy_store_status_clear(&st);

    /* also an invalid but well-formed policy: a validation error this time */
    kubelet_update(dir, "..2026_04", "profiles: {x: {weights: {latency: -1}}}\n", &stamp);
    assert_true(run_until(&seen, 3, WAIT_MS));
    fp_policy_store_status(store, &st);
    assert_int_equal(st.reload_errors, 2);
    assert_non_null(strstr(st.last_error, "profiles.x.weights.latency: -1 is out of range"));
    fp_policy_store_status_clear(&st);

    /* 3. a good policy again: recovered, generation 3 */
    g_autofree char *v3 = policy_text("three");
    kubelet_update(dir, "..2026_05", v3, &stamp);
    assert_true(run_until(&seen, 4, WAIT_MS));
    run_for(3 * DEBOUNCE_MS);
    assert_int_equal(seen.calls, 4);
    assert_int_equal(fp_policy_store_generation(store), 3);
    assert_true(has_profile(store, "three"));
    fp_policy_store_status(store, &st);
    assert_true(st.last_ok);
    assert_null(st.last_error);
    assert_int_equal(st.reloads_ok, 2);
    assert_int_equal(st.reload_errors, 2);
    assert_string_equal(st.path, dir);
    assert_string_equal(st.source, dir);
    fp_policy_store_status_clear(&st);

    /* Files nobody reads (dot files, other extensions) trigger nothing. */
    g_autofree char *junk = g_build_filename(dir, "notes.txt", NULL);
    assert_true(g_file_set_contents(junk, "x", -1, NULL));
    run_for(4 * DEBOUNCE_MS);
    assert_int_equal(seen.calls, 4);

    g_clear_pointer(&watch, fp_policy_watch_free);
    remove_tree(dir);
}

/* A single file edited in place or replaced: watched through its directory. */
static void test_single_file(void **state)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("fp-reload-XXXXXX", &error);
    g_autofree char *path = g_build_filename(dir, "flexplace.yaml", NULL);
    g_autofree char *v1 = policy_text("one");
    assert_true(g_file_set_contents(path, v1, -1, NULL));
    g_autoptr(FpPolicyStore) store = fp_policy_store_new(path, &error);
    assert_non_null(store);
    Seen seen = {0};
    g_autoptr(FpPolicyWatch) watch =
        fp_policy_watch_new(store, DEBOUNCE_MS, on_reload, &seen, &error);
    assert_non_null(watch);

    /* g_file_set_contents writes a temporary file and renames it over */
    g_autofree char *v2 = policy_text("two");
    assert_true(g_file_set_contents(path, v2, -1, NULL));
    assert_true(run_until(&seen, 1, WAIT_MS));
    run_for(3 * DEBOUNCE_MS);
    assert_int_equal(seen.calls, 1);
    assert_true(has_profile(store, "two"));
    assert_int_equal(fp_policy_store_generation(store), 2);

    /* in-place write (open, write, close) */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    g_autofree char *v3 = policy_text("three");
    fputs(v3, f);
    fclose(f);
    assert_true(run_until(&seen, 2, WAIT_MS));
    assert_true(has_profile(store, "three"));

    /* another policy-looking file in the same directory is not ours */
    g_autofree char *other = g_build_filename(dir, "other.yaml", NULL);
    assert_true(g_file_set_contents(other, "x: [", -1, NULL));
    run_for(4 * DEBOUNCE_MS);
    assert_int_equal(seen.calls, 2);

    g_clear_pointer(&watch, fp_policy_watch_free);
    remove_tree(dir);
}

static void test_store_basics(void **state)
{
    g_autoptr(GError) error = NULL;
    /* no path: the built-in default, generation 1; reload and watch refuse */
    g_autoptr(FpPolicyStore) store = fp_policy_store_new(NULL, &error);
    assert_non_null(store);
    assert_int_equal(fp_policy_store_generation(store), 1);
    assert_null(fp_policy_store_path(store));
    g_autoptr(FpPolicy) p = fp_policy_store_get(store);
    assert_int_equal(p->generation, 1);
    assert_non_null(fp_policy_profile(p, "default"));
    assert_false(fp_policy_store_reload(store, &error));
    assert_true(g_error_matches(error, FP_POLICY_STORE_ERROR, FP_POLICY_STORE_ERROR_NO_PATH));
    g_clear_error(&error);
    assert_null(fp_policy_watch_new(store, DEBOUNCE_MS, NULL, NULL, &error));
    assert_non_null(error);
    g_clear_error(&error);
    FpPolicyStoreStatus st;
    fp_policy_store_status(store, &st);
    assert_true(st.last_ok);
    assert_int_equal(st.reloads_ok, 0);
    assert_string_equal(st.source, "built-in default");
    fp_policy_store_status_clear(&st);

    /* an invalid path at startup fails with every error */
    g_autofree char *dir = g_dir_make_tmp("fp-store-XXXXXX", NULL);
    g_autofree char *bad = g_build_filename(dir, "bad.yaml", NULL);
    assert_true(g_file_set_contents(bad, "profiles: {x: {}}\nnope: 1\n", -1, NULL));
    assert_null(fp_policy_store_new(bad, &error));
    assert_true(g_error_matches(error, FP_POLICY_STORE_ERROR, FP_POLICY_STORE_ERROR_INVALID));
    assert_non_null(strstr(error->message, "bad.yaml:1:15: profiles.x: \"weights\" is required"));
    assert_non_null(strstr(error->message, "bad.yaml:2:1: unknown key \"nope\""));
    g_clear_error(&error);

    /* reload by hand: the GError names the first error and the count */
    g_autofree char *good = policy_text("one");
    assert_true(g_file_set_contents(bad, good, -1, NULL));
    g_autoptr(FpPolicyStore) s2 = fp_policy_store_new(bad, &error);
    assert_non_null(s2);
    assert_true(fp_policy_store_reload(s2, &error));
    assert_int_equal(fp_policy_store_generation(s2), 2);
    assert_true(g_file_set_contents(bad, "a: 1\nb: 2\n", -1, NULL));
    assert_false(fp_policy_store_reload(s2, &error));
    assert_true(g_error_matches(error, FP_POLICY_STORE_ERROR, FP_POLICY_STORE_ERROR_INVALID));
    assert_non_null(strstr(error->message, "unknown key \"a\""));
    assert_non_null(strstr(error->message, "(and 1 more errors)"));
    assert_int_equal(fp_policy_store_generation(s2), 2);
    unlink(bad);
    rmdir(dir);
}

/* Readers on other threads while the main thread reloads: every reader
 * sees a complete policy and generations never go backwards. */
typedef struct {
    FpPolicyStore *store;
    gint stop;
    guint64 reads;
} Readers;

static gpointer reader(gpointer data)
{
    Readers *r = data;
    guint64 last = 0;
    while (!g_atomic_int_get(&r->stop)) {
        FpPolicy *p = fp_policy_store_get(r->store);
        g_assert_true(p->generation >= last);
        g_assert_nonnull(fp_policy_profile(p, "default"));
        last = p->generation;
        fp_policy_unref(p);
        r->reads++;
    }
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    g_autofree char *dir = g_dir_make_tmp("fp-store-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "p.yaml", NULL);
    g_autofree char *text = policy_text("one");
    assert_true(g_file_set_contents(path, text, -1, NULL));
    g_autoptr(GError) error = NULL;
    g_autoptr(FpPolicyStore) store = fp_policy_store_new(path, &error);
    assert_non_null(store);
    Readers r = {.store = store};
    GThread *t1 = g_thread_new("reader1", reader, &r);
    for (int i = 0; i < 50; i++) {
        assert_true(fp_policy_store_reload(store, &error));
    }
    g_atomic_int_set(&r.stop, 1);
    g_thread_join(t1);
    assert_int_equal(fp_policy_store_generation(store), 51);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_basics),
        cmocka_unit_test(test_kubelet_swaps),
        cmocka_unit_test(test_single_file),
        cmocka_unit_test(test_concurrent_readers),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
