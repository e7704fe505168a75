/*
 * test_cli.c - `flexplace score`, the real binary (FP_BINARY), on the
 * fixtures of test/data/cli (a snapshot, a policy, pods and workloads) and
 * test/data/preempt, and on the public manifests and Node objects of
 * ../shared/data when present; then the server (FpApp on 127.0.0.1:0) and
 * the CLI on the same cluster, policy and pods must agree: the same nodes
 * pass, with the same integer scores.
 *
 * Golden outputs live in test/data/cli/golden/<case>.<table|wide|json>; the
 * binary runs in test/data/cli with relative paths so that the file names
 * it prints are stable.  Text formats are compared byte for byte, JSON as
 * values (numbers within 1e-9).  After an intended change of the output,
 * regenerate them and review the diff:
 *
 *     FP_UPDATE_GOLDEN=1 ./test/test_cli      (from the build directory)
 *
 * Besides the goldens every case asserts the facts it is there for (who
 * rejected which node and why, the exit code), so a careless regeneration
 * still fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <jansson.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache/yamljson.h"
#include "extender/cli/cmd_serve.h"
#include "extender/server/app.h"
#include "support/http_client.h"
#include "support/support.h"

/* ---- running the binary ------------------------------------------------ */

typedef FpTestRun Run;
#define run_clear fp_test_run_clear

/* Run `flexplace score ARGS...` (NULL-terminated) in @cwd (NULL: here). */
static void run_score(Run *r, const char *cwd, const char *const *args)
{
    fp_test_run_flexplace(r, cwd, "score", args);
}

/* For g_ptr_array_sort on arrays of strings. */
static gint cmp_strp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *cli_dir(void)
{
    return fp_test_data_path("cli");
}

static json_t *parse_output(const Run *r)
{
    json_error_t jerr;
    json_t *v = json_loads(r->out, 0, &jerr);
    if (!v) {
        fail_msg("output is not JSON: %s\n%s", jerr.text, r->out);
    }
    return v;
}

/* ---- golden files ---------------------------------------------------- */

/* Equal JSON values, numbers compared within 1e-9 (integers and reals
 * alike). */
static bool json_near(json_t *a, json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        return fabs(json_number_value(a) - json_number_value(b)) <= 1e-9;
    }
    if (json_typeof(a) != json_typeof(b)) {
        return false;
    }
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b)) {
            return false;
        }
        for (size_t i = 0; i < json_array_size(a); i++) {
            if (!json_near(json_array_get(a, i), json_array_get(b, i))) {
                return false;
            }
        }
        return true;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b)) {
            return false;
        }
        const char *key;
        json_t *v;
        json_object_foreach(a, key, v)
        {
            json_t *w = json_object_get(b, key);
            if (!w || !json_near(v, w)) {
                return false;
            }
        }
        return true;
    }
    return json_equal(a, b);
}

/* The first line where @got and @want differ, for the failure message. */
static char *first_difference(const char *got, const char *want)
{
    g_auto(GStrv) g = g_strsplit(got, "\n", -1);
    g_auto(GStrv) w = g_strsplit(want, "\n", -1);
    for (guint i = 0;; i++) {
        if (!g[i] || !w[i] || strcmp(g[i], w[i]) != 0) {
            return g_strdup_printf("line %u\n got: %s\nwant: %s", i + 1, g[i] ? g[i] : "<end>",
                                   w[i] ? w[i] : "<end>");
        }
    }
}

static void check_golden(const char *name, const char *format, const char *got)
{
    g_autofree char *rel = g_strdup_printf("cli/golden/%s.%s", name, format);
    g_autofree char *path = fp_test_data_path(rel);
    if (g_strcmp0(g_getenv("FP_UPDATE_GOLDEN"), "1") == 0) {
        g_autoptr(GError) error = NULL;
        if (!g_file_set_contents(path, got, -1, &error)) {
            fail_msg("cannot write %s: %s", path, error->message);
        }
        print_message("updated %s\n", rel);
        return;
    }
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        fail_msg("%s is missing: run with FP_UPDATE_GOLDEN=1 to create it", rel);
    }
    g_autofree char *want = fp_test_read_file(path, NULL);
    if (g_str_equal(format, "json")) {
        json_t *g = json_loads(got, 0, NULL);
        json_t *w = json_loads(want, 0, NULL);
        assert_non_null(g);
        assert_non_null(w);
        bool same = json_near(g, w);
        json_decref(g);
        json_decref(w);
        if (same) {
            return;
        }
    } else if (g_str_equal(got, want)) {
        return;
    }
    g_autofree char *diff = first_difference(got, want);
    fail_msg("%s differs (FP_UPDATE_GOLDEN=1 regenerates it) at %s", rel, diff);
}

/* ---- assertions on the JSON document ---------------------------------- */

static json_t *placement(json_t *doc, size_t i)
{
    json_t *p = json_array_get(json_object_get(doc, "placements"), i);
    if (!p) {
        fail_msg("no placement %zu", i);
    }
    return p;
}

/* Names of a JSON array of strings (or of objects' "node"), joined by ','. */
static char *names_of(json_t *array)
{
    GString *s = g_string_new(NULL);
    size_t i;
    json_t *v;
    json_array_foreach(array, i, v)
    {
        const char *name = json_is_string(v) ? json_string_value(v)
                                             : json_string_value(json_object_get(v, "node"));
        g_string_append_printf(s, "%s%s", i ? "," : "", name ? name : "?");
    }
    return g_string_free(s, FALSE);
}

/* Sorted, comma-joined names of the feasible nodes. */
static char *feasible_set(json_t *p)
{
    GPtrArray *names = g_ptr_array_new();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(p, "feasible"), i, v)
    {
        g_ptr_array_add(names, (gpointer)json_string_value(json_object_get(v, "node")));
    }
    g_ptr_array_sort(names, cmp_strp);
    g_ptr_array_add(names, NULL);
    char *out = g_strjoinv(",", (char **)names->pdata);
    g_ptr_array_unref(names);
    return out;
}

