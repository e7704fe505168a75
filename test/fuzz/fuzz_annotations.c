/*
 * test/fuzz/fuzz_annotations.c - the flexplace.io/ pod annotations.
 *
 * Input: lines; the first byte of each line picks the annotation key (one of
 * the seven flexplace.io/ keys, or any key written as "key\tvalue"), the rest
 * is the value.  The demand is resolved under a policy with regions, profiles
 * and limits, and the pod is evaluated on every demo node: a malformed
 * annotation fails every node with "invalid annotation <key>" and a detail
 * message, a valid one yields verdicts with scores in range.
 */
#include <math.h>
#include <string.h>

#include "cache/placement.h"
#include "scoring/engine.h"
#include "test/fuzz/fuzz.h"

static const char *const keys[] = {
    FP_ANN_PROFILE,     FP_ANN_ORIGIN,    FP_ANN_SKU,    FP_ANN_MIN_MEMORY,
    FP_ANN_MAX_LATENCY, FP_ANN_MAX_PRICE, FP_ANN_SPREAD,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FpView *view = fp_fuzz_demo_view();
    FpPod *pod = fp_pod_new();
    pod->ns = g_strdup(size % 3 == 0 ? "incident-triage" : "default");
    pod->name = g_strdup("fuzz-pod");
    pod->uid = g_strdup("fuzz-uid");
    pod->owner_uid = g_strdup("fuzz-owner");
    pod->owner_kind = g_strdup("ReplicaSet");
    pod->owner_name = g_strdup("fuzz-rs");
    fp_res_list_set(&pod->requests, size % 5 == 0 ? "nvidia.com/mig-1g.10gb" : "nvidia.com/gpu",
                    1 + (int64_t)(size % 4));
    pod->annotations = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

    const char *p = (const char *)data;
    const char *end = p + size;
    for (guint lines = 0; p < end && lines < 16; lines++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        if (line_end > p) {
            unsigned char pick = (unsigned char)p[0];
            const char *value = p + 1;
            char *key;
            if (pick % 8 < G_N_ELEMENTS(keys)) {
                key = g_strdup(keys[pick % 8]);
            } else {
                const char *tab = memchr(value, '\t', (size_t)(line_end - value));
                if (!tab) {
                    p = nl ? nl + 1 : end;
                    continue;
                }
                key = g_strndup(value, (gsize)(tab - value));
                value = tab + 1;
            }
            g_hash_table_replace(pod->annotations, key,
                                 g_strndup(value, (gsize)(line_end - value)));
        }
        p = nl ? nl + 1 : end;
    }

    const FpPolicy *policy = size % 2 ? fp_fuzz_rich_policy() : fp_fuzz_default_policy();
    FpDemand *demand = fp_demand_new(pod, policy);
    FP_FUZZ_CHECK(demand != NULL && demand->profile != NULL);
    FP_FUZZ_CHECK((demand->invalid_reason == NULL) == (demand->invalid_detail == NULL));
    double weights = 0;
    for (guint i = 0; i < demand->n_origins; i++) {
        FP_FUZZ_CHECK(demand->origins[i].weight > 0);
        weights += demand->origins[i].weight;
    }
    FP_FUZZ_CHECK(demand->n_origins == 0 || fabs(weights - 1) < 1e-6);
    gboolean invalid = demand->invalid_reason != NULL;
    if (invalid) {
        FP_FUZZ_CHECK(g_str_has_prefix(demand->invalid_reason, FP_REASON_BAD_ANNOTATION_PREFIX));
        FP_FUZZ_CHECK(g_utf8_validate(demand->invalid_detail, -1, NULL));
    }
    fp_demand_free(demand);

    guint n = 0;
    const char *const *names = fp_fuzz_demo_names(&n);
    FpCandidates cands = {.names = names, .n = n};
    FpPlacement *pl = fp_placement_evaluate(view, policy, pod, &cands);
    for (guint i = 0; i < pl->n; i++) {
        const FpVerdict *v = &pl->verdicts[i];
        FP_FUZZ_CHECK(!invalid || (!v->pass && v->unresolvable));
        FP_FUZZ_CHECK(v->pass || v->reason != NULL);
        FP_FUZZ_CHECK(v->score >= 0 && v->score <= 10 && !isnan(v->total));
    }
    fp_placement_free(pl);
    fp_pod_unref(pod);
    return 0;
}
