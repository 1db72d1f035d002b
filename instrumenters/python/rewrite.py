"""Python rewriter: probes that make a program report what sys.settrace would show.

Every probe goes on the line of the statement it reports, so line numbers and tracebacks stay
those of the original program:

- simple statements get a prefix, `_ca_.l(P, a, b); stmt` (the values carried are those the
  previous statement may have changed; a statement that ends a block reports its own with a
  suffix `; _ca_.v(K, x)`);
- `if`/`elif`/`while` conditions become `_ca_.l(P) or (cond)`; a `for` iterable is wrapped
  (`_ca_.it`) so that every step back to the loop header is a line event; a `with` context
  manager is wrapped so that its exit shows the `with` line again; `except` types run the probes
  that first see the exception;
- a function body starts with its call probe, `return x` becomes `return _ca_.r(P, x)`, and
  the places where a function falls off its end get a return probe;
- `yield`, lambdas and comprehensions are wrapped so that their frames report as CPython's do.

Scope rules (which names a frame shows) come from the stdlib `symtable`, run on the source.
"""

# The rewriter writes Python source from templates; printf-style templates read best here.
# ruff: noqa: UP031
from __future__ import annotations

import bisect
import re
import symtable
import warnings

from codealchemy.tracer.instrument import Rewrite, SkipProgram

#: The prelude's folder (on PYTHONPATH, runtime.toml), hidden: a program that lists its folder
#: (os.walk, glob) sees its own files.
PRELUDE_DIR = ".codealchemy"

SIMPLE = {
    "expression_statement", "return_statement", "pass_statement", "break_statement",
    "continue_statement", "raise_statement", "import_statement", "import_from_statement",
    "future_import_statement", "global_statement", "nonlocal_statement", "assert_statement",
    "delete_statement", "print_statement", "exec_statement", "type_alias_statement",
}
COMPS = {"list_comprehension": "<listcomp>", "set_comprehension": "<setcomp>",
         "dictionary_comprehension": "<dictcomp>", "generator_expression": "<genexpr>"}
NESTED = {"function_definition", "class_definition", "lambda", *COMPS}
CONDITIONAL = {"boolean_operator", "conditional_expression"}
PRE = -10**6   # statement prefixes: before any expression edit at the same byte
POST = 10**6   # statement suffixes: after every closing edit at the same byte


LPROBE = re.compile(r"_ca_\.[lu]\d?\((\d+)(?:, (.*))?\)")


def parse_lprobe(text: str):
    """(probe id, values text) of a line probe call `_ca_.lN(P, ...)`, else None."""
    m = LPROBE.fullmatch(text)
    return (int(m.group(1)), m.group(2) or "") if m else None


def line(node) -> int:
    return node.start_point[0] + 1


def end_line(node) -> int:
    return node.end_point[0] + 1


def depth(node) -> int:
    n = 0
    while node.parent is not None:
        node = node.parent
        n += 1
    return n


def named(node):
    return [c for c in node.named_children if c.type != "comment"]


class Scope:
    def __init__(self, kind, func, table, parent=None, node=None):
        self.kind = kind              # module | function | class | lambda | comp
        self.func = func
        self.table = table
        self.parent = parent
        self.node = node
        self.gen = False
        self.visible: set[str] = set()
        self.on_call: list[str] = []  # names other scopes may rebind when something is called
        self.params: set[str] = set()
        self.pc = -1
        if table is None:
            return
        if kind in ("function", "lambda"):
            self.visible = set(table.get_locals()) | set(table.get_frees())
        elif kind == "class":
            self.visible = {s.get_name() for s in table.get_symbols()
                            if (s.is_assigned() or s.is_imported()) and not s.is_global()}
        elif kind == "module":
            self.visible = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
        self.visible = {n for n in self.visible if not (n[:2] == "__" and n[-2:] == "__") and not n.startswith("_ca_")}


