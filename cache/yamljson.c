/*
 * cache/yamljson.c - YAML/JSON streams into jansson trees with positions.
 *
 * libyaml's event parser drives a small stack machine: containers are pushed
 * on *_START and attached to their parent on *_END, scalars are resolved as
 * described in yamljson.h.  Every value (and every mapping key) gets its
 * start mark recorded in one pointer-keyed hash table.
 */
#include "cache/yamljson.h"

#include "cache/readfile.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <yaml.h>

/* Nodes reachable through aliases, summed over the whole stream.  Generous
 * for real configuration, tiny next to a billion laughs. */
#define ALIAS_EXPANSION_MAX ((guint64)1 << 20)

#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

GQuark fp_yaml_error_quark(void)
{
    return g_quark_from_static_string("fp-yaml-error-quark");
}

struct FpDocs {
    char *name;
    GPtrArray *roots; /* json_t*, owned */
    GHashTable *pos;  /* json_t* or key char* -> packed position */
};

typedef struct {
    json_t *value; /* owned reference */
    guint64 size;  /* nodes, aliases expanded */
} Anchor;

typedef struct {
    json_t *node; /* array or object, owned */
    char *anchor;
    guint64 size;
    gboolean has_key;  /* object: a key was read, its value is pending */
    gboolean is_merge; /* object: the pending key is "<<" */
    char *key;
    size_t key_len;
    yaml_mark_t key_mark;
    gboolean seen_merge;
    yaml_mark_t merge_mark;
    GPtrArray *merges; /* json_t*, owned references */
} Frame;

typedef struct {
    FpDocs *docs;
    const char *buf;
    size_t len;
    GArray *stack;       /* Frame */
    GHashTable *anchors; /* char* -> Anchor* */
    json_t *root;
    guint64 alias_expanded;
    GError *error;
} Builder;

/* ---- positions ---------------------------------------------------------- */

static gpointer pack_pos(guint line, guint col)
{
#if GLIB_SIZEOF_VOID_P >= 8
    return GSIZE_TO_POINTER(((guint64)line << 32) | (guint64)col);
#else
    line = MIN(line, 0xFFFFFu);
    col = MIN(col, 0xFFFu);
    return GSIZE_TO_POINTER(((gsize)line << 12) | col);
#endif
}

static void unpack_pos(gpointer p, guint *line, guint *col)
{
    gsize v = GPOINTER_TO_SIZE(p);
#if GLIB_SIZEOF_VOID_P >= 8
    *line = (guint)(v >> 32);
    *col = (guint)(v & 0xFFFFFFFFu);
#else
    *line = (guint)(v >> 12);
    *col = (guint)(v & 0xFFFu);
#endif
}

static gboolean is_singleton(const json_t *v)
{
    return json_is_null(v) || json_is_true(v) || json_is_false(v);
}

static void record_pos(Builder *b, gconstpointer key, yaml_mark_t mark)
{
    if (!g_hash_table_contains(b->docs->pos, key)) {
        g_hash_table_insert(b->docs->pos, (gpointer)key,
                            pack_pos((guint)mark.line + 1, (guint)mark.column + 1));
    }
}

static gboolean lookup_pos(const FpDocs *docs, gconstpointer key, guint *line, guint *column)
{
    gpointer v = NULL;
    if (!docs || !key || !g_hash_table_lookup_extended(docs->pos, key, NULL, &v)) {
        return FALSE;
    }
    guint l, c;
    unpack_pos(v, &l, &c);
    if (line) {
        *line = l;
    }
    if (column) {
        *column = c;
    }
    return TRUE;
}

/* The stored key pointer of @key inside @object, or NULL. */
static const char *stored_key(const json_t *object, const char *key)
{
    void *iter = json_object_iter_at((json_t *)object, key);
    return iter ? json_object_iter_key(iter) : NULL;
}

/* ---- errors -------------------------------------------------------------- */

G_GNUC_PRINTF(4, 5)
static void fail(Builder *b, FpYamlError code, yaml_mark_t mark, const char *fmt, ...)
{
    if (b->error) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    b->error = g_error_new(FP_YAML_ERROR, code, "%s:%u:%u: %s", b->docs->name, (guint)mark.line + 1,
                           (guint)mark.column + 1, msg);
}

