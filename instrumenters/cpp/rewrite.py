"""C++ rewriter: frames as RAII guards, line probes before statements, values by template.

What it does (README.md beside this file has the user-facing summary):
- puts `#include "_codealchemy.hpp"` and `#line 1` in front of the program, so every original
  statement keeps its line (g++ diagnostics map back: the repair loop depends on it);
- gives every function body (free functions, methods, constructors, destructors, templates,
  lambdas) a frame: `__ca::Frame __ca_g(CALL, CLOSE);` first in the body, whose constructor
  writes the call record (arguments follow) and whose destructor, run last, writes the return
  record, or an exception record and a return without value when the frame unwinds;
- puts a line probe before every statement (inside the condition for `for`/`while`/`do`
  headers, so they fire on every iteration; at the start of the body for range-for); a probe
  reports every visible variable that is definitely initialised there (declared with an
  initialiser, of a class type that a declaration default-constructs, or assigned on every
  path before); values are rendered by the prelude's `__ca::show` template, so no type
  analysis is needed here;
- asks `rw.keep(line, name)` before every variable read, and `rw.keep(line)` before every
  probe: the repair loop drops what g++ rejected.
"""

from __future__ import annotations

from codealchemy.tracer.instrument import Rewrite, SkipProgram

PRELUDE = "_codealchemy.hpp"

PRIMITIVE = {"primitive_type", "sized_type_specifier"}
#: std types that are scalars (not default-initialised by a declaration without initialiser)
STD_SCALARS = {"size_t", "ptrdiff_t", "intptr_t", "uintptr_t", "int8_t", "int16_t", "int32_t", "int64_t",
               "uint8_t", "uint16_t", "uint32_t", "uint64_t", "intmax_t", "uintmax_t", "byte", "nullptr_t",
               "time_t", "clock_t", "streamsize", "streamoff", "max_align_t", "sig_atomic_t"}
#: class templates and classes of the standard library, named without std:: after `using namespace std`
STD_CLASSES = {"string", "string_view", "vector", "map", "set", "multimap", "multiset", "unordered_map",
               "unordered_set", "deque", "list", "forward_list", "stack", "queue", "priority_queue", "array",
               "pair", "tuple", "optional", "bitset", "unique_ptr", "shared_ptr", "weak_ptr", "function",
               "stringstream", "ostringstream", "istringstream", "mutex", "atomic", "variant", "any",
               "wstring", "complex", "valarray"}
LITERALS = {"number_literal", "string_literal", "char_literal", "true", "false", "null", "nullptr", "this",
            "raw_string_literal", "concatenated_string"}
SIMPLE = {"expression_statement", "declaration", "return_statement", "break_statement", "continue_statement",
          "goto_statement", "throw_statement"}


