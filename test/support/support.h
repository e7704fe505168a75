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

char *fp_test_read_file(const char *path, size_t *len);
/* Newly allocated path of @rel under the shared data folder, or NULL. */
char *fp_test_shared_data(const char *rel);
/* Newly allocated path of @rel under test/data. */
char *fp_test_data_path(const char *rel);

#endif
