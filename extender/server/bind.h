/*
 * extender/server/bind.h - the bind verb (see bind.c for the sequence and why).
 *
 * Thread context: HTTP pool threads; the Binding POST is the one blocking
 * network call on the request path, bounded by --bind-timeout.
 */
#ifndef FP_EXTENDER_BIND_H
#define FP_EXTENDER_BIND_H

#include <glib.h>

#include "extender/server/app.h"
#include "extender/wire/protocol.h"

G_BEGIN_DECLS

typedef enum {
    FP_BIND_OK,      /* bound (or found already bound to that node) */
    FP_BIND_REFUSED, /* flexplace refused: node no longer fits, not ready, bad args */
    FP_BIND_FAILED,  /* the API server did not bind it; the assumption was rolled back */
} FpBindOutcome;

/* Bind @args' pod.  On anything but FP_BIND_OK, *error_text receives the
 * message for ExtenderBindingResult.Error (g_free it). */
FpBindOutcome fp_bind(FpApp *app, const FpBindingArgs *args, char **error_text);

/* The flexplace.io/placement annotation value for a verdict (g_free it). */
char *fp_placement_summary(const FpVerdict *v, const char *node, guint64 policy_generation);

G_END_DECLS

#endif
