"""Journal calls off the event loop: `await journalled(journal.step_intent, ...)`.

The journal port is synchronous (one short transaction per call, pooled connections: the ledger is
safe to share between threads), but a call made on the loop stops everything else for a database
round trip: every other conversation, the notification socket's reading and heartbeats, serve's
HTTP endpoints. Measured on `serve --apply` in the events mode (2,000 open chats): 42% of the loop's
thread was spent inside ledger calls, and more concurrency bought no throughput. So the engine awaits
each call in a worker thread instead:

- Ordering is the caller's: a task awaits its call before its next one, so one conversation's calls
  stay in order (a step's intent is committed before its request is sent, as before).
- A call once asked for runs to its end, as a synchronous call did: when the awaiting task is cancelled
  meanwhile, it waits for the call to finish (commit or roll back) and only then is cancelled. A
  cancelled task therefore never goes on (releasing a lease, journalling another step) while its
  previous call may still be committing, and what it journalled is exactly what it asked for — the
  cancellation lands between two calls, as it did when they ran on the loop.
- Calls of a journal that says so (`call_lock`: SQLite, whose one writer at a time, and in memory one
  shared connection, cannot take calls from two threads at once) take turns on that lock in the worker:
  in-process writers then queue on a lock rather than on SQLite's busy handler, which polls (sleeps of
  up to 100 ms) and is left to other processes. Other journals (PostgreSQL) run up to `WORKERS` calls
  at once, the size of the ledger's connection pool. The lock is the journal's own declaration
  (`TakesTurns`, which `JournalPort` and the ledger's org leases carry): `journalled` takes that of the
  object its call is a method of, `read_of` that of the journal it is handed explicitly.
- Everything else in the process that calls the ledger while serve's loop runs (the console's reads,
  the readiness probe, the org leases) goes through here too, so that an SQLite ledger never takes calls
  from two threads at once. A read whose caller may give up (`read_of`: a probe's timeout) does not
  hold its caller: cancelled, the caller goes on at once and the read ends alone in its worker.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Concatenate, ParamSpec, Protocol, TypeVar, runtime_checkable

_P = ParamSpec("_P")
_T = TypeVar("_T")

WORKERS = 8  # the ledger's PostgreSQL pool_size: a worker never waits for a connection

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _workers() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="session-reaper-journal")
        return _executor


@runtime_checkable
class TakesTurns(Protocol):
    """A journal that says whether its calls must take turns: on `call_lock`, or (None) not at all."""

    call_lock: threading.Lock | None


def _lock_of(call: Callable[..., object]) -> threading.Lock | None:
    """The lock of the journal a bound method belongs to (`TakesTurns`); None for anything else."""
    journal = getattr(call, "__self__", None)
    return journal.call_lock if isinstance(journal, TakesTurns) else None


_J = TypeVar("_J", bound=TakesTurns)


def _locked(lock: threading.Lock | None, call: Callable[[], _T]) -> _T:
    if lock is None:
        return call()
    with lock:
        return call()


def _submit(
    lock: threading.Lock | None, call: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs
) -> asyncio.Future[_T]:
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()  # the log context (conversation id) goes with the call
    bound = functools.partial(context.run, call, *args, **kwargs)
    return loop.run_in_executor(_workers(), _locked, lock, bound)


async def journalled(call: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run one journal call (a bound method of the journal) in a worker thread and await its result."""
    future = _submit(_lock_of(call), call, *args, **kwargs)
    try:
        # shielded: a cancellation must not drop a call still queued for a worker (a lease's release)
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        # The call runs on in its thread and commits or rolls back whatever happens here: wait for it,
        # so that the cancelled task goes on (its `finally`, its caller) only once it is over. Else a
        # task cancelled while its step's intent was being written would release the lease, or journal
        # the step as cancelled, before the intent itself was committed.
        while not future.done():
            try:
                await asyncio.wait((future,))
            except asyncio.CancelledError:
                continue  # cancelled again: still wait, and raise once
        if not future.cancelled():
            future.exception()  # retrieved: its failure is the cancelled caller's no longer
        raise


async def read_of(
    journal: _J, read: Callable[Concatenate[_J, _P], _T], /, *args: _P.args, **kwargs: _P.kwargs
) -> _T:
    """`read(journal, ...)` in a worker thread, taking turns on the journal's `call_lock`: `read` is any
    function of it (`Ledger.schema_revision`, a report's queries). Cancelled (a probe's timeout), the
    caller goes on at once; the read still runs to its end in its worker, or never starts."""
    return await _submit(journal.call_lock, read, journal, *args, **kwargs)
