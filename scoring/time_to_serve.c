/*
 * scoring/time_to_serve.c - the time-to-serve estimate, weight locations,
 * cache labels and image keys (time_to_serve.h).
 */
#include "scoring/time_to_serve.h"

#include <math.h>
#include <string.h>

#include "scoring/names.h"

#define FNV64_INIT 14695981039346656037ull
#define FNV64_PRIME 1099511628211ull
#define IMAGE_REF_MAX 1024

static const char *const source_names[FP_N_SOURCES] = {
    [FP_SOURCE_NODE_CACHE] = "node-cache",
    [FP_SOURCE_SAME_REGION] = "same-region",
    [FP_SOURCE_OTHER_REGION] = "other-region",
    [FP_SOURCE_OTHER_CLOUD] = "other-cloud",
    [FP_SOURCE_HUB] = "hub",
};

const char *fp_weight_source_name(FpWeightSource s)
{
    return (int)s >= 0 && s < FP_N_SOURCES ? source_names[s] : NULL;
}

/* ---- constants ------------------------------------------------------------- */

static double default_value(const char *key)
{
    for (size_t i = 0; i < fp_transfer_default_rows_len; i++) {
        if (strcmp(fp_transfer_default_rows[i].key, key) == 0) {
            return fp_transfer_default_rows[i].value;
        }
    }
    g_critical("transfer-defaults.csv has no row %s", key); /* a build defect */
    return 0;
}

void fp_transfer_defaults(FpTransferConstants *out)
{
    static const char *const cls[FP_N_SOURCES] = {
        [FP_SOURCE_SAME_REGION] = "sameRegion",
        [FP_SOURCE_OTHER_REGION] = "otherRegion",
        [FP_SOURCE_OTHER_CLOUD] = "otherCloud",
        [FP_SOURCE_HUB] = "hub",
    };
    memset(out, 0, sizeof *out);
    out->cls[FP_SOURCE_NODE_CACHE].gib_per_s = INFINITY; /* no transfer */
    for (int s = FP_SOURCE_SAME_REGION; s < FP_N_SOURCES; s++) {
        char key[64];
        g_snprintf(key, sizeof key, "%s.gibPerSecond", cls[s]);
        out->cls[s].gib_per_s = default_value(key);
        g_snprintf(key, sizeof key, "%s.usdPerGB", cls[s]);
        out->cls[s].usd_per_gb = default_value(key);
    }
    out->load_gib_per_s_per_gpu = default_value("loadGiBPerSecondPerGPU");
    out->start_s = default_value("startSeconds");
    out->image_pull_gib_per_s = default_value("imagePullGiBPerSecond");
    out->default_image_gib = default_value("defaultImageGiB");
    out->amortization_hours = default_value("amortizationHours");
}

void fp_transfer_clear(FpTransferConstants *k)
{
    for (guint i = 0; i < k->n_stores; i++) {
        g_free(k->stores[i].prefix);
        g_free(k->stores[i].region);
        g_free(k->stores[i].cloud);
    }
    g_free(k->stores);
    k->stores = NULL;
    k->n_stores = 0;
}

void fp_transfer_copy(FpTransferConstants *dst, const FpTransferConstants *src)
{
    *dst = *src;
    dst->stores = src->n_stores ? g_new0(FpWeightStore, src->n_stores) : NULL;
    for (guint i = 0; i < src->n_stores; i++) {
        dst->stores[i].prefix = g_strdup(src->stores[i].prefix);
        dst->stores[i].region = g_strdup(src->stores[i].region);
        dst->stores[i].cloud = g_strdup(src->stores[i].cloud);
    }
}

/* ---- locations ---------------------------------------------------------------- */

static const struct {
    const char *scheme;
    FpLocKind kind;
    const char *cloud;
} schemes[] = {
    {"s3://", FP_LOC_STORE, "aws"},      {"gs://", FP_LOC_STORE, "gcp"},
    {"gcs://", FP_LOC_STORE, "gcp"},     {"az://", FP_LOC_STORE, "azure"},
    {"abfs://", FP_LOC_STORE, "azure"},  {"abfss://", FP_LOC_STORE, "azure"},
    {"wasbs://", FP_LOC_STORE, "azure"}, {"hf://", FP_LOC_HUB, NULL},
    {"pvc://", FP_LOC_PVC, NULL},        {"file://", FP_LOC_PATH, NULL},
    {"https://", FP_LOC_OTHER, NULL},    {"http://", FP_LOC_OTHER, NULL},
    {"oci://", FP_LOC_OTHER, NULL},
};

