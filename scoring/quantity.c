/*
 * scoring/quantity.c - Kubernetes resource quantities, parsed exactly.
 *
 * This follows apimachinery's pkg/api/resource/quantity.go (ParseQuantity,
 * parseQuantityString, the suffix tables) and Quantity.UnmarshalJSON (blank
 * trimming), but computes the result directly as a signed count of nano-units
 * in an __int128 instead of an arbitrary-precision decimal:
 *
 *   value = digits x 10^(exponent - fraction digits) x 2^(binary exponent)
 *
 * Non-zero values are rounded up, away from zero, to a whole nano (as the
 * reference does with inf.RoundUp), then the magnitude is capped at 2^63-1
 * whole units.  The reference caps only binary-suffix values there; a decimal
 * value that large has no meaningful Value() upstream either (big.Int.Int64
 * of an out-of-range number), so capping every value keeps the arithmetic of
 * callers (sums of a few quantities in nano-units) far from __int128
 * overflow.  Every step is O(length of the input) and allocation-free.
 */
#include "scoring/quantity.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define NANO_PER_UNIT ((__int128)1000000000)
/* 2^63 - 1 whole units, in nano-units (about 9.2e27; __int128 holds 1.7e38). */
#define CAP_UNITS ((__int128)INT64_MAX)
#define CAP_NANO (CAP_UNITS * NANO_PER_UNIT)
/* Any decimal with 29 or more digits left of the nano point exceeds CAP_NANO. */
#define CAP_DIGITS 28

typedef struct {
    const char *s;
    int32_t exp10;
    int32_t exp2;
} SuffixEntry;

/* The reference's decimal table, then its binary table (looked up in that
 * order); anything else starting with e/E and longer than one character is an
 * exponent. */
static const SuffixEntry decimal_suffixes[] = {
    {"n", -9, 0}, {"u", -6, 0}, {"m", -3, 0}, {"", 0, 0},   {"k", 3, 0},
    {"M", 6, 0},  {"G", 9, 0},  {"T", 12, 0}, {"P", 15, 0}, {"E", 18, 0},
};
static const SuffixEntry binary_suffixes[] = {
    {"Ki", 0, 10}, {"Mi", 0, 20}, {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60},
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_suffix_char(char c)
{
    switch (c) {
    case 'e':
    case 'E':
    case 'i':
    case 'n':
    case 'u':
    case 'm':
    case 'k':
    case 'K':
    case 'M':
    case 'G':
    case 'T':
    case 'P':
        return true;
    default:
        return false;
    }
}

/* Length of the white space (Go's unicode.IsSpace, in UTF-8) at @s, or 0. */
static size_t space_at(const unsigned char *s, size_t len)
{
    if (len >= 1 && (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r'))) {
        return 1;
    }
    if (len >= 2 && s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0)) {
        return 2; /* U+0085 NEL, U+00A0 NBSP */
    }
    if (len >= 3 && s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80) {
        return 3; /* U+1680 */
    }
    if (len >= 3 && s[0] == 0xE2 && s[1] == 0x80 &&
        ((s[2] >= 0x80 && s[2] <= 0x8A) || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF)) {
        return 3; /* U+2000..U+200A, U+2028, U+2029, U+202F */
    }
    if (len >= 3 && s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) {
        return 3; /* U+205F */
    }
    if (len >= 3 && s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80) {
        return 3; /* U+3000 */
    }
    return 0;
}

/* Length of the white space ending at s[len-1], or 0. */
static size_t space_before(const unsigned char *s, size_t len)
{
    for (size_t n = 1; n <= 3 && n <= len; n++) {
        if (space_at(s + len - n, n) == n) {
            return n;
        }
    }
    return 0;
}

static bool suffix_equals(const char *suf, size_t len, const char *want)
{
    size_t i = 0;
    for (; i < len; i++) {
        if (want[i] != suf[i]) {
            return false;
        }
    }
    return want[i] == '\0';
}

/* strconv.ParseInt(s, 10, 64) then int32(): optional sign, at least one digit,
 * no overflow of int64; the result is truncated to 32 bits like the
 * reference's int32(parsed). */
static bool parse_exponent(const char *s, size_t len, int32_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-')) {
        neg = s[i] == '-';
        i++;
    }
    if (i == len) {
        return false;
    }
    uint64_t mag = 0;
    const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < len; i++) {
        if (!is_digit(s[i])) {
            return false;
        }
        unsigned d = (unsigned)(s[i] - '0');
        if (mag > (limit - d) / 10) {
            return false; /* strconv.ErrRange */
        }
        mag = mag * 10 + d;
    }
    uint32_t low = (uint32_t)(neg ? (0 - mag) : mag);
    *out = low > INT32_MAX ? (int32_t)((int64_t)low - ((int64_t)1 << 32)) : (int32_t)low;
    return true;
}

