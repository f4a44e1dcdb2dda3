"""Every setting, declared once: YAML key, type and rule, default, one-line doc.

A setting is a field of a frozen section class: `<section>.<field>` is its YAML key, its type
(fields.py) says what it accepts, `Field(default=..., description=...)` gives its default and doc.
Its environment variable is derived from the key (`esl.command_timeout` ->
`ESL_RECORDER_ESL_COMMAND_TIMEOUT`), nodes and accounts have their own forms (sources.py).

`Settings` here is the whole; each section class lives in the module of its subject:
freeswitch.py (`nodes`, `esl`), recording.py (`recording`, `identity`), storage.py (`store`,
`media`), http.py, delivery.py, dialects.py (`bandwidth`, `scripts`, `kazoo`), accounts.py and
daemon.py (`log`, `lifecycle`); section.py holds what they share.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .accounts import AccountSettings, distinct_accounts
from .daemon import LifecycleSettings, LogSettings
from .delivery import DeliverySettings
from .dialects import BandwidthSettings, KazooSettings, ScriptSettings
from .freeswitch import DEFAULT_NODES, EslSettings, NodeSettings, distinct_nodes
from .http import HttpSettings
from .recording import IdentitySettings, RecordingSettings
from .section import ENV_PREFIX
from .storage import MediaSettings, StoreSettings


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
