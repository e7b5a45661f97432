"""llama.cpp in-process over its C API (llama.h), through the prebuilt library in the ``xllamacpp`` wheel.

The embedded judge needs to know exactly what the context holds (to reuse a prompt's shared prefix the
same way whatever the order of calls), to read the logits at any position (G-Eval) and to sample under a
GBNF grammar: the C API gives all three, so this is a small engine over it. The library comes prebuilt
(Xorbits' ``xllamacpp`` wheel, manylinux 2.17, which exports llama.h's functions), so nothing compiles at
install; cffi's ABI mode calls it with the declarations below, which are llama.h's at the pinned build
(b11549; a pin bump must re-check them). Not thread-safe: one engine serves one call at a time (local.py
runs every call on one thread).
"""

from __future__ import annotations

import functools
import json
from datetime import datetime

import numpy as np

from benchmark.common.packages import package_dir

N_BATCH = 512  # tokens per llama_decode; prompts are split the same way every time
PENALTY_LAST_N, PENALTY_REPEAT = 64, 1.1  # the repeat penalty llama.cpp's chat front ends apply by default
LIBRARY_PACKAGE, LIBRARY_FILE = "xllamacpp", "xllamacpp.abi3.so"

# What peer-bench calls, declared as llama.h (b11549) declares it; enums are ints, callbacks void pointers
# (same sizes), so the two parameter structs keep their exact layout.
CDEF = """
typedef int32_t llama_token; typedef int32_t llama_pos; typedef int32_t llama_seq_id;
typedef struct llama_model llama_model; typedef struct llama_context llama_context;
typedef struct llama_vocab llama_vocab; typedef struct llama_sampler llama_sampler;
typedef struct llama_memory_i * llama_memory_t;
typedef struct llama_batch { int32_t n_tokens; llama_token * token; float * embd; llama_pos * pos;
    int32_t * n_seq_id; llama_seq_id ** seq_id; int8_t * logits; } llama_batch;
struct llama_model_params { void * devices; const void * tensor_buft_overrides; int32_t n_gpu_layers;
    int split_mode; int load_mode; int lazy_mode; int32_t main_gpu; const float * tensor_split;
    void * progress_callback; void * progress_callback_user_data; const void * kv_overrides;
    bool vocab_only; bool check_tensors; bool use_extra_bufts; bool no_host; bool no_alloc; bool load_mtp; };
struct llama_context_params { uint32_t n_ctx; uint32_t n_batch; uint32_t n_ubatch; uint32_t n_seq_max;
    uint32_t n_rs_seq; uint32_t n_outputs_max; uint32_t n_outputs_max_per_seq; int32_t n_threads;
    int32_t n_threads_batch; int ctx_type; int rope_scaling_type; int pooling_type; int attention_type;
    int flash_attn_type; float rope_freq_base; float rope_freq_scale; float yarn_ext_factor;
    float yarn_attn_factor; float yarn_beta_fast; float yarn_beta_slow; uint32_t yarn_orig_ctx;
    float defrag_thold; void * cb_eval; void * cb_eval_user_data; int type_k; int type_v;
    size_t moe_cache_size; void * abort_callback; void * abort_callback_data; bool embeddings;
    bool offload_kqv; bool no_perf; bool op_offload; bool swa_full; bool kv_unified; void * samplers;
    size_t n_samplers; struct llama_context * ctx_other; };
struct llama_sampler_chain_params { bool no_perf; };
void llama_backend_init(void);
void llama_log_set(void (*cb)(int, const char *, void *), void * user_data);
struct llama_model_params llama_model_default_params(void);
struct llama_context_params llama_context_default_params(void);
struct llama_model * llama_model_load_from_file(const char * path_model, struct llama_model_params params);
void llama_model_free(struct llama_model * model);
struct llama_context * llama_init_from_model(struct llama_model * model, struct llama_context_params params);
void llama_free(struct llama_context * ctx);
const struct llama_vocab * llama_model_get_vocab(const struct llama_model * model);
int32_t llama_model_meta_val_str(const struct llama_model * model, const char * key, char * buf, size_t buf_size);
llama_memory_t llama_get_memory(const struct llama_context * ctx);
uint32_t llama_n_ctx(const struct llama_context * ctx);
void llama_memory_clear(llama_memory_t mem, bool data);
bool llama_memory_seq_rm(llama_memory_t mem, llama_seq_id seq_id, llama_pos p0, llama_pos p1);
struct llama_batch llama_batch_init(int32_t n_tokens, int32_t embd, int32_t n_seq_max);
void llama_batch_free(struct llama_batch batch);
int32_t llama_decode(struct llama_context * ctx, struct llama_batch batch);
float * llama_get_logits_ith(struct llama_context * ctx, int32_t i);
int32_t llama_vocab_n_tokens(const struct llama_vocab * vocab);
llama_token llama_vocab_bos(const struct llama_vocab * vocab);
llama_token llama_vocab_eos(const struct llama_vocab * vocab);
bool llama_vocab_is_eog(const struct llama_vocab * vocab, llama_token token);
const char * llama_vocab_get_text(const struct llama_vocab * vocab, llama_token token);
int32_t llama_tokenize(const struct llama_vocab * vocab, const char * text, int32_t text_len, llama_token * tokens,
                       int32_t n_tokens_max, bool add_special, bool parse_special);
int32_t llama_token_to_piece(const struct llama_vocab * vocab, llama_token token, char * buf, int32_t length,
                             int32_t lstrip, bool special);
struct llama_sampler_chain_params llama_sampler_chain_default_params(void);
struct llama_sampler * llama_sampler_chain_init(struct llama_sampler_chain_params params);
void llama_sampler_chain_add(struct llama_sampler * chain, struct llama_sampler * smpl);
struct llama_sampler * llama_sampler_init_penalties(int32_t penalty_last_n, float penalty_repeat,
                                                    float penalty_freq, float penalty_present);
struct llama_sampler * llama_sampler_init_grammar(const struct llama_vocab * vocab, const char * grammar_str,
                                                  const char * grammar_root);
struct llama_sampler * llama_sampler_init_greedy(void);
struct llama_sampler * llama_sampler_init_top_k(int32_t k);
struct llama_sampler * llama_sampler_init_top_p(float p, size_t min_keep);
struct llama_sampler * llama_sampler_init_min_p(float p, size_t min_keep);
struct llama_sampler * llama_sampler_init_temp(float t);
struct llama_sampler * llama_sampler_init_dist(uint32_t seed);
llama_token llama_sampler_sample(struct llama_sampler * smpl, struct llama_context * ctx, int32_t idx);
void llama_sampler_free(struct llama_sampler * smpl);
"""


