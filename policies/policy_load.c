/*
 * policies/policy_load.c - PlacementPolicy documents -> FpPolicy.
 *
 * Three stages: gather sources (files of a directory, keys of a ConfigMap
 * manifest, or one file/buffer) as parsed FpDocs; merge their root mappings
 * (remembering which original objects a merged object came from, so
 * positions still resolve); walk the schema, filling an FpPolicy that starts
 * as the built-in default and collecting every problem as a diagnostic with
 * a position.  Diagnostics are sorted by source, line and column at the end.
 */
#include "policies/policy_load.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "cache/readfile.h"
#include "cache/yamljson.h"
#include "scoring/device.h"
#include "scoring/names.h"
#include "scoring/quantity.h"
#include "scoring/region_latency.h"
#include "scoring/short_list.h"

#define MAX_LATENCY_MS 600000.0
#define MAX_WEIGHT 1000.0
#define MAX_SPREAD 1000
#define MAX_LIST_ITEMS 64
#define MAX_LABEL_KEYS 16
#define MAX_GPU_RESOURCES 32
#define MAX_ORIGINS 64
#define MAX_MISSING_SHOWN 10
#define CONTRADICTION_MIN_MS 5.0
#define CONTRADICTION_FRACTION 0.2

/* ---- sources and diagnostics --------------------------------------------- */

typedef struct {
    FpDocs *docs;    /* owned; NULL when the source failed to parse */
    char *display;   /* the name messages use */
    char *label;     /* the name report->sources uses ("cm.yaml#policy.yaml") */
    guint order;     /* sort key: the manifest's index for mapped ConfigMap keys */
    guint line_base; /* ConfigMap literal block: manifest line = line_base + line */
    guint col_base;  /* manifest column = col_base + column */
} Source;

typedef struct {
    guint src; /* G_MAXUINT: no position */
    guint line, col;
    guint seq;
    char *text;
} Diag;

typedef struct {
    FpPolicyReport *report;
    GPtrArray *sources; /* Source* */
    GPtrArray *diags;   /* Diag* */
    guint dropped;      /* diagnostics over FP_POLICY_MAX_ERRORS */
    size_t total_bytes;
    GHashTable *origins; /* merged json_t* -> GPtrArray of original json_t* */
    GPtrArray *merged;   /* json_t* created by the merge, owned */
    FpPolicy *policy;
    GHashTable *profile_names; /* every profile written (valid or not) + "default" */
    GHashTable *matrix;        /* region name -> GINT index, NULL when no matrix */
    /* profiles' origin regions, checked against the matrix at the end */
    GPtrArray *origin_checks; /* OriginCheck* */
} Ctx;

typedef struct {
    const json_t *parent;
    const char *key;
    const json_t *value;
    char *path;
    char **regions;
} OriginCheck;

static void source_free(gpointer p)
{
    Source *s = p;
    fp_docs_free(s->docs);
    g_free(s->display);
    g_free(s->label);
    g_free(s);
}

static void diag_free(gpointer p)
{
    Diag *d = p;
    g_free(d->text);
    g_free(d);
}

static void origin_check_free(gpointer p)
{
    OriginCheck *o = p;
    g_free(o->path);
    g_strfreev(o->regions);
    g_free(o);
}

FpPolicyReport *fp_policy_report_new(void)
{
    FpPolicyReport *r = g_new0(FpPolicyReport, 1);
    r->errors = g_ptr_array_new_with_free_func(g_free);
    r->notes = g_ptr_array_new_with_free_func(g_free);
    r->sources = g_ptr_array_new_with_free_func(g_free);
    return r;
}

void fp_policy_report_free(FpPolicyReport *report)
{
    if (!report) {
        return;
    }
    g_ptr_array_unref(report->errors);
    g_ptr_array_unref(report->notes);
    g_ptr_array_unref(report->sources);
    g_free(report);
}

char *fp_policy_report_join_errors(const FpPolicyReport *report, const char *sep)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; report && i < report->errors->len; i++) {
        if (i) {
            g_string_append(s, sep ? sep : "\n");
        }
        g_string_append(s, g_ptr_array_index(report->errors, i));
    }
    return g_string_free(s, FALSE);
}

static void add_diag(Ctx *c, guint src, guint line, guint col, char *text)
{
    if (c->diags->len >= FP_POLICY_MAX_ERRORS) {
        c->dropped++;
        g_free(text);
        return;
    }
    Diag *d = g_new0(Diag, 1);
    if (src < c->sources->len) {
        src = ((Source *)g_ptr_array_index(c->sources, src))->order;
    }
    d->src = src;
    d->line = line;
    d->col = col;
    d->seq = c->diags->len;
    d->text = text;
    g_ptr_array_add(c->diags, d);
}

G_GNUC_PRINTF(2, 3)
static void note(Ctx *c, const char *fmt, ...)
{
    if (!c->report) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    g_ptr_array_add(c->report->notes, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

/* A whole-source problem (I/O, document count) without a position. */
G_GNUC_PRINTF(3, 4)
static void err_source(Ctx *c, const char *display, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    add_diag(c, c->sources->len, 0, 0, g_strdup_printf("%s: %s", display, msg));
}

/* yamljson syntax messages may end in "(context at L:C)": shift that
 * position too.  Returns a new string. */
static char *remap_context(const Source *src, const char *rest)
{
    const char *at = g_strrstr(rest, " at ");
    size_t n = strlen(rest);
    if (!at || n == 0 || rest[n - 1] != ')' || (src->line_base == 0 && src->col_base == 0)) {
        return g_strdup(rest);
    }
    char *end = NULL;
    guint64 l = g_ascii_strtoull(at + 4, &end, 10);
    if (!end || *end != ':') {
        return g_strdup(rest);
    }
    const char *cs = end + 1;
    guint64 col = g_ascii_strtoull(cs, &end, 10);
    if (end == cs || *end != ')' || end[1] != '\0' || l > G_MAXUINT || col > G_MAXUINT) {
        return g_strdup(rest);
    }
    return g_strdup_printf("%.*s at %u:%u)", (int)(at - rest), rest, (guint)l + src->line_base,
                           (guint)col + src->col_base);
}

/* A yamljson error message "name:L:C: rest" for @src, re-rendered with the
 * source's display name and position mapping. */
static void err_from_yaml(Ctx *c, guint src_index, const Source *src, const char *parsed_name,
                          const char *message)
{
    size_t n = strlen(parsed_name);
    if (strncmp(message, parsed_name, n) == 0 && message[n] == ':') {
        const char *p = message + n + 1;
        char *end = NULL;
        guint64 line = g_ascii_strtoull(p, &end, 10);
        if (end != p && *end == ':') {
            p = end + 1;
            guint64 col = g_ascii_strtoull(p, &end, 10);
            if (end != p && *end == ':' && line > 0 && line < G_MAXUINT && col < G_MAXUINT) {
                guint l = (guint)line + src->line_base;
                guint cc = (guint)col + src->col_base;
                g_autofree char *rest = remap_context(src, end + 1);
                add_diag(c, src_index, l, cc,
                         g_strdup_printf("%s:%u:%u:%s", src->display, l, cc, rest));
                return;
            }
        }
        add_diag(c, src_index, 0, 0, g_strdup_printf("%s%s", src->display, message + n));
        return;
    }
    add_diag(c, src_index, 0, 0, g_strdup(message));
}

/* ---- positions ------------------------------------------------------------ */

typedef struct {
    guint src;
    guint line, col;
} Pos;

static gboolean value_pos(Ctx *c, const json_t *v, Pos *out)
{
    if (!v) {
        return FALSE;
    }
    GPtrArray *orig = g_hash_table_lookup(c->origins, v);
    if (orig) {
        v = g_ptr_array_index(orig, 0);
    }
    for (guint i = 0; i < c->sources->len; i++) {
        Source *s = g_ptr_array_index(c->sources, i);
        guint l, col;
        if (s->docs && fp_docs_position(s->docs, v, &l, &col)) {
            out->src = i;
            out->line = l + s->line_base;
            out->col = col + s->col_base;
            return TRUE;
        }
    }
    return FALSE;
}

static gboolean key_pos(Ctx *c, const json_t *obj, const char *key, Pos *out)
{
    if (!obj || !key) {
        return FALSE;
    }
    GPtrArray *orig = g_hash_table_lookup(c->origins, obj);
    guint n = orig ? orig->len : 1;
    for (guint k = 0; k < n; k++) {
        const json_t *o = orig ? g_ptr_array_index(orig, k) : obj;
        if (!json_object_get(o, key)) {
            continue;
        }
        for (guint i = 0; i < c->sources->len; i++) {
            Source *s = g_ptr_array_index(c->sources, i);
            guint l, col;
            if (s->docs && fp_docs_key_position(s->docs, o, key, &l, &col)) {
                out->src = i;
                out->line = l + s->line_base;
                out->col = col + s->col_base;
                return TRUE;
            }
        }
    }
    return FALSE;
}

/* Position of @value (member @key of @parent); @prefer_key points at the key
 * itself.  Falls back to the key, then the parent. */
static gboolean find_pos(Ctx *c, const json_t *parent, const char *key, const json_t *value,
                         gboolean prefer_key, Pos *out)
{
    if (prefer_key && key_pos(c, parent, key, out)) {
        return TRUE;
    }
    if (value_pos(c, value, out)) {
        return TRUE;
    }
    if (key && key_pos(c, parent, key, out)) {
        return TRUE;
    }
    return value_pos(c, parent, out);
}

static const char *source_display(Ctx *c, guint src)
{
    if (src < c->sources->len) {
        return ((Source *)g_ptr_array_index(c->sources, src))->display;
    }
    return c->sources->len ? ((Source *)g_ptr_array_index(c->sources, 0))->display : "policy";
}

static void emit(Ctx *c, const Pos *pos, const char *path, const char *msg)
{
    const char *sep = path && *path ? ": " : "";
    if (pos) {
        add_diag(c, pos->src, pos->line, pos->col,
                 g_strdup_printf("%s:%u:%u: %s%s%s", source_display(c, pos->src), pos->line,
                                 pos->col, path ? path : "", sep, msg));
    } else {
        add_diag(c, G_MAXUINT, 0, 0,
                 g_strdup_printf("%s: %s%s%s", source_display(c, 0), path ? path : "", sep, msg));
    }
}

/* Error about @value, member @key of @parent, at key path @path. */
G_GNUC_PRINTF(6, 7)
static void err_val(Ctx *c, const json_t *parent, const char *key, const json_t *value,
                    const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    Pos pos;
    gboolean have = find_pos(c, parent, key, value, FALSE, &pos);
    emit(c, have ? &pos : NULL, path, msg);
}

/* Error about the key @key of @parent (unknown key), at path @path. */
G_GNUC_PRINTF(5, 6)
static void err_key(Ctx *c, const json_t *parent, const char *key, const char *path,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    Pos pos;
    gboolean have = find_pos(c, parent, key, key ? json_object_get(parent, key) : NULL, TRUE, &pos);
    emit(c, have ? &pos : NULL, path, msg);
}

/* ---- small helpers ---------------------------------------------------------- */

static char *path_key(const char *parent, const char *key)
{
    gboolean plain = *key != '\0';
    for (const char *p = key; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("-_/", *p)) {
            plain = FALSE;
            break;
        }
    }
    if (plain) {
        return *parent ? g_strdup_printf("%s.%s", parent, key) : g_strdup(key);
    }
    g_autofree char *q = g_strescape(key, NULL);
    return g_strdup_printf("%s[\"%s\"]", parent, q);
}

static char *path_index(const char *parent, size_t i)
{
    return g_strdup_printf("%s[%zu]", parent, i);
}

static const char *type_name(const json_t *v)
{
    return fp_json_type_name(v, FP_WORDS_YAML);
}

static guint edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) {
        return G_MAXUINT;
    }
    guint row[65];
    for (size_t j = 0; j <= lb; j++) {
        row[j] = (guint)j;
    }
    for (size_t i = 1; i <= la; i++) {
        guint prev = row[0];
        row[0] = (guint)i;
        for (size_t j = 1; j <= lb; j++) {
            guint cur = row[j];
            guint cost = g_ascii_tolower(a[i - 1]) == g_ascii_tolower(b[j - 1]) ? 0 : 1;
            row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), prev + cost);
            prev = cur;
        }
    }
    return row[lb];
}

