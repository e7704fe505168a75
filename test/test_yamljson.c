/*
 * test/test_yamljson.c - YAML/JSON into jansson trees: scalar resolution,
 * multi-document streams, JSON input, anchors, merge keys, duplicate keys at
 * any depth, alias bombs, nesting and size limits, bad UTF-8, tabs, and the
 * positions of values and keys.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/yamljson.h"
#include "support/support.h"

/* All documents of @yaml as one compact JSON array with sorted keys; NULL
 * (and *error set) when parsing fails. */
static char *parse_to_json(const char *yaml, GError **error)
{
    g_autoptr(FpDocs) docs = fp_docs_parse(yaml, strlen(yaml), "t.yaml", error);
    if (!docs) {
        return NULL;
    }
    json_t *all = json_array();
    for (guint i = 0; i < fp_docs_count(docs); i++) {
        json_array_append(all, fp_docs_get(docs, i));
    }
    char *s = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(all);
    char *out = g_strdup(s);
    free(s);
    return out;
}

typedef struct {
    const char *yaml;
    const char *json; /* all documents as a JSON array */
} GoodCase;

static const GoodCase good_cases[] = {
    /* null */
    {"a:\nb: ~\nc: null\nd: Null\ne: NULL\n", "[{\"a\":null,\"b\":null,\"c\":null,\"d\":null,"
                                              "\"e\":null}]"},
    /* booleans: only the YAML 1.2 core spellings */
    {"[true, True, TRUE, false, False, FALSE]", "[[true,true,true,false,false,false]]"},
    {"[yes, no, on, off, y, n, tRUE]", "[[\"yes\",\"no\",\"on\",\"off\",\"y\",\"n\",\"tRUE\"]]"},
    /* integers */
    {"[0, 7, -7, +7, 0x1F, 0o17, 0644, -0x10, 9223372036854775807, -9223372036854775808]",
     "[[0,7,-7,7,31,15,420,-16,9223372036854775807,-9223372036854775808]]"},
    {"[08, 0x, 0o8, 1_000, 1:20, 12abc]", "[[\"08\",\"0x\",\"0o8\",\"1_000\",\"1:20\",\"12abc\"]]"},
    /* floats; .inf and .nan stay strings */
    {"[1.5, -0.25, .5, 1., 1e3, 2.5E-1, +1.0]", "[[1.5,-0.25,0.5,1.0,1000.0,0.25,1.0]]"},
    {"[.inf, -.inf, .nan, .NaN, ., 1e, e3]",
     "[[\".inf\",\"-.inf\",\".nan\",\".NaN\",\".\",\"1e\",\"e3\"]]"},
    /* quoted and block scalars are strings */
    {"a: \"1\"\nb: 'true'\nc: |\n  null\nd: >-\n  12\ne: \"\"\n",
     "[{\"a\":\"1\",\"b\":\"true\",\"c\":\"null\\n\",\"d\":\"12\",\"e\":\"\"}]"},
    /* tags */
    {"[!!str 1, !!str true, !!int \"12\", !!float 3, !!float \"2.5\", !!bool \"false\", "
     "!!null \"\", ! 5, !custom 6]",
     "[[\"1\",\"true\",12,3.0,2.5,false,null,\"5\",6]]"},
    /* non-string keys become their text */
    {"1: a\ntrue: b\n~: c\n0x10: d\n", "[{\"0x10\":\"d\",\"1\":\"a\",\"true\":\"b\",\"~\":\"c\"}]"},
    /* multi-document stream; empty and null documents are skipped */
    {"---\na: 1\n---\n---\n~\n--- null\n---\n- x\n...\n", "[{\"a\":1},[\"x\"]]"},
    {"", "[]"},
    {"# only a comment\n", "[]"},
    /* JSON is YAML */
    {"{\"a\": [1, 2.5, \"x\", true, null, {\"b\": {}}], \"c\": \"\\u00e9\\n\"}",
     "[{\"a\":[1,2.5,\"x\",true,null,{\"b\":{}}],\"c\":\"\xc3\xa9\\n\"}]"},
    /* anchors and aliases share values */
    {"base: &b {x: 1, y: [1, 2]}\nuse: *b\nlist: [&s str, *s]\n",
     "[{\"base\":{\"x\":1,\"y\":[1,2]},\"list\":[\"str\",\"str\"],\"use\":{\"x\":1,\"y\":[1,2]}}]"},
    /* merge keys: explicit keys win, then earlier sources */
    {"a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc: {<<: [*a, *b], x: 9}\nd:\n  <<: *b\n  w: 0\n",
     "[{\"a\":{\"x\":1,\"y\":1},\"b\":{\"y\":2,\"z\":2},\"c\":{\"x\":9,\"y\":1,\"z\":2},"
     "\"d\":{\"w\":0,\"y\":2,\"z\":2}}]"},
    /* a quoted "<<" is an ordinary key */
    {"\"<<\": 1\n", "[{\"<<\":1}]"},
    /* UTF-8 BOM */
    {"\xef\xbb\xbf"
     "a: 1\n",
     "[{\"a\":1}]"},
};

