/*
 * cache/yamljson.h - read YAML or JSON documents into jansson trees, keeping
 * the line and column of every value.
 *
 * Purpose: every file flexplace reads from a user (policies, snapshots, pod
 * manifests, kubeconfigs) may be YAML or JSON, possibly several documents
 * ("---").  This turns them into json_t trees (YAML 1.1 core scalars: quoted
 * scalars stay strings; plain scalars become null, bool, integer, real or
 * string by the usual resolution rules; anchors and aliases are resolved with
 * a bound on expansion) and records where each value started, so validators
 * can say "policy.yaml:12:5: profiles.default.weights.latency: ...".
 * Duplicate mapping keys are an error.  Input size and nesting depth are
 * bounded.
 *
 * Scalar resolution (plain, untagged scalars; decided here, stricter than
 * YAML 1.1 where 1.1 surprises people):
 *   null:   empty, ~, null, Null, NULL
 *   bool:   true, True, TRUE, false, False, FALSE only (as YAML 1.2 core;
 *           yes/no/on/off/y/n stay strings)
 *   int:    [-+]?[0-9]+ decimal, 0x[0-9a-fA-F]+ hex, 0o[0-7]+ octal, and
 *           YAML 1.1 / Kubernetes-style octal 0[0-7]+ (defaultMode: 0644 is
 *           420); other leading-zero digit strings ("08") stay strings
 *   float:  [-+]?(.[0-9]+|[0-9]+(.[0-9]*)?)([eE][-+]?[0-9]+)?
 *   .inf, .nan and friends stay strings (JSON has no such numbers), so a
 *   validator asking for a number reports them as "not a number".
 *   Integers outside int64 and floats that overflow are errors (as in
 *   jansson).  Quoted and block scalars are always strings.  Tags !!str,
 *   !!int, !!float, !!bool, !!null are honoured (a value that does not fit
 *   its tag is an error); the non-specific tag "!" means string; other tags
 *   are ignored.  Mapping keys are the scalar's text; mapping, sequence and
 *   alias keys are errors.  YAML merge keys ("<<: *anchor", or a list of
 *   them) are supported: keys written in the mapping win, then earlier merge
 *   sources.  Documents whose root is null (empty, "~", "null") are skipped.
 *   Aliases share the anchored json_t (json_incref): treat trees as
 *   read-only.  The values expanded through aliases are capped
 *   (billion-laughs safe) and nesting is capped at FP_YAML_MAX_DEPTH.
 *
 * Ownership: FpDocs owns its trees; fp_docs_free releases them.  Positions are
 * looked up by json_t pointer and valid while the FpDocs lives.
 * Thread context: any thread; one FpDocs is not shared between threads.
 */
#ifndef FP_CACHE_YAMLJSON_H
#define FP_CACHE_YAMLJSON_H

#include <glib.h>
#include <jansson.h>
#include <stddef.h>

G_BEGIN_DECLS

#define FP_YAML_ERROR (fp_yaml_error_quark())
GQuark fp_yaml_error_quark(void);
typedef enum {
    FP_YAML_ERROR_SYNTAX,    /* message carries line:column */
    FP_YAML_ERROR_DUPLICATE, /* duplicate mapping key, with line:column */
    FP_YAML_ERROR_LIMIT,     /* too large, too deep, alias bomb */
    FP_YAML_ERROR_IO,
} FpYamlError;

#define FP_YAML_MAX_DEPTH 64

typedef struct FpDocs FpDocs;

/* Parse a buffer. @name is used in messages ("policy.yaml").  JSON is YAML,
 * so one parser serves both.  Empty documents are skipped. */
FpDocs *fp_docs_parse(const char *buf, size_t len, const char *name, GError **error);
/* Read and parse a file, refusing files larger than @max_bytes. */
FpDocs *fp_docs_load_file(const char *path, size_t max_bytes, GError **error);
/* As the two above, but an error in the middle of the stream keeps the
 * documents completed before it: the result is non-NULL whenever the input
 * could be read (possibly with no documents) and *error says where parsing
 * stopped; the document being read at the error and everything after it
 * are lost.  NULL (with *error) only when the file cannot be read. */
FpDocs *fp_docs_parse_partial(const char *buf, size_t len, const char *name, GError **error);
FpDocs *fp_docs_load_file_partial(const char *path, size_t max_bytes, GError **error);
void fp_docs_free(FpDocs *docs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpDocs, fp_docs_free)

guint fp_docs_count(const FpDocs *docs);
/* Borrowed document root. */
json_t *fp_docs_get(const FpDocs *docs, guint index);
const char *fp_docs_name(const FpDocs *docs);
/* Position (1-based) of a value inside one of the trees; FALSE if unknown. */
gboolean fp_docs_position(const FpDocs *docs, const json_t *value, guint *line, guint *column);
/* Position (1-based) where the key @key of mapping @object was written;
 * FALSE if unknown.  Added because jansson's null, true and false are shared
 * singletons with no position of their own: for those, and for "unknown key"
 * messages, point at the key instead. */
gboolean fp_docs_key_position(const FpDocs *docs, const json_t *object, const char *key,
                              guint *line, guint *column);

/* Words for the type of @v in a message ("expected a number, got a list"):
 * FP_WORDS_YAML says "a mapping" and "a list" (policies, written in YAML),
 * FP_WORDS_JSON "an object" and "an array" (Kubernetes objects). */
typedef enum { FP_WORDS_YAML, FP_WORDS_JSON } FpTypeWords;
const char *fp_json_type_name(const json_t *v, FpTypeWords words);

G_END_DECLS

#endif /* FP_CACHE_YAMLJSON_H */