/* The rejection group (@by, @reason) exists and holds exactly @nodes. */
static void assert_rejected(json_t *p, const char *by, const char *reason, const char *nodes)
{
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(p, "rejected"), i, g)
    {
        if (g_strcmp0(json_string_value(json_object_get(g, "by")), by) == 0 &&
            g_strcmp0(json_string_value(json_object_get(g, "reason")), reason) == 0) {
            g_autofree char *got = names_of(json_object_get(g, "nodes"));
            if (!g_str_equal(got, nodes)) {
                fail_msg("%s '%s': nodes %s, want %s", by, reason, got, nodes);
            }
            return;
        }
    }
    char *all = json_dumps(json_object_get(p, "rejected"), JSON_COMPACT);
    fail_msg("no rejection by %s for '%s' in %s", by, reason, all);
}

static void assert_feasible(json_t *p, const char *want)
{
    g_autofree char *got = feasible_set(p);
    if (!g_str_equal(got, want)) {
        fail_msg("feasible %s, want %s", got, want);
    }
}

/* ---- golden cases ---------------------------------------------------- */

typedef struct {
    const char *name;
    const char *pod;
    const char *cluster;
    const char *policy; /* NULL: built-in default */
    int exit_code;
} GoldenCase;

/* Run @c in every format against its goldens; return the JSON document. */
static json_t *run_case(const GoldenCase *c, char **err_out)
{
    g_autofree char *dir = cli_dir();
    static const char *const formats[] = {"table", "wide", "json"};
    json_t *doc = NULL;
    for (guint f = 0; f < G_N_ELEMENTS(formats); f++) {
        const char *args[12];
        guint n = 0;
        args[n++] = "--cluster";
        args[n++] = c->cluster;
        if (c->policy) {
            args[n++] = "--policy";
            args[n++] = c->policy;
        }
        args[n++] = "--pod";
        args[n++] = c->pod;
        args[n++] = "-o";
        args[n++] = formats[f];
        args[n] = NULL;
        Run r;
        run_score(&r, dir, args);
        if (r.status != c->exit_code) {
            fail_msg("%s -o %s: exit %d, want %d; stderr:\n%s", c->name, formats[f], r.status,
                     c->exit_code, r.err);
        }
        check_golden(c->name, formats[f], r.out);
        if (f == 2) {
            doc = parse_output(&r);
            if (err_out) {
                *err_out = g_steal_pointer(&r.err);
            }
        }
        run_clear(&r);
    }
    return doc;
}

/* kube-scheduler's own rejections (cordoned, tainted, full, CPU-only) are
 * attributed to it; the NotReady node to flexplace. */
static void test_golden_basic(void **state)
{
    const GoldenCase c = {"basic", "pod-basic.yaml", "cluster.yaml", "policy.yaml", 0};
    json_t *doc = run_case(&c, NULL);
    assert_string_equal(json_string_value(json_object_get(doc, "apiVersion")),
                        "flexplace.io/v1alpha1");
    json_t *p = placement(doc, 0);
    assert_feasible(p, "euw1-t4-a,gke-l4-a,use1-h100-a,use1-l4-a,usw2-a10g-a");
    assert_rejected(p, "kube-scheduler", "Insufficient nvidia.com/gpu", "use1-cpu-a,use1-l4-b");
    assert_rejected(p, "kube-scheduler", "node(s) were unschedulable", "use1-l4-cordoned");
    assert_rejected(p, "kube-scheduler", "node(s) had untolerated taint", "use1-l4-training");
    assert_rejected(p, "flexplace", "node not ready", "use1-l4-notready");
    assert_string_equal(json_string_value(json_object_get(p, "best")), "gke-l4-a");
    assert_true(json_is_null(json_object_get(p, "preemption")));
    json_t *policy = json_object_get(p, "policy");
    assert_string_equal(json_string_value(json_object_get(policy, "source")), "policy.yaml");
    json_decref(doc);
}

/* -o json marks the nodes the filter's short list would send (K and a
 * boolean per feasible node): with shortList 2, ranks 1 and 2 of the five
 * feasible nodes, the others passed but left out (issue 16). */
static void test_json_short_list(void **state)
{
    g_autofree char *dir = cli_dir();
    g_autofree char *tmp = g_dir_make_tmp("fp-cli-XXXXXX", NULL);
    g_autofree char *src = g_build_filename(dir, "policy.yaml", NULL);
    g_autofree char *text = fp_test_read_file(src, NULL);
    g_autofree char *policy = g_build_filename(tmp, "policy.yaml", NULL);
    g_autofree char *with_list = g_strdup_printf("%s\nshortList: 2\n", text);
    assert_true(g_file_set_contents(policy, with_list, -1, NULL));
    const char *args[] = {"--cluster",      "cluster.yaml", "--policy", policy, "--pod",
                          "pod-basic.yaml", "-o",           "json",     NULL};
    Run r;
    run_score(&r, dir, args);
    if (r.status != 0) {
        fail_msg("exit %d: %s", r.status, r.err);
    }
    json_t *doc = parse_output(&r);
    run_clear(&r);
    json_t *p = placement(doc, 0);
    assert_int_equal(json_integer_value(json_object_get(p, "shortList")), 2);
    assert_int_equal(json_integer_value(json_object_get(p, "shortListed")), 2);
    json_t *feasible = json_object_get(p, "feasible");
    assert_int_equal(json_array_size(feasible), 5);
    size_t i;
    json_t *e;
    json_array_foreach(feasible, i, e)
    {
        assert_true(json_is_boolean(json_object_get(e, "shortListed")));
        assert_int_equal(json_is_true(json_object_get(e, "shortListed")), i < 2);
    }
    json_decref(doc);
    g_unlink(policy);
    g_rmdir(tmp);
}

