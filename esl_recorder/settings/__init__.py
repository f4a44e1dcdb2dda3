"""Every setting, declared once (model.py and the section modules it lists): YAML key, type
and rule, default, one-line doc; its `ESL_RECORDER_*` environment override derived from the key.

Built on pydantic-settings: sources.py reads the YAML document and the environment, pydantic
validates the whole once, problems.py turns its first error into one `ConfigError` line, and
describe.py writes check-config's listing, the README table and conf/esl_recorder.yaml from the
same declarations. `python -m esl_recorder.settings yaml|markdown` prints the latter two.
"""

from .accounts import AccountSettings
from .daemon import LifecycleSettings, LogSettings
from .delivery import DeliverySettings
from .describe import (
    default_config_yaml,
    describe_settings,
    known_env_vars,
    reference_rows,
    secret_values,
    setting_keys,
    settings_reference_markdown,
)
from .dialects import BandwidthSettings, KazooSettings, ScriptDocumentSettings, ScriptSettings
from .fields import ACCOUNT_ID, MASK
from .freeswitch import DEFAULT_NODES, EslSettings, NodeSettings, node_env_name
from .http import HttpSettings
from .load import load_settings, parse_yaml, settings_from_mapping
from .model import Settings
from .recording import IdentitySettings, RecordingSettings
from .section import ENV_PREFIX
from .sources import NODES_ENV, account_env_name, env_name
from .storage import MediaSettings, StoreSettings

__all__ = [
    "ACCOUNT_ID", "DEFAULT_NODES", "ENV_PREFIX", "MASK", "NODES_ENV", "AccountSettings",
    "BandwidthSettings", "DeliverySettings", "EslSettings", "HttpSettings", "IdentitySettings",
    "KazooSettings", "LifecycleSettings", "LogSettings", "MediaSettings", "NodeSettings",
    "RecordingSettings", "ScriptDocumentSettings", "ScriptSettings", "Settings", "StoreSettings",
    "account_env_name", "default_config_yaml", "describe_settings", "env_name",
    "known_env_vars", "load_settings", "node_env_name", "parse_yaml", "reference_rows",
    "secret_values", "setting_keys", "settings_from_mapping", "settings_reference_markdown",
]
