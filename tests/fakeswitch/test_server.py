"""The ESL server core: auth, framing of every message type, subscriptions, test hooks."""

from __future__ import annotations

import json
from collections.abc import Callable

import gevent
import pytest

from esl_recorder.testing.fakeswitch import FakeSwitch

from .wireclient import WireClient, event_headers, event_name

DISCONNECT = (
    b"Content-Type: text/disconnect-notice\nContent-Length: 67\n\n"
    b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
)


def test_greeting_and_auth(connect: Callable[[], WireClient]) -> None:
    c = connect()
    assert c.read().raw == b"Content-Type: auth/request\n\n"
    c.send(b"auth ClueCon\n\n")
    assert c.read().raw == b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"


def test_wrong_password_is_refused_and_closed(connect: Callable[[], WireClient]) -> None:
    c = connect()
    c.read()
    c.send(b"auth nope\n\n")
    assert c.read().raw == b"Content-Type: command/reply\nReply-Text: -ERR invalid\n\n"
    assert c.read().raw == DISCONNECT
    assert c.wait_closed()


def test_password_is_settable(switch: FakeSwitch, connect: Callable[[], WireClient]) -> None:
    switch.password = "secret"
    connect().login("secret")


@pytest.mark.parametrize("line", ["api status", "auth", "event plain ALL"])
def test_command_before_auth(connect: Callable[[], WireClient], line: str) -> None:
    c = connect()
    c.read()
    reply = c.command(line)
    assert reply.raw == b"Content-Type: command/reply\nReply-Text: -ERR command not found\n\n"
    assert c.command("auth ClueCon").header("Reply-Text") == "+OK accepted"


def test_exit(client: WireClient) -> None:
    assert client.command("exit").raw == b"Content-Type: command/reply\nReply-Text: +OK bye\n\n"
    assert client.read().raw == DISCONNECT
    assert client.wait_closed()


def test_unknown_commands(client: WireClient) -> None:
    assert client.command("no_such_socket_command").header("Reply-Text") == (
        "-ERR command not found"
    )
    reply = client.command("api no_such_command arg1 arg2")
    assert reply.raw == (
        b"Content-Type: api/response\nContent-Length: 40\n\n"
        b"-ERR no_such_command Command not found!\n"
    )


def test_version(client: WireClient) -> None:
    assert client.api("version") == "FreeSWITCH Version 1.11.3-dev~64bit ( 64bit)\n"


def test_bgapi_with_chosen_job_uuid(client: WireClient) -> None:
    job = "11111111-2222-3333-4444-555555555555"
    client.command("event plain BACKGROUND_JOB")
    client.send(f"bgapi uuid_record\nJob-UUID: {job}\n\n".encode())
    reply = client.read()
    assert (
        reply.raw
        == (
            f"Content-Type: command/reply\nReply-Text: +OK Job-UUID: {job}\nJob-UUID: {job}\n\n"
        ).encode()
    )
    event = client.read()
    assert event.headers == [
        ("Content-Length", str(len(event.body))),
        ("Content-Type", "text/event-plain"),
    ]
    head, _, inner = event.body.partition(b"\n\n")
    headers = dict(event_headers(event))
    assert headers["Job-UUID"] == job and headers["Job-Command"] == "uuid_record"
    assert "Job-Command-Arg" not in headers
    usage = b"-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n"
    assert head.endswith(f"\nContent-Length: {len(usage)}".encode())
    assert inner == usage


def test_bgapi_job_body_json_and_xml(client: WireClient) -> None:
    client.command("event json BACKGROUND_JOB")
    client.command("bgapi version")
    data = json.loads(client.read().body)
    assert data["Event-Name"] == "BACKGROUND_JOB" and data["Job-Command"] == "version"
    assert data["_body"].startswith("FreeSWITCH Version") and data["Content-Length"] == "45"
    assert client.command("event xml BACKGROUND_JOB").header("Reply-Text") == (
        "+OK event listener enabled xml"
    )
    client.command("bgapi version")
    body = client.read().body.decode()
    assert body.startswith("<event>\n  <headers>\n    <Event-Name>BACKGROUND_JOB</Event-Name>")
    assert "  <Content-Length>45</Content-Length>\n  <body>FreeSWITCH" in body
    assert body.endswith("64bit)\n  </body>\n</event>\n")


