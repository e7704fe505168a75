/*
 * test/test_it_nodepool.c - Karpenter NodePools as pool templates
 * (cache/nodepool.h): the real examples in the shared data (karpenter/),
 * templates as offers in the webhook's constraints (a pool at zero nodes),
 * hostile shapes and bounds, and the LIST against the fake API server,
 * which answers 404 until it has NodePools, as a cluster without Karpenter
 * does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "cache/constraints_view.h"
#include "cache/demo_cluster.h"
#include "cache/kobj.h"
#include "cache/kubeconfig.h"
#include "cache/nodepool.h"
#include "cache/yamljson.h"
#include "test/support/fake_api.h"
#include "test/support/support.h"

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, 0, &jerr);
    if (!v) {
        fail_msg("test JSON: %s", jerr.text);
    }
    return v;
}

/* The NodePool documents of a shared example file (NodeOverlays and other
 * kinds are refused by the parser, which the test checks too). */
static FpPoolTemplate *example(const char *file, const FpPolicy *policy, guint *refused)
{
    g_autofree char *rel = g_strdup_printf("karpenter/%s", file);
    g_autofree char *path = fp_test_shared_data(rel);
    if (!path) {
        return NULL;
    }
    GError *error = NULL;
    g_autoptr(FpDocs) docs = fp_docs_load_file(path, 1 << 20, &error);
    assert_non_null(docs);
    FpPoolTemplate *found = NULL;
    for (guint i = 0; i < fp_docs_count(docs); i++) {
        FpPoolTemplate *t = fp_nodepool_parse(fp_docs_get(docs, i), policy, &error);
        if (!t) {
            assert_non_null(strstr(error->message, "not a karpenter.sh NodePool"));
            g_clear_error(&error);
            (*refused)++;
            continue;
        }
        assert_null(found);
        found = t;
    }
    return found;
}

static void test_real_examples(void **state)
{
    g_autofree char *dir = fp_test_shared_data("karpenter");
    if (!dir) {
        FP_SKIP("shared-data", "FP_SHARED_DATA has no karpenter examples");
    }
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    guint refused = 0;

    /* A p3 pool: an instance family, a taint, nothing else. */
    g_autoptr(FpPoolTemplate) p3 =
        example("aws-karpenter-docs__nodepool-gpu-taint-p3.yaml", policy, &refused);
    assert_non_null(p3);
    assert_string_equal(p3->name, "gpu");
    assert_string_equal(p3->pool, "gpu");
    assert_int_equal(g_strv_length(p3->products), 0); /* unknown until GFD runs */
    assert_int_equal(g_strv_length(p3->regions), 0);
    assert_string_equal(p3->capacity_types[0], "on-demand"); /* Karpenter's default */
    assert_int_equal(g_strv_length(p3->capacity_types), 1);
    assert_int_equal(p3->limits.len, 0);
    assert_int_equal(p3->n_requirements, 1);
    assert_string_equal(p3->requirements[0].key, "karpenter.k8s.aws/instance-family");
    assert_string_equal(p3->requirements[0].values[0], "p3");

    /* g6f: a NodeOverlay (refused) and a NodePool with a GPU limit. */
    g_autoptr(FpPoolTemplate) g6f = example(
        "aws-karpenter-docs__nodeoverlay-nodepool-g6f-fractional-gpu.yaml", policy, &refused);
    assert_non_null(g6f);
    assert_int_equal(refused, 1);
    assert_string_equal(g6f->name, "fractional-gpu");
    assert_int_equal(fp_res_list_get(&g6f->limits, "nvidia.com/gpu"), 4);
    assert_int_equal(g_strv_length(g6f->capacity_types), 1);
    assert_string_equal(g6f->capacity_types[0], "on-demand");

    /* Azure's design doc, karpenter.sh/v1beta1: limits.resources. */
    g_autoptr(FpPoolTemplate) az =
        example("azure-karpenter-design-0002__nodepool-gpu-limits.yaml", policy, &refused);
    assert_non_null(az);
    assert_int_equal(fp_res_list_get(&az->limits, "nvidia.com/gpu"), 2);
    assert_int_equal(fp_res_list_get(&az->limits, "cpu"), 100000); /* milli */

    /* Every example is an offer of an unknown GPU. */
    GArray *offers = g_array_new(FALSE, TRUE, sizeof(FpOffer));
    fp_nodepool_offers(p3, policy, NULL, offers);
    assert_int_equal(offers->len, 1);
    FpOffer *o = &g_array_index(offers, FpOffer, 0);
    assert_true(o->is_template);
    assert_string_equal(o->facts.pool, "gpu");
    assert_string_equal(o->facts.product, "");
    assert_string_equal(o->facts.capacity_type, "on-demand");
    g_array_unref(offers);
}

