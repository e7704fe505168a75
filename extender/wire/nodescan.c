/*
 * extender/wire/nodescan.c - validating scanner of ExtenderArgs (nodescan.h).
 *
 * A recursive-descent validator that mirrors jansson 2.14's load.c token by
 * token (what it accepts, not its messages), with a "role" per container so
 * that the few members a decision needs are recorded on the way:
 *
 *   R_ROOT      the body: Pod / NodeNames / Nodes, any letter case
 *   R_NODELIST  a Nodes value: its "items"
 *   R_ITEMS     Nodes.items: one FpScanNode per element
 *   R_NODE      one item: metadata / spec / status
 *   R_META, R_SPEC, R_STATUS   the members kobj.c reads
 *   R_NONE      everything else: validated, nothing recorded
 *
 * Strings, the bulk of a Node (status.images), are scanned 16 bytes at a
 * time with SSE2 for the bytes that need a closer look (quote, backslash,
 * control characters, non-ASCII); UTF-8 is checked strictly as jansson's
 * utf.c does (no overlong forms, no surrogates, nothing above U+10FFFF).
 */
#include "extender/wire/nodescan.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define MAX_KEY_RAW 96 /* longest raw key decoded for a comparison */

typedef enum { R_NONE, R_ROOT, R_NODELIST, R_ITEMS, R_NODE, R_META, R_SPEC, R_STATUS } Role;

enum { T_POD, T_NODES, T_NODENAMES, T_N };
static const char *const target_names[T_N] = {"pod", "nodes", "nodenames"};

/* Every spelling (letter case) of one envelope key seen so far: where the
 * spelling first appeared (jansson keeps a key at its first position) and
 * its last value (a later duplicate replaces the value). */
typedef struct {
    guint n_spellings;
    guint8 *seen;
    guint *first;
    FpSpan *last;
} Slot;

typedef struct {
    const unsigned char *b;
    const unsigned char *end;
    const unsigned char *p;
    FpArgsScan *out;
    guint max_nodes;
    GArray *tab;    /* FpScanNode */
    guint cur;      /* index in tab of the item being scanned */
    bool recording; /* cur is valid */
    guint members;  /* root members seen */
    FpSpan tab_for; /* the Nodes value whose items are in tab */
    Slot slots[T_N];
} Scanner;

#define SPAN(s, start) ((FpSpan){(size_t)((start) - (s)->b), (size_t)((s)->p - (start))})

static inline void skip_ws(Scanner *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t')) {
        s->p++;
    }
}

static inline int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Four hex digits at @p (end checked by the caller); -1 when not hex. */
static inline int32_t hex4(const unsigned char *p)
{
    int a = hexval(p[0]), b = hexval(p[1]), c = hexval(p[2]), d = hexval(p[3]);
    if ((a | b | c | d) < 0) {
        return -1;
    }
    return (a << 12) | (b << 8) | (c << 4) | d;
}

/* One UTF-8 sequence starting at s->p (a byte >= 0x80), as utf.c checks it. */
static bool scan_utf8(Scanner *s)
{
    const unsigned char *p = s->p;
    unsigned char u = p[0];
    size_t count;
    int32_t value;
    if (u >= 0xC2 && u <= 0xDF) {
        count = 2;
        value = u & 0x1F;
    } else if (u >= 0xE0 && u <= 0xEF) {
        count = 3;
        value = u & 0x0F;
    } else if (u >= 0xF0 && u <= 0xF4) {
        count = 4;
        value = u & 0x07;
    } else {
        return false; /* continuation byte, overlong C0/C1, or F5..FF */
    }
    if ((size_t)(s->end - p) < count) {
        return false;
    }
    for (size_t i = 1; i < count; i++) {
        if (p[i] < 0x80 || p[i] > 0xBF) {
            return false;
        }
        value = (value << 6) | (p[i] & 0x3F);
    }
    if (value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF) || (count == 3 && value < 0x800) ||
        (count == 4 && value < 0x10000)) {
        return false;
    }
    s->p += count;
    return true;
}

/* A string token at s->p (the opening quote).  On success s->p is past the
 * closing quote and *escaped tells whether it holds escapes. */
