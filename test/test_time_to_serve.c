/*
 * test/test_time_to_serve.c - time to serve (scoring/time_to_serve.h): the
 * estimate against numbers computed by hand from the built-in constants
 * (scoring/transfer/transfer-defaults.csv), its order on the mixed fleet of
 * test/data/tts (node cache < same region < other region < other cloud),
 * the flexplace.io/max-time-to-serve-s limit, the weights locations, image
 * keys, cache labels, status.images decoding and the policy's `transfer:`.
 *
 * Hand numbers for meta-llama/Llama-3.3-70B-Instruct (131.42 GiB, the
 * catalog's published size) over 4 GPUs, the vLLM image of 8 GiB:
 *   load          131.42 / (1.92 x 4)      =   17.112 s
 *   pull          8 / 0.125                =   64 s (0 on a node that has it)
 *   same region   131.42 / 1.3             =  101.092 s
 *   other region  131.42 / 0.5             =  262.840 s
 *   other cloud   131.42 / 0.25            =  525.680 s
 *   hub           131.42 / 0.127           = 1034.803 s
 *   egress        131.42 GiB = 141.1109 GB; x 0.02 = $2.822, x 0.09 = $12.700
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glib.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "cache/kobj.h"
#include "cache/yamljson.h"
#include "policies/policy_load.h"
#include "scoring/engine.h"
#include "scoring/time_to_serve.h"
#include "support/support.h"

#define W70 131.42
#define LOAD (W70 / (1.92 * 4))

static void near_(double got, double want, double tol, const char *what, int line)
{
    if (!(fabs(got - want) <= tol)) {
        fail_msg("line %d: %s = %.6f, want %.6f", line, what, got, want);
    }
}
#define assert_near(got, want) near_((got), (want), 0.01, #got, __LINE__)

/* ---- the estimate alone --------------------------------------------------- */

static void test_constants_from_table(void **state)
{
    (void)state;
    FpTransferConstants k;
    fp_transfer_defaults(&k);
    assert_near(k.cls[FP_SOURCE_SAME_REGION].gib_per_s, 1.3);
    assert_near(k.cls[FP_SOURCE_OTHER_REGION].gib_per_s, 0.5);
    assert_near(k.cls[FP_SOURCE_OTHER_CLOUD].gib_per_s, 0.25);
    assert_near(k.cls[FP_SOURCE_HUB].gib_per_s, 0.127);
    assert_near(k.cls[FP_SOURCE_OTHER_REGION].usd_per_gb, 0.02);
    assert_near(k.cls[FP_SOURCE_OTHER_CLOUD].usd_per_gb, 0.09);
    assert_near(k.load_gib_per_s_per_gpu, 1.92);
    assert_near(k.image_pull_gib_per_s, 0.125);
    assert_near(k.default_image_gib, 10);
    assert_near(k.amortization_hours, 24);
    assert_int_equal(k.n_stores, 0);
}

static void estimate(FpTtsInput in, FpTts *out)
{
    FpTransferConstants k;
    fp_transfer_defaults(&k);
    fp_time_to_serve(&k, &in, out);
}

