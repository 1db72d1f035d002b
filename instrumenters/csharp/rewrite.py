"""C# rewriter: calls, lines, returns and exceptions of a single-file program with a `Main`.

Mono's mcs (C# 7-ish: no local functions, no `case T x when`, no switch expressions) compiles
the program beside the prelude (prelude/_CaTrace.cs, global class `_CaTrace`). Every probe is
inserted on the line of the code it reports, so line numbers stay those of the original.

- A method, constructor, operator, accessor or block lambda/anonymous method body `{ S }`
  becomes `{ _CaTrace.F _cafN = _CaTrace.C(P, "a", a, ...); try { S } catch
  (global::System.Exception _catN) { _cafN.U(_catN); throw; } finally { _cafN.E(END); } }`;
  an expression-bodied method (`=> e;`) becomes the same block around `return e;` (or `e;`).
- `return e;` becomes `return _cafN.R<T>(P, e);` with T the declared return type (so `null`,
  lambdas and constant narrowing keep working); in lambdas and async methods the type argument
  is inferred. `return;` gets `_cafN.R(P);` before it.
- Before each statement: `if (_cafN.K()) _cafN.L(P, "x", x, ...);` with the locals definitely
  assigned there (K() is false when nothing is recorded: no boxing past max_events); loop
  conditions become `(!_cafN.K() || _cafN.H(P, ...)) && (cond)`; `foreach`, `for (;;)` and `while (true)`
  get a probe before the loop and one at the start of each iteration; a user catch clause with
  a variable starts with `_cafN.X(e);`.

Definite assignment as in the Java rewriter (declarations with initializer, plain `x = ...;`
statements at the top level of an enclosing block, parameters except `out`, catch, using and
foreach variables); lambdas and anonymous methods read only their own locals. Iterator
methods (`yield`) are not traced (C# forbids `yield` in a try with a catch clause).
"""

from __future__ import annotations

import re

from codealchemy.instrumenters.java_like import BlockRewriter, Scope, Var, returns_value, start_line
from codealchemy.tracer.instrument import Rewrite, SkipProgram

RESERVED = re.compile(rb"\b_[cC][aA][A-Za-z0-9_]*")
TYPE_DECLS = {"class_declaration", "struct_declaration", "interface_declaration", "record_declaration"}
NO_PROBE = {"block", "empty_statement", "local_function_statement", "comment"}
COND_LOOPS = {"for_statement", "while_statement"}
FUNCS = {"lambda_expression", "anonymous_method_expression"}
OPERATORS = {"+": "Addition", "-": "Subtraction", "*": "Multiply", "/": "Division", "%": "Modulus", "==": "Equality",
             "!=": "Inequality", "<": "LessThan", ">": "GreaterThan", "<=": "LessThanOrEqual",
             ">=": "GreaterThanOrEqual", "!": "LogicalNot", "~": "OnesComplement", "++": "Increment",
             "--": "Decrement", "&": "BitwiseAnd", "|": "BitwiseOr", "^": "ExclusiveOr", "<<": "LeftShift",
             ">>": "RightShift", "true": "True", "false": "False"}


def _named(node) -> list:
    return [c for c in node.children if c.is_named and c.type != "comment"]


def _is_statement(node) -> bool:
    return node.type.endswith("_statement") or node.type == "block"


class Ctx:
    """One traced function."""

    def __init__(self, name: str, var: str, cls: str, rtype: str | None = None):
        self.name, self.var, self.cls = name, var, cls
        self.rtype = rtype      # the declared return type, for R<T>; None: inferred
        self.valued = False
        self.lambdas = 0


def _has_yield(node) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "yield_statement":
            return True
        if n.type in FUNCS:
            continue
        stack.extend(n.children)
    return False


