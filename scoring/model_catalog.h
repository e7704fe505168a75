/*
 * scoring/model_catalog.h - what flexplace knows about LLMs by name.
 *
 * Purpose: the facts the fit formula (scoring/model_fit.h) needs about a
 * model (parameters, layers, KV heads, head dimension, dtype, weight bytes),
 * looked up by the name a pod gives (a Hugging Face id such as
 * "meta-llama/Llama-3.1-8B-Instruct", a KAITO preset such as
 * "llama-3.1-8b-instruct").  The built-in entries are generated at build time
 * from scoring/model-catalog.csv, which names the public source of every
 * value; a policy adds or overrides entries (its table is searched first).
 *
 * Lookup: the exact name first (case-insensitive), then a loose match on
 * fp_model_name_key(): both names reduced the same way.  Within each table
 * the first entry that matches wins.  A name the policy does not know that
 * is an alias (a KAITO preset, scoring/model-aliases.csv) is looked up as
 * the model it names before the loose match on itself.
 *
 * Ownership: built-in entries are static.  Entries made with
 * fp_model_spec_new() own their strings (fp_model_spec_free).
 * Thread context: pure; any thread.
 */
#ifndef FP_SCORING_MODEL_CATALOG_H
#define FP_SCORING_MODEL_CATALOG_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

G_BEGIN_DECLS

/* One model.  Numbers are 0 when unknown. */
typedef struct {
    const char *name;       /* Hugging Face id as published */
    double params_b;        /* total parameters, billions (MoE: every expert) */
    double active_params_b; /* MoE: active per token, billions; 0 for dense */
    int layers;             /* num_hidden_layers */
    int kv_heads;           /* num_key_value_heads */
    int head_dim;
    const char *dtype;      /* checkpoint dtype: "bf16", "fp16", "fp32" or "-" (16-bit) */
    double weights_gib;     /* published weight-file size; 0 = from params_b */
    int kv_bytes_per_token; /* at 16 bits, when not 2*layers*kv_heads*head_dim*2 (MLA) */
    int max_context;        /* max_position_embeddings */
    int experts;            /* MoE experts; 0 for dense */
    const char *quant;      /* quantisation of the checkpoint ("fp8", "mxfp4") or "-" */
    const char *source;     /* key of the source in model-catalog.csv, or "policy" */
} FpModelSpec;

/* The generated built-in table (scoring/model-catalog.csv). */
extern const FpModelSpec fp_model_catalog_builtin[];
extern const size_t fp_model_catalog_builtin_len;

/* Another name of a catalog model: a KAITO preset and the Hugging Face id
 * it serves (scoring/model-aliases.csv). */
typedef struct {
    const char *alias; /* lowercase */
    const char *model;
    const char *source;
} FpModelAlias;

extern const FpModelAlias fp_model_aliases_builtin[];
extern const size_t fp_model_aliases_builtin_len;

/* The model @name is another name of (ASCII case-insensitive), or NULL. */
const char *fp_model_alias_target(const char *name);

/* An empty entry owning a copy of @name; dtype and quant "-", source "policy". */
FpModelSpec *fp_model_spec_new(const char *name);
/* An owned copy of @src named @name (its strings copied too). */
FpModelSpec *fp_model_spec_copy(const FpModelSpec *src, const char *name);
/* Frees an entry made by fp_model_spec_new (and its strings). NULL is fine. */
void fp_model_spec_free(FpModelSpec *spec);
/* Replace one of @spec's owned strings (dtype, quant, source) by a copy of @value. */
void fp_model_spec_set_string(const char **field, const char *value);

/* The loose key of @name, newly allocated: lowercase, the part after the
 * last '/', without a leading "meta-" and without trailing "-instruct",
 * "-it", "-chat", "-hf" and "-fp8" suffixes (repeatedly).  "" for NULL. */
char *fp_model_name_key(const char *name);

/* The entry for @name: @overrides (name -> FpModelSpec*, may be NULL) first,
 * then the built-in table; exact name before the loose key in each.
 * NULL when neither knows it or @name is NULL/empty. */
const FpModelSpec *fp_model_catalog_find(GHashTable *overrides, const char *name);

G_END_DECLS

#endif /* FP_SCORING_MODEL_CATALOG_H */
