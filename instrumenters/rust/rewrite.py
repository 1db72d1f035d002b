"""Rust rewriter: probes for calls, lines, returns and panics in a single-file binary (main.rs).

What it does (the prelude, prelude/codealchemy_prelude.rs, is a module of the program):

- the file gets `#[macro_use] #[path = "codealchemy_prelude.rs"] mod __ca;` before its first item
  (after inner attributes), on that item's line: the prelude's `print!`/`println!`/`eprint!`/
  `eprintln!` then shadow std's in the whole file (they format once, record an `o` record and
  print the same bytes with std's macro);
- every function, method and closure with a body gets, right after its `{`, a frame guard
  `let __ca_f = crate::__ca::enter(CALL, END, UNIT);` and the call record with its arguments.
  The guard is dropped last: it records the return of unit functions, and on a panic the
  `exception` and the valueless `return` of each frame the panic unwinds;
- a line probe for each statement (and a block's tail expression) goes at the END OF THE
  PREVIOUS LINE (after the previous statement or the `{`), so statements keep their line and
  column: rustc's diagnostics (the repair loop) and panic locations (`main.rs:12:5`) stay;
- values are read as `(&&crate::__ca::W(&x)).__ca_v("\\tx\\t", &mut __e)`: autoref specialization
  picks Debug when the type has it, else the type name; a read never moves (only `&x`).
  Variables declared as integers or bools (`let n: u64`, `let mut i = 0`, `k: i32`) are read
  with `&&&W`, which reaches a formatting-free fast path first;
- returns: a tail expression or `return EXPR` becomes `{ let __ca_r: RET = EXPR; record;
  __ca_r }` (the prefix at the end of the previous line when EXPR starts its line); `EXPR?`
  becomes `EXPR.__ca_q(...)?`, which records the early return (the error before `From`);
- loop headers: `while C` -> `while { probe; C }` (each check), `for p in E` -> `for p in
  crate::__ca::each(E, ...)` (a probe at each `next` after the first; the statement probe is the
  first), `loop` -> a probe at the start of each iteration; `else if C` fires when checked;
  match arms that are expressions get `{ probe; EXPR }` unless EXPR could panic with a location;
- `std::process::exit`/`abort` and `std::panic::set_hook` calls go through the prelude (flush
  first; keep the tracer's hook in front of the program's).

Reads are conservative only about scope (declared before, in an enclosing block of the same
function or closure, initialised by its `let`). Moves and borrows are left to rustc: where a read
does not compile, the repair loop (tracing.py) names (line, variable) and the rewriter stops
reading that variable from that line on, in that function; (line, None) removes every probe
placed on that line.
"""

from __future__ import annotations

import bisect
import re

from codealchemy.tracer.instrument import Rewrite, SkipProgram

F = "__ca_f"
PRELUDE_DECL = '#[macro_use] #[path = "codealchemy_prelude.rs"] mod __ca; '
USE = "use crate::__ca::{__CaPrim as _, __CaDbg as _, __CaAny as _, __CaQ as _, __CaRet as _}; "
RESERVED = re.compile(rb"__ca")
COMMENTS = {"line_comment", "block_comment"}
ITEMS = {"function_item", "impl_item", "trait_item", "mod_item", "struct_item", "enum_item", "union_item",
         "use_declaration", "const_item", "static_item", "type_item", "macro_definition", "extern_crate_declaration",
         "foreign_mod_item", "function_signature_item", "associated_type", "inner_attribute_item"}
POSTFIX = {"call_expression", "field_expression", "identifier", "index_expression", "macro_invocation",
           "parenthesized_expression", "scoped_identifier", "self", "try_expression", "tuple_expression",
           "array_expression", "string_literal", "integer_literal", "await_expression", "generic_function"}
PRIMS = {"i8", "i16", "i32", "i64", "isize", "u8", "u16", "u32", "u64", "usize", "bool"}
PANIC_METHODS = {"unwrap", "expect", "unwrap_err", "expect_err"}
ARITH = {"/", "%"}  # division by zero; overflow panics are rarer (then a column may move)
PANIC_MACROS = {"panic", "assert", "assert_eq", "assert_ne", "unreachable", "todo", "unimplemented",
                "debug_assert", "debug_assert_eq", "debug_assert_ne"}
EXITS = {"std::process::exit": "crate::__ca::exit", "process::exit": "crate::__ca::exit",
         "::std::process::exit": "crate::__ca::exit", "std::process::abort": "crate::__ca::abort",
         "process::abort": "crate::__ca::abort", "std::panic::set_hook": "crate::__ca::set_hook",
         "panic::set_hook": "crate::__ca::set_hook"}


