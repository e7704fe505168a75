/*
 * test/test_scale_up.c - pools that can grow: the policy's poolTemplates
 * (policies/policy_load.c), their offers and growth against the view
 * (cache/pool_templates.h), NodePool limits (cache/nodepool.h), and the
 * "would fit after scale-up" judgement (scoring/scale_up.h) with its one
 * line of text.
 *
 * Facts used: AWS g6.xlarge is one NVIDIA L4 (22,888 MiB) at $0.8048/h in
 * us-east-1 and g6.12xlarge four at $1.1504/h per GPU (the built-in catalog,
 * scoring/catalog/gpu_catalog.csv, from aws/karpenter-provider-aws's
 * generated pricing); Llama-3.3-70B-Instruct's weights are 131.42 GiB
 * (scoring/model-catalog.csv, KAITO's preset).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "cache/gpu_inventory.h"
#include "cache/nodepool.h"
#include "cache/placement.h"
#include "cache/pool_templates.h"
#include "cache/snapshot.h"
#include "policies/policy_load.h"
#include "scoring/scale_up.h"
#include "test/support/support.h"

static const char *POLICY = "poolTemplates:\n"
                            "  aws-l4-use1:\n"
                            "    instanceType: g6.xlarge\n"
                            "    region: us-east-1\n"
                            "    maxNodes: 2\n"
                            "    labels: {node-group: l4}\n"
                            "  aws-l4x4-use1:\n"
                            "    instanceType: g6.12xlarge\n"
                            "    region: us-east-1\n"
                            "  flex-h100-euw:\n"
                            "    gpuProduct: NVIDIA-H100-80GB-HBM3\n"
                            "    gpusPerNode: 8\n"
                            "    region: westeurope\n"
                            "    pricePerGPUHour: 6.5\n"
                            "    capacityType: spot\n";

static FpPolicy *load(const char *text, FpPolicyReport *report)
{
    return fp_policy_load_buffer(text, strlen(text), "p.yaml", report);
}

static const FpOffer *find(GArray *offers, const char *name)
{
    for (guint i = 0; i < offers->len; i++) {
        const FpOffer *o = &g_array_index(offers, FpOffer, i);
        if (g_str_equal(o->name, name)) {
            return o;
        }
    }
    fail_msg("no offer %s", name);
    return NULL;
}

static FpNode *gpu_node(const char *name, const char *pool_label, const char *pool, int gpus)
{
    FpNode *n = fp_node_new(name);
    fp_node_set_label(n, pool_label, pool);
    fp_res_list_set(&n->allocatable, "nvidia.com/gpu", gpus);
    fp_res_list_set(&n->allocatable, "cpu", 4000);
    return n;
}

static FpPod *gpu_pod(int gpus, const char *const *annotations)
{
    FpPod *pod = fp_pod_new();
    pod->ns = g_strdup("ml");
    pod->name = g_strdup("p");
    pod->uid = g_strdup("uid-p");
    pod->annotations = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (guint i = 0; annotations && annotations[i]; i += 2) {
        g_hash_table_insert(pod->annotations, g_strdup(annotations[i]),
                            g_strdup(annotations[i + 1]));
    }
    fp_res_list_set(&pod->requests, "nvidia.com/gpu", gpus);
    return pod;
}

static void test_policy_templates_load(void **state)
{
    g_autoptr(FpPolicy) policy = fp_test_policy(POLICY);
    assert_int_equal(g_hash_table_size(policy->templates), 3);
    const FpPolicyTemplate *l4 = g_hash_table_lookup(policy->templates, "aws-l4-use1");
    assert_string_equal(l4->instance_type, "g6.xlarge");
    assert_null(l4->product);
    assert_int_equal(l4->max_nodes, 2);
    assert_string_equal(l4->capacity_type, "on-demand");
    assert_string_equal(g_hash_table_lookup(l4->labels, "node-group"), "l4");
    const FpPolicyTemplate *h = g_hash_table_lookup(policy->templates, "flex-h100-euw");
    assert_int_equal(h->gpus_per_node, 8);
    assert_string_equal(h->capacity_type, "spot");
    assert_true(h->price_per_gpu_hour == 6.5);
}

static void test_policy_templates_invalid(void **state)
{
    static const struct {
        const char *doc;
        const char *want;
    } cases[] = {
        {"poolTemplates:\n  a: {region: us-east-1}\n", "needs gpuProduct, or an instanceType"},
        {"poolTemplates:\n  a: {instanceType: no-such-type, region: us-east-1}\n",
         "needs gpuProduct, or an instanceType"},
        {"poolTemplates:\n  a: {gpuProduct: NVIDIA-L4, region: atlantis}\n",
         "region \"atlantis\" is not in regions.latencyMs"},
        {"poolTemplates:\n  a: {gpuProduct: NVIDIA-L4, gpusPerNode: 1.5}\n", "not a whole number"},
        {"poolTemplates:\n  a: {gpuProduct: NVIDIA-L4, gpusPerNode: 0}\n", "out of range"},
        {"poolTemplates:\n  a: {gpuProduct: NVIDIA-L4, maxNodes: -1}\n", "out of range"},
        {"poolTemplates:\n  a: {gpuProduct: NVIDIA-L4, capacityType: cheap}\n",
         "is not a capacity type"},
        {"poolTemplates:\n  a: {gpuProduct: NVIDIA-L4, maxNode: 3}\n", "did you mean \"maxNodes\""},
        {"poolTemplates:\n  a: {gpuProduct: NVIDIA-L4, labels: {\"bad key!\": x}}\n", "label key"},
        {"poolTemplates:\n  a: {gpuProduct: NVIDIA-L4, labels: {k: [1]}}\n", "expected a string"},
        {"poolTemplates:\n  \"not a label value!\": {gpuProduct: NVIDIA-L4}\n",
         "\"not a label value!\""},
        {"poolTemplates: [a]\n", "expected a mapping"},
        {"poolTemplates:\n  a: {gpuProduct: NVIDIA-L4, pricePerGPUHour: -2}\n", "out of range"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(FpPolicyReport) report = fp_policy_report_new();
        g_autoptr(FpPolicy) p = load(cases[i].doc, report);
        g_autofree char *all = fp_policy_report_join_errors(report, "\n");
        if (p || !strstr(all, cases[i].want)) {
            fail_msg("case %u: want an error with \"%s\", got %s:\n%s", i, cases[i].want,
                     p ? "a policy" : "errors", all);
        }
    }
}

static void test_template_offers(void **state)
{
    g_autoptr(FpPolicy) policy = fp_test_policy(POLICY);
    GArray *offers = g_array_new(FALSE, TRUE, sizeof(FpOffer));
    fp_policy_template_offers(policy, NULL, offers);
    assert_int_equal(offers->len, 3);
    /* The instance type through the catalog: product, memory, count, price. */
    const FpOffer *l4 = find(offers, "aws-l4-use1");
    assert_true(l4->is_template);
    assert_string_equal(l4->facts.pool, "aws-l4-use1");
    assert_string_equal(l4->facts.region, "us-east-1");
    assert_string_equal(l4->facts.product, "NVIDIA-L4");
    assert_int_equal(l4->gpus_per_node, 1);
    assert_true(l4->facts.gpu_memory_mib >= 22888);
    assert_float_equal(l4->facts.price_per_gpu_hour, 0.8048, 1e-9);
    assert_null(l4->cannot_grow);
    const FpOffer *l4x4 = find(offers, "aws-l4x4-use1");
    assert_int_equal(l4x4->gpus_per_node, 4);
    assert_float_equal(l4x4->facts.price_per_gpu_hour, 1.1504, 1e-9);
    /* Stated facts win; the stated price is taken as is (no spot factor). */
    const FpOffer *h = find(offers, "flex-h100-euw");
    assert_string_equal(h->facts.product, "NVIDIA-H100-80GB-HBM3");
    assert_string_equal(h->facts.capacity_type, "spot");
    assert_int_equal(h->gpus_per_node, 8);
    assert_float_equal(h->facts.price_per_gpu_hour, 6.5, 1e-9);
    g_array_unref(offers);
}

