"""Swift rewriter: frames with `defer`, line probes before statements, values by String(reflecting:).

What it does (README.md beside this file has the user-facing summary):
- top-level code (main.swift) is the frame `<module>`: `let __ca_m = __CA.module(P)` before the
  first top-level statement, `__CA.moduleEnd(__ca_m, P)` after the last one;
- every function, initialiser and deinitialiser gets a frame: `let __ca_f = __CA.call(P, [args]);
  defer { __CA.exit(__ca_f) }` first in its body; the defer writes the return record, or an
  exception record and a return without value when an error leaves the frame;
- `return e` becomes `return __CA.ret(__ca_f, P, e)`, a single-expression body (an implicit
  return) gets its `return`, `throw e` becomes `throw __CA.thrown(__ca_f, P, e)`, a `catch`
  block starts with `__CA.caught(...)`;
- a line probe before every statement, in the condition list of `while` (so it fires on every
  iteration), in the condition of `repeat ... while`, at the start of a `for`-`in` body;
- a probe reads only variables that are definitely initialised there (Swift's definite
  initialisation): declared with an initialiser, `var` of an optional type (nil), bound by
  `if let`/`guard let`/`for`/`catch`, or assigned on every path before; never `lazy` or
  computed locals. Closures are not frames (their bodies are left alone).
Every read asks `rw.keep(line, name)` first, every probe `rw.keep(line)`: the repair loop drops
what swiftc rejects.
"""

from __future__ import annotations

from codealchemy.tracer.instrument import Rewrite, SkipProgram

DECLS = {"function_declaration", "class_declaration", "protocol_declaration", "import_declaration",
         "typealias_declaration", "operator_declaration", "precedence_group_declaration", "init_declaration",
         "deinit_declaration", "subscript_declaration", "associatedtype_declaration", "comment",
         "multiline_comment"}
LOOPS_AND_BRANCHES = {"if_statement", "guard_statement", "while_statement", "for_statement",
                      "repeat_while_statement", "switch_statement", "do_statement"}
STATEMENTS = DECLS | LOOPS_AND_BRANCHES | {"property_declaration", "assignment", "control_transfer_statement",
                                           "statement_label"}
SIMPLE = {"property_declaration", "assignment", "control_transfer_statement"}


