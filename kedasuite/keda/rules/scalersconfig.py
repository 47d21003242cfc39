"""How KEDA reads a trigger's ``metadata`` before a scaler exists (v2.20.2,
``pkg/scalers/scalersconfig/typed_config.go``), for the scalers the suite models.

KEDA looks each parameter up in an order the scaler declares: the trigger's ``metadata``, the
scaled container's environment through ``<name>FromEnv`` (``resolvedEnv``), and the
``TriggerAuthentication``'s parameters (``authParams``). A value is trimmed, and an empty one
counts as not given (``configParamValue``). Then it is converted by the field's type
(``setConfigValueHelper``): a boolean with Go's ``strconv.ParseBool``, an integer as a JSON
number, a list split at commas. Any failure is an error, and a scaler whose metadata errors is
never built: the trigger reports nothing. The model refuses the same values with the same
reasons, so ``simulate`` and the lint do not answer for a trigger KEDA would not run.

Two sources the model seldom sees: a container's environment (the lint and ``simulate`` read
manifests, not pods) and a ``TriggerAuthentication``'s secrets. Passed as ``None``, they are
*unknown*: a parameter they could supply counts as given (:data:`UNKNOWN`), and only what the
metadata alone makes KEDA refuse is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

#: The lookup orders of ``typed_config.go``.
TRIGGER_METADATA: Final = "triggerMetadata"
RESOLVED_ENV: Final = "resolvedEnv"
AUTH_PARAMS: Final = "authParams"

#: What Go's ``strconv.ParseBool`` reads as true, and as false; nothing else is a boolean.
GO_TRUE: Final = frozenset({"1", "t", "T", "TRUE", "true", "True"})
GO_FALSE: Final = frozenset({"0", "f", "F", "FALSE", "false", "False"})
GO_BOOLEANS: Final = "1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False"

_INT64 = (-(2**63), 2**63 - 1)
#: A JSON integer literal: what ``json.Unmarshal`` puts into an ``int64`` (no sign +, no leading 0).
_JSON_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")


class _Unknown(str):
    """A value a source the caller could not see may hold (an unresolved ``…FromEnv``, or an
    unknown ``TriggerAuthentication``): counted as given, never checked."""

    def __repr__(self) -> str:
        return "UNKNOWN"


#: See :class:`_Unknown`: the lookup's answer when the value is in a source nobody passed.
UNKNOWN: Final = _Unknown("")


@dataclass(frozen=True)
class MetadataProblem:
    """One reason KEDA refuses a trigger's metadata: the field, KEDA's reason, and the fix."""

    field: str
    #: Starts with the field's name, in KEDA's words where KEDA has them.
    reason: str
    fix: str

    def text(self) -> str:
        return f"{self.reason}; {self.fix}"


class MetadataError(ValueError):
    """Trigger metadata KEDA refuses: the scaler is never built. Carries every problem found,
    as KEDA's parser reports every field's error at once (``parseTypedConfig`` joins them)."""

    def __init__(self, problems: Sequence[MetadataProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; and ".join(p.text() for p in self.problems))

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(p.field for p in self.problems)


@dataclass(frozen=True)
class Sources:
    """The three maps KEDA looks parameters up in; ``None``: not known to the caller."""

    metadata: Mapping[str, str]
    resolved_env: Mapping[str, str] | None = None
    auth_params: Mapping[str, str] | None = None

    def value(self, names: Sequence[str], order: Sequence[str]) -> str | None:
        """``configParamValue``: the first non-empty, trimmed value of any of ``names`` in ``order``;
        :data:`UNKNOWN` when an unknown source could hold it; ``None`` when nothing does."""
        maybe = False
        for source in order:
            for name in names:
                if source == TRIGGER_METADATA:
                    found = self.metadata.get(name)
                elif source == RESOLVED_ENV:
                    variable = self.metadata.get(f"{name}FromEnv")
                    if variable is None:
                        continue
                    if self.resolved_env is None:
                        maybe = maybe or bool(str(variable).strip())
                        continue
                    found = self.resolved_env.get(str(variable))
                else:
                    if self.auth_params is None:
                        maybe = True
                        continue
                    found = self.auth_params.get(name)
                text = str(found).strip() if found is not None else ""
                if text:
                    # A source looked at first, but unseen here, could hold another value.
                    return UNKNOWN if maybe else text
        return UNKNOWN if maybe else None


def is_unknown(value: str | None) -> bool:
    return isinstance(value, _Unknown)


class Parser:
    """Reads one trigger's parameters as ``setValue`` does, collecting every problem."""

    def __init__(self, sources: Sources, required: bool = True) -> None:
        """``required``: refuse a required parameter that is missing; off, only the values given are
        checked (the model reads what it needs, and names the trigger's source elsewhere)."""
        self.sources, self.required = sources, required
        self.problems: list[MetadataProblem] = []

    def refuse(self, field: str, reason: str, fix: str) -> None:
        self.problems.append(MetadataProblem(field, reason, fix))

    def raw(self, name: str, order: Sequence[str], required: bool = False, aliases: Sequence[str] = ()) -> str | None:
        """The parameter's text (``None``: not given); a missing required one is refused with KEDA's words."""
        value = self.sources.value((name, *aliases), order)
        if value is None and required and self.required:
            self.refuse(
                name,
                f"{name} is missing: KEDA refuses the trigger (missing required parameter {quote(name)} in "
                f"[{' '.join(order)}])",
                f"set {name}" + (f" (or {name}FromEnv)" if RESOLVED_ENV in order else ""),
            )
        return value

    def boolean(self, name: str, order: Sequence[str] = (TRIGGER_METADATA,), default: bool = False) -> bool:
        """A ``bool`` field: Go's ``strconv.ParseBool`` on the trimmed text, or ``default``."""
        value = self.raw(name, order)
        if value is None or is_unknown(value):
            return default
        return parse_bool(name, value, self)

    def integer(self, name: str, default: int | None, order: Sequence[str] = (TRIGGER_METADATA,)) -> int | None:
        """An ``int64`` (or ``int``) field: a JSON integer, as ``json.Unmarshal`` reads one."""
        value = self.raw(name, order)
        if value is None or is_unknown(value):
            return default
        return parse_int64(name, value, self, default)

    def enum(self, name: str, allowed: Sequence[str], default: str, order: Sequence[str] = (TRIGGER_METADATA,)) -> str:
        """A field with an ``enum`` tag: the trimmed text must be one of ``allowed`` exactly (case counts)."""
        value = self.raw(name, order)
        if value is None or is_unknown(value):
            return default
        if value not in allowed:
            self.refuse(
                name,
                f"{name} {quote(value)} is none of {', '.join(allowed)}: KEDA refuses it (parameter "
                f"{quote(name)} value {quote(value)} must be one of [{' '.join(allowed)}])",
                f"write one of {', '.join(allowed)} (lower case, as here)",
            )
            return default
        return value

    def strings(self, name: str, order: Sequence[str], aliases: Sequence[str] = ()) -> tuple[str, ...] | None:
        """A ``[]string`` field: the text split at commas, each part trimmed; ``None``: not given."""
        value = self.raw(name, order, aliases=aliases)
        if value is None or is_unknown(value):
            return None
        return tuple(part.strip() for part in value.split(","))