/* Line and column (1-based, columns in characters) of byte @offset. */
static void offset_to_pos(const char *buf, size_t len, size_t offset, guint *line, guint *col)
{
    guint l = 1, c = 1;
    if (offset > len) {
        offset = len;
    }
    for (size_t i = 0; i < offset; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if (ch == '\n') {
            l++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static void fail_from_parser(Builder *b, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->error == YAML_MEMORY_ERROR) {
        b->error = g_error_new(FP_YAML_ERROR, FP_YAML_ERROR_LIMIT,
                               "%s: out of memory while parsing", b->docs->name);
        return;
    }
    if (p->error == YAML_READER_ERROR) {
        guint line, col;
        offset_to_pos(b->buf, b->len, p->problem_offset, &line, &col);
        if (p->problem_value >= 0) {
            b->error =
                g_error_new(FP_YAML_ERROR, FP_YAML_ERROR_SYNTAX,
                            "%s:%u:%u: %s (byte 0x%02X at offset %zu)", b->docs->name, line, col,
                            problem, (unsigned)p->problem_value & 0xFFu, p->problem_offset);
        } else {
            b->error = g_error_new(FP_YAML_ERROR, FP_YAML_ERROR_SYNTAX, "%s:%u:%u: %s",
                                   b->docs->name, line, col, problem);
        }
        return;
    }
    if (p->context) {
        b->error = g_error_new(FP_YAML_ERROR, FP_YAML_ERROR_SYNTAX, "%s:%u:%u: %s (%s at %u:%u)",
                               b->docs->name, (guint)p->problem_mark.line + 1,
                               (guint)p->problem_mark.column + 1, problem, p->context,
                               (guint)p->context_mark.line + 1, (guint)p->context_mark.column + 1);
    } else {
        b->error = g_error_new(FP_YAML_ERROR, FP_YAML_ERROR_SYNTAX, "%s:%u:%u: %s", b->docs->name,
                               (guint)p->problem_mark.line + 1, (guint)p->problem_mark.column + 1,
                               problem);
    }
}

/* ---- scalar resolution ---------------------------------------------------- */

typedef enum { NUM_NO, NUM_OK, NUM_RANGE } NumResult;

static gboolean all_in(const char *s, size_t n, const char *set)
{
    if (n == 0) {
        return FALSE;
    }
    for (size_t i = 0; i < n; i++) {
        if (!s[i] || !strchr(set, s[i])) {
            return FALSE;
        }
    }
    return TRUE;
}

static NumResult parse_int(const char *s, size_t n, json_int_t *out)
{
    gboolean neg = FALSE;
    if (n > 0 && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        s++;
        n--;
    }
    unsigned base = 10;
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        n -= 2;
        if (!all_in(s, n, "0123456789abcdefABCDEF")) {
            return NUM_NO;
        }
    } else if (n > 2 && s[0] == '0' && s[1] == 'o') {
        base = 8;
        s += 2;
        n -= 2;
        if (!all_in(s, n, "01234567")) {
            return NUM_NO;
        }
    } else if (n > 1 && s[0] == '0') {
        /* YAML 1.1 octal; "08" is no number at all. */
        base = 8;
        if (!all_in(s, n, "01234567")) {
            return NUM_NO;
        }
    } else if (!all_in(s, n, "0123456789")) {
        return NUM_NO;
    }
    guint64 limit = neg ? (guint64)INT64_MAX + 1u : (guint64)INT64_MAX;
    guint64 v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = g_ascii_xdigit_value(s[i]);
        if (v > (limit - d) / base) {
            return NUM_RANGE;
        }
        v = v * base + d;
    }
    if (neg) {
        *out = v == (guint64)INT64_MAX + 1u ? INT64_MIN : -(json_int_t)v;
    } else {
        *out = (json_int_t)v;
    }
    return NUM_OK;
}

/* "08", "-0019": digits after a leading zero that are no octal number stay
 * strings (YAML 1.1 has no such number; 1.2 would read 8). */
static gboolean leading_zero_digits(const char *s, size_t n)
{
    if (n > 0 && (s[0] == '+' || s[0] == '-')) {
        s++;
        n--;
    }
    return n > 1 && s[0] == '0' && all_in(s, n, "0123456789");
}