def _nonzero(literal: str) -> bool:
    """Whether an integer literal (`2`, `0x10`, `1_000u32`) is not zero."""
    text = re.sub(r"(?:[iu](?:8|16|32|64|128|size))$", "", literal.replace("_", ""))
    try:
        return int(text, 0) != 0
    except ValueError:
        return False


def _line(node) -> int:
    return node.start_point[0] + 1


def _named(node) -> list:
    return [c for c in node.children if c.is_named and c.type not in COMMENTS]


class Var:
    __slots__ = ("name", "dead", "init", "prim", "opaque")

    def __init__(self, name: str, init: bool = True, prim: bool = False, opaque: bool = False):
        self.name, self.dead, self.init, self.prim, self.opaque = name, False, init, prim, opaque

    @property
    def refs(self) -> str:
        """`&&&W` reaches the integer fast path first; only for variables known to be integers or
        bools (a variable whose type is still being inferred would be forced to be one). A bare
        `W` reaches the type-name impl first: for values whose Debug impl may not apply."""
        return "&&&" if self.prim else "" if self.opaque else "&&"


class Ctx:
    """A traced function or closure (None where nothing may be probed: const contexts).

    `generic`: its type parameters (and its impl's or trait's) without a `Debug` bound;
    `opaque_from`: the first line from which values that are not integers render as type names
    (rustc rejected a Debug read there, naming a type: see `RustRewriter.opaque_from`)."""

    def __init__(self, name: str, unit: bool, ret: str | None, generic: frozenset = frozenset(),
                 opaque_from: int | None = None):
        self.name, self.unit, self.ret = name, unit, ret
        self.generic, self.opaque_from = generic, opaque_from
        self.closures = 0

    def opaque_at(self, line: int) -> bool:
        return self.opaque_from is not None and line >= self.opaque_from


class Scope:
    def __init__(self, parent: Scope | None):
        self.parent = parent
        self.names: dict[str, Var] = {}

    def visible(self) -> list[Var]:
        seen: dict[str, Var] = {}
        s = self
        while s is not None:
            for name, v in s.names.items():
                seen.setdefault(name, v)
            s = s.parent
        return sorted(seen.values(), key=lambda v: v.name)

    def lookup(self, name: str) -> Var | None:
        s = self
        while s is not None:
            if name in s.names:
                return s.names[name]
            s = s.parent
        return None