static gboolean in_list(const char *s, const char *const *list)
{
    for (; *list; list++) {
        if (!strcmp(s, *list)) {
            return TRUE;
        }
    }
    return FALSE;
}

/* Report every key of @obj not in @allowed; returns how many there were. */
static guint check_keys(Ctx *c, const json_t *obj, const char *path, const char *const *allowed)
{
    guint unknown = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (in_list(key, allowed)) {
            continue;
        }
        unknown++;
        const char *best = NULL;
        guint best_d = 3;
        for (const char *const *a = allowed; *a; a++) {
            guint d = edit_distance(key, *a);
            if (d < best_d) {
                best_d = d;
                best = *a;
            }
        }
        g_autofree char *shown = g_strescape(key, NULL);
        if (best) {
            err_key(c, obj, key, path, "unknown key \"%.80s\" (did you mean \"%s\"?)", shown, best);
        } else {
            g_autofree char *all = g_strjoinv(", ", (char **)allowed);
            err_key(c, obj, key, path, "unknown key \"%.80s\" (known keys: %s)", shown, all);
        }
    }
    return unknown;
}

static const char *qualified_name_problem(const char *s)
{
    return fp_qualified_name_problem(s, strlen(s));
}

/* Number member; returns TRUE and sets *out when present and valid.  Range:
 * @lo < x (when @lo_open) or @lo <= x, and x <= @hi. */
static gboolean get_num(Ctx *c, const json_t *obj, const char *key, const char *path, double lo,
                        gboolean lo_open, double hi, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        return FALSE;
    }
    g_autofree char *p = path_key(path, key);
    if (!json_is_number(v)) {
        err_val(c, obj, key, v, p, "expected a number, got %s", type_name(v));
        return FALSE;
    }
    double d = json_number_value(v);
    if (!isfinite(d) || (lo_open ? !(d > lo) : !(d >= lo)) || !(d <= hi)) {
        err_val(c, obj, key, v, p, "%.10g is out of range: must be %s %.10g and <= %.10g", d,
                lo_open ? ">" : ">=", lo, hi);
        return FALSE;
    }
    *out = d;
    return TRUE;
}

/* A number-valued key of a section, the double field it sets and its range
 * (as get_num takes it). */
typedef struct {
    const char *key;
    size_t offset; /* of a double in the section's struct */
    double lo;
    gboolean lo_open;
    double hi;
} NumField;

/* Set each of @fields present in @obj (the section at @path) in the struct
 * at @base; a bad value is reported and leaves its field as it was. */
static void get_num_fields(Ctx *c, const json_t *obj, const char *path, const NumField *fields,
                           size_t n, void *base)
{
    for (size_t i = 0; i < n; i++) {
        double d;
        if (get_num(c, obj, fields[i].key, path, fields[i].lo, fields[i].lo_open, fields[i].hi,
                    &d)) {
            *(double *)((char *)base + fields[i].offset) = d;
        }
    }
}

/* A whole number member in [lo, hi]; FALSE when absent or invalid. */
static gboolean get_count(Ctx *c, const json_t *v, const char *key, const char *p, double lo,
                          double hi, guint *out)
{
    double d;
    if (!get_num(c, v, key, p, lo, FALSE, hi, &d)) {
        return FALSE;
    }
    if (d != floor(d)) {
        g_autofree char *pk = path_key(p, key);
        err_val(c, v, key, json_object_get(v, key), pk, "%.10g is not a whole number", d);
        return FALSE;
    }
    *out = (guint)d;
    return TRUE;
}

/* String member (NULL when absent or wrong, with an error for the latter). */
static const char *get_str(Ctx *c, const json_t *obj, const char *key, const char *path)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        return NULL;
    }
    if (!json_is_string(v)) {
        g_autofree char *p = path_key(path, key);
        err_val(c, obj, key, v, p, "expected a string, got %s", type_name(v));
        return NULL;
    }
    return json_string_value(v);
}

/* Mapping member; NULL when absent, null, or not a mapping (error). */
static json_t *get_obj(Ctx *c, const json_t *obj, const char *key, const char *path)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        return NULL;
    }
    if (!json_is_object(v)) {
        g_autofree char *p = path_key(path, key);
        err_val(c, obj, key, v, p, "expected a mapping, got %s", type_name(v));
        return NULL;
    }
    return v;
}

typedef const char *(*NameCheck)(const char *s);

static const char *check_product_wild(const char *s)
{
    return fp_product_problem(s, strlen(s), true);
}

/* A list of strings (or, with @single_ok, one string) at member @key.
 * Distinct, 1..@max items, each passing @check.  NULL when absent or
 * invalid (errors reported, *bad set). */
static char **get_str_list(Ctx *c, const json_t *obj, const char *key, const char *path,
                           gboolean single_ok, guint max, NameCheck check, gboolean *bad)
{
    json_t *v = json_object_get(obj, key);
    *bad = FALSE;
    if (!v || json_is_null(v)) {
        return NULL;
    }
    g_autofree char *p = path_key(path, key);
    if (single_ok && json_is_string(v)) {
        const char *problem = check ? check(json_string_value(v)) : NULL;
        if (problem) {
            err_val(c, obj, key, v, p, "\"%.80s\" %s", json_string_value(v), problem);
            *bad = TRUE;
            return NULL;
        }
        char **out = g_new0(char *, 2);
        out[0] = g_strdup(json_string_value(v));
        return out;
    }
    if (!json_is_array(v)) {
        err_val(c, obj, key, v, p, "expected a list of strings, got %s", type_name(v));
        *bad = TRUE;
        return NULL;
    }
    size_t n = json_array_size(v);
    if (n == 0 || n > max) {
        err_val(c, obj, key, v, p, "needs 1 to %u items, got %zu", max, n);
        *bad = TRUE;
        return NULL;
    }
    char **out = g_new0(char *, n + 1);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        g_autofree char *pi = path_index(p, i);
        if (!json_is_string(e)) {
            err_val(c, v, NULL, e, pi, "expected a string, got %s", type_name(e));
            *bad = TRUE;
            continue;
        }
        const char *s = json_string_value(e);
        const char *problem = check ? check(s) : NULL;
        if (problem) {
            err_val(c, v, NULL, e, pi, "\"%.80s\" %s", s, problem);
            *bad = TRUE;
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (out[j] && !strcmp(out[j], s)) {
                err_val(c, v, NULL, e, pi, "\"%.80s\" is listed twice", s);
                *bad = TRUE;
                break;
            }
        }
        out[i] = g_strdup(s);
    }
    if (*bad) {
        for (size_t j = 0; j < n; j++) {
            g_free(out[j]);
        }
        g_free(out);
        return NULL;
    }
    return out;
}

/* ---- top level, labels, skus, pools ------------------------------------------ */

static void load_labels(Ctx *c, const json_t *root)
{
    static const char *const keys[] = {"pool",      "region",       "zone",         "gpuProduct",
                                       "gpuMemory", "instanceType", "capacityType", NULL};
    json_t *labels = get_obj(c, root, "nodeLabels", "");
    if (!labels) {
        return;
    }
    check_keys(c, labels, "nodeLabels", keys);
    char ***fields[] = {&c->policy->label_pool,         &c->policy->label_region,
                        &c->policy->label_zone,         &c->policy->label_product,
                        &c->policy->label_memory,       &c->policy->label_instance_type,
                        &c->policy->label_capacity_type};
    for (guint i = 0; keys[i]; i++) {
        gboolean bad;
        char **list = get_str_list(c, labels, keys[i], "nodeLabels", TRUE, MAX_LABEL_KEYS,
                                   qualified_name_problem, &bad);
        if (list) {
            g_strfreev(*fields[i]);
            *fields[i] = list;
        }
    }
}

/* The name rule of a keyed mapping's entries: NULL when @name is
 * acceptable, else a phrase completing "\"NAME\" ..." (scoring/names.h). */
typedef const char *(*EntryNameProblem)(const char *name);

/* Loads one entry of a keyed mapping, already known to be a mapping with
 * only its allowed keys; @path names it in messages. */
typedef void (*EntryLoad)(Ctx *c, const char *name, json_t *v, const char *path);

/* Each entry of the mapping @key of @root whose name @name_problem accepts
 * and whose value is a mapping, with keys checked against @keys, goes to
 * @load; the rest are reported. */
static void load_keyed_mappings(Ctx *c, const json_t *root, const char *key,
                                EntryNameProblem name_problem, const char *const *keys,
                                EntryLoad load)
{
    json_t *map = get_obj(c, root, key, "");
    if (!map) {
        return;
    }
    const char *name;
    json_t *v;
    json_object_foreach(map, name, v)
    {
        g_autofree char *p = path_key(key, name);
        const char *problem = name_problem(name);
        if (problem) {
            err_key(c, map, name, key, "\"%.80s\" %s", name, problem);
            continue;
        }
        if (!json_is_object(v)) {
            err_val(c, map, name, v, p, "expected a mapping, got %s", type_name(v));
            continue;
        }
        check_keys(c, v, p, keys);
        load(c, name, v, p);
    }
}

static const char *sku_name_problem(const char *name)
{
    return fp_product_problem(name, strlen(name), false);
}

/* skus: <product>: {memoryGiB, relativeThroughput, pricePerGPUHour}, merged
 * over the built-in entry of that product. */
static void load_sku(Ctx *c, const char *product, json_t *v, const char *p)
{
    const FpSku *builtin = g_hash_table_lookup(c->policy->skus, product);
    FpSku *sku = fp_sku_new(product);
    if (builtin) {
        sku->memory_gib = builtin->memory_gib;
        sku->relative_throughput = builtin->relative_throughput;
        sku->price_per_gpu_hour = builtin->price_per_gpu_hour;
        sku->builtin_price = builtin->builtin_price;
    }
    double d;
    if (get_num(c, v, "memoryGiB", p, 0, TRUE, 1e6, &d)) {
        sku->memory_gib = d;
    }
    if (get_num(c, v, "relativeThroughput", p, 0, TRUE, 1e6, &d)) {
        sku->relative_throughput = d;
    }
    if (get_num(c, v, "pricePerGPUHour", p, 0, FALSE, 1e6, &d)) {
        sku->price_per_gpu_hour = d;
        sku->builtin_price = false;
    }
    g_hash_table_replace(c->policy->skus, g_strdup(product), sku);
}

static void load_skus(Ctx *c, const json_t *root)
{
    static const char *const keys[] = {"memoryGiB", "relativeThroughput", "pricePerGPUHour", NULL};
    load_keyed_mappings(c, root, "skus", sku_name_problem, keys, load_sku);
}

static const char *instance_type_name_problem(const char *name)
{
    return fp_name_problem(name, strlen(name), FP_NAME_LABEL_VALUE);
}

/* instanceTypes: <instance type>: {gpuProduct, gpuCount, memoryGiB,
 * pricePerGPUHour}: an override of the built-in GPU catalog. */
