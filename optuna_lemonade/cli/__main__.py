"""``python -m optuna_lemonade.cli``: the command."""

import sys

from optuna_lemonade.cli import main


sys.exit(main())
