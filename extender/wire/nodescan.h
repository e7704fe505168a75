/*
 * extender/wire/nodescan.h - a validating, allocation-light scanner of
 * kube-scheduler's ExtenderArgs bodies.
 *
 * Purpose: the request path's fast alternative to building a jansson DOM of
 * the whole body.  One pass validates the body by exactly the rules of
 * jansson 2.14's json_loadb(flags 0) - the same bodies are accepted and
 * rejected: an object or array at the top, RFC 8259 grammar, strict UTF-8,
 * no \u0000 in strings or keys, paired surrogates only, integers that fit
 * in 64 bits, reals that do not overflow, nesting up to
 * JSON_PARSER_MAX_DEPTH - and on the way records byte ranges (FpSpan) of
 * only what a placement decision reads: the envelope's Pod, NodeNames and
 * Nodes (Go's case-insensitive field match with jansson's duplicate-key
 * semantics, as extender/wire/protocol.c's DOM path resolves them), and per item
 * of Nodes.items the whole item (to echo it byte for byte), metadata.name,
 * metadata.labels, metadata.resourceVersion, spec.unschedulable,
 * spec.taints, status.allocatable and status.conditions.  status.images,
 * managedFields and everything else are validated and skipped.
 * fp_nodescan_value then builds a jansson value from a recorded range (the
 * same value json_loadb would give), so cache/kobj.c decodes exactly what it
 * decodes from a DOM.
 *
 * Ownership: spans point into the caller's buffer, which must outlive them.
 * FpArgsScan owns its node table (fp_args_scan_clear).  Values returned by
 * fp_nodescan_value / fp_nodescan_node_json are new references.
 * Thread context: pure functions of their input, any thread.
 * Errors: the scanner only says valid or not (and where it stopped); callers
 * that need jansson's exact message re-parse the (rare) invalid body with
 * json_loadb.  Cost is linear in the body and bounded: recursion depth is
 * capped at JSON_PARSER_MAX_DEPTH, the node table at @max_nodes entries.
 */
#ifndef FP_EXTENDER_NODESCAN_H
#define FP_EXTENDER_NODESCAN_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

G_BEGIN_DECLS

/* A byte range of the scanned buffer; len 0 means absent. */
typedef struct {
    size_t off;
    size_t len;
} FpSpan;

/* One element of Nodes.items.  For a non-object element only @item is set.
 * For an object, each member span is the value of the last member with that
 * exact key (what json_object_get returns); the sub-member spans belong to
 * the recorded metadata/spec/status when that one is an object. */
typedef struct {
    FpSpan item;
    bool is_object;
    FpSpan metadata, spec, status;
    FpSpan name, labels, resource_version;
    FpSpan unschedulable, taints;
    FpSpan allocatable, conditions;
} FpScanNode;

typedef struct {
    bool root_is_object;
    /* Envelope members chosen as fp_protocol_member() chooses them. */
    FpSpan pod;
    FpSpan node_names;
    FpSpan nodes;
    /* Within the chosen Nodes (when it is an object): "items", and its
     * elements when it is an array. */
    FpSpan items;
    bool items_is_array;
    FpScanNode *node_tab;
    guint n_nodes;  /* elements of items (counted even past max_nodes) */
    bool truncated; /* more than max_nodes elements: node_tab holds none */
} FpArgsScan;

/* Validate @buf[0..len) by json_loadb's rules.  On failure *err_off (may be
 * NULL) is where the scanner stopped. */
bool fp_json_validate(const char *buf, size_t len, size_t *err_off);

/* Validate and scan an ExtenderArgs body.  FALSE when it is not valid JSON
 * (@out is then cleared).  At most @max_nodes node entries are recorded. */
bool fp_nodescan_args(const char *buf, size_t len, guint max_nodes, FpArgsScan *out);
void fp_args_scan_clear(FpArgsScan *scan);

/* The JSON value at @span of a validated buffer, as json_loadb with
 * JSON_DECODE_ANY would build it.  NULL only on out of memory. */
json_t *fp_nodescan_value(const char *buf, FpSpan span);

/* A Node object holding only the members cache/kobj.c reads
 * (fp_node_from_json gives the same node, or the same error, as for the
 * whole item).  New reference. */
json_t *fp_nodescan_node_json(const char *buf, const FpScanNode *node);

/* Decode the string token at @span (quotes included) of a validated buffer
 * into @dst, which has room for span.len bytes; returns the length written
 * (no NUL appended). */
size_t fp_nodescan_string(const char *buf, FpSpan span, char *dst);

/* Call @fn for each element span of the array at @span (validated buffer);
 * stops early when @fn returns FALSE.  Returns the number of elements
 * visited. */
guint fp_nodescan_array_foreach(const char *buf, FpSpan span,
                                gboolean (*fn)(FpSpan elem, guint index, void *data), void *data);

G_END_DECLS

#endif /* FP_EXTENDER_NODESCAN_H */