/* nodeSelector and required node affinity are kube-scheduler's. */
static void test_golden_selector_affinity(void **state)
{
    const GoldenCase sel = {"selector", "pod-selector.yaml", "cluster.yaml", "policy.yaml", 0};
    json_t *doc = run_case(&sel, NULL);
    json_t *p = placement(doc, 0);
    assert_feasible(p, "gke-l4-a");
    assert_rejected(p, "kube-scheduler", "node(s) didn't match Pod's node affinity/selector",
                    "euw1-t4-a,use1-cpu-a,use1-h100-a,use1-l4-a,use1-l4-b,use1-l4-notready,"
                    "usw2-a10g-a");
    json_decref(doc);

    const GoldenCase aff = {"affinity", "pod-affinity.yaml", "cluster.yaml", "policy.yaml", 0};
    doc = run_case(&aff, NULL);
    p = placement(doc, 0);
    assert_feasible(p, "use1-h100-a,usw2-a10g-a");
    /* The toleration lets the tainted node through to the affinity check. */
    assert_rejected(p, "kube-scheduler", "node(s) didn't match Pod's node affinity/selector",
                    "euw1-t4-a,gke-l4-a,use1-cpu-a,use1-l4-a,use1-l4-b,use1-l4-notready,"
                    "use1-l4-training");
    json_decref(doc);
}

/* SKU, memory, latency, price and the pool ceiling are flexplace's, one
 * pod per document of one file. */
static void test_golden_flexplace(void **state)
{
    const GoldenCase c = {"flexplace", "pods-flexplace.yaml", "cluster.yaml", "policy.yaml", 0};
    json_t *doc = run_case(&c, NULL);
    assert_int_equal(json_array_size(json_object_get(doc, "placements")), 5);
    json_t *p = placement(doc, 0);
    assert_rejected(p, "flexplace", "GPU SKU not allowed by policy",
                    "euw1-t4-a,use1-h100-a,usw2-a10g-a");
    assert_feasible(p, "gke-l4-a,use1-l4-a,use1-l4-training");
    p = placement(doc, 1);
    assert_rejected(p, "flexplace", "GPU memory below requirement",
                    "euw1-t4-a,gke-l4-a,use1-l4-a,use1-l4-training,usw2-a10g-a");
    assert_feasible(p, "use1-h100-a");
    assert_int_equal(
        json_number_value(json_object_get(json_object_get(p, "demand"), "minGPUMemoryMiB")), 40960);
    p = placement(doc, 2);
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "demand"), "profile")),
                        "latency-critical");
    /* gke-l4-a is in us-east4 (Ashburn): the built-in tables' cross-cloud
     * rule puts it next to us-east-1, so it is within the limit */
    assert_rejected(p, "flexplace", "region latency above limit", "euw1-t4-a,usw2-a10g-a");
    p = placement(doc, 3);
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "demand"), "profile")),
                        "budget");
    assert_rejected(p, "flexplace", "GPU price above limit", "use1-h100-a,usw2-a10g-a");
    p = placement(doc, 4);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(p, "demand"), "count")), 2);
    assert_rejected(p, "flexplace", "pool at its burst ceiling", "use1-l4-a");
    assert_rejected(p, "kube-scheduler", "Insufficient nvidia.com/gpu",
                    "euw1-t4-a,use1-cpu-a,use1-l4-b");
    json_decref(doc);
}

/* Deployment, StatefulSet, Job and CronJob become one pod each, named after
 * the workload; the Service is skipped with a note on stderr. */
static void test_golden_workloads(void **state)
{
    const GoldenCase c = {"workloads", "workloads.yaml", "cluster.yaml", "policy.yaml", 0};
    g_autofree char *err = NULL;
    json_t *doc = run_case(&c, &err);
    assert_non_null(strstr(err, "workloads.yaml:24:1 (document 2): skipped a Service document"));
    json_t *all = json_object_get(doc, "placements");
    assert_int_equal(json_array_size(all), 4);
    const struct {
        const char *ns, *name, *profile;
        int count;
    } want[] = {
        {"inference", "chat-api", "default", 1},
        {"inference", "llama-405b", "large-model", 4},
        {"default", "eval-run", "default", 1},
        {"offline", "nightly-embed", "budget", 2}, /* the init container's 2 GPUs */
    };
    for (guint i = 0; i < G_N_ELEMENTS(want); i++) {
        json_t *p = placement(doc, i);
        json_t *pod = json_object_get(p, "pod");
        json_t *demand = json_object_get(p, "demand");
        assert_string_equal(json_string_value(json_object_get(pod, "namespace")), want[i].ns);
        assert_string_equal(json_string_value(json_object_get(pod, "name")), want[i].name);
        assert_string_equal(json_string_value(json_object_get(demand, "profile")), want[i].profile);
        assert_int_equal(json_integer_value(json_object_get(demand, "count")), want[i].count);
    }
    /* The Deployment's template tolerates the training taint. */
    assert_string_equal(json_string_value(json_object_get(placement(doc, 0), "best")),
                        "use1-l4-training");
    assert_feasible(placement(doc, 1), "use1-h100-a");
    assert_feasible(placement(doc, 2), "use1-l4-a");
    json_decref(doc);
}

/* A malformed annotation: every node kube-scheduler lets through fails with
 * a reason naming it; no feasible node (exit 3) and no preemption plan. */
static void test_golden_invalid_annotation(void **state)
{
    const GoldenCase c = {"invalid-annotation", "pod-invalid-annotation.yaml", "cluster.yaml",
                          "policy.yaml", 3};
    json_t *doc = run_case(&c, NULL);
    json_t *p = placement(doc, 0);
    const char *error = json_string_value(json_object_get(json_object_get(p, "demand"), "error"));
    assert_non_null(error);
    assert_non_null(strstr(error, "flexplace.io/max-latency-ms"));
    assert_feasible(p, "");
    assert_true(json_is_null(json_object_get(p, "best")));
    assert_rejected(p, "flexplace", "invalid annotation flexplace.io/max-latency-ms",
                    "euw1-t4-a,gke-l4-a,use1-h100-a,use1-l4-a,use1-l4-notready,usw2-a10g-a");
    assert_true(json_is_null(json_object_get(p, "preemption")));
    json_decref(doc);
}

/* A pod that fits nowhere: where preemption would make room, whom it would
 * evict (kube-scheduler's rule: every lower-priority pod removed, then the
 * highest-priority ones reprieved while the pod still fits), never on a node
 * kube-scheduler rejects for another reason (the tainted one). */
