"""Long-lived Claude Code sessions, one CLI process each, reused batch after batch.

Starting the CLI costs about half a second of CPU and ~230 MiB, so the engine never starts one
per account or per batch: a :class:`SessionPool` keeps at most ``capacity`` sessions (by
default one per role) and hands them out per request.

A :class:`Session` is a ``ClaudeSDKClient`` owned by its own task (the SDK requires connect,
use and disconnect in one async context); requests reach it through a queue. Before every
request but the first it sends ``/clear``: verified against the bundled CLI 2.1.330 (SDK
0.2.187), this starts a fresh conversation in the same process (a ``ConversationResetMessage``,
a new ``session_id``, the next request carries only the new prompt), so input tokens do not
grow with the number of batches. (A different ``session_id`` passed to ``client.query`` does
not reset anything: the CLI keeps one conversation.) ``/clear`` makes no API request; it adds
~120 tokens of "local command" caveat to the next prompt and resets the CLI's cumulative cost.

A request is bounded by a timeout; a timeout or a broken CLI marks the session unusable (its
process is ended) and the pool starts a new one for the next request.

A session runs one model (``ClaudeAgentOptions.model``) for its whole life, so the engine pools
sessions by *kind*, a role and a model (``("author", "claude-haiku-4-5")``): an account routed
to the cheaper model (:mod:`.routing`) is asked on a session of that model, never on one of the
main model.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    ClaudeSDKError,
    CLIConnectionError,
    CLINotFoundError,
    ProcessError,
    ResultMessage,
    StreamEvent,
    ToolUseBlock,
)

from sergas_tui.agents.prompts import Role
from sergas_tui.errors import AgentError
from sergas_tui.logs import get_logger

log = get_logger("sergas.claude")

K = TypeVar("K", bound=Hashable)

CONNECT_TIMEOUT = 90.0
"""Seconds a CLI process may take to start and initialise."""
CLOSE_TIMEOUT = 15.0
"""Seconds to wait for a CLI process to end before giving up on it."""
GRACE = 20.0
"""Extra seconds a caller waits beyond a request's own timeout (the worker enforces that)."""


@dataclass
class Reply:
    """What one request produced."""

    result: ResultMessage | None = None
    tool_uses: list[ToolUseBlock] = field(default_factory=list)
    """Every tool call the model made (allowed or not), in order."""
    errors: list[str] = field(default_factory=list)
    """``AssistantMessage.error`` values seen (API errors after the CLI's retries)."""

    @property
    def structured(self) -> Any:
        return None if self.result is None else self.result.structured_output


EventSink = Callable[[dict[str, Any]], None]


@dataclass
class _Job:
    prompt: str
    timeout: float
    on_event: EventSink
    future: asyncio.Future[Reply]

    def fail(self, err: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(err)


def agent_error(err: BaseException, role: Role, stderr: list[str] | None = None) -> AgentError:
    """A clear :class:`AgentError` for an SDK or CLI failure."""
    tail = " ".join((stderr or [])[-3:]).strip()
    detail = f" (CLI said: {tail[:300]})" if tail else ""
    if isinstance(err, CLINotFoundError):
        return AgentError(
            "The Claude Code CLI was not found. Reinstall Sergas (the claude-agent-sdk wheel "
            "bundles it) or use the rules engine.",
            title="Claude engine unavailable",
        )
    if isinstance(err, CLIConnectionError):
        return AgentError(f"The {role} lost its Claude Code session: {err}{detail}")
    if isinstance(err, ProcessError):
        return AgentError(f"The {role}'s Claude Code process failed: {err}{detail}")
    if isinstance(err, TimeoutError):
        return AgentError(f"The {role} got no answer in time{detail}.", title="Model timeout")
    return AgentError(f"The {role} failed: {err!r}{detail}")


class Session:
    """One CLI process for one role, serving requests one at a time."""

    def __init__(self, role: Role, options: ClaudeAgentOptions) -> None:
        self.role = role
        self.model = options.model
        """The model every request of this session goes to (``None``: the CLI's default)."""
        self._options = options
        self._jobs: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self.stderr: list[str] = []
        self.requests = 0
        self.usable = False

    async def start(self, within: float = CONNECT_TIMEOUT) -> None:
        """Start the CLI process and wait (at most ``within`` seconds) until it is ready."""
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        self._task = loop.create_task(self._main(), name=f"claude-{self.role}")
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), within)
        except BaseException:
            await self.aclose()
            raise
        self.usable = True

    async def ask(self, prompt: str, *, within: float, on_event: EventSink) -> Reply:
        """Send ``prompt`` in a fresh conversation; the reply once the ``ResultMessage`` came
        (the worker gives up after ``within`` seconds and ends the process)."""
        if not self.usable:
            raise AgentError(f"The {self.role}'s session is closed.")
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._jobs.put_nowait(_Job(prompt, within, on_event, future))
        try:
            return await asyncio.wait_for(asyncio.shield(future), within + GRACE)
        except TimeoutError as err:
            self.usable = False
            raise agent_error(err, self.role, self.stderr) from err

    async def _main(self) -> None:
        assert self._ready is not None
        options = self._options
        if options.stderr is None:
            options.stderr = self._stderr
        client = ClaudeSDKClient(options)
        try:
            await client.connect()
        except Exception as err:
            self._ready.set_exception(agent_error(err, self.role, self.stderr))
            return
        self._ready.set_result(None)
        job: _Job | None = None
        try:
            while (job := await self._jobs.get()) is not None:
                if job.future.done():
                    continue
                try:
                    async with asyncio.timeout(job.timeout):
                        reply = await self._exchange(client, job)
                except (TimeoutError, ClaudeSDKError) as err:
                    job.fail(agent_error(err, self.role, self.stderr))
                    break
                except Exception as err:
                    log.exception("claude_session_failed", role=self.role)
                    job.fail(agent_error(err, self.role, self.stderr))
                    break
                if not job.future.done():
                    job.future.set_result(reply)
        finally:
            self.usable = False
            if job is not None:
                job.fail(AgentError(f"The {self.role}'s session ended."))
            while not self._jobs.empty():
                left = self._jobs.get_nowait()
                if left is not None:
                    left.fail(AgentError(f"The {self.role}'s session ended."))
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), CLOSE_TIMEOUT)

    async def _exchange(self, client: ClaudeSDKClient, job: _Job) -> Reply:
        if self.requests:
            await client.query("/clear")  # a fresh conversation: no earlier batch is resent
            async for _ in client.receive_response():
                pass
        self.requests += 1
        await client.query(job.prompt)
        reply = Reply()
        async for message in client.receive_response():
            if isinstance(message, StreamEvent):
                job.on_event(message.event)
            elif isinstance(message, AssistantMessage):
                reply.tool_uses += [b for b in message.content if isinstance(b, ToolUseBlock)]
                if message.error:
                    reply.errors.append(str(message.error))
            elif isinstance(message, ResultMessage):
                reply.result = message
        return reply

    def _stderr(self, line: str) -> None:
        self.stderr.append(line)
        del self.stderr[:-20]

    async def aclose(self) -> None:
        """End the CLI process (waits a bounded time, then cancels)."""
        self.usable = False
        task = self._task
        if task is None or task.done():
            return
        self._jobs.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(task), CLOSE_TIMEOUT + 5)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, 5)


