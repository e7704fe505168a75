/*
 * extender/server/verbs.c - kube-scheduler's verbs: filter, prioritize, bind
 * and preempt.
 *
 * Every verb runs through run_verb: decode the body outside any lock (a
 * 400, counted by reason, when it does not decode), answer, then count the
 * request and its duration.  filter and prioritize take a policy reference
 * for the whole request (a reload mid-request does not change its answer),
 * evaluate through cache/placement.c (the view's read lock is held only
 * there), encode, then record the decision and log one line.
 */
#include "cache/clock.h"
#include "extender/server/verbs.h"

#include <string.h>

#include "cache/placement.h"
#include "extender/obs/log.h"
#include "extender/server/preempt.h"
#include "extender/server/reasons.h"
#include "extender/wire/protocol.h"

/* One verb: its name (the metrics' label), how its body decodes, how it is
 * answered, how the decoded arguments are freed. */
typedef struct {
    const char *name;
    void *(*decode)(const char *body, size_t len, GError **error);
    void (*answer)(void *env, const void *args, FpHttpResponse *resp, gint64 start_us);
    void (*free)(void *args);
} Verb;

/* The one path of every verb: decode -> 400 or answer -> observe. */
static void run_verb(const Verb *verb, void *env, const FpVerbMetrics *metrics,
                     const FpHttpRequest *req, FpHttpResponse *resp)
{
    gint64 start = g_get_monotonic_time();
    g_autoptr(GError) error = NULL;
    void *args = verb->decode(req->body, req->body_len, &error);
    if (args) {
        verb->answer(env, args, resp, start);
        verb->free(args);
    } else {
        fp_verb_count_request_error(metrics, verb->name, error);
        fp_http_response_error(resp, 400, error->message);
    }
    fp_verb_observe(metrics, verb->name, resp->status, start);
}

static void respond_json(FpHttpResponse *resp, char *body, size_t len)
{
    resp->status = 200;
    resp->body = body;
    resp->body_len = len;
}

/* A request the view or policy cannot answer yet: 503 with why. */
static void respond_not_ready(FpHttpResponse *resp, FpReadiness *readiness, const char *why)
{
    g_autofree char *text = fp_readiness_refusal(readiness, why);
    fp_http_response_error(resp, 503, text);
}

/* ---- filter and prioritize ---- */

/* Evaluate the request's pod on its candidates (for filter: with the short
 * list, scoring/short_list.h). NULL with *not_ready set when
 * the view or policy cannot answer yet.  With @memo_scores (prioritize), a
 * request the pod's filter already scored (extender/server/score_memo.h) is not
 * evaluated: NULL with *memo_scores and *policy_out set. */
static FpPlacement *evaluate(const FpExtenderEnv *env, const FpExtenderArgs *args,
                             FpPolicy **policy_out, const char **not_ready, guint8 **memo_scores,
                             bool short_list)
{
    if (!fp_readiness_check(env->readiness, not_ready)) {
        return NULL;
    }
    FpPolicy *policy = fp_policy_store_get(env->policies);
    if (memo_scores && (*memo_scores = fp_score_memo_get(env->score_memo, args, policy))) {
        *policy_out = policy;
        return NULL;
    }
    FpCandidates cands = {.n = fp_extender_args_count(args),
                          .name_hashes = args->name_hashes,
                          .best_node_only = true,
                          .short_list = short_list};
    if (args->nodes) {
        cands.nodes = (FpNode *const *)args->nodes->pdata;
    } else {
        cands.names = (const char *const *)args->node_names;
    }
    FpPlacement *p = fp_placement_evaluate(env->view, policy, args->pod, &cands);
    *policy_out = policy;
    return p;
}

static void count_rejection(const char *reason, guint count, void *data)
{
    const FpExtenderEnv *env = data;
    /* the time-to-serve reason carries numbers: one series for all of them */
    if (g_str_has_prefix(reason, FP_REASON_TTS_PREFIX)) {
        reason = FP_REASON_TTS;
    }
    fp_counter_add(env->metrics->rejections, FP_LABELS(reason), count);
}

/* The decision's log line (verbosity 2): the top node, its score terms. */
static void log_decision(const char *verb, const FpExtenderArgs *args, const FpPlacement *p,
                         const FpPolicy *policy, guint passed, gint64 duration)
{
    int best = p->best;
    g_autofree char *pod = g_strdup_printf("%s/%s", args->pod->ns, args->pod->name);
    g_autofree char *n_nodes = g_strdup_printf("%u", p->n);
    g_autofree char *n_passed = g_strdup_printf("%u", passed);
    g_autofree char *n_listed = g_strdup_printf("%u", p->listed);
    g_autofree char *gen = g_strdup_printf("%" G_GUINT64_FORMAT, policy->generation);
    g_autofree char *dur = g_strdup_printf("%" G_GINT64_FORMAT, duration);
    g_autofree char *score = NULL;
    g_autoptr(GString) terms = g_string_new(NULL);
    if (best >= 0) {
        const FpVerdict *v = &p->verdicts[best];
        score = g_strdup_printf("%d", v->score);
        for (int t = 0; t < FP_N_TERMS; t++) {
            if (v->term_active[t]) {
                g_string_append_printf(terms, "%s%s:%.2f", terms->len ? "," : "", fp_term_name(t),
                                       v->term[t]);
            }
        }
    }
    fp_log_fields(G_LOG_LEVEL_INFO, verb, "pod", pod, "profile", p->demand->profile_name, "nodes",
                  n_nodes, "passed", n_passed, "listed", n_listed, "top",
                  best >= 0 ? p->names[best] : "-", "pool",
                  best >= 0 ? p->verdicts[best].facts.pool : "-", "region",
                  best >= 0 ? p->verdicts[best].facts.region : "-", "score", score ? score : "-",
                  "terms", terms->str, "policy_generation", gen, "duration_us", dur, NULL);
}

