/*
 * test/test_linebuf.c - the NDJSON framer: every way of cutting a stream into
 * pieces must give the same lines, CRLF, empty lines, the line cap, stop
 * requests and a last line without '\n'.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "cache/linebuf.h"
#include "support/support.h"

/* What one run of the framer produced. */
typedef struct {
    GPtrArray *lines;       /* char*, NUL-terminated copies */
    FpLineBufResult result; /* first non-OK result, or OK */
    guint stop_after;       /* callback returns false on this line (1-based); 0 = never */
} Run;

static bool collect(const char *line, size_t len, void *user)
{
    Run *run = user;
    assert_non_null(line);
    assert_true(len > 0);
    assert_null(memchr(line, '\n', len));
    g_ptr_array_add(run->lines, g_strndup(line, len));
    return !(run->stop_after && run->lines->len == run->stop_after);
}

static void run_init(Run *run)
{
    memset(run, 0, sizeof(*run));
    run->lines = g_ptr_array_new_with_free_func(g_free);
}

static void run_clear(Run *run)
{
    g_ptr_array_unref(run->lines);
}

/* Feed @input cut at the ascending offsets @cuts[0..n_cuts), then finish. */
static void run_cuts(Run *run, FpLineBuf *lb, const char *input, size_t len, const size_t *cuts,
                     size_t n_cuts)
{
    size_t from = 0;
    for (size_t i = 0; i <= n_cuts; i++) {
        size_t to = i < n_cuts ? cuts[i] : len;
        FpLineBufResult r = fp_linebuf_feed(lb, input + from, to - from, collect, run);
        /* the framer never keeps more than the cap (+1 for a pending '\r') */
        assert_true(fp_linebuf_capacity(lb) <= fp_linebuf_max_line(lb) + 1);
        if (r != FP_LINEBUF_OK) {
            run->result = r;
            return;
        }
        from = to;
    }
    run->result = fp_linebuf_finish(lb, collect, run);
}

/* One table row: a stream, a cap, and what must come out of it. */
typedef struct {
    const char *name;
    const char *input;
    size_t max;
    const char *expect[8]; /* NULL-terminated */
    FpLineBufResult result;
} Case;

static const Case cases[] = {
    {"simple", "a\nbb\nccc\n", 0, {"a", "bb", "ccc"}, FP_LINEBUF_OK},
    {"no trailing newline", "a\nbb", 0, {"a", "bb"}, FP_LINEBUF_OK},
    {"crlf", "a\r\nbb\r\n", 0, {"a", "bb"}, FP_LINEBUF_OK},
    {"crlf at end without lf", "a\r\nbb\r", 0, {"a", "bb"}, FP_LINEBUF_OK},
    {"lone cr inside a line", "a\rb\n", 0, {"a\rb"}, FP_LINEBUF_OK},
    {"double cr keeps one", "a\r\r\n", 0, {"a\r"}, FP_LINEBUF_OK},
    {"empty lines skipped", "\n\na\n\r\n\nb\n\n", 0, {"a", "b"}, FP_LINEBUF_OK},
    {"only newlines", "\n\r\n\n", 0, {NULL}, FP_LINEBUF_OK},
    {"empty stream", "", 0, {NULL}, FP_LINEBUF_OK},
    {"json events",
     "{\"type\":\"ADDED\",\"object\":{\"a\":\"x\\ny\"}}\n{\"type\":\"BOOKMARK\"}\n",
     0,
     {"{\"type\":\"ADDED\",\"object\":{\"a\":\"x\\ny\"}}", "{\"type\":\"BOOKMARK\"}"},
     FP_LINEBUF_OK},
    {"exactly the cap", "12345678\nab\n", 8, {"12345678", "ab"}, FP_LINEBUF_OK},
    {"cap with crlf", "12345678\r\nab\r\n", 8, {"12345678", "ab"}, FP_LINEBUF_OK},
    {"cap at stream end with cr", "ab\n12345678\r", 8, {"ab", "12345678"}, FP_LINEBUF_OK},
    {"one over the cap", "ab\n123456789\ncd\n", 8, {"ab"}, FP_LINEBUF_TOO_LONG},
    {"cr then more is content", "ab\n12345678\rx\n", 8, {"ab"}, FP_LINEBUF_TOO_LONG},
    {"over the cap at stream end", "ab\n123456789", 8, {"ab"}, FP_LINEBUF_TOO_LONG},
    {"cap of one", "a\nb\r\nc", 1, {"a", "b", "c"}, FP_LINEBUF_OK},
    {"cap of one exceeded", "a\nbc\n", 1, {"a"}, FP_LINEBUF_TOO_LONG},
};

