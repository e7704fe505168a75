/*
 * test_nodescan.c - the request scanner (extender/wire/nodescan.h) and the
 * scanner-based ExtenderArgs decoder against jansson and the DOM decoder:
 * the same bodies accepted and rejected (hand-picked edge cases, every
 * prefix of a request, random byte mutations), the same values decoded, the
 * same errors, the same verdicts on random ExtenderArgs, and passing Nodes
 * echoed byte for byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "cache/view.h"
#include "extender/wire/nodescan.h"
#include "cache/placement.h"
#include "extender/wire/protocol.h"
#include "support/support.h"

/* jansson's verdict on @len bytes. */
static bool jansson_accepts(const char *buf, size_t len)
{
    json_t *v = json_loadb(buf, len, 0, NULL);
    json_decref(v);
    return v != NULL;
}

/* Validator and jansson agree; for valid input, the scanner's value equals
 * jansson's (types included: integer vs real). */
static void check_same(const char *buf, size_t len)
{
    bool want = jansson_accepts(buf, len);
    bool got = fp_json_validate(buf, len, NULL);
    if (want != got) {
        g_autofree char *cut = g_strndup(buf, MIN(len, 400));
        g_autofree char *shown = g_strescape(cut, NULL);
        fail_msg("jansson %s, scanner %s: \"%s\" (%zu bytes)", want ? "accepts" : "rejects",
                 got ? "accepts" : "rejects", shown, len);
    }
    if (want) {
        json_t *a = json_loadb(buf, len, 0, NULL);
        size_t start = strspn(buf, " \t\r\n");
        size_t end = len;
        while (end > start && strchr(" \t\r\n", buf[end - 1])) {
            end--;
        }
        json_t *b = fp_nodescan_value(buf, (FpSpan){start, end - start});
        assert_true(json_equal(a, b));
        g_autofree char *da = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
        g_autofree char *db = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
        assert_string_equal(da, db); /* 1 stays an integer, 1.0 a real */
        json_decref(a);
        json_decref(b);
    }
}

static void check_str(const char *s)
{
    check_same(s, strlen(s));
}

