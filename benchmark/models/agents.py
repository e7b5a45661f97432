"""autogen-agentchat over the model registry, for units whose model acts (tools, multi-turn teams).

`AgentClient` is an autogen ``ChatCompletionClient`` whose every call is ``Model.complete``: the same
providers, cache, retries and accounting as a single-reply unit. Each trial gets its own client, which
keeps the completions of that trial (no context variables, nothing shared between trials). autogen is
imported only here and by the units that run agents.
"""

from __future__ import annotations

from typing import Any, AsyncGenerator, Mapping, Sequence

from autogen_core import CancellationToken, FunctionCall
from autogen_core.models import (
    AssistantMessage,
    ChatCompletionClient,
    CreateResult,
    FunctionExecutionResultMessage,
    LLMMessage,
    ModelInfo,
    RequestUsage,
    SystemMessage,
    UserMessage,
)
from autogen_core.tools import FunctionTool, Tool, ToolSchema
from pydantic import BaseModel

from benchmark.models.base import Completion, Model, ModelError, ReplyFormat, Request


def to_messages(messages: Sequence[LLMMessage]) -> tuple[dict, ...]:
    out: list[dict] = []
    for m in messages:
        if isinstance(m, SystemMessage):
            out.append({"role": "system", "content": m.content})
        elif isinstance(m, UserMessage):
            if not isinstance(m.content, str):
                raise ModelError("only text user messages are supported")
            out.append({"role": "user", "content": m.content})
        elif isinstance(m, AssistantMessage):
            if isinstance(m.content, str):
                out.append({"role": "assistant", "content": m.content})
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                    for c in m.content]})
        elif isinstance(m, FunctionExecutionResultMessage):
            out.extend({"role": "tool", "tool_call_id": r.call_id, "content": r.content} for r in m.content)
        else:  # pragma: no cover - autogen adds new types rarely
            raise ModelError(f"unsupported message type {type(m).__name__}")
    return tuple(out)


def to_tools(tools: Sequence[Tool | ToolSchema]) -> tuple[dict, ...]:
    schemas = [t.schema if isinstance(t, Tool) else t for t in tools]
    return tuple({"type": "function", "function": {k: v for k, v in s.items() if k in ("name", "description", "parameters")}}
                 for s in schemas)


def function_tools(functions, docs: dict[str, str]) -> list[FunctionTool]:
    """Plain functions as autogen tools, described by `docs` (by function name)."""
    return [FunctionTool(f, description=docs[f.__name__]) for f in functions]


class AgentClient(ChatCompletionClient):
    """autogen model client for one trial: calls `model` for sample `epoch`, keeps every Completion. With
    `reply`, every text reply is asked for in that format (unless autogen asks for its own); `on_call` is told
    of every completed call (a long agent episode shows its steps while it runs)."""

    def __init__(self, model: Model, epoch: int = 0, max_tokens: int | None = None, reply: ReplyFormat | None = None,
                 on_call=None):
        self.model, self.epoch, self.max_tokens, self.reply = model, epoch, max_tokens, reply
        self.on_call = on_call
        self.completions: list[Completion] = []
        self._last = RequestUsage(prompt_tokens=0, completion_tokens=0)
        self._info = ModelInfo(vision=False, function_calling=True, json_output=True, family="unknown",
                               structured_output=True, multiple_system_messages=True)

    async def create(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = [],
                     tool_choice: Any = "auto", json_output: Any = None,
                     extra_create_args: Mapping[str, Any] = {},
                     cancellation_token: CancellationToken | None = None) -> CreateResult:
        reply = self.reply
        if isinstance(json_output, type) and issubclass(json_output, BaseModel):
            reply = ReplyFormat(json_output.__name__, json_output.model_json_schema())
        elif json_output:
            reply = ReplyFormat("json", {"type": "object"})
        choice = None
        if tools:
            choice = {"type": "function", "function": {"name": tool_choice.name}} if isinstance(tool_choice, Tool) \
                else tool_choice
        request = Request(messages=to_messages(messages), reply=reply, tools=to_tools(tools), tool_choice=choice,
                          max_tokens=self.max_tokens)
        c = await self.model.complete(request, self.epoch)
        self.completions.append(c)
        if self.on_call is not None:
            self.on_call(c)
        self._last = RequestUsage(prompt_tokens=c.prompt_tokens, completion_tokens=c.completion_tokens)
        if c.tool_calls:
            content: Any = [FunctionCall(id=t["id"] or f"call_{i}", name=t["name"], arguments=t["arguments"] or "{}")
                            for i, t in enumerate(c.tool_calls)]
            finish = "function_calls"
        else:
            content = c.text or ""
            finish = c.finish_reason if c.finish_reason in ("stop", "length", "content_filter") else "stop"
        return CreateResult(finish_reason=finish, content=content, usage=self._last, cached=c.cached)

    async def create_stream(self, messages: Sequence[LLMMessage], **kwargs: Any) -> AsyncGenerator[str | CreateResult, None]:
        result = await self.create(messages, **kwargs)
        if isinstance(result.content, str) and result.content:
            yield result.content
        yield result

    async def close(self) -> None:
        return None

    def actual_usage(self) -> RequestUsage:
        return self._last

    def total_usage(self) -> RequestUsage:
        return RequestUsage(prompt_tokens=sum(c.prompt_tokens for c in self.completions),
                            completion_tokens=sum(c.completion_tokens for c in self.completions))

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        # an estimate (autogen uses it only to trim contexts); exact counts come back with each completion
        return sum(len(str(m.get("content") or "")) for m in to_messages(messages)) // 4

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return 8192 - self.count_tokens(messages, tools=tools)

    @property
    def capabilities(self):  # deprecated in autogen but still abstract
        return self._info

    @property
    def model_info(self) -> ModelInfo:
        return self._info


def record_unknown_tools(env, messages, tools) -> None:
    """Record in `env`'s trace the calls an agent made to tools it was not given: autogen refuses them before
    they reach the environment, so they would otherwise leave no trace."""
    from autogen_agentchat.messages import ToolCallRequestEvent

    offered = {t.name for t in tools}
    for m in messages:
        if isinstance(m, ToolCallRequestEvent):
            for call in m.content:
                if call.name not in offered:
                    env.record(call.name, {"raw": call.arguments[:300]}, False, "ERROR: unknown tool (refused)")


def final_text(result) -> str:
    """The text of an agent run's last message."""
    return str(getattr(result.messages[-1], "content", ""))