/* Azure Blob over https: <account>.blob.core.windows.net. */
static bool azure_blob_host(const char *host, gsize len)
{
    static const char suffix[] = ".blob.core.windows.net";
    gsize sl = sizeof suffix - 1;
    return len > sl && g_ascii_strncasecmp(host + len - sl, suffix, sl) == 0;
}

bool fp_weights_location_parse(const char *uri, FpWeightsLocation *out, const char **error)
{
    memset(out, 0, sizeof *out);
    gsize len = uri ? strnlen(uri, FP_WEIGHTS_LOCATION_MAX + 1) : 0;
    if (len == 0) {
        *error = "is empty";
        return false;
    }
    if (len > FP_WEIGHTS_LOCATION_MAX) {
        *error = "is longer than 2048 bytes";
        return false;
    }
    for (gsize i = 0; i < len; i++) {
        guchar ch = (guchar)uri[i];
        if (ch <= ' ' || ch >= 0x7f) {
            *error = "has blanks, control or non-ASCII bytes";
            return false;
        }
    }
    if (uri[0] == '/') {
        out->kind = FP_LOC_PATH;
        return true;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(schemes); i++) {
        gsize sl = strlen(schemes[i].scheme);
        if (g_ascii_strncasecmp(uri, schemes[i].scheme, sl) != 0) {
            continue;
        }
        const char *rest = uri + sl;
        gsize host_len = strcspn(rest, "/");
        if (host_len == 0 && schemes[i].kind != FP_LOC_PATH) {
            *error = "names no bucket, host or claim after the scheme";
            return false;
        }
        out->kind = schemes[i].kind;
        out->cloud = schemes[i].cloud;
        if (out->kind == FP_LOC_PVC) {
            const char *problem = fp_object_name_problem(rest, host_len);
            if (problem) {
                *error = "names a claim that is not a valid PersistentVolumeClaim name";
                return false;
            }
            out->claim = g_strndup(rest, host_len);
        } else if (out->kind == FP_LOC_OTHER && azure_blob_host(rest, host_len)) {
            out->kind = FP_LOC_STORE;
            out->cloud = "azure";
        }
        return true;
    }
    *error = "is neither an absolute path nor a URI flexplace knows (hf://, s3://, gs://, "
             "az://, abfs://, pvc://, file://, http(s)://, oci://)";
    return false;
}

void fp_weights_location_clear(FpWeightsLocation *loc)
{
    g_free(loc->claim);
    memset(loc, 0, sizeof *loc);
}

const FpWeightStore *fp_transfer_find_store(const FpTransferConstants *k, const char *uri)
{
    const FpWeightStore *best = NULL;
    gsize best_len = 0;
    for (guint i = 0; uri && i < k->n_stores; i++) {
        gsize pl = strlen(k->stores[i].prefix);
        if (pl > best_len && strncmp(uri, k->stores[i].prefix, pl) == 0) {
            best = &k->stores[i];
            best_len = pl;
        }
    }
    return best;
}

/* ---- labels and images ------------------------------------------------------- */

static guint64 fnv64(guint64 h, const char *s, gsize len, bool lower)
{
    for (gsize i = 0; i < len; i++) {
        guchar ch = (guchar)s[i];
        h = (h ^ (lower ? (guchar)g_ascii_tolower(ch) : ch)) * FNV64_PRIME;
    }
    return h;
}

char *fp_model_cache_label(const char *model, char *buf, gsize size)
{
    guint64 h = fnv64(FNV64_INIT, model ? model : "", model ? strlen(model) : 0, true);
    g_snprintf(buf, size, FP_MODEL_CACHE_LABEL_PREFIX "%016" G_GINT64_MODIFIER "x", h);
    return buf;
}

bool fp_cache_label_set(const char *value)
{
    return value && *value && g_ascii_strcasecmp(value, "false") != 0;
}