static void test_validate_cases(void **state)
{
    static const char *const cases[] = {
        "{}",
        "[]",
        " {} ",
        "\t[\n]\r\n",
        "",
        " ",
        "{",
        "}",
        "[",
        "[1,]",
        "[,1]",
        "{\"a\":1,}",
        "{\"a\"}",
        "{\"a\":}",
        "{a:1}",
        "{'a':1}",
        "{\"a\":1 \"b\":2}",
        "[1 2]",
        "[1]x",
        "[1] [2]",
        "1",
        "\"s\"",
        "true",
        "null",
        "[true]",
        "[tru]",
        "[truex]",
        "[True]",
        "[nulll]",
        "[false,null,true]",
        "[true1]",
        "[0]",
        "[-0]",
        "[01]",
        "[-01]",
        "[1.]",
        "[.5]",
        "[1.5]",
        "[-]",
        "[-a]",
        "[+1]",
        "[1e5]",
        "[1E+5]",
        "[1e-5]",
        "[1e]",
        "[1e+]",
        "[2e5e3]",
        "[1.5.3]",
        "[1-2]",
        "[9223372036854775807]",
        "[9223372036854775808]",
        "[-9223372036854775808]",
        "[-9223372036854775809]",
        "[99999999999999999999]",
        "[00]",
        "[1e308]",
        "[1e309]",
        "[-1e309]",
        "[1e-400]",
        "[0.0000000000000000000000001e-400]",
        "[123456789012345678]",
        "[1234567890123456789]",
        "[0.1]",
        "[1.7976931348623157e308]",
        "[1.7976931348623159e308]",
        /* strings */
        "[\"\"]",
        "[\"a\\\"b\"]",
        "[\"\\\\\"]",
        "[\"\\/\"]",
        "[\"\\b\\f\\n\\r\\t\"]",
        "[\"\\x\"]",
        "[\"\\u0041\"]",
        "[\"\\u00e9\"]",
        "[\"\\u00E9\"]",
        "[\"\\u004\"]",
        "[\"\\u00G1\"]",
        "[\"\\u0000\"]",
        "{\"\\u0000\":1}",
        "{\"a\\u0000b\":1}",
        "[\"\\ud83d\\ude00\"]",
        "[\"\\uD83D\\uDE00\"]",
        "[\"\\ud83d\"]",
        "[\"\\ud83dx\"]",
        "[\"\\ud83d\\u0041\"]",
        "[\"\\ude00\"]",
        "[\"\\ud83d\\ud83d\"]",
        "[\"tab\there\"]",
        "[\"nl\nhere\"]",
        "[\"\x7f\"]",
        "[\"\x01\"]",
        "[\"\xc3\xa9\"]",
        "[\"\xc3\"]",
        "[\"\xc3\x28\"]",
        "[\"\xc0\xaf\"]",
        "[\"\xe0\x80\xaf\"]",
        "[\"\xed\xa0\x80\"]",
        "[\"\xef\xbf\xbf\"]",
        "[\"\xf0\x9f\x98\x80\"]",
        "[\"\xf4\x90\x80\x80\"]",
        "[\"\xf5\x80\x80\x80\"]",
        "[\"\x80\"]",
        "[\"\xff\"]",
        "[\"abc",
        "[\"abc\\",
        "[\"abc\\u12",
        "\xef\xbb\xbf{}",
        "[\xc3\xa9]",
        "{\"a\":{\"b\":[{\"c\":\"}]{[\\\"\"}]}}",
        "[{},[],{\"\":\"\"}]",
        "{\"a\":1,\"a\":2}",
        "[\"\\u002F\"]",
        "[1,2,3,4,5,6,7,8,9,10]",
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        check_str(cases[i]);
    }
    /* A NUL byte in the buffer, inside and outside a string. */
    check_same("[\"a\0b\"]", 7);
    check_same("[1,\0 2]", 7);
    check_same("{}\0", 3);
}

static char *nested(guint depth, bool objects, const char *inner)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < depth; i++) {
        g_string_append(s, objects && i > 0 ? "{\"k\":" : (objects ? "{\"k\":" : "["));
    }
    g_string_append(s, inner);
    for (guint i = 0; i < depth; i++) {
        g_string_append_c(s, objects ? '}' : ']');
    }
    return g_string_free(s, FALSE);
}

static void test_deep_nesting(void **state)
{
    for (guint d = 2040; d <= 2052; d++) {
        g_autofree char *a = nested(d, false, "");
        g_autofree char *b = nested(d, false, "1");
        g_autofree char *c = nested(d, true, "1");
        g_autofree char *e = nested(d, true, "{}");
        check_str(a);
        check_str(b);
        check_str(c);
        check_str(e);
    }
    /* far deeper than the limit: rejected, bounded work, no stack overflow */
    GString *deep = g_string_new(NULL);
    for (guint i = 0; i < 1000000; i++) {
        g_string_append_c(deep, '[');
    }
    assert_false(fp_json_validate(deep->str, deep->len, NULL));
    g_string_free(deep, TRUE);
}

