/*
 * test/fuzz/fuzz_quantity.c - Kubernetes resource quantities.
 *
 * Input: the text of a quantity ("500m", "16Gi", "1e3", garbage).  A value
 * that parses must read back consistently: Value() and MilliValue() have the
 * sign of the value, and for values that do not saturate Value() * 1000 is
 * MilliValue() rounded up to a whole unit, away from zero.  The same text
 * with surrounding blanks parses to the same value (the decoder trims them).
 */
#include <string.h>

#include "scoring/quantity.h"
#include "test/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fp_fuzz_init();
    FpQuantity q;
    FpQtyResult r = fp_quantity_parse((const char *)data, size, &q);
    FP_FUZZ_CHECK(fp_quantity_strerror(r) != NULL);
    if (r != FP_QTY_OK) {
        return 0;
    }
    int64_t value = fp_quantity_value(&q);
    int64_t milli = fp_quantity_milli(&q);
    FP_FUZZ_CHECK((q.nano > 0) == (value > 0) && (q.nano < 0) == (value < 0));
    FP_FUZZ_CHECK((q.nano > 0) == (milli > 0) && (q.nano < 0) == (milli < 0));
    double d = fp_quantity_to_double(&q);
    FP_FUZZ_CHECK((q.nano > 0) == (d > 0) && (q.nano < 0) == (d < 0));
    if (milli > INT64_MIN / 2 && milli < INT64_MAX / 2 && value > INT64_MIN / 2000 &&
        value < INT64_MAX / 2000) {
        __int128 v1000 = (__int128)value * 1000;
        if (milli >= 0) {
            FP_FUZZ_CHECK(v1000 >= milli && v1000 - milli < 1000);
        } else {
            FP_FUZZ_CHECK(v1000 <= milli && milli - v1000 < 1000);
        }
    }
    if (size < 256) {
        char padded[260];
        padded[0] = ' ';
        memcpy(padded + 1, data, size);
        padded[size + 1] = '\t';
        FpQuantity q2;
        FP_FUZZ_CHECK(fp_quantity_parse(padded, size + 2, &q2) == FP_QTY_OK);
        FP_FUZZ_CHECK(q2.nano == q.nano);
    }
    return 0;
}
