"""CodeAlchemy runner for SQL (SQLite): runs a script statement by statement and reports.

Started by runtimes/sql/runtime.toml as `/usr/bin/python3 codealchemy_sql.py main.sql` when the
trace channel is open (untraced runs use the sqlite3 CLI itself). Standard library only. It
reads the script the way the sqlite3 CLI does (`sqlite3 -batch :memory: < main.sql`): line by
line, running the buffered text each time a line ends a complete statement; a buffer holding
several statements runs them in order and gives up on the rest of the buffer at the first
error; after an error the script goes on; the exit status is 1 when any statement failed.
Result rows are printed in the CLI's default list mode (columns joined by "|", NULL as an
empty string, numbers as SQLite's own text conversion gives them).

Each statement starts with a marker comment `/*@ca ID*/` written by the rewriter; ID is the
statement's probe. Channel records (tracer/wire.py): `l ID 1 0` before each statement, `o`
for its output, `x ID 1 0 TYPE MESSAGE` for its error, then `v 1 NAME VALUE...` with the state
it left: `changes` (rows changed, after INSERT/UPDATE/DELETE) and, for each table it wrote,
created or altered, the table's rows up to ROW_LIMIT, e.g. `[(1, 'ann'), (2, NULL)]`.
"""

from __future__ import annotations

import os
import re
import sqlite3
import sys

ROW_LIMIT = 20
MARK = re.compile(r"/\*@ca (\d+)\*/")
# blanks and comments; like the CLI's _all_whitespace, an unterminated /* comment is not blank
_SPACE = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*(?:[^*]|\*(?!/))*\*/)*")

# sqlite3_set_authorizer action codes: (code) -> (index of the table name, index of the db name)
_WRITES = {
    18: (0, 2),  # SQLITE_INSERT
    23: (0, 2),  # SQLITE_UPDATE
    9: (0, 2),   # SQLITE_DELETE
    2: (0, 2),   # SQLITE_CREATE_TABLE
    4: (0, 2),   # SQLITE_CREATE_TEMP_TABLE
    11: (0, 2),  # SQLITE_DROP_TABLE
    13: (0, 2),  # SQLITE_DROP_TEMP_TABLE
    26: (1, 0),  # SQLITE_ALTER_TABLE
}
_DML = {18, 23, 9}
_DROPS = {11, 13}


def all_whitespace(text: str) -> bool:
    """Only spaces and comments (the CLI's _all_whitespace)."""
    return _SPACE.fullmatch(text) is not None


def skip_space(text: str, pos: int = 0) -> int:
    return _SPACE.match(text, pos).end()


def statements(buffer: str) -> list[tuple[int, int]]:
    """(start, end) of each statement of a buffer, the way sqlite3_prepare walks it."""
    out = []
    start = 0
    n = len(buffer)
    while True:
        start = skip_space(buffer, start)
        if start >= n or buffer.startswith("/*", start):  # the end, or a comment left open
            return out
        end = None
        i = buffer.find(";", start)
        while i != -1:
            if sqlite3.complete_statement(buffer[start:i + 1]):
                end = i + 1
                break
            i = buffer.find(";", i + 1)
        if end is None:
            out.append((start, n))
            return out
        if buffer[start:end].strip() != ";":
            out.append((start, end))
        start = end


def cli_buffers(text: str):
    """(start line, buffer) in the order the sqlite3 CLI runs them; offsets into `text` too.

    Yields (startline, start_offset, buffer): buffer is text[start_offset:...] less the
    leading blanks of its first line, joined by newlines as the CLI joins lines."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    buf: list[str] = []
    startline = 0
    start_off = 0
    off = 0
    for lineno, line in enumerate(lines, 1):
        line_off = off
        off += len(line) + 1
        if not buf and all_whitespace(line):
            continue
        if not buf:
            stripped = line.lstrip()
            start_off = line_off + len(line) - len(stripped)
            buf = [stripped]
            startline = lineno
        else:
            buf.append(line)
        joined = "\n".join(buf)
        if not all_whitespace(joined) and sqlite3.complete_statement(joined):
            yield startline, start_off, joined
            buf = []
        elif all_whitespace(joined):
            buf = []
    if buf:
        joined = "\n".join(buf)
        if not all_whitespace(joined):
            yield startline, start_off, joined


def split_script(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets in `text` of every statement the CLI would run (the rewriter's view)."""
    out = []
    for _, base, buffer in cli_buffers(text):
        out.extend((base + s, base + e) for s, e in statements(buffer))
    return out


