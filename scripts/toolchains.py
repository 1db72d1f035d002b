"""What the set-up needs from every runtimes/<id>/runtime.toml [toolchain] table.

    python3 scripts/toolchains.py debian|npm   the packages of toolchains whose commands are missing
    python3 scripts/toolchains.py prepare      run each present toolchain's `prepare` argv (in its
                                               runtime folder), e.g. warming Go's build cache

Reading the runtime folders keeps the set-up from holding a second list of languages.
Standard library only: it runs before anything is installed.
"""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

RUNTIMES = Path(__file__).resolve().parent.parent / "runtimes"


def toolchains():
    for toml in sorted(RUNTIMES.glob("*/runtime.toml")):
        toolchain = tomllib.loads(toml.read_text(encoding="utf-8")).get("toolchain", {})
        present = all(shutil.which(cmd) for cmd in toolchain.get("commands", []))
        yield toml.parent, toolchain, present


def main(kind: str) -> int:
    if kind == "prepare":
        for folder, toolchain, present in toolchains():
            if present and toolchain.get("prepare"):
                subprocess.run(toolchain["prepare"], cwd=folder, check=True)
        return 0
    wanted: list[str] = []
    for _, toolchain, present in toolchains():
        if not present:
            wanted += [p for p in toolchain.get(kind, []) if p not in wanted]
    if wanted:
        print("\n".join(wanted))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "debian"))
