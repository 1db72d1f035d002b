"""Run folders and compile-server spools of the `local` backend: made with the owner's pid in
their names, removed whatever a program left in them, and swept when their owner died.

A run folder lives on /dev/shm when runs have a memory cgroup (up to the memory limit of RAM
per run), so one left behind costs the host memory until reboot: its removal must not depend
on the program's good will (a tree deeper than a recursive removal goes, folders without
permissions) nor on the host process living on (a SIGKILLed worker leaves its folders; the next
backend on the machine sweeps those whose owner is gone, as cgroups.py does for cgroups).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

RUN, SPOOL = "codealchemy-run-", "codealchemy-spool-"
_OWNED = re.compile(rf"^(?:{RUN}|{SPOOL})(\d+)-")


def make(base: str | None, kind: str) -> Path:
    """A new folder of `kind` (RUN or SPOOL) in `base` (None: the temp dir), named by our pid."""
    return Path(tempfile.mkdtemp(prefix=f"{kind}{os.getpid()}-", dir=base))


def remove(path: Path) -> str | None:
    """Remove `path` and all in it; None when gone, else why not."""
    try:
        shutil.rmtree(path)
        return None
    except FileNotFoundError:
        return None
    except (OSError, RecursionError):   # too deep for rmtree's recursion, or a folder we may not enter
        pass
    if os.geteuid() != 0:   # (root enters any folder)
        subprocess.run(["chmod", "-R", "u+rwx", "--", str(path)], capture_output=True, stdin=subprocess.DEVNULL)
    done = subprocess.run(["rm", "-rf", "--one-file-system", "--", str(path)], capture_output=True,
                          stdin=subprocess.DEVNULL)
    if not os.path.lexists(path):
        return None
    return f"{path} not removed: {done.stderr.decode('utf-8', 'replace').strip()[-300:]}"


def sweep(base: str | None) -> list[str]:
    """Remove run folders and spools in `base` whose owner process is gone; notes on failures."""
    root = Path(base or tempfile.gettempdir())
    try:
        names = os.listdir(root)
    except OSError:
        return []
    notes = []
    for name in names:
        m = _OWNED.match(name)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            why = remove(root / name)
            if why:
                notes.append(why)
    return notes