def iter_nodes(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(n.children)


def ancestors(node):
    n = node.parent
    while n is not None:
        yield n
        n = n.parent


def meet(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a & b


class Var:
    __slots__ = ("name", "id", "prim", "init", "size", "const", "hidden")

    def __init__(self, name: str, id: int, prim: bool, init: bool, size: str = ""):
        self.size = size      # an array's size, as written
        self.const = False    # const/constexpr with an initialiser (usable as an array size)
        self.hidden = False   # never read (a variable-length array: no template takes it)
        self.name = name
        self.id = id          # declarator's byte offset: the same in every rewrite
        self.prim = prim      # declared with a scalar type (its operators are the built-in ones)
        self.init = init      # initialised by its declaration


class Program:
    def __init__(self, rw: Rewrite):
        self.rw = rw
        self.text = rw.text
        self.constructed = self.classes_with_constructors()
        self.classes = {self.text(n.child_by_field_name("name")) for n in iter_nodes(rw.root)
                        if n.type in ("class_specifier", "struct_specifier") and n.child_by_field_name("name")
                        is not None and n.child_by_field_name("body") is not None}
        self.done: set[int] = set()     # lambdas instrumented (start bytes)
        self.globals = self.file_globals()

    def file_globals(self) -> list[tuple[int, Var]]:
        """Variables declared at file scope (outside namespaces): (end of the declaration, Var).
        Static storage: always initialised (zero at least)."""
        out = []
        for d in self.rw.root.named_children:
            if d.type != "declaration":
                continue
            if any(c.type == "storage_class_specifier" and self.text(c) == "typedef" for c in d.children):
                continue
            t = d.child_by_field_name("type")
            prim = t is not None and t.type in PRIMITIVE
            const = any(c.type == "type_qualifier" and self.text(c) in ("const", "constexpr") for c in d.children)
            for decl in d.children_by_field_name("declarator"):
                if decl.type == "function_declarator":
                    continue
                for ident, ptr in declarator_names(decl, self.text):
                    v = Var(self.text(ident), ident.start_byte, prim or ptr, True)
                    v.const = const and decl.type == "init_declarator"
                    out.append((d.end_byte, v))
        return out

    def classes_with_constructors(self) -> set[str]:
        """Classes defined in the file that declare a constructor, or give every data member a
        default initialiser: a declaration of one of them without initialiser initialises it."""
        out = set()
        for n in iter_nodes(self.rw.root):
            if n.type in ("class_specifier", "struct_specifier"):
                name, body = n.child_by_field_name("name"), n.child_by_field_name("body")
                if name is None or body is None:
                    continue
                cls = self.text(name)
                data = [m for m in body.named_children if m.type == "field_declaration"
                        and not any(c.type in ("storage_class_specifier", "function_declarator") for c in m.children)
                        and m.child_by_field_name("declarator") is not None
                        and m.child_by_field_name("declarator").type != "function_declarator"]
                if data and all(m.child_by_field_name("default_value") is not None for m in data):
                    out.add(cls)
                for m in body.named_children:
                    d = m.child_by_field_name("declarator")
                    while d is not None and d.type != "function_declarator":
                        d = d.child_by_field_name("declarator") if d.type != "reference_declarator" else None
                    if d is not None:
                        inner = d.child_by_field_name("declarator")
                        if inner is not None and self.text(inner) == cls:
                            out.add(cls)
        return out

    def run(self) -> None:
        rw = self.rw
        functions = [n for n in iter_nodes(rw.root) if n.type == "function_definition"]
        functions.sort(key=lambda n: n.start_byte)
        has_main = False
        for fn in functions:
            decl = fn.child_by_field_name("declarator")
            if fn.parent is not None and fn.parent.type in ("translation_unit", "linkage_specification",
                                                            "declaration_list") \
                    and decl is not None and decl.type == "function_declarator" \
                    and self.text(decl.child_by_field_name("declarator")) == "main":
                has_main = True
        if not has_main:
            raise SkipProgram("no main function")
        for fn in functions:
            Function.for_definition(self, fn)
        # lambdas outside any instrumented body (namespace-scope initialisers, default arguments)
        for n in sorted(iter_nodes(rw.root), key=lambda n: n.start_byte):
            if n.type == "lambda_expression" and n.start_byte not in self.done:
                Function.for_lambda(self, n, {}, frozenset())
        for n in iter_nodes(rw.root):
            if n.type in ("class_specifier", "struct_specifier"):
                self.field_renderer(n)
        rw.insert(0, f'#include "{PRELUDE}"\n#line 1\n', -1000)

    def field_renderer(self, cls) -> None:
        """A member `__ca_fields()` at the end of a class's body, which renders its data members
        (the prelude shows an object of the class as `{x = 1, name = "a"}`)."""
        name, body = cls.child_by_field_name("name"), cls.child_by_field_name("body")
        if name is None or body is None or body.children[-1].type != "}":
            return
        line = body.children[-1].start_point[0] + 1
        if not self.rw.keep(line):
            return
        fields = []
        for fd in body.named_children:
            if fd.type != "field_declaration":
                continue
            if any(c.type == "storage_class_specifier" for c in fd.children):
                continue      # static members
            for d in fd.children_by_field_name("declarator"):
                while d is not None and d.type in ("pointer_declarator", "reference_declarator", "array_declarator"):
                    d = d.child_by_field_name("declarator") or (d.named_children[-1] if d.named_children else None)
                if d is not None and d.type == "field_identifier" and self.rw.keep(line, self.text(d)):
                    fields.append(self.text(d))
        if not fields:
            return
        parts = "".join(f"__ca::__field({cstr(f)}, {f}, {'true' if i == 0 else 'false'}); "
                        for i, f in enumerate(fields))
        self.rw.insert(body.children[-1].start_byte, f" public: void __ca_fields() const {{ {parts}}} ", 500)


def function_name(fn, text) -> str | None:
    """The name of a function definition ("Counter::increment" for methods), or None."""
    d = fn.child_by_field_name("declarator")
    while d is not None and d.type in ("pointer_declarator", "reference_declarator", "attributed_declarator"):
        d = d.child_by_field_name("declarator") or (d.named_children[-1] if d.named_children else None)
    if d is None or d.type != "function_declarator":
        return None
    inner = d.child_by_field_name("declarator")
    if inner is None:
        return None
    name = " ".join(text(inner).split())
    if fn.parent is not None and fn.parent.type == "friend_declaration":
        return name
    if inner.type in ("field_identifier", "identifier", "destructor_name", "operator_name", "template_function"):
        for a in ancestors(fn):
            if a.type in ("class_specifier", "struct_specifier", "union_specifier"):
                cls = a.child_by_field_name("name")
                if cls is not None:
                    return f"{text(cls)}::{name}"
                break
            if a.type in ("function_definition", "lambda_expression"):
                break
    return name


def declarator_names(d, text) -> list:
    """(identifier node, is pointer/array) of the names a declarator declares."""
    out = []
    ptr = False
    while d is not None:
        t = d.type
        if t == "identifier":
            out.append((d, ptr))
            break
        if t == "structured_binding_declarator":
            out.extend((c, False) for c in d.named_children if c.type == "identifier")
            break
        if t == "init_declarator":
            d = d.child_by_field_name("declarator")
        elif t in ("pointer_declarator", "array_declarator"):
            ptr = True
            d = d.child_by_field_name("declarator")
        elif t == "reference_declarator":
            d = d.named_children[-1] if d.named_children else None
        elif t in ("parenthesized_declarator", "attributed_declarator"):
            d = d.named_children[0] if d.named_children else None
        else:
            break
    return out


class Function:
    def __init__(self, ctx: Program, node, body, name: str, outer: dict, outer_assigned: frozenset):
        self.ctx = ctx
        self.rw = ctx.rw
        self.text = ctx.text
        self.node = node
        self.body = body
        self.name = name
        self.outer = outer
        self.outer_assigned = outer_assigned
        self.level = 0
        self.header = 0
        self.skip_line = 0
        self.void = False
        self.decltype_auto = False
        self.rtype: str | None = None   # the declared return type, when it can be named in the body
        self.is_main = False
        self.method = False      # a non-static member function: `this` (the object) is shown

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def for_definition(cls, ctx: Program, fn) -> None:
        body = fn.child_by_field_name("body")
        if body is None or body.type != "compound_statement":
            return     # = default, = delete, function-try-block
        if any(c.type == "type_qualifier" and ctx.text(c) in ("constexpr", "consteval") for c in fn.children):
            return     # evaluated at compile time: a probe would not be a constant expression
        name = function_name(fn, ctx.text)
        if name is None:
            return
        f = cls(ctx, fn, body, name, {}, frozenset())
        rtype = fn.child_by_field_name("type")
        decl = fn.child_by_field_name("declarator")
        plain = decl is not None and decl.type == "function_declarator"
        f.void = rtype is None or (ctx.text(rtype) == "void" and plain)
        f.decltype_auto = rtype is not None and "decltype" in ctx.text(rtype)
        if rtype is not None and not f.void and decl is not None and decl.type == "function_declarator" and \
                rtype.type != "placeholder_type_specifier" and "\n" not in ctx.text(rtype):
            f.rtype = ctx.text(rtype)
        f.is_main = name == "main"
        f.method = f.is_method(fn, name)
        params = decl
        while params is not None and params.type != "function_declarator":
            params = params.child_by_field_name("declarator") or (params.named_children[-1] if params.named_children
                                                                 else None)
        f.run(params.child_by_field_name("parameters") if params is not None else None)

    @classmethod
    def for_lambda(cls, ctx: Program, lam, scope: dict, assigned: frozenset) -> None:
        ctx.done.add(lam.start_byte)
        body = lam.child_by_field_name("body")
        if body is None or body.type != "compound_statement":
            return
        decl = lam.child_by_field_name("declarator")
        if decl is not None and any(ctx.text(c) in ("constexpr", "consteval") for c in decl.children):
            return
        # the enclosing variables it names (whatever the capture: the names it uses without
        # capturing are constants, which g++ may refuse a probe to read, and the repair loop
        # drops), and those it captures by name
        caps = lam.child_by_field_name("captures")
        used = {ctx.text(n) for n in iter_nodes(body) if n.type == "identifier"}
        if caps is not None:
            used |= {ctx.text(c) for c in caps.named_children if c.type == "identifier"}
        outer = {name: v for name, v in scope.items() if name in used}
        f = cls(ctx, lam, body, "<lambda>", outer, assigned)
        trailing = decl is not None and any(c.type == "trailing_return_type" for c in decl.children)
        f.decltype_auto = trailing and "decltype" in ctx.text(decl)
        f.void = trailing and any(c.type == "trailing_return_type" and ctx.text(c).split()[-1] == "void"
                                  for c in decl.children)
        f.run(decl.child_by_field_name("parameters") if decl is not None else None)

    def is_method(self, fn, name: str) -> bool:
        """A non-static member function of a class defined in the file, not a constructor or
        destructor (their objects are not whole during the body)."""
        if "::" not in name or any(c.type == "storage_class_specifier" and self.text(c) == "static"
                                   for c in fn.children):
            return False
        if fn.parent is not None and fn.parent.type == "friend_declaration":
            return False      # a friend defined in the class body is no member
        cls, _, last = name.rpartition("::")
        if last.startswith("~") or last == cls.split("::")[-1] or "<" in cls:
            return False
        return cls.split("::")[-1] in self.ctx.classes

    # --- the walk -----------------------------------------------------------------------------

    def line_of(self, node) -> int:
        return node.start_point[0] + 1

    def run(self, params) -> None:
        scope = dict(self.outer)
        assigned = set(self.outer_assigned)
        if not self.outer:
            # the file-scope variables the body names (declared before it), shown like locals
            used = {self.text(n) for n in iter_nodes(self.body) if n.type == "identifier"
                    and (n.parent is None or n.parent.type != "qualified_identifier")}
            for end, g in self.ctx.globals:
                if end <= self.node.start_byte and g.name in used:
                    scope[g.name] = g
                    assigned.add(g.id)
        args = []
        for p in params.named_children if params is not None else []:
            if p.type not in ("parameter_declaration", "optional_parameter_declaration"):
                continue       # variadic packs and `...` are not shown
            d = p.child_by_field_name("declarator")
            for ident, ptr in declarator_names(d, self.text):
                t = p.child_by_field_name("type")
                v = Var(self.text(ident), ident.start_byte, t is not None and t.type in PRIMITIVE or ptr, True)
                scope[v.name] = v
                assigned.add(v.id)
                args.append(v)
        if self.method:
            this = Var("this", -1, False, True)
            scope["this"] = this
            assigned.add(this.id)
        line = self.line_of(self.node)
        call = self.rw.probe("call", line, self.name)
        close = self.body.children[-1]
        end = self.rw.probe("return", self.line_of(close), self.name)
        reads = "".join(f"__ca::__v({cstr(v.name)}, {v.name}); " for v in args
                        if self.rw.keep(line) and self.rw.keep(line, v.name))
        self.rw.insert(self.body.children[0].end_byte,
                       f" __ca::Frame __ca_g({call}, {end}); if (__ca_g.__open) {{ {reads}__ca::__end(); }}", -200)
        self.block(self.body.named_children, scope, frozenset(assigned))
        if self.is_main and close.type == "}":
            self.rw.insert(close.start_byte, f"__ca_g.__ret({end}, 0); ", 200)

    def visible(self, scope: dict, assigned, line: int) -> list[Var]:
        if assigned is None:
            return []
        return [v for v in scope.values() if v.id in assigned and not v.hidden and self.rw.keep(line, v.name)]

    def probe_expr(self, line: int, scope: dict, assigned) -> str:
        pid = self.rw.probe("line", line, self.name)
        reads = "".join(f"__ca::__v({cstr(v.name)}, {'*this' if v.id == -1 else v.name}), "
                        for v in self.visible(scope, assigned, line))
        return f"(void)(__ca::__on && __ca::__line({pid}, __ca_g.__fr) && ({reads}__ca::__end(), true))"

    def probe_stmt(self, node, scope, assigned, single: bool) -> None:
        line = self.line_of(node)
        if single:
            self.wrap(node)
            if line == self.header:
                return
        elif self.skip_line and line == self.skip_line:
            return
        if not self.rw.keep(line):
            return
        self.rw.insert(node.start_byte, self.probe_expr(line, scope, assigned) + "; ", 0)

    def wrap(self, node) -> None:
        self.rw.insert(node.start_byte, "{ ", -100 + self.level)
        self.rw.insert(node.end_byte, " }", 100 - self.level)

    def block(self, items, scope: dict, assigned, first_line: int = 0):
        skip = first_line
        for c in items:
            if c.type == "comment":
                continue
            self.skip_line = skip if self.line_of(c) == skip else 0
            assigned = self.stmt(c, scope, assigned, single=False)
            skip = self.line_of(c) if c.type in SIMPLE else 0
        return assigned

    def stmt(self, node, scope: dict, assigned, single: bool, header: int = 0):
        self.level += 1
        saved = self.header
        self.header = header if single else 0
        try:
            return self._stmt(node, node.type, scope, assigned, single)
        finally:
            self.level -= 1
            self.header = saved

    def lambdas(self, node, scope: dict, assigned) -> None:
        """Instrument the lambdas in an expression (each a frame), with the variables of `scope`
        they capture."""
        if node is None:
            return
        stack = [node]
        while stack:
            n = stack.pop()
            if n.type == "lambda_expression":
                if n.start_byte not in self.ctx.done:
                    Function.for_lambda(self.ctx, n, scope, assigned if assigned is not None else frozenset())
                continue
            if n.type in ("compound_statement", "function_definition", "class_specifier", "struct_specifier"):
                continue
            stack.extend(n.named_children)

    def inits(self, scope: dict) -> frozenset:
        """What is initialised wherever a label or case is reached from: variables initialised
        by their declaration (a jump cannot skip an initialisation)."""
        return frozenset(v.id for v in scope.values() if v.init) | self.outer_assigned

    def _stmt(self, node, t, scope, assigned, single):
        if t == "compound_statement":
            return self.block(node.named_children, dict(scope), assigned, first_line=self.header)
        if t == "declaration":
            if self.runs_code(node):
                self.probe_stmt(node, scope, assigned, single)
            return self.declare(node, scope, assigned)
        if t == "expression_statement":
            expr = node.named_children[0] if node.named_children else None
            if expr is None:
                return assigned
            self.probe_stmt(node, scope, assigned, single)
            self.lambdas(expr, scope, assigned)
            return self.assigns(expr, scope, assigned)
        if t == "if_statement":
            self.probe_stmt(node, scope, assigned, single)
            inner = dict(scope)
            a1 = self.condition(node.child_by_field_name("condition"), inner, assigned)
            hl = self.line_of(node)
            then = self.stmt(node.child_by_field_name("consequence"), dict(inner), a1, single=True, header=hl)
            alt = node.child_by_field_name("alternative")
            other = a1
            if alt is not None:
                parts = [c for c in alt.named_children if c.type != "comment"]
                if parts:
                    other = self.stmt(parts[0], dict(inner), a1, single=True, header=self.line_of(alt))
            return meet(then, other)
        if t == "while_statement":
            if single:
                self.wrap(node)
            cond = node.child_by_field_name("condition")
            inner = dict(scope)
            value = cond.child_by_field_name("value") if cond is not None else None
            simple = value is not None and value.type != "declaration" and \
                cond.child_by_field_name("initializer") is None
            a1 = self.condition(cond, inner, assigned)
            if simple:
                self.cond_probe(self.line_of(node), value.start_byte, inner, assigned)
            self.stmt(node.child_by_field_name("body"), dict(inner), a1, single=True, header=self.line_of(node))
            return a1
        if t == "for_statement":
            if single:
                self.wrap(node)
            inner = dict(scope)
            init = node.child_by_field_name("initializer")
            a0 = assigned
            if init is not None:
                self.lambdas(init, scope, assigned)
                a0 = self.declare(init, inner, assigned) if init.type == "declaration" else \
                    self.assigns(init, inner, assigned)
            cond = node.child_by_field_name("condition")
            self.lambdas(cond, inner, a0)
            self.lambdas(node.child_by_field_name("update"), inner, a0)
            line = self.line_of(node)
            if cond is not None:
                if cond.type != "declaration":
                    self.cond_probe(line, cond.start_byte, inner, a0)
            else:
                semis = [c for c in node.children if c.type == ";"]
                if semis and self.rw.keep(line):
                    self.rw.insert(semis[-1].start_byte, f"({self.probe_expr(line, inner, a0)}, true)", 0)
            self.stmt(node.child_by_field_name("body"), dict(inner), a0, single=True, header=line)
            return self.filled(node, inner, a0)
        if t == "for_range_loop":
            line = self.line_of(node)
            self.probe_stmt(node, scope, assigned, single)
            self.lambdas(node.child_by_field_name("right"), scope, assigned)
            inner = dict(scope)
            a1 = set(assigned) if assigned is not None else None
            for ident, _ in declarator_names(node.child_by_field_name("declarator"), self.text):
                v = Var(self.text(ident), ident.start_byte, False, True)
                inner[v.name] = v
                if a1 is not None:
                    a1.add(v.id)
            a1 = frozenset(a1) if a1 is not None else None
            body = node.child_by_field_name("body")
            if body.type == "compound_statement":
                if self.rw.keep(line):
                    self.rw.insert(body.children[0].end_byte, " " + self.probe_expr(line, inner, a1) + ";", -150)
                self.block(body.named_children, dict(inner), a1, first_line=line)
            else:
                self.rw.insert(body.start_byte, "{ ", -100 + self.level)
                self.rw.insert(body.end_byte, " }", 100 - self.level)
                if self.rw.keep(line):
                    self.rw.insert(body.start_byte, self.probe_expr(line, inner, a1) + "; ", -99 + self.level)
                self.level += 1
                self.skip_line = line
                self.stmt(body, dict(inner), a1, single=False)
                self.level -= 1
            return assigned
        if t == "do_statement":
            self.probe_stmt(node, scope, assigned, single)
            out = self.stmt(node.child_by_field_name("body"), dict(scope), assigned, single=True,
                            header=self.line_of(node))
            cond = node.child_by_field_name("condition")
            kw = next((c for c in node.children if c.type == "while"), node)
            at = out if out is not None else assigned
            if cond is not None and cond.type == "parenthesized_expression":
                self.cond_probe(self.line_of(kw), cond.start_byte + 1, scope, at)
            return at
        if t == "switch_statement":
            self.probe_stmt(node, scope, assigned, single)
            inner = dict(scope)
            a1 = self.condition(node.child_by_field_name("condition"), inner, assigned)
            body = node.child_by_field_name("body")
            if body is None or body.type != "compound_statement":
                return a1
            cases = dict(inner)
            for c in body.named_children:
                if c.type == "case_statement":
                    value = c.child_by_field_name("value")
                    stmts = [s for s in c.named_children if s != value]
                    self.block(stmts, cases, a1, first_line=self.line_of(node))
                else:
                    self.stmt(c, cases, a1, single=False)
            return a1
        if t == "return_statement":
            self.probe_stmt(node, scope, assigned, single)
            self.ret(node, scope, assigned)
            return None
        if t in ("break_statement", "continue_statement", "goto_statement"):
            self.probe_stmt(node, scope, assigned, single)
            return None
        if t == "throw_statement":
            self.probe_stmt(node, scope, assigned, single)
            self.lambdas(node, scope, assigned)
            return None
        if t == "try_statement":
            self.probe_stmt(node, scope, assigned, single)
            out = self.stmt(node.child_by_field_name("body"), dict(scope), assigned, single=False)
            for c in node.named_children:
                if c.type != "catch_clause":
                    continue
                inner = dict(scope)
                a1 = set(assigned) if assigned is not None else None
                params = c.child_by_field_name("parameters")
                for p in params.named_children if params is not None else []:
                    for ident, _ in declarator_names(p.child_by_field_name("declarator"), self.text):
                        v = Var(self.text(ident), ident.start_byte, False, True)
                        inner[v.name] = v
                        if a1 is not None:
                            a1.add(v.id)
                caught = self.stmt(c.child_by_field_name("body"), inner,
                                   frozenset(a1) if a1 is not None else None, single=False)
                out = meet(out, caught) if out is not None else caught
            return out
        if t == "labeled_statement":
            inner = [c for c in node.named_children if c.type not in ("statement_identifier", "comment")]
            if single:
                self.wrap(node)
            if not inner:
                return self.inits(scope)
            return self.stmt(inner[0], scope, self.inits(scope), single=False)
        # local types, using, static_assert, asm, case outside a switch body: left alone
        return assigned

    def filled(self, node, scope: dict, assigned):
        """After `for (int i = 0; i < N; i++) { a[i] = ...; }` (no jumps out, no write to i),
        every element of an array `a` declared with size N is assigned."""
        if assigned is None:
            return None
        init, cond = node.child_by_field_name("initializer"), node.child_by_field_name("condition")
        upd, body = node.child_by_field_name("update"), node.child_by_field_name("body")
        if init is None or cond is None or upd is None or body is None:
            return assigned
        text = self.text
        i = None
        if init.type == "declaration":
            ds = init.children_by_field_name("declarator")
            if len(ds) == 1 and ds[0].type == "init_declarator" and text(ds[0].child_by_field_name("value")) == "0":
                i = text(ds[0].child_by_field_name("declarator"))
        elif init.type == "assignment_expression" and text(init.child_by_field_name("right")) == "0":
            i = text(init.child_by_field_name("left"))
        if i is None or cond.type != "binary_expression" or text(cond.child_by_field_name("operator")) != "<" \
                or text(cond.child_by_field_name("left")) != i:
            return assigned
        bound = text(cond.child_by_field_name("right"))
        if " ".join(text(upd).split()) not in (f"{i}++", f"++{i}", f"{i} += 1"):
            return assigned
        for n in iter_nodes(body):
            if n.type in ("break_statement", "goto_statement", "return_statement", "throw_statement") or \
                    n.type in ("assignment_expression", "update_expression") and \
                    text(n.child_by_field_name("left" if n.type == "assignment_expression" else "argument")) == i:
                return assigned
        items = body.named_children if body.type == "compound_statement" else [body]
        out = set()
        for st in items:
            e = st.named_children[0] if st.type == "expression_statement" and st.named_children else None
            if e is None or e.type != "assignment_expression" or text(e.child_by_field_name("operator")) != "=":
                continue
            left = e.child_by_field_name("left")
            if left.type != "subscript_expression":
                continue
            arr, idx = left.child_by_field_name("argument"), left.child_by_field_name("indices")
            if arr is None or idx is None or arr.type != "identifier" or text(idx) != f"[{i}]":
                continue
            v = scope.get(text(arr))
            if v is not None and v.size == bound:
                out.add(v.id)
        return assigned | out if out else assigned

    def runs_code(self, decl) -> bool:
        """A declaration has an event when it runs code: an initialiser, or a class type."""
        storage = {self.text(c) for c in decl.children if c.type == "storage_class_specifier"}
        if storage & {"extern", "typedef"}:
            return False
        ds = decl.children_by_field_name("declarator")
        if any(d.type == "init_declarator" for d in ds):
            return "static" not in storage
        if "static" in storage:
            return False
        return bool(ds) and self.default_constructed(decl.child_by_field_name("type")) and \
            all(d.type == "identifier" for d in ds)

    def default_constructed(self, t) -> bool:
        """A declaration without initialiser of this type initialises the object (a class with
        a constructor), as far as the file says."""
        if t is None:
            return False
        if t.type in PRIMITIVE or t.type in ("enum_specifier", "placeholder_type_specifier"):
            return False
        text = " ".join(self.text(t).split())
        if t.type == "qualified_identifier":
            if not text.startswith("std::"):
                return False
            last = text[5:].split("<")[0]
            return last not in STD_SCALARS and "::" not in last
        if t.type == "template_type":
            return True
        if t.type == "type_identifier":
            return text in self.ctx.constructed or text in STD_CLASSES
        return False

    def declare(self, decl, scope: dict, assigned):
        storage = {self.text(c) for c in decl.children if c.type == "storage_class_specifier"}
        if storage & {"extern", "typedef"}:
            return assigned
        t = decl.child_by_field_name("type")
        prim = t is not None and t.type in PRIMITIVE
        out = set(assigned) if assigned is not None else None
        for d in decl.children_by_field_name("declarator"):
            if d.type == "function_declarator":
                continue
            init = d.type == "init_declarator"
            if init:
                self.lambdas(d.child_by_field_name("value"), scope, assigned)
            names = declarator_names(d, self.text)
            size, vla = "", False
            inner = d.child_by_field_name("declarator") if init else d
            while inner is not None and inner.type == "array_declarator":
                if inner.child_by_field_name("size") is not None:
                    size = size or self.text(inner.child_by_field_name("size"))
                    vla = vla or not self.constant(inner.child_by_field_name("size"), scope)
                inner = inner.child_by_field_name("declarator")
            quals = {self.text(c) for c in decl.children if c.type == "type_qualifier"}
            for ident, ptr in names:
                name = self.text(ident)
                is_init = init or "static" in storage or \
                    (not ptr and d.type == "identifier" and self.default_constructed(t))
                v = Var(name, ident.start_byte, prim or ptr, is_init, size)
                v.const = init and bool(quals & {"const", "constexpr"})
                v.hidden = vla
                scope[name] = v
                if is_init and out is not None:
                    out.add(v.id)
        return frozenset(out) if out is not None else None

    def constant(self, node, scope: dict) -> bool:
        """An array size known when compiling: literals, const/constexpr variables, names in
        capitals (macros), sizeof, and arithmetic on those; anything else makes a GNU
        variable-length array, which no template takes (so it is never read)."""
        t = node.type
        if t in ("number_literal", "sizeof_expression", "char_literal"):
            return True
        if t == "identifier":
            v = scope.get(self.text(node))
            if v is not None:
                return v.const
            name = self.text(node)
            return name.isupper() or any(g.name == name and g.const for _, g in self.ctx.globals)
        if t in ("binary_expression", "parenthesized_expression", "unary_expression"):
            return all(self.constant(c, scope) for c in node.named_children)
        return t == "qualified_identifier"

    def condition(self, cond, scope: dict, assigned):
        """A condition clause: `(x)`, `(init; x)`, `(T x = e)`; declares into `scope`."""
        if cond is None:
            return assigned
        self.lambdas(cond, scope, assigned)
        for c in cond.named_children:
            if c.type == "init_statement":
                for d in c.named_children:
                    if d.type == "declaration":
                        assigned = self.declare(d, scope, assigned)
                    elif d.type == "expression_statement" and d.named_children:
                        assigned = self.assigns(d.named_children[0], scope, assigned)
            elif c.type == "declaration":
                assigned = self.declare(c, scope, assigned)
        value = cond.child_by_field_name("value")
        if value is not None and value.type != "declaration":
            assigned = self.assigns(value, scope, assigned)
        return assigned

    def cond_probe(self, line: int, at: int, scope: dict, assigned) -> None:
        if self.rw.keep(line):
            self.rw.insert(at, self.probe_expr(line, scope, assigned) + ", ", 0)

    def assigns(self, expr, scope: dict, assigned):
        """`assigned` plus what the expression statement `expr` certainly assigns: `x = ...`
        (chained, or in a comma list), `cin >> x >> y`, `scanf(..., &x)`."""
        if assigned is None or expr is None:
            return assigned
        added = set()
        stack = [expr]
        while stack:
            n = stack.pop()
            if n.type == "comma_expression":
                stack.extend(n.named_children)
            elif n.type == "assignment_expression":
                left, right = n.child_by_field_name("left"), n.child_by_field_name("right")
                op = n.child_by_field_name("operator")
                if left is not None and left.type == "identifier" and op is not None and self.text(op) == "=":
                    v = scope.get(self.text(left))
                    if v is not None:
                        added.add(v.id)
                if right is not None:
                    stack.append(right)
            elif n.type == "binary_expression" and self.text(n.child_by_field_name("operator")) == ">>":
                left, right = n.child_by_field_name("left"), n.child_by_field_name("right")
                root = left
                while root.type == "binary_expression" and self.text(root.child_by_field_name("operator")) == ">>":
                    root = root.child_by_field_name("left")
                if self.text(root) in ("cin", "std::cin") and right.type == "identifier":
                    v = scope.get(self.text(right))
                    if v is not None:
                        added.add(v.id)
                stack.append(left)
            elif n.type == "call_expression" and self.text(n.child_by_field_name("function")) in ("scanf",
                                                                                               "std::scanf"):
                args = n.child_by_field_name("arguments")
                for a in args.named_children if args is not None else []:
                    if a.type == "pointer_expression" and self.text(a).startswith("&"):
                        arg = a.child_by_field_name("argument")
                        if arg is not None and arg.type == "identifier" and self.text(arg) in scope:
                            added.add(scope[self.text(arg)].id)
        return assigned | added if added else assigned

    # --- returns ------------------------------------------------------------------------------

    def pure(self, node, scope: dict) -> bool:
        """Evaluating it twice is the same as once: names, literals, member access, and
        arithmetic on variables of scalar types."""
        t = node.type
        if t in LITERALS:
            return True
        if t == "identifier":
            return True
        if t == "parenthesized_expression":
            return all(self.pure(c, scope) for c in node.named_children)
        if t == "field_expression":
            arg = node.child_by_field_name("argument")
            return arg is not None and self.pure(arg, scope)
        if t == "qualified_identifier":
            return True
        if t in ("binary_expression", "unary_expression"):
            for n in iter_nodes(node):
                if n.type == "identifier" and (n.parent is None or n.parent.type != "field_expression"):
                    v = scope.get(self.text(n))
                    if v is None or not v.prim:
                        return False
                elif n.is_named and n.type not in ("identifier", "binary_expression", "unary_expression",
                                                   "parenthesized_expression", "number_literal", "true",
                                                   "false", "char_literal"):
                    return False
            return True
        return False

    def ret(self, node, scope, assigned) -> None:
        line = self.line_of(node)
        pid = self.rw.probe("return", line, self.name)
        exprs = [c for c in node.named_children if c.type != "comment"]
        expr = exprs[0] if exprs else None
        if expr is not None:
            self.lambdas(expr, scope, assigned)
        if expr is None or self.void or self.decltype_auto or not self.rw.keep(line) or \
                not self.rw.keep(line, "return"):
            self.rw.insert(node.start_byte, f"__ca_g.__ret({pid}); ", 1)
            return
        if expr.type == "initializer_list":
            if self.rtype is None:
                self.rw.insert(node.start_byte, f"__ca_g.__ret({pid}); ", 1)
            else:   # `return {a, b};`: the value built as the declared type, then moved out
                self.rw.insert(expr.start_byte, f"__ca_g.__pass({pid}, {self.rtype}", 0)
                self.rw.insert(expr.end_byte, ")", 0)
            return
        if self.pure(expr, scope) and "\n" not in self.text(expr):
            how = f"__ret_as<{self.rtype}>" if self.rtype else "__ret"
            self.rw.insert(node.start_byte, f"__ca_g.{how}({pid}, {self.text(expr)}); ", 1)
            return
        self.rw.insert(expr.start_byte, f"__ca_g.__pass({pid}, (", 0)
        self.rw.insert(expr.end_byte, "))", 0)


def cstr(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rewrite(rw: Rewrite) -> None:
    if not rw.source.strip():
        raise SkipProgram("empty file")
    Program(rw).run()