static void test_good_cases(void **state)
{
    for (size_t i = 0; i < G_N_ELEMENTS(good_cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autofree char *got = parse_to_json(good_cases[i].yaml, &error);
        if (!got) {
            fail_msg("case %zu: %s", i, error->message);
        }
        if (strcmp(got, good_cases[i].json) != 0) {
            fail_msg("case %zu:\n got  %s\n want %s", i, got, good_cases[i].json);
        }
    }
}

typedef struct {
    const char *yaml;
    FpYamlError code;
    const char *message; /* exact, or a prefix when it ends in '*' */
} BadCase;

static const BadCase bad_cases[] = {
    {"a: 1\na: 2\n", FP_YAML_ERROR_DUPLICATE, "t.yaml:2:1: duplicate key \"a\" (first at 1:1)"},
    {"x:\n  y:\n    - {k: 1, j: 2, k: 3}\n", FP_YAML_ERROR_DUPLICATE,
     "t.yaml:3:20: duplicate key \"k\" (first at 3:8)"},
    {"{\"a\": {\"b\": 1, \"b\": 2}}", FP_YAML_ERROR_DUPLICATE,
     "t.yaml:1:16: duplicate key \"b\" (first at 1:8)"},
    /* keys are compared by text: 1 and "1" collide */
    {"1: a\n\"1\": b\n", FP_YAML_ERROR_DUPLICATE, "t.yaml:2:1: duplicate key \"1\" (first at 1:1)"},
    {"<<: {a: 1}\n<<: {b: 1}\n", FP_YAML_ERROR_DUPLICATE,
     "t.yaml:2:1: duplicate key \"<<\" (first at 1:1)"},
    {"a: 1\n\tb: 2\n", FP_YAML_ERROR_SYNTAX, "t.yaml:2:1: *"},
    {"a:\n\t- 1\n", FP_YAML_ERROR_SYNTAX,
     "t.yaml:2:1: found character that cannot start any token*"},
    {"a: [1, 2\n", FP_YAML_ERROR_SYNTAX, "t.yaml:2:1: *"},
    {"a: 'x\n", FP_YAML_ERROR_SYNTAX, "t.yaml:2:1: found unexpected end of stream*"},
    {"key: b\xff\n", FP_YAML_ERROR_SYNTAX,
     "t.yaml:1:7: invalid leading UTF-8 octet (byte 0xFF at offset 6)"},
    {"a: 1\nb: \"\xc3\x28\"\n", FP_YAML_ERROR_SYNTAX,
     "t.yaml:2:6: invalid trailing UTF-8 octet (byte 0x28 at offset 10)"},
    {"a: \"x\\ud800\"\n", FP_YAML_ERROR_SYNTAX, "t.yaml:1:*"},
    {"? [a]\n: 1\n", FP_YAML_ERROR_SYNTAX,
     "t.yaml:1:3: a sequence as a mapping key is not supported (complex key)"},
    {"? {a: 1}\n: 1\n", FP_YAML_ERROR_SYNTAX,
     "t.yaml:1:3: a mapping as a mapping key is not supported (complex key)"},
    {"a: &x k\n*x : 1\n", FP_YAML_ERROR_SYNTAX,
     "t.yaml:2:1: alias *x as a mapping key is not supported"},
    {"a: *nope\n", FP_YAML_ERROR_SYNTAX,
     "t.yaml:1:4: alias *nope refers to an undefined (or not yet complete) anchor"},
    {"a: &r [1, *r]\n", FP_YAML_ERROR_SYNTAX,
     "t.yaml:1:11: alias *r refers to an undefined (or not yet complete) anchor"},
    /* anchors do not cross documents */
    {"a: &x 1\n---\nb: *x\n", FP_YAML_ERROR_SYNTAX, "t.yaml:3:4: alias *x refers to *"},
    {"a: {<<: 1}\n", FP_YAML_ERROR_SYNTAX,
     "t.yaml:1:9: merge key \"<<\" needs a mapping or a list of mappings"},
    {"a: {<<: [{x: 1}, 2]}\n", FP_YAML_ERROR_SYNTAX,
     "t.yaml:1:9: merge key \"<<\" needs a mapping or a list of mappings"},
    {"n: 9223372036854775808\n", FP_YAML_ERROR_SYNTAX,
     "t.yaml:1:4: integer out of range: 9223372036854775808"},
    {"n: -0x8000000000000001\n", FP_YAML_ERROR_SYNTAX, "t.yaml:1:4: integer out of range*"},
    {"n: 1e400\n", FP_YAML_ERROR_SYNTAX, "t.yaml:1:4: number out of range: 1e400"},
    {"n: !!int abc\n", FP_YAML_ERROR_SYNTAX, "t.yaml:1:4: !!int value is not an integer: abc"},
    {"n: !!float .inf\n", FP_YAML_ERROR_SYNTAX,
     "t.yaml:1:4: !!float value is not a finite number: .inf"},
    {"n: !!bool yes\n", FP_YAML_ERROR_SYNTAX, "t.yaml:1:4: !!bool value is not true or false: yes"},
    {"n: !!null 0\n", FP_YAML_ERROR_SYNTAX, "t.yaml:1:4: !!null value is not null: 0"},
    {"\"a\\0b\": 1\n", FP_YAML_ERROR_SYNTAX, "t.yaml:1:1: mapping key contains a NUL character"},
};

static void check_error(size_t i, const GError *error, FpYamlError code, const char *want)
{
    if (!error) {
        fail_msg("case %zu: parsed, expected \"%s\"", i, want);
    }
    if (!g_error_matches(error, FP_YAML_ERROR, (gint)code)) {
        fail_msg("case %zu: error code %d (%s), want %d", i, error->code, error->message, code);
    }
    size_t n = strlen(want);
    gboolean ok = want[n - 1] == '*' ? strncmp(error->message, want, n - 1) == 0
                                     : strcmp(error->message, want) == 0;
    if (!ok) {
        fail_msg("case %zu:\n got  %s\n want %s", i, error->message, want);
    }
}

static void test_bad_cases(void **state)
{
    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autofree char *got = parse_to_json(bad_cases[i].yaml, &error);
        assert_null(got);
        check_error(i, error, bad_cases[i].code, bad_cases[i].message);
    }
}