def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class _Nulls(dict):
    """Named parameters the script never set: the CLI leaves them unbound, that is NULL."""

    def __missing__(self, key):
        return None


_POSITIONAL = re.compile(r"uses (\d+), and there are 0 supplied")


EQP = re.compile(r"EXPLAIN\s+QUERY\s+PLAN\b", re.I)
EXPLAINED = re.compile(r"EXPLAIN(\s+QUERY\s+PLAN)?\b", re.I)


def eqp_text(rows) -> str:
    """EXPLAIN QUERY PLAN rows (id, parent, notused, detail) drawn as the CLI draws them:
    `QUERY PLAN`, then the tree with `|--`/`` `-- `` branches (shell.c, eqp_render)."""
    if not rows:
        return ""
    out = ["QUERY PLAN\n"]

    def level(parent: int, prefix: str) -> None:
        kids = [r for r in rows if r[1] == parent]
        for i, (eid, _parent, _unused, detail) in enumerate(kids):
            last = i == len(kids) - 1
            out.append(f"{prefix}{'`--' if last else '|--'}{detail}\n")
            if len(prefix) < 100 - 7:
                level(eid, prefix + ("   " if last else "|  "))

    level(0, "")
    return "".join(out)


#: EXPLAIN's bytecode listing as the CLI draws it (shell.c, MODE_Explain): column widths, and
#: the opcodes whose jumps indent a loop's body (explain_data_prepare).
EXPLAIN_COLUMNS = (("addr", 4), ("opcode", 13), ("p1", 4), ("p2", 4), ("p3", 4), ("p4", 13), ("p5", 2),
                   ("comment", 13))
EXPLAIN_NEXT = {"Next", "Prev", "VPrev", "VNext", "SorterNext", "NextIfOpen", "PrevIfOpen"}
EXPLAIN_YIELD = {"Yield", "SeekLT", "SeekGT", "RowSetRead", "Rewind"}


def explain_text(rows: list[list[str]]) -> bytes:
    """EXPLAIN rows (addr, opcode, p1..p5, comment; as the CLI prints each value) laid out as
    the CLI lays them out: columns padded to their width in characters under a header, the last
    one not padded, loop bodies indented by 2."""
    indent = [0] * len(rows)
    yields = [False] * len(rows)
    for i, row in enumerate(rows):
        op, target = row[1], int(row[3] or 0) + i - int(row[0] or 0)
        if op in EXPLAIN_NEXT and target > 0:
            for j in range(target, i):
                indent[j] += 2
        if op == "Goto" and 0 <= target < i and (yields[target] or int(row[2] or 0)):
            for j in range(target, i):
                indent[j] += 2
        yields[i] = op in EXPLAIN_YIELD
    last = len(EXPLAIN_COLUMNS) - 1
    out = ["  ".join(name.ljust(w) for name, w in EXPLAIN_COLUMNS) + "\n",
           "  ".join("-" * w for _, w in EXPLAIN_COLUMNS) + "\n"]
    for i, row in enumerate(rows):
        cells = [(" " * indent[i] if c == 1 else "") + v.ljust(0 if c == last else w)
                 for c, (v, (_, w)) in enumerate(zip(row, EXPLAIN_COLUMNS, strict=False))]
        out.append("  ".join(cells) + "\n")
    return "".join(out).encode("utf-8")


def execute(db: sqlite3.Connection, sql: str) -> sqlite3.Cursor:
    """db.execute, with every parameter (`?`, `?1`, `:name`, `@name`, `$name`) as NULL."""
    try:
        return db.execute(sql)
    except sqlite3.ProgrammingError as e:
        m = _POSITIONAL.search(str(e))
        if m:
            return db.execute(sql, [None] * int(m.group(1)))
        if "binding" not in str(e).lower():
            raise
        return db.execute(sql, _Nulls())


