"""Java rewriter: calls, lines, returns and exceptions of a single-file program with a `main`.

Every probe is inserted on the line of the code it reports, so line numbers (compiler messages,
stack traces) stay those of the original. The prelude (CaTrace.java, class `_CaTrace`) is
appended after the last line as a non-public top-level class of the same package.

- A method, constructor or block lambda body `{ S }` becomes
  `{ final _CaTrace.F _cafN = _CaTrace.c(P, "a", a, ...); try { S } catch (java.lang.Throwable _catN)
  { _cafN.u(_catN); throw _catN; } finally { _cafN.e(END); } }` (a constructor's frame starts
  after its `this(...)`/`super(...)` call). The rethrow is "precise" (the catch parameter is
  effectively final), so the checked exceptions of the body are unchanged.
- `return e;` becomes `return _cafN.r(P, e);` (a generic identity: the type is inferred from
  the return target; in a byte/short/char method `_cafN.r(P, (byte) (e))`, since `return 7;`
  there relies on constant narrowing), `return;` gets `_cafN.r(P);` before it.
- Before each statement: `if (_cafN.k()) _cafN.l(P, "x", x, ...);` with the locals that are
  definitely assigned there (see below; `k()` is false when nothing is recorded, so a program
  past max_events or without a channel does not box and copy its variables at every line); a
  statement that is the sole body of an if/else/loop is put in braces with its probe. Loop
  conditions become `(!_cafN.k() || _cafN.h(P, ...)) && (cond)` (the header fires on every
  check); loops without a condition (or with the constant `true`, whose reachability must not
  change) and enhanced for loops get a probe before the loop and one at the start of each
  iteration.
- A user catch clause starts with `_cafN.x(e);` (the exception is reported in the frame that
  catches it).

Definite assignment, approximated conservatively: a local is read only after a declaration with
an initializer, or after a plain `x = ...;` statement at the top level of a block that encloses
the probe (until that block ends). Parameters, catch parameters, resources and enhanced-for
variables always count. Locals of an enclosing method are not read in lambdas and local or
anonymous classes (capture rules). Declarations in one `case` group are not read in the next.
What the compiler still rejects, the repair loop drops by line and variable (rw.keep).
"""

from __future__ import annotations

import re
from pathlib import Path

from codealchemy.instrumenters.java_like import BlockRewriter, Scope, Var, returns_value, start_line
from codealchemy.tracer.instrument import Rewrite, SkipProgram

PRELUDE = Path(__file__).resolve().parent / "CaTrace.java"
RESERVED = re.compile(rb"\b_[cC][aA][A-Za-z0-9_$]*")
TYPE_DECLS = {"class_declaration", "interface_declaration", "enum_declaration", "record_declaration"}
NO_PROBE = {"block", "class_declaration", "interface_declaration", "enum_declaration", "record_declaration",
            "annotation_type_declaration", "explicit_constructor_invocation", ";", "line_comment",
            "block_comment"}
COND_LOOPS = {"for_statement", "while_statement"}


def _named(node) -> list:
    return [c for c in node.children if c.is_named and c.type not in ("line_comment", "block_comment")]


class Ctx:
    """One traced function: method, constructor or block lambda."""

    def __init__(self, name: str, var: str, cls: str, narrow: str | None = None):
        self.name, self.var, self.cls = name, var, cls
        self.narrow = narrow  # byte/short/char: `return 7;` is a constant narrowed by the compiler
        self.valued = False   # returns a value: falling off the end means a return probe was dropped
        self.lambdas = 0


