/*
 * test/support/fake_api.c - the fake API server as a test fixture (see
 * fake_api.h).  The spawning and port handshake follow test_it_informer.c.
 */
#include "fake_api.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct FpFakeApi {
    GPid pid;
    int in_fd;  /* its stdin: closing it ends the server */
    int out_fd; /* its stdout: the two port lines */
    guint port;
    guint control_port;
    GMutex lock; /* guards ctl */
    CURL *ctl;
};

/* One line from @fd within @timeout_ms, without the newline. */
static gboolean read_line(int fd, char *buf, size_t size, int timeout_ms)
{
    size_t n = 0;
    gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    while (n + 1 < size) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)((end - g_get_monotonic_time()) / 1000);
        if (left <= 0 || poll(&p, 1, left) <= 0) {
            return FALSE;
        }
        ssize_t r = read(fd, buf + n, 1);
        if (r <= 0) {
            return FALSE;
        }
        if (buf[n] == '\n') {
            buf[n] = '\0';
            return TRUE;
        }
        n++;
    }
    return FALSE;
}

static gboolean read_port(int fd, int timeout_ms, guint *port)
{
    char line[64];
    guint64 v = 0;
    if (!read_line(fd, line, sizeof line, timeout_ms) ||
        !g_ascii_string_to_unsigned(line, 10, 1, 65535, &v, NULL)) {
        return FALSE;
    }
    *port = (guint)v;
    return TRUE;
}

FpFakeApi *fp_fake_api_start(const char *const *extra_args)
{
    FpFakeApi *api = g_new0(FpFakeApi, 1);
    g_mutex_init(&api->lock);
    char *script = g_build_filename(FP_SOURCE_DIR, "test", "fake_apiserver.py", NULL);
    const char *python = g_getenv("FP_PYTHON");
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, (gpointer)(python && *python ? python : "python3"));
    g_ptr_array_add(argv, script);
    g_ptr_array_add(argv, (gpointer) "--exit-on-stdin-eof");
    for (int i = 0; extra_args && extra_args[i]; i++) {
        g_ptr_array_add(argv, (gpointer)extra_args[i]);
    }
    g_ptr_array_add(argv, NULL);
    GError *error = NULL;
    gboolean ok = g_spawn_async_with_pipes(
        NULL, (char **)argv->pdata, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL,
        NULL, &api->pid, &api->in_fd, &api->out_fd, NULL, &error);
    g_ptr_array_unref(argv);
    g_free(script);
    if (!ok) {
        char msg[512];
        g_strlcpy(msg, error->message, sizeof msg);
        g_error_free(error);
        g_free(api);
        fail_msg("cannot start the fake API server: %s", msg);
        return NULL;
    }
    if (!read_port(api->out_fd, 15000, &api->port) ||
        !read_port(api->out_fd, 5000, &api->control_port)) {
        fp_fake_api_stop(api);
        fail_msg("the fake API server did not print its ports");
        return NULL;
    }
    api->ctl = curl_easy_init();
    return api;
}

void fp_fake_api_stop(FpFakeApi *api)
{
    if (!api) {
        return;
    }
    if (api->pid) {
        kill(api->pid, SIGTERM);
        int status;
        waitpid(api->pid, &status, 0);
        g_spawn_close_pid(api->pid);
        close(api->in_fd);
        close(api->out_fd);
    }
    if (api->ctl) {
        curl_easy_cleanup(api->ctl);
    }
    g_mutex_clear(&api->lock);
    g_free(api);
}

guint fp_fake_api_port(const FpFakeApi *api)
{
    return api->port;
}

guint fp_fake_api_control_port(const FpFakeApi *api)
{
    return api->control_port;
}

static size_t ctl_write(char *data, size_t size, size_t nmemb, void *user)
{
    g_string_append_len(user, data, (gssize)(size * nmemb));
    return size * nmemb;
}

/* POST @body to the control port; fails the test unless the reply is
 * {"ok": true, ...}. */
static json_t *ctl_post(FpFakeApi *api, const char *body)
{
    char url[64];
    g_snprintf(url, sizeof url, "http://127.0.0.1:%u/_control", api->control_port);
    GString *out = g_string_new(NULL);
    g_mutex_lock(&api->lock);
    curl_easy_reset(api->ctl);
    curl_easy_setopt(api->ctl, CURLOPT_URL, url);
    curl_easy_setopt(api->ctl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(api->ctl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(api->ctl, CURLOPT_WRITEFUNCTION, ctl_write);
    curl_easy_setopt(api->ctl, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(api->ctl, CURLOPT_TIMEOUT, 30L);
    CURLcode res = curl_easy_perform(api->ctl);
    long status = 0;
    curl_easy_getinfo(api->ctl, CURLINFO_RESPONSE_CODE, &status);
    g_mutex_unlock(&api->lock);
    json_t *reply = json_loadb(out->str, out->len, 0, NULL);
    if (res != CURLE_OK || status != 200 || !json_is_true(json_object_get(reply, "ok"))) {
        char msg[1024];
        g_snprintf(msg, sizeof msg, "control %.300s: curl %d, HTTP %ld: %.500s", body, (int)res,
                   status, out->str);
        g_string_free(out, TRUE);
        json_decref(reply);
        fail_msg("%s", msg);
        return NULL;
    }
    g_string_free(out, TRUE);
    return reply;
}

json_t *fp_fake_api_ctl(FpFakeApi *api, const char *fmt, ...)
{
    /* On the stack: nothing leaks when a failure longjmps out of the test. */
    char body[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = g_vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof body) {
        fail_msg("control command too long: %.100s", fmt);
        return NULL;
    }
    return ctl_post(api, body);
}

json_t *fp_fake_api_ctl_json(FpFakeApi *api, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text) {
        fail_msg("control command cannot be encoded");
        return NULL;
    }
    json_t *reply = ctl_post(api, text);
    free(text);
    return reply;
}

json_int_t fp_fake_api_counter(FpFakeApi *api, const char *name)
{
    json_t *st = fp_fake_api_ctl(api, "{\"cmd\":\"stats\"}");
    json_int_t v = json_integer_value(json_object_get(json_object_get(st, "counters"), name));
    json_decref(st);
    return v;
}

json_t *fp_fake_api_bindings(FpFakeApi *api)
{
    json_t *r = fp_fake_api_ctl(api, "{\"cmd\":\"bindings\"}");
    json_t *list = json_incref(json_object_get(r, "bindings"));
    json_decref(r);
    return list ? list : json_array();
}

char *fp_fake_api_write_kubeconfig(const FpFakeApi *api, const char *dir)
{
    char *path = g_build_filename(dir, "kubeconfig.yaml", NULL);
    char *text = g_strdup_printf("apiVersion: v1\n"
                                 "kind: Config\n"
                                 "current-context: fake\n"
                                 "clusters:\n"
                                 "- name: fake\n"
                                 "  cluster:\n"
                                 "    server: http://127.0.0.1:%u\n"
                                 "users:\n"
                                 "- name: fake\n"
                                 "  user: {}\n"
                                 "contexts:\n"
                                 "- name: fake\n"
                                 "  context: {cluster: fake, user: fake}\n",
                                 api->port);
    GError *error = NULL;
    gboolean ok = g_file_set_contents(path, text, -1, &error);
    g_free(text);
    if (!ok) {
        char msg[512];
        g_strlcpy(msg, error->message, sizeof msg);
        g_error_free(error);
        g_free(path);
        fail_msg("cannot write a kubeconfig: %s", msg);
        return NULL;
    }
    return path;
}
