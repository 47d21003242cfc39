"""A ``redis`` trigger's metadata read as KEDA's redis scaler reads it (v2.20.2,
``pkg/scalers/redis_scaler.go``: ``parseRedisMetadata``, ``redisMetadata.Validate``,
``validateRedisAddress``, ``redisConnectionInfo.SetEnableTLS``), for the ``redis``,
``redis-cluster`` and ``redis-sentinel`` triggers, which share it.

What the model takes from it is the list and its two numbers (``listName``, ``listLength``
default 5, ``activationListLength`` default 0, whole numbers); what it refuses as KEDA does is
everything else KEDA would not build: an integer or a boolean that does not convert
(``enableTLS`` and ``unsafeSsl`` go through Go's ``strconv.ParseBool``), ``tls`` set both here and
in the TriggerAuthentication, hosts and ports of different counts, no address at all. The
address and the credentials may come from the container's environment (``…FromEnv``) or a
TriggerAuthentication; passed as ``None`` those are unknown and taken as supplying them
(:mod:`.scalersconfig`). How long a list is, KEDA measures by the key's type:
``kedasuite/keda/reads.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kedasuite.keda.rules.scalersconfig import (
    AUTH_PARAMS,
    RESOLVED_ENV,
    TRIGGER_METADATA,
    MetadataError,
    MetadataProblem,
    Parser,
    Sources,
    is_unknown,
    parse_bool,
    quote,
)

#: The trigger types that read their metadata with ``parseRedisMetadata``.
REDIS_LIST_TYPES = ("redis", "redis-cluster", "redis-sentinel")
DEFAULT_LIST_LENGTH = 5

_METADATA_AUTH_ENV = (TRIGGER_METADATA, AUTH_PARAMS, RESOLVED_ENV)
_METADATA_ENV_AUTH = (TRIGGER_METADATA, RESOLVED_ENV, AUTH_PARAMS)


@dataclass(frozen=True)
class RedisTrigger:
    """The redis trigger metadata that decides the metric: the key and its two thresholds."""

    list_name: str = ""
    list_length: int = DEFAULT_LIST_LENGTH
    activation_list_length: int = 0
    database_index: int = 0

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str], resolved_env: Mapping[str, str] | None = None) -> RedisTrigger:
        """The trigger's numbers, refusing every value KEDA refuses (:class:`MetadataError`); what
        is missing (``listName``, an address) only :func:`parse_redis_metadata` refuses."""
        return parse_redis_metadata(metadata, resolved_env, required=False).trigger


@dataclass(frozen=True)
class RedisConnection:
    """``redisConnectionInfo``: where and how KEDA connects (``None``: from a source not passed)."""

    addresses: tuple[str, ...] | None = ()
    hosts: tuple[str, ...] | None = ()
    ports: tuple[str, ...] | None = ()
    username: str | None = ""
    password: str | None = field(default="", repr=False)
    sentinel_username: str | None = ""
    sentinel_password: str | None = field(default="", repr=False)
    sentinel_master: str | None = ""
    #: ``None``: ``tls`` may be set in a TriggerAuthentication the caller did not pass.
    enable_tls: bool | None = False
    unsafe_ssl: bool = False
    cert: str | None = field(default="", repr=False)
    key: str | None = field(default="", repr=False)
    key_password: str | None = field(default="", repr=False)
    ca: str | None = field(default="", repr=False)


@dataclass(frozen=True)
class RedisMetadata:
    trigger: RedisTrigger
    connection: RedisConnection


def join_host_port(host: str, port: str) -> str:
    """Go's ``net.JoinHostPort``: ``host:port``, the host in brackets when it holds a colon (IPv6)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_redis_metadata(
    metadata: Mapping[str, str],
    resolved_env: Mapping[str, str] | None = None,
    auth_params: Mapping[str, str] | None = None,
    required: bool = True,
) -> RedisMetadata:
    """KEDA's ``parseRedisMetadata``: each field looked up and converted in the struct's order, then
    ``Validate`` (the addresses, then TLS), which stops at its first refusal. ``resolved_env``: the
    scaled container's environment; ``auth_params``: the TriggerAuthentication's parameters; ``None``
    for either: unknown. ``required``: refuse a missing ``listName`` or address too (the model does
    not connect, so it leaves those to the lint). Raises :class:`MetadataError` with every problem."""
    p = Parser(Sources(metadata, resolved_env, auth_params), required)
    list_length = p.integer("listLength", DEFAULT_LIST_LENGTH)
    activation = p.integer("activationListLength", 0)
    list_name = p.raw("listName", (TRIGGER_METADATA,), required=True)
    database = p.integer("databaseIndex", 0)
    metadata_tls = p.raw("enableTLS", (TRIGGER_METADATA,))
    auth_tls = p.raw("tls", (AUTH_PARAMS,))
    addresses = p.strings("address", _METADATA_AUTH_ENV, aliases=("addresses",))
    text = {name: p.raw(name, order) for name, order in _CONNECTION_TEXT.items()}
    hosts = p.strings("host", _METADATA_ENV_AUTH, aliases=("hosts",))
    ports = p.strings("port", _METADATA_ENV_AUTH, aliases=("ports",))
    hosts_unknown = is_unknown(p.raw("host", _METADATA_ENV_AUTH, aliases=("hosts",)))
    ports_unknown = is_unknown(p.raw("port", _METADATA_ENV_AUTH, aliases=("ports",)))
    unsafe_ssl = p.boolean("unsafeSsl")
    secrets = {name: p.raw(name, (AUTH_PARAMS,), aliases=aliases) for name, aliases in _TLS_FILES.items()}

    # redisMetadata.Validate: the addresses first (validateRedisAddress), then TLS (SetEnableTLS).
    unknown = is_unknown(p.raw("address", _METADATA_AUTH_ENV, aliases=("addresses",))) or hosts_unknown or ports_unknown
    joined, problem = _validate_redis_address(addresses or (), hosts or (), ports or (), unknown, required)
    enable_tls: bool | None = None
    if problem is not None:
        p.problems.append(problem)
    else:
        enable_tls = _set_enable_tls(p, metadata_tls, auth_tls)
    if p.problems:
        raise MetadataError(p.problems)
    assert list_length is not None and activation is not None and database is not None
    return RedisMetadata(
        RedisTrigger(
            list_name="" if list_name is None or is_unknown(list_name) else list_name,
            list_length=list_length,
            activation_list_length=activation,
            database_index=database,
        ),
        RedisConnection(
            addresses=None if unknown else tuple(joined),
            hosts=None if hosts_unknown else hosts or (),
            ports=None if ports_unknown else ports or (),
            enable_tls=enable_tls,
            unsafe_ssl=unsafe_ssl,
            **{key: _known(text[name]) for name, key in _CONNECTION_FIELDS.items()},
            **{key: _known(secrets[name]) for name, key in _TLS_FIELDS.items()},
        ),
    )