static const char *L4_POOL =
    "{\"apiVersion\":\"karpenter.sh/v1\",\"kind\":\"NodePool\",\"metadata\":{\"name\":\"l4\"},"
    "\"spec\":{\"template\":{\"metadata\":{\"labels\":{\"nvidia.com/gpu.product\":\"NVIDIA-L4\"}},"
    "\"spec\":{\"requirements\":["
    "{\"key\":\"topology.kubernetes.io/region\",\"operator\":\"In\",\"values\":[\"us-east-1\","
    "\"us-west-2\"]},"
    "{\"key\":\"karpenter.sh/capacity-type\",\"operator\":\"NotIn\",\"values\":[\"spot\"]},"
    "{\"key\":\"karpenter.k8s.aws/instance-gpu-name\",\"operator\":\"In\",\"values\":[\"l4\"]}"
    "]}},\"limits\":{\"nvidia.com/gpu\":\"16\",\"cpu\":1000}}}";

static const char *H200_POOL =
    "{\"metadata\":{\"name\":\"h200\"},\"spec\":{\"template\":{\"spec\":{\"requirements\":["
    "{\"key\":\"nvidia.com/gpu.product\",\"operator\":\"In\",\"values\":[\"NVIDIA-H200\"]},"
    "{\"key\":\"topology.kubernetes.io/region\",\"operator\":\"In\",\"values\":[\"eastus\"]}"
    "]}}}}";

static void test_template_offers(void **state)
{
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    json_t *obj = parse(L4_POOL);
    GError *error = NULL;
    g_autoptr(FpPoolTemplate) t = fp_nodepool_parse(obj, policy, &error);
    json_decref(obj);
    assert_non_null(t);
    assert_string_equal(t->products[0], "NVIDIA-L4");
    assert_int_equal(g_strv_length(t->regions), 2);
    assert_string_equal(t->gpu_names[0], "l4");
    /* NotIn spot leaves on-demand and reserved. */
    assert_int_equal(g_strv_length(t->capacity_types), 2);
    assert_string_equal(t->capacity_types[0], "on-demand");
    assert_int_equal(fp_res_list_get(&t->limits, "nvidia.com/gpu"), 16);
    GArray *offers = g_array_new(FALSE, TRUE, sizeof(FpOffer));
    fp_nodepool_offers(t, policy, NULL, offers);
    assert_int_equal(offers->len, 2);
    for (guint i = 0; i < offers->len; i++) {
        const FpOffer *o = &g_array_index(offers, FpOffer, i);
        assert_string_equal(o->facts.product, "NVIDIA-L4");
        assert_string_equal(o->facts.pool, "l4");
        assert_true(o->facts.gpu_memory_mib >= 24 * 1024); /* the SKU table's L4 */
        assert_true(o->facts.price_per_gpu_hour > 0);
    }
    g_array_unref(offers);
}

/* A pod that needs 120 GiB per GPU: no node of the demo cluster has it; an
 * H200 NodePool at zero nodes does, and is what the constraints point at. */