static void test_max_nodes_against_view(void **state)
{
    g_autoptr(FpPolicy) policy = fp_test_policy(POLICY);
    const char *pool_key = policy->label_pool[0];
    FpView *view = fp_view_new();
    fp_view_apply_node(view, gpu_node("n1", pool_key, "aws-l4-use1", 1));
    {
        g_autoptr(FpPoolUsage) usage = fp_pool_usage_new(view, policy);
        assert_int_equal(fp_pool_usage_pool(usage, "aws-l4-use1")->nodes, 1);
        GArray *offers = g_array_new(FALSE, TRUE, sizeof(FpOffer));
        fp_policy_template_offers(policy, usage, offers);
        assert_null(find(offers, "aws-l4-use1")->cannot_grow);
        g_array_unref(offers);
    }
    fp_view_apply_node(view, gpu_node("n2", pool_key, "aws-l4-use1", 1));
    g_autoptr(FpPoolUsage) usage = fp_pool_usage_new(view, policy);
    GArray *offers = g_array_new(FALSE, TRUE, sizeof(FpOffer));
    fp_policy_template_offers(policy, usage, offers);
    assert_string_equal(find(offers, "aws-l4-use1")->cannot_grow, FP_REASON_TEMPLATE_MAX_NODES);
    /* No maxNodes: no maximum. */
    assert_null(find(offers, "aws-l4x4-use1")->cannot_grow);
    g_array_unref(offers);
    fp_view_free(view);
}

