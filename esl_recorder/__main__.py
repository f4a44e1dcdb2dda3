"""`python -m esl_recorder` is the `esl-recorder` console script (see esl_recorder.cli)."""

import sys

from esl_recorder.cli import main

if __name__ == "__main__":
    sys.exit(main())