static void test_golden_preemption(void **state)
{
    const GoldenCase c = {"preempt", "pod-preempt.yaml", "../preempt/cluster.json", NULL, 3};
    json_t *doc = run_case(&c, NULL);
    json_t *p = placement(doc, 0);
    assert_feasible(p, "");
    json_t *plans = json_object_get(p, "preemption");
    g_autofree char *nodes = names_of(plans);
    assert_string_equal(nodes, "h100-a,t4-a,a100-a,l4-a");
    json_t *a100 = json_array_get(plans, 2);
    json_t *victims = json_object_get(a100, "victims");
    assert_int_equal(json_array_size(victims), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(victims, 0), "name")),
                        "embed-a100-0");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(victims, 0), "priority")),
                     10);
    assert_string_equal(json_string_value(json_object_get(json_array_get(victims, 1), "name")),
                        "embed-a100-1");
    assert_string_equal(json_string_value(json_object_get(json_array_get(victims, 1), "uid")),
                        "fdfae41a-4a2f-5301-84c5-7d0142138af4");
    json_decref(doc);
}

/* The same pod with pools that can grow (policy poolTemplates): a 4-GPU
 * L4 node group takes two GPUs, a 1-GPU T4 group cannot; the table says
 * so in one line, the JSON in "scaleUp". */
static void test_golden_scale_up(void **state)
{
    const GoldenCase c = {"scaleup", "pod-preempt.yaml", "../preempt/cluster.json",
                          "policy-templates.yaml", 3};
    json_t *doc = run_case(&c, NULL);
    json_t *up = json_object_get(placement(doc, 0), "scaleUp");
    assert_true(json_is_true(json_object_get(up, "fits")));
    assert_string_equal(json_string_value(json_object_get(up, "pool")), "aws-l4x4-use1");
    assert_string_equal(json_string_value(json_object_get(up, "sku")), "NVIDIA-L4");
    assert_int_equal(json_integer_value(json_object_get(up, "templates")), 2);
    assert_string_equal(json_string_value(json_object_get(up, "message")),
                        "would fit after scale-up: pool aws-l4x4-use1 (NVIDIA-L4, us-east-1, "
                        "$1.15/h)");
    json_decref(doc);
}

/* A cluster file as `kubectl get nodes,pods,nodepools -o yaml` prints it:
 * its Karpenter NodePools (v1 and v1beta1) are pools that can grow, as
 * serve's watched ones are; the L40S NodePool takes the pod no node can.
 * The malformed one is skipped with a note naming where it is. */
static void test_golden_nodepools(void **state)
{
    const GoldenCase c = {"nodepools", "pod-l40s.yaml", "cluster-nodepools.yaml", NULL, 3};
    g_autofree char *err = NULL;
    json_t *doc = run_case(&c, &err);
    json_t *up = json_object_get(placement(doc, 0), "scaleUp");
    assert_true(json_is_true(json_object_get(up, "fits")));
    assert_string_equal(json_string_value(json_object_get(up, "template")), "l40s-use1");
    assert_string_equal(json_string_value(json_object_get(up, "sku")), "NVIDIA-L40S");
    /* gpu (v1, no product), default (v1beta1, limits.resources), l40s-use1 */
    assert_int_equal(json_integer_value(json_object_get(up, "templates")), 3);
    assert_non_null(strstr(err, "note: cluster-nodepools.yaml:100:3: skipped, not counted as a "
                                "pool that can grow: NodePool broken: "));
    json_decref(doc);
}

/* ---- usage and input errors: exit 2, a message, nothing on stdout ---- */

static void test_input_errors(void **state)
{
    g_autofree char *dir = cli_dir();
    const struct {
        const char *args[10];
        const char *message; /* on stderr */
    } cases[] = {
        {{"--cluster", "cluster.yaml", "--pod", "missing.yaml", NULL}, "missing.yaml"},
        {{"--cluster", "cluster.yaml", "--pod", "bad.yaml", NULL}, "bad.yaml:"},
        {{"--cluster", "cluster.yaml", "--policy", "policy-bad.yaml", "--pod", "pod-basic.yaml",
          NULL},
         "maxLatncyMs"},
        {{"--cluster", "cluster.yaml", "--policy", "missing-policy.yaml", "--pod", "pod-basic.yaml",
          NULL},
         "invalid policy"},
        {{"--cluster", "missing-cluster.yaml", "--pod", "pod-basic.yaml", NULL},
         "missing-cluster.yaml"},
        {{"--cluster", "bad.yaml", "--pod", "pod-basic.yaml", NULL}, "bad.yaml"},
        {{"--pod", "pod-basic.yaml", NULL}, "exactly one of"},
        {{"--demo", "--cluster", "cluster.yaml", "--pod", "pod-basic.yaml", NULL},
         "exactly one of"},
        {{"--cluster", "cluster.yaml", "--pod", "pod-basic.yaml", "-o", "xml", NULL}, "-o must be"},
        {{"--cluster", "cluster.yaml", NULL}, "--pod FILE is required"},
        {{"--cluster", "cluster.yaml", "--pod", "pod-basic.yaml", "extra", NULL},
         "unexpected argument"},
        {{"--cluster", "cluster.yaml", "--frobnicate", NULL}, "frobnicate"},
        {{"--cluster", "cluster.yaml", "--pod", "pod-bad-quantity.yaml", NULL}, "nvidia.com/gpu"},
        {{"--cluster", "cluster.yaml", "--pod", "no-pods.yaml", NULL},
         "no Pod or pod template found"},
        {{"--cluster", "cluster.yaml", "--pod", "pod-basic.yaml", "--pod", "bad.yaml", NULL},
         "bad.yaml"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        Run r;
        run_score(&r, dir, cases[i].args);
        if (r.status != 2 || !strstr(r.err, cases[i].message) || *r.out) {
            fail_msg("case %u (%s ...): exit %d, want 2 with '%s' on stderr and nothing on "
                     "stdout\nstderr: %s\nstdout: %.200s",
                     i, cases[i].args[0], r.status, cases[i].message, r.err, r.out);
        }
        run_clear(&r);
    }
    /* The note for a skipped kind comes with the error. */
    Run r;
    run_score(&r, dir, (const char *const[]){"--demo", "--pod", "no-pods.yaml", NULL});
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "skipped a ConfigMap document: not a workload"));
    run_clear(&r);

    /* A kind carrying a terminal escape sequence (and a C1 control) is
     * named in the note with those characters escaped, never raw. */
    g_autofree char *tmp = g_dir_make_tmp("fp-cli-XXXXXX", NULL);
    g_autofree char *evil = g_build_filename(tmp, "evil.yaml", NULL);
    const char *yaml = "apiVersion: v1\nkind: \"Evil\\e]0;owned\\a\\e[31m\\x9b2J\"\n"
                       "metadata: {name: x}\n";
    assert_true(g_file_set_contents(evil, yaml, -1, NULL));
    run_score(&r, tmp, (const char *const[]){"--demo", "--pod", "evil.yaml", NULL});
    assert_int_equal(r.status, 2);
    assert_null(strchr(r.err, '\x1b'));
    assert_null(strchr(r.err, '\a'));
    assert_null(strstr(r.err, "\xc2\x9b"));
    assert_non_null(strstr(r.err, "Evil\\x1b]0;owned\\x07\\x1b[31m\\x9b2J"));
    run_clear(&r);
    g_unlink(evil);
    g_rmdir(tmp);
}