static const char *LIMITED_POOL =
    "{\"apiVersion\":\"karpenter.sh/v1\",\"kind\":\"NodePool\",\"metadata\":{\"name\":\"l4\"},"
    "\"spec\":{\"template\":{\"metadata\":{\"labels\":{\"nvidia.com/gpu.product\":\"NVIDIA-L4\"}},"
    "\"spec\":{\"requirements\":["
    "{\"key\":\"karpenter.k8s.aws/instance-gpu-count\",\"operator\":\"In\",\"values\":[\"1\","
    "\"4\"]}]}},\"limits\":{\"nvidia.com/gpu\":\"8\",\"cpu\":\"12\"}}}";

static void test_nodepool_limits(void **state)
{
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    json_t *obj = json_loads(LIMITED_POOL, 0, NULL);
    assert_non_null(obj);
    g_autoptr(FpPoolTemplate) t = fp_nodepool_parse(obj, policy, NULL);
    json_decref(obj);
    assert_non_null(t);
    FpView *view = fp_view_new();
    /* One node of 4 GPUs: 4 + 4 <= 8, can grow. */
    fp_view_apply_node(view, gpu_node("a", "karpenter.sh/nodepool", "l4", 4));
    {
        g_autoptr(FpPoolUsage) usage = fp_pool_usage_new(view, policy);
        GArray *offers = g_array_new(FALSE, TRUE, sizeof(FpOffer));
        fp_nodepool_offers(t, policy, usage, offers);
        const FpOffer *o = &g_array_index(offers, FpOffer, 0);
        assert_int_equal(o->gpus_per_node, 4); /* the largest count allowed */
        assert_null(o->cannot_grow);
        g_array_unref(offers);
    }
    /* 5 GPUs: another node of 4 passes the limit of 8. */
    fp_view_apply_node(view, gpu_node("b", "karpenter.sh/nodepool", "l4", 1));
    {
        g_autoptr(FpPoolUsage) usage = fp_pool_usage_new(view, policy);
        GArray *offers = g_array_new(FALSE, TRUE, sizeof(FpOffer));
        fp_nodepool_offers(t, policy, usage, offers);
        assert_string_equal(g_array_index(offers, FpOffer, 0).cannot_grow,
                            FP_REASON_TEMPLATE_GPU_LIMIT);
        g_array_unref(offers);
    }
    /* The cpu limit (12 cores) reached by three nodes of 4 cores. */
    fp_view_remove_node(view, "a");
    fp_view_apply_node(view, gpu_node("c", "karpenter.sh/nodepool", "l4", 0));
    fp_view_apply_node(view, gpu_node("d", "karpenter.sh/nodepool", "l4", 0));
    g_autoptr(FpPoolUsage) usage = fp_pool_usage_new(view, policy);
    GArray *offers = g_array_new(FALSE, TRUE, sizeof(FpOffer));
    fp_nodepool_offers(t, policy, usage, offers);
    assert_string_equal(g_array_index(offers, FpOffer, 0).cannot_grow,
                        FP_REASON_TEMPLATE_CPU_LIMIT);
    g_array_unref(offers);
    fp_view_free(view);
}