/* YAML 1.2 core float syntax; @s is NUL-terminated at @n. */
static NumResult parse_float(const char *s, size_t n, double *out)
{
    size_t i = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        i++;
    }
    size_t int_digits = 0, frac_digits = 0;
    while (i < n && g_ascii_isdigit(s[i])) {
        i++;
        int_digits++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && g_ascii_isdigit(s[i])) {
            i++;
            frac_digits++;
        }
    }
    if (int_digits == 0 && frac_digits == 0) {
        return NUM_NO;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        size_t exp_digits = 0;
        while (i < n && g_ascii_isdigit(s[i])) {
            i++;
            exp_digits++;
        }
        if (exp_digits == 0) {
            return NUM_NO;
        }
    }
    if (i != n || strlen(s) != n) {
        return NUM_NO;
    }
    double d = g_ascii_strtod(s, NULL);
    if (!isfinite(d)) {
        return NUM_RANGE;
    }
    *out = d;
    return NUM_OK;
}

static int match_bool(const char *s)
{
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
        return 1;
    }
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
        return 0;
    }
    return -1;
}

static gboolean match_null(const char *s, size_t n)
{
    return n == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

typedef enum { TAG_NONE, TAG_STR, TAG_INT, TAG_FLOAT, TAG_BOOL, TAG_NULL } ScalarTag;

static ScalarTag scalar_tag(const yaml_char_t *tag)
{
    if (!tag) {
        return TAG_NONE;
    }
    const char *t = (const char *)tag;
    if (!strcmp(t, "!")) {
        return TAG_STR;
    }
    if (!g_str_has_prefix(t, YAML_TAG_PREFIX)) {
        return TAG_NONE; /* unknown tags are ignored */
    }
    t += strlen(YAML_TAG_PREFIX);
    if (!strcmp(t, "str")) {
        return TAG_STR;
    }
    if (!strcmp(t, "int")) {
        return TAG_INT;
    }
    if (!strcmp(t, "float")) {
        return TAG_FLOAT;
    }
    if (!strcmp(t, "bool")) {
        return TAG_BOOL;
    }
    if (!strcmp(t, "null")) {
        return TAG_NULL;
    }
    return TAG_NONE;
}

static json_t *resolve_scalar(Builder *b, const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    ScalarTag tag = scalar_tag(ev->data.scalar.tag);
    gboolean plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    json_int_t iv = 0;
    double dv = 0;
    NumResult r;

    if (tag == TAG_STR || (tag == TAG_NONE && !plain)) {
        json_t *v = json_stringn(s, n);
        if (!v) {
            fail(b, FP_YAML_ERROR_SYNTAX, ev->start_mark, "string is not valid UTF-8");
        }
        return v;
    }
    switch (tag) {
    case TAG_INT:
        r = parse_int(s, n, &iv);
        if (r == NUM_OK) {
            return json_integer(iv);
        }
        fail(b, FP_YAML_ERROR_SYNTAX, ev->start_mark,
             r == NUM_RANGE ? "integer out of range: %.40s"
                            : "!!int value is not an integer: %.40s",
             s);
        return NULL;
    case TAG_FLOAT:
        r = parse_int(s, n, &iv);
        if (r == NUM_OK) {
            return json_real((double)iv);
        }
        r = parse_float(s, n, &dv);
        if (r == NUM_OK) {
            return json_real(dv);
        }
        fail(b, FP_YAML_ERROR_SYNTAX, ev->start_mark, "!!float value is not a finite number: %.40s",
             s);
        return NULL;
    case TAG_BOOL:
        if (match_bool(s) >= 0) {
            return json_boolean(match_bool(s));
        }
        fail(b, FP_YAML_ERROR_SYNTAX, ev->start_mark, "!!bool value is not true or false: %.40s",
             s);
        return NULL;
    case TAG_NULL:
        if (match_null(s, n)) {
            return json_null();
        }
        fail(b, FP_YAML_ERROR_SYNTAX, ev->start_mark, "!!null value is not null: %.40s", s);
        return NULL;
    default:
        break;
    }
    if (match_null(s, n)) {
        return json_null();
    }
    if (match_bool(s) >= 0) {
        return json_boolean(match_bool(s));
    }
    r = parse_int(s, n, &iv);
    if (r == NUM_OK) {
        return json_integer(iv);
    }
    if (r == NUM_RANGE) {
        fail(b, FP_YAML_ERROR_SYNTAX, ev->start_mark, "integer out of range: %.40s", s);
        return NULL;
    }
    r = leading_zero_digits(s, n) ? NUM_NO : parse_float(s, n, &dv);
    if (r == NUM_OK) {
        return json_real(dv);
    }
    if (r == NUM_RANGE) {
        fail(b, FP_YAML_ERROR_SYNTAX, ev->start_mark, "number out of range: %.40s", s);
        return NULL;
    }
    json_t *v = json_stringn(s, n);
    if (!v) {
        fail(b, FP_YAML_ERROR_SYNTAX, ev->start_mark, "string is not valid UTF-8");
    }
    return v;
}

/* ---- the stack machine ----------------------------------------------------- */

static void frame_clear(Frame *f)
{
    json_decref(f->node);
    g_free(f->anchor);
    g_free(f->key);
    if (f->merges) {
        g_ptr_array_unref(f->merges);
    }
    memset(f, 0, sizeof *f);
}

static void anchor_free(gpointer p)
{
    Anchor *a = p;
    json_decref(a->value);
    g_free(a);
}

static Frame *top(Builder *b)
{
    return b->stack->len ? &g_array_index(b->stack, Frame, b->stack->len - 1) : NULL;
}

static void set_anchor(Builder *b, const yaml_char_t *name, json_t *value, guint64 size)
{
    if (!name) {
        return;
    }
    Anchor *a = g_new0(Anchor, 1);
    a->value = json_incref(value);
    a->size = size;
    g_hash_table_replace(b->anchors, g_strdup((const char *)name), a);
}

/* Attach @v (an owned reference) to the current container or make it the
 * document root.  @mark is the value's start. */
static void attach(Builder *b, json_t *v, guint64 size, yaml_mark_t mark)
{
    Frame *f = top(b);
    if (!f) {
        json_decref(b->root);
        b->root = v;
        return;
    }
    f->size += size;
    if (json_is_array(f->node)) {
        json_array_append_new(f->node, v);
        return;
    }
    /* object: f->has_key is guaranteed by the callers */
    f->has_key = FALSE;
    if (f->is_merge) {
        f->is_merge = FALSE;
        gboolean ok = json_is_object(v);
        if (json_is_array(v)) {
            ok = TRUE;
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                ok = ok && json_is_object(e);
            }
        }
        if (!ok) {
            fail(b, FP_YAML_ERROR_SYNTAX, mark,
                 "merge key \"<<\" needs a mapping or a list of mappings");
            json_decref(v);
            return;
        }
        if (!f->merges) {
            f->merges = g_ptr_array_new_with_free_func((GDestroyNotify)json_decref);
        }
        g_ptr_array_add(f->merges, v);
        return;
    }
    if (json_object_setn_new(f->node, f->key, f->key_len, v) != 0) {
        fail(b, FP_YAML_ERROR_SYNTAX, f->key_mark, "invalid mapping key");
    } else {
        record_pos(b, stored_key(f->node, f->key), f->key_mark);
    }
    g_clear_pointer(&f->key, g_free);
}

