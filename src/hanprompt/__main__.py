import sys

from hanprompt.cli import main

sys.exit(main())
