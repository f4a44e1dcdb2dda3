"""esl_recorder: a call-recording controller for FreeSWITCH."""

__version__ = "0.1.0"
