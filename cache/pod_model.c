/*
 * cache/pod_model.c - what model a Pod serves (cache/pod_model.h).
 */
#include "cache/pod_model.h"

#include <math.h>
#include <string.h>

#include "scoring/quantity.h"
#include "scoring/time_to_serve.h"

#define MAX_NAME 256
#define MAX_ENV 256

/* ---- small parsers ------------------------------------------------- */

/* A printable ASCII value without blanks or quotes, 1..@max bytes, no
 * unexpanded "$". */
static bool plain_value(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c >= 0x7f || c == '$' || c == '"' || c == '\'') {
            return false;
        }
    }
    return true;
}

static bool parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    guint64 v = 0;
    if (!s || !*s || *s == '-' || *s == '+' ||
        !g_ascii_string_to_unsigned(s, 10, 0, G_MAXUINT64, &v, NULL)) {
        return false;
    }
    if ((int64_t)v < lo || v > (guint64)hi) {
        return false;
    }
    *out = (int64_t)v;
    return true;
}

int64_t fp_parse_context_len(const char *s)
{
    if (!s || !g_ascii_isdigit(*s) || strlen(s) > 32) {
        return -1;
    }
    char *end = NULL;
    double v = g_ascii_strtod(s, &end);
    double mult = 1;
    if (end && *end) {
        static const char *const lower = "kmg", *const upper = "KMG";
        const char *l = strchr(lower, *end), *u = strchr(upper, *end);
        if (end[1] != '\0' || (!l && !u)) {
            return -1;
        }
        mult = l ? pow(1000, (double)(l - lower + 1)) : pow(1024, (double)(u - upper + 1));
    }
    v *= mult;
    if (!isfinite(v) || v < 1 || v > (double)G_MAXINT32 || v != floor(v)) {
        return -1;
    }
    return (int64_t)v;
}

static double parse_fraction(const char *s)
{
    if (!s || !*s || strlen(s) > 32) {
        return -1;
    }
    char *end = NULL;
    double v = g_ascii_strtod(s, &end);
    if (!end || *end || !isfinite(v) || v <= 0 || v > 1) {
        return -1;
    }
    return v;
}

/* ---- setters: the first source to set a field wins ------------------ */

static void set_string(char **field, const char *value)
{
    if (!*field && plain_value(value, FP_POD_MODEL_MAX_VALUE)) {
        *field = g_strdup(value);
    }
}

/* A model reference: a Hub id, a URI (hf:// also names the model) or a
 * local path (also the weights location). */
static void set_name(FpModelRequest *req, const char *value, const char *from)
{
    if (req->name || !plain_value(value, MAX_NAME)) {
        return;
    }
    const char *id = value;
    if (g_str_has_prefix(value, "hf://")) {
        id = value + 5;
        set_string(&req->weights_location, value);
    } else if (strstr(value, "://") || value[0] == '/' || value[0] == '.') {
        set_string(&req->weights_location, value);
    }
    if (!*id) {
        return;
    }
    req->name = g_strdup(id);
    req->name_from = g_strdup(from);
}

static void set_tp(int *field, const char *value)
{
    int64_t v;
    if (*field == 0 && parse_int(value, 1, 1024, &v)) {
        *field = (int)v;
    }
}

static void set_len(FpModelRequest *req, const char *value)
{
    int64_t v = fp_parse_context_len(value);
    if (req->max_model_len == 0 && v > 0) {
        req->max_model_len = v;
    }
}

static void set_util(FpModelRequest *req, const char *value)
{
    double v = parse_fraction(value);
    if (req->gpu_memory_utilization == 0 && v > 0) {
        req->gpu_memory_utilization = v;
    }
}

/* ---- 1. annotations --------------------------------------------------- */

static void invalid(FpModelRequest *req, const char *key, const char *what, const char *value)
{
    if (req->invalid) {
        return;
    }
    /* Quote at most a short printable prefix of a hostile value. */
    char shown[41];
    size_t i = 0;
    for (; value && value[i] && i < sizeof shown - 1; i++) {
        shown[i] = g_ascii_isprint(value[i]) ? value[i] : '?';
    }
    shown[i] = '\0';
    req->invalid_key = key;
    req->invalid =
        g_strdup_printf("%s: %s, got \"%s%s\"", key, what, shown, value && value[i] ? "..." : "");
}