static void test_estimate_by_hand(void **state)
{
    (void)state;
    FpTtsInput base = {.weights_gib = W70, .gpus = 4, .pull_gib = 8, .store = true};
    FpTts cached, same, region, cloud, hub;

    FpTtsInput in = base;
    in.node_cache = true;
    in.pull_gib = 0;
    in.store_class = FP_SOURCE_SAME_REGION;
    estimate(in, &cached);
    assert_int_equal(cached.source, FP_SOURCE_NODE_CACHE);
    assert_near(cached.total_s, LOAD);
    assert_near(cached.egress_usd, 0);

    in = base;
    in.store_class = FP_SOURCE_SAME_REGION;
    estimate(in, &same);
    assert_int_equal(same.source, FP_SOURCE_SAME_REGION);
    assert_near(same.pull_s, 64);
    assert_near(same.transfer_s, 101.092);
    assert_near(same.total_s, 64 + 101.092 + LOAD);
    assert_near(same.egress_usd, 0);

    in.store_class = FP_SOURCE_OTHER_REGION;
    estimate(in, &region);
    assert_near(region.total_s, 64 + 262.840 + LOAD);
    assert_near(region.egress_usd, 2.822);

    in.store_class = FP_SOURCE_OTHER_CLOUD;
    estimate(in, &cloud);
    assert_near(cloud.total_s, 64 + 525.680 + LOAD);
    assert_near(cloud.egress_usd, 12.700);

    in = base;
    in.store = false;
    in.hub = true;
    estimate(in, &hub);
    assert_int_equal(hub.source, FP_SOURCE_HUB);
    assert_near(hub.total_s, 64 + 1034.803 + LOAD);

    assert_true(cached.total_s < same.total_s);
    assert_true(same.total_s < region.total_s);
    assert_true(region.total_s < cloud.total_s);
    assert_true(cloud.total_s < hub.total_s);

    /* The best of the sources the weights may come from: the store a cloud
     * away loses to the node's own cache; a tie goes to the nearer one. */
    in = base;
    in.store_class = FP_SOURCE_OTHER_CLOUD;
    in.node_cache = true;
    estimate(in, &cloud);
    assert_int_equal(cloud.source, FP_SOURCE_NODE_CACHE);

    /* The term: the absolute scale, 1 min 0.73, 10 min 0.26, >= 30 min 0 */
    assert_near(fp_tts_term(0), 1);
    assert_near(fp_tts_term(60), 1 - log2(3) / log2(61));
    assert_near(fp_tts_term(600), 1 - log2(21) / log2(61));
    assert_near(fp_tts_term(1800), 0);
    assert_near(fp_tts_term(INFINITY), 0);
    assert_near(fp_tts_term(NAN), 0);
}

static void test_store_class(void **state)
{
    (void)state;
    assert_int_equal(fp_store_class("us-east-1", "aws", "us-east-1", "aws"), FP_SOURCE_SAME_REGION);
    assert_int_equal(fp_store_class("us-east-1", "aws", "us-west-2", "aws"),
                     FP_SOURCE_OTHER_REGION);
    assert_int_equal(fp_store_class("us-east-1", "aws", "eastus", "azure"), FP_SOURCE_OTHER_CLOUD);
    assert_int_equal(fp_store_class(NULL, "aws", "us-east-1", "aws"), FP_SOURCE_OTHER_REGION);
    assert_int_equal(fp_store_class("us-east-1", "aws", "", NULL), FP_SOURCE_OTHER_CLOUD);
    assert_int_equal(fp_store_class(NULL, NULL, "us-east-1", "aws"), FP_SOURCE_OTHER_CLOUD);
}

/* ---- locations, labels, images -------------------------------------------- */

