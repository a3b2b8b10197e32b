"""Start and stop a real local django-helpdesk (waitress) for `make run` and integration tests.

Django stays in subprocesses: the bootstrap (migrate + queues, custom field, agent, API token) and
the waitress server both run with ``DJANGO_SETTINGS_MODULE=hdsite.settings``, so the calling
process (a pipeline worker, pytest) never imports Django settings.

    python -m infra.helpdesk_server --data-dir var/helpdesk --port 8080

prints the connection details as one JSON line (the local agent password and token included, so
that scripts can read them) and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType

from pydantic import SecretStr

from infra.processes import free_port, stop_process

__all__ = ["DEFAULT_PASSWORD", "HelpdeskError", "HelpdeskInfo", "HelpdeskServer", "free_port"]

SITE_DIR = Path(__file__).resolve().parent / "helpdesk"
# Local development only: the server binds 127.0.0.1 and the data dir is throw-away. Override it
# with --password or PORTE_VOIX_HELPDESK_PASSWORD for anything else.
DEFAULT_PASSWORD = "porte-voix-local"
DEFAULT_QUEUES = ("support", "billing", "social-media")
_STDERR_TAIL = 2000


class HelpdeskError(RuntimeError):
    """The helpdesk could not be bootstrapped or did not start serving."""


@dataclass
class HelpdeskInfo:
    """What a sink or a person needs to use a running helpdesk."""

    base_url: str
    username: str
    password: SecretStr
    api_token: SecretStr
    queues: dict[str, int]

    def to_json(self) -> str:
        """One JSON line with the secrets revealed (local development credentials)."""
        return json.dumps(
            {
                "base_url": self.base_url,
                "username": self.username,
                "password": self.password.get_secret_value(),
                "api_token": self.api_token.get_secret_value(),
                "queues": self.queues,
            }
        )


def _tail(path: Path, size: int = _STDERR_TAIL) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-size:].decode("utf-8", errors="replace")


class HelpdeskServer:
    """A django-helpdesk served by waitress on host:port, its state in ``data_dir``.

    ``start()`` is idempotent on the same data dir: a second start migrates nothing, finds the
    queues, custom field, agent and token already there and returns the same token.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int,
        host: str = "127.0.0.1",
        queues: Sequence[str] = DEFAULT_QUEUES,
        username: str = "agent",
        password: str = DEFAULT_PASSWORD,
        *,
        start_timeout: float = 30.0,
        python: str = sys.executable,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port or free_port(host)
        self.queues = tuple(queues)
        self.username = username
        self._password = SecretStr(password)
        self.start_timeout = start_timeout
        self.python = python
        self._process: subprocess.Popen[bytes] | None = None
        self._info: HelpdeskInfo | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def info(self) -> HelpdeskInfo:
        if self._info is None:
            raise HelpdeskError("the helpdesk is not started")
        return self._info

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "hdsite.settings",
                "PYTHONPATH": os.pathsep.join(
                    [str(SITE_DIR), *filter(None, [env.get("PYTHONPATH")])]
                ),
                "PORTE_VOIX_HELPDESK_DATA_DIR": str(self.data_dir),
                "PORTE_VOIX_HELPDESK_ALLOWED_HOSTS": ",".join(
                    dict.fromkeys([self.host, "127.0.0.1", "localhost"])
                ),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def _bootstrap(self) -> tuple[str, dict[str, int]]:
        request = {
            "site_domain": f"{self.host}:{self.port}",
            "queues": list(self.queues),
            "username": self.username,
            "password": self._password.get_secret_value(),
        }
        done = subprocess.run(
            [self.python, "-m", "hdsite.bootstrap"],
            input=json.dumps(request).encode(),
            capture_output=True,
            env=self._env(),
            cwd=SITE_DIR,
            timeout=self.start_timeout * 4,
            check=False,
        )
        if done.returncode != 0:
            stderr = done.stderr.decode("utf-8", errors="replace")[-_STDERR_TAIL:]
            raise HelpdeskError(f"helpdesk bootstrap failed ({done.returncode}):\n{stderr}")
        result = json.loads(done.stdout.decode().strip().splitlines()[-1])
        return str(result["token"]), {str(k): int(v) for k, v in result["queues"].items()}

    def start(self) -> HelpdeskInfo:
        """Bootstrap the data dir, start waitress and wait until it answers HTTP."""
        if self.running:
            return self.info
        self.data_dir.mkdir(parents=True, exist_ok=True)
        token, queues = self._bootstrap()
        stdout_log = self.data_dir / "waitress.out.log"
        stderr_log = self.data_dir / "waitress.err.log"
        with stdout_log.open("ab") as out, stderr_log.open("wb") as err:
            self._process = subprocess.Popen(
                [
                    self.python, "-m", "waitress",
                    f"--listen={self.host}:{self.port}",
                    "--threads=4",
                    "hdsite.wsgi:application",
                ],
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=self._env(),
                cwd=SITE_DIR,
            )
        atexit.register(self.stop)
        try:
            self._wait_until_serving(stderr_log)
        except BaseException:
            self.stop()
            raise
        self._info = HelpdeskInfo(
            base_url=self.base_url,
            username=self.username,
            password=self._password,
            api_token=SecretStr(token),
            queues=queues,
        )
        return self._info

    def _wait_until_serving(self, stderr_log: Path) -> None:
        deadline = time.monotonic() + self.start_timeout
        assert self._process is not None
        while True:
            code = self._process.poll()
            if code is not None:
                raise HelpdeskError(
                    f"waitress exited with {code} before serving {self.base_url}:\n"
                    f"{_tail(stderr_log)}"
                )
            if self._answers_as_helpdesk():
                return
            if time.monotonic() > deadline:
                raise HelpdeskError(
                    f"helpdesk not answering on {self.base_url} after {self.start_timeout:.0f} s:"
                    f"\n{_tail(stderr_log)}"
                )
            time.sleep(0.1)

    def _answers_as_helpdesk(self) -> bool:
        """True once our waitress serves the helpdesk API root (not another server's answer)."""
        request = urllib.request.Request(
            f"{self.base_url}/api/", headers={"Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                body = json.loads(response.read() or b"{}")
        except (urllib.error.URLError, OSError, ValueError):
            return False
        return isinstance(body, dict) and "tickets" in body

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate waitress, kill it if it does not exit within ``timeout``."""
        process, self._process = self._process, None
        if process is None:
            return
        stop_process(process, timeout)
        atexit.unregister(self.stop)

    def __enter__(self) -> HelpdeskInfo:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--queue", action="append", dest="queues",
                        help=f"queue slug (repeatable; default {', '.join(DEFAULT_QUEUES)})")
    parser.add_argument("--username", default="agent")
    parser.add_argument(
        "--password",
        default=os.environ.get("PORTE_VOIX_HELPDESK_PASSWORD", DEFAULT_PASSWORD),
        help="agent password (default: $PORTE_VOIX_HELPDESK_PASSWORD or the local default)",
    )
    args = parser.parse_args(argv)

    stopping = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    server = HelpdeskServer(
        args.data_dir, args.port, args.host, args.queues or DEFAULT_QUEUES,
        args.username, args.password,
    )
    try:
        info = server.start()
    except HelpdeskError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(info.to_json(), flush=True)
    try:
        while not stopping.wait(0.5):
            if not server.running:
                print("waitress exited unexpectedly", file=sys.stderr)
                return 1
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