/* model-size: "70B"/"46.7b" = billions of parameters; else weight bytes. */
static void annotation_size(FpModelRequest *req, const char *v)
{
    size_t n = strlen(v);
    if (n > 1 && n < 32 && (v[n - 1] == 'B' || v[n - 1] == 'b')) {
        char num[32];
        memcpy(num, v, n - 1);
        num[n - 1] = '\0';
        char *end = NULL;
        double b = g_ascii_strtod(num, &end);
        if (g_ascii_isdigit(num[0]) && end && !*end && isfinite(b) && b > 0 && b <= 100000) {
            req->params_b = b;
            return;
        }
    } else {
        FpQuantity q;
        if (n < 64 && fp_quantity_parse(v, n, &q) == FP_QTY_OK) {
            double bytes = fp_quantity_to_double(&q);
            if (bytes >= 1024.0 * 1024.0 && bytes <= 1e15) {
                req->weights_gib = bytes / FP_GIB;
                return;
            }
        }
    }
    invalid(req, FP_ANN_MODEL_SIZE,
            "want parameters in billions (\"70B\") or weight bytes from 1Mi (\"140Gi\")", v);
}

void fp_pod_model_annotations(FpModelRequest *req, const json_t *annotations)
{
    const char *v;
    if ((v = json_string_value(json_object_get(annotations, FP_ANN_MODEL)))) {
        if (!plain_value(v, MAX_NAME)) {
            invalid(req, FP_ANN_MODEL, "want a model id of 1-256 printable characters", v);
        } else {
            set_name(req, v, "annotation " FP_ANN_MODEL);
        }
    }
    if ((v = json_string_value(json_object_get(annotations, FP_ANN_MODEL_SIZE)))) {
        annotation_size(req, v);
    }
    if ((v = json_string_value(json_object_get(annotations, FP_ANN_TENSOR_PARALLEL)))) {
        int64_t tp;
        if (parse_int(v, 1, 1024, &tp)) {
            req->tensor_parallel = (int)tp;
        } else {
            invalid(req, FP_ANN_TENSOR_PARALLEL, "want an integer 1..1024", v);
        }
    }
    if ((v = json_string_value(json_object_get(annotations, FP_ANN_MAX_MODEL_LEN)))) {
        int64_t len = fp_parse_context_len(v);
        if (len > 0) {
            req->max_model_len = len;
        } else {
            invalid(req, FP_ANN_MAX_MODEL_LEN, "want tokens 1..2147483647 (\"8192\", \"32k\")", v);
        }
    }
    if ((v = json_string_value(json_object_get(annotations, FP_ANN_WEIGHTS_LOCATION)))) {
        FpWeightsLocation loc;
        const char *problem = NULL;
        if (plain_value(v, 1024) && fp_weights_location_parse(v, &loc, &problem)) {
            fp_weights_location_clear(&loc);
            g_free(req->weights_location);
            req->weights_location = g_strdup(v);
        } else {
            invalid(
                req, FP_ANN_WEIGHTS_LOCATION,
                "want an absolute path or a URI of 1-1024 printable characters (hf://org/model, "
                "s3://bucket/path, gs://, az://, pvc://claim/path)",
                v);
        }
    }
}

/* ---- 3. engine arguments ------------------------------------------ */

typedef enum {
    F_NAME,
    F_TP,
    F_PP,
    F_LEN,
    F_DTYPE,
    F_QUANT,
    F_UTIL,
    F_KV_DTYPE,
} FlagKind;

typedef struct {
    const char *flag; /* with '-' for '_' */
    FlagKind kind;
} FlagDef;