static void load_instance_type(Ctx *c, const char *name, json_t *v, const char *p)
{
    FpInstanceType *it = fp_instance_type_new(name);
    const char *product = get_str(c, v, "gpuProduct", p);
    if (product) {
        const char *bad = fp_product_problem(product, strlen(product), false);
        if (bad) {
            g_autofree char *pp = path_key(p, "gpuProduct");
            err_val(c, v, "gpuProduct", json_object_get(v, "gpuProduct"), pp, "\"%.80s\" %s",
                    product, bad);
        } else {
            it->product = g_strdup(product);
        }
    }
    double d;
    if (get_num(c, v, "gpuCount", p, 1, FALSE, 1024, &d)) {
        it->gpu_count = (guint)d;
    }
    if (get_num(c, v, "memoryGiB", p, 0, TRUE, 1e6, &d)) {
        it->memory_gib = d;
    }
    if (get_num(c, v, "pricePerGPUHour", p, 0, FALSE, 1e6, &d)) {
        it->price_per_gpu_hour = d;
    }
    g_hash_table_replace(c->policy->instance_types, g_strdup(name), it);
}

static void load_instance_types(Ctx *c, const json_t *root)
{
    static const char *const keys[] = {"gpuProduct", "gpuCount", "memoryGiB", "pricePerGPUHour",
                                       NULL};
    load_keyed_mappings(c, root, "instanceTypes", instance_type_name_problem, keys,
                        load_instance_type);
}

/* A model catalog entry name: a Hugging Face id or preset, printable ASCII
 * without blanks, 1..256 bytes. */
static const char *model_name_problem(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 256) {
        return "must be 1..256 characters";
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f) {
            return "must be printable ASCII without blanks";
        }
    }
    return NULL;
}

/* One entry of `models`: merged over the built-in entry of that name. */
static void load_model(Ctx *c, const json_t *models, const char *name, const json_t *v)
{
    static const char *const keys[] = {
        "params",     "activeParams",    "layers",     "kvHeads", "headDim",      "dtype",
        "weightsGiB", "kvBytesPerToken", "maxContext", "experts", "quantization", NULL};
    g_autofree char *p = path_key("models", name);
    const char *problem = model_name_problem(name);
    if (problem) {
        err_key(c, models, name, "models", "\"%.80s\" %s", name, problem);
        return;
    }
    if (!json_is_object(v)) {
        err_val(c, models, name, v, p, "expected a mapping, got %s", type_name(v));
        return;
    }
    check_keys(c, v, p, keys);
    const FpModelSpec *builtin = fp_model_catalog_find(NULL, name);
    bool same = builtin && g_ascii_strcasecmp(builtin->name, name) == 0;
    FpModelSpec *spec = same ? fp_model_spec_copy(builtin, name) : fp_model_spec_new(name);
    fp_model_spec_set_string(&spec->source, "policy");
    static const NumField nums[] = {
        {"params", offsetof(FpModelSpec, params_b), 0, TRUE, 1e5},
        {"activeParams", offsetof(FpModelSpec, active_params_b), 0, TRUE, 1e5},
        {"weightsGiB", offsetof(FpModelSpec, weights_gib), 0, TRUE, 1e6},
    };
    get_num_fields(c, v, p, nums, G_N_ELEMENTS(nums), spec);
    const struct {
        const char *key;
        int *field;
        double hi;
    } ints[] = {{"layers", &spec->layers, 10000},
                {"kvHeads", &spec->kv_heads, 10000},
                {"headDim", &spec->head_dim, 65536},
                {"kvBytesPerToken", &spec->kv_bytes_per_token, 1e9},
                {"maxContext", &spec->max_context, G_MAXINT32},
                {"experts", &spec->experts, 100000}};
    for (size_t i = 0; i < G_N_ELEMENTS(ints); i++) {
        guint n;
        if (get_count(c, v, ints[i].key, p, 1, ints[i].hi, &n)) {
            *ints[i].field = (int)n;
        }
    }
    const char *dtype = get_str(c, v, "dtype", p);
    if (dtype) {
        if (fp_model_bytes_per_param(NULL, dtype) <= 0) {
            g_autofree char *kp = path_key(p, "dtype");
            err_val(c, v, "dtype", json_object_get(v, "dtype"), kp,
                    "unknown dtype \"%.40s\": bf16, fp16, fp32, bfloat16, float16, float32", dtype);
        } else {
            fp_model_spec_set_string(&spec->dtype, dtype);
        }
    }
    const char *quant = get_str(c, v, "quantization", p);
    if (quant) {
        if (fp_model_bytes_per_param(quant, NULL) <= 0) {
            g_autofree char *kp = path_key(p, "quantization");
            err_val(c, v, "quantization", json_object_get(v, "quantization"), kp,
                    "unknown quantization \"%.40s\" (e.g. fp8, awq, gptq, mxfp4)", quant);
        } else {
            fp_model_spec_set_string(&spec->quant, quant);
        }
    }
    if (spec->weights_gib <= 0 && spec->params_b <= 0) {
        err_val(c, models, name, v, p,
                "needs weightsGiB or params (the fit needs the weight size)");
    }
    g_hash_table_replace(c->policy->models, g_strdup(name), spec);
}

/* `models`: catalog additions and overrides; `modelFit`: the formula's constants. */
static void load_models(Ctx *c, const json_t *root)
{
    json_t *models = get_obj(c, root, "models", "");
    const char *name;
    json_t *v;
    json_object_foreach(models, name, v)
    {
        load_model(c, models, name, v);
    }
    static const char *const keys[] = {"weightFactor",
                                       "overheadGiB",
                                       "overheadWeightFactor",
                                       "defaultUtilization",
                                       "vllmUtilization",
                                       "defaultContext",
                                       NULL};
    json_t *fit = get_obj(c, root, "modelFit", "");
    if (!fit) {
        return;
    }
    check_keys(c, fit, "modelFit", keys);
    FpFitConstants *k = &c->policy->fit;
    static const NumField fields[] = {
        {"weightFactor", offsetof(FpFitConstants, weight_factor), 1, FALSE, 10},
        {"overheadGiB", offsetof(FpFitConstants, overhead_gib), 0, FALSE, 1000},
        {"overheadWeightFactor", offsetof(FpFitConstants, overhead_weight_factor), 0, FALSE, 10},
        {"defaultUtilization", offsetof(FpFitConstants, default_utilization), 0, TRUE, 1},
        {"vllmUtilization", offsetof(FpFitConstants, vllm_utilization), 0, TRUE, 1},
    };
    get_num_fields(c, fit, "modelFit", fields, G_N_ELEMENTS(fields), k);
    double d;
    if (get_num(c, fit, "defaultContext", "modelFit", 1, FALSE, G_MAXINT32, &d)) {
        k->default_context = (int64_t)d;
    }
}

/* ---- transfer: the time-to-serve constants (scoring/time_to_serve.h) ------------- */

#define MAX_WEIGHT_STORES 256

static const char *pool_name_problem(const char *s);
static const char *region_problem(const char *s);

/* One entry of transfer.stores: {prefix, region, cloud}. */
static void load_store(Ctx *c, const json_t *stores, size_t i, const json_t *v, GHashTable *seen,
                       GArray *out)
{
    static const char *const keys[] = {"prefix", "region", "cloud", NULL};
    g_autofree char *p = path_index("transfer.stores", i);
    if (!json_is_object(v)) {
        err_val(c, stores, NULL, v, p, "expected a mapping ({prefix, region, cloud}), got %s",
                type_name(v));
        return;
    }
    check_keys(c, v, p, keys);
    const char *prefix = get_str(c, v, "prefix", p);
    const char *region = get_str(c, v, "region", p);
    const char *cloud = get_str(c, v, "cloud", p);
    g_autofree char *pp = path_key(p, "prefix");
    if (!json_object_get(v, "prefix")) {
        err_val(c, stores, NULL, v, p, "\"prefix\" is required (e.g. s3://my-models/)");
        return;
    }
    if (!prefix) {
        return;
    }
    FpWeightsLocation loc;
    const char *problem = NULL;
    if (!fp_weights_location_parse(prefix, &loc, &problem)) {
        err_val(c, v, "prefix", json_object_get(v, "prefix"), pp, "\"%.80s\" %s", prefix, problem);
        return;
    }
    FpLocKind kind = loc.kind;
    fp_weights_location_clear(&loc);
    if (kind != FP_LOC_STORE && kind != FP_LOC_OTHER) {
        err_val(c, v, "prefix", json_object_get(v, "prefix"), pp,
                "\"%.80s\" is not an object store (s3://, gs://, az://, abfs://, https://...): "
                "the hub, a pvc:// and a path need no store entry",
                prefix);
        return;
    }
    if (g_hash_table_contains(seen, prefix)) {
        err_val(c, v, "prefix", json_object_get(v, "prefix"), pp, "duplicate prefix \"%.80s\"",
                prefix);
        return;
    }
    const char *rp = region ? region_problem(region) : NULL;
    if (rp) {
        g_autofree char *pr = path_key(p, "region");
        err_val(c, v, "region", json_object_get(v, "region"), pr, "\"%.80s\" %s", region, rp);
        return;
    }
    const char *cp = cloud ? pool_name_problem(cloud) : NULL;
    if (cp) {
        g_autofree char *pc = path_key(p, "cloud");
        err_val(c, v, "cloud", json_object_get(v, "cloud"), pc, "\"%.80s\" %s", cloud, cp);
        return;
    }
    if (!region && !cloud) {
        err_val(c, stores, NULL, v, p,
                "needs \"region\" or \"cloud\": a store whose place is unknown is what "
                "flexplace assumes without an entry");
        return;
    }
    g_hash_table_add(seen, (gpointer)prefix);
    FpWeightStore st = {g_strdup(prefix), g_strdup(region), g_strdup(cloud)};
    g_array_append_val(out, st);
}

static void load_transfer_sources(Ctx *c, const json_t *tx)
{
    static const char *const names[FP_N_SOURCES] = {
        [FP_SOURCE_SAME_REGION] = "sameRegion",
        [FP_SOURCE_OTHER_REGION] = "otherRegion",
        [FP_SOURCE_OTHER_CLOUD] = "otherCloud",
        [FP_SOURCE_HUB] = "hub",
    };
    static const char *const keys[] = {"sameRegion", "otherRegion", "otherCloud", "hub", NULL};
    static const char *const cls_keys[] = {"gibPerSecond", "usdPerGB", NULL};
    json_t *src = get_obj(c, tx, "sources", "transfer");
    if (!src) {
        return;
    }
    check_keys(c, src, "transfer.sources", keys);
    for (int s = FP_SOURCE_SAME_REGION; s < FP_N_SOURCES; s++) {
        g_autofree char *p = path_key("transfer.sources", names[s]);
        json_t *cls = get_obj(c, src, names[s], "transfer.sources");
        if (!cls) {
            continue;
        }
        check_keys(c, cls, p, cls_keys);
        FpTransferClass *k = &c->policy->transfer.cls[s];
        double d;
        if (get_num(c, cls, "gibPerSecond", p, 0, TRUE, 1000, &d)) {
            k->gib_per_s = d;
        }
        if (get_num(c, cls, "usdPerGB", p, 0, FALSE, 100, &d)) {
            k->usd_per_gb = d;
        }
    }
}

/* `transfer`: bandwidths and prices per weight source, load and image
 * pull rates, the egress amortisation and the stores' places. */
