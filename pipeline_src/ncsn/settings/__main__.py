"""``python -m ncsn.settings PAGE.md``: rewrite the parameter table and the steps table between the page's markers."""

import sys
from pathlib import Path

from ncsn.settings.table import with_parameter_table, with_steps_table

for page in map(Path, sys.argv[1:]):
    page.write_text(with_steps_table(with_parameter_table(page.read_text(encoding="utf-8"))), encoding="utf-8")
