/*
 * scoring/names.c - Kubernetes name rules and their messages (names.h).
 */
#include "scoring/names.h"

#include <string.h>

static bool name_char_ok(char ch, gsize i, gsize len, FpNameKind kind)
{
    if (kind == FP_NAME_NAMESPACE) {
        return g_ascii_islower(ch) || g_ascii_isdigit(ch) || (ch == '-' && i > 0 && i + 1 < len);
    }
    if (g_ascii_isalnum(ch)) {
        return true;
    }
    return i > 0 && i + 1 < len && strchr("-_.", ch);
}

static const char *name_chars_message(FpNameKind kind)
{
    switch (kind) {
    case FP_NAME_REGION:
        return "is not a region name (letters, digits, '-', '_', '.'; alphanumeric at both ends)";
    case FP_NAME_NAMESPACE:
        return "is not a namespace name (lowercase letters, digits, '-')";
    case FP_NAME_LABEL_VALUE:
    default:
        return "is not a valid name (letters, digits, '-', '_', '.'; alphanumeric at both ends)";
    }
}

const char *fp_name_problem(const char *s, gsize len, FpNameKind kind)
{
    if (len == 0) {
        return kind == FP_NAME_NAMESPACE ? name_chars_message(kind) : "must not be empty";
    }
    if (len > FP_NAME_MAX) {
        return "is longer than 63 characters";
    }
    for (gsize i = 0; i < len; i++) {
        if (kind == FP_NAME_REGION && g_ascii_isupper(s[i])) {
            return "must be lowercase (as in topology.kubernetes.io/region)";
        }
        if (!name_char_ok(s[i], i, len, kind)) {
            return name_chars_message(kind);
        }
    }
    return NULL;
}

const char *fp_product_problem(const char *s, gsize len, bool wildcard)
{
    if (len == 0) {
        return "must not be empty";
    }
    if (len > FP_NAME_MAX) {
        return "is longer than 63 characters";
    }
    for (gsize i = 0; i < len; i++) {
        char ch = s[i];
        if (g_ascii_isalnum(ch) || strchr("-_.", ch)) {
            continue;
        }
        if (wildcard && ch == '*' && i + 1 == len && len > 6 &&
            memcmp(s + len - 6, "-MIG-*", 6) == 0) {
            continue;
        }
        return wildcard ? "is not a GPU product (letters, digits, '-', '_', '.', or a final "
                          "\"-MIG-*\")"
                        : "is not a GPU product (letters, digits, '-', '_', '.')";
    }
    return NULL;
}

/* A DNS-1123 subdomain (Kubernetes' IsDNS1123Subdomain, length checked by
 * the caller): dot-separated labels of lowercase letters, digits and '-',
 * each alphanumeric at both ends. */
static bool dns_subdomain(const char *s, gsize len)
{
    gsize start = 0;
    for (gsize i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') {
            if (!g_ascii_islower(s[i]) && !g_ascii_isdigit(s[i]) && s[i] != '-') {
                return false;
            }
            continue;
        }
        /* a label ends at s[i - 1] */
        if (i == start || s[start] == '-' || s[i - 1] == '-') {
            return false;
        }
        start = i + 1;
    }
    return true;
}

const char *fp_qualified_name_problem(const char *s, gsize len)
{
    const char *slash = memchr(s, '/', len);
    const char *name = slash ? slash + 1 : s;
    gsize n = len - (gsize)(name - s);
    if (slash) {
        gsize plen = (gsize)(slash - s);
        if (plen == 0 || plen > 253) {
            return "has an empty or too long prefix before '/'";
        }
        if (!dns_subdomain(s, plen)) {
            return "has a prefix that is not a DNS subdomain (lowercase, digits, '-', '.')";
        }
    }
    if (n == 0 || n > FP_NAME_MAX) {
        return "needs a name of 1 to 63 characters";
    }
    if (fp_name_problem(name, n, FP_NAME_LABEL_VALUE)) {
        return "is not a qualified name (letters, digits, '-', '_', '.'; optional DNS prefix "
               "and '/')";
    }
    return NULL;
}

const char *fp_object_name_problem(const char *s, gsize len)
{
    if (len == 0 || len > 253) {
        return "needs 1 to 253 characters";
    }
    if (!dns_subdomain(s, len)) {
        return "is not an object name (lowercase letters, digits, '-', '.'; alphanumeric at "
               "both ends)";
    }
    return NULL;
}
