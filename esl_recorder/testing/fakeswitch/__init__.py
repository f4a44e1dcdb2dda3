"""A FreeSWITCH simulator for tests: the Event Socket protocol, loopback calls, uuid_record.

Everything it says on the wire comes from real captures (`shared/freeswitch-wire/`); event
headers come from templates extracted from them (see extract_templates.py). Typical use::

    with FakeSwitch(clock="manual") as switch:      # 127.0.0.1, ephemeral port
        host, port = switch.address
        uuid = switch.originate()                   # A leg: sends 440 Hz, hears 880 Hz
        ...                                         # client: uuid_record <uuid> start /x.wav
        switch.advance(2.0)                         # exactly 2 s of audio, synchronously
        switch.hangup(uuid)

Dialplan context `rectest` extensions: tone_a, tone_b, silence, echo, bridge_tone_b,
outbound_esl. Modules: server (FakeSwitch), session (one ESL connection), commands (api),
dialplan (call flows), recordings / recorder / wavfile (uuid_record), media / clock (audio and
the 20 ms media clock), core (state and events), templates / wire (what goes on the socket).
"""

from esl_recorder.testing.fakeswitch.server import FakeSwitch, RecordingInfo

__all__ = ["FakeSwitch", "RecordingInfo"]