class CSharpRewriter(BlockRewriter):
    ENABLED, LINE, HEADER = "K", "L", "H"

    # --- declarations ------------------------------------------------------------------------

    def declarations(self, body, cls: str) -> None:
        for member in _named(body):
            t = member.type
            if t in ("namespace_declaration",):
                b = member.child_by_field_name("body")
                if b is not None:
                    self.declarations(b, cls)
            elif t in TYPE_DECLS:
                name = member.child_by_field_name("name")
                b = member.child_by_field_name("body")
                if b is not None:
                    self.declarations(b, self.text(name) if name is not None else cls)
            elif t in ("method_declaration", "operator_declaration", "conversion_operator_declaration"):
                self.method(member, cls)
            elif t == "constructor_declaration":
                self.constructor(member, cls)
            elif t in ("property_declaration", "indexer_declaration"):
                self.accessors(member, cls)
            elif t in ("field_declaration", "event_field_declaration"):
                self.expressions(member, None, cls)

    def new_ctx(self, name: str, cls: str, rtype: str | None = None) -> Ctx:
        self.frames += 1
        return Ctx(name, f"_caf{self.frames}", cls, rtype)

    def params(self, node, scope: Scope) -> list[str]:
        names = []
        plist = node.child_by_field_name("parameters")
        if plist is None:
            plist = next((c for c in _named(node) if c.type in ("parameter_list", "implicit_parameter")), None)
        if plist is None:
            return names
        if plist.type == "implicit_parameter":
            ident = next((c for c in _named(plist) if c.type == "identifier"), plist)
            names.append(self.text(ident))
        else:
            for p in _named(plist):
                if p.type != "parameter":
                    continue
                ident = p.child_by_field_name("name")
                if ident is None:
                    continue
                mods = [self.text(c) for c in p.children if c.type in ("modifier", "parameter_modifier")]
                n = self.text(ident)
                if "out" in mods:
                    scope.names[n] = Var(n, False)
                    continue
                names.append(n)
        for n in names:
            scope.names[n] = Var(n, True)
        return names

    def frame(self, body, ctx: Ctx, scope: Scope, args: list[str], line: int, *, is_main=False, semicolon=None):
        """Wrap a body (block or arrow clause) in the frame's try/catch/finally."""
        call = self.rw.probe("call", line, ctx.name)
        end_line = body.end_point[0] + 1
        end = self.rw.probe("return", end_line, ctx.name)
        kv = "".join(f', "{a}", {a}' for a in args if self.rw.keep(line, a))
        opener = "Main" if is_main else "C"
        v, t = ctx.var, "_cat" + ctx.var[4:]
        head = f"_CaTrace.F {v} = _CaTrace.{opener}({call}{kv}); try {{"
        valued = ", true" if ctx.valued else ""
        tail = (f"}} catch (global::System.Exception {t}) {{ {v}.U({t}); throw; }} "
                f"finally {{ {v}.E({end}{valued}); }}")
        if body.type == "block":
            self.rw.insert(body.start_byte + 1, " " + head, -10)
            self.rw.insert(body.end_byte - 1, tail, 10)
            self.statements(body, scope)
            return
        # `=> e;`: the arrow becomes `{ ... try { return R(P, e); } ... }`, the `;` goes
        expr = next(iter(_named(body)), None)
        if expr is None:
            return
        arrow = body.children[0]
        eline = start_line(expr)
        probe = self.line_probe(eline, scope)
        if expr.type == "throw_expression":  # `=> throw new E();`: a throw statement, not a value
            self.rw.replace(arrow.start_byte, arrow.end_byte, "{ " + head + " " + probe)
            self.rw.insert(expr.end_byte, "; ", 0)
        elif ctx.valued and self.rw.keep(eline):
            pid = self.rw.probe("return", eline, ctx.name)
            targ = f"<{ctx.rtype}>" if ctx.rtype else ""
            self.rw.replace(arrow.start_byte, arrow.end_byte, "{ " + head + " " + probe + f"return {v}.R{targ}({pid}, ")
            self.rw.insert(expr.end_byte, "); ", 0)
        elif ctx.valued:
            self.rw.replace(arrow.start_byte, arrow.end_byte, "{ " + head + " return ")
            self.rw.insert(expr.end_byte, "; ", 0)
        else:
            pid = self.rw.probe("return", eline, ctx.name)
            ret = f"{v}.R({pid}); " if self.rw.keep(eline) else ""
            self.rw.replace(arrow.start_byte, arrow.end_byte, "{ " + head + " " + probe)
            self.rw.insert(expr.end_byte, "; " + ret, 0)
        self.expressions(expr, scope, ctx.cls)
        if semicolon is not None:
            self.rw.replace(semicolon.start_byte, semicolon.end_byte, tail + " }")
        else:
            self.rw.insert(body.end_byte, tail + " }", 0)

    def method(self, node, cls: str) -> None:
        body = node.child_by_field_name("body")
        if body is None or _has_yield(body):
            return
        name_node = node.child_by_field_name("name")
        if node.type == "method_declaration":
            name = self.text(name_node)
            rtype = node.child_by_field_name("returns") or node.child_by_field_name("type")
        else:
            name = self.operator_name(node)
            rtype = node.child_by_field_name("type")
        mods = [self.text(c) for c in node.children if c.type == "modifier"]
        rtext = self.text(rtype) if rtype is not None else "void"
        valued = rtext != "void" and not ("async" in mods and rtext in ("Task", "System.Threading.Tasks.Task"))
        if "async" in mods or rtext.startswith("ref "):
            rtext = None
        ctx = self.new_ctx(f"{cls}.{name}", cls, rtext if valued else None)
        ctx.valued = valued
        scope = Scope(None, ctx)
        args = self.params(node, scope)
        is_main = name == "Main" and "static" in mods
        semi = node.children[-1] if node.children and node.children[-1].type == ";" else None
        self.frame(body, ctx, scope, args, start_line(node), is_main=is_main, semicolon=semi)

    def operator_name(self, node) -> str:
        """The CLR name: op_Addition, op_Implicit, ..."""
        kids = list(node.children)
        if node.type == "conversion_operator_declaration":
            return "op_Explicit" if any(c.type == "explicit" for c in kids) else "op_Implicit"
        at = next((i for i, c in enumerate(kids) if c.type == "operator"), None)
        token = self.text(kids[at + 1]) if at is not None and at + 1 < len(kids) else "?"
        plist = node.child_by_field_name("parameters")
        unary = plist is not None and sum(1 for p in _named(plist) if p.type == "parameter") == 1
        if unary and token in ("+", "-"):
            return "op_UnaryPlus" if token == "+" else "op_UnaryNegation"
        return "op_" + OPERATORS.get(token, "Operator")

    def constructor(self, node, cls: str) -> None:
        body = node.child_by_field_name("body")
        if body is None:
            return
        mods = [self.text(c) for c in node.children if c.type == "modifier"]
        ctx = self.new_ctx(f"{cls}.{'.cctor' if 'static' in mods else '.ctor'}", cls)
        scope = Scope(None, ctx)
        for c in _named(node):
            if c.type == "constructor_initializer":
                self.expressions(c, None, cls)
        args = self.params(node, scope)
        semi = node.children[-1] if node.children and node.children[-1].type == ";" else None
        self.frame(body, ctx, scope, args, start_line(node), semicolon=semi)

    def accessors(self, node, cls: str) -> None:
        name_node = node.child_by_field_name("name")
        pname = self.text(name_node) if name_node is not None else "Item"
        rtype = node.child_by_field_name("type")
        alist = node.child_by_field_name("accessors")
        if alist is None:
            value = node.child_by_field_name("value")
            if value is not None:
                self.expressions(value, None, cls)
            return
        for acc in _named(alist):
            if acc.type != "accessor_declaration":
                continue
            body = acc.child_by_field_name("body")
            if body is None or _has_yield(body):
                continue
            kind = next((self.text(c) for c in acc.children if c.type in ("get", "set", "init", "add", "remove")),
                        self.text(acc).split("{")[0].split("=>")[0].split()[-1])
            getter = kind == "get"
            ctx = self.new_ctx(f"{cls}.{kind}_{pname}", cls, self.text(rtype) if getter and rtype is not None else None)
            ctx.valued = getter
            scope = Scope(None, ctx)
            args = []
            if node.type == "indexer_declaration":
                args = self.params(node, scope)
            if kind in ("set", "init"):
                scope.names["value"] = Var("value", True)
                args.append("value")
            semi = acc.children[-1] if acc.children and acc.children[-1].type == ";" else None
            self.frame(body, ctx, scope, args, start_line(acc), semicolon=semi)

    def function(self, node, scope: Scope | None, cls: str) -> None:
        """A lambda or anonymous method with a block body: a frame of its own."""
        body = node.child_by_field_name("body")
        if body is None:
            body = next((c for c in _named(node) if c.type == "block"), None)
        if body is None or body.type != "block" or _has_yield(body):
            if body is not None:
                self.expressions(body, scope, cls)
            return
        owner = scope.ctx if scope is not None else None
        outer = owner.name.rsplit(".", 1)[-1] if owner is not None else "field"
        n = owner.lambdas if owner is not None else 0
        if owner is not None:
            owner.lambdas += 1
        ctx = self.new_ctx(f"{cls}.<{outer}>b__{n}", cls)
        ctx.valued = returns_value(body, FUNCS)
        inner = Scope(None, ctx)
        args = self.params(node, inner)
        self.frame(body, ctx, inner, args, start_line(node))

    # --- statements --------------------------------------------------------------------------

    def statements(self, block, scope: Scope, new_scope=False) -> None:
        s = Scope(scope, scope.ctx) if new_scope else scope
        prev = -1
        for stmt in _named(block):
            if not _is_statement(stmt) and stmt.type != "local_declaration_statement":
                if stmt.type not in ("comment",):
                    self.expressions(stmt, s, s.ctx.cls)  # case patterns and the like
                prev = -1
                continue
            self.statement(stmt, s, same_line=stmt.start_point[0] == prev)
            prev = stmt.end_point[0]

    def statement(self, node, scope: Scope, braces: bool = False, same_line: bool = False) -> None:
        t = node.type
        line = start_line(node)
        inner = node
        label = None
        while inner.type == "labeled_statement":
            kids = [c for c in _named(inner) if c.type != "identifier"]
            if not kids:
                break
            label = inner
            inner = kids[0]
        at = inner if label is not None else node
        line = start_line(at)
        probe = ""
        if same_line or (inner.type == "local_declaration_statement" and not self.initialized(inner)):
            pass
        elif inner.type not in NO_PROBE and not (inner.type in COND_LOOPS and self.has_cond(inner)):
            probe = self.line_probe(line, scope)
        ret = ""
        if inner.type == "return_statement" and self.rw.keep(line):
            pid = self.rw.probe("return", line, scope.ctx.name)
            value = next(iter(_named(inner)), None)
            if value is None:
                ret = f"{scope.ctx.var}.R({pid}); "
            else:
                targ = f"<{scope.ctx.rtype}>" if scope.ctx.rtype else ""
                self.rw.insert(value.start_byte, f"{scope.ctx.var}.R{targ}({pid}, ", 5)
                self.rw.insert(value.end_byte, ")", -5)
        if braces and t != "block" and (probe or ret):
            self.rw.insert(at.start_byte, "{ " + probe + ret, -1)
            self.rw.insert(at.end_byte, " }", 1)
        elif probe or ret:
            self.rw.insert(at.start_byte, probe + ret, -1)
        self.visit(inner, scope)

    @staticmethod
    def initialized(decl) -> bool:
        vd = next((c for c in decl.children if c.type == "variable_declaration"), None)
        if vd is None:
            return True
        return any(len(_named(d)) > 1 for d in vd.children if d.type == "variable_declarator")

    def declare(self, vd, scope: Scope) -> None:
        """A variable_declaration: its declarators (and deconstructions) enter the scope."""
        cls = scope.ctx.cls
        for d in _named(vd):
            if d.type != "variable_declarator":
                continue
            kids = _named(d)
            value = kids[-1] if len(kids) > 1 else None
            if value is not None:
                self.expressions(value, scope, cls)
            name = d.child_by_field_name("name")
            if name is not None:
                scope.names[self.text(name)] = Var(self.text(name), value is not None)
            else:
                pat = next((c for c in kids if c.type == "tuple_pattern"), None)
                for ident in pat.children_by_field_name("name") if pat is not None else ():
                    scope.names[self.text(ident)] = Var(self.text(ident), True)

    def visit(self, node, scope: Scope) -> None:
        t = node.type
        cls = scope.ctx.cls
        if t == "block":
            self.statements(node, scope, new_scope=True)
        elif t == "local_declaration_statement":
            for vd in _named(node):
                if vd.type == "variable_declaration":
                    self.declare(vd, scope)
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
            for init in node.children_by_field_name("initializer"):
                if init.type == "variable_declaration":
                    self.declare(init, s)
                else:
                    self.expressions(init, s, cls)
            cond = node.child_by_field_name("condition")
            if cond is not None and self.has_cond(node):
                self.cond_probe(cond, s, start_line(node))
                self.expressions(cond, s, cls)
                self.body(node.child_by_field_name("body"), s)
            else:
                self.body(node.child_by_field_name("body"), s, header_line=start_line(node))
            for upd in node.children_by_field_name("update"):
                self.expressions(upd, s, cls)
        elif t == "foreach_statement":
            self.expressions(node.child_by_field_name("right"), scope, cls)
            s = Scope(scope, scope.ctx)
            left = node.child_by_field_name("left")
            if left is not None:
                idents = [left] if left.type == "identifier" else [
                    c for c in left.children_by_field_name("name")] if left.type == "tuple_pattern" else []
                for ident in idents:
                    s.names[self.text(ident)] = Var(self.text(ident), True)
            self.body(node.child_by_field_name("body"), s, header_line=start_line(node))
        elif t == "while_statement":
            cond = node.child_by_field_name("condition")
            if self.has_cond(node):
                self.cond_probe(cond, scope, start_line(node))
                self.expressions(cond, scope, cls)
                self.body(node.child_by_field_name("body"), scope)
            else:
                self.body(node.child_by_field_name("body"), scope, header_line=start_line(node))
        elif t == "do_statement":
            self.body(node.child_by_field_name("body"), scope)
            cond = node.child_by_field_name("condition")
            if self.has_cond(node):
                self.cond_probe(cond, scope)
                self.expressions(cond, scope, cls)
        elif t == "try_statement":
            self.statements(node.child_by_field_name("body"), scope, new_scope=True)
            for c in _named(node):
                if c.type == "catch_clause":
                    self.catch(c, scope)
                elif c.type == "finally_clause":
                    blk = next((b for b in _named(c) if b.type == "block"), None)
                    if blk is not None:
                        self.statements(blk, scope, new_scope=True)
        elif t == "using_statement":
            s = Scope(scope, scope.ctx)
            for c in _named(node):
                if c.type == "variable_declaration":
                    self.declare(c, s)
                elif c != node.child_by_field_name("body"):
                    self.expressions(c, s, cls)
            self.body(node.child_by_field_name("body"), s)
        elif t == "switch_statement":
            self.expressions(node.child_by_field_name("value"), scope, cls)
            body = node.child_by_field_name("body")
            for section in _named(body) if body is not None else ():
                if section.type == "switch_section":
                    self.statements(section, scope, new_scope=True)
        elif t in ("lock_statement", "checked_statement", "unsafe_statement", "fixed_statement"):
            for c in _named(node):
                if c.type == "block":
                    self.statements(c, scope, new_scope=True)
                elif _is_statement(c):
                    self.body(c, scope)
                else:
                    self.expressions(c, scope, cls)
        else:
            self.expressions(node, scope, cls)

    def catch(self, clause, scope: Scope) -> None:
        s = Scope(scope, scope.ctx)
        decl = next((c for c in _named(clause) if c.type == "catch_declaration"), None)
        body = clause.child_by_field_name("body")
        for c in _named(clause):
            if c.type == "catch_filter_clause":
                self.expressions(c, None, scope.ctx.cls)
        if decl is not None:
            name = decl.child_by_field_name("name")
            if name is not None:
                n = self.text(name)
                s.names[n] = Var(n, True)
                if body is not None and self.rw.keep(start_line(body)):
                    self.rw.insert(body.start_byte + 1, f" {scope.ctx.var}.X({n});", -30)
        if body is not None:
            self.statements(body, s, new_scope=True)

    # --- expressions: lambdas and anonymous methods ------------------------------------------

    def expressions(self, node, scope: Scope | None, cls: str) -> None:
        if node is None:
            return
        stack = [node]
        while stack:
            n = stack.pop()
            if n.type in FUNCS:
                self.function(n, scope, cls)
                continue
            stack.extend(reversed(_named(n)))