/* A scalar where the current mapping expects a key. */
static void take_key(Builder *b, Frame *f, const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    if (memchr(s, '\0', n)) {
        fail(b, FP_YAML_ERROR_SYNTAX, ev->start_mark, "mapping key contains a NUL character");
        return;
    }
    if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag &&
        !strcmp(s, "<<")) {
        if (f->seen_merge) {
            fail(b, FP_YAML_ERROR_DUPLICATE, ev->start_mark,
                 "duplicate key \"<<\" (first at %u:%u)", (guint)f->merge_mark.line + 1,
                 (guint)f->merge_mark.column + 1);
            return;
        }
        f->seen_merge = TRUE;
        f->merge_mark = ev->start_mark;
        f->has_key = TRUE;
        f->is_merge = TRUE;
        return;
    }
    if (json_object_getn(f->node, s, n)) {
        guint l = 0, c = 0;
        lookup_pos(b->docs, stored_key(f->node, s), &l, &c);
        fail(b, FP_YAML_ERROR_DUPLICATE, ev->start_mark, "duplicate key \"%.80s\" (first at %u:%u)",
             s, l, c);
        return;
    }
    if (!g_utf8_validate(s, (gssize)n, NULL)) {
        fail(b, FP_YAML_ERROR_SYNTAX, ev->start_mark, "mapping key is not valid UTF-8");
        return;
    }
    f->key = g_strndup(s, n);
    f->key_len = n;
    f->key_mark = ev->start_mark;
    f->has_key = TRUE;
}

static gboolean expects_key(Builder *b)
{
    Frame *f = top(b);
    return f && json_is_object(f->node) && !f->has_key;
}

