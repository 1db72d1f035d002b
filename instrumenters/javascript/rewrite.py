"""JavaScript (node) rewriter: probes for calls, lines, returns, exceptions, await and yield.

What it does to a program (every insertion stays on the line it belongs to, so node's error
messages and stack traces keep the original line numbers):

- a header before the first statement loads the prelude (`require`, or `import` for an ES
  module) and opens the module frame; `__ca.end(__caf)` at the end closes it;
- every function body becomes
  `{ const __caf = __ca.enter(P, "a", a, ...); try { BODY } catch (__cae) { __ca.xw(__caf,
  __cae); throw __cae; } finally { __ca.leave(__caf); } }` (an arrow's expression body becomes
  a block that returns it);
- `__ca.l(__caf, P, "x", x, ...);` before each statement, with the variables that are in
  scope and initialized there (scope analysis below); loop conditions carry the probe of the
  loop header, so a header fires on each iteration;
- `return X` -> `return __ca.ret(__caf, P, (X))`, `await X` -> `await __ca.sus(__caf, (X))`,
  `yield X` -> `__ca.res(__caf, P, yield __ca.yld(__caf, P, (X)))`;
- catch clauses report the exception they catch; `try/finally` gets a reporting catch.

Scope analysis (TDZ safety): a probe names a variable only when the innermost declaration of
that name visible at the probe is a parameter, a `var` (hoisted), a catch parameter, or a
`let`/`const` whose declaration statement ended textually before the probe in an enclosing
block (within a switch: in the same case). Function and class declarations, imports and the
function's own name are never reported, but they shadow. Closures also report the variables
they use from enclosing functions when those can never be read before initialization.
"""

from __future__ import annotations

import json
import re
import sys

from codealchemy.tracer.instrument import Rewrite, SkipProgram

FUNCS = {"function_declaration", "function_expression", "function", "generator_function_declaration",
         "generator_function", "arrow_function", "method_definition"}
HOISTED = {"function_declaration", "generator_function_declaration"}
NO_PROBE = {"function_declaration", "generator_function_declaration", "empty_statement", "statement_block",
            "import_statement", "for_statement", "while_statement", "comment", "hash_bang_line"}
RESERVED = re.compile(rb"\b__ca[a-z]?\b")
BIG = 10 ** 9
MAX_VARS = 64  # variables named by one probe at most

CA = "__ca"
F = "__caf"
E = "__cae"
PRELUDE = "./_codealchemy.cjs"


def _bare_let(node) -> bool:
    """`let` alone on its line, no `;`: the grammar reads an expression statement, but JavaScript
    continues the declaration on the next line (`let\n  x = 1`), so nothing may go between them."""
    return (node.type == "expression_statement" and node.child_count == 1
            and node.children[0].type == "identifier" and node.children[0].text == b"let")


def _line(node) -> int:
    return node.start_point[0] + 1


def _span(node) -> int:
    return node.end_byte - node.start_byte


def _gap(parent, arg) -> str:
    """A space where the argument touches its keyword (`return(x)`, `await(x)`, `yield[x]`)."""
    prev = arg.prev_sibling
    while prev is not None and prev.type == "comment":
        prev = prev.prev_sibling
    return " " if prev is not None and prev.end_byte == arg.start_byte and not prev.is_named else ""


def _opener(span: float) -> float:
    """Priority of text inserted where a construct of this span starts: outer ones first."""
    return -span


def _closer(span: float) -> float:
    """Priority of text inserted where a construct ends: inner ones first, before any opener."""
    return -BIG + span


class Decl:
    __slots__ = ("name", "kind", "ready", "case", "report", "pos")

    def __init__(self, name, kind, ready, case=None, report=True, pos=0):
        self.name, self.kind, self.ready, self.case, self.report, self.pos = name, kind, ready, case, report, pos


class Scope:
    def __init__(self, node, parent, frame, kind="block"):
        self.node = node
        self.parent = parent
        self.frame = frame
        self.kind = kind
        self.decls: dict[str, Decl] = {}


class Frame:
    def __init__(self, node, name, parent, outer_scope, module=False):
        self.node = node
        self.name = name
        self.parent = parent
        self.outer_scope = outer_scope
        self.module = module
        self.scope: Scope | None = None
        self.decl_names: set[str] = set()
        self.refs: set[str] = set()
        self.captured: list[str] = []
        self.body_start = node.start_byte
        self.fallback = False