static const FlagDef flags[] = {
    {"--model", F_NAME},
    {"--model-path", F_NAME},
    {"--model-id", F_NAME},
    {"--pretrained-model-name-or-path", F_NAME},
    {"--tensor-parallel-size", F_TP},
    {"-tp", F_TP},
    {"--tp", F_TP},
    {"--tp-size", F_TP},
    {"--num-shard", F_TP},
    {"--pipeline-parallel-size", F_PP},
    {"-pp", F_PP},
    {"--pp-size", F_PP},
    {"--max-model-len", F_LEN},
    {"--context-length", F_LEN},
    {"--max-total-tokens", F_LEN},
    {"--dtype", F_DTYPE},
    {"--torch-dtype", F_DTYPE},
    {"--quantization", F_QUANT},
    {"-q", F_QUANT},
    {"--quantize", F_QUANT},
    {"--gpu-memory-utilization", F_UTIL},
    {"--mem-fraction-static", F_UTIL},
    {"--kv-cache-dtype", F_KV_DTYPE},
};

static const FlagDef *find_flag(const char *word, size_t len)
{
    char name[48];
    if (len < 2 || len >= sizeof name || word[0] != '-') {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        name[i] = (i > 1 && word[i] == '_') ? '-' : word[i];
    }
    name[len] = '\0';
    for (size_t i = 0; i < G_N_ELEMENTS(flags); i++) {
        if (strcmp(flags[i].flag, name) == 0) {
            return &flags[i];
        }
    }
    return NULL;
}

static void apply_flag(FpModelRequest *req, FlagKind kind, const char *value, const char *flag)
{
    switch (kind) {
    case F_NAME: {
        g_autofree char *from = g_strdup_printf("%s %s", fp_engine_name(req->engine), flag);
        set_name(req, value, from);
        break;
    }
    case F_TP:
        set_tp(&req->tensor_parallel, value);
        break;
    case F_PP:
        set_tp(&req->pipeline_parallel, value);
        break;
    case F_LEN:
        set_len(req, value);
        break;
    case F_DTYPE:
        set_string(&req->dtype, value);
        break;
    case F_QUANT:
        set_string(&req->quantization, value);
        break;
    case F_UTIL:
        set_util(req, value);
        break;
    case F_KV_DTYPE:
        set_string(&req->kv_cache_dtype, value);
        break;
    }
}

static const char *base_name(const char *word)
{
    const char *slash = strrchr(word, '/');
    return slash ? slash + 1 : word;
}

/* The engine a word names, or FP_ENGINE_UNKNOWN. */
static FpEngine engine_of_word(const char *word)
{
    const char *b = base_name(word);
    if (g_str_equal(b, "vllm") || g_str_has_prefix(word, "vllm.entrypoints")) {
        return FP_ENGINE_VLLM;
    }
    if (g_str_equal(b, "sglang") || g_str_has_prefix(word, "sglang.launch_server")) {
        return FP_ENGINE_SGLANG;
    }
    if (g_str_equal(b, "text-generation-launcher")) {
        return FP_ENGINE_TGI;
    }
    return FP_ENGINE_UNKNOWN;
}

static bool is_separator(const char *w)
{
    return g_str_equal(w, ";") || g_str_equal(w, "&") || g_str_equal(w, "|") ||
           g_str_equal(w, "&&") || g_str_equal(w, "||") || g_str_equal(w, "\n");
}

void fp_pod_model_args(FpModelRequest *req, const char *const *argv, guint argc)
{
    argc = MIN(argc, FP_POD_MODEL_MAX_TOKENS);
    for (guint i = 0; i < argc; i++) {
        FpEngine e = engine_of_word(argv[i]);
        if (e != FP_ENGINE_UNKNOWN &&
            (req->engine == FP_ENGINE_UNKNOWN || req->engine == FP_ENGINE_KSERVE)) {
            req->engine = e;
        }
    }
    for (guint i = 0; i < argc; i++) {
        const char *w = argv[i];
        /* vllm serve <model> */
        if (g_str_equal(w, "serve") && i > 0 && engine_of_word(argv[i - 1]) == FP_ENGINE_VLLM &&
            i + 1 < argc && argv[i + 1][0] != '-' && !is_separator(argv[i + 1])) {
            set_name(req, argv[i + 1], "vllm serve");
            continue;
        }
        const char *eq = strchr(w, '=');
        size_t len = eq ? (size_t)(eq - w) : strlen(w);
        const FlagDef *def = find_flag(w, len);
        if (!def) {
            continue;
        }
        g_autofree char *flag = g_strndup(w, len);
        if (eq) {
            apply_flag(req, def->kind, eq + 1, flag);
        } else if (i + 1 < argc && argv[i + 1][0] != '-' && !is_separator(argv[i + 1])) {
            apply_flag(req, def->kind, argv[i + 1], flag);
            i++;
        }
    }
}