static void test_locations(void **state)
{
    (void)state;
    static const struct {
        const char *uri;
        bool ok;
        FpLocKind kind;
        const char *cloud;
    } cases[] = {
        {"s3://acme-models/llama", true, FP_LOC_STORE, "aws"},
        {"S3://acme-models", true, FP_LOC_STORE, "aws"},
        {"gs://bucket/m", true, FP_LOC_STORE, "gcp"},
        {"az://container/m", true, FP_LOC_STORE, "azure"},
        {"https://acct.blob.core.windows.net/models/m", true, FP_LOC_STORE, "azure"},
        {"https://example.com/m.tar", true, FP_LOC_OTHER, NULL},
        {"hf://meta-llama/Llama-3.1-8B", true, FP_LOC_HUB, NULL},
        {"pvc://model-cache/llama", true, FP_LOC_PVC, NULL},
        {"/mnt/models/llama", true, FP_LOC_PATH, NULL},
        {"file:///mnt/models", true, FP_LOC_PATH, NULL},
        {"", false, 0, NULL},
        {"s3://", false, 0, NULL},
        {"s3:///path", false, 0, NULL},
        {"pvc://Bad_Claim/x", false, 0, NULL},
        {"models/llama", false, 0, NULL},
        {"s3://a b", false, 0, NULL},
        {"ftp://host/x", false, 0, NULL},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        FpWeightsLocation loc;
        const char *err = NULL;
        bool ok = fp_weights_location_parse(cases[i].uri, &loc, &err);
        if (ok != cases[i].ok) {
            fail_msg("%s: ok %d, want %d (%s)", cases[i].uri, ok, cases[i].ok, err ? err : "");
        }
        if (ok) {
            assert_int_equal(loc.kind, cases[i].kind);
            assert_string_equal(loc.cloud ? loc.cloud : "-", cases[i].cloud ? cases[i].cloud : "-");
        } else {
            assert_non_null(err);
        }
        fp_weights_location_clear(&loc);
    }
    g_autofree char *huge = g_strnfill(FP_WEIGHTS_LOCATION_MAX + 1, 'a');
    memcpy(huge, "s3://", 5);
    FpWeightsLocation loc;
    const char *err = NULL;
    assert_false(fp_weights_location_parse(huge, &loc, &err));
}

static void test_cache_label_and_image_keys(void **state)
{
    (void)state;
    char a[FP_MODEL_CACHE_LABEL_MAX], b[FP_MODEL_CACHE_LABEL_MAX];
    /* FNV-1a 64 of "meta-llama/llama-3.3-70b-instruct", computed apart */
    assert_string_equal(fp_model_cache_label("meta-llama/Llama-3.3-70B-Instruct", a, sizeof a),
                        "flexplace.io/model-cache.a4a8a5f351e160cc");
    assert_string_equal(fp_model_cache_label("META-LLAMA/llama-3.3-70b-instruct", b, sizeof b), a);
    assert_true(strlen(a) - strlen("flexplace.io/") <= 63); /* a label key's name part */
    assert_true(fp_cache_label_set("true"));
    assert_true(fp_cache_label_set("2026-12-01"));
    assert_false(fp_cache_label_set("false"));
    assert_false(fp_cache_label_set(""));
    assert_false(fp_cache_label_set(NULL));

    /* the container runtime's normalisation */
    assert_true(fp_image_key("vllm/vllm-openai:v0.6.4") ==
                fp_image_key("docker.io/vllm/vllm-openai:v0.6.4"));
    assert_true(fp_image_key("ubuntu") == fp_image_key("docker.io/library/ubuntu:latest"));
    assert_true(fp_image_key("docker.io/ubuntu") == fp_image_key("ubuntu:latest"));
    assert_true(fp_image_key("index.docker.io/vllm/vllm-openai") ==
                fp_image_key("vllm/vllm-openai:latest"));
    assert_true(fp_image_key("nvcr.io/nim/meta/llama3-8b-instruct:1.0") !=
                fp_image_key("nvcr.io/nim/meta/llama3-8b-instruct:1.1"));
    assert_true(fp_image_key("localhost:5000/x@sha256:ab") !=
                fp_image_key("localhost:5000/x:latest"));
    assert_true(fp_image_key("") == 0);
    assert_true(fp_image_key(NULL) == 0);
}

static FpNode *node_json(const char *text)
{
    json_error_t jerr;
    json_t *obj = json_loads(text, 0, &jerr);
    if (!obj) {
        fail_msg("json: %s", jerr.text);
    }
    GError *err = NULL;
    FpNode *n = fp_node_from_json(obj, &err);
    json_decref(obj);
    if (!n) {
        fail_msg("node: %s", err->message);
    }
    return n;
}

