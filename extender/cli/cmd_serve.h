/*
 * extender/cli/cmd_serve.h - `flexplace serve`'s flags.
 *
 * The one parser of serve's flags, shared with the manifest checks (which
 * parse the flags a manifest gives the container).
 */
#ifndef FP_EXTENDER_CMD_SERVE_H
#define FP_EXTENDER_CMD_SERVE_H

#include <glib.h>

#include "extender/server/app.h"

G_BEGIN_DECLS

/* Apply `flexplace serve` command-line flags (argv[0] is "serve") to @cfg,
 * which holds defaults or earlier values; validates ranges. */
gboolean fp_serve_parse_args(int argc, char **argv, FpAppConfig *cfg, GError **error);

G_END_DECLS

#endif /* FP_EXTENDER_CMD_SERVE_H */