class Rewriter:
    def __init__(self, rw: Rewrite):
        self.rw = rw
        self.src = rw.source
        self.ln: dict[int, tuple[str, ...]] = {}
        self.vn: list[tuple[str, ...]] = []
        self.calls: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self.classes: dict[int, tuple[int, int, int]] = {}
        self.xbase: dict[int, tuple[int, int, int]] = {}
        self.tables: dict[tuple[str, int], list] = {}
        self.edits: list[tuple[int, str, int]] = []
        self.lscope: dict[int, int] = {}
        self.matches: dict[int, tuple[int, ...]] = {}
        self.bound: set[str] = set()

    # --- edits -----------------------------------------------------------------------------

    def text(self, node) -> str:
        return self.src[node.start_byte:node.end_byte].decode("utf-8")

    def pre(self, at: int, text: str) -> None:
        self.edits.append((at, text, PRE))

    def post(self, at: int, text: str) -> None:
        self.edits.append((at, text, POST))

    def wrap(self, node, before: str, after: str, inner: bool = False) -> None:
        """Put text around `node`; wraps of enclosing nodes stay outside it (`inner`: inside other
        wraps of this same node)."""
        d = depth(node) + (0.25 if inner else 0)
        self.edits.append((node.start_byte, before, d))
        self.edits.append((node.end_byte, after, -d))

    # --- probes ----------------------------------------------------------------------------

    def line_probe(self, scope: Scope, ln: int) -> int:
        """A line probe of `scope` (the prelude checks that its frame is the one on top)."""
        p = self.rw.probe("line", ln, scope.func)
        self.lscope[p] = scope.pc
        return p

    def lprobe(self, scope: Scope, ln: int, carry=()) -> str:
        vd = self.vdprobe(scope) if "@VD" in carry else None
        if "@STAR" in carry and scope.kind == "module":
            vd = "_ca_.vall(globals())" if vd is None else "_ca_.n(%s, _ca_.vall(globals()))" % vd
        # "@NOCALL": the statement before called nothing, so no frame can have been left behind
        # (see _heal in the prelude): the probe need not check the frame on top
        fast = "@NOCALL" in carry and len([n for n in carry if n in scope.visible]) <= 4
        carry = [n for n in dict.fromkeys(carry) if n in scope.visible]
        p = self.line_probe(scope, ln)
        self.ln[p] = tuple(carry)
        kind = ("u%d" % len(carry)) if fast else ("l%d" % len(carry) if len(carry) <= 4 else "l")
        probe = "_ca_.{}({})".format(kind, ", ".join([str(p), *carry]))
        self.last_probe = p
        return f"_ca_.n({vd}, {probe})" if vd else probe

    def vprobe(self, scope: Scope, names) -> str | None:
        names = [n for n in dict.fromkeys(names) if n in scope.visible]
        if not names:
            return None
        self.vn.append(tuple(names))
        return "_ca_.v({})".format(", ".join([str(len(self.vn) - 1), *names]))

    def vn_index(self, names) -> int:
        self.vn.append(tuple(names))
        return len(self.vn) - 1

    def vdprobe(self, scope: Scope) -> str | None:
        if not scope.on_call:
            return None
        self.vn.append(tuple(scope.on_call))
        ns = "globals()" if scope.kind == "module" else "locals()"
        return "_ca_.vd(%d, %s)" % (len(self.vn) - 1, ns)

    def rprobe(self, scope: Scope, ln: int) -> int:
        return self.rw.probe("return", ln, scope.func)

    def xprobes(self, scope: Scope, pc: int, first: int, last: int) -> None:
        base = len(self.rw.probes)
        for ln in range(first, last + 1):
            self.rw.probe("exception", ln, scope.func)
        self.xbase[pc] = (first, last, base)

    # --- symtable --------------------------------------------------------------------------

    def index(self, table) -> None:
        for child in table.get_children():
            self.tables.setdefault((child.get_name(), child.get_lineno()), []).append(child)
            self.index(child)

    def table_for(self, name: str, ln: int):
        found = self.tables.get((name, ln))
        return found.pop(0) if found else None

    # --- names a statement may change ------------------------------------------------------

    def targets(self, node, out: list) -> None:
        t = node.type
        if t == "identifier":
            out.append(self.text(node))
        elif t in ("pattern_list", "tuple_pattern", "list_pattern", "tuple", "list", "expression_list",
                   "parenthesized_expression", "list_splat_pattern", "list_splat", "as_pattern_target"):
            for c in named(node):
                self.targets(c, out)
        elif t in ("attribute", "subscript"):
            root = self.root_name(node)
            if root:
                out.append(root)

    def root_name(self, node):
        while node.type in ("attribute", "subscript", "call", "parenthesized_expression"):
            if node.type == "attribute":
                node = node.child_by_field_name("object")
            elif node.type == "subscript":
                node = node.child_by_field_name("value")
            elif node.type == "call":
                node = node.child_by_field_name("function")
            else:
                inner = named(node)
                if not inner:
                    return None
                node = inner[0]
        return self.text(node) if node.type == "identifier" else None

    def changes(self, scope: Scope, stmt) -> tuple[list[str], bool]:
        """Names `stmt` may rebind or mutate, and whether it calls anything."""
        out: list[str] = []
        calls = False
        strict = False  # a real call (or a comprehension): C code that may swallow exceptions
        stack = [(stmt, False)]
        while stack:
            node, cond = stack.pop()
            t = node.type
            if t in NESTED and node is not stmt:
                if t in COMPS:
                    calls = strict = True
                continue
            if t == "assignment":
                left = node.child_by_field_name("left")
                right = node.child_by_field_name("right")
                if right is not None and left is not None:
                    self.targets(left, out)
                    if left.type in ("pattern_list", "tuple_pattern", "list_pattern") and right.type not in (
                            "expression_list", "tuple", "list"):
                        strict = True  # unpacking iterates: a __next__ may end with StopIteration
            elif t == "augmented_assignment":
                self.targets(node.child_by_field_name("left"), out)
            elif t == "named_expression" and not cond:
                name = node.child_by_field_name("name")
                if name is not None:
                    out.append(self.text(name))
            elif t == "call":
                calls = strict = True
                if not cond:
                    fn = node.child_by_field_name("function")
                    if fn is not None and fn.type == "attribute":
                        root = self.root_name(fn.child_by_field_name("object"))
                        if root:
                            out.append(root)
                    args = node.child_by_field_name("arguments")
                    if args is not None:
                        for a in named(args):
                            if a.type in ("list_splat", "dictionary_splat", "keyword_argument"):
                                inner = named(a)
                                a = inner[-1] if inner else a
                            if a.type == "identifier":
                                out.append(self.text(a))
            elif t == "delete_statement":
                for c in named(node):
                    for x in (named(c) if c.type == "expression_list" else [c]):
                        if x.type in ("attribute", "subscript"):
                            root = self.root_name(x)
                            if root:
                                out.append(root)
            elif t == "future_import_statement":
                for c in named(node):
                    if c.type == "dotted_name":
                        out.append(self.text(c))
                    elif c.type == "aliased_import":
                        out.append(self.text(c.child_by_field_name("alias")))
            elif t in ("import_statement", "import_from_statement"):
                if any(c.type == "wildcard_import" for c in node.children):
                    out.append("@STAR")
                for c in named(node):
                    if c.type == "aliased_import":
                        out.append(self.text(c.child_by_field_name("alias")))
                    elif c.type == "dotted_name" and node.child_by_field_name("module_name") != c:
                        out.append(self.text(named(c)[0]))
            elif t == "comparison_operator" and any(c.type in ("in", "not in") for c in node.children):
                calls = strict = True  # `in` may iterate
            elif t in ("subscript", "binary_operator", "comparison_operator", "attribute", "await"):
                calls = True  # may run user __getitem__/__add__/... code
            for i, c in enumerate(node.children):
                stack.append((c, cond or (t in CONDITIONAL and i > 0) or
                              (t == "conditional_expression" and i == 0)))
        self.strict_calls = strict
        return out, calls

    # --- the whole module ------------------------------------------------------------------

    def run(self) -> None:
        text = self.src.decode("utf-8")
        try:
            with warnings.catch_warnings():   # the program's SyntaxWarnings are its run's, not the host's
                warnings.simplefilter("ignore")
                compile(text, "main.py", "exec", dont_inherit=True)
                table = symtable.symtable(text, "main.py", "exec")
        except (SyntaxError, ValueError) as e:
            raise SkipProgram(f"not valid Python 3: {e}") from None
        if any(n.type in ("await", "async") for n in self.walk(self.rw.root)) or "async " in text and self.has_async():
            raise SkipProgram("async code is not traced")
        self.index(table)
        self.future_annotations = any(
            st.type == "future_import_statement" and "annotations" in self.text(st) for st in named(self.rw.root))
        module = Scope("module", "<module>", table)
        # module variables other scopes rebind (`global x`) or use (and so may mutate): a
        # statement that calls something shows them again
        rebound = set()
        for tables in self.tables.values():
            for t in tables:
                for s in t.get_symbols():
                    if s.is_declared_global() and s.is_assigned():
                        rebound.add(s.get_name())
                    elif s.is_global() and s.is_referenced() and s.get_name() in module.visible:
                        rebound.add(s.get_name())
        module.visible |= {n for n in rebound if not (n[:2] == "__" and n[-2:] == "__")}
        module.on_call = sorted(rebound)
        self.module = module
        pc = self.rw.probe("call", 1, "<module>")
        module.pc = pc
        self.xprobes(module, pc, 1, end_line(self.rw.root) + 1)
        stmts = named(self.rw.root)
        lead = 0
        while lead < len(stmts) and (self.is_doc(stmts[lead]) or stmts[lead].type == "future_import_statement"):
            lead += 1
        setup = "_ca_.setup(%s, %r, %r, %r, %r, %r, %d)"
        self.setup_pc = pc
        if lead:
            # docstring / __future__ imports first: the prelude comes right after them
            events = []
            for s in stmts[:lead]:
                p = self.line_probe(module, line(s))
                self.ln[p] = ()
                events.append("_ca_.l(%d)" % p)
            self.setup_at = ("post", stmts[lead - 1].end_byte, events)
            bound = [n for st in stmts[:lead] for n in self.after(module, st)]
            left = self.block(module, stmts[lead:], [], prev_line=end_line(stmts[lead - 1]), carry0=bound)
        else:
            left = self.block(module, stmts, ["@SETUP@"], prev_line=0)
        tails = []
        if left and stmts:
            # nothing after the last definitions to carry their probes: a line of its own at
            # the end of the file (no line above it moves)
            end = len(self.src)
            text = ("" if self.src.endswith(b"\n") else "\n") + self.as_statements(left) + "\n"
            if not self.src.endswith(b"\n") and self.src.rstrip(b" \t").endswith(b"\\"):
                text = "\n" + text
            self.edits.append((end, text, POST + 1))
        if lead:
            _, at, events = self.setup_at
            self.post(at, "; import _codealchemy as _ca_; @SETUP_CALL@" + "".join("; " + e for e in events))
        for i, (at, text, prio) in enumerate(self.edits):
            before = self.src[at - 1:at] if at else b""
            if text[:1].isidentifier() and (before.isalnum() or before == b"_"):
                text = " " + text  # `while(x)` -> `while _ca_.l0(5) or ((x))`
            after = self.src[at:at + 1]
            if text[-1:].isalnum() and (after.isalnum() or after == b"_"):
                text += " "
            self.edits[i] = (at, text, prio)
        # where the probes went, per line: (original byte column, bytes inserted); the setup call's
        # own length is -1 (the prelude works it out): tracebacks show the original columns
        starts = [0]
        for i, ch in enumerate(self.src):
            if ch == 0x0A:
                starts.append(i + 1)
        colmap: dict[int, list] = {}
        order = sorted(range(len(self.edits)), key=lambda i: (self.edits[i][0], self.edits[i][2], i))
        for i in order:
            at, text, _ = self.edits[i]
            ln = bisect.bisect_right(starts, at)
            size = -1 if "@SETUP_CALL@" in text else len(text.encode("utf-8"))
            colmap.setdefault(ln, []).append((at - starts[ln - 1], size))
        setup = "_ca_.setup(%r, %r, %r, %r, %r, %r, %d, %r, %r, %r, %r)"
        self.setup_text = setup % (tails, self.ln, self.vn, self.calls, self.classes, self.xbase, pc,
                                   self.src.decode("utf-8"), colmap, self.lscope, self.matches)
        for at, text, prio in self.edits:
            self.rw.insert(at, text.replace("@SETUP_CALL@", self.setup_text), prio)

    def has_async(self) -> bool:
        for n in self.walk(self.rw.root):
            if n.type in ("function_definition", "for_statement", "with_statement") and \
                    n.children and n.children[0].type == "async":
                return True
        return False

    def walk(self, node):
        stack = [node]
        while stack:
            n = stack.pop()
            yield n
            stack.extend(n.children)

    def is_doc(self, stmt) -> bool:
        if stmt.type != "expression_statement":
            return False
        kids = named(stmt)
        return len(kids) == 1 and kids[0].type in ("string", "concatenated_string")

    # --- hosts -----------------------------------------------------------------------------

    def as_statements(self, items: list) -> str:
        out = []
        for s in items:
            if s == "@SETUP@":
                out.append("import _codealchemy as _ca_; @SETUP_CALL@")
            elif isinstance(s, tuple):
                out.append(s[1])
            else:
                out.append(s)
        return "; ".join(out)

    def mod(self, items: list) -> str:
        """How a wrapper names the prelude (before the probes that import it have run)."""
        return "__import__('_codealchemy')" if "@SETUP@" in items else "_ca_"

    def as_expression(self, items: list) -> str:
        """Probes as one expression that evaluates to None."""
        items = [s[1] if isinstance(s, tuple) else s for s in items]
        if not items:
            return "None"
        if items[0] == "@SETUP@":
            rest = items[1:]
            head = "(_ca_ := __import__('_codealchemy')).n(@SETUP_CALL@)"
            if not rest:
                return head
            return "{} or _ca_.n({})".format(head, ", ".join(rest))
        if len(items) == 1 and not items[0].startswith("("):
            return items[0]
        return "_ca_.n({})".format(", ".join(items))

    # --- blocks and statements -------------------------------------------------------------

    def block(self, scope: Scope, stmts, pending: list, prev_line: int, *, terminal=None,
              ctx=None, loop=None, fbody=False, carry0=(), tail_skip=(), loop_end=None,
              bound=None) -> None:
        """Instrument a block. `terminal`: the function's fall-off handler when this block ends it.
        `ctx`: list of enclosing with/finally records in this function (for returns).
        `loop`: the innermost loop record (for `break` at a function's end)."""
        ctx = ctx if ctx is not None else []
        stmts = [s for s in stmts if s.type != "comment"]
        carry: list[str] = list(carry0)
        bound = set(bound or ())
        for i, s in enumerate(stmts):
            if fbody and i == 0 and self.is_doc(s):
                continue  # a function's docstring is not executed
            if i == 0 and scope.kind == "class" and self.is_doc(s):
                # a class docstring must stay first: its event (and what waits) comes after it
                items = list(pending) + [self.lprobe(scope, line(s), carry)]
                self.post(s.end_byte, "; " + self.as_statements(items))
                pending, carry, prev_line = [], [], line(s)
                continue
            last = i == len(stmts) - 1
            self.bound = bound
            pending = self.statement(scope, s, pending, carry, prev_line, terminal if last else None, ctx, loop)
            carry = self.after(scope, s)
            bound |= set(carry)
            prev_line = end_line(s) if s.type in SIMPLE else line(s)
            if last and s.type in SIMPLE and s.type not in ("return_statement", "raise_statement",
                                                            "break_statement", "continue_statement"):
                tail = []
                if loop_end is not None:
                    tail.append(loop_end(carry))
                else:
                    v = self.vprobe(scope, [n for n in carry if n not in tail_skip])
                    if v:
                        tail.append(v)
                vd = self.vdprobe(scope) if self.calls_in(scope, s) else None
                if vd:
                    tail.append(vd)
                if terminal is not None:
                    tail.append(terminal(s))
                if tail:
                    self.post(s.end_byte, "; " + "; ".join(tail))
        return pending

    def tails(self, scope, pending) -> list:
        """Line events left at the end of a class body or module (after a def): run afterwards."""
        out = []
        for item in pending:
            parsed = parse_lprobe(item) if isinstance(item, str) else None
            if parsed is not None:
                p = parsed[0]
                out.append((p, self.ln.get(p, ())))
            elif item != "@SETUP@":
                self.rw.notes.append(f"probe at the end of {scope.func} dropped")
        return out

    def calls_in(self, scope, s) -> bool:
        return self.changes(scope, s)[1] if scope.on_call else False

    def after(self, scope: Scope, s) -> list[str]:
        if s.type == "decorated_definition":
            s = s.child_by_field_name("definition")
        if s.type in ("function_definition", "class_definition"):
            return [self.text(s.child_by_field_name("name"))]
        if s.type in ("if_statement", "while_statement"):
            conds = [s.child_by_field_name("condition")] + [
                c.child_by_field_name("condition") for c in s.children if c.type == "elif_clause"]
            names = [n for c in conds if c is not None for n in self.walrus(c)]
            if s.type == "while_statement" and s.child_by_field_name("alternative") is None and not any(
                    n.type == "break_statement" for n in self.own_loop_nodes(self.body_of(s))):
                names += self.nocall(conds[0])  # left when its condition was false
            return names
        if s.type not in SIMPLE:
            return []
        names, calls = self.changes(scope, s)
        strict = self.strict_calls
        return names + (["@VD"] if calls and scope.on_call else []) + ([] if strict else ["@NOCALL"])

    def statement(self, scope, s, pending, carry, prev_line, terminal, ctx, loop) -> list[str]:
        """Instrument one statement; returns the probes still waiting for a host."""
        t = s.type
        ln = line(s)
        same = ln == prev_line
        if t in SIMPLE:
            if t in ("global_statement", "nonlocal_statement") or (
                    t == "expression_statement" and self.annotation_only(s) and scope.kind == "function"):
                v = self.vprobe(scope, carry)
                return pending + ([v] if v else [])
            items = list(pending)
            acts = self.multiline(s) if end_line(s) > ln else None
            if acts:
                ln = acts[0][2] if acts[0][0] == "first" else ln
                same = ln == prev_line
                self.apply_acts(scope, acts)
            if not same:
                items.append(self.lprobe(scope, ln, carry))
            else:
                v = self.vprobe(scope, carry)
                if v:
                    items.append(v)
                if "@VD" in carry:
                    items.append(self.vdprobe(scope))
            if items:
                self.pre(s.start_byte, self.as_statements(items) + "; ")
            self.simple(scope, s, ctx, loop, terminal)
            self.expressions(scope, s)
            return []
        if t == "if_statement":
            return self.if_stmt(scope, s, pending, carry, terminal, ctx, loop)
        if t == "while_statement":
            return self.while_stmt(scope, s, pending, carry, terminal, ctx)
        if t == "for_statement":
            return self.for_stmt(scope, s, pending, carry, terminal, ctx)
        if t == "try_statement":
            return self.try_stmt(scope, s, pending, carry, terminal, ctx, loop)
        if t == "with_statement":
            return self.with_stmt(scope, s, pending, carry, terminal, ctx, loop)
        if t == "function_definition":
            return self.def_stmt(scope, s, pending, carry, [])
        if t == "class_definition":
            return self.class_stmt(scope, s, pending, carry, [])
        if t == "decorated_definition":
            return self.decorated(scope, s, pending, carry)
        if t == "match_statement":
            subject = s.child_by_field_name("subject")
            if subject is None:
                return pending
            # each `case` tried shows its line: the guard of the case that matched shows those of
            # the cases before it (patterns run no code of the program); after a match where no
            # case matched, the next statement shows them all
            mid = self.rw.probe("match", ln, scope.func)
            items = pending + ["_ca_.m0(%d)" % mid, self.lprobe(scope, ln, carry)]
            self.wrap(subject, self.as_expression(items) + " or (", ")")
            self.expressions(scope, subject)
            body = s.child_by_field_name("body")
            cases = [c for c in (named(body) if body is not None else []) if c.type == "case_clause"]
            probes = []
            for case in cases:
                p = self.line_probe(scope, line(case))
                self.ln[p] = ()
                probes.append(p)
            self.matches[mid] = tuple(probes)
            for k, case in enumerate(cases):
                guard = next((c for c in case.children if c.type == "if_clause"), None)
                bound = [n for pat in case.children if pat.type == "case_pattern"
                         for n in dict.fromkeys(self.captures_of(pat)) if n in scope.visible]
                mark = "_ca_.mk(%s)" % ", ".join([str(mid), str(k), str(self.vn_index(bound)), *bound])
                if guard is not None and named(guard):
                    self.wrap(named(guard)[0], mark + " or (", ")")
                    self.expressions(scope, guard)
                else:
                    pats = [c for c in case.children if c.type == "case_pattern"]
                    if pats:
                        self.edits.append((pats[-1].end_byte, " if %s or True" % mark, POST))
                names = [n for pat in case.children if pat.type == "case_pattern" for n in self.captures_of(pat)]
                blk = next((c for c in case.children if c.type == "block"), None)
                if blk is not None:
                    self.block(scope, named(blk), ["_ca_.mdone(%d)" % mid], line(case), ctx=ctx, loop=loop,
                               carry0=[n for n in names if n in scope.visible])
            return ["_ca_.mend(%d)" % mid]
        self.rw.notes.append(f"statement {t} at line {ln} not instrumented")
        return pending

    # --- statements that span lines: CPython 3.11 reports each line its bytecode reaches ---

    LEAVES = {"identifier", "integer", "float", "string", "concatenated_string", "true", "false",
              "none", "ellipsis"}
    CONST = {"integer", "float", "string", "concatenated_string", "true", "false", "none", "ellipsis"}

    def is_const(self, n) -> bool:
        if n.type in ("string", "concatenated_string"):
            return not any(c.type == "interpolation" for c in self.walk(n))
        if n.type == "tuple":
            return all(self.is_const(c) for c in named(n))
        if n.type == "parenthesized_expression":
            kids = named(n)
            return len(kids) == 1 and self.is_const(kids[0])
        if n.type == "unary_operator":
            kids = named(n)
            return bool(kids) and kids[-1].type in ("integer", "float")
        return n.type in self.CONST

    def multiline(self, s):
        """The line events a multi-line simple statement makes, as where-to-probe actions:
        ("first", node, line) for the statement's first event, ("before", node, line) for an event
        before `node` is evaluated, ("after", node, line) for one right after it. None when the
        statement holds constructs this model does not follow (the statement keeps one event)."""
        acts = []
        self._unmodelled = False
        kids = named(s)
        t = s.type
        cur = None
        if t == "expression_statement" and len(kids) == 1:
            e = kids[0]
            if e.type == "assignment":
                right = e.child_by_field_name("right")
                left = e.child_by_field_name("left")
                if right is None or right.type in ("assignment", "yield") or e.child_by_field_name("type"):
                    return None
                cur = self.model(right, cur, acts)
                if left.type == "identifier":
                    cur = self.op(right, line(left), cur, acts)
                elif left.type == "attribute":
                    obj = left.child_by_field_name("object")
                    cur = self.model(obj, cur, acts)
                    cur = self.op(obj, line(left.child_by_field_name("attribute")), cur, acts)
                elif left.type == "subscript":
                    obj, index = left.child_by_field_name("value"), left.child_by_field_name("subscript")
                    if index is None:
                        return None
                    cur = self.model(obj, cur, acts)
                    cur = self.model(index, cur, acts)
                    cur = self.op(index, line(left), cur, acts)
                else:
                    return None
            elif e.type == "augmented_assignment":
                left = e.child_by_field_name("left")
                if left.type != "identifier":
                    return None
                cur = self.model(left, cur, acts)
                cur = self.model(e.child_by_field_name("right"), cur, acts)
                cur = self.op(e, line(e), cur, acts)
            else:
                cur = self.model(e, cur, acts)
                cur = self.op(e, line(s), cur, acts)
        elif t == "return_statement" and kids:
            cur = self.model(kids[0], cur, acts)
            cur = self.op(kids[0], line(s), cur, acts)
        else:
            return None
        if self._unmodelled or not acts:
            return None
        return acts

    def cond_lines(self, scope, cond) -> None:
        """Line events inside a condition that spans lines."""
        if cond is None or end_line(cond) == line(cond):
            return
        acts: list = []
        self._unmodelled = False
        self.model(cond, None, acts)
        if not self._unmodelled:
            self.apply_acts(scope, acts)

    def op(self, node, ln, cur, acts):
        """An instruction at line `ln` right after `node` was evaluated."""
        if cur is None:
            acts.append(("first", node, ln))
        elif ln != cur:
            acts.append(("after", node, ln))
        return ln

    def model(self, n, cur, acts):
        """Walk expression `n` in evaluation order; returns the line of its last instruction."""
        t = n.type
        if t == "parenthesized_expression":
            kids = named(n)
            if len(kids) != 1:
                self._unmodelled = True
                return cur
            return self.model(kids[0], cur, acts)
        if t in self.LEAVES or self.is_const(n) or (t == "list" and len(named(n)) >= 3 and
                                                     all(self.is_const(c) for c in named(n))):
            ln = line(n)
            if cur is None:
                acts.append(("first", n, ln))
            elif ln != cur:
                acts.append(("before", n, ln))
            return ln
        if t == "call":
            fn = n.child_by_field_name("function")
            args = n.child_by_field_name("arguments")
            if args is None or args.type != "argument_list":
                self._unmodelled = True
                return cur
            if fn.type == "attribute":
                cur = self.model(fn.child_by_field_name("object"), cur, acts)
                op_line = line(fn.child_by_field_name("attribute"))
                cur = self.op(fn, op_line, cur, acts)
            else:
                cur = self.model(fn, cur, acts)
                op_line = line(n)
            for a in named(args):
                if a.type == "keyword_argument":
                    a = a.child_by_field_name("value")
                elif a.type in ("list_splat", "dictionary_splat"):
                    a = named(a)[0]
                cur = self.model(a, cur, acts)
            last = named(args)[-1] if named(args) else fn
            if last.type == "keyword_argument":
                last = last.child_by_field_name("value")
            elif last.type in ("list_splat", "dictionary_splat"):
                last = named(last)[0]
            return self.op(last, op_line, cur, acts)
        if t == "attribute":
            cur = self.model(n.child_by_field_name("object"), cur, acts)
            return self.op(n.child_by_field_name("object"), line(n.child_by_field_name("attribute")), cur, acts)
        if t in ("binary_operator", "comparison_operator", "subscript"):
            kids = named(n)
            if t == "comparison_operator" and len(kids) != 2:
                self._unmodelled = True
                return cur
            for k in kids:
                cur = self.model(k, cur, acts)
            return self.op(kids[-1], line(n), cur, acts)
        if t == "boolean_operator":
            left, right = n.child_by_field_name("left"), n.child_by_field_name("right")
            cur = self.model(left, cur, acts)
            cur = self.op(left, line(n), cur, acts)
            return self.model(right, cur, acts)
        if t in ("list", "tuple", "set"):
            kids = named(n)
            if not kids or any(k.type in ("list_splat", "parenthesized_list_splat") for k in kids):
                self._unmodelled = True
                return cur
            for k in kids:
                cur = self.model(k, cur, acts)
            return self.op(kids[-1], line(n), cur, acts)
        if t == "dictionary":
            pairs = named(n)
            if not pairs or any(p.type != "pair" for p in pairs):
                self._unmodelled = True
                return cur
            keys = [p.child_by_field_name("key") for p in pairs]
            vals = [p.child_by_field_name("value") for p in pairs]
            if len(pairs) > 1 and all(self.is_const(k) for k in keys):
                for v in vals:
                    cur = self.model(v, cur, acts)
            else:
                for k, v in zip(keys, vals, strict=False):
                    cur = self.model(k, cur, acts)
                    cur = self.model(v, cur, acts)
            return self.op(vals[-1], line(n), cur, acts)
        if t in ("list_comprehension", "set_comprehension", "dictionary_comprehension", "generator_expression"):
            clause = next((c for c in named(n) if c.type == "for_in_clause"), None)
            right = clause.child_by_field_name("right") if clause is not None else None
            if right is None:
                self._unmodelled = True
                return cur
            # MAKE_FUNCTION on the comprehension's line, the iterable, then the call
            ln = line(n)
            if cur is None:
                acts.append(("first", n, ln))
            elif ln != cur:
                acts.append(("before", n, ln))
            cur = self.model(right, ln, acts)
            return self.op(right, ln, cur, acts)
        if t == "unary_operator":
            kids = named(n)
            cur = self.model(kids[-1], cur, acts)
            return self.op(kids[-1], line(n), cur, acts)
        self._unmodelled = True
        return cur

    def apply_acts(self, scope, acts) -> None:
        for kind, node, ln in acts:
            if kind == "first":
                continue
            p = self.line_probe(scope, ln)
            self.ln[p] = ()
            target = node
            if target.type in ("list_splat", "dictionary_splat"):
                target = named(target)[0]
            d = depth(target)
            if kind == "before":
                self.edits.append((target.start_byte, "(_ca_.l0(%d) or (" % p, d))
                self.edits.append((target.end_byte, "))", -d))
            else:
                self.edits.append((target.start_byte, "_ca_.la(%d, (" % p, d - 0.5))
                self.edits.append((target.end_byte, "))", -d + 0.5))

    def captures_of(self, pat) -> list[str]:
        """Names a `case` pattern binds."""
        out = []
        for n in self.walk(pat):
            if n.type == "dotted_name" and len(named(n)) == 1:
                parent = n.parent
                if parent is not None and parent.type == "class_pattern" and named(parent)[0] == n:
                    continue
                out.append(self.text(n))
            elif n.type in ("splat_pattern", "as_pattern"):
                ids = [c for c in n.children if c.type == "identifier"]
                out += [self.text(c) for c in ids]
        return [n for n in out if n != "_"]

    def annotation_only(self, s) -> bool:
        kids = named(s)
        return len(kids) == 1 and kids[0].type == "assignment" and kids[0].child_by_field_name("right") is None

    def simple(self, scope, s, ctx, loop, terminal) -> None:
        t = s.type
        if t == "return_statement":
            vals = named(s)
            p = self.rprobe(scope, line(s))
            fn = "_ca_.rd" if ctx else "_ca_.r"
            if ctx:
                ctx[0]["fin"] = True
            if vals:
                self.wrap(vals[0], "%s(%d, (" % (fn, p), "))")
            else:
                self.post(s.end_byte, " %s(%d)" % (fn, p))
        elif t == "break_statement" and loop is not None and loop.get("one_line") is not None:
            self.pre(s.start_byte, "_ca_.w1r(%d); " % loop["one_line"])
        elif t == "continue_statement" and loop is not None and loop.get("back") is not None:
            self.pre(s.start_byte, loop["back"]() + "; ")
        elif t == "break_statement" and loop is not None and loop.get("terminal") is not None:
            self.pre(s.start_byte, "_ca_.r0(%d); " % self.rprobe(scope, line(loop["node"])))

    # --- expressions: yields, lambdas, comprehensions ------------------------------------

    def expressions(self, scope: Scope, node) -> None:
        stack = [node]
        while stack:
            n = stack.pop()
            t = n.type
            if t in ("function_definition", "class_definition", "decorated_definition") or (
                    t in ("block",) and n is not node):
                continue
            if t == "string":
                continue
            if t == "yield" and n.is_named:
                self.yield_expr(scope, n)
            elif t == "lambda":
                self.lambda_expr(scope, n)
                continue
            elif t in COMPS:
                self.comp_expr(scope, n)
                continue
            stack.extend(reversed(n.children))

    def yield_expr(self, scope, n) -> None:
        if scope.kind != "function":
            return
        scope.gen = True
        p = self.rprobe(scope, line(n))
        kids = named(n)
        is_from = any(c.type == "from" for c in n.children)
        if not is_from:  # `yield from` goes through _ca_.yf, which reports the resumes itself
            self.wrap(n, "_ca_.rs(_ca_g, (", "))")
        if is_from and kids:
            self.wrap(kids[0], "_ca_.yf(%d, _ca_g, (" % p, "))")
        elif kids:
            self.wrap(kids[0], "_ca_.y(%d, (" % p, "), _ca_g)")
        else:
            self.edits.append((n.end_byte, " _ca_.y(%d, None, _ca_g)" % p, -depth(n) - 1))

    def lambda_expr(self, scope, n) -> None:
        ln = line(n)
        table = self.table_for("lambda", ln)
        sub = Scope("lambda", "<lambda>", table, scope, n)
        body = n.child_by_field_name("body")
        if body is None:
            return
        params = tuple(table.get_parameters()) if table else ()
        frees = tuple(sorted(table.get_frees())) if table else ()
        pc = self.rw.probe("call", ln, "<lambda>")
        sub.pc = pc
        self.xprobes(sub, pc, ln, end_line(n))
        self.calls[pc] = (params, frees)
        pl = self.line_probe(sub, ln)
        self.ln[pl] = ()
        pr = self.rprobe(sub, ln)
        args = ", ".join([str(pc), str(pl), *params, *frees])
        self.wrap(body, "_ca_.lr(%d, _ca_.lc(%s) or (" % (pr, args), "))")
        self.expressions(sub, body)

    def comp_lines(self, sub, n, fors, clauses, body) -> int:
        """A comprehension over several lines: each step stores its target on the `for` line,
        then runs its conditions and element on theirs. Returns the `for` line's probe (or -1)."""
        first = line(n)
        lf = line(fors[0])
        pf = -1
        if lf != first:
            pf = self.line_probe(sub, lf)
            self.ln[pf] = ()
        prev = lf
        for c in clauses:
            if c.type != "if_clause":
                continue
            cond = named(c)[0] if named(c) else None
            if cond is not None and line(c) != prev:
                p = self.line_probe(sub, line(c))
                self.ln[p] = ()
                self.wrap(cond, "(_ca_.l0(%d) or (" % p, "))")
                prev = line(c)
        target = body
        if target is not None and target.type == "pair":
            target = target.child_by_field_name("key")
        if target is not None and line(target) != prev:
            p = self.line_probe(sub, line(target))
            self.ln[p] = ()
            self.wrap(target, "(_ca_.l0(%d) or (" % p, "))")
        return pf

    def comp_spec(self, node) -> str:
        if node is None:
            return "None"
        t = node.type
        if t == "identifier":
            return repr(self.text(node))
        if t in ("pattern_list", "tuple_pattern", "list_pattern", "tuple", "list", "parenthesized_expression"):
            kids = named(node)
            if t == "parenthesized_expression" and len(kids) == 1:
                return self.comp_spec(kids[0])
            if any(k.type in ("list_splat_pattern", "list_splat") for k in kids):
                return "None"
            return "(" + "".join(self.comp_spec(k) + ", " for k in kids) + ")"
        return "None"

    def comp_expr(self, scope, n) -> None:
        func = COMPS[n.type]
        ln = line(n)
        table = self.table_for(func[1:-1], ln)
        sub = Scope("comp", func, table, scope, n)
        clauses = [c for c in named(n) if c.type in ("for_in_clause", "if_clause")]
        fors = [c for c in clauses if c.type == "for_in_clause"]
        if not fors or any(c.children and c.children[0].type == "async" for c in fors):
            return
        pc = self.rw.probe("call", ln, func)
        sub.pc = pc
        self.xprobes(sub, pc, ln, end_line(n))
        self.calls[pc] = ((), ())
        pl = self.line_probe(sub, ln)
        self.ln[pl] = ()
        pr = self.rprobe(sub, ln)
        body = n.child_by_field_name("body")
        outer = fors[0].child_by_field_name("right")
        if n.type == "generator_expression":
            spec = self.comp_spec(fors[0].child_by_field_name("left"))
            frees = tuple(sorted(table.get_frees())) if table else ()
            self.calls[pc] = ((), frees)
            pf = self.comp_lines(sub, n, fors, clauses, body) if len(fors) == 1 else -1
            self.wrap(outer, "_ca_.gi(%d, %d, %d, %s, (" % (pc, pl, pr, spec),
                      "), %s)" % ", ".join([str(pf), *frees]), inner=True)
            if body is not None:
                self.wrap(body, "_ca_.gy(%d, (" % pr, "))")
        else:
            self.wrap(n, "_ca_.cr(%d, " % pr, ")")
            spec = self.comp_spec(fors[0].child_by_field_name("left"))
            pf = self.comp_lines(sub, n, fors, clauses, body) if len(fors) == 1 else -1
            frees = tuple(sorted(table.get_frees())) if table else ()
            self.calls[pc] = ((), frees)
            self.wrap(outer, "_ca_.ci(%d, %d, %s, (" % (pc, pl, spec), "), %s)" % ", ".join([str(pf), *frees]),
                      inner=True)
        self.expressions(scope, outer)
        for f in fors[1:]:
            right = f.child_by_field_name("right")
            self.wrap(right, "_ca_.ci2(%d, %s, (" % (pl, self.comp_spec(f.child_by_field_name("left"))), "))")
            self.expressions(sub, right)
        for c in clauses:
            if c.type == "if_clause":
                self.expressions(sub, c)
        if body is not None:
            self.expressions(sub, body)

    # --- compound statements ---------------------------------------------------------------

    def body_of(self, node, field="body"):
        b = node.child_by_field_name(field)
        if b is None:
            for c in node.children:
                if c.type == "block":
                    return c
        return b

    def if_stmt(self, scope, s, pending, carry, terminal, ctx, loop):
        cond = s.child_by_field_name("condition")
        items = pending + [self.lprobe(scope, line(s), carry)]
        alts = [c for c in s.children if c.type in ("elif_clause", "else_clause")]
        has_else = any(c.type == "else_clause" for c in alts)
        last_cond = cond if not any(c.type == "elif_clause" for c in alts) else None
        conds = [(cond, line(s), self.body_of(s, "consequence"), items)]
        for a in alts:
            if a.type == "elif_clause":
                conds.append((a.child_by_field_name("condition"), line(a), self.body_of(a, "consequence"),
                              [self.lprobe(scope, line(a))]))
                last_cond = conds[-1][0]
        walrus: list[str] = []
        for c, ln, body, probes in conds:
            walrus += self.walrus(c)
            falloff = terminal is not None and not has_else and c is last_cond
            if falloff:
                self.wrap(c, "%s or _ca_.e0(%d, (" % (self.as_expression(probes), self.rprobe(scope, ln)), "))")
            else:
                self.wrap(c, self.as_expression(probes) + " or (", ")")
            self.expressions(scope, c)
            self.cond_lines(scope, c)
            self.block(scope, named(body), [], ln, terminal=terminal, ctx=ctx, loop=loop,
                       carry0=[n for n in walrus if n in scope.visible] + self.nocall(c))
        for a in alts:
            if a.type == "else_clause":
                self.block(scope, named(self.body_of(a)), [], line(a), terminal=terminal, ctx=ctx, loop=loop,
                           carry0=[n for n in walrus if n in scope.visible])
        return []

    def nocall(self, node) -> list[str]:
        """["@NOCALL"] when evaluating `node` calls nothing (see lprobe)."""
        if node is None:
            return []
        self.changes(self.module, node)
        return [] if self.strict_calls else ["@NOCALL"]

    def own_loop_nodes(self, node):
        """Nodes of a loop body, not those of nested loops or scopes."""
        stack = [node]
        while stack:
            n = stack.pop()
            yield n
            for c in n.children:
                if c.type not in NESTED and c.type not in ("for_statement", "while_statement"):
                    stack.append(c)

    def walrus(self, node) -> list[str]:
        """Names an expression binds with `:=` (outside nested scopes)."""
        out = []
        for n in self.own_nodes(node):
            if n.type == "named_expression":
                name = n.child_by_field_name("name")
                if name is not None:
                    out.append(self.text(name))
        return out

    def while_stmt(self, scope, s, pending, carry, terminal, ctx):
        cond = s.child_by_field_name("condition")
        items = []
        entry = None
        for p in pending:
            if isinstance(p, tuple):
                entry = p
            elif p == "@SETUP@" or p.startswith(("_ca_.v", "_ca_.ex(")):
                items.append(p)
            else:
                self.rw.notes.append(f"probe before the while loop at line {line(s)} dropped")
        # the condition shows what the body's last statement changed, for names bound already
        body_stmts = [c for c in named(self.body_of(s)) if c.type != "comment"]
        back: list[str] = []
        if body_stmts and body_stmts[-1].type in SIMPLE:
            deleted = {self.text(x) for d in self.own_nodes(self.body_of(s)) if d.type == "delete_statement"
                       for x in self.walk(d) if x.type == "identifier"}
            back = [n for n in self.after(scope, body_stmts[-1])
                    if (n in self.bound or n in scope.params or n == "@NOCALL") and n not in deleted]
        if "@NOCALL" not in back or "@NOCALL" not in carry:
            back = [n for n in back if n != "@NOCALL"]
        bound = set(self.bound)
        lp = self.lprobe(scope, line(s), list(carry) + back)
        if entry is not None:
            _, _, pc, gen, args = entry
            parsed = parse_lprobe(lp)
            if parsed is None:
                raise SkipProgram("unsupported loop at the start of a function")
            pid, vals = parsed
            if gen:
                args = ", ".join([str(pid), str(pc), *args] + ([vals] if vals else []))
                lp = f"_ca_.n((_ca_g := _ca_.lwg({args})))"
            else:
                n = len(self.ln[pid])
                args = ", ".join([str(pid), str(pc)] + ([vals] if vals else []) + list(args))
                fast = "@NOCALL" in self.after(scope, body_stmts[-1]) if body_stmts else False
                lp = ("_ca_.lw%s%d(%s)" % ("u" if fast else "", n, args)) if n <= 4 else f"_ca_.lw({args})"
        if items and items[0] == "@SETUP@":
            expr = "((_ca_ := __import__('_codealchemy')).first() and _ca_.n(@SETUP_CALL@, {})) or {}".format(
                ", ".join(items[1:]) or "None", lp)
        elif items:
            expr = "_ca_.n({}, {})".format(", ".join(items), lp)
        else:
            expr = lp
        alt = s.child_by_field_name("alternative")
        loop = {"node": s, "terminal": terminal if alt is None else None}
        one_line = (body_stmts and line(body_stmts[0]) == line(s) and not items
                    and not (terminal is not None and alt is None))
        body_pending = []
        if one_line:
            # `while x: x -= 1` on one line: CPython shows the line when the loop starts and at
            # each jump back (a true test after the body), not at the final, failing test
            key = self.rw.probe("loop", line(s), scope.func)
            back_probe = self.line_probe(scope, line(s))
            self.ln[back_probe] = ()
            self.wrap(cond, "(_ca_.w1a(%d) and %s) or _ca_.w1c(%d, %d, (" % (key, expr, back_probe, key), "))")
            body_pending = ["_ca_.w1b(%d)" % key]
            loop["one_line"] = key
            back = []
        elif terminal is not None and alt is None and self.text(cond) != "True":
            self.wrap(cond, "%s or _ca_.e0(%d, (" % (expr, self.rprobe(scope, line(s))), "))")
        else:
            self.wrap(cond, expr + " or (", ")")
        self.expressions(scope, cond)
        self.cond_lines(scope, cond)
        walrus = [n for n in self.walrus(cond) if n in scope.visible] + self.nocall(cond)
        self.block(scope, named(self.body_of(s)), body_pending, line(s), ctx=ctx, loop=loop,
                   tail_skip=set(back), bound=bound, carry0=walrus)
        if alt is not None:
            self.block(scope, named(self.body_of(alt)), [], line(alt), terminal=terminal, ctx=ctx, loop=None)
        return []

    def for_stmt(self, scope, s, pending, carry, terminal, ctx):
        left = s.child_by_field_name("left")
        right = s.child_by_field_name("right")
        items = pending + [self.lprobe(scope, line(s), carry)]
        alt = s.child_by_field_name("alternative")
        terminal_loop = terminal is not None and alt is None
        body_stmts = [c for c in named(self.body_of(s)) if c.type != "comment"]
        last = body_stmts[-1] if body_stmts else None
        direct = (not terminal_loop and last is not None and last.type in SIMPLE and last.type not in (
            "return_statement", "raise_statement", "break_statement", "continue_statement"))
        loop = {"node": s, "terminal": terminal if alt is None else None}
        if direct:
            # no wrapper: the end of the body (and each `continue`) shows the `for` line itself
            self.wrap(right, f"{self.as_expression(items)} or (", ")")
            loop["back"] = lambda names=(): self.lprobe(scope, line(s), names)
            loop_end = loop["back"]
        else:
            p = self.line_probe(scope, line(s))
            self.ln[p] = ()
            pr = self.rprobe(scope, line(s)) if terminal_loop else -1
            self.wrap(right, "%s.it(%d, %s or (" % (self.mod(items), p, self.as_expression(items)), "), %d)" % pr)
            loop_end = None
        self.expressions(scope, right)
        self.expressions(scope, left)
        targets: list[str] = []
        self.targets(left, targets)
        self.block_carry(scope, self.body_of(s), line(s), targets, ctx=ctx, loop=loop, loop_end=loop_end)
        if alt is not None:
            self.block(scope, named(self.body_of(alt)), [], line(alt), terminal=terminal, ctx=ctx, loop=None)
        return []

    def block_carry(self, scope, body, prev_line, names, **kw):
        """A block whose first event shows `names` (loop targets, `as` names)."""
        bound = set(self.bound) | set(names)
        self.block(scope, named(body), [], prev_line, carry0=names, bound=bound, **kw)

    def try_stmt(self, scope, s, pending, carry, terminal, ctx, loop):
        body = self.body_of(s)
        items = pending + [self.lprobe(scope, line(s), carry)]
        clauses = [c for c in s.children if c.type in ("except_clause", "except_group_clause",
                                                       "else_clause", "finally_clause")]
        fin = next((c for c in clauses if c.type == "finally_clause"), None)
        has_else = any(c.type == "else_clause" for c in clauses)
        rec = {"fin": False, "node": s}
        inner_ctx = ctx + [rec] if fin is not None else ctx
        body_terminal = terminal if (fin is None and not has_else) else None
        self.block(scope, named(body), items, line(s), terminal=body_terminal, ctx=inner_ctx, loop=loop)
        for c in clauses:
            cbody = self.body_of(c)
            if c.type in ("except_clause", "except_group_clause"):
                value = c.child_by_field_name("value")
                if value is None:
                    kids = [k for k in named(c) if k.type != "block"]
                    value = kids[0] if kids else None
                names: list[str] = []
                if value is not None and value.type == "as_pattern":
                    alias = value.child_by_field_name("alias")
                    if alias is not None:
                        self.targets(alias, names)
                    value = named(value)[0]
                probes = ["_ca_.ex()", self.lprobe(scope, line(c))]
                h_terminal = terminal if fin is None else None
                if value is not None:
                    self.wrap(value, f"({self.as_expression(probes)} or (", "))")
                    self.expressions(scope, value)
                    self.block_carry(scope, cbody, line(c), names, terminal=h_terminal, ctx=inner_ctx, loop=loop)
                else:
                    self.block(scope, named(cbody), probes, line(c), terminal=h_terminal, ctx=inner_ctx, loop=loop)
            elif c.type == "else_clause":
                self.block(scope, named(cbody), [], line(c), terminal=terminal if fin is None else None,
                           ctx=inner_ctx, loop=loop)
            else:
                stmts = [x for x in named(cbody)]
                fin_terminal = None
                if terminal is not None and scope.kind == "function":
                    def fin_terminal(last):
                        return "_ca_.fin0(%d)" % self.rprobe(scope, line(last))
                self.block(scope, stmts, ["_ca_.ex()"], line(c), terminal=fin_terminal, ctx=ctx, loop=loop)
                last = stmts[-1] if stmts else None
                if (fin_terminal is None and rec["fin"] and not ctx and last is not None
                        and last.type in SIMPLE and last.type not in ("return_statement", "raise_statement")):
                    self.post(last.end_byte, "; _ca_.fin()")
        return []

    def with_stmt(self, scope, s, pending, carry, terminal, ctx, loop):
        clause = next((c for c in s.children if c.type == "with_clause"), None)
        items = [n for n in self.walk(clause) if n.type == "with_item"] if clause is not None else []
        items.sort(key=lambda n: n.start_byte)
        if not items:
            return pending
        names: list[str] = []
        cms = []
        for it in items:
            value = it.child_by_field_name("value") or named(it)[0]
            if value.type == "as_pattern":
                alias = value.child_by_field_name("alias")
                if alias is not None:
                    self.targets(alias, names)
                value = named(value)[0]
            cms.append(value)
        rec = {"fin": False, "node": s}
        probes = pending + [self.lprobe(scope, line(s), carry)]
        pl = self.line_probe(scope, line(s))
        self.ln[pl] = ()
        self.block_carry(scope, self.body_of(s), line(s), names, ctx=ctx + [rec], loop=loop)
        pr = self.rprobe(scope, line(s)) if terminal is not None else -1
        fin = 1 if (rec["fin"] and not ctx) else 0
        if len(cms) == 1:
            self.wrap(cms[0], "%s.w(%d, %s or (" % (self.mod(probes), pl, self.as_expression(probes)),
                      "), %d, %d)" % (fin, pr))
        else:
            self.wrap(cms[0], f"{self.as_expression(probes)} or (", ")")
            self.wrap(cms[-1], "_ca_.w(%d, (" % pl, "), %d, %d)" % (fin, pr))
        for cm in cms:
            self.expressions(scope, cm)
        return []

    # --- definitions -----------------------------------------------------------------------

    def def_stmt(self, scope, s, pending, carry, decorators):
        name = self.text(s.child_by_field_name("name"))
        if s.children and s.children[0].type == "async":
            raise SkipProgram("async code is not traced")
        ln = line(s)
        first = line(decorators[0]) if decorators else ln
        table = self.table_for(name, ln)
        sub = Scope("function", name, table, scope, s)
        params = tuple(table.get_parameters()) if table else ()
        sub.params = set(params)
        frees = tuple(sorted(table.get_frees())) if table else ()
        if table is not None:
            rebound = set()
            for child in self.descendants(table):
                for sym in child.get_symbols():
                    if sym.is_free() and sym.get_name() in sub.visible:
                        rebound.add(sym.get_name())
            sub.on_call = sorted(rebound)
        pc = self.rw.probe("call", first, name)
        sub.pc = pc
        self.calls[pc] = (params, frees)
        self.xprobes(sub, pc, first, end_line(s))
        body = self.body_of(s)
        stmts = [c for c in named(body)]
        sub.gen = any(n.type == "yield" and n.is_named for n in self.own_nodes(body))
        call = "_ca_.c({})".format(", ".join([str(pc), *params, *frees]))
        if sub.gen:
            call = f"(_ca_g := {call})"

        def terminal(last):
            return "_ca_.r0(%d)" % self.rprobe(sub, line(last))
        stmts = [c for c in stmts if c.type != "comment"]
        self.block(sub, stmts, [("call", call, pc, sub.gen, params + frees)], 0, terminal=terminal, fbody=True,
                   bound=set(params) | set(frees))
        if decorators:
            return []
        # the def line itself (and the lines of its defaults and annotations): line events in the
        # defining scope, run by the next probe (a def runs no code of the program)
        lines = self.def_lines(s)
        events = [self.lprobe(scope, lines[0], carry)]
        for ln in lines[1:]:
            p = self.line_probe(scope, ln)
            self.ln[p] = ()
            events.append("_ca_.l0(%d)" % p)
        return list(pending) + events

    def def_lines(self, s) -> list[int]:
        """The lines CPython 3.11 reports while it runs a `def` statement: defaults, keyword-only
        defaults, annotations, then the def line (MAKE_FUNCTION)."""
        ln = line(s)
        params = s.child_by_field_name("parameters")
        seq: list[int] = []
        defaults, kwdefaults, annotations = [], [], []
        kwonly = False
        for prm in (named(params) if params is not None else []):
            t = prm.type
            if t == "keyword_separator" or t == "list_splat_pattern" or (
                    t == "typed_parameter" and named(prm) and named(prm)[0].type == "list_splat_pattern"):
                kwonly = True
            value = prm.child_by_field_name("value") if t in ("default_parameter", "typed_default_parameter") else None
            ann = prm.child_by_field_name("type") if t in ("typed_parameter", "typed_default_parameter") else None
            if value is not None:
                if kwonly:
                    kwdefaults += [line(prm), line(value)]  # its name (on its line), its value
                else:
                    defaults.append(line(value))
            if ann is not None:
                annotations.append(line(ann))
        ret = s.child_by_field_name("return_type")
        if defaults:
            seq += defaults + [ln]
        if kwdefaults:
            seq += kwdefaults + [ln]
        if not self.future_annotations and (annotations or ret is not None):
            for a in annotations:
                seq += [ln, a]
            if ret is not None:
                seq += [ln, line(ret)]
            seq.append(ln)
        seq.append(ln)
        out = [seq[0]]
        for x in seq[1:]:
            if x != out[-1]:
                out.append(x)
        return out

    def descendants(self, table):
        for c in table.get_children():
            yield c
            yield from self.descendants(c)

    def own_nodes(self, node):
        stack = [node]
        while stack:
            n = stack.pop()
            yield n
            for c in n.children:
                if c.type not in NESTED:
                    stack.append(c)

    def class_stmt(self, scope, s, pending, carry, decorators):
        name = self.text(s.child_by_field_name("name"))
        ln = line(s)
        first = line(decorators[0]) if decorators else ln
        table = self.table_for(name, ln)
        sub = Scope("class", name, table, scope, s)
        pc = self.rw.probe("call", first, name)
        sub.pc = pc
        self.calls[pc] = ((), ())
        self.xprobes(sub, pc, first, end_line(s))
        pl = self.line_probe(sub, first)
        self.ln[pl] = ()
        body = self.body_of(s)
        stmts = named(body)
        last = stmts[-1] if stmts else s
        if last.type == "decorated_definition":
            last = last.child_by_field_name("definition") or last
        pr = self.rprobe(sub, line(last))
        # the class that imports the prelude runs before the __build_class__ hook is in place:
        # its body enters its frame itself, and the next statement leaves it
        unhooked = "@SETUP@" in pending
        left = self.block(sub, stmts, ["_ca_.kenter(%d)" % first] if unhooked else [], line(s))
        self.classes[first] = (pc, pl, pr, self.tails(sub, [x for x in left if "kenter" not in x]))
        items = list(pending) + [self.lprobe(scope, ln, carry)]
        supers = s.child_by_field_name("superclasses")
        bases = f"*({self.as_expression(items)} or ())"
        if supers is None:
            self.edits.append((s.child_by_field_name("name").end_byte, f"({bases})", 0))
        else:
            kids = named(supers)
            self.edits.append((supers.start_byte + 1, bases + (", " if kids else ""), 0))
            self.expressions(scope, supers)
        return ["_ca_.kpop(%d, %s)" % (first, name)] if unhooked else []

    def decorated(self, scope, s, pending, carry):
        defn = s.child_by_field_name("definition")
        decorators = [c for c in s.children if c.type == "decorator"]
        if defn.type == "class_definition":
            self.apply_decorators(scope, defn, decorators, pending, carry, line(defn), True)
            self.class_stmt(scope, defn, [], [], decorators)
            return []
        self.def_stmt(scope, defn, [], [], decorators)
        return self.apply_decorators(scope, defn, decorators, pending, carry, line(defn), False)

    def def_probes(self, scope, defn) -> list[int]:
        out = []
        for ln in self.def_lines(defn):
            p = self.line_probe(scope, ln)
            self.ln[p] = ()
            out.append(p)
        return out

    def apply_decorators(self, scope, defn, decorators, pending, carry, def_line, is_class):
        pdef = self.line_probe(scope, def_line)
        self.ln[pdef] = ()
        n = len(decorators)
        for k, dec in enumerate(decorators):
            expr = named(dec)[0]
            pk = self.lprobe(scope, line(dec), carry if k == 0 else ())
            items = (list(pending) if k == 0 else []) + [pk]
            pkid = self.last_probe
            pre = (self.def_probes(scope, defn) if (k == n - 1 and not is_class) else []) + [pkid]
            post = [pdef] if k == 0 else []
            self.wrap(expr, f"{self.mod(items)}.d({self.as_expression(items)} or (",
                      f"), {tuple(pre)!r}, {tuple(post)!r})")
            self.expressions(scope, expr)
        return []


def rewrite(rw: Rewrite) -> None:
    Rewriter(rw).run()
