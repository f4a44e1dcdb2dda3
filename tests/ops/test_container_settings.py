"""The daemon understands every ESL_RECORDER_* variable the image and the compose file set
(a renamed setting would otherwise be ignored with a warning nobody reads in a container)."""

from __future__ import annotations

import re

from .dockerfiles import instructions
from .ops_files import COMPOSE, DOCKER, check_config, load_yaml

INTERPOLATION = re.compile(r"\$\{(\w+)(?::?[-?]([^}]*))?\}")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}, from `env` or the default."""
    return INTERPOLATION.sub(lambda m: env.get(m.group(1), m.group(2) or ""), value)


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for step in instructions(DOCKER / "Dockerfile"):
        if step.keyword == "ENV":
            for pair in step.args.split():
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def test_the_image_and_compose_settings_are_all_understood() -> None:
    secret = "s3cret-for-the-test"
    compose_env = load_yaml(COMPOSE)["services"]["esl_recorder"]["environment"]
    env = {k: v for k, v in image_env().items() if k.startswith("ESL_RECORDER_")}
    env.update({k: interpolate(str(v), {"ESL_PASSWORD": secret})
                for k, v in compose_env.items()})
    assert env["ESL_RECORDER_NODE_FS1_PASSWORD"] == secret
    out = check_config(env)
    assert secret not in out.stdout + out.stderr
    for expected in ("0.0.0.0", "8080", "freeswitch", "loopback/{to}/rectest", "json"):
        assert expected in out.stdout, expected
