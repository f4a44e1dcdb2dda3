"""The daemon's life around the object graph: start-up checks that end in one actionable line,
requests in flight counted so SIGTERM can let them finish, SIGHUP's reload.

Start-up failures are `ConfigError`s naming the setting to change; the command line prints
them as one `error:` line and exits 2.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import gevent
import gevent.event

from .errors import ConfigError
from .settings import Settings, load_settings

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

STATE_HINT = "~/.local/state/esl_recorder"


def writable_hint(key: str) -> str:
    """The advice closing every 'cannot write' start-up error: which setting to change."""
    env = "ESL_RECORDER_" + key.upper().replace(".", "_")
    return (f"set {key} (or {env}) to a path this user can write, e.g. under "
            f"{os.environ.get('XDG_STATE_HOME') or STATE_HINT}")


def ensure_writable_dir(settings: Settings, key: str, directory: str) -> None:
    """Create `directory` if needed and check this process may write in it."""
    hint = writable_hint(key)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise ConfigError(settings.source, key,
                          f"cannot create {directory} ({exc.strerror}); {hint}") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ConfigError(settings.source, key,
                          f"{directory} is not writable by this user; {hint}")


def check_state_dirs(settings: Settings) -> None:
    """The store's directory and file (SQLite) and the recordings root exist and are
    writable. One error names every one that is not (a normal user running the defaults
    meets both at once)."""
    checks: list[Callable[[], None]] = []
    if not settings.store.url:
        checks.append(lambda: _check_sqlite_file(settings))
    checks.append(lambda: ensure_writable_dir(settings, "recording.root",
                                              settings.recording.root))
    problems: list[ConfigError] = []
    for check in checks:
        try:
            check()
        except ConfigError as exc:
            problems.append(exc)
    if len(problems) > 1:
        first, *rest = problems
        raise ConfigError(first.source, first.key, "; ".join(
            [first.problem, *(f"{e.key}: {e.problem}" for e in rest)]))
    if problems:
        raise problems[0]


def _check_sqlite_file(settings: Settings) -> None:
    path = settings.store.path
    ensure_writable_dir(settings, "store.path", str(Path(path).parent))
    if os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK):
        raise ConfigError(settings.source, "store.path", f"{path} is not writable by "
                          f"this user; {writable_hint('store.path')}")


def listen_error(settings: Settings, key: str, port: int, exc: OSError) -> ConfigError:
    """A bind failure in words, with the setting that chooses the port."""
    where = f"{settings.http.host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        problem = f"{where} is already in use (another esl-recorder?); choose a free port"
    elif exc.errno == errno.EACCES:
        problem = f"not allowed to listen on {where}; choose a port above 1023"
    else:
        problem = f"cannot listen on {where}: {exc.strerror or exc}"
    return ConfigError(settings.source, key, problem)


def store_writable(path: str) -> bool:
    """The database file (and its directory, for the WAL) can be written by this process."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    return os.access(directory, os.W_OK) and (not os.path.exists(path)
                                              or os.access(path, os.W_OK))


class InFlight:
    """WSGI middleware counting requests being answered; once `draining`, every response
    closes its connection, so a keep-alive client does not hold a worker while the daemon
    stops."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self.active = 0
        self.draining = False
        self._idle = gevent.event.Event()
        self._idle.set()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        self.active += 1
        self._idle.clear()

        def respond(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            if self.draining:
                headers = [(k, v) for k, v in headers if k.lower() != "connection"]
                headers.append(("Connection", "close"))
            return start_response(status, headers, *exc)

        try:
            body = self._app(environ, respond)
        except BaseException:
            self._done()
            raise
        counted = _CountedSized if hasattr(body, "__len__") else _Counted
        return counted(body, self._done)

    def _done(self) -> None:
        self.active -= 1
        if self.active == 0:
            self._idle.set()

    def drain(self, timeout: float) -> bool:
        """Wait until no request is being answered; False if `timeout` ran out first."""
        self.draining = True
        return bool(self._idle.wait(timeout))


class _Counted:
    __slots__ = ("_body", "_done")

    def __init__(self, body: Iterable[bytes], done: Callable[[], None]) -> None:
        self._body = body
        self._done: Callable[[], None] | None = done

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            done, self._done = self._done, None
            if done is not None:
                done()


class _CountedSized(_Counted):
    """The same for a body of known chunks (pywsgi then sets Content-Length itself)."""

    __slots__ = ()

    def __len__(self) -> int:
        return len(self._body)  # type: ignore[arg-type]


def reload_log_level(settings: Settings) -> None:
    """SIGHUP: read the configuration file again and apply its log level."""
    if settings.source == "<defaults>":
        return
    try:
        fresh = load_settings(settings.source)
    except ConfigError as exc:
        log.error("reload refused, keeping the running settings: %s", exc)
        return
    logging.getLogger().setLevel(fresh.log.level)
    log.info("reloaded: log level %s", fresh.log.level)
