"""``python -m protoecg_cli ...``: the same command as the installed ``protoecg`` entry point."""
import sys

from protoecg_cli import main

sys.exit(main())
