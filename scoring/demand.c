/*
 * scoring/demand.c - what one pod asks for: its GPU resource and count, its
 * profile, and the flexplace.io/ annotations resolved against the profile.
 *
 * Annotations come from workload owners and are treated as hostile: every
 * value is length-capped (FP_ANN_MAX_LEN) before any parsing, lists are
 * capped at FP_ANN_MAX_ITEMS items, and a malformed value makes the demand
 * invalid (every node then fails with "invalid annotation <key>") instead
 * of being ignored.  Detail messages quote at most a short, printable
 * prefix of the offending text.
 */
#include "scoring/engine.h"

#include <math.h>
#include <string.h>

#include "scoring/engine_private.h"
#include "scoring/names.h"
#include "scoring/quantity.h"
#include "scoring/region_latency.h"

/* Longest annotation value parsed (bytes); longer ones are rejected. */
#define FP_ANN_MAX_LEN 4096
/* Most items in a list annotation (origin-region, gpu-sku). */
#define FP_ANN_MAX_ITEMS 64
/* Longest text quoted back in a detail message. */
#define QUOTE_MAX 48
/* Largest spread-min-pools. */
#define SPREAD_MAX 64
#define MIB 1048576.0

#define BAD_PROFILE_ORIGINS "invalid origin regions in policy profile"

/* A printable, bounded copy of @s (@len bytes) for a message: bytes outside
 * printable ASCII become '?', long text is cut with "...". */
static char *quote(const char *s, gsize len)
{
    gsize n = MIN(len, QUOTE_MAX);
    GString *q = g_string_sized_new(n + 5);
    for (gsize i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        g_string_append_c(q, ch >= 0x20 && ch < 0x7f && ch != '"' ? (char)ch : '?');
    }
    if (len > n) {
        g_string_append(q, "...");
    }
    return g_string_free(q, FALSE);
}

/* (@s, @len) with blanks trimmed on both sides. */
static void trim(const char **s, gsize *len)
{
    while (*len > 0 && g_ascii_isspace((*s)[0])) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && g_ascii_isspace((*s)[*len - 1])) {
        (*len)--;
    }
}

