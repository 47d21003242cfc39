"""The embedded Apache Kafka (one KRaft node from Maven-resolved jars), its selection, and
``kedasuite kafka-server``.

The broker tests need Java and the jars scripts/bootstrap resolves; without them they are
skipped with the reason, and the selection tests still run. Each broker here is shared by
the tests of this file that use it: a JVM start costs seconds.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from kedasuite.autoscale.processes import descendants
from kedasuite.core import kafka_jars
from kedasuite.core.embedded import (
    EmbeddedApacheKafka,
    EmbeddedKafka,
    choose_kafka_flavor,
    embedded_kafka,
    scram_client_config,
    scram_client_env,
)
from kedasuite.core.errors import InputError, SuiteError
from kedasuite.core.kafka_jars import KafkaJarsMissing, cached_jars, kafka_version, resolve_jars
from kedasuite.keda.reads import fetch_offsets
from kedasuite.keda.rules.kafka import KafkaTrigger, keda_lag
from tests.support import Proc, alive, run_cli, wait_for
from tests.support.servers import SCRAM_USER, KafkaUnderTest

JAVA = kafka_jars.java_binary()
JARS = cached_jars()
needs_apache_kafka = pytest.mark.skipif(
    JAVA is None or JARS is None,
    reason="the embedded Apache Kafka needs java on PATH and its jars resolved (scripts/bootstrap runs mvn when "
    "java and mvn are installed)"
    if JAVA is None or JARS is None
    else "",
)
#: No Redis for these workers: results are only counted (REDIS_URL from the caller's shell is ignored).
NO_REDIS = {"REDIS_URL": "", "REDIS_ADDRESS": ""}


# --- Selection: which embedded Kafka, and the jar cache ------------------------------------------


@pytest.mark.parametrize(
    ("setting", "java", "jars", "chosen"),
    [
        ("auto", True, True, "apache"),
        ("auto", True, False, "tansu"),
        ("auto", False, True, "tansu"),
        ("auto", False, False, "tansu"),
        ("", True, True, "apache"),  # unset is auto
        (" Apache ", False, False, "apache"),  # asked for explicitly: kept, and its start says what is missing
        ("apache", True, True, "apache"),
        ("tansu", True, True, "tansu"),
        ("tansu", False, False, "tansu"),
    ],
)
def test_the_setting_chooses_the_broker(setting: str, java: bool, jars: bool, chosen: str) -> None:
    assert choose_kafka_flavor(setting, java, jars) == chosen


def test_an_unknown_setting_is_refused_with_the_choices() -> None:
    with pytest.raises(InputError, match=r"KAFKA_EMBEDDED='redpanda': say one of auto, apache, tansu"):
        choose_kafka_flavor("redpanda", True, True)


def _stamped_cache(root: Path) -> Path:
    """A cache directory the way resolve_jars leaves one: ``<root>/<version>/lib`` and its stamp."""
    home = root / kafka_version()
    (home / "lib").mkdir(parents=True)
    (home / ".complete").write_text(kafka_jars._pom_digest() + "\n")
    return home / "lib"


def test_the_cache_counts_only_a_copy_finished_for_the_shipped_pom(tmp_path: Path) -> None:
    environ = {"KAFKA_JARS_DIR": str(tmp_path)}
    assert cached_jars(environ) is None
    lib = _stamped_cache(tmp_path)
    assert cached_jars(environ) == lib
    (lib.parent / ".complete").write_text("the digest of another pom\n")
    assert cached_jars(environ) is None


def test_the_factory_follows_the_setting_and_the_cache(tmp_path: Path) -> None:
    empty = {"KAFKA_JARS_DIR": str(tmp_path / "none")}
    assert isinstance(embedded_kafka(environ={**empty, "KAFKA_EMBEDDED": "tansu"}), EmbeddedKafka)
    assert isinstance(embedded_kafka(environ={**empty, "KAFKA_EMBEDDED": "auto"}), EmbeddedKafka)
    assert isinstance(embedded_kafka(environ={**empty, "KAFKA_EMBEDDED": "apache"}), EmbeddedApacheKafka)
    stamped = {"KAFKA_JARS_DIR": str(tmp_path / "some")}
    _stamped_cache(tmp_path / "some")
    expected = EmbeddedApacheKafka if JAVA else EmbeddedKafka
    assert isinstance(embedded_kafka(environ=stamped), expected)
    assert isinstance(embedded_kafka(flavor="tansu", environ=stamped), EmbeddedKafka)  # the argument wins


def test_tansu_is_not_asked_for_a_scram_user() -> None:
    with pytest.raises(InputError, match="Tansu keeps no SCRAM users"):
        embedded_kafka(authentication=True, flavor="tansu", username="app")


def test_resolving_without_java_or_mvn_names_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no java, no mvn
    with pytest.raises(KafkaJarsMissing) as caught:
        resolve_jars({"KAFKA_JARS_DIR": str(tmp_path / "cache")})
    assert caught.value.message.startswith(
        f"cannot resolve the Apache Kafka {kafka_version()} jars: no java and no mvn on PATH."
    )
    assert "KAFKA_EMBEDDED=tansu" in caught.value.message


def test_starting_apache_kafka_without_java_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SuiteError, match=r"needs Java \(17 or newer\) on PATH"):
        EmbeddedApacheKafka().start()


@pytest.mark.skipif(JAVA is None or kafka_jars.shutil.which("mvn") is None, reason="needs java and mvn")
def test_a_failed_resolution_shows_what_mvn_said(tmp_path: Path) -> None:
    """Real mvn, unable to resolve anything: offline, with an empty local repository (set the way a
    project sets Maven's options, in a .mvn/maven.config above the pom)."""
    (tmp_path / ".mvn").mkdir()
    (tmp_path / ".mvn" / "maven.config").write_text(f"-o\n-Dmaven.repo.local={tmp_path / 'empty-repository'}\n")
    environ = {"KAFKA_JARS_DIR": str(tmp_path / "cache")}
    with pytest.raises(KafkaJarsMissing) as caught:
        resolve_jars(environ)
    message = caught.value.message
    assert message.startswith(f"mvn could not resolve the Apache Kafka {kafka_version()} jars (")
    assert "[ERROR]" in message and "empty-repository" in message, message
    assert "\x1b[" not in message, "no terminal colours in the error"
    assert cached_jars(environ) is None
    assert not list((tmp_path / "cache" / kafka_version()).glob("lib*")), "a failed copy leaves nothing behind"


@needs_apache_kafka
def test_resolving_again_reads_the_cache_and_runs_no_mvn(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # were mvn needed, it would not be found
    started = time.monotonic()
    lib = resolve_jars()
    assert time.monotonic() - started < 0.5
    assert (lib / f"kafka_2.13-{kafka_version()}.jar").is_file()


# --- The broker -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Login:
    """A listener that demands a SCRAM login, and the user created for it."""

    bootstrap: str
    username: str
    password: str

    def client_config(self) -> dict[str, str]:
        return scram_client_config(self.username, self.password)

    def client_env(self) -> dict[str, str]:
        return scram_client_env(self.client_config())


@pytest.fixture(scope="module")
def scram(kafka_broker: KafkaUnderTest) -> Iterator[Login]:
    """The tests' Apache Kafka's SCRAM listener (one JVM for every worker), else a broker of our own."""
    if kafka_broker.scram is not None:
        yield Login(*kafka_broker.scram)
        return
    with EmbeddedApacheKafka(authentication=True, username=SCRAM_USER) as broker:
        yield Login(broker.bootstrap, broker.username, broker.password)


def _names() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"apache-topic-{suffix}", f"apache-group-{suffix}"


def _lag(bootstrap: str, group: str, topic: str, extra: dict[str, str] | None = None) -> tuple[int, int, int]:
    """KEDA's lag, the sum of high watermarks and of committed offsets."""
    offsets = fetch_offsets(bootstrap, group, topic, extra)
    return (
        keda_lag(offsets, KafkaTrigger(offset_reset_policy="earliest")).total,
        sum(p.high_watermark for p in offsets),
        sum(p.committed or 0 for p in offsets),
    )


def test_the_broker_says_its_release_and_where_logins_go() -> None:
    plain, login = EmbeddedApacheKafka(port=9092), EmbeddedApacheKafka(authentication=True, port=9093, username="app")
    assert plain.describe() == f"Apache Kafka {kafka_version()} (KRaft) at 127.0.0.1:9092"
    assert (
        login.describe() == f"Apache Kafka {kafka_version()} (KRaft) at 127.0.0.1:9093, SASL/SCRAM-SHA-512 user 'app'"
    )
    both = EmbeddedApacheKafka(port=9092, scram_listener=True, username="app")
    both.scram_port = 9094
    assert both.describe().endswith(", and SASL/SCRAM-SHA-512 user 'app' at 127.0.0.1:9094")
    assert (plain.scram_bootstrap, login.scram_bootstrap, both.scram_bootstrap) == (
        None,
        "127.0.0.1:9093",
        "127.0.0.1:9094",
    )
    assert plain.flavor == "apache" and plain.version == kafka_version()


def test_records_pumped_with_default_batching_are_consumed_and_the_committed_lag_reaches_zero(
    kafka_broker: KafkaUnderTest,
) -> None:
    """The pump's producer as it ships (batches of many records), the consumer worker as it
    ships: the high watermarks count every record, and the group's commits bring KEDA's lag to 0."""
    if kafka_broker.tansu:
        pytest.skip("the tests' broker is Tansu, whose high watermark counts batches (kedasuite/core/tansu.py)")
    apache = kafka_broker
    topic, group = _names()
    count = 300
    pumped = run_cli(
        "pump",
        "kafka",
        "--count",
        str(count),
        "--workloads",
        "kafka",
        "--bootstrap-servers",
        apache.bootstrap,
        "--topic",
        topic,
        env=NO_REDIS,
    )
    assert pumped.returncode == 0, pumped.stderr
    assert _lag(apache.bootstrap, group, topic) == (count, count, 0)

    consumed = run_cli(
        "worker",
        "kafka",
        "--bootstrap-servers",
        apache.bootstrap,
        "--topic",
        topic,
        "--group",
        group,
        "--work-time",
        "0",
        "--max-messages",
        str(count),
        env=NO_REDIS,
        timeout=120,
    )
    assert consumed.returncode == 0, consumed.stderr[-3000:]
    assert f"processed {count}" in consumed.stderr, consumed.stderr[-2000:]
    assert _lag(apache.bootstrap, group, topic) == (0, count, count)


@needs_apache_kafka
def test_a_scram_login_through_the_suites_variables_produces_and_consumes(scram: Login) -> None:
    """The pump logs in with the plainly named variables; the consumer with KAFKA_CONFIG_* (what
    the managed overlay's pods get); the lag read logs in as KEDA's TriggerAuthentication does."""
    topic, group = _names()
    pumped = run_cli(
        "pump",
        "kafka",
        "--count",
        "40",
        "--workloads",
        "kafka",
        "--bootstrap-servers",
        scram.bootstrap,
        "--topic",
        topic,
        env={**NO_REDIS, **scram.client_env()},
    )
    assert pumped.returncode == 0, pumped.stderr
    overlay = {
        "KAFKA_CONFIG_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_CONFIG_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_CONFIG_SASL_USERNAME": scram.username,
        "KAFKA_CONFIG_SASL_PASSWORD": scram.password,
    }
    consumed = run_cli(
        "worker",
        "kafka",
        "--bootstrap-servers",
        scram.bootstrap,
        "--topic",
        topic,
        "--group",
        group,
        "--work-time",
        "0",
        "--max-messages",
        "40",
        env={**NO_REDIS, **overlay},
        timeout=120,
    )
    assert consumed.returncode == 0, consumed.stderr[-3000:]
    assert _lag(scram.bootstrap, group, topic, scram.client_config()) == (0, 40, 40)


@needs_apache_kafka
def test_a_wrong_scram_password_is_refused_with_the_variables_to_check(scram: Login) -> None:
    env = {**NO_REDIS, **scram.client_env(), "KAFKA_SASL_PASSWORD": "not-the-password"}
    done = run_cli(
        "pump", "kafka", "--count", "1", "--workloads", "kafka", "--bootstrap-servers", scram.bootstrap, env=env
    )
    assert done.returncode == 2, done.stderr
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith(
        f"Error: Kafka at {scram.bootstrap} refused SCRAM-SHA-512 authentication of user 'app' ("
    ), message
    assert "invalid credentials" in message, message
    assert message.endswith("Check KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM")
    assert "not-the-password" not in done.stdout + done.stderr


@needs_apache_kafka
def test_a_client_without_a_login_gets_nothing_from_a_scram_broker(scram: Login) -> None:
    done = run_cli(
        "pump", "kafka", "--count", "1", "--workloads", "kafka", "--bootstrap-servers", scram.bootstrap, env=NO_REDIS
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"Error: cannot reach Kafka at {scram.bootstrap} (")


# --- kedasuite kafka-server ----------------------------------------------------------------------


@needs_apache_kafka
@pytest.mark.e2e  # a whole command end to end: the e2e tier
def test_kafka_server_prints_its_bootstrap_serves_a_client_and_stops_on_sigterm(spawn: Callable[..., Proc]) -> None:
    server = spawn("kafka-server", "--port", "0", "--flavor", "apache")
    bootstrap = server.wait_for_log(r"KAFKA_BOOTSTRAP_SERVERS=(\S+)\n", 90).group(1)
    assert f"started embedded Kafka: Apache Kafka {kafka_version()} (KRaft) at {bootstrap}\n" in server.log()
    log = Path(server.wait_for_log(r"log: (\S+)\n", 5).group(1))
    log_dir = log.parent
    assert f"Kafka version: {kafka_version()}" in log.read_text()  # the jar that runs is the one named
    jvms = descendants(server.pid)
    assert jvms, "the broker runs as a child process"

    topic = f"served-{uuid.uuid4().hex[:8]}"
    producer = Producer({"bootstrap.servers": bootstrap})
    for n in range(3):
        producer.produce(topic, f"record {n}".encode())
    assert producer.flush(30) == 0
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{topic}", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    seen: list[bytes] = []

    def three_read() -> bool:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            seen.append(message.value())
        return len(seen) == 3

    wait_for(three_read, 60, "the three records read back", interval=0)
    consumer.close()
    assert sorted(seen) == [b"record 0", b"record 1", b"record 2"]
    if shutil.which("kcat"):  # a client that is not ours lists it too (tests/producers/test_kcat.py reads records)
        listed = subprocess.run(
            ["kcat", "-L", "-b", bootstrap, "-t", topic], capture_output=True, text=True, timeout=60, check=False
        )
        assert listed.returncode == 0 and f'topic "{topic}" with ' in listed.stdout, listed.stdout + listed.stderr

    server.signal(signal.SIGTERM)
    assert server.wait(40, "kafka-server after SIGTERM") == 0, server.log()[-3000:]
    assert server.log().rstrip().endswith("stopped")
    assert not any(alive(pid) for pid in jvms), "the JVM outlived kafka-server"
    assert not log_dir.exists(), "the broker's temporary directory is removed"


def test_kafka_server_help_names_its_setting_and_options() -> None:
    done = run_cli("kafka-server", "--help")
    assert done.returncode == 0, done.stderr
    for word in (
        "--port",
        "EMBEDDED_KAFKA_PORT",
        "--flavor",
        "KAFKA_EMBEDDED",
        "--scram-user",
        "--scram-password",
        "9092",
    ):
        assert word in done.stdout


def test_kafka_server_refuses_a_password_without_a_user() -> None:
    done = run_cli("kafka-server", "--scram-password", "x", env={"KAFKA_SASL_USERNAME": ""})
    assert done.returncode == 2
    assert done.stderr.strip() == "Error: --scram-password needs --scram-user (KAFKA_SASL_USERNAME)"


def test_the_jar_cache_lives_where_the_setting_says(tmp_path: Path) -> None:
    assert kafka_jars.cache_root({"KAFKA_JARS_DIR": str(tmp_path)}) == tmp_path
    assert kafka_jars.cache_root({}) == Path.home() / ".cache" / "kedasuite" / "kafka"
    assert os.sep not in kafka_version() and re.fullmatch(r"4\.\d+\.\d+", kafka_version())


def test_a_cluster_id_never_reads_as_an_option() -> None:
    """The storage tool takes an id starting with "-" for an option and fails the start: one in 64
    random ids did, until the ids were drawn again in that case."""
    from kedasuite.core.embedded import new_cluster_id

    ids = [new_cluster_id() for _ in range(5000)]
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(i) == 22 for i in ids) and len(set(ids)) == len(ids)
    assert any("-" in i for i in ids), "still URL-safe base64, as Kafka's ids are"
