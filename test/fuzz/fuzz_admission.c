/*
 * test/fuzz/fuzz_admission.c - the mutating webhook's request body.
 *
 * Input: an AdmissionReview body.  A body that does not decode has an error
 * message; one that decodes has a non-empty uid, and a Pod CREATE goes the
 * whole way the webhook takes it: the pod decoded, its demand under a
 * policy, its constraints over the demo cluster, the JSON Patch of its
 * affinity.  A patch is an array of add/replace operations with absolute
 * paths, or there is a warning; the reply always parses and echoes the uid.
 */
#include <jansson.h>
#include <string.h>

#include "cache/affinity_patch.h"
#include "cache/constraints_view.h"
#include "extender/wire/admission.h"
#include "test/fuzz/fuzz.h"

static json_t *patch_pod(const FpAdmissionRequest *req, const FpPolicy *policy, char **warning)
{
    GError *error = NULL;
    FpPod *pod = fp_admission_pod(req, &error);
    if (!pod) {
        FP_FUZZ_CHECK(error != NULL && error->message[0] != '\0');
        g_error_free(error);
        return NULL;
    }
    FpDemand *d = fp_demand_new(pod, policy);
    FpConstraints *c = fp_view_constraints(fp_fuzz_demo_view(), policy, d, NULL, 0, true);
    json_t *patch = NULL;
    if (c->applies && c->expressible) {
        FpAffinityMerge m = {.required = c->required,
                             .n_required = c->n_required,
                             .preferred = c->preferred,
                             .n_preferred = c->n_preferred,
                             .annotation_key = "flexplace.io/constraints",
                             .annotation_value = c->summary};
        patch = fp_affinity_patch(req->object, &m, warning);
        FP_FUZZ_CHECK(patch != NULL || (*warning && **warning));
    }
    fp_constraints_free(c);
    fp_demand_free(d);
    fp_pod_unref(pod);
    return patch;
}

static void check_patch(const json_t *patch)
{
    size_t i;
    json_t *op;
    json_array_foreach(patch, i, op)
    {
        const char *name = json_string_value(json_object_get(op, "op"));
        const char *path = json_string_value(json_object_get(op, "path"));
        FP_FUZZ_CHECK(name && (!strcmp(name, "add") || !strcmp(name, "replace")));
        FP_FUZZ_CHECK(path && path[0] == '/');
        FP_FUZZ_CHECK(json_object_get(op, "value") != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fp_fuzz_init();
    GError *error = NULL;
    FpAdmissionRequest *req = fp_admission_request_parse((const char *)data, size, &error);
    if (!req) {
        FP_FUZZ_CHECK(error != NULL && error->message[0] != '\0');
        g_error_free(error);
        return 0;
    }
    FP_FUZZ_CHECK(req->uid && *req->uid && strlen(req->uid) <= FP_ADMISSION_MAX_UID);
    json_t *patch = NULL;
    char *warning = NULL;
    if (fp_admission_is_pod_create(req)) {
        const FpPolicy *policy = size % 2 ? fp_fuzz_rich_policy() : fp_fuzz_default_policy();
        patch = patch_pod(req, policy, &warning);
        check_patch(patch);
    }
    char *warnings[] = {warning, NULL};
    size_t len = 0;
    char *body =
        fp_admission_encode_response(req->api_version, req->uid, true, patch, warnings, NULL, &len);
    json_t *out = json_loadb(body, len, 0, NULL);
    FP_FUZZ_CHECK(json_is_object(out));
    json_t *resp = json_object_get(out, "response");
    FP_FUZZ_CHECK(g_strcmp0(json_string_value(json_object_get(resp, "uid")), req->uid) == 0);
    json_decref(out);
    g_free(body);
    g_free(warning);
    json_decref(patch);
    fp_admission_request_free(req);
    return 0;
}
