"""The scale-out compose file (docker/docker-compose.scale.yml, laid over docker-compose.yml):
PostgreSQL, an S3 server and a second daemon added, and the parts agree with each other
(no Docker engine is needed: these read the files, merged the way compose merges them)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import pytest

from .dockerfiles import instructions
from .ops_files import COMPOSE, DOCKER, check_config, load_yaml
from .test_container_settings import image_env, interpolate

SCALE = DOCKER / "docker-compose.scale.yml"
BASE: dict[str, Any] = load_yaml(COMPOSE)
OVER: dict[str, Any] = load_yaml(SCALE)
DAEMONS = ("esl_recorder", "esl_recorder2")
RECORDINGS = "/var/lib/esl_recorder/recordings"
SECRETS = {"ESL_PASSWORD": "esl-secret-for-the-test", "POSTGRES_PASSWORD": "pg-secret-for-the-test",
           "S3_SECRET_KEY": "s3-secret-for-the-test"}


def merged(service: str) -> dict[str, Any]:
    """A service as compose runs it with both files: mappings merged key by key, the
    override's scalars and lists winning (enough for the keys these tests read)."""
    base, over = BASE["services"].get(service, {}), OVER["services"].get(service, {})
    out = {**base, **over}
    for key in ("environment", "depends_on", "networks"):
        if isinstance(base.get(key), dict) and isinstance(over.get(key), dict):
            out[key] = {**base[key], **over[key]}
    return out


def daemon_env(service: str) -> dict[str, str]:
    """What the daemon's process sees: the image's variables, then the service's."""
    env = dict(image_env())
    env.update({k: interpolate(str(v), SECRETS) for k, v in merged(service)["environment"].items()})
    return env


def address(service: str) -> str:
    return interpolate(merged(service)["networks"]["default"]["ipv4_address"], {})


@pytest.mark.parametrize("service", DAEMONS)
def test_every_daemon_runs_on_postgresql_and_s3_with_settings_it_understands(
        service: str) -> None:
    env = daemon_env(service)
    out = check_config(env, drop=("ESL_RECORDER_", "PG"))
    for secret in SECRETS.values():
        assert secret not in out.stdout + out.stderr
    for expected in ("store.url = ********", "store.several_daemons = True",
                     "media.backend = s3", "media.s3_endpoint = http://minio:9000",
                     "media.keep_local = False", "nodes[0].host = freeswitch"):
        assert expected in out.stdout, expected
    assert env["PGPASSWORD"] == SECRETS["POSTGRES_PASSWORD"]  # libpq's, not in the URL


def test_the_image_installs_the_drivers_the_scale_out_settings_need() -> None:
    installs = " ".join(s.args for s in instructions(DOCKER / "Dockerfile")
                        if s.keyword == "RUN" and "pip install" in s.args)
    extras = set(re.findall(r"\.\[([\w,]+)\]", installs)[0].split(","))
    assert {"postgres", "s3"} <= extras, installs


def test_the_daemons_reach_the_database_and_bucket_the_stack_creates() -> None:
    pg = merged("postgres")["environment"]
    env = daemon_env("esl_recorder")
    assert env["ESL_RECORDER_STORE_URL"] == (
        f"postgresql://{pg['POSTGRES_USER']}@postgres:5432/{pg['POSTGRES_DB']}")
    assert interpolate(pg["POSTGRES_PASSWORD"], SECRETS) == env["PGPASSWORD"]
    minio = {k: interpolate(v, SECRETS) for k, v in merged("minio")["environment"].items()}
    assert (minio["MINIO_ROOT_USER"], minio["MINIO_ROOT_PASSWORD"]) == (
        env["ESL_RECORDER_MEDIA_S3_ACCESS_KEY"], env["ESL_RECORDER_MEDIA_S3_SECRET_KEY"])
    creates = " ".join(merged("minio-bucket")["entrypoint"])
    assert f"mc mb --ignore-existing s3/{env['ESL_RECORDER_MEDIA_S3_BUCKET']}" in creates
    assert env["ESL_RECORDER_MEDIA_S3_ENDPOINT"] == "http://minio:9000"
    for service in DAEMONS:
        needs = merged(service)["depends_on"]
        assert needs["postgres"] == {"condition": "service_healthy"}
        assert needs["minio-bucket"] == {"condition": "service_completed_successfully"}
        assert needs["freeswitch"] == {"condition": "service_healthy"}


def test_every_daemon_may_own_the_node_and_shares_the_recordings_volume() -> None:
    acl = interpolate(merged("freeswitch")["environment"]["ESL_ACL"], {}).split(",")
    subnet = ipaddress.ip_network(interpolate(
        BASE["networks"]["default"]["ipam"]["config"][0]["subnet"], {}))
    fs_mounts = {v.split(":")[1]: v.split(":")[0] for v in merged("freeswitch")["volumes"]}
    nodes = {daemon_env(s)["ESL_RECORDER_NODES"] for s in DAEMONS}
    assert len(nodes) == 1  # every daemon lists every node, the same way
    addresses = [address(s) for s in DAEMONS]
    assert len(set(addresses)) == len(DAEMONS)
    for service, ip in zip(DAEMONS, addresses, strict=True):
        assert f"{ip}/32" in acl, f"{service} ({ip}) is not admitted by the event socket"
        assert ipaddress.ip_address(ip) in subnet
        mounts = {v.split(":")[1]: v.split(":")[0] for v in merged(service)["volumes"]}
        assert mounts[RECORDINGS] == fs_mounts[RECORDINGS] == "recordings"
        assert merged(service)["image"] == BASE["services"]["esl_recorder"]["image"]


def test_the_added_services_publish_nothing_beyond_loopback() -> None:
    published = [str(p) for svc in OVER["services"].values() for p in svc.get("ports", [])]
    assert published == ["127.0.0.1:8081:8080"]
    assert set(OVER["volumes"]) >= {"postgres", "minio"}