static guint64 rng_next(guint64 *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Random byte mutations of a realistic body: the validator agrees with
 * jansson on every one. */
static void test_validate_mutations(void **state)
{
    const char *seed_doc =
        "{\"Pod\":{\"metadata\":{\"name\":\"p\\u00e9\",\"annotations\":{\"a\":\"\\ud83d\\ude00\"}},"
        "\"spec\":{\"containers\":[{\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"1\"}}}]}},"
        "\"Nodes\":{\"metadata\":{},\"items\":[{\"metadata\":{\"name\":\"n1\",\"labels\":{\"x\":"
        "\"}{\\\"\"}},\"status\":{\"allocatable\":{\"nvidia.com/gpu\":4},\"images\":[{\"names\":"
        "[\"a@sha256:00\"],\"sizeBytes\":12072476783}],\"f\":-1.5e-3}}]},\"NodeNames\":null}";
    size_t n = strlen(seed_doc);
    guint64 rng = 0x9e3779b97f4a7c15ULL;
    static const char alphabet[] =
        "{}[]\":,\\ u0123456789abcdefeE.+-tnrl\x00\x1f\x7f\xc3\xa9\xed\xff";
    char *buf = g_malloc(n + 8);
    for (guint iter = 0; iter < 60000; iter++) {
        memcpy(buf, seed_doc, n);
        size_t len = n;
        guint edits = 1 + (guint)(rng_next(&rng) % 3);
        for (guint e = 0; e < edits; e++) {
            size_t at = (size_t)(rng_next(&rng) % len);
            char c = alphabet[rng_next(&rng) % (sizeof alphabet - 1)];
            switch (rng_next(&rng) % 4) {
            case 0: /* replace */
                buf[at] = c;
                break;
            case 1: /* insert */
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = c;
                len++;
                break;
            case 2: /* delete */
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;
                break;
            default: /* truncate */
                len = at;
                break;
            }
            if (len == 0 || len > n + 4) {
                break;
            }
        }
        check_same(buf, len);
    }
    g_free(buf);
}

/* ---- the decoder: scanner vs DOM ------------------------------------------------ */

static void assert_nodes_equal(const FpNode *a, const FpNode *b)
{
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->ready, b->ready);
    assert_int_equal(a->unschedulable, b->unschedulable);
    assert_int_equal(a->n_taints, b->n_taints);
    for (guint i = 0; i < a->n_taints; i++) {
        assert_string_equal(a->taints[i].key, b->taints[i].key);
        assert_int_equal(a->taints[i].effect, b->taints[i].effect);
    }
    assert_int_equal(a->allocatable.len, b->allocatable.len);
    for (guint i = 0; i < a->allocatable.len; i++) {
        assert_string_equal(a->allocatable.items[i].name, b->allocatable.items[i].name);
        assert_int_equal(a->allocatable.items[i].value, b->allocatable.items[i].value);
    }
    assert_int_equal(g_hash_table_size(a->labels), g_hash_table_size(b->labels));
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, a->labels);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        assert_string_equal(v, g_hash_table_lookup(b->labels, k));
    }
    assert_string_equal(a->resource_version ? a->resource_version : "-",
                        b->resource_version ? b->resource_version : "-");
}

/* Both decoders on @body: the same error, or the same arguments, the same
 * verdicts and equivalent replies. */