/* The classic billion laughs, 9 levels of 10: 10^9 nodes if expanded. */
static void test_alias_bomb(void **state)
{
    GString *s = g_string_new("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (char c = 'b'; c <= 'i'; c++) {
        g_string_append_printf(s, "%c: &%c [", c, c);
        for (int i = 0; i < 10; i++) {
            g_string_append_printf(s, "%s*%c", i ? ", " : "", c - 1);
        }
        g_string_append(s, "]\n");
    }
    g_autoptr(GError) error = NULL;
    g_autoptr(FpDocs) docs = fp_docs_parse(s->str, s->len, "bomb.yaml", &error);
    assert_null(docs);
    assert_true(g_error_matches(error, FP_YAML_ERROR, FP_YAML_ERROR_LIMIT));
    assert_non_null(strstr(error->message, "aliases expand to more than"));
    assert_true(g_str_has_prefix(error->message, "bomb.yaml:"));
    g_string_free(s, TRUE);

    /* Moderate reuse stays fine: 3 levels of 10 = 1,000 leaves. */
    const char *text = "a: &a [1,2,3,4,5,6,7,8,9,0]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                       "c: [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n";
    g_clear_error(&error);
    g_autoptr(FpDocs) ok2 = fp_docs_parse(text, strlen(text), "ok.yaml", &error);
    assert_non_null(ok2);
    json_t *c = json_object_get(fp_docs_get(ok2, 0), "c");
    assert_int_equal(json_array_size(c), 10);
    assert_int_equal(json_integer_value(json_array_get(json_array_get(json_array_get(c, 9), 9), 9)),
                     0);
}

static char *nested(int depth, gboolean flow)
{
    GString *s = g_string_new(NULL);
    for (int i = 0; i < depth; i++) {
        if (flow) {
            g_string_append_c(s, '[');
        } else {
            for (int j = 0; j < i; j++) {
                g_string_append(s, "  ");
            }
            g_string_append(s, "k:\n");
        }
    }
    if (flow) {
        for (int i = 0; i < depth; i++) {
            g_string_append_c(s, ']');
        }
    } else {
        for (int j = 0; j < depth; j++) {
            g_string_append(s, "  ");
        }
        g_string_append(s, "k: 1\n");
    }
    return g_string_free(s, FALSE);
}

static void test_depth(void **state)
{
    /* FP_YAML_MAX_DEPTH containers nest fine, one more does not. */
    g_autofree char *ok = nested(FP_YAML_MAX_DEPTH, TRUE);
    g_autoptr(FpDocs) docs = fp_docs_parse(ok, strlen(ok), "d.yaml", NULL);
    assert_non_null(docs);

    g_autofree char *deep = nested(FP_YAML_MAX_DEPTH + 1, TRUE);
    g_autoptr(GError) error = NULL;
    assert_null(fp_docs_parse(deep, strlen(deep), "d.yaml", &error));
    assert_true(g_error_matches(error, FP_YAML_ERROR, FP_YAML_ERROR_LIMIT));
    g_autofree char *want = g_strdup_printf("d.yaml:1:%d: nesting deeper than %d levels",
                                            FP_YAML_MAX_DEPTH + 1, FP_YAML_MAX_DEPTH);
    assert_string_equal(error->message, want);

    /* block mappings: depth+1 mappings (the last holds k: 1) */
    g_autofree char *block = nested(FP_YAML_MAX_DEPTH, FALSE);
    g_clear_error(&error);
    assert_null(fp_docs_parse(block, strlen(block), "b.yaml", &error));
    assert_true(g_error_matches(error, FP_YAML_ERROR, FP_YAML_ERROR_LIMIT));

    /* a million brackets: an error, quickly, not a stack overflow */
    g_autofree char *huge = nested(1000000, TRUE);
    g_clear_error(&error);
    assert_null(fp_docs_parse(huge, strlen(huge), "h.yaml", &error));
    assert_true(g_error_matches(error, FP_YAML_ERROR, FP_YAML_ERROR_LIMIT));
}

static void test_positions(void **state)
{
    const char *yaml = "# comment\n"                /* 1 */
                       "top:\n"                     /* 2 */
                       "  list:\n"                  /* 3 */
                       "    - a\n"                  /* 4 */
                       "    - {x: 10, y: [1, 2]}\n" /* 5 */
                       "  str: \"quoted\"\n"        /* 6 */
                       "  block: |\n"               /* 7 */
                       "    text\n"                 /* 8 */
                       "  \xc3\xa9t\xc3\xa9: 5\n"   /* 9: columns count characters */
                       "  flag: true\n"             /* 10 */
                       "  ref: &r {k: v}\n"         /* 11 */
                       "  again: *r\n";             /* 12 */
    g_autoptr(GError) error = NULL;
    g_autoptr(FpDocs) docs = fp_docs_parse(yaml, strlen(yaml), "p.yaml", &error);
    assert_non_null(docs);
    assert_string_equal(fp_docs_name(docs), "p.yaml");
    json_t *root = fp_docs_get(docs, 0);
    json_t *topv = json_object_get(root, "top");

    static const struct {
        const char *key;
        guint line, column;
    } values[] = {
        {"list", 4, 5}, {"str", 6, 8},    {"block", 7, 10}, {"\xc3\xa9t\xc3\xa9", 9, 8},
        {"ref", 11, 8}, {"again", 11, 8}, /* shared with the anchor */
    };
    guint line = 0, col = 0;
    assert_true(fp_docs_position(docs, root, &line, &col));
    assert_int_equal(line, 2);
    assert_int_equal(col, 1);
    assert_true(fp_docs_position(docs, topv, &line, &col));
    assert_int_equal(line, 3);
    assert_int_equal(col, 3);
    for (size_t i = 0; i < G_N_ELEMENTS(values); i++) {
        json_t *v = json_object_get(topv, values[i].key);
        assert_non_null(v);
        if (!fp_docs_position(docs, v, &line, &col) || line != values[i].line ||
            col != values[i].column) {
            fail_msg("%s: got %u:%u want %u:%u", values[i].key, line, col, values[i].line,
                     values[i].column);
        }
    }
    json_t *flow = json_array_get(json_object_get(topv, "list"), 1);
    assert_true(fp_docs_position(docs, flow, &line, &col));
    assert_int_equal(line, 5);
    assert_int_equal(col, 7);
    assert_true(fp_docs_position(docs, json_object_get(flow, "x"), &line, &col));
    assert_int_equal(col, 11);
    assert_true(fp_docs_position(docs, json_array_get(json_object_get(flow, "y"), 1), &line, &col));
    assert_int_equal(col, 22);

    /* keys */
    assert_true(fp_docs_key_position(docs, topv, "flag", &line, &col));
    assert_int_equal(line, 10);
    assert_int_equal(col, 3);
    assert_true(fp_docs_key_position(docs, flow, "y", &line, &col));
    assert_int_equal(line, 5);
    assert_int_equal(col, 15);
    assert_false(fp_docs_key_position(docs, topv, "missing", &line, &col));
    /* true/null are jansson singletons: no position of their own */
    assert_false(fp_docs_position(docs, json_object_get(topv, "flag"), &line, &col));
    /* a value from another tree is unknown */
    json_t *other = json_string("x");
    assert_false(fp_docs_position(docs, other, &line, &col));
    json_decref(other);
}

static void test_merge_key_positions(void **state)
{
    const char *yaml = "base: &b\n  a: 1\n  b: 2\nuse:\n  <<: *b\n  b: 3\n";
    g_autoptr(FpDocs) docs = fp_docs_parse(yaml, strlen(yaml), "m.yaml", NULL);
    assert_non_null(docs);
    json_t *use = json_object_get(fp_docs_get(docs, 0), "use");
    guint line = 0, col = 0;
    assert_true(fp_docs_key_position(docs, use, "a", &line, &col)); /* from the anchor */
    assert_int_equal(line, 2);
    assert_true(fp_docs_key_position(docs, use, "b", &line, &col)); /* written here */
    assert_int_equal(line, 6);
    assert_int_equal(json_integer_value(json_object_get(use, "b")), 3);
}

static void test_load_file(void **state)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("fp-yamljson-XXXXXX", &error);
    assert_non_null(dir);
    g_autofree char *path = g_build_filename(dir, "f.yaml", NULL);
    assert_true(g_file_set_contents(path, "a: [1, 2]\n", -1, NULL));

    g_autoptr(FpDocs) docs = fp_docs_load_file(path, 1024, &error);
    assert_non_null(docs);
    assert_string_equal(fp_docs_name(docs), path);
    assert_int_equal(fp_docs_count(docs), 1);
    assert_null(fp_docs_get(docs, 1));

    /* exactly at the limit is fine, one byte over is not */
    assert_null(fp_docs_load_file(path, 9, &error));
    assert_true(g_error_matches(error, FP_YAML_ERROR, FP_YAML_ERROR_LIMIT));
    g_clear_error(&error);
    g_autoptr(FpDocs) exact = fp_docs_load_file(path, 10, &error);
    assert_non_null(exact);

    /* directories, FIFOs and missing files */
    assert_null(fp_docs_load_file(dir, 1024, &error));
    assert_true(g_error_matches(error, FP_YAML_ERROR, FP_YAML_ERROR_IO));
    assert_non_null(strstr(error->message, "not a regular file"));
    g_clear_error(&error);
    g_autofree char *fifo = g_build_filename(dir, "fifo", NULL);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_null(fp_docs_load_file(fifo, 1024, &error));
    assert_true(g_error_matches(error, FP_YAML_ERROR, FP_YAML_ERROR_IO));
    g_clear_error(&error);
    g_autofree char *missing = g_build_filename(dir, "missing.yaml", NULL);
    assert_null(fp_docs_load_file(missing, 1024, &error));
    assert_true(g_error_matches(error, FP_YAML_ERROR, FP_YAML_ERROR_IO));
    g_clear_error(&error);

    /* a syntax error names the file */
    assert_true(g_file_set_contents(path, "a: [\n", -1, NULL));
    assert_null(fp_docs_load_file(path, 1024, &error));
    assert_true(g_str_has_prefix(error->message, path));

    unlink(fifo);
    unlink(path);
    rmdir(dir);
}

