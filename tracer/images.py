"""The docker backend's images: `codealchemy/runtime-<id>:<version>-<content>`, one per language,
built from runtimes/<id>/Dockerfile with the docker SDK (`pip install 'codealchemy[docker]'`).

<content> is a short hash of what the image is made of: the Dockerfile and the files it COPYs
or ADDs from its folder (libraries.txt, scripts), so editing any of them names another image:
`trace runtimes list` calls the old one stale, `trace runtimes build` builds the new one, and
the docker backend only ever runs the image of the files as they are now.

Each runtime's libraries.txt (data, read by its Dockerfile) lists the libraries its image
installs, one a line: `NAME[@VERSION] [--installer-option ...] [IMPORT ...]`, `#` comments.
NAME is the package's name in that ecosystem; the IMPORTs are the names a program imports it
by where they differ (PyYAML: yaml), so a missing module can be traced back to its package.

Every Dockerfile starts FROM debian:bookworm-slim (Swift: the official `swift` image). Where no
registry is reachable, `bootstrap()` makes that base locally: debootstrap --variant=minbase
bookworm into a folder (from the Debian mirror this machine's apt uses), then `docker import`
under the tag debian:bookworm-slim, so the same Dockerfiles build offline and online.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .languages import RUNTIMES

BASE_IMAGE = "debian:bookworm-slim"
REPOSITORY = "codealchemy/runtime-{id}"
#: Images that cannot come from debian:bookworm-slim (they need a registry).
NEEDS_REGISTRY = {"swift": "FROM swift:6.0-bookworm, the official Swift image (Debian 12 has no Swift)"}
LABEL = "codealchemy.runtime"
LIBRARIES = "libraries.txt"
SOURCES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))
BASE_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

Progress = Callable[[str], None]


def version() -> str:
    try:
        from importlib.metadata import version as dist_version

        return dist_version("codealchemy")
    except Exception:   # not installed as a distribution (a source checkout on sys.path)
        text = (RUNTIMES.parent / "pyproject.toml").read_text()
        m = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
        return m.group(1) if m else "0"


def tag(lang_id: str, root: Path = RUNTIMES) -> str:
    """The image of runtimes/<lang_id> as its files are now (see the module's docstring)."""
    return f"{REPOSITORY.format(id=lang_id)}:{version()}-{content_hash(root / lang_id)}"


def context_files(folder: Path) -> list[Path]:
    """The Dockerfile and every file it COPYs or ADDs from its folder (not from a build stage),
    sorted: what the image is made of. A source that matches nothing is left out (the build
    fails on it anyway); a folder without a Dockerfile has none (its tag names no image)."""
    if not (folder / "Dockerfile").is_file():
        return []
    text = re.sub(r"\\\n", " ", (folder / "Dockerfile").read_text(encoding="utf-8"))
    found = {folder / "Dockerfile"}
    for line in text.splitlines():
        words = line.strip().split(None, 1)
        if len(words) < 2 or words[0].upper() not in ("COPY", "ADD"):
            continue
        rest = words[1].strip()
        args = _json_list(rest) if rest.startswith("[") else shlex.split(rest)
        flags = [a for a in args if a.startswith("--")]
        if any(f.startswith("--from") for f in flags):
            continue
        for source in [a for a in args if not a.startswith("--")][:-1]:
            for path in folder.glob(source.lstrip("/")) if source not in (".", "./") else [folder]:
                found.update(p for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file())
    return sorted(found)


def _json_list(text: str) -> list[str]:
    try:
        return [str(x) for x in json.loads(text)]
    except ValueError:
        return shlex.split(text)


def content_hash(folder: Path) -> str:
    """12 hex digits of sha256 over the context files' relative paths and contents."""
    h = hashlib.sha256()
    for path in context_files(folder):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:12]


def dockerfiles(root: Path = RUNTIMES) -> dict[str, Path]:
    """{language id: runtimes/<id> folder} for every runtime with a Dockerfile."""
    return {d.name: d for d in sorted(root.iterdir()) if (d / "Dockerfile").is_file()}


def default_ids(root: Path = RUNTIMES) -> list[str]:
    """What `trace runtimes build` builds with no ids: every image that needs no registry."""
    return [i for i in dockerfiles(root) if i not in NEEDS_REGISTRY]


@dataclass(frozen=True)
class Library:
    """One line of a runtime's libraries.txt."""

    name: str                       # the package as its ecosystem names it (PyYAML, serde, libgmp-dev)
    version: str | None = None      # the requirement after @ (as the installer reads it), if any
    options: tuple[str, ...] = ()   # --installer options for this package (--features=derive)
    imports: tuple[str, ...] = ()   # what a program imports it by, where that differs from name


