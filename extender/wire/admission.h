/*
 * extender/wire/admission.h - the admission.k8s.io/v1 AdmissionReview codec
 * of the mutating webhook (POST /mutate).
 *
 * Purpose: decode the AdmissionReview a kube-apiserver sends a mutating
 * webhook, exactly as v1.32 sends it (camelCase field names, "request.uid"
 * always set, "request.name" "" for generateName pods, "oldObject" null on
 * CREATE, "dryRun" a bool), and encode the reply it accepts: the request's
 * apiVersion and uid echoed, "allowed", a JSONPatch as base64 with
 * "patchType": "JSONPatch", and "warnings".
 *
 * Bounds and hostile input: a body over FP_ADMISSION_MAX_BYTES, JSON nested
 * deeper than jansson allows, a body that is not JSON, not an
 * AdmissionReview (apiVersion admission.k8s.io/v1 or v1beta1, kind
 * AdmissionReview), without a request, or whose uid is missing, empty, not
 * a string or over FP_ADMISSION_MAX_UID bytes is an error: the caller answers
 * 400 with the message (the API server then applies the webhook's
 * failurePolicy).  Anything else that is odd about the request (another
 * kind, resource, subresource or operation, an object that is not a Pod)
 * decodes fine and is reported by fp_admission_is_pod_create() as "not
 * ours": the caller allows it unchanged.
 *
 * Ownership: FpAdmissionRequest owns its strings and holds a reference on
 * the whole document (object points into it).  Encoders return g_malloc'ed
 * compact JSON.  Thread context: any thread.
 */
#ifndef FP_EXTENDER_WIRE_ADMISSION_H
#define FP_EXTENDER_WIRE_ADMISSION_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "scoring/model.h"

G_BEGIN_DECLS

/* The API server's own limit on a request body is 3 MiB (and etcd's on an
 * object 1.5 MiB), so a Pod's AdmissionReview never comes near this. */
#define FP_ADMISSION_MAX_BYTES ((size_t)4 * 1024 * 1024)
/* Kubernetes UIDs are 36 bytes; anything much longer is not one. */
#define FP_ADMISSION_MAX_UID 128
/* The API server logs and returns warnings; it advises at most 120
 * characters and truncates long ones.  Encoded warnings are cut (at a UTF-8
 * boundary, with "...") to this many bytes, and at most this many sent. */
#define FP_ADMISSION_MAX_WARNING 256
#define FP_ADMISSION_MAX_WARNINGS 8

#define FP_ADMISSION_ERROR (fp_admission_error_quark())
GQuark fp_admission_error_quark(void);
typedef enum {
    FP_ADMISSION_ERROR_JSON,  /* not JSON */
    FP_ADMISSION_ERROR_SHAPE, /* JSON, but not an AdmissionReview request */
    FP_ADMISSION_ERROR_LIMIT, /* over a size or nesting bound */
} FpAdmissionError;

/* A GroupVersionKind or GroupVersionResource; "" for absent parts. */
typedef struct {
    char *group;
    char *version;
    char *name; /* kind or resource */
} FpAdmissionGvk;

typedef struct {
    char *api_version; /* of the review: echoed in the reply */
    char *uid;
    FpAdmissionGvk kind;
    FpAdmissionGvk resource;
    char *sub_resource; /* "" when none */
    char *name;         /* "" for a generateName pod */
    char *namespace_;   /* "" for cluster-scoped objects */
    char *operation;    /* CREATE, UPDATE, DELETE, CONNECT */
    bool dry_run;
    json_t *object; /* borrowed from root; NULL when absent or null */
    json_t *root;   /* the whole review (owned) */
} FpAdmissionRequest;

/* Decode an AdmissionReview body (see the bounds above). */
FpAdmissionRequest *fp_admission_request_parse(const char *body, size_t len, GError **error);
void fp_admission_request_free(FpAdmissionRequest *req);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FpAdmissionRequest, fp_admission_request_free)

/* Whether @req is the one thing flexplace mutates: a CREATE of a core v1
 * Pod (kind and resource, no subresource) whose object is a JSON object. */
bool fp_admission_is_pod_create(const FpAdmissionRequest *req);

/* The request's Pod decoded with everything placement reads (FP_POD_FULL).
 * A pod created with generateName has no name yet: it is named
 * "<generateName><uid prefix>" for logs and decisions; the namespace comes
 * from the request when the object does not carry one.  NULL with @error
 * when the object does not decode as a Pod. */
FpPod *fp_admission_pod(const FpAdmissionRequest *req, GError **error);

/* The AdmissionReview reply: the request's apiVersion and uid, "allowed",
 * and when @patch (a JSON array of RFC 6902 operations) is non-NULL and not
 * empty, "patchType": "JSONPatch" and the patch base64-encoded.  @warnings
 * (NULL-terminated, may be NULL) are bounded as described above.  With
 * @allowed false, @message goes in response.status (code 403).
 * @api_version NULL means admission.k8s.io/v1. */
char *fp_admission_encode_response(const char *api_version, const char *uid, bool allowed,
                                   const json_t *patch, char *const *warnings, const char *message,
                                   size_t *len);

G_END_DECLS

#endif /* FP_EXTENDER_WIRE_ADMISSION_H */
