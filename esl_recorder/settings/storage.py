"""Where state and media are kept: the store (`store`: SQLite or PostgreSQL) and the finished
recordings (`media`: local disk or S3)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, Strict, model_validator
from pydantic.dataclasses import dataclass
from pydantic_core import ArgsKwargs

from .fields import (
    AbsolutePath,
    Bool,
    BucketName,
    EndpointUrl,
    KeyPrefix,
    OptionalPath,
    OptionalSecret,
    Seconds,
    StoreUrl,
    Token,
    between,
    one_of,
)
from .section import SECTION, masked_repr, read_secret_file, rule_error


@dataclass(frozen=True, config=SECTION, repr=False)
class StoreSettings:
    path: AbsolutePath = Field(
        default="/var/lib/esl_recorder/state.db",
        description="SQLite database file for recordings, calls and the outbox (when store.url "
                    "is empty).")
    url: StoreUrl = Field(
        default="",
        description="PostgreSQL database instead of SQLite, postgresql://user@host:port/dbname "
                    "(libpq URL; the password here, in PGPASSWORD or a PGPASSFILE); empty: "
                    "SQLite at store.path.")
    pool_size: Annotated[int, Strict(), AfterValidator(between(1, 1000))] = Field(
        default=10,
        description="Most connections to PostgreSQL this daemon holds (every daemon's count "
                    "against the server's max_connections).")
    timeout: Seconds = Field(
        default=5.0,
        description="Seconds to wait to connect to PostgreSQL, or for a free pooled "
                    "connection, before the request is refused (503).")
    several_daemons: Bool = Field(
        default=False,
        description="Several daemons share this PostgreSQL store (store.url): each FreeSWITCH "
                    "node is owned by one of them at a time, which alone connects to it.")
    takeover_time: Seconds = Field(
        default=5.0,
        description="With several_daemons: seconds within which another daemon takes a node "
                    "whose owner died (each tries every third of it).")
    forward_timeout: Seconds = Field(
        default=5.0,
        description="With several_daemons: seconds a request about another daemon's node "
                    "waits for that node's owner to carry it out (then 503; one not taken by "
                    "then is never run).")

    def __repr__(self) -> str:
        return masked_repr(self)


MIB = 1 << 20


@dataclass(frozen=True, config=SECTION, repr=False)
class MediaSettings:
    backend: Annotated[str, Strict(), AfterValidator(one_of("local", "s3"))] = Field(
        default="local",
        description="Where finished recordings live: local (recording.root only) or s3 "
                    "(uploaded through the outbox to the s3_* bucket).")
    s3_endpoint: EndpointUrl = Field(
        default="", description="S3 endpoint origin, http(s)://host[:port] (no path).")
    s3_region: Token = Field(
        default="us-east-1", description="S3 region the requests are signed for.")
    s3_bucket: BucketName = Field(
        default="", description="Bucket the recordings go to (it must exist).")
    s3_prefix: KeyPrefix = Field(
        default="recordings/{account}/",
        description="Object key prefix; {account} is the recording's account. The key is "
                    "<prefix><recording sid>.<format>.")
    s3_access_key: OptionalSecret = Field(
        default="", description="S3 access key id (or set s3_credentials_file).")
    s3_secret_key: OptionalSecret = Field(
        default="", description="S3 secret access key (or set s3_credentials_file).")
    s3_credentials_file: OptionalPath = Field(
        default="",
        description="File holding the access key on its first line and the secret key on its "
                    "second, read at load.")
    keep_local: Bool = Field(
        default=False,
        description="Keep the local file after a verified upload (false: removed).")
    serve: Annotated[str, Strict(), AfterValidator(one_of("stream", "redirect"))] = Field(
        default="stream",
        description="Media of an uploaded recording: stream (the daemon relays the object) or "
                    "redirect (302 to a presigned URL of the bucket).")
    presign_ttl: Annotated[int, Strict(), AfterValidator(between(1, 604800))] = Field(
        default=300, description="Seconds a presigned media URL stays valid.")
    part_size: Annotated[int, Strict(), AfterValidator(between(5 * MIB, 512 * MIB))] = Field(
        default=5 * MIB,
        description="Multipart part size in bytes (5 MiB-512 MiB): an upload's memory is about "
                    "three times this, whatever the file's length.")

    @model_validator(mode="before")
    @classmethod
    def read_credentials_file(cls, data: Any) -> Any:
        values = data.kwargs or {} if isinstance(data, ArgsKwargs) else data
        if not isinstance(values, dict) or not values.get("s3_credentials_file") \
                or not isinstance(values["s3_credentials_file"], str):
            return data
        if values.get("s3_access_key") or values.get("s3_secret_key"):
            raise rule_error("set s3_access_key and s3_secret_key, or s3_credentials_file, "
                             "not both", ".s3_credentials_file")
        path = Path(values["s3_credentials_file"])
        lines = read_secret_file(path, ".s3_credentials_file").splitlines()
        if len(lines) < 2 or not lines[0].strip() or not lines[1].strip():
            raise rule_error(f"{str(path)!r} must hold the access key and the secret key on "
                             "two lines", ".s3_credentials_file")
        values = {**values, "s3_access_key": lines[0].strip(),
                  "s3_secret_key": lines[1].strip()}
        return ArgsKwargs(data.args, values) if isinstance(data, ArgsKwargs) else values

    @model_validator(mode="after")
    def s3_complete(self) -> MediaSettings:
        if self.backend != "s3":
            return self
        for name in ("s3_endpoint", "s3_bucket", "s3_access_key", "s3_secret_key"):
            if not getattr(self, name):
                raise rule_error("must be set when media.backend is s3", f".{name}",
                                 ".backend")
        return self

    def __repr__(self) -> str:
        return masked_repr(self)
