/*
 * test/test_quantity.c - the Kubernetes quantity grammar (scoring/quantity.h):
 * one table of inputs with the exact nano-unit value, Value(), MilliValue()
 * and the rounded/clamped flags the apimachinery parser would give, plus the
 * lenient corner cases, the errors, white space trimming and huge inputs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glib.h>
#include <string.h>

#include "scoring/quantity.h"
#include "support/support.h"

#define NANO ((__int128)1000000000)

typedef struct {
    const char *in;
    FpQtyResult result;
    /* value = units + frac / 10^9 (both carry the sign); only for FP_QTY_OK */
    int64_t units;
    int64_t frac;
    int64_t value;
    int64_t milli;
    bool rounded;
    bool clamped;
} Case;

#define OK(in_, units_, frac_, value_, milli_)                                                     \
    {                                                                                              \
        in_, FP_QTY_OK, units_, frac_, value_, milli_, false, false                                \
    }
#define ROUNDED(in_, units_, frac_, value_, milli_)                                                \
    {                                                                                              \
        in_, FP_QTY_OK, units_, frac_, value_, milli_, true, false                                 \
    }
#define CLAMPED(in_, sign_)                                                                        \
    {                                                                                              \
        in_, FP_QTY_OK, (sign_)*INT64_MAX, 0, (sign_)*INT64_MAX, (sign_)*INT64_MAX, false, true    \
    }
#define BAD(in_, result_)                                                                          \
    {                                                                                              \
        in_, result_, 0, 0, 0, 0, false, false                                                     \
    }

