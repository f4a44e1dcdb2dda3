"""Every setting, declared once (model.py): YAML key, type and rule, default, one-line doc;
its `ESL_RECORDER_*` environment override derived from the key.

Built on pydantic-settings: sources.py reads the YAML document and the environment, pydantic
validates the whole once, problems.py turns its first error into one `ConfigError` line, and
describe.py writes check-config's listing, the README table and conf/esl_recorder.yaml from the
same declarations. `python -m esl_recorder.settings yaml|markdown` prints the latter two.
"""

from .describe import (
    default_config_yaml,
    describe_settings,
    known_env_vars,
    reference_rows,
    secret_values,
    setting_keys,
    settings_reference_markdown,
)
from .fields import ACCOUNT_ID, MASK
from .load import load_settings, parse_yaml, settings_from_mapping
from .model import (
    DEFAULT_NODES,
    ENV_PREFIX,
    AccountSettings,
    BandwidthSettings,
    DeliverySettings,
    EslSettings,
    HttpSettings,
    IdentitySettings,
    KazooSettings,
    LifecycleSettings,
    LogSettings,
    MediaSettings,
    NodeSettings,
    RecordingSettings,
    ScriptDocumentSettings,
    ScriptSettings,
    Settings,
    StoreSettings,
    node_env_name,
)
from .sources import NODES_ENV, account_env_name, env_name

__all__ = [
    "ACCOUNT_ID", "DEFAULT_NODES", "ENV_PREFIX", "MASK", "NODES_ENV", "AccountSettings",
    "BandwidthSettings", "DeliverySettings", "EslSettings", "HttpSettings", "IdentitySettings",
    "KazooSettings", "LifecycleSettings", "LogSettings", "MediaSettings", "NodeSettings",
    "RecordingSettings", "ScriptDocumentSettings", "ScriptSettings", "Settings", "StoreSettings",
    "account_env_name", "default_config_yaml", "describe_settings", "env_name",
    "known_env_vars", "load_settings", "node_env_name", "parse_yaml", "reference_rows",
    "secret_values", "setting_keys", "settings_from_mapping", "settings_reference_markdown",
]
