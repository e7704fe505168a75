/*
 * test/test_dynbuf.c - the capped growing buffer: it never stores past its
 * cap or allocates past cap + 1, keeps its data NUL-terminated, cuts with
 * add_upto, honours a caller's growth (grow), reads in place (space/commit)
 * and hands its memory over (steal).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "cache/dynbuf.h"
#include "support/support.h"

static void test_add_within_cap(void **state)
{
    FpDynbuf b;
    fp_dynbuf_init(&b, 10);
    assert_null(fp_dynbuf_ptr(&b));
    assert_int_equal(fp_dynbuf_alloc(&b), 0);
    assert_int_equal(fp_dynbuf_add(&b, NULL, 0), FP_DYNBUF_OK);
    assert_int_equal(fp_dynbuf_add(&b, "hello", 5), FP_DYNBUF_OK);
    assert_int_equal(fp_dynbuf_add(&b, "world", 5), FP_DYNBUF_OK);
    assert_int_equal(fp_dynbuf_len(&b), 10);
    assert_string_equal(fp_dynbuf_ptr(&b), "helloworld");
    assert_true(fp_dynbuf_alloc(&b) <= 11);
    fp_dynbuf_free(&b);
    assert_null(fp_dynbuf_ptr(&b));
    assert_int_equal(fp_dynbuf_len(&b), 0);
    assert_int_equal(fp_dynbuf_max(&b), 10);
}

static void test_refuses_past_cap(void **state)
{
    FpDynbuf b;
    fp_dynbuf_init(&b, 8);
    assert_int_equal(fp_dynbuf_add(&b, "1234567", 7), FP_DYNBUF_OK);
    /* One byte too many: refused whole, the data is unchanged. */
    assert_int_equal(fp_dynbuf_add(&b, "89", 2), FP_DYNBUF_TOO_LARGE);
    assert_int_equal(fp_dynbuf_len(&b), 7);
    assert_string_equal(fp_dynbuf_ptr(&b), "1234567");
    assert_int_equal(fp_dynbuf_add(&b, "8", 1), FP_DYNBUF_OK);
    assert_int_equal(fp_dynbuf_add(&b, "9", 1), FP_DYNBUF_TOO_LARGE);
    /* A length that would overflow size_t is refused, not wrapped. */
    assert_int_equal(fp_dynbuf_add(&b, "x", G_MAXSIZE), FP_DYNBUF_TOO_LARGE);
    assert_string_equal(fp_dynbuf_ptr(&b), "12345678");
    fp_dynbuf_free(&b);
}

static void test_growth_bounded_by_cap(void **state)
{
    /* Byte by byte up to a cap that is not a power of two: the allocation
     * doubles but never passes cap + 1. */
    const size_t cap = 1000;
    FpDynbuf b;
    fp_dynbuf_init(&b, cap);
    for (size_t i = 0; i < cap; i++) {
        char c = (char)('a' + i % 26);
        assert_int_equal(fp_dynbuf_add(&b, &c, 1), FP_DYNBUF_OK);
        assert_true(fp_dynbuf_alloc(&b) >= fp_dynbuf_len(&b) + 1);
        assert_true(fp_dynbuf_alloc(&b) <= cap + 1);
        assert_int_equal(fp_dynbuf_ptr(&b)[fp_dynbuf_len(&b)], '\0');
    }
    assert_int_equal(fp_dynbuf_alloc(&b), cap + 1);
    assert_int_equal(fp_dynbuf_add(&b, "z", 1), FP_DYNBUF_TOO_LARGE);
    fp_dynbuf_free(&b);
}

static void test_binary_data(void **state)
{
    const char data[] = {'a', '\0', 'b', '\0'};
    FpDynbuf b;
    fp_dynbuf_init(&b, 64);
    assert_int_equal(fp_dynbuf_add(&b, data, sizeof data), FP_DYNBUF_OK);
    assert_int_equal(fp_dynbuf_len(&b), 4);
    assert_memory_equal(fp_dynbuf_ptr(&b), data, sizeof data);
    fp_dynbuf_free(&b);
}

static void test_add_upto(void **state)
{
    FpDynbuf b;
    fp_dynbuf_init(&b, 100);
    assert_int_equal(fp_dynbuf_add_upto(&b, "abcdef", 6, 4), 4);
    assert_int_equal(fp_dynbuf_add_upto(&b, "ghi", 3, 4), 0);
    assert_string_equal(fp_dynbuf_ptr(&b), "abcd");
    /* The cap applies when the limit is above it. */
    FpDynbuf small;
    fp_dynbuf_init(&small, 3);
    assert_int_equal(fp_dynbuf_add_upto(&small, "abcdef", 6, 1000), 3);
    assert_string_equal(fp_dynbuf_ptr(&small), "abc");
    fp_dynbuf_free(&small);
    fp_dynbuf_free(&b);
}

