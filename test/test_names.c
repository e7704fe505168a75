/*
 * test/test_names.c - the Kubernetes name rules (scoring/names.h): each kind
 * accepts what the API server accepts and refuses the rest with a message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "scoring/names.h"
#include "support/support.h"

#define OK(fn, s, ...) assert_null(fn(s, strlen(s), ##__VA_ARGS__))
#define BAD(fn, s, ...) assert_non_null(fn(s, strlen(s), ##__VA_ARGS__))

static void test_object_names(void **state)
{
    OK(fp_object_name_problem, "triage-llm-0");
    OK(fp_object_name_problem, "vllm.v2-7f9c");
    OK(fp_object_name_problem, "a");
    BAD(fp_object_name_problem, "");
    BAD(fp_object_name_problem, "Triage");
    BAD(fp_object_name_problem, "-leading");
    BAD(fp_object_name_problem, "trailing.");
    BAD(fp_object_name_problem, "a/b");
    BAD(fp_object_name_problem, "a%2Fb");
    BAD(fp_object_name_problem, "under_score");
    BAD(fp_object_name_problem, "a..b");
    BAD(fp_object_name_problem, "a.-b");
    BAD(fp_object_name_problem, "a-.b");
    char longest[254];
    memset(longest, 'a', 253);
    longest[253] = '\0';
    OK(fp_object_name_problem, longest);
    char too_long[255];
    memset(too_long, 'a', 254);
    too_long[254] = '\0';
    BAD(fp_object_name_problem, too_long);
}

static void test_namespaces(void **state)
{
    OK(fp_name_problem, "incident-triage", FP_NAME_NAMESPACE);
    BAD(fp_name_problem, "", FP_NAME_NAMESPACE);
    BAD(fp_name_problem, "dotted.ns", FP_NAME_NAMESPACE);
    BAD(fp_name_problem, "Upper", FP_NAME_NAMESPACE);
    BAD(fp_name_problem, "-x", FP_NAME_NAMESPACE);
    char too_long[65];
    memset(too_long, 'a', 64);
    too_long[64] = '\0';
    BAD(fp_name_problem, too_long, FP_NAME_NAMESPACE);
}

static void test_regions_and_values(void **state)
{
    OK(fp_name_problem, "us-east-1", FP_NAME_REGION);
    BAD(fp_name_problem, "EastUS", FP_NAME_REGION);
    OK(fp_name_problem, "aks_T4.pool", FP_NAME_LABEL_VALUE);
    BAD(fp_name_problem, "_x", FP_NAME_LABEL_VALUE);
    OK(fp_qualified_name_problem, "nvidia.com/gpu.product");
    BAD(fp_qualified_name_problem, "Nvidia.com/gpu");
    BAD(fp_qualified_name_problem, "/gpu");
    BAD(fp_qualified_name_problem, "-bad/key");
    BAD(fp_qualified_name_problem, "bad-/key");
    BAD(fp_qualified_name_problem, "a..b/key");
    OK(fp_qualified_name_problem, "karpenter.k8s.aws/instance-gpu-name");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_object_names),
        cmocka_unit_test(test_namespaces),
        cmocka_unit_test(test_regions_and_values),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
