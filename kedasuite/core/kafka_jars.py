"""The jars of the embedded Apache Kafka broker: resolved by Maven once, into a cache.

The package ships a ``pom.xml`` (``kafka-broker/pom.xml`` beside this module) naming one
Apache Kafka release; ``mvn dependency:copy-dependencies`` copies it and everything it needs
at run time into ``<cache>/<version>/lib``. Maven reads its own settings and its default
repository: no repository address is written here. A finished copy is marked with the
digest of the pom it came from, so a changed pom (a new release, another jar) resolves again
and an unchanged one costs a file read.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from importlib import resources
from pathlib import Path

from kedasuite.core.errors import SuiteError
from kedasuite.core.names import Env

#: The copy is complete when this file holds the pom's digest.
_STAMP = ".complete"
_POM_NAMESPACE = "{http://maven.apache.org/POM/4.0.0}"
#: mvn may download for a while on a slow link; past this it is stuck, not slow.
RESOLVE_TIMEOUT_S = 900


class KafkaJarsMissing(SuiteError):
    """No Java, no Maven, or Maven could not resolve the broker's jars."""


def pom_path() -> Path:
    """The pom shipped with the package (a real file: the package is installed unzipped)."""
    return Path(str(resources.files("kedasuite.core").joinpath("kafka-broker", "pom.xml")))


@cache
def kafka_version() -> str:
    """The Apache Kafka release the pom names (its ``kafka.version`` property)."""
    root = ET.parse(pom_path()).getroot()
    version = root.findtext(f"{_POM_NAMESPACE}properties/{_POM_NAMESPACE}kafka.version")
    if not version:
        raise KafkaJarsMissing(f"{pom_path()} names no kafka.version property")
    return version.strip()


def cache_root(environ: Mapping[str, str] = os.environ) -> Path:
    """``KAFKA_JARS_DIR``, else ``~/.cache/kedasuite/kafka``: one subdirectory per release."""
    configured = environ.get(Env.KAFKA_JARS_DIR, "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "kedasuite" / "kafka"


def version_dir(environ: Mapping[str, str] = os.environ) -> Path:
    return cache_root(environ) / kafka_version()


def _pom_digest() -> str:
    return hashlib.sha256(pom_path().read_bytes()).hexdigest()


def cached_jars(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The ``lib`` directory of a finished copy for the shipped pom, else None. Reads one file."""
    home = version_dir(environ)
    try:
        complete = (home / _STAMP).read_text().strip() == _pom_digest()
    except OSError:
        return None
    return home / "lib" if complete else None


def java_binary() -> str | None:
    return shutil.which("java")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One resolver at a time per release (test workers may all ask at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tail(text: str, lines: int = 25) -> str:
    """The last lines of mvn's output, without the colour resets Maven 3.8 writes even in batch mode."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    said = [line for line in plain.splitlines() if line.strip() not in ("", "[ERROR]")]
    return "\n".join(said[-lines:])


def resolve_jars(environ: Mapping[str, str] = os.environ, echo: Callable[[str], None] | None = None) -> Path:
    """The ``lib`` directory of the shipped Kafka release, resolving it with ``mvn`` if needed.

    Idempotent; when the copy is there, only its stamp is read. Raises
    :class:`KafkaJarsMissing` naming what is missing: ``java``, ``mvn``, or what Maven said.
    """
    found = cached_jars(environ)
    if found is not None:
        return found
    home = version_dir(environ)
    version = kafka_version()
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        raise KafkaJarsMissing(
            f"cannot resolve the Apache Kafka {version} jars: no {' and no '.join(missing)} on PATH. Install "
            f"a JDK (17 or newer) and Maven, then run scripts/bootstrap; or use Tansu ({Env.KAFKA_EMBEDDED}=tansu)"
        )
    with _locked(home.parent / f".{version}.lock"):
        found = cached_jars(environ)  # another process may have finished while this one waited
        if found is not None:
            return found
        home.mkdir(parents=True, exist_ok=True)
        pom = home / "pom.xml"  # mvn runs on a copy: the installed package may be read-only
        shutil.copyfile(pom_path(), pom)
        staging = Path(tempfile.mkdtemp(prefix="lib-", dir=home))
        if echo:
            echo(f"resolving the Apache Kafka {version} jars with mvn into {home / 'lib'}")
        try:
            done = subprocess.run(
                [
                    "mvn",
                    "-q",
                    "-B",
                    "-Dstyle.color=never",
                    "-f",
                    str(pom),
                    "dependency:copy-dependencies",
                    f"-DoutputDirectory={staging}",
                ],
                capture_output=True,
                text=True,
                timeout=RESOLVE_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise KafkaJarsMissing(
                f"mvn did not resolve the Apache Kafka {version} jars within {RESOLVE_TIMEOUT_S} s"
            ) from exc
        if done.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
            shutil.rmtree(staging, ignore_errors=True)
            said = _tail(done.stdout + "\n" + done.stderr) or f"exit status {done.returncode}, no output"
            raise KafkaJarsMissing(f"mvn could not resolve the Apache Kafka {version} jars ({pom}):\n{said}")
        lib = home / "lib"
        shutil.rmtree(lib, ignore_errors=True)
        staging.rename(lib)
        (home / _STAMP).write_text(_pom_digest() + "\n")
    return lib


def main() -> int:
    """``python -m kedasuite.core.kafka_jars``: scripts/bootstrap's one line on the jars."""
    import sys
    import time

    version, started = kafka_version(), time.monotonic()
    if (found := cached_jars()) is not None:
        print(f"==> Apache Kafka {version} jars: already in {found}")
        return 0
    try:
        lib = resolve_jars()
    except KafkaJarsMissing as exc:
        print(f"scripts/bootstrap: {exc.message}\nThe embedded Kafka stays Tansu until this succeeds.", file=sys.stderr)
        return 1
    count = sum(1 for _ in lib.glob("*.jar"))
    print(
        f"==> resolved the Apache Kafka {version} jars with mvn ({count} jars, "
        f"{time.monotonic() - started:.0f} s) into {lib}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