static bool scan_string(Scanner *s, bool *escaped)
{
    s->p++;
    bool esc = false;
    for (;;) {
#ifdef __SSE2__
        const __m128i quote = _mm_set1_epi8('"');
        const __m128i bslash = _mm_set1_epi8('\\');
        const __m128i space = _mm_set1_epi8(0x20);
        while (s->end - s->p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s->p);
            /* signed compare: below 0x20, or 0x80 and above (negative) */
            __m128i hit =
                _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                             _mm_cmplt_epi8(v, space));
            int mask = _mm_movemask_epi8(hit);
            if (mask) {
                s->p += __builtin_ctz((unsigned)mask);
                break;
            }
            s->p += 16;
        }
#endif
        if (s->p >= s->end) {
            return false;
        }
        unsigned char c = *s->p;
        if (c == '"') {
            s->p++;
            if (escaped) {
                *escaped = esc;
            }
            return true;
        }
        if (c == '\\') {
            esc = true;
            if (s->end - s->p < 2) {
                return false;
            }
            unsigned char e = s->p[1];
            if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
                e == 't') {
                s->p += 2;
                continue;
            }
            if (e != 'u' || s->end - s->p < 6) {
                return false;
            }
            int32_t v = hex4(s->p + 2);
            if (v < 0) {
                return false;
            }
            s->p += 6;
            if (v == 0) {
                return false; /* \u0000: no NUL without JSON_ALLOW_NUL, nor in keys */
            }
            if (v >= 0xD800 && v <= 0xDBFF) {
                if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u') {
                    return false;
                }
                int32_t v2 = hex4(s->p + 2);
                if (v2 < 0xDC00 || v2 > 0xDFFF) {
                    return false;
                }
                s->p += 6;
            } else if (v >= 0xDC00 && v <= 0xDFFF) {
                return false;
            }
            continue;
        }
        if (c < 0x20) {
            return false;
        }
        if (c >= 0x80) {
            if (!scan_utf8(s)) {
                return false;
            }
            continue;
        }
        s->p++;
    }
}

static inline bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* A number token, as lex_scan_number reads it, including jansson's range
 * checks (an integer must fit in json_int_t, a real must not overflow). */
static bool scan_number(Scanner *s)
{
    const unsigned char *start = s->p;
    bool neg = false;
    if (*s->p == '-') {
        neg = true;
        s->p++;
    }
    if (s->p >= s->end) {
        return false;
    }
    const unsigned char *digits = s->p;
    if (*s->p == '0') {
        s->p++;
        if (s->p < s->end && is_digit(*s->p)) {
            return false;
        }
    } else if (is_digit(*s->p)) {
        while (s->p < s->end && is_digit(*s->p)) {
            s->p++;
        }
    } else {
        return false;
    }
    size_t int_digits = (size_t)(s->p - digits);
    if (s->p >= s->end || (*s->p != '.' && *s->p != 'e' && *s->p != 'E')) {
        if (int_digits < 19) {
            return true;
        }
        if (int_digits > 19) {
            return false;
        }
        const char *lim = neg ? "9223372036854775808" : "9223372036854775807";
        return memcmp(digits, lim, 19) <= 0;
    }
    bool exponent = false;
    if (*s->p == '.') {
        s->p++;
        if (s->p >= s->end || !is_digit(*s->p)) {
            return false;
        }
        while (s->p < s->end && is_digit(*s->p)) {
            s->p++;
        }
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        exponent = true;
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) {
            s->p++;
        }
        if (s->p >= s->end || !is_digit(*s->p)) {
            return false;
        }
        while (s->p < s->end && is_digit(*s->p)) {
            s->p++;
        }
    }
    if (!exponent && int_digits < 300) {
        return true; /* below 1e300: cannot overflow */
    }
    size_t n = (size_t)(s->p - start);
    char small[64];
    char *text = n < sizeof small ? small : g_malloc(n + 1);
    memcpy(text, start, n);
    text[n] = '\0';
    errno = 0;
    double d = g_ascii_strtod(text, NULL);
    bool overflow = errno == ERANGE && isinf(d);
    if (text != small) {
        g_free(text);
    }
    return !overflow;
}

/* jansson quirk: the character after a number or a literal is read and
 * pushed back; a pushed-back NUL byte reads as "nothing buffered" and is
 * skipped.  So exactly one NUL right after such a token is ignored. */
static inline bool skip_pushed_back_nul(Scanner *s, bool ok)
{
    if (ok && s->p < s->end && *s->p == '\0') {
        s->p++;
    }
    return ok;
}

