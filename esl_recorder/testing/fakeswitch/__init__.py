"""A FreeSWITCH simulator for tests: the Event Socket protocol, loopback calls, uuid_record.

Calls for a call script (script_*.txt): `originate {my_var=x}loopback/script_park/rectest
tone_a XML rectest` (or `switch.park_for_script(variables={"my_var": "x"})`, which returns the
scripted channel's uuid) creates two legs; B (`loopback/script_park-b`) runs `set
esl_recorder_script=demo` and `park` and waits, **unanswered**: subscribe to CHANNEL_PARK and
take the uuid of the one with `variable_esl_recorder_script` (the dial-string variables are
there too). Drive it with `sendmsg <uuid>` + `call-command: execute`, `execute-app-name`,
`execute-app-arg`, `event-lock: true`, `Event-UUID: <uuid>` and wait for the
CHANNEL_EXECUTE_COMPLETE whose `Application-UUID` is that uuid. Apps: answer, playback
(tone_stream://, silence_stream://, wav files; `playback_terminators`), sleep, record_session,
stop_record_session, set, speak (`flite|kal|text`; TTS audio is simulated), hangup. The caller
`tone_a` sends 440 Hz once B is answered (`&park`: nothing); a bgapi originate's BACKGROUND_JOB
comes only then (`api originate` blocks until then; `-ERR <cause>` if B hangs up first).
`record_session <path> [+<limit s>] [{RECORD_STEREO=true,...}]` records like uuid_record.
The `outbound_esl` extension answers and connects out (`socket ... async full`) to
`FakeSwitch(outbound_address=...)`; that socket's `sendmsg` (bare or with the uuid) works alike.

Everything it says on the wire comes from real captures (`shared/freeswitch-wire/`); event
headers come from templates extracted from them (see extract_templates.py). Typical use::

    with FakeSwitch(clock="manual") as switch:      # 127.0.0.1, ephemeral port
        host, port = switch.address
        uuid = switch.originate()                   # A leg: sends 440 Hz, hears 880 Hz
        ...                                         # client: uuid_record <uuid> start /x.wav
        switch.advance(2.0)                         # exactly 2 s of audio, synchronously
        switch.hangup(uuid)

Dialplan context `rectest` extensions: tone_a, tone_b, silence, echo, bridge_tone_b,
outbound_esl, script_park. Modules: server (FakeSwitch), session / socket_commands (one ESL
connection and its commands), commands / listing (api), dialplan (call flows), apps / tts (the
applications sendmsg executes), recordings / recorder / wavfile (uuid_record), media / clock
(audio and the 20 ms media clock), core (state and events), templates / wire (what goes on the
socket).
"""

from esl_recorder.testing.fakeswitch.server import FakeSwitch, RecordingInfo

__all__ = ["FakeSwitch", "RecordingInfo"]
