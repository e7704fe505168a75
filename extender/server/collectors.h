/*
 * extender/server/collectors.h - flexplace's scrape-time metrics: the
 * cluster view (objects, sync, age, assumed GPUs), the policy store
 * (generation, reloads), the informers (restarts, relists, events, decode
 * errors), GPU pools (allocatable, used, assumed by pool, region and SKU)
 * and the HTTP servers' bounds (rejections, connections, buffered bodies,
 * TLS reloads and expiry).
 *
 * Ownership: the sources are borrowed and read at every scrape: they must
 * outlive the registry.  Thread context: the scraping thread; each source
 * takes its own lock, the server slots are read atomically.
 */
#ifndef FP_EXTENDER_COLLECTORS_H
#define FP_EXTENDER_COLLECTORS_H

#include <glib.h>
#include <stdbool.h>

#include "cache/informer.h"
#include "cache/view.h"
#include "extender/http/http_server.h"
#include "extender/obs/metrics.h"
#include "extender/server/policy_match.h"
#include "policies/policy_store.h"

G_BEGIN_DECLS

typedef struct {
    FpView *view;
    FpPolicyStore *policies;
    FpInformer *informer; /* NULL when serving a snapshot: the watch families read 0 */
    /* Where the servers are published (g_atomic_pointer_set) once they
     * start; NULL slots are skipped. */
    FpHttpServer **http;
    FpHttpServer **http_metrics;
    bool tls;             /* serving TLS: the certificate families render */
    FpPolicyMatch *match; /* the policy's unmatched names; may be NULL */
} FpServerSources;

/* Register the collectors in @m, reading @src (not copied) at each scrape. */
void fp_server_collectors_add(FpMetrics *m, const FpServerSources *src);

G_END_DECLS

#endif /* FP_EXTENDER_COLLECTORS_H */