/* Count, record and log one evaluated verb call. */
static void account(const FpExtenderEnv *env, const char *verb, const FpExtenderArgs *args,
                    const FpPlacement *p, const FpPolicy *policy, gint64 start_us,
                    const char *error)
{
    gint64 duration = g_get_monotonic_time() - start_us;
    fp_decision_record(env->decisions, verb, args->pod, p, p ? p->names : NULL,
                       policy ? policy->generation : 0, duration, error);
    if (!p) {
        g_autofree char *pod = g_strdup_printf("%s/%s", args->pod->ns, args->pod->name);
        fp_log_fields(G_LOG_LEVEL_INFO, verb, "pod", pod, "error", error, NULL);
        return;
    }
    /* Only the filter's rejections are counted (prioritize sees the
     * filter's survivors). */
    guint passed = p->passed;
    if (g_str_equal(verb, "filter")) {
        fp_count_reasons(p, count_rejection, (void *)env);
    }
    if (fp_log_verbosity() >= 2) {
        log_decision(verb, args, p, policy, passed, duration);
    }
}

static void *decode_extender_args(const char *body, size_t len, GError **error)
{
    return fp_extender_args_parse(body, len, error);
}

static void free_extender_args(void *args)
{
    fp_extender_args_free(args);
}

/* A GPU pod that no candidate passes is unmet demand: judge where it
 * would fit after a scale-up (scoring/scale_up.h), for the decision, the
 * unmet metrics (extender/server/unmet.h) and the pod's Event. */
static void judge_unmet(const FpExtenderEnv *env, FpPlacement *p, const FpPolicy *policy)
{
    if (!fp_placement_unmet(p)) {
        return;
    }
    GArray *offers = env->templates ? env->templates(env->templates_ctx, policy) : NULL;
    fp_placement_judge_scale_up(p, policy, offers ? (const FpOffer *)(void *)offers->data : NULL,
                                offers ? offers->len : 0);
    if (offers) {
        g_array_unref(offers);
    }
}

static void record_unmet(const FpExtenderEnv *env, const FpExtenderArgs *args, const FpPlacement *p)
{
    if (!p->scale_up) {
        return;
    }
    if (env->unmet) {
        fp_unmet_record(env->unmet, args->pod->uid, args->pod->ns, args->pod->name,
                        p->demand->count, p->scale_up);
    }
    if (env->events) {
        /* Queued for the sink's thread: the filter never waits on it. */
        g_autofree char *note = fp_unmet_event_note(p);
        fp_event_sink_post(env->events, args->pod->ns, args->pod->name, args->pod->uid,
                           FP_EVENT_REASON_UNSCHEDULABLE, "Scheduling", note);
    }
}

static void answer_filter(void *data, const void *decoded, FpHttpResponse *resp, gint64 start)
{
    const FpExtenderEnv *env = data;
    const FpExtenderArgs *args = decoded;
    const char *not_ready = NULL;
    FpPolicy *policy = NULL;
    g_autoptr(FpPlacement) p = evaluate(env, args, &policy, &not_ready, NULL, true);
    size_t len = 0;
    char *body;
    if (!p) {
        /* A request-level failure: kube-scheduler shows the Error text
         * verbatim in the pod's events and retries with backoff. */
        g_autofree char *text = fp_readiness_refusal(env->readiness, not_ready);
        body = fp_encode_filter_result(args, NULL, text, &len);
        account(env, "filter", args, NULL, NULL, start, text);
        fp_log_warn_limited("filter-not-ready", 10, "answering filter with an error: %s", text);
    } else {
        body = p->listed_idx
                   ? fp_encode_filter_listed(args, p->verdicts, p->listed_idx, p->listed, &len)
                   : fp_encode_filter_result(args, p->verdicts, NULL, &len);
        fp_score_memo_put(env->score_memo, args, policy, p->verdicts, p->listed_idx, p->listed);
        judge_unmet(env, p, policy);
        account(env, "filter", args, p, policy, start, NULL);
        record_unmet(env, args, p);
        fp_policy_unref(policy);
    }
    respond_json(resp, body, len);
}