static void on_scalar(Builder *b, const yaml_event_t *ev)
{
    if (expects_key(b)) {
        take_key(b, top(b), ev);
        return;
    }
    json_t *v = resolve_scalar(b, ev);
    if (!v) {
        return;
    }
    if (!is_singleton(v)) {
        record_pos(b, v, ev->start_mark);
    }
    set_anchor(b, ev->data.scalar.anchor, v, 1);
    attach(b, v, 1, ev->start_mark);
}

static void on_alias(Builder *b, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    if (expects_key(b)) {
        fail(b, FP_YAML_ERROR_SYNTAX, ev->start_mark,
             "alias *%.80s as a mapping key is not supported", name);
        return;
    }
    Anchor *a = g_hash_table_lookup(b->anchors, name);
    if (!a) {
        fail(b, FP_YAML_ERROR_SYNTAX, ev->start_mark,
             "alias *%.80s refers to an undefined (or not yet complete) anchor", name);
        return;
    }
    b->alias_expanded += a->size;
    if (b->alias_expanded > ALIAS_EXPANSION_MAX) {
        fail(b, FP_YAML_ERROR_LIMIT, ev->start_mark,
             "aliases expand to more than %" G_GUINT64_FORMAT " nodes", ALIAS_EXPANSION_MAX);
        return;
    }
    attach(b, json_incref(a->value), a->size, ev->start_mark);
}

static void on_start(Builder *b, const yaml_event_t *ev, gboolean mapping)
{
    if (expects_key(b)) {
        fail(b, FP_YAML_ERROR_SYNTAX, ev->start_mark,
             "a %s as a mapping key is not supported (complex key)",
             mapping ? "mapping" : "sequence");
        return;
    }
    if (b->stack->len >= FP_YAML_MAX_DEPTH) {
        fail(b, FP_YAML_ERROR_LIMIT, ev->start_mark, "nesting deeper than %d levels",
             FP_YAML_MAX_DEPTH);
        return;
    }
    Frame f = {0};
    f.node = mapping ? json_object() : json_array();
    f.size = 1;
    const yaml_char_t *anchor =
        mapping ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    f.anchor = anchor ? g_strdup((const char *)anchor) : NULL;
    record_pos(b, f.node, ev->start_mark);
    g_array_append_val(b->stack, f);
}

static void apply_merges(Builder *b, Frame *f)
{
    if (!f->merges) {
        return;
    }
    for (guint i = 0; i < f->merges->len; i++) {
        json_t *src = g_ptr_array_index(f->merges, i);
        size_t n = json_is_array(src) ? json_array_size(src) : 1;
        for (size_t j = 0; j < n; j++) {
            json_t *m = json_is_array(src) ? json_array_get(src, j) : src;
            const char *key;
            json_t *value;
            json_object_foreach(m, key, value)
            {
                if (json_object_get(f->node, key)) {
                    continue;
                }
                json_object_set(f->node, key, value);
                guint l, c;
                if (lookup_pos(b->docs, key, &l, &c)) {
                    g_hash_table_insert(b->docs->pos, (gpointer)stored_key(f->node, key),
                                        pack_pos(l, c));
                }
            }
        }
    }
}

static void on_end(Builder *b, const yaml_event_t *ev)
{
    Frame f = *top(b);
    g_array_set_size(b->stack, b->stack->len - 1);
    apply_merges(b, &f);
    guint l = 0, c = 0;
    lookup_pos(b->docs, f.node, &l, &c);
    yaml_mark_t mark = {.line = l ? l - 1 : 0, .column = c ? c - 1 : 0};
    if (f.anchor) {
        set_anchor(b, (const yaml_char_t *)f.anchor, f.node, f.size);
    }
    attach(b, g_steal_pointer(&f.node), f.size, mark);
    frame_clear(&f);
}

static void builder_reset_doc(Builder *b)
{
    while (b->stack->len) {
        frame_clear(top(b));
        g_array_set_size(b->stack, b->stack->len - 1);
    }
    g_hash_table_remove_all(b->anchors);
    g_clear_pointer(&b->root, json_decref);
}

/* Parse @buf; on an error, the documents completed before it stay in the
 * result when @keep_partial, else the result is NULL. */