static void test_node_images(void **state)
{
    (void)state;
    /* two names of one image, a duplicate with a larger size, malformed
     * entries skipped rather than refusing the node */
    g_autoptr(FpNode) n = node_json(
        "{\"metadata\":{\"name\":\"n\"},\"spec\":{},\"status\":{\"images\":["
        "{\"names\":[\"docker.io/vllm/vllm-openai@sha256:00\",\"docker.io/vllm/vllm-openai:v1\"],"
        "\"sizeBytes\":8589934592},"
        "{\"names\":[\"vllm/vllm-openai:v1\"],\"sizeBytes\":9663676416},"
        "{\"names\":\"not-a-list\",\"sizeBytes\":1},{\"sizeBytes\":5},7,"
        "{\"names\":[3,null,\"\"],\"sizeBytes\":\"big\"},"
        "{\"names\":[\"busybox\"]}]}}");
    assert_int_equal(n->n_images, 3);
    assert_int_equal(fp_node_image_mib(n, fp_image_key("vllm/vllm-openai:v1")), 9216);
    assert_int_equal(fp_node_image_mib(n, fp_image_key("docker.io/vllm/vllm-openai@sha256:00")),
                     8192);
    assert_int_equal(fp_node_image_mib(n, fp_image_key("busybox:latest")), 0);
    assert_int_equal(fp_node_image_mib(n, fp_image_key("vllm/vllm-openai:v2")), -1);

    /* bounded: at most FP_NODE_MAX_IMAGE_NAMES names, the first ones kept */
    GString *s =
        g_string_new("{\"metadata\":{\"name\":\"big\"},\"spec\":{},\"status\":{\"images\":[");
    for (int i = 0; i < 300; i++) {
        g_string_append_printf(s, "%s{\"names\":[\"r.io/img-%d:1\"],\"sizeBytes\":%d}",
                               i ? "," : "", i, 1048576 * (i + 1));
    }
    g_string_append(s, "]}}");
    g_autoptr(FpNode) big = node_json(s->str);
    g_string_free(s, TRUE);
    assert_int_equal(big->n_images, FP_NODE_MAX_IMAGE_NAMES);
    assert_int_equal(fp_node_image_mib(big, fp_image_key("r.io/img-0:1")), 1);
    assert_int_equal(fp_node_image_mib(big, fp_image_key("r.io/img-127:1")), 128);
    assert_int_equal(fp_node_image_mib(big, fp_image_key("r.io/img-128:1")), -1);
}

/* ---- the fleet of test/data/tts ------------------------------------------- */

typedef struct {
    FpPolicy *policy;
    GPtrArray *nodes; /* FpNode* */
} Fleet;

static json_t *load_doc(const char *rel, guint index)
{
    g_autofree char *path = fp_test_data_path(rel);
    GError *err = NULL;
    FpDocs *docs = fp_docs_load_file(path, 1 << 22, &err);
    if (!docs) {
        fail_msg("%s: %s", rel, err->message);
    }
    json_t *doc = json_incref(fp_docs_get(docs, index));
    fp_docs_free(docs);
    return doc;
}

static int fleet_setup(void **state)
{
    Fleet *f = g_new0(Fleet, 1);
    g_autofree char *pp = fp_test_data_path("tts/policy.yaml");
    FpPolicyReport *rep = fp_policy_report_new();
    f->policy = fp_policy_load_path(pp, rep);
    fp_policy_report_free(rep);
    assert_non_null(f->policy);
    f->nodes = g_ptr_array_new_with_free_func((GDestroyNotify)fp_node_unref);
    json_t *list = load_doc("tts/cluster.yaml", 0);
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(list, "items"), i, item)
    {
        GError *err = NULL;
        FpNode *n = fp_node_from_json(item, &err);
        assert_non_null(n);
        g_ptr_array_add(f->nodes, n);
    }
    json_decref(list);
    assert_int_equal(f->nodes->len, 7);
    *state = f;
    return 0;
}

static int fleet_teardown(void **state)
{
    Fleet *f = *state;
    fp_policy_unref(f->policy);
    g_ptr_array_unref(f->nodes);
    g_free(f);
    return 0;
}