class SessionPool(Generic[K]):
    """At most ``capacity`` sessions in total, reused per kind (a role, or a role and a model).

    Each kind may hold ``capacity // kinds`` sessions (at least one); a request of a kind that
    already has its share waits for one of them. Only when the pool is smaller than the
    number of kinds is an idle session of another kind closed to make room.
    """

    def __init__(
        self,
        open_session: Callable[[K], Awaitable[Session]],
        capacity: int,
        *,
        kinds: int = 3,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._open = open_session
        self.capacity = capacity
        self.per_kind = max(1, capacity // max(1, kinds))
        self._idle: dict[K, list[Session]] = {}
        self._owned: dict[K, int] = {}
        self._kind_of: dict[int, K] = {}
        self._slots = 0
        self._all: list[Session] = []
        self._cond = asyncio.Condition()
        self.started = 0
        """CLI processes started by this pool."""
        self.closed = False

    def kinds_started(self) -> set[K]:
        """The kinds this pool has started a session for."""
        return set(self._kind_of.values())

    async def acquire(self, kind: K) -> Session:
        victim: Session | None = None
        async with self._cond:
            while True:
                if self.closed:
                    raise AgentError("The Claude engine is closed.")
                idle = self._idle.get(kind)
                if idle:
                    return idle.pop()
                owned = self._owned.get(kind, 0)
                if self._slots < self.capacity and owned < self.per_kind:
                    self._slots += 1
                    break
                others = [(k, s) for k, ss in self._idle.items() if k != kind for s in ss]
                if not owned and others:
                    victim_kind, victim = others[0]
                    self._idle[victim_kind].remove(victim)
                    self._owned[victim_kind] -= 1
                    break  # the victim's slot passes to the new session
                await self._cond.wait()
            self._owned[kind] = self._owned.get(kind, 0) + 1
        if victim is not None:
            await victim.aclose()
        try:
            self.started += 1
            session = await self._open(kind)
        except BaseException:
            async with self._cond:
                self._slots -= 1
                self._owned[kind] -= 1
                self._cond.notify_all()
            raise
        self._kind_of[id(session)] = kind
        self._all.append(session)
        return session

    async def release(self, session: Session) -> None:
        kind = self._kind_of[id(session)]
        async with self._cond:
            if session.usable and not self.closed:
                self._idle.setdefault(kind, []).append(session)
            else:
                self._slots -= 1
                self._owned[kind] -= 1
            self._cond.notify_all()
        if not session.usable:
            await session.aclose()

    async def aclose(self) -> None:
        async with self._cond:
            self.closed = True
            self._cond.notify_all()
        await asyncio.gather(*(s.aclose() for s in self._all), return_exceptions=True)
        self._idle.clear()