# Any JSON object, for a reply whose schema comes without the unit's exact grammar (autogen's json_output, a
# forced tool's arguments): the reply parses as JSON, and the unit checks the fields.
JSON_OBJECT_GBNF = r"""root ::= object
value ::= object | array | string | number | ("true" | "false" | "null")
object ::= "{" ws ( string ":" ws value ( "," ws string ":" ws value )* )? ws "}"
array ::= "[" ws ( value ( "," ws value )* )? ws "]"
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "\""
number ::= "-"? ( "0" | [1-9] [0-9]* ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )?
ws ::= [ \t\n]{0,20}
"""


class EngineError(RuntimeError):
    """llama.cpp refused something (the file, the context, a grammar, a decode)."""


_loaded: tuple | None = None


def _library():
    """(lib, ffi) for the packaged libllama, loaded once; a clear error when the package is missing."""
    global _loaded
    if _loaded is None:
        folder = package_dir(LIBRARY_PACKAGE)  # the package's own Python is never imported
        path = folder / LIBRARY_FILE if folder else None
        if path is None or not path.is_file():
            raise EngineError("local/ models need llama.cpp: pip install 'peer-bench[local]' (a prebuilt wheel)")
        from cffi import FFI

        ffi = FFI()
        ffi.cdef(CDEF)
        try:
            lib = ffi.dlopen(str(path))
        except OSError as exc:
            raise EngineError(f"llama.cpp's library would not load ({path}): {exc}") from None
        _loaded = lib, ffi
    return _loaded


