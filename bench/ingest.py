"""Event ingest benchmark: stock greenswitch vs the daemon's ESL path, plus a memory check.

Run by hand:  python bench/ingest.py [--events N] [--short] [--handler router|tracker|noop]

One real-shaped stream is built from the captures (every text/event-plain event received in
events_plain_call.txt and record_variants.txt: CHANNEL_*, RECORD_START/STOP, BACKGROUND_JOB
with bodies), repeated with fresh call UUIDs up to N events, and served by a local socket
server after the greeting and auth. Both clients read the same bytes:

  (a) greenswitch.InboundESL with a '*' handler that counts events;
  (b) esl_recorder's EslClient, with metrics, dispatching each event to the daemon's handler
      (EventRouter.handle of a build_app() daemon by default; --handler tracker uses
      CallTracker.apply alone).

The server runs in its own process (like FreeSWITCH), so its CPU is not counted against
either client. Each rate is N divided by the time from the client's start (connect, auth,
subscribe) until its handler has seen the N-th event; each client runs --repeat times and
its best run is kept (the first run of a fresh process is a little slower).

Then, without the socket, the same stream is cut into reads of the client's size and parsed
and handled in process: the CPU time per event of the parser and of the handler (best of
--repeat rounds). Other processes on the machine move the rates a lot and these little, so
compare code changes with them.

The last lines are `ratio: <N>x` and, from the memory section (10,000 tracked calls, each
with an active recording), `rss_mb: <N>`.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import gc  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any, cast  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
from gevent.server import StreamServer  # noqa: E402
from targets import INGEST_RATIO, TRACKED_RSS_MB, verdict  # noqa: E402

from esl_recorder.esl.frames import Event, FrameParser  # noqa: E402
from esl_recorder.testing.transcripts import read_blocks, wire_dir  # noqa: E402

SOURCES = ("events_plain_call.txt", "record_variants.txt")
SUBSCRIBE = ("CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE "
             "CHANNEL_DESTROY RECORD_START RECORD_STOP DTMF BACKGROUND_JOB CHANNEL_BRIDGE "
             "CHANNEL_EXECUTE_COMPLETE")
UUID_RE = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PASSWORD = "ClueCon"

Handler = Callable[[str, Event], object]


# Recordings of the daemon's own running while the stream (other tools' recordings, the
# captures' calls) comes in.
ACTIVE_RECORDINGS = 100

# ------------------------------------------------------------------ the stream


def template_events() -> list[bytes]:
    """Every text/event-plain message FreeSWITCH sent in the source captures, as wire bytes."""
    out: list[bytes] = []
    for name in SOURCES:
        for block in read_blocks(wire_dir() / name):
            if block.kind == "RECV" and block.hints.get("ctype") == "text/event-plain":
                out.append(block.payload)
    return out


def build_stream(n_events: int) -> bytes:
    """`n_events` events: the templates repeated, every call/job UUID fresh per repetition.

    A UUID has a fixed length, so every Content-Length stays right.
    """
    templates = template_events()
    core = re.search(rb"Core-UUID: (\S+)", templates[0])
    keep = {core.group(1)} if core else set()
    blob = b"".join(templates)
    parts: list[bytes] = []
    count = 0
    while count < n_events:
        fresh: dict[bytes, bytes] = {}

        def swap(m: re.Match[bytes], fresh: dict[bytes, bytes] = fresh) -> bytes:
            old = m.group(0)
            if old in keep:
                return old
            if old not in fresh:
                fresh[old] = str(uuid.uuid4()).encode()
            return fresh[old]

        parts.append(UUID_RE.sub(swap, blob))
        count += len(templates)
    stream = b"".join(parts)
    return cut_to(stream, n_events)


def cut_to(stream: bytes, n_events: int) -> bytes:
    msgs = FrameParser().feed(stream)
    assert len(msgs) >= n_events
    pos = 0
    for _ in range(n_events):  # walk frames by their lengths to find the cut point
        head_end = stream.index(b"\n\n", pos)
        length = int(re.search(rb"Content-Length: (\d+)", stream[pos:head_end]).group(1))  # type: ignore[union-attr]
        pos = head_end + 2 + length
    return stream[:pos]


# ------------------------------------------------------------------ the server


class StreamingSwitch:
    """Greets, accepts the password, and after the `event` command writes the stream."""

    def __init__(self, stream: bytes) -> None:
        self.stream = stream
        self.server = StreamServer(("127.0.0.1", 0), self._serve)

    def start(self) -> tuple[str, int]:
        self.server.start()
        return self.server.address[0], self.server.address[1]

    def _serve(self, sock: Any, addr: Any) -> None:
        sock.sendall(b"Content-Type: auth/request\n\n")
        buf = b""
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                buf += data
                while b"\n\n" in buf:
                    cmd, buf = buf.split(b"\n\n", 1)
                    if not self._answer(sock, cmd.decode()):
                        return
        except OSError:
            return

    def _answer(self, sock: Any, cmd: str) -> bool:
        if cmd.startswith("auth "):
            sock.sendall(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
        elif cmd.startswith("event "):
            sock.sendall(b"Content-Type: command/reply\n"
                         b"Reply-Text: +OK event listener enabled plain\n\n")
            sock.sendall(self.stream)
        elif cmd == "exit":
            sock.sendall(b"Content-Type: command/reply\nReply-Text: +OK bye\n\n")
            sock.close()
            return False
        else:
            sock.sendall(b"Content-Type: command/reply\nReply-Text: -ERR command not found\n\n")
        return True


def serve(n_events: int) -> None:
    """Child-process mode: build the stream, print the port, serve until stdin closes."""
    server = StreamingSwitch(build_stream(n_events))
    _host, port = server.start()
    print(f"{port} {len(server.stream)}", flush=True)
    gevent.get_hub().threadpool.spawn(sys.stdin.read).get()


class ServerProcess:
    """The stream server in its own process, like FreeSWITCH: its CPU is not the client's."""

    def __init__(self, n_events: int) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", str(n_events)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        port, size = self.proc.stdout.readline().split()
        self.address = ("127.0.0.1", int(port))
        self.size = int(size)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Countdown:
    def __init__(self, target: int) -> None:
        self.target = target
        self.seen = 0
        self.done = gevent.event.Event()
        self.started_at = time.perf_counter()
        self.finished_at = 0.0

    def rate(self) -> float:
        return self.target / (self.finished_at - self.started_at)

    def tick(self) -> None:
        self.seen += 1
        if self.seen == self.target:
            self.finished_at = time.perf_counter()
            self.done.set()