def iter_nodes(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(n.children)


def meet(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def swift_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Var:
    __slots__ = ("name", "id", "init")

    def __init__(self, name: str, id: int, init: bool):
        self.name = name
        self.id = id
        self.init = init


class Frame:
    """The probes of one frame: a function body, or the top-level code (`<module>`)."""

    def __init__(self, rw: Rewrite, name: str, handle: str):
        self.rw = rw
        self.text = rw.text
        self.name = name
        self.handle = handle      # __ca_f or __ca_m
        self.level = 0
        self.skip_line = 0
        self.returns = False      # a function with a return value

    def line_of(self, node) -> int:
        return node.start_point[0] + 1

    def reads(self, scope: dict, assigned, line: int) -> str:
        if assigned is None:
            return "[]"
        vs = [v for v in scope.values() if v.id in assigned and self.rw.keep(line, v.name)]
        return "[" + ", ".join(f"({swift_str(v.name)}, __CA.s({v.name}))" for v in vs) + "]"

    def probe(self, node, scope, assigned, line: int | None = None) -> None:
        line = line or self.line_of(node)
        if self.skip_line and line == self.skip_line:
            return
        if not self.rw.keep(line):
            return
        pid = self.rw.probe("line", line, self.name)
        at = node.start_byte
        siblings = [c for c in node.parent.children if c.is_named] if node.parent is not None else []
        i = next((k for k, c in enumerate(siblings) if c.start_byte == node.start_byte and c.type == node.type), 0)
        prev = siblings[i - 1] if i else None
        if prev is not None and prev.type == "statement_label":
            at = prev.start_byte      # `outer: for ...`: the probe goes before the label
        self.rw.insert(at,
                       f"if __CA.on {{ __CA.line({pid}, {self.handle}, {self.reads(scope, assigned, line)}) }}; ", 0)

    def cond_probe(self, at: int, line: int, scope, assigned, suffix: str) -> None:
        if not self.rw.keep(line):
            return
        pid = self.rw.probe("line", line, self.name)
        self.rw.insert(at, f"__CA.t({pid}, {self.handle}, {self.reads(scope, assigned, line)}){suffix}", 0)

    # --- statements ---------------------------------------------------------------------------

    def block(self, items, scope: dict, assigned, first_line: int = 0):
        skip = first_line
        for c in items:
            if not c.is_named or c.type in ("comment", "multiline_comment"):
                continue
            self.skip_line = skip if self.line_of(c) == skip else 0
            assigned = self.stmt(c, scope, assigned)
            if c.type != "statement_label":
                skip = self.line_of(c) if c.type not in LOOPS_AND_BRANCHES and c.type not in DECLS else 0
        return assigned

    def body(self, node, scope: dict, assigned, header: int):
        """The statements between the braces of `node` (an if, loop, do, catch ...)."""
        stmts = next((c for c in node.children if c.type == "statements"), None)
        if stmts is None:
            return assigned
        return self.block(stmts.named_children, dict(scope), assigned, first_line=header)

    def stmt(self, node, scope, assigned):
        t = node.type
        if t in DECLS:
            return assigned
        line = self.line_of(node)
        if t == "property_declaration":
            return self.declare(node, scope, assigned)
        if t == "if_statement":
            self.probe(node, scope, assigned)
            inner = dict(scope)
            a1 = self.bindings(node, inner, assigned)
            parts = [c for c in node.children if c.type == "statements"]
            els = next((i for i, c in enumerate(node.children) if c.type == "else"), None)
            then = self.block(parts[0].named_children, dict(inner), a1, first_line=line) if parts and \
                (els is None or node.children.index(parts[0]) < els) else a1
            if els is None:
                return meet(then, assigned)
            after = next((c for c in node.children[els + 1:] if c.is_named and c.type not in ("comment",
                                                                                         "multiline_comment")), None)
            if after is None:
                other = assigned
            elif after.type == "if_statement":
                other = self.stmt(after, dict(scope), assigned)
            elif after.type == "statements":
                other = self.block(after.named_children, dict(scope), assigned, first_line=line)
            else:
                other = assigned
            return meet(then, other)
        if t == "guard_statement":
            self.probe(node, scope, assigned)
            self.body(node, scope, assigned, line)
            return self.bindings(node, scope, assigned)      # guard let binds after the guard
        if t == "while_statement":
            cond = node.child_by_field_name("condition")
            inner = dict(scope)
            a1 = self.bindings(node, inner, assigned)
            if cond is not None:
                self.cond_probe(cond.start_byte, line, scope, assigned, ", ")
            self.body(node, inner, a1, line)
            return assigned
        if t == "repeat_while_statement":
            self.probe(node, scope, assigned)
            out = self.body(node, scope, assigned, line)
            cond = node.child_by_field_name("condition")
            kw = [c for c in node.children if c.type == "while"]
            if cond is not None:
                self.cond_probe(cond.start_byte, self.line_of(kw[-1]) if kw else line, scope,
                                out if out is not None else assigned, " && (")
                self.rw.insert(cond.end_byte, ")", 0)
            return out if out is not None else assigned
        if t == "for_statement":
            self.probe(node, scope, assigned)
            inner = dict(scope)
            a1 = set(assigned) if assigned is not None else None
            item = node.child_by_field_name("item")
            for ident in self.bound(item, loose=True):
                v = Var(self.text(ident), ident.start_byte, True)
                inner[v.name] = v
                if a1 is not None:
                    a1.add(v.id)
            a1 = frozenset(a1) if a1 is not None else None
            brace = next((c for c in node.children if c.type == "{"), None)
            if brace is not None and self.rw.keep(line):
                pid = self.rw.probe("line", line, self.name)
                self.rw.insert(brace.end_byte,
                               f" if __CA.on {{ __CA.line({pid}, {self.handle}, {self.reads(inner, a1, line)}) }};",
                               -150)
            self.body(node, inner, a1, line)
            return assigned
        if t == "switch_statement":
            self.probe(node, scope, assigned)
            for entry in node.named_children:
                if entry.type == "switch_entry":
                    self.body(entry, scope, assigned, line)
            return assigned
        if t == "do_statement":
            self.probe(node, scope, assigned)
            out = self.body(node, scope, assigned, line)
            for c in node.named_children:
                if c.type != "catch_block":
                    continue
                inner = dict(scope)
                a1 = set(assigned) if assigned is not None else None
                pattern = c.child_by_field_name("error")
                names = self.bound(pattern) if pattern is not None else []
                for ident in names:
                    v = Var(self.text(ident), ident.start_byte, True)
                    inner[v.name] = v
                    if a1 is not None:
                        a1.add(v.id)
                if pattern is None:
                    err = "error"
                    inner["error"] = Var("error", c.start_byte, True)
                    if a1 is not None:
                        a1.add(c.start_byte)
                else:
                    err = self.text(names[0]) if len(names) == 1 and "as" in self.text(pattern).split() or \
                        len(names) == 1 and self.text(pattern).replace(" ", "") == f"let{self.text(names[0])}" \
                        else "nil"
                brace = next((x for x in c.children if x.type == "{"), None)
                if brace is not None and self.rw.keep(self.line_of(c)):
                    pid = self.rw.probe("line", self.line_of(c), self.name)
                    self.rw.insert(brace.end_byte, f" __CA.caught({self.handle}, {pid}, {err});", -150)
                caught = self.body(c, inner, frozenset(a1) if a1 is not None else None, self.line_of(c))
                out = meet(out, caught) if out is not None else caught
            return out
        if t == "statement_label":
            return assigned
        if t == "control_transfer_statement":
            self.probe(node, scope, assigned)
            self.transfer(node)
            return None
        # an expression statement (a call, an assignment ...)
        self.probe(node, scope, assigned)
        if t == "assignment":
            target = node.child_by_field_name("target")
            op = next((c for c in node.children if not c.is_named), None)
            if target is not None and op is not None and self.text(op) == "=" and assigned is not None:
                v = scope.get(self.text(target).strip())
                if v is not None:
                    return assigned | {v.id}
        return assigned

    def transfer(self, node) -> None:
        """return / throw (break and continue are left alone)."""
        kw = node.children[0]
        result = node.child_by_field_name("result")
        line = self.line_of(node)
        if self.handle == "__ca_m":
            return
        if kw.type == "throw_keyword":
            exprs = [c for c in node.named_children if c.type != "throw_keyword"]
            if exprs:
                pid = self.rw.probe("exception", line, self.name)
                self.rw.insert(exprs[0].start_byte, f"__CA.thrown({self.handle}, {pid}, ", 0)
                self.rw.insert(exprs[0].end_byte, ")", 0)
            return
        if self.text(kw) != "return":
            return
        pid = self.rw.probe("return", line, self.name)
        if result is None or not self.returns or not self.rw.keep(line, "return"):
            self.rw.insert(node.start_byte, f"__CA.retVoid({self.handle}, {pid}); ", 1)
            return
        self.rw.insert(result.start_byte, f"__CA.ret({self.handle}, {pid}, ", 0)
        self.rw.insert(result.end_byte, ")", 0)

    def bound(self, pattern, loose: bool = False) -> list:
        """The identifiers a pattern binds (`x`, `let e as E`, `case let .some(v)`; with `loose`,
        as in a for-in item, every name standing alone in a pattern: `(i, v)`)."""
        if pattern is None:
            return []
        out = []
        for n in iter_nodes(pattern):
            if n.type != "simple_identifier" or n.parent is None or self.text(n) == "_":
                continue
            p = n.parent
            if p.field_name_for_child(p.children.index(n)) == "bound_identifier" or \
                    loose and p.type == "pattern" and len(p.named_children) == 1:
                out.append(n)
        out.sort(key=lambda n: n.start_byte)
        return out

    def bindings(self, node, scope: dict, assigned):
        """`if let x = ...`, `guard let x = ...`, `while let x = ...`: the names bound."""
        out = set(assigned) if assigned is not None else None
        for i, c in enumerate(node.children):
            if node.field_name_for_child(i) == "bound_identifier" or (
                    c.type == "simple_identifier" and i and node.children[i - 1].type == "value_binding_pattern"):
                v = Var(self.text(c), c.start_byte, True)
                scope[v.name] = v
                if out is not None:
                    out.add(v.id)
            elif node.field_name_for_child(i) == "condition":
                for ident in self.bound(c):
                    v = Var(self.text(ident), ident.start_byte, True)
                    scope[v.name] = v
                    if out is not None:
                        out.add(v.id)
        return frozenset(out) if out is not None else None

    def declare(self, node, scope: dict, assigned):
        """let/var: a probe when it has an initialiser; the names it declares."""
        value = node.child_by_field_name("value")
        words = {self.text(c) for c in node.children if c.type in ("modifiers", "value_binding_pattern")}
        text = self.text(node)
        computed = any(c.type in ("computed_property", "willset_didset_block") for c in node.children)
        if value is not None:
            self.probe(node, scope, assigned)
        out = set(assigned) if assigned is not None else None
        is_var = "var" in words
        annotation = next((c for c in node.children if c.type == "type_annotation"), None)
        optional = annotation is not None and self.text(annotation).rstrip().endswith("?")
        for ident in self.bound(node.child_by_field_name("name") or node, loose=True):
            if computed or "lazy" in text.split():
                continue
            init = value is not None or (is_var and optional)
            v = Var(self.text(ident), ident.start_byte, init)
            scope[v.name] = v
            if init and out is not None:
                out.add(v.id)
        return frozenset(out) if out is not None else None


def params_of(fn, text) -> list:
    """The parameters a probe may read: not non-escaping closures (a non-escaping function value
    cannot be passed to the generic renderer) nor autoclosures."""
    out = []
    for p in fn.named_children:
        if p.type != "parameter":
            continue
        mods = " ".join(text(c) for c in p.children if c.type == "parameter_modifiers")
        if "@autoclosure" in text(p) or any(c.type == "function_type" for c in p.children) and "@escaping" not in mods:
            continue
        for i, c in enumerate(p.children):
            if p.field_name_for_child(i) == "name" and c.type == "simple_identifier":
                out.append(c)
                break
    return out


def instrument_function(rw: Rewrite, fn, name: str) -> None:
    body = fn.child_by_field_name("body")
    if body is None or not body.children or body.children[0].type != "{":
        return
    f = Frame(rw, name, "__ca_f")
    arrow = next((i for i, c in enumerate(fn.children) if c.type == "->"), None)
    if arrow is not None:
        rt = rw.text(fn.children[arrow + 1]).replace(" ", "")
        f.returns = rt not in ("Void", "()", "Never")
    scope, assigned = {}, set()
    line = f.line_of(fn)
    for ident in params_of(fn, rw.text):
        v = Var(rw.text(ident), ident.start_byte, True)
        scope[v.name] = v
        assigned.add(v.id)
    call = rw.probe("call", line, name)
    args = f.reads(scope, frozenset(assigned), line) if rw.keep(line) else "[]"
    rw.insert(body.children[0].end_byte, f" let __ca_f = __CA.call({call}, {args}); defer {{ __CA.exit(__ca_f) }};",
              -200)
    stmts = next((c for c in body.children if c.type == "statements"), None)
    if stmts is None:
        return
    items = [c for c in stmts.named_children if c.type not in ("comment", "multiline_comment")]
    if f.returns and len(items) == 1 and items[0].type not in STATEMENTS:
        # an implicit return: made explicit, since the body no longer is a single expression
        e = items[0]
        pid = rw.probe("return", f.line_of(e), name)
        rw.insert(e.start_byte, f"return __CA.ret(__ca_f, {pid}, ", 0)
        rw.insert(e.end_byte, ")", 0)
        return
    f.block(stmts.named_children, scope, frozenset(assigned), first_line=0)


def function_name(node, text) -> str:
    if node.type == "init_declaration":
        base = "init"
    elif node.type == "deinit_declaration":
        base = "deinit"
    else:
        name = node.child_by_field_name("name")
        base = text(name) if name is not None else "?"
    for a in ancestors(node):
        if a.type == "class_declaration":
            n = a.child_by_field_name("name")
            if n is not None:
                return f"{text(n)}.{base}"
        if a.type in ("function_declaration", "lambda_literal"):
            break
    return base


def ancestors(node):
    n = node.parent
    while n is not None:
        yield n
        n = n.parent


def rewrite(rw: Rewrite) -> None:
    if not rw.source.strip():
        raise SkipProgram("empty file")
    root = rw.root
    top = [c for c in root.named_children if c.type not in DECLS and c.type != "shebang_line"]
    has_main = any(rw.text(a) == "@main" for n in iter_nodes(root) if n.type == "attribute" for a in [n])
    if not top and not has_main:
        raise SkipProgram("no top-level code and no @main type")
    for n in iter_nodes(root):
        if n.type in ("function_declaration", "init_declaration", "deinit_declaration"):
            if any(a.type == "lambda_literal" or a.type == "protocol_declaration" for a in ancestors(n)):
                continue
            instrument_function(rw, n, function_name(n, rw.text))
    if top:
        m = Frame(rw, "<module>", "__ca_m")
        first = top[0]
        pid = rw.probe("call", m.line_of(first), "<module>")
        rw.insert(first.start_byte, f"let __ca_m = __CA.module({pid}); ", -500)
        m.block(root.named_children, {}, frozenset(), first_line=0)
        last = root.named_children[-1]
        end = rw.probe("return", last.end_point[0] + 1, "<module>")
        sep = "" if rw.source.endswith(b"\n") else "\n"
        rw.insert(len(rw.source), f"{sep}__CA.moduleEnd(__ca_m, {end})\n", 1000)