/* The 70B pod of test/data/tts with extra annotations @ann ("k": "v" pairs
 * as JSON members, may be NULL) and the image @image. */
static FpPod *pod_70b(const char *ann, const char *image)
{
    json_t *obj = load_doc("tts/pod-70b.yaml", 0);
    json_t *annotations = json_object_get(json_object_get(obj, "metadata"), "annotations");
    if (ann) {
        g_autofree char *text = g_strdup_printf("{%s}", ann);
        json_t *extra = json_loads(text, 0, NULL);
        assert_non_null(extra);
        json_object_update(annotations, extra);
        json_decref(extra);
    }
    if (image) {
        json_t *c = json_array_get(json_object_get(json_object_get(obj, "spec"), "containers"), 0);
        json_object_set_new(c, "image", json_string(image));
    }
    GError *err = NULL;
    FpPod *pod = fp_pod_from_json(obj, FP_POD_FULL, &err);
    json_decref(obj);
    if (!pod) {
        fail_msg("pod: %s", err->message);
    }
    return pod;
}

/* Evaluate @pod on the fleet; verdicts by node name into @by_name. */
static FpDemand *run(const Fleet *f, const FpPod *pod, FpVerdict *out, GHashTable *by_name)
{
    FpDemand *d = fp_demand_new(pod, f->policy);
    FpCandidate *c = g_new0(FpCandidate, f->nodes->len);
    for (guint i = 0; i < f->nodes->len; i++) {
        c[i].node = g_ptr_array_index(f->nodes, i);
        c[i].name = c[i].node->name;
    }
    FpEvalContext ctx = {.policy = f->policy, .demand = d};
    fp_evaluate(&ctx, c, f->nodes->len, out);
    for (guint i = 0; i < f->nodes->len; i++) {
        g_hash_table_insert(by_name, (gpointer)c[i].name, &out[i]);
    }
    g_free(c);
    return d;
}

static void test_fleet_order(void **state)
{
    Fleet *f = *state;
    g_autoptr(FpPod) pod = pod_70b(NULL, NULL);
    FpVerdict out[7];
    g_autoptr(GHashTable) v = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(FpDemand) d = run(f, pod, out, v);
    assert_null(d->invalid_reason);
    assert_true(d->tts);
    assert_near(d->model_plan.weights_gib, W70);
    assert_true(d->weights_store);
    assert_string_equal(d->store_region, "us-east-1");
    assert_string_equal(d->store_cloud, "aws");

    const FpVerdict *a10g = g_hash_table_lookup(v, "use1-a10g-a");
    const FpVerdict *cached = g_hash_table_lookup(v, "use1-h100-a");
    const FpVerdict *same = g_hash_table_lookup(v, "use1-h100-b");
    const FpVerdict *region = g_hash_table_lookup(v, "usw2-a100-a");
    const FpVerdict *cloud = g_hash_table_lookup(v, "eastus-a100-a");
    assert_false(a10g->pass);
    assert_string_equal(a10g->reason, FP_REASON_MODEL_FIT);
    for (const FpVerdict *const *p = (const FpVerdict *const[]){cached, same, region, cloud, NULL};
         *p; p++) {
        assert_true((*p)->pass);
        assert_true((*p)->tts_known);
        assert_true((*p)->term_active[FP_TERM_TIME_TO_SERVE]);
    }
    /* the image's 8 GiB, as use1-h100-a reports it, pulled by the others */
    assert_int_equal(cached->tts.source, FP_SOURCE_NODE_CACHE);
    assert_near(cached->tts.total_s, LOAD);
    assert_int_equal(same->tts.source, FP_SOURCE_SAME_REGION);
    assert_near(same->tts.total_s, 64 + 101.092 + LOAD);
    assert_int_equal(region->tts.source, FP_SOURCE_OTHER_REGION);
    assert_near(region->tts.total_s, 64 + 262.840 + LOAD);
    assert_near(region->tts.egress_usd, 2.822);
    assert_int_equal(cloud->tts.source, FP_SOURCE_OTHER_CLOUD);
    assert_near(cloud->tts.total_s, 64 + 525.680 + LOAD);
    assert_near(cloud->tts.egress_usd, 12.700);
    /* the term follows the estimate */
    assert_near(same->term[FP_TERM_TIME_TO_SERVE], fp_tts_term(64 + 101.092 + LOAD));
    assert_true(cached->term[FP_TERM_TIME_TO_SERVE] > same->term[FP_TERM_TIME_TO_SERVE]);
    assert_true(same->term[FP_TERM_TIME_TO_SERVE] > region->term[FP_TERM_TIME_TO_SERVE]);
    assert_true(region->term[FP_TERM_TIME_TO_SERVE] > cloud->term[FP_TERM_TIME_TO_SERVE]);
    assert_true(cached->total > same->total);
    assert_true(same->total > region->total);
    assert_true(region->total > cloud->total);
    /* the egress joins the cost term: $2.822 over 24 h and 4 GPUs on top
     * of the pool's $5.120719 per GPU-hour */
    double price = 5.120719 + 2.822 / (24 * 4);
    assert_near(region->term[FP_TERM_COST], log(32 / price) / log(32 / 0.25));
}

