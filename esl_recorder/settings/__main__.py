"""`python -m esl_recorder.settings yaml|markdown` prints the generated docs."""

from __future__ import annotations

import sys

from .describe import default_config_yaml, settings_reference_markdown


def main(argv: list[str] | None = None) -> int:
    what = (argv if argv is not None else sys.argv[1:]) or ["yaml"]
    makers = {"yaml": default_config_yaml, "markdown": settings_reference_markdown}
    if what[0] not in makers:
        print(f"usage: python -m esl_recorder.settings {'|'.join(makers)}", file=sys.stderr)
        return 2
    sys.stdout.write(makers[what[0]]())
    return 0


if __name__ == "__main__":
    sys.exit(main())
