"""The live FreeSWITCH of the CI runs the operator files of freeswitch/operator (build.sh
installs them into its configuration the way freeswitch/operator/README.md tells an operator
to): its event socket (password, address, port and ACL from the environment), the modules,
the esl_recorder and public dialplan contexts and the example directory users. Each test asks
the server itself over ESL."""

from __future__ import annotations

import ipaddress
import socket
import uuid as uuid_module
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from functools import partial

import pytest
from fakeswitch.wireclient import WireClient
from integration.conftest import FreeSwitchAddress, freeswitch  # noqa: F401 (fixture)
from integration.live import Esl, eventually

from .test_freeswitch_xml import OPERATOR, SCRIPT_VARIABLE, variables_set

DIALPLAN = OPERATOR / "dialplan" / "esl_recorder.xml"
DIRECTORY = OPERATOR / "directory" / "default" / "esl_recorder.xml"
SUPPORT_LINE = "15555550100"  # the acme_support_line extension's number
ATTEMPTS = 3


@pytest.fixture
def esl(freeswitch: FreeSwitchAddress) -> Iterator[Esl]:  # noqa: F811
    client = Esl(freeswitch)
    yield client
    client.close()


def extension(name: str) -> ET.Element:
    return next(e for e in ET.parse(DIALPLAN).getroot().iter("extension")
                if e.get("name") == name)


@pytest.mark.parametrize("module", ["mod_event_socket", "mod_shout", "mod_flite",
                                    "mod_loopback", "mod_tone_stream"])
def test_the_modules_the_operator_list_names_are_loaded(esl: Esl, module: str) -> None:
    assert esl.api(f"module_exists {module}").strip() == "true"


def test_the_esl_recorder_context_is_loaded_with_every_extension(esl: Esl) -> None:
    located = ET.fromstring(esl.api("xml_locate dialplan context name esl_recorder"))
    assert located.get("name") == "esl_recorder"
    wanted = [e.get("name") for e in ET.parse(DIALPLAN).getroot().iter("extension")]
    assert [e.get("name") for e in located.iter("extension")] == wanted


def test_the_directory_users_carry_the_identity_variables(esl: Esl) -> None:
    domain = esl.api("eval $${domain}").strip()
    users = ET.parse(DIRECTORY).getroot().findall("user")
    assert len(users) >= 2
    for user in users:
        expected = {v.get("name"): v.get("value") for v in user.iter("variable")
                    if v.get("name", "").startswith("esl_recorder_")}
        assert len(expected) == 3
        for name, value in expected.items():
            found = esl.api(f"user_data {user.get('id')}@{domain} var {name}").strip()
            assert found == value, (user.get("id"), name)


def variable(esl: Esl, uuid: str, name: str) -> str:
    """A channel variable, '' when unset (or the channel is gone)."""
    value = esl.api(f"uuid_getvar {uuid} {name}").strip()
    return "" if value == "_undef_" or value.startswith("-ERR") else value


def parked_b_leg(esl: Esl, number: str) -> str:
    """Call `number` through the public context; the B leg that ran the dialplan, once parked
    (FreeSWITCH under load now and then leaves a transferred loopback leg asleep in ROUTING:
    such a call is hung up and placed again)."""
    for _ in range(ATTEMPTS):
        a_leg = str(uuid_module.uuid4())
        reply = esl.api(f"bgapi originate {{origination_uuid={a_leg},"
                        f"origination_caller_id_number=15550001}}loopback/{number}/public &park")
        assert reply.startswith("+OK"), reply
        esl.placed.append(a_leg)
        b_leg = eventually(partial(variable, esl, a_leg, "other_loopback_leg_uuid"), 10,
                           "the loopback B leg")
        try:
            eventually(lambda leg=b_leg: variable(esl, leg, "current_application") == "park",
                       5, "the B leg to park")
            return b_leg
        except AssertionError:
            esl.hangup(a_leg)
    raise AssertionError(f"{ATTEMPTS} calls to {number} never got parked")


def test_a_number_gets_its_owner_and_script_and_is_parked_unanswered(esl: Esl) -> None:
    b_leg = parked_b_leg(esl, SUPPORT_LINE)
    values = variables_set(DIALPLAN)  # names of the file; values of this extension below
    sets = dict(a.get("data", "").split("=", 1) for a in extension("acme_support_line")
                .iter("action") if a.get("application") == "set")
    assert SCRIPT_VARIABLE in sets and set(sets) <= set(values)
    for name, value in sets.items():
        assert variable(esl, b_leg, name) == value, name
    assert variable(esl, b_leg, "context") == "esl_recorder"
    # unanswered: the script answers it when it runs
    assert variable(esl, b_leg, "answer_state") != "answered"


def test_a_call_without_an_account_is_refused(esl: Esl) -> None:
    reply = esl.api("originate loopback/5550999/esl_recorder &park")
    assert reply.strip() == "-ERR CALL_REJECTED"


def test_a_wrong_password_is_refused(freeswitch: FreeSwitchAddress) -> None:  # noqa: F811
    wire = WireClient((freeswitch.host, freeswitch.port), timeout=10)
    try:
        assert wire.read().content_type == "auth/request"
        reply = wire.command(f"auth not-{freeswitch.password}")
        assert reply.header("Reply-Text") == "-ERR invalid"
    finally:
        wire.close()


def test_the_acl_from_the_environment_refuses_an_address_outside_it(esl: Esl) -> None:
    acl = esl.api("eval $${esl_acl}").strip()
    if "/" not in acl or esl.fs.host != "127.0.0.1":
        pytest.skip(f"the server's ACL ({acl or 'unset'}) is not a list of networks on loopback")
    outside = ipaddress.ip_address("127.0.0.2")
    networks = [ipaddress.ip_network(n, strict=False) for n in acl.split(",")]
    if any(outside in n for n in networks):
        pytest.skip(f"the server's ACL {acl} admits {outside}")
    with socket.socket() as sock:
        sock.bind((str(outside), 0))
        sock.settimeout(10)
        sock.connect((esl.fs.host, esl.fs.port))
        greeting = sock.recv(256)
    assert greeting.startswith(b"Content-Type: text/rude-rejection"), greeting
