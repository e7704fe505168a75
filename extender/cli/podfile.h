/*
 * extender/cli/podfile.h - pods for the dry-run CLI from manifest files.
 *
 * Purpose: `flexplace score` and `simulate` take what a workload owner has at
 * hand, YAML or JSON, several documents per file, and derive the pod(s) the
 * workload's controller or operator would create (extender/cli/README.md has
 * the table of kinds and what is read from each):
 *  - a Pod; Run:ai-style pods that ask GPUs through annotations (gpu-fraction,
 *    gpu-memory, nvidia.com/mig-<profile>) get the equivalent device request;
 *  - workloads with a pod template: Deployment, StatefulSet, ReplicaSet,
 *    ReplicationController, DaemonSet, Job, CronJob, and any other kind with
 *    spec.template.spec.containers (said in a note);
 *  - the model layer's kinds: LeaderWorkerSet (leader and workers, one
 *    group), KServe InferenceService and LLMInferenceService, KAITO
 *    Workspace and InferenceSet (preset or template; instanceType through
 *    the built-in GPU catalog), NVIDIA NIMService, KubeRay RayService and
 *    RayCluster (each GPU worker group).
 * A workload becomes pods named after it, in its namespace ("default" when
 * unset), owned by the workload (so replica spread sees one owner).
 * Documents of other kinds are skipped with a note naming the kind.
 *
 * A YAML error in the middle of a file keeps the documents before it: they
 * are used, and a note says so and where the error is; an error before any
 * usable document is an error.
 *
 * Ownership: items own their FpPod references and strings.
 * Errors: FP_PODFILE_ERROR with file:line:column.
 */
#ifndef FP_EXTENDER_PODFILE_H
#define FP_EXTENDER_PODFILE_H

#include <glib.h>
#include <jansson.h>

#include "cache/kobj.h"

G_BEGIN_DECLS

#define FP_PODFILE_ERROR (fp_podfile_error_quark())
GQuark fp_podfile_error_quark(void);
typedef enum { FP_PODFILE_ERROR_INVALID, FP_PODFILE_ERROR_EMPTY } FpPodfileError;

/* One derived pod and where it came from. */
typedef struct {
    FpPod *pod;
    /* "file:line:col (document 2): LeaderWorkerSet default/vllm, leader" */
    char *origin;
    /* Whether the origin says more than the pod's own name: a pod derived
     * from a workload, or one of several documents. */
    gboolean derived;
    /* Pods that must be placed together (a LeaderWorkerSet group): the same
     * non-zero id for every member of one group; 0 for a lone pod. */
    guint group;
    /* Pods of this template in one group (LWS workers: size - 1); 1 else. */
    guint copies;
    /* Replicas the workload declares (groups for an LWS); 0 when unsaid. */
    gint64 replicas;
} FpPodfileItem;

void fp_podfile_item_free(FpPodfileItem *item);

/* Items (FpPodfileItem*) of every document of @path ("-" reads standard
 * input).  @notes (may be NULL) receives human notes: skipped documents,
 * what was derived and assumed, a YAML error after usable documents.
 * Group ids are unique within one call. */
GPtrArray *fp_podfile_load_items(const char *path, GPtrArray *notes, GError **error);

/* The same from a buffer (@name for messages). */
GPtrArray *fp_podfile_parse_items(const char *buf, gsize len, const char *name, GPtrArray *notes,
                                  GError **error);

/* The pods (FpPod*) of fp_podfile_load_items(), one per template. */
GPtrArray *fp_podfile_load(const char *path, GPtrArray *notes, GError **error);

/* The v1.Pod JSON the operator of @doc would create, one per template
 * (json_t*, owned), for tests and the fuzzer; NULL with a note in @notes
 * when @doc yields none. */
GPtrArray *fp_podfile_derive(json_t *doc, GPtrArray *notes);

G_END_DECLS

#endif
