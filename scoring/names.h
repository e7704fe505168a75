/*
 * scoring/names.h - the Kubernetes name rules flexplace checks, with one set
 * of messages for the policy loader and the pod annotations alike.
 *
 * Each function returns NULL when @s (@len bytes, not necessarily
 * NUL-terminated) is acceptable, else a static phrase that completes a
 * sentence whose subject is the quoted name, e.g. "\"EastUS\" must be
 * lowercase (...)".  Callers add the name and where it came from.
 *
 * Thread context: pure functions, any thread.
 */
#ifndef FP_SCORING_NAMES_H
#define FP_SCORING_NAMES_H

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

/* Longest label value, region, pool or profile name: Kubernetes' 63. */
#define FP_NAME_MAX 63

typedef enum {
    /* A label value: [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])? (pools,
     * clouds, profiles). */
    FP_NAME_LABEL_VALUE,
    /* A region as clouds write topology.kubernetes.io/region: a label value
     * in lower case. */
    FP_NAME_REGION,
    /* A namespace (RFC 1123 label): [a-z0-9]([-a-z0-9]*[a-z0-9])?. */
    FP_NAME_NAMESPACE,
} FpNameKind;

const char *fp_name_problem(const char *s, gsize len, FpNameKind kind);

/* A GPU product as nvidia.com/gpu.product writes it (letters, digits, '-',
 * '_', '.'); @wildcard also allows a final "-MIG-*" (allow lists and
 * preferences). */
const char *fp_product_problem(const char *s, gsize len, bool wildcard);

/* A Kubernetes qualified name (label keys, resource names): an optional DNS
 * subdomain prefix of at most 253 characters and '/', then a name of 1 to 63
 * characters, alphanumeric at both ends with '-', '_', '.' inside. */
const char *fp_qualified_name_problem(const char *s, gsize len);

/* An object name such as a Pod's (a DNS-1123 subdomain): 1 to 253
 * characters of lowercase letters, digits, '-' and '.', alphanumeric at both
 * ends. */
const char *fp_object_name_problem(const char *s, gsize len);

G_END_DECLS

#endif