static bool scan_literal(Scanner *s)
{
    static const char *const words[] = {"true", "false", "null"};
    for (guint i = 0; i < G_N_ELEMENTS(words); i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(s->end - s->p) >= n && memcmp(s->p, words[i], n) == 0) {
            s->p += n;
            /* jansson reads a whole run of letters as one identifier */
            return s->p >= s->end || !g_ascii_isalpha(*s->p);
        }
    }
    return false;
}

/* Decode a key token into @buf (MAX_KEY_RAW bytes) for comparisons; -1
 * when too long to be one of the names compared against. */
static gssize key_text(const char *b, FpSpan key, char *buf)
{
    if (key.len > MAX_KEY_RAW) {
        return -1;
    }
    return (gssize)fp_nodescan_string(b, key, buf);
}

static bool key_is(const char *text, gssize n, const char *name)
{
    return n >= 0 && (size_t)n == strlen(name) && memcmp(text, name, (size_t)n) == 0;
}

/* Which envelope target the key names, ignoring ASCII case; the spelling
 * index has bit i set when letter i is upper case. */
static int envelope_target(const char *text, gssize n, guint *spelling)
{
    for (int t = 0; t < T_N; t++) {
        const char *name = target_names[t];
        if (n < 0 || (size_t)n != strlen(name)) {
            continue;
        }
        guint idx = 0;
        bool match = true;
        for (gssize i = 0; i < n && match; i++) {
            char c = text[i];
            if (c >= 'A' && c <= 'Z') {
                idx |= 1u << i;
                c = (char)(c - 'A' + 'a');
            }
            match = c == name[i];
        }
        if (match) {
            *spelling = idx;
            return t;
        }
    }
    return -1;
}

static FpScanNode *cur_node(Scanner *s)
{
    return s->recording ? &g_array_index(s->tab, FpScanNode, s->cur) : NULL;
}

static void reset_tab(Scanner *s)
{
    g_array_set_size(s->tab, 0);
    s->out->n_nodes = 0;
    s->out->truncated = false;
    s->out->items = (FpSpan){0, 0};
    s->out->items_is_array = false;
}

static bool scan_value(Scanner *s, int depth, Role role);

/* The role of a member's value, and where its span is recorded. */
static Role member_role(Scanner *s, Role role, const char *key, gssize n, FpSpan **record)
{
    FpScanNode *nd = cur_node(s);
    *record = NULL;
    switch (role) {
    case R_NODELIST:
        if (key_is(key, n, "items")) {
            /* a later "items" replaces an earlier one, whatever its type */
            reset_tab(s);
            *record = &s->out->items;
            return R_ITEMS;
        }
        break;
    case R_NODE:
        if (!nd) {
            break;
        }
        if (key_is(key, n, "metadata")) {
            *record = &nd->metadata;
            nd->name = nd->labels = nd->resource_version = (FpSpan){0, 0};
            return R_META;
        }
        if (key_is(key, n, "spec")) {
            *record = &nd->spec;
            nd->unschedulable = nd->taints = (FpSpan){0, 0};
            return R_SPEC;
        }
        if (key_is(key, n, "status")) {
            *record = &nd->status;
            nd->allocatable = nd->conditions = (FpSpan){0, 0};
            return R_STATUS;
        }
        break;
    case R_META:
        if (nd) {
            *record = key_is(key, n, "name")              ? &nd->name
                      : key_is(key, n, "labels")          ? &nd->labels
                      : key_is(key, n, "resourceVersion") ? &nd->resource_version
                                                          : NULL;
        }
        break;
    case R_SPEC:
        if (nd) {
            *record = key_is(key, n, "unschedulable") ? &nd->unschedulable
                      : key_is(key, n, "taints")      ? &nd->taints
                                                      : NULL;
        }
        break;
    case R_STATUS:
        if (nd) {
            *record = key_is(key, n, "allocatable")  ? &nd->allocatable
                      : key_is(key, n, "conditions") ? &nd->conditions
                                                     : NULL;
        }
        break;
    default:
        break;
    }
    return R_NONE;
}

/* After an object member or array element: ',' and more follow (1), @close
 * and the container ends (0), or anything else, invalid (-1). */
static int next_or_close(Scanner *s, char close)
{
    skip_ws(s);
    if (s->p >= s->end) {
        return -1;
    }
    if (*s->p == ',') {
        s->p++;
        skip_ws(s);
        return 1;
    }
    if (*s->p == close) {
        s->p++;
        return 0;
    }
    return -1;
}