/* ---- the public manifests and Node objects (../shared/data) ------------ */

/* Every manifest either gets a placement against the demo cluster (exit 0
 * or 3, a JSON document), or is refused as input (exit 2) with a note for
 * each kind without a pod template or a file:line:column syntax error.
 * Never a crash, never exit 1. */
static void test_shared_pods(void **state)
{
    char *dir_path = fp_test_shared_data("pods");
    if (!dir_path) {
        FP_SKIP("shared-data", "../shared/data/pods not present (set FP_SHARED_DATA)");
    }
    GDir *dir = g_dir_open(dir_path, 0, NULL);
    assert_non_null(dir);
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
    const char *entry;
    while ((entry = g_dir_read_name(dir))) {
        if (g_str_has_suffix(entry, ".yaml") || g_str_has_suffix(entry, ".yml")) {
            g_ptr_array_add(files, g_strdup(entry));
        }
    }
    g_dir_close(dir);
    g_ptr_array_sort(files, cmp_strp);
    guint placed = 0, refused = 0;
    for (guint i = 0; i < files->len; i++) {
        const char *name = g_ptr_array_index(files, i);
        g_autofree char *path = g_build_filename(dir_path, name, NULL);
        Run r;
        run_score(&r, NULL, (const char *const[]){"--demo", "--pod", path, "-o", "json", NULL});
        if (r.status == 0 || r.status == 3) {
            json_t *doc = parse_output(&r);
            json_t *all = json_object_get(doc, "placements");
            assert_true(json_array_size(all) >= 1);
            size_t k;
            json_t *p;
            json_array_foreach(all, k, p)
            {
                /* Every demo node is accounted for, once. */
                size_t nodes = json_array_size(json_object_get(p, "feasible"));
                size_t g;
                json_t *group;
                json_array_foreach(json_object_get(p, "rejected"), g, group)
                {
                    nodes += json_array_size(json_object_get(group, "nodes"));
                }
                assert_int_equal(nodes, 12);
                bool feasible = json_array_size(json_object_get(p, "feasible")) > 0;
                assert_true(feasible || r.status == 3);
            }
            json_decref(doc);
            placed++;
        } else if (r.status == 2) {
            bool skipped_kind = strstr(r.err, "skipped") != NULL &&
                                strstr(r.err, "no Pod or pod template found") != NULL;
            g_autofree char *located = g_strdup_printf("%s:", path);
            bool syntax = strstr(r.err, located) != NULL;
            if (!skipped_kind && !syntax) {
                fail_msg("%s: exit 2 without a note or a located error:\n%s", name, r.err);
            }
            print_message("refused %s: %s", name, skipped_kind ? "no pod template\n" : r.err);
            refused++;
        } else {
            fail_msg("%s: exit %d\n%s", name, r.status, r.err);
        }
        run_clear(&r);
    }
    print_message("%u manifests placed, %u refused as input\n", placed, refused);
    assert_true(placed >= files->len / 2);
    g_ptr_array_unref(files);
    g_free(dir_path);
}

/* Specific outcomes for a few real manifests. */
static void test_shared_pod_outcomes(void **state)
{
    char *gemma = fp_test_shared_data("pods/gke-samples__vllm-gemma2-2b-it-l4.yaml");
    char *torch = fp_test_shared_data("pods/kserve__isvc-torchserve-gpu.yaml");
    char *lws = fp_test_shared_data("pods/gke-samples__vllm-llama3-405b-multihost-lws-a3.yaml");
    char *kaito = fp_test_shared_data("pods/kaito__workspace-accelerator.yaml");
    if (!gemma || !torch || !lws || !kaito) {
        g_free(gemma);
        g_free(torch);
        g_free(lws);
        g_free(kaito);
        FP_SKIP("shared-data", "../shared/data/pods not present (set FP_SHARED_DATA)");
    }
    /* One nvidia.com/gpu with a GKE accelerator nodeSelector no demo node
     * carries: kube-scheduler rejects every node, flexplace none. */
    Run r;
    run_score(&r, NULL, (const char *const[]){"--demo", "--pod", gemma, "-o", "json", NULL});
    assert_int_equal(r.status, 3);
    assert_non_null(strstr(r.err, "skipped a Service document"));
    json_t *doc = parse_output(&r);
    json_t *p = placement(doc, 0);
    json_t *demand = json_object_get(p, "demand");
    assert_string_equal(json_string_value(json_object_get(demand, "resource")), "nvidia.com/gpu");
    assert_int_equal(json_integer_value(json_object_get(demand, "count")), 1);
    assert_feasible(p, "");
    size_t i;
    json_t *group;
    bool selector = false;
    json_array_foreach(json_object_get(p, "rejected"), i, group)
    {
        assert_string_equal(json_string_value(json_object_get(group, "by")), "kube-scheduler");
        selector |= g_str_equal(json_string_value(json_object_get(group, "reason")),
                                "node(s) didn't match Pod's node affinity/selector");
    }
    assert_true(selector);
    json_decref(doc);
    run_clear(&r);

    /* KServe InferenceService: the predictor's GPU limit. */
    run_score(&r, NULL, (const char *const[]){"--demo", "--pod", torch, "-o", "json", NULL});
    assert_int_equal(r.status, 0);
    doc = parse_output(&r);
    demand = json_object_get(placement(doc, 0), "demand");
    assert_string_equal(json_string_value(json_object_get(demand, "resource")), "nvidia.com/gpu");
    assert_int_equal(json_integer_value(json_object_get(demand, "count")), 1);
    json_decref(doc);
    run_clear(&r);

    /* LeaderWorkerSet: the worker template's 8 GPUs. */
    run_score(&r, NULL, (const char *const[]){"--demo", "--pod", lws, "-o", "json", NULL});
    assert_int_equal(r.status, 3);
    doc = parse_output(&r);
    demand = json_object_get(placement(doc, 0), "demand");
    assert_int_equal(json_integer_value(json_object_get(demand, "count")), 8);
    json_decref(doc);
    run_clear(&r);

    /* A KAITO Workspace with a preset and no instance type: the pod KAITO
     * would make asks resource.partition.count (2) GPUs, with node affinity
     * on the labelSelector no demo node carries. */
    run_score(&r, NULL, (const char *const[]){"--demo", "--pod", kaito, "-o", "json", NULL});
    assert_int_equal(r.status, 3);
    assert_non_null(strstr(r.err, "preset llama-3.1-8b-instruct without resource.instanceType"));
    doc = parse_output(&r);
    demand = json_object_get(placement(doc, 0), "demand");
    assert_int_equal(json_integer_value(json_object_get(demand, "count")), 2);
    assert_rejected(placement(doc, 0), "kube-scheduler",
                    "node(s) didn't match Pod's node affinity/selector",
                    "aks-gpua100-1,aks-gpua100-2,aks-gput4-1,aws-use1-h100-1,aws-use1-l4-1,"
                    "aws-use1-l4-2,aws-use1-l4-3,aws-usw2-a10g-1,aws-usw2-a10g-2,gke-l4-pool-1");
    json_decref(doc);
    run_clear(&r);
    g_free(gemma);
    g_free(torch);
    g_free(lws);
    g_free(kaito);
}

