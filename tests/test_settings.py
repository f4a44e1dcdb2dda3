"""Settings: defaults, YAML, env precedence, every error names file and key, docs in sync."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from esl_recorder.errors import ConfigError
from esl_recorder.settings import (
    MASK,
    EslSettings,
    NodeSettings,
    Settings,
    default_config_yaml,
    describe_settings,
    load_settings,
    setting_keys,
    settings_from_mapping,
    settings_reference_markdown,
)

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "conf" / "esl_recorder.yaml"
README = ROOT / "README.md"
NODE = {"name": "fs1", "host": "10.0.0.5"}


def load(data: dict[str, Any], env: dict[str, str] | None = None) -> Settings:
    return settings_from_mapping(data, source="test.yaml", env=env or {})


def config_error(data: dict[str, Any], env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(data, env)
    return info.value


def write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- defaults and overrides ------------------------------------------------------------------


def test_defaults_match_the_documented_api() -> None:
    s = load_settings(None, env={})
    assert s.esl == EslSettings(5.0, 10.0, 0.5, 30.0)
    assert s.nodes == (NodeSettings(name="local", host="127.0.0.1", port=8021,
                                    password="ClueCon"),)
    assert (s.recording.root, s.recording.default_format) == (
        "/var/lib/esl_recorder/recordings", "wav")
    assert (s.recording.max_length, s.recording.finalize_workers) == (14400, 4)
    assert s.recording.beep_tone == "tone_stream://%(250,0,1000)"
    assert s.identity.account_variable == "esl_recorder_account_id"
    assert s.identity.user_variable == "esl_recorder_user_id"
    assert s.identity.device_variable == "esl_recorder_device_id"
    assert s.store.path == "/var/lib/esl_recorder/state.db"
    assert (s.http.host, s.http.port, s.http.public_base_url) == ("127.0.0.1", 8080, "")
    assert (s.log.level, s.log.format) == ("INFO", "text")
    assert s.source == "<defaults>"


def test_settings_are_frozen() -> None:
    s = load_settings(None, env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.esl.command_timeout = 1.0  # type: ignore[misc]


def test_yaml_overrides_defaults_and_keeps_the_rest(tmp_path: Path) -> None:
    path = write(tmp_path, "esl:\n  command_timeout: 2\nhttp:\n  port: 9090\n"
                 "nodes:\n  - {name: fs1, host: 10.0.0.5, port: 8022, password: pw}\n"
                 "  - {name: fs2, host: fs2.example}\n")
    s = load_settings(path, env={})
    assert s.esl.command_timeout == 2.0 and isinstance(s.esl.command_timeout, float)
    assert s.esl.connect_timeout == 5.0
    assert s.http.port == 9090
    assert s.nodes == (NodeSettings("fs1", "10.0.0.5", 8022, "pw"),
                       NodeSettings("fs2", "fs2.example", 8021, "ClueCon"))
    assert s.source == str(path)


def test_env_wins_over_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "http:\n  port: 9090\nlog:\n  level: DEBUG\n")
    env = {"ESL_RECORDER_HTTP_PORT": "7070", "ESL_RECORDER_ESL_COMMAND_TIMEOUT": "1.5",
           "ESL_RECORDER_LOG_FORMAT": "json"}
    s = load_settings(path, env=env)
    assert (s.http.port, s.esl.command_timeout, s.log.format, s.log.level) == (
        7070, 1.5, "json", "DEBUG")


def test_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESL_RECORDER_RECORDING_DEFAULT_FORMAT", "mp3")
    assert load_settings(None).recording.default_format == "mp3"


def test_log_level_is_case_insensitive_and_normalized() -> None:
    assert load({"log": {"level": "warning"}}).log.level == "WARNING"


def test_empty_yaml_file_means_defaults(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, "# nothing set\n"), env={})
    assert s.model_copy(update={"source": "<defaults>"}) == load_settings(None, env={})


# --- nodes -----------------------------------------------------------------------------------


def test_password_file_is_read_and_stripped_relative_to_the_yaml(tmp_path: Path) -> None:
    write(tmp_path, "  s3cret\n\n", "esl.pw")
    path = write(tmp_path, "nodes:\n  - {name: fs1, host: h, password_file: esl.pw}\n")
    assert load_settings(path, env={}).nodes[0].password == "s3cret"


def test_env_nodes_replace_the_list_with_ports_and_ipv6() -> None:
    s = load({"nodes": [NODE]}, {"ESL_RECORDER_NODES": "a=10.0.0.7:8022, b=host,c=[::1]:9000"})
    assert [(n.name, n.host, n.port) for n in s.nodes] == [
        ("a", "10.0.0.7", 8022), ("b", "host", 8021), ("c", "::1", 9000)]


def test_env_node_password_and_password_file(tmp_path: Path) -> None:
    pw = write(tmp_path, "from-file\n", "pw")
    env = {"ESL_RECORDER_NODES": "fs-1=h1,fs2=h2", "ESL_RECORDER_NODE_FS_1_PASSWORD": "one",
           "ESL_RECORDER_NODE_FS2_PASSWORD_FILE": str(pw)}
    assert [n.password for n in load({}, env).nodes] == ["one", "from-file"]


def test_env_node_password_wins_over_a_yaml_password_file(tmp_path: Path) -> None:
    write(tmp_path, "from-file\n", "pw")
    path = write(tmp_path, "nodes:\n  - {name: fs1, host: h, password_file: pw}\n")
    env = {"ESL_RECORDER_NODE_FS1_PASSWORD": "from-env"}
    assert load_settings(path, env=env).nodes[0].password == "from-env"


def test_node_repr_masks_the_password() -> None:
    node = load({"nodes": [{**NODE, "password": "hunter22"}]}).nodes[0]
    assert "hunter22" not in repr(node)
    assert MASK in repr(node)
    assert "hunter22" not in repr(load({"nodes": [{**NODE, "password": "hunter22"}]}))


def test_describe_masks_secrets_and_names_env_vars() -> None:
    rows = describe_settings(load({"nodes": [{**NODE, "password": "hunter22"}]}))
    by_key = {key: (value, env) for key, value, env, _ in rows}
    assert by_key["nodes[0].password"] == (MASK, "ESL_RECORDER_NODE_FS1_PASSWORD")
    assert by_key["nodes[0].host"] == ("10.0.0.5", "ESL_RECORDER_NODES")
    assert by_key["esl.command_timeout"] == ("10.0", "ESL_RECORDER_ESL_COMMAND_TIMEOUT")
    assert all("hunter22" not in field for row in rows for field in row)
    assert all(doc for _, _, _, doc in rows)


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "key", "problem"), [
    ({"esl": {"comand_timeout": 1}}, "esl.comand_timeout", "did you mean 'command_timeout'"),
    ({"recordng": {}}, "recordng", "did you mean 'recording'"),
    ({"nodes": [NODE, {**NODE, "pasword": "x"}]}, "nodes[1].pasword", "did you mean 'password'"),
    ({"esl": {"command_timeout": "fast"}}, "esl.command_timeout", "expected a number"),
    ({"esl": {"command_timeout": True}}, "esl.command_timeout", "expected a number"),
    ({"esl": {"command_timeout": 0}}, "esl.command_timeout", "greater than 0"),
    ({"esl": {"connect_timeout": -1}}, "esl.connect_timeout", "greater than 0"),
    ({"esl": {"reconnect_initial_delay": 5, "reconnect_max_delay": 1}},
     "esl.reconnect_max_delay", ">= esl.reconnect_initial_delay"),
    ({"esl": []}, "esl", "expected a mapping"),
    ({"nodes": [NODE, {**NODE, "name": "fs2", "port": 70000}]}, "nodes[1].port", "65535"),
    ({"nodes": [NODE, {**NODE, "name": "fs2", "port": "8021"}]}, "nodes[1].port",
     "expected an integer"),
    ({"nodes": [NODE, NODE]}, "nodes[1].name", "duplicate node name 'fs1'"),
    ({"nodes": [{"name": "fs1"}]}, "nodes[0].host", "is required"),
    ({"nodes": [{**NODE, "password": 1234}]}, "nodes[0].password", "quote it"),
    ({"nodes": []}, "nodes", "at least one node"),
    ({"nodes": {"fs1": NODE}}, "nodes", "expected a list"),
    ({"nodes": [{**NODE, "name": "fs 1"}]}, "nodes[0].name", "letters, digits"),
    ({"nodes": [{**NODE, "password": "a", "password_file": "/x"}]}, "nodes[0].password_file",
     "not both"),
    ({"recording": {"default_format": "ogg"}}, "recording.default_format", "wav, mp3"),
    ({"recording": {"root": "recordings"}}, "recording.root", "absolute path"),
    ({"recording": {"root": "/var/my recordings"}}, "recording.root", "no whitespace"),
    ({"recording": {"max_length": 0}}, "recording.max_length", "between 1 and"),
    ({"recording": {"finalize_workers": 2.5}}, "recording.finalize_workers",
     "expected an integer"),
    ({"store": {"path": "state.db"}}, "store.path", "absolute path"),
    ({"identity": {"account_variable": "acct id"}}, "identity.account_variable",
     "channel variable"),
    ({"http": {"port": 65536}}, "http.port", "65535"),
    ({"http": {"public_base_url": "example.com"}}, "http.public_base_url", "http://"),
    ({"log": {"level": "LOUD"}}, "log.level", "logging level"),
    ({"log": {"format": "xml"}}, "log.format", "text, json"),
])
def test_bad_values_name_the_file_and_key(data: dict[str, Any], key: str, problem: str) -> None:
    err = config_error(data)
    assert (err.source, err.key) == ("test.yaml", key)
    assert problem in err.problem
    assert str(err).startswith(f"test.yaml: {key}: ")


@pytest.mark.parametrize(("env", "key", "problem"), [
    ({"ESL_RECORDER_HTTP_PORT": "eighty"}, "http.port", "ESL_RECORDER_HTTP_PORT='eighty'"),
    ({"ESL_RECORDER_HTTP_PORT": "0x50"}, "http.port", "expected an integer"),
    ({"ESL_RECORDER_ESL_COMMAND_TIMEOUT": "-2"}, "esl.command_timeout", "greater than 0"),
    ({"ESL_RECORDER_NODES": "fs1"}, "nodes[0]", "not name=host[:port]"),
    ({"ESL_RECORDER_NODES": "fs1=h:99999"}, "nodes[0].port", "65535"),
    ({"ESL_RECORDER_NODES": "a=h,a=i"}, "nodes[1].name", "duplicate"),
    ({"ESL_RECORDER_NODES": " , "}, "nodes", "names no node"),
    ({"ESL_RECORDER_NODE_FS9_PASSWORD": "x"}, "nodes", "ESL_RECORDER_NODE_FS9_PASSWORD"),
    ({"ESL_RECORDER_NODE_FS1_PASSWORD": "x", "ESL_RECORDER_NODE_FS1_PASSWORD_FILE": "/f"},
     "nodes[0].password", "not both"),
    ({"ESL_RECORDER_NODE_FS1_PASSWORD_FILE": "/nonexistent/pw"}, "nodes[0].password_file",
     "cannot read"),
])
def test_bad_env_names_env_and_key(env: dict[str, str], key: str, problem: str) -> None:
    err = config_error({"nodes": [NODE]}, env)
    assert (err.source, err.key) == ("env", key)
    assert problem in err.problem


SECRET_VALUE = 98765432109876


@pytest.mark.parametrize(("data", "key"), [
    ({"accounts": [{"id": "acme", "laml_token": SECRET_VALUE}]}, "accounts[0].laml_token"),
    ({"accounts": [{"id": "acme", "texml_api_key": SECRET_VALUE}]}, "accounts[0].texml_api_key"),
    ({"accounts": [{"id": "acme", "texml_signing_key": str(SECRET_VALUE)}]},
     "accounts[0].texml_signing_key"),
    ({"accounts": [{"id": "acme", "bandwidth_token": "t", "bandwidth_secret": SECRET_VALUE}]},
     "accounts[0].bandwidth_secret"),
    ({"nodes": [{**NODE, "password": SECRET_VALUE}]}, "nodes[0].password"),
    ({"nodes": [{**NODE, "password": [SECRET_VALUE]}]}, "nodes[0].password"),
    ({"nodes": [{**NODE, "pasword": SECRET_VALUE}]}, "nodes[0].pasword"),
    ({"nodes": {"fs1": {**NODE, "password": SECRET_VALUE}}}, "nodes"),
    ({"nodes": [f"fs1:{SECRET_VALUE}"]}, "nodes[0]"),
    ({"accounts": [{"id": "acme", "laml_token": f"{SECRET_VALUE}\n"}]}, "accounts[0].laml_token"),
])
def test_a_secret_value_never_appears_in_an_error(data: dict[str, Any], key: str) -> None:
    err = config_error(data)
    assert err.key == key
    assert str(SECRET_VALUE) not in str(err)


def test_a_secret_from_env_never_appears_in_an_error() -> None:
    env = {"ESL_RECORDER_ACCOUNT_ACME_LAML_TOKEN": f"{SECRET_VALUE}\r",
           "ESL_RECORDER_NODE_FS1_PASSWORD": f"{SECRET_VALUE}\n"}
    for var in env:
        err = config_error({"nodes": [NODE], "accounts": [{"id": "acme"}]}, {var: env[var]})
        assert (err.source, var in err.problem) == ("env", True)
        assert str(SECRET_VALUE) not in str(err)


def test_credentials_in_the_env_node_list_are_refused_without_repeating_them() -> None:
    for form in ("fs1=user:s3cr3t@127.0.0.1:8021", "fs1=user:s3cr3t@127.0.0.1",
                 "a=h,fs1=tcp://user:s3cr3t@127.0.0.1", "user:s3cr3t@127.0.0.1"):
        err = config_error({}, {"ESL_RECORDER_NODES": form})
        assert (err.source, err.key) == ("env", f"nodes[{form.count(',')}]")
        assert "credentials" in err.problem
        assert "s3cr3t" not in str(err)


def test_a_yaml_host_holding_credentials_is_refused_without_repeating_them() -> None:
    err = config_error({"nodes": [{**NODE, "host": "user:s3cr3t@10.0.0.5"}]})
    assert err.key == "nodes[0].host"
    assert "s3cr3t" not in str(err)


@pytest.mark.parametrize("host", ["10.0.0.5", "fs_1.example.net", "::1", "fe80::1%eth0"])
def test_host_names_and_ip_addresses_are_accepted(host: str) -> None:
    assert load({"nodes": [{**NODE, "host": host}]}).nodes[0].host == host


def test_account_env_overrides_its_yaml_fields_and_repr_masks_tokens() -> None:
    env = {"ESL_RECORDER_ACCOUNT_ACME_CO_LAML_TOKEN": "tok-from-env"}
    s = load({"accounts": [{"id": "acme.co", "laml_token": "tok-from-yaml"}]}, env)
    assert s.accounts[0].laml_token == "tok-from-env"
    assert "tok-from-env" not in repr(s)
    rows = {key: value for key, value, _, _ in describe_settings(s)}
    assert (rows["accounts[0].laml_token"], rows["accounts[0].texml_api_key"]) == (MASK, '""')


def test_missing_password_file_names_node_and_path(tmp_path: Path) -> None:
    path = write(tmp_path, "nodes:\n  - {name: fs1, host: h}\n"
                 "  - {name: fs2, host: h, password_file: /nonexistent/pw}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert (info.value.source, info.value.key) == (str(path), "nodes[1].password_file")
    assert "/nonexistent/pw" in info.value.problem


def test_empty_password_file_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "\n", "pw")
    path = write(tmp_path, "nodes:\n  - {name: fs1, host: h, password_file: pw}\n")
    with pytest.raises(ConfigError, match=r"nodes\[0\]\.password_file: .* is empty"):
        load_settings(path, env={})


def test_bad_yaml_reports_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "esl:\n  command_timeout: 1\n  bad: [unclosed\nhttp: {}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert info.value.source == str(path)
    assert re.fullmatch(r"line [34]", info.value.key)
    assert "invalid YAML" in info.value.problem


def test_duplicate_yaml_key_is_an_error_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "http:\n  port: 9000\n  host: 0.0.0.0\n  port: 9001\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert info.value.key == "line 4"
    assert "duplicate key 'port'" in info.value.problem


def test_yaml_tags_are_never_executed(tmp_path: Path) -> None:
    path = write(tmp_path, "esl: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_settings(path, env={})


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expected a mapping of sections"):
        load_settings(write(tmp_path, "- esl\n"), env={})


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "absent.yaml", env={})
    assert info.value.source == str(tmp_path / "absent.yaml")
    assert "cannot read" in info.value.problem


# --- docs stay in sync with the declarations -------------------------------------------------


def flat_keys(data: dict[str, Any]) -> set[str]:
    keys = set()
    for section, values in data.items():
        if section == "nodes":
            keys |= {f"nodes[].{k}" for node in values for k in node}
        else:
            keys |= {f"{section}.{k}" for k in values}
    return keys


def test_sample_config_is_generated_from_the_declarations() -> None:
    assert CONF.read_text() == default_config_yaml(), (
        "conf/esl_recorder.yaml is stale: python -m esl_recorder.settings yaml "
        "> conf/esl_recorder.yaml")


def test_sample_config_lists_exactly_the_declared_settings_with_defaults() -> None:
    data = yaml.safe_load(CONF.read_text())
    commented = {"nodes[].password_file"}  # an alternative to password, shown commented out
    commented |= {k for k in setting_keys() if k.startswith("accounts[]")}  # an example
    assert flat_keys(data) == set(setting_keys()) - commented
    loaded = load_settings(CONF, env={})
    assert loaded.model_copy(update={"source": "<defaults>"}) == load_settings(None, env={})


def test_every_setting_has_a_one_line_doc_comment_in_the_sample() -> None:
    lines = CONF.read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"\s+(- )?\w+:", line):  # an indented key: a setting
            assert lines[i - 1].lstrip().startswith("#"), f"no comment above {line!r}"


def test_readme_table_is_generated_from_the_declarations() -> None:
    text = README.read_text()
    match = re.search(r"<!-- settings:begin -->\n(.*?)<!-- settings:end -->", text, re.S)
    assert match, "README.md lacks the <!-- settings:begin/end --> markers"
    assert match.group(1).strip() == settings_reference_markdown().strip(), (
        "README settings table is stale: python -m esl_recorder.settings markdown")
    for key in setting_keys():
        assert f"`{key}`" in match.group(1)


def test_readme_lists_every_metric() -> None:
    from prometheus_client import CollectorRegistry

    from esl_recorder.metrics import make_metrics

    registry = CollectorRegistry()
    make_metrics(registry)
    suffix = {"counter": "_total", "info": "_info"}
    names = {m.name + suffix.get(m.type, "") for m in registry.collect()}
    documented = set(re.findall(r"^\| `(esl_recorder_\w+)`", README.read_text(), re.M))
    assert documented == names


def test_allowed_networks_from_yaml_and_env_and_a_bad_entry_named() -> None:
    from_yaml = settings_from_mapping({"delivery": {"allowed_networks": ["10.0.0.0/8"]}},
                                      env={})
    assert from_yaml.delivery.allowed_networks == ("10.0.0.0/8",)
    from_env = settings_from_mapping(
        {}, env={"ESL_RECORDER_DELIVERY_ALLOWED_NETWORKS": "127.0.0.1, fd00::/8"})
    assert from_env.delivery.allowed_networks == ("127.0.0.1", "fd00::/8")
    assert settings_from_mapping({}, env={}).delivery.allowed_networks == ()
    with pytest.raises(ConfigError, match=r"delivery\.allowed_networks: 'intranet' is not a "
                                          r"network"):
        settings_from_mapping({"delivery": {"allowed_networks": ["intranet"]}}, env={})
