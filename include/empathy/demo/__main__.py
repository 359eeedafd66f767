"""`python -m empathy.demo` = `python -m empathy demo-data`."""
import sys

from empathy.demo.cli import main

sys.exit(main())