static void load_transfer(Ctx *c, const json_t *root)
{
    static const char *const keys[] = {
        "sources",         "loadGiBPerSecondPerGPU", "startSeconds", "imagePullGiBPerSecond",
        "defaultImageGiB", "amortizationHours",      "stores",       NULL};
    json_t *tx = get_obj(c, root, "transfer", "");
    if (!tx) {
        return;
    }
    check_keys(c, tx, "transfer", keys);
    load_transfer_sources(c, tx);
    static const NumField fields[] = {
        {"loadGiBPerSecondPerGPU", offsetof(FpTransferConstants, load_gib_per_s_per_gpu), 0, TRUE,
         1000},
        {"startSeconds", offsetof(FpTransferConstants, start_s), 0, FALSE, 86400},
        {"imagePullGiBPerSecond", offsetof(FpTransferConstants, image_pull_gib_per_s), 0, TRUE,
         1000},
        {"defaultImageGiB", offsetof(FpTransferConstants, default_image_gib), 0, FALSE, 10000},
        {"amortizationHours", offsetof(FpTransferConstants, amortization_hours), 0, TRUE, 87600},
    };
    FpTransferConstants *k = &c->policy->transfer;
    get_num_fields(c, tx, "transfer", fields, G_N_ELEMENTS(fields), k);
    json_t *stores = json_object_get(tx, "stores");
    if (!stores || json_is_null(stores)) {
        return;
    }
    if (!json_is_array(stores)) {
        err_val(c, tx, "stores", stores, "transfer.stores",
                "expected a list of stores ({prefix, region, cloud}), got %s", type_name(stores));
        return;
    }
    if (json_array_size(stores) > MAX_WEIGHT_STORES) {
        err_val(c, tx, "stores", stores, "transfer.stores", "more than %d stores",
                MAX_WEIGHT_STORES);
        return;
    }
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    GArray *out = g_array_new(FALSE, TRUE, sizeof(FpWeightStore));
    size_t i;
    json_t *v;
    json_array_foreach(stores, i, v)
    {
        load_store(c, stores, i, v, seen, out);
    }
    fp_transfer_clear(k);
    k->n_stores = out->len;
    k->stores = (FpWeightStore *)g_array_free(out, out->len == 0);
}

static const char *pool_name_problem(const char *s)
{
    return fp_name_problem(s, strlen(s), FP_NAME_LABEL_VALUE);
}

static void load_pools(Ctx *c, const json_t *root)
{
    static const char *const keys[] = {"name", "pricePerGPUHour", "maxUtilization", "cloud", NULL};
    json_t *pools = json_object_get(root, "pools");
    if (!pools || json_is_null(pools)) {
        return;
    }
    if (!json_is_array(pools)) {
        err_val(c, root, "pools", pools, "pools",
                "expected a list of pools ({name, pricePerGPUHour, maxUtilization, cloud}), got "
                "%s",
                type_name(pools));
        return;
    }
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal); /* name -> json_t* */
    size_t i;
    json_t *v;
    json_array_foreach(pools, i, v)
    {
        g_autofree char *p = path_index("pools", i);
        if (!json_is_object(v)) {
            err_val(c, pools, NULL, v, p, "expected a mapping, got %s", type_name(v));
            continue;
        }
        check_keys(c, v, p, keys);
        json_t *jname = json_object_get(v, "name");
        if (!jname) {
            err_val(c, pools, NULL, v, p, "\"name\" is required");
            continue;
        }
        const char *name = get_str(c, v, "name", p);
        if (!name) {
            continue;
        }
        const char *problem = pool_name_problem(name);
        g_autofree char *pn = path_key(p, "name");
        if (problem) {
            err_val(c, v, "name", jname, pn, "\"%.80s\" %s", name, problem);
            continue;
        }
        json_t *first = g_hash_table_lookup(seen, name);
        if (first) {
            Pos fp = {0};
            value_pos(c, first, &fp);
            err_val(c, v, "name", jname, pn, "duplicate pool name \"%s\" (first at %u:%u)", name,
                    fp.line, fp.col);
            continue;
        }
        g_hash_table_insert(seen, (gpointer)name, jname);
        FpPool *pool = fp_pool_new(name);
        double d;
        if (get_num(c, v, "pricePerGPUHour", p, 0, FALSE, 1e6, &d)) {
            pool->price_per_gpu_hour = d;
        }
        if (get_num(c, v, "maxUtilization", p, 0, TRUE, 1, &d)) {
            pool->max_utilization = d;
        }
        const char *cloud = get_str(c, v, "cloud", p);
        if (cloud) {
            const char *cp = pool_name_problem(cloud);
            if (cp) {
                g_autofree char *pc = path_key(p, "cloud");
                err_val(c, v, "cloud", json_object_get(v, "cloud"), pc, "\"%.80s\" %s", cloud, cp);
            } else {
                pool->cloud = g_strdup(cloud);
            }
        }
        g_hash_table_replace(c->policy->pools, g_strdup(name), pool);
    }
}

/* ---- the latency matrix -------------------------------------------------------- */

typedef struct {
    const json_t *row; /* the mapping holding the value */
    const char *col;   /* its key there */
    const json_t *value;
    char *path;
    double ms;
    gboolean set;     /* a valid value */
    gboolean written; /* any value, valid or not (not "missing") */
} Cell;

static const char *region_problem(const char *s)
{
    return fp_name_problem(s, strlen(s), FP_NAME_REGION);
}

static int region_index(Ctx *c, GPtrArray *names, const char *name)
{
    gpointer idx;
    if (g_hash_table_lookup_extended(c->matrix, name, NULL, &idx)) {
        return GPOINTER_TO_INT(idx);
    }
    if (names->len >= FP_POLICY_MAX_REGIONS) {
        return -1;
    }
    g_ptr_array_add(names, g_strdup(name));
    g_hash_table_insert(c->matrix, g_ptr_array_index(names, names->len - 1),
                        GINT_TO_POINTER((int)names->len - 1));
    return (int)names->len - 1;
}

/* The latency matrix being read: region names in order of appearance, an
 * r x r grid of the cells as written, and the symmetric values. */
typedef struct {
    const json_t *regions; /* the "regions" mapping */
    const json_t *m;       /* regions.latencyMs */
    GPtrArray *names;
    guint r;
    Cell *cells; /* [i * r + j]: row i, column j as written */
    double *sym; /* [i * r + j]: the value used, NAN when none */
    gboolean bad;
} Matrix;

#define MPATH "regions.latencyMs"

static Cell *cell_at(Matrix *x, guint i, guint j)
{
    return &x->cells[(gsize)i * x->r + j];
}

/* First pass: every region named as a row or a column, in order of
 * appearance (c->matrix maps a name to its index). */
static void matrix_names(Ctx *c, Matrix *x)
{
    gboolean too_many = FALSE;
    const char *rk;
    json_t *row;
    json_object_foreach((json_t *)x->m, rk, row)
    {
        const char *problem = region_problem(rk);
        if (problem) {
            err_key(c, x->m, rk, MPATH, "region \"%.80s\" %s", rk, problem);
            continue;
        }
        too_many |= region_index(c, x->names, rk) < 0;
        if (!json_is_object(row)) {
            continue;
        }
        const char *ck;
        json_t *cell;
        json_object_foreach(row, ck, cell)
        {
            too_many |= !region_problem(ck) && region_index(c, x->names, ck) < 0;
        }
    }
    if (too_many) {
        err_val(c, x->regions, "latencyMs", x->m, MPATH, "more than %d regions",
                FP_POLICY_MAX_REGIONS);
    }
    x->bad = too_many;
}

/* One row's cells into the grid. */
static void matrix_row(Ctx *c, Matrix *x, const char *rk, const json_t *row)
{
    g_autofree char *rp = path_key(MPATH, rk);
    if (!json_is_object(row)) {
        err_val(c, x->m, rk, row, rp, "expected a mapping of region to milliseconds, got %s",
                type_name(row));
        x->bad = TRUE;
        return;
    }
    int i = region_index(c, x->names, rk);
    const char *ck;
    json_t *cell;
    json_object_foreach((json_t *)row, ck, cell)
    {
        const char *problem = region_problem(ck);
        if (problem) {
            err_key(c, row, ck, rp, "region \"%.80s\" %s", ck, problem);
            x->bad = TRUE;
            continue;
        }
        int j = region_index(c, x->names, ck);
        double ms;
        gboolean valid = get_num(c, row, ck, rp, 0, FALSE, MAX_LATENCY_MS, &ms);
        if (i < 0 || j < 0) {
            continue;
        }
        Cell *e = cell_at(x, (guint)i, (guint)j);
        e->written = TRUE;
        if (!valid) {
            x->bad = TRUE;
            continue;
        }
        e->row = row;
        e->col = ck;
        e->value = cell;
        e->path = path_key(rp, ck);
        e->ms = ms;
        e->set = TRUE;
    }
}

/* Second pass: the cells. */
static void matrix_cells(Ctx *c, Matrix *x)
{
    const char *rk;
    json_t *row;
    json_object_foreach((json_t *)x->m, rk, row)
    {
        if (region_problem(rk)) {
            x->bad = TRUE;
            continue;
        }
        matrix_row(c, x, rk, row);
    }
}

/* Both directions written: they may differ by at most max(5 ms, 20%);
 * reported at the one written later.  Returns their mean. */
static double matrix_both(Ctx *c, Matrix *x, Cell *a, Cell *b)
{
    double diff = fabs(a->ms - b->ms);
    double allowed = MAX(CONTRADICTION_MIN_MS, CONTRADICTION_FRACTION * MAX(a->ms, b->ms));
    Pos pa = {0}, pb = {0};
    value_pos(c, a->value, &pa);
    value_pos(c, b->value, &pb);
    gboolean b_later =
        pb.src > pa.src ||
        (pb.src == pa.src && (pb.line > pa.line || (pb.line == pa.line && pb.col > pa.col)));
    Cell *later = b_later ? b : a, *earlier = b_later ? a : b;
    Pos *ep = b_later ? &pa : &pb;
    if (diff > allowed) {
        err_val(c, later->row, later->col, later->value, later->path,
                "%g ms contradicts %s = %g ms (at %u:%u): the two directions may "
                "differ by at most %g ms (max of 5 ms and 20%%)",
                later->ms, earlier->path, earlier->ms, ep->line, ep->col, allowed);
        x->bad = TRUE;
    }
    return (a->ms + b->ms) / 2;
}

/* Pairs of distinct regions: contradictions, missing pairs, the symmetric
 * value. */
static void matrix_pairs(Ctx *c, Matrix *x)
{
    GString *missing = g_string_new(NULL);
    guint n_missing = 0;
    for (guint i = 0; i < x->r; i++) {
        for (guint j = i + 1; j < x->r; j++) {
            Cell *a = cell_at(x, i, j), *b = cell_at(x, j, i);
            double v = NAN;
            if (a->set && b->set) {
                v = matrix_both(c, x, a, b);
            } else if (a->set || b->set) {
                v = a->set ? a->ms : b->ms;
            } else if (!a->written && !b->written) {
                if (n_missing < MAX_MISSING_SHOWN) {
                    g_string_append_printf(missing, "%s%s <-> %s", n_missing ? ", " : "",
                                           (char *)g_ptr_array_index(x->names, i),
                                           (char *)g_ptr_array_index(x->names, j));
                }
                n_missing++;
            }
            x->sym[(gsize)i * x->r + j] = x->sym[(gsize)j * x->r + i] = v;
        }
    }
    if (n_missing) {
        if (n_missing > MAX_MISSING_SHOWN) {
            g_string_append_printf(missing, " and %u more", n_missing - MAX_MISSING_SHOWN);
        }
        err_val(c, x->regions, "latencyMs", x->m, MPATH,
                "%u region pair%s without a latency (every two regions named in the matrix "
                "need a value in at least one direction): %s",
                n_missing, n_missing == 1 ? "" : "s", missing->str);
        x->bad = TRUE;
    }
    g_string_free(missing, TRUE);
}

