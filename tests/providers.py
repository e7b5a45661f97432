"""Provider-conformance fakes: loopback servers that speak each provider's real wire format, so a judge
string such as `anthropic/claude-haiku-4-5` runs through litellm's REAL adapter for that provider (request
transformation, URL building, auth header, response parsing, usage and cost) over HTTP.

Every fake answers like the conftest fake judge (`FakeOpenAI.reply_for`): it reads the grading prompt out
of the provider's own request shape, checks the sum in it (score 9 if right, 3 if wrong, +1 when the
prompt says 'shut down') and replies in the provider's own response shape, with token counts it computes
from the prompt and the reply. A round trip therefore proves the prompt arrived and the reply was parsed.

Every request is recorded on the fixture's state (`state.requests`): path, headers (lower-cased names),
JSON body, the HTTP status answered, the reply sent, and `usage`: the prompt and completion tokens the
server reported, in OpenAI terms (what litellm should put in `usage.prompt_tokens/completion_tokens`).

    fixture             wire format                                  litellm adapter (model prefix)
    openai_server       OpenAI chat completions (tests/conftest.py)  openai/  -> OpenAIChatCompletion
    vllm_server         OpenAI-compatible, vLLM's response shape     hosted_vllm/ -> HostedVLLMChatConfig
    deepseek_server     OpenAI-compatible, DeepSeek's API            deepseek/ -> DeepSeekChatConfig
    anthropic_server    Anthropic Messages API (POST /v1/messages)   anthropic/ -> AnthropicConfig
    gemini_server       Google AI Studio generateContent             gemini/ -> GoogleAIStudioGeminiConfig
    ollama_server       Ollama's own API (POST /api/generate)        ollama/ -> OllamaConfig

What each adapter sends, as read from litellm 1.106's source (and checked against these fakes):

- hosted_vllm/<m>, api_base B: POST B + "/chat/completions"; `Authorization: Bearer $HOSTED_VLLM_API_KEY`
  (litellm sends "Bearer fake-api-key" when the variable is unset); OpenAI body with "model": "<m>".
- deepseek/<m>, api_base B: POST B + "/chat/completions" (default B https://api.deepseek.com/beta);
  `Authorization: Bearer $DEEPSEEK_API_KEY`; OpenAI body.
- anthropic/<m>, api_base B: POST B + "/v1/messages" (litellm appends it unless B already ends with it, so
  B is the server root, not ".../v1"); `x-api-key: $ANTHROPIC_API_KEY`, `anthropic-version: 2023-06-01`;
  body {model, messages, system, max_tokens, temperature, ...}. `response_format` json_schema becomes
  `output_format: {type: json_schema, schema}` plus `anthropic-beta: structured-outputs-2025-11-13` for models
  whose map entry has supports_native_structured_output (every anthropic model in the bundled map), and a
  forced tool `json_tool_call` (tool_choice {type: tool, name: json_tool_call}) for the others; litellm turns
  that tool_use block back into the message's JSON content. `seed` is not an Anthropic parameter: litellm
  raises UnsupportedParamsError before sending unless drop_params.
- gemini/<m>, api_base B: POST B + "/models/<m>:generateContent" (Google's own base is
  https://generativelanguage.googleapis.com/v1beta, so B is the root + "/v1beta"); `x-goog-api-key:
  $GEMINI_API_KEY` (or GOOGLE_API_KEY); body {contents: [{role, parts: [{text}]}], system_instruction:
  {parts: [{text}]}, generationConfig: {temperature, maxOutputTokens, seed, responseMimeType,
  responseJsonSchema, responseLogprobs, logprobs}}. The reply must carry usageMetadata (litellm raises
  without it); thoughtsTokenCount counts as completion tokens when totalTokenCount excludes it.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field

import pytest

from tests.conftest import FakeOpenAI, serve_in_thread

# litellm's name for the tool it forces when it asks a non-native Anthropic model for JSON
ANTHROPIC_JSON_TOOL = "json_tool_call"
# Gemini 2.5 models think before they answer unless thinkingBudget is 0; Google reports it apart
GEMINI_THOUGHT_TOKENS = 17
DEEPSEEK_CACHE_HIT_TOKENS = 0  # DeepSeek caches 64-token prefix units; the fake reports no hits


def count_tokens(text: str) -> int:
    """The fakes' tokenizer: words, digits and punctuation runs (what they report as usage)."""
    return len(_tokens(text))


