/*
 * test/test_simulate_devices.c - `flexplace simulate` on a mixed GPU fleet:
 * whole GPUs, MIG slices, time-sliced replicas, AMD, a node known only by
 * its instance type, and spot capacity (test/data/devices/).
 *
 * The policy weighs cost only, so where each replica should go follows from
 * the devices' prices: this test computes the expected placements itself,
 * greedily (the cheapest devices with room that the pod may use; among
 * equal prices kube-scheduler, and so simulate, picks at random), from its
 * own table of the fleet's devices and public prices, and checks what the
 * binary placed, replica by replica.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "support/support.h"

/* One device class of the fleet, as the test knows it. */
typedef struct {
    const char *node;
    const char *resource;
    int capacity;
    double price;      /* per device-hour */
    double memory_gib; /* per device */
    bool shared;       /* time-sliced: no memory isolation */
    bool spot;
} Device;

/* Prices: gpu_prices.csv (AWS us-east-1 Price List API via karpenter, 2026-07-20:
 * g4dn.xlarge 0.526 for one T4, g5.xlarge 1.006 for one A10G, g6.xlarge 0.8048
 * for one L4 (the SKU table's), g6.12xlarge 4.6016 / 4 per L4 (a node's own
 * instance type in its region wins over the SKU table's), p4d.24xlarge
 * 21.957642 / 8 per A100-40GB; Azure eastus2
 * Standard_ND96isr_MI300X_v5 48.0 / 8), shared and MIG devices a fraction of
 * their GPU (1/4 and 1/7), spot at the default factor 0.4. */
static const Device fleet[] = {
    {"a100-mig", "nvidia.com/mig-1g.5gb", 7, 21.957642 / 8 / 7, 4.75, false, false},
    {"a10g-spot", "nvidia.com/gpu", 1, 1.006 * 0.4, 24, false, true},
    {"g6-itype", "nvidia.com/gpu", 4, 4.6016 / 4, 24, false, false},
    {"l4-whole", "nvidia.com/gpu", 2, 0.8048, 24, false, false},
    {"mi300x", "amd.com/gpu", 8, 6.0, 192, false, false},
    {"t4-shared", "nvidia.com/gpu", 4, 0.526 / 4, 16, true, false},
};

typedef struct {
    const char *file;
    const char *resource;
    int count;
    double min_memory_gib;
    bool allow_shared;
    bool avoid_spot;
} PodSpec;

static bool usable(const PodSpec *pod, const Device *d, int free_gpus)
{
    return strcmp(d->resource, pod->resource) == 0 && free_gpus >= pod->count &&
           !(d->shared && !pod->allow_shared) && !(d->spot && pod->avoid_spot) &&
           d->memory_gib >= pod->min_memory_gib;
}

/* Whether @node is one of the cheapest usable devices with room now (the
 * set kube-scheduler picks from at random: equal prices are exact ties);
 * with @node NULL, whether none is usable. */
static bool expected(const PodSpec *pod, const int *free_, const char *node, GString *want)
{
    double best = -1;
    for (guint k = 0; k < G_N_ELEMENTS(fleet); k++) {
        if (usable(pod, &fleet[k], free_[k]) && (best < 0 || fleet[k].price < best - 1e-12)) {
            best = fleet[k].price;
        }
    }
    bool ok = best < 0 && !node;
    for (guint k = 0; k < G_N_ELEMENTS(fleet); k++) {
        if (best >= 0 && usable(pod, &fleet[k], free_[k]) && fleet[k].price < best + 1e-12) {
            g_string_append_printf(want, "%s%s", want->len ? " or " : "", fleet[k].node);
            ok |= g_strcmp0(node, fleet[k].node) == 0;
        }
    }
    return ok;
}

static void check(const PodSpec *pod, guint replicas)
{
    g_autofree char *dir = fp_test_data_path("devices");
    g_autofree char *reps = g_strdup_printf("%u", replicas);
    const char *args[] = {"-o",    "json",    "--cluster",  "fleet.yaml", "--policy", "policy.yaml",
                          "--pod", pod->file, "--replicas", reps,         NULL};
    FpTestRun r;
    fp_test_run_flexplace(&r, dir, "simulate", args);
    json_error_t err;
    json_t *doc = json_loads(r.out, 0, &err);
    if (!doc) {
        fail_msg("%s: not JSON (%s); stderr: %s", pod->file, err.text, r.err);
    }
    int free_[G_N_ELEMENTS(fleet)];
    for (guint k = 0; k < G_N_ELEMENTS(fleet); k++) {
        free_[k] = fleet[k].capacity;
    }
    json_t *placements = json_object_get(doc, "placements");
    assert_int_equal(json_array_size(placements), replicas);
    guint placed = 0;
    for (guint i = 0; i < replicas; i++) {
        const char *got = json_string_value(json_object_get(json_array_get(placements, i), "node"));
        g_autoptr(GString) want = g_string_new(NULL);
        if (!expected(pod, free_, got, want)) {
            fail_msg("%s replica %u: placed on %s, expected %s", pod->file, i, got ? got : "-",
                     want->len ? want->str : "-");
        }
        for (guint k = 0; got && k < G_N_ELEMENTS(fleet); k++) {
            if (strcmp(fleet[k].node, got) == 0 && strcmp(fleet[k].resource, pod->resource) == 0) {
                free_[k] -= pod->count;
            }
        }
        placed += got != NULL;
    }
    assert_int_equal(json_integer_value(json_object_get(doc, "placed")), placed);
    json_decref(doc);
    fp_test_run_clear(&r);
}

/* Whole GPUs with at least 16 GiB: never the time-sliced T4 (a replica is
 * not the GPU the pod asked for), never a MIG slice or an AMD GPU; the
 * instance-type-only node counts with the L4s its type carries. */
static void test_whole_gpu_pods(void **state)
{
    const PodSpec pod = {"pod-whole.yaml", "nvidia.com/gpu", 1, 16, false, false};
    check(&pod, 9);
}

static void test_no_spot_profile(void **state)
{
    const PodSpec pod = {"pod-no-spot.yaml", "nvidia.com/gpu", 1, 0, false, true};
    check(&pod, 9);
}

/* A profile that allows sharing takes the replicas at a quarter of a T4. */
static void test_shared_profile(void **state)
{
    const PodSpec pod = {"pod-shared.yaml", "nvidia.com/gpu", 1, 0, true, false};
    check(&pod, 12);
}

static void test_mig_slices(void **state)
{
    const PodSpec pod = {"pod-mig.yaml", "nvidia.com/mig-1g.5gb", 1, 0, false, false};
    check(&pod, 9);
}

static void test_amd(void **state)
{
    const PodSpec pod = {"pod-amd.yaml", "amd.com/gpu", 2, 180, false, false};
    check(&pod, 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_gpu_pods),
        cmocka_unit_test(test_no_spot_profile),
        cmocka_unit_test(test_shared_profile),
        cmocka_unit_test(test_mig_slices),
        cmocka_unit_test(test_amd),
    };
    return FP_RUN_TESTS(tests, NULL, NULL);
}
