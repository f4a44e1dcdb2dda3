"""The FreeSWITCH XML files the project ships: well-formed (FreeSWITCH refuses a file that is
not, and says little about why), free of outside lookups, and in agreement with the daemon's
settings and conf/esl_recorder.yaml about ports, the password and the channel variables."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from esl_recorder.settings import Settings, node_env_name, settings_from_mapping

from .ops_files import COMPOSE, DOCKER, ROOT, load_yaml

FREESWITCH = ROOT / "freeswitch"
OPERATOR = FREESWITCH / "operator"
XML_FILES = sorted([*FREESWITCH.rglob("*.xml"), *(DOCKER / "freeswitch").rglob("*.xml")])
OPERATOR_FILES = sorted(OPERATOR.rglob("*.xml"))
EVENT_SOCKET = OPERATOR / "autoload_configs" / "event_socket.conf.xml"
CONFIG_YAML = ROOT / "conf" / "esl_recorder.yaml"
# The port mod_event_socket listens on when listen-port is empty (mod_event_socket.c,
# config(): `if (!prefs.port) prefs.port = 8021;`), i.e. when ESL_PORT is not set.
FREESWITCH_DEFAULT_ESL_PORT = 8021
# The channel variable naming the script a parked call runs (issue 16: the dialplan sets it
# and parks the call; the daemon's inbound connection runs the script).
SCRIPT_VARIABLE = "esl_recorder_script"
PREPROCESS = re.compile(r"<X-PRE-PROCESS\s+cmd=\"([^\"]+)\"\s+data=\"([^\"]*)\"", re.I)
COMMENT = re.compile(r"<!--.*?-->", re.S)
# Preprocessor commands that look nothing up: stun-set asks a STUN server, exec/exec-set run
# programs at every start.
HARMLESS_COMMANDS = {"set", "env-set", "include"}


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def defaults() -> Settings:
    return settings_from_mapping({}, source="<defaults>", env={})


def variables_set(path: Path) -> dict[str, str]:
    """name -> value of every `set` action and directory <variable> in a file."""
    found: dict[str, str] = {}
    for el in ET.parse(path).iter():
        if el.tag == "action" and el.get("application") == "set":
            name, _, value = el.get("data", "").partition("=")
            found[name] = value
        elif el.tag == "variable":
            found[el.get("name", "")] = el.get("value", "")
    return found


def test_there_are_xml_files() -> None:
    assert len(XML_FILES) >= 10
    assert {p.relative_to(OPERATOR).as_posix() for p in OPERATOR_FILES} == {
        "autoload_configs/event_socket.conf.xml", "autoload_configs/modules.conf.xml",
        "dialplan/esl_recorder.xml", "dialplan/public/esl_recorder.xml",
        "directory/default/esl_recorder.xml"}


@pytest.mark.parametrize("path", XML_FILES, ids=[rel(p) for p in XML_FILES])
def test_xml_file_parses(path: Path) -> None:
    ET.parse(path)


@pytest.mark.parametrize("path", XML_FILES, ids=[rel(p) for p in XML_FILES])
def test_no_outside_lookup_and_no_preprocessor_line_hidden_in_a_comment(path: Path) -> None:
    text = path.read_text()
    commands = {cmd.lower() for cmd, _ in PREPROCESS.findall(text)}
    assert commands <= HARMLESS_COMMANDS, f"{rel(path)} runs {commands - HARMLESS_COMMANDS}"
    # FreeSWITCH runs preprocessor lines inside comments too: a commented-out one is live.
    for comment in COMMENT.findall(text):
        assert not re.search(r"<x-pre-process", comment, re.I), f"{rel(path)}: {comment[:80]}"
    body = COMMENT.sub("", text)
    assert not re.search(r"stun[:.]|ext-(rtp|sip)-ip|host:", body, re.I), rel(path)


def test_the_event_socket_takes_its_password_port_address_and_acl_from_variables() -> None:
    root = ET.parse(EVENT_SOCKET).getroot()
    params = {p.get("name"): p.get("value") for p in root.iter("param")}
    assert params["password"] == "$${esl_password}"
    assert params["listen-port"] == "$${esl_port}"
    assert params["listen-ip"] == "$${esl_listen_ip}"
    assert params["apply-inbound-acl"] == "$${esl_acl}"
    env_sets = dict(data.split("=", 1) for cmd, data in PREPROCESS.findall(
        EVENT_SOCKET.read_text()) if cmd == "env-set")
    assert env_sets == {"esl_password": "$ESL_PASSWORD", "esl_listen_ip": "$ESL_LISTEN_IP",
                        "esl_port": "$ESL_PORT", "esl_acl": "$ESL_ACL"}


def test_the_daemon_connects_to_the_port_the_event_socket_listens_on() -> None:
    """Unset ESL_PORT leaves FreeSWITCH's 8021: the settings default and the sample
    configuration name the same port; the compose stack passes it to both containers."""
    assert defaults().nodes[0].port == FREESWITCH_DEFAULT_ESL_PORT
    assert yaml.safe_load(CONFIG_YAML.read_text())["nodes"][0]["port"] == \
        FREESWITCH_DEFAULT_ESL_PORT
    services = load_yaml(COMPOSE)["services"]
    nodes = services["esl_recorder"]["environment"]["ESL_RECORDER_NODES"]
    assert nodes.rpartition(":")[2] == str(FREESWITCH_DEFAULT_ESL_PORT)


def test_the_daemon_and_freeswitch_get_the_same_password_variable() -> None:
    services = load_yaml(COMPOSE)["services"]
    node = services["esl_recorder"]["environment"]["ESL_RECORDER_NODES"].partition("=")[0]
    daemon_env = services["esl_recorder"]["environment"]
    fs_password = services["freeswitch"]["environment"]["ESL_PASSWORD"]
    assert "${ESL_PASSWORD" in fs_password
    assert daemon_env[node_env_name(node)] == fs_password
    # the sample configuration tells the operator the same variable names
    text = CONFIG_YAML.read_text()
    assert "ESL_RECORDER_NODE_<NAME>_PASSWORD" in text
    assert "ESL_PASSWORD" in EVENT_SOCKET.read_text()


def test_the_dialplan_and_directory_set_the_variables_the_daemon_reads() -> None:
    identity = defaults().identity
    names = {identity.account_variable, identity.user_variable, identity.device_variable}
    assert yaml.safe_load(CONFIG_YAML.read_text())["identity"] == {
        "account_variable": identity.account_variable,
        "user_variable": identity.user_variable, "device_variable": identity.device_variable}
    dialplan = variables_set(OPERATOR / "dialplan" / "esl_recorder.xml")
    directory = variables_set(OPERATOR / "directory" / "default" / "esl_recorder.xml")
    assert names <= directory.keys()
    assert names | {SCRIPT_VARIABLE} <= dialplan.keys()
    ours = {n for n in (*dialplan, *directory) if n.startswith("esl_recorder_")}
    assert ours == names | {SCRIPT_VARIABLE}, "a variable the daemon does not read"
    assert re.fullmatch(r"[A-Za-z0-9_-]+", dialplan[SCRIPT_VARIABLE])
    # the CI's rectest dialplan hands its script_park call over the same way
    assert SCRIPT_VARIABLE in variables_set(FREESWITCH / "dialplan" / "rectest.xml")


def test_every_extension_handing_a_call_to_a_script_parks_it_unanswered() -> None:
    root = ET.parse(OPERATOR / "dialplan" / "esl_recorder.xml").getroot()
    handed = 0
    for ext in root.iter("extension"):
        apps = [(a.get("application"), a.get("data", "")) for a in ext.iter("action")]
        if any(app == "set" and data.startswith(SCRIPT_VARIABLE + "=") for app, data in apps):
            handed += 1
            assert apps[-1] == ("park", ""), ext.get("name")
            assert "answer" not in [app for app, _ in apps], ext.get("name")
    assert handed >= 2


def test_the_public_context_sends_exactly_the_numbers_of_the_esl_recorder_context() -> None:
    public = ET.parse(OPERATOR / "dialplan" / "public" / "esl_recorder.xml").getroot()
    (condition,) = public.iter("condition")
    sends = re.compile(condition.get("expression", ""))
    ours = ET.parse(OPERATOR / "dialplan" / "esl_recorder.xml").getroot()
    numbers = [re.sub(r"[^0-9]", "", c.get("expression", "")) for c in ours.iter("condition")
               if c.get("field") == "destination_number"
               and re.fullmatch(r"\^\\\+\?\d+\$", c.get("expression", ""))]
    assert len(numbers) >= 2
    for number in numbers:
        assert sends.match(number) and sends.match("+" + number), number
    assert not sends.match("15555550199")


def test_the_ci_server_loads_every_module_the_operator_list_names() -> None:
    def loads(path: Path) -> set[str]:
        return {el.get("module", "") for el in ET.parse(path).getroot().iter("load")}

    wanted = loads(OPERATOR / "autoload_configs" / "modules.conf.xml")
    assert {"mod_event_socket", "mod_shout", "mod_flite"} <= wanted
    assert wanted <= loads(FREESWITCH / "conf" / "autoload_configs" / "modules.conf.xml")
    built = {line.rpartition("/")[2] for line in
             (FREESWITCH / "modules.conf").read_text().split()}
    assert wanted <= built