class JavaRewriter(BlockRewriter):
    ENABLED, LINE, HEADER = "k", "l", "h"

    def __init__(self, rw: Rewrite):
        super().__init__(rw)
        self.anon: dict[str, int] = {}
        self.field_kind = "new"

    # --- declarations ------------------------------------------------------------------------

    def type_decl(self, node, outer_cls: str | None = None) -> None:
        name_node = node.child_by_field_name("name")
        cls = self.text(name_node) if name_node is not None else (outer_cls or "?")
        body = node.child_by_field_name("body")
        if body is not None:
            self.class_body(body, cls)

    def class_body(self, body, cls: str) -> None:
        for member in _named(body):
            t = member.type
            if t == "method_declaration":
                self.method(member, cls)
            elif t in ("constructor_declaration", "compact_constructor_declaration"):
                self.constructor(member, cls)
            elif t in TYPE_DECLS:
                self.type_decl(member, cls)
            elif t == "enum_body_declarations":
                self.class_body(member, cls)
            elif t == "enum_constant":
                b = member.child_by_field_name("body")
                if b is not None:
                    self.class_body(b, cls)
                self.expressions(member, None, cls)
            elif t == "field_declaration":
                mods = next((c for c in member.children if c.type == "modifiers"), None)
                static = (mods is not None and "static" in self.text(mods).split()) or body.type == "interface_body"
                self.field_kind = "static" if static else "new"  # javac's lambda$static$N / lambda$new$N
                self.expressions(member, None, cls)

    def new_ctx(self, name: str, cls: str) -> Ctx:
        self.frames += 1
        return Ctx(name, f"_caf{self.frames}", cls)

    def params(self, node, scope: Scope) -> list[str]:
        names = []
        plist = node.child_by_field_name("parameters")
        if plist is None:
            return names
        if plist.type == "identifier":  # x -> ...
            names.append(self.text(plist))
        else:
            for p in _named(plist):
                if p.type in ("formal_parameter", "spread_parameter"):
                    ident = p.child_by_field_name("name")
                    if ident is None:
                        decl = next((c for c in _named(p) if c.type == "variable_declarator"), None)
                        ident = decl.child_by_field_name("name") if decl is not None else None
                    if ident is not None:
                        names.append(self.text(ident))
                elif p.type == "identifier":
                    names.append(self.text(p))
        for n in names:
            scope.names[n] = Var(n, True)
        return names

    def frame(self, body, ctx: Ctx, scope: Scope, args: list[str], line: int, *, is_main=False, after=None,
              value_return=None) -> None:
        """Wrap a body block in the frame's try/catch/finally."""
        call = self.rw.probe("call", line, ctx.name)
        end = self.rw.probe("return", body.end_point[0] + 1, ctx.name)
        kv = "".join(f', "{a}", {a}' for a in args if self.rw.keep(line, a))
        opener = "main" if is_main else "c"
        at = after.end_byte if after is not None else body.start_byte + 1
        v, t = ctx.var, "_cat" + ctx.var[4:]
        self.rw.insert(at, f" final _CaTrace.F {v} = _CaTrace.{opener}({call}{kv}); try {{", -10)
        close = body.end_byte - 1
        valued = ", true" if ctx.valued else ""
        self.rw.insert(close, f"}} catch (java.lang.Throwable {t}) {{ {v}.u({t}); throw {t}; }} "
                              f"finally {{ {v}.e({end}{valued}); }}", 10)
        self.statements(body, scope, skip_until=after)

    def method(self, node, cls: str) -> None:
        body = node.child_by_field_name("body")
        if body is None:
            return
        name = self.text(node.child_by_field_name("name"))
        ctx = self.new_ctx(f"{cls}.{name}", cls)
        rtype = node.child_by_field_name("type")
        if rtype is not None and self.text(rtype) in ("byte", "short", "char"):
            ctx.narrow = self.text(rtype)
        ctx.valued = rtype is not None and rtype.type != "void_type"
        scope = Scope(None, ctx)
        args = self.params(node, scope)
        mods = next((c for c in node.children if c.type == "modifiers"), None)
        is_main = name == "main" and mods is not None and "static" in self.text(mods).split()
        self.frame(body, ctx, scope, args, start_line(node), is_main=is_main)

    def constructor(self, node, cls: str) -> None:
        body = node.child_by_field_name("body")
        if body is None:
            return
        ctx = self.new_ctx(f"{cls}.<init>", cls)
        scope = Scope(None, ctx)
        args = self.params(node, scope)
        if node.type == "compact_constructor_declaration":
            return  # record components are assigned after the body: leave compact constructors alone
        first = next((c for c in _named(body)), None)
        after = first if first is not None and first.type == "explicit_constructor_invocation" else None
        if after is not None:
            self.expressions(after, scope, cls)
        self.frame(body, ctx, scope, args, start_line(node), after=after)

    def lambda_(self, node, scope: Scope | None, cls: str) -> None:
        body = node.child_by_field_name("body")
        outer = scope.ctx.name.rsplit(".", 1)[-1] if scope is not None else self.field_kind
        if body is None or body.type != "block":
            if body is not None:  # an expression lambda: no frame, no probes (its block lambdas are frames)
                self.expressions(body, Scope(None, scope.ctx, quiet=True) if scope is not None else None, cls)
            return
        owner = scope.ctx if scope is not None else None
        n = owner.lambdas if owner is not None else self.anon.setdefault("#field-lambdas", 0)
        if owner is not None:
            owner.lambdas += 1
        else:
            self.anon["#field-lambdas"] += 1
        ctx = self.new_ctx(f"{cls}.lambda${outer}${n}", cls)
        ctx.valued = returns_value(body, {"lambda_expression", "class_body"})
        inner = Scope(None, ctx)
        args = self.params(node, inner)
        self.frame(body, ctx, inner, args, start_line(node))

    # --- statements --------------------------------------------------------------------------

    def statements(self, block, scope: Scope, skip_until=None, new_scope=False) -> None:
        """The statements of a block (or a switch group, after its labels)."""
        s = Scope(scope, scope.ctx) if new_scope else scope
        started = skip_until is None
        prev = skip_until.end_point[0] if skip_until is not None else -1
        for stmt in _named(block):
            if not started:
                started = stmt == skip_until
                continue
            if stmt.type == "switch_label":
                prev = -1
                continue
            # one line event per line, as Python's: a statement after another on its line gets none
            self.statement(stmt, s, same_line=stmt.start_point[0] == prev)
            prev = stmt.end_point[0]

    def statement(self, node, scope: Scope, braces: bool = False, same_line: bool = False) -> None:
        """One statement; `braces`: it is the sole body of an if/else/loop (wrap it with its probe)."""
        t = node.type
        line = start_line(node)
        inner = node
        while inner.type == "labeled_statement":
            kids = [c for c in _named(inner) if c.type != "identifier"]
            if not kids:
                break
            inner = kids[0]
        probe = ""
        if same_line or (t == "local_variable_declaration" and not self.initialized(node)):
            pass  # `int x;` runs no code
        elif t not in NO_PROBE and not (inner.type in COND_LOOPS and self.has_cond(inner)):
            probe = self.line_probe(line, scope)
        ret = ""
        if inner.type == "return_statement" and not scope.quiet and self.rw.keep(line):
            pid = self.rw.probe("return", line, scope.ctx.name)
            value = next(iter(_named(inner)), None)
            if value is None:
                ret = f"{scope.ctx.var}.r({pid}); "
            else:
                cast = f"({scope.ctx.narrow}) (" if scope.ctx.narrow else ""
                self.rw.insert(value.start_byte, f"{scope.ctx.var}.r({pid}, {cast}", 5)
                self.rw.insert(value.end_byte, "))" if cast else ")", -5)
        if braces and t != "block" and (probe or ret):
            self.rw.insert(node.start_byte, "{ " + probe + ret, -1)
            self.rw.insert(node.end_byte, " }", 1)
        elif probe or ret:
            self.rw.insert(node.start_byte, probe + ret, -1)
        self.visit(inner, scope)

    @staticmethod
    def initialized(decl) -> bool:
        return any(d.child_by_field_name("value") is not None for d in decl.children_by_field_name("declarator"))

    def visit(self, node, scope: Scope) -> None:
        t = node.type
        cls = scope.ctx.cls
        if t == "block":
            self.statements(node, scope, new_scope=True)
        elif t == "local_variable_declaration":
            self.declaration(node, scope)
        elif t == "expression_statement":
            self.expressions(node, scope, cls)
            self.note_assignment(node, scope)
        elif t == "if_statement":
            self.expressions(node.child_by_field_name("condition"), scope, cls)
            self.body(node.child_by_field_name("consequence"), scope)
            alt = node.child_by_field_name("alternative")
            if alt is not None:
                self.body(alt, scope)
        elif t == "for_statement":
            s = Scope(scope, scope.ctx)
            for init in node.children_by_field_name("init"):
                if init.type == "local_variable_declaration":
                    self.declaration(init, s)
                else:
                    self.expressions(init, s, cls)
            cond = node.child_by_field_name("condition")
            if cond is not None and self.has_cond(node):
                self.cond_probe(cond, s)
                self.expressions(cond, s, cls)
                self.body(node.child_by_field_name("body"), s)
            else:
                self.body(node.child_by_field_name("body"), s, header_line=start_line(node))
            for upd in node.children_by_field_name("update"):
                self.expressions(upd, s, cls)
        elif t == "enhanced_for_statement":
            self.expressions(node.child_by_field_name("value"), scope, cls)
            s = Scope(scope, scope.ctx)
            name = node.child_by_field_name("name")
            if name is not None and name.type == "identifier":
                s.names[self.text(name)] = Var(self.text(name), True)
            self.body(node.child_by_field_name("body"), s, header_line=start_line(node))
        elif t == "while_statement":
            cond = node.child_by_field_name("condition")
            if self.has_cond(node):
                inner = _named(cond)[0] if cond.type == "parenthesized_expression" and _named(cond) else cond
                self.cond_probe(inner, scope, start_line(node))
                self.expressions(cond, scope, cls)
                self.body(node.child_by_field_name("body"), scope)
            else:
                self.body(node.child_by_field_name("body"), scope, header_line=start_line(node))
        elif t == "do_statement":
            self.body(node.child_by_field_name("body"), scope)
            cond = node.child_by_field_name("condition")
            if self.has_cond(node):
                inner = _named(cond)[0] if cond.type == "parenthesized_expression" and _named(cond) else cond
                self.cond_probe(inner, scope)
                self.expressions(cond, scope, cls)
        elif t in ("try_statement", "try_with_resources_statement"):
            s = Scope(scope, scope.ctx)
            res = node.child_by_field_name("resources")
            if res is not None:
                for r in _named(res):
                    self.expressions(r, s, cls)
                    name = r.child_by_field_name("name")
                    if name is not None:
                        s.names[self.text(name)] = Var(self.text(name), True)
            self.statements(node.child_by_field_name("body"), s, new_scope=True)
            for c in _named(node):
                if c.type == "catch_clause":
                    self.catch(c, scope)
                elif c.type == "finally_clause":
                    blk = next((b for b in _named(c) if b.type == "block"), None)
                    if blk is not None:
                        self.statements(blk, scope, new_scope=True)
        elif t == "switch_expression":
            self.switch(node, scope)
        elif t == "synchronized_statement":
            for c in _named(node):
                if c.type == "block":
                    self.statements(c, scope, new_scope=True)
                else:
                    self.expressions(c, scope, cls)
        elif t in TYPE_DECLS:
            self.type_decl(node, cls)
        else:
            self.expressions(node, scope, cls)

    def catch(self, clause, scope: Scope) -> None:
        s = Scope(scope, scope.ctx)
        param = next((c for c in _named(clause) if c.type == "catch_formal_parameter"), None)
        body = clause.child_by_field_name("body")
        if param is not None:
            name = param.child_by_field_name("name")
            if name is not None:
                n = self.text(name)
                s.names[n] = Var(n, True)
                if body is not None and not scope.quiet and self.rw.keep(start_line(body)):
                    self.rw.insert(body.start_byte + 1, f" {scope.ctx.var}.x({n});", -30)
        if body is not None:
            self.statements(body, s, new_scope=True)

    def switch(self, node, scope: Scope, statement: bool = True) -> None:
        cls = scope.ctx.cls
        self.expressions(node.child_by_field_name("condition"), scope, cls)
        body = node.child_by_field_name("body")
        if body is None:
            return
        for group in _named(body):
            if group.type == "switch_block_statement_group":
                self.statements(group, scope, new_scope=True)
            elif group.type == "switch_rule":
                for c in _named(group):
                    if c.type == "switch_label":
                        self.expressions(c, scope, cls)
                    elif c.type == "block":
                        self.statements(c, scope, new_scope=True)
                    elif statement and c.type in ("expression_statement", "throw_statement"):
                        self.statement(c, Scope(scope, scope.ctx), braces=True)
                    else:
                        self.expressions(c, scope, cls)

    def declaration(self, node, scope: Scope) -> None:
        cls = scope.ctx.cls
        for d in node.children_by_field_name("declarator"):
            value = d.child_by_field_name("value")
            if value is not None:
                self.expressions(value, scope, cls)
            name = d.child_by_field_name("name")
            if name is not None:
                n = self.text(name)
                scope.names[n] = Var(n, value is not None)

    # --- expressions: lambdas, anonymous classes, switch expressions -------------------------

    def expressions(self, node, scope: Scope | None, cls: str) -> None:
        if node is None:
            return
        stack = [node]
        while stack:
            n = stack.pop()
            t = n.type
            if t == "lambda_expression":
                self.lambda_(n, scope, cls)
                continue
            if t == "object_creation_expression":
                body = next((c for c in _named(n) if c.type == "class_body"), None)
                if body is not None:
                    for c in _named(n):
                        if c is not body:
                            self.expressions(c, scope, cls)
                    top = cls.split("$")[0]
                    self.anon[top] = self.anon.get(top, 0) + 1
                    self.class_body(body, f"{top}${self.anon[top]}")
                    continue
            if t == "switch_expression" and scope is not None:
                self.switch(n, scope, statement=False)
                continue
            if t in TYPE_DECLS:
                self.type_decl(n, cls)
                continue
            stack.extend(reversed(_named(n)))