static void answer_prioritize(void *data, const void *decoded, FpHttpResponse *resp, gint64 start)
{
    const FpExtenderEnv *env = data;
    const FpExtenderArgs *args = decoded;
    const char *not_ready = NULL;
    FpPolicy *policy = NULL;
    g_autofree guint8 *memo_scores = NULL;
    g_autoptr(FpPlacement) p = evaluate(env, args, &policy, &not_ready, &memo_scores, false);
    if (memo_scores) {
        /* The pod's filter scored exactly these nodes in this cycle. */
        size_t len = 0;
        char *body = fp_encode_priority_scores(args, memo_scores, &len);
        fp_counter_add(env->metrics->prioritize, FP_LABELS("filter"), 1);
        fp_policy_unref(policy);
        respond_json(resp, body, len);
    } else if (!p) {
        /* Prioritize errors are ignored by kube-scheduler: no opinion. */
        respond_not_ready(resp, env->readiness, not_ready);
    } else {
        size_t len = 0;
        char *body = fp_encode_priorities(args, p->verdicts, &len);
        fp_counter_add(env->metrics->prioritize, FP_LABELS("evaluated"), 1);
        account(env, "prioritize", args, p, policy, start, NULL);
        fp_policy_unref(policy);
        respond_json(resp, body, len);
    }
}

static const Verb filter_verb = {"filter", decode_extender_args, answer_filter, free_extender_args};
static const Verb prioritize_verb = {"prioritize", decode_extender_args, answer_prioritize,
                                     free_extender_args};

void fp_verb_filter(const FpHttpRequest *req, FpHttpResponse *resp, void *data)
{
    FpExtenderEnv *env = data;
    run_verb(&filter_verb, env, env->metrics, req, resp);
}

void fp_verb_prioritize(const FpHttpRequest *req, FpHttpResponse *resp, void *data)
{
    FpExtenderEnv *env = data;
    run_verb(&prioritize_verb, env, env->metrics, req, resp);
}

/* ---- bind ---- */

static void *decode_binding_args(const char *body, size_t len, GError **error)
{
    return fp_binding_args_parse(body, len, error);
}

static void free_binding_args(void *args)
{
    fp_binding_args_free(args);
}

static void answer_bind(void *data, const void *decoded, FpHttpResponse *resp, gint64 start)
{
    const FpBindVerbEnv *env = data;
    const FpBindingArgs *args = decoded;
    g_autofree char *error_text = NULL;
    /* The bind's one deadline runs from the request's arrival (@start, on
     * the real monotonic clock; the bind reads fp_clock_now_us()). */
    gint64 arrived = fp_clock_now_us() - (g_get_monotonic_time() - start);
    FpBindOutcome outcome =
        fp_bind(env->bind, args, fp_bind_deadline(env->bind, arrived), &error_text);
    const char *result = outcome == FP_BIND_OK        ? "ok"
                         : outcome == FP_BIND_REFUSED ? "refused"
                         : outcome == FP_BIND_UNKNOWN ? "unknown"
                                                      : "failed";
    fp_counter_add(env->metrics->bindings, FP_LABELS(result), 1);
    if (outcome == FP_BIND_OK && env->unmet) {
        fp_unmet_forget(env->unmet, args->pod_uid);
    }
    fp_decision_record_bind(env->decisions, args->pod_namespace, args->pod_name, args->pod_uid,
                            args->node, error_text);
    if (outcome != FP_BIND_OK) {
        fp_log_warn_limited("bind", 1, "bind %s/%s to %s: %s", args->pod_namespace, args->pod_name,
                            args->node, error_text);
    }
    size_t len = 0;
    char *body = fp_encode_binding_result(error_text, &len);
    respond_json(resp, body, len);
}

static const Verb bind_verb = {"bind", decode_binding_args, answer_bind, free_binding_args};

void fp_verb_bind(const FpHttpRequest *req, FpHttpResponse *resp, void *data)
{
    FpBindVerbEnv *env = data;
    run_verb(&bind_verb, env, env->metrics, req, resp);
}

/* ---- preempt ---- */

static void *decode_preemption_args(const char *body, size_t len, GError **error)
{
    return fp_preemption_args_parse(body, len, error);
}

static void free_preemption_args(void *args)
{
    fp_preemption_args_free(args);
}

static void answer_preempt(void *data, const void *decoded, FpHttpResponse *resp, gint64 start)
{
    const FpPreemptEnv *env = data;
    const char *not_ready = NULL;
    if (!fp_readiness_check(env->readiness, &not_ready)) {
        respond_not_ready(resp, env->readiness, not_ready);
        return;
    }
    g_autoptr(FpPolicy) policy = fp_policy_store_get(env->policies);
    size_t len = 0;
    char *body = fp_preempt(env->view, policy, decoded, &len);
    respond_json(resp, body, len);
}

static const Verb preempt_verb = {"preempt", decode_preemption_args, answer_preempt,
                                  free_preemption_args};

void fp_verb_preempt(const FpHttpRequest *req, FpHttpResponse *resp, void *data)
{
    FpPreemptEnv *env = data;
    run_verb(&preempt_verb, env, env->metrics, req, resp);
}
