/*
 * test/support/fake_api.h - spawn test/fake_apiserver.py and drive it.
 *
 * Purpose: the fake Kubernetes API server (see the docstring of
 * test/fake_apiserver.py for its API and control commands) as a test
 * fixture: start it as a child process on loopback, read its two ports,
 * send control commands as JSON to its control port, write a kubeconfig
 * that points a real FpApp at it, and stop it.  The interpreter is $FP_PYTHON
 * when set, else python3 from PATH.  The child also exits when the test dies
 * (it watches its stdin).
 *
 * Ownership: fp_fake_api_start returns a handle released with
 * fp_fake_api_stop (which also ends the process).  fp_fake_api_ctl returns a
 * new json_t reference (json_decref it; FP_FAKE_API_CTL drops it for you).
 * Returned strings are g_malloc'ed.
 *
 * Threads: control calls are serialised by a mutex inside the handle, so any
 * thread may send them; start and stop belong to the test's main thread.
 *
 * Errors: every function here fails the running cmocka test (fail_msg) when
 * the server does not start, a control command is refused or the control
 * port does not answer, with the command and the server's reply in the
 * message.  Control requests time out after 30 s.
 */
#ifndef FP_TEST_FAKE_API_H
#define FP_TEST_FAKE_API_H

#include <glib.h>
#include <jansson.h>

typedef struct FpFakeApi FpFakeApi;

/* Start the server with extra command-line arguments (NULL-terminated, may
 * be NULL), e.g. {"--empty", NULL}.  Waits up to 15 s for its ports. */
FpFakeApi *fp_fake_api_start(const char *const *extra_args);
/* SIGTERM the server, reap it and free the handle. NULL is ignored. */
void fp_fake_api_stop(FpFakeApi *api);

/* The Kubernetes API port and the control port on 127.0.0.1. */
guint fp_fake_api_port(const FpFakeApi *api);
guint fp_fake_api_control_port(const FpFakeApi *api);

/* POST one control command (printf-style JSON body, e.g.
 * "{\"cmd\":\"add_node\",\"name\":\"%s\"}") and return the reply object. */
G_GNUC_PRINTF(2, 3)
json_t *fp_fake_api_ctl(FpFakeApi *api, const char *fmt, ...);
#define FP_FAKE_API_CTL(api, ...) json_decref(fp_fake_api_ctl((api), __VA_ARGS__))

/* The same with a prebuilt body (stolen: the reference is released). */
json_t *fp_fake_api_ctl_json(FpFakeApi *api, json_t *body);

/* A request counter of the "stats" command (list_pods, requests, ...). */
json_int_t fp_fake_api_counter(FpFakeApi *api, const char *name);

/* Every recorded binding request ("bindings" command): a new reference to
 * an array of {ns, name, uid, node, annotations, status}. */
json_t *fp_fake_api_bindings(FpFakeApi *api);

/* Write a kubeconfig for http://127.0.0.1:PORT into @dir and return its
 * path. */
char *fp_fake_api_write_kubeconfig(const FpFakeApi *api, const char *dir);

#endif /* FP_TEST_FAKE_API_H */