# ------------------------------------------------------------------ the two clients


def run_greenswitch(address: tuple[str, int], n_events: int, timeout: float) -> float:
    from greenswitch.esl import InboundESL

    fs = InboundESL(address[0], address[1], PASSWORD)
    count = Countdown(n_events)
    fs.register_handle("*", lambda event: count.tick())
    try:
        fs.connect()
        fs.send("event plain " + SUBSCRIBE)
        if not count.done.wait(timeout):
            raise SystemExit(f"greenswitch: only {count.seen}/{n_events} events in {timeout}s")
        return count.rate()
    finally:
        fs.stop()


def run_esl_client(address: tuple[str, int], n_events: int, daemon: DaemonHandler,
                   timeout: float) -> float:
    from esl_recorder.esl.client import EslClient
    from esl_recorder.settings import EslSettings, NodeSettings

    handler = daemon.handler

    def on_event(client: EslClient, event: Event) -> None:
        handler(client.node_name, event)
        count.tick()

    client = EslClient(NodeSettings(name="bench", host=address[0], port=address[1],
                                    password=PASSWORD),
                       EslSettings(), events=SUBSCRIBE.split(), on_event=on_event,
                       metrics=daemon.metrics)
    count = Countdown(n_events)
    client.start()
    try:
        if not count.done.wait(timeout):
            raise SystemExit(f"EslClient: only {count.seen}/{n_events} events in {timeout}s")
        return count.rate()
    finally:
        client.stop()


