"""`python -m garrison ...` is the `garrison` command."""

import sys

from garrison.cli.main import main

sys.exit(main())