/* The memory per GPU the GPU inventory gives a node of @instance_type in
 * us-east-1 with no other label. */
static double inventory_memory(const FpPolicy *policy, const char *instance_type)
{
    g_autoptr(FpNode) n = fp_node_new("probe");
    fp_node_set_label(n, "node.kubernetes.io/instance-type", instance_type);
    fp_node_set_label(n, "topology.kubernetes.io/region", "us-east-1");
    fp_res_list_set(&n->allocatable, "nvidia.com/gpu", 1);
    FpNodeFacts facts;
    fp_node_facts(policy, n, &facts);
    g_autoptr(FpGpuInventory) inv = fp_gpu_inventory_new(policy, n, &facts);
    const FpDeviceClass *dev = fp_gpu_inventory_find(inv, "nvidia.com/gpu");
    assert_non_null(dev);
    assert_true(dev->memory_mib > 0);
    return dev->memory_mib;
}

/* The offers (FpOffer, interned strings) of the NodePool @json. */
static GArray *nodepool_offers(const FpPolicy *policy, const char *json)
{
    json_t *obj = json_loads(json, 0, NULL);
    assert_non_null(obj);
    g_autoptr(FpPoolTemplate) t = fp_nodepool_parse(obj, policy, NULL);
    json_decref(obj);
    assert_non_null(t);
    GArray *offers = g_array_new(FALSE, TRUE, sizeof(FpOffer));
    fp_nodepool_offers(t, policy, NULL, offers);
    return offers;
}

/* A NodePool that names machines, not products - as Karpenter's own
 * examples do - offers what those machines carry, from the catalog: an
 * exact instance type with its GPUs per node and price, a family with
 * unknown GPUs per node (its sizes differ), a GPU name. */