/* A region to itself: not farther than to any other region. */
static void matrix_self(Ctx *c, Matrix *x)
{
    for (guint i = 0; i < x->r; i++) {
        Cell *self = cell_at(x, i, i);
        double *row = &x->sym[(gsize)i * x->r];
        if (!self->set) {
            continue;
        }
        int nearest = -1;
        for (guint j = 0; j < x->r; j++) {
            double v = j == i ? NAN : row[j];
            if (!isnan(v) && (nearest < 0 || v < row[nearest])) {
                nearest = (int)j;
            }
        }
        if (nearest >= 0 && self->ms > row[nearest]) {
            err_val(c, self->row, self->col, self->value, self->path,
                    "a region's round trip to itself (%g ms) exceeds its round trip to %s (%g ms)",
                    self->ms, (char *)g_ptr_array_index(x->names, (guint)nearest), row[nearest]);
            x->bad = TRUE;
        }
        row[i] = self->ms;
    }
}

/* The values into the policy, one entry per unordered pair. */
static void matrix_store(Ctx *c, Matrix *x)
{
    for (guint i = 0; i < x->r; i++) {
        for (guint j = i; j < x->r; j++) {
            double v = j == i && !cell_at(x, i, i)->set ? NAN : x->sym[(gsize)i * x->r + j];
            if (isnan(v)) {
                continue;
            }
            double *ms = g_new(double, 1);
            *ms = v;
            g_hash_table_replace(c->policy->latency,
                                 fp_policy_latency_key(g_ptr_array_index(x->names, i),
                                                       g_ptr_array_index(x->names, j)),
                                 ms);
        }
    }
}

static void load_matrix(Ctx *c, const json_t *regions, const json_t *m)
{
    Matrix x = {.regions = regions, .m = m, .names = g_ptr_array_new_with_free_func(g_free)};
    /* c->matrix borrows its keys from x.names while reading; rebuilt with
     * owned keys at the end, as the region set outlives x.names. */
    c->matrix = g_hash_table_new(g_str_hash, g_str_equal);
    matrix_names(c, &x);
    x.r = x.names->len;
    x.cells = g_new0(Cell, (gsize)x.r * x.r);
    x.sym = g_new(double, (gsize)x.r *x.r);
    matrix_cells(c, &x);
    matrix_pairs(c, &x);
    matrix_self(c, &x);
    if (!x.bad) {
        matrix_store(c, &x);
    }
    for (gsize k = 0; k < (gsize)x.r * x.r; k++) {
        g_free(x.cells[k].path);
    }
    g_free(x.cells);
    g_free(x.sym);
    g_hash_table_unref(c->matrix);
    c->matrix = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; i < x.names->len; i++) {
        g_hash_table_add(c->matrix, g_strdup(g_ptr_array_index(x.names, i)));
    }
    g_ptr_array_unref(x.names);
}

static void load_regions(Ctx *c, const json_t *root)
{
    static const char *const keys[] = {"latencyMs", "defaultLatencyMs", "sameRegionLatencyMs",
                                       "builtinLatency", NULL};
    json_t *regions = get_obj(c, root, "regions", "");
    if (!regions) {
        return;
    }
    check_keys(c, regions, "regions", keys);
    double d;
    if (get_num(c, regions, "defaultLatencyMs", "regions", 0, FALSE, MAX_LATENCY_MS, &d)) {
        c->policy->default_latency_ms = d;
    }
    if (get_num(c, regions, "sameRegionLatencyMs", "regions", 0, FALSE, MAX_LATENCY_MS, &d)) {
        c->policy->same_region_latency_ms = d;
    }
    json_t *builtin = json_object_get(regions, "builtinLatency");
    if (builtin && !json_is_boolean(builtin)) {
        err_val(c, regions, "builtinLatency", builtin, "regions.builtinLatency",
                "expected true or false, got %s", type_name(builtin));
    } else if (builtin) {
        c->policy->builtin_latency = json_is_true(builtin);
    }
    json_t *m = get_obj(c, regions, "latencyMs", "regions");
    if (m && json_object_size(m) > 0) {
        load_matrix(c, regions, m);
    }
}

/* ---- profiles -------------------------------------------------------------------- */

/* Parse one "region" or "region=weight" item into @regions/@out. */
static const char *origin_item(const char *item, GString *out, GPtrArray *regions)
{
    g_autofree char *s = g_strstrip(g_strdup(item));
    double w = 1.0;
    char *eq = strchr(s, '=');
    if (eq) {
        *eq = '\0';
        g_strstrip(s);
        char *ws = g_strstrip(eq + 1);
        char *end = NULL;
        gboolean digits = *ws != '\0';
        for (const char *p = ws; *p; p++) {
            digits = digits && (g_ascii_isdigit(*p) || strchr(".eE+-", *p));
        }
        w = digits ? g_ascii_strtod(ws, &end) : NAN;
        if (!digits || !end || *end || !isfinite(w) || !(w > 0)) {
            return "has a weight that is not a positive number";
        }
    }
    const char *problem = region_problem(s);
    if (problem) {
        return problem;
    }
    for (guint i = 0; i < regions->len; i++) {
        if (!strcmp(g_ptr_array_index(regions, i), s)) {
            return "is listed twice";
        }
    }
    g_ptr_array_add(regions, g_strdup(s));
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    g_string_append_printf(out, "%s%s=%s", out->len ? "," : "", s,
                           g_ascii_formatd(buf, sizeof buf, "%.17g", w));
    return NULL;
}

/* originRegions: a spec string, a list of items or a mapping region ->
 * weight.  Returns the canonical spec "r=w,r2=w2" or NULL (errors). */
static char *load_origins(Ctx *c, const json_t *prof, const char *path, char ***regions_out)
{
    json_t *v = json_object_get(prof, "originRegions");
    g_autofree char *p = path_key(path, "originRegions");
    g_autoptr(GPtrArray) regions = g_ptr_array_new_with_free_func(g_free);
    GString *out = g_string_new(NULL);
    const char *problem = NULL;
    g_autofree char *bad_item = NULL;
    if (json_is_string(v)) {
        g_auto(GStrv) items = g_strsplit(json_string_value(v), ",", MAX_ORIGINS + 1);
        if (g_strv_length(items) > MAX_ORIGINS) {
            problem = "has more than 64 regions";
            bad_item = g_strdup(json_string_value(v));
        }
        for (char **it = items; *it && !problem; it++) {
            problem = origin_item(*it, out, regions);
            if (problem) {
                bad_item = g_strdup(*it);
            }
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *e;
        if (json_array_size(v) > MAX_ORIGINS || json_array_size(v) == 0) {
            problem = "needs 1 to 64 regions";
            bad_item = g_strdup("list");
        }
        json_array_foreach(v, i, e)
        {
            if (problem) {
                break;
            }
            if (!json_is_string(e)) {
                g_autofree char *pi = path_index(p, i);
                err_val(c, v, NULL, e, pi,
                        "expected a string (\"region\" or \"region=weight\"), got %s",
                        type_name(e));
                g_string_free(out, TRUE);
                return NULL;
            }
            problem = origin_item(json_string_value(e), out, regions);
            if (problem) {
                bad_item = g_strdup(json_string_value(e));
            }
        }
    } else if (json_is_object(v)) {
        const char *k;
        json_t *w;
        if (json_object_size(v) > MAX_ORIGINS || json_object_size(v) == 0) {
            problem = "needs 1 to 64 regions";
            bad_item = g_strdup("mapping");
        }
        json_object_foreach(v, k, w)
        {
            if (problem) {
                break;
            }
            if (!json_is_number(w)) {
                g_autofree char *pk = path_key(p, k);
                err_val(c, v, k, w, pk, "expected a weight (a positive number), got %s",
                        type_name(w));
                g_string_free(out, TRUE);
                return NULL;
            }
            char buf[G_ASCII_DTOSTR_BUF_SIZE];
            g_autofree char *item = g_strdup_printf(
                "%s=%s", k, g_ascii_formatd(buf, sizeof buf, "%.17g", json_number_value(w)));
            problem = origin_item(item, out, regions);
            if (problem) {
                bad_item = g_strdup(k);
            }
        }
    } else {
        err_val(c, prof, "originRegions", v, p,
                "expected \"region=weight,...\", a list or a mapping of region to weight, got %s",
                type_name(v));
        g_string_free(out, TRUE);
        return NULL;
    }
    if (problem) {
        err_val(c, prof, "originRegions", v, p, "\"%.80s\" %s", bad_item, problem);
        g_string_free(out, TRUE);
        return NULL;
    }
    if (out->len == 0) {
        err_val(c, prof, "originRegions", v, p, "names no region");
        g_string_free(out, TRUE);
        return NULL;
    }
    g_ptr_array_add(regions, NULL);
    *regions_out = (char **)g_ptr_array_free(g_steal_pointer(&regions), FALSE);
    return g_string_free(out, FALSE);
}

static void load_weights(Ctx *c, const json_t *prof, const char *path, FpProfile *profile,
                         gboolean *bad)
{
    json_t *w = json_object_get(prof, "weights");
    g_autofree char *p = path_key(path, "weights");
    if (!w) {
        err_val(c, prof, NULL, prof, path,
                "\"weights\" is required (e.g. weights: {latency: 3, cost: 2}); terms not "
                "written weigh 0");
        *bad = TRUE;
        return;
    }
    if (!json_is_object(w)) {
        err_val(c, prof, "weights", w, p, "expected a mapping of term to weight, got %s",
                type_name(w));
        *bad = TRUE;
        return;
    }
    const char *terms[FP_N_TERMS + 1];
    for (int i = 0; i < FP_N_TERMS; i++) {
        terms[i] = fp_term_name((FpTermId)i);
    }
    terms[FP_N_TERMS] = NULL;
    if (check_keys(c, w, p, terms) > 0) {
        *bad = TRUE; /* a misspelt term: "all weights are 0" would only confuse */
    }
    double sum = 0;
    for (int i = 0; i < FP_N_TERMS; i++) {
        double d = 0;
        if (!json_object_get(w, terms[i])) {
            continue;
        }
        if (get_num(c, w, terms[i], p, 0, FALSE, MAX_WEIGHT, &d)) {
            profile->weights[i] = d;
            sum += d;
        } else {
            *bad = TRUE;
        }
    }
    if (!*bad && !(sum > 0)) {
        err_val(c, prof, "weights", w, p,
                "all weights are 0: give at least one term a positive "
                "weight");
        *bad = TRUE;
    }
}

static char **load_product_list(Ctx *c, const json_t *prof, const char *key, const char *path,
                                gboolean *bad)
{
    gboolean b = FALSE;
    char **list = get_str_list(c, prof, key, path, FALSE, MAX_LIST_ITEMS, check_product_wild, &b);
    *bad = *bad || b;
    return list;
}

/* Optional number member into *out; a present but invalid one sets *bad. */
/* An optional true/false @key of @obj into *out; *bad when not a boolean. */
static void get_opt_bool(Ctx *c, const json_t *obj, const char *key, const char *path, bool *out,
                         gboolean *bad)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        return;
    }
    if (!json_is_boolean(v)) {
        g_autofree char *p = path_key(path, key);
        err_val(c, obj, key, v, p, "expected true or false, got %s", type_name(v));
        *bad = TRUE;
        return;
    }
    *out = json_is_true(v);
}

static void get_opt_num(Ctx *c, const json_t *obj, const char *key, const char *path, double hi,
                        double *out, gboolean *bad)
{
    double d;
    if (get_num(c, obj, key, path, 0, FALSE, hi, &d)) {
        *out = d;
    } else if (json_object_get(obj, key)) {
        *bad = TRUE;
    }
}

