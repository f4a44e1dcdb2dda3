"""Every setting, declared once: YAML key, type and rule, default, one-line doc.

A setting is a field of a frozen section class: `<section>.<field>` is its YAML key, its type
(fields.py) says what it accepts, `Field(default=..., description=...)` gives its default and doc.
Its environment variable is derived from the key (`esl.command_timeout` ->
`ESL_RECORDER_ESL_COMMAND_TIMEOUT`), nodes and accounts have their own forms (sources.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, model_validator
from pydantic.dataclasses import dataclass
from pydantic.fields import FieldInfo
from pydantic_core import ArgsKwargs, PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .fields import (
    MASK,
    AbsolutePath,
    AccountId,
    BaseUrl,
    Bool,
    BucketName,
    DialTemplate,
    EndpointUrl,
    Host,
    HostNames,
    KeyPrefix,
    ListenPort,
    LogLevel,
    Networks,
    NodeName,
    OneLine,
    OptionalId,
    OptionalPath,
    OptionalSecret,
    Password,
    Port,
    Seconds,
    SigningKey,
    StoreUrl,
    Token,
    VariableName,
    between,
    is_secret,
    node_name,
    one_of,
    optional,
    token,
)

ENV_PREFIX = "ESL_RECORDER_"
ERROR_TYPE = "esl_recorder"  # the type of every error our own cross-field rules raise
SECTION = ConfigDict(extra="forbid", hide_input_in_errors=True)


def rule_error(problem: str, at: str, *involved: str) -> PydanticCustomError:
    """A broken rule about several fields: `at` is the key reported (relative to the
    validated object, e.g. `.password_file`), `involved` the other keys it depends on."""
    return PydanticCustomError(ERROR_TYPE, "{problem}",
                               {"problem": problem, "at": at, "involved": ",".join(involved)})


def fields_of(owner: Any) -> dict[str, FieldInfo]:
    """The declared fields of a section class (pydantic dataclass) or of Settings."""
    if isinstance(owner, type) and issubclass(owner, BaseModel):
        return owner.model_fields
    fields: dict[str, FieldInfo] = getattr(owner, "__pydantic_fields__", {})
    return fields


def masked_repr(obj: Any) -> str:
    fields = fields_of(type(obj))
    shown = (f"{name}={MASK!r}" if is_secret(f) and getattr(obj, name)
             else f"{name}={getattr(obj, name)!r}" for name, f in fields.items())
    return f"{type(obj).__name__}({', '.join(shown)})"


@dataclass(frozen=True, config=SECTION, repr=False)
class NodeSettings:
    name: NodeName = Field(
        description="Unique node name, used in logs, metrics and env var names.")
    host: Host = Field(
        description="Host name or IP address of the FreeSWITCH event socket.")
    port: Port = Field(
        default=8021, description="TCP port of the FreeSWITCH event socket.")
    password: Password = Field(
        default="ClueCon", description="Event socket password (or set password_file).")
    password_file: str | None = Field(
        default=None, strict=True,
        description="File holding the event socket password, read at load and stripped.")

    @model_validator(mode="before")
    @classmethod
    def read_password_file(cls, data: Any) -> Any:
        """`password_file` (already made absolute by the YAML source) fills in `password`."""
        values = data.kwargs or {} if isinstance(data, ArgsKwargs) else data
        if not isinstance(values, dict) or not isinstance(values.get("password_file"), str):
            return data
        if "password" in values:
            raise rule_error("set password or password_file, not both", ".password_file")
        values = {**values, "password": read_secret_file(Path(values["password_file"]))}
        return ArgsKwargs(data.args, values) if isinstance(data, ArgsKwargs) else values

    def __repr__(self) -> str:
        return masked_repr(self)


def read_secret_file(path: Path, at: str = ".password_file") -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise rule_error(f"cannot read {str(path)!r}: {reason}", at) from None
    if not text:
        raise rule_error(f"{str(path)!r} is empty", at)
    return text


@dataclass(frozen=True, config=SECTION)
class EslSettings:
    connect_timeout: Seconds = Field(
        default=5.0, description="Seconds allowed to connect and authenticate to a node.")
    command_timeout: Seconds = Field(
        default=10.0, description="Seconds to wait for the reply to one command before giving up.")
    reconnect_initial_delay: Seconds = Field(
        default=0.5,
        description="Seconds before the first reconnect attempt; doubles on each failure.")
    reconnect_max_delay: Seconds = Field(
        default=30.0, description="Upper bound of the reconnect delay, in seconds.")
    liveness_timeout: Seconds = Field(
        default=30.0,
        description="Seconds a node may say nothing (no event, no reply; HEARTBEAT comes every "
                    "20 s and an idle node is probed with `api status`) before it is declared "
                    "dead, unready and reconnected.")

    @model_validator(mode="after")
    def delays_in_order(self) -> EslSettings:
        if self.reconnect_max_delay < self.reconnect_initial_delay:
            raise rule_error(f"must be >= esl.reconnect_initial_delay "
                             f"({self.reconnect_initial_delay}), got {self.reconnect_max_delay}",
                             ".reconnect_max_delay", ".reconnect_initial_delay")
        return self


@dataclass(frozen=True, config=SECTION)
class RecordingSettings:
    root: AbsolutePath = Field(
        default="/var/lib/esl_recorder/recordings",
        description="Directory for recording files; same path in FreeSWITCH and here.")
    default_format: Annotated[str, Strict(), AfterValidator(one_of("wav", "mp3"))] = Field(
        default="wav", description="File format when a request names none: wav or mp3.")
    max_length: Annotated[int, Strict(), AfterValidator(between(1, 86400))] = Field(
        default=14400, description="Hard cap on any recording's length, in seconds.")
    beep_tone: Token = Field(
        default="tone_stream://%(250,0,1000)",
        description="What FreeSWITCH plays as the beep before a recording.")
    finalize_workers: Annotated[int, Strict(), AfterValidator(between(1, 64))] = Field(
        default=4, description="Greenlets that finalize finished recording files.")
    truncation_tolerance: Seconds = Field(
        default=2.0,
        description="A file shorter than the time FreeSWITCH recorded by more than this many "
                    "seconds was not written whole: the recording ends failed.")
    unfinished_timeout: Seconds = Field(
        default=300.0,
        description="Seconds a recording may stay queued, or running past its call or its "
                    "length limit, before it is ended (failed, or finished from disk).")


@dataclass(frozen=True, config=SECTION)
class IdentitySettings:
    account_variable: VariableName = Field(
        default="esl_recorder_account_id",
        description="Channel variable holding the call's account id.")
    user_variable: VariableName = Field(
        default="esl_recorder_user_id", description="Channel variable holding the call's user id.")
    device_variable: VariableName = Field(
        default="esl_recorder_device_id",
        description="Channel variable holding the call's device id.")


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


@dataclass(frozen=True, config=SECTION)
class HttpSettings:
    host: Token = Field(
        default="127.0.0.1", description="Address the HTTP API and /metrics listen on.")
    port: ListenPort = Field(
        default=8080, description="TCP port of the HTTP API (0 picks a free port).")
    public_base_url: BaseUrl = Field(
        default="",
        description="URL clients reach this daemon at, for links (empty: the listen address, "
                    "an allowed_hosts Host, or a trusted proxy's X-Forwarded-*).")
    allowed_hosts: HostNames = Field(
        default=(),
        description="Host header values links may use without public_base_url (others: the "
                    "listen address). Env: comma-separated.")
    trusted_proxies: Networks = Field(
        default=(),
        description="Proxies (addresses or networks) whose X-Forwarded-Proto/-Host/-Port/-For "
                    "are believed. Env: comma-separated.")
    tls_cert: OptionalPath = Field(
        default="",
        description="PEM certificate chain file: with tls_key, the API serves https (TLS 1.2+; "
                    "re-read on SIGHUP).")
    tls_key: OptionalPath = Field(
        default="", description="PEM private key file of tls_cert (unencrypted).")
    max_body_bytes: Annotated[int, Strict(), AfterValidator(between(1024, 16 << 20))] = Field(
        default=65536,
        description="Largest request body accepted, Content-Length or chunked (larger: 413).")
    request_timeout: Seconds = Field(
        default=30.0,
        description="Seconds a client may take to send a whole request (TLS handshake, head and "
                    "body), and to stay idle between requests.")
    max_connections_per_client: Annotated[int, Strict(), AfterValidator(between(1, 100000))] = (
        Field(default=64,
              description="Open connections one client address may hold (trusted proxies: no "
                          "limit); more are refused."))
    access_log: Bool = Field(
        default=True, description="Log one JSON line per API request.")
    metrics_port: Annotated[int, Strict(), AfterValidator(between(0, 65535))] = Field(
        default=0,
        description="A second TCP port on http.host serving only /metrics, /healthz and "
                    "/readyz (they stay on http.port too); 0: none.")

    @model_validator(mode="after")
    def tls_pair(self) -> HttpSettings:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise rule_error("set both tls_cert and tls_key, or neither", ".tls_key",
                             ".tls_cert")
        return self


@dataclass(frozen=True, config=SECTION)
class DeliverySettings:
    max_age: Seconds = Field(
        default=86400.0, description="Seconds a callback is retried before it is given up (dead).")
    initial_delay: Seconds = Field(
        default=1.0,
        description="Upper bound of the first retry's delay, in seconds; doubles each attempt "
                    "(full jitter below it).")
    max_delay: Seconds = Field(
        default=300.0, description="Upper bound of the retry delay, in seconds.")
    timeout: Seconds = Field(
        default=10.0, description="Seconds allowed for one delivery attempt.")
    lease: Seconds = Field(
        default=60.0,
        description="Several daemons on one PostgreSQL store: seconds a daemon's claim on an "
                    "item it is attempting lasts (renewed while it works on it); a claim "
                    "of a daemon that died is taken over once it ends.")
    concurrency: Annotated[int, Strict(), AfterValidator(between(1, 1024))] = Field(
        default=64, description="Deliveries in flight at once, all receivers together.")
    per_host: Annotated[int, Strict(), AfterValidator(between(1, 256))] = Field(
        default=8,
        description="Deliveries in flight to one receiver host (a slow receiver cannot hold the "
                    "others up).")
    allowed_networks: Networks = Field(
        default=(),
        description="Networks callbacks may reach although not public (loopback, private, "
                    "link-local and unique-local are refused otherwise). Env: comma-separated.")


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


@dataclass(frozen=True, config=SECTION)
class BandwidthSettings:
    dial_string: DialTemplate = Field(
        default="sofia/gateway/default/{to}",
        description="Where Bandwidth POST /calls dials: {to} and {from} are the validated numbers.")
    application: OneLine = Field(
        default="&park()",
        description="What the answered call runs (originate's second argument), e.g. '&park()' or "
                    "'1000 XML default'.")
    call_timeout: Annotated[int, Strict(), AfterValidator(between(1, 300))] = Field(
        default=60, description="Default seconds to wait for answer (callTimeout).")
    transfer_context: NodeName = Field(
        default="default",
        description="XML dialplan context a call is sent to by state=transferring "
                    "(uuid_transfer <call> <transferTo> XML <context>).")


def script_document(v: str) -> str:
    """An absolute file path, or an http(s) URL."""
    token(v)
    if not (v.startswith("/") or v.startswith(("http://", "https://"))):
        raise ValueError(f"must be an absolute file path or an http(s) URL, got {v!r}")
    return v


@dataclass(frozen=True, config=SECTION)
class ScriptDocumentSettings:
    document: Annotated[str, Strict(), AfterValidator(script_document)] = Field(
        description="The script: an absolute file path, or an http(s) URL fetched for each call "
                    "(delivery.allowed_networks applies to it like to callbacks).")
    dialect: Annotated[str, Strict(), AfterValidator(one_of("swml", "kazoo"))] = Field(
        default="swml", description="The document's language: swml, or kazoo (a callflow).")
    name: Annotated[str, Strict(), AfterValidator(optional(node_name))] = Field(
        default="", description="The value of scripts.variable that selects this document.")
    destination: Annotated[str, Strict(), AfterValidator(optional(node_name))] = Field(
        default="", description="Or: the destination number of the parked calls that run it.")
    tts_engine: Annotated[str, Strict(), AfterValidator(optional(node_name))] = Field(
        default="", description="Text-to-speech engine for this document; empty: "
                                "scripts.tts_engine.")
    tts_voice: Annotated[str, Strict(), AfterValidator(optional(node_name))] = Field(
        default="", description="Text-to-speech voice; empty: scripts.tts_voice.")

    @model_validator(mode="after")
    def one_selector(self) -> ScriptDocumentSettings:
        if bool(self.name) == bool(self.destination):
            raise rule_error("set exactly one of name and destination", ".name",
                             ".destination")
        return self


@dataclass(frozen=True, config=SECTION)
class ScriptSettings:
    variable: VariableName = Field(
        default="esl_recorder_script",
        description="Channel variable a dialplan sets before `park` to hand the call to the "
                    "script of that name.")
    documents: tuple[ScriptDocumentSettings, ...] = Field(
        default=(),
        description="The scripts, each with name or destination, document, dialect, tts_engine, "
                    "tts_voice (YAML only). None: scripts are off and their events unsubscribed.")
    tts_engine: NodeName = Field(
        default="flite", description="Text-to-speech engine for `say:` (a FreeSWITCH module).")
    tts_voice: NodeName = Field(default="kal", description="Text-to-speech voice for `say:`.")
    fetch_timeout: Seconds = Field(
        default=5.0, description="Seconds a script document or media URL may take to fetch.")
    max_document_bytes: Annotated[int, Strict(), AfterValidator(between(1024, 16 << 20))] = Field(
        default=1 << 20, description="Largest script document fetched or read, in bytes.")
    max_media_bytes: Annotated[int, Strict(), AfterValidator(between(1024, 1 << 30))] = Field(
        default=50 << 20, description="Largest media file a script's play fetches, in bytes.")
    run_endpoint: Bool = Field(
        default=False,
        description="Serve POST /api/swml/calls/{call_id}: accounts run a SWML document they "
                    "send on their live calls (subscribes to the script events).")


@dataclass(frozen=True, config=SECTION)
class KazooSettings:
    policy_file: OptionalPath = Field(
        default="",
        description="YAML file of Kazoo recording policies (account, user and device documents "
                    "with record_call / call_recording); read at start and on SIGHUP. Empty: "
                    "only the policies set over the API.")
    direction_variable: VariableName = Field(
        default="esl_recorder_direction",
        description="Channel variable giving a call's direction for policies (inbound: to the "
                    "user/device/account, outbound: from it); unset: FreeSWITCH's leg direction.")
    network_variable: VariableName = Field(
        default="esl_recorder_network",
        description="Channel variable saying whether the other party is onnet or offnet; "
                    "unset: only the policies' `any` entries match.")
    default_format: Annotated[str, Strict(), AfterValidator(one_of("mp3", "wav"))] = Field(
        default="mp3",
        description="Format of a Kazoo recording that names none (Kazoo's default is mp3, "
                    "which needs FreeSWITCH's mod_shout).")
    bridge_dial_string: DialTemplate = Field(
        default="sofia/gateway/default/{to}",
        description="Where a callflow's bridge module dials: {to} is its data.number.")
    upload_timeout: Seconds = Field(
        default=300.0,
        description="Seconds one upload of a recording to its `url` may take (Kazoo: 5 min).")
    keep_local: Bool = Field(
        default=True,
        description="Keep a recording's file after its upload to `url` is confirmed (false: "
                    "removed then; the API serves it no more).")


@dataclass(frozen=True, config=SECTION)
class LogSettings:
    level: LogLevel = Field(
        default="INFO", description="Lowest level logged: DEBUG, INFO, WARNING, ERROR.")
    format: Annotated[str, Strict(), AfterValidator(one_of("text", "json"))] = Field(
        default="text", description="Log line format: text, or json (one object per line).")


@dataclass(frozen=True, config=SECTION)
class LifecycleSettings:
    grace_period: Seconds = Field(
        default=20.0,
        description="Seconds SIGTERM waits for requests in flight and the outbox before "
                    "exiting (keep it below systemd's TimeoutStopSec and compose's "
                    "stop_grace_period, 30 s).")


@dataclass(frozen=True, config=SECTION, repr=False)
class AccountSettings:
    id: AccountId = Field(
        description="Account id: the value of identity.account_variable on the account's calls.")
    laml_project_id: OptionalId = Field(
        default="",
        description="SignalWire LaML project id (the AccountSid and Basic user); empty: the "
                    "account id.")
    laml_token: OptionalSecret = Field(
        default="",
        description="LaML API token (Basic password; also signs callbacks). Empty: LaML off for "
                    "this account.")
    texml_account_sid: OptionalId = Field(
        default="", description="Telnyx TeXML account_sid in paths; empty: the account id.")
    texml_api_key: OptionalSecret = Field(
        default="",
        description="TeXML API key (Authorization: Bearer). Empty: TeXML off for this account.")
    texml_signing_key: SigningKey = Field(
        default="",
        description="Ed25519 private key (base64 of 32 bytes; `esl-recorder keygen` makes a "
                    "pair) that signs TeXML callbacks as Telnyx does (telnyx-signature-ed25519 "
                    "and telnyx-timestamp, made at each attempt); receivers check them with the "
                    "public key. Empty: TeXML callbacks unsigned.")
    bandwidth_user_id: OptionalId = Field(
        default="", description="Bandwidth v1 userId in paths; empty: the account id.")
    bandwidth_token: OptionalSecret = Field(
        default="",
        description="Bandwidth API token (Basic user). Empty: Bandwidth off for this account.")
    bandwidth_secret: OptionalSecret = Field(
        default="", description="Bandwidth API secret (Basic password).")
    kazoo_account_id: OptionalId = Field(
        default="", description="Kazoo account_id in /v2/accounts paths; empty: the account id.")
    kazoo_auth_token: OptionalSecret = Field(
        default="",
        description="Kazoo Crossbar X-Auth-Token of the account. Empty: the Kazoo API is off for "
                    "this account.")

    @model_validator(mode="after")
    def bandwidth_pair(self) -> AccountSettings:
        if bool(self.bandwidth_token) != bool(self.bandwidth_secret):
            raise rule_error("set both bandwidth_token and bandwidth_secret, or neither",
                             ".bandwidth_secret", ".bandwidth_token")
        return self

    def __repr__(self) -> str:
        return masked_repr(self)


def node_env_name(node: str, suffix: str = "PASSWORD") -> str:
    """The variable that sets node `node`'s password (`fs-1` -> `..._NODE_FS_1_PASSWORD`)."""
    return f"{ENV_PREFIX}NODE_{node.upper().replace('-', '_')}_{suffix}"