static bool scan_object(Scanner *s, int depth, Role role)
{
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return true;
    }
    for (;;) {
        if (s->p >= s->end || *s->p != '"') {
            return false;
        }
        const unsigned char *kstart = s->p;
        if (!scan_string(s, NULL)) {
            return false;
        }
        FpSpan key = SPAN(s, kstart);
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':') {
            return false;
        }
        s->p++;
        skip_ws(s);
        if (role == R_NONE) {
            if (!scan_value(s, depth + 1, R_NONE)) {
                return false;
            }
        } else {
            char text[MAX_KEY_RAW];
            gssize n = key_text((const char *)s->b, key, text);
            FpSpan *record = NULL;
            Role child = R_NONE;
            int target = -1;
            guint spelling = 0;
            if (role == R_ROOT) {
                target = envelope_target(text, n, &spelling);
                if (target == T_NODES) {
                    reset_tab(s);
                    child = R_NODELIST;
                }
            } else {
                child = member_role(s, role, text, n, &record);
            }
            const unsigned char *vstart = s->p;
            if (!scan_value(s, depth + 1, child)) {
                return false;
            }
            FpSpan value = SPAN(s, vstart);
            if (record) {
                *record = value;
            }
            if (target >= 0) {
                Slot *slot = &s->slots[target];
                if (!slot->seen[spelling]) {
                    slot->seen[spelling] = 1;
                    slot->first[spelling] = s->members;
                }
                slot->last[spelling] = value;
                if (target == T_NODES) {
                    s->tab_for = value;
                }
            }
            if (role == R_ROOT) {
                s->members++;
            }
        }
        int more = next_or_close(s, '}');
        if (more <= 0) {
            return more == 0;
        }
    }
}

static bool scan_array(Scanner *s, int depth, Role role)
{
    s->p++;
    if (role == R_ITEMS) {
        reset_tab(s);
        s->out->items_is_array = true;
    }
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return true;
    }
    for (;;) {
        Role child = R_NONE;
        const unsigned char *vstart = s->p;
        if (role == R_ITEMS) {
            s->out->n_nodes++;
            if (s->out->n_nodes > s->max_nodes) {
                s->out->truncated = true;
                g_array_set_size(s->tab, 0);
            } else if (!s->out->truncated) {
                FpScanNode nd = {.item = {(size_t)(vstart - s->b), 0}};
                nd.is_object = s->p < s->end && *s->p == '{';
                g_array_append_val(s->tab, nd);
                s->cur = s->tab->len - 1;
                s->recording = true;
                child = R_NODE;
            }
        }
        bool ok = scan_value(s, depth + 1, child);
        if (child == R_NODE) {
            s->recording = false;
            if (ok) {
                g_array_index(s->tab, FpScanNode, s->cur).item = SPAN(s, vstart);
            }
        }
        if (!ok) {
            return false;
        }
        int more = next_or_close(s, ']');
        if (more <= 0) {
            return more == 0;
        }
    }
}

static bool scan_value(Scanner *s, int depth, Role role)
{
    if (depth > JSON_PARSER_MAX_DEPTH || s->p >= s->end) {
        return false;
    }
    switch (*s->p) {
    case '{':
        return scan_object(s, depth, role == R_ITEMS ? R_NONE : role);
    case '[':
        return scan_array(s, depth, role == R_ITEMS ? R_ITEMS : R_NONE);
    case '"':
        return scan_string(s, NULL);
    case 't':
    case 'f':
    case 'n':
        return skip_pushed_back_nul(s, scan_literal(s));
    default:
        if (*s->p == '-' || is_digit(*s->p)) {
            return skip_pushed_back_nul(s, scan_number(s));
        }
        return false;
    }
}

/* The whole buffer: one object or array, whitespace around it. */
static bool scan_document(Scanner *s, Role role)
{
    skip_ws(s);
    if (s->p >= s->end || (*s->p != '{' && *s->p != '[')) {
        return false;
    }
    if (!scan_value(s, 1, *s->p == '{' ? role : R_NONE)) {
        return false;
    }
    skip_ws(s);
    return s->p == s->end;
}