static void compare_decoders(const char *body, size_t len, const FpPolicy *policy, FpView *view)
{
    g_autoptr(GError) e1 = NULL;
    g_autoptr(GError) e2 = NULL;
    g_autoptr(FpExtenderArgs) fast = fp_extender_args_parse(body, len, &e1);
    g_autoptr(FpExtenderArgs) dom = fp_extender_args_parse_dom(body, len, &e2);
    if (!dom) {
        if (fast) {
            fail_msg("DOM rejects (%s), scanner accepts: %.300s", e2->message, body);
        }
        assert_string_equal(e1->message, e2->message);
        assert_int_equal(e1->code, e2->code);
        return;
    }
    if (!fast) {
        fail_msg("scanner rejects (%s), DOM accepts: %.300s", e1->message, body);
    }
    assert_string_equal(fast->pod->name, dom->pod->name);
    assert_string_equal(fast->pod->ns, dom->pod->ns);
    assert_int_equal(fast->nodes != NULL, dom->nodes != NULL);
    guint n = fp_extender_args_count(fast);
    assert_int_equal(n, fp_extender_args_count(dom));
    for (guint i = 0; i < n; i++) {
        assert_string_equal(fp_extender_args_name(fast, i), fp_extender_args_name(dom, i));
        if (fast->nodes) {
            assert_nodes_equal(g_ptr_array_index(fast->nodes, i), g_ptr_array_index(dom->nodes, i));
        }
    }
    assert_int_equal(fast->unique_names, dom->unique_names);
    FpCandidates c1 = {.n = n}, c2 = {.n = n};
    if (fast->nodes) {
        c1.nodes = (FpNode *const *)fast->nodes->pdata;
        c2.nodes = (FpNode *const *)dom->nodes->pdata;
    } else {
        c1.names = (const char *const *)fast->node_names;
        c2.names = (const char *const *)dom->node_names;
    }
    g_autoptr(FpPlacement) p1 = fp_placement_evaluate(view, policy, fast->pod, &c1);
    g_autoptr(FpPlacement) p2 = fp_placement_evaluate(view, policy, dom->pod, &c2);
    for (guint i = 0; i < n; i++) {
        assert_int_equal(p1->verdicts[i].pass, p2->verdicts[i].pass);
        assert_int_equal(p1->verdicts[i].score, p2->verdicts[i].score);
        assert_string_equal(p1->verdicts[i].reason ? p1->verdicts[i].reason : "",
                            p2->verdicts[i].reason ? p2->verdicts[i].reason : "");
    }
    size_t l1, l2;
    g_autofree char *r1 = fp_encode_filter_result(fast, p1->verdicts, NULL, &l1);
    g_autofree char *r2 = fp_encode_filter_result(dom, p2->verdicts, NULL, &l2);
    json_t *j1 = json_loadb(r1, l1, 0, NULL);
    json_t *j2 = json_loadb(r2, l2, 0, NULL);
    assert_non_null(j1);
    assert_true(json_equal(j1, j2));
    json_decref(j1);
    json_decref(j2);
    if (!fast->nodes) { /* names mode: byte for byte the jansson encoder's text */
        assert_int_equal(l1, l2);
        assert_memory_equal(r1, r2, l1);
    }
    g_autofree char *q1 = fp_encode_priorities(fast, p1->verdicts, &l1);
    g_autofree char *q2 = fp_encode_priorities(dom, p2->verdicts, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(q1, q2, l1);
}

static const char *pick(guint64 *rng, const char *const *list, guint n)
{
    return list[rng_next(rng) % n];
}

/* A random JSON value of a type unlikely to be right. */
static json_t *junk(guint64 *rng)
{
    switch (rng_next(rng) % 6) {
    case 0:
        return json_null();
    case 1:
        return json_integer((json_int_t)(rng_next(rng) % 100));
    case 2:
        return json_real(1.5);
    case 3:
        return json_string("x");
    case 4:
        return json_array();
    default:
        return json_true();
    }
}

static json_t *random_node(guint64 *rng, guint i)
{
    static const char *const products[] = {"NVIDIA-L4", "NVIDIA-H100-80GB-HBM3", "Tesla-T4",
                                           "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb"};
    static const char *const gpus[] = {"0", "1", "4", "8", "1k", "bad", "2.5"};
    guint64 r = rng_next(rng);
    char name[64];
    if ((r & 3) == 0) {
        g_snprintf(name, sizeof name, "n\u00e9-%u}{\"", i % 40);
    } else {
        g_snprintf(name, sizeof name, "node-%u", i % 40);
    }
    json_t *labels = json_pack("{s:s, s:s, s:s}", "nvidia.com/gpu.product",
                               pick(rng, products, G_N_ELEMENTS(products)),
                               "topology.kubernetes.io/region", (r & 4) ? "eastus" : "us-east-1",
                               "karpenter.sh/nodepool", (r & 8) ? "pool-a" : "pool-b");
    if ((r % 17) == 0) {
        json_object_set_new(labels, "weird", junk(rng));
    }
    json_t *node = json_pack(
        "{s:{s:s, s:s, s:o, s:[{s:s}]}, s:{}, s:{s:{s:s, s:s}, s:[{s:s, s:s}, {s:s, s:s}],"
        " s:[{s:[s, s], s:I}]}}",
        "metadata", "name", name, "resourceVersion", "7", "labels", labels, "managedFields",
        "manager", "{\"}", "spec", "status", "allocatable", "cpu", "8", "nvidia.com/gpu",
        pick(rng, gpus, G_N_ELEMENTS(gpus)), "conditions", "type", "MemoryPressure", "status",
        "False", "type", "Ready", "status", (r & 16) ? "True" : "False", "images", "names",
        "img@sha256:ab", "img:v1", "sizeBytes", (json_int_t)12072476783LL);
    json_t *spec = json_object_get(node, "spec");
    if (r & 32) {
        json_object_set_new(spec, "unschedulable", (r & 64) ? json_true() : junk(rng));
    }
    if (r & 128) {
        json_object_set_new(spec, "taints",
                            json_pack("[{s:s, s:s}]", "key", "k", "effect", "NoSchedule"));
    }
    switch ((r >> 8) % 23) {
    case 0:
        json_object_set_new(node, "metadata", junk(rng));
        break;
    case 1:
        json_object_set_new(node, "spec", junk(rng));
        break;
    case 2:
        json_object_set_new(node, "status", junk(rng));
        break;
    case 3:
        json_object_del(json_object_get(node, "metadata"), "name");
        break;
    case 4:
        json_object_set_new(json_object_get(node, "status"), "conditions", junk(rng));
        break;
    case 5:
        json_decref(node);
        return junk(rng);
    default:
        break;
    }
    return node;
}

/* Text of a random ExtenderArgs, with duplicate and case-varied keys spliced
 * in as text (jansson cannot build those). */
static char *random_args(guint64 *rng, const char *pod_text)
{
    guint64 r = rng_next(rng);
    guint n = (guint)(r % 6);
    GString *s = g_string_new(r & 1 ? "{\n  " : "{");
    static const char *const pod_keys[] = {"Pod", "pod", "POD"};
    static const char *const nodes_keys[] = {"Nodes", "nodes", "NODES"};
    static const char *const names_keys[] = {"NodeNames", "nodenames", "NodeNAMES"};
    bool full = (r >> 1) & 1;
    if ((r >> 2) % 7 == 0) {
        g_string_append(s, "\"pod\": null, ");
    }
    g_string_append_printf(s, "\"%s\": %s", pick(rng, pod_keys, 3),
                           (r >> 5) % 13 == 0 ? "[]" : pod_text);
    if (full) {
        g_string_append_printf(s, ", \"%s\": {\"metadata\": {}, \"items\": [",
                               pick(rng, nodes_keys, 3));
        for (guint i = 0; i < n; i++) {
            json_t *node = random_node(rng, i);
            char *t = json_dumps(node, (i & 1 ? JSON_INDENT(1) : JSON_COMPACT) | JSON_ENCODE_ANY);
            g_string_append_printf(s, "%s%s", i ? ", " : "", t);
            free(t);
            json_decref(node);
        }
        g_string_append(s, "]");
        if ((r >> 9) % 11 == 0) {
            g_string_append(s, ", \"items\": null");
        }
        g_string_append_printf(s, "}, \"%s\": null", pick(rng, names_keys, 3));
    } else {
        g_string_append_printf(s, ", \"%s\": null, \"%s\": [", pick(rng, nodes_keys, 3),
                               pick(rng, names_keys, 3));
        for (guint i = 0; i < n; i++) {
            if ((r >> (12 + i)) % 29 == 0) {
                g_string_append_printf(s, "%s7", i ? "," : "");
            } else {
                g_string_append_printf(s, "%s\"node-%u\"", i ? "," : "",
                                       (guint)(rng_next(rng) % 8));
            }
        }
        g_string_append(s, "]");
    }
    if ((r >> 20) % 9 == 0) {
        g_string_append(s, ", \"NodeNames\": null");
    }
    if ((r >> 24) % 9 == 0) {
        g_string_append(s, ", \"Nodes\": {\"items\": [{\"metadata\": {\"name\": \"late\"}}]}");
    }
    g_string_append(s, r & 1 ? "\n}\n" : "}");
    return g_string_free(s, FALSE);
}

static void test_decoder_random(void **state)
{
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    FpView *view = fp_view_new();
    GPtrArray *nodes = g_ptr_array_new();
    for (guint i = 0; i < 6; i++) {
        g_autofree char *name = g_strdup_printf("node-%u", i);
        FpNode *node = fp_node_new(name);
        fp_res_list_set(&node->allocatable, "nvidia.com/gpu", i);
        node->ready = true;
        g_hash_table_replace(node->labels, g_strdup("nvidia.com/gpu.product"),
                             g_strdup("NVIDIA-L4"));
        g_ptr_array_add(nodes, node);
    }
    fp_view_replace_nodes(view, nodes);
    const char *pod =
        "{\"metadata\": {\"name\": \"p\", \"namespace\": \"ns\", \"uid\": \"u\", \"annotations\":"
        " {\"flexplace.io/origin-region\": \"eastus\"}}, \"spec\": {\"containers\": [{\"name\":"
        " \"c\", \"resources\": {\"limits\": {\"nvidia.com/gpu\": \"1\"}}}]}}";
    guint64 rng = 12345;
    for (guint iter = 0; iter < 3000; iter++) {
        g_autofree char *body = random_args(&rng, pod);
        compare_decoders(body, strlen(body), policy, view);
        /* and a few truncations / byte flips of it */
        size_t len = strlen(body);
        for (guint k = 0; k < 3; k++) {
            g_autofree char *copy = g_strdup(body);
            size_t at = (size_t)(rng_next(&rng) % len);
            if (k == 0) {
                compare_decoders(copy, at, policy, view);
            } else {
                copy[at] = "{}[]\",:x0"[rng_next(&rng) % 9];
                compare_decoders(copy, len, policy, view);
            }
        }
    }
    fp_view_free(view);
}

/* Every prefix of a full-Node request is rejected with jansson's message. */
static void test_truncated_bodies(void **state)
{
    const char *body =
        "{\"Pod\":{\"metadata\":{\"name\":\"p\"},\"spec\":{}},\"Nodes\":{\"metadata\":{},"
        "\"items\":[{\"metadata\":{\"name\":\"a\\\"}\",\"labels\":{\"k\":\"\\u00e9\"}},"
        "\"status\":{\"allocatable\":{\"nvidia.com/gpu\":\"2\"},\"images\":[{\"names\":[\"x\"],"
        "\"sizeBytes\":1.5e3}]}}]},\"NodeNames\":null}";
    size_t len = strlen(body);
    for (size_t cut = 0; cut < len; cut++) {
        g_autoptr(GError) e1 = NULL;
        g_autoptr(GError) e2 = NULL;
        g_autoptr(FpExtenderArgs) a = fp_extender_args_parse(body, cut, &e1);
        json_t *v = fp_protocol_parse_json(body, cut, &e2);
        assert_null(a);
        assert_null(v);
        assert_string_equal(e1->message, e2->message);
        assert_true(g_str_has_prefix(e1->message, "invalid JSON at line"));
    }
    g_autoptr(GError) e = NULL;
    g_autoptr(FpExtenderArgs) whole = fp_extender_args_parse(body, len, &e);
    assert_non_null(whole);
    assert_string_equal(fp_extender_args_name(whole, 0), "a\"}");
}

/* Passing Nodes come back exactly as sent: formatting, escapes, key order
 * and fields flexplace does not read. */
static void test_echo_byte_exact(void **state)
{
    const char *items[] = {
        "{ \"metadata\" : {\"name\":\"n1\",\"labels\":{\"a\":\"\\u003cb\\u003e & \\ud83d\\ude00\","
        "\"nvidia.com/gpu.product\":\"NVIDIA-L4\"}},\n\"status\":{\"allocatable\":{\"nvidia.com/"
        "gpu\":\"4\"},\"images\":[{\"names\":[\"x}]\\\"\"],\"sizeBytes\":1.50E+3}],\"zzz\":null}}",
        "{\"metadata\":{\"name\":\"n2\"},\"status\":{\"allocatable\":{\"nvidia.com/gpu\":\"1\"},"
        "\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}",
        "{\"status\":{\"allocatable\":{\"nvidia.com/gpu\":8}},\"metadata\":{\"name\":\"n3\\u00e9\","
        "\"name\":\"n3\"},\"extra\":[1,2,{\"}\":\"{\"}]}",
    };
    GString *body = g_string_new("{\"Pod\":{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\"},"
                                 "\"spec\":{\"containers\":[{\"resources\":{\"limits\":"
                                 "{\"nvidia.com/gpu\":\"1\"}}}]}},\"Nodes\":{\"metadata\":{},"
                                 "\"items\":[");
    for (guint i = 0; i < G_N_ELEMENTS(items); i++) {
        g_string_append_printf(body, "%s%s", i ? " ,\n " : "", items[i]);
    }
    g_string_append(body, "]},\"NodeNames\":null}");
    g_autoptr(GError) error = NULL;
    g_autoptr(FpExtenderArgs) args = fp_extender_args_parse(body->str, body->len, &error);
    assert_non_null(args);
    assert_int_equal(fp_extender_args_count(args), 3);
    assert_string_equal(fp_extender_args_name(args, 2), "n3"); /* the last duplicate */
    FpVerdict v[3] = {{.pass = true},
                      {.pass = false, .reason = "node not ready", .unresolvable = true},
                      {.pass = true}};
    size_t len;
    g_autofree char *reply = fp_encode_filter_result(args, v, NULL, &len);
    GString *want = g_string_new("{\"Nodes\":{\"metadata\":{},\"items\":[");
    g_string_append_printf(want, "%s,%s", items[0], items[2]);
    g_string_append(want, "]},\"NodeNames\":null,\"FailedNodes\":{},"
                          "\"FailedAndUnresolvableNodes\":{\"n2\":\"node not ready\"},"
                          "\"Error\":\"\"}");
    assert_string_equal(reply, want->str);
    assert_int_equal(len, want->len);
    json_t *parsed = json_loadb(reply, len, 0, NULL); /* still one valid JSON value */
    assert_non_null(parsed);
    json_decref(parsed);
    g_string_free(want, TRUE);
    g_string_free(body, TRUE);
}

/* Key case and duplicates resolve as jansson + fp_protocol_member do. */
static void test_duplicate_keys(void **state)
{
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    FpView *view = fp_view_new();
    const char *pod = "{\"metadata\":{\"name\":\"p\"},\"spec\":{}}";
    const char *fmts[] = {
        "{\"Pod\":%s,\"pod\":{\"metadata\":{\"name\":\"q\"}},\"Pod\":%s,\"NodeNames\":[\"a\"]}",
        "{\"pod\":%s,\"Pod\":%s,\"NodeNames\":[\"a\"],\"nodenames\":[\"b\",\"c\"],"
        "\"NodeNames\":[\"d\"]}",
        "{\"Pod\":%s,\"Nodes\":{\"items\":[{\"metadata\":{\"name\":\"x\"}}]},\"nodes\":{\"items\""
        ":[{\"metadata\":{\"name\":\"y\"}}]},\"Nodes\":{\"items\":[{\"metadata\":{\"name\":\"z\"}}"
        "]},\"Pod\":%s}",
        "{\"Pod\":%s,\"nodes\":{\"items\":[{\"metadata\":{\"name\":\"y\"}}]},\"Nodes\":{\"items\":"
        "[{\"metadata\":{\"name\":\"z\"}}],\"items\":null},\"x\":%s}",
        "{\"Pod\":%s,\"Nodes\":{\"items\":[{\"metadata\":{\"name\":\"y\"},\"metadata\":{\"labels\""
        ":{}}}]},\"x\":%s}",
        "{\"Pod\":%s,\"Nodes\":{\"items\":[{\"metadata\":{\"name\":\"y\"},\"metadata\":5}]},"
        "\"x\":%s}",
        "{\"P\\u006fd\":%s,\"Node\\u004eames\":[\"a\",\"a\"],\"x\":%s}",
        "{\"Pod\":%s,\"NodeNames\":null,\"nodes\":null,\"x\":%s}",
        "[%s,%s]",
    };
    for (guint i = 0; i < G_N_ELEMENTS(fmts); i++) {
        /* each format has two %s, both the pod */
        g_auto(GStrv) parts = g_strsplit(fmts[i], "%s", 3);
        g_autofree char *body = g_strjoin(pod, parts[0], parts[1], parts[2], NULL);
        compare_decoders(body, strlen(body), policy, view);
    }
    fp_view_free(view);
}

/* The shared captures decode identically through both decoders. */
static void test_captures(void **state)
{
    static const char *const files[] = {
        "kube-scheduler-captures/nodecache-false/filter-001.json",
        "kube-scheduler-captures/nodecache-false/prioritize-002.json",
        "kube-scheduler-captures/nodecache-true/filter-001.json",
        "kube-scheduler-captures/bind-nodecache-false/filter-004.json",
    };
    char *first = fp_test_shared_data(files[0]);
    if (!first) {
        FP_SKIP("shared-data", "FP_SHARED_DATA not set or absent: the kube-scheduler captures");
    }
    g_free(first);
    g_autoptr(FpPolicy) policy = fp_policy_new_default();
    FpView *view = fp_view_new();
    for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *path = fp_test_shared_data(files[i]);
        size_t len;
        g_autofree char *body = fp_test_read_file(path, &len);
        compare_decoders(body, len, policy, view);
    }
    fp_view_free(view);
}