static const Case cases[] = {
    /* plain and the forms seen in real objects */
    OK("0", 0, 0, 0, 0),
    OK("1", 1, 0, 1, 1000),
    OK("+1", 1, 0, 1, 1000),
    OK("-1", -1, 0, -1, -1000),
    OK("00012", 12, 0, 12, 12000),
    OK("8", 8, 0, 8, 8000),
    OK("7910m", 7, 910000000, 8, 7910),
    OK("500m", 0, 500000000, 1, 500),
    OK("100m", 0, 100000000, 1, 100),
    OK("-100m", 0, -100000000, -1, -100),
    OK("0.5m", 0, 500000, 1, 1),
    OK("1.5", 1, 500000000, 2, 1500),
    OK("-1.5", -1, -500000000, -2, -1500),
    OK("32734584Ki", 33520214016, 0, 33520214016, 33520214016000),
    OK("16Gi", 17179869184, 0, 17179869184, 17179869184000),
    OK("0.5Gi", 536870912, 0, 536870912, 536870912000),
    OK("64Mi", 67108864, 0, 67108864, 67108864000),
    OK(".5Ki", 512, 0, 512, 512000),
    OK("0.1Ki", 102, 400000000, 103, 102400),
    /* every decimal and binary suffix */
    OK("1n", 0, 1, 1, 1),
    OK("1u", 0, 1000, 1, 1),
    OK("1m", 0, 1000000, 1, 1),
    OK("1k", 1000, 0, 1000, 1000000),
    OK("1M", 1000000, 0, 1000000, 1000000000),
    OK("1G", 1000000000, 0, 1000000000, 1000000000000),
    OK("1T", 1000000000000, 0, 1000000000000, 1000000000000000),
    OK("1P", 1000000000000000, 0, 1000000000000000, 1000000000000000000),
    OK("1E", 1000000000000000000, 0, 1000000000000000000, INT64_MAX),
    OK("1Ki", 1024, 0, 1024, 1024000),
    OK("1Mi", 1048576, 0, 1048576, 1048576000),
    OK("1Gi", 1073741824, 0, 1073741824, 1073741824000),
    OK("1Ti", 1099511627776, 0, 1099511627776, 1099511627776000),
    OK("1Pi", 1125899906842624, 0, 1125899906842624, 1125899906842624000),
    OK("1Ei", 1152921504606846976, 0, 1152921504606846976, INT64_MAX),
    /* exponents; "E" alone is exa */
    OK("1e3", 1000, 0, 1000, 1000000),
    OK("1E3", 1000, 0, 1000, 1000000),
    OK("1e+3", 1000, 0, 1000, 1000000),
    OK("12e6", 12000000, 0, 12000000, 12000000000),
    OK("1e-3", 0, 1000000, 1, 1),
    OK("1E-3", 0, 1000000, 1, 1),
    OK("1e-9", 0, 1, 1, 1),
    OK("1e03", 1000, 0, 1000, 1000000),
    /* lenient corner cases of the reference scanner */
    OK(".5", 0, 500000000, 1, 500),
    OK("+.5", 0, 500000000, 1, 500),
    OK("1.", 1, 0, 1, 1000),
    OK(".", 0, 0, 0, 0),
    OK("+", 0, 0, 0, 0),
    OK("-", 0, 0, 0, 0),
    OK("-0", 0, 0, 0, 0),
    OK("Ki", 0, 0, 0, 0),
    OK("e3", 0, 0, 0, 0),
    OK("0e-10", 0, 0, 0, 0),
    OK("0.000", 0, 0, 0, 0),
    /* the reference keeps int32(exponent): 2^32 wraps to 0 */
    OK("1e4294967296", 1, 0, 1, 1000),
    /* trimming, as Quantity.UnmarshalJSON does */
    OK(" 1Gi ", 1073741824, 0, 1073741824, 1073741824000),
    OK("\t2\r\n", 2, 0, 2, 2000),
    OK("\xc2\xa0"
       "5Mi\xe3\x80\x80",
       5242880, 0, 5242880, 5242880000),
    OK("1e3 ", 1000, 0, 1000, 1000000),
    /* exact nano, then rounding up away from zero below a nano */
    OK("1.000000001", 1, 1, 2, 1001),
    ROUNDED("0.0000000001", 0, 1, 1, 1),
    ROUNDED("-0.0000000001", 0, -1, -1, -1),
    ROUNDED("1e-10", 0, 1, 1, 1),
    ROUNDED("1.5e-10", 0, 1, 1, 1),
    ROUNDED("0.000000001234", 0, 2, 1, 1),
    ROUNDED("0.0000000001Ki", 0, 103, 1, 1),
    ROUNDED("123456789.123456789123", 123456789, 123456790, 123456790, 123456789124),
    /* binary values exactly representable in nano near the cap */
    OK("7.999999999Ei", 9223372035701854303, 393153024, 9223372035701854304, INT64_MAX),
    OK("9223372036854775807", INT64_MAX, 0, INT64_MAX, INT64_MAX),
    /* capped at 2^63-1 (binary like Kubernetes; decimal too, see quantity.c) */
    CLAMPED("8Ei", 1),
    CLAMPED("-8Ei", -1),
    CLAMPED("9223372036854775807Ki", 1),
    CLAMPED("9223372036854775808", 1),
    CLAMPED("999999999999999999999", 1),
    CLAMPED("-999999999999999999999", -1),
    CLAMPED("1e40", 1),
    CLAMPED("1e2147483647", 1),
    /* errors */
    BAD("", FP_QTY_EMPTY),
    BAD("   ", FP_QTY_EMPTY),
    BAD("\xe2\x80\x83", FP_QTY_EMPTY),
    BAD("1e", FP_QTY_SUFFIX),
    BAD("1K", FP_QTY_SUFFIX),
    BAD("1ei", FP_QTY_SUFFIX),
    BAD("1m3", FP_QTY_SUFFIX),
    BAD("1Ki3", FP_QTY_SUFFIX),
    BAD("1Ki-", FP_QTY_SUFFIX),
    BAD("1-", FP_QTY_SUFFIX),
    BAD("--1", FP_QTY_SUFFIX),
    BAD("1e+", FP_QTY_SUFFIX),
    BAD("1ee3", FP_QTY_SUFFIX),
    BAD("1e99999999999999999999", FP_QTY_SUFFIX),
    BAD(".5i", FP_QTY_SUFFIX),
    BAD("1KiB", FP_QTY_FORMAT),
    BAD("1 Gi", FP_QTY_FORMAT),
    BAD("1.2.3", FP_QTY_FORMAT),
    BAD("abc", FP_QTY_FORMAT),
    BAD("1e3k", FP_QTY_FORMAT),
    BAD("0x10", FP_QTY_FORMAT),
    BAD("1,5", FP_QTY_FORMAT),
    BAD("1_000", FP_QTY_FORMAT),
    BAD("\"1\"", FP_QTY_FORMAT),
    BAD(".e-10", FP_QTY_FORMAT),
    BAD("+e-12", FP_QTY_FORMAT),
};

static void test_table(void **state)
{
    (void)state;
    assert_true(G_N_ELEMENTS(cases) >= 60);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const Case *c = &cases[i];
        FpQuantity q = {.nano = 12345, .rounded = true, .clamped = true};
        FpQtyResult r = fp_quantity_parse(c->in, strlen(c->in), &q);
        if (r != c->result) {
            fail_msg("\"%s\": result %d (%s), want %d", c->in, r, fp_quantity_strerror(r),
                     c->result);
        }
        if (r != FP_QTY_OK) {
            /* a failed parse leaves a zero value behind */
            assert_true(q.nano == 0 && !q.rounded && !q.clamped);
            continue;
        }
        __int128 want = (__int128)c->units * NANO + c->frac;
        if (q.nano != want) {
            fail_msg("\"%s\": nano %.0f, want %.0f", c->in, (double)q.nano, (double)want);
        }
        if (fp_quantity_value(&q) != c->value || fp_quantity_milli(&q) != c->milli) {
            fail_msg("\"%s\": value %" G_GINT64_FORMAT " milli %" G_GINT64_FORMAT
                     ", want %" G_GINT64_FORMAT " / %" G_GINT64_FORMAT,
                     c->in, fp_quantity_value(&q), fp_quantity_milli(&q), c->value, c->milli);
        }
        if (q.rounded != c->rounded || q.clamped != c->clamped) {
            fail_msg("\"%s\": rounded=%d clamped=%d, want %d %d", c->in, q.rounded, q.clamped,
                     c->rounded, c->clamped);
        }
    }
}