guint64 fp_image_key(const char *ref)
{
    gsize len = ref ? strnlen(ref, IMAGE_REF_MAX + 1) : 0;
    if (len == 0 || len > IMAGE_REF_MAX) {
        return 0;
    }
    /* The first component is a registry when it has '.' or ':' or is
     * "localhost" (the container runtime's rule). */
    gsize first = strcspn(ref, "/");
    bool has_slash = first < len;
    bool registry = has_slash && first > 0 &&
                    (memchr(ref, '.', first) || memchr(ref, ':', first) ||
                     (first == 9 && strncmp(ref, "localhost", 9) == 0));
    guint64 h = FNV64_INIT;
    const char *path = ref;
    if (registry && first == 15 && strncmp(ref, "index.docker.io", 15) == 0) {
        path = ref + 16; /* docker.io's other name */
        registry = false;
    } else if (registry && first == 9 && strncmp(ref, "docker.io", 9) == 0) {
        path = ref + 10;
        registry = false;
    }
    if (!registry) {
        h = fnv64(h, "docker.io/", 10, false);
        if (!strchr(path, '/')) {
            h = fnv64(h, "library/", 8, false);
        }
    }
    h = fnv64(h, path, len - (gsize)(path - ref), false);
    /* A tag or digest after the last '/'; else ":latest". */
    const char *last = strrchr(ref, '/');
    const char *tail = last ? last + 1 : ref;
    if (!strchr(tail, ':') && !strchr(ref, '@')) {
        h = fnv64(h, ":latest", 7, false);
    }
    return h ? h : 1;
}

/* ---- the estimate -------------------------------------------------------------- */

static bool same(const char *a, const char *b)
{
    return a && b && *a && *b && strcmp(a, b) == 0;
}

FpWeightSource fp_store_class(const char *store_region, const char *store_cloud,
                              const char *node_region, const char *node_cloud)
{
    if (same(store_region, node_region)) {
        return FP_SOURCE_SAME_REGION;
    }
    if (same(store_cloud, node_cloud)) {
        return FP_SOURCE_OTHER_REGION;
    }
    return FP_SOURCE_OTHER_CLOUD;
}

static double transfer_seconds(const FpTransferConstants *k, FpWeightSource s, double gib)
{
    if (s == FP_SOURCE_NODE_CACHE) {
        return 0;
    }
    double bw = k->cls[s].gib_per_s;
    return bw > 0 && isfinite(bw) ? gib / bw : INFINITY;
}

void fp_time_to_serve(const FpTransferConstants *k, const FpTtsInput *in, FpTts *out)
{
    memset(out, 0, sizeof *out);
    double gib = in->weights_gib > 0 && isfinite(in->weights_gib) ? in->weights_gib : 0;
    int gpus = in->gpus > 0 ? in->gpus : 1;
    out->pull_s = in->pull_gib > 0 && k->image_pull_gib_per_s > 0
                      ? in->pull_gib / k->image_pull_gib_per_s
                      : 0;
    out->load_s = k->start_s;
    if (k->load_gib_per_s_per_gpu > 0) {
        out->load_s += gib / (k->load_gib_per_s_per_gpu * gpus);
    }
    /* candidates in order of nearness: a tie keeps the nearer one */
    FpWeightSource cand[3];
    guint n = 0;
    if (in->node_cache) {
        cand[n++] = FP_SOURCE_NODE_CACHE;
    }
    if (in->store) {
        cand[n++] = in->store_class;
    }
    if (in->hub) {
        cand[n++] = FP_SOURCE_HUB;
    }
    out->source = FP_SOURCE_NODE_CACHE;
    double best = n ? INFINITY : 0;
    for (guint i = 0; i < n; i++) {
        double t = transfer_seconds(k, cand[i], gib);
        if (t < best) {
            best = t;
            out->source = cand[i];
        }
    }
    out->transfer_s = best;
    double gb = gib * (1024.0 * 1024.0 * 1024.0) / 1e9;
    out->egress_usd = out->source == FP_SOURCE_NODE_CACHE ? 0 : gb * k->cls[out->source].usd_per_gb;
    out->total_s = out->pull_s + out->transfer_s + out->load_s;
}

double fp_tts_term(double seconds)
{
    if (!isfinite(seconds)) { /* unknown (NaN) or never */
        return 0;
    }
    double t = seconds > 0 ? seconds : 0;
    double v = 1.0 - log2(1.0 + t / FP_TTS_KNEE_S) / log2(1.0 + FP_TTS_MAX_S / FP_TTS_KNEE_S);
    return v > 0 ? (v < 1 ? v : 1) : 0;
}
