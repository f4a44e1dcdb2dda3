"""A FreeSWITCH simulator for tests: the Event Socket protocol, loopback calls, uuid_record.

Everything it says on the wire comes from real captures (`shared/freeswitch-wire/`); event
headers come from templates extracted from them (see extract_templates.py).
"""

from esl_recorder.testing.fakeswitch.server import FakeSwitch, RecordingInfo

__all__ = ["FakeSwitch", "RecordingInfo"]