/* ---- shell words and variable expansion ---------------------------- */

static void push_word(GPtrArray *out, GString *word, bool *have, guint max)
{
    if (*have && out->len < max) {
        g_ptr_array_add(out, g_strndup(word->str, MIN(word->len, FP_POD_MODEL_MAX_VALUE)));
    }
    g_string_truncate(word, 0);
    *have = false;
}

void fp_shell_split(const char *s, GPtrArray *out, guint max)
{
    g_autoptr(GString) word = g_string_new(NULL);
    bool have = false;
    char quote = 0;
    for (; s && *s && out->len < max; s++) {
        char c = *s;
        if (quote == '\'') {
            if (c == '\'') {
                quote = 0;
            } else if (word->len < FP_POD_MODEL_MAX_VALUE) {
                g_string_append_c(word, c);
            }
            continue;
        }
        if (c == '\\' && s[1]) {
            s++;
            if (*s != '\n' && word->len < FP_POD_MODEL_MAX_VALUE) {
                g_string_append_c(word, *s);
                have = true;
            }
            continue;
        }
        if (quote == '"') {
            if (c == '"') {
                quote = 0;
            } else if (word->len < FP_POD_MODEL_MAX_VALUE) {
                g_string_append_c(word, c);
            }
            continue;
        }
        if (c == '\'' || c == '"') {
            quote = c;
            have = true;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            push_word(out, word, &have, max);
        } else if (c == ';' || c == '&' || c == '|' || c == '\n') {
            push_word(out, word, &have, max);
            char sep[3] = {c, 0, 0};
            if ((c == '&' || c == '|') && s[1] == c) {
                sep[1] = c;
                s++;
            }
            g_string_append(word, sep);
            have = true;
            push_word(out, word, &have, max);
        } else {
            if (word->len < FP_POD_MODEL_MAX_VALUE) {
                g_string_append_c(word, c);
            }
            have = true;
        }
    }
    push_word(out, word, &have, max);
}

static bool var_char(char c, bool first)
{
    return c == '_' || g_ascii_isalpha(c) || (!first && g_ascii_isdigit(c));
}

char *fp_expand_env(const char *s, GHashTable *env)
{
    GString *out = g_string_new(NULL);
    while (s && *s && out->len < FP_POD_MODEL_MAX_VALUE) {
        if (s[0] != '$') {
            g_string_append_c(out, *s++);
            continue;
        }
        if (s[1] == '$') { /* "$$" escapes */
            g_string_append(out, "$$");
            s += 2;
            continue;
        }
        char close = s[1] == '(' ? ')' : s[1] == '{' ? '}' : 0;
        const char *start = s + (close ? 2 : 1);
        const char *p = start;
        while (var_char(*p, p == start) && p - start < 128) {
            p++;
        }
        bool ok = p > start && (!close || *p == close);
        g_autofree char *name = ok ? g_strndup(start, (gsize)(p - start)) : NULL;
        const char *value = ok && env ? g_hash_table_lookup(env, name) : NULL;
        if (value) {
            g_string_append(out, value);
            s = close ? p + 1 : p;
        } else {
            g_string_append_c(out, *s++);
        }
    }
    if (out->len > FP_POD_MODEL_MAX_VALUE) {
        g_string_truncate(out, FP_POD_MODEL_MAX_VALUE);
    }
    return g_string_free(out, FALSE);
}

/* ---- containers ------------------------------------------------------ */

/* Literal env values of @container (name -> value, borrowed from JSON). */
static GHashTable *container_env(const json_t *container)
{
    GHashTable *env = g_hash_table_new(g_str_hash, g_str_equal);
    const json_t *list = json_object_get(container, "env");
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        const char *v = json_string_value(json_object_get(e, "value"));
        if (i >= MAX_ENV) {
            break;
        }
        if (n && v && !g_hash_table_contains(env, n)) {
            g_hash_table_insert(env, (gpointer)n, (gpointer)v);
        }
    }
    return env;
}