bool fp_json_validate(const char *buf, size_t len, size_t *err_off)
{
    FpArgsScan dummy = {0};
    Scanner s = {.b = (const unsigned char *)buf,
                 .end = (const unsigned char *)buf + len,
                 .p = (const unsigned char *)buf,
                 .out = &dummy};
    bool ok = buf && scan_document(&s, R_NONE);
    if (!ok && err_off) {
        *err_off = buf ? (size_t)(s.p - s.b) : 0;
    }
    return ok;
}

/* The chosen member of @slot: the spelling that was inserted last (so comes
 * last in jansson's iteration order), with its last value. */
static FpSpan slot_choice(const Slot *slot)
{
    FpSpan best = {0, 0};
    bool any = false;
    guint first = 0;
    for (guint i = 0; i < slot->n_spellings; i++) {
        if (slot->seen[i] && (!any || slot->first[i] > first)) {
            any = true;
            first = slot->first[i];
            best = slot->last[i];
        }
    }
    return best;
}

bool fp_nodescan_args(const char *buf, size_t len, guint max_nodes, FpArgsScan *out)
{
    memset(out, 0, sizeof *out);
    if (!buf) {
        return false;
    }
    Scanner s = {.b = (const unsigned char *)buf,
                 .end = (const unsigned char *)buf + len,
                 .p = (const unsigned char *)buf,
                 .out = out,
                 .max_nodes = max_nodes,
                 .tab = g_array_new(FALSE, TRUE, sizeof(FpScanNode))};
    guint total = 0;
    for (int t = 0; t < T_N; t++) {
        total += 1u << strlen(target_names[t]);
    }
    /* one allocation for the spelling tables of the three keys */
    guint8 *mem = g_malloc0(total * (sizeof(guint8) + sizeof(guint) + sizeof(FpSpan)));
    FpSpan *last = (FpSpan *)(void *)mem;
    guint *first = (guint *)(void *)(last + total);
    guint8 *seen = (guint8 *)(first + total);
    for (int t = 0, at = 0; t < T_N; t++) {
        guint n = 1u << strlen(target_names[t]);
        s.slots[t] = (Slot){n, seen + at, first + at, last + at};
        at += (int)n;
    }
    bool ok = scan_document(&s, R_ROOT);
    if (ok) {
        size_t i = 0;
        while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n')) {
            i++;
        }
        out->root_is_object = i < len && buf[i] == '{';
        out->pod = slot_choice(&s.slots[T_POD]);
        out->node_names = slot_choice(&s.slots[T_NODENAMES]);
        out->nodes = slot_choice(&s.slots[T_NODES]);
        if (out->nodes.len &&
            (out->nodes.off != s.tab_for.off || out->nodes.len != s.tab_for.len)) {
            /* Duplicate Nodes keys in different letter case, and the one
             * jansson keeps is not the last scanned: scan that one again. */
            Scanner again = {.b = s.b,
                             .end = s.b + out->nodes.off + out->nodes.len,
                             .p = s.b + out->nodes.off,
                             .out = out,
                             .max_nodes = max_nodes,
                             .tab = s.tab};
            reset_tab(&again);
            ok = scan_value(&again, 2, R_NODELIST);
        }
        if (out->nodes.len == 0 || buf[out->nodes.off] != '{') {
            reset_tab(&s);
        }
    }
    g_free(mem);
    if (!ok) {
        g_array_unref(s.tab);
        memset(out, 0, sizeof *out);
        return false;
    }
    out->node_tab = (FpScanNode *)(void *)g_array_free(s.tab, FALSE);
    if (out->truncated) {
        g_clear_pointer(&out->node_tab, g_free);
    }
    return true;
}

void fp_args_scan_clear(FpArgsScan *scan)
{
    if (scan) {
        g_free(scan->node_tab);
        memset(scan, 0, sizeof *scan);
    }
}

/* ---- decoding validated ranges ----------------------------------------------------- */

static void put_utf8(char **t, int32_t v)
{
    unsigned char *o = (unsigned char *)*t;
    if (v < 0x80) {
        *o++ = (unsigned char)v;
    } else if (v < 0x800) {
        *o++ = (unsigned char)(0xC0 | (v >> 6));
        *o++ = (unsigned char)(0x80 | (v & 0x3F));
    } else if (v < 0x10000) {
        *o++ = (unsigned char)(0xE0 | (v >> 12));
        *o++ = (unsigned char)(0x80 | ((v >> 6) & 0x3F));
        *o++ = (unsigned char)(0x80 | (v & 0x3F));
    } else {
        *o++ = (unsigned char)(0xF0 | (v >> 18));
        *o++ = (unsigned char)(0x80 | ((v >> 12) & 0x3F));
        *o++ = (unsigned char)(0x80 | ((v >> 6) & 0x3F));
        *o++ = (unsigned char)(0x80 | (v & 0x3F));
    }
    *t = (char *)o;
}