/* A cluster file made of the real Node objects (Run:ai's fake GPU operator
 * on GCE: a 2x Tesla-T4 node and an A100 in three MIG layouts) joined with
 * '---': a 1-GPU pod fits the T4 node only (the MIG node offers no whole
 * nvidia.com/gpu). */
static void test_shared_nodes(void **state)
{
    char *dir_path = fp_test_shared_data("nodes");
    if (!dir_path) {
        FP_SKIP("shared-data", "../shared/data/nodes not present (set FP_SHARED_DATA)");
    }
    GDir *dir = g_dir_open(dir_path, 0, NULL);
    assert_non_null(dir);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *entry;
    while ((entry = g_dir_read_name(dir))) {
        if (g_str_has_prefix(entry, "runai-fake-gpu-operator__") &&
            g_str_has_suffix(entry, ".yaml")) {
            g_ptr_array_add(names, g_strdup(entry));
        }
    }
    g_dir_close(dir);
    g_ptr_array_sort(names, cmp_strp);
    assert_true(names->len >= 2);
    GString *all = g_string_new(NULL);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *path = g_build_filename(dir_path, g_ptr_array_index(names, i), NULL);
        g_autofree char *text = fp_test_read_file(path, NULL);
        g_string_append_printf(all, "%s%s\n", i ? "---\n" : "", text);
    }
    g_autoptr(GError) error = NULL;
    g_autofree char *tmp = g_dir_make_tmp("flexplace-cli-XXXXXX", &error);
    assert_non_null(tmp);
    g_autofree char *cluster = g_build_filename(tmp, "nodes.yaml", NULL);
    assert_true(g_file_set_contents(cluster, all->str, (gssize)all->len, NULL));
    g_string_free(all, TRUE);
    g_autofree char *pod = fp_test_data_path("cli/pod-basic.yaml");
    Run r;
    run_score(&r, NULL,
              (const char *const[]){"--cluster", cluster, "--pod", pod, "-o", "json", NULL});
    assert_int_equal(r.status, 0);
    json_t *doc = parse_output(&r);
    json_t *p = placement(doc, 0);
    json_t *best = json_array_get(json_object_get(p, "feasible"), 0);
    assert_string_equal(json_string_value(json_object_get(best, "sku")), "Tesla-T4");
    assert_int_equal(json_integer_value(json_object_get(best, "gpusFree")), 2);
    assert_int_equal(json_array_size(json_object_get(p, "feasible")), 1);
    assert_rejected(p, "kube-scheduler", "Insufficient nvidia.com/gpu", "qa-mig-worker-gpu-a100");
    json_decref(doc);
    run_clear(&r);
    g_unlink(cluster);
    g_rmdir(tmp);
    g_ptr_array_unref(names);
    g_free(dir_path);
}

/* ---- the server and the CLI agree ------------------------------------- */

static FpApp *server_start(const char *cluster, const char *policy)
{
    return fp_test_app_start(cluster, NULL, policy);
}

static json_t *post(guint16 port, const char *path, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    FpTestHttpReply reply = {0};
    assert_true(fp_test_http_post(port, path, text, strlen(text), &reply));
    free(text);
    if (reply.status != 200) {
        fail_msg("POST %s: status %ld: %s", path, reply.status, reply.body);
    }
    json_t *v = json_loadb(reply.body, reply.body_len, 0, NULL);
    assert_non_null(v);
    fp_test_http_reply_clear(&reply);
    return v;
}

static json_t *names_args(json_t *pod, json_t *names)
{
    return json_pack("{s:O, s:n, s:O}", "Pod", pod, "Nodes", "NodeNames", names);
}

/* The server's reason for @node in a filter reply, or NULL when it passed. */
static const char *server_reason(json_t *filter, const char *node)
{
    const char *maps[] = {"FailedNodes", "FailedAndUnresolvableNodes"};
    for (guint m = 0; m < 2; m++) {
        json_t *r = json_object_get(json_object_get(filter, maps[m]), node);
        if (r) {
            return json_string_value(r);
        }
    }
    return NULL;
}

