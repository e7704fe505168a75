/*
 * extender/server/reasons.h - count a placement's rejections by reason.
 *
 * Purpose: the filter's metrics and the decision ring both want, per
 * distinct rejection reason, how many nodes it rejected.  Reasons are a
 * handful of static strings, so they are tallied by pointer in a short
 * list (no hashing, no lock) and handed out once each; past the list's
 * length a reason is handed out per node.  Pure; any thread.
 */
#ifndef FP_EXTENDER_REASONS_H
#define FP_EXTENDER_REASONS_H

#include <glib.h>

#include "cache/placement.h"

G_BEGIN_DECLS

/* Receives a reason and how many nodes it rejected. */
typedef void (*FpReasonFn)(const char *reason, guint count, void *data);

/* Call @fn for every distinct reason among @p's rejected verdicts (a
 * verdict without one counts as "rejected"); the same reason may come more
 * than once only past the first 32 distinct ones.  Returns how many
 * verdicts passed. */
guint fp_count_reasons(const FpPlacement *p, FpReasonFn fn, void *data);

G_END_DECLS

#endif /* FP_EXTENDER_REASONS_H */