static void test_unknown_image_and_hub(void **state)
{
    Fleet *f = *state;
    /* an image no node reports: the policy's 10 GiB; no location: the hub */
    g_autoptr(FpPod) pod = pod_70b("\"flexplace.io/weights-location\": \"hf://meta-llama/x\"",
                                   "registry.example.com/serving/vllm:custom");
    FpVerdict out[7];
    g_autoptr(GHashTable) v = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(FpDemand) d = run(f, pod, out, v);
    assert_true(d->weights_hub);
    assert_false(d->weights_store);
    const FpVerdict *same = g_hash_table_lookup(v, "use1-h100-b");
    const FpVerdict *cached = g_hash_table_lookup(v, "use1-h100-a");
    assert_int_equal(same->tts.source, FP_SOURCE_HUB);
    assert_near(same->tts.pull_s, 80);
    assert_near(same->tts.total_s, 80 + 1034.803 + LOAD);
    assert_int_equal(cached->tts.source, FP_SOURCE_NODE_CACHE); /* the cache label still holds */
    assert_near(cached->tts.total_s, 80 + LOAD);
}

static void test_limit(void **state)
{
    Fleet *f = *state;
    g_autoptr(FpPod) pod = pod_70b("\"flexplace.io/max-time-to-serve-s\": \"200\"", NULL);
    FpVerdict out[7];
    g_autoptr(GHashTable) v = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(FpDemand) d = run(f, pod, out, v);
    assert_null(d->invalid_reason);
    assert_near(d->max_tts_s, 200);
    assert_true(((FpVerdict *)g_hash_table_lookup(v, "use1-h100-a"))->pass);
    assert_true(((FpVerdict *)g_hash_table_lookup(v, "use1-h100-b"))->pass); /* 182 s */
    const FpVerdict *region = g_hash_table_lookup(v, "usw2-a100-a");
    const FpVerdict *cloud = g_hash_table_lookup(v, "eastus-a100-b");
    assert_false(region->pass);
    assert_true(region->unresolvable);
    assert_string_equal(region->reason, "time to serve 344 s > limit 200 s");
    assert_string_equal(cloud->reason, "time to serve 607 s > limit 200 s");
    assert_true(region->tts_known); /* the estimate is kept for the explanation */

    static const char *const bad[] = {"0", "-5", "abc", "1e9", "NaN", "inf", "", "604801"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *ann =
            g_strdup_printf("\"flexplace.io/max-time-to-serve-s\": \"%s\"", bad[i]);
        g_autoptr(FpPod) p = pod_70b(ann, NULL);
        g_autoptr(FpDemand) dd = fp_demand_new(p, f->policy);
        if (!dd->invalid_reason ||
            strcmp(dd->invalid_reason, "invalid annotation flexplace.io/max-time-to-serve-s") !=
                0) {
            fail_msg("\"%s\": reason %s", bad[i], dd->invalid_reason ? dd->invalid_reason : "none");
        }
    }
    g_autoptr(FpPod) ok = pod_70b("\"flexplace.io/max-time-to-serve-s\": \" 604800 \"", NULL);
    g_autoptr(FpDemand) dok = fp_demand_new(ok, f->policy);
    assert_null(dok->invalid_reason);

    /* a malformed location is invalid like every flexplace annotation */
    g_autoptr(FpPod) badloc =
        pod_70b("\"flexplace.io/weights-location\": \"models/relative\"", NULL);
    g_autoptr(FpDemand) dbl = fp_demand_new(badloc, f->policy);
    assert_string_equal(dbl->invalid_reason, "invalid annotation flexplace.io/weights-location");
}

