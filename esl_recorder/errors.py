"""Every error the daemon raises on purpose, under one root."""

from __future__ import annotations


class EslRecorderError(Exception):
    """Root of the daemon's own errors."""


class ConfigError(EslRecorderError):
    """The configuration file or environment is invalid.

    `source` names the file (or `env`), `key` the dotted setting key.
    """

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        super().__init__(f"{source}: {key}: {problem}")


class StoreError(EslRecorderError):
    """The store's database cannot be used by this version (e.g. a newer schema)."""


class EslError(EslRecorderError):
    """Anything that went wrong talking to FreeSWITCH."""


class EslConnectError(EslError):
    """The TCP connection to a node could not be made or was refused."""


class EslAuthError(EslError):
    """FreeSWITCH refused the event-socket password."""


class EslDisconnected(EslError):
    """The connection is gone: a command could not be sent, or dropped unanswered."""


class EslLinkLost(EslDisconnected):
    """The connection dropped after the command was written: FreeSWITCH may have run it."""


class EslTimeout(EslError):
    """A command got no reply within its timeout."""


class EslProtocolError(EslError):
    """A frame could not be parsed."""


class EslCommandError(EslError):
    """FreeSWITCH answered a command with -ERR or -USAGE."""

    def __init__(self, command: str, reply: str) -> None:
        self.command = command
        self.reply = reply
        super().__init__(f"{command.split(' ', 1)[0]}: {reply.strip()}")


class InvalidArgument(EslRecorderError, ValueError):
    """A value would be unsafe or invalid inside a FreeSWITCH command."""


class RecordingError(EslRecorderError):
    """A recording operation could not be carried out."""


class NotFound(RecordingError):
    """No such call or recording (for this tenant)."""


class Conflict(RecordingError):
    """The operation does not fit the recording's current state."""


class Unauthorized(EslRecorderError):
    """Missing or wrong API credentials (the message never holds the secret)."""
