"""A Kafka client that is not ours reads what the suite wrote: Debian's ``kcat`` (librdkafka's
command-line client, which ``scripts/bootstrap`` installs) lists the broker and the topic, reads
the records a pump sent, and reads a poison record's dead letter with the headers that say why.

Debian's kcat cannot talk to Tansu, so on Tansu these tests skip and say so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid

import pytest

from kedasuite.core.names import KAFKA_DLQ_REASON_HEADER, KAFKA_DLQ_SOURCE_HEADER, KAFKA_DLQ_SUFFIX
from kedasuite.producers.records import record_ids
from tests.support import run_cli
from tests.support.servers import KafkaUnderTest

KCAT = shutil.which("kcat")
NO_REDIS = {"REDIS_URL": "", "REDIS_ADDRESS": ""}

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        KCAT is None,
        reason="kcat is not installed (scripts/bootstrap installs Debian's kcat as root; apt-get install kcat)",
    ),
]


@pytest.fixture
def broker(kafka_broker: KafkaUnderTest) -> KafkaUnderTest:
    if kafka_broker.tansu:
        pytest.skip("the tests' broker is Tansu, which Debian's kcat cannot talk to (kedasuite/core/tansu.py)")
    return kafka_broker


def kcat(*args: str, timeout: float = 60) -> str:
    assert KCAT is not None
    done = subprocess.run([KCAT, *args], capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"kcat {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout


def test_kcat_lists_the_broker_and_reads_every_record_the_pump_sent(broker: KafkaUnderTest) -> None:
    topic = f"kcat-{uuid.uuid4().hex[:8]}"
    pumped = run_cli(
        "pump",
        "kafka",
        "--count",
        "25",
        "--workloads",
        "kafka",
        "--bootstrap-servers",
        broker.bootstrap,
        "--topic",
        topic,
        "--id-prefix",
        "kcat",
        env=NO_REDIS,
    )
    assert pumped.returncode == 0, pumped.stderr

    listed = kcat("-L", "-b", broker.bootstrap, "-t", topic)
    assert " 1 brokers:\n" in listed and f" at {broker.bootstrap}" in listed, listed
    assert f'topic "{topic}" with 5 partitions:' in listed, listed  # the suite's partitions (KAFKA_PARTITIONS)

    # -e: stop at the end of every partition; one line per record: its key, a tab, its value.
    lines = kcat("-C", "-b", broker.bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k\t%s\n")
    read = [line.split("\t", 1) for line in lines.splitlines()]
    assert sorted(key for key, _ in read) == sorted(record_ids(25, "kcat")), lines[:2000]
    assert all(json.loads(value)["id"] == key for key, value in read), "each record's key is its id"


def test_kcat_reads_the_dead_letter_of_a_poison_record(broker: KafkaUnderTest) -> None:
    topic, group = f"kcat-poison-{uuid.uuid4().hex[:8]}", f"kcat-{uuid.uuid4().hex[:8]}"
    kcat_in = subprocess.run(
        [KCAT or "kcat", "-P", "-b", broker.bootstrap, "-t", topic, "-p", "0", "-K", ":"],
        input="bad-1:{not json\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert kcat_in.returncode == 0, kcat_in.stderr

    consumed = run_cli(
        "worker",
        "kafka",
        "--bootstrap-servers",
        broker.bootstrap,
        "--topic",
        topic,
        "--group",
        group,
        "--work-time",
        "0",
        "--max-messages",
        "1",
        env=NO_REDIS,
        timeout=120,
    )
    assert consumed.returncode == 0, consumed.stderr[-3000:]

    parked = kcat(
        "-C",
        "-b",
        broker.bootstrap,
        "-t",
        topic + KAFKA_DLQ_SUFFIX,
        "-o",
        "beginning",
        "-e",
        "-q",
        "-f",
        "%k\t%s\t%h\n",
    )
    (line,) = parked.splitlines()
    key, value, headers = line.split("\t")
    assert (key, value) == ("bad-1", "{not json"), line
    found = dict(pair.split("=", 1) for pair in headers.split(","))
    assert found[KAFKA_DLQ_REASON_HEADER].startswith("value is not JSON: "), headers
    assert found[KAFKA_DLQ_SOURCE_HEADER] == f"{topic}/0/0", headers