static void test_reset_keeps_allocation(void **state)
{
    FpDynbuf b;
    fp_dynbuf_init(&b, 4096);
    assert_int_equal(fp_dynbuf_add(&b, "some bytes", 10), FP_DYNBUF_OK);
    size_t alloc = fp_dynbuf_alloc(&b);
    fp_dynbuf_reset(&b);
    assert_int_equal(fp_dynbuf_len(&b), 0);
    assert_int_equal(fp_dynbuf_alloc(&b), alloc);
    assert_string_equal(fp_dynbuf_ptr(&b), "");
    assert_int_equal(fp_dynbuf_add(&b, "x", 1), FP_DYNBUF_OK);
    assert_string_equal(fp_dynbuf_ptr(&b), "x");
    fp_dynbuf_free(&b);
}

static void test_grow_is_capped(void **state)
{
    FpDynbuf b;
    fp_dynbuf_init(&b, 100);
    assert_true(fp_dynbuf_grow(&b, 50));
    assert_int_equal(fp_dynbuf_alloc(&b), 50);
    assert_string_equal(fp_dynbuf_ptr(&b), "");
    /* Appends that fit the allocation do not move it. */
    const char *before = fp_dynbuf_ptr(&b);
    assert_int_equal(fp_dynbuf_add(&b, "0123456789012345678901234567890123456789", 40),
                     FP_DYNBUF_OK);
    assert_ptr_equal(fp_dynbuf_ptr(&b), before);
    /* Never shrinks; never past cap + 1. */
    assert_true(fp_dynbuf_grow(&b, 10));
    assert_int_equal(fp_dynbuf_alloc(&b), 50);
    assert_true(fp_dynbuf_grow(&b, 1u << 20));
    assert_int_equal(fp_dynbuf_alloc(&b), 101);
    fp_dynbuf_free(&b);
}

static void test_space_commit(void **state)
{
    /* Reading in place, as from a file: the space offered never lets the
     * data pass the cap. */
    const size_t cap = 300;
    FpDynbuf b;
    fp_dynbuf_init(&b, cap);
    size_t total = 0;
    for (;;) {
        size_t avail = 0;
        char *space = fp_dynbuf_space(&b, &avail);
        if (!space) {
            assert_int_equal(avail, 0);
            break;
        }
        assert_true(avail > 0);
        assert_true(total + avail <= cap);
        memset(space, 'q', avail);
        fp_dynbuf_commit(&b, avail);
        total += avail;
    }
    assert_int_equal(total, cap);
    assert_int_equal(fp_dynbuf_len(&b), cap);
    assert_int_equal(fp_dynbuf_ptr(&b)[cap], '\0');
    assert_int_equal(strspn(fp_dynbuf_ptr(&b), "q"), cap);
    fp_dynbuf_free(&b);
}

static void test_steal(void **state)
{
    FpDynbuf b;
    fp_dynbuf_init(&b, 16);
    size_t len = 99;
    char *empty = fp_dynbuf_steal(&b, &len);
    assert_string_equal(empty, "");
    assert_int_equal(len, 0);
    g_free(empty);
    assert_int_equal(fp_dynbuf_add(&b, "abc", 3), FP_DYNBUF_OK);
    char *out = fp_dynbuf_steal(&b, &len);
    assert_string_equal(out, "abc");
    assert_int_equal(len, 3);
    assert_null(fp_dynbuf_ptr(&b));
    assert_int_equal(fp_dynbuf_len(&b), 0);
    /* Still usable, same cap. */
    assert_int_equal(fp_dynbuf_add(&b, "0123456789abcdef", 16), FP_DYNBUF_OK);
    assert_int_equal(fp_dynbuf_add(&b, "!", 1), FP_DYNBUF_TOO_LARGE);
    g_free(out);
    fp_dynbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_within_cap),
        cmocka_unit_test(test_refuses_past_cap),
        cmocka_unit_test(test_growth_bounded_by_cap),
        cmocka_unit_test(test_binary_data),
        cmocka_unit_test(test_add_upto),
        cmocka_unit_test(test_reset_keeps_allocation),
        cmocka_unit_test(test_grow_is_capped),
        cmocka_unit_test(test_space_commit),
        cmocka_unit_test(test_steal),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