static void test_pool_at_zero_nodes(void **state)
{
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    FpView *view = fp_view_new();
    GError *error = NULL;
    assert_true(fp_demo_cluster_load(view, &error));
    json_t *obj = parse(H200_POOL);
    g_autoptr(FpPoolTemplate) t = fp_nodepool_parse(obj, policy, &error);
    json_decref(obj);
    assert_non_null(t);
    GArray *offers = g_array_new(FALSE, TRUE, sizeof(FpOffer));
    fp_nodepool_offers(t, policy, NULL, offers);
    json_t *pj = parse("{\"metadata\":{\"name\":\"big\",\"annotations\":{"
                       "\"flexplace.io/min-gpu-memory\":\"120Gi\"}},\"spec\":{\"containers\":[{"
                       "\"name\":\"c\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"8\"}}}]}}");
    g_autoptr(FpPod) pod = fp_pod_from_json(pj, FP_POD_FULL, NULL);
    json_decref(pj);
    g_autoptr(FpDemand) d = fp_demand_new(pod, policy);
    g_autoptr(FpConstraints) without = fp_view_constraints(view, policy, d, NULL, 0, false);
    assert_int_equal(without->offers_accepted, 0);
    assert_non_null(without->problem);
    g_autoptr(FpConstraints) with = fp_view_constraints(
        view, policy, d, (const FpOffer *)(void *)offers->data, offers->len, false);
    assert_int_equal(with->templates_accepted, 1);
    assert_null(with->problem);
    /* The H200 pool's node would be admitted by the requirements. */
    GHashTable *labels = g_hash_table_new(g_str_hash, g_str_equal);
    g_hash_table_insert(labels, (char *)"nvidia.com/gpu.product", (char *)"NVIDIA-H200");
    g_hash_table_insert(labels, (char *)"topology.kubernetes.io/region", (char *)"eastus");
    g_hash_table_insert(labels, (char *)"karpenter.sh/nodepool", (char *)"h200");
    assert_true(fp_constraints_admit(with, labels));
    g_hash_table_insert(labels, (char *)"nvidia.com/gpu.product", (char *)"NVIDIA-L4");
    assert_false(fp_constraints_admit(with, labels));
    g_hash_table_unref(labels);
    g_array_unref(offers);
    fp_view_free(view);
}

static void test_hostile_nodepools(void **state)
{
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    const struct {
        const char *json;
        int code;
    } cases[] = {
        {"[]", FP_NODEPOOL_ERROR_SHAPE},
        {"{\"metadata\":{}}", FP_NODEPOOL_ERROR_SHAPE},
        {"{\"kind\":\"Node\",\"metadata\":{\"name\":\"x\"}}", FP_NODEPOOL_ERROR_SHAPE},
        {"{\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"x\"}}", FP_NODEPOOL_ERROR_SHAPE},
        {"{\"metadata\":{\"name\":\"x\"},\"spec\":{\"template\":{\"metadata\":{\"labels\":"
         "[1]}}}}",
         FP_NODEPOOL_ERROR_SHAPE},
        {"{\"metadata\":{\"name\":\"x\"},\"spec\":{\"template\":{\"spec\":{\"requirements\":"
         "[{\"key\":\"k\",\"operator\":\"Near\"}]}}}}",
         FP_NODEPOOL_ERROR_SHAPE},
        {"{\"metadata\":{\"name\":\"x\"},\"spec\":{\"template\":{\"spec\":{\"requirements\":"
         "[{\"key\":\"k\",\"operator\":\"In\",\"values\":[7]}]}}}}",
         FP_NODEPOOL_ERROR_SHAPE},
        {"{\"metadata\":{\"name\":\"x\"},\"spec\":{\"limits\":{\"nvidia.com/gpu\":\"lots\"}}}",
         FP_NODEPOOL_ERROR_SHAPE},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        json_t *obj = parse(cases[i].json);
        GError *error = NULL;
        FpPoolTemplate *t = fp_nodepool_parse(obj, policy, &error);
        json_decref(obj);
        if (t) {
            fail_msg("case %u parsed: %s", i, cases[i].json);
        }
        assert_int_equal(error->code, cases[i].code);
        g_error_free(error);
    }
    /* Too many values, and too many combinations. */
    GString *s = g_string_new("{\"metadata\":{\"name\":\"x\"},\"spec\":{\"template\":{\"spec\":"
                              "{\"requirements\":[{\"key\":\"nvidia.com/gpu.product\","
                              "\"operator\":\"In\",\"values\":[");
    for (int i = 0; i < FP_NODEPOOL_MAX_VALUES; i++) {
        g_string_append_printf(s, "%s\"p%d\"", i ? "," : "", i);
    }
    g_string_append(s, "]},{\"key\":\"topology.kubernetes.io/region\",\"operator\":\"In\","
                       "\"values\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}]}}}}");
    json_t *obj = parse(s->str);
    GError *error = NULL;
    assert_null(fp_nodepool_parse(obj, policy, &error));
    assert_int_equal(error->code, FP_NODEPOOL_ERROR_LIMIT);
    g_clear_error(&error);
    json_decref(obj);
    g_string_free(s, TRUE);
}

