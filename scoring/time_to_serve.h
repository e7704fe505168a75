/*
 * scoring/time_to_serve.h - how soon a replica placed on a node can serve.
 *
 * Purpose: the estimate behind the timeToServe score term, the
 * flexplace.io/max-time-to-serve-s limit and the transfer's egress cost
 * (policies/README.md, "Time to serve"):
 *
 *   time to serve = image pull + weight transfer + load
 *   image pull    = sum over the pod's images the node does not report in
 *                   status.images of size / imagePullGiBPerSecond (size: what
 *                   a node of the request reports, else defaultImageGiB)
 *   transfer      = weight GiB / the bandwidth of the node's best source
 *                   (0 from a node-local cache)
 *   load          = startSeconds + weight GiB / (loadGiBPerSecondPerGPU x
 *                   the GPUs the weights are split over)
 *   egress        = weight GB x the source's price per GB, paid once; the
 *                   cost term adds it to the pod's hourly cost spread over
 *                   amortizationHours
 *
 * The best source is the one with the least time to serve of those the
 * pod's weights can come from: the node's own cache (a
 * flexplace.io/model-cache.<hash> label, or Fluid's dataset label for a
 * pvc:// location), the weights' store (same region, another region of the
 * same cloud, another cloud), or the public hub (hf:// or no location).
 *
 * Pure: no I/O, no locks, no JSON.  Thread context: any thread.
 * Ownership: FpWeightsLocation owns its strings (fp_weights_location_clear);
 * FpTransferConstants' stores are owned by the policy that holds them.
 */
#ifndef FP_SCORING_TIME_TO_SERVE_H
#define FP_SCORING_TIME_TO_SERVE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

/* Where a replica's weights come from, nearest first. */
typedef enum {
    FP_SOURCE_NODE_CACHE,   /* already on the node's disk */
    FP_SOURCE_SAME_REGION,  /* the store is in the node's region */
    FP_SOURCE_OTHER_REGION, /* another region of the node's cloud */
    FP_SOURCE_OTHER_CLOUD,  /* another cloud, or a node whose cloud is unknown */
    FP_SOURCE_HUB,          /* the public hub (Hugging Face) */
    FP_N_SOURCES
} FpWeightSource;

/* "node-cache", "same-region", "other-region", "other-cloud", "hub";
 * NULL out of range. */
const char *fp_weight_source_name(FpWeightSource s);

/* One source class: how fast bytes come and what each GB costs. */
typedef struct {
    double gib_per_s;  /* > 0; unused for FP_SOURCE_NODE_CACHE (no transfer) */
    double usd_per_gb; /* >= 0, per 10^9 bytes as the clouds bill */
} FpTransferClass;

/* A store of weights whose place the policy knows (transfer.stores). */
typedef struct {
    char *prefix; /* a location prefix: "s3://acme-models/" */
    char *region; /* NULL = unknown */
    char *cloud;  /* NULL = from the scheme or the region */
} FpWeightStore;

/* The time-to-serve constants (policy `transfer:`); defaults from
 * scoring/transfer/transfer-defaults.csv. */
typedef struct {
    FpTransferClass cls[FP_N_SOURCES];
    double load_gib_per_s_per_gpu; /* weights into GPU memory, per GPU */
    double start_s;                /* fixed engine start on top of the load */
    double image_pull_gib_per_s;
    double default_image_gib; /* an image no node of the request reports */
    double amortization_hours;
    FpWeightStore *stores; /* owned by the policy */
    guint n_stores;
} FpTransferConstants;

/* One row of scoring/transfer/transfer-defaults.csv (generated table). */
typedef struct {
    const char *key; /* the policy's spelling: "sameRegion.gibPerSecond" */
    double value;
} FpTransferDefault;
extern const FpTransferDefault fp_transfer_default_rows[];
extern const size_t fp_transfer_default_rows_len;

/* The built-in constants (no stores), from the generated table. */
void fp_transfer_defaults(FpTransferConstants *out);
/* Free @k's stores (the struct itself is the caller's). */
void fp_transfer_clear(FpTransferConstants *k);
/* Deep copy of @src's stores into @dst (the rest copied as is). */
void fp_transfer_copy(FpTransferConstants *dst, const FpTransferConstants *src);

/* ---- weight locations ---------------------------------------------------- */

typedef enum {
    FP_LOC_NONE,  /* not stated: the engine downloads from the hub */
    FP_LOC_HUB,   /* hf://org/model */
    FP_LOC_STORE, /* s3://, gs://, az://, abfs(s)://, https://<acct>.blob.core.windows.net */
    FP_LOC_PVC,   /* pvc://<claim>[/path]: the cluster's own storage */
    FP_LOC_PATH,  /* an absolute path or file:// (a volume of the pod) */
    FP_LOC_OTHER, /* another URI (http(s)://, oci://): treated as another cloud */
} FpLocKind;

