/*
 * test/fuzz/fuzz.h - what the fuzz targets share.
 *
 * Purpose: every test/fuzz/fuzz_<name>.c defines LLVMFuzzerTestOneInput for
 * one parser that reads hostile bytes (HTTP bodies, watch streams, policies,
 * kubeconfigs, annotations, quantities, YAML/JSON files).  Built with
 * -DFP_FUZZ=ON (clang) each becomes a libFuzzer binary; in every other build
 * the same source is linked with test/fuzz/driver.c into a plain program that
 * replays the seed corpus and the regression inputs under ctest.
 *
 * A target must never crash, leak, read out of bounds, hang or allocate
 * without bound on any input, and it checks the invariants its parser
 * promises (an error message is set on failure, output re-parses, counts
 * agree), aborting when one does not hold so the fuzzer reports it.
 *
 * Logging: fp_fuzz_init installs a GLib log writer that drops messages (a
 * fuzzer must not spend its time printing) but aborts on g_critical and
 * g_error: in flexplace those are programming errors, never input errors.
 *
 * Ownership: the demo view and the policies returned here are built once,
 * shared by every run of the process and never freed (they are read-only).
 * Thread context: single-threaded (libFuzzer runs inputs one at a time).
 * Errors: none; a failed set-up aborts.
 */
#ifndef FP_TEST_FUZZ_H
#define FP_TEST_FUZZ_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/view.h"
#include "scoring/placement_policy.h"

G_BEGIN_DECLS

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Idempotent: log writer, jansson hash seed. */
void fp_fuzz_init(void);

/* The bundled demo cluster (12 GPU nodes, six pools, a few pods). */
FpView *fp_fuzz_demo_view(void);
/* Names of the demo view's nodes plus one unknown name; NULL-terminated. */
const char *const *fp_fuzz_demo_names(guint *n);
/* The built-in default policy. */
const FpPolicy *fp_fuzz_default_policy(void);
/* A policy with a region latency matrix, profiles with limits, SKU and pool
 * entries and a namespace mapping, so annotations resolve against it. */
const FpPolicy *fp_fuzz_rich_policy(void);

/* Abort with a message when @cond is false (assertions that stay on in every
 * build type, unlike g_assert under G_DISABLE_ASSERT). */
#define FP_FUZZ_CHECK(cond)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fp_fuzz_fail(__FILE__, __LINE__, #cond);                                               \
        }                                                                                          \
    } while (0)
G_GNUC_NORETURN void fp_fuzz_fail(const char *file, int line, const char *what);

G_END_DECLS

#endif /* FP_TEST_FUZZ_H */