static bool is_shell(const char *word)
{
    static const char *const shells[] = {"sh", "bash", "ash", "dash", "zsh"};
    const char *b = base_name(word);
    for (size_t i = 0; i < G_N_ELEMENTS(shells); i++) {
        if (g_str_equal(b, shells[i])) {
            return true;
        }
    }
    return false;
}

/* command + args of @container as expanded words. */
static GPtrArray *container_words(const json_t *container, GHashTable *env)
{
    GPtrArray *raw = g_ptr_array_new();
    const char *keys[] = {"command", "args"};
    for (size_t k = 0; k < G_N_ELEMENTS(keys); k++) {
        size_t i;
        const json_t *w;
        json_array_foreach(json_object_get(container, keys[k]), i, w)
        {
            if (json_is_string(w) && raw->len < FP_POD_MODEL_MAX_TOKENS) {
                g_ptr_array_add(raw, (gpointer)json_string_value(w));
            }
        }
    }
    GPtrArray *words = g_ptr_array_new_with_free_func(g_free);
    bool shell = raw->len > 0 && is_shell(g_ptr_array_index(raw, 0));
    for (guint i = 0; i < raw->len && words->len < FP_POD_MODEL_MAX_TOKENS; i++) {
        g_autofree char *kube = fp_expand_env(g_ptr_array_index(raw, i), env);
        bool script =
            shell && i > 0 && g_str_equal((const char *)g_ptr_array_index(raw, i - 1), "-c");
        if (!script) {
            g_ptr_array_add(words, g_steal_pointer(&kube));
            continue;
        }
        g_autoptr(GPtrArray) split = g_ptr_array_new_with_free_func(g_free);
        fp_shell_split(kube, split, FP_POD_MODEL_MAX_TOKENS - words->len);
        for (guint j = 0; j < split->len; j++) {
            g_ptr_array_add(words, fp_expand_env(g_ptr_array_index(split, j), env));
        }
    }
    g_ptr_array_free(raw, TRUE);
    return words;
}

static FpEngine engine_of_image(const char *image)
{
    if (!image) {
        return FP_ENGINE_UNKNOWN;
    }
    if (strstr(image, "text-generation-inference")) {
        return FP_ENGINE_TGI;
    }
    if (strstr(image, "sglang")) {
        return FP_ENGINE_SGLANG;
    }
    if (strstr(image, "vllm")) {
        return FP_ENGINE_VLLM;
    }
    return FP_ENGINE_UNKNOWN;
}

/* 4. TGI's environment variables. */
static void apply_tgi_env(FpModelRequest *req, GHashTable *env)
{
    const char *v;
    if ((v = g_hash_table_lookup(env, "MODEL_ID"))) {
        set_name(req, v, "env MODEL_ID");
    }
    if ((v = g_hash_table_lookup(env, "NUM_SHARD"))) {
        set_tp(&req->tensor_parallel, v);
        if (req->engine == FP_ENGINE_UNKNOWN) {
            req->engine = FP_ENGINE_TGI;
        }
    }
    if ((v = g_hash_table_lookup(env, "MAX_TOTAL_TOKENS"))) {
        set_len(req, v);
    }
    if ((v = g_hash_table_lookup(env, "QUANTIZE"))) {
        set_string(&req->quantization, v);
    }
    if ((v = g_hash_table_lookup(env, "DTYPE"))) {
        set_string(&req->dtype, v);
    }
}

static void apply_container(FpModelRequest *req, const json_t *container)
{
    g_autoptr(GHashTable) env = container_env(container);
    g_autoptr(GPtrArray) words = container_words(container, env);
    FpEngine img = engine_of_image(json_string_value(json_object_get(container, "image")));
    if (img != FP_ENGINE_UNKNOWN &&
        (req->engine == FP_ENGINE_UNKNOWN || req->engine == FP_ENGINE_KSERVE)) {
        req->engine = img;
    }
    fp_pod_model_args(req, (const char *const *)words->pdata, words->len);
    apply_tgi_env(req, env);
}

