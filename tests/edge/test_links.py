"""Links (recording, media and call URLs) never take an unchecked Host header: the
listen address, an allowed host, a trusted proxy's X-Forwarded-*, or public_base_url."""

from __future__ import annotations

from .conftest import ApiFactory, link_base, port_of

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "rec.example.com",
             "X-Forwarded-Port": "443", "X-Forwarded-For": "203.0.113.9"}


def test_a_foreign_host_header_does_not_become_the_links_host(make_api: ApiFactory) -> None:
    api = make_api()
    uuid = api.call()
    listen = f"http://127.0.0.1:{port_of(api)}"
    assert link_base(api, uuid, headers={"Host": "evil.example"}) == listen
    assert link_base(api, uuid, headers={"Host": "evil.example/x?"}) == listen
    assert link_base(api, uuid, headers=FORWARDED) == listen  # not from a trusted proxy


def test_a_listed_host_is_used_as_sent(make_api: ApiFactory) -> None:
    api = make_api(allowed_hosts=["rec.example.com"])
    uuid = api.call()
    assert (link_base(api, uuid, headers={"Host": "REC.example.com:8443"})
            == "http://rec.example.com:8443")
    assert (link_base(api, uuid, headers={"Host": "other.example"})
            == f"http://127.0.0.1:{port_of(api)}")


def test_a_trusted_proxys_forwarded_scheme_and_host_are_followed(make_api: ApiFactory) -> None:
    api = make_api(trusted_proxies=["127.0.0.0/8"])
    uuid = api.call()
    assert link_base(api, uuid, headers=FORWARDED) == "https://rec.example.com"
    assert link_base(api, uuid, headers={"X-Forwarded-Proto": "https",
                                         "X-Forwarded-Host": "evil.example/x y"}) == (
        f"https://127.0.0.1:{port_of(api)}")


def test_a_proxy_not_listed_is_not_believed(make_api: ApiFactory) -> None:
    api = make_api(trusted_proxies=["10.0.0.0/8"])
    uuid = api.call()
    assert link_base(api, uuid, headers=FORWARDED) == f"http://127.0.0.1:{port_of(api)}"


def test_public_base_url_wins_over_everything(make_api: ApiFactory) -> None:
    api = make_api(public_base_url="https://recorder.example.net/rec",
                   trusted_proxies=["127.0.0.0/8"], allowed_hosts=["evil.example"])
    uuid = api.call()
    for headers in ({}, FORWARDED, {"Host": "evil.example"}):
        assert link_base(api, uuid, headers=headers) == "https://recorder.example.net/rec"
