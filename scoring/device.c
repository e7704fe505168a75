/*
 * scoring/device.c - device classes: fraction, names, MIG profiles and the
 * lookups of the generated GPU catalog (device.h).
 */
#include "scoring/device.h"

#include "scoring/engine.h"

#include <string.h>

#define MIG_INFIX "-MIG-"
#define SHARED_SUFFIX "-SHARED"

double fp_device_fraction(const FpDeviceClass *d)
{
    if (!d || d->share_num == 0 || d->share_den == 0) {
        return 1.0;
    }
    return (double)d->share_num / (double)d->share_den;
}

bool fp_device_is_shared(const FpDeviceClass *d)
{
    return d && (d->kind == FP_DEVICE_SHARED || d->kind == FP_DEVICE_MPS);
}

/* ---- names --------------------------------------------------------------- */

char *fp_device_model_of(const char *product, char *buf, gsize size)
{
    static const char *const prefixes[] = {"NVIDIA-", "AMD-Instinct-", "AMD-", "Tesla-"};
    if (size == 0) {
        return buf;
    }
    buf[0] = '\0';
    if (!product) {
        return buf;
    }
    const char *p = product;
    for (guint i = 0; i < G_N_ELEMENTS(prefixes); i++) {
        if (g_str_has_prefix(p, prefixes[i]) && p[strlen(prefixes[i])] != '\0') {
            p += strlen(prefixes[i]);
            break;
        }
    }
    gsize len = strlen(p);
    if (len > strlen(SHARED_SUFFIX) && g_str_has_suffix(p, SHARED_SUFFIX)) {
        len -= strlen(SHARED_SUFFIX);
    }
    const char *mig = g_strstr_len(p, (gssize)len, MIG_INFIX);
    if (mig && mig > p) {
        len = (gsize)(mig - p);
    }
    len = MIN(len, size - 1);
    memcpy(buf, p, len);
    buf[len] = '\0';
    return buf;
}

/* "4.75 GiB": at most two decimals, trailing zeros dropped. */
static void format_gib(double mib, char *buf, gsize size)
{
    char tmp[32];
    g_snprintf(tmp, sizeof tmp, "%.2f", mib / 1024.0);
    char *end = tmp + strlen(tmp);
    while (end > tmp && end[-1] == '0') {
        *--end = '\0';
    }
    if (end > tmp && end[-1] == '.') {
        *--end = '\0';
    }
    g_snprintf(buf, size, "%s GiB", tmp);
}

static void format_share(const FpDeviceClass *d, char *buf, gsize size)
{
    if (d->share_num == 0 || d->share_den == 0) {
        g_snprintf(buf, size, "?");
    } else {
        g_snprintf(buf, size, "%u/%u", d->share_num, d->share_den);
    }
}

char *fp_device_describe(const FpDeviceClass *d, char *buf, gsize size)
{
    if (size == 0) {
        return buf;
    }
    buf[0] = '\0';
    if (!d) {
        return buf;
    }
    const char *name = d->model && *d->model       ? d->model
                       : d->product && *d->product ? d->product
                                                   : "unknown GPU";
    char share[24];
    char mem[40];
    format_share(d, share, sizeof share);
    if (d->memory_mib > 0) {
        format_gib(d->memory_mib, mem, sizeof mem);
    } else {
        g_snprintf(mem, sizeof mem, "memory unknown");
    }
    switch (d->kind) {
    case FP_DEVICE_MIG:
        g_snprintf(buf, size, "%s MIG %s (%s), %s", name, d->profile ? d->profile : "", share, mem);
        break;
    case FP_DEVICE_SHARED:
        g_snprintf(buf, size, "%s shared %s", name, share);
        break;
    case FP_DEVICE_MPS:
        g_snprintf(buf, size, "%s MPS %s, %s", name, share, mem);
        break;
    case FP_DEVICE_WHOLE:
    default:
        if (d->source == FP_DEVICE_FROM_INSTANCE_TYPE && d->origin && *d->origin) {
            g_snprintf(buf, size, "%s (from instance type %s)", name, d->origin);
        } else if (d->source == FP_DEVICE_FROM_CLOUD_LABEL && d->origin && *d->origin) {
            g_snprintf(buf, size, "%s (from cloud label %s)", name, d->origin);
        } else {
            g_snprintf(buf, size, "%s", name);
        }
        break;
    }
    return buf;
}

char *fp_verdict_device_name(const FpVerdict *v, char *buf, gsize size)
{
    if (size == 0) {
        return buf;
    }
    if (v && v->device) {
        return fp_device_describe(v->device, buf, size);
    }
    g_strlcpy(buf, v && v->facts.product ? v->facts.product : "", size);
    return buf;
}

/* ---- MIG profiles -------------------------------------------------------- */

