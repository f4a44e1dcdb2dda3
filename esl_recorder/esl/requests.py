"""Commands on one ESL connection and their replies: each command is written whole under
the connection's send lock before its deadline, and its reply (a command/reply or an
api/response, in the order the commands went out) awaited until then; a `bgapi`'s result
is the body of the BACKGROUND_JOB event the reader hands over by its Job-UUID.

A write that times out or fails closes the connection: a partial command would leave every
later reply answering the wrong command."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event

from ..errors import EslDisconnected, EslTimeout
from .connection import Connection, SendTimeout, describe
from .frames import Message

Close = Callable[[Connection, str], None]


class Requests:
    """Sends the commands of one node's client (`close` drops a connection)."""

    def __init__(self, node_name: str, close: Close) -> None:
        self._node = node_name
        self._close = close

    def request(self, conn: Connection, data: str, deadline: float) -> Message:
        """Write one command and wait for its reply, all before `deadline`."""
        what = describe(data)
        result = gevent.event.AsyncResult()
        if not conn.send_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise EslTimeout(f"{what}: socket busy on node {self._node}")
        try:
            if conn.closed.is_set():
                raise EslDisconnected(f"{what}: connection to {self._node} closed")
            conn.pending.append(result)
            self._write(conn, (data + "\n\n").encode("utf-8"), deadline, what)
        finally:
            conn.send_lock.release()
        reply: Message = self.wait(result, deadline, what)
        return reply

    def job(self, conn: Connection, command: str, job: str, deadline: float) -> str:
        """`bgapi <command>` with Job-UUID `job`: the body of its BACKGROUND_JOB, or the
        Reply-Text when FreeSWITCH refused the command itself (not +OK)."""
        result = gevent.event.AsyncResult()
        conn.jobs[job] = result  # before sending: the event may race the reply
        try:
            reply = self.request(conn, f"bgapi {command}\nJob-UUID: {job}", deadline)
            if not reply.reply_text.startswith("+OK"):
                return reply.reply_text
            return str(self.wait(result, deadline, f"bgapi {command.split(' ', 1)[0]}"))
        finally:
            conn.jobs.pop(job, None)

    def wait(self, result: gevent.event.AsyncResult, deadline: float, what: str) -> Any:
        try:
            return result.get(timeout=max(0.0, deadline - time.monotonic()))
        except gevent.Timeout:
            raise EslTimeout(f"{what}: no reply from node {self._node} in time") from None

    def _write(self, conn: Connection, payload: bytes, deadline: float, what: str) -> None:
        try:
            with gevent.Timeout(max(0.001, deadline - time.monotonic()), SendTimeout):
                conn.sock.sendall(payload)
        except SendTimeout:
            self._close(conn, "write timed out")  # a partial command would desync the FIFO
            raise EslTimeout(f"{what}: write to node {self._node} timed out") from None
        except OSError as exc:
            self._close(conn, f"write failed: {exc}")
            raise EslDisconnected(f"{what}: write to node {self._node} failed") from exc
        except BaseException:
            self._close(conn, "write interrupted")
            raise