/* Scores of a prioritize reply by host. */
static GHashTable *scores_of(json_t *prio)
{
    GHashTable *t = g_hash_table_new(g_str_hash, g_str_equal);
    size_t i;
    json_t *e;
    json_array_foreach(prio, i, e)
    {
        g_hash_table_insert(t, (gpointer)json_string_value(json_object_get(e, "Host")),
                            GINT_TO_POINTER((int)json_integer_value(json_object_get(e, "Score"))));
    }
    return t;
}

/* Compare one pod's CLI placement with the server's filter and prioritize
 * answers for every node; returns whether both saw the same candidates
 * (then prioritize on every node gives the CLI's scores too). */
static bool agree(guint16 port, json_t *pod, json_t *p, json_t *all_names)
{
    const char *pod_name =
        json_string_value(json_object_get(json_object_get(pod, "metadata"), "name"));
    json_t *args = names_args(pod, all_names);
    json_t *filter = post(port, "/filter", args);
    json_decref(args);
    assert_true(json_is_null(json_object_get(filter, "Nodes")));
    assert_string_equal(json_string_value(json_object_get(filter, "Error")), "");

    /* The CLI's feasible nodes pass the server's filter; every node the
     * server passes that the CLI did not is one kube-scheduler rejects; a
     * node the CLI says flexplace rejected, the server rejects for the same
     * reason. */
    GHashTable *passed = g_hash_table_new(g_str_hash, g_str_equal);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(filter, "NodeNames"), i, v)
    {
        g_hash_table_add(passed, (gpointer)json_string_value(v));
    }
    GHashTable *kube_rejected = g_hash_table_new(g_str_hash, g_str_equal);
    json_t *group;
    json_array_foreach(json_object_get(p, "rejected"), i, group)
    {
        const char *by = json_string_value(json_object_get(group, "by"));
        const char *reason = json_string_value(json_object_get(group, "reason"));
        size_t k;
        json_array_foreach(json_object_get(group, "nodes"), k, v)
        {
            const char *node = json_string_value(v);
            if (g_str_equal(by, "kube-scheduler")) {
                g_hash_table_add(kube_rejected, (gpointer)node);
                /* Too few GPUs for kube-scheduler: the server rejects it
                 * too (perhaps for an earlier filter), and the GPU count
                 * as a resolvable failure (FailedNodes). */
                const char *sr = server_reason(filter, node);
                if (g_str_equal(reason, "Insufficient nvidia.com/gpu") &&
                    (!sr || (g_str_equal(sr, "insufficient free GPUs") &&
                             !json_object_get(json_object_get(filter, "FailedNodes"), node)))) {
                    fail_msg("%s on %s: kube-scheduler's '%s', the server's '%s'", pod_name, node,
                             reason, sr);
                }
            } else if (g_strcmp0(server_reason(filter, node), reason) != 0) {
                fail_msg("%s on %s: CLI says flexplace rejects it for '%s', the server says '%s'",
                         pod_name, node, reason, server_reason(filter, node));
            }
        }
    }
    json_t *feasible = json_object_get(p, "feasible");
    json_t *cli_names = json_array();
    json_array_foreach(feasible, i, v)
    {
        const char *node = json_string_value(json_object_get(v, "node"));
        if (!g_hash_table_contains(passed, node)) {
            fail_msg("%s: CLI finds %s feasible, the server's filter rejects it: %s", pod_name,
                     node, server_reason(filter, node));
        }
        json_array_append_new(cli_names, json_string(node));
    }
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, passed);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        bool in_cli = false;
        json_array_foreach(cli_names, i, v)
        {
            in_cli |= g_str_equal(json_string_value(v), key);
        }
        if (!in_cli && !g_hash_table_contains(kube_rejected, key)) {
            fail_msg("%s: the server passes %s, the CLI neither ranks it nor has kube-scheduler "
                     "reject it",
                     pod_name, (char *)key);
        }
    }
    bool same_candidates = g_hash_table_size(passed) == json_array_size(cli_names);

    /* Prioritize as kube-scheduler calls it (only the nodes that passed
     * every filter), and with every node name: the CLI's integer scores. */
    for (guint round = 0; round < 2; round++) {
        if (round == 1 && !same_candidates) {
            break;
        }
        json_t *names = round == 0 ? cli_names : all_names;
        args = names_args(pod, names);
        json_t *prio = post(port, "/prioritize", args);
        json_decref(args);
        /* A node scored 0 may be left out (kube-scheduler adds nothing
         * for it either way). */
        assert_true(json_array_size(prio) <= json_array_size(names));
        GHashTable *scores = scores_of(prio);
        json_array_foreach(feasible, i, v)
        {
            const char *node = json_string_value(json_object_get(v, "node"));
            int want = (int)json_integer_value(json_object_get(v, "score"));
            gpointer got = GINT_TO_POINTER(0);
            if (!g_hash_table_lookup_extended(scores, node, NULL, &got) && want != 0) {
                fail_msg("%s: no score for %s", pod_name, node);
            }
            if (GPOINTER_TO_INT(got) != want) {
                fail_msg("%s on %s: server scores %d (%s), the CLI %d", pod_name, node,
                         GPOINTER_TO_INT(got), round ? "every node" : "feasible nodes", want);
            }
        }
        g_hash_table_unref(scores);
        json_decref(prio);
    }
    json_decref(cli_names);
    g_hash_table_unref(kube_rejected);
    g_hash_table_unref(passed);
    json_decref(filter);
    return same_candidates;
}

