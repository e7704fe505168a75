/*
 * cache/kubeconfig.h - where the Kubernetes API server is and how to prove
 * who we are: a kubeconfig file, or the in-cluster service account.
 *
 * Purpose: turn a kubeconfig (YAML or JSON, read through cache/yamljson.h)
 * or the pod's service-account mount into one plain FpKubeConfig that
 * cache/kube_client.h turns into configured curl handles.
 *
 * Supported: server URL; CA as a file or inline PEM
 * (certificate-authority-data); bearer token inline or as a file (tokenFile,
 * and the in-cluster projected token, which rotates: kube_client re-reads
 * it); client certificate and key as files or inline PEM (*-data fields are
 * base64 and decoded here); insecure-skip-tls-verify; tls-server-name;
 * the context's namespace.  Relative paths in a kubeconfig are relative to
 * the directory of that file.  Not supported, with an error that says what
 * to use instead: users with `exec` or `auth-provider` (cloud login
 * plugins), username/password, and proxy-url.
 *
 * File selection (fp_kubeconfig_load): the path argument; else $KUBECONFIG,
 * where the FIRST EXISTING file of a ':'-separated list is used (kubectl
 * merges all of them; flexplace does not - point --kubeconfig at the file
 * you mean when that matters); else ~/.kube/config.
 *
 * Ownership: FpKubeConfig owns every string and GBytes in it;
 * fp_kubeconfig_free releases all.  fp_kubeconfig_copy makes a deep copy.
 * Thread context: any thread; a config is plain data and is not changed
 * after loading.
 * Errors: FP_KUBECONFIG_ERROR; messages name the file and the entry, e.g.
 * `context "x" not found in /home/me/.kube/config`.
 */
#ifndef FP_CACHE_KUBECONFIG_H
#define FP_CACHE_KUBECONFIG_H

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

#define FP_KUBECONFIG_ERROR (fp_kubeconfig_error_quark())
GQuark fp_kubeconfig_error_quark(void);
typedef enum {
    FP_KUBECONFIG_ERROR_NOT_FOUND,      /* no file, or a named context/cluster/user is missing */
    FP_KUBECONFIG_ERROR_INVALID,        /* malformed document or field */
    FP_KUBECONFIG_ERROR_UNSUPPORTED,    /* exec / auth-provider / basic auth / proxy */
    FP_KUBECONFIG_ERROR_NOT_IN_CLUSTER, /* KUBERNETES_SERVICE_HOST/_PORT unset */
    FP_KUBECONFIG_ERROR_IO,             /* a referenced file cannot be read */
} FpKubeConfigError;

/* Default directory of the in-cluster service-account files. */
#define FP_SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"
/* Largest kubeconfig, certificate, key or token file read. */
#define FP_KUBECONFIG_MAX_FILE ((gsize)4 * 1024 * 1024)

typedef struct {
    char *server;          /* "https://host:port[/prefix]", no trailing '/' */
    char *ca_file;         /* CA bundle path, or NULL */
    GBytes *ca_data;       /* CA bundle PEM, or NULL (wins over ca_file) */
    char *token;           /* inline bearer token, or NULL */
    char *token_file;      /* bearer token file (re-read by kube_client), or NULL */
    char *cert_file;       /* client certificate PEM path, or NULL */
    GBytes *cert_data;     /* client certificate PEM, or NULL (wins over cert_file) */
    char *key_file;        /* client key PEM path, or NULL */
    GBytes *key_data;      /* client key PEM, or NULL (wins over key_file) */
    bool insecure;         /* insecure-skip-tls-verify */
    char *tls_server_name; /* name to verify the server certificate against, or NULL */
    char *ns;              /* default namespace ("default" when unset) */
    char *source;          /* where this came from, for messages: a path or "in-cluster" */
} FpKubeConfig;

/* Load @path (or $KUBECONFIG, or ~/.kube/config, see above), using @context
 * or, when NULL, the file's current-context.  Returns NULL with @error set
 * on any problem. */
FpKubeConfig *fp_kubeconfig_load(const char *path, const char *context, GError **error);

/* Parse a kubeconfig document already in memory.  @name is used in
 * messages; @base_dir resolves relative file paths (NULL = current
 * directory). */
FpKubeConfig *fp_kubeconfig_parse(const char *buf, gsize len, const char *name,
                                  const char *base_dir, const char *context, GError **error);

/* The in-cluster configuration: server from KUBERNETES_SERVICE_HOST and
 * KUBERNETES_SERVICE_PORT (an IPv6 host is bracketed), the token file, CA and
 * namespace from the service-account directory ($FP_SA_DIR when set, else
 * FP_SA_DIR_DEFAULT), namespace from $POD_NAMESPACE first.  The token file
 * must exist; a missing ca.crt falls back to the system CAs with a warning,
 * as client-go does. */
FpKubeConfig *fp_kubeconfig_in_cluster(GError **error);
/* Same with an explicit service-account directory (NULL = as above). */
FpKubeConfig *fp_kubeconfig_in_cluster_at(const char *sa_dir, GError **error);

FpKubeConfig *fp_kubeconfig_copy(const FpKubeConfig *cfg);
void fp_kubeconfig_free(FpKubeConfig *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpKubeConfig, fp_kubeconfig_free)

G_END_DECLS

#endif /* FP_CACHE_KUBECONFIG_H */
