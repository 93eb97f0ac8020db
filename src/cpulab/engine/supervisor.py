"""Start a runner child, stream its events, cancel it, and never leave a process behind.

Every run ends in exactly one final event, whatever the child does: finish, raise, die
by a signal, or print garbage. That is its last Result (one per point; a single run has
one point), or an Error, or Cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence

from cpulab.engine.backends import EXIT_WAIT
from cpulab.engine.cgroup import RunCgroup
from cpulab.engine.events import (
    Cancelled,
    Error,
    Event,
    EventError,
    Result,
    parse_event,
)
from cpulab.engine.spec import SPARE_ARGUMENT, RunSpec, SweepSpec
from cpulab.engine.treemeter import group, processes, remove_joblib_leftovers, terminate, tree

RUNNER_COMMAND = (sys.executable, "-m", "cpulab.engine.runner")
STDERR_TAIL_BYTES = 4096
LINE_LIMIT = 1 << 20  # one result carries machine facts; far below this
CHILD_DIED = "ChildDied"  # the error of a runner that ended before its last event


class _ExitSignalling(asyncio.subprocess.SubprocessStreamProtocol):
    """asyncio's own protocol for a child with pipes, which also says when it exits."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop):
        super().__init__(limit=limit, loop=loop)
        self.exit = asyncio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.exit.set()


class RunnerProcess(asyncio.subprocess.Process):
    """A runner child whose exit can be awaited whoever still holds its pipes.

    Not `wait()`: in CPython 3.11 to 3.13 at least, that returns only once every pipe the
    child held is closed, and its worker processes, which inherited its stderr, may hold
    that one for ever. Nor a poll of `returncode`: a few milliseconds apart, that woke the
    app's event loop hundreds of times while a runner shut its workers down."""

    def __init__(self, transport, protocol: _ExitSignalling, loop: asyncio.AbstractEventLoop):
        super().__init__(transport, protocol, loop)
        self._exit = protocol.exit

    @classmethod
    async def start(cls, *command: str, limit: int, **options) -> RunnerProcess:
        """`asyncio.create_subprocess_exec`, with this class's protocol."""
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.subprocess_exec(
            lambda: _ExitSignalling(limit, loop), *command, **options
        )
        return cls(transport, protocol, loop)

    async def exited(self) -> int:
        """The exit status, once the child has exited."""
        await self._exit.wait()
        assert self.returncode is not None
        return self.returncode


def describe_exit(status: int | None) -> str:
    if status is None:
        return "the runner did not exit"
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        if -status == signal.SIGKILL:  # nothing in cpulab sends it unasked
            return f"the runner was killed by {name} (often the out-of-memory killer)"
        return f"the runner was killed by {name}"
    return f"the runner exited with status {status}"


