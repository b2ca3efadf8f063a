"""Start `calico-tui` processes in milliseconds: a server process imports the package once, then
forks one child per command (argv, environment, output file) and reports its pid and exit status.

Each child is an ordinary process running the console script's entry point, `tui.cli.main(argv)`,
so killing it with SIGKILL is exactly a kill -9 of `calico-tui`; only the seconds of imports are
saved. The server forks from a single thread, which is what makes forking safe.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys


def serve() -> None:
    """The server loop (run as a script): one JSON request per stdin line, two reply lines each."""
    import tui.cli
    import tui.commands.migrate  # noqa: F401 - imported here so that children need not
    import tui.migrate.engine  # noqa: F401
    import tui.migrate.executors  # noqa: F401

    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            os.environ.update(request["env"])
            fd = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            code = 1
            try:
                code = tui.cli.main(request["argv"])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"exit": os.waitstatus_to_exitcode(status)}), flush=True)


class Zygote:
    """The client side: `run(argv, env, output, timeout)` returns the exit code (-9 when killed)."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)

    def _reply(self, timeout: float) -> dict | None:
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        return json.loads(self.process.stdout.readline()) if ready else None

    def run(self, argv: list[str], env: dict, output: str, timeout: float) -> int:
        self.process.stdin.write(json.dumps({"argv": argv, "env": env, "output": output}) + "\n")
        self.process.stdin.flush()
        pid = self._reply(60)["pid"]
        done = self._reply(timeout)
        if done is None:
            os.kill(pid, signal.SIGKILL)
            self._reply(30)
            raise AssertionError(f"calico-tui {' '.join(argv)} did not finish in {timeout}s")
        return done["exit"]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(30)


if __name__ == "__main__":
    serve()
