"""`python -m ftplab.client`."""

import sys

from .app import main

sys.exit(main())
