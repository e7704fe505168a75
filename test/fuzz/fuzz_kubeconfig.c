/*
 * test/fuzz/fuzz_kubeconfig.c - kubeconfig documents.
 *
 * Input: a kubeconfig file (YAML or JSON).  Relative paths in it resolve
 * inside an empty temporary directory, so the only files a run can read are
 * absolute paths the input names.  A config that loads has a server URL and
 * copies deeply; one that does not has a message.
 */
#include <glib/gstdio.h>
#include <string.h>

#include "cache/kubeconfig.h"
#include "test/fuzz/fuzz.h"

static char *base_dir;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fp_fuzz_init();
    if (!base_dir) {
        base_dir = g_dir_make_tmp("fp-fuzz-kubeconfig-XXXXXX", NULL);
        FP_FUZZ_CHECK(base_dir != NULL);
    }
    GError *error = NULL;
    FpKubeConfig *cfg =
        fp_kubeconfig_parse((const char *)data, size, "fuzz-kubeconfig", base_dir, NULL, &error);
    if (!cfg) {
        FP_FUZZ_CHECK(error != NULL && error->message[0] != '\0');
        g_clear_error(&error);
        /* The named-context path reports a missing context the same way. */
        cfg = fp_kubeconfig_parse((const char *)data, size, "fuzz-kubeconfig", base_dir, "ctx",
                                  &error);
        if (!cfg) {
            FP_FUZZ_CHECK(error != NULL);
            g_clear_error(&error);
            return 0;
        }
    }
    FP_FUZZ_CHECK(cfg->server != NULL && cfg->server[0] != '\0');
    FP_FUZZ_CHECK(cfg->source != NULL);
    FpKubeConfig *copy = fp_kubeconfig_copy(cfg);
    FP_FUZZ_CHECK(strcmp(copy->server, cfg->server) == 0);
    fp_kubeconfig_free(copy);
    fp_kubeconfig_free(cfg);
    return 0;
}
