/*
 * test/fuzz/fuzz_binding_args.c - the bind verb's request body.
 *
 * Input: an ExtenderBindingArgs body.  A body that decodes has a non-empty
 * PodName, Node and PodNamespace, and the ExtenderBindingResult flexplace
 * would answer with (an error quoting the names) encodes to JSON without
 * '%'.  The placement summary annotation is encoded for the node too.
 */
#include <jansson.h>
#include <string.h>

#include "extender/server/bind.h"
#include "extender/wire/protocol.h"
#include "test/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fp_fuzz_init();
    GError *error = NULL;
    FpBindingArgs *args = fp_binding_args_parse((const char *)data, size, &error);
    if (!args) {
        FP_FUZZ_CHECK(error != NULL && error->message[0] != '\0');
        g_error_free(error);
        return 0;
    }
    FP_FUZZ_CHECK(args->pod_name && *args->pod_name);
    FP_FUZZ_CHECK(args->node && *args->node);
    FP_FUZZ_CHECK(args->pod_namespace && *args->pod_namespace);
    FP_FUZZ_CHECK(args->pod_uid != NULL);

    char *text = g_strdup_printf("cannot bind %s/%s to %s: 100%% sure", args->pod_namespace,
                                 args->pod_name, args->node);
    size_t len = 0;
    char *body = fp_encode_binding_result(text, &len);
    json_t *out = json_loadb(body, len, 0, NULL);
    FP_FUZZ_CHECK(json_is_object(out));
    const char *err = json_string_value(json_object_get(out, "Error"));
    FP_FUZZ_CHECK(err != NULL && strchr(err, '%') == NULL);
    json_decref(out);
    g_free(body);
    g_free(text);

    FpVerdict v = {.pass = true, .score = 7, .facts = {.pool = args->pod_uid, .region = ""}};
    char *summary = fp_placement_summary(&v, args->node, 3);
    out = json_loads(summary, 0, NULL);
    FP_FUZZ_CHECK(json_is_object(out));
    json_decref(out);
    g_free(summary);

    fp_binding_args_free(args);
    return 0;
}
