/*
 * test/fuzz/fuzz_nodescan.c - the full-Node fast path (extender/wire/nodescan.c)
 * against jansson, differentially.
 *
 * Input: any bytes, typically an ExtenderArgs body in nodeCacheCapable:false
 * form.  The scanner claims to accept exactly what json_loadb(flags 0)
 * accepts, to pick the envelope members fp_protocol_member picks, and to
 * rebuild each recorded range as the value jansson builds; and a Node rebuilt
 * from its recorded members must decode (cache/kobj.c) to the same node, or
 * the same failure, as the whole item.  Any disagreement aborts.
 */
#include <jansson.h>
#include <string.h>

#include "cache/kobj.h"
#include "extender/wire/nodescan.h"
#include "extender/wire/protocol.h"
#include "test/fuzz/fuzz.h"

#define MAX_NODES 64

/* The scanned range @span rebuilt as a value must equal @dom (both absent
 * when the span is empty). */
static void check_span(const char *buf, FpSpan span, const json_t *dom)
{
    FP_FUZZ_CHECK((span.len > 0) == (dom != NULL));
    if (dom) {
        json_t *v = fp_nodescan_value(buf, span);
        FP_FUZZ_CHECK(v != NULL);
        FP_FUZZ_CHECK(json_equal(v, (json_t *)dom));
        json_decref(v);
    }
}

static gboolean same_res(const FpResList *a, const FpResList *b)
{
    if (a->len != b->len) {
        return FALSE;
    }
    for (guint i = 0; i < a->len; i++) {
        if (fp_res_list_get(b, a->items[i].name) != a->items[i].value) {
            return FALSE;
        }
    }
    return TRUE;
}

static void check_node(const char *buf, const FpScanNode *sn, const json_t *item)
{
    check_span(buf, sn->item, item);
    FP_FUZZ_CHECK(sn->is_object == json_is_object(item));
    if (!sn->is_object) {
        return;
    }
    json_t *slim = fp_nodescan_node_json(buf, sn);
    FP_FUZZ_CHECK(slim != NULL);
    GError *e1 = NULL, *e2 = NULL;
    FpNode *fast = fp_node_from_json(slim, &e1);
    FpNode *full = fp_node_from_json(item, &e2);
    FP_FUZZ_CHECK((fast == NULL) == (full == NULL));
    if (fast) {
        FP_FUZZ_CHECK(strcmp(fast->name, full->name) == 0);
        FP_FUZZ_CHECK(g_hash_table_size(fast->labels) == g_hash_table_size(full->labels));
        FP_FUZZ_CHECK(fast->unschedulable == full->unschedulable);
        FP_FUZZ_CHECK(fast->ready == full->ready);
        FP_FUZZ_CHECK(fast->n_taints == full->n_taints);
        FP_FUZZ_CHECK(same_res(&fast->allocatable, &full->allocatable));
        FP_FUZZ_CHECK(g_strcmp0(fast->resource_version, full->resource_version) == 0);
        fp_node_unref(fast);
        fp_node_unref(full);
    } else {
        FP_FUZZ_CHECK(e1 != NULL && e2 != NULL);
        FP_FUZZ_CHECK(e1->code == e2->code);
        FP_FUZZ_CHECK(strcmp(e1->message, e2->message) == 0);
    }
    g_clear_error(&e1);
    g_clear_error(&e2);
    json_decref(slim);
}

typedef struct {
    const char *buf;
    const json_t *array;
} NamesCheck;

static gboolean check_name(FpSpan elem, guint index, void *data)
{
    NamesCheck *nc = data;
    const json_t *v = json_array_get(nc->array, index);
    FP_FUZZ_CHECK(v != NULL);
    if (json_is_string(v)) {
        char *dst = g_malloc(elem.len + 1);
        size_t n = fp_nodescan_string(nc->buf, elem, dst);
        FP_FUZZ_CHECK(n == json_string_length(v));
        FP_FUZZ_CHECK(memcmp(dst, json_string_value(v), n) == 0);
        g_free(dst);
    }
    return TRUE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fp_fuzz_init();
    const char *buf = (const char *)data;
    size_t err_off = 0;
    bool valid = fp_json_validate(buf, size, &err_off);
    json_error_t jerr;
    json_t *root = json_loadb(buf, size, 0, &jerr);
    FP_FUZZ_CHECK(valid == (root != NULL));
    FP_FUZZ_CHECK(valid || err_off <= size);

    FpArgsScan scan;
    bool scanned = fp_nodescan_args(buf, size, MAX_NODES, &scan);
    FP_FUZZ_CHECK(scanned == valid);
    if (!root) {
        return 0;
    }
    FP_FUZZ_CHECK(scan.root_is_object == json_is_object(root));
    if (json_is_object(root)) {
        const json_t *pod = fp_protocol_member(root, "Pod");
        const json_t *names = fp_protocol_member(root, "NodeNames");
        const json_t *nodes = fp_protocol_member(root, "Nodes");
        check_span(buf, scan.pod, pod);
        check_span(buf, scan.node_names, names);
        check_span(buf, scan.nodes, nodes);
        if (json_is_array(names)) {
            NamesCheck nc = {buf, names};
            guint n = fp_nodescan_array_foreach(buf, scan.node_names, check_name, &nc);
            FP_FUZZ_CHECK(n == json_array_size(names));
        }
        if (json_is_object(nodes)) {
            const json_t *items = json_object_get(nodes, "items");
            check_span(buf, scan.items, items);
            FP_FUZZ_CHECK(scan.items_is_array == json_is_array(items));
            if (json_is_array(items)) {
                FP_FUZZ_CHECK(scan.n_nodes == json_array_size(items));
                FP_FUZZ_CHECK(scan.truncated == (scan.n_nodes > MAX_NODES));
                for (guint i = 0; !scan.truncated && i < scan.n_nodes; i++) {
                    check_node(buf, &scan.node_tab[i], json_array_get(items, i));
                }
            }
        }
    }
    fp_args_scan_clear(&scan);
    json_decref(root);

    /* The whole decoder (scanner path, DOM fallback) never crashes either. */
    GError *error = NULL;
    FpExtenderArgs *args = fp_extender_args_parse(buf, size, &error);
    if (args) {
        fp_extender_args_free(args);
    } else {
        g_clear_error(&error);
    }
    return 0;
}
