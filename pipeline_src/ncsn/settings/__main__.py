"""``python -m ncsn.settings PAGE.md ...``: rewrite the generated tables (parameters, steps, envelopes)
between each page's markers."""

import sys
from pathlib import Path

from ncsn.settings.table import with_generated_tables

for page in map(Path, sys.argv[1:]):
    page.write_text(with_generated_tables(page.read_text(encoding="utf-8")), encoding="utf-8")