def libraries(lang_id: str, root: Path = RUNTIMES) -> list[Library]:
    """The libraries runtimes/<lang_id>/libraries.txt lists ([] where it has none)."""
    path = root / lang_id / LIBRARIES
    if not path.is_file():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        m = re.fullmatch(r"(@?[^@\s]+)(?:@(\S+))?", words[0])
        if not m:
            raise ValueError(f"{path}:{n}: not NAME[@VERSION]: {words[0]!r}")
        out.append(Library(m.group(1), m.group(2), tuple(w for w in words[1:] if w.startswith("--")),
                           tuple(w for w in words[1:] if not w.startswith("--"))))
    return out


def package_for(lang_id: str, module: str, root: Path = RUNTIMES) -> str | None:
    """The listed package that provides `module` (a missing_dependency footer's name): by an
    import name or the package's own name, equal or as a prefix up to a `.` or `/` (Java
    packages, Go module paths, header folders), `-`, `_` and case aside. None if none does."""
    def norm(s: str) -> str:
        return re.sub(r"[-_]+", "-", s).lower()

    want = norm(module)
    for lib in libraries(lang_id, root):
        for name in (*lib.imports, lib.name):
            name = norm(name)
            if want == name or (want.startswith(name) and want[len(name)] in "./"):
                return lib.name
    return None


def client():
    """A docker SDK client of the engine DOCKER_HOST (or the local socket) names; RuntimeError if none."""
    try:
        import docker
    except ImportError:
        raise RuntimeError("the docker backend needs the docker SDK: pip install 'codealchemy[docker]'") from None
    try:
        c = docker.from_env(timeout=600)
        c.ping()
    except Exception as e:
        raise RuntimeError(f"no Docker engine reachable ({e}): install and start one (scripts/docker.sh)") from None
    return c


def built(c=None, root: Path = RUNTIMES) -> dict[str, dict]:
    """{language id: {tag, id, size, created, stale}} of the images built here: the image of the
    current files, else (stale: True) the newest one built from older files or another version."""
    c = c or client()
    out = {}
    for lang_id in dockerfiles(root):
        current = tag(lang_id, root)
        try:
            img, stale = c.images.get(current), False
        except Exception:
            older = c.images.list(filters={"label": f"{LABEL}={lang_id}"})
            if not older:
                continue
            img, stale = max(older, key=lambda i: i.attrs.get("Created", "")), True
        mine = [t for t in img.tags if t.startswith(REPOSITORY.format(id=lang_id) + ":")]
        out[lang_id] = {"tag": current if not stale else (mine or [img.short_id])[0], "id": img.short_id,
                        "size": img.attrs.get("Size", 0), "created": img.attrs.get("Created", ""), "stale": stale}
    return out


def prune(c=None, root: Path = RUNTIMES, *, dry_run: bool = False) -> list[dict]:
    """Remove the images of runtimes/<id> built from older files (each edit of a list or a
    Dockerfile leaves one behind, a few hundred MB to GBs): [{tag, id, size, removed, error}].
    The image of the current files is kept, and so is an image a container still uses."""
    c = c or client()
    out = []
    for lang_id in dockerfiles(root):
        current = tag(lang_id, root)
        for img in c.images.list(filters={"label": f"{LABEL}={lang_id}"}):
            if current in img.tags:
                continue
            row = {"tag": (img.tags or [img.short_id])[0], "id": img.short_id, "size": img.attrs.get("Size", 0),
                   "removed": False, "error": None}
            if not dry_run:
                try:
                    for t in img.tags or [img.id]:
                        c.images.remove(t)
                    row["removed"] = True
                except Exception as e:   # in use by a container, say: kept, and said why
                    row["error"] = str(e).splitlines()[0][:200]
            out.append(row)
    return out


