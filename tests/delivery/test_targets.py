"""Where callbacks may go: refused targets are never contacted, at request or delivery time.

Every receiver here listens on 127.0.0.1; nothing is ever sent anywhere else. The refused
addresses of the cases are only ever checked, never connected to.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest

from esl_recorder.delivery.targets import IPAddress, TargetPolicy, TargetRefused

from .conftest import HarnessFactory, Scripted

Receivers = Callable[..., Scripted]

REFUSED_BY_DEFAULT = [
    "http://127.0.0.1:8021/cb",  # FreeSWITCH's event socket
    "http://localhost/cb",
    "http://app.localhost/cb",
    "http://[::1]/cb",
    "http://0x7f000001/cb",
    "http://2130706433/cb",
    "http://127.1/cb",
    "http://[::ffff:127.0.0.1]/cb",
    "http://0.0.0.0/cb",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://10.0.0.1/cb",
    "http://172.16.5.4/cb",
    "http://192.168.1.1/cb",
    "http://100.64.0.1/cb",
    "http://[fd00::1]/cb",
    "http://[fe80::1]/cb",
    "http://224.0.0.1/cb",
]


@pytest.mark.parametrize("url", REFUSED_BY_DEFAULT)
def test_private_and_local_targets_are_refused_when_the_url_is_given(url: str) -> None:
    with pytest.raises(TargetRefused, match="not public"):
        TargetPolicy.build([]).check_url(url)


@pytest.mark.parametrize("url", ["https://hooks.example.com/cb", "http://93.184.216.34/cb",
                                 "http://[2606:2800:220:1::1]/cb"])
def test_public_targets_pass_and_names_wait_for_delivery(url: str) -> None:
    TargetPolicy.build([]).check_url(url)  # nothing raised, nothing resolved


def test_an_allowed_network_opens_only_that_network() -> None:
    policy = TargetPolicy.build(["10.1.0.0/16"])
    policy.check_url("http://10.1.2.3/cb")
    with pytest.raises(TargetRefused):
        policy.check_url("http://10.2.0.1/cb")


def test_the_daemons_own_endpoints_are_refused_even_when_allowed() -> None:
    policy = TargetPolicy.build(["127.0.0.0/8"], own=[("127.0.0.1", 8021), ("0.0.0.0", 8080)])
    policy.check_url("http://127.0.0.1:9000/cb")
    for url in ("http://127.0.0.1:8021/cb", "http://localhost:8080/cb",
                "http://127.0.0.2:8080/cb"):
        with pytest.raises(TargetRefused, match="own endpoint"):
            policy.check_url(url)


def test_a_refused_target_is_never_contacted_and_goes_dead_with_its_reason(
        harness_factory: HarnessFactory, receivers: Receivers) -> None:
    r = receivers()
    h = harness_factory(targets=TargetPolicy.build([]))
    h.send(f"http://localhost:{r.port}/cb", key="RE1", body="n=1")
    h.wait_for(lambda: h.count("dead") == 1)
    assert r.hits == 0
    [dead] = h.outbox.dead()
    assert dead.attempts == 1
    assert dead.last_error == ("target refused: address 127.0.0.1 is not public and not in "
                               "delivery.allowed_networks (not retried)")
    assert h.metric("callbacks_dead") == 1
    assert h.metric("delivery_targets_refused_total", kind="callback") == 1


def test_the_check_runs_on_what_the_name_resolves_to_at_delivery(
        harness_factory: HarnessFactory, receivers: Receivers) -> None:
    """DNS rebinding: a name that looked public when the URL was given, and resolves to a
    loopback address when the callback is sent, is refused then."""
    r = receivers()
    answers: dict[str, list[IPAddress]] = {
        "rebind.example": [ipaddress.ip_address("93.184.216.34")]}

    def resolver(host: str, port: int) -> list[IPAddress]:
        return answers[host]

    policy = TargetPolicy.build([], resolver=resolver)
    url = f"http://rebind.example:{r.port}/cb"
    policy.check_url(url)  # given: looks fine
    answers["rebind.example"] = [ipaddress.ip_address("127.0.0.1")]
    h = harness_factory(targets=policy)
    h.send(url, key="RE1")
    h.wait_for(lambda: h.count("dead") == 1)
    assert r.hits == 0
    assert "target refused: address 127.0.0.1" in h.outbox.dead()[0].last_error
    assert h.metric("delivery_targets_refused_total", kind="callback") == 1


def test_a_name_with_a_refused_address_connects_only_to_the_allowed_one(
        harness_factory: HarnessFactory, receivers: Receivers) -> None:
    r = receivers()

    def resolver(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("10.9.9.9"), ipaddress.ip_address("127.0.0.1")]

    h = harness_factory(targets=TargetPolicy.build(["127.0.0.0/8"], resolver=resolver))
    h.send(f"http://receiver.test:{r.port}/cb", key="RE1", body="n=1")
    assert r.wait(1)[0].form == {"n": "1"}
    h.wait_for(lambda: h.count("delivered") == 1)


def test_an_allowed_loopback_receiver_gets_the_callback(
        harness_factory: HarnessFactory, receivers: Receivers) -> None:
    r = receivers()
    h = harness_factory(targets=TargetPolicy.build(["127.0.0.1/32"]))
    h.send(f"http://localhost:{r.port}/cb", key="RE1", body="n=1")
    assert r.wait(1)[0].form == {"n": "1"}