/* A plain decimal number ("12", "0.5", "1e2"): no hex, inf or nan. */
static bool parse_number(const char *s, gsize len, double *out)
{
    char buf[64];
    trim(&s, &len);
    if (len == 0 || len >= sizeof buf) {
        return false;
    }
    for (gsize i = 0; i < len; i++) {
        if (!g_ascii_isdigit(s[i]) && !strchr(".eE+-", s[i])) {
            return false;
        }
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end = NULL;
    double v = g_ascii_strtod(buf, &end);
    if (end != buf + len || !isfinite(v)) {
        return false;
    }
    *out = v;
    return true;
}

/* Split (@s, @len) at commas into at most FP_ANN_MAX_ITEMS trimmed items.
 * Returns the item count, or -1 when there are more. */
typedef struct {
    const char *s;
    gsize len;
} Item;

static int split_items(const char *s, gsize len, Item items[FP_ANN_MAX_ITEMS])
{
    int n = 0;
    gsize start = 0;
    for (gsize i = 0; i <= len; i++) {
        if (i < len && s[i] != ',') {
            continue;
        }
        if (n == FP_ANN_MAX_ITEMS) {
            return -1;
        }
        items[n].s = s + start;
        items[n].len = i - start;
        trim(&items[n].s, &items[n].len);
        n++;
        start = i + 1;
    }
    return n;
}

/* Parse an origin spec "eastus" or "eastus=3,westeurope=1" into normalised
 * weights.  On error returns false with *detail set (without the key). */
static bool parse_origins(const char *spec, FpOrigin **out, guint *n_out, char **detail)
{
    Item items[FP_ANN_MAX_ITEMS];
    gsize len = strlen(spec);
    int n = split_items(spec, len, items);
    if (n < 0) {
        *detail = g_strdup_printf("more than %d regions", FP_ANN_MAX_ITEMS);
        return false;
    }
    FpOrigin *origins = g_new0(FpOrigin, (gsize)n);
    double sum = 0;
    for (int i = 0; i < n; i++) {
        const char *name = items[i].s;
        gsize name_len = items[i].len;
        double weight = 1.0;
        const char *eq = memchr(name, '=', name_len);
        if (eq) {
            const char *w = eq + 1;
            gsize wlen = name_len - (gsize)(w - name);
            name_len = (gsize)(eq - name);
            trim(&name, &name_len);
            if (!parse_number(w, wlen, &weight) || !(weight > 0)) {
                g_autofree char *q = quote(w, wlen);
                *detail =
                    g_strdup_printf("weight \"%s\" of item %d is not a positive number", q, i + 1);
                goto fail;
            }
        }
        const char *problem = fp_name_problem(name, name_len, FP_NAME_REGION);
        if (problem) {
            g_autofree char *q = quote(name, name_len);
            *detail = g_strdup_printf("region \"%s\" (item %d) %s", q, i + 1, problem);
            goto fail;
        }
        for (int j = 0; j < i; j++) {
            if (strlen(origins[j].region) == name_len &&
                memcmp(origins[j].region, name, name_len) == 0) {
                g_autofree char *q = quote(name, name_len);
                *detail = g_strdup_printf("region \"%s\" is listed twice", q);
                goto fail;
            }
        }
        origins[i].region = g_strndup(name, name_len);
        origins[i].weight = weight;
        sum += weight;
    }
    if (!isfinite(sum) || !(sum > 0)) {
        *detail = g_strdup("weights do not add up to a finite positive number");
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        origins[i].weight /= sum;
    }
    *out = origins;
    *n_out = (guint)n;
    return true;
fail:
    for (int i = 0; i < n; i++) {
        g_free(origins[i].region);
    }
    g_free(origins);
    return false;
}

static char **parse_products(const char *value, char **detail)
{
    Item items[FP_ANN_MAX_ITEMS];
    int n = split_items(value, strlen(value), items);
    if (n < 0) {
        *detail = g_strdup_printf("more than %d products", FP_ANN_MAX_ITEMS);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        const char *problem = fp_product_problem(items[i].s, items[i].len, true);
        if (problem) {
            g_autofree char *q = quote(items[i].s, items[i].len);
            *detail = g_strdup_printf("product \"%s\" (item %d) %s", q, i + 1, problem);
            return NULL;
        }
    }
    char **list = g_new0(char *, (gsize)n + 1);
    for (int i = 0; i < n; i++) {
        list[i] = g_strndup(items[i].s, items[i].len);
    }
    return list;
}

static bool parse_min_memory(const char *value, double *mib, char **detail)
{
    FpQuantity q;
    gsize len = strlen(value);
    FpQtyResult r = fp_quantity_parse(value, len, &q);
    g_autofree char *qv = quote(value, len);
    if (r != FP_QTY_OK) {
        *detail = g_strdup_printf("\"%s\" is not a quantity (%s); use a unit, e.g. 40Gi", qv,
                                  fp_quantity_strerror(r));
        return false;
    }
    double bytes = fp_quantity_to_double(&q);
    if (!(bytes >= MIB)) {
        *detail = g_strdup_printf("\"%s\" is below 1Mi; the value is bytes per GPU, so use a "
                                  "unit, e.g. 40Gi",
                                  qv);
        return false;
    }
    *mib = bytes / MIB;
    return true;
}

static bool parse_limit(const char *value, double *out, char **detail)
{
    gsize len = strlen(value);
    if (!parse_number(value, len, out) || !(*out >= 0)) {
        g_autofree char *q = quote(value, len);
        *detail = g_strdup_printf("\"%s\" is not a non-negative number", q);
        return false;
    }
    if (*out == 0) {
        *out = 0; /* "-0" */
    }
    return true;
}

static bool parse_spread(const char *value, guint *out, char **detail)
{
    const char *s = value;
    gsize len = strlen(value);
    trim(&s, &len);
    guint v = 0;
    bool ok = len > 0 && len <= 2;
    for (gsize i = 0; ok && i < len; i++) {
        ok = g_ascii_isdigit(s[i]);
        v = v * 10 + (guint)(s[i] - '0');
    }
    if (!ok || v < 1 || v > SPREAD_MAX) {
        g_autofree char *q = quote(value, strlen(value));
        *detail = g_strdup_printf("\"%s\" is not an integer from 1 to %d", q, SPREAD_MAX);
        return false;
    }
    *out = v;
    return true;
}

/* ---- demand --------------------------------------------------------------- */

static void set_invalid(FpDemand *d, const char *key, char *detail)
{
    d->invalid_reason = g_strconcat(FP_REASON_BAD_ANNOTATION_PREFIX, key, NULL);
    d->invalid_detail = g_strdup_printf("%s: %s", key, detail);
    g_free(detail);
}

/* The annotation @key, or NULL; a value over FP_ANN_MAX_LEN makes @d
 * invalid (*bad set) without being scanned further. */
static const char *annotation(const FpPod *pod, FpDemand *d, const char *key, bool *bad)
{
    const char *v = fp_pod_annotation(pod, key);
    if (v && strnlen(v, FP_ANN_MAX_LEN + 1) > FP_ANN_MAX_LEN) {
        set_invalid(d, key, g_strdup_printf("value is longer than %d bytes", FP_ANN_MAX_LEN));
        *bad = true;
        return NULL;
    }
    return v;
}

/* Known profile names, sorted and bounded, for the "unknown profile" hint. */
static char *profile_names(const FpPolicy *policy)
{
    GPtrArray *names = g_ptr_array_new();
    if (policy->profiles) {
        GHashTableIter it;
        gpointer key;
        g_hash_table_iter_init(&it, policy->profiles);
        while (g_hash_table_iter_next(&it, &key, NULL)) {
            g_ptr_array_add(names, key);
        }
    }
    g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < names->len && i < 16; i++) {
        g_string_append_printf(s, "%s%s", i ? ", " : "", (const char *)names->pdata[i]);
    }
    if (names->len > 16) {
        g_string_append(s, ", ...");
    }
    g_ptr_array_unref(names);
    return g_string_free(s, FALSE);
}