def build(ids: list[str] | None = None, progress: Progress = print, *, no_cache: bool = False,
          force: bool = False, c=None, root: Path = RUNTIMES) -> dict[str, tuple[bool, float, str]]:
    """Build the images of `ids` (default: default_ids()) one after the other; an image of the
    current files that is already here is kept unless `force` or `no_cache`.

    Returns {id: (ok, seconds, last line or error)}; progress gets each step's output line."""
    c = c or client()
    known = dockerfiles(root)
    results: dict[str, tuple[bool, float, str]] = {}
    ca = extra_ca_certs()
    for lang_id in ids or default_ids(root):
        if lang_id not in known:
            results[lang_id] = (False, 0.0, f"no runtimes/{lang_id}/Dockerfile")
            progress(f"[{lang_id}] no runtimes/{lang_id}/Dockerfile")
            continue
        want = tag(lang_id, root)
        if not (force or no_cache):
            try:
                c.images.get(want)
            except Exception:
                pass
            else:
                results[lang_id] = (True, 0.0, "up to date")
                progress(f"[{lang_id}] {want} is up to date in 0 s")
                continue
        if lang_id not in NEEDS_REGISTRY:
            try:
                c.images.get(BASE_IMAGE)
            except Exception:
                progress(f"[{lang_id}] note: {BASE_IMAGE} is not here: it is pulled, or run `trace runtimes bootstrap`")
        started = time.monotonic()
        ok, last = True, ""
        try:
            for chunk in c.api.build(path=str(known[lang_id]), tag=want, rm=True, forcerm=True,
                                     decode=True, nocache=no_cache, pull=False,
                                     buildargs={"EXTRA_CA_CERTS": ca} if ca else None,
                                     labels={LABEL: lang_id, f"{LABEL}.version": version(),
                                             f"{LABEL}.content": content_hash(known[lang_id])}):
                if "error" in chunk:
                    ok, last = False, chunk["error"].strip()
                    progress(f"[{lang_id}] error: {last}")
                elif "stream" in chunk:
                    for line in chunk["stream"].splitlines():
                        if line.strip():
                            last = line.strip()
                            progress(f"[{lang_id}] {last}")
                elif "status" in chunk:
                    progress(f"[{lang_id}] {chunk['status']} {chunk.get('progress', '')}".rstrip())
        except Exception as e:
            ok, last = False, f"{type(e).__name__}: {e}"
            progress(f"[{lang_id}] error: {last}")
        secs = time.monotonic() - started
        results[lang_id] = (ok, secs, last)
        progress(f"[{lang_id}] {'built ' + want if ok else 'FAILED'} in {secs:.0f} s")
    return results


def extra_ca_certs() -> str:
    """The PEMs of this machine's locally added CAs (/usr/local/share/ca-certificates): passed to
    builds as the EXTRA_CA_CERTS build argument, so stages that fetch over TLS (npm, the Go module
    proxy) work behind a TLS-intercepting proxy too. Empty where there are none."""
    pems = []
    for crt in sorted(Path("/usr/local/share/ca-certificates").rglob("*.crt")):
        try:
            pems.append(crt.read_text().strip())
        except (OSError, UnicodeDecodeError):
            continue
    return "\n".join(p for p in pems if "BEGIN CERTIFICATE" in p)


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (read at run time, never hard-coded)."""
    for src in SOURCES:
        try:
            text = src.read_text()
        except OSError:
            continue
        if src.suffix == ".sources":   # deb822: URIs: <url> ... Suites: bookworm ...
            for block in re.split(r"\n\s*\n", text):
                uris = re.search(r"^URIs:\s*(\S+)", block, re.M)
                suites = re.search(r"^Suites:\s*(.+)$", block, re.M)
                if uris and (not suites or "security" not in suites.group(1).split()[0]) \
                        and "security" not in uris.group(1):
                    return uris.group(1)
        else:
            for line in text.splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[0] == "deb" and "security" not in parts[1]:
                    return next(p for p in parts[1:] if not p.startswith("["))
    raise RuntimeError("no Debian mirror in /etc/apt/sources.list(.d): pass --mirror")


def bootstrap(progress: Progress = print, *, mirror: str | None = None, suite: str = "bookworm",
              c=None, force: bool = False, as_tag: str = BASE_IMAGE) -> float:
    """debootstrap --variant=minbase `suite`, `docker import` as debian:bookworm-slim; seconds taken."""
    c = c or client()
    if not force:
        try:
            c.images.get(as_tag)
            progress(f"{as_tag} is already here (--force to rebuild it)")
            return 0.0
        except Exception:
            pass
    if shutil.which("debootstrap") is None:
        raise RuntimeError("debootstrap is not installed: apt-get install debootstrap (or run scripts/docker.sh)")
    if os.geteuid() != 0:
        raise RuntimeError("debootstrap needs root")
    mirror = mirror or debian_mirror()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="codealchemy-bootstrap-", dir="/var/tmp") as tmp:
        root = Path(tmp) / "rootfs"
        progress(f"debootstrap --variant=minbase {suite} from {mirror}")
        proc = subprocess.Popen(["debootstrap", "--variant=minbase", suite, str(root), mirror],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        tail = []
        for line in proc.stdout:
            tail = (tail + [line.rstrip()])[-20:]
            progress(line.rstrip())
        if proc.wait():
            raise RuntimeError("debootstrap failed:\n" + "\n".join(tail))
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for p in (root / junk).glob("*"):
                if p.is_file():
                    p.unlink()
        archive = Path(tmp) / "rootfs.tar"
        subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(archive), "."], check=True)
        progress(f"docker import as {as_tag}")
        repo, _, tg = as_tag.rpartition(":") if ":" in as_tag.rsplit("/", 1)[-1] else (as_tag, "", "latest")
        c.api.import_image_from_file(str(archive), repository=repo, tag=tg,
                                     changes=[f"ENV {BASE_ENV}", 'CMD ["bash"]'])
    secs = time.monotonic() - started
    progress(f"{as_tag} built in {secs:.0f} s")
    return secs
