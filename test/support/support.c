#include "support.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

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