def test_event_names_add_up_and_nixevent(switch: FakeSwitch, client: WireClient) -> None:
    assert client.command("event plain").header("Reply-Text") == "-ERR no keywords supplied"
    client.command("event plain CHANNEL_CREATE")
    client.command("event plain CHANNEL_ANSWER")
    switch.originate()
    names = [event_name(m) for m in client.pending()]
    assert names == ["CHANNEL_CREATE"] * 2 + ["CHANNEL_ANSWER"] * 2
    assert client.command("nixevent CHANNEL_CREATE").header("Reply-Text") == "+OK events nixed"
    assert client.command("nixevent").header("Reply-Text") == "-ERR no keywords supplied"
    switch.originate()
    assert [event_name(m) for m in client.pending()] == ["CHANNEL_ANSWER"] * 2
    reply = client.command("noevents")
    assert reply.header("Reply-Text") == "+OK no longer listening for events"
    assert client.command("noevents").header("Reply-Text") == "-ERR not listening for events"
    switch.originate()
    assert client.pending() == []


def test_filters(switch: FakeSwitch, client: WireClient) -> None:
    client.command("event plain CHANNEL_CREATE")
    a = switch.originate()
    assert len(client.pending()) == 2
    reply = client.command(f"filter Unique-ID {a}")
    assert reply.header("Reply-Text") == f"+OK filter added. [Unique-ID]=[{a}]"
    uuid = switch.originate()
    created = [dict(event_headers(m))["Unique-ID"] for m in client.pending()]
    assert created == []  # the filter names the first call's A leg only
    assert uuid != a
    assert client.command("filter Event-Name").header("Reply-Text") == "-ERR invalid syntax"
    reply = client.command("filter delete all")
    assert reply.header("Reply-Text") == "+OK filter deleted. [all][]"
    reply = client.command("filter add Event-Name CHANNEL_CREATE")
    assert reply.header("Reply-Text") == "+OK filter added. [Event-Name]=[CHANNEL_CREATE]"
    reply = client.command("filter delete Event-Name CHANNEL_CREATE")
    assert reply.header("Reply-Text") == "+OK filter deleted. [Event-Name][CHANNEL_CREATE]"


def test_plain_event_envelope_order(switch: FakeSwitch, client: WireClient) -> None:
    client.command("event plain CHANNEL_CREATE")
    switch.originate()
    message = client.read()
    assert [k for k, _ in message.headers] == ["Content-Length", "Content-Type"]
    assert int(message.header("Content-Length") or 0) == len(message.body)
    assert message.body.endswith(b"\n\n")


def test_commands_are_recorded(switch: FakeSwitch, client: WireClient) -> None:
    client.api("version")
    client.command("bgapi status")
    client.command("event plain DTMF")
    assert switch.commands[-3:] == ["version", "status", "event plain DTMF"]


def test_wait_for_command_wakes_up_on_arrival(switch: FakeSwitch, client: WireClient) -> None:
    waiter = gevent.spawn(switch.wait_for_command, lambda c: c.startswith("status"), 2.0)
    gevent.idle()
    client.api("status")
    assert waiter.get(timeout=2) == "status"
    assert switch.wait_for_command("status", 0.1) == "status"
    with pytest.raises(TimeoutError):
        switch.wait_for_command("never", 0.05)


def test_drop_connections(switch: FakeSwitch, client: WireClient) -> None:
    switch.drop_connections()
    assert client.wait_closed()
    assert client.pending() == []


def test_inject_raw_reaches_authenticated_clients(
    switch: FakeSwitch, client: WireClient, connect: Callable[[], WireClient]
) -> None:
    stranger = connect()
    stranger.read()
    switch.inject_raw(b"Content-Length: 500\nContent-Type: text/event-plain\n\nEvent-Name: RE")
    gevent.idle()
    client._fill(1.0)
    assert client.buffer.endswith(b"Event-Name: RE")
    assert stranger.pending() == []


def test_context_manager_binds_an_ephemeral_port() -> None:
    with FakeSwitch(clock="manual") as sim:
        host, port = sim.address
        assert host == "127.0.0.1" and port > 0
        c = WireClient(sim.address).login()
        assert c.api("uuid_exists 00000000-0000-0000-0000-000000000000") == "false"
        c.close()