/* LIST through the real client: 404 means no Karpenter, then NodePools. */
static void test_fetch_from_api(void **state)
{
    FpFakeApi *api = fp_fake_api_start(NULL);
    g_autofree char *dir = g_dir_make_tmp("fp-nodepool-XXXXXX", NULL);
    g_autofree char *kc_path = fp_fake_api_write_kubeconfig(api, dir);
    GError *error = NULL;
    g_autoptr(FpKubeConfig) kc = fp_kubeconfig_load(kc_path, NULL, &error);
    assert_non_null(kc);
    g_autoptr(FpKubeClient) client = fp_kube_client_new(kc, &error);
    assert_non_null(client);
    g_autoptr(FpPolicy) policy = fp_policy_new_default();

    GPtrArray *pools = g_ptr_array_new_with_free_func((GDestroyNotify)fp_pool_template_free);
    gboolean absent = FALSE;
    guint skipped = 0;
    assert_true(fp_nodepools_fetch(client, policy, pools, &absent, &skipped, &error));
    assert_true(absent);
    assert_int_equal(pools->len, 0);

    json_t *items = json_array();
    json_array_append_new(items, parse(L4_POOL));
    json_array_append_new(items, parse(H200_POOL));
    json_array_append_new(items, parse("{\"metadata\":{\"name\":\"broken\"},\"spec\":"
                                       "{\"limits\":{\"cpu\":\"x\"}}}"));
    json_decref(
        fp_fake_api_ctl_json(api, json_pack("{s:s, s:o}", "cmd", "set_nodepools", "items", items)));
    assert_true(fp_nodepools_fetch(client, policy, pools, &absent, &skipped, &error));
    assert_false(absent);
    assert_int_equal(pools->len, 2);
    assert_int_equal(skipped, 1);
    assert_string_equal(((FpPoolTemplate *)pools->pdata[1])->products[0], "NVIDIA-H200");
    assert_true(fp_fake_api_counter(api, "list_nodepools") == 2);

    /* A failing API server is an error, not "absent". */
    FP_FAKE_API_CTL(api, "{\"cmd\":\"set_token\",\"token\":\"other\"}");
    g_ptr_array_set_size(pools, 0);
    assert_false(fp_nodepools_fetch(client, policy, pools, &absent, NULL, &error));
    assert_false(absent);
    assert_non_null(strstr(error->message, "listing NodePools"));
    g_clear_error(&error);
    g_ptr_array_unref(pools);
    fp_fake_api_stop(api);
}

/* The live source: absent at first, then the NodePools, kept while the API
 * server fails. */
