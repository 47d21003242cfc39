"""Errors that users see, each carrying what to do about it.

The HTTP pump and the CLI print the same text; the class decides the HTTP status.
"""

from __future__ import annotations


class SuiteError(Exception):
    """A problem the user can fix; its message names the problem and the fix."""

    http_status = 400
    exit_code = 2

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class InputError(SuiteError):
    """Bad input: a wrong count, an unknown workload, a malformed option."""


class NotConfigured(SuiteError):
    """A known workload whose broker has not been configured."""


class BrokerUnavailable(SuiteError):
    """The broker could not be reached; nothing was sent."""

    http_status = 503
