/*
 * test/fuzz/fuzz_podfile.c - the dry run's manifest reader
 * (extender/cli/podfile.h): every kind it derives pods from, Run:ai
 * annotations, and YAML that breaks part-way.
 *
 * Input: YAML or JSON documents (the shared pod manifests and
 * test/data/kinds are seeds).  Whatever the input: no crash; either items
 * or an error with a message; every item a pod with a name, an origin
 * naming the input, 1..1024 copies; group ids never go back; notes
 * bounded.
 */
#include <string.h>

#include "extender/cli/podfile.h"
#include "test/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024) {
        return 0;
    }
    fp_fuzz_init();
    GPtrArray *notes = g_ptr_array_new_with_free_func(g_free);
    GError *error = NULL;
    GPtrArray *items = fp_podfile_parse_items((const char *)data, size, "fuzz.yaml", notes, &error);
    FP_FUZZ_CHECK((items == NULL) == (error != NULL));
    if (error) {
        FP_FUZZ_CHECK(error->message && *error->message);
        g_error_free(error);
    }
    for (guint i = 0; items && i < items->len; i++) {
        const FpPodfileItem *it = g_ptr_array_index(items, i);
        FP_FUZZ_CHECK(it->pod && it->pod->name && it->pod->ns);
        FP_FUZZ_CHECK(it->origin && g_str_has_prefix(it->origin, "fuzz.yaml:"));
        FP_FUZZ_CHECK(it->copies >= 1 && it->copies <= 1024);
        /* A group's members are adjacent: the leader first, then its workers. */
        if (it->group && i > 0) {
            const FpPodfileItem *prev = g_ptr_array_index(items, i - 1);
            FP_FUZZ_CHECK(prev->group == it->group || prev->group < it->group);
        }
    }
    for (guint i = 0; i < notes->len; i++) {
        /* Notes quote names and values from the input, cut short. */
        FP_FUZZ_CHECK(strlen(g_ptr_array_index(notes, i)) < 64 * 1024);
    }
    if (items) {
        g_ptr_array_unref(items);
    }
    g_ptr_array_unref(notes);
    return 0;
}