def _main_class(rw: Rewrite):
    """(public top-level type or None, top-level type declaring a static main or None)."""
    public = main = None
    for node in _named(rw.root):
        if node.type not in TYPE_DECLS:
            continue
        mods = next((c for c in node.children if c.type == "modifiers"), None)
        if mods is not None and "public" in rw.text(mods).split() and public is None:
            public = node
        body = node.child_by_field_name("body")
        for m in _named(body) if body is not None else ():
            if m.type == "enum_body_declarations":
                members = _named(m)
            else:
                members = [m]
            for mm in members:
                if mm.type == "method_declaration" and rw.text(mm.child_by_field_name("name")) == "main":
                    mm_mods = next((c for c in mm.children if c.type == "modifiers"), None)
                    if mm_mods is not None and "static" in rw.text(mm_mods).split() and main is None:
                        main = node
    return public, main


def rewrite(rw: Rewrite) -> None:
    if RESERVED.search(rw.source):
        raise SkipProgram("uses identifiers reserved for the tracer (_ca...)")
    public, main = _main_class(rw)
    if main is None:
        raise SkipProgram("no static main method in a top-level class")
    named = public if public is not None else main
    name = rw.text(named.child_by_field_name("name"))
    rw.source_name = f"{name}.java"
    if main.type == "class_declaration":
        body = main.child_by_field_name("body")
        rw.insert(body.start_byte + 1, " static { _CaTrace.flush(); }", -100)
    jr = JavaRewriter(rw)
    for node in _named(rw.root):
        if node.type in TYPE_DECLS:
            jr.type_decl(node)
    tail = "" if rw.source.endswith(b"\n") else "\n"
    rw.insert(len(rw.source), tail + PRELUDE.read_text(encoding="utf-8"), 100)