static void test_nodepool_machines(void **state)
{
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    const char *pool =
        "{\"apiVersion\":\"karpenter.sh/v1\",\"kind\":\"NodePool\",\"metadata\":{\"name\":"
        "\"gpu\"},\"spec\":{\"template\":{\"spec\":{\"requirements\":["
        "{\"key\":\"node.kubernetes.io/instance-type\",\"operator\":\"In\",\"values\":"
        "[\"g6.12xlarge\",\"p6-b200.48xlarge\"]},"
        "{\"key\":\"topology.kubernetes.io/region\",\"operator\":\"In\",\"values\":"
        "[\"us-east-1\"]}]}}}}";
    GArray *offers = nodepool_offers(policy, pool);
    assert_int_equal(offers->len, 2);
    const FpOffer *l4 = &g_array_index(offers, FpOffer, 0);
    const FpOffer *b200 = &g_array_index(offers, FpOffer, 1);
    assert_string_equal(l4->facts.instance_type, "g6.12xlarge");
    assert_non_null(strstr(l4->facts.product, "L4"));
    assert_int_equal(l4->gpus_per_node, 4);
    /* memory as the inventory reads a node of that type */
    assert_true(l4->facts.gpu_memory_mib == inventory_memory(policy, "g6.12xlarge"));
    assert_true(fabs(l4->facts.price_per_gpu_hour - 1.1504) < 1e-9);
    assert_non_null(strstr(b200->facts.product, "B200"));
    assert_int_equal(b200->gpus_per_node, 8);
    assert_true(b200->facts.gpu_memory_mib == inventory_memory(policy, "p6-b200.48xlarge"));
    assert_true(b200->facts.gpu_memory_mib > 150 * 1024);
    /* an L4 pod of 8 GPUs is too big for a g6.12xlarge, not for the B200s */
    g_autoptr(FpPod) eight = gpu_pod(8, NULL);
    g_autoptr(FpDemand) d = fp_demand_new(eight, policy);
    assert_string_equal(fp_scale_up_reason(policy, d, l4), FP_REASON_TEMPLATE_TOO_FEW_GPUS);
    assert_null(fp_scale_up_reason(policy, d, b200));
    g_array_unref(offers);

    const char *family =
        "{\"apiVersion\":\"karpenter.sh/v1\",\"kind\":\"NodePool\",\"metadata\":{\"name\":"
        "\"fam\"},\"spec\":{\"template\":{\"spec\":{\"requirements\":["
        "{\"key\":\"karpenter.k8s.aws/instance-family\",\"operator\":\"In\",\"values\":"
        "[\"g6\"]},{\"key\":\"karpenter.k8s.aws/instance-gpu-name\",\"operator\":\"In\","
        "\"values\":[\"l4\"]}]}}}}";
    offers = nodepool_offers(policy, family);
    assert_int_equal(offers->len, 1);
    const FpOffer *fam = &g_array_index(offers, FpOffer, 0);
    assert_non_null(strstr(fam->facts.product, "L4"));
    assert_int_equal(fam->gpus_per_node, 0);
    assert_true(fam->facts.gpu_memory_mib == inventory_memory(policy, "g6.12xlarge"));
    g_array_unref(offers);

    const char *named =
        "{\"apiVersion\":\"karpenter.sh/v1\",\"kind\":\"NodePool\",\"metadata\":{\"name\":"
        "\"named\"},\"spec\":{\"template\":{\"spec\":{\"requirements\":["
        "{\"key\":\"karpenter.k8s.aws/instance-gpu-name\",\"operator\":\"In\","
        "\"values\":[\"a10g\",\"l4\"]}]}}}}";
    offers = nodepool_offers(policy, named);
    assert_int_equal(offers->len, 2);
    assert_non_null(strstr(g_array_index(offers, FpOffer, 0).facts.product, "A10G"));
    assert_non_null(strstr(g_array_index(offers, FpOffer, 1).facts.product, "L4"));
    g_array_unref(offers);
}

/* The judgement over the policy's templates for a pod of @gpus GPUs. */
static FpScaleUp *judge(const FpPolicy *policy, int gpus, const char *const *annotations,
                        const FpPoolUsage *usage)
{
    g_autoptr(FpPod) pod = gpu_pod(gpus, annotations);
    g_autoptr(FpDemand) d = fp_demand_new(pod, policy);
    GArray *offers = g_array_new(FALSE, TRUE, sizeof(FpOffer));
    fp_policy_template_offers(policy, usage, offers);
    FpScaleUp *s = fp_scale_up_new(policy, d, (const FpOffer *)(void *)offers->data, offers->len);
    g_array_unref(offers);
    return s;
}