def parse_bool(field: str, value: str, parser: Parser | None = None) -> bool:
    """Go's ``strconv.ParseBool``: the twelve spellings of :data:`GO_BOOLEANS`, nothing else. KEDA
    reads every boolean of a trigger with it (``setConfigValueHelper``), so ``"yes"``, ``"on"`` or
    ``"TRue"`` fail the trigger rather than meaning false."""
    if value in GO_TRUE:
        return True
    if value in GO_FALSE:
        return False
    problem = MetadataProblem(
        field,
        f"{field} {quote(value)} is not a boolean KEDA reads: it refuses it (unable to parse boolean value "
        f"{quote(value)}: Go's strconv.ParseBool takes only {GO_BOOLEANS})",
        'write "true" or "false" (quoted: metadata values are strings)',
    )
    if parser is None:
        raise MetadataError([problem])
    parser.problems.append(problem)
    return False


def parse_int64(field: str, value: str, parser: Parser | None = None, default: int | None = None) -> int | None:
    """An integer field as KEDA reads it, ``json.Unmarshal`` into an ``int64``: digits with an optional
    ``-``; ``"1.5"``, ``"1e3"``, ``"+5"`` and ``"05"`` are refused."""
    if _JSON_INTEGER.fullmatch(value) and _INT64[0] <= int(value) <= _INT64[1]:
        return int(value)
    problem = MetadataProblem(
        field,
        f"{field} {quote(value)} is not an integer KEDA reads: it refuses it (unable to unmarshal to field "
        "type int64: it takes a whole number written as JSON, digits with an optional -, no leading 0)",
        f'write a whole number, e.g. "{_suggest_integer(value)}"',
    )
    if parser is None:
        raise MetadataError([problem])
    parser.problems.append(problem)
    return default


def quote(text: str) -> str:
    """A string as Go's ``%q`` prints it (close enough for messages): double quotes, escapes."""
    return json.dumps(text, ensure_ascii=False)


def _suggest_integer(value: str) -> str:
    try:
        return str(max(int(float(value)), 0))
    except (ValueError, OverflowError):
        return "10"