class RunHandle:
    """One running child. Iterate `events()` once; `cancel()` from anywhere."""

    def __init__(
        self,
        proc: RunnerProcess,
        points: int = 1,
        env: Mapping[str, str] | None = None,
        cgroup: RunCgroup | None = None,
        exit_wait: float = EXIT_WAIT,
    ):
        self.proc = proc
        self.exit_wait = exit_wait  # seconds it gets to exit by itself after its last result
        self.cgroup = cgroup  # where the machine allows: every process the run started
        self.env = os.environ if env is None else env  # the child's
        self.results_due = points  # a sweep child reports one Result per point
        self.pid = proc.pid
        self._stderr: deque[bytes] = deque()
        self._stderr_size = 0
        self._stderr_task = asyncio.ensure_future(self._drain_stderr())
        self._cancel_started: float | None = None
        self._cancel_done = asyncio.Event()
        self.final: Event | None = None

    @property
    def finished(self) -> bool:
        return self.final is not None

    async def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(4096):
            self._stderr.append(chunk)
            self._stderr_size += len(chunk)
            while self._stderr_size - len(self._stderr[0]) >= STDERR_TAIL_BYTES:
                self._stderr_size -= len(self._stderr.popleft())

    def stderr_tail(self) -> str:
        text = b"".join(self._stderr)[-STDERR_TAIL_BYTES:].decode("utf-8", "replace")
        return text.strip()

    async def events(self) -> AsyncIterator[Event]:
        assert self.proc.stdout is not None
        try:
            while True:
                try:
                    line = await self.proc.stdout.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    line = b"<an event line over the size limit>"
                if not line:
                    break
                try:
                    event = parse_event(line)
                except EventError as exc:
                    yield await self._finish(await self._protocol_error(line, exc))
                    return
                if isinstance(event, Result) and not event.partial:
                    self.results_due -= 1
                if isinstance(event, Error | Cancelled) or self.results_due == 0:
                    yield await self._finish(event)
                    return
                yield event
            yield await self._finish(await self._ended_early())
        finally:
            if not self.finished:  # the consumer stopped listening: stop the child too
                self.kill()

    async def _protocol_error(self, line: bytes, exc: EventError) -> Error:
        await asyncio.to_thread(self.kill)
        await self._exited_with_stderr()
        return Error(
            type="ProtocolError",
            message=f"the runner printed a line that is not an event ({exc}): {line[:120]!r}",
            exit_status=self.proc.returncode,
            stderr_tail=self.stderr_tail(),
        )

    async def _ended_early(self) -> Event:
        if self._cancel_started is not None:
            await self._cancel_done.wait()
            return Cancelled(seconds=time.monotonic() - self._cancel_started)
        status = await self._exited()
        # Its workers outlive it in its process group, holding its stderr open: end them.
        await asyncio.to_thread(self.kill)
        await self._exited_with_stderr()
        return Error(
            type=CHILD_DIED,
            message=f"{describe_exit(status)} before reporting a result",
            exit_status=status,
            stderr_tail=self.stderr_tail(),
        )

    async def _finish(self, event: Event) -> Event:
        if isinstance(event, Result | Error) and self.proc.returncode is None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._exited(), self.exit_wait)
        await asyncio.to_thread(self.kill)  # mop up idle workers the child left
        if isinstance(event, Error):
            await self._exited_with_stderr()
        else:
            await self._exited()
            self._stderr_task.cancel()  # nobody will read it, and nothing must linger
        if isinstance(event, Error) and not event.stderr_tail:
            event = Error(
                type=event.type,
                message=event.message,
                traceback=event.traceback,
                exit_status=self.proc.returncode,
                stderr_tail=self.stderr_tail(),
            )
        self.final = event
        return event

    async def _exited(self) -> int:
        return await self.proc.exited()

    async def _exited_with_stderr(self) -> int | None:
        """Wait for the child's exit and, briefly, for the last of its stderr: an error
        report needs it. Descendants still holding the pipe may keep it open."""
        status = await self._exited()
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(self._stderr_task), 1.0)
        return status

    async def cancel(self) -> None:
        """Stop the run and its whole tree; `events()` then ends with Cancelled."""
        if self.finished or self._cancel_started is not None:
            return
        self._cancel_started = time.monotonic()
        try:
            await asyncio.to_thread(self.kill)
        finally:
            self._cancel_done.set()

    def kill(self) -> None:
        """Synchronously end the child's process tree: SIGTERM, short grace, SIGKILL."""
        procs = tree(self.pid) if self.proc.returncode is None else []
        # Workers orphaned by a child that already died are no longer its descendants,
        # but they stay in its process group, whose id cannot be reused while they live.
        # (Once reaped, the child's pid itself may belong to someone else.)
        pids = {p.pid for p in procs}
        procs += [p for p in group(self.pid) if p.pid not in pids]
        terminate(procs)
        if self.cgroup is not None:  # what left both: a double fork into its own session
            # The same way first: a resource tracker started after the snapshot above may
            # still be cleaning up shared memory, and a SIGKILL would leave that to nobody.
            terminate(processes(self.cgroup.pids()))
            self.cgroup.kill()
            self.cgroup.remove()
        remove_joblib_leftovers(self.pid, self.env)