def distinct_nodes(nodes: tuple[NodeSettings, ...]) -> tuple[NodeSettings, ...]:
    """At least one, and no two whose names give the same environment variable."""
    if not nodes:
        raise rule_error("at least one node is required", "")
    seen: dict[str, int] = {}
    for i, node in enumerate(nodes):
        norm = node_env_name(node.name)
        if norm in seen:
            raise rule_error(f"duplicate node name {node.name!r} (same as "
                             f"nodes[{seen[norm]}].name)", f"[{i}].name")
        seen[norm] = i
    return nodes


def distinct_accounts(accounts: tuple[AccountSettings, ...]) -> tuple[AccountSettings, ...]:
    """No id, project id, account sid or user id used by two accounts (empty: the id)."""
    for attr in ("id", "laml_project_id", "texml_account_sid", "bandwidth_user_id"):
        seen: dict[str, int] = {}
        for i, acct in enumerate(accounts):
            value = getattr(acct, attr) or acct.id
            if value in seen:
                raise rule_error(f"{value!r} is already used by accounts[{seen[value]}]",
                                 f"[{i}].{attr}")
            seen[value] = i
    return accounts


DEFAULT_NODES = (NodeSettings(name="local", host="127.0.0.1"),)


class Settings(BaseSettings):
    """The whole configuration; built by load.py from defaults, YAML and environment."""

    model_config = SettingsConfigDict(
        extra="forbid", frozen=True, hide_input_in_errors=True, env_prefix=ENV_PREFIX,
        env_nested_delimiter="_", env_nested_max_split=1)

    esl: EslSettings = EslSettings()
    nodes: Annotated[tuple[NodeSettings, ...], AfterValidator(distinct_nodes)] = Field(
        default=DEFAULT_NODES,
        description="FreeSWITCH nodes to attach to, each with a unique name.")
    recording: RecordingSettings = RecordingSettings()
    identity: IdentitySettings = IdentitySettings()
    store: StoreSettings = StoreSettings()
    http: HttpSettings = HttpSettings()
    delivery: DeliverySettings = DeliverySettings()
    media: MediaSettings = MediaSettings()
    bandwidth: BandwidthSettings = BandwidthSettings()
    accounts: Annotated[tuple[AccountSettings, ...], AfterValidator(distinct_accounts)] = Field(
        default=(),
        description="API accounts (tenants), each with its credentials per dialect; none: every "
                    "API route answers 401.")
    scripts: ScriptSettings = ScriptSettings()
    kazoo: KazooSettings = KazooSettings()
    log: LogSettings = LogSettings()
    lifecycle: LifecycleSettings = LifecycleSettings()
    source: str = Field(
        default="<defaults>", exclude=True,
        description="Where the settings came from (the YAML file); not a setting.")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        """`Settings(...)` takes only its arguments; load.py passes its own sources."""
        return (init_settings,)


SECTIONS: dict[str, Any] = {name: f.annotation for name, f in Settings.model_fields.items()
                            if name not in ("nodes", "accounts", "source")}
SETTING_NAMES = tuple(name for name in Settings.model_fields if name != "source")
