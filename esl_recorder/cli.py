"""The `esl-recorder` console script.

    esl-recorder --version
    esl-recorder run [-c FILE]            attach to FreeSWITCH and record (esl_recorder.app.run)
    esl-recorder check-config [-c FILE]   print every effective setting, secrets masked
    esl-recorder outbox [-c FILE] [--state dead|pending|delivered|all] [--limit N] [--json]
                                          list callbacks in the outbox (dead ones by default)
    esl-recorder demo [--port N]          the daemon with the built-in FreeSWITCH simulator, a
                                          demo call recorded, until Ctrl-C (esl_recorder.demo)
    esl-recorder fakeswitch [ARGS...]     run the FreeSWITCH simulator (esl_recorder.testing)

The config file is `-c FILE`, else $ESL_RECORDER_CONFIG, else `conf/esl_recorder.yaml` if it
exists, else `/etc/esl_recorder/esl_recorder.yaml`.

Exit codes: 0 success or clean stop; 1 the daemon or simulator failed at run time;
2 bad command line, configuration or start-up failure (a directory it cannot write, a port in
use: one `error: <file>: <key>: <problem>` line naming the setting to change, no traceback).

gevent monkey-patching happens first thing in `main()`, before anything that uses sockets,
threads or time is imported; this module only imports the standard library at the top.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import __version__

if TYPE_CHECKING:
    from .settings import Settings

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
CONFIG_ENV = "ESL_RECORDER_CONFIG"
LOCAL_CONFIG = "conf/esl_recorder.yaml"
SYSTEM_CONFIG = "/etc/esl_recorder/esl_recorder.yaml"
# ESL_RECORDER_* variables that are not settings (so check-config does not warn about them).
NON_SETTING_ENV = frozenset({CONFIG_ENV, "ESL_RECORDER_FS", "ESL_RECORDER_FS_RECORDINGS",
                             "ESL_RECORDER_FS_DIR", "ESL_RECORDER_FS_CTL", "ESL_RECORDER_FS_SRC",
                             "ESL_RECORDER_CACHE", "ESL_RECORDER_WIRE_DIR"})


def main(argv: list[str] | None = None) -> int:
    """Entry point of `esl-recorder` and `python -m esl_recorder`; returns the exit code."""
    from gevent import monkey

    monkey.patch_all()  # first, before any module that opens sockets is imported

    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["fakeswitch"]:
        return cmd_fakeswitch(args[1:])
    ns = build_parser().parse_args(args)
    handler = {"run": cmd_run, "check-config": cmd_check_config,
               "outbox": cmd_outbox, "demo": cmd_demo, "keygen": cmd_keygen}[ns.command]
    return handler(ns)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="esl-recorder",
        description="Call-recording controller for FreeSWITCH (Event Socket + uuid_record).",
        epilog="exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error")
    parser.add_argument("--version", action="version", version=f"esl-recorder {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in (("run", "attach to FreeSWITCH and serve (the daemon)"),
                       ("check-config", "print every effective setting and exit"),
                       ("outbox", "list callbacks in the outbox (dead ones by default)")):
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.add_argument("-c", "--config", metavar="FILE",
                         help=f"YAML file (default: ${CONFIG_ENV}, {LOCAL_CONFIG} if it exists, "
                              f"else {SYSTEM_CONFIG})")
        if name == "outbox":
            add_outbox_arguments(cmd)
    demo = sub.add_parser("demo", help="try it without FreeSWITCH: the daemon with the built-in "
                          "simulator, a demo call recorded, until Ctrl-C",
                          description="Start the daemon and the FreeSWITCH simulator in this "
                          "process on loopback, record a demo call through the HTTP API, "
                          "print what to try next, and serve until Ctrl-C.")
    demo.add_argument("--port", type=int, default=0, metavar="N",
                      help="HTTP port of the API (default: a free one)")
    keygen = sub.add_parser("keygen", help="make an Ed25519 key pair for signing TeXML "
                            "callbacks (accounts[].texml_signing_key)",
                            description="Print a new private key for an account's "
                            "texml_signing_key and the public key its webhook receivers check "
                            "signatures with (the telnyx SDK's public_key).")
    keygen.add_argument("--public", action="store_true",
                        help="read a private key on stdin and print its public key")
    sub.add_parser("fakeswitch", help="run the FreeSWITCH simulator "
                   "(--host, --port, --password, --recordings-root; see fakeswitch --help)")
    return parser


def add_outbox_arguments(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--state", choices=("dead", "pending", "delivered", "all"),
                     default="dead", help="which items (default: dead)")
    cmd.add_argument("--limit", type=int, default=100, metavar="N",
                     help="at most N items, newest first (default: 100)")
    cmd.add_argument("--json", action="store_true", help="one JSON object per line")


def cmd_outbox(ns: argparse.Namespace) -> int:
    """The outbox listing (esl_recorder.delivery.listing), read from the configured store."""
    settings = load(ns)
    if settings is None:
        return EXIT_USAGE
    show = import_entry("esl_recorder.delivery.listing", "show_outbox")
    if show is None:
        return EXIT_FAILURE
    from .errors import StoreError

    try:
        return int(show(settings.store, ns.state, ns.limit, ns.json))
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def config_path(explicit: str | None, env: dict[str, str] | None = None) -> str:
    """-c FILE, else $ESL_RECORDER_CONFIG, else the local file if present, else /etc."""
    env = dict(os.environ) if env is None else env
    if explicit:
        return explicit
    if env.get(CONFIG_ENV):
        return env[CONFIG_ENV]
    return LOCAL_CONFIG if os.path.isfile(LOCAL_CONFIG) else SYSTEM_CONFIG


def load(ns: argparse.Namespace) -> Settings | None:
    """Settings from the chosen file and env, or None after printing the error line."""
    from .errors import ConfigError
    from .settings import load_settings

    try:
        return load_settings(config_path(ns.config))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def cmd_check_config(ns: argparse.Namespace) -> int:
    from .settings import describe_settings

    settings = load(ns)
    if settings is None:
        return EXIT_USAGE
    warn_unknown_env(settings)
    print(f"# effective settings from {settings.source} and ESL_RECORDER_* environment")
    for key, value, _env, _doc in describe_settings(settings):
        print(f"{key} = {value}")
    return EXIT_OK


def warn_unknown_env(settings: Settings) -> None:
    """Point out ESL_RECORDER_* variables that set nothing (usually a typo)."""
    import difflib

    from .settings import ENV_PREFIX, known_env_vars

    known = known_env_vars(settings) | NON_SETTING_ENV
    for var in sorted(v for v in os.environ if v.startswith(ENV_PREFIX) and v not in known):
        hint = difflib.get_close_matches(var, sorted(known), n=1)
        tip = f" (did you mean {hint[0]}?)" if hint else ""
        print(f"warning: {var} is not a setting and is ignored{tip}", file=sys.stderr)


def cmd_run(ns: argparse.Namespace) -> int:
    import logging

    from .errors import ConfigError, StoreError
    from .logsetup import configure_logging, register_secret
    from .settings import secret_values

    settings = load(ns)
    if settings is None:
        return EXIT_USAGE
    for secret in secret_values(settings):
        register_secret(secret)
    configure_logging(settings.log)
    log = logging.getLogger(__name__)
    log.info("esl_recorder %s starting with %s", __version__, settings.source)
    run = import_entry("esl_recorder.app", "run")  # late: after patching and logging setup
    if run is None:
        return EXIT_FAILURE
    try:
        return int(run(settings))
    except (ConfigError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def cmd_demo(ns: argparse.Namespace) -> int:
    import logging

    from .errors import ConfigError
    from .logsetup import configure_logging
    from .settings import LogSettings

    configure_logging(LogSettings(level="WARNING"))
    run_demo = import_entry("esl_recorder.demo", "run_demo")
    if run_demo is None:
        return EXIT_FAILURE
    try:
        return int(run_demo(port=ns.port))
    except ConfigError as exc:  # the demo's settings are built in: name its own option
        option = "--port" if exc.key == "http.port" else exc.key
        print(f"error: demo: {option}: {exc.problem}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        logging.shutdown()


def cmd_keygen(ns: argparse.Namespace) -> int:
    from .delivery.signing import ed25519_key, ed25519_public_b64, new_ed25519_seed
    from .settings.fields import ed25519_seed

    if ns.public:
        seed = sys.stdin.readline().strip()
        try:
            ed25519_seed(seed)
        except ValueError as exc:
            print(f"error: the private key on stdin {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(ed25519_public_b64(ed25519_key(seed)))
        return 0
    seed = new_ed25519_seed()
    print(f"texml_signing_key: {seed}  # secret: the account's setting")
    print(f"public_key: {ed25519_public_b64(ed25519_key(seed))}  # for its webhook receivers")
    return 0


def cmd_fakeswitch(argv: list[str]) -> int:
    """Pass the remaining arguments through to the simulator's own parser."""
    fakeswitch_main = import_entry("esl_recorder.testing.fakeswitch.__main__", "main")
    return EXIT_FAILURE if fakeswitch_main is None else int(fakeswitch_main(argv))


def import_entry(module: str, name: str) -> Callable[..., Any] | None:
    """`module.name`, or None after an error line if this build lacks that module."""
    import importlib

    try:
        entry: Callable[..., Any] = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (module + ".").startswith(exc.name + "."):
            raise  # a missing dependency inside the module: show the real traceback
        print(f"error: {module} is not part of this build", file=sys.stderr)
        return None
    return entry
