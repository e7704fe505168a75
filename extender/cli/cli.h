/*
 * extender/cli/cli.h - what the dry-run commands (score, simulate) share: where
 * the cluster view comes from, the policy, the pod files, and how a
 * placement is printed.
 *
 * Ownership: FpCli owns its view, policy and pods; fp_cli_free releases them.
 * Thread context: main thread of a CLI process.
 */
#ifndef FP_EXTENDER_CLI_H
#define FP_EXTENDER_CLI_H

#include <glib.h>
#include <jansson.h>
#include <stdio.h>

#include "cache/view.h"
#include "cache/kube_client.h"
#include "cache/placement.h"
#include "extender/cli/podfile.h"

G_BEGIN_DECLS

typedef enum { FP_OUT_TABLE, FP_OUT_WIDE, FP_OUT_JSON } FpOutput;

typedef struct {
    /* options */
    char *policy_path;
    char *cluster_file;
    gboolean demo;
    char *kubeconfig;
    char *context;
    char **pod_files;
    char *output;
    /* loaded state */
    FpOutput format;
    FpView *view;
    FpPolicy *policy;
    GPtrArray *pods;  /* FpPod* */
    GPtrArray *items; /* FpPodfileItem*, parallel to pods: where each came from */
    char *view_source;
    FpKubeClient *client; /* live mode only */
    /* FpPoolTemplate*: Karpenter NodePools, listed from the live cluster or
     * read from the cluster file (--cluster, --demo) */
    GPtrArray *nodepools;
    GPtrArray *file_nodepools; /* FpSnapshotObject*: the file's, until parsed */
} FpCli;

/* The option entries for the fields above (terminated); @cli must outlive
 * the option context. */
GOptionEntry *fp_cli_option_entries(FpCli *cli);
/* Validate options, load the view, the policy and the pods.  Prints errors
 * to stderr and returns an exit code (0 = loaded). */
int fp_cli_load(FpCli *cli, const char *command);

/* @text as it may be printed to a terminal: input files can carry control
 * characters (an escape sequence in a kind or a name), so each control
 * character becomes \xNN (\uNNNN above U+00FF) and invalid UTF-8 becomes
 * U+FFFD.  Newly allocated; NULL reads as "". */
char *fp_cli_printable(const char *text);
void fp_cli_free(FpCli *cli);

/* The pod file item of @pod (where it came from: "file:line:col
 * (document N): Kind ns/name"; its group and copies), or NULL. */
const FpPodfileItem *fp_cli_pod_item(const FpCli *cli, const FpPod *pod);

/* Evaluate @pod on every node of the view with kube-scheduler's checks. */
FpPlacement *fp_cli_place(FpCli *cli, const FpPod *pod);

/* The pools that can grow (cache/pool_templates.h): the NodePools (the
 * live cluster's, or those of the cluster file: a NodePool that does not
 * parse was skipped with a note on stderr), then the policy's
 * poolTemplates, growth judged against the view.  A new array of FpOffer. */
GArray *fp_cli_templates(const FpCli *cli);

/* Print one placement as a ranked table (wide adds columns). */
void fp_cli_print_table(FILE *out, const FpCli *cli, const FpPod *pod, const FpPlacement *p,
                        bool wide);
/* One placement as a JSON object (new reference); extender/cli/README.md shows the
 * schema. */
json_t *fp_cli_placement_json(const FpCli *cli, const FpPod *pod, const FpPlacement *p);

G_END_DECLS

#endif