guint fp_device_mig_slices(const char *base_product)
{
    const FpGpuModel *m = fp_gpu_model_by_product(base_product);
    if (m && m->compute_slices > 0) {
        return m->compute_slices;
    }
    /* A30 (24 GB) splits into 4 compute slices; every other MIG GPU into 7. */
    char model[64];
    fp_device_model_of(base_product, model, sizeof model);
    return g_str_has_prefix(model, "A30") ? 4 : 7;
}

guint fp_device_mig_compute(const char *profile)
{
    if (!profile) {
        return 0;
    }
    guint g = 0;
    const char *p = profile;
    for (; *p >= '0' && *p <= '9' && g < 1000; p++) {
        g = g * 10 + (guint)(*p - '0');
    }
    if (p == profile || g == 0 || g >= 1000 || p[0] != 'g' || p[1] != '.') {
        return 0;
    }
    p += 2;
    const char *digits = p;
    while (*p >= '0' && *p <= '9') {
        p++;
    }
    if (p == digits || p - digits > 4 || strncmp(p, "gb", 2) != 0) {
        return 0;
    }
    p += 2;
    /* optional "+me", "+me.all", "+gfx" ... extensions */
    if (*p != '\0' && *p != '+') {
        return 0;
    }
    return g;
}

/* ---- catalog lookups ----------------------------------------------------- */

static bool alias_listed(const char *aliases, const char *name)
{
    gsize n = strlen(name);
    for (const char *p = aliases; p && *p;) {
        const char *end = strchr(p, ' ');
        gsize len = end ? (gsize)(end - p) : strlen(p);
        if (len == n && g_ascii_strncasecmp(p, name, n) == 0) {
            return true;
        }
        p = end ? end + 1 : p + len;
    }
    return false;
}

const FpGpuModel *fp_gpu_model_by_name(const char *name)
{
    if (!name || !*name) {
        return NULL;
    }
    for (guint i = 0; i < fp_gpu_n_models; i++) {
        const FpGpuModel *m = &fp_gpu_models[i];
        if (g_ascii_strcasecmp(m->model, name) == 0 || alias_listed(m->aliases, name)) {
            return m;
        }
    }
    return NULL;
}

/* @a equals @b ignoring a leading "NVIDIA-" on either side. */
static bool same_product(const char *a, gsize alen, const char *b)
{
    if (g_str_has_prefix(b, "NVIDIA-")) {
        b += strlen("NVIDIA-");
    }
    if (alen > strlen("NVIDIA-") && strncmp(a, "NVIDIA-", strlen("NVIDIA-")) == 0) {
        a += strlen("NVIDIA-");
        alen -= strlen("NVIDIA-");
    }
    return strlen(b) == alen && strncmp(a, b, alen) == 0;
}

const FpGpuModel *fp_gpu_model_by_product(const char *product)
{
    if (!product || !*product) {
        return NULL;
    }
    gsize len = strlen(product);
    if (len > strlen(SHARED_SUFFIX) && g_str_has_suffix(product, SHARED_SUFFIX)) {
        len -= strlen(SHARED_SUFFIX);
    }
    const char *mig = g_strstr_len(product, (gssize)len, MIG_INFIX);
    if (mig && mig > product) {
        len = (gsize)(mig - product);
    }
    for (guint i = 0; i < fp_gpu_n_models; i++) {
        if (same_product(product, len, fp_gpu_models[i].product)) {
            return &fp_gpu_models[i];
        }
    }
    return NULL;
}

static const FpCatalogRow *lookup_rows(bool by_accelerator, const char *key, const char *region,
                                       bool *same_region)
{
    bool dummy;
    same_region = same_region ? same_region : &dummy;
    *same_region = false;
    if (!key || !*key) {
        return NULL;
    }
    const FpCatalogRow *any = NULL;
    for (guint i = 0; i < fp_gpu_catalog_len; i++) {
        const FpCatalogRow *r = &fp_gpu_catalog[i];
        const char *k = by_accelerator ? r->accelerator : r->instance_type;
        if (strcmp(k, key) != 0) {
            continue;
        }
        if (region && strcmp(r->region, region) == 0) {
            *same_region = true;
            return r;
        }
        any = any ? any : r;
    }
    return any;
}

const FpCatalogRow *fp_gpu_catalog_instance(const char *instance_type, const char *region,
                                            bool *same_region)
{
    return lookup_rows(false, instance_type, region, same_region);
}

const FpCatalogRow *fp_gpu_catalog_accelerator(const char *accelerator, const char *region,
                                               bool *same_region)
{
    return lookup_rows(true, accelerator, region, same_region);
}

const FpCatalogRow *fp_gpu_catalog_family(const char *instance_type)
{
    const char *dot = instance_type ? strchr(instance_type, '.') : NULL;
    if (!dot || dot == instance_type) {
        return NULL;
    }
    gsize flen = (gsize)(dot - instance_type);
    for (guint i = 0; i < fp_gpu_catalog_len; i++) {
        const char *t = fp_gpu_catalog[i].instance_type;
        if (strncmp(t, instance_type, flen) == 0 && t[flen] == '.') {
            return &fp_gpu_catalog[i];
        }
    }
    return NULL;
}