static void test_source(void **state)
{
    FpFakeApi *api = fp_fake_api_start(NULL);
    g_autofree char *dir = g_dir_make_tmp("fp-nodepool-XXXXXX", NULL);
    g_autofree char *kc_path = fp_fake_api_write_kubeconfig(api, dir);
    GError *error = NULL;
    g_autoptr(FpKubeConfig) kc = fp_kubeconfig_load(kc_path, NULL, &error);
    g_autoptr(FpKubeClient) client = fp_kube_client_new(kc, &error);
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    FpNodePoolSource *src = fp_nodepool_source_start(client, 1);
    gboolean absent = FALSE;
    FP_WAIT_FOR(fp_nodepool_source_lists(src, &absent) >= 1, 10000, "first LIST");
    assert_true(absent);
    GArray *offers = fp_nodepool_source_offers(src, policy, NULL);
    assert_int_equal(offers->len, 0);
    g_array_unref(offers);

    json_t *items = json_array();
    json_array_append_new(items, parse(L4_POOL));
    json_decref(
        fp_fake_api_ctl_json(api, json_pack("{s:s, s:o}", "cmd", "set_nodepools", "items", items)));
    guint64 seen = fp_nodepool_source_lists(src, NULL);
    FP_WAIT_FOR(fp_nodepool_source_lists(src, &absent) > seen && !absent, 10000, "NodePools");
    offers = fp_nodepool_source_offers(src, policy, NULL);
    assert_int_equal(offers->len, 2); /* L4 in two regions */
    g_array_unref(offers);

    /* Watched, not re-listed: a new NodePool arrives as an event. */
    guint64 lists = fp_nodepool_source_lists(src, NULL);
    guint64 events = fp_nodepool_source_events(src);
    FP_WAIT_FOR(fp_fake_api_counter(api, "watch_nodepools") >= 1, 10000, "a NodePool watch");
    items = json_array();
    json_array_append_new(items, parse(L4_POOL));
    json_array_append_new(items, parse(H200_POOL));
    json_decref(
        fp_fake_api_ctl_json(api, json_pack("{s:s, s:o}", "cmd", "set_nodepools", "items", items)));
    FP_WAIT_FOR(fp_nodepool_source_events(src) > events, 10000, "the ADDED event");
    offers = fp_nodepool_source_offers(src, policy, NULL);
    assert_int_equal(offers->len, 3); /* and the H200 pool */
    g_array_unref(offers);
    /* ... and a deleted one as DELETED. */
    events = fp_nodepool_source_events(src);
    items = json_array();
    json_array_append_new(items, parse(H200_POOL));
    json_decref(
        fp_fake_api_ctl_json(api, json_pack("{s:s, s:o}", "cmd", "set_nodepools", "items", items)));
    FP_WAIT_FOR(fp_nodepool_source_events(src) > events, 10000, "the DELETED event");
    offers = fp_nodepool_source_offers(src, policy, NULL);
    assert_int_equal(offers->len, 1);
    assert_string_equal(g_array_index(offers, FpOffer, 0).facts.product, "NVIDIA-H200");
    g_array_unref(offers);
    assert_int_equal(fp_nodepool_source_lists(src, NULL), lists);

    /* A watch that ends is resumed; failing requests keep the last good
     * list. */
    FP_FAKE_API_CTL(api, "{\"cmd\":\"set_token\",\"token\":\"other\"}");
    json_int_t before = fp_fake_api_counter(api, "unauthorized");
    FP_FAKE_API_CTL(api, "{\"cmd\":\"drop\",\"kind\":\"nodepools\"}");
    FP_WAIT_FOR(fp_fake_api_counter(api, "unauthorized") > before, 10000, "a failed request");
    offers = fp_nodepool_source_offers(src, policy, NULL);
    assert_int_equal(offers->len, 1);
    g_array_unref(offers);

    /* Karpenter removed: the list empties (the slow relist finds 404). */
    FP_FAKE_API_CTL(api, "{\"cmd\":\"set_token\",\"token\":null}");
    json_decref(
        fp_fake_api_ctl_json(api, json_pack("{s:s, s:n}", "cmd", "set_nodepools", "items")));
    FP_WAIT_FOR(fp_nodepool_source_lists(src, &absent) > lists && absent, 20000, "absent again");
    offers = fp_nodepool_source_offers(src, policy, NULL);
    assert_int_equal(offers->len, 0);
    g_array_unref(offers);
    fp_nodepool_source_stop(src);
    fp_fake_api_stop(api);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_examples),      cmocka_unit_test(test_template_offers),
        cmocka_unit_test(test_pool_at_zero_nodes), cmocka_unit_test(test_hostile_nodepools),
        cmocka_unit_test(test_fetch_from_api),     cmocka_unit_test(test_source),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