static void check_run(const Case *c, const Run *run, const char *how)
{
    guint n = 0;
    while (c->expect[n]) {
        n++;
    }
    if (run->lines->len != n || run->result != c->result) {
        fail_msg("%s (%s): got %u lines, result %d; want %u lines, result %d", c->name, how,
                 run->lines->len, run->result, n, c->result);
    }
    for (guint i = 0; i < n; i++) {
        if (strcmp(g_ptr_array_index(run->lines, i), c->expect[i]) != 0) {
            fail_msg("%s (%s): line %u is \"%s\", want \"%s\"", c->name, how, i,
                     (const char *)g_ptr_array_index(run->lines, i), c->expect[i]);
        }
    }
}

/* Whole input in one piece, then 1-byte pieces. */
static void test_table_whole_and_bytes(void **state)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const Case *c = &cases[i];
        size_t len = strlen(c->input);
        g_autoptr(FpLineBuf) lb = fp_linebuf_new(c->max);
        Run run;

        run_init(&run);
        run_cuts(&run, lb, c->input, len, NULL, 0);
        check_run(c, &run, "one piece");
        run_clear(&run);

        fp_linebuf_reset(lb);
        run_init(&run);
        g_autofree size_t *cuts = g_new(size_t, len + 1);
        for (size_t k = 1; k < len; k++) {
            cuts[k - 1] = k;
        }
        run_cuts(&run, lb, c->input, len, cuts, len ? len - 1 : 0);
        check_run(c, &run, "1-byte pieces");
        run_clear(&run);
    }
}

/* Every split into two pieces, and every split into three pieces. */
static void test_table_every_split(void **state)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const Case *c = &cases[i];
        size_t len = strlen(c->input);
        for (size_t a = 0; a <= len; a++) {
            for (size_t b = a; b <= len; b++) {
                g_autoptr(FpLineBuf) lb = fp_linebuf_new(c->max);
                size_t cuts[2] = {a, b};
                Run run;
                run_init(&run);
                run_cuts(&run, lb, c->input, len, cuts, 2);
                g_autofree char *how = g_strdup_printf("cuts at %zu and %zu", a, b);
                check_run(c, &run, how);
                run_clear(&run);
            }
        }
    }
}

/* Zero-length and NULL pieces change nothing. */
static void test_empty_pieces(void **state)
{
    g_autoptr(FpLineBuf) lb = fp_linebuf_new(0);
    Run run;
    run_init(&run);
    assert_int_equal(fp_linebuf_feed(lb, NULL, 0, collect, &run), FP_LINEBUF_OK);
    assert_int_equal(fp_linebuf_feed(lb, "ab", 2, collect, &run), FP_LINEBUF_OK);
    assert_int_equal(fp_linebuf_feed(lb, "xyz", 0, collect, &run), FP_LINEBUF_OK);
    assert_int_equal(fp_linebuf_pending(lb), 2);
    assert_int_equal(fp_linebuf_feed(lb, "c\n", 2, collect, &run), FP_LINEBUF_OK);
    assert_int_equal(run.lines->len, 1);
    assert_string_equal(g_ptr_array_index(run.lines, 0), "abc");
    assert_int_equal(fp_linebuf_pending(lb), 0);
    run_clear(&run);
}

/* A long stream of random JSON-like lines cut at random places gives the
 * same lines as the unsplit stream. */
static void test_random_chunking(void **state)
{
    GRand *rand = g_rand_new_with_seed(20240611);
    GString *in = g_string_new(NULL);
    GPtrArray *want = g_ptr_array_new_with_free_func(g_free);
    for (int i = 0; i < 400; i++) {
        guint n = g_rand_int_range(rand, 0, 300);
        GString *line = g_string_new(NULL);
        for (guint k = 0; k < n; k++) {
            /* printable bytes and '\r' inside lines, never '\n' */
            char ch = (char)g_rand_int_range(rand, 32, 127);
            if (g_rand_int_range(rand, 0, 50) == 0) {
                ch = '\r';
            }
            g_string_append_c(line, ch);
        }
        bool crlf = g_rand_boolean(rand);
        g_string_append_len(in, line->str, (gssize)line->len);
        g_string_append(in, crlf ? "\r\n" : "\n");
        /* the expected line: drop one final '\r' (the CRLF one, or one
         * that ended the content when the terminator is a bare '\n') */
        size_t keep = line->len;
        if (!crlf && keep > 0 && line->str[keep - 1] == '\r') {
            keep--;
        }
        if (keep > 0) {
            g_ptr_array_add(want, g_strndup(line->str, keep));
        }
        g_string_free(line, TRUE);
    }
    for (int round = 0; round < 50; round++) {
        g_autoptr(FpLineBuf) lb = fp_linebuf_new(4096);
        Run run;
        run_init(&run);
        size_t pos = 0;
        while (pos < in->len) {
            /* (MIN() evaluates its arguments twice: draw first) */
            size_t n = (size_t)g_rand_int_range(rand, 0, round < 10 ? 4 : 20000);
            n = MIN(n, in->len - pos);
            assert_int_equal(fp_linebuf_feed(lb, in->str + pos, n, collect, &run), FP_LINEBUF_OK);
            pos += n;
        }
        assert_int_equal(fp_linebuf_finish(lb, collect, &run), FP_LINEBUF_OK);
        assert_int_equal(run.lines->len, want->len);
        for (guint i = 0; i < want->len; i++) {
            assert_string_equal(g_ptr_array_index(run.lines, i), g_ptr_array_index(want, i));
        }
        run_clear(&run);
    }
    g_ptr_array_unref(want);
    g_string_free(in, TRUE);
    g_rand_free(rand);
}