/* Whether @container asks for a GPU-like resource (a key with "gpu"). */
static bool asks_gpu(const json_t *container)
{
    const json_t *res = json_object_get(container, "resources");
    const char *kinds[] = {"limits", "requests"};
    for (size_t k = 0; k < G_N_ELEMENTS(kinds); k++) {
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)json_object_get(res, kinds[k]), key, v)
        {
            if (strstr(key, "gpu") || strstr(key, "nvidia.com/mig-")) {
                return true;
            }
        }
    }
    return false;
}

static void apply_containers(FpModelRequest *req, const json_t *spec)
{
    const json_t *list = json_object_get(spec, "containers");
    for (int pass = 0; pass < 2; pass++) {
        size_t i;
        const json_t *c;
        json_array_foreach(list, i, c)
        {
            if (i < 64 && json_is_object(c) && asks_gpu(c) == (pass == 0)) {
                apply_container(req, c);
            }
        }
    }
}

/* 5. KServe's storage URI. */
static void apply_kserve(FpModelRequest *req, const json_t *meta, const json_t *spec)
{
    const json_t *labels = json_object_get(meta, "labels");
    if (json_object_get(labels, "serving.kserve.io/inferenceservice") &&
        req->engine == FP_ENGINE_UNKNOWN) {
        req->engine = FP_ENGINE_KSERVE;
    }
    const char *uri = json_string_value(
        json_object_get(json_object_get(meta, "annotations"),
                        "internal.serving.kserve.io/storage-initializer-sourceuri"));
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(spec, "initContainers"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        if (!uri && name && g_str_equal(name, "storage-initializer")) {
            uri = json_string_value(json_array_get(json_object_get(c, "args"), 0));
        }
    }
    if (uri && g_str_has_prefix(uri, "hf://")) {
        set_name(req, uri, "kserve storageUri");
    }
    set_string(&req->weights_location, uri);
}

/* The images of the pod's containers and init containers (they are all
 * pulled before the pod runs), at most G_N_ELEMENTS(req->image_keys). */
static void apply_images(FpModelRequest *req, const json_t *spec)
{
    static const char *const lists[] = {"initContainers", "containers"};
    for (size_t l = 0; l < G_N_ELEMENTS(lists); l++) {
        size_t i;
        const json_t *c;
        json_array_foreach(json_object_get(spec, lists[l]), i, c)
        {
            guint64 key = fp_image_key(json_string_value(json_object_get(c, "image")));
            bool dup = key == 0;
            for (guint j = 0; j < req->n_images && !dup; j++) {
                dup = req->image_keys[j] == key;
            }
            if (!dup && req->n_images < G_N_ELEMENTS(req->image_keys)) {
                req->image_keys[req->n_images++] = key;
            }
        }
    }
}

static bool says_anything(const FpModelRequest *req)
{
    return req->invalid || req->name || req->params_b > 0 || req->weights_gib > 0 ||
           req->tensor_parallel > 0 || req->pipeline_parallel > 0 || req->max_model_len > 0 ||
           req->weights_location;
}

FpModelRequest *fp_pod_model_from_json(const json_t *pod)
{
    const json_t *meta = json_object_get(pod, "metadata");
    const json_t *spec = json_object_get(pod, "spec");
    if (!json_is_object(meta) && !json_is_object(spec)) {
        return NULL;
    }
    g_autoptr(FpModelRequest) req = fp_model_request_new();
    fp_pod_model_annotations(req, json_object_get(meta, "annotations"));
    const json_t *labels = json_object_get(meta, "labels");
    if (json_object_get(labels, "kaito.sh/workspace") ||
        json_object_get(labels, "kubernetes-kaito.sh/workspace-name")) {
        req->engine = FP_ENGINE_KAITO;
    }
    apply_containers(req, spec);
    apply_kserve(req, meta, spec);
    if (!says_anything(req)) {
        return NULL;
    }
    apply_images(req, spec);
    return g_steal_pointer(&req);
}