@functools.lru_cache(maxsize=1)
def runtime() -> str:
    """Which llama.cpp this process runs (for manifests): the package that carries it, and its version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{LIBRARY_PACKAGE} {version(LIBRARY_PACKAGE)}"
    except PackageNotFoundError:
        return f"{LIBRARY_PACKAGE} (not installed)"


class Engine:
    """One GGUF model and one context (a single sequence), its KV contents mirrored in `tokens`."""

    _silenced = False

    def __init__(self, path: str, n_ctx: int, n_threads: int):
        lib, ffi = self.lib, self.ffi = _library()
        if not Engine._silenced:  # llama.cpp logs every load to stderr; a run prints its own progress
            Engine._log = ffi.callback("void(int, const char *, void *)", lambda *_: None)
            lib.llama_log_set(Engine._log, ffi.NULL)
            Engine._silenced = True
        lib.llama_backend_init()
        mparams = lib.llama_model_default_params()
        mparams.n_gpu_layers = 0
        self.model = lib.llama_model_load_from_file(path.encode(), mparams)
        if self.model == ffi.NULL:
            raise EngineError(f"llama.cpp could not load {path}")
        cparams = lib.llama_context_default_params()
        cparams.n_ctx, cparams.n_batch, cparams.n_ubatch = n_ctx, N_BATCH, N_BATCH
        cparams.n_threads = cparams.n_threads_batch = n_threads
        cparams.flash_attn_type = 0  # off: the same kernels on every machine
        self.ctx = lib.llama_init_from_model(self.model, cparams)
        if self.ctx == ffi.NULL:
            lib.llama_model_free(self.model)
            raise EngineError(f"llama.cpp could not create a context of {n_ctx} tokens for {path}")
        self.vocab = lib.llama_model_get_vocab(self.model)
        self.memory = lib.llama_get_memory(self.ctx)
        self.n_ctx, self.n_vocab = int(lib.llama_n_ctx(self.ctx)), int(lib.llama_vocab_n_tokens(self.vocab))
        self.batch = lib.llama_batch_init(N_BATCH, 0, 1)
        self.tokens: list[int] = []  # what the KV cache holds, position by position
        self._template = None

    def close(self) -> None:
        if getattr(self, "ctx", None) is not None:
            self.lib.llama_batch_free(self.batch)
            self.lib.llama_free(self.ctx)
            self.lib.llama_model_free(self.model)
            self.ctx = None

    # --- text and tokens -------------------------------------------------------------------------------
    def metadata(self, key: str) -> str | None:
        size = 1 << 16
        while True:
            buf = self.ffi.new("char[]", size)
            n = self.lib.llama_model_meta_val_str(self.model, key.encode(), buf, size)
            if n < 0:
                return None
            if n < size:
                return self.ffi.string(buf, n).decode("utf-8", "replace")
            size = n + 1

    def tokenize(self, text: str, add_bos: bool, special: bool = True) -> list[int]:
        data = text.encode("utf-8")
        size = len(data) + 8
        buf = self.ffi.new("llama_token[]", size)
        n = self.lib.llama_tokenize(self.vocab, data, len(data), buf, size, add_bos, special)
        if n < 0:
            size = -n
            buf = self.ffi.new("llama_token[]", size)
            n = self.lib.llama_tokenize(self.vocab, data, len(data), buf, size, add_bos, special)
        return list(buf[0:n])

    def piece(self, token: int, special: bool = False) -> bytes:
        buf = self.ffi.new("char[]", 256)
        n = self.lib.llama_token_to_piece(self.vocab, token, buf, 256, 0, special)
        if n < 0:
            buf = self.ffi.new("char[]", -n)
            n = self.lib.llama_token_to_piece(self.vocab, token, buf, -n, 0, special)
        return self.ffi.buffer(buf, n)[:]

    def token_text(self, token: int) -> str:
        text = self.lib.llama_vocab_get_text(self.vocab, token)
        return self.ffi.string(text).decode("utf-8", "replace") if text != self.ffi.NULL else ""

    def chat_prompt(self, messages: list[dict], tools: list | None = None) -> str | None:
        """The model's own chat template (GGUF metadata) rendered as Hugging Face renders it (sandboxed
        Jinja2, trim_blocks, tojson without ASCII escapes), ending where the assistant's reply begins; None
        when the file carries no template."""
        if self._template is None:
            source = self.metadata("tokenizer.chat_template")
            if source is None:
                return None
            from jinja2 import BaseLoader
            from jinja2.ext import loopcontrols
            from jinja2.sandbox import ImmutableSandboxedEnvironment

            env = ImmutableSandboxedEnvironment(loader=BaseLoader(), trim_blocks=True, lstrip_blocks=True,
                                                extensions=[loopcontrols])
            env.filters["tojson"] = lambda x, ensure_ascii=False, indent=None, separators=None, sort_keys=False: \
                json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
            self._template = env.from_string(source)

        def raise_exception(message: str):
            raise EngineError(f"the model's chat template refused the messages: {message}")

        eos, bos = self.lib.llama_vocab_eos(self.vocab), self.lib.llama_vocab_bos(self.vocab)
        return self._template.render(messages=messages, tools=tools or None, add_generation_prompt=True,
                                     eos_token=self.token_text(eos) if eos >= 0 else "",
                                     bos_token=self.token_text(bos) if bos >= 0 else "",
                                     raise_exception=raise_exception,
                                     strftime_now=lambda f: datetime.now().strftime(f))

    # --- the context -----------------------------------------------------------------------------------
    def keep(self, n: int) -> None:
        """Forget everything after the first `n` positions."""
        if n <= 0:
            self.lib.llama_memory_clear(self.memory, True)
        elif n < len(self.tokens):
            self.lib.llama_memory_seq_rm(self.memory, -1, n, -1)
        self.tokens = self.tokens[: max(n, 0)]

    def _decode(self, tokens: list[int], logits_all: bool = False) -> None:
        if len(self.tokens) + len(tokens) > self.n_ctx:
            raise EngineError(f"the prompt and reply need {len(self.tokens) + len(tokens)} tokens, more than the "
                              f"context's {self.n_ctx} (set PEER_BENCH_LOCAL_CTX)")
        b, start = self.batch, len(self.tokens)
        b.n_tokens = len(tokens)
        for i, tok in enumerate(tokens):
            b.token[i], b.pos[i], b.n_seq_id[i], b.seq_id[i][0] = tok, start + i, 1, 0
            b.logits[i] = 1 if logits_all or i == len(tokens) - 1 else 0
        rc = self.lib.llama_decode(self.ctx, b)
        if rc != 0:
            raise EngineError(f"llama_decode failed (code {rc})")
        self.tokens.extend(tokens)

    def eval(self, tokens: list[int]) -> None:
        """Append `tokens` to the context, N_BATCH at a time (logits kept for the last one)."""
        for k in range(0, len(tokens), N_BATCH):
            self._decode(tokens[k: k + N_BATCH])

    def probabilities(self, prefix_len: int, then: list[int]) -> list[np.ndarray]:
        """Next-token probabilities after the first `prefix_len` positions, and after each longer prefix that
        continues with `then` (one batch over the cached prefix)."""
        tokens = [self.tokens[prefix_len - 1], *then]
        self.keep(prefix_len - 1)
        self._decode(tokens, logits_all=True)
        out = []
        for i in range(len(tokens)):
            ptr = self.lib.llama_get_logits_ith(self.ctx, i)
            logits = np.frombuffer(self.ffi.buffer(ptr, self.n_vocab * 4), dtype=np.float32).astype(np.float64)
            p = np.exp(logits - logits.max())
            out.append(p / p.sum())
        return out

    # --- generation ------------------------------------------------------------------------------------
    def _sampler(self, temperature: float, seed: int, grammar: str | None):
        lib, ffi = self.lib, self.ffi
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_penalties(PENALTY_LAST_N, PENALTY_REPEAT, 0.0, 0.0))
        if grammar:
            g = lib.llama_sampler_init_grammar(self.vocab, grammar.encode(), b"root")
            if g == ffi.NULL:
                lib.llama_sampler_free(chain)
                raise EngineError("llama.cpp could not parse the reply grammar")
            lib.llama_sampler_chain_add(chain, g)
        if temperature <= 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
        else:
            for s in (lib.llama_sampler_init_top_k(40), lib.llama_sampler_init_top_p(0.95, 1),
                      lib.llama_sampler_init_min_p(0.05, 1), lib.llama_sampler_init_temp(temperature),
                      lib.llama_sampler_init_dist(seed & 0xFFFFFFFF)):
                lib.llama_sampler_chain_add(chain, s)
        return chain

    def generate(self, max_tokens: int, temperature: float, seed: int, grammar: str | None) -> tuple[list[int], str]:
        """Sample up to `max_tokens` after what the context holds (its last position's logits must be current):
        the tokens and why it stopped ("stop" at an end-of-generation token, else "length"). Every sampled
        token but the last is in the context afterwards, as in llama.cpp's own generation loop."""
        chain = self._sampler(temperature, seed, grammar)
        out: list[int] = []
        try:
            while True:
                tok = int(self.lib.llama_sampler_sample(chain, self.ctx, -1))
                if self.lib.llama_vocab_is_eog(self.vocab, tok):
                    return out, "stop"
                out.append(tok)
                if len(out) >= max_tokens:
                    return out, "length"
                self._decode([tok])
        finally:
            self.lib.llama_sampler_free(chain)