/* The text of a quantity written as a string or a number; NULL otherwise. */
static char *quantity_text(const json_t *v)
{
    if (json_is_string(v)) {
        return g_strdup(json_string_value(v));
    }
    if (json_is_integer(v)) {
        return g_strdup_printf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
    }
    if (json_is_real(v)) {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        return g_strdup(g_ascii_formatd(buf, sizeof buf, "%.17g", json_real_value(v)));
    }
    return NULL;
}

static void load_min_memory(Ctx *c, const json_t *prof, const char *path, FpProfile *profile,
                            gboolean *bad)
{
    json_t *mem = json_object_get(prof, "minGPUMemory");
    if (!mem) {
        return;
    }
    g_autofree char *mp = path_key(path, "minGPUMemory");
    g_autofree char *text = quantity_text(mem);
    FpQuantity q;
    FpQtyResult r = text ? fp_quantity_parse(text, strlen(text), &q) : FP_QTY_FORMAT;
    if (!text) {
        err_val(c, prof, "minGPUMemory", mem, mp, "expected a quantity such as \"40Gi\", got %s",
                type_name(mem));
    } else if (r != FP_QTY_OK) {
        err_val(c, prof, "minGPUMemory", mem, mp, "\"%.40s\" is not a quantity: %s", text,
                fp_quantity_strerror(r));
    } else if (fp_quantity_to_double(&q) < 1048576.0) {
        err_val(c, prof, "minGPUMemory", mem, mp,
                "\"%.40s\" is less than 1Mi (write e.g. \"40Gi\"; a bare number is bytes)", text);
    } else {
        profile->min_gpu_memory_gib = fp_quantity_to_double(&q) / 1073741824.0;
        return;
    }
    *bad = TRUE;
}

/* A string member that must be one of two words: *out gets @values[0] or
 * [1]; anything else is an error naming both. */
static void get_choice(Ctx *c, const json_t *prof, const char *key, const char *path,
                       const char *const words[2], const int values[2], int *out, gboolean *bad)
{
    const char *s = get_str(c, prof, key, path);
    if (!s) {
        *bad = *bad || json_object_get(prof, key) != NULL;
        return;
    }
    for (int i = 0; i < 2; i++) {
        if (!strcmp(s, words[i])) {
            *out = values[i];
            return;
        }
    }
    g_autofree char *kp = path_key(path, key);
    err_val(c, prof, key, json_object_get(prof, key), kp, "\"%.40s\" is not %s or %s", s, words[0],
            words[1]);
    *bad = TRUE;
}

static void load_choices(Ctx *c, const json_t *prof, const char *path, FpProfile *profile,
                         gboolean *bad)
{
    static const char *const packing[2] = {"binpack", "spread"};
    static const int packing_v[2] = {FP_PACK_BINPACK, FP_PACK_SPREAD};
    static const char *const cost[2] = {"perGPUHour", "perWork"};
    static const int cost_v[2] = {FP_COST_PER_GPU_HOUR, FP_COST_PER_WORK};
    int v = (int)profile->packing;
    get_choice(c, prof, "packing", path, packing, packing_v, &v, bad);
    profile->packing = (FpPacking)v;
    v = (int)profile->cost_mode;
    get_choice(c, prof, "cost", path, cost, cost_v, &v, bad);
    profile->cost_mode = (FpCostMode)v;
}

/* originRegions: checked against the latency matrix once it is known. */
static void load_profile_origins(Ctx *c, const json_t *prof, const char *path, FpProfile *profile,
                                 gboolean *bad)
{
    if (!json_object_get(prof, "originRegions")) {
        return;
    }
    char **regions = NULL;
    profile->origin_regions = load_origins(c, prof, path, &regions);
    if (!profile->origin_regions) {
        *bad = TRUE;
        return;
    }
    OriginCheck *oc = g_new0(OriginCheck, 1);
    oc->parent = prof;
    oc->key = "originRegions";
    oc->value = json_object_get(prof, "originRegions");
    oc->path = path_key(path, "originRegions");
    oc->regions = regions;
    g_ptr_array_add(c->origin_checks, oc);
}

static void load_min_spread(Ctx *c, const json_t *prof, const char *path, FpProfile *profile,
                            gboolean *bad)
{
    json_t *spread = json_object_get(prof, "minSpreadPools");
    if (!spread) {
        return;
    }
    g_autofree char *sp = path_key(path, "minSpreadPools");
    double s = json_is_number(spread) ? json_number_value(spread) : NAN;
    if (json_is_number(spread) && s == floor(s) && s >= 0 && s <= MAX_SPREAD) {
        profile->min_spread = (guint)s;
        return;
    }
    if (json_is_number(spread)) {
        err_val(c, prof, "minSpreadPools", spread, sp, "%g is not a whole number from 0 to %d", s,
                MAX_SPREAD);
    } else {
        err_val(c, prof, "minSpreadPools", spread, sp,
                "expected a whole number from 0 to %d, got %s", MAX_SPREAD, type_name(spread));
    }
    *bad = TRUE;
}

/* shortList: a whole number 0..FP_SHORT_LIST_MAX (scoring/short_list.h). */
static gboolean load_short_list(Ctx *c, const json_t *obj, const char *path, guint *out)
{
    json_t *v = json_object_get(obj, "shortList");
    if (!v) {
        return FALSE;
    }
    g_autofree char *p = path_key(path, "shortList");
    double d = json_is_number(v) ? json_number_value(v) : NAN;
    if (json_is_number(v) && d == floor(d) && d >= 0 && d <= FP_SHORT_LIST_MAX) {
        *out = (guint)d;
        return TRUE;
    }
    if (json_is_number(v)) {
        err_val(c, obj, "shortList", v, p,
                "%g is not a whole number from 0 (every passing node) to %u", d, FP_SHORT_LIST_MAX);
    } else {
        err_val(c, obj, "shortList", v, p,
                "expected a whole number from 0 (every passing node) to %u, got %s",
                FP_SHORT_LIST_MAX, type_name(v));
    }
    return FALSE;
}

static FpProfile *load_profile(Ctx *c, const json_t *profiles, const char *name, const json_t *prof)
{
    static const char *const keys[] = {"weights",
                                       "maxLatencyMs",
                                       "maxPricePerGPUHour",
                                       "minGPUMemory",
                                       "packing",
                                       "cost",
                                       "allowedSKUs",
                                       "skuPreference",
                                       "originRegions",
                                       "minSpreadPools",
                                       "allowShared",
                                       "avoidSpot",
                                       "shortList",
                                       NULL};
    g_autofree char *path = path_key("profiles", name);
    if (!json_is_object(prof)) {
        err_val(c, profiles, name, prof, path, "expected a mapping, got %s", type_name(prof));
        return NULL;
    }
    check_keys(c, prof, path, keys);
    gboolean bad = FALSE;
    FpProfile *profile = fp_profile_new(name);
    load_weights(c, prof, path, profile, &bad);
    get_opt_num(c, prof, "maxLatencyMs", path, MAX_LATENCY_MS, &profile->max_latency_ms, &bad);
    get_opt_num(c, prof, "maxPricePerGPUHour", path, 1e6, &profile->max_price_per_gpu_hour, &bad);
    load_min_memory(c, prof, path, profile, &bad);
    load_choices(c, prof, path, profile, &bad);
    profile->allowed_skus = load_product_list(c, prof, "allowedSKUs", path, &bad);
    profile->sku_preference = load_product_list(c, prof, "skuPreference", path, &bad);
    load_profile_origins(c, prof, path, profile, &bad);
    load_min_spread(c, prof, path, profile, &bad);
    get_opt_bool(c, prof, "allowShared", path, &profile->allow_shared, &bad);
    get_opt_bool(c, prof, "avoidSpot", path, &profile->avoid_spot, &bad);
    guint k;
    if (load_short_list(c, prof, path, &k)) {
        profile->short_list = (int)k;
    } else if (json_object_get(prof, "shortList")) {
        bad = TRUE;
    }
    if (bad) {
        fp_profile_free(profile);
        return NULL;
    }
    return profile;
}

static const char *profile_name_problem(const char *s)
{
    return fp_name_problem(s, strlen(s), FP_NAME_LABEL_VALUE);
}

static void load_profiles(Ctx *c, const json_t *root)
{
    json_t *profiles = get_obj(c, root, "profiles", "");
    if (!profiles) {
        return;
    }
    const char *name;
    json_t *v;
    json_object_foreach(profiles, name, v)
    {
        const char *problem = profile_name_problem(name);
        if (problem) {
            err_key(c, profiles, name, "profiles", "profile name \"%.80s\" %s", name, problem);
            continue;
        }
        g_hash_table_add(c->profile_names, g_strdup(name));
        FpProfile *profile = load_profile(c, profiles, name, v);
        if (profile) {
            g_hash_table_replace(c->policy->profiles, g_strdup(name), profile);
        }
    }
}

static void load_namespaces(Ctx *c, const json_t *root)
{
    json_t *ns = get_obj(c, root, "namespaces", "");
    if (!ns) {
        return;
    }
    const char *name;
    json_t *v;
    json_object_foreach(ns, name, v)
    {
        g_autofree char *p = path_key("namespaces", name);
        const char *problem = fp_name_problem(name, strlen(name), FP_NAME_NAMESPACE);
        if (problem) {
            err_key(c, ns, name, "namespaces", "\"%.80s\" %s", name, problem);
            continue;
        }
        if (!json_is_string(v)) {
            err_val(c, ns, name, v, p, "expected a profile name, got %s", type_name(v));
            continue;
        }
        const char *profile = json_string_value(v);
        if (!g_hash_table_contains(c->profile_names, profile)) {
            err_val(c, ns, name, v, p, "unknown profile \"%.80s\"", profile);
            continue;
        }
        g_hash_table_replace(c->policy->namespaces, g_strdup(name), g_strdup(profile));
    }
}

/* apiVersion, kind and metadata belong to each file: checked per file, not
 * merged. */
static void check_header(Ctx *c, const json_t *root)
{
    const char *api = get_str(c, root, "apiVersion", "");
    if (api && strcmp(api, FP_POLICY_API_VERSION) != 0) {
        err_val(c, root, "apiVersion", json_object_get(root, "apiVersion"), "apiVersion",
                "\"%.80s\" is not supported (expected %s)", api, FP_POLICY_API_VERSION);
    }
    const char *kind = get_str(c, root, "kind", "");
    if (kind && strcmp(kind, FP_POLICY_KIND) != 0) {
        err_val(c, root, "kind", json_object_get(root, "kind"), "kind", "\"%.80s\" is not %s%s",
                kind, FP_POLICY_KIND,
                !strcmp(kind, "ConfigMap") ? " (a ConfigMap manifest is read when given as the "
                                             "file itself, not inside a directory)"
                                           : "");
    }
    json_t *meta = json_object_get(root, "metadata");
    if (meta && !json_is_object(meta) && !json_is_null(meta)) {
        err_val(c, root, "metadata", meta, "metadata", "expected a mapping, got %s",
                type_name(meta));
    }
}

/* ---- pool templates ---------------------------------------------------------------- */

#define MAX_TEMPLATE_LABELS 64
#define MAX_TEMPLATE_NODES 100000

static const char *template_name_problem(const char *name)
{
    return fp_name_problem(name, strlen(name), FP_NAME_LABEL_VALUE);
}