static void test_judgement(void **state)
{
    g_autoptr(FpPolicy) policy = fp_test_policy(POLICY);
    /* One GPU near us-east-1: the cheapest, the L4 node group. */
    const char *near[] = {"flexplace.io/origin-region", "us-east-1", NULL};
    g_autoptr(FpScaleUp) one = judge(policy, 1, near, NULL);
    assert_true(one->fits);
    assert_string_equal(one->pool, "aws-l4-use1");
    assert_int_equal(one->templates, 3);
    g_autofree char *want = g_strdup_printf(
        "would fit after scale-up: pool aws-l4-use1 (NVIDIA-L4, us-east-1, %.0f ms, "
        "$0.80/h)",
        fp_policy_latency(policy, "us-east-1", "us-east-1", NULL));
    assert_string_equal(one->text, want);
    /* Two GPUs: a g6.xlarge has one; the 4-GPU group takes it. */
    g_autoptr(FpScaleUp) two = judge(policy, 2, near, NULL);
    assert_string_equal(two->pool, "aws-l4x4-use1");
    /* Sixteen GPUs: no template has nodes that large. */
    g_autoptr(FpScaleUp) big = judge(policy, 16, near, NULL);
    assert_false(big->fits);
    assert_string_equal(big->text,
                        "no pool can grow to fit: aws-l4-use1: " FP_REASON_TEMPLATE_TOO_FEW_GPUS
                        "; aws-l4x4-use1: " FP_REASON_TEMPLATE_TOO_FEW_GPUS
                        "; flex-h100-euw: " FP_REASON_TEMPLATE_TOO_FEW_GPUS);
    /* A 70B model on 4 GPUs needs more than an L4 per GPU: the H100s fit it. */
    const char *model[] = {"flexplace.io/model", "meta-llama/Llama-3.3-70B-Instruct", NULL};
    g_autoptr(FpPod) pod = gpu_pod(4, model);
    pod->model = fp_model_request_new();
    pod->model->name = g_strdup("meta-llama/Llama-3.3-70B-Instruct");
    pod->model->tensor_parallel = 4; /* 33 GiB of weights per GPU */
    g_autoptr(FpDemand) d = fp_demand_new(pod, policy);
    assert_true(d->model_known);
    GArray *offers = g_array_new(FALSE, TRUE, sizeof(FpOffer));
    fp_policy_template_offers(policy, NULL, offers);
    assert_string_equal(fp_scale_up_reason(policy, d, find(offers, "aws-l4x4-use1")),
                        FP_REASON_MODEL_FIT);
    const char *h100 = fp_scale_up_reason(policy, d, find(offers, "flex-h100-euw"));
    if (h100) {
        fail_msg("H100 refused: %s", h100);
    }
    g_array_unref(offers);
    /* A profile that avoids spot then has nowhere to grow. */
    g_autoptr(FpPolicy) nospot = fp_test_policy(
        "poolTemplates:\n"
        "  flex-h100-euw: {gpuProduct: NVIDIA-H100-80GB-HBM3, gpusPerNode: 8, region: westeurope,"
        " capacityType: spot}\n"
        "profiles:\n  default: {weights: {cost: 1}, avoidSpot: true}\n");
    g_autoptr(FpScaleUp) s = judge(nospot, 1, NULL, NULL);
    assert_false(s->fits);
    assert_string_equal(s->text, "no pool can grow to fit: flex-h100-euw: " FP_REASON_SPOT);
    /* No templates at all. */
    g_autoptr(FpPolicy) bare = fp_policy_new_default();
    g_autoptr(FpScaleUp) none = judge(bare, 1, NULL, NULL);
    assert_false(none->fits);
    assert_int_equal(none->templates, 0);
    assert_non_null(strstr(none->text, "no pool templates known"));
}

static void test_judgement_respects_growth(void **state)
{
    g_autoptr(FpPolicy) policy = fp_test_policy(POLICY);
    FpView *view = fp_view_new();
    fp_view_apply_node(view, gpu_node("n1", policy->label_pool[0], "aws-l4-use1", 1));
    fp_view_apply_node(view, gpu_node("n2", policy->label_pool[0], "aws-l4-use1", 1));
    g_autoptr(FpPoolUsage) usage = fp_pool_usage_new(view, policy);
    const char *near[] = {"flexplace.io/origin-region", "us-east-1", NULL};
    /* The L4 group is at maxNodes: the next cheapest that can grow. */
    g_autoptr(FpScaleUp) s = judge(policy, 1, near, usage);
    assert_true(s->fits);
    assert_string_equal(s->pool, "aws-l4x4-use1");
    fp_view_free(view);
}

static void test_placement_judges_only_unmet(void **state)
{
    g_autoptr(FpPolicy) policy = fp_test_policy(POLICY);
    FpView *view = fp_view_new();
    FpNode *n = gpu_node("busy", policy->label_pool[0], "aws-l4-use1", 1);
    fp_node_set_label(n, policy->label_product[0], "NVIDIA-L4");
    fp_view_apply_node(view, n);
    const char *names[] = {"busy"};
    FpCandidates c = {.names = names, .n = 1};
    GArray *offers = g_array_new(FALSE, TRUE, sizeof(FpOffer));
    fp_policy_template_offers(policy, NULL, offers);
    /* One GPU fits the node: no judgement. */
    g_autoptr(FpPod) fits = gpu_pod(1, NULL);
    g_autoptr(FpPlacement) p1 = fp_placement_evaluate(view, policy, fits, &c);
    assert_false(fp_placement_unmet(p1));
    assert_null(fp_placement_judge_scale_up(p1, policy, (const FpOffer *)(void *)offers->data,
                                            offers->len));
    /* Two GPUs fit no node: judged. */
    g_autoptr(FpPod) two = gpu_pod(2, NULL);
    g_autoptr(FpPlacement) p2 = fp_placement_evaluate(view, policy, two, &c);
    assert_true(fp_placement_unmet(p2));
    const FpScaleUp *s =
        fp_placement_judge_scale_up(p2, policy, (const FpOffer *)(void *)offers->data, offers->len);
    assert_non_null(s);
    assert_true(s->fits);
    assert_ptr_equal(s, p2->scale_up);
    g_array_unref(offers);
    fp_view_free(view);
}

