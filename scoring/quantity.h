/*
 * scoring/quantity.h - Kubernetes resource quantities ("500m", "16Gi", "1e3").
 *
 * Purpose: parse the full apimachinery Quantity grammar into an exact signed
 * count of nano-units, and read it back the way the scheduler does (Value()
 * and MilliValue(), both ceilings away from zero).
 *
 * Grammar: [+-] (digits | digits. | digits.digits | .digits) suffix, where the
 * suffix is a binary SI suffix (Ki Mi Gi Ti Pi Ei), a decimal SI suffix
 * (n u m "" k M G T P E) or an exponent (e|E)[+-]digits.  Leading and trailing
 * blanks are trimmed, as Quantity's JSON decoder does.
 *
 * Pure; thread-safe; no allocation.
 */
#ifndef FP_SCORING_QUANTITY_H
#define FP_SCORING_QUANTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    __int128 nano; /* value x 10^9, rounded up away from zero */
    bool rounded;  /* precision below nano was rounded away */
    bool clamped;  /* magnitude was capped (Kubernetes caps at 2^63-1) */
} FpQuantity;

typedef enum {
    FP_QTY_OK = 0,
    FP_QTY_EMPTY,  /* empty or blank string */
    FP_QTY_FORMAT, /* does not match the grammar */
    FP_QTY_SUFFIX, /* unknown suffix such as "K" or "KiB" */
} FpQtyResult;

/* Parse (@s, @len). Returns FP_QTY_OK and fills @out, or an error code. */
FpQtyResult fp_quantity_parse(const char *s, size_t len, FpQuantity *out);
/* Short, static description of a result code. */
const char *fp_quantity_strerror(FpQtyResult result);
/* Value(): ceil(q), away from zero, saturated to int64. */
int64_t fp_quantity_value(const FpQuantity *q);
/* MilliValue(): ceil(q * 1000), away from zero, saturated to int64. */
int64_t fp_quantity_milli(const FpQuantity *q);
/* The value as a double (for memory comparisons in MiB and the like). */
double fp_quantity_to_double(const FpQuantity *q);

#endif /* FP_SCORING_QUANTITY_H */