/* The length is honoured: bytes after @len are not read, a NUL inside is
 * a format error. */
static void test_length_and_nul(void **state)
{
    (void)state;
    FpQuantity q;
    assert_int_equal(fp_quantity_parse("16Gi-garbage", 4, &q), FP_QTY_OK);
    assert_int_equal(fp_quantity_value(&q), 17179869184);
    assert_int_equal(fp_quantity_parse("1\0002", 3, &q), FP_QTY_FORMAT);
    assert_int_equal(fp_quantity_parse(NULL, 0, &q), FP_QTY_EMPTY);
    /* @out may be NULL (validation only) */
    assert_int_equal(fp_quantity_parse("1Gi", 3, NULL), FP_QTY_OK);
    assert_int_equal(fp_quantity_parse("1K", 2, NULL), FP_QTY_SUFFIX);
}

/* Long inputs cost linear time and give exact answers: a one followed by
 * many zeros, far below a nano, and below a nano times a binary suffix. */
static void test_long_inputs(void **state)
{
    (void)state;
    enum { N = 200000 };
    g_autoptr(GString) s = g_string_new("1");
    for (int i = 0; i < N; i++) {
        g_string_append_c(s, '0');
    }
    FpQuantity q;
    assert_int_equal(fp_quantity_parse(s->str, s->len, &q), FP_QTY_OK);
    assert_true(q.clamped);
    assert_int_equal(fp_quantity_value(&q), INT64_MAX);

    g_string_assign(s, "0.");
    for (int i = 0; i < N; i++) {
        g_string_append_c(s, '0');
    }
    g_string_append(s, "1");
    assert_int_equal(fp_quantity_parse(s->str, s->len, &q), FP_QTY_OK);
    assert_true(q.nano == 1 && q.rounded && !q.clamped);

    g_string_append(s, "Ei");
    assert_int_equal(fp_quantity_parse(s->str, s->len, &q), FP_QTY_OK);
    assert_true(q.nano == 1 && q.rounded);

    /* many leading zeros do not count as magnitude */
    g_string_assign(s, "");
    for (int i = 0; i < N; i++) {
        g_string_append_c(s, '0');
    }
    g_string_append(s, "42Ki");
    assert_int_equal(fp_quantity_parse(s->str, s->len, &q), FP_QTY_OK);
    assert_int_equal(fp_quantity_value(&q), 42 * 1024);
    assert_false(q.rounded || q.clamped);

    /* zeros after the point, then digits: exact */
    g_string_assign(s, "3.");
    for (int i = 0; i < N; i++) {
        g_string_append_c(s, '0');
    }
    assert_int_equal(fp_quantity_parse(s->str, s->len, &q), FP_QTY_OK);
    assert_true(q.nano == 3 * NANO && !q.rounded);
}

/* Sums of capped values stay far from __int128 overflow. */
static void test_cap_headroom(void **state)
{
    (void)state;
    FpQuantity a, b;
    assert_int_equal(fp_quantity_parse("-16Ei", 5, &a), FP_QTY_OK);
    assert_int_equal(fp_quantity_parse("1e30", 4, &b), FP_QTY_OK);
    assert_true(a.clamped && b.clamped);
    assert_true(a.nano == -b.nano);
    __int128 sum = b.nano;
    for (int i = 0; i < 1000; i++) {
        sum += b.nano;
    }
    assert_true(sum > b.nano);
}

static void test_to_double_and_strerror(void **state)
{
    (void)state;
    FpQuantity q;
    assert_int_equal(fp_quantity_parse("40Gi", 4, &q), FP_QTY_OK);
    assert_true(fp_quantity_to_double(&q) == 42949672960.0);
    assert_int_equal(fp_quantity_parse("-2.5m", 5, &q), FP_QTY_OK);
    assert_true(fp_quantity_to_double(&q) == -0.0025);
    assert_int_equal(fp_quantity_parse("81559Mi", 7, &q), FP_QTY_OK);
    assert_true(fp_quantity_to_double(&q) / (1024.0 * 1024.0) == 81559.0);
    assert_true(fp_quantity_to_double(NULL) == 0.0);
    assert_int_equal(fp_quantity_value(NULL), 0);

    const FpQtyResult all[] = {FP_QTY_OK, FP_QTY_EMPTY, FP_QTY_FORMAT, FP_QTY_SUFFIX};
    for (size_t i = 0; i < G_N_ELEMENTS(all); i++) {
        const char *msg = fp_quantity_strerror(all[i]);
        assert_non_null(msg);
        assert_true(strlen(msg) > 0);
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(msg, fp_quantity_strerror(all[j]));
        }
    }
    assert_string_equal(fp_quantity_strerror(FP_QTY_FORMAT), "does not match the quantity grammar");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_length_and_nul),
        cmocka_unit_test(test_long_inputs),
        cmocka_unit_test(test_cap_headroom),
        cmocka_unit_test(test_to_double_and_strerror),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
