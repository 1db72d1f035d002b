"""Print the packages (of one kind: debian or npm) of every toolchain whose commands are missing.

Reads runtimes/*/runtime.toml ([toolchain] commands, debian, npm) so the set-up never keeps
a second list of languages. Standard library only: it runs before anything is installed.
"""

import shutil
import sys
import tomllib
from pathlib import Path

kind = sys.argv[1] if len(sys.argv) > 1 else "debian"
runtimes = Path(__file__).resolve().parent.parent / "runtimes"
wanted: list[str] = []
for toml in sorted(runtimes.glob("*/runtime.toml")):
    toolchain = tomllib.loads(toml.read_text(encoding="utf-8")).get("toolchain", {})
    if any(shutil.which(cmd) is None for cmd in toolchain.get("commands", [])):
        wanted += [p for p in toolchain.get(kind, []) if p not in wanted]
if wanted:
    print("\n".join(wanted))