class RustRewriter:
    def __init__(self, rw: Rewrite):
        self.rw = rw
        self.lines = [0] + [i + 1 for i, b in enumerate(rw.source) if b == 0x0A]
        self.imported: dict[str, str] = {}  # `exit` etc. imported by name -> the prelude's

    # --- helpers ---------------------------------------------------------------------------

    def text(self, node) -> str:
        return self.rw.text(node)

    def phys(self, at: int) -> int:
        """The 1-based line of byte `at` (where inserted text lands)."""
        return bisect.bisect_right(self.lines, at)

    def reads(self, scope: Scope, phys: int, ctx: Ctx) -> str:
        out = []
        for v in scope.visible():
            if v.dead or not v.init:
                continue
            if not self.rw.keep(phys, v.name):
                v.dead = True  # rustc rejected this read: the variable is moved or borrowed from here on
                continue
            out.append(self.read(v, v.name, ctx, phys))
        return "".join(out)

    @staticmethod
    def read(v: Var, name: str, ctx: Ctx, phys: int) -> str:
        refs = "" if ctx.opaque_at(phys) and not v.prim else v.refs
        return f'({refs}crate::__ca::W(&{name})).__ca_v("\\t{name}\\t", &mut __e); '

    def probe_text(self, pid: int, scope: Scope, phys: int, ctx: Ctx) -> str:
        reads = self.reads(scope, phys, ctx)
        if reads:
            return f"if let Some(mut __e) = {F}.l({pid}) {{ {reads}}};"
        return f"{F}.l0({pid});"

    def line_probe(self, node, ctx: Ctx, scope: Scope, at: int) -> None:
        phys = self.phys(at)
        if not self.rw.keep(phys):
            return
        pid = self.rw.probe("line", _line(node), ctx.name)
        self.rw.insert(at, " " + self.probe_text(pid, scope, phys, ctx), 10)

    # --- values whose Debug impl may not apply ---------------------------------------------
    # Autoref specialization checks only the outermost bound while the method is chosen:
    # `Vec<T>: Debug` "may hold" for a `T` without a Debug bound (or a `Vec<Card>` of a struct
    # without Debug), so the Debug read is chosen and rustc then rejects it (E0277). Values of
    # declared types that mention such a `T` are read by type name from the start; where rustc
    # still rejects a read and names a type (`T`, `Card`: never a variable, whose names are
    # lower case), the function renders every value that is not an integer by type name from
    # that line on (rustc reports one such error per function and round, naming no variable).

    @staticmethod
    def unbounded(node) -> set[str]:
        """Type parameters of a fn/impl/trait item without a `Debug` bound there."""
        params = node.child_by_field_name("type_parameters")
        names: dict[str, bool] = {}
        for p in _named(params) if params is not None else []:
            if p.type == "type_parameter" and p.child_by_field_name("name") is not None:
                bounds = p.child_by_field_name("bounds")
                name = p.child_by_field_name("name").text.decode()
                names[name] = bounds is not None and b"Debug" in bounds.text
        where = next((c for c in node.children if c.type == "where_clause"), None)
        for pred in _named(where) if where is not None else []:
            left, bounds = pred.child_by_field_name("left"), pred.child_by_field_name("bounds")
            if left is not None and left.text.decode() in names and bounds is not None and b"Debug" in bounds.text:
                names[left.text.decode()] = True
        return {n for n, debug in names.items() if not debug}

    def generic_params(self, node) -> frozenset:
        out = self.unbounded(node)
        a = node.parent
        while a is not None:
            if a.type in ("impl_item", "trait_item"):
                out |= self.unbounded(a)
                break
            if a.type == "function_item":
                break
            a = a.parent
        return frozenset(out)

    @staticmethod
    def mentions(typ: str | None, generic: frozenset) -> bool:
        """Whether a declared type may lack Debug for some of its type arguments."""
        if not typ:
            return False
        return bool(generic & set(re.findall(r"\b[A-Za-z_]\w*", typ))) or (
            "impl " in typ and "Debug" not in typ)

    def opaque_from(self, node) -> int | None:
        """The first line of `node` where the repair loop dropped a read naming a type."""
        first, last = node.start_point[0] + 1, node.end_point[0] + 1
        lines = [line for line, name in self.rw.options.get("drops", ())
                 if name and name[:1].isupper() and first <= line <= last]
        return min(lines, default=None)

    def declare(self, scope: Scope, pattern, init: bool = True, typ=None, value=None,
                ctx: Ctx | None = None) -> list[str]:
        names: list[str] = []
        self.bindings(pattern, names)
        prim = len(names) == 1 and pattern is not None and pattern.type in ("identifier", "mut_pattern") and (
            (typ is not None and self.text(typ) in PRIMS)
            or (typ is None and value is not None and value.type in ("integer_literal", "boolean_literal")
                and not re.search(r"(i|u)128$", self.text(value))))
        opaque = ctx is not None and typ is not None and self.mentions(self.text(typ), ctx.generic)
        for name in names:
            scope.names[name] = Var(name, init, prim, opaque)
        return names

    def bindings(self, node, out: list[str]) -> None:
        """The names a pattern binds (not constructors, paths or constants)."""
        if node is None:
            return
        t = node.type
        if t == "identifier":
            name = self.text(node)
            if name != "_" and not name[:1].isupper() and name not in out:
                out.append(name)
            return
        if t == "shorthand_field_identifier":
            out.append(self.text(node))
            return
        if t in ("scoped_identifier", "type_identifier", "field_identifier", "macro_invocation") or "literal" in t:
            return
        for c in _named(node):
            field = node.field_name_for_child(node.children.index(c)) if c.parent is not None else None
            if t in ("tuple_struct_pattern", "struct_pattern") and field == "type":
                continue
            if t == "field_pattern" and field == "name" and c.type == "field_identifier":
                continue
            self.bindings(c, out)

    def may_locate(self, node) -> bool:
        """Whether evaluating `node` may panic with a location (then its columns must stay)."""
        stack = [node]
        while stack:
            n = stack.pop()
            t = n.type
            if t == "index_expression":
                return True
            if t == "macro_invocation":
                mac = n.child_by_field_name("macro")
                if mac is None or self.text(mac).rsplit("::", 1)[-1] in PANIC_MACROS:
                    return True
            if t == "binary_expression":
                op = n.child_by_field_name("operator")
                right = n.child_by_field_name("right")
                literal = right is not None and right.type == "integer_literal" and _nonzero(self.text(right))
                if op is not None and self.text(op) in ARITH and not literal:
                    return True  # `x % 2` cannot divide by zero
            if t == "compound_assignment_expr":
                return True
            if t == "call_expression":
                fn = n.child_by_field_name("function")
                if fn is not None and fn.type == "field_expression":
                    field = fn.child_by_field_name("field")
                    if field is not None and self.text(field) in PANIC_METHODS:
                        return True
            if t == "closure_expression":
                continue
            stack.extend(n.children)
        return False

    @staticmethod
    def render_closure(refs: str = "&&") -> str:
        return f"|__q, __e| ({refs}crate::__ca::W(__q)).__ca_r(__e)"

    # --- functions and closures ------------------------------------------------------------

    def function(self, node, name: str) -> None:
        body = node.child_by_field_name("body")
        if body is None:
            return
        mods = next((c for c in node.children if c.type == "function_modifiers"), None)
        modtext = self.text(mods) if mods is not None else ""
        if "const" in modtext.split() or "async" in modtext.split():
            self.inert(body)
            return
        ret = node.child_by_field_name("return_type")
        ret_text = self.text(ret).strip() if ret is not None else None
        unit = ret_text is None or ret_text == "()"
        if ret_text == "!":
            unit = True
        annot = ret_text if ret_text and "impl " not in ret_text and ret_text != "!" else None
        generic = self.generic_params(node)
        ctx = Ctx(name, unit, annot, generic, self.opaque_from(node))
        scope = Scope(None)
        args: list[str] = []
        params = node.child_by_field_name("parameters")
        for p in _named(params) if params is not None else []:
            if p.type == "self_parameter":
                owner = node.parent.parent if node.parent is not None else None
                own = owner.child_by_field_name("type") if owner is not None and owner.type == "impl_item" else None
                scope.names["self"] = Var("self", opaque=self.mentions(own.text.decode() if own else None, generic))
                args.append("self")
            elif p.type == "parameter":
                args.extend(self.declare(scope, p.child_by_field_name("pattern"), typ=p.child_by_field_name("type"),
                                         ctx=ctx))
        self.frame(node, body, ctx, scope, args, _line(node))

    def frame(self, node, body, ctx: Ctx, scope: Scope, args: list[str], line: int) -> None:
        """The prologue after the body's `{`, then the body's statements."""
        call = self.rw.probe("call", line, ctx.name)
        end = self.rw.probe("return", body.end_point[0] + 1, ctx.name)
        at = body.start_byte + 1
        phys = self.phys(at)
        text = f" {USE}let {F} = crate::__ca::enter({call}, {end}, {str(ctx.unit).lower()}); "
        reads = ""
        if self.rw.keep(phys):
            for a in args:
                v = scope.names.get(a)
                if v is not None and self.rw.keep(phys, a):
                    reads += self.read(v, a, ctx, phys)
                elif v is not None:
                    v.dead = True
        text += f"if let Some(mut __e) = {F}.c() {{ {reads}}};" if reads else f"let _ = {F}.c();"
        self.rw.insert(at, text, -1)
        self.block(body, ctx, Scope(scope), body_of=ctx)

    def closure(self, node, ctx: Ctx | None, outer: Scope | None) -> None:
        body = node.child_by_field_name("body")
        if body is None:
            return
        if self.text(node).startswith("async"):
            self.inert(body)
            return
        parent = ctx.name if ctx is not None else "?"
        if ctx is not None:
            ctx.closures += 1
            name = f"{parent}::{{closure#{ctx.closures}}}"
        else:
            name = "{closure}"
        ret = node.child_by_field_name("return_type")
        annot = self.text(ret).strip() if ret is not None else None
        if annot and ("impl " in annot or annot == "!"):
            annot = None
        scope = Scope(None)
        args: list[str] = []
        generic = ctx.generic if ctx is not None else frozenset()
        opaque_from = self.opaque_from(node)
        if ctx is not None and ctx.opaque_from is not None:
            opaque_from = min(ctx.opaque_from, opaque_from or ctx.opaque_from)
        probe_ctx = Ctx(name, False, annot, generic, opaque_from)  # what the closure's reads know
        params = node.child_by_field_name("parameters")
        for p in _named(params) if params is not None else []:
            pat = p.child_by_field_name("pattern") if p.type == "parameter" else p
            typ = p.child_by_field_name("type") if p.type == "parameter" else None
            args.extend(self.declare(scope, pat, typ=typ, ctx=probe_ctx))
        if body.type == "block":
            unit = self.tail(body) is None
            cctx = Ctx(name, unit, annot, generic, opaque_from)
            self.frame(node, body, cctx, scope, args, _line(node))
            return
        # an expression body: `|a| EXPR` -> `|a| { prologue; let __ca_r = EXPR; record; __ca_r }`
        prev = ret if ret is not None else params
        if prev is None:
            return
        same_line = prev.end_point[0] == body.start_point[0]
        if same_line and self.may_locate(body):
            self.expr(body, None, scope)  # not traced: its panic columns must stay
            return
        cctx = probe_ctx
        call = self.rw.probe("call", _line(node), name)
        end = self.rw.probe("return", body.end_point[0] + 1, name)
        at = prev.end_byte
        phys = self.phys(at)
        reads = ""
        if self.rw.keep(phys):
            for a in args:
                if self.rw.keep(phys, a):
                    reads += self.read(scope.names[a], a, probe_ctx, phys)
        c = f"if let Some(mut __e) = {F}.c() {{ {reads}}};" if reads else f"let _ = {F}.c();"
        typ = f": {annot}" if annot else ""
        self.rw.insert(at, f" {{ {USE}let {F} = crate::__ca::enter({call}, {end}, false); {c} "
                           f"let __ca_r{typ} = ", 20)
        self.expr(body, cctx, scope)
        rp = self.rw.probe("return", body.end_point[0] + 1, name)
        refs = "" if self.mentions(annot, generic) or cctx.opaque_at(_line(body)) else "&&"
        self.rw.insert(body.end_byte, f"; if let Some(mut __e) = {F}.r({rp}) {{ "
                                      f"({refs}crate::__ca::W(&__ca_r)).__ca_r(&mut __e); }} __ca_r }}", -20)

    def inert(self, node) -> None:
        """No probes here (const and async contexts); nested items are still traced."""
        for c in _named(node):
            if c.type == "function_item":
                self.item(c, None)
            elif c.type in ("impl_item", "trait_item", "mod_item"):
                self.item(c, None)
            else:
                self.inert(c)

    # --- blocks and statements -------------------------------------------------------------

    @staticmethod
    def tail(block):
        kids = [c for c in block.children if c.is_named and c.type not in COMMENTS]
        if not kids:
            return None
        last = kids[-1]
        if last.type in ITEMS or last.type in ("let_declaration", "empty_statement", "attribute_item"):
            return None
        if last.type == "expression_statement":
            if last.children[-1].type == ";":
                return None
            inner = _named(last)
            if inner and inner[0].type in ("if_expression", "match_expression", "block", "unsafe_block",
                                           "loop_expression"):
                return inner[0]
            return None
        return last

    def block(self, block, ctx: Ctx | None, scope: Scope, body_of: Ctx | None = None,
              outer_line: int | None = None) -> None:
        tail = self.tail(block)
        anchor = block.start_byte + 1
        kids = [c for c in block.children if c.is_named and c.type not in COMMENTS]
        pending_attr = attrs_end = None
        for stmt in kids:
            if stmt.type == "attribute_item":
                if pending_attr is None:
                    pending_attr = anchor
                attrs_end = stmt.end_byte
                continue
            at = pending_attr if pending_attr is not None else anchor
            if pending_attr is None:
                attrs_end = None
            pending_attr = None
            is_tail = tail is not None and (stmt is tail or (stmt.type == "expression_statement"
                                                             and _named(stmt) and _named(stmt)[0] == tail))
            if is_tail:
                self.tail_expr(tail, ctx, scope, at, body_of, outer_line, attrs_end)
            else:
                self.statement(stmt, ctx, scope, at, outer_line)
            anchor = stmt.end_byte

    def tail_expr(self, tail, ctx, scope, at, body_of, outer_line, attrs_end=None) -> None:
        if ctx is not None and _line(tail) != outer_line and not self.loop_like(tail):
            self.line_probe(tail, ctx, scope, at)
        self.expr(tail, ctx, scope, _line(tail))
        if body_of is not None and not body_of.unit and ctx is body_of:
            self.wrap_return(tail, ctx, at, tail=True, attrs_end=attrs_end)

    def wrap_return(self, expr, ctx: Ctx, at: int, tail: bool = False, attrs_end: int | None = None) -> None:
        """Record the value of a tail or `return` expression; `at` is where a prefix may go.

        A tail with outer attributes (`#[allow(...)] expr`) keeps them on the `let` (attributes
        on a statement are stable, on an initialiser expression they do not parse): `{` goes
        before the attributes, `let __ca_r = ` after them (`attrs_end`).

        Call it after walking `expr`: its suffix then lands after those of nested expressions
        that end at the same byte. A tail returns at the line that ran last in the frame."""
        pid = self.rw.probe("return", _line(expr), ctx.name)
        rec = f"{F}.rl()" if tail else f"{F}.r({pid})"
        refs = "&&&" if ctx.ret in PRIMS else "" if (
            self.mentions(ctx.ret, ctx.generic) or ctx.opaque_at(_line(expr))) else "&&"
        same_line = self.phys(at) == _line(expr)
        if attrs_end is not None and self.phys(attrs_end) == _line(expr):
            return   # `#[attr] expr` on one line: no room for `let` (a suffix could need a type annotation)
        if same_line and self.may_locate(expr) and expr.type in POSTFIX:
            phys = self.phys(expr.end_byte)
            if self.rw.keep(phys):
                render = self.render_closure(refs.replace("&&&", "&&"))
                self.rw.insert(expr.end_byte, f".__ca_ret(&{F}, {pid}, {render})", -20)
            return
        if not (self.rw.keep(self.phys(at)) and self.rw.keep(self.phys(expr.end_byte))):
            return
        typ = f": {ctx.ret}" if ctx.ret else ""
        if attrs_end is not None:
            self.rw.insert(at, " {", 20)
            self.rw.insert(attrs_end, f" let __ca_r{typ} = ", 20)
        else:
            self.rw.insert(at, f" {{ let __ca_r{typ} = ", 20)
        self.rw.insert(expr.end_byte, f"; if let Some(mut __e) = {rec} {{ "
                                      f"({refs}crate::__ca::W(&__ca_r)).__ca_r(&mut __e); }} __ca_r }}", -20)

    @staticmethod
    def loop_like(node) -> bool:
        return node.type in ("while_expression", "loop_expression")

    def statement(self, stmt, ctx: Ctx | None, scope: Scope, at: int, outer_line: int | None) -> None:
        t = stmt.type
        if t in ITEMS:
            self.item(stmt, None)
            return
        if t == "empty_statement":
            return
        inner = _named(stmt)[0] if t == "expression_statement" and _named(stmt) else stmt
        if ctx is not None and _line(stmt) != outer_line and not self.loop_like(inner):
            self.line_probe(stmt, ctx, scope, at)
        line = _line(stmt)
        if t == "let_declaration":
            value = stmt.child_by_field_name("value")
            if value is not None:
                self.expr(value, ctx, scope, line)
            alt = stmt.child_by_field_name("alternative")
            if alt is not None:
                self.block(alt, ctx, Scope(scope), outer_line=line)
            self.declare(scope, stmt.child_by_field_name("pattern"), init=value is not None,
                         typ=stmt.child_by_field_name("type"), value=value, ctx=ctx)
            return
        if t == "expression_statement":
            self.expr(inner, ctx, scope, line)
            if inner.type == "assignment_expression":
                left = inner.child_by_field_name("left")
                if left is not None and left.type == "identifier":
                    v = scope.lookup(self.text(left))
                    if v is not None and not v.init and v.name in scope.names:
                        v.init = True
            return
        self.expr(stmt, ctx, scope, line)

    # --- expressions -----------------------------------------------------------------------

    def expr(self, node, ctx: Ctx | None, scope: Scope, line: int | None = None) -> None:
        if node is None:
            return
        t = node.type
        if t == "closure_expression":
            self.closure(node, ctx, scope)
        elif t in ("block", "unsafe_block"):
            blk = node if t == "block" else next((c for c in node.children if c.type == "block"), None)
            if blk is not None:
                self.block(blk, ctx, Scope(scope), outer_line=line)
        elif t in ("async_block", "const_block"):
            self.inert(node)
        elif t == "if_expression":
            self.if_expr(node, ctx, scope, line, False)
        elif t == "while_expression":
            self.while_expr(node, ctx, scope, line)
        elif t == "loop_expression":
            body = node.child_by_field_name("body")
            if ctx is not None and self.rw.keep(self.phys(body.start_byte + 1)):
                pid = self.rw.probe("line", _line(node), ctx.name)
                text = self.probe_text(pid, scope, self.phys(body.start_byte + 1), ctx)
                text = text.replace(f"{F}.l({pid})", f"{F}.lh({pid})").replace(f"{F}.l0({pid})", f"{F}.lh0({pid})")
                self.rw.insert(body.start_byte + 1, " " + text, 0)
            self.block(body, ctx, Scope(scope), outer_line=line)
        elif t == "for_expression":
            self.for_expr(node, ctx, scope, line)
        elif t == "match_expression":
            self.match_expr(node, ctx, scope, line)
        elif t == "try_expression":
            self.try_expr(node, ctx, scope, line)
        elif t == "return_expression":
            self.return_expr(node, ctx, scope, line)
        elif t == "call_expression":
            fn = node.child_by_field_name("function")
            if fn is not None and self.text(fn) in EXITS:
                self.rw.replace(fn.start_byte, fn.end_byte, EXITS[self.text(fn)])
            elif fn is not None and fn.type == "identifier" and self.text(fn) in self.imported:
                self.rw.replace(fn.start_byte, fn.end_byte, self.imported[self.text(fn)])
            args = node.child_by_field_name("arguments")
            if fn is not None and self.text(fn).rsplit("::", 1)[-1] == "catch_unwind" and args is not None:
                # `catch_unwind(|| ...)` is Rust's try block: its closure is not a frame of its own
                # (and may not borrow the frame: `&Frame` is not UnwindSafe), so no probes inside
                for c in _named(args):
                    if c.type == "closure_expression":
                        self.inert(c)
                    else:
                        self.expr(c, ctx, scope, line)
                return
            for c in _named(node):
                if c is not fn or c.type not in ("scoped_identifier", "identifier"):
                    self.expr(c, ctx, scope, line)
        elif t in ITEMS:
            self.item(node, None)
        elif t in ("macro_invocation", "token_tree", "identifier", "scoped_identifier", "type_identifier",
                   "field_identifier", "primitive_type") or "literal" in t:
            return
        else:
            for c in _named(node):
                self.expr(c, ctx, scope, line)

    def cond_probe(self, node, cond, ctx: Ctx | None, scope: Scope) -> None:
        """`C` -> `{ probe; C }` (a let condition: its value), so the probe runs at each check."""
        if ctx is None:
            return
        target = cond.child_by_field_name("value") if cond.type == "let_condition" else cond
        if target is None or cond.type == "let_chain":
            return
        phys = self.phys(target.start_byte)
        if not self.rw.keep(phys) or not self.rw.keep(self.phys(target.end_byte)):
            return
        pid = self.rw.probe("line", _line(node), ctx.name)
        self.rw.insert(target.start_byte, "{ " + self.probe_text(pid, scope, phys, ctx) + " ", 0)
        self.rw.insert(target.end_byte, " }", 0)

    def condition(self, cond, ctx, scope: Scope, line) -> Scope:
        """Walks a condition; returns the scope of the branch it guards (let bindings)."""
        inner = Scope(scope)
        conds = _named(cond) if cond.type == "let_chain" else [cond]
        for c in conds:
            if c.type == "let_condition":
                self.expr(c.child_by_field_name("value"), ctx, scope, line)
                self.declare(inner, c.child_by_field_name("pattern"))
            else:
                self.expr(c, ctx, scope, line)
        return inner

    def if_expr(self, node, ctx, scope: Scope, line, else_if: bool) -> None:
        cond = node.child_by_field_name("condition")
        if else_if and _line(node) != line:
            self.cond_probe(node, cond, ctx, scope)
        inner = self.condition(cond, ctx, scope, line)
        self.block(node.child_by_field_name("consequence"), ctx, Scope(inner), outer_line=line)
        alt = node.child_by_field_name("alternative")
        if alt is not None:
            for c in _named(alt):
                if c.type == "if_expression":
                    self.if_expr(c, ctx, scope, line, True)
                elif c.type == "block":
                    self.block(c, ctx, Scope(scope), outer_line=line)

    def while_expr(self, node, ctx, scope: Scope, line) -> None:
        cond = node.child_by_field_name("condition")
        self.cond_probe(node, cond, ctx, scope)
        inner = self.condition(cond, ctx, scope, line)
        self.block(node.child_by_field_name("body"), ctx, Scope(inner), outer_line=line)

    def for_expr(self, node, ctx, scope: Scope, line) -> None:
        value = node.child_by_field_name("value")
        self.expr(value, ctx, scope, line)
        if ctx is not None and self.rw.keep(self.phys(value.start_byte)) \
                and self.rw.keep(self.phys(value.end_byte)):
            pid = self.rw.probe("line", _line(node), ctx.name)
            self.rw.insert(value.start_byte, "crate::__ca::each(", 0)
            self.rw.insert(value.end_byte, f", &{F}, {pid})", 0)
        inner = Scope(scope)
        self.declare(inner, node.child_by_field_name("pattern"))
        self.block(node.child_by_field_name("body"), ctx, inner, outer_line=line)

    def match_expr(self, node, ctx, scope: Scope, line) -> None:
        self.expr(node.child_by_field_name("value"), ctx, scope, line)
        body = node.child_by_field_name("body")
        for arm in _named(body) if body is not None else []:
            if arm.type != "match_arm":
                continue
            inner = Scope(scope)
            pat = arm.child_by_field_name("pattern")
            if pat is not None:
                for c in _named(pat):
                    if pat.field_name_for_child(pat.children.index(c)) == "condition":
                        continue
                    self.declare(inner, c)
                guard = pat.child_by_field_name("condition")
                if guard is not None:
                    self.expr(guard, ctx, inner, line)
            value = arm.child_by_field_name("value")
            if value is None:
                continue
            if value.type == "block":
                self.block(value, ctx, Scope(inner), outer_line=line)
                continue
            if ctx is not None and _line(value) != line and not self.may_locate(value):
                phys = self.phys(value.start_byte)
                if self.rw.keep(phys) and self.rw.keep(self.phys(value.end_byte)):
                    pid = self.rw.probe("line", _line(value), ctx.name)
                    self.rw.insert(value.start_byte, "{ " + self.probe_text(pid, inner, phys, ctx) + " ", 0)
                    self.rw.insert(value.end_byte, " }", 0)
            self.expr(value, ctx, inner, _line(value))

    def try_expr(self, node, ctx, scope: Scope, line) -> None:
        operand = _named(node)[0] if _named(node) else None
        self.expr(operand, ctx, scope, line)
        if ctx is None or operand is None:
            return
        phys = self.phys(operand.end_byte)
        if not self.rw.keep(phys):
            return
        pid = self.rw.probe("return", _line(node), ctx.name)
        suffix = f".__ca_q(&{F}, {pid}, {self.render_closure('' if ctx.opaque_at(_line(node)) else '&&')})"
        if operand.type in POSTFIX:
            self.rw.insert(operand.end_byte, suffix, 0)
        else:
            self.rw.insert(operand.start_byte, "(", 0)
            self.rw.insert(operand.end_byte, ")" + suffix, 0)

    def return_expr(self, node, ctx, scope: Scope, line) -> None:
        value = _named(node)[0] if _named(node) else None
        if value is not None:
            self.expr(value, ctx, scope, line)
        if ctx is None:
            return
        keyword = node.children[0]
        if value is None:
            if ctx.unit and self.rw.keep(self.phys(keyword.end_byte)):
                pid = self.rw.probe("return", _line(node), ctx.name)
                self.rw.insert(keyword.end_byte, f" {F}.ru({pid})", 0)
            return
        if ctx.unit:
            return
        self.wrap_return(value, ctx, keyword.end_byte)

    # --- items -----------------------------------------------------------------------------

    def item(self, node, prefix: str | None) -> None:
        t = node.type
        if t == "function_item":
            name = self.text(node.child_by_field_name("name"))
            self.function(node, f"{prefix}::{name}" if prefix else name)
        elif t in ("impl_item", "trait_item"):
            if t == "impl_item":
                typ = node.child_by_field_name("type")
                owner = re.split(r"[<\s]", self.text(typ).lstrip("&"), maxsplit=1)[0] if typ is not None else "?"
            else:
                owner = self.text(node.child_by_field_name("name"))
            body = node.child_by_field_name("body")
            for c in _named(body) if body is not None else []:
                if c.type == "function_item":
                    self.item(c, owner)
        elif t == "mod_item":
            body = node.child_by_field_name("body")
            for c in _named(body) if body is not None else []:
                self.item(c, None)

    def run(self) -> None:
        rw = self.rw
        root = rw.root
        if RESERVED.search(rw.source):
            raise SkipProgram("the program uses identifiers reserved for the tracer (__ca...)")
        text = rw.source.decode("utf-8")
        if re.search(r"#!\[\s*no_(std|main)\b", text):
            raise SkipProgram("#![no_std] / #![no_main] programs are not traced")
        tops = _named(root)
        if not any(n.type == "function_item" and self.text(n.child_by_field_name("name")) == "main" for n in tops):
            raise SkipProgram("no fn main")
        for module, name in (("process", "exit"), ("process", "abort"), ("panic", "set_hook")):
            if re.search(rf"use\s+std::{module}::({name}\b|\{{[^}}]*\b{name}\b)", text):
                self.imported[name] = f"crate::__ca::{name}"
        first = next((n for n in root.children if n.type not in ("inner_attribute_item", "shebang")
                      and not (n.type in COMMENTS and self.text(n)[:3] in ("//!", "/*!"))), None)
        rw.insert(first.start_byte if first is not None else len(rw.source), PRELUDE_DECL, -100)
        for n in tops:
            self.item(n, None)


def rewrite(rw: Rewrite) -> None:
    RustRewriter(rw).run()
