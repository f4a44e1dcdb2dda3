"""What a Kazoo recording is named and what it reads from its call (2600hz/kazoo
core/kazoo_media/src/kz_media_recording.erl, kzc_recording.erl).

- `media_name` (a callflow's or a policy's parameter) is the recording's stored name: the
  `name` of its `call_recording` document (and its `description`, "recording <name>") and
  the file name its media is served under. Kazoo appends the format's extension when the
  name does not end with it (`get_media_name/2`). Kazoo's HTTP upload still names the file
  `call_recording_<call id>.<ext>` (`handler_fields_for_protocol/3`), so does this daemon.
  Here the name must be a plain file name: 1-128 of A-Z a-z 0-9 space _ . + -, not starting
  with a dot or a space (no path separator, no control character, nothing to escape in a
  Content-Disposition header).
- The upload's `caller_id_name` is the call's caller id name (`kapps_call:caller_id_name`,
  FreeSWITCH's `caller_id_name`); its `interaction_id` the call's `Call-Interaction-ID`
  custom channel variable, which ecallmgr keeps on the channel as
  `ecallmgr_Call-Interaction-ID` (ecallmgr sets `<<"ecallmgr_", ?CALL_INTERACTION_ID>>`; CCVs
  are the `ecallmgr_`-prefixed variables). Both are taken when the recording starts, only
  for a recording that is uploaded (a `url`): the caller id name as the call's events
  showed it when it is known that way (a policy's call), else read with `uuid_getvar`; the
  interaction id read with `uuid_getvar`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from ..errors import InvalidArgument
from .ports import CommandRefused

MAX_MEDIA_NAME = 128
_MEDIA_NAME = re.compile(rf"[A-Za-z0-9_+-][A-Za-z0-9 _.+-]{{0,{MAX_MEDIA_NAME - 1}}}")
CALLER_ID_NAME_VARIABLE = "caller_id_name"
INTERACTION_ID_VARIABLE = "ecallmgr_Call-Interaction-ID"
MAX_VALUE = 256  # longer caller names / interaction ids are cut (they go into a URL)


def check_media_name(value: str, where: str) -> str:
    """`value` if it is a usable media name ("" stays ""); InvalidArgument otherwise."""
    if value and not _MEDIA_NAME.fullmatch(value):
        raise InvalidArgument(
            f"{where}.media_name: 1-{MAX_MEDIA_NAME} of A-Z a-z 0-9 space _ . + -, not "
            "starting with a dot or a space (a file name: no path separators)")
    return value


def stored_name(media_name: str, extension: str) -> str:
    """Kazoo's get_media_name/2: the name with the format's extension."""
    suffix = f".{extension}"
    return media_name if media_name.endswith(suffix) else media_name + suffix


def call_facts(read: Callable[[Sequence[str]], Mapping[str, str]],
               caller_id_name: str | None = None) -> dict[str, str]:
    """The caller id name and the interaction id of a call, as upload fields (`read` is
    the call's CallControl.variables; `caller_id_name` the name when it is known already,
    then only the interaction id is read). One that cannot be read is empty: FreeSWITCH
    answers nothing at all for a variable set to "" (-ERR no reply), as it does for an
    originated leg's caller id name at its very start; the recording goes on without it.
    CallGone passes (the recording cannot start either)."""
    facts = {"caller_id_name": caller_id_name or ""}
    names = [("interaction_id", INTERACTION_ID_VARIABLE)]
    if caller_id_name is None:
        names.insert(0, ("caller_id_name", CALLER_ID_NAME_VARIABLE))
    for field, name in names:
        try:
            facts[field] = read((name,)).get(name, "")
        except CommandRefused:
            facts[field] = ""
    return {field: _clean(value) for field, value in facts.items()}


def _clean(value: str) -> str:
    return "".join(c for c in value if c.isprintable())[:MAX_VALUE]
