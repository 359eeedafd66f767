"""A bulk run's per-row Python work, shared with child processes: ``python -m empathy.fanout``.

A bulk load's first run spends ~0.05-0.3 ms of Python on each of ~100,000 users or actions in a few
stages (scoring, previews, the page's users): one core's work while the machine's others wait. ``imap``
gives each batch to one of a few children, results in order, while the caller goes on producing the next
batch (claiming it, fetching it) and consuming the last (recording it). The work a child does touches no
database: the caller reads and writes, the children compute.

A child reads on stdin the function's name and the context it takes, then batches (pickled: parent and
child are the same program), and writes each result to stdout; it ends when its stdin closes. A plain
subprocess, not multiprocessing: that would import the parent's main script (a DAG run's: Airflow) in
every child. A child that cannot start, take a batch or answer is not used again, and its batch is
done in the caller (so an error in the work itself is raised there, as without children).
"""
from __future__ import annotations

import importlib
import itertools
import logging
import os
import pickle
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator

log = logging.getLogger(__name__)


class Child:
    """One child running ``func(context, batch)``; at most one batch in flight (the caller reads a result
    before it sends the next). ``submit`` says False when the child cannot start or take the batch."""

    def __init__(self, func: Callable, context):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if isinstance(p, str) and p)}
        self.proc: subprocess.Popen | None = None
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "empathy.fanout"], env=env,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            self._send((f"{func.__module__}:{func.__qualname__}", context))
        except OSError:
            log.exception("a child process could not start")
            self.close()

    def _send(self, obj) -> None:
        pickle.dump(obj, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self.proc.stdin.flush()

    def submit(self, batch) -> bool:
        if self.proc is None:
            return False
        try:
            self._send(batch)
            return True
        except OSError:
            log.exception("a child process could not take a batch")
            self.close()
            return False

    def result(self):
        return pickle.load(self.proc.stdout)

    def hang_up(self) -> None:
        """Close the child's stdin: it ends once its last answer is written (``close`` waits for that)."""
        if self.proc is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def close(self) -> None:
        if self.proc is None:
            return
        self.hang_up()
        proc, self.proc = self.proc, None
        try:
            proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        proc.stdout.close()


def imap(func: Callable, batches: Iterable, context, processes: int) -> Iterator:
    """``func(context, batch)`` for each of ``batches``, in order, by ``processes`` children (0: all here).
    Children start only when there is more than one batch (a child takes ~0.5 s to start). ``func`` is a
    module-level function; ``context`` and every batch and result must pickle. At most ``processes`` (and
    two) batches are taken from ``batches`` and not yet answered: memory stays a few batches."""
    batches = iter(batches)
    ahead = [] if processes <= 0 else list(itertools.islice(batches, 2))
    if processes <= 0 or len(ahead) < 2:
        for batch in itertools.chain(ahead, batches):
            yield func(context, batch)
        return
    batches = itertools.chain(ahead, batches)
    children = [Child(func, context) for _ in range(processes)]
    idle = deque(children)
    inflight = deque()   # (batch, child, result), oldest first; a batch done here has no child and its result

    def oldest():
        batch, child, result = inflight.popleft()
        return result if child is None else _answer(func, context, batch, child, idle)

    try:
        for batch in batches:
            while inflight and not idle:   # every child busy: wait for the oldest result
                yield oldest()
            child = idle.popleft() if idle else None
            if child is not None and child.submit(batch):
                inflight.append((batch, child, None))
            else:   # no child can take it: done here, and given back after the older ones
                inflight.append((batch, None, func(context, batch)))
        while inflight:
            yield oldest()
    finally:
        for child in children:   # every child told first, then waited for: their exits (~0.2 s each) overlap
            child.hang_up()
        for child in children:
            child.close()


def _answer(func, context, batch, child: Child, idle: deque):
    """The batch's result from ``child`` (idle again after), or made here if the child failed."""
    try:
        result = child.result()
    except Exception:  # noqa: BLE001 - the child died or answered garbage: do its batch here
        log.exception("a child process failed; doing its batch in this one")
        child.close()
        return func(context, batch)
    idle.append(child)
    return result


def main() -> None:
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())   # anything printed goes to stderr, never into results
    source = sys.stdin.buffer
    name, context = pickle.load(source)
    module, _, qualname = name.partition(":")
    func = importlib.import_module(module)
    for part in qualname.split("."):
        func = getattr(func, part)
    while True:
        try:
            batch = pickle.load(source)
        except EOFError:
            return
        pickle.dump(func(context, batch), out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()


if __name__ == "__main__":
    main()
