"""The Event Socket commands of one connection (mod_event_socket's parse_command)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from gevent.event import Event as GEvent

from esl_recorder.testing.fakeswitch import apps, dialplan, wire
from esl_recorder.testing.fakeswitch.channels import new_uuid
from esl_recorder.testing.fakeswitch.commands import Pending

if TYPE_CHECKING:
    from esl_recorder.testing.fakeswitch.session import Session

ORIGINATE_TIMEOUT = 60.0  # FreeSWITCH's default originate_timeout (seconds)


def _api(session: Session, args: str, headers: dict[str, str]) -> None:
    body, post = session.run_api(args)
    if isinstance(body, Pending):  # api originate blocks until the script answers
        body = _wait_answered(session, body)
    session.send(wire.api_response(body))
    session.flush_held()
    for action in post:
        session.switch.run_locked(action)


def _wait_answered(session: Session, pending: Pending) -> str:
    result: list[str] = []
    answered = GEvent()

    def done(cause: str) -> None:
        result.append(cause)
        answered.set()

    session.switch.run_locked(lambda: pending.call.on_answer.append(done))
    answered.wait(ORIGINATE_TIMEOUT)
    if result == [""]:
        return str(pending)
    return f"-ERR {result[0] if result else 'NO_ANSWER'}\n"


def _bgapi(session: Session, args: str, headers: dict[str, str]) -> None:
    job = headers.get("Job-UUID") or new_uuid()
    session.send(wire.command_reply(f"+OK Job-UUID: {job}", ("Job-UUID", job)))
    body, post = session.run_api(args)
    session.flush_held()
    if isinstance(body, Pending):  # the job ends when the script answers (or on hangup)
        result = str(body)

        def done(cause: str) -> None:
            text = f"-ERR {cause}\n" if cause else result
            _job_done(session, args, job, text, [] if cause else post)

        body.call.on_answer.append(done)
        return
    _job_done(session, args, job, body, post)


def _job_done(session: Session, args: str, job: str, body: str, post: list[Callable[[], None]]
              ) -> None:
    command, _, command_args = args.partition(" ")
    extra = [("Job-UUID", job), ("Job-Command", command)]
    if command_args:
        extra.append(("Job-Command-Arg", command_args))
    event = session.switch.core.plain_event("BACKGROUND_JOB", extra)
    event.body = body
    session.switch.core.fire(event)
    for action in post:
        session.switch.run_locked(action)


def _event(session: Session, args: str, headers: dict[str, str]) -> None:
    words = args.split()
    if words and words[0] in wire.FORMATS:
        session.fmt = words.pop(0)
    if not words:
        session.send(wire.command_reply("-ERR no keywords supplied"))
        return
    session.events.update(w for w in words if w != "CUSTOM")
    session.send(wire.command_reply(f"+OK event listener enabled {session.fmt}"))


def _nixevent(session: Session, args: str, headers: dict[str, str]) -> None:
    words = args.split()
    if not words:
        session.send(wire.command_reply("-ERR no keywords supplied"))
        return
    session.events.difference_update(words)
    session.send(wire.command_reply("+OK events nixed"))


def _noevents(session: Session, args: str, headers: dict[str, str]) -> None:
    if not session.events:
        session.send(wire.command_reply("-ERR not listening for events"))
        return
    session.events.clear()
    session.send(wire.command_reply("+OK no longer listening for events"))


def _filter(session: Session, args: str, headers: dict[str, str]) -> None:
    words = args.split(" ")
    if words[0] == "delete":
        _filter_delete(session, words[1:])
        return
    if words[0] == "add":
        words = words[1:]
    if len(words) < 2 or not words[1]:
        session.send(wire.command_reply("-ERR invalid syntax"))
        return
    name, value = words[0], " ".join(words[1:])
    session.filters.append((name, value))
    session.send(wire.command_reply(f"+OK filter added. [{name}]=[{value}]"))


def _filter_delete(session: Session, words: list[str]) -> None:
    name = words[0] if words else ""
    value = " ".join(words[1:])
    if name == "all":
        session.filters.clear()
    elif value:
        session.filters = [f for f in session.filters if f != (name, value)]
    else:
        session.filters = [f for f in session.filters if f[0] != name]
    session.send(wire.command_reply(f"+OK filter deleted. [{name}][{value}]"))


def _exit(session: Session, args: str, headers: dict[str, str]) -> None:
    session.send(wire.command_reply("+OK bye"))
    extra: tuple[tuple[str, str], ...] = ()
    if session.bound_uuid:
        extra = (
            ("Controlled-Session-UUID", session.bound_uuid),
            ("Content-Disposition", "disconnect"),
        )
    session.send(wire.disconnect_notice(*extra))
    session.close_after_flush()
    session.closed = True


def _connect(session: Session, args: str, headers: dict[str, str]) -> None:
    """Outbound mode: the reply is the channel's data with a command/reply trailer."""
    ch = session.switch.core.locate(session.bound_uuid or "")
    if not session.outbound or ch is None:
        session.send(wire.command_reply("-ERR command not found"))
        return
    core = session.switch.core
    event = core.channel_event(ch, "CHANNEL_DATA", "connect")
    event.headers += [
        ("Content-Type", "command/reply"),
        ("Reply-Text", "+OK\n"),
        ("Socket-Mode", "async"),
        ("Control", "full"),
    ]
    session.send(wire.serialize_plain(event).encode())
    core.later(lambda: session.switch.run_locked(lambda: dialplan.park(core, ch)))


