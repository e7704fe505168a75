/*
 * test/fuzz/fuzz_watch.c - a watch stream: the NDJSON line framer and the
 * decoding of each event into the view, as cache/informer.c does it.
 *
 * Input: byte 0 picks the resource (even: nodes, odd: pods), bytes 1-4 seed
 * the split of the rest into pieces of 1 to 64 bytes (curl hands the body
 * over in arbitrary chunks).  The framer runs with a 4 KiB line cap so the
 * over-long-line path is reached.  Checks: every emitted line is non-empty,
 * holds no '\n', fits the cap, and - unless a line was too long - the
 * emitted lines are exactly the input's non-empty lines with one trailing
 * '\r' dropped (differential check against a one-shot split).  Each line is
 * parsed as an event (type, object) and applied to a private view: ADDED and
 * MODIFIED decode the object (pods as the cache keeps them), DELETED removes
 * by name or UID, BOOKMARK touches the view; the view's counts stay
 * consistent with what was applied.
 */
#include <jansson.h>
#include <string.h>

#include "cache/kobj.h"
#include "cache/linebuf.h"
#include "test/fuzz/fuzz.h"

#define MAX_LINE 4096

typedef struct {
    FpView *view;
    bool pods;
    GString *emitted; /* lines joined by '\n' */
    guint events;
} Run;

static void apply_event(Run *run, const char *line, size_t len)
{
    json_error_t jerr;
    json_t *ev = json_loadb(line, len, 0, &jerr);
    if (!json_is_object(ev)) {
        json_decref(ev);
        return;
    }
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *obj = json_object_get(ev, "object");
    if (!type || !json_is_object(obj)) {
        json_decref(ev);
        return;
    }
    json_t *meta = json_object_get(obj, "metadata");
    if (strcmp(type, "DELETED") == 0) {
        const char *key = json_string_value(json_object_get(meta, run->pods ? "uid" : "name"));
        if (key && *key) {
            if (run->pods) {
                fp_view_remove_pod(run->view, key);
            } else {
                fp_view_remove_node(run->view, key);
            }
        }
    } else if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
        GError *error = NULL;
        if (run->pods) {
            FpPod *pod = fp_pod_from_json(obj, FP_POD_CACHE, &error);
            if (pod && pod->uid && *pod->uid) {
                fp_view_apply_pod(run->view, pod);
            } else if (pod) {
                fp_pod_unref(pod);
            }
        } else {
            FpNode *node = fp_node_from_json(obj, &error);
            if (node) {
                fp_view_apply_node(run->view, node);
            }
        }
        FP_FUZZ_CHECK((error == NULL) || error->message[0] != '\0');
        g_clear_error(&error);
    } else if (strcmp(type, "BOOKMARK") == 0 || strcmp(type, "ERROR") == 0) {
        fp_view_touch(run->view);
    }
    run->events++;
    json_decref(ev);
}

static bool on_line(const char *line, size_t len, void *user)
{
    Run *run = user;
    FP_FUZZ_CHECK(len > 0 && len <= MAX_LINE);
    FP_FUZZ_CHECK(memchr(line, '\n', len) == NULL);
    if (run->emitted->len) {
        g_string_append_c(run->emitted, '\n');
    }
    g_string_append_len(run->emitted, line, (gssize)len);
    apply_event(run, line, len);
    return true;
}

/* What the framer must emit: the non-empty lines, one trailing '\r' dropped. */
static GString *reference_lines(const char *p, size_t n, bool *too_long)
{
    GString *out = g_string_new(NULL);
    const char *end = p + n;
    *too_long = false;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        size_t len = (size_t)(e - p);
        if (len > MAX_LINE) {
            *too_long = true;
        }
        if (len > 0 && p[len - 1] == '\r') {
            len--;
        }
        if (len > 0) {
            if (out->len) {
                g_string_append_c(out, '\n');
            }
            g_string_append_len(out, p, (gssize)len);
        }
        p = nl ? nl + 1 : end;
    }
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fp_fuzz_init();
    if (size < 5) {
        return 0;
    }
    Run run = {.view = fp_view_new(), .pods = data[0] & 1, .emitted = g_string_new(NULL)};
    guint32 seed =
        (guint32)data[1] | (guint32)data[2] << 8 | (guint32)data[3] << 16 | (guint32)data[4] << 24;
    const char *stream = (const char *)data + 5;
    size_t n = size - 5;

    FpLineBuf *lb = fp_linebuf_new(MAX_LINE);
    bool failed = false;
    size_t off = 0;
    while (off < n && !failed) {
        seed = seed * 1103515245u + 12345u;
        size_t piece = MIN((size_t)(1 + (seed >> 16) % 64), n - off);
        FpLineBufResult r = fp_linebuf_feed(lb, stream + off, piece, on_line, &run);
        FP_FUZZ_CHECK(r == FP_LINEBUF_OK || r == FP_LINEBUF_TOO_LONG);
        failed = r == FP_LINEBUF_TOO_LONG;
        FP_FUZZ_CHECK(fp_linebuf_capacity(lb) <= 2 * (size_t)MAX_LINE + 64);
        off += piece;
    }
    FpLineBufResult r = fp_linebuf_finish(lb, on_line, &run);
    FP_FUZZ_CHECK(failed ? r == FP_LINEBUF_TOO_LONG || r == FP_LINEBUF_OK : r == FP_LINEBUF_OK);
    FP_FUZZ_CHECK(fp_linebuf_pending(lb) == 0);

    bool too_long = false;
    GString *want = reference_lines(stream, n, &too_long);
    FP_FUZZ_CHECK(failed == too_long);
    if (!too_long) {
        FP_FUZZ_CHECK(want->len == run.emitted->len &&
                      memcmp(want->str, run.emitted->str, want->len) == 0);
    }
    g_string_free(want, TRUE);

    guint nodes = fp_view_node_count(run.view);
    guint pods = fp_view_pod_count(run.view);
    FP_FUZZ_CHECK(run.pods ? nodes == 0 : pods == 0);
    FP_FUZZ_CHECK(nodes + pods <= run.events);

    fp_linebuf_free(lb);
    g_string_free(run.emitted, TRUE);
    fp_view_free(run.view);
    return 0;
}
