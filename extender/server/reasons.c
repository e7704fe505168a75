/*
 * extender/server/reasons.c - rejections by reason (see reasons.h).
 */
#include "extender/server/reasons.h"

#define MAX_DISTINCT 32

guint fp_count_reasons(const FpPlacement *p, FpReasonFn fn, void *data)
{
    const char *reasons[MAX_DISTINCT];
    guint counts[MAX_DISTINCT];
    guint n_reasons = 0;
    if (p->reasons_counted) {
        /* counted when the placement was built (placement.h) */
        for (guint k = 0; k < p->n_reasons; k++) {
            fn(p->reasons[k], p->reason_counts[k], data);
        }
        return p->passed;
    }
    guint passed = 0;
    for (guint i = 0; i < p->n; i++) {
        const FpVerdict *v = &p->verdicts[i];
        if (v->pass) {
            passed++;
            continue;
        }
        const char *r = v->reason ? v->reason : "rejected";
        guint k = 0;
        while (k < n_reasons && reasons[k] != r) {
            k++;
        }
        if (k == n_reasons) {
            if (n_reasons == MAX_DISTINCT) {
                fn(r, 1, data);
                continue;
            }
            reasons[n_reasons] = r;
            counts[n_reasons++] = 0;
        }
        counts[k]++;
    }
    for (guint k = 0; k < n_reasons; k++) {
        fn(reasons[k], counts[k], data);
    }
    return passed;
}
