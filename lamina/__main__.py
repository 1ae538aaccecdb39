import sys

from lamina.cli.main import main

sys.exit(main())