typedef struct {
    FpLocKind kind;
    const char *cloud; /* static "aws", "gcp", "azure" from the scheme, else NULL */
    char *claim;       /* FP_LOC_PVC: the claim name (a DNS-1123 subdomain) */
} FpWeightsLocation;

#define FP_WEIGHTS_LOCATION_MAX 2048

/* Classify @uri (NUL-terminated).  Returns false with *error (a static
 * message) when it is not a location: empty, longer than
 * FP_WEIGHTS_LOCATION_MAX, blanks or control bytes, a scheme without a
 * bucket/host ("s3://"), a pvc:// claim that is not a DNS-1123 subdomain,
 * or a relative path.  Never reads past the NUL. */
bool fp_weights_location_parse(const char *uri, FpWeightsLocation *out, const char **error);
void fp_weights_location_clear(FpWeightsLocation *loc);

/* The store entry of @k whose prefix is the longest prefix of @uri, or NULL. */
const FpWeightStore *fp_transfer_find_store(const FpTransferConstants *k, const char *uri);

/* ---- node-local caches ---------------------------------------------------- */

#define FP_MODEL_CACHE_LABEL_PREFIX "flexplace.io/model-cache."
/* "flexplace.io/model-cache." + 16 hex digits + NUL */
#define FP_MODEL_CACHE_LABEL_MAX 48

/* The label a node carries when its disk holds @model's weights:
 * FP_MODEL_CACHE_LABEL_PREFIX + the 16 lowercase hex digits of the 64-bit
 * FNV-1a hash of the model id in lowercase ASCII (Hugging Face ids are
 * case-insensitive), e.g. "meta-llama/llama-3.1-70b-instruct".  Any value
 * other than "false" or "" means cached.  Written into @buf (at least
 * FP_MODEL_CACHE_LABEL_MAX bytes); returns @buf. */
char *fp_model_cache_label(const char *model, char *buf, gsize size);

/* Whether a cache label's value says "cached". */
bool fp_cache_label_set(const char *value);

/* ---- container images ----------------------------------------------------- */

/* Images per node the cache keeps (names: a tag and a digest are two).
 * kubelet reports at most 50 images (nodeStatusMaxImages), most with two
 * names. */
#define FP_NODE_MAX_IMAGE_NAMES 128
/* Images per pod the estimate looks at. */
#define FP_POD_MAX_IMAGES 8

/* A 64-bit key of an image reference, after the container runtime's
 * normalisation: "vllm/vllm-openai" is "docker.io/vllm/vllm-openai:latest",
 * "ubuntu" is "docker.io/library/ubuntu:latest"; a reference with a digest
 * keeps it ("repo@sha256:..."), a tag is kept.  0 for an empty or over-long
 * (> 1024 bytes) reference (0 is never a key). */
guint64 fp_image_key(const char *ref);

/* ---- the estimate ----------------------------------------------------------- */

/* What the estimate needs for one node. */
typedef struct {
    double weights_gib; /* > 0 */
    int gpus;           /* GPUs the weights are split over, >= 1 */
    double pull_gib;    /* images the node lacks, in GiB */
    bool node_cache;    /* a cache label of the pod's model is on the node */
    bool store;         /* the weights are in a store (or a pvc / path) */
    FpWeightSource store_class;
    bool hub; /* the hub may serve the weights */
} FpTtsInput;

/* The estimate for one node. */
typedef struct {
    double pull_s;
    double transfer_s;
    double load_s;
    double total_s;
    double egress_usd; /* paid once per replica */
    FpWeightSource source;
} FpTts;

/* The store's class for a node in @node_region of @node_cloud (either may be
 * "" or NULL = unknown): same region, else same cloud (other region), else
 * other cloud.  @store_region / @store_cloud NULL = unknown; a store whose
 * region is unknown is never "same region". */
FpWeightSource fp_store_class(const char *store_region, const char *store_cloud,
                              const char *node_region, const char *node_cloud);

/* The estimate (formula at the top) with the source of least total time;
 * ties go to the nearer source.  With neither cache, store nor hub the
 * transfer is 0 and the source FP_SOURCE_NODE_CACHE. */
void fp_time_to_serve(const FpTransferConstants *k, const FpTtsInput *in, FpTts *out);

/* The term's absolute scale: 1 - log2(1 + T/30 s) / log2(1 + 1800 s/30 s),
 * clamped to [0,1]: every doubling of (1 + T/30 s) costs the same (1/5.93,
 * as a doubling of (1 + L/5 ms) costs the latency term: the same shape, 60
 * times the scale), half an hour or more scores 0 (1 min 0.73, 3 min 0.53,
 * 10 min 0.26, 20 min 0.09). */
#define FP_TTS_KNEE_S 30.0
#define FP_TTS_MAX_S 1800.0
double fp_tts_term(double seconds);

G_END_DECLS

#endif /* FP_SCORING_TIME_TO_SERVE_H */
