"""Engines: run picklable zero-argument task callables and return their results in task order.

``local`` runs them in a pool of worker processes on this machine (``spawn``, so every platform
behaves alike). A worker that dies in the middle of a task (``os._exit``, SIGKILL, the OOM
killer) is replaced and the task is handed out again, up to ``retries`` times. A pool of our own
rather than ``concurrent.futures``: its pool breaks as a whole when one worker dies, without
saying which task killed it. ``ray`` runs them as Ray tasks (``max_retries`` re-runs a task
whose worker died) on the cluster at ``address`` or on a local instance of ``jobs`` CPUs
started for the call. In both, an exception raised by a task is raised again here, unchanged,
and not retried: a task is deterministic, so only a lost worker is worth another try. When
several tasks raise, the exception raised is the first task's (once the tasks before it are
done): the one a run of the tasks in order would have met.
"""

from __future__ import annotations

import gc
import multiprocessing
import signal
import socket
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from converter.errors import STOP_SIGNALS, ConverterError, UsageError

T = TypeVar("T")
ENGINES = ("local", "ray")


#: What a terminal sends every process of its group (Ctrl-C, hang-up, Ctrl-\\): the workers
#: leave them to the parent.
GROUP_SIGNALS = (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
#: Seconds to wait for a Ray cluster's HOST:PORT to accept a connection before giving up.
CONNECT_TIMEOUT = 10.0


class ClusterUnreachable(ConverterError):
    """The Ray cluster at ``--address`` does not answer (exit 3)."""


class TaskFailed(ConverterError):
    """A task's worker died more often than the retries allow (exit 3)."""


def run_tasks(
    tasks: Sequence[Callable[[], T]],
    engine: str = "local",
    jobs: int = 1,
    retries: int = 2,
    address: str | None = None,
    done: Callable[[int, T], None] | None = None,
    pool: LocalPool | None = None,
) -> list[T]:
    """Run every task on ``engine`` (``local`` or ``ray``), at most ``jobs`` at a time (on a
    local Ray instance: its CPUs), a task whose worker died at most ``retries`` more times;
    ``address`` is a Ray cluster to join. ``done(number, result)`` is called here as each
    task's result comes back, while later tasks run. ``pool``: the local engine's workers,
    started earlier (and closed by the caller). Return the results in task order."""
    if jobs < 1 or retries < 0:
        raise UsageError(f"jobs must be at least 1 and retries at least 0, got {jobs}, {retries}")
    if engine == "local":
        if pool is not None:
            return pool.run(tasks, retries, done or _ignore)
        with closing(LocalPool(jobs)) as own:
            return own.run(tasks, retries, done or _ignore)
    if engine == "ray":
        return _run_ray(tasks, jobs, retries, address, done or _ignore)
    raise UsageError(f"unknown engine {engine!r}: choose {' or '.join(ENGINES)}")


def _ignore(_number: int, _result: Any) -> None:
    """No one waits for results one by one."""


# -- local ---------------------------------------------------------------------------------


def _serve(conn: Connection) -> None:
    """A worker's loop: run each task received, send back ``(True, result)`` or
    ``(False, exception, traceback text)``; stop at None, or quietly once the parent is gone
    (killed: its end of the pipe closed)."""
    # The parent decides on Ctrl-C, a closed terminal or Ctrl-\\ (sent to every process of the
    # terminal's group) and ends its workers; they start with the stop signals blocked
    # (:meth:`LocalPool.start`), so that none stops them while they start either.
    for signum in GROUP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    try:
        while (task := conn.recv()) is not None:
            try:
                reply: tuple[Any, ...] = (True, task())
            except Exception as exc:
                reply = (False, exc, traceback.format_exc())
            _reply(conn, reply)
            del task, reply
            gc.collect()  # what the task left in reference cycles, before the next one grows
    except (EOFError, OSError):  # the parent is gone: no one to answer
        return


@contextmanager
def _stop_signals_blocked() -> Iterator[None]:
    """The stop signals blocked while a worker starts: it starts with them blocked (a process
    keeps its parent's mask) until it ignores GROUP_SIGNALS (:func:`_serve`); the parent
    answers one that came meanwhile once they are unblocked here (none is lost)."""
    resource_tracker.ensure_running()  # (started inside, it would unblock SIGINT and SIGTERM)
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _reply(conn: Connection, reply: tuple[Any, ...]) -> None:
    """Send ``reply``; a result or an exception that does not pickle is sent as a TypeError
    saying so (a closed pipe is the caller's: the parent is gone)."""
    try:
        conn.send(reply)
    except (EOFError, OSError):
        raise
    except Exception as exc:
        conn.send((False, TypeError(f"cannot send back {reply[1]!r}: {exc}"), ""))


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    task: int | None = None


@dataclass
class _LocalRun:
    """The state of one local run: tasks left, attempts per task, results so far."""

    tasks: Sequence[Callable[[], Any]]
    retries: int
    done: Callable[[int, Any], None]
    pending: deque[int] = field(default_factory=deque)
    attempts: list[int] = field(default_factory=list)
    results: dict[int, Any] = field(default_factory=dict)
    failed: dict[int, BaseException] = field(default_factory=dict)

    def fail(self, number: int, exc: BaseException) -> None:
        """Task ``number`` raised ``exc``; the tasks after the first failure are not run."""
        self.failed[number] = exc
        first = min(self.failed)
        self.pending = deque(n for n in self.pending if n < first)

    def over(self) -> bool:
        """Whether every task has its result, or a failure is due (:func:`_due_failure`)."""
        if self.failed:
            return _due_failure(self.failed, self.results) is not None
        return len(self.results) == len(self.tasks)

    def lost(self, worker: _Worker) -> None:
        """``worker`` died during its task: hand the task out again, or give up."""
        number = worker.task
        if number is None:
            return
        self.attempts[number] += 1
        code = worker.process.exitcode
        how = f"signal {signal.Signals(-code).name}" if code and code < 0 else f"exit {code}"
        if self.attempts[number] > self.retries:
            raise TaskFailed(
                f"task {number} failed: its worker died {self.attempts[number]} times "
                f"(last: {how}); retries: {self.retries}"
            )
        self.pending.appendleft(number)


class LocalPool:
    """Up to ``jobs`` spawned worker processes. :meth:`start` starts some (or all) ahead of
    their tasks (they import converter while the caller goes on); :meth:`run` starts what it
    needs (and replaces a worker that died), and can be called again; :meth:`close` ends
    them."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[_Worker] = []

    def start(self, count: int | None = None) -> LocalPool:
        """Have ``count`` workers (all ``jobs`` by default, never more) running."""
        count = self.jobs if count is None else min(count, self.jobs)
        while len(self.workers) < count:
            parent, child = self.context.Pipe()
            process = self.context.Process(target=_serve, args=(child,), daemon=True)
            with _stop_signals_blocked():
                process.start()
            child.close()
            self.workers.append(_Worker(process, parent))
        return self

    def run(
        self, tasks: Sequence[Callable[[], T]], retries: int, done: Callable[[int, T], None]
    ) -> list[T]:
        """Run ``tasks`` (see :func:`run_tasks`); return their results in task order. When
        tasks raise, the first one's exception is raised once every task before it is done;
        the workers still busy then (with later tasks) are ended, so the pool stays usable."""
        run = _LocalRun(tasks, retries, done, deque(range(len(tasks))), [0] * len(tasks))
        workers = self.workers
        try:
            while not run.over():
                self.start(len(run.pending) + _busy(workers))
                for worker in workers:
                    if worker.task is None and run.pending:
                        worker.task = run.pending.popleft()
                        worker.conn.send(tasks[worker.task])
                ready = wait([w.conn for w in workers] + [w.process.sentinel for w in workers])
                for worker in list(workers):
                    if worker.conn in ready or worker.process.sentinel in ready:
                        _collect(run, worker, workers)
        finally:
            for worker in [w for w in workers if w.task is not None]:
                _end(worker)
                workers.remove(worker)
        failure = _due_failure(run.failed, run.results)
        if failure is not None:
            raise failure
        return [run.results[n] for n in range(len(tasks))]

    def close(self) -> None:
        """End every worker."""
        for worker in self.workers:
            _end(worker)
        self.workers = []


def _end(worker: _Worker) -> None:
    """Kill ``worker``'s process and close its pipe."""
    worker.process.kill()
    worker.process.join()
    worker.conn.close()


def _due_failure(failed: dict[int, BaseException], results: dict[int, Any]) -> BaseException | None:
    """The first failed task's exception once every task before it has its result (the one a
    run of the tasks in order meets first), else None."""
    if not failed:
        return None
    first = min(failed)
    return failed[first] if all(n in results for n in range(first)) else None


def _busy(workers: list[_Worker]) -> int:
    return sum(w.task is not None for w in workers)


def _collect(run: _LocalRun, worker: _Worker, workers: list[_Worker]) -> None:
    """Take ``worker``'s reply, or notice that it died (and drop it)."""
    try:
        reply = worker.conn.recv() if worker.conn.poll() else None
    except (EOFError, OSError):  # its end of the pipe closed: it is on its way out
        reply = None
    if reply is None:
        worker.process.join()
        workers.remove(worker)
        worker.conn.close()
        run.lost(worker)
        return
    number, worker.task = worker.task, None
    assert number is not None
    if not reply[0]:
        exc = reply[1]
        if reply[2]:
            exc.add_note(f"in task {number}:\n{reply[2]}")
        run.fail(number, exc)
        return
    run.results[number] = reply[1]
    run.done(number, reply[1])


# -- ray -----------------------------------------------------------------------------------


def _call(task: Callable[[], T]) -> T:
    """Run one task (the function Ray runs remotely)."""
    return task()


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """ClusterUnreachable when ``address`` is a HOST:PORT (not ``ray://…`` nor ``auto``) that
    accepts no TCP connection within ``timeout`` seconds: Ray itself retries for minutes."""
    host, colon, port = address.rpartition(":")
    if not colon or not host or "://" in address or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ClusterUnreachable(
            f"--address {address}: no Ray cluster answers there ({reason}); is it started?"
        ) from None


def _run_ray(
    tasks: Sequence[Callable[[], T]],
    jobs: int,
    retries: int,
    address: str | None,
    done: Callable[[int, T], None],
) -> list[T]:
    try:
        import ray
        from ray.exceptions import RayError, RayTaskError
    except ImportError:
        raise UsageError(
            "--engine ray needs Ray: install the ray extra (pip install -e '.[ray]' in a clone)"
        ) from None
    started = not ray.is_initialized()
    if started:
        options: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": "WARNING",
        }
        if address is None:
            options["num_cpus"] = jobs
        else:
            check_reachable(address)
        ray.init(address=address, **options)
    try:
        remote: Any = ray.remote(max_retries=retries)(_call)
        numbers = {remote.remote(task): n for n, task in enumerate(tasks)}
        results: dict[int, T] = {}
        failed: dict[int, BaseException] = {}
        waiting = list(numbers)
        while waiting:  # as they finish, up to the first failure's turn
            ready, waiting = ray.wait(waiting, num_returns=1)
            for ref in ready:
                number = numbers[ref]
                try:
                    results[number] = ray.get(ref)
                except RayTaskError as exc:
                    cause = exc.cause
                    failed[number] = (
                        cause
                        if isinstance(cause, Exception)
                        else TaskFailed(f"a Ray task failed: {exc}")
                    )
                    continue
                done(number, results[number])
            failure = _due_failure(failed, results)
            if failure is not None:
                for ref in waiting:
                    ray.cancel(ref, force=True)
                raise failure
        return [results[n] for n in range(len(tasks))]
    except RayError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TaskFailed(f"a Ray task failed after {retries} retries: {first}") from None
    finally:
        if started:
            ray.shutdown()
