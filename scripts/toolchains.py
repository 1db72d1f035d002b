"""What the set-up needs from every runtimes/<id>/runtime.toml [toolchain] table.

    python3 scripts/toolchains.py debian|npm   the packages that bring the missing commands
    python3 scripts/toolchains.py prepare      run each present toolchain's `prepare` argv (in its
                                               runtime folder), e.g. warming Go's build cache

Installs go per missing command, never per language: a present toolchain is never installed
again (NodeSource's nodejs, with its own npm, conflicts with Debian's npm), and a missing
`tsc` only needs npm. Reading the runtime folders keeps the set-up from holding a second list
of languages. Standard library only: it runs before anything is installed.
"""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

RUNTIMES = Path(__file__).resolve().parent.parent / "runtimes"


def toolchains():
    for toml in sorted(RUNTIMES.glob("*/runtime.toml")):
        yield toml.parent, tomllib.loads(toml.read_text(encoding="utf-8")).get("toolchain", {})


def main(kind: str) -> int:
    if kind == "prepare":
        for folder, toolchain in toolchains():
            if toolchain.get("prepare") and all(map(shutil.which, toolchain.get("commands", {}))):
                subprocess.run(toolchain["prepare"], cwd=folder, check=True)
        return 0
    wanted: list[str] = []
    for _, toolchain in toolchains():
        for command, how in toolchain.get("commands", {}).items():
            if shutil.which(command) is None:
                wanted += [p for p in how.get(kind, []) if p not in wanted]
    if wanted:
        print("\n".join(wanted))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "debian"))