static void test_server_agrees(void **state)
{
    g_autofree char *dir = cli_dir();
    g_autofree char *cluster = g_build_filename(dir, "cluster.yaml", NULL);
    g_autofree char *policy_in = g_build_filename(dir, "policy.yaml", NULL);
    /* The same policy without the short list, so that the server reports
     * every rejected node with its reason even when some pass (the short
     * list itself is test_it_extender's). */
    g_autofree char *text = NULL;
    assert_true(g_file_get_contents(policy_in, &text, NULL, NULL));
    g_autofree char *policy = NULL;
    int fd = g_file_open_tmp("fp-cli-policy-XXXXXX.yaml", &policy, NULL);
    assert_true(fd >= 0);
    close(fd);
    g_autofree char *no_short = g_strconcat(text, "shortList: 0\n", NULL);
    assert_true(g_file_set_contents(policy, no_short, -1, NULL));
    FpApp *app = server_start(cluster, policy);
    guint16 port = fp_http_server_port(app->http);
    const char *files[] = {"pod-basic.yaml", "pod-selector.yaml", "pod-affinity.yaml",
                           "pods-flexplace.yaml", "pod-invalid-annotation.yaml"};
    guint pods = 0, same = 0;
    for (guint f = 0; f < G_N_ELEMENTS(files); f++) {
        Run r;
        run_score(&r, dir,
                  (const char *const[]){"--cluster", "cluster.yaml", "--policy", "policy.yaml",
                                        "--pod", files[f], "-o", "json", NULL});
        assert_true(r.status == 0 || r.status == 3);
        json_t *doc = parse_output(&r);
        run_clear(&r);
        /* Every node name, in the order the CLI saw them. */
        json_t *p0 = placement(doc, 0);
        GPtrArray *all = g_ptr_array_new();
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(p0, "feasible"), i, v)
        {
            g_ptr_array_add(all, (gpointer)json_string_value(json_object_get(v, "node")));
        }
        json_t *group;
        json_array_foreach(json_object_get(p0, "rejected"), i, group)
        {
            size_t k;
            json_array_foreach(json_object_get(group, "nodes"), k, v)
            {
                g_ptr_array_add(all, (gpointer)json_string_value(v));
            }
        }
        g_ptr_array_sort(all, cmp_strp);
        json_t *all_names = json_array();
        for (guint k = 0; k < all->len; k++) {
            json_array_append_new(all_names, json_string(g_ptr_array_index(all, k)));
        }
        g_ptr_array_unref(all);
        assert_int_equal(json_array_size(all_names), 10);

        g_autofree char *path = g_build_filename(dir, files[f], NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(FpDocs) docs = fp_docs_load_file(path, 1 << 20, &error);
        assert_non_null(docs);
        assert_int_equal(fp_docs_count(docs), json_array_size(json_object_get(doc, "placements")));
        for (guint d = 0; d < fp_docs_count(docs); d++) {
            same += agree(port, fp_docs_get(docs, d), placement(doc, d), all_names);
            pods++;
        }
        json_decref(all_names);
        json_decref(doc);
    }
    print_message("%u pods: server and CLI agree; %u with identical candidate sets\n", pods, same);
    assert_int_equal(pods, 9);
    assert_int_equal(same, 6); /* pods-flexplace.yaml (5) and the invalid annotation */
    fp_app_free(app);
    g_unlink(policy);
}

/* `serve`'s flags as fp_serve_parse_args reads them: NULL when they parse,
 * else the error message (g_free it). */
static char *serve_flags_error(const char *const *flags)
{
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, (gpointer) "serve");
    for (guint i = 0; flags[i]; i++) {
        g_ptr_array_add(argv, (gpointer)flags[i]);
    }
    g_ptr_array_add(argv, NULL);
    FpAppConfig cfg;
    fp_app_config_init(&cfg);
    GError *error = NULL;
    gboolean ok = fp_serve_parse_args((int)argv->len - 1, (char **)argv->pdata, &cfg, &error);
    fp_app_config_clear(&cfg);
    g_ptr_array_unref(argv);
    char *msg = ok ? NULL : g_strdup(error->message);
    g_clear_error(&error);
    return msg;
}

/* Every numeric flag of serve is range-checked with a message that names
 * it (no undefined double-to-integer conversion, no sub-millisecond bind
 * timeout that libcurl would read as "none"), and the bind timeout must
 * leave room under kube-scheduler's httpTimeout. */
static void test_serve_flag_ranges(void **state)
{
    (void)state;
    static const struct {
        const char *flags[5];
        const char *expect; /* in the error; NULL: accepted */
    } cases[] = {
        {{"--bind-timeout", "1e300"}, "--bind-timeout must be between"},
        {{"--bind-timeout", "0.0001"}, "--bind-timeout must be between"},
        {{"--bind-timeout", "nan"}, "--bind-timeout must be between"},
        {{"--bind-timeout", "4.5"}, "leaves no room under kube-scheduler's httpTimeout of 5 s"},
        {{"--bind-timeout", "4.5", "--scheduler-http-timeout", "10"}, NULL},
        {{"--bind-timeout", "4"}, NULL},
        {{"--assume-ttl", "1e300"}, "--assume-ttl must be between"},
        {{"--assume-ttl", "-inf"}, "--assume-ttl must be between"},
        {{"--assume-ttl", "3"}, "must be longer than kube-scheduler's httpTimeout"},
        {{"--request-timeout", "0"}, "--request-timeout must be between 1 s"},
        {{"--max-connections-per-address", "0"}, "--max-connections-per-address"},
        {{"--max-connections", "100001"}, "--max-connections must be between"},
        {{"--stale-after", "-1"}, "--stale-after"},
        {{"--verbosity", "99"}, "--verbosity"},
        {{"--max-body-mib", "0"}, "--max-body-mib"},
        {{"--request-timeout", "2", "--max-connections-per-address", "64"}, NULL},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *e = serve_flags_error(cases[i].flags);
        if (cases[i].expect == NULL) {
            if (e) {
                fail_msg("case %u refused: %s", i, e);
            }
            continue;
        }
        if (!e || !strstr(e, cases[i].expect)) {
            fail_msg("case %u (%s %s): expected '%s', got '%s'", i, cases[i].flags[0],
                     cases[i].flags[1], cases[i].expect, e ? e : "(accepted)");
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_basic),
        cmocka_unit_test(test_json_short_list),
        cmocka_unit_test(test_golden_selector_affinity),
        cmocka_unit_test(test_golden_flexplace),
        cmocka_unit_test(test_golden_workloads),
        cmocka_unit_test(test_golden_invalid_annotation),
        cmocka_unit_test(test_golden_preemption),
        cmocka_unit_test(test_golden_scale_up),
        cmocka_unit_test(test_golden_nodepools),
        cmocka_unit_test(test_input_errors),
        cmocka_unit_test(test_shared_pods),
        cmocka_unit_test(test_shared_pod_outcomes),
        cmocka_unit_test(test_shared_nodes),
        cmocka_unit_test(test_server_agrees),
        cmocka_unit_test(test_serve_flag_ranges),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
