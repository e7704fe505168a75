/*
 * test/fuzz/fuzz_preempt_args.c - the preempt verb's request body.
 *
 * Input: an ExtenderPreemptionArgs body (NodeNameToVictims or
 * NodeNameToMetaVictims).  A body that decodes is decided against the demo
 * cluster and the reply must be a JSON object naming only nodes of the
 * request.
 */
#include <jansson.h>
#include <string.h>

#include "extender/server/preempt.h"
#include "test/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FpView *view = fp_fuzz_demo_view();
    GError *error = NULL;
    FpPreemptionArgs *args = fp_preemption_args_parse((const char *)data, size, &error);
    if (!args) {
        FP_FUZZ_CHECK(error != NULL && error->message[0] != '\0');
        g_error_free(error);
        return 0;
    }
    FP_FUZZ_CHECK(args->pod != NULL);
    const FpPolicy *policy = size % 2 ? fp_fuzz_rich_policy() : fp_fuzz_default_policy();
    size_t len = 0;
    char *body = fp_preempt(view, policy, args, &len);
    json_t *out = json_loadb(body, len, 0, NULL);
    FP_FUZZ_CHECK(json_is_object(out));
    json_t *map = json_object_get(out, "NodeNameToMetaVictims");
    const char *node;
    json_t *victims;
    json_object_foreach(map, node, victims)
    {
        gboolean sent = FALSE;
        for (guint i = 0; i < args->n_nodes && !sent; i++) {
            sent = strcmp(args->nodes[i].node, node) == 0;
        }
        FP_FUZZ_CHECK(sent);
    }
    json_decref(out);
    g_free(body);
    fp_preemption_args_free(args);
    return 0;
}
