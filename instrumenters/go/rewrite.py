"""Go rewriter: probes for calls, lines, returns and panics in a `package main` program.

What it does (the prelude, prelude/codealchemy_prelude.go, is compiled beside main.go):

- every function, method and function literal with a body gets, right after its `{`,
  `_caf := _caCall(P, END, "a", a, ...); defer func() { if _caf != nil { _caf.Exit(recover(),
  results...) } }();` (main: `_caMain`, frame 1 at depth 0). Unnamed results become named
  (`_caR0`, ...; a `_` result is renamed) so that the deferred Exit can read the returned
  values; the callers see the same function type;
- a line probe `_caf.L(P, "x", x, ...)` for each statement is put at the END OF THE PREVIOUS
  LINE (after the previous statement, or after the `{` / `case ...:` that opens the list), so
  the statement keeps its line and its columns and compiler messages stay the same;
- `return` statements get `_caf.R(P)` in the same place; loop conditions and `else if`
  conditions become `_caf.C(P, ...) && (cond)`, so the header fires on each check; range loops
  and condition-less loops also get a header probe at the start of their body;
- `fmt.Print*`/`fmt.Fprint*` calls go through prelude wrappers (same bytes written, plus an
  output record), padded to the same length; `os.Exit` and `log.Fatal*` become
  `_caFlushThen(os.Exit)(...)`; `recover()` becomes `_caRecovered(recover())`.

Scope analysis: a probe names a variable only when it is declared before the probe in an
enclosing scope of the same function (function literals: also the variables of enclosing
functions that the literal itself uses) and when the ORIGINAL program uses it somewhere
(parameters and named results always count as used). Reading a variable in a probe counts as
a use for the compiler, so probing a variable the program never uses would hide a real
"declared and not used" error; this way such a program still fails to compile, with the
compiler's own message. Imports are untouched (the prelude is a separate file), and a package
whose call we rewrote stays used through `var _ = pkg.Name` appended at the end of the file.
"""

from __future__ import annotations

import re

from codealchemy.tracer.instrument import Rewrite, SkipProgram

F = "_caf"
RESERVED = re.compile(rb"\b_ca(?:[A-Z0-9]\w*|f)\b")
PRINTS = {"Print": "_caPrint", "Println": "_caPrintln", "Printf": "_caPrintf", "Fprint": "_caFprint",
          "Fprintln": "_caFprintln", "Fprintf": "_caFprintf"}
EXITS = {("os", "Exit"), ("log", "Fatal"), ("log", "Fatalf"), ("log", "Fatalln")}
BREAKABLE = {"for_statement", "expression_switch_statement", "type_switch_statement", "select_statement"}
NO_PROBE = {"empty_statement", "block", "type_declaration", "comment"}


def _line(node) -> int:
    return node.start_point[0] + 1


def _named(node) -> list:
    return [c for c in node.children if c.is_named and c.type != "comment"]


class Var:
    __slots__ = ("name", "ctx", "used", "always", "show")

    def __init__(self, name, ctx, *, always=False, show=True):
        self.name, self.ctx, self.used, self.always, self.show = name, ctx, False, always, show


class Scope:
    def __init__(self, parent, ctx):
        self.parent, self.ctx, self.names = parent, ctx, {}

    def lookup(self, name):
        s = self
        while s is not None:
            if name in s.names:
                return s.names[name]
            s = s.parent
        return None

    def visible(self) -> list[Var]:
        seen: dict[str, Var] = {}
        s = self
        while s is not None:
            for name, v in s.names.items():
                seen.setdefault(name, v)
            s = s.parent
        return list(seen.values())


class Ctx:
    """One traced function or function literal."""

    def __init__(self, name, parent=None):
        self.name, self.parent = name, parent
        self.captured: set[int] = set()
        self.literals = 0