class DaemonHandler:
    """What the daemon calls per event: EventRouter.handle, CallTracker.handle or a no-op."""

    def __init__(self, choice: str) -> None:
        import logging

        from prometheus_client import CollectorRegistry

        from esl_recorder.metrics import make_metrics

        logging.getLogger("esl_recorder").setLevel(logging.ERROR)  # orphan RECORD_* etc.
        self.metrics: Any = None
        self.handler: Handler = lambda node, event: None
        self.label = "no-op"
        self._tmp = tempfile.TemporaryDirectory(prefix="esl-bench-")
        for option in ("router", "tracker")[("router", "tracker").index(choice):] \
                if choice != "noop" else ():
            try:
                getattr(self, f"_use_{option}")()
                break
            except ImportError as exc:
                print(f"note: {option} unavailable ({exc}); trying the next handler")
        if self.metrics is None:
            self.metrics = make_metrics(CollectorRegistry())

    def _use_router(self) -> None:
        from esl_recorder.app import build_app
        from esl_recorder.settings import settings_from_mapping

        settings = settings_from_mapping({
            "nodes": [{"name": "bench", "host": "127.0.0.1", "port": 8021}],
            "recording": {"root": f"{self._tmp.name}/recordings"},
            "store": {"path": f"{self._tmp.name}/state.db"},
        }, source="<bench>", env={})
        app = build_app(settings)
        root = settings.recording.root
        for n in range(ACTIVE_RECORDINGS):  # the daemon is recording: its root is in use
            rec = _recording_for(f"bench-call-{n}")
            rec.path = f"{root}/AC1/2026/11/20/{rec.sid}.wav"
            app.recordings.add(rec)
        self.handler, self.metrics = app.router.handle, app.metrics
        self.label = (f"EventRouter.handle (build_app: tracker, follower, metrics, SQLite store; "
                      f"{ACTIVE_RECORDINGS} recordings of ours running)")

    def _use_tracker(self) -> None:
        from esl_recorder.domain.calls import CallTracker
        from esl_recorder.esl.ingest import FactReader
        from esl_recorder.settings import IdentitySettings

        tracker = CallTracker(IdentitySettings())
        read = FactReader(IdentitySettings()).channel

        def handler(node: str, event: Event) -> None:
            fact = read(node, event)
            if fact is not None:
                tracker.apply(fact)

        self.handler = handler
        self.label = "CallTracker.apply (channel facts)"


# ------------------------------------------------------------------ in process


def in_process(n_events: int, daemon: DaemonHandler, rounds: int) -> tuple[float, float]:
    """CPU seconds per event (best of `rounds`) of parsing and of handling, no socket."""
    from esl_recorder.esl.reader import BURST_RECV_SIZE  # a flood: reads as large as a burst's

    stream = build_stream(n_events)
    reads = [stream[i : i + BURST_RECV_SIZE] for i in range(0, len(stream), BURST_RECV_SIZE)]
    handler = daemon.handler
    best_parse = best_handle = float("inf")
    for _ in range(rounds):
        parser, parse, handle = FrameParser(), 0.0, 0.0
        for data in reads:
            started = time.process_time()
            events = parser.feed_events(data)
            parsed = time.process_time()
            for event in cast("list[Event]", events):  # the stream holds only plain events
                handler("bench", event)
            handle += time.process_time() - parsed
            parse += parsed - started
        best_parse, best_handle = min(best_parse, parse), min(best_handle, handle)
    return best_parse / n_events, best_handle / n_events


# ------------------------------------------------------------------ memory


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_section(n_calls: int = 10_000) -> tuple[float, float, str]:
    """Track `n_calls` answered calls, each with an active recording.

    Returns (RSS after, RSS growth, what was held). The calls go through
    CallTracker.apply with the facts of real CHANNEL_CREATE/ANSWER events; one in-progress
    Recording per call goes into a RecordingRegistry (SQLite store in a temporary
    directory) as the daemon keeps it, or into a plain list when the registry cannot be
    built.
    """
    gc.collect()
    before = rss_mb()
    from esl_recorder.domain.calls import CallTracker
    from esl_recorder.esl.frames import parse_event
    from esl_recorder.esl.ingest import FactReader
    from esl_recorder.settings import IdentitySettings

    tracker = CallTracker(IdentitySettings())
    read = FactReader(IdentitySettings()).channel
    create, answer = _call_templates()
    with tempfile.TemporaryDirectory(prefix="esl-bench-mem-") as tmp:
        keep, where = _recording_sink(tmp)
        for _ in range(n_calls):
            call_id = str(uuid.uuid4()).encode()
            for template in (create, answer):
                event = parse_event(FrameParser().feed(template.replace(b"@UUID@", call_id))[0])
                fact = read("fs1", event)
                assert fact is not None
                tracker.apply(fact)
            keep(_recording_for(call_id.decode()))
        gc.collect()
        after = rss_mb()
    return after, after - before, f"{len(tracker)} calls, {n_calls} recordings in {where}"