/* Picks the GPU resource: the policy's GPU resources in order, then MIG
 * and time-sliced (nvidia.com/gpu.shared) resources in the pod's request
 * order. */
static void resolve_resource(FpDemand *d, const FpPod *pod, const FpPolicy *policy)
{
    for (char **r = policy->gpu_resources; r && *r; r++) {
        int64_t v = fp_res_list_get(&pod->requests, *r);
        if (v > 0) {
            d->resource = g_strdup(*r);
            d->count = v;
            return;
        }
    }
    for (guint i = 0; i < pod->requests.len; i++) {
        const FpResAmount *a = &pod->requests.items[i];
        if (a->value > 0 &&
            (g_str_has_prefix(a->name, "nvidia.com/mig-") ||
             strcmp(a->name, "nvidia.com/gpu.shared") == 0) &&
            fp_policy_is_gpu_resource(policy, a->name)) {
            d->resource = g_strdup(a->name);
            d->count = a->value;
            return;
        }
    }
}

static const FpProfile *resolve_profile(FpDemand *d, const FpPod *pod, const FpPolicy *policy,
                                        bool *bad)
{
    const FpProfile *profile = NULL;
    const char *name = annotation(pod, d, FP_ANN_PROFILE, bad);
    if (*bad) {
        return NULL;
    }
    if (name) {
        profile = fp_policy_profile(policy, name);
        if (!profile) {
            g_autofree char *q = quote(name, strlen(name));
            g_autofree char *known = profile_names(policy);
            set_invalid(d, FP_ANN_PROFILE,
                        g_strdup_printf("unknown profile \"%s\" (policy profiles: %s)", q,
                                        *known ? known : "none"));
            *bad = true;
        }
        return profile;
    }
    if (pod->ns && policy->namespaces) {
        const char *mapped = g_hash_table_lookup(policy->namespaces, pod->ns);
        profile = fp_policy_profile(policy, mapped);
    }
    if (!profile) {
        profile = fp_policy_profile(policy, policy->default_profile);
    }
    return profile;
}

