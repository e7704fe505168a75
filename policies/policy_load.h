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
 * ---- Inputs ------------------------------------------------------------
 *
 * A file: one YAML or JSON document, a mapping.  An empty file is an error
 * (write "{}" for all defaults), as is a file with several documents.
 *
 * A directory (a ConfigMap mounted as a volume): the regular files directly
 * inside whose names do not start with '.' (so kubelet's "..data" and
 * "..2026_..." entries are skipped; symlinks are followed) and end in .yaml,
 * .yml or .json, in byte order of their names; other files are skipped with
 * a note.  Merge rule: the documents' mappings merge key by key,
 * recursively; any other value (a scalar or a list, e.g. "pools" or
 * "profiles.x.weights.latency") may be set by one file only; a second file
 * setting it is an error naming both files.  apiVersion, kind and metadata
 * belong to each file: checked per file, never merged.
 *
 * A ConfigMap manifest (a file whose one document has kind: ConfigMap):
 * each key of "data" is one file, with the directory's name rule and merge
 * rule (keys in byte order); binaryData is ignored with a note.  When a value
 * is written as a literal block scalar ("policy.yaml: |"), messages point
 * at lines and columns of the manifest itself.
 *
 * ---- The document ------------------------------------------------------
 *
 * Unknown keys are errors at every level (with a "did you mean" hint).
 * Numbers must be JSON/YAML numbers (not quoted strings) and finite.  A
 * section left empty (null) means its default.
 *
 *  key                        type / range              default and meaning
 *  apiVersion                 string                    optional; when present
 *                                                       must be flexplace.io/v1alpha1
 *  kind                       string                    optional; when present
 *                                                       must be PlacementPolicy
 *  metadata                   mapping                   optional, ignored
 *  gpuResources               list of 1..32 resource    [nvidia.com/gpu, amd.com/gpu];
 *                             names, distinct           nvidia.com/mig-* resources count
 *                                                       as GPUs when nvidia.com/gpu is listed
 *  nodeLabels.<fact>          label key, or a list of   tried in order; facts and defaults:
 *                             1..16 label keys
 *      pool          [flexplace.io/pool, karpenter.sh/nodepool, kubernetes.azure.com/agentpool,
 *                     eks.amazonaws.com/nodegroup, cloud.google.com/gke-nodepool]
 *      region        [topology.kubernetes.io/region, failure-domain.beta.kubernetes.io/region]
 *      zone          [topology.kubernetes.io/zone, failure-domain.beta.kubernetes.io/zone]
 *      gpuProduct    [nvidia.com/gpu.product]
 *      gpuMemory     [nvidia.com/gpu.memory]          (value in MiB)
 *      instanceType  [node.kubernetes.io/instance-type, beta.kubernetes.io/instance-type]
 *      capacityType  [karpenter.sh/capacity-type, eks.amazonaws.com/capacityType,
 *                     kubernetes.azure.com/scalesetpriority, cloud.google.com/gke-spot]
 *  skus.<product>             mapping; <product> is the exact nvidia.com/gpu.product value.
 *                             Merged over the built-in table: a built-in product keeps
 *                             the facts not written here.
 *      memoryGiB              number > 0                built-in, else unknown
 *      relativeThroughput     number > 0                built-in, else 1.0
 *      pricePerGPUHour        number >= 0 (USD)         built-in, else unknown
 *  pools                      list of mappings          none
 *      name                   string, required,         the pool label value
 *                             distinct
 *      pricePerGPUHour        number >= 0               the SKU's price
 *      maxUtilization         number in (0, 1]          1.0 (burst ceiling)
 *      cloud                  string                    none (e.g. aws, azure, gcp)
 *  regions.latencyMs          mapping region ->         none; round trip in ms,
 *                             mapping region -> ms      0 <= ms <= 600000
 *  regions.defaultLatencyMs   number >= 0               150 (a pair the matrix lacks)
 *  regions.sameRegionLatencyMs number >= 0              2
 *  defaultPricePerGPUHour     number >= 0               4.0 (neither pool nor SKU knows)
 *  profiles.<name>            mapping                   "default" is built in (weights
 *                                                       latency 3, cost 2, headroom 3,
 *                                                       packing 1, sku 1, spread 2; no
 *                                                       limits); a profile written here
 *                                                       replaces a built-in one entirely
 *      weights.<term>         number 0..1000            REQUIRED; terms latency, cost,
 *                                                       headroom, packing, sku, spread;
 *                                                       a term not written weighs 0; at
 *                                                       least one weight > 0
 *      maxLatencyMs           number >= 0               no limit
 *      maxPricePerGPUHour     number >= 0               no limit
 *      minGPUMemory           quantity >= 1Mi           no limit ("40Gi"; a bare number
 *                                                       is bytes, as in Kubernetes)
 *      packing                binpack | spread          binpack
 *      cost                   perGPUHour | perWork      perGPUHour
 *      allowedSKUs            list of products          any product (a final "-MIG-*"
 *                                                       matches every MIG profile)
 *      skuPreference          list of products          none; most preferred first
 *      originRegions          "eastus=3,westeurope=1",  none; where requests come from
 *                             a list ["eastus=3",       (weight 1 when omitted), as the
 *                             "westeurope"] or a map    flexplace.io/origin-region
 *                             {eastus: 3}               annotation; at most 64
 *      minSpreadPools         integer 0..1000           0 (off)
 *  namespaces.<namespace>     profile name              none
 *  defaultProfile             profile name              default
 *
 * Names: regions are lowercase label values (a-z 0-9 '-' '_' '.', at most
 * 63); products, pools and profiles are label values (also A-Z); label
 * keys and resources are Kubernetes qualified names ("prefix/name").
 *
 * Latency matrix rules: the matrix is symmetric.  A pair may be written in
 * one direction or both; when both are written and differ by more than
 * max(5 ms, 20% of the larger) that is an error, otherwise their mean is
 * used.  Every two distinct regions named in the matrix (as a row or a
 * column) need a value in at least one direction (the error lists the first
 * 10 missing pairs and how many more).  A region may be paired with itself
 * (its intra-region round trip) but not above its smallest round trip to
 * another region; unpaired, sameRegionLatencyMs applies.  At most
 * FP_POLICY_MAX_REGIONS regions.  When a matrix is given, every region in a
 * profile's originRegions must appear in it.
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