class Runner:
    def __init__(self, fd: int | None):
        self.chan = os.fdopen(fd, "w", encoding="utf-8", errors="replace", buffering=1 << 16) if fd else None
        self.max_events = int(os.environ.get("CODEALCHEMY_MAX_EVENTS", "100000"))
        self.max_value = int(os.environ.get("CODEALCHEMY_MAX_VALUE", "200"))
        self.events = 0
        self.db = sqlite3.connect(":memory:", isolation_level=None, cached_statements=0)
        self.db.text_factory = lambda b: b.decode("utf-8", "replace")
        self.touched: dict[tuple[str, str], int] = {}
        self.known: dict[tuple[str, str], int] = {}  # tables reported so far
        self.errors = 0
        self.out = sys.stdout.buffer
        self.err = sys.stderr.buffer

    # --- channel --------------------------------------------------------------------------
    def record(self, *fields: str, event: bool = True) -> None:
        if self.chan is None:
            return
        if event:
            if self.events >= self.max_events:
                self.chan.write("t\tmax_events\n")
                self.chan.flush()
                self.chan = None
                return
            self.events += 1
        self.chan.write("\t".join(fields) + "\n")

    def cut(self, value: str) -> str:
        return value if len(value) <= self.max_value else value[:self.max_value - 1] + "…"

    def output(self, stream: int, data: bytes) -> None:
        (self.out if stream == 1 else self.err).write(data)
        self.record("o", str(stream), escape(data.decode("utf-8", "replace")), event=False)

    # --- values ---------------------------------------------------------------------------
    def real_text(self, value: float) -> str:
        """SQLite's own text for a REAL (the CLI prints what sqlite3_column_text gives)."""
        return self.db.execute("SELECT CAST(? AS TEXT)", (value,)).fetchone()[0]

    def cli_text(self, value) -> bytes:
        if value is None:
            return b""
        if isinstance(value, float):
            return self.real_text(value).encode()
        if isinstance(value, bytes):
            return value.split(b"\0", 1)[0]
        return str(value).split("\0", 1)[0].encode("utf-8", "replace")

    def literal(self, value) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, float):
            return self.real_text(value)
        if isinstance(value, bytes):
            return "X'" + value.hex().upper() + "'"
        if isinstance(value, str):
            return "'" + value.replace("'", "''") + "'"
        return str(value)

    def table_rows(self, db: str, table: str) -> str:
        name = f'"{db.replace(chr(34), chr(34) * 2)}"."{table.replace(chr(34), chr(34) * 2)}"'
        try:
            cur = self.db.execute(f"SELECT * FROM {name} LIMIT {ROW_LIMIT + 1}")
        except sqlite3.Error:
            return "<dropped>"
        parts = []
        size = 1
        for i, row in enumerate(cur):
            if i == ROW_LIMIT or size > self.max_value:
                parts.append("…")
                break
            text = "(" + ", ".join(self.literal(v) for v in row) + ")"
            parts.append(text)
            size += len(text) + 2
        return "[" + ", ".join(parts) + "]"

    # --- running --------------------------------------------------------------------------
    def authorize(self, action, arg1, arg2, dbname, source):
        where = _WRITES.get(action)
        if where is not None:
            args = (arg1, arg2, dbname)
            table, db = args[where[0]], args[where[1]] or "main"
            if table and not table.lower().startswith("sqlite_"):
                self.touched.setdefault((db, table), action)
                if action in _DML:
                    self.dml = True
        return sqlite3.SQLITE_OK

    def fail(self, probe: int | None, kind: str, line: int, e: sqlite3.Error) -> None:
        code = getattr(e, "sqlite_errorcode", None)
        name = getattr(e, "sqlite_errorname", None) or type(e).__name__
        msg = str(e)
        if probe is not None:
            self.record("x", str(probe), "1", "0", escape(name), escape(self.cut(msg)))
        suffix = f" ({code & 0xFF})" if kind == "Runtime error" and code is not None and code & 0xFF > 1 else ""
        self.output(2, f"{kind} near line {line}: {msg}{suffix}\n".encode("utf-8", "replace"))
        self.errors += 1

    def run_statement(self, lead: str, sql: str, startline: int) -> bool:
        """Run one statement; `lead` is the blank/comment text before it (it holds the marker)."""
        marks = MARK.findall(lead)
        probe = int(marks[-1]) if marks else None
        if probe is not None:
            self.record("l", str(probe), "1", "0")
        body = sql
        # compile first (EXPLAIN of the statement, of the explained one for EXPLAIN ...) to
        # tell the CLI's parse errors from run-time errors
        explained = EXPLAINED.match(body)
        check = body[explained.end():] if explained else body
        if check.strip():
            try:
                execute(self.db, "EXPLAIN " + check).fetchone()
            except sqlite3.Error as e:
                self.fail(probe, "Parse error", startline, e)
                return False
            except sqlite3.Warning:
                pass  # more than one statement: let the real run say so
        self.touched = {}
        self.dml = False
        head = body[:8].upper()
        before = self.tables() if head.startswith("ALTER") else None
        self.db.set_authorizer(self.authorize)
        chunks: list[bytes] = []
        failed = None
        try:
            cur = execute(self.db, sql)
            self.db.set_authorizer(None)
            if cur.description is not None:
                if EQP.match(body):
                    chunks.append(eqp_text(cur.fetchall()).encode("utf-8"))
                elif explained:
                    chunks.append(explain_text([[self.cli_text(v).decode("utf-8", "replace") for v in row]
                                                for row in cur]))
                else:
                    for row in cur:
                        chunks.append(b"|".join(self.cli_text(v) for v in row) + b"\n")
        except (sqlite3.Error, sqlite3.Warning) as e:
            failed = e
        finally:
            self.db.set_authorizer(None)
        if chunks:
            self.output(1, b"".join(chunks))
        if failed is not None:
            if isinstance(failed, sqlite3.Warning):
                failed = sqlite3.ProgrammingError(str(failed))
            self.fail(probe, "Runtime error", startline, failed)
        if before is not None:  # ALTER TABLE ... RENAME TO: the new name is a new table
            for key in self.tables() - before:
                self.touched.setdefault(key, 2)
        if head.startswith("ROLLBACK"):  # tables shown before may have gone back
            for key in self.known:
                self.touched.setdefault(key, 23)
        self.state()
        return failed is None

    def tables(self) -> set[tuple[str, str]]:
        found = set()
        for db in [row[1] for row in self.db.execute("PRAGMA database_list")]:
            quoted = db.replace('"', '""')
            for (name,) in self.db.execute(f'SELECT name FROM "{quoted}".sqlite_master WHERE type = \'table\''):
                if not name.lower().startswith("sqlite_"):
                    found.add((db, name))
        return found

    def state(self) -> None:
        if self.chan is None or not self.touched:
            return
        if any(db != "main" for db, _ in self.touched):
            # VACUUM writes a copy through a database it attaches for the time of the
            # statement (vacuum_db): only databases still attached have tables to show
            dbs = {row[1] for row in self.db.execute("PRAGMA database_list")}
            self.touched = {key: action for key, action in self.touched.items() if key[0] in dbs}
            if not self.touched:
                return
        self.known.update(self.touched)
        pairs = []
        if self.dml:
            pairs += ["changes", str(self.db.execute("SELECT changes()").fetchone()[0])]
        for (db, table), action in self.touched.items():
            label = table if db == "main" else f"{db}.{table}"
            value = "<dropped>" if action in _DROPS else self.table_rows(db, table)
            pairs += [escape(label), escape(self.cut(value))]
        self.record("v", "1", *pairs, event=False)

    def run(self, text: str) -> int:
        for startline, _, buffer in cli_buffers(text):
            prev = 0
            for s, e in statements(buffer):
                if not self.run_statement(buffer[prev:s], buffer[s:e], startline):
                    break
                prev = e
            if self.chan is not None:
                self.chan.flush()
            self.out.flush()
            self.err.flush()
        if self.chan is not None:
            self.chan.flush()
        return 1 if self.errors else 0


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "main.sql"
    with open(path, encoding="utf-8", errors="replace") as fh:
        text = fh.read()
    fd = os.environ.get("CODEALCHEMY_TRACE_FD")
    runner = Runner(int(fd) if fd else None)
    try:
        return runner.run(text)
    finally:
        runner.out.flush()
        runner.err.flush()


if __name__ == "__main__":
    sys.exit(main())