def _main_type(rw: Rewrite):
    """The class or struct that declares a static Main, or None."""
    stack = [(rw.root, None)]
    while stack:
        n, owner = stack.pop()
        if n.type == "method_declaration":
            name = n.child_by_field_name("name")
            mods = [rw.text(c) for c in n.children if c.type == "modifier"]
            if name is not None and rw.text(name) == "Main" and "static" in mods:
                return owner
            continue
        if n.type in TYPE_DECLS:
            owner = n
        if n.type in TYPE_DECLS or n.type in ("compilation_unit", "namespace_declaration", "declaration_list"):
            stack.extend((c, owner) for c in reversed(n.children))
    return None


def rewrite(rw: Rewrite) -> None:
    if RESERVED.search(rw.source):
        raise SkipProgram("uses identifiers reserved for the tracer (_ca...)")
    main = _main_type(rw)
    if main is None:
        raise SkipProgram("no static Main method")
    body = main.child_by_field_name("body")
    if body is not None and main.type in ("class_declaration", "struct_declaration"):
        # the first static field of Main's type loads the prelude (Console.Out replaced) before
        # the type's other initializers run, as Java's rewriter does with a static block
        rw.insert(body.start_byte + 1, " static readonly bool _caBoot = _CaTrace.Boot();", -100)
    CSharpRewriter(rw).declarations(rw.root, "Program")
