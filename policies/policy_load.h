/*
 * policies/policy_load.h - read, merge and validate PlacementPolicy
 * documents into an FpPolicy.
 *
 * Purpose: turn what a user wrote (a YAML or JSON file, a mounted ConfigMap
 * directory, or a ConfigMap manifest) into the immutable FpPolicy the
 * scoring engine reads, or into a list of EVERY problem found, each as
 * "file:line:column: key.path: message" (sorted by file, line, column).
 *
 * Ownership: the returned policy is a new reference (generation 0, source =
 * the path or name); the report's arrays are owned by the report.
 * Thread context: any thread; no shared state.  Errors: a NULL policy and a
 * non-empty report->errors; I/O and YAML syntax problems are reported the
 * same way ("dir/a.yaml:3:1: found character that cannot start any token").
 * Cost is bounded: FP_POLICY_MAX_FILE_BYTES per file, FP_POLICY_MAX_TOTAL_BYTES
 * and FP_POLICY_MAX_FILES in all, FP_POLICY_MAX_REGIONS regions, and at most
 * FP_POLICY_MAX_ERRORS messages (then "... and N more errors").
 *
 * Inputs: a file (one YAML or JSON document), a directory (a mounted
 * ConfigMap: its *.yaml, *.yml and *.json files merged in name order) or a
 * ConfigMap manifest (each data key one file).  The document's schema, the
 * defaults, the merge rule and the latency-matrix rules are documented once,
 * in policies/README.md ("Reference", "Files, directories and ConfigMaps");
 * this loader implements exactly that page.
 */
#ifndef FP_POLICIES_POLICY_LOAD_H
#define FP_POLICIES_POLICY_LOAD_H

#include <glib.h>
#include <stddef.h>

#include "scoring/placement_policy.h"

G_BEGIN_DECLS

#define FP_POLICY_API_VERSION "flexplace.io/v1alpha1"
#define FP_POLICY_KIND "PlacementPolicy"

#define FP_POLICY_MAX_FILE_BYTES ((size_t)1 << 20)
#define FP_POLICY_MAX_TOTAL_BYTES ((size_t)4 << 20)
#define FP_POLICY_MAX_FILES 64
#define FP_POLICY_MAX_REGIONS 256
#define FP_POLICY_MAX_ERRORS 100

/* What a load found besides the policy. */
typedef struct {
    GPtrArray *errors;  /* char*: "file:line:column: key.path: message" */
    GPtrArray *notes;   /* char*: informational ("dir/README.md: skipped ...") */
    GPtrArray *sources; /* char*: the files (or ConfigMap keys) read, in merge order */
} FpPolicyReport;

FpPolicyReport *fp_policy_report_new(void);
void fp_policy_report_free(FpPolicyReport *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpPolicyReport, fp_policy_report_free)

/* All errors joined by @sep (e.g. "\n" or "; "); "" when there are none.
 * Newly allocated. */
char *fp_policy_report_join_errors(const FpPolicyReport *report, const char *sep);

/* Load a file (a policy or a ConfigMap manifest) or a directory.  @report
 * may be NULL; when given it is filled (it should be new or empty).
 * Returns a new policy, or NULL when anything is wrong. */
FpPolicy *fp_policy_load_path(const char *path, FpPolicyReport *report);

/* Load one buffer (a policy document or a ConfigMap manifest) named @name
 * in messages, e.g. "<stdin>".  Same contract as fp_policy_load_path. */
FpPolicy *fp_policy_load_buffer(const char *buf, size_t len, const char *name,
                                FpPolicyReport *report);

G_END_DECLS

#endif /* FP_POLICIES_POLICY_LOAD_H */