def _recording_sink(tmp: str) -> tuple[Callable[[Any], None], str]:
    try:
        from prometheus_client import CollectorRegistry

        from esl_recorder.domain.registry import RecordingRegistry
        from esl_recorder.metrics import make_metrics
        from esl_recorder.store.sqlite import Store

        registry = RecordingRegistry(Store(f"{tmp}/state.db"), make_metrics(CollectorRegistry()))
        return registry.add, "RecordingRegistry + SQLite store"
    except ImportError as exc:
        print(f"note: RecordingRegistry unavailable ({exc}); recordings kept in a list")
        held: list[Any] = []
        return held.append, "a list"


def _call_templates() -> tuple[bytes, bytes]:
    blocks = read_blocks(wire_dir() / "events_plain_call.txt")
    found: dict[str, bytes] = {}
    for block in blocks:
        name = block.hints.get("event", "")
        if name in ("CHANNEL_CREATE", "CHANNEL_ANSWER") and name not in found:
            found[name] = block.payload
    a_leg = re.search(rb"Unique-ID: (\S+)", found["CHANNEL_CREATE"]).group(1)  # type: ignore[union-attr]
    return (found["CHANNEL_CREATE"].replace(a_leg, b"@UUID@"),
            found["CHANNEL_ANSWER"].replace(a_leg, b"@UUID@"))


def _recording_for(call_uuid: str) -> Any:
    try:
        from esl_recorder.domain.options import RecordOptions
        from esl_recorder.domain.recording import Recording, State, new_sid
    except ImportError:
        return None
    sid = new_sid()
    return Recording(sid=sid, call_uuid=call_uuid, node="fs1",
                     path=f"/var/lib/esl_recorder/recordings/AC1/2026/11/20/{sid}.wav",
                     options=RecordOptions(), account="AC1", state=State.IN_PROGRESS,
                     created_at=time.time(), started_at=time.time())


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--short", action="store_true", help="small run for CI (seconds)")
    parser.add_argument("--handler", choices=("router", "tracker", "noop"), default="router",
                        help="the daemon's per-event handler (falls back router->tracker)")
    parser.add_argument("--calls", type=int, default=10_000, help="memory section size")
    parser.add_argument("--repeat", type=int, default=2, help="runs per client; best kept")
    parser.add_argument("--serve", type=int, metavar="N", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    n_events = 3_000 if args.short else args.events
    n_calls = 1_000 if args.short else args.calls
    if args.short:
        args.repeat = 1
    timeout = max(60.0, n_events / 500)

    after, growth, what = memory_section(n_calls)  # first: a clean heap, no stream held
    server = ServerProcess(n_events)
    try:
        print(f"stream: {n_events} events, {server.size / 1e6:.1f} MB, "
              f"{server.size / n_events:.0f} bytes/event (server in its own process)")
        stock = max(run_greenswitch(server.address, n_events, timeout)
                    for _ in range(args.repeat))
        print(f"greenswitch InboundESL ('*' counter): {stock:,.0f} events/s")
        if args.handler != "noop":  # the client's own cost, for the breakdown
            bare = max(run_esl_client(server.address, n_events, DaemonHandler("noop"), timeout)
                       for _ in range(args.repeat))
            print(f"EslClient + no-op handler (client alone): {bare:,.0f} events/s")
        daemon = DaemonHandler(args.handler)
        ours = max(run_esl_client(server.address, n_events, daemon, timeout)
                   for _ in range(args.repeat))
        print(f"EslClient + {daemon.label}: {ours:,.0f} events/s")
    finally:
        server.close()
    parse, handle = in_process(n_events, daemon, max(args.repeat, 3))
    print(f"in process, CPU per event: parse {parse * 1e6:.2f} us, "
          f"handler {handle * 1e6:.2f} us")
    verdict(f"at least {INGEST_RATIO:g}x stock greenswitch", ours / stock >= INGEST_RATIO,
            args.short)
    print(f"ratio: {ours / stock:.1f}x")
    print(f"memory: {what}: +{growth:.1f} MB")
    verdict(f"{n_calls:,} tracked calls with active recordings under {TRACKED_RSS_MB:g} MB",
            after < TRACKED_RSS_MB, args.short)
    print(f"rss_mb: {after:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
