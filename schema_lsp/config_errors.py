"""The exception types a user's configuration can raise, for callers that report them."""

from __future__ import annotations


def settings_errors() -> tuple[type[Exception], ...]:
    from .script import ScriptConfigError
    from .server.config import ConfigError

    return (ConfigError, ScriptConfigError)
