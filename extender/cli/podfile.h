/*
 * extender/cli/podfile.h - pods for the dry-run CLI from manifest files.
 *
 * Purpose: `flexplace score` and `simulate` take what a workload owner has at
 * hand: a Pod, or a workload that carries a pod template (Deployment,
 * StatefulSet, ReplicaSet, ReplicationController, DaemonSet, Job, CronJob,
 * LeaderWorkerSet, KServe InferenceService predictor), YAML or JSON, several
 * documents per file.  A workload becomes one Pod named after it, in its
 * namespace ("default" when unset), owned by the workload (so replica spread
 * sees one owner).  Documents of other kinds are skipped with a note.
 *
 * Ownership: the returned array owns its FpPod references.
 * Errors: FP_PODFILE_ERROR with file:line:column.
 */
#ifndef FP_EXTENDER_PODFILE_H
#define FP_EXTENDER_PODFILE_H

#include <glib.h>

G_BEGIN_DECLS

#define FP_PODFILE_ERROR (fp_podfile_error_quark())
GQuark fp_podfile_error_quark(void);
typedef enum { FP_PODFILE_ERROR_INVALID, FP_PODFILE_ERROR_EMPTY } FpPodfileError;

/* Pods (FpPod*) of every document of @path ("-" reads standard input).
 * @notes (may be NULL) receives human notes about skipped documents. */
GPtrArray *fp_podfile_load(const char *path, GPtrArray *notes, GError **error);

G_END_DECLS

#endif