static FpDocs *parse_docs(const char *buf, size_t len, const char *name, bool keep_partial,
                          GError **error)
{
    g_return_val_if_fail(buf != NULL || len == 0, NULL);
    FpDocs *docs = g_new0(FpDocs, 1);
    docs->name = g_strdup(name ? name : "<input>");
    docs->roots = g_ptr_array_new_with_free_func((GDestroyNotify)json_decref);
    docs->pos = g_hash_table_new(g_direct_hash, g_direct_equal);

    Builder b = {.docs = docs, .buf = buf ? buf : "", .len = len};
    b.stack = g_array_new(FALSE, TRUE, sizeof(Frame));
    b.anchors = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, anchor_free);

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        g_error("yaml_parser_initialize: out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)b.buf, len);
    gboolean done = FALSE;
    while (!done && !b.error) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            fail_from_parser(&b, &parser);
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = TRUE;
            break;
        case YAML_DOCUMENT_START_EVENT:
            builder_reset_doc(&b);
            break;
        case YAML_DOCUMENT_END_EVENT:
            if (b.root && !json_is_null(b.root)) {
                g_ptr_array_add(docs->roots, g_steal_pointer(&b.root));
            }
            builder_reset_doc(&b);
            break;
        case YAML_SCALAR_EVENT:
            on_scalar(&b, &ev);
            break;
        case YAML_ALIAS_EVENT:
            on_alias(&b, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            on_start(&b, &ev, FALSE);
            break;
        case YAML_MAPPING_START_EVENT:
            on_start(&b, &ev, TRUE);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            on_end(&b, &ev);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    builder_reset_doc(&b);
    g_array_unref(b.stack);
    g_hash_table_unref(b.anchors);
    if (b.error) {
        g_propagate_error(error, b.error);
        if (!keep_partial) {
            fp_docs_free(docs);
            return NULL;
        }
    }
    return docs;
}

FpDocs *fp_docs_parse(const char *buf, size_t len, const char *name, GError **error)
{
    return parse_docs(buf, len, name, false, error);
}

FpDocs *fp_docs_parse_partial(const char *buf, size_t len, const char *name, GError **error)
{
    return parse_docs(buf, len, name, true, error);
}

static FpDocs *load_file(const char *path, size_t max_bytes, bool keep_partial, GError **error)
{
    g_return_val_if_fail(path != NULL, NULL);
    g_autoptr(GError) local = NULL;
    size_t len = 0;
    g_autofree char *buf = fp_read_file_capped(path, max_bytes, &len, &local);
    if (!buf) {
        /* Over the cap is a limit; anything else (missing, unreadable, not a
         * regular file) an I/O error.  The message already names the path. */
        g_set_error_literal(error, FP_YAML_ERROR,
                            local->code == G_FILE_ERROR_FAILED ? FP_YAML_ERROR_LIMIT
                                                               : FP_YAML_ERROR_IO,
                            local->message);
        return NULL;
    }
    return parse_docs(buf, len, path, keep_partial, error);
}

FpDocs *fp_docs_load_file(const char *path, size_t max_bytes, GError **error)
{
    return load_file(path, max_bytes, false, error);
}

FpDocs *fp_docs_load_file_partial(const char *path, size_t max_bytes, GError **error)
{
    return load_file(path, max_bytes, true, error);
}

void fp_docs_free(FpDocs *docs)
{
    if (!docs) {
        return;
    }
    g_ptr_array_unref(docs->roots);
    g_hash_table_unref(docs->pos);
    g_free(docs->name);
    g_free(docs);
}

guint fp_docs_count(const FpDocs *docs)
{
    return docs ? docs->roots->len : 0;
}

json_t *fp_docs_get(const FpDocs *docs, guint index)
{
    if (!docs || index >= docs->roots->len) {
        return NULL;
    }
    return g_ptr_array_index(docs->roots, index);
}

const char *fp_docs_name(const FpDocs *docs)
{
    return docs ? docs->name : NULL;
}

gboolean fp_docs_position(const FpDocs *docs, const json_t *value, guint *line, guint *column)
{
    if (!value || is_singleton(value)) {
        return FALSE;
    }
    return lookup_pos(docs, value, line, column);
}

gboolean fp_docs_key_position(const FpDocs *docs, const json_t *object, const char *key,
                              guint *line, guint *column)
{
    if (!docs || !json_is_object(object) || !key) {
        return FALSE;
    }
    return lookup_pos(docs, stored_key(object, key), line, column);
}

const char *fp_json_type_name(const json_t *v, FpTypeWords words)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return words == FP_WORDS_YAML ? "a mapping" : "an object";
    case JSON_ARRAY:
        return words == FP_WORDS_YAML ? "a list" : "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "an unknown value";
}
