/*
 * test/fuzz/fuzz_policy.c - PlacementPolicy documents (and ConfigMap
 * manifests carrying them), YAML or JSON.
 *
 * Input: a policy file as an operator would mount it.  A policy that loads
 * is then used for real: a one-GPU pod from each interesting namespace is
 * evaluated on every demo node, so a policy that validates can never make
 * scoring misbehave (NaN scores, out-of-range terms).  A policy that does not
 * load must come with at least one error, and never more than the cap plus
 * the "... and N more" line.
 */
#include <math.h>
#include <string.h>

#include "cache/placement.h"
#include "policies/policy_load.h"
#include "test/fuzz/fuzz.h"

static FpPod *gpu_pod(const char *ns)
{
    FpPod *pod = fp_pod_new();
    pod->ns = g_strdup(ns);
    pod->name = g_strdup("fuzz-pod");
    pod->uid = g_strdup("fuzz-uid");
    fp_res_list_set(&pod->requests, "nvidia.com/gpu", 1);
    return pod;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FpView *view = fp_fuzz_demo_view();
    FpPolicyReport *report = fp_policy_report_new();
    FpPolicy *policy = fp_policy_load_buffer((const char *)data, size, "fuzz.yaml", report);
    if (!policy) {
        FP_FUZZ_CHECK(report->errors->len > 0);
        FP_FUZZ_CHECK(report->errors->len <= FP_POLICY_MAX_ERRORS + 1);
        char *joined = fp_policy_report_join_errors(report, "\n");
        FP_FUZZ_CHECK(joined[0] != '\0');
        g_free(joined);
        fp_policy_report_free(report);
        return 0;
    }
    FP_FUZZ_CHECK(report->errors->len == 0);
    guint n = 0;
    const char *const *names = fp_fuzz_demo_names(&n);
    const char *namespaces[] = {"default", "incident-triage", "offline", "kube-system"};
    for (guint k = 0; k < G_N_ELEMENTS(namespaces); k++) {
        FpPod *pod = gpu_pod(namespaces[k]);
        FpCandidates cands = {.names = names, .n = n};
        FpPlacement *p = fp_placement_evaluate(view, policy, pod, &cands);
        for (guint i = 0; i < p->n; i++) {
            const FpVerdict *v = &p->verdicts[i];
            FP_FUZZ_CHECK(v->score >= 0 && v->score <= 10);
            FP_FUZZ_CHECK(!isnan(v->total) && v->total >= 0 && v->total <= 1);
            for (int t = 0; t < FP_N_TERMS; t++) {
                FP_FUZZ_CHECK(!v->term_active[t] || (v->term[t] >= 0 && v->term[t] <= 1));
            }
        }
        fp_placement_free(p);
        fp_pod_unref(pod);
    }
    fp_policy_unref(policy);
    fp_policy_report_free(report);
    return 0;
}