static bool interpret_suffix(const char *suf, size_t len, int32_t *exp10, int32_t *exp2)
{
    for (size_t i = 0; i < N_ELEMS(decimal_suffixes); i++) {
        if (suffix_equals(suf, len, decimal_suffixes[i].s)) {
            *exp10 = decimal_suffixes[i].exp10;
            *exp2 = 0;
            return true;
        }
    }
    for (size_t i = 0; i < N_ELEMS(binary_suffixes); i++) {
        if (suffix_equals(suf, len, binary_suffixes[i].s)) {
            *exp10 = 0;
            *exp2 = binary_suffixes[i].exp2;
            return true;
        }
    }
    if (len > 1 && (suf[0] == 'e' || suf[0] == 'E')) {
        *exp2 = 0;
        return parse_exponent(suf + 1, len - 1, exp10);
    }
    return false;
}

/* The mantissa digits: the integer digits then the fraction digits, read as
 * one digit string without the '.'. */
typedef struct {
    const char *int_digits;
    size_t n_int;
    const char *frac_digits;
    size_t n_frac;
} Digits;

static unsigned digit_at(const Digits *d, size_t i)
{
    char c = i < d->n_int ? d->int_digits[i] : d->frac_digits[i - d->n_int];
    return (unsigned)(c - '0');
}

/*
 * Magnitude in nano-units of (digits[first..n) x 10^pow10 x 2^exp2), rounded
 * up to a whole nano, capped at CAP_NANO.  digits[first] is non-zero.
 */
static void magnitude(const Digits *d, size_t first, int64_t pow10, int32_t exp2, FpQuantity *out)
{
    const size_t n = d->n_int + d->n_frac;
    const int64_t k = (int64_t)(n - first); /* significant digits */
    const __int128 cap_before_shift = CAP_NANO >> exp2;
    __int128 high = 0;  /* integer part of digits x 10^pow10 */
    uint64_t carry = 0; /* integer part of the dropped low digits x 2^exp2 */
    bool inexact = false;

    /* The value is at least 10^(k - 1 + pow10). */
    if (k - 1 + pow10 >= CAP_DIGITS) {
        out->clamped = true;
        out->nano = CAP_NANO;
        return;
    }
    /* Now k + pow10 <= CAP_DIGITS, so high < 10^28 fits easily. */
    int64_t n_high = k + pow10 < 0 ? 0 : (k + pow10 < k ? k + pow10 : k);
    for (int64_t i = 0; i < n_high; i++) {
        high = high * 10 + digit_at(d, first + (size_t)i);
    }
    for (int64_t i = k; i < k + pow10; i++) {
        high *= 10;
    }
    if (pow10 < 0) {
        /*
         * The low digits L (m of them, m = -pow10, counting the implicit
         * zeros between the point and the first significant digit) add
         * L x 2^exp2 / 10^m.  Multiply L by 2^exp2 digit by digit from the
         * least significant end: the carry out of the top is the integer part
         * (below 2^exp2), and any non-zero product digit is a fraction of a
         * nano.  carry x 2^... stays below 10 x 2^60 < 2^64.
         */
        const uint64_t mult = (uint64_t)1 << exp2;
        const int64_t m = -pow10;
        const int64_t n_low = k - n_high; /* significant digits below the point */
        for (int64_t i = k - 1; i >= n_high; i--) {
            uint64_t p = (uint64_t)digit_at(d, first + (size_t)i) * mult + carry;
            inexact |= (p % 10) != 0;
            carry = p / 10;
        }
        /* Implicit leading zeros of L: the carry shrinks tenfold each time. */
        for (int64_t i = n_low; i < m && carry != 0; i++) {
            inexact |= (carry % 10) != 0;
            carry /= 10;
        }
    }
    if (high > cap_before_shift) {
        out->clamped = true;
        out->nano = CAP_NANO;
        return;
    }
    __int128 mag = (high << exp2) + carry;
    if (inexact) {
        mag += 1;
        out->rounded = true;
    }
    if (mag > CAP_NANO) {
        out->clamped = true;
        mag = CAP_NANO;
    }
    out->nano = mag;
}