def _tokens(text: str) -> list[str]:
    """Reply text as tokens that join back to it exactly; digits one per token (Llama-style)."""
    return re.findall(r"\s?[A-Za-z_]+|\s?\d|\s?[^\w\s]+|\s+", text)


def _grade_reply(prompt: str) -> str:
    """The conftest fake judge's grade for this prompt: one JSON object on one line."""
    return FakeOpenAI().reply_for({"messages": [{"role": "user", "content": prompt}]})


def _text_of(content) -> str:
    """OpenAI or Anthropic message content (a string or a list of text parts/blocks) as text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def _camel_keys(obj):
    """Google's JSON API takes proto field names in either spelling: read them all as lowerCamelCase."""
    if isinstance(obj, dict):
        return {_camel(k): _camel_keys(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_camel_keys(v) for v in obj]
    return obj


def prompt_of(wire: str, body: dict) -> str:
    """All the prompt text of a request in `wire`'s shape (openai/vllm/deepseek, anthropic, gemini)."""
    if wire == "anthropic":
        return "\n".join([_text_of(body.get("system"))] + [_text_of(m.get("content")) for m in body["messages"]])
    if wire == "gemini":
        body = _camel_keys(body)
        system = body.get("systemInstruction") or {}
        parts = list(system.get("parts", [])) + [p for c in body.get("contents", []) for p in c.get("parts", [])]
        return "\n".join(p.get("text", "") for p in parts)
    return "\n".join(_text_of(m.get("content")) for m in body["messages"])


def _logprob_tokens(reply: str, top_n: int) -> list[tuple[str, float, list[tuple[str, float]]]]:
    """Deterministic token log-probabilities for `reply`: every token sampled with p=1 except digits, which
    get p=0.9 with the neighbouring digit as the runner-up at p=0.1. `top_n` caps the alternatives."""
    out = []
    for tok in _tokens(reply):
        s = tok.strip()
        if s.isdigit():
            other = str((int(s) + 1) % 10) if s != "9" else "8"
            chosen, top = math.log(0.9), [(tok, math.log(0.9)), (tok.replace(s, other), math.log(0.1))]
        else:
            chosen, top = 0.0, [(tok, 0.0)]
        out.append((tok, chosen, top[:top_n]))
    return out


@dataclass
class FakeProvider:
    """One fake provider: `wire` picks the request/response shape (vllm | deepseek | anthropic | gemini).

    `mode`: "grade" answers like the conftest fake judge; for anthropic "tool_use" also answers through a
    tool_use block whenever the request offers tools (as Claude does when it chooses to call one), and a
    forced tool (tool_choice type "tool"/"any") is always answered with tool_use, whatever the mode.
    `served_model`: the one model a vLLM server serves (vLLM answers 404 for any other name)."""

    wire: str
    mode: str = "grade"
    served_model: str | None = None
    requests: list = field(default_factory=list)
    port: int = 0

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base(self) -> str:
        """The api_base a user would pass, in the form the provider's own docs give it."""
        return {"vllm": f"{self.root}/v1",  # `vllm serve` base: http://host:8000/v1
                "deepseek": self.root,  # https://api.deepseek.com (also accepts /v1 and /beta)
                "anthropic": self.root,  # https://api.anthropic.com; litellm appends /v1/messages
                "gemini": f"{self.root}/v1beta"}[self.wire]  # https://generativelanguage.googleapis.com/v1beta

    @property
    def sent(self) -> list:
        """The requests that reached the provider's chat endpoint and were answered 200."""
        return [r for r in self.requests if r["status"] == 200]

    # -- dispatch -----------------------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: dict, body) -> tuple[int, dict, dict | None]:
        """(status, reply JSON, usage reported in OpenAI terms or None)."""
        return getattr(self, f"_{self.wire}")(method, path, headers, body)

    # -- Ollama's own API (ollama/<model>: POST /api/generate) -----------------------------------------
    def _ollama(self, method, path, headers, body):
        if method == "POST" and path == "/api/show":
            return 200, {"modelfile": "", "parameters": "", "template": "{{ .Prompt }}",
                         "details": {"family": "llama"}, "model_info": {"llama.context_length": 8192}}, None
        if method != "POST" or path != "/api/generate":
            return 404, {"error": "404 page not found"}, None
        prompt = body.get("prompt") or ""
        reply = _grade_reply(prompt if not isinstance(body.get("system"), str) else body["system"] + "\n" + prompt)
        pt, ct = count_tokens(prompt), count_tokens(reply)
        return 200, {"model": body.get("model"), "created_at": "2026-11-23T00:00:00Z", "response": reply, "done": True,
                     "done_reason": "stop", "prompt_eval_count": pt, "eval_count": ct}, \
            {"prompt_tokens": pt, "completion_tokens": ct}

    # -- OpenAI-compatible: vLLM and DeepSeek --------------------------------------------------------
    def _openai_error(self, status: int, message: str, type_: str, code) -> tuple[int, dict, None]:
        return status, {"error": {"message": message, "type": type_, "param": None, "code": code}}, None

    def _vllm(self, method, path, headers, body):
        if method == "GET" and path == "/v1/models":
            return 200, {"object": "list", "data": [{"id": self.served_model, "object": "model", "created": 0,
                                                     "owned_by": "vllm", "root": self.served_model,
                                                     "max_model_len": 32768}]}, None
        if method != "POST" or path != "/v1/chat/completions":
            return 404, {"detail": "Not Found"}, None  # FastAPI's 404
        if body.get("model") != self.served_model:
            return 404, {"object": "error", "message": f"The model `{body.get('model')}` does not exist.",
                         "type": "NotFoundError", "param": None, "code": 404}, None
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return 400, {"object": "error", "message": "messages: field required", "type": "BadRequestError",
                         "param": None, "code": 400}, None
        return self._openai_reply(body, flavour="vllm")

    def _deepseek(self, method, path, headers, body):
        if method != "POST" or path not in ("/chat/completions", "/v1/chat/completions", "/beta/chat/completions"):
            return 404, {"error": {"message": "Not Found", "type": "invalid_request_error"}}, None
        if not headers.get("authorization", "").startswith("Bearer sk-"):
            return self._openai_error(401, "Authentication Fails, Your api key is invalid",
                                      "authentication_error", "invalid_request_error")
        if body.get("model") not in ("deepseek-chat", "deepseek-reasoner"):
            return self._openai_error(400, "Model Not Exist", "invalid_request_error", "invalid_request_error")
        rf = body.get("response_format") or {}
        if rf.get("type") not in (None, "text", "json_object"):
            # DeepSeek's chat API takes only text and json_object; json_schema is refused outright
            return self._openai_error(400, "This response_format type is unavailable now", "invalid_request_error",
                                      "invalid_request_error")
        if rf.get("type") == "json_object" and "json" not in prompt_of("openai", body).lower():
            return self._openai_error(400, "Prompt must contain the word 'json' in some form to use "
                                      "'response_format' of type 'json_object'.", "invalid_request_error",
                                      "invalid_request_error")
        return self._openai_reply(body, flavour="deepseek")

    def _openai_reply(self, body: dict, flavour: str):
        prompt = prompt_of("openai", body)
        reply = _grade_reply(prompt)
        pt, ct = count_tokens(prompt), count_tokens(reply)
        n = len(self.requests) + 1
        logprobs = None
        if body.get("logprobs"):
            logprobs = {"content": [
                {"token": t, "logprob": lp, "bytes": list(t.encode()),
                 "top_logprobs": [{"token": a, "logprob": alp, "bytes": list(a.encode())} for a, alp in top]}
                for t, lp, top in _logprob_tokens(reply, int(body.get("top_logprobs") or 0))]}
        usage = {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}
        if flavour == "vllm":
            choice = {"index": 0, "message": {"role": "assistant", "reasoning_content": None, "content": reply,
                                              "tool_calls": []},
                      "logprobs": logprobs, "finish_reason": "stop", "stop_reason": None}
            out = {"id": f"chatcmpl-{n:032x}", "object": "chat.completion", "created": int(time.time()),
                   "model": body["model"], "choices": [choice], "usage": usage | {"prompt_tokens_details": None},
                   "prompt_logprobs": None, "kv_transfer_params": None}
        else:
            choice = {"index": 0, "message": {"role": "assistant", "content": reply}, "logprobs": logprobs,
                      "finish_reason": "stop"}
            hit = DEEPSEEK_CACHE_HIT_TOKENS
            out = {"id": f"{n:08x}-0000-4000-8000-000000000000", "object": "chat.completion",
                   "created": int(time.time()), "model": body["model"], "choices": [choice],
                   "usage": usage | {"prompt_tokens_details": {"cached_tokens": hit},
                                     "prompt_cache_hit_tokens": hit, "prompt_cache_miss_tokens": pt - hit},
                   "system_fingerprint": "fp_8802369eaa_prod0623"}
        return 200, out, {"prompt_tokens": pt, "completion_tokens": ct}

    # -- Anthropic Messages API --------------------------------------------------------------------
    ANTHROPIC_FIELDS = {"model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream",
                        "temperature", "top_p", "top_k", "tools", "tool_choice", "thinking", "service_tier",
                        "container", "mcp_servers", "context_management", "output_format", "output_config"}

    @staticmethod
    def _anthropic_error(status: int, type_: str, message: str):
        return status, {"type": "error", "error": {"type": type_, "message": message}}, None

    def _anthropic(self, method, path, headers, body):
        if method != "POST" or path != "/v1/messages":
            return self._anthropic_error(404, "not_found_error", "Not found")
        if not headers.get("x-api-key") and not headers.get("authorization"):
            return self._anthropic_error(401, "authentication_error", "x-api-key header is required")
        if not headers.get("anthropic-version"):
            return self._anthropic_error(400, "invalid_request_error", "anthropic-version: header is required")
        for key in body:
            if key not in self.ANTHROPIC_FIELDS:  # the API refuses unknown top-level fields (e.g. seed)
                return self._anthropic_error(400, "invalid_request_error", f"{key}: Extra inputs are not permitted")
        for key in ("model", "messages", "max_tokens"):
            if key not in body:
                return self._anthropic_error(400, "invalid_request_error", f"{key}: Field required")
        if any(m.get("role") not in ("user", "assistant") for m in body["messages"]):
            return self._anthropic_error(400, "invalid_request_error",
                                         "messages: roles must be 'user' or 'assistant'; put the system prompt "
                                         "in the top-level system field")
        if "output_format" in body and "structured-outputs-2025-11-13" not in headers.get("anthropic-beta", ""):
            return self._anthropic_error(400, "invalid_request_error", "output_format: Extra inputs are not permitted")
        prompt = prompt_of("anthropic", body)
        reply = _grade_reply(prompt)
        tools = body.get("tools") or []
        choice = body.get("tool_choice") or {"type": "auto"}
        forced = choice.get("type") in ("tool", "any")
        if tools and (forced or self.mode == "tool_use"):
            name = choice.get("name") if choice.get("type") == "tool" else tools[0]["name"]
            n = len(self.requests) + 1
            content = [{"type": "tool_use", "id": f"toolu_01{n:022d}", "name": name, "input": json.loads(reply)}]
            # Claude bills the tool call's JSON as output tokens
            ct, stop = count_tokens(json.dumps(content[0]["input"])) + 8, "tool_use"
        else:
            content = [{"type": "text", "text": reply}]
            ct, stop = count_tokens(reply), "end_turn"
        pt = count_tokens(prompt) + (346 * len(tools) if tools else 0)  # tool use adds a system prompt
        out = {"id": f"msg_01{len(self.requests) + 1:022d}", "type": "message", "role": "assistant",
               "model": body["model"], "content": content, "stop_reason": stop, "stop_sequence": None,
               "usage": {"input_tokens": pt, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                         "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                         "output_tokens": ct, "service_tier": "standard"}}
        return 200, out, {"prompt_tokens": pt, "completion_tokens": ct}

    # -- Google AI Studio generateContent ------------------------------------------------------------
    GEMINI_FIELDS = {"model", "contents", "systemInstruction", "generationConfig", "tools", "toolConfig",
                     "safetySettings", "cachedContent", "labels"}  # read in either spelling (snake or camel)

    @staticmethod
    def _gemini_error(status: int, state: str, message: str):
        return status, {"error": {"code": status, "message": message, "status": state}}, None

    def _gemini(self, method, path, headers, body):
        m = re.fullmatch(r"/v1beta/models/([^/:]+):generateContent", path)
        if method != "POST" or not m:
            return self._gemini_error(404, "NOT_FOUND", f"The requested URL {path} was not found on this server.")
        if not headers.get("x-goog-api-key"):
            return self._gemini_error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers "
                                      "(callers without established identity). Please use API Key or other form "
                                      "of API consumer identity to call this API.")
        for key in body:
            if _camel(key) not in self.GEMINI_FIELDS:
                return self._gemini_error(400, "INVALID_ARGUMENT", f'Invalid JSON payload received. Unknown name "{key}"'
                                          ": Cannot find field.")
        if not body.get("contents"):
            return self._gemini_error(400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not "
                                      "specified")
        prompt = prompt_of("gemini", body)
        reply = _grade_reply(prompt)
        config = _camel_keys(body).get("generationConfig") or {}
        pt, ct = count_tokens(prompt), count_tokens(reply)
        thinking = (config.get("thinkingConfig") or {}).get("thinkingBudget") != 0
        thoughts = GEMINI_THOUGHT_TOKENS if thinking else 0
        candidate = {"content": {"parts": [{"text": reply}], "role": "model"}, "finishReason": "STOP", "index": 0}
        if config.get("responseLogprobs"):
            lps = _logprob_tokens(reply, int(config.get("logprobs") or 0))
            candidate["logprobsResult"] = {
                "topCandidates": [{"candidates": [{"token": a, "logProbability": alp} for a, alp in top]}
                                  for _, _, top in lps],
                "chosenCandidates": [{"token": t, "logProbability": lp} for t, lp, _ in lps]}
            candidate["avgLogprobs"] = sum(lp for _, lp, _ in lps) / len(lps)
        usage = {"promptTokenCount": pt, "candidatesTokenCount": ct, "totalTokenCount": pt + ct + thoughts,
                 "promptTokensDetails": [{"modality": "TEXT", "tokenCount": pt}]}
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        out = {"candidates": [candidate], "usageMetadata": usage, "modelVersion": m.group(1),
               "responseId": f"resp-{len(self.requests) + 1:06d}"}
        return 200, out, {"prompt_tokens": pt, "completion_tokens": ct + thoughts}


def _serve(state: FakeProvider):
    """Run `state` as an aiohttp server on 127.0.0.1 (random port) in a thread; yields the state."""
    from aiohttp import web

    async def any_request(request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in request.headers.items()}
        if body is None or (raw and not isinstance(body, dict)):
            status, reply, usage = 400, {"error": {"message": "request body is not a JSON object"}}, None
        else:
            status, reply, usage = state.handle(request.method, request.path, headers, body)
        state.requests.append({"method": request.method, "path": request.path, "query": request.query_string,
                               "headers": headers, "body": body, "status": status, "reply": reply, "usage": usage})
        return web.json_response(reply, status=status)

    yield from serve_in_thread(state, lambda app: app.router.add_route("*", "/{tail:.*}", any_request))


@pytest.fixture
def vllm_server():
    """vLLM's OpenAI-compatible server (`vllm serve <model>`): POST /v1/chat/completions, GET /v1/models.
    Exercises litellm's `hosted_vllm/` adapter (HostedVLLMChatConfig, an OpenAIGPTConfig). It serves one
    model, `served_model` (default "Qwen/Qwen2.5-7B-Instruct"), and answers 404 for any other name as vLLM
    does; replies carry vLLM's extra fields (stop_reason, reasoning_content, prompt_logprobs, tool_calls: [])
    and token log-probabilities when asked."""
    yield from _serve(FakeProvider("vllm", served_model="Qwen/Qwen2.5-7B-Instruct"))


@pytest.fixture
def deepseek_server():
    """DeepSeek's OpenAI-compatible API: POST /chat/completions (also /v1/... and /beta/...), Bearer key.
    Exercises litellm's `deepseek/` adapter (DeepSeekChatConfig). Like the real API it knows only
    deepseek-chat and deepseek-reasoner, refuses response_format json_schema ("This response_format type is
    unavailable now") and json_object without the word json in the prompt, and reports usage with
    prompt_cache_hit_tokens / prompt_cache_miss_tokens."""
    yield from _serve(FakeProvider("deepseek"))


@pytest.fixture
def anthropic_server():
    """Anthropic's Messages API: POST /v1/messages with x-api-key and anthropic-version. Exercises litellm's
    `anthropic/` adapter (AnthropicConfig). Like the real API it refuses unknown top-level fields (seed),
    requires max_tokens, takes output_format only with the structured-outputs beta header, and answers a
    forced tool with a tool_use block (how litellm gets JSON from models without native structured output).
    Replies: content [{type: text, text}] or [{type: tool_use, id, name, input}], stop_reason, usage
    {input_tokens, output_tokens, cache_*}."""
    yield from _serve(FakeProvider("anthropic"))


@pytest.fixture
def anthropic_tool_server():
    """The Anthropic fake in "tool_use" mode: whenever the request offers tools it answers with a tool_use
    block carrying the grade as the tool's input (forced or not), never with text."""
    yield from _serve(FakeProvider("anthropic", mode="tool_use"))


@pytest.fixture
def ollama_server():
    """Ollama's own API: POST /api/generate ({model, prompt, options, stream: false}) answered with
    {response, done, prompt_eval_count, eval_count}; /api/show for model details. Exercises litellm's
    `ollama/` adapter."""
    yield from _serve(FakeProvider("ollama"))


@pytest.fixture
def gemini_server():
    """Google AI Studio's Gemini API: POST /v1beta/models/<model>:generateContent with x-goog-api-key.
    Exercises litellm's `gemini/` adapter (GoogleAIStudioGeminiConfig over VertexGeminiConfig). Replies:
    {candidates: [{content: {parts: [{text}], role: model}, finishReason: STOP[, logprobsResult]}],
    usageMetadata: {promptTokenCount, candidatesTokenCount, thoughtsTokenCount, totalTokenCount},
    modelVersion, responseId}; like Gemini 2.5 it reports thinking tokens apart (unless thinkingBudget is 0)
    and refuses unknown top-level fields."""
    yield from _serve(FakeProvider("gemini"))