/* The decoded-Pod cache: the same Pod bytes give the same (shared) pod,
 * other bytes another, and a Pod that fails to decode is never kept. */
static void test_pod_cache(void **state)
{
    const char *a = "{\"Pod\":{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u1\"},"
                    "\"spec\":{\"containers\":[]}},\"NodeNames\":[\"n1\"]}";
    const char *b = "{\"Pod\":{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u2\"},"
                    "\"spec\":{\"containers\":[]}},\"NodeNames\":[\"n1\",\"n2\"]}";
    const char *bad = "{\"Pod\":{\"metadata\":{\"name\":7},\"spec\":{}},\"NodeNames\":[]}";
    g_autoptr(FpExtenderArgs) a1 = fp_extender_args_parse(a, strlen(a), NULL);
    g_autoptr(FpExtenderArgs) a2 = fp_extender_args_parse(a, strlen(a), NULL);
    g_autoptr(FpExtenderArgs) b1 = fp_extender_args_parse(b, strlen(b), NULL);
    assert_non_null(a1);
    assert_non_null(a2);
    assert_non_null(b1);
    assert_ptr_equal(a1->pod, a2->pod);
    assert_ptr_not_equal(a1->pod, b1->pod);
    assert_string_equal(a1->pod->uid, "u1");
    assert_string_equal(b1->pod->uid, "u2");
    for (int i = 0; i < 2; i++) {
        g_autoptr(GError) e = NULL;
        g_autoptr(FpExtenderArgs) x = fp_extender_args_parse(bad, strlen(bad), &e);
        assert_null(x);
        assert_non_null(e);
    }
}

int main(void)
{
    json_object_seed(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_cases),     cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_validate_mutations), cmocka_unit_test(test_decoder_random),
        cmocka_unit_test(test_truncated_bodies),   cmocka_unit_test(test_echo_byte_exact),
        cmocka_unit_test(test_duplicate_keys),     cmocka_unit_test(test_captures),
        cmocka_unit_test(test_pod_cache),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
