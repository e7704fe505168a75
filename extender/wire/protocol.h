/*
 * extender/wire/protocol.h - kube-scheduler's extender v1 wire format.
 *
 * Purpose: decode ExtenderArgs, ExtenderBindingArgs and ExtenderPreemptionArgs
 * exactly as kube-scheduler sends them (Go field names, matched
 * case-insensitively with an exact match preferred, as Go's encoding/json
 * does; null wherever a value is empty), and encode ExtenderFilterResult,
 * HostPriorityList, ExtenderBindingResult and ExtenderPreemptionResult with
 * the exact PascalCase names.  This file and cache/kobj.c are the only JSON
 * code on the request path.
 *
 * Ownership: decoded structs own everything they point to (fp_*_args_free).
 * Encoders return g_malloc'ed compact JSON.
 * Thread context: any thread.
 */
#ifndef FP_EXTENDER_PROTOCOL_H
#define FP_EXTENDER_PROTOCOL_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "extender/wire/nodescan.h"
#include "scoring/engine.h"
#include "scoring/model.h"

G_BEGIN_DECLS

#define FP_PROTOCOL_ERROR (fp_protocol_error_quark())
GQuark fp_protocol_error_quark(void);
typedef enum {
    FP_PROTOCOL_ERROR_JSON,  /* not JSON; message has line:column */
    FP_PROTOCOL_ERROR_SHAPE, /* JSON of the wrong shape; message names the key */
    FP_PROTOCOL_ERROR_LIMIT, /* more nodes than allowed, JSON nested too deep */
} FpProtocolError;

/* Largest node list accepted in one request (kube-scheduler sends at most
 * every node of the cluster; Kubernetes supports 5,000). */
#define FP_PROTOCOL_MAX_NODES 100000

/* ExtenderArgs (filter and prioritize).
 *
 * Decoding (fp_extender_args_parse) scans the body with extender/wire/nodescan.h
 * instead of building a DOM of it: the body is validated by jansson's rules,
 * only the Pod, the names and, per Node, the members a decision reads are
 * decoded, and a passing Node is echoed from its bytes in the body.  Should
 * the scanner ever reject a body jansson accepts, the DOM decoder is used
 * (and a warning logged once), so the answer never depends on the scanner. */
typedef struct {
    FpPod *pod;
    /* Exactly one of the two node forms is set. */
    char **node_names; /* nodeCacheCapable: true (NULL-terminated), else NULL */
    guint n_names;
    GPtrArray *nodes;     /* nodeCacheCapable: false: FpNode* (owned refs), else NULL */
    json_t *node_items;   /* DOM decoder only: Nodes.items (borrowed from root) */
    json_t *root;         /* DOM decoder only: the parsed request (owned) */
    const char *body;     /* the request body (borrowed: must outlive the args) */
    FpSpan *item_spans;   /* scanner: each node's bytes in @body, for echoing */
    char *names_arena;    /* scanner: the decoded names */
    bool unique_names;    /* no candidate name repeats (replies are then written directly) */
    guint32 *name_hashes; /* fp_view_name_hash of each candidate's name */
} FpExtenderArgs;

/* Parse an ExtenderArgs body.  @body must outlive the result (passing Nodes
 * are echoed from it). */
FpExtenderArgs *fp_extender_args_parse(const char *body, size_t len, GError **error);
/* The reference decoder: a jansson DOM of the whole body (the fallback of
 * fp_extender_args_parse, and what tests compare the scanner against). */
FpExtenderArgs *fp_extender_args_parse_dom(const char *body, size_t len, GError **error);
void fp_extender_args_free(FpExtenderArgs *args);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpExtenderArgs, fp_extender_args_free)
/* Number of candidate nodes in either form. */
guint fp_extender_args_count(const FpExtenderArgs *args);
/* Name of candidate @i in either form. */
const char *fp_extender_args_name(const FpExtenderArgs *args, guint i);

/* ExtenderFilterResult for @args given one verdict per candidate (in order).
 * @error_text: request-level failure (sets Error, nothing passes); NULL if none. */
char *fp_encode_filter_result(const FpExtenderArgs *args, const FpVerdict *verdicts,
                              const char *error_text, size_t *len);
/* The same answer (byte for byte) when a short list applied
 * (FpPlacement.listed_idx): @listed holds the indices of the @n_listed
 * verdicts on the answer, in increasing order, and every other verdict is
 * omitted, so only those are read. */
char *fp_encode_filter_listed(const FpExtenderArgs *args, const FpVerdict *verdicts,
                              const guint *listed, guint n_listed, size_t *len);
/* HostPriorityList: one entry per candidate, scores clamped to 0..10. */
char *fp_encode_priorities(const FpExtenderArgs *args, const FpVerdict *verdicts, size_t *len);
/* The same from scores (0..10) given per candidate, in @args' order. */
char *fp_encode_priority_scores(const FpExtenderArgs *args, const guint8 *scores, size_t *len);

/* ExtenderBindingArgs. */
typedef struct {
    char *pod_name;
    char *pod_namespace;
    char *pod_uid;
    char *node;
} FpBindingArgs;

FpBindingArgs *fp_binding_args_parse(const char *body, size_t len, GError **error);
void fp_binding_args_free(FpBindingArgs *args);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpBindingArgs, fp_binding_args_free)
/* {"Error":"..."}; "" on success. */
char *fp_encode_binding_result(const char *error_text, size_t *len);

/* Parse @body (jansson refuses nesting deeper than 2048), for JSON routes. */
json_t *fp_protocol_parse_json(const char *body, size_t len, GError **error);
/* Member of @obj by Go's encoding/json rule: every key equal to @name ignoring
 * ASCII case sets the field, so the last such key wins.  Borrowed; NULL when
 * absent. */
json_t *fp_protocol_member(const json_t *obj, const char *name);

G_END_DECLS

#endif /* FP_EXTENDER_PROTOCOL_H */
