import sys

from hanprompt.cli import entry

sys.exit(entry())