class Probe:
    __slots__ = ("at", "priority", "frame", "scope", "pid", "prefix", "suffix")

    def __init__(self, at, priority, frame, scope, pid, prefix="", suffix=";"):
        self.at, self.priority, self.frame, self.scope, self.pid = at, priority, frame, scope, pid
        self.prefix, self.suffix = prefix, suffix


def _binding_names(node, out: list) -> list:
    """Names bound by a declarator name / parameter / pattern node, in source order."""
    t = node.type
    if t in ("identifier", "shorthand_property_identifier_pattern"):
        out.append((node.text.decode("utf-8"), node))
    elif t in ("object_pattern", "array_pattern", "rest_pattern", "formal_parameters"):
        for c in node.named_children:
            _binding_names(c, out)
    elif t == "assignment_pattern" or t == "object_assignment_pattern":
        left = node.child_by_field_name("left")
        if left is not None:
            _binding_names(left, out)
    elif t == "pair_pattern":
        value = node.child_by_field_name("value")
        if value is not None:
            _binding_names(value, out)
    return out


def _is_directive(node) -> bool:
    return (node.type == "expression_statement" and node.named_child_count >= 1
            and node.named_children[0].type == "string")


class JSRewriter:
    def __init__(self, rw: Rewrite):
        self.rw = rw
        self.probes: list[Probe] = []
        self.frames: list[Frame] = []
        self.esm = False
        self.fallback: set[int] = set()

    # --- declarations -------------------------------------------------------------------

    def declare(self, scope: Scope, name: str, kind: str, ready: int, case=None, report=True, pos=0):
        if scope is None:
            return
        if name in scope.decls:
            old = scope.decls[name]
            if old.kind == "var" and kind == "var":
                old.ready = min(old.ready, ready)
            return
        scope.decls[name] = Decl(name, kind, ready, case, report, pos)
        if scope.frame is not None:
            scope.frame.decl_names.add(name)

    def func_scope(self, scope: Scope) -> Scope:
        s = scope
        while s.parent is not None and s.kind not in ("function", "program"):
            s = s.parent
        return s

    # --- probes -------------------------------------------------------------------------

    def line_probe(self, at, line, scope, frame, priority, prefix="", suffix=";"):
        if frame is None:
            return
        pid = self.rw.probe("line", line, frame.name)
        self.probes.append(Probe(at, priority, frame, scope, pid, prefix, suffix))

    def visible(self, probe: Probe) -> list[str]:
        at = probe.at
        seen: set[str] = set()
        found: list[tuple[int, str]] = []
        s = probe.scope
        frame = probe.frame
        while s is not None and s.frame is frame:
            for name, d in s.decls.items():
                if name in seen:
                    continue
                seen.add(name)
                if not d.report or d.ready > at:
                    continue
                if d.case is not None and not (d.case.start_byte <= at < d.case.end_byte):
                    continue
                found.append((d.pos, name))
            s = s.parent
        found.sort()
        names = [n for _, n in found]
        names += [n for n in frame.captured if n not in seen]
        if len(names) > MAX_VARS:
            # huge scopes (big generated modules): the latest declared ones
            names = names[-MAX_VARS:]
        return names

    def args_text(self, names) -> str:
        return "".join(f", {json.dumps(n, ensure_ascii=False)}, {n}" for n in names)

    # --- the walk -----------------------------------------------------------------------

    def run(self) -> None:
        root = self.rw.root
        if RESERVED.search(self.rw.source):
            raise SkipProgram("the program uses an identifier reserved by the tracer (__ca, __caf, __cae)")
        self.esm = self.detect_esm(root)
        module = Frame(root, "<module>", None, None, module=True)
        self.frames.append(module)
        scope = Scope(root, None, module, "program")
        module.scope = scope
        self.module = module
        self.module_probe = self.rw.probe("call", 1, "<module>")
        children = [c for c in root.named_children if c.type not in ("comment", "hash_bang_line")]
        i = 0
        while i < len(children) and _is_directive(children[i]):
            i += 1
        load = (f'import {CA} from "{PRELUDE}"; ' if self.esm else f'const {CA} = require("{PRELUDE}"); ')
        load += f"const {F} = {CA}.module({self.module_probe}); "
        if i < len(children):
            self.load_at = children[i].start_byte
        else:
            self.load_at = children[-1].end_byte if children else self.after_hashbang(root)
            load = ("; " if children else " ") + load
        self.rw.insert(self.load_at, load, priority=-BIG // 2)
        self.stmts(children[i:], scope, module)
        tail = f";{CA}.end({F});"
        if not self.rw.source.endswith(b"\n"):
            tail = "\n" + tail
        self.rw.insert(len(self.rw.source), tail, priority=BIG)
        self.finish()

    def after_hashbang(self, root) -> int:
        for c in root.children:
            if c.type == "hash_bang_line":
                nl = self.rw.source.find(b"\n", c.end_byte)
                return len(self.rw.source) if nl < 0 else nl + 1
        return 0

    def detect_esm(self, root) -> bool:
        """import/export, import.meta, or an await outside any function (top-level await)."""
        for name, node in self.rw.captures("module_syntax"):
            if name == "esm" or (name == "meta" and node.text.startswith(b"import")):
                return True
            if name == "await":
                p = node.parent
                while p is not None and p.type not in FUNCS and p.type != "class_static_block":
                    p = p.parent
                if p is None:
                    return True
        return False

    def stmts(self, nodes, scope, frame, owner_line=None):
        """A statement list. Like Python's line events, a line reports once per pass: a
        statement on the line of the statement just before it (or of the block's owner,
        `if (a) { b(); }`) gets no probe of its own."""
        prev = owner_line
        after_let = False
        for s in nodes:
            if s.type == "comment":
                continue
            line = _line(s)
            self.stmt(s, scope, frame, probe=line != prev and not after_let)
            after_let = _bare_let(s)
            if s.start_point[0] != s.end_point[0]:
                prev = None
            elif self.wants_probe(s) or s.type in ("for_statement", "while_statement"):
                prev = line

    def wants_probe(self, s) -> bool:
        t = s.type
        while t == "labeled_statement":
            body = s.child_by_field_name("body")
            if body is None:
                return False
            s, t = body, body.type
        if t in NO_PROBE:
            return False
        if t == "export_statement":
            decl = s.child_by_field_name("declaration")
            if decl is not None:
                return self.wants_probe(decl)
            value = s.child_by_field_name("value")
            return value is not None and value.type not in FUNCS and value.type != "class"
        return t.endswith("statement") or t.endswith("declaration")

    def stmt(self, s, scope, frame, probe=True):
        if frame is not None and probe and self.wants_probe(s):
            self.line_probe(s.start_byte, _line(s), scope, frame, _opener(_span(s) + 2))
        self.walk(s, scope, frame)

    def body(self, s, scope, frame, header_line=None, owner_line=None):
        """A statement in body position (if/else/loops): braced when it needs a probe.

        A body on its owner's line (`if (a) b();`) gets no line probe of its own: like
        Python's line events, one line reports once per pass."""
        if s.type == "statement_block":
            inner = Scope(s, scope, frame)
            if header_line is not None:
                self.line_probe(s.start_byte + 1, header_line, inner, frame, _opener(_span(s) + 1))
            self.stmts(s.named_children, inner, frame, owner_line)
            return
        own = self.wants_probe(s) and _line(s) != owner_line
        wrap = frame is not None and s.type not in HOISTED and (header_line is not None or own)
        if wrap:
            self.rw.insert(s.start_byte, "{", priority=_opener(_span(s) + 3))
            self.rw.insert(s.end_byte, "}", priority=_closer(_span(s) + 3))
            if header_line is not None:
                self.line_probe(s.start_byte, header_line, scope, frame, _opener(_span(s) + 2.5))
        if own:
            self.stmt(s, scope, frame)
        else:
            self.walk(s, scope, frame)

    def walk(self, n, scope, frame):
        t = n.type
        if t in FUNCS:
            self.function(n, scope, frame)
        elif t == "statement_block":
            self.stmts(n.named_children, Scope(n, scope, frame), frame)
        elif t in ("identifier", "shorthand_property_identifier"):
            if frame is not None:
                frame.refs.add(n.text.decode("utf-8"))
        elif t == "lexical_declaration":
            case = n.parent if scope.kind == "switch" and n.parent is not None else None
            for d in n.named_children:
                if d.type != "variable_declarator":
                    continue
                name = d.child_by_field_name("name")
                for nm, node in _binding_names(name, []) if name is not None else []:
                    self.declare(scope, nm, "let", n.end_byte, case, pos=node.start_byte)
                value = d.child_by_field_name("value")
                if value is not None:
                    self.walk(value, scope, frame)
        elif t == "variable_declaration":
            fs = self.func_scope(scope)
            for d in n.named_children:
                if d.type != "variable_declarator":
                    continue
                name = d.child_by_field_name("name")
                for nm, node in _binding_names(name, []) if name is not None else []:
                    self.declare(fs, nm, "var", n.end_byte, pos=node.start_byte)
                value = d.child_by_field_name("value")
                if value is not None:
                    self.walk(value, scope, frame)
        elif t in ("class_declaration", "class"):
            name = n.child_by_field_name("name")
            if t == "class_declaration" and name is not None:
                self.declare(scope, name.text.decode("utf-8"), "class", n.end_byte, report=False)
            for c in n.named_children:
                if c.type != "identifier" or c != name:
                    self.walk(c, scope, frame)
        elif t == "class_static_block":
            body = n.child_by_field_name("body")
            if body is not None:
                self.walk(body, Scope(n, scope, None), None)
        elif t == "import_statement":
            for c in n.named_children:
                if c.type == "import_clause":
                    for nm, node in self.import_names(c):
                        self.declare(scope, nm, "import", 0, report=False, pos=node.start_byte)
        elif t == "if_statement":
            self.walk(n.child_by_field_name("condition"), scope, frame)
            self.body(n.child_by_field_name("consequence"), scope, frame, owner_line=_line(n))
            alt = n.child_by_field_name("alternative")
            if alt is not None:
                stmt = [c for c in alt.named_children if c.type != "comment"]
                if stmt:
                    self.body(stmt[0], scope, frame)
        elif t == "for_statement":
            self.for_statement(n, scope, frame)
        elif t == "for_in_statement":
            self.for_in(n, scope, frame)
        elif t == "while_statement":
            cond = n.child_by_field_name("condition")
            self.cond_probe(cond, _line(n), scope, frame)
            self.walk(cond, scope, frame)
            self.body(n.child_by_field_name("body"), scope, frame, owner_line=_line(n))
        elif t == "do_statement":
            self.body(n.child_by_field_name("body"), scope, frame, owner_line=_line(n))
            cond = n.child_by_field_name("condition")
            self.cond_probe(cond, _line(cond), scope, frame)
            self.walk(cond, scope, frame)
        elif t == "labeled_statement":
            body = n.child_by_field_name("body")
            if body is not None and body.type == "statement_block":
                self.stmts(body.named_children, Scope(body, scope, frame), frame, _line(n))
            elif body is not None:
                self.walk(body, scope, frame)
        elif t == "switch_statement":
            self.walk(n.child_by_field_name("value"), scope, frame)
            sb = n.child_by_field_name("body")
            inner = Scope(sb, scope, frame, "switch")
            for case in sb.named_children:
                if case.type not in ("switch_case", "switch_default"):
                    continue
                value = case.child_by_field_name("value")
                if value is not None:
                    self.walk(value, inner, frame)
                self.stmts([c for c in case.named_children if c != value], inner, frame, _line(n))
        elif t == "try_statement":
            self.try_statement(n, scope, frame)
        elif t == "return_statement":
            self.return_statement(n, scope, frame)
        elif t == "await_expression":
            arg = [c for c in n.named_children if c.type != "comment"]
            if frame is not None and arg:
                a = arg[0]
                self.rw.insert(a.start_byte, f"{_gap(n, a)}{CA}.sus({F}, (", priority=_opener(_span(a) + 0.5))
                self.rw.insert(a.end_byte, "))", priority=_closer(_span(a) + 0.5))
            for c in arg:
                self.walk(c, scope, frame)
        elif t == "yield_expression":
            self.yield_expression(n, scope, frame)
        else:
            for c in n.named_children:
                self.walk(c, scope, frame)

    def import_names(self, clause):
        out = []
        for c in clause.named_children:
            if c.type == "identifier":
                out.append((c.text.decode("utf-8"), c))
            elif c.type == "namespace_import":
                out += [(i.text.decode("utf-8"), i) for i in c.named_children if i.type == "identifier"]
            elif c.type == "named_imports":
                for spec in c.named_children:
                    if spec.type != "import_specifier":
                        continue
                    alias = spec.child_by_field_name("alias") or spec.child_by_field_name("name")
                    if alias is not None:
                        out.append((alias.text.decode("utf-8"), alias))
        return out

    def cond_probe(self, cond, line, scope, frame):
        """A loop header probe inside a parenthesized condition: `(probe, cond)`."""
        if frame is None or cond is None:
            return
        if cond.type == "parenthesized_expression":
            self.line_probe(cond.start_byte + 1, line, scope, frame, _opener(_span(cond)), suffix=", ")
        else:
            self.line_probe(cond.start_byte, line, scope, frame, _opener(_span(cond) + 0.5), suffix=", ")

    def for_statement(self, n, scope, frame):
        inner = Scope(n, scope, frame, "for")
        init = n.child_by_field_name("initializer")
        cond = n.child_by_field_name("condition")
        inc = n.child_by_field_name("increment")
        if init is not None:
            self.walk(init, inner, frame)
        if cond is not None:
            if cond.type == "empty_statement":
                self.line_probe(cond.start_byte, _line(n), inner, frame, _opener(1), prefix="(",
                                suffix=", true)")
            else:
                self.line_probe(cond.start_byte, _line(n), inner, frame, _opener(_span(cond) + 0.5),
                                suffix=", ")
                self.walk(cond, inner, frame)
        if inc is not None:
            self.walk(inc, inner, frame)
        self.body(n.child_by_field_name("body"), inner, frame, owner_line=_line(n))

    def for_in(self, n, scope, frame):
        inner = Scope(n, scope, frame, "for")
        left = n.child_by_field_name("left")
        kind = n.child_by_field_name("kind")
        right = n.child_by_field_name("right")
        k = kind.type if kind is not None else None
        if left is not None:
            if k in ("let", "const"):
                for nm, node in _binding_names(left, []):
                    self.declare(inner, nm, "let", left.end_byte, pos=node.start_byte)
            elif k == "var":
                for nm, node in _binding_names(left, []):
                    self.declare(self.func_scope(scope), nm, "var", left.end_byte, pos=node.start_byte)
            else:
                self.walk(left, inner, frame)
        if right is not None:
            if frame is not None and any(c.type == "await" for c in n.children):
                # the loop awaits at each step: the frame leaves the stack in next()
                self.rw.insert(right.start_byte, f"{CA}.ait({F}, (", priority=_opener(_span(right) + 0.5))
                self.rw.insert(right.end_byte, "))", priority=_closer(_span(right) + 0.5))
            self.walk(right, inner, frame)
        self.body(n.child_by_field_name("body"), inner, frame, header_line=_line(n), owner_line=_line(n))

    def try_statement(self, n, scope, frame):
        body = n.child_by_field_name("body")
        handler = n.child_by_field_name("handler")
        final = n.child_by_field_name("finalizer")
        self.stmts(body.named_children, Scope(body, scope, frame), frame, _line(n))
        if handler is not None:
            self.catch_clause(handler, scope, frame)
        elif final is not None and frame is not None:
            self.rw.insert(final.start_byte, f"catch ({E}) {{ {CA}.x({F}, {E}); throw {E}; }} ",
                           priority=_opener(_span(final) + 1))
        if final is not None:
            fb = final.child_by_field_name("body")
            if fb is not None:
                self.walk(fb, scope, frame)

    def catch_clause(self, n, scope, frame):
        inner = Scope(n, scope, frame, "catch")
        param = n.child_by_field_name("parameter")
        body = n.child_by_field_name("body")
        at = body.start_byte + 1
        pri = _opener(_span(body) + 1)
        if param is not None and param.type == "identifier":
            name = param.text.decode("utf-8")
            self.declare(inner, name, "catch", 0, pos=param.start_byte)
            if frame is not None:
                self.rw.insert(at, f" {CA}.x({F}, {name});", priority=pri)
        elif param is None:
            if frame is not None:
                kw = n.children[0]
                self.rw.insert(kw.end_byte, f" ({E})", priority=0)
                self.rw.insert(at, f" {CA}.x({F}, {E});", priority=pri)
        else:
            for nm, node in _binding_names(param, []):
                self.declare(inner, nm, "let", at, pos=node.start_byte)
            if frame is not None:
                # `catch ({a, b})` -> `catch (__cae) { __ca.x(...); let {a, b} = __cae;`: the
                # pattern moves as text (functions in its defaults stay uninstrumented)
                pattern = self.rw.text(param)
                self.rw.replace(param.start_byte, param.end_byte, E)
                self.rw.insert(at, f" {CA}.x({F}, {E}); let {pattern} = {E};", priority=pri)
            else:
                return self.walk(body, inner, frame)
        self.stmts(body.named_children, Scope(body, inner, frame), frame)

    def return_statement(self, n, scope, frame):
        arg = [c for c in n.named_children if c.type != "comment"]
        if frame is not None and not frame.module:
            pid = self.rw.probe("return", _line(n), frame.name)
            if arg:
                a = arg[0]
                ret = "retl" if frame.fallback else "ret"
                self.rw.insert(a.start_byte, f"{_gap(n, a)}{CA}.{ret}({F}, {pid}, (", priority=_opener(_span(a) + 0.5))
                self.rw.insert(a.end_byte, "))", priority=_closer(_span(a) + 0.5))
            else:
                kw = n.children[0]
                ret = "retl" if frame.fallback else "ret"
                self.rw.insert(kw.end_byte, f" {CA}.{ret}({F}, {pid}, undefined)", priority=_closer(0))
        elif frame is not None and frame.module:
            # `return` in top-level CommonJS code ends the module: its frame returns
            if arg:
                a = arg[0]
                self.rw.insert(a.start_byte, f"{_gap(n, a)}({CA}.end({F}), (", priority=_opener(_span(a) + 0.5))
                self.rw.insert(a.end_byte, "))", priority=_closer(_span(a) + 0.5))
            else:
                self.rw.insert(n.children[0].end_byte, f" void {CA}.end({F})", priority=_closer(0))
        for c in arg:
            self.walk(c, scope, frame)

    def yield_expression(self, n, scope, frame):
        arg = [c for c in n.named_children if c.type != "comment"]
        star = any(c.type == "*" for c in n.children)
        if frame is not None:
            if star:
                a = arg[0]
                self.rw.insert(a.start_byte, f"{_gap(n, a)}{CA}.sus({F}, (", priority=_opener(_span(a) + 0.5))
                self.rw.insert(a.end_byte, "))", priority=_closer(_span(a) + 0.5))
            else:
                pr = self.rw.probe("return", _line(n), frame.name)
                pc = self.rw.probe("call", _line(n), frame.name)
                sp = _span(n)
                self.rw.insert(n.start_byte, f"{CA}.res({F}, {pc}, ", priority=_opener(sp + 0.5))
                if arg:
                    a = arg[0]
                    self.rw.insert(a.start_byte, f"{_gap(n, a)}{CA}.yld({F}, {pr}, (", priority=_opener(_span(a) + 0.5))
                    self.rw.insert(a.end_byte, "))", priority=_closer(_span(a) + 0.5))
                else:
                    kw = n.children[0]
                    self.rw.insert(kw.end_byte, f" {CA}.yld({F}, {pr}, undefined)", priority=_closer(0))
                self.rw.insert(n.end_byte, ")", priority=_closer(sp + 0.5))
        for c in arg:
            self.walk(c, scope, frame)

    # --- functions ----------------------------------------------------------------------

    def function(self, n, scope, frame):
        t = n.type
        name_node = n.child_by_field_name("name")
        if t in HOISTED and name_node is not None:
            self.declare(scope, name_node.text.decode("utf-8"), "func", 0, report=False)
        f = Frame(n, self.func_name(n), frame, scope)
        self.frames.append(f)
        fs = Scope(n, scope, f, "function")
        f.scope = fs
        if t in ("function_expression", "function", "generator_function") and name_node is not None:
            self.declare(fs, name_node.text.decode("utf-8"), "fname", 0, report=False)
        params = n.child_by_field_name("parameters")
        single = n.child_by_field_name("parameter")
        names: list[str] = []
        for p in ([single] if single is not None else []) + ([params] if params is not None else []):
            for nm, node in _binding_names(p, []):
                self.declare(fs, nm, "param", 0, pos=node.start_byte)
                if nm not in names:
                    names.append(nm)
            self.walk_param_defaults(p, fs, f)
        body = n.child_by_field_name("body")
        if body is None:
            return
        f.body_start = body.start_byte
        call = self.rw.probe("call", _line(n), f.name)
        enter = f"const {F} = {CA}.enter({call}{self.args_text(names)}); "
        catch = f"catch ({E}) {{ {CA}.xw({F}, {E}); throw {E}; }} finally {{ {CA}.leave({F}); }}"
        if body.type == "statement_block":
            kids = [c for c in body.named_children if c.type != "comment"]
            i = 0
            while i < len(kids) and _is_directive(kids[i]):
                i += 1
            at = kids[i - 1].end_byte if i else body.start_byte + 1
            if self.hoisting_conflict(kids, names):
                # a try block would turn these function declarations into block-scoped ones
                # that clash; this body is traced without the exception wrapper
                self.fallback.add(n.start_byte)
                f.fallback = True
                head, tail = " " + enter, f" {CA}.leave({F}); "
            else:
                head, tail = " " + enter + "try {", "} " + catch + " "
            if i:
                head = ";" + head  # after a directive without its semicolon
            if at == body.end_byte - 1:
                self.rw.insert(at, head + tail, priority=_opener(_span(body) + 3))
            else:
                self.rw.insert(at, head, priority=_opener(_span(body) + 3))
                self.rw.insert(body.end_byte - 1, tail, priority=_closer(_span(body) + 3))
            self.stmts(kids[i:], fs, f)
        else:
            sp = _span(body) + 3
            ret = self.rw.probe("return", _line(body), f.name)
            self.rw.insert(body.start_byte, "{ " + enter + "try { ", priority=_opener(sp))
            self.line_probe(body.start_byte, _line(body), fs, f, _opener(sp - 0.25))
            self.rw.insert(body.start_byte, f"return {CA}.ret({F}, {ret}, (", priority=_opener(sp - 0.5))
            self.rw.insert(body.end_byte, ")); } " + catch + " }", priority=_closer(sp))
            self.walk(body, fs, f)

    def walk_param_defaults(self, p, scope, frame):
        stack = [p]
        while stack:
            n = stack.pop()
            if n.type in ("assignment_pattern", "object_assignment_pattern"):
                right = n.child_by_field_name("right")
                if right is not None:
                    self.walk(right, scope, frame)
                left = n.child_by_field_name("left")
                if left is not None:
                    stack.append(left)
            elif n.type == "pair_pattern":
                for c in n.named_children:
                    if c.type == "computed_property_name":
                        self.walk(c, scope, frame)
                value = n.child_by_field_name("value")
                if value is not None:
                    stack.append(value)
            elif n.type in ("object_pattern", "array_pattern", "rest_pattern", "formal_parameters"):
                stack.extend(n.named_children)

    def hoisting_conflict(self, kids, params) -> bool:
        funcs = [c.child_by_field_name("name") for c in kids if c.type in HOISTED]
        names = [x.text.decode("utf-8") for x in funcs if x is not None]
        if not names:
            return False
        if len(set(names)) != len(names) or set(names) & set(params):
            return True
        var_names = set()
        stack = list(kids)
        while stack:
            n = stack.pop()
            if n.type in FUNCS or n.type in ("class", "class_declaration"):
                continue
            if n.type == "variable_declaration":
                for d in n.named_children:
                    nm = d.child_by_field_name("name") if d.type == "variable_declarator" else None
                    if nm is not None:
                        var_names.update(x for x, _ in _binding_names(nm, []))
            if n.type == "for_in_statement":
                kind = n.child_by_field_name("kind")
                left = n.child_by_field_name("left")
                if kind is not None and kind.type == "var" and left is not None:
                    var_names.update(x for x, _ in _binding_names(left, []))
            stack.extend(n.named_children)
        return bool(var_names & set(names))

    def func_name(self, n) -> str:
        t = n.type
        name = n.child_by_field_name("name")
        if t == "method_definition":
            mname = name.text.decode("utf-8") if name is not None else "<anonymous>"
            for c in n.children:
                if c.type in ("get", "set") and c != name:
                    mname = f"{c.type} {mname}"
                    break
            cls = self.class_name(n.parent.parent) if n.parent is not None and n.parent.type == "class_body" else None
            return f"{cls}.{mname}" if cls else mname
        if name is not None and t not in ("arrow_function",):
            return name.text.decode("utf-8")
        p = n.parent
        while p is not None and p.type == "parenthesized_expression":
            p = p.parent
        if p is None:
            return "<anonymous>"
        if p.type == "variable_declarator":
            nm = p.child_by_field_name("name")
            if nm is not None and nm.type == "identifier":
                return nm.text.decode("utf-8")
        elif p.type in ("assignment_expression", "augmented_assignment_expression"):
            left = p.child_by_field_name("left")
            if left is not None and left.type in ("identifier", "member_expression"):
                return left.text.decode("utf-8")
        elif p.type == "pair":
            key = p.child_by_field_name("key")
            if key is not None:
                k = key.text.decode("utf-8")
                return json.loads(k) if key.type == "string" and k.startswith('"') else k.strip("'")
        elif p.type == "field_definition":
            prop = p.child_by_field_name("property")
            if prop is not None:
                cls = self.class_name(p.parent.parent) if p.parent is not None else None
                pn = prop.text.decode("utf-8")
                return f"{cls}.{pn}" if cls else pn
        elif p.type == "export_statement":
            return "default"
        elif p.type == "assignment_pattern":
            left = p.child_by_field_name("left")
            if left is not None and left.type == "identifier":
                return left.text.decode("utf-8")
        return "<anonymous>"

    def class_name(self, cls) -> str | None:
        if cls is None:
            return None
        name = cls.child_by_field_name("name")
        if name is not None:
            return name.text.decode("utf-8")
        p = cls.parent
        while p is not None and p.type == "parenthesized_expression":
            p = p.parent
        if p is not None and p.type == "variable_declarator":
            nm = p.child_by_field_name("name")
            if nm is not None and nm.type == "identifier":
                return nm.text.decode("utf-8")
        return None

    # --- closures and output ---------------------------------------------------------------

    def capture(self, f: Frame) -> None:
        if f.module or f.parent is None or f.outer_scope is None:
            return
        for name in sorted(f.refs - f.decl_names):
            s = f.outer_scope
            while s is not None and name not in s.decls:
                s = s.parent
            if s is None or s.frame is None or s.frame.module:
                continue
            d = s.decls[name]
            if not d.report:
                continue
            # the outermost function between the declaring frame and f
            o = f
            while o.parent is not None and o.parent is not s.frame:
                o = o.parent
            if o.parent is not s.frame:
                continue
            if d.kind == "param":
                if o.node.start_byte < s.frame.body_start:
                    continue
            elif d.kind == "let":
                if o.node.type in HOISTED or o.node.start_byte < d.ready:
                    continue
                if d.case is not None and not (d.case.start_byte <= o.node.start_byte < d.case.end_byte):
                    continue
            elif d.kind not in ("var", "catch"):
                continue
            f.captured.append(name)

    def finish(self) -> None:
        for f in self.frames:
            self.capture(f)
        for p in self.probes:
            text = f"{p.prefix}{CA}.l({F}, {p.pid}{self.args_text(self.visible(p))}){p.suffix}"
            self.rw.insert(p.at, text, priority=p.priority)
        if self.fallback:
            self.rw.notes.append(f"{len(self.fallback)} function(s) traced without exception wrapper "
                                 "(function declarations that clash with var/params)")


# Prelude functions only rewrite() below calls, not the JSRewriter that TypeScript reuses: tsc's
# output is not the source, so TypeScript's toString keeps the probes.
JS_ONLY_CALLS = ("src",)


def source_map(rw: Rewrite, at: int) -> None:
    """Function.prototype.toString must show the program's own text (a quine, a function used
    as a key or printed): right after the prelude's load, `__ca.src(EDITS)` gives every edit
    as [distance of its output from the end of the file, its length, the text it replaced],
    in UTF-16 units, which is how a JavaScript string counts. Distances from the end stay
    true whatever the table's own length, since it sits before every function."""
    pieces, spans = [], []
    pos = size = 0
    for e in rw.edits():
        text = e.text.encode("utf-8", "surrogateescape")
        pieces += [rw.source[pos:e.start], text]
        size += e.start - pos
        spans.append((size, len(text), rw.source[e.start:e.end].decode("utf-8", "surrogateescape")))
        size += len(text)
        pos = e.end
    pieces.append(rw.source[pos:])
    units = _utf16_offsets(b"".join(pieces))
    total = units(-1)
    rows = [[total - units(start), units(start + n) - units(start), replaced] for start, n, replaced in spans]
    rw.insert(at, f"{CA}.src({json.dumps(rows, ensure_ascii=False)}); ", priority=-BIG // 2 + 1)


def _utf16_offsets(data: bytes):
    """byte offset -> UTF-16 offset in `data` (UTF-8)."""
    prefix = [0]
    for ch in data.decode("utf-8", "surrogateescape"):
        n = len(ch.encode("utf-8", "surrogateescape"))
        units = 2 if ord(ch) > 0xFFFF else 1
        prefix.extend([prefix[-1]] * (n - 1))
        prefix.append(prefix[-1] + units)
    return prefix.__getitem__


def rewrite(rw: Rewrite) -> None:
    for name, node in rw.captures("unsupported"):
        if name == "with":
            raise SkipProgram(f"`with` statement at line {_line(node)} makes variable scope dynamic; not traced")
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20000))
    try:
        js = JSRewriter(rw)
        js.run()
        source_map(rw, js.load_at)
    finally:
        sys.setrecursionlimit(old)
