"""Every Redis client of the suite over TLS, as an ACL user with a password; Kafka over TLS.

A real ``redis-server`` that accepts TLS only (a throwaway CA made for the session, see
``tests/support/tls.py``): the pump, Celery (broker and the result store), RQ and the
work-queue runner each process records end to end through it; a wrong password, a
missing CA and a missing client certificate each give an error that names the fix. The
Kafka workload runs over TLS too (on Apache Kafka, a broker with TLS listeners of its own),
and SASL_SSL with SCRAM-SHA-512 logs in, and is refused with a wrong password.
"""

from __future__ import annotations

import contextlib
import signal
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from kedasuite.core import tansu
from kedasuite.core.clients import kafka_overrides
from kedasuite.core.errors import InputError
from kedasuite.core.settings import redis_tls_options
from kedasuite.producers.records import record_ids
from tests.support import Proc, all_processed, run_cli, wait_for
from tests.support.servers import KafkaUnderTest
from tests.support.tls import APP_USER, Pki, TlsRedis, TlsRelay, make_pki, tls_redis_binary

BINARY = tls_redis_binary()
needs_tls_redis = pytest.mark.skipif(
    BINARY is None,
    reason="Debian's redis-server (built with TLS) is not installed; scripts/bootstrap installs it as root",
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def server(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    assert BINARY
    tls = TlsRedis(BINARY, pki, tmp_path_factory.mktemp("tls-redis"))
    yield tls
    tls.stop()


def tls_env(pki: Pki, **more: str) -> dict[str, str]:
    return {"REDIS_TLS_CA_FILE": str(pki.ca), **more}


def client(server: TlsRedis, pki: Pki, db: int) -> redis.Redis:
    return redis.Redis.from_url(server.url(db=db), ssl_ca_certs=str(pki.ca))


# --- pure: the settings ------------------------------------------------------------------------


def test_tls_options_follow_the_variables(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("-")
    assert redis_tls_options("redis://h:1/0", {"REDIS_TLS_CA_FILE": str(ca)}) == {}
    assert redis_tls_options("rediss://h:1/0", {"REDIS_TLS_CA_FILE": str(ca)}) == {
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
        "ssl_ca_certs": str(ca),
    }
    assert redis_tls_options("rediss://h:1/0", {"REDIS_TLS_VERIFY": "false"}) == {
        "ssl_cert_reqs": "none",
        "ssl_check_hostname": False,
    }
    with pytest.raises(InputError) as missing:
        redis_tls_options("rediss://h:1/0", {"REDIS_TLS_CA_FILE": str(tmp_path / "nope.crt")})
    assert missing.value.message == f"REDIS_TLS_CA_FILE={tmp_path / 'nope.crt'}: no such file; point it at a PEM file"
    with pytest.raises(InputError) as half:
        redis_tls_options("rediss://h:1/0", {"REDIS_TLS_CERT_FILE": str(ca)})
    assert half.value.message == "REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together: set both or neither"


def test_kafka_sasl_ssl_variables_reach_producer_and_consumer(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("a PEM file")
    env = {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "app",
        "KAFKA_SASL_PASSWORD": "pw",
        "KAFKA_SSL_CA_FILE": str(ca),
    }
    expected = {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "app",
        "sasl.password": "pw",
        "ssl.ca.location": str(ca),
    }
    assert kafka_overrides("producer", env) == expected
    assert kafka_overrides("consumer", env) == expected
    # an explicit librdkafka variable still wins
    assert (
        kafka_overrides("consumer", {**env, "KAFKA_CONSUMER_CONFIG_SASL_MECHANISM": "PLAIN"})["sasl.mechanism"]
        == "PLAIN"
    )


# --- real: a TLS-only Redis with an ACL user ------------------------------------------------------


@needs_tls_redis
@pytest.mark.integration
@pytest.mark.parametrize(("workload", "db"), [("celery", 1), ("rq", 2), ("workqueue", 3)])
def test_each_redis_workload_runs_end_to_end_over_tls(
    workload: str, db: int, server: TlsRedis, pki: Pki, spawn: Callable[..., Proc]
) -> None:
    url = server.url(db=db)
    env = tls_env(pki)
    check = client(server, pki, db)
    check.flushdb()
    done = run_cli(
        "pump",
        workload,
        "--count",
        "25",
        "--id-prefix",
        f"tls{db}",
        "--workloads",
        workload,
        "--redis-url",
        url,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    if workload == "celery":
        worker = spawn("worker", "celery", "--redis-url", url, "--concurrency", "1", "--work-time", "0", env=env)
    elif workload == "rq":
        worker = spawn("worker", "rq", "--redis-url", url, "--work-time", "0", "--burst", env=env)
    else:
        worker = spawn("job", "workqueue", "--redis-url", url, "--work-time", "0", env=env)
    wait_for(all_processed(check, record_ids(25, f"tls{db}")), 60, f"25 {workload} records over TLS")
    if workload != "celery":
        assert worker.wait(30) == 0, worker.log()[-2000:]
    check.close()


@needs_tls_redis
@pytest.mark.integration
def test_a_wrong_password_names_the_user_and_the_variables(server: TlsRedis, pki: Pki) -> None:
    url = server.url(password="not-the-password")
    done = run_cli("pump", "celery", "--count", "1", "--redis-url", url, env=tls_env(pki))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"Error: Redis at rediss://{APP_USER}:***@127.0.0.1:{server.port}/0 refused the credentials of user "
        f"'{APP_USER}' (invalid username-password pair or user is disabled). Check REDIS_USERNAME / "
        "REDIS_PASSWORD (or the user and password in REDIS_URL)"
    )
    assert "not-the-password" not in done.stdout + done.stderr


@needs_tls_redis
@pytest.mark.integration
def test_an_untrusted_server_certificate_names_the_ca_variable(server: TlsRedis, pki: Pki) -> None:
    done = run_cli(
        "pump", "celery", "--count", "1", "--redis-url", server.url(), env={"REDIS_TLS_CA_FILE": str(pki.other_ca)}
    )
    assert done.returncode == 2
    message = done.stderr.strip()
    assert message.startswith(f"Error: TLS with Redis at rediss://{APP_USER}:***@127.0.0.1:{server.port}/0 failed (")
    assert "certificate verify failed" in message
    assert message.endswith(
        "Check REDIS_TLS_CA_FILE (the CA that signed the server's certificate), and "
        "REDIS_TLS_CERT_FILE / REDIS_TLS_KEY_FILE if the server wants a client certificate"
    )


@needs_tls_redis
@pytest.mark.integration
def test_a_plain_client_against_the_tls_port_is_told_to_use_rediss(server: TlsRedis) -> None:
    done = run_cli(
        "pump", "celery", "--count", "1", "--redis-url", f"redis://{APP_USER}:x@127.0.0.1:{server.port}/0", timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip().endswith("If it speaks TLS, use rediss:// (or REDIS_TLS=true)"), done.stderr


@needs_tls_redis
@pytest.mark.integration
def test_a_server_that_wants_client_certificates(pki: Pki, tmp_path: Path, spawn: Callable[..., Proc]) -> None:
    assert BINARY
    strict = TlsRedis(BINARY, pki, tmp_path, client_certs="yes")
    try:
        without = run_cli("pump", "celery", "--count", "1", "--redis-url", strict.url(), env=tls_env(pki))
        assert without.returncode == 2 and without.stderr.startswith("Error: "), without.stderr
        env = tls_env(pki, REDIS_TLS_CERT_FILE=str(pki.client_cert), REDIS_TLS_KEY_FILE=str(pki.client_key))
        done = run_cli("pump", "celery", "--count", "10", "--id-prefix", "mtls", "--redis-url", strict.url(), env=env)
        assert done.returncode == 0, done.stderr
        spawn("worker", "celery", "--redis-url", strict.url(), "--concurrency", "1", "--work-time", "0", env=env)
        check = redis.Redis.from_url(
            strict.url(), ssl_ca_certs=str(pki.ca), ssl_certfile=str(pki.client_cert), ssl_keyfile=str(pki.client_key)
        )
        wait_for(all_processed(check, record_ids(10, "mtls")), 60, "10 records with mutual TLS")
        check.close()
    finally:
        strict.stop()


# --- real: Kafka over TLS, and SASL/SCRAM over TLS ----------------------------------------------
#
# On Apache Kafka (where the tests' broker is one): the tests' broker's two TLS listeners, SSL and
# SASL_SSL with its SCRAM user, serving a certificate of a CA made for the run (tests/support/servers.py). Where the
# tests run on Tansu (no Java), which serves plain TCP only, a TLS relay (tests/support/tls.py)
# sits in front of it and Tansu advertises the relay: every connection a client makes crosses a
# real handshake checked against the throwaway CA either way.


@dataclass(frozen=True)
class TlsKafka:
    """Where the clients speak TLS to Kafka; ``login`` where they log in over TLS too (Apache Kafka)."""

    bootstrap: str
    #: (SASL_SSL bootstrap, user, password); None on Tansu, which accepts no user once it demands logins.
    login: tuple[str, str, str] | None
    #: The broker's own client settings (Tansu's, on Tansu).
    env: dict[str, str]
    #: The CA that signed the broker's certificate.
    ca: Path


@contextlib.contextmanager
def tansu_behind_tls(pki: Pki, authentication: bool = False) -> Iterator[str]:
    """A Tansu that advertises a TLS relay in front of it; yields the relay's bootstrap."""
    from kedasuite.core.embedded import EmbeddedKafka

    relay = TlsRelay(pki)
    try:
        with EmbeddedKafka(advertised=f"localhost:{relay.port}", authentication=authentication) as broker:
            relay.target_port = broker.port
            yield f"localhost:{relay.port}"
    finally:
        relay.stop()


@pytest.fixture(scope="module")
def kafka_over_tls(pki: Pki, kafka_broker: KafkaUnderTest) -> Iterator[TlsKafka]:
    """The tests' broker's TLS listeners (Apache Kafka), else a Tansu behind the relay."""
    if kafka_broker.tls is None:
        with tansu_behind_tls(pki) as bootstrap:
            yield TlsKafka(bootstrap, None, dict(tansu.CLIENT_ENV), pki.ca)
        return
    assert kafka_broker.scram is not None
    ssl, sasl_ssl, ca = kafka_broker.tls
    yield TlsKafka(ssl, (sasl_ssl, *kafka_broker.scram[1:]), {}, Path(ca))


def kafka_tls_env(kafka: TlsKafka, ca: Path, **more: str) -> dict[str, str]:
    return {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CA_FILE": str(ca), **kafka.env, **more}


@pytest.mark.integration
def test_the_kafka_workload_runs_end_to_end_over_tls(
    kafka_over_tls: TlsKafka, pki: Pki, redis_url: str, redis_client: redis.Redis, spawn: Callable[..., Proc]
) -> None:
    suffix = uuid.uuid4().hex[:8]
    topic = ["--bootstrap-servers", kafka_over_tls.bootstrap, "--topic", f"tls-topic-{suffix}"]
    env = kafka_tls_env(kafka_over_tls, kafka_over_tls.ca)
    done = run_cli("pump", "kafka", "--count", "100", "--id-prefix", "ktls", "--workloads", "kafka", *topic, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("kafka: sent 100, failed 0 in "), done.stdout
    consumer = spawn(
        "worker",
        "kafka",
        *topic,
        "--group",
        f"tls-group-{suffix}",
        "--work-time",
        "0",
        "--redis-url",
        redis_url,
        env=env,
    )
    results = wait_for(all_processed(redis_client, record_ids(100, "ktls")), 90, "100 records over Kafka TLS")
    assert all(r.deliveries == 1 for r in results.values())
    consumer.signal(signal.SIGTERM)
    assert consumer.wait(30) == 0, consumer.log()[-2000:]


@pytest.mark.integration
def test_an_untrusted_kafka_certificate_names_the_ca_variable(kafka_over_tls: TlsKafka, pki: Pki) -> None:
    bootstrap = kafka_over_tls.bootstrap
    for command in (["pump", "kafka", "--count", "1", "--workloads", "kafka"], ["worker", "kafka"]):
        done = run_cli(*command, "--bootstrap-servers", bootstrap, env=kafka_tls_env(kafka_over_tls, pki.other_ca))
        assert done.returncode == 2, done.stderr
        message = done.stderr.strip().splitlines()[-1]
        assert message.startswith(
            f"Error: the TLS handshake with Kafka at {bootstrap} failed (SSL handshake failed: "
        ), message
        assert "certificate verify failed" in message
        assert message.endswith(
            "Point KAFKA_SSL_CA_FILE at the CA that signed the broker's certificate, and check "
            "KAFKA_SECURITY_PROTOCOL (SSL or SASL_SSL)"
        )


@pytest.mark.integration
def test_sasl_scram_over_tls_logs_in_and_a_wrong_password_is_refused_by_name(
    kafka_over_tls: TlsKafka, pki: Pki, redis_url: str, redis_client: redis.Redis, spawn: Callable[..., Proc]
) -> None:
    """SASL_SSL with SCRAM-SHA-512, as managed Kafka wants it, through the variables the managed
    overlay's TriggerAuthentication and pods use: the login produces and consumes; a wrong
    password is refused with a message naming the user and the variables, and not the password."""
    if kafka_over_tls.login is None:
        pytest.skip("Tansu accepts no SCRAM user once it demands logins (its refusal: the next test)")
    bootstrap, user, password = kafka_over_tls.login
    login = {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": user,
    }
    suffix = uuid.uuid4().hex[:8]
    topic = ["--bootstrap-servers", bootstrap, "--topic", f"sasl-ssl-topic-{suffix}"]
    env = kafka_tls_env(kafka_over_tls, kafka_over_tls.ca, **login, KAFKA_SASL_PASSWORD=password)
    done = run_cli("pump", "kafka", "--count", "20", "--id-prefix", "sasl-ssl", "--workloads", "kafka", *topic, env=env)
    assert done.returncode == 0 and done.stdout.startswith("kafka: sent 20, failed 0 in "), done.stdout + done.stderr
    consumer = spawn(
        "worker",
        "kafka",
        *topic,
        "--group",
        f"sasl-ssl-group-{suffix}",
        "--work-time",
        "0",
        "--redis-url",
        redis_url,
        env=env,
    )
    wait_for(
        all_processed(redis_client, record_ids(20, "sasl-ssl")), 90, "20 records over SASL_SSL", seen=consumer.describe
    )
    consumer.signal(signal.SIGTERM)
    assert consumer.wait(30) == 0, consumer.log()[-2000:]

    wrong = kafka_tls_env(kafka_over_tls, kafka_over_tls.ca, **login, KAFKA_SASL_PASSWORD="not-the-password")
    done = run_cli("pump", "kafka", "--count", "1", "--workloads", "kafka", *topic, env=wrong)
    assert done.returncode == 2, done.stderr
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith(f"Error: Kafka at {bootstrap} refused SCRAM-SHA-512 authentication of user '{user}' ("), (
        message
    )
    assert message.endswith("Check KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM")
    assert "not-the-password" not in done.stdout + done.stderr


@pytest.mark.integration
def test_sasl_scram_over_tls_meets_tansu_and_its_refusal_names_the_variables(pki: Pki) -> None:
    """The no-Java fallback: SASL_SSL to a Tansu that demands SCRAM, behind the TLS relay. Tansu
    keeps its users in memory and accepts no new one once it demands logins, so it can only
    refuse: the client completes the TLS handshake and the SCRAM exchange, and the refusal names
    user and variables."""
    with tansu_behind_tls(pki, authentication=True) as bootstrap:
        env = {
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SSL_CA_FILE": str(pki.ca),
            **tansu.CLIENT_ENV,
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": "app",
            "KAFKA_SASL_PASSWORD": "scram-test-password",
        }
        done = run_cli(
            "pump", "kafka", "--count", "1", "--workloads", "kafka", "--bootstrap-servers", bootstrap, env=env
        )
    assert done.returncode == 2, done.stderr
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith(f"Error: Kafka at {bootstrap} refused SCRAM-SHA-512 authentication of user 'app' ("), (
        message
    )
    assert "SASL SCRAM authentication failed: broker responded with unknown-user" in message
    assert message.endswith("Check KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM")
    assert "scram-test-password" not in done.stdout + done.stderr


def test_a_missing_kafka_ca_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.crt"
    done = run_cli(
        "pump",
        "kafka",
        "--count",
        "1",
        "--workloads",
        "kafka",
        "--bootstrap-servers",
        "localhost:1",
        env={"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CA_FILE": str(missing)},
    )
    assert done.returncode == 2
    assert done.stderr.strip() == f"Error: KAFKA_SSL_CA_FILE={missing}: no such file; point it at a PEM file"


def test_a_property_librdkafka_refuses_is_an_error_not_a_traceback() -> None:
    done = run_cli(
        "pump",
        "kafka",
        "--count",
        "1",
        "--workloads",
        "kafka",
        "--bootstrap-servers",
        "localhost:1",
        env={"KAFKA_SECURITY_PROTOCOL": "CARRIER_PIGEON"},
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("Error: the Kafka client refused its configuration (")
    assert "security.protocol" in done.stderr
    assert done.stderr.strip().endswith(
        "Check the KAFKA_SECURITY_PROTOCOL, KAFKA_SSL_CA_FILE and KAFKA_SASL_* "
        "variables, KAFKA_CONFIG_* and -X properties"
    )