/* poolTemplates.<name>.labels: label keys and values a node of it carries. */
static void load_template_labels(Ctx *c, FpPolicyTemplate *t, json_t *v, const char *p)
{
    json_t *labels = get_obj(c, v, "labels", p);
    if (!labels) {
        return;
    }
    g_autofree char *pl = path_key(p, "labels");
    if (json_object_size(labels) > MAX_TEMPLATE_LABELS) {
        err_val(c, v, "labels", labels, pl, "more than %d labels", MAX_TEMPLATE_LABELS);
        return;
    }
    const char *key;
    json_t *val;
    json_object_foreach(labels, key, val)
    {
        const char *kp = qualified_name_problem(key);
        const char *text = json_string_value(val);
        const char *vp = text ? fp_name_problem(text, strlen(text), FP_NAME_LABEL_VALUE) : NULL;
        if (kp) {
            err_key(c, labels, key, pl, "label key \"%.80s\" %s", key, kp);
        } else if (!text) {
            g_autofree char *pk = path_key(pl, key);
            err_val(c, labels, key, val, pk, "expected a string, got %s", type_name(val));
        } else if (*text && vp) {
            g_autofree char *pk = path_key(pl, key);
            err_val(c, labels, key, val, pk, "\"%.80s\" %s", text, vp);
        } else {
            g_hash_table_replace(t->labels, g_strdup(key), g_strdup(text));
        }
    }
}

/* A string member that must pass @check; NULL (reported) otherwise. */
static char *get_checked_str(Ctx *c, json_t *v, const char *key, const char *p, NameCheck check)
{
    const char *s = get_str(c, v, key, p);
    const char *bad = s ? check(s) : NULL;
    if (bad) {
        g_autofree char *pk = path_key(p, key);
        err_val(c, v, key, json_object_get(v, key), pk, "\"%.80s\" %s", s, bad);
        return NULL;
    }
    return g_strdup(s);
}

static const char *sku_problem(const char *s)
{
    return fp_product_problem(s, strlen(s), false);
}

static const char *capacity_problem(const char *s)
{
    static const char *const known[] = {"on-demand", "spot", "reserved", NULL};
    return in_list(s, known) ? NULL : "is not a capacity type (on-demand, spot, reserved)";
}

/* Whether the template can say which GPU its nodes have: gpuProduct, or an
 * instance type the policy's instanceTypes or the built-in catalog knows. */
static gboolean template_gpu_known(Ctx *c, const FpPolicyTemplate *t)
{
    if (t->product) {
        return TRUE;
    }
    if (!t->instance_type) {
        return FALSE;
    }
    bool same = false;
    return g_hash_table_contains(c->policy->instance_types, t->instance_type) ||
           fp_gpu_catalog_instance(t->instance_type, t->region, &same) != NULL ||
           fp_gpu_catalog_family(t->instance_type) != NULL;
}

/* poolTemplates: <name>: {labels, gpuProduct, instanceType, gpusPerNode,
 * gpuMemoryGiB, region, pricePerGPUHour, capacityType, maxNodes}. */
static void load_pool_template(Ctx *c, const char *name, json_t *v, const char *p)
{
    g_autoptr(FpPolicyTemplate) t = fp_policy_template_new(name);
    load_template_labels(c, t, v, p);
    t->product = get_checked_str(c, v, "gpuProduct", p, sku_problem);
    t->instance_type = get_checked_str(c, v, "instanceType", p, template_name_problem);
    t->region = get_checked_str(c, v, "region", p, region_problem);
    char *capacity = get_checked_str(c, v, "capacityType", p, capacity_problem);
    if (capacity) {
        g_free(t->capacity_type);
        t->capacity_type = capacity;
    }
    get_count(c, v, "gpusPerNode", p, 1, 1024, &t->gpus_per_node);
    get_count(c, v, "maxNodes", p, 0, MAX_TEMPLATE_NODES, &t->max_nodes);
    double d;
    if (get_num(c, v, "gpuMemoryGiB", p, 0, TRUE, 1e6, &d)) {
        t->memory_gib = d;
    }
    if (get_num(c, v, "pricePerGPUHour", p, 0, FALSE, 1e6, &d)) {
        t->price_per_gpu_hour = d;
    }
    if (t->region && !fp_policy_knows_region(c->policy, t->region)) {
        g_autofree char *pr = path_key(p, "region");
        err_val(c, v, "region", json_object_get(v, "region"), pr,
                "region \"%s\" is not in regions.latencyMs%s", t->region,
                c->policy->builtin_latency ? " nor in the built-in round-trip tables"
                                           : " (builtinLatency is off)");
    }
    if (!template_gpu_known(c, t)) {
        err_val(c, NULL, NULL, v, p,
                "a pool template needs gpuProduct, or an instanceType that instanceTypes or "
                "the built-in GPU catalog knows");
    }
    g_hash_table_replace(c->policy->templates, g_strdup(name), g_steal_pointer(&t));
}

static void load_pool_templates(Ctx *c, const json_t *root)
{
    static const char *const keys[] = {
        "labels", "gpuProduct",      "instanceType", "gpusPerNode", "gpuMemoryGiB",
        "region", "pricePerGPUHour", "capacityType", "maxNodes",    NULL};
    load_keyed_mappings(c, root, "poolTemplates", template_name_problem, keys, load_pool_template);
}

static gboolean is_header_key(const char *key)
{
    return !strcmp(key, "apiVersion") || !strcmp(key, "kind") || !strcmp(key, "metadata");
}

static void load_root(Ctx *c, const json_t *root)
{
    static const char *const keys[] = {"apiVersion",
                                       "kind",
                                       "metadata",
                                       "gpuResources",
                                       "nodeLabels",
                                       "skus",
                                       "pools",
                                       "regions",
                                       "defaultPricePerGPUHour",
                                       "profiles",
                                       "namespaces",
                                       "defaultProfile",
                                       "spotPriceFactor",
                                       "instanceTypes",
                                       "models",
                                       "modelFit",
                                       "shortList",
                                       "poolTemplates",
                                       "transfer",
                                       NULL};
    check_keys(c, root, "", keys);
    gboolean bad;
    char **res = get_str_list(c, root, "gpuResources", "", FALSE, MAX_GPU_RESOURCES,
                              qualified_name_problem, &bad);
    if (res) {
        g_strfreev(c->policy->gpu_resources);
        c->policy->gpu_resources = res;
    }
    load_labels(c, root);
    load_skus(c, root);
    load_models(c, root);
    load_transfer(c, root);
    load_pools(c, root);
    load_regions(c, root);
    double d;
    if (get_num(c, root, "defaultPricePerGPUHour", "", 0, FALSE, 1e6, &d)) {
        c->policy->default_price_per_gpu_hour = d;
    }
    if (get_num(c, root, "spotPriceFactor", "", 0, FALSE, 1, &d)) {
        c->policy->spot_price_factor = d;
    }
    load_instance_types(c, root);
    load_pool_templates(c, root);
    load_short_list(c, root, "", &c->policy->short_list);
    load_profiles(c, root);
    load_namespaces(c, root);
    const char *def = get_str(c, root, "defaultProfile", "");
    if (def) {
        if (!g_hash_table_contains(c->profile_names, def)) {
            err_val(c, root, "defaultProfile", json_object_get(root, "defaultProfile"),
                    "defaultProfile", "unknown profile \"%.80s\"", def);
        } else {
            g_free(c->policy->default_profile);
            c->policy->default_profile = g_strdup(def);
        }
    }
    /* Origins name regions whose round trips are known: the matrix's, or
     * the built-in tables' (an unknown origin would silently weigh
     * defaultLatencyMs everywhere). */
    for (guint i = 0; i < c->origin_checks->len; i++) {
        OriginCheck *oc = g_ptr_array_index(c->origin_checks, i);
        for (char **r = oc->regions; *r; r++) {
            gboolean in_matrix = c->matrix && g_hash_table_contains(c->matrix, *r);
            if (!in_matrix && !(c->policy->builtin_latency && fp_builtin_region(*r))) {
                err_val(c, oc->parent, oc->key, oc->value, oc->path,
                        "region \"%s\" is not in regions.latencyMs%s", *r,
                        c->policy->builtin_latency ? " nor in the built-in round-trip tables"
                                                   : " (builtinLatency is off)");
            }
        }
    }
}

/* ---- merging ------------------------------------------------------------------------ */

static GPtrArray *origins_of(Ctx *c, json_t *merged)
{
    GPtrArray *a = g_hash_table_lookup(c->origins, merged);
    if (!a) {
        a = g_ptr_array_new();
        g_hash_table_insert(c->origins, merged, a);
    }
    return a;
}

/* A new merged object holding @orig's members (shared). */
static json_t *merged_copy(Ctx *c, json_t *orig)
{
    json_t *m = json_object();
    g_ptr_array_add(c->merged, m);
    g_ptr_array_add(origins_of(c, m), orig);
    json_object_update(m, orig);
    return m;
}

static void merge_into(Ctx *c, json_t *dst, json_t *src, const char *path)
{
    g_ptr_array_add(origins_of(c, dst), src);
    const char *key;
    json_t *v;
    json_object_foreach(src, key, v)
    {
        if (!*path && is_header_key(key)) {
            continue;
        }
        json_t *have = json_object_get(dst, key);
        if (!have) {
            json_object_set(dst, key, v);
            continue;
        }
        g_autofree char *p = path_key(path, key);
        if (json_is_object(have) && json_is_object(v)) {
            /* merged objects (and only they) are keys of c->origins */
            json_t *m = g_hash_table_contains(c->origins, have) ? have : merged_copy(c, have);
            if (m != have) {
                json_object_set(dst, key, m);
            }
            merge_into(c, m, v, p);
            continue;
        }
        Pos first = {0}, second = {0};
        find_pos(c, dst, key, have, TRUE, &first);
        gboolean have2 = FALSE;
        for (guint i = 0; i < c->sources->len && !have2; i++) {
            Source *s = g_ptr_array_index(c->sources, i);
            guint l, col;
            if (s->docs && fp_docs_key_position(s->docs, src, key, &l, &col)) {
                second.src = i;
                second.line = l + s->line_base;
                second.col = col + s->col_base;
                have2 = TRUE;
            }
        }
        g_autofree char *msg = g_strdup_printf(
            "also set in %s:%u:%u; only mappings merge across files, any other value may be set "
            "by one file only",
            source_display(c, first.src), first.line, first.col);
        emit(c, have2 ? &second : NULL, p, msg);
    }
}

/* ---- gathering sources ---------------------------------------------------------------- */

static gboolean wanted_name(const char *name)
{
    return name[0] != '.' && (g_str_has_suffix(name, ".yaml") || g_str_has_suffix(name, ".yml") ||
                              g_str_has_suffix(name, ".json"));
}

static int cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Parse @buf as one source.  Returns its index or -1 (error recorded). */
static int add_source(Ctx *c, const char *buf, size_t len, const char *display, const char *label,
                      guint order, guint line_base, guint col_base)
{
    if (c->total_bytes + len > FP_POLICY_MAX_TOTAL_BYTES) {
        err_source(c, display, "policy input exceeds %zu bytes in total",
                   FP_POLICY_MAX_TOTAL_BYTES);
        return -1;
    }
    c->total_bytes += len;
    Source *s = g_new0(Source, 1);
    s->display = g_strdup(display);
    s->label = g_strdup(label ? label : display);
    guint index = c->sources->len;
    s->order = order == G_MAXUINT ? index : order;
    s->line_base = line_base;
    s->col_base = col_base;
    g_ptr_array_add(c->sources, s);
    g_autoptr(GError) error = NULL;
    s->docs = fp_docs_parse(buf, len, display, &error);
    if (!s->docs) {
        err_from_yaml(c, index, s, display, error->message);
        return -1;
    }
    return (int)index;
}

/* Byte offset of 1-based (@line, @col) in @buf, or -1. */
static gssize offset_of(const char *buf, size_t len, guint line, guint col)
{
    size_t i = 0;
    for (guint l = 1; l < line; l++) {
        const char *nl = memchr(buf + i, '\n', len - i);
        if (!nl) {
            return -1;
        }
        i = (size_t)(nl - buf) + 1;
    }
    for (guint k = 1; k < col && i < len; k++) {
        i++;
        while (i < len && ((unsigned char)buf[i] & 0xC0) == 0x80) {
            i++;
        }
    }
    return i < len ? (gssize)i : -1;
}

