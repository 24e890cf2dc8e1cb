"""Rewrite the settings table of README.md from memetrack.config (run after adding a setting)."""

import re
from pathlib import Path

from memetrack.config import documented_settings

readme = Path(__file__).resolve().parent.parent / "README.md"
rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
rows += [f"| `{name}` | `{default}` | {text} |" for name, default, text in documented_settings()]
table = "<!-- settings:start -->\n" + "\n".join(rows) + "\n<!-- settings:end -->"
text = readme.read_text()
if "SETTINGS_TABLE" in text:
    text = text.replace("SETTINGS_TABLE", table)
else:
    text = re.sub(r"<!-- settings:start -->.*?<!-- settings:end -->", table, text, flags=re.S)
readme.write_text(text)
print(f"{len(rows) - 2} settings written to {readme}")