#: The connection's plain strings, with KEDA's lookup order for each.
_CONNECTION_TEXT = {
    "username": _METADATA_ENV_AUTH,
    "password": _METADATA_ENV_AUTH,
    "sentinelUsername": _METADATA_AUTH_ENV,
    "sentinelPassword": _METADATA_AUTH_ENV,
    "sentinelMaster": _METADATA_AUTH_ENV,
}
_CONNECTION_FIELDS = {
    "username": "username",
    "password": "password",
    "sentinelUsername": "sentinel_username",
    "sentinelPassword": "sentinel_password",
    "sentinelMaster": "sentinel_master",
}
#: The TLS files, read from the TriggerAuthentication only (``cert`` is also spelt ``Cert``).
_TLS_FILES: dict[str, tuple[str, ...]] = {"Cert": ("cert",), "key": (), "keyPassword": (), "ca": ()}
_TLS_FIELDS = {"Cert": "cert", "key": "key", "keyPassword": "key_password", "ca": "ca"}


def _validate_redis_address(
    addresses: tuple[str, ...], hosts: tuple[str, ...], ports: tuple[str, ...], unknown: bool, required: bool
) -> tuple[list[str], MetadataProblem | None]:
    """``validateRedisAddress``: hosts and ports pair up into addresses (after any ``address``),
    and there must be a first address. ``unknown``: part of it is in a source not passed here."""
    joined = list(addresses)
    if hosts and ports:
        if len(hosts) != len(ports):
            return joined, MetadataProblem(
                "ports",
                f"{len(hosts)} hosts and {len(ports)} ports do not pair up: KEDA refuses it (not enough hosts or "
                "ports given. number of hosts should be equal to the number of ports)",
                "give one port per host, in the same order",
            )
        joined += [join_host_port(host, port) for host, port in zip(hosts, ports)]
    if unknown or (not joined and not required) or (joined and joined[0]):
        return joined, None
    return joined, MetadataProblem(
        "address",
        "no address: KEDA refuses it (no addresses or hosts given. address should be a comma separated list of "
        "host:port or set the host/port values)",
        "set address (or addressFromEnv) to host:port, or host and port",
    )


def _known(value: str | None) -> str | None:
    if value is None:
        return ""
    return None if is_unknown(value) else value


def _set_enable_tls(p: Parser, metadata_tls: str | None, auth_tls: str | None) -> bool | None:
    """``SetEnableTLS``: ``enableTLS`` in the metadata (a Go boolean) or ``tls`` in the
    TriggerAuthentication (``enable`` / ``disable``), never both. ``None``: not known here."""
    if metadata_tls is not None and auth_tls is not None and not is_unknown(auth_tls):
        p.refuse(
            "enableTLS",
            "enableTLS is set here and tls in the TriggerAuthentication: KEDA refuses it (unable to set `tls` in "
            "both ScaledObject and TriggerAuthentication together)",
            "keep one of them",
        )
        return None
    enabled: bool | None = False
    if metadata_tls is not None:
        try:
            enabled = parse_bool("enableTLS", metadata_tls)
        except MetadataError as exc:
            p.problems.extend(exc.problems)
            return None
    if auth_tls is not None and is_unknown(auth_tls):
        return enabled if metadata_tls is not None else None
    if auth_tls is not None:
        if auth_tls not in ("enable", "disable"):
            p.problems.append(
                MetadataProblem(
                    "tls",
                    f"tls {quote(auth_tls)} in the TriggerAuthentication is neither enable nor disable: KEDA "
                    f"refuses it (error incorrect TLS value given, got {auth_tls})",
                    'write "enable" or "disable"',
                )
            )
            return None
        enabled = auth_tls == "enable"
    return enabled
