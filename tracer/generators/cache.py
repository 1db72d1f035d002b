"""The response cache: a content-addressed store of completions, so that a rerun costs nothing
and a killed run resumes where its last finished generate() call left off.

The key is the sha256 of what decides an answer: the generator's name, its model, the sampling
params and the request's messages or prompt (never its id, so the same prompt asked by two
strategies is answered once). Failed completions are never stored: a rerun tries them again.
One SQLite file in WAL mode: readers never wait for the writer, any number of processes (pool
workers, several runs) share it, and a process killed mid-write leaves it consistent.

The directory is `cache_dir`, else $CODEALCHEMY_CACHE, else ~/.cache/codealchemy;
`with_cache(gen, enabled=False)` (the CLI's --no-cache) leaves the generator as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from . import Completion, GenerationParams, Generator, GeneratorError, Request

CACHE_FILE = "responses.sqlite3"
_CHUNK = 500  # keys per SELECT … IN (…): well under SQLite's variable limit


def default_cache_dir() -> Path:
    return Path(os.environ.get("CODEALCHEMY_CACHE") or Path.home() / ".cache" / "codealchemy")


def cache_key(generator: str, model: str, params: GenerationParams, request: Request) -> str:
    doc = {"generator": generator, "model": model, "params": params.to_dict(), "request": request.payload()}
    blob = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """key -> completion (without its id). Safe to share between threads and processes."""

    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.path = self.directory / CACHE_FILE
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise GeneratorError(f"cannot create the response cache {self.directory}: {e.strerror or e}") from None
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._db()

    def _db(self) -> sqlite3.Connection:
        """The connection of this process (one opened before a fork is not used after it)."""
        if self._conn is None or self._pid != os.getpid():
            try:
                conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
                             "generator TEXT NOT NULL, model TEXT NOT NULL, created REAL NOT NULL) WITHOUT ROWID")
            except sqlite3.Error as e:
                raise GeneratorError(f"cannot open the response cache {self.path}: {e}") from None
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def __getstate__(self) -> dict:
        return {"directory": self.directory, "path": self.path}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _lock=threading.Lock(), _conn=None, _pid=-1)

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        keys = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        with self._lock:
            db = self._db()
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i:i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for key, value in db.execute(f"SELECT key, value FROM responses WHERE key IN ({marks})", chunk):
                    found[key] = json.loads(value)
        return found

    def put_many(self, items: Iterable[tuple[str, str, str, Completion]]) -> None:
        """(key, generator, model, completion) rows, in one transaction."""
        now = time.time()
        rows = [(key, json.dumps(_stored(c), ensure_ascii=False), gen, model, now) for key, gen, model, c in items]
        if not rows:
            return
        with self._lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?)", rows)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def __len__(self) -> int:
        with self._lock:
            return self._db().execute("SELECT count(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


def _stored(c: Completion) -> dict[str, Any]:
    d = c.to_dict()
    del d["id"], d["cached"]
    return d


class CachedGenerator:
    """A generator whose already-answered requests come from the cache (`cached=True`); the rest,
    each distinct one once, go to the wrapped generator in one call, and its successes are stored."""

    def __init__(self, inner: Generator, cache: ResponseCache):
        self.inner, self.cache = inner, cache
        self.hits = self.misses = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def failures(self) -> list:
        return getattr(self.inner, "failures", [])

    def generate(self, requests: Sequence[Request], params: GenerationParams) -> list[Completion]:
        name, model = self.inner.name, self.inner.model
        keys = [cache_key(name, model, params, r) for r in requests]
        stored = self.cache.get_many(keys)
        todo: dict[str, Request] = {}
        for key, req in zip(keys, requests, strict=True):
            if key not in stored and key not in todo:
                todo[key] = req
        fresh: dict[str, Completion] = {}
        if todo:
            answers = self.inner.generate(list(todo.values()), params)
            if len(answers) != len(todo):
                raise GeneratorError(f"generator {name!r} gave {len(answers)} completions for {len(todo)} requests")
            fresh = dict(zip(todo, answers, strict=True))
            self.cache.put_many((k, name, model, c) for k, c in fresh.items() if c.error is None)
        out = []
        for key, req in zip(keys, requests, strict=True):
            if key in stored:
                out.append(Completion.from_dict({**stored[key], "id": req.id, "cached": True}))
            else:
                c = fresh[key]
                out.append(c if c.id == req.id else Completion.from_dict({**c.to_dict(), "id": req.id}))
        self.hits += len(requests) - len(todo)
        self.misses += len(todo)
        return out

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()
        self.cache.close()


def with_cache(generator: Generator, cache_dir: str | Path | None = None, enabled: bool = True) -> Generator:
    """The generator behind the response cache in `cache_dir`, or as it is when not `enabled`."""
    return CachedGenerator(generator, ResponseCache(cache_dir)) if enabled else generator