/* The model terms of @req: a malformed model annotation or a tensor-parallel
 * degree above the GPUs requested makes the demand invalid; otherwise the
 * plan, or a note saying why there is none. */
static void resolve_model(FpDemand *d, const FpModelRequest *req, const FpPolicy *policy)
{
    if (req->invalid) {
        d->invalid_reason =
            g_strconcat(FP_REASON_BAD_ANNOTATION_PREFIX,
                        req->invalid_key ? req->invalid_key : "flexplace.io/model", NULL);
        d->invalid_detail = g_strdup(req->invalid);
        return;
    }
    const char *name = req->name ? req->name : "the model";
    if (d->resource && req->tensor_parallel > d->count) {
        d->invalid_reason = g_strdup(FP_REASON_TP_GPUS);
        d->invalid_detail = g_strdup_printf(
            "%s is served with tensor parallel %d but the pod requests %" G_GINT64_FORMAT
            " %s: each tensor-parallel rank needs a GPU of its own",
            name, req->tensor_parallel, d->count, d->resource);
        return;
    }
    const FpModelSpec *spec = fp_model_catalog_find(policy->models, req->name);
    d->model_known = fp_model_plan(req, spec, &policy->fit, &d->model_plan);
    if (d->model_known) {
        return;
    }
    if (!req->name) {
        d->model_note = g_strdup("the pod names no model and no model-size: no model terms");
    } else if (!spec) {
        d->model_note = g_strdup_printf("model %s is not in the model catalog: no model terms "
                                        "(add it to the policy's models, or set "
                                        "flexplace.io/model-size)",
                                        req->name);
    } else {
        d->model_note = g_strdup_printf("model %s has no weight size in the catalog: no model "
                                        "terms (set flexplace.io/model-size)",
                                        req->name);
    }
}

/* flexplace.io/max-time-to-serve-s: seconds in (0, a week]. */
static bool parse_tts_limit(const char *value, double *out, char **detail)
{
    gsize len = strlen(value);
    if (!parse_number(value, len, out) || !(*out > 0) || *out > FP_MAX_TTS_LIMIT_S) {
        g_autofree char *q = quote(value, len);
        *detail = g_strdup_printf("\"%s\" is not a number of seconds > 0 and <= 604800", q);
        return false;
    }
    return true;
}

/* Where the weights come from (engine.h: FpDemand.tts). */
static void resolve_weights(FpDemand *d, const FpModelRequest *req, const FpPolicy *policy,
                            const char *ns)
{
    const FpTransferConstants *k = &policy->transfer;
    FpWeightsLocation loc = {0};
    const char *problem = NULL;
    const char *uri = req->weights_location;
    if (uri && !fp_weights_location_parse(uri, &loc, &problem)) {
        loc.kind = FP_LOC_PATH; /* an engine's relative path: in the pod's volumes */
    }
    guint nl = 0;
    char label[FP_MODEL_CACHE_LABEL_MAX];
    if (req->name) {
        d->cache_labels[nl++] = g_strdup(fp_model_cache_label(req->name, label, sizeof label));
    }
    const FpModelSpec *spec = d->model_plan.spec;
    if (spec && spec->name && (!req->name || g_ascii_strcasecmp(spec->name, req->name) != 0)) {
        d->cache_labels[nl++] = g_strdup(fp_model_cache_label(spec->name, label, sizeof label));
    }
    switch (loc.kind) {
    case FP_LOC_NONE:
    case FP_LOC_HUB:
        d->weights_hub = true;
        break;
    case FP_LOC_PVC:
        d->cache_labels[nl++] = g_strdup_printf("fluid.io/s-%s-%s", ns ? ns : "default", loc.claim);
        d->weights_store = d->store_in_cluster = true;
        break;
    case FP_LOC_PATH:
        d->weights_store = d->store_in_cluster = true;
        break;
    case FP_LOC_STORE:
    case FP_LOC_OTHER: {
        d->weights_store = true;
        const FpWeightStore *st = fp_transfer_find_store(k, uri);
        const char *region = st ? st->region : NULL;
        const char *cloud = st && st->cloud ? st->cloud : loc.cloud;
        const FpBuiltinRegion *br = region ? fp_builtin_region(region) : NULL;
        if (!cloud && br) {
            cloud = br->cloud;
        }
        d->store_region = g_strdup(region);
        d->store_cloud = g_strdup(cloud);
        break;
    }
    }
    fp_weights_location_clear(&loc);
}

