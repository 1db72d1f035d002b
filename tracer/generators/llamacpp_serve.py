"""llama.cpp's server, bound to the process that started it: `python -m
codealchemy.tracer.generators.llamacpp_serve OWNER_PID SERVER_ARGS…` runs `llama_cpp.server` and
exits as soon as OWNER_PID is no longer its parent. The server runs in its own session (so that
it can be stopped as a whole), which a killed owner's death would not reach: without this, a
`kill -9` of a pipeline would leave a model server running."""

from __future__ import annotations

import os
import runpy
import sys
import threading
import time


def _watch(owner: int) -> None:
    while os.getppid() == owner:
        time.sleep(0.5)
    os._exit(0)


if __name__ == "__main__":
    owner = int(sys.argv[1])
    threading.Thread(target=_watch, args=(owner,), daemon=True).start()
    sys.argv = ["llama_cpp.server", *sys.argv[2:]]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
