/*
 * test/fuzz/driver.c - main() for a fuzz target built without libFuzzer.
 *
 * Usage: replay_<target> PATH...   Each PATH is a file (one input) or a
 * directory (every regular file directly inside, in name order).  A missing
 * PATH is skipped with a note, so optional corpora (the shared reference
 * data) may be named unconditionally.  Exit status 0 when every input ran;
 * a target that finds a bug aborts, which fails the test.  Prints how many
 * inputs ran, so an empty corpus is noticed.
 */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "test/fuzz/fuzz.h"

/* Inputs larger than this are skipped (libFuzzer's corpora stay far below). */
#define REPLAY_MAX_INPUT ((gsize)64 << 20)

static int run_file(const char *path, guint *count)
{
    gchar *buf = NULL;
    gsize len = 0;
    GError *error = NULL;
    if (!g_file_get_contents(path, &buf, &len, &error)) {
        fprintf(stderr, "%s: %s\n", path, error->message);
        g_error_free(error);
        return 1;
    }
    if (len > REPLAY_MAX_INPUT) {
        fprintf(stderr, "%s: skipped, larger than %zu bytes\n", path, (size_t)REPLAY_MAX_INPUT);
        g_free(buf);
        return 0;
    }
    /* An exact-size copy, so ASan sees reads past the end of the input. */
    uint8_t *exact = g_memdup2(buf, len);
    g_free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    g_free(exact);
    (*count)++;
    return 0;
}

static int cmp_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int run_dir(const char *dir, guint *count)
{
    GError *error = NULL;
    GDir *d = g_dir_open(dir, 0, &error);
    if (!d) {
        fprintf(stderr, "%s: %s\n", dir, error->message);
        g_error_free(error);
        return 1;
    }
    GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    while ((name = g_dir_read_name(d)) != NULL) {
        char *path = g_build_filename(dir, name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
            g_ptr_array_add(paths, path);
        } else {
            g_free(path);
        }
    }
    g_dir_close(d);
    g_ptr_array_sort(paths, cmp_names);
    int rc = 0;
    for (guint i = 0; i < paths->len; i++) {
        rc |= run_file(paths->pdata[i], count);
    }
    g_ptr_array_unref(paths);
    return rc;
}

int main(int argc, char **argv)
{
    guint count = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        if (g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
            rc |= run_dir(argv[i], &count);
        } else if (g_file_test(argv[i], G_FILE_TEST_EXISTS)) {
            rc |= run_file(argv[i], &count);
        } else {
            printf("%s: not present, skipped\n", argv[i]);
        }
    }
    printf("%s: %u inputs ran\n", argc > 0 ? argv[0] : "replay", count);
    if (count == 0) {
        fprintf(stderr, "no inputs: give corpus files or directories\n");
        return 1;
    }
    return rc;
}