static void test_fluid_and_pvc(void **state)
{
    Fleet *f = *state;
    g_autoptr(FpPod) pod =
        pod_70b("\"flexplace.io/weights-location\": \"pvc://llama70b/weights\"", NULL);
    g_autoptr(FpDemand) d = fp_demand_new(pod, f->policy);
    assert_true(d->store_in_cluster);
    bool fluid = false;
    for (guint i = 0; i < G_N_ELEMENTS(d->cache_labels) && d->cache_labels[i]; i++) {
        fluid = fluid || strcmp(d->cache_labels[i], "fluid.io/s-serving-llama70b") == 0;
    }
    assert_true(fluid);
    /* a node with Fluid's dataset label serves from its cache */
    FpNode *node = fp_node_new("fluid-node");
    fp_node_set_label(node, "nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3");
    fp_node_set_label(node, "topology.kubernetes.io/region", "eastus");
    fp_node_set_label(node, "fluid.io/s-serving-llama70b", "true");
    fp_res_list_set(&node->allocatable, "nvidia.com/gpu", 8);
    FpNode *plain = fp_node_ref(g_ptr_array_index(f->nodes, 5)); /* eastus-a100-a */
    FpCandidate c[2] = {{.node = node, .name = "fluid-node"}, {.node = plain, .name = plain->name}};
    FpVerdict out[2];
    FpEvalContext ctx = {.policy = f->policy, .demand = d};
    fp_evaluate(&ctx, c, 2, out);
    assert_int_equal(out[0].tts.source, FP_SOURCE_NODE_CACHE);
    assert_int_equal(out[1].tts.source, FP_SOURCE_SAME_REGION); /* the cluster's storage */
    fp_node_unref(node);
    fp_node_unref(plain);
}

/* ---- the policy's transfer: ------------------------------------------------- */

static FpPolicy *load(const char *text, FpPolicyReport *rep)
{
    return fp_policy_load_buffer(text, strlen(text), "p.yaml", rep);
}