class GoRewriter:
    def __init__(self, rw: Rewrite):
        self.rw = rw
        self.pending: list[tuple[int, int, object]] = []
        self.packages: dict[str, str] = {}   # local name -> import path (fmt, os, log)
        self.keep_used: dict[str, str] = {}  # local package name -> a member, to keep it used

    # --- helpers ---------------------------------------------------------------------------

    def text(self, node) -> str:
        return self.rw.text(node)

    def later(self, at: int, priority: int, make) -> None:
        """An insertion whose text is made at the end (when every variable's use is known)."""
        self.pending.append((at, priority, make))

    def probe_text(self, pid: int, line: int, ctx: Ctx, snapshot: list[Var], method="L") -> str:
        parts = [str(pid)]
        for v in snapshot:
            if not v.show or v.name == "_" or not (v.always or v.used):
                continue
            if v.ctx is not ctx and id(v) not in ctx.captured:
                continue
            if not self.rw.keep(line, v.name):
                continue
            parts.append(f'"{v.name}", {v.name}')
        return f"{F}.{method}({', '.join(parts)})"

    def line_probe(self, node, scope: Scope, at: int, after_stmt: bool, extra: str = "") -> None:
        line = _line(node)
        if not self.rw.keep(line):
            if extra:
                self.rw.insert(at, ("; " + extra) if after_stmt else (" " + extra + ";"), 10)
            return
        ctx = scope.ctx
        pid = self.rw.probe("line", line, ctx.name)
        snap = scope.visible()

        def make():
            call = self.probe_text(pid, line, ctx, snap) + (("; " + extra) if extra else "")
            return ("; " + call) if after_stmt else (" " + call + ";")
        self.later(at, 10, make)

    def header_probe(self, node, scope: Scope, body) -> None:
        """A probe of the loop header's line at the start of each iteration (after the body's `{`)."""
        line = _line(node)
        if not self.rw.keep(line):
            return
        ctx = scope.ctx
        pid = self.rw.probe("line", line, ctx.name)
        snap = scope.visible()
        self.later(body.start_byte + 1, 0, lambda: " " + self.probe_text(pid, line, ctx, snap) + ";")

    def cond_probe(self, node, cond, scope: Scope) -> None:
        line = _line(node)
        if not self.rw.keep(line):
            return
        ctx = scope.ctx
        pid = self.rw.probe("line", line, ctx.name)
        snap = scope.visible()
        self.later(cond.start_byte, 0, lambda: self.probe_text(pid, line, ctx, snap, "C") + " && bool(")
        self.rw.insert(cond.end_byte, ")", 0)

    def declare(self, scope: Scope, ident, **kw) -> Var | None:
        name = self.text(ident)
        if name == "_":
            return None
        v = Var(name, scope.ctx, **kw)
        scope.names[name] = v
        return v

    def use(self, ident, scope: Scope) -> None:
        v = scope.lookup(self.text(ident))
        if v is None:
            return
        v.used = True
        ctx = scope.ctx
        while ctx is not None and ctx is not v.ctx:
            ctx.captured.add(id(v))
            ctx = ctx.parent

    # --- functions -------------------------------------------------------------------------

    def function(self, node, name: str, outer: Scope | None, parent: Ctx | None) -> None:
        body = node.child_by_field_name("body")
        if body is None:
            return
        ctx = Ctx(name, parent)
        scope = Scope(outer, ctx)
        args = []
        for field in ("receiver", "parameters"):
            plist = node.child_by_field_name(field)
            if plist is None:
                continue
            for pd in _named(plist):
                for ident in pd.children_by_field_name("name"):
                    if self.declare(scope, ident, always=True) is not None:
                        args.append(self.text(ident))
        results = self.results(node, scope)
        call = self.rw.probe("call", _line(node), name)
        end = self.rw.probe("return", body.end_point[0] + 1, name)
        if name == "main" and parent is None:
            opener = f"_caMain({call}, {end})"
        else:
            opener = f"_caCall({call}, {end}" + "".join(f', "{a}", {a}' for a in args) + ")"
        exit_args = "".join(f", {r}" for r in results)
        self.rw.insert(body.start_byte + 1, f" {F} := {opener}; defer func() {{ if {F} != nil {{ "
                                            f"{F}.Exit(recover(){exit_args}) }} }}();", -1)
        self.block(body, scope, new_scope=True)

    def results(self, node, scope: Scope) -> list[str]:
        res = node.child_by_field_name("result")
        if res is None:
            return []
        if res.type != "parameter_list":
            self.rw.insert(res.start_byte, "(_caR0 ", 0)
            self.rw.insert(res.end_byte, ")", 0)
            return ["_caR0"]
        names = []
        for i, pd in enumerate(_named(res)):
            idents = pd.children_by_field_name("name")
            if not idents:
                self.rw.insert(pd.start_byte, f"_caR{i} ", 0)
                names.append(f"_caR{i}")
                continue
            for ident in idents:
                if self.text(ident) == "_":
                    self.rw.replace(ident.start_byte, ident.end_byte, f"_caR{len(names)}")
                    names.append(f"_caR{len(names)}")
                else:
                    self.declare(scope, ident, always=True)
                    names.append(self.text(ident))
        return names

    def literal(self, node, scope: Scope) -> None:
        ctx = scope.ctx
        ctx.literals += 1
        self.function(node, f"{ctx.name}.func{ctx.literals}", scope, ctx)

    # --- statements ------------------------------------------------------------------------

    def block(self, block, scope: Scope, new_scope=True) -> None:
        inner = Scope(scope, scope.ctx) if new_scope else scope
        lists = [c for c in block.children if c.type == "statement_list"]
        if lists:
            self.statements(lists[0], inner, block.start_byte + 1)

    def statements(self, slist, scope: Scope, anchor: int) -> None:
        at, after = anchor, False
        for stmt in _named(slist):
            self.statement(stmt, scope, at, after)
            at, after = stmt.end_byte, True

    def statement(self, node, scope: Scope, at: int, after: bool) -> None:
        inner = node
        while inner.type == "labeled_statement":
            kids = [c for c in _named(inner) if c.type != "label_name"]
            if not kids:
                return
            inner = kids[0]
        probe = inner.type not in NO_PROBE and not self.conditional_loop(inner)
        extra = ""
        if inner.type == "return_statement":
            rp = self.rw.probe("return", _line(inner), scope.ctx.name)
            extra = f"{F}.R({rp})"
        if probe and inner is not node and inner.type not in BREAKABLE:
            # a goto target: the probe goes after the (last) label, so that a jump runs it too
            labels = [c for c in node.children if c.type == ":"]
            inner_parent = inner.parent
            colon = next((c for c in inner_parent.children if c.type == ":"), labels[0] if labels else None)
            self.line_probe(inner, scope, colon.end_byte, False, extra)
        elif probe:
            self.line_probe(inner, scope, at, after, extra)
        self.visit(inner, scope)

    @staticmethod
    def conditional_loop(node) -> bool:
        if node.type != "for_statement":
            return False
        for c in _named(node):
            if c.type == "for_clause":
                return c.child_by_field_name("condition") is not None
            if c.type not in ("range_clause", "block"):
                return True
        return False

    def visit(self, node, scope: Scope) -> None:
        t = node.type
        if t == "block":
            self.block(node, scope)
        elif t == "short_var_declaration":
            self.short_var(node, scope)
        elif t == "var_declaration":
            self.var_decl(node, scope)
        elif t == "const_declaration":
            for spec in self.specs(node, "const_spec"):
                for field in ("type", "value"):
                    for c in spec.children_by_field_name(field):
                        self.expr(c, scope)
                for ident in spec.children_by_field_name("name"):
                    self.declare(scope, ident, show=False)
        elif t == "type_declaration":
            return
        elif t == "assignment_statement":
            self.assignment(node, scope)
        elif t == "if_statement":
            self.if_statement(node, scope, False)
        elif t == "for_statement":
            self.for_statement(node, scope)
        elif t in ("expression_switch_statement", "type_switch_statement", "select_statement"):
            self.switch(node, scope)
        elif t == "labeled_statement":
            for c in _named(node):
                if c.type != "label_name":
                    self.visit(c, scope)
        elif t in ("short_var_declaration", "assignment_statement"):
            self.visit_simple(node, scope)
        else:
            for c in _named(node):
                self.expr(c, scope)

    def specs(self, node, kind: str) -> list:
        out, stack = [], [node]
        while stack:
            n = stack.pop()
            for c in _named(n):
                if c.type == kind:
                    out.append(c)
                elif c.type.endswith("_spec_list"):
                    stack.append(c)
        return sorted(out, key=lambda n: n.start_byte)

    def short_var(self, node, scope: Scope) -> None:
        right = node.child_by_field_name("right")
        if right is not None:
            self.expr(right, scope)
        left = node.child_by_field_name("left")
        for ident in _named(left):
            if ident.type == "identifier" and self.text(ident) not in scope.names:
                self.declare(scope, ident)

    def var_decl(self, node, scope: Scope) -> None:
        for spec in self.specs(node, "var_spec"):
            for field in ("type", "value"):
                for c in spec.children_by_field_name(field):
                    self.expr(c, scope)
            for ident in spec.children_by_field_name("name"):
                self.declare(scope, ident)

    def assignment(self, node, scope: Scope) -> None:
        op = node.child_by_field_name("operator")
        left = node.child_by_field_name("left")
        if op is not None and self.text(op) == "=":
            for c in _named(left):
                while c.type == "parenthesized_expression" and _named(c):
                    c = _named(c)[0]
                if c.type != "identifier":
                    self.expr(c, scope)
        else:
            self.expr(left, scope)
        self.expr(node.child_by_field_name("right"), scope)

    def simple(self, node, scope: Scope) -> None:
        if node is not None:
            self.visit(node, scope)

    def if_statement(self, node, scope: Scope, else_if: bool) -> None:
        s = Scope(scope, scope.ctx)
        self.simple(node.child_by_field_name("initializer"), s)
        cond = node.child_by_field_name("condition")
        if else_if:
            self.cond_probe(node, cond, s)
        self.expr(cond, s)
        self.block(node.child_by_field_name("consequence"), s)
        alt = node.child_by_field_name("alternative")
        if alt is not None:
            if alt.type == "if_statement":
                self.if_statement(alt, s, True)
            else:
                self.block(alt, s)

    def for_statement(self, node, scope: Scope) -> None:
        s = Scope(scope, scope.ctx)
        body = node.child_by_field_name("body")
        clause = next((c for c in _named(node) if c != body), None)
        if clause is None:
            self.header_probe(node, s, body)
        elif clause.type == "for_clause":
            self.simple(clause.child_by_field_name("initializer"), s)
            cond = clause.child_by_field_name("condition")
            if cond is not None:
                self.cond_probe(node, cond, s)
                self.expr(cond, s)
            else:
                self.header_probe(node, s, body)
            self.simple(clause.child_by_field_name("update"), s)
        elif clause.type == "range_clause":
            right = clause.child_by_field_name("right")
            if right is not None:
                self.expr(right, scope)
            left = clause.child_by_field_name("left")
            if left is not None:
                if any(c.type == ":=" for c in clause.children):
                    for ident in _named(left):
                        if ident.type == "identifier":
                            self.declare(s, ident)
                else:
                    for c in _named(left):
                        if c.type != "identifier":
                            self.expr(c, scope)
            self.header_probe(node, s, body)
        else:
            self.cond_probe(node, clause, s)
            self.expr(clause, s)
        self.block(body, s)

    def switch(self, node, scope: Scope) -> None:
        s = Scope(scope, scope.ctx)
        self.simple(node.child_by_field_name("initializer"), s)
        alias = None
        value = node.child_by_field_name("value")
        if value is not None:
            self.expr(value, s)
        if node.type == "type_switch_statement":
            names = node.child_by_field_name("alias")
            if names is not None:
                ident = _named(names)[0]
                if self.text(ident) != "_":
                    alias = Var(self.text(ident), s.ctx)
        for case in _named(node):
            if case.type not in ("expression_case", "default_case", "type_case", "communication_case"):
                continue
            cs = Scope(s, s.ctx)
            if alias is not None:
                cs.names[alias.name] = alias
            if case.type == "expression_case":
                for v in case.children_by_field_name("value"):
                    self.expr(v, s)
            elif case.type == "communication_case":
                comm = case.child_by_field_name("communication")
                if comm is not None and comm.type == "receive_statement" and any(c.type == ":=" for c in comm.children):
                    self.expr(comm.child_by_field_name("right"), s)
                    for ident in _named(comm.child_by_field_name("left")):
                        if ident.type == "identifier":
                            self.declare(cs, ident)
                elif comm is not None:
                    self.visit(comm, s)
            colon = next((c for c in case.children if c.type == ":"), None)
            slist = next((c for c in case.children if c.type == "statement_list"), None)
            if colon is not None and slist is not None:
                self.statements(slist, cs, colon.end_byte)

    # --- expressions -----------------------------------------------------------------------

    def expr(self, node, scope: Scope) -> None:
        if node is None:
            return
        t = node.type
        if t == "identifier":
            self.use(node, scope)
        elif t == "func_literal":
            self.literal(node, scope)
        elif t in ("field_identifier", "type_identifier", "package_identifier", "label_name", "comment"):
            return
        elif t == "keyed_element":
            kids = _named(node)
            key = kids[0] if kids else None
            if key is not None and key.type == "literal_element" and [c.type for c in _named(key)] == ["identifier"]:
                kids = kids[1:]  # a struct field name (or a map key variable: then it is just not shown)
            for c in kids:
                self.expr(c, scope)
        elif t == "call_expression":
            self.call(node, scope)
        else:
            for c in _named(node):
                self.expr(c, scope)

    def visit_simple(self, node, scope: Scope) -> None:
        if node.type == "short_var_declaration":
            self.short_var(node, scope)
        elif node.type == "assignment_statement":
            self.assignment(node, scope)
        else:
            for c in _named(node):
                self.expr(c, scope)

    def call(self, node, scope: Scope) -> None:
        fn = node.child_by_field_name("function")
        args = node.child_by_field_name("arguments")
        if fn is not None and fn.type == "identifier" and self.text(fn) == "recover" \
                and scope.lookup("recover") is None and args is not None and not _named(args):
            self.rw.replace(node.start_byte, node.end_byte, "_caRecovered(recover())")
            return
        if fn is not None and fn.type == "identifier" and self.text(fn) == "panic" \
                and scope.lookup("panic") is None and scope.ctx is not None and args is not None \
                and len(_named(args)) == 1 and args.children[-1].type == ")":
            # the exception is reported where panic is called, before the deferred calls run
            arg = _named(args)[0]
            self.rw.insert(arg.start_byte, f"{F}.P(", 0)
            self.rw.insert(arg.end_byte, ")", 0)
        if fn is not None and fn.type == "selector_expression":
            self.tee(fn, args, scope)
            operand, field = fn.child_by_field_name("operand"), fn.child_by_field_name("field")
            if operand is not None and field is not None and operand.type == "identifier":
                pkg, member = self.text(operand), self.text(field)
                path = self.packages.get(pkg)
                if path is not None and scope.lookup(pkg) is None:
                    if path == "fmt" and member in PRINTS:
                        wrapper = PRINTS[member]
                        width = fn.end_byte - fn.start_byte
                        self.rw.replace(fn.start_byte, fn.end_byte, wrapper.ljust(width))
                        self.keep_used.setdefault(pkg, member)
                    elif (path, member) in EXITS:
                        self.rw.insert(fn.start_byte, "_caFlushThen(", 0)
                        self.rw.insert(fn.end_byte, ")", 0)
        for c in _named(node):
            self.expr(c, scope)

    def std_stream(self, node, scope: Scope) -> bool:
        """Whether `node` is `os.Stdout` or `os.Stderr` (os being the imported package)."""
        if node is None or node.type != "selector_expression":
            return False
        operand, field = node.child_by_field_name("operand"), node.child_by_field_name("field")
        return (operand is not None and operand.type == "identifier" and field is not None
                and self.packages.get(self.text(operand)) == "os" and scope.lookup(self.text(operand)) is None
                and self.text(field) in ("Stdout", "Stderr"))

    def tee(self, fn, args, scope: Scope) -> None:
        """Output that reaches stdout/stderr by other roads than fmt: `os.Stdout.Write(...)`,
        `os.Stdout.WriteString(...)`, `bufio.NewWriter(os.Stdout)`: the stream is wrapped in
        a writer that also records what it writes."""
        operand, field = fn.child_by_field_name("operand"), fn.child_by_field_name("field")
        member = self.text(field) if field is not None else ""
        target = None
        if member in ("Write", "WriteString") and self.std_stream(operand, scope):
            target = operand
        elif operand is not None and operand.type == "identifier" and member in ("NewWriter", "NewWriterSize") \
                and self.packages.get(self.text(operand)) == "bufio" and scope.lookup(self.text(operand)) is None:
            first = _named(args)[0] if args is not None and _named(args) else None
            if self.std_stream(first, scope):
                target = first
        if target is not None:
            self.rw.insert(target.start_byte, "_caTee(", 0)
            self.rw.insert(target.end_byte, ")", 0)

    # --- the file --------------------------------------------------------------------------

    def run(self) -> None:
        rw = self.rw
        root = rw.root
        package = next((c for c in root.children if c.type == "package_clause"), None)
        if package is None or self.text(_named(package)[0]) != "main":
            raise SkipProgram("not a main package (only `package main` programs run)")
        if RESERVED.search(rw.source):
            raise SkipProgram("the program uses identifiers reserved for the tracer (_ca...)")
        for name, node in rw.captures("imports"):
            if name != "import":
                continue
            path = self.text(node.child_by_field_name("path")).strip('"`')
            if path == "C":
                raise SkipProgram("cgo programs (import \"C\") are not traced")
            alias = node.child_by_field_name("name")
            local = self.text(alias) if alias is not None else path.rsplit("/", 1)[-1]
            if path in ("fmt", "os", "log", "bufio") and local not in ("_", "."):
                self.packages[local] = path
        functions = [(n, name) for name, n in rw.captures("functions") if name in ("function", "method")]
        if not any(n.type == "function_declaration" and self.text(n.child_by_field_name("name")) == "main"
                   for n, _ in functions):
            raise SkipProgram("no func main")
        for node, kind in functions:
            name = self.text(node.child_by_field_name("name"))
            if kind == "method":
                name = f"{self.receiver_type(node)}.{name}"
            self.function(node, name, None, None)
        for decl in root.children:
            if decl.type == "var_declaration":  # package-level `var f = func(...) {...}`
                for spec in self.specs(decl, "var_spec"):
                    names = spec.children_by_field_name("name")
                    values = [v for e in spec.children_by_field_name("value") for v in _named(e)]
                    for ident, value in zip(names, values, strict=False):
                        if value.type == "func_literal":
                            self.function(value, self.text(ident), None, None)
        for at, priority, make in self.pending:
            rw.insert(at, make(), priority)
        if self.keep_used:
            rw.insert(len(rw.source), "\n" + "".join(f"\nvar _ = {pkg}.{member}" for pkg, member
                                                     in sorted(self.keep_used.items())) + "\n", 0)
        logs = sorted(local for local, path in self.packages.items() if path == "log")
        if logs:
            # the standard logger writes to os.Stderr: record what it writes (unless the
            # program's own init gave it another writer)
            rw.insert(len(rw.source), f"\nfunc init() {{ _caLogTo({logs[0]}.Writer, {logs[0]}.SetOutput) }}\n", 1)

    def receiver_type(self, node) -> str:
        recv = node.child_by_field_name("receiver")
        for pd in _named(recv) if recv is not None else []:
            typ = pd.child_by_field_name("type")
            if typ is not None:
                text = self.text(typ).lstrip("*( ").rstrip(") ")
                return text.split("[", 1)[0]
        return "?"


def rewrite(rw: Rewrite) -> None:
    GoRewriter(rw).run()
