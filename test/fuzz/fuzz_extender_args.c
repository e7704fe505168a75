/*
 * test/fuzz/fuzz_extender_args.c - the filter/prioritize request body.
 *
 * Input: an HTTP body as kube-scheduler would POST it (ExtenderArgs in either
 * nodeCacheCapable mode).  A body that decodes is evaluated against the demo
 * cluster under the built-in policy, exactly as the verbs do, and both
 * replies are encoded and checked: they parse as JSON, the filter reply
 * names only nodes that were sent, and there is one score in 0..10 per
 * candidate, in order.
 */
#include <jansson.h>
#include <string.h>

#include "cache/placement.h"
#include "extender/wire/protocol.h"
#include "test/fuzz/fuzz.h"

static void check_filter_reply(const FpExtenderArgs *args, const char *body, size_t len)
{
    json_t *out = json_loadb(body, len, 0, NULL);
    FP_FUZZ_CHECK(json_is_object(out));
    guint n = fp_extender_args_count(args);
    json_t *names = json_object_get(out, "NodeNames");
    if (json_is_array(names)) {
        size_t i;
        json_t *v;
        json_array_foreach(names, i, v)
        {
            gboolean sent = FALSE;
            for (guint k = 0; k < n && !sent; k++) {
                sent = strcmp(json_string_value(v), fp_extender_args_name(args, k)) == 0;
            }
            FP_FUZZ_CHECK(sent);
        }
    } else {
        FP_FUZZ_CHECK(args->nodes != NULL);
        json_t *items = json_object_get(json_object_get(out, "Nodes"), "items");
        FP_FUZZ_CHECK(json_array_size(items) <= n);
    }
    FP_FUZZ_CHECK(json_is_string(json_object_get(out, "Error")));
    FP_FUZZ_CHECK(strchr(json_string_value(json_object_get(out, "Error")), '%') == NULL);
    json_decref(out);
}

static void check_priorities(const FpExtenderArgs *args, const char *body, size_t len)
{
    json_t *out = json_loadb(body, len, 0, NULL);
    FP_FUZZ_CHECK(json_is_array(out));
    /* Nodes scoring 0 are left out (protocol.c): the list names a
     * subsequence of the candidates, in order, each with 1..10. */
    guint n = fp_extender_args_count(args);
    FP_FUZZ_CHECK(json_array_size(out) <= n);
    guint k = 0;
    size_t i;
    json_t *e;
    json_array_foreach(out, i, e)
    {
        json_int_t score = json_integer_value(json_object_get(e, "Score"));
        FP_FUZZ_CHECK(score >= 1 && score <= 10);
        const char *host = json_string_value(json_object_get(e, "Host"));
        while (k < n && strcmp(host, fp_extender_args_name(args, k)) != 0) {
            k++;
        }
        FP_FUZZ_CHECK(k < n);
        k++;
    }
    json_decref(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FpView *view = fp_fuzz_demo_view();
    GError *error = NULL;
    FpExtenderArgs *args = fp_extender_args_parse((const char *)data, size, &error);
    if (!args) {
        FP_FUZZ_CHECK(error != NULL && error->message[0] != '\0');
        g_error_free(error);
        return 0;
    }
    FP_FUZZ_CHECK(error == NULL);
    FP_FUZZ_CHECK(args->pod != NULL);
    FP_FUZZ_CHECK((args->nodes == NULL) != (args->node_names == NULL));

    FpCandidates cands = {.n = fp_extender_args_count(args)};
    if (args->nodes) {
        cands.nodes = (FpNode *const *)args->nodes->pdata;
    } else {
        cands.names = (const char *const *)args->node_names;
    }
    const FpPolicy *policy = size % 2 ? fp_fuzz_rich_policy() : fp_fuzz_default_policy();
    FpPlacement *p = fp_placement_evaluate(view, policy, args->pod, &cands);
    FP_FUZZ_CHECK(p != NULL && p->n == cands.n);
    int best = fp_placement_best(p);
    FP_FUZZ_CHECK(best < (int)p->n);
    if (best >= 0) {
        FP_FUZZ_CHECK(p->verdicts[best].pass);
    }

    size_t len = 0;
    char *body = fp_encode_filter_result(args, p->verdicts, NULL, &len);
    check_filter_reply(args, body, len);
    g_free(body);
    body = fp_encode_filter_result(args, NULL, "flexplace not ready: 100% broken", &len);
    check_filter_reply(args, body, len);
    g_free(body);
    body = fp_encode_priorities(args, p->verdicts, &len);
    check_priorities(args, body, len);
    g_free(body);

    fp_placement_free(p);
    fp_extender_args_free(args);
    return 0;
}
