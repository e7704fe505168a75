/*
 * cache/pod_model.h - what model a Pod serves, read from the Pod itself.
 *
 * Purpose: fill an FpModelRequest (scoring/model_fit.h) from a v1.Pod's JSON,
 * from these sources in this order; a field the first source sets is never
 * overwritten by a later one:
 *  1. flexplace annotations: flexplace.io/model, flexplace.io/model-size
 *     ("70B" = parameters in billions, else a quantity of weight bytes such
 *     as "140Gi"), flexplace.io/tensor-parallel (1..1024),
 *     flexplace.io/max-model-len (tokens, 1..2^31-1, "32k" = 32000 and
 *     "32K" = 32768 as vLLM reads them), flexplace.io/weights-location (a
 *     URI or path).  These are strict: a malformed value makes the request
 *     invalid (FpModelRequest.invalid), the pod then fails every node.
 *  2. KAITO: the workspace label (kaito.sh/workspace, or the older
 *     kubernetes-kaito.sh/workspace-name) marks KAITO's engine defaults.
 *  3. Engine arguments of each container, GPU containers first: command and
 *     args, with Kubernetes' $(VAR) and the shell's $VAR / ${VAR} expanded
 *     from the container's literal env values, and "sh -c <script>" split
 *     into shell words.  vLLM (--model or "vllm serve <model>",
 *     --tensor-parallel-size/-tp, --pipeline-parallel-size/-pp,
 *     --max-model-len, --dtype, --quantization/-q, --gpu-memory-utilization,
 *     --kv-cache-dtype), SGLang (--model-path, --tp-size/--tp, --pp-size,
 *     --context-length, --mem-fraction-static), TGI (--model-id,
 *     --num-shard, --max-total-tokens, --quantize), KServe's and KAITO's
 *     runtimes (--model_id, --pretrained_model_name_or_path, --torch_dtype).
 *     Flags take "--flag value" or "--flag=value"; "_" and "-" are the same
 *     in a flag name, as vLLM's parser has it.  A value that does not parse
 *     (or names an env var that is not set literally) is ignored: the engine
 *     will say what is wrong with its own flags.
 *  4. TGI's env: MODEL_ID, NUM_SHARD, MAX_TOTAL_TOKENS, QUANTIZE, DTYPE.
 *  5. KServe: the annotation internal.serving.kserve.io/storage-initializer-sourceuri
 *     and a storage-initializer init container's first argument (the
 *     storageUri); hf://<org>/<model> also names the model.
 *
 * Cost is bounded whatever the input: at most FP_POD_MODEL_MAX_TOKENS words
 * per container and FP_POD_MODEL_MAX_VALUE bytes per value are looked at.
 *
 * Ownership: returns a new FpModelRequest or NULL; the JSON is borrowed.
 * Thread context: pure; any thread.
 */
#ifndef FP_CACHE_POD_MODEL_H
#define FP_CACHE_POD_MODEL_H

#include <glib.h>
#include <jansson.h>

#include "scoring/model_fit.h"

G_BEGIN_DECLS

#define FP_ANN_MODEL "flexplace.io/model"
#define FP_ANN_MODEL_SIZE "flexplace.io/model-size"
#define FP_ANN_TENSOR_PARALLEL "flexplace.io/tensor-parallel"
#define FP_ANN_MAX_MODEL_LEN "flexplace.io/max-model-len"
#define FP_ANN_WEIGHTS_LOCATION "flexplace.io/weights-location"

#define FP_POD_MODEL_MAX_TOKENS 1024
#define FP_POD_MODEL_MAX_VALUE 4096

/* The model request of a v1.Pod (@pod: the Pod object, or any object with
 * metadata and spec such as a pod template).  NULL when the pod says
 * nothing about a model (no name, size, parallelism, context or location)
 * and no model annotation is malformed. */
FpModelRequest *fp_pod_model_from_json(const json_t *pod);

/* Step 1 alone: apply the flexplace.io/ annotations of @annotations (a JSON
 * object of strings, may be NULL) to @req. */
void fp_pod_model_annotations(FpModelRequest *req, const json_t *annotations);

/* Step 3 alone for one argv: apply the engine flags of @argv[0..argc-1]
 * (already split and expanded) to @req. */
void fp_pod_model_args(FpModelRequest *req, const char *const *argv, guint argc);

/* Split shell text @script into words: blanks separate, '...' and "..."
 * quote, a backslash escapes, backslash-newline joins lines, and ; & | and
 * newlines end a command (each kept as a word of its own).  At most @max
 * words are appended to @out (char*, owned). */
void fp_shell_split(const char *script, GPtrArray *out, guint max);

/* @s with $(NAME), ${NAME} and $NAME replaced by @env's value (char* ->
 * char*, may be NULL); unknown names and "$$" stay as written.  The result
 * is cut at FP_POD_MODEL_MAX_VALUE bytes. */
char *fp_expand_env(const char *s, GHashTable *env);

/* A context length as vLLM reads it: digits with an optional fraction and
 * suffix k/m/g (x1000) or K/M/G (x1024); 1..2^31-1.  -1 when invalid. */
int64_t fp_parse_context_len(const char *s);

G_END_DECLS

#endif /* FP_CACHE_POD_MODEL_H */
