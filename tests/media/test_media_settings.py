"""The media section: what it accepts, what it refuses, and that its secrets stay hidden."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from esl_recorder.errors import ConfigError
from esl_recorder.settings import Settings, describe_settings, settings_from_mapping

S3 = {"backend": "s3", "s3_endpoint": "http://127.0.0.1:8333", "s3_bucket": "recs",
      "s3_access_key": "AKIDEXAMPLE", "s3_secret_key": "wJalrXUtnFEMI-secret"}


def load(media: dict[str, Any], env: dict[str, str] | None = None) -> Settings:
    return settings_from_mapping({"media": media}, source="<test>", env=env or {})


def error(media: dict[str, Any], env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load(media, env)
    return str(info.value)


def test_local_is_the_default_and_needs_nothing() -> None:
    assert load({}).media.backend == "local"


def test_s3_with_keys_from_the_environment() -> None:
    env = {"ESL_RECORDER_MEDIA_S3_ACCESS_KEY": "AKIDENV",
           "ESL_RECORDER_MEDIA_S3_SECRET_KEY": "secret-from-env"}
    media = load({k: v for k, v in S3.items() if "key" not in k}, env).media
    assert (media.s3_access_key, media.s3_secret_key) == ("AKIDENV", "secret-from-env")


def test_s3_with_keys_from_a_file(tmp_path: Path) -> None:
    creds = tmp_path / "s3.keys"
    creds.write_text("AKIDFILE\nsecret-from-file\n")
    media = load({**{k: v for k, v in S3.items() if "key" not in k},
                  "s3_credentials_file": str(creds)}).media
    assert (media.s3_access_key, media.s3_secret_key) == ("AKIDFILE", "secret-from-file")
    assert "secret-from-file" not in repr(media)


def test_a_credentials_file_without_two_lines_is_refused(tmp_path: Path) -> None:
    creds = tmp_path / "s3.keys"
    creds.write_text("only-one-line-secret\n")
    text = error({**{k: v for k, v in S3.items() if "key" not in k},
                  "s3_credentials_file": str(creds)})
    assert "media.s3_credentials_file" in text and "two lines" in text
    assert "only-one-line-secret" not in text


@pytest.mark.parametrize("missing", ["s3_endpoint", "s3_bucket", "s3_access_key",
                                     "s3_secret_key"])
def test_s3_needs_its_endpoint_bucket_and_keys(missing: str) -> None:
    text = error({k: v for k, v in S3.items() if k != missing})
    assert f"media.{missing}: must be set when media.backend is s3" in text


@pytest.mark.parametrize("endpoint", [
    "ftp://s3.example.com", "http://user:pw@s3.example.com", "http://s3.example.com/path",
    "http://s3.example.com?x=1", "s3.example.com:8333", "http://"])
def test_an_endpoint_must_be_an_http_origin(endpoint: str) -> None:
    text = error({**S3, "s3_endpoint": endpoint})
    assert "media.s3_endpoint: must be an http:// or https:// URL" in text
    assert endpoint not in text or endpoint == "http://"  # never echoed (may hold a password)


@pytest.mark.parametrize(("key", "value"), [
    ("s3_bucket", "AB"), ("s3_bucket", "Upper"), ("s3_prefix", "/abs/"),
    ("s3_prefix", "a/../b/"), ("s3_prefix", "rec/{user}/"), ("serve", "proxy"),
    ("part_size", 1024), ("presign_ttl", 0), ("backend", "gcs")])
def test_bad_values_are_refused(key: str, value: Any) -> None:
    assert f"media.{key}" in error({**S3, key: value})


def test_the_secrets_are_masked_in_check_config() -> None:
    rows = {key: value for key, value, _, _ in describe_settings(load(S3))}
    assert rows["media.s3_secret_key"] == rows["media.s3_access_key"] == "********"
    assert rows["media.s3_endpoint"] == "http://127.0.0.1:8333"