/* ---- NodePools in a cluster file ---------------------------------------- */

/* A snapshot keeps Karpenter NodePools for its caller: items of a List
 * (v1 and v1beta1), items of a NodePoolList that carry no kind, not a
 * NodePool of another API group; nothing when the load fails. */
static void test_snapshot_nodepools(void **state)
{
    const char *text = "apiVersion: v1\nkind: List\nitems:\n"
                       "- {apiVersion: v1, kind: Node, metadata: {name: n1}}\n"
                       "- {apiVersion: karpenter.sh/v1, kind: NodePool, metadata: {name: a}}\n"
                       "- {apiVersion: karpenter.sh/v1beta1, kind: NodePool, metadata: {name: b},\n"
                       "   spec: {limits: {resources: {nvidia.com/gpu: 2}}}}\n"
                       "- {apiVersion: example.com/v1, kind: NodePool, metadata: {name: other}}\n"
                       "---\n"
                       "apiVersion: karpenter.sh/v1\nkind: NodePoolList\nitems:\n"
                       "- {metadata: {name: c}, spec: {template: {metadata: {labels:\n"
                       "   {nvidia.com/gpu.product: NVIDIA-L4}}}}}\n";
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    FpView *view = fp_view_new();
    GPtrArray *pools = g_ptr_array_new_with_free_func((GDestroyNotify)fp_snapshot_object_free);
    GError *error = NULL;
    assert_true(
        fp_snapshot_load_buffer_nodepools(view, text, strlen(text), "c.yaml", pools, &error));
    assert_int_equal(pools->len, 3);
    const char *names[] = {"a", "b", "c"};
    for (guint i = 0; i < pools->len; i++) {
        const FpSnapshotObject *o = g_ptr_array_index(pools, i);
        assert_true(g_str_has_prefix(o->where, "c.yaml:"));
        g_autoptr(FpPoolTemplate) t = fp_nodepool_parse(o->object, policy, &error);
        assert_non_null(t);
        assert_string_equal(t->name, names[i]);
    }
    fp_view_read_lock(view);
    assert_non_null(fp_view_node_locked(view, "n1"));
    fp_view_read_unlock(view);

    /* a bad Node fails the load: no NodePool of it is kept */
    const char *bad = "apiVersion: v1\nkind: List\nitems:\n"
                      "- {apiVersion: karpenter.sh/v1, kind: NodePool, metadata: {name: d}}\n"
                      "- {apiVersion: v1, kind: Node, metadata: {name: 7}}\n";
    assert_false(
        fp_snapshot_load_buffer_nodepools(view, bad, strlen(bad), "bad.yaml", pools, &error));
    g_clear_error(&error);
    assert_int_equal(pools->len, 3);
    g_ptr_array_unref(pools);
    fp_view_free(view);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_templates_load),
        cmocka_unit_test(test_policy_templates_invalid),
        cmocka_unit_test(test_template_offers),
        cmocka_unit_test(test_max_nodes_against_view),
        cmocka_unit_test(test_nodepool_limits),
        cmocka_unit_test(test_nodepool_machines),
        cmocka_unit_test(test_judgement),
        cmocka_unit_test(test_judgement_respects_growth),
        cmocka_unit_test(test_placement_judges_only_unmet),
        cmocka_unit_test(test_snapshot_nodepools),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