/* When the value at (@line, @col) of @buf is a literal block scalar with an
 * auto-detected indentation, its content line k (1-based) is manifest line
 * @line + k and column c is indent + c.  Sets *indent and returns TRUE. */
static gboolean literal_block(const char *buf, size_t len, guint line, guint col, guint *indent)
{
    gssize at = offset_of(buf, len, line, col);
    if (at < 0 || buf[at] != '|') {
        return FALSE;
    }
    size_t i = (size_t)at + 1;
    while (i < len && (buf[i] == '-' || buf[i] == '+')) {
        i++;
    }
    if (i < len && g_ascii_isdigit(buf[i])) {
        return FALSE; /* explicit indentation: relative to the parent, not mapped */
    }
    while (i < len && buf[i] != '\n') {
        i++;
    }
    /* first non-empty content line decides the indentation */
    while (i < len) {
        i++; /* past '\n' */
        guint n = 0;
        while (i + n < len && buf[i + n] == ' ') {
            n++;
        }
        if (i + n < len && buf[i + n] != '\n' && buf[i + n] != '\r') {
            *indent = n;
            return n > 0;
        }
        i += n;
        while (i < len && buf[i] != '\n') {
            i++;
        }
    }
    return FALSE;
}

/* Each data key of a ConfigMap manifest (root @cm of source @src) becomes
 * a source. */
static void expand_configmap(Ctx *c, guint src, const json_t *cm, const char *buf, size_t len)
{
    Source *ms = g_ptr_array_index(c->sources, src);
    const char *display = ms->display;
    json_t *data = json_object_get(cm, "data");
    if (json_object_get(cm, "binaryData")) {
        note(c, "%s: binaryData ignored", display);
    }
    if (!data || json_is_null(data)) {
        err_val(c, cm, "data", cm, "data", "the ConfigMap has no data");
        return;
    }
    if (!json_is_object(data)) {
        err_val(c, cm, "data", data, "data",
                "expected a mapping of file name to policy text, got %s", type_name(data));
        return;
    }
    g_autoptr(GPtrArray) keys = g_ptr_array_new();
    const char *key;
    json_t *v;
    json_object_foreach(data, key, v)
    {
        g_ptr_array_add(keys, (gpointer)key);
    }
    g_ptr_array_sort(keys, cmp_str);
    guint used = 0;
    for (guint i = 0; i < keys->len; i++) {
        key = g_ptr_array_index(keys, i);
        v = json_object_get(data, key);
        if (!wanted_name(key)) {
            note(c, "%s: data key \"%s\" skipped (only .yaml, .yml and .json keys are read)",
                 display, key);
            continue;
        }
        g_autofree char *p = path_key("data", key);
        if (!json_is_string(v)) {
            err_val(c, data, key, v, p, "expected the policy text (a string), got %s",
                    type_name(v));
            continue;
        }
        if (++used > FP_POLICY_MAX_FILES) {
            err_val(c, data, key, v, p, "more than %d policy files", FP_POLICY_MAX_FILES);
            break;
        }
        guint line = 0, col = 0, indent = 0;
        Pos pos;
        gboolean mapped = FALSE;
        if (value_pos(c, v, &pos) && pos.src == src) {
            line = pos.line;
            col = pos.col;
            mapped = literal_block(buf, len, line, col, &indent);
        }
        const char *text = json_string_value(v);
        size_t tlen = json_string_length(v);
        g_autofree char *label = g_strdup_printf("%s#%s", display, key);
        if (mapped) {
            add_source(c, text, tlen, display, label, ms->order, line, indent);
        } else {
            add_source(c, text, tlen, label, label, G_MAXUINT, 0, 0);
        }
    }
    if (used == 0) {
        err_val(c, cm, "data", data, "data", "no .yaml, .yml or .json key: nothing to load");
    }
}

static void gather_buffer(Ctx *c, const char *buf, size_t len, const char *display)
{
    int src = add_source(c, buf, len, display, NULL, G_MAXUINT, 0, 0);
    if (src < 0) {
        return;
    }
    Source *s = g_ptr_array_index(c->sources, (guint)src);
    json_t *root = fp_docs_get(s->docs, 0);
    if (fp_docs_count(s->docs) == 1 && json_is_object(root) &&
        json_is_string(json_object_get(root, "kind")) &&
        !strcmp(json_string_value(json_object_get(root, "kind")), "ConfigMap")) {
        expand_configmap(c, (guint)src, root, buf, len);
        /* the manifest itself is not a policy document */
        fp_docs_free(s->docs);
        s->docs = NULL;
        /* but keep it for positions of ConfigMap errors emitted above */
    }
}

static void gather_dir(Ctx *c, const char *dir)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GDir) d = g_dir_open(dir, 0, &error);
    if (!d) {
        err_source(c, dir, "%s", error->message);
        return;
    }
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    while ((name = g_dir_read_name(d))) {
        if (name[0] == '.') {
            continue;
        }
        g_autofree char *path = g_build_filename(dir, name, NULL);
        if (!wanted_name(name)) {
            note(c, "%s: skipped (only .yaml, .yml and .json files are read)", path);
            continue;
        }
        if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
            note(c, "%s: skipped (not a regular file)", path);
            continue;
        }
        if (names->len >= FP_POLICY_MAX_FILES) {
            err_source(c, dir, "more than %d policy files", FP_POLICY_MAX_FILES);
            return;
        }
        g_ptr_array_add(names, g_strdup(name));
    }
    g_ptr_array_sort(names, cmp_str);
    if (names->len == 0) {
        err_source(c, dir, "no policy file (*.yaml, *.yml, *.json) in this directory");
        return;
    }
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *path = g_build_filename(dir, g_ptr_array_index(names, i), NULL);
        size_t len = 0;
        g_autofree char *buf =
            fp_read_file_capped_unnamed(path, FP_POLICY_MAX_FILE_BYTES, &len, &error);
        if (!buf) {
            err_source(c, path, "%s", error->message);
            g_clear_error(&error);
            continue;
        }
        add_source(c, buf, len, path, NULL, G_MAXUINT, 0, 0);
    }
}

/* ---- driver ------------------------------------------------------------------------------ */

static int cmp_diag(gconstpointer a, gconstpointer b)
{
    const Diag *x = *(Diag *const *)a, *y = *(Diag *const *)b;
    if (x->src != y->src) {
        return x->src < y->src ? -1 : 1;
    }
    if (x->line != y->line) {
        return x->line < y->line ? -1 : 1;
    }
    if (x->col != y->col) {
        return x->col < y->col ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void ctx_init(Ctx *c, FpPolicyReport *report)
{
    memset(c, 0, sizeof *c);
    c->report = report;
    c->sources = g_ptr_array_new_with_free_func(source_free);
    c->diags = g_ptr_array_new_with_free_func(diag_free);
    c->origins = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                       (GDestroyNotify)g_ptr_array_unref);
    c->merged = g_ptr_array_new_with_free_func((GDestroyNotify)json_decref);
    c->profile_names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    c->origin_checks = g_ptr_array_new_with_free_func(origin_check_free);
}

/* Validate the gathered sources; returns the policy or NULL. */
static FpPolicy *ctx_finish(Ctx *c, const char *source_name)
{
    /* One mapping per source (the ConfigMap manifest itself has no docs). */
    g_autoptr(GPtrArray) roots = g_ptr_array_new();
    for (guint i = 0; i < c->sources->len; i++) {
        Source *s = g_ptr_array_index(c->sources, i);
        if (!s->docs) {
            continue;
        }
        guint n = fp_docs_count(s->docs);
        if (n == 0) {
            add_diag(c, i, 0, 0,
                     g_strdup_printf("%s: no policy document (an empty file is not a policy; "
                                     "write {} for all defaults)",
                                     s->display));
            continue;
        }
        if (n > 1) {
            Pos p = {0};
            value_pos(c, fp_docs_get(s->docs, 1), &p);
            add_diag(c, i, p.line, p.col,
                     g_strdup_printf("%s:%u:%u: a second YAML document: a policy file holds one "
                                     "document",
                                     s->display, p.line, p.col));
            continue;
        }
        json_t *root = fp_docs_get(s->docs, 0);
        if (!json_is_object(root)) {
            Pos p = {0};
            value_pos(c, root, &p);
            add_diag(c, i, p.line, p.col,
                     g_strdup_printf("%s:%u:%u: expected a mapping (a PlacementPolicy), got %s",
                                     s->display, p.line, p.col, type_name(root)));
            continue;
        }
        check_header(c, root);
        g_ptr_array_add(roots, root);
        if (c->report) {
            g_ptr_array_add(c->report->sources, g_strdup(s->label));
        }
    }
    FpPolicy *policy = NULL;
    if (roots->len > 0) {
        /* Validate whatever parsed, so one run reports every problem. */
        json_t *root = g_ptr_array_index(roots, 0);
        if (roots->len > 1) {
            root = json_object();
            g_ptr_array_add(c->merged, root);
            for (guint i = 0; i < roots->len; i++) {
                merge_into(c, root, g_ptr_array_index(roots, i), "");
            }
        }
        c->policy = fp_policy_new_default();
        g_free(c->policy->source);
        c->policy->source = g_strdup(source_name);
        g_hash_table_add(c->profile_names, g_strdup("default"));
        load_root(c, root);
        policy = g_steal_pointer(&c->policy);
    } else if (c->diags->len == 0) {
        add_diag(c, G_MAXUINT, 0, 0, g_strdup_printf("%s: no policy document", source_name));
    }
    if (c->diags->len) {
        g_clear_pointer(&policy, fp_policy_unref);
    }
    g_ptr_array_sort(c->diags, cmp_diag);
    if (c->report) {
        for (guint i = 0; i < c->diags->len; i++) {
            Diag *d = g_ptr_array_index(c->diags, i);
            g_ptr_array_add(c->report->errors, g_steal_pointer(&d->text));
        }
        if (c->dropped) {
            g_ptr_array_add(c->report->errors,
                            g_strdup_printf("... and %u more errors", c->dropped));
        }
    }
    g_ptr_array_unref(c->diags);
    g_ptr_array_unref(c->origin_checks);
    g_hash_table_unref(c->origins);
    g_ptr_array_unref(c->merged);
    g_ptr_array_unref(c->sources);
    g_hash_table_unref(c->profile_names);
    g_clear_pointer(&c->matrix, g_hash_table_unref);
    return policy;
}

FpPolicy *fp_policy_load_buffer(const char *buf, size_t len, const char *name,
                                FpPolicyReport *report)
{
    Ctx c;
    ctx_init(&c, report);
    name = name ? name : "<input>";
    if (len > FP_POLICY_MAX_FILE_BYTES) {
        err_source(&c, name, "%zu bytes, more than the limit of %zu bytes", len,
                   FP_POLICY_MAX_FILE_BYTES);
    } else {
        gather_buffer(&c, buf ? buf : "", buf ? len : 0, name);
    }
    return ctx_finish(&c, name);
}

FpPolicy *fp_policy_load_path(const char *path, FpPolicyReport *report)
{
    g_return_val_if_fail(path != NULL, NULL);
    Ctx c;
    ctx_init(&c, report);
    if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
        gather_dir(&c, path);
    } else {
        size_t len = 0;
        g_autoptr(GError) error = NULL;
        g_autofree char *buf =
            fp_read_file_capped_unnamed(path, FP_POLICY_MAX_FILE_BYTES, &len, &error);
        if (!buf) {
            err_source(&c, path, "%s", error->message);
        } else {
            gather_buffer(&c, buf, len, path);
        }
    }
    return ctx_finish(&c, path);
}