size_t fp_nodescan_string(const char *buf, FpSpan span, char *dst)
{
    const char *p = buf + span.off + 1;
    const char *end = buf + span.off + span.len - 1; /* the closing quote */
    const char *bs = memchr(p, '\\', (size_t)(end - p));
    if (!bs) {
        memcpy(dst, p, (size_t)(end - p));
        return (size_t)(end - p);
    }
    char *t = dst;
    while (p < end) {
        if (*p != '\\') {
            *t++ = *p++;
            continue;
        }
        char e = p[1];
        p += 2;
        switch (e) {
        case 'b':
            *t++ = '\b';
            break;
        case 'f':
            *t++ = '\f';
            break;
        case 'n':
            *t++ = '\n';
            break;
        case 'r':
            *t++ = '\r';
            break;
        case 't':
            *t++ = '\t';
            break;
        case 'u': {
            int32_t v = hex4((const unsigned char *)p);
            p += 4;
            if (v >= 0xD800 && v <= 0xDBFF) {
                int32_t v2 = hex4((const unsigned char *)p + 2);
                p += 6;
                v = ((v - 0xD800) << 10) + (v2 - 0xDC00) + 0x10000;
            }
            put_utf8(&t, v);
            break;
        }
        default: /* '"', '\\', '/' */
            *t++ = e;
            break;
        }
    }
    return (size_t)(t - dst);
}

/* A reader over a validated buffer. */
typedef struct {
    const char *b;
    const char *p;
} Reader;

/* In validated input a NUL outside strings can only be one that jansson
 * skips after a number or literal: it reads as whitespace. */
static inline void r_ws(Reader *r)
{
    while (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t' || *r->p == '\0') {
        r->p++;
    }
}

/* End of the string token starting at r->p (validated). */
static const char *string_end(const char *p)
{
    p++;
    for (;;) {
        const char *q = p;
        while (*q != '"' && *q != '\\') {
            q++;
        }
        if (*q == '"') {
            return q + 1;
        }
        p = q + 2; /* an escape; \uXXXX continues with hex digits, never a quote */
    }
}

static json_t *build(Reader *r);

static json_t *build_string(Reader *r)
{
    const char *end = string_end(r->p);
    FpSpan span = {(size_t)(r->p - r->b), (size_t)(end - r->p)};
    char small[256];
    char *dst = span.len <= sizeof small ? small : g_malloc(span.len);
    size_t n = fp_nodescan_string(r->b, span, dst);
    json_t *v = json_stringn_nocheck(dst, n);
    if (dst != small) {
        g_free(dst);
    }
    r->p = end;
    return v;
}

static json_t *build_number(Reader *r)
{
    const char *start = r->p;
    bool real = false;
    if (*r->p == '-') {
        r->p++;
    }
    while (is_digit((unsigned char)*r->p) || *r->p == '.' || *r->p == 'e' || *r->p == 'E' ||
           ((*r->p == '+' || *r->p == '-') && (r->p[-1] == 'e' || r->p[-1] == 'E'))) {
        real = real || !is_digit((unsigned char)*r->p);
        r->p++;
    }
    size_t n = (size_t)(r->p - start);
    char small[64];
    char *text = n < sizeof small ? small : g_malloc(n + 1);
    memcpy(text, start, n);
    text[n] = '\0';
    json_t *v = real ? json_real(g_ascii_strtod(text, NULL))
                     : json_integer((json_int_t)strtoll(text, NULL, 10));
    if (text != small) {
        g_free(text);
    }
    return v;
}

