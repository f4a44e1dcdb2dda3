"""`python -m esl_recorder.testing.fakeswitch`: run the simulator until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import errno
import logging
import signal
import sys

import gevent
from gevent.event import Event

from esl_recorder.testing.fakeswitch.server import FakeSwitch


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fakeswitch", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0,
                        help="TCP port (default: a free one, printed; 8021 is a real FreeSWITCH's)")
    parser.add_argument("--password", default="ClueCon")
    parser.add_argument("--recordings-root", default=None, help="base for relative paths")
    parser.add_argument("--outbound", default="127.0.0.1:8084", type=_address,
                        help="HOST:PORT the outbound_esl extension's `socket` connects to")
    parser.add_argument("--heartbeat-interval", type=float, default=20.0,
                        help="seconds between HEARTBEAT events (0: none)")
    return parser


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"not HOST:PORT: {text!r}")
    return host, int(port)


def listen_problem(host: str, port: int, exc: OSError) -> str:
    """A bind failure in one line, with the option to change."""
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (f"fakeswitch: --port: {where} is already in use; choose a free port, or "
                "leave --port out for one")
    return f"fakeswitch: --host/--port: cannot listen on {where}: {exc.strerror or exc}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    switch = FakeSwitch(
        password=args.password,
        host=args.host,
        port=args.port,
        recordings_root=args.recordings_root,
        outbound_address=args.outbound,
        heartbeat_interval=args.heartbeat_interval or None,
    )
    try:
        switch.start()
    except OSError as exc:
        print(f"error: {listen_problem(args.host, args.port, exc)}", file=sys.stderr)
        return 2  # a start-up failure, as the daemon's
    host, port = switch.address
    print(f"fakeswitch listening on {host}:{port}", flush=True)
    done = Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(signum, done.set)
    done.wait()
    switch.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
