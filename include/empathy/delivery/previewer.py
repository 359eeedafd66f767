"""A process that makes previews for a bulk run: ``python -m empathy.delivery.previewer``.

``relay.deliver_previews`` starts a few of these when a backlog holds more than one batch. Each reads,
on stdin, the run's settings and then claimed batches (pickled: parent and child are the same program),
and writes each batch's outcomes to stdout, in order: ``relay.send`` in simulation, which touches no
database (the parent claims and records). It ends when its stdin closes. A plain subprocess, not
multiprocessing: that would re-run the parent's main script in the child.
"""
from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys

log = logging.getLogger(__name__)


class PreviewProcess:
    """One child; at most one batch in flight (the parent reads a result before it sends the next).
    A child that cannot start or take a batch says so (``submit`` returns False): its caller previews the
    batch itself."""

    def __init__(self, settings):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if isinstance(p, str) and p)}
        self.proc: subprocess.Popen | None = None
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "empathy.delivery.previewer"], env=env,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            self._send(settings)
        except OSError:
            log.exception("a preview process could not start")
            self.close()

    def _send(self, obj) -> None:
        pickle.dump(obj, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self.proc.stdin.flush()

    def submit(self, rows: list[dict]) -> bool:
        if self.proc is None:
            return False
        try:
            self._send(rows)
            return True
        except OSError:
            log.exception("a preview process could not take a batch")
            self.close()
            return False

    def result(self) -> list[dict]:
        return pickle.load(self.proc.stdout)

    def close(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        try:
            proc.stdin.close()
            proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        proc.stdout.close()


def main() -> None:
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())   # anything printed goes to stderr, never into results
    from empathy.delivery import relay

    source = sys.stdin.buffer
    settings = pickle.load(source)
    while True:
        try:
            rows = pickle.load(source)
        except EOFError:
            return
        pickle.dump(relay.send(rows, settings, force_simulate=True, index=False), out,
                    protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()


if __name__ == "__main__":
    main()
