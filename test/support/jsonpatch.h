/*
 * test/support/jsonpatch.h - a small RFC 6902 JSON Patch applier for tests.
 *
 * Purpose: apply the patches flexplace's webhook answers to the pod the
 * request carried, as the API server does, so a test compares pods rather
 * than patch texts.  Supports add, remove, replace and test with RFC 6901
 * pointers ("~1" = '/', "~0" = '~'; "-" appends to an array).  Like the API
 * server (evanphx/json-patch), "add" to an object member replaces it, "add"
 * into an array inserts at the index (0..len), "replace" and "remove" need
 * the target to exist.
 *
 * Ownership: fp_test_json_patch_apply returns a new document (the input is
 * copied); NULL with *error (g_free) on the first operation that fails.
 */
#ifndef FP_TEST_JSONPATCH_H
#define FP_TEST_JSONPATCH_H

#include <glib.h>
#include <jansson.h>

json_t *fp_test_json_patch_apply(const json_t *doc, const json_t *patch, char **error);

#endif