/* Every prefix of a document must give a clean result or a clean error. */
static void test_truncations(void **state)
{
    const char *yaml = "a: &x {b: [1, \"two\", 3.0], c: 'q'}\n"
                       "d:\n  - <<: *x\n    e: |\n      text\n  - f: null\n---\n{\"g\": [true]}\n";
    size_t n = strlen(yaml);
    for (size_t i = 0; i <= n; i++) {
        GError *error = NULL;
        FpDocs *docs = fp_docs_parse(yaml, i, "cut.yaml", &error);
        assert_true((docs == NULL) != (error == NULL));
        if (error) {
            assert_true(g_str_has_prefix(error->message, "cut.yaml:"));
        }
        fp_docs_free(docs);
        g_clear_error(&error);
    }
}

/* Real Node dumps from the shared data parse as JSON, with positions. */
static void test_shared_nodes(void **state)
{
    g_autofree char *dir = fp_test_shared_data("nodes");
    if (!dir) {
        FP_SKIP("shared-data", "FP_SHARED_DATA not set or nodes/ missing: real-node parsing");
    }
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    assert_non_null(d);
    const char *name;
    guint parsed = 0;
    while ((name = g_dir_read_name(d))) {
        if (!g_str_has_suffix(name, ".json") && !g_str_has_suffix(name, ".yaml")) {
            continue;
        }
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(FpDocs) docs = fp_docs_load_file(path, 16 << 20, &error);
        if (!docs) {
            fail_msg("%s: %s", name, error->message);
        }
        json_t *root = fp_docs_get(docs, 0);
        assert_non_null(root);
        guint line, col;
        assert_true(fp_docs_position(docs, root, &line, &col));
        parsed++;
    }
    assert_true(parsed > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_cases),   cmocka_unit_test(test_bad_cases),
        cmocka_unit_test(test_alias_bomb),   cmocka_unit_test(test_depth),
        cmocka_unit_test(test_positions),    cmocka_unit_test(test_merge_key_positions),
        cmocka_unit_test(test_load_file),    cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_shared_nodes),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