def _myevents(session: Session, args: str, headers: dict[str, str]) -> None:
    if session.outbound and not session.events_enabled:
        session.events_enabled = True
        session.send(wire.command_reply("+OK Events Enabled"))
        return
    if session.events_enabled:
        session.send(wire.command_reply("-ERR aready enabled."))
        return
    words = args.split()
    uuid = words[-1] if words else ""
    if words and words[0] in wire.FORMATS:
        session.fmt = words[0]
    if not uuid or session.switch.core.locate(uuid) is None:
        session.send(wire.command_reply("-ERR invalid uuid"))
        return
    session.bound_uuid = uuid
    session.events_enabled = True
    session.send(wire.command_reply("+OK Events Enabled"))


def _linger(session: Session, args: str, headers: dict[str, str]) -> None:
    if not session.bound_uuid:
        session.send(wire.command_reply("-ERR not controlling a session"))
        return
    if args.strip().lstrip("-").isdigit():
        session.linger = int(args)
        session.send(wire.command_reply(f"+OK will linger {session.linger} seconds"))
    else:
        session.linger = -1
        session.send(wire.command_reply("+OK will linger"))


def _nolinger(session: Session, args: str, headers: dict[str, str]) -> None:
    if not session.bound_uuid:
        session.send(wire.command_reply("-ERR not controlling a session"))
        return
    session.linger = None
    session.send(wire.command_reply("+OK will not linger"))


def _divert(session: Session, args: str, headers: dict[str, str]) -> None:
    if not session.bound_uuid:
        session.send(wire.command_reply("-ERR not controlling a session."))
        return
    session.send(wire.command_reply("+OK events diverted"))


def _log(session: Session, args: str, headers: dict[str, str]) -> None:
    level = args.strip() or "7"
    session.logging = True
    session.send(wire.command_reply(f"+OK log level {level} [{level}]"))


def _nolog(session: Session, args: str, headers: dict[str, str]) -> None:
    if not session.logging:
        session.send(wire.command_reply("-ERR not loging"))
        return
    session.logging = False
    session.send(wire.command_reply("+OK no longer logging"))


def _sendmsg(session: Session, args: str, headers: dict[str, str]) -> None:
    uuid = args.strip() or session.bound_uuid or ""
    lowered = {k.lower(): v for k, v in headers.items()}
    core = session.switch.core
    ch = core.locate(uuid)
    if ch is None:
        session.send(wire.command_reply(f"-ERR invalid session id [{uuid}]"))
        return
    session.send(wire.command_reply("+OK"))
    command = lowered.get("call-command")
    if command == "hangup":
        cause = lowered.get("hangup-cause", "NORMAL_CLEARING")
        session.switch.run_locked(lambda: session.switch.hangup(uuid, cause))
    elif command == "execute":
        msg = apps.Message(
            app=lowered.get("execute-app-name", ""),
            arg=lowered.get("execute-app-arg", ""),
            uuid=lowered.get("event-uuid", ""),
            locked=lowered.get("event-lock", "").lower() == "true",
        )
        session.switch.run_locked(lambda: apps.enqueue(ch, msg))


def _auth_again(session: Session, args: str, headers: dict[str, str]) -> None:
    session.send(wire.command_reply("-ERR command not found"))


Command = Callable[["Session", str, dict[str, str]], None]
COMMANDS: dict[str, Command] = {
    "api": _api,
    "bgapi": _bgapi,
    "event": _event,
    "nixevent": _nixevent,
    "noevents": _noevents,
    "filter": _filter,
    "exit": _exit,
    "myevents": _myevents,
    "linger": _linger,
    "nolinger": _nolinger,
    "divert_events": _divert,
    "log": _log,
    "nolog": _nolog,
    "sendmsg": _sendmsg,
    "connect": _connect,
}