/* A line that never ends fails as soon as it passes the cap, memory stays
 * at the cap, and the framer stays failed until reset. */
static void test_overlong_bounded(void **state)
{
    const size_t max = 1000;
    g_autoptr(FpLineBuf) lb = fp_linebuf_new(max);
    Run run;
    run_init(&run);
    char block[64];
    memset(block, 'x', sizeof(block));
    size_t fed = 0;
    FpLineBufResult r = FP_LINEBUF_OK;
    while (r == FP_LINEBUF_OK && fed < 100000) {
        r = fp_linebuf_feed(lb, block, sizeof(block), collect, &run);
        fed += sizeof(block);
    }
    assert_int_equal(r, FP_LINEBUF_TOO_LONG);
    /* detected in the piece that crossed the cap, not later */
    assert_true(fed <= max + sizeof(block));
    assert_true(fp_linebuf_capacity(lb) <= max + 1);
    assert_int_equal(fp_linebuf_pending(lb), 0);
    /* still failed: even a good line is refused */
    assert_int_equal(fp_linebuf_feed(lb, "ok\n", 3, collect, &run), FP_LINEBUF_TOO_LONG);
    assert_int_equal(run.lines->len, 0);
    fp_linebuf_reset(lb);
    assert_int_equal(fp_linebuf_feed(lb, "ok\n", 3, collect, &run), FP_LINEBUF_OK);
    assert_int_equal(run.lines->len, 1);
    assert_string_equal(g_ptr_array_index(run.lines, 0), "ok");
    run_clear(&run);
}

/* finish() on a failed framer reports the failure and resets. */
static void test_finish_after_failure(void **state)
{
    g_autoptr(FpLineBuf) lb = fp_linebuf_new(4);
    Run run;
    run_init(&run);
    assert_int_equal(fp_linebuf_feed(lb, "abcdef", 6, collect, &run), FP_LINEBUF_TOO_LONG);
    assert_int_equal(fp_linebuf_finish(lb, collect, &run), FP_LINEBUF_TOO_LONG);
    assert_int_equal(fp_linebuf_feed(lb, "abcd\n", 5, collect, &run), FP_LINEBUF_OK);
    assert_int_equal(run.lines->len, 1);
    run_clear(&run);
}

/* The callback can stop the framer; the rest of the piece is dropped. */
static void test_stop(void **state)
{
    g_autoptr(FpLineBuf) lb = fp_linebuf_new(0);
    Run run;
    run_init(&run);
    run.stop_after = 2;
    const char *in = "one\ntwo\nthree\nfour";
    assert_int_equal(fp_linebuf_feed(lb, in, strlen(in), collect, &run), FP_LINEBUF_STOPPED);
    assert_int_equal(run.lines->len, 2);
    assert_int_equal(fp_linebuf_pending(lb), 0);
    /* a stop from the tail line at finish */
    run.stop_after = 3;
    assert_int_equal(fp_linebuf_feed(lb, "fi", 2, collect, &run), FP_LINEBUF_OK);
    assert_int_equal(fp_linebuf_finish(lb, collect, &run), FP_LINEBUF_STOPPED);
    assert_int_equal(run.lines->len, 3);
    assert_string_equal(g_ptr_array_index(run.lines, 2), "fi");
    run_clear(&run);
}

/* Lines carried whole inside a piece are passed without copying; the tail
 * buffer grows only for split lines. */
static void test_zero_copy_for_whole_lines(void **state)
{
    g_autoptr(FpLineBuf) lb = fp_linebuf_new(0);
    Run run;
    run_init(&run);
    GString *in = g_string_new(NULL);
    for (int i = 0; i < 100; i++) {
        g_string_append_printf(in, "{\"n\":%d,\"pad\":\"%0200d\"}\n", i, i);
    }
    assert_int_equal(fp_linebuf_feed(lb, in->str, in->len, collect, &run), FP_LINEBUF_OK);
    assert_int_equal(run.lines->len, 100);
    assert_int_equal(fp_linebuf_capacity(lb), 0);
    g_string_free(in, TRUE);
    run_clear(&run);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_whole_and_bytes),
        cmocka_unit_test(test_table_every_split),
        cmocka_unit_test(test_empty_pieces),
        cmocka_unit_test(test_random_chunking),
        cmocka_unit_test(test_overlong_bounded),
        cmocka_unit_test(test_finish_after_failure),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_zero_copy_for_whole_lines),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