static void test_policy_transfer(void **state)
{
    (void)state;
    FpPolicyReport *rep = fp_policy_report_new();
    g_autoptr(FpPolicy) p =
        load("transfer:\n"
             "  sources:\n"
             "    sameRegion: {gibPerSecond: 2.5, usdPerGB: 0.001}\n"
             "    hub: {gibPerSecond: 0.2}\n"
             "  loadGiBPerSecondPerGPU: 3\n"
             "  startSeconds: 20\n"
             "  imagePullGiBPerSecond: 0.5\n"
             "  defaultImageGiB: 6\n"
             "  amortizationHours: 8\n"
             "  stores:\n"
             "    - {prefix: 's3://acme/', region: us-east-1}\n"
             "    - {prefix: 'gs://ml-weights/', region: us-central1, cloud: gcp}\n"
             "    - {prefix: 'https://models.example.com/', cloud: onprem}\n",
             rep);
    if (!p) {
        g_autofree char *why = fp_policy_report_join_errors(rep, "\n");
        fail_msg("%s", why);
    }
    fp_policy_report_free(rep);
    const FpTransferConstants *k = &p->transfer;
    assert_near(k->cls[FP_SOURCE_SAME_REGION].gib_per_s, 2.5);
    assert_near(k->cls[FP_SOURCE_SAME_REGION].usd_per_gb, 0.001);
    assert_near(k->cls[FP_SOURCE_HUB].gib_per_s, 0.2);
    assert_near(k->cls[FP_SOURCE_OTHER_CLOUD].gib_per_s, 0.25); /* not written: the default */
    assert_near(k->load_gib_per_s_per_gpu, 3);
    assert_near(k->start_s, 20);
    assert_near(k->image_pull_gib_per_s, 0.5);
    assert_near(k->default_image_gib, 6);
    assert_near(k->amortization_hours, 8);
    assert_int_equal(k->n_stores, 3);
    const FpWeightStore *st = fp_transfer_find_store(k, "gs://ml-weights/llama/x");
    assert_non_null(st);
    assert_string_equal(st->region, "us-central1");
    assert_null(fp_transfer_find_store(k, "s3://other/"));

    static const struct {
        const char *text;
        const char *want; /* a substring of the report */
    } bad[] = {
        {"transfer: {sources: {sameRegion: {gibPerSecond: 0}}}\n", "gibPerSecond"},
        {"transfer: {sources: {nodeCache: {gibPerSecond: 1}}}\n", "nodeCache"},
        {"transfer: {amortizationHours: 0}\n", "amortizationHours"},
        {"transfer: {imagePullGiBPerSecond: -1}\n", "imagePullGiBPerSecond"},
        {"transfer: {bandwidth: 1}\n", "bandwidth"},
        {"transfer: {stores: [{prefix: 'hf://org/', region: us-east-1}]}\n", "not an object store"},
        {"transfer: {stores: [{prefix: 's3://a/', region: US-East-1}]}\n", "region"},
        {"transfer: {stores: [{prefix: 's3://a/'}]}\n", "needs \"region\" or \"cloud\""},
        {"transfer: {stores: [{region: us-east-1}]}\n", "\"prefix\" is required"},
        {"transfer: {stores: [{prefix: 's3://a/', region: us-east-1}, {prefix: 's3://a/', "
         "region: us-west-2}]}\n",
         "duplicate prefix"},
        {"transfer: {stores: {prefix: 's3://a/'}}\n", "expected a list"},
        {"profiles: {default: {weights: {timeToServ: 1}}}\n", "timeToServe"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        FpPolicyReport *r = fp_policy_report_new();
        FpPolicy *q = load(bad[i].text, r);
        g_autofree char *text = fp_policy_report_join_errors(r, "\n");
        if (q || !strstr(text, bad[i].want)) {
            fail_msg("case %zu: policy %s, report:\n%s\nwant \"%s\"", i, q ? "loaded" : "refused",
                     text, bad[i].want);
        }
        fp_policy_report_free(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constants_from_table),
        cmocka_unit_test(test_estimate_by_hand),
        cmocka_unit_test(test_store_class),
        cmocka_unit_test(test_locations),
        cmocka_unit_test(test_cache_label_and_image_keys),
        cmocka_unit_test(test_node_images),
        cmocka_unit_test_setup_teardown(test_fleet_order, fleet_setup, fleet_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_image_and_hub, fleet_setup, fleet_teardown),
        cmocka_unit_test_setup_teardown(test_limit, fleet_setup, fleet_teardown),
        cmocka_unit_test_setup_teardown(test_fluid_and_pvc, fleet_setup, fleet_teardown),
        cmocka_unit_test(test_policy_transfer),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