FpQtyResult fp_quantity_parse(const char *s, size_t len, FpQuantity *out)
{
    FpQuantity q = {0};
    if (out) {
        *out = q;
    }
    if (!s) {
        return FP_QTY_EMPTY;
    }
    /* UnmarshalJSON: strings.TrimSpace before ParseQuantity. */
    for (size_t w; len > 0 && (w = space_at((const unsigned char *)s, len)) > 0;) {
        s += w;
        len -= w;
    }
    for (size_t w; len > 0 && (w = space_before((const unsigned char *)s, len)) > 0;) {
        len -= w;
    }
    if (len == 0) {
        return FP_QTY_EMPTY;
    }

    /* parseQuantityString: sign, digits, optional '.' and digits. */
    size_t pos = 0;
    bool negative = false;
    if (s[pos] == '-' || s[pos] == '+') {
        negative = s[pos] == '-';
        pos++;
    }
    Digits d = {.int_digits = s + pos};
    while (pos < len && is_digit(s[pos])) {
        pos++;
        d.n_int++;
    }
    if (pos < len && s[pos] == '.') {
        pos++;
        d.frac_digits = s + pos;
        while (pos < len && is_digit(s[pos])) {
            pos++;
            d.n_frac++;
        }
    }
    /* Suffix: a run of suffix letters, an optional sign, digits to the end. */
    const size_t suffix_start = pos;
    while (pos < len && is_suffix_char(s[pos])) {
        pos++;
    }
    if (pos < len && (s[pos] == '+' || s[pos] == '-')) {
        pos++;
    }
    while (pos < len && is_digit(s[pos])) {
        pos++;
    }
    if (pos != len) {
        return FP_QTY_FORMAT;
    }

    int32_t exp10 = 0;
    int32_t exp2 = 0;
    if (!interpret_suffix(s + suffix_start, len - suffix_start, &exp10, &exp2)) {
        return FP_QTY_SUFFIX;
    }

    const size_t n = d.n_int + d.n_frac;
    /* The reference's slow path (inf.Dec) needs at least one digit; it is
     * taken without digits only for an exponent below nano, e.g. ".e-10". */
    if (n == 0 && exp10 < -9) {
        return FP_QTY_FORMAT;
    }
    size_t first = 0;
    while (first < n && digit_at(&d, first) == 0) {
        first++;
    }
    if (first < n) {
        int64_t pow10 = (int64_t)exp10 + 9 - (int64_t)d.n_frac;
        magnitude(&d, first, pow10, exp2, &q);
        if (negative) {
            q.nano = -q.nano;
        }
    }
    if (out) {
        *out = q;
    }
    return FP_QTY_OK;
}

const char *fp_quantity_strerror(FpQtyResult result)
{
    switch (result) {
    case FP_QTY_OK:
        return "ok";
    case FP_QTY_EMPTY:
        return "empty quantity";
    case FP_QTY_FORMAT:
        return "does not match the quantity grammar";
    case FP_QTY_SUFFIX:
        return "unknown quantity suffix";
    }
    return "unknown quantity error";
}

/* ceil(|nano| / div) away from zero, saturated to [-INT64_MAX, INT64_MAX]. */
static int64_t scaled_ceil(__int128 nano, __int128 div)
{
    bool neg = nano < 0;
    __int128 mag = neg ? -nano : nano;
    __int128 r = mag / div + (mag % div != 0 ? 1 : 0);
    if (r > INT64_MAX) {
        r = INT64_MAX;
    }
    return neg ? -(int64_t)r : (int64_t)r;
}

int64_t fp_quantity_value(const FpQuantity *q)
{
    return q ? scaled_ceil(q->nano, NANO_PER_UNIT) : 0;
}

int64_t fp_quantity_milli(const FpQuantity *q)
{
    return q ? scaled_ceil(q->nano, 1000000) : 0;
}

double fp_quantity_to_double(const FpQuantity *q)
{
    if (!q) {
        return 0.0;
    }
    /* Split so the double division keeps full precision for normal values. */
    __int128 whole = q->nano / NANO_PER_UNIT;
    __int128 frac = q->nano % NANO_PER_UNIT;
    return (double)whole + (double)frac / 1e9;
}
