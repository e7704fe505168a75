/*
 * extender/server/probes.h - the read-only routes: /healthz, /readyz,
 * /version, /metrics and /debug/decisions.
 *
 * Each handler is an FpHttpHandler whose data is only what it reads (named
 * at each).  Ownership: borrowed; it must outlive the HTTP server.  Thread
 * context: HTTP pool threads, concurrently.
 */
#ifndef FP_EXTENDER_PROBES_H
#define FP_EXTENDER_PROBES_H

#include <glib.h>

#include "extender/http/http_server.h"
#include "extender/server/policy_match.h"
#include "extender/server/readiness.h"
#include "policies/policy_store.h"

G_BEGIN_DECLS

/* What /readyz reports on. */
typedef struct {
    FpReadiness *readiness;
    FpPolicyStore *policies;
    FpPolicyMatch *match; /* the policy's names that match no node; may be NULL */
} FpReadyzEnv;

/* GET /healthz: "ok" while the process serves (data unused). */
void fp_probe_healthz(const FpHttpRequest *req, FpHttpResponse *resp, void *data);
/* GET /readyz: 200 or 503 with the cache and policy status (data: FpReadyzEnv). */
void fp_probe_readyz(const FpHttpRequest *req, FpHttpResponse *resp, void *data);
/* GET /version: {"version": FP_VERSION} (data unused). */
void fp_probe_version(const FpHttpRequest *req, FpHttpResponse *resp, void *data);
/* GET /metrics: the Prometheus text exposition (data: FpMetrics). */
void fp_probe_metrics(const FpHttpRequest *req, FpHttpResponse *resp, void *data);
/* GET /debug/decisions?pod=NAMESPACE/NAME (data: FpDecisionRing). */
void fp_probe_decisions(const FpHttpRequest *req, FpHttpResponse *resp, void *data);

G_END_DECLS

#endif /* FP_EXTENDER_PROBES_H */
