/*
 * cache/constraints_view.h - flexplace's hard constraints on a pod over what
 * the cluster view (and the pool templates) can offer.
 *
 * Purpose: collect the kinds of node a pod could get - one offer per
 * distinct (pool, region, device product, capacity type, device memory,
 * device price, shared, product and memory label values; a node without a
 * pool label is an offer of its own, by hostname) among the view's
 * nodes that list the demand's GPU resource, with the facts of that
 * resource's device class (the node's GPU inventory, computed under
 * @policy when the view's was another), plus the caller's pool templates
 * (nodes an autoscaler can add; those of another resource are not
 * accepted) - and compute
 * scoring/constraints.h over them.  The view's read lock is held only while
 * the offers are gathered and the pure computation runs.
 *
 * Ownership: returns a new FpConstraints (fp_constraints_free).  @templates
 * are borrowed for the call.
 * Thread context: any thread.
 */
#ifndef FP_CACHE_CONSTRAINTS_VIEW_H
#define FP_CACHE_CONSTRAINTS_VIEW_H

#include "cache/view.h"
#include "scoring/constraints.h"

G_BEGIN_DECLS

FpConstraints *fp_view_constraints(FpView *view, const FpPolicy *policy, const FpDemand *demand,
                                   const FpOffer *templates, guint n_templates, bool preferred);

G_END_DECLS

#endif /* FP_CACHE_CONSTRAINTS_VIEW_H */