static json_t *build(Reader *r)
{
    r_ws(r);
    switch (*r->p) {
    case '{': {
        json_t *o = json_object();
        r->p++;
        r_ws(r);
        if (*r->p == '}') {
            r->p++;
            return o;
        }
        for (;;) {
            const char *kend = string_end(r->p);
            FpSpan kspan = {(size_t)(r->p - r->b), (size_t)(kend - r->p)};
            char small[128];
            char *key = kspan.len <= sizeof small ? small : g_malloc(kspan.len);
            size_t kn = fp_nodescan_string(r->b, kspan, key);
            r->p = kend;
            r_ws(r);
            r->p++; /* ':' */
            json_t *v = build(r);
            json_object_setn_new_nocheck(o, key, kn, v);
            if (key != small) {
                g_free(key);
            }
            r_ws(r);
            if (*r->p++ == '}') {
                return o;
            }
            r_ws(r);
        }
    }
    case '[': {
        json_t *a = json_array();
        r->p++;
        r_ws(r);
        if (*r->p == ']') {
            r->p++;
            return a;
        }
        for (;;) {
            json_array_append_new(a, build(r));
            r_ws(r);
            if (*r->p++ == ']') {
                return a;
            }
        }
    }
    case '"':
        return build_string(r);
    case 't':
        r->p += 4;
        return json_true();
    case 'f':
        r->p += 5;
        return json_false();
    case 'n':
        r->p += 4;
        return json_null();
    default:
        return build_number(r);
    }
}

json_t *fp_nodescan_value(const char *buf, FpSpan span)
{
    if (span.len == 0) {
        return NULL;
    }
    /* The reader never looks past the value's last byte: every token it
     * reads ends inside the validated span. */
    Reader r = {.b = buf, .p = buf + span.off};
    return build(&r);
}

static void add_member(json_t *obj, const char *key, const char *buf, FpSpan span)
{
    if (span.len) {
        json_object_set_new_nocheck(obj, key, fp_nodescan_value(buf, span));
    }
}

json_t *fp_nodescan_node_json(const char *buf, const FpScanNode *nd)
{
    if (!nd->is_object) {
        return fp_nodescan_value(buf, nd->item);
    }
    json_t *node = json_object();
    if (nd->metadata.len) {
        if (buf[nd->metadata.off] == '{') {
            json_t *m = json_object();
            add_member(m, "name", buf, nd->name);
            add_member(m, "labels", buf, nd->labels);
            add_member(m, "resourceVersion", buf, nd->resource_version);
            json_object_set_new_nocheck(node, "metadata", m);
        } else {
            add_member(node, "metadata", buf, nd->metadata);
        }
    }
    if (nd->spec.len) {
        if (buf[nd->spec.off] == '{') {
            json_t *m = json_object();
            add_member(m, "unschedulable", buf, nd->unschedulable);
            add_member(m, "taints", buf, nd->taints);
            json_object_set_new_nocheck(node, "spec", m);
        } else {
            add_member(node, "spec", buf, nd->spec);
        }
    }
    if (nd->status.len) {
        if (buf[nd->status.off] == '{') {
            json_t *m = json_object();
            add_member(m, "allocatable", buf, nd->allocatable);
            add_member(m, "conditions", buf, nd->conditions);
            json_object_set_new_nocheck(node, "status", m);
        } else {
            add_member(node, "status", buf, nd->status);
        }
    }
    return node;
}

/* Skip one validated value at r->p. */
static void skip(Reader *r)
{
    r_ws(r);
    switch (*r->p) {
    case '"':
        r->p = string_end(r->p);
        return;
    case '{':
    case '[': {
        int level = 0;
        do {
            char c = *r->p;
            if (c == '"') {
                r->p = string_end(r->p);
                continue;
            }
            level += (c == '{' || c == '[') - (c == '}' || c == ']');
            r->p++;
        } while (level > 0);
        return;
    }
    default:
        while (*r->p && !strchr(",]} \t\r\n", *r->p)) {
            r->p++;
        }
        return;
    }
}

guint fp_nodescan_array_foreach(const char *buf, FpSpan span,
                                gboolean (*fn)(FpSpan elem, guint index, void *data), void *data)
{
    if (span.len == 0 || buf[span.off] != '[') {
        return 0;
    }
    const char *end = buf + span.off + span.len;
    Reader r = {.b = buf, .p = buf + span.off + 1};
    r_ws(&r);
    guint i = 0;
    while (r.p < end && *r.p != ']') {
        const char *start = r.p;
        skip(&r);
        FpSpan elem = {(size_t)(start - buf), (size_t)(r.p - start)};
        if (!fn(elem, i++, data)) {
            break;
        }
        r_ws(&r);
        if (*r.p == ',') {
            r.p++;
            r_ws(&r);
        }
    }
    return i;
}