/* Every origin must be a region the policy knows round trips for: an
 * unknown one would weigh defaultLatencyMs to every node without a word.
 * @from_annotation: the origins came from the pod (else its profile). */
static bool origins_known(FpDemand *d, const FpPolicy *policy, bool from_annotation)
{
    for (guint i = 0; i < d->n_origins; i++) {
        const char *r = d->origins[i].region;
        if (fp_policy_knows_region(policy, r)) {
            continue;
        }
        g_autofree char *q = quote(r, strlen(r));
        char *detail =
            g_strdup_printf("region \"%s\" has no known round trips (not in the "
                            "policy's regions.latencyMs%s)",
                            q, policy->builtin_latency ? " nor the built-in tables" : "");
        if (from_annotation) {
            set_invalid(d, FP_ANN_ORIGIN, detail);
        } else {
            d->invalid_reason = g_strdup(BAD_PROFILE_ORIGINS);
            d->invalid_detail =
                g_strdup_printf("profile %s: originRegions: %s", d->profile->name, detail);
            g_free(detail);
        }
        return false;
    }
    return true;
}

FpDemand *fp_demand_new(const FpPod *pod, const FpPolicy *policy)
{
    FpDemand *d = g_new0(FpDemand, 1);
    d->max_latency_ms = -1;
    d->max_price = -1;
    d->max_tts_s = -1;
    d->profile = fp_fallback_profile();
    if (!pod || !policy) {
        d->profile_name = g_strdup(d->profile->name);
        d->invalid_reason = g_strdup("no pod or policy");
        d->invalid_detail = g_strdup("internal error: demand of a NULL pod or policy");
        return d;
    }
    resolve_resource(d, pod, policy);

    bool bad = false;
    const FpProfile *profile = resolve_profile(d, pod, policy, &bad);
    if (profile) {
        d->profile = profile;
    }
    profile = d->profile;
    d->profile_name = g_strdup(profile->name);

    /* Profile defaults; annotations below override them. */
    d->max_latency_ms = profile->max_latency_ms >= 0 ? profile->max_latency_ms : -1;
    d->max_price = profile->max_price_per_gpu_hour >= 0 ? profile->max_price_per_gpu_hour : -1;
    if (isfinite(profile->min_gpu_memory_gib) && profile->min_gpu_memory_gib > 0) {
        d->min_gpu_memory_mib = profile->min_gpu_memory_gib * 1024.0;
    }
    d->min_spread = profile->min_spread;

    char *detail = NULL;
    const char *v;
    if (!bad && (v = annotation(pod, d, FP_ANN_ORIGIN, &bad))) {
        if (!parse_origins(v, &d->origins, &d->n_origins, &detail)) {
            set_invalid(d, FP_ANN_ORIGIN, detail);
            bad = true;
        }
    } else if (!bad && profile->origin_regions && *profile->origin_regions) {
        if (!parse_origins(profile->origin_regions, &d->origins, &d->n_origins, &detail)) {
            d->invalid_reason = g_strdup(BAD_PROFILE_ORIGINS);
            d->invalid_detail =
                g_strdup_printf("profile %s: originRegions: %s", profile->name, detail);
            g_free(detail);
            bad = true;
        }
    }
    if (!bad) {
        bad = !origins_known(d, policy, fp_pod_annotation(pod, FP_ANN_ORIGIN) != NULL);
    }
    if (!bad && (v = annotation(pod, d, FP_ANN_SKU, &bad))) {
        d->allowed_skus = parse_products(v, &detail);
        if (!d->allowed_skus) {
            set_invalid(d, FP_ANN_SKU, detail);
            bad = true;
        } else {
            d->sku_preference = g_strdupv(d->allowed_skus);
        }
    }
    if (!bad && (v = annotation(pod, d, FP_ANN_MIN_MEMORY, &bad))) {
        if (!parse_min_memory(v, &d->min_gpu_memory_mib, &detail)) {
            set_invalid(d, FP_ANN_MIN_MEMORY, detail);
            bad = true;
        }
    }
    if (!bad && (v = annotation(pod, d, FP_ANN_MAX_LATENCY, &bad))) {
        if (!parse_limit(v, &d->max_latency_ms, &detail)) {
            set_invalid(d, FP_ANN_MAX_LATENCY, detail);
            bad = true;
        }
    }
    if (!bad && v && d->n_origins == 0) {
        set_invalid(d, FP_ANN_MAX_LATENCY,
                    g_strdup("a latency limit needs an origin: set " FP_ANN_ORIGIN
                             " (or the profile's originRegions)"));
        bad = true;
    }
    if (!bad && (v = annotation(pod, d, FP_ANN_MAX_PRICE, &bad))) {
        if (!parse_limit(v, &d->max_price, &detail)) {
            set_invalid(d, FP_ANN_MAX_PRICE, detail);
            bad = true;
        }
    }
    if (!bad && (v = annotation(pod, d, FP_ANN_SPREAD, &bad))) {
        if (!parse_spread(v, &d->min_spread, &detail)) {
            set_invalid(d, FP_ANN_SPREAD, detail);
            bad = true;
        }
    }
    if (!bad && (v = annotation(pod, d, FP_ANN_MAX_TTS, &bad))) {
        if (!parse_tts_limit(v, &d->max_tts_s, &detail)) {
            set_invalid(d, FP_ANN_MAX_TTS, detail);
            bad = true;
        }
    }
    if (!bad && pod->model) {
        resolve_model(d, pod->model, policy);
    }
    if (!d->invalid_reason && d->model_known) {
        d->tts = true;
        resolve_weights(d, pod->model, policy, pod->ns);
        d->n_images = MIN(pod->model->n_images, G_N_ELEMENTS(d->image_keys));
        memcpy(d->image_keys, pod->model->image_keys, d->n_images * sizeof d->image_keys[0]);
    } else if (!d->invalid_reason && d->max_tts_s > 0) {
        char *note = g_strdup_printf("%s%s" FP_ANN_MAX_TTS " is not applied: the model's weight "
                                     "size is unknown",
                                     d->model_note ? d->model_note : "", d->model_note ? "; " : "");
        g_free(d->model_note);
        d->model_note = note;
    }
    return d;
}

void fp_demand_free(FpDemand *demand)
{
    if (!demand) {
        return;
    }
    g_free(demand->resource);
    g_free(demand->profile_name);
    g_strfreev(demand->allowed_skus);
    g_strfreev(demand->sku_preference);
    for (guint i = 0; i < demand->n_origins; i++) {
        g_free(demand->origins[i].region);
    }
    g_free(demand->origins);
    g_free(demand->invalid_reason);
    g_free(demand->invalid_detail);
    g_free(demand->model_note);
    g_free(demand->store_region);
    g_free(demand->store_cloud);
    for (guint i = 0; i < G_N_ELEMENTS(demand->cache_labels); i++) {
        g_free(demand->cache_labels[i]);
    }
    g_free(demand);
}