class Supervisor:
    """Starts runs. `command` is the runner to start, injectable for tests.

    `prepare()` starts the next run's runner ahead of time (a spare): it imports
    scikit-learn while nobody waits, and `start` hands it the spec. Only the standard
    runner knows how to wait for a spec; a spare lives on the event loop that made it.
    """

    def __init__(
        self,
        command: Sequence[str] = RUNNER_COMMAND,
        env: dict | None = None,
        spares: bool | None = None,  # default: only for the standard runner
    ):
        self.command = tuple(command)
        self.env = env
        self.spares = self.command == RUNNER_COMMAND if spares is None else spares
        self._spare: RunnerProcess | None = None
        self._spare_lock: asyncio.Lock | None = None  # made on the loop that uses it
        self._cgroups: dict[int, RunCgroup] = {}  # by runner pid, until a handle takes it

    async def _spawn(self, *arguments: str) -> RunnerProcess:
        proc = await RunnerProcess.start(
            *self.command,
            *arguments,
            stdin=asyncio.subprocess.PIPE,  # the spec comes this way, whatever its size
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own process group, away from the terminal's Ctrl-C
            env=self.env,
            limit=LINE_LIMIT,
        )
        # Into a cgroup of its own before it has the spec, so before it starts anything.
        cgroup = await asyncio.to_thread(RunCgroup.create)
        if cgroup is not None:
            if cgroup.add(proc.pid):
                self._cgroups[proc.pid] = cgroup
            else:
                cgroup.remove()
        return proc

    @property
    def _lock(self) -> asyncio.Lock:
        # A run asked for while a spare is being spawned waits for it and takes it, rather
        # than leave it importing beside the run it measures.
        if self._spare_lock is None:
            self._spare_lock = asyncio.Lock()
        return self._spare_lock

    async def prepare(self) -> None:
        """Have a spare runner waiting, unless one is already."""
        async with self._lock:
            if self.spares and (self._spare is None or self._spare.returncode is not None):
                self._spare = await self._spawn(SPARE_ARGUMENT)

    @property
    def spare_pid(self) -> int | None:
        return self._spare.pid if self._spare is not None else None

    def discard_spare(self) -> None:
        """End the spare runner, if any, with whatever it started: the app is closing."""
        spare, self._spare = self._spare, None
        if spare is None:
            return
        if spare.returncode is None:
            terminate(tree(spare.pid), grace=0.5)
        if (cgroup := self._cgroups.pop(spare.pid, None)) is not None:
            cgroup.kill()
            cgroup.remove()

    async def start(self, spec: RunSpec | SweepSpec) -> RunHandle:
        """Hand the spec to the spare runner, or to a new one, on its standard input."""
        payload = json.dumps(spec.to_dict()).encode() + b"\n"
        async with self._lock:
            proc, self._spare = self._spare, None
        if proc is None or not await self._send(proc, payload):  # none, or it died waiting
            proc = await self._spawn()
            await self._send(proc, payload)  # if it dies at once, its events say so
        points = spec.points if isinstance(spec, SweepSpec) else (spec,)
        options = points[0].options
        return RunHandle(
            proc,
            len(points),
            self.env,
            self._cgroups.pop(proc.pid, None),
            exit_wait=options.backend_spec.exit_wait(options),
        )

    @staticmethod
    async def _send(proc: RunnerProcess, payload: bytes) -> bool:
        """Write the spec and close the pipe; False when the runner is no longer there."""
        if proc.returncode is not None:
            return False
        assert proc.stdin is not None
        try:
            proc.stdin.write(payload)
            await proc.stdin.drain()
            proc.stdin.close()
        except (BrokenPipeError, ConnectionResetError):
            return False
        return True
