"""C rewriter: probes for calls, lines and returns, values rendered by declared type.

What it does (see README.md beside this file for the user-facing summary):
- puts `#include ".codealchemy/_codealchemy.h"` and `#line 1` in front of the program, and the generated
  value renderers (one per struct/union/enum/array type seen) after it;
- gives every function a frame (a call record with its arguments, a return record with its
  value rendered by the declared return type);
- puts a line probe before every statement (inside the condition for loop headers, so they
  fire on every iteration); a probe reports the visible variables that are definitely
  assigned at that point (a small forward data-flow over the syntax tree; see `Walker`), and
  of those only the ones that may have changed (written, address taken, arrays, strings) plus
  the ones declared just before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codealchemy.tracer.instrument import Rewrite, SkipProgram

#: The prelude goes in a hidden folder of the work folder (the engine puts it there), so a program
#: that lists its folder (`system("ls")`) sees what it sees untraced.
PRELUDE_DIR = ".codealchemy"
PRELUDE = f"{PRELUDE_DIR}/_codealchemy.h"

# ---------------------------------------------------------------------------------------------
# types


@dataclass
class CType:
    kind: str            # int uint char bool float double ldouble str ptr fnptr array struct union
    #                      enum generic fn void opaque
    text: str = ""       # spelling of the base type (for casts and typedefs)
    target: CType | None = None   # ptr/fnptr target, array element, fn return
    params: str = "()"   # fn parameter list text
    key: int = -1        # struct/union/enum definition id
    shown: str = ""      # how a pointer's type is shown: "(int *) heap+0x10"
    tag: str = ""        # struct/union tag, resolved when rendering (may be defined later)
    size: str = ""       # array size, when a number

    def decl(self, inner: str = "", sizes: bool = False) -> str:
        """A declaration of `inner` with this type (inner "" gives the type name); array
        sizes as written in the source only when `sizes` (they may name VLA parameters)."""
        k = self.kind
        if k in ("ptr", "fnptr", "str"):
            t = self.target
            if t is not None and t.kind in ("array", "fn"):
                return t.decl(f"(*{inner})", sizes)
            base = t.decl(f"*{inner}", sizes) if t is not None else f"char *{inner}"
            return base
        if k == "array":
            return self.target.decl(f"{inner}[{self.size if sizes else ''}]", sizes)
        if k == "fn":
            return self.target.decl(f"{inner}{self.params}", sizes)
        return f"{self.text} {inner}".strip()


SCALAR = {"int", "uint", "char", "bool", "float", "double", "ldouble", "enum", "generic"}
RENDERABLE = SCALAR | {"str", "ptr", "fnptr", "array", "struct", "union"}
ARITH = {"int", "uint", "char", "bool", "float", "double", "ldouble", "enum"}
WRITERS_STR = {"strcpy", "strncpy", "sprintf", "snprintf", "stpcpy"}
WRITERS_MEM = {"memset", "memcpy", "memmove"}
NORETURN = {"exit", "abort", "_Exit", "_exit", "quick_exit", "__builtin_unreachable", "longjmp",
            "siglongjmp", "__builtin_trap"}
SKIP_EXPR = {"sizeof_expression", "alignof_expression", "offsetof_expression", "generic_expression",
             "compound_statement", "gnu_asm_expression"}


def sized_type(words: list[str], base: str | None) -> CType:
    unsigned = "unsigned" in words
    longs = words.count("long")
    if base in ("double", "float"):
        return CType("ldouble" if longs else base, "long double" if longs else base)
    if base == "char":
        if unsigned:
            return CType("uint", "unsigned char")
        if "signed" in words:
            return CType("int", "signed char")
        return CType("char", "char")
    if "short" in words:
        name = "short"
    elif longs >= 2:
        name = "long long"
    elif longs == 1:
        name = "long"
    else:
        name = "int"
    return CType("uint" if unsigned else "int", ("unsigned " if unsigned else "") + name)


@dataclass
class Aggregate:
    """A struct or union definition seen at file scope."""
    key: int
    kind: str            # struct / union
    name: str            # the spelling used to name it ("struct point", or a typedef name)
    fields: list = field(default_factory=list)   # (name or None, CType or list of nested fields)
    complete: bool = True


@dataclass(eq=False)
class Var:
    name: str
    type: CType
    id: int
    always: bool = False      # static storage: initialised from the start
    mutable: bool = True
    param: bool = False
    register: bool = False


# ---------------------------------------------------------------------------------------------


class Types:
    """File-scope types: typedefs, struct/union/enum definitions, and how to render each."""

    def __init__(self, rw: Rewrite):
        self.rw = rw
        self.typedefs: dict[str, CType] = {}
        self.tags: dict[tuple[str, str], int] = {}      # ("struct", "point") -> key
        self.aggs: dict[int, Aggregate] = {}
        self.enums: dict[int, list[str]] = {}
        self.local_names: set[str] = set()              # typedef/tag names defined in the function
        self.renderers: dict[tuple, str] = {}           # signature -> function name
        self.defs: list[str] = []
        self.protos: list[str] = []

    def text(self, node) -> str:
        return self.rw.text(node)

    # --- reading types --------------------------------------------------------------------

    def base(self, spec, local: bool = False, alias: str | None = None) -> CType:
        """The type named by a type specifier node."""
        if spec is None:
            return CType("opaque")
        t = spec.type
        if t == "primitive_type":
            name = self.text(spec)
            if name in ("int", "char", "float", "double"):
                return sized_type([], name) if name != "int" else CType("int", "int")
            if name == "void":
                return CType("void", "void")
            if name == "bool":
                return CType("bool", "_Bool")
            return CType("generic", name)
        if t == "sized_type_specifier":
            words = [self.text(c) for c in spec.children if c.type in ("unsigned", "signed", "long", "short")]
            inner = spec.child_by_field_name("type")
            return sized_type(words, self.text(inner) if inner is not None else None)
        if t in ("struct_specifier", "union_specifier"):
            kind = t.split("_")[0]
            name = spec.child_by_field_name("name")
            body = spec.child_by_field_name("body")
            if name is not None and self.text(name) in self.local_names:
                return CType("opaque")
            if body is not None:
                key = self.aggregate(spec, alias, local)
                if key is None:
                    return CType("opaque")
                return CType(kind, self.aggs[key].name, key=key)
            if name is None:
                return CType("opaque")
            key = self.tags.get((kind, self.text(name)), -1)
            return CType(kind, f"{kind} {self.text(name)}", key=key, tag=self.text(name))
        if t == "enum_specifier":
            name = spec.child_by_field_name("name")
            body = spec.child_by_field_name("body")
            if body is not None:
                key = spec.start_byte
                self.enums[key] = [self.text(e.child_by_field_name("name")) for e in body.named_children
                                   if e.type == "enumerator"]
                if name is not None and not local:
                    self.tags[("enum", self.text(name))] = key
                return CType("enum", "int", key=key)
            if name is not None and self.text(name) in self.local_names:
                return CType("opaque")
            key = self.tags.get(("enum", self.text(name))) if name is not None else None
            return CType("enum", "int", key=key) if key is not None else CType("int", "int")
        if t == "type_identifier":
            name = self.text(spec)
            if name in self.local_names:
                return CType("opaque")
            known = self.typedefs.get(name)
            if known is None:
                return CType("generic", name)
            return known
        return CType("opaque")

    def declarator(self, base: CType, node, shown_base: str) -> tuple[str | None, CType]:
        """(identifier, type) of a declarator applied to `base` (outside in)."""
        t = base
        while node is not None:
            k = node.type
            if k in ("identifier", "field_identifier", "type_identifier"):
                return self.text(node), t
            if k == "init_declarator":
                node = node.child_by_field_name("declarator")
            elif k == "pointer_declarator" or k == "abstract_pointer_declarator":
                if t.kind == "char":
                    t = CType("str", target=t)
                elif t.kind == "fn":
                    t = CType("fnptr", target=t)
                else:
                    t = CType("ptr", target=t)
                node = node.child_by_field_name("declarator")
            elif k == "array_declarator" or k == "abstract_array_declarator":
                size = node.child_by_field_name("size")
                t = CType("array", target=t, size=" ".join(self.text(size).split()) if size is not None else "")
                node = node.child_by_field_name("declarator")
            elif k == "function_declarator" or k == "abstract_function_declarator":
                params = node.child_by_field_name("parameters")
                t = CType("fn", target=t, params=self.text(params) if params is not None else "()")
                node = node.child_by_field_name("declarator")
            elif k in ("parenthesized_declarator", "abstract_parenthesized_declarator"):
                inner = [c for c in node.named_children if c.type not in ("ms_call_modifier", "attribute_specifier")]
                node = inner[0] if inner else None
            elif k == "attributed_declarator":
                node = node.named_children[0]
            else:
                return None, t
        return None, t

    def shown(self, t: CType) -> CType:
        """Fill in the shown type names of pointers (and of pointers inside arrays)."""
        if t.kind in ("ptr", "fnptr") and not t.shown:
            t.shown = " ".join(t.decl("", sizes=True).split()).replace("( *", "(*")
        if t.kind == "array":
            self.shown(t.target)
        return t

    def aggregate(self, spec, alias: str | None, local: bool) -> int | None:
        key = spec.start_byte
        if key in self.aggs:
            return key
        kind = spec.type.split("_")[0]
        name = spec.child_by_field_name("name")
        if local:
            return None
        if name is not None:
            spelled = f"{kind} {self.text(name)}"
            self.tags[(kind, self.text(name))] = key
        elif alias:
            spelled = alias
        else:
            spelled = ""
        agg = Aggregate(key, kind, spelled)
        self.aggs[key] = agg
        agg.fields = self.fields(spec.child_by_field_name("body"))
        return key

    def fields(self, body) -> list:
        out = []
        for fd in body.named_children:
            if fd.type != "field_declaration":
                continue
            spec = fd.child_by_field_name("type")
            decls = fd.children_by_field_name("declarator")
            if not decls:
                if spec is not None and spec.type in ("struct_specifier", "union_specifier") and \
                        spec.child_by_field_name("body") is not None:
                    out.append((None, spec.type.split("_")[0], self.fields(spec.child_by_field_name("body"))))
                continue
            if spec is not None and spec.type in ("struct_specifier", "union_specifier") and \
                    spec.child_by_field_name("body") is not None and spec.child_by_field_name("name") is None:
                nested = self.fields(spec.child_by_field_name("body"))
                for d in decls:
                    name, t = self.declarator(CType("anon"), d, "")
                    if name is None:
                        continue
                    if t.kind == "anon":
                        out.append((name, spec.type.split("_")[0], nested))
                    else:
                        out.append((name, CType("opaque")))
                continue
            base = self.base(spec)
            for d in decls:
                name, t = self.declarator(base, d, "")
                if name is not None:
                    if t.kind == "array" and not t.size:     # flexible array member: no size
                        t = CType("opaque")
                    out.append((name, self.shown(t)))
        return out

    def typedef(self, node) -> None:
        spec = node.child_by_field_name("type")
        decls = node.children_by_field_name("declarator")
        alias = self.text(decls[0]) if len(decls) == 1 and decls[0].type == "type_identifier" else None
        base = self.base(spec, alias=alias)
        for d in decls:
            name, t = self.declarator(base, d, "")
            if name is None:
                continue
            t = CType(**{**t.__dict__})
            if t.kind in ("struct", "union", "enum", "generic", "opaque") or t.kind in ARITH:
                if t.kind in ("struct", "union") and self.aggs.get(t.key) and not self.aggs[t.key].name:
                    self.aggs[t.key].name = name
                t.text = name if t.kind not in ("enum",) else t.text
            if t.kind in ("ptr", "fnptr"):
                t.shown = name
            self.typedefs[name] = t

    # --- rendering --------------------------------------------------------------------------

    def value(self, t: CType, lv: str) -> str:
        """A C expression that renders the value of lvalue `lv` of type `t`."""
        k = t.kind
        if k == "int":
            return f"__ca_wi((long long)({lv}))"
        if k == "uint":
            return f"__ca_wu((unsigned long long)({lv}))"
        if k == "char":
            return f"__ca_wc({lv})"
        if k == "bool":
            return f"__ca_wb({lv})"
        if k == "float":
            return f"__ca_wf({lv})"
        if k == "double":
            return f"__ca_wd({lv})"
        if k == "ldouble":
            return f"__ca_wld({lv})"
        if k == "str":
            return f"__ca_ws({lv})"
        if k == "ptr":
            return f"__ca_wp((const void *)({lv}), {cstr(t.shown or 'void *')})"
        if k == "fnptr":
            return f"__ca_wfp((const void *)({lv}), {cstr(t.shown or 'void *')})"
        if k == "generic":
            return f"__ca_wg({lv})"
        if k == "enum":
            return f"{self.enum_renderer(t.key)}((long long)({lv}))"
        if k in ("struct", "union"):
            fn = self.agg_renderer(t)
            return f"{fn}(&({lv}))" if fn else "__ca_wopaque()"
        if k == "array":
            elem, rank = t, 0
            while elem.kind == "array":
                elem, rank = elem.target, rank + 1
            fn = self.array_renderer(elem, rank)
            if fn is None:
                return "__ca_wopaque()"
            dims, sub = [], lv
            for _ in range(rank):
                dims.append(f"sizeof({sub}) / sizeof(({sub})[0])")
                sub = f"({sub})[0]"
            return f"{fn}((const void *)({lv}), {', '.join(dims)})"
        if k == "anon_agg":
            return self.fields_value(t.params, t.text, lv)
        return "__ca_wopaque()"

    def nameable(self, t: CType) -> bool:
        if t.kind in ("struct", "union"):
            agg = self.agg(t)
            return agg is not None and bool(agg.name)
        if t.kind in ("ptr", "fnptr", "str"):
            return True
        return t.kind in SCALAR and t.kind != "generic" or (t.kind == "generic" and bool(t.text))

    def fields_value(self, fields: list, kind: str, base: str) -> str:
        """A comma expression rendering the fields of a struct/union reached by `base.`."""
        if kind == "union" and not self.union_safe(fields):
            return "__ca_lit(\"{...}\")"
        parts = []
        first = True
        for f in fields:
            name = f[0]
            if len(f) == 3:
                inner = self.fields_value(f[2], f[1], f"{base}.{name}" if name else base)
                label = f"{name} = " if name else ""
            else:
                t = f[1]
                if t.kind not in RENDERABLE or (t.kind == "generic" and not t.text):
                    inner = "__ca_lit(\"{...}\")"
                else:
                    inner = self.value(t, f"{base}.{name}")
                label = f"{name} = "
            sep = "" if first else ", "
            parts.append(f"__ca_lit({cstr(sep + label)})")
            parts.append(f"(__ca_full() ? (void)0 : (void)({inner}))")
            first = False
        cond = ""
        if kind == "union":
            # every member as large as the others (so as large as the union): whichever was
            # written last, all the bytes a member reads are defined
            members = [f"sizeof({base}.{f[0]})" for f in fields if f[0]]
            cond = " && ".join(f"{members[0]} == {m}" for m in members[1:]) or "1"
        body = ", ".join(["__ca_lit(\"{\")", *parts, "__ca_lit(\"}\")"])
        if cond:
            return f"(({cond}) ? (void)({body}) : (void)__ca_lit(\"{{...}}\"))"
        return f"({body})"

    def union_safe(self, fields: list) -> bool:
        """Render a union's members only when all are plain numbers (or arrays of them)."""
        for f in fields:
            if len(f) == 3 or f[0] is None:
                return False
            t = f[1]
            while t.kind == "array":
                t = t.target
            if t.kind not in ARITH and t.kind != "generic":
                return False
        return True

    def agg(self, t: CType) -> Aggregate | None:
        """The definition of a struct/union type (looked up by tag when it came later)."""
        if t.key == -1 and t.tag:
            t.key = self.tags.get((t.kind, t.tag), -1)
        return self.aggs.get(t.key)

    def agg_renderer(self, t: CType) -> str | None:
        agg = self.agg(t)
        key = t.key
        if agg is None or not agg.name:
            return None
        sig = ("agg", key)
        if sig in self.renderers:
            return self.renderers[sig]
        fn = f"__ca_R{len(self.renderers)}"
        self.renderers[sig] = fn
        body = self.fields_value(agg.fields, agg.kind, "(*__ca_s)")
        self.protos.append(f"static void {fn}(const void *);")
        self.defs.append(f"static void {fn}(const void *__ca_p0) {{\n"
                         f"    const {agg.name} *__ca_s = __ca_p0;\n"
                         f"    {body};\n}}\n")
        return fn

    def enum_renderer(self, key: int) -> str:
        sig = ("enum", key)
        if sig in self.renderers:
            return self.renderers[sig]
        fn = f"__ca_R{len(self.renderers)}"
        self.renderers[sig] = fn
        names = self.enums.get(key, [])
        cases = "".join(f"    if (__ca_ev == (long long)({n})) {{ __ca_lit({cstr(n)}); return; }}\n" for n in names)
        self.protos.append(f"static void {fn}(long long);")
        self.defs.append(f"static void {fn}(long long __ca_ev) {{\n{cases}    __ca_wi(__ca_ev);\n}}\n")
        return fn

    def array_renderer(self, elem: CType, rank: int) -> str | None:
        string = elem.kind == "char"
        if string and rank == 1:
            return "__ca_wchars"
        if elem.kind not in RENDERABLE or elem.kind == "generic" and not elem.text:
            return None
        if not self.nameable(elem):
            return None
        sig = ("array", elem.decl("__ca_el"), elem.kind, elem.shown, elem.key, rank)
        if sig in self.renderers:
            return self.renderers[sig]
        fn = f"__ca_R{len(self.renderers)}"
        self.renderers[sig] = fn
        params = ", ".join(f"__ca_size __ca_n{i}" for i in range(rank))
        loops = rank - 1 if string else rank
        idx = []
        for i in range(rank):
            stride = " * ".join(f"__ca_n{j}" for j in range(i + 1, rank))
            idx.append(f"__ca_i{i}" + (f" * {stride}" if stride else ""))
        lines = [f"static void {fn}(const void *__ca_p0, {params}) {{",
                 f"    typedef {elem.decl('__ca_el')};",
                 "    const __ca_el *__ca_a = __ca_p0;"]
        indent = "    "
        for i in range(loops):
            lines.append(f"{indent}__ca_lit(\"{{\");")
            lines.append(f"{indent}for (__ca_size __ca_i{i} = 0; __ca_i{i} < __ca_n{i}; __ca_i{i}++) {{")
            indent += "    "
            lines.append(f"{indent}if (__ca_i{i}) __ca_lit(\", \");")
            lines.append(f"{indent}if (__ca_full()) break;")
        at = " + ".join(idx[:loops]) if loops else "0"
        if string:
            lines.append(f"{indent}__ca_wchars(&__ca_a[{at}], __ca_n{rank - 1});")
        else:
            lines.append(f"{indent}{self.value(elem, f'__ca_a[{at}]')};")
        for _ in range(loops):
            indent = indent[:-4]
            lines.append(f"{indent}}}")
            lines.append(f"{indent}__ca_lit(\"}}\");")
        lines.append("}")
        self.protos.append(f"static void {fn}(const void *, {params});")
        self.defs.append("\n".join(lines) + "\n")
        return fn


def cstr(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


# ---------------------------------------------------------------------------------------------
# the walk over one function


class Flow:
    """Per-loop/switch jump targets while walking."""

    def __init__(self, kind: str):
        self.kind = kind          # loop / switch / do
        self.breaks: list = []
        self.continued = False
        self.break_dirty: frozenset = frozenset()
        self.continue_dirty: frozenset = frozenset()


ALL = frozenset({"*"})    # "every visible variable may have changed"


def dunion(a, b):
    return ALL if a is ALL or b is ALL else a | b


def any_root(node):
    """The variable under a write target: x of x.f, x[i], *x, x->f, (x)."""
    while node is not None and node.type != "identifier":
        if node.type in ("field_expression", "subscript_expression", "pointer_expression"):
            node = node.child_by_field_name("argument")
        elif node.type == "parenthesized_expression":
            node = node.named_children[0] if node.named_children else None
        else:
            return None
    return node


def meet(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a & b


class Function:
    """Instrumentation of one function definition."""

    def __init__(self, ctx: Program, node, body):
        self.ctx = ctx
        self.rw = ctx.rw
        self.node = node
        self.body = body
        self.types = ctx.types
        self.name = "?"
        self.ret: CType | None = None
        self.ret_decl: str | None = None
        self.params: list[Var] = []
        self.written: set[str] = set()
        self.raw: set[str] = set()
        self.emit = False
        self.goto_sets: dict[str, list] = {}
        self.label_sets: dict[str, list] | None = {}
        self.label_in: dict[str, frozenset] = {}
        self.flows: list[Flow] = []
        self.dirty: frozenset = frozenset()   # may have changed since the last probe
        self.addr_taken: set[str] = set()
        self.level = 0
        self.header = 0
        self.skip_line = 0

    def text(self, node) -> str:
        return self.rw.text(node)

    def new_var(self, name, t, node, **kw) -> Var:
        """A variable; its id is its declarator's position, the same in every pass."""
        return Var(name, t, node.start_byte, **kw)

    # --- setup ------------------------------------------------------------------------------

    def signature(self) -> None:
        spec = self.node.child_by_field_name("type")
        self.types.local_names = self.local_type_names()
        base = self.types.base(spec)
        decl = self.node.child_by_field_name("declarator")
        fdecl = None
        # the function declarator: descend pointers to the function_declarator holding the name
        n = decl
        stars = 0
        simple = True
        while n is not None:
            if n.type == "function_declarator":
                inner = n.child_by_field_name("declarator")
                if inner is not None and inner.type == "identifier":
                    fdecl = n
                    break
                simple = False
                n = inner
            elif n.type == "pointer_declarator":
                stars += 1
                n = n.child_by_field_name("declarator")
            elif n.type in ("parenthesized_declarator", "attributed_declarator"):
                simple = False
                n = n.named_children[0] if n.named_children else None
            else:
                break
        if fdecl is None:
            raise SkipProgram("a function definition this rewriter does not understand")
        self.name = self.text(fdecl.child_by_field_name("declarator"))
        if simple and base.kind not in ("opaque",) and not (base.kind in ("struct", "union") and not base.text):
            t = base
            for _ in range(stars):
                t = CType("str", target=t) if t.kind == "char" else CType("ptr", target=t)
            self.ret = self.types.shown(t)
            self.ret_decl = None if (base.kind == "void" and stars == 0) else t.decl("__ca_rv")
            if self.ret_decl is not None and spec is not None and spec.type == "type_identifier":
                # by the typedef's own name: `typedef struct {...} *matrix;` has no other
                self.ret_decl = f"{self.text(spec)} {'*' * stars}__ca_rv"
        else:
            self.ret = CType("generic", "?")
            self.ret_decl = "__auto_type __ca_rv"
        params = fdecl.child_by_field_name("parameters")
        for p in params.named_children if params is not None else []:
            if p.type != "parameter_declaration":
                continue
            pbase = self.types.base(p.child_by_field_name("type"))
            d = p.child_by_field_name("declarator")
            if d is None:
                continue
            name, t = self.types.declarator(pbase, d, "")
            if name is None:
                continue
            if t.kind == "array":     # array parameters are pointers
                t = CType("str", target=t.target) if t.target.kind == "char" else CType("ptr", target=t.target)
            if t.kind == "fn":
                t = CType("fnptr", target=t)
            self.params.append(self.new_var(name, self.types.shown(t), d, param=True))
        self.raw = raw_buffers(self.body, self.text)
        for p in self.params:
            p.type = as_pointer(p.type, p.name, self.raw)

    def local_type_names(self) -> set[str]:
        names = set()
        stack = [self.body]
        while stack:
            n = stack.pop()
            if n.type == "type_definition":
                for d in n.children_by_field_name("declarator"):
                    nm, _ = self.types.declarator(CType("opaque"), d, "")
                    if nm:
                        names.add(nm)
            elif n.type in ("struct_specifier", "union_specifier", "enum_specifier"):
                if n.child_by_field_name("body") is not None and n.child_by_field_name("name") is not None:
                    names.add(self.text(n.child_by_field_name("name")))
            stack.extend(n.named_children)
        return names

    def scan_writes(self) -> None:
        self.written = writes(self.body, self.text, self.ctx.is_macro)
        self.addr_taken = {self.text(r) for n in iter_nodes(self.body)
                           if n.type == "pointer_expression" and n.child_by_field_name("operator") is not None
                           and n.child_by_field_name("operator").type == "&"
                           and (r := root_identifier(n.child_by_field_name("argument"))) is not None}
        self.raw = raw_buffers(self.body, self.text)

    # --- probes -----------------------------------------------------------------------------

    def visible(self, scope: dict, assigned) -> list[Var]:
        """The variables a probe reports: visible, definitely assigned, and possibly changed
        since the frame's previous event on some path (`self.dirty`)."""
        dirty = ALL if self.ctx.report_all else self.dirty
        return [v for v in scope.values()
                if (v.always or (assigned is not None and v.id in assigned))
                and (dirty is ALL or v.id in dirty)]

    def volatile(self, scope: dict) -> set:
        """Variables a call or a write through a pointer may change: arrays, strings (their
        bytes), variables whose address is taken, globals and statics written anywhere."""
        return {v.id for v in scope.values()
                if v.type.kind in ("array", "str") or v.name in self.addr_taken or (v.always and v.mutable)}

    def touch(self, node, scope: dict) -> None:
        """Mark what evaluating `node` may change (a may-analysis: every subexpression)."""
        if node is None or self.dirty is ALL:
            return
        out, vol = set(), False
        for n in iter_nodes(node):
            t = n.type
            if t == "call_expression":
                vol = True
                fn = n.child_by_field_name("function")
                args = n.child_by_field_name("arguments")
                if fn is not None and args is not None and self.ctx.is_macro(self.text(fn)):
                    # a function-like macro may assign its arguments (SWAP(a, b))
                    for a in iter_nodes(args):
                        if a.type == "identifier" and a.text and self.text(a) in scope:
                            out.add(scope[self.text(a)].id)
            elif t in ("assignment_expression", "update_expression"):
                target = n.child_by_field_name("left" if t == "assignment_expression" else "argument")
                if target is not None and target.type != "identifier":
                    vol = True
                    target = any_root(target)
                if target is not None and target.type == "identifier":
                    v = scope.get(self.text(target))
                    if v is not None:
                        out.add(v.id)
        if vol:
            out |= self.volatile(scope)
        if out:
            self.dirty = self.dirty | out

    def var_code(self, v: Var) -> str | None:
        t = v.type
        if t.kind not in RENDERABLE:
            return None
        if v.register and t.kind not in ARITH | {"str", "ptr", "fnptr"}:
            return None
        if t.kind == "generic" and not t.text:
            return None
        n = len(v.name) + 2
        label = f"\\t{v.name}\\t" + "\\0" * (-n % 8)   # padded: the prelude copies 8 bytes at a time
        if t.kind == "int":
            return f"__ca_vi(\"{label}\", {n}, (long long)({v.name}))"
        if t.kind == "uint":
            return f"__ca_vu(\"{label}\", {n}, (unsigned long long)({v.name}))"
        return f"(__ca_n(\"{label}\", {n}), {self.types.value(t, v.name)})"

    def probe_expr(self, line: int, scope: dict, assigned) -> str:
        pid = self.rw.probe("line", line, self.name)
        visible = [v for v in self.visible(scope, assigned) if self.rw.keep(line, v.name)]
        parts = [c for c in (self.var_code(v) for v in visible) if c]
        self.dirty = frozenset()
        inner = ", ".join([*parts, "__ca_end()", "1"])
        return f"(void)(__ca_on && __ca_l({pid}, __ca_fr) && ({inner}))"

    def line_of(self, node) -> int:
        return node.start_point[0] + 1

    def probe_stmt(self, node, scope, assigned, single: bool) -> None:
        """A line probe before statement `node` (braces around it when it stands alone).

        A loop or if body on the header's own line gets no probe of its own: like Python's
        settrace, one line fires once per pass."""
        if not self.emit:
            return
        if single:
            self.wrap(node)
            if self.line_of(node) == self.header:
                return
        elif self.skip_line and self.line_of(node) == self.skip_line:
            return
        if not self.rw.keep(self.line_of(node)):
            return
        self.rw.insert(node.start_byte, self.probe_expr(self.line_of(node), scope, assigned) + "; ", 0)

    def wrap(self, node) -> None:
        self.rw.insert(node.start_byte, "{ ", -100 + self.level)
        self.rw.insert(node.end_byte, " }", 100 - self.level)

    # --- expressions ------------------------------------------------------------------------

    def assigns(self, expr, scope: dict, assigned):
        """`assigned` plus what `expr` definitely assigns when it is evaluated."""
        if assigned is None or expr is None:
            return assigned
        added = set()
        fields = set()
        stack = [expr]
        while stack:
            n = stack.pop()
            t = n.type
            if t in SKIP_EXPR:
                continue
            if t == "conditional_expression":
                stack.append(n.child_by_field_name("condition"))
                continue
            if t == "binary_expression":
                op = n.child_by_field_name("operator")
                if op is not None and op.type in ("&&", "||"):
                    stack.append(n.child_by_field_name("left"))
                    continue
            if t == "assignment_expression":
                left = n.child_by_field_name("left")
                op = n.child_by_field_name("operator")
                if op is not None and op.type == "=":
                    if left.type == "identifier":
                        v = scope.get(self.text(left))
                        if v is not None:
                            added.add(v.id)
                    elif left.type == "field_expression" and self.text(left.child_by_field_name("operator")) == ".":
                        arg = left.child_by_field_name("argument")
                        if arg.type == "identifier":
                            v = scope.get(self.text(arg))
                            fld = left.child_by_field_name("field")
                            if v is not None and fld is not None:
                                fields.add((v, self.text(fld)))
                stack.append(n.child_by_field_name("right"))
                if left.type != "identifier":
                    stack.append(left)
                continue
            if t == "call_expression":
                fn = n.child_by_field_name("function")
                args = n.child_by_field_name("arguments")
                if fn is not None and fn.type == "identifier" and args is not None:
                    self.call_writes(self.text(fn), [a for a in args.named_children if a.type != "comment"],
                                     scope, added)
            stack.extend(n.named_children)
        if not added and not fields:
            return assigned
        result = set(assigned) | added
        for v, f in fields:
            result.add((v.id, f))
            if v.type.kind == "union":
                # rendered only when every member is a number of the union's full size, so
                # writing one member defines every byte the renderer reads
                result.add(v.id)
            if v.type.kind == "struct":
                agg = self.types.agg(v.type)
                if agg and agg.fields and all(len(x) == 2 and x[0] for x in agg.fields) and \
                        all((v.id, x[0]) in result for x in agg.fields):
                    result.add(v.id)
        return frozenset(result)

    def call_writes(self, fn: str, args: list, scope: dict, added: set) -> None:
        if fn not in WRITERS_STR and fn not in WRITERS_MEM or not args:
            return
        dest = args[0]
        if dest.type == "pointer_expression" and self.text(dest).startswith("&"):
            dest = dest.child_by_field_name("argument")
        if dest.type != "identifier":
            return
        v = scope.get(self.text(dest))
        if v is None:
            return
        if fn in WRITERS_STR:
            if v.type.kind == "array" and v.type.target.kind == "char":
                added.add(v.id)
        elif len(args) >= 3 and "sizeof" in self.text(args[2]) and v.type.kind in ("array", "struct", "union"):
            added.add(v.id)

    def noreturn(self, expr) -> bool:
        if expr is not None and expr.type == "call_expression":
            fn = expr.child_by_field_name("function")
            return fn is not None and self.text(fn) in NORETURN
        return False

    # --- statements ---------------------------------------------------------------------------

    def declare(self, decl, scope: dict, assigned):
        """Add the variables of a declaration to `scope`; returns the new assigned set."""
        spec = decl.child_by_field_name("type")
        storage = {self.text(c) for c in decl.children if c.type == "storage_class_specifier"}
        if "extern" in storage or "typedef" in storage:
            return assigned
        static = "static" in storage
        base = self.types.base(spec, local=True)
        for d in decl.children_by_field_name("declarator"):
            init = d.type == "init_declarator"
            if init:
                assigned = self.assigns(d.child_by_field_name("value"), scope, assigned)
                self.touch(d.child_by_field_name("value"), scope)
            name, t = self.types.declarator(base, d, "")
            if name is None or t.kind == "fn":
                continue
            t = as_pointer(self.types.shown(t), name, self.raw)
            mutable = name in self.written or t.kind in ("array", "str")
            v = self.new_var(name, t, d, always=static, mutable=mutable, register="register" in storage)
            scope[name] = v
            if init and assigned is not None:
                assigned = assigned | {v.id}
            if (init or static) and self.dirty is not ALL:
                self.dirty = self.dirty | {v.id}
        return assigned

    SIMPLE = {"expression_statement", "declaration", "return_statement", "break_statement",
              "continue_statement", "goto_statement"}

    def block(self, items, scope: dict, assigned, first_line: int = 0):
        """Statements in sequence. Like Python's settrace, a line fires once: a statement on
        the line of the statement before it (or of the header whose body this is) gets no
        probe of its own."""
        skip = first_line
        for c in items:
            if c.type == "comment":
                continue
            self.skip_line = skip if self.line_of(c) == skip else 0
            assigned = self.stmt(c, scope, assigned, single=False)
            skip = self.line_of(c) if c.type in self.SIMPLE else 0
        return assigned

    def stmt(self, node, scope: dict, assigned, single: bool, header: int = 0):
        """Walk statement `node`; returns the set definitely assigned after it (None: it
        never completes normally). `header`: the line of the statement it is the body of."""
        t = node.type
        self.level += 1
        saved = self.header
        self.header = header if single else 0
        try:
            return self._stmt(node, t, scope, assigned, single)
        finally:
            self.level -= 1
            self.header = saved

    def _stmt(self, node, t, scope, assigned, single):
        if t == "compound_statement":
            return self.block(node.named_children, dict(scope), assigned, first_line=self.header)
        if t == "declaration":
            storage = {self.text(c) for c in node.children if c.type == "storage_class_specifier"}
            has_init = any(d.type == "init_declarator" for d in node.children_by_field_name("declarator"))
            if has_init and "static" not in storage and "extern" not in storage:
                self.probe_stmt(node, scope, assigned, single)
            return self.declare(node, scope, assigned)
        if t in ("type_definition", "struct_specifier", "union_specifier", "enum_specifier", "comment",
                 "function_definition") or t.startswith("preproc"):
            return assigned
        if t == "expression_statement":
            expr = node.named_children[0] if node.named_children else None
            if expr is None:
                return assigned
            self.probe_stmt(node, scope, assigned, single)
            self.touch(expr, scope)
            if self.noreturn(expr) or (expr.type == "comma_expression" and self.noreturn(expr.named_children[-1])):
                self.assigns(expr, scope, assigned)
                return None
            return self.assigns(expr, scope, assigned)
        if t == "if_statement":
            self.probe_stmt(node, scope, assigned, single)
            self.touch(node.child_by_field_name("condition"), scope)
            d0 = self.dirty
            a1 = self.assigns(node.child_by_field_name("condition"), scope, assigned)
            hl = self.line_of(node)
            then = self.stmt(node.child_by_field_name("consequence"), dict(scope), a1, single=True, header=hl)
            d1, self.dirty = self.dirty, d0
            alt = node.child_by_field_name("alternative")
            if alt is not None:
                inner = [c for c in alt.named_children if c.type != "comment"]
                other = self.stmt(inner[0], dict(scope), a1, single=True,
                                  header=self.line_of(alt)) if inner else a1
            else:
                other = a1
            self.dirty = dunion(d1, self.dirty)
            return meet(then, other)
        if t == "while_statement":
            cond = node.child_by_field_name("condition")
            self.wrap_single(node, single)
            entry = self.dirty
            self.dirty = frozenset()
            self.touch(cond, scope)
            after_cond = self.dirty
            a1 = self.assigns(cond, scope, assigned)
            flow = Flow("loop")
            self.flows.append(flow)
            self.stmt(node.child_by_field_name("body"), dict(scope), a1, single=True, header=self.line_of(node))
            self.flows.pop()
            self.dirty = dunion(dunion(entry, self.dirty), flow.continue_dirty)
            self.cond_probe(node, cond, scope, assigned)
            self.dirty = dunion(after_cond, flow.break_dirty)
            normal = None if is_true(cond, self.text) else a1
            return self.exit_set(normal, flow)
        if t == "for_statement":
            inner = dict(scope)
            init = node.child_by_field_name("initializer")
            a0 = assigned
            if init is not None:
                if init.type == "declaration":
                    a0 = self.declare(init, inner, assigned)
                else:
                    a0 = self.assigns(init, inner, assigned)
            cond = node.child_by_field_name("condition")
            self.wrap_single(node, single)
            if init is not None and init.type != "declaration":
                self.touch(init, inner)
            entry = self.dirty
            self.dirty = frozenset()
            self.touch(cond, inner)
            after_cond = self.dirty
            a1 = self.assigns(cond, inner, a0)
            flow = Flow("loop")
            self.flows.append(flow)
            self.stmt(node.child_by_field_name("body"), dict(inner), a1, single=True, header=self.line_of(node))
            self.flows.pop()
            self.dirty = dunion(dunion(entry, self.dirty), flow.continue_dirty)
            self.touch(node.child_by_field_name("update"), inner)
            self.cond_probe(node, cond, inner, a0)
            self.dirty = dunion(after_cond, flow.break_dirty)
            normal = None if cond is None or is_true(cond, self.text) else a1
            out = self.exit_set(normal, flow)
            if out is not None:
                filled = {v.id for v in self.filled(node, inner, [])}
                if filled:
                    out = out | filled
                    self.dirty = dunion(self.dirty, frozenset(filled))   # newly shown
            return out
        if t == "do_statement":
            self.probe_stmt(node, scope, assigned, single)
            cond = node.child_by_field_name("condition")
            self.dirty = frozenset()
            self.touch(cond, scope)
            after_cond = self.dirty          # the body is entered again after the condition
            flow = Flow("loop")
            self.flows.append(flow)
            body_out = self.stmt(node.child_by_field_name("body"), dict(scope), assigned, single=True,
                                 header=self.line_of(node))
            self.flows.pop()
            at_cond = meet(body_out, assigned) if flow.continued else body_out
            kw = next((c for c in node.children if c.type == "while"), node)
            self.dirty = dunion(self.dirty, flow.continue_dirty)
            if self.emit:
                known = at_cond if at_cond is not None else frozenset()
                self.rw.insert(cond.start_byte + 1, self.probe_expr(kw.start_point[0] + 1, scope, known) + ", ", 0)
            self.dirty = dunion(after_cond, flow.break_dirty)
            a1 = self.assigns(cond, scope, at_cond)
            normal = None if is_true(cond, self.text) else a1
            return self.exit_set(normal, flow)
        if t == "switch_statement":
            self.probe_stmt(node, scope, assigned, single)
            self.touch(node.child_by_field_name("condition"), scope)
            after_cond = self.dirty
            a1 = self.assigns(node.child_by_field_name("condition"), scope, assigned)
            flow = Flow("switch")
            self.flows.append(flow)
            body = node.child_by_field_name("body")
            if body is None or body.type != "compound_statement":
                self.flows.pop()
                return a1        # `switch (x) case 1: ...;` without braces: left alone
            inner = dict(scope)
            out = None
            has_default = False
            for c in body.named_children:
                if c.type == "case_statement":
                    if c.child_by_field_name("value") is None:
                        has_default = True
                    stmts = [s for s in c.named_children if s != c.child_by_field_name("value")]
                    self.dirty = dunion(self.dirty, after_cond)     # entered from the switch
                    out = self.block(stmts, inner, a1, first_line=self.line_of(node))
                else:
                    out = self.stmt(c, inner, a1 if out is None else out, single=False)
            self.flows.pop()
            self.dirty = dunion(dunion(self.dirty, flow.break_dirty), after_cond)
            normal = meet(out, None if has_default else a1)
            return self.exit_set(normal, flow)
        if t == "labeled_statement":
            label = self.text(node.child_by_field_name("label"))
            entry = assigned
            if self.label_sets is None:        # not converged: assume only the parameters
                entry = self.entry
            else:
                for s in self.label_sets.get(label, []):
                    entry = meet(entry, s)
            inner = [c for c in node.named_children if c.type not in ("statement_identifier", "comment")]
            self.dirty = ALL          # reached by goto from anywhere: report everything
            if single and self.emit:
                self.wrap(node)
            if not inner:
                return entry
            return self.stmt(inner[0], scope, entry, single=False)
        if t == "break_statement":
            self.probe_stmt(node, scope, assigned, single)
            if self.flows:
                self.flows[-1].breaks.append(assigned)
                self.flows[-1].break_dirty = dunion(self.flows[-1].break_dirty, self.dirty)
            self.dirty = frozenset()
            return None
        if t == "continue_statement":
            self.probe_stmt(node, scope, assigned, single)
            for f in reversed(self.flows):
                if f.kind == "loop":
                    f.continued = True
                    f.continue_dirty = dunion(f.continue_dirty, self.dirty)
                    break
            self.dirty = frozenset()
            return None
        if t == "goto_statement":
            self.probe_stmt(node, scope, assigned, single)
            label = self.text(node.child_by_field_name("label"))
            if assigned is not None:
                self.goto_sets.setdefault(label, []).append(assigned)
            self.dirty = frozenset()
            return None
        if t == "return_statement":
            self.probe_stmt(node, scope, assigned, single)
            self.return_probe(node, scope, assigned)
            self.dirty = frozenset()
            return None
        if t in ("case_statement",):   # a case outside a switch body's top level (Duff's device)
            return None
        # attributed statements, asm, seh and anything else: leave alone, assume nothing
        return assigned

    def counted(self, node) -> tuple[str, str] | None:
        """(i, N) of `for (i = 0; i < N; i++)` (or int i = 0, ++i, i += 1)."""
        init = node.child_by_field_name("initializer")
        cond = node.child_by_field_name("condition")
        upd = node.child_by_field_name("update")
        if init is None or cond is None or upd is None:
            return None
        if init.type == "declaration":
            ds = init.children_by_field_name("declarator")
            if len(ds) != 1 or ds[0].type != "init_declarator":
                return None
            name_node, value = ds[0].child_by_field_name("declarator"), ds[0].child_by_field_name("value")
        elif init.type == "assignment_expression" and self.text(init.child_by_field_name("operator")) == "=":
            name_node, value = init.child_by_field_name("left"), init.child_by_field_name("right")
        else:
            return None
        if name_node is None or name_node.type != "identifier" or value is None or self.text(value) != "0":
            return None
        i = self.text(name_node)
        if cond.type != "binary_expression" or self.text(cond.child_by_field_name("operator")) != "<" or \
                self.text(cond.child_by_field_name("left")) != i:
            return None
        bound = cond.child_by_field_name("right")
        if bound.type == "identifier" and self.text(bound) in self.written:
            return None
        if bound.type not in ("identifier", "number_literal"):
            return None
        step = " ".join(self.text(upd).split())
        if step not in (f"{i}++", f"++{i}", f"{i} += 1", f"{i} = {i} + 1"):
            return None
        return i, self.text(bound)

    def filled(self, node, scope: dict, outer: list[str]) -> list[Var]:
        """Arrays a counted loop (or a nest of them) assigns every element of: `a[i] = ...;`
        (`a[i][j] = ...;` in an inner counted loop) at the top level of the body, the bounds
        being the array's declared sizes, and no break/continue in the body nor write to the
        counters. Conservative: anything else fills nothing."""
        loop = self.counted(node)
        body = node.child_by_field_name("body")
        if loop is None or body is None:
            return []
        i, bound = loop
        if i in writes(body, self.text, self.ctx.is_macro) or any(n.type in ("break_statement", "continue_statement")
                                                for n in iter_nodes(body)):
            return []
        idx = [*outer, i]
        items = body.named_children if body.type == "compound_statement" else [body]
        found = []
        for st in items:
            if st.type == "for_statement":
                found += self.filled(st, scope, idx)
                continue
            if st.type != "expression_statement" or not st.named_children:
                continue
            e = st.named_children[0]
            if e.type != "assignment_expression" or self.text(e.child_by_field_name("operator")) != "=":
                continue
            subs, n = [], e.child_by_field_name("left")
            while n is not None and n.type == "subscript_expression":
                index = n.child_by_field_name("index")
                subs.insert(0, self.text(index) if index is not None else "")
                n = n.child_by_field_name("argument")
            if n is not None and n.type == "identifier" and subs == idx and self.text(n) in scope:
                v = scope[self.text(n)]
                if len(array_sizes(v.type)) == len(idx):
                    found.append(v)
        # this loop covers dimension len(outer) when its bound is that dimension's size
        return [v for v in found if array_sizes(v.type)[len(outer)] == bound]

    def exit_set(self, normal, flow: Flow):
        out = normal
        for b in flow.breaks:
            out = meet(out, b) if out is not None else b
        return out

    def wrap_single(self, node, single: bool) -> None:
        if single and self.emit:
            self.wrap(node)

    def cond_probe(self, node, cond, scope, assigned) -> None:
        """The probe of a loop header: in its condition, so it fires on every iteration.
        Emitted after the body is walked: it reports what the body may have changed."""
        if not self.emit:
            self.dirty = frozenset()
            return
        line = node.start_point[0] + 1
        expr = self.probe_expr(line, scope, assigned if assigned is not None else frozenset())
        if cond is None:      # for (;;): before the second ';'
            semis = [c for c in node.children if c.type == ";"]
            at = semis[-1].start_byte if semis else None
            if at is None:
                init = node.child_by_field_name("initializer")
                at = init.end_byte
            self.rw.insert(at, f"({expr}, 1)", 0)
        elif cond.type == "parenthesized_expression":
            self.rw.insert(cond.start_byte + 1, expr + ", ", 0)
        else:
            self.rw.insert(cond.start_byte, f"({expr}, ", 0)
            self.rw.insert(cond.end_byte, ")", 0)

    def return_probe(self, node, scope, assigned) -> None:
        if not self.emit:
            return
        pid = self.rw.probe("return", self.line_of(node), self.name)
        exprs = [c for c in node.named_children if c.type != "comment"]
        kw = node.children[0]
        semi = node.children[-1]
        if not exprs or self.ret_decl is None:
            if exprs:   # `return f();` in a void function
                self.rw.replace(kw.start_byte, kw.end_byte, "{ (void)(")
                self.rw.replace(semi.start_byte, semi.end_byte,
                                f"); __ca_rvoid({pid}, __ca_fr); return; }}")
            else:
                self.rw.insert(node.start_byte, f"{{ __ca_rvoid({pid}, __ca_fr); ", 1)
                self.rw.insert(node.end_byte, " }", -50)
            return
        value = self.types.value(self.ret, "__ca_rv") if self.ret and self.ret.kind in RENDERABLE else "__ca_wopaque()"
        self.rw.replace(kw.start_byte, kw.end_byte, f"{{ {self.ret_decl} = (")
        self.rw.replace(semi.start_byte, semi.end_byte,
                        f"); (void)(__ca_on && __ca_r({pid}, __ca_fr) && ({value}, __ca_end(), 1)); "
                        "return __ca_rv; }")

    # --- driver -------------------------------------------------------------------------------

    def run(self) -> None:
        self.signature()
        self.scan_writes()
        gscope = {}
        used = identifiers(self.body, self.text)
        for name, g in self.ctx.globals.items():
            if name in used:
                gscope[name] = g
        for p in self.params:
            p.mutable = p.name in self.written or p.type.kind == "str"
        base = dict(gscope)
        for p in self.params:
            base[p.name] = p
        self.entry = frozenset(p.id for p in self.params)
        first = frozenset(g.id for g in gscope.values())   # the globals it uses, at its first line
        # analysis passes until the sets at each goto are stable (a label's set is the meet of
        # its fall-through and its gotos'; starting from "everything" and shrinking, this is
        # the maximal fixpoint, which for this gen-only problem is the meet over all paths);
        # then the pass that emits
        self.emit = False
        self.label_sets = {}
        for _ in range(20):
            self.goto_sets = {}
            self.flows = []
            self.dirty = first
            self.block(self.body.named_children, dict(base), self.entry)
            if self.goto_sets == self.label_sets:
                break
            self.label_sets = self.goto_sets
        else:
            self.label_sets = None
        self.emit = True
        self.dirty = first
        self.flows = []
        call = self.rw.probe("call", self.line_of(self.node), self.name)
        args = [c for c in (self.var_code(p) for p in self.params) if c]
        inner = ", ".join([*args, "__ca_end()", "1"])
        open_brace = self.body.children[0]
        self.rw.insert(open_brace.end_byte,
                       f" unsigned __ca_fr = __ca_c({call}); (void)(__ca_open && ({inner}));", -200)
        out = self.block(self.body.named_children, dict(base), self.entry)
        close = self.body.children[-1]
        if close.type == "}":
            pid = self.rw.probe("return", close.start_point[0] + 1, self.name)
            if self.ret_decl is None:
                end = f"__ca_rvoid({pid}, __ca_fr); "
            elif self.name == "main":
                end = f"(void)(__ca_on && __ca_r({pid}, __ca_fr) && (__ca_wi(0), __ca_end(), 1)); "
            else:
                end = f"__ca_rfall({pid}, __ca_fr); "
            del out
            self.rw.insert(close.start_byte, end, 200)


def array_sizes(t: CType) -> list[str]:
    sizes = []
    while t.kind == "array":
        sizes.append(t.size)
        t = t.target
    return sizes


def is_true(cond, text) -> bool:
    if cond is None:
        return True
    s = text(cond).strip()
    while s.startswith("(") and s.endswith(")"):
        s = s[1:-1].strip()
    return s in ("1", "true") or (s.isdigit() and int(s) != 0)


def root_identifier(node):
    """`x` of x, x.f, x[i], x.f[i].g (not through -> or *)."""
    while node is not None:
        if node.type == "identifier":
            return node
        if node.type == "field_expression":
            op = node.child_by_field_name("operator")
            if op is not None and op.type == "->":
                return None
            node = node.child_by_field_name("argument")
        elif node.type == "subscript_expression":
            node = node.child_by_field_name("argument")
        elif node.type == "parenthesized_expression":
            node = node.named_children[0] if node.named_children else None
        else:
            return None
    return None


def writes(body, text, is_macro=lambda name: False) -> set[str]:
    """Names that may change after their declaration: assigned, incremented, address taken,
    or passed to a function-like macro."""
    out = set()
    stack = [body]
    while stack:
        n = stack.pop()
        t = n.type
        target = None
        if t == "call_expression":
            fn, args = n.child_by_field_name("function"), n.child_by_field_name("arguments")
            if fn is not None and args is not None and is_macro(text(fn)):
                out |= {text(a) for a in iter_nodes(args) if a.type == "identifier"}
        if t == "assignment_expression":
            target = n.child_by_field_name("left")
        elif t == "update_expression":
            target = n.child_by_field_name("argument")
        elif t == "pointer_expression":
            op = n.child_by_field_name("operator")
            if op is not None and op.type == "&":
                target = n.child_by_field_name("argument")
        if target is not None:
            r = root_identifier(target)
            if r is not None:
                out.add(text(r))
        stack.extend(n.named_children)
    return out


ALLOCATORS = {"malloc", "realloc", "aligned_alloc", "alloca", "valloc", "__builtin_alloca", "reallocarray"}
RELEASERS = {"free", "realloc", "reallocarray"}
FILLERS = WRITERS_STR | WRITERS_MEM | {"fgets", "gets", "read", "fread", "strcat", "strncat", "sscanf"}


def raw_buffers(body, text) -> set[str]:
    """Names of char pointers whose bytes may be uninitialised or freed: assigned from an
    allocator, passed to free/realloc, or filled by a library call. They are shown as
    pointers, never read as strings."""
    out = set()
    for n in iter_nodes(body):
        if n.type == "call_expression":
            fn = n.child_by_field_name("function")
            args = n.child_by_field_name("arguments")
            name = text(fn) if fn is not None and fn.type == "identifier" else ""
            if args is not None and args.named_children and (name in RELEASERS or name in FILLERS):
                first = strip_casts(args.named_children[0])
                if first is not None and first.type == "identifier":
                    out.add(text(first))
        elif n.type in ("assignment_expression", "init_declarator"):
            value = strip_casts(n.child_by_field_name("right" if n.type == "assignment_expression" else "value"))
            if value is not None and value.type == "call_expression":
                fn = value.child_by_field_name("function")
                if fn is not None and text(fn) in ALLOCATORS:
                    target = n.child_by_field_name("left" if n.type == "assignment_expression" else "declarator")
                    while target is not None and target.type == "pointer_declarator":
                        target = target.child_by_field_name("declarator")
                    if target is not None and target.type == "identifier":
                        out.add(text(target))
    return out


def strip_casts(node):
    while node is not None and node.type in ("cast_expression", "parenthesized_expression"):
        node = node.child_by_field_name("value") if node.type == "cast_expression" else \
            (node.named_children[0] if node.named_children else None)
    return node


def as_pointer(t: CType, name: str, raw: set[str]) -> CType:
    if t.kind == "str" and name in raw:
        return CType("ptr", target=t.target, shown=t.shown or "char *")
    return t


def identifiers(body, text) -> set[str]:
    out = set()
    stack = [body]
    while stack:
        n = stack.pop()
        if n.type == "identifier":
            out.add(text(n))
        stack.extend(n.named_children)
    return out


class Program:
    def __init__(self, rw: Rewrite):
        self.rw = rw
        self.types = Types(rw)
        self.globals: dict[str, Var] = {}
        self.ids = 0
        # option report_all: every probe reports every assigned visible variable (the oracle
        # the tests compare the may-changed analysis against)
        self.report_all = bool(rw.options.get("report_all"))
        self.macros = {rw.text(n.child_by_field_name("name")) for n in iter_nodes(rw.root)
                       if n.type == "preproc_function_def" and n.child_by_field_name("name") is not None}

    KNOWN_MACROS = {"va_start", "va_end", "va_copy", "FD_SET", "FD_CLR", "FD_ZERO", "setjmp", "sigsetjmp"}

    def is_macro(self, name: str) -> bool:
        """A function-like macro (defined in the file, a known one, or named in capitals)."""
        return name in self.macros or name in self.KNOWN_MACROS or (name.isupper() and len(name) > 1)

    def file_scope(self, functions) -> None:
        text = self.rw.text
        written, raw = set(), set()
        for fn in functions:
            written |= writes(fn, text, self.is_macro)
            raw |= raw_buffers(fn, text)
        for kind, node in self.rw.captures("types"):
            if kind == "typedef":
                self.types.typedef(node)
            elif kind == "global":
                storage = {text(c) for c in node.children if c.type == "storage_class_specifier"}
                base = self.types.base(node.child_by_field_name("type"))
                if "typedef" in storage:
                    continue
                for d in node.children_by_field_name("declarator"):
                    name, t = self.types.declarator(base, d, "")
                    if name is None or t.kind == "fn":
                        continue
                    t = as_pointer(self.types.shown(t), name, raw)
                    if t.kind == "array" and not t.size and d.type != "init_declarator":
                        continue     # extern int xs[]; (incomplete: no size to render)
                    self.ids -= 1    # negative: never a local's id (a declarator's byte offset)
                    self.globals[name] = Var(name, t, self.ids, always=True,
                                             mutable=name in written or t.kind in ("array", "str"))
            else:                    # struct/union/enum definitions, return types defining one
                self.types.base(node)

    def run(self) -> None:
        rw = self.rw
        functions = []
        for name, fn in rw.captures("functions"):
            if name != "function":
                continue
            if any(a.type == "function_definition" for a in ancestors(fn)):
                continue   # GNU nested functions: left alone
            body = fn.child_by_field_name("body")
            functions.append((fn, body))
        names = set()
        for fn, _ in functions:
            d = fn.child_by_field_name("declarator")
            names |= {rw.text(i) for i in iter_nodes(d) if i.type == "identifier"}
        if "main" not in names:
            raise SkipProgram("no main function")
        self.file_scope([b for _, b in functions])
        fnames = []
        sizes = []
        for fn, body in functions:
            before = len(rw.probes)
            f = Function(self, fn, body)
            f.run()
            sizes.append((fn, len(rw.probes) - before))
            specs = [c for c in fn.children if c.type == "storage_class_specifier"]
            if any(rw.text(c) == "inline" for c in specs) and not {rw.text(c) for c in specs} & {"static", "extern"}:
                # a C99 `inline` definition has no external symbol: gcc inlined the small original,
                # the instrumented one is bigger and may be called (or its address taken for the
                # name lookup): `static inline` links either way, as one translation unit
                rw.insert(fn.start_byte, "static ", 0)
            if fn.parent is not None and fn.parent.type == "translation_unit":
                fnames.append(f.name)    # not those in preprocessor conditionals: maybe not compiled
        self.unoptimised(sizes)
        protos = "".join(p + "\n" for p in self.types.protos)
        rw.insert(0, f'#include "{PRELUDE}"\n{protos}#line 1\n', -1000)
        lookup = "".join(f"    if (__ca_fp == (const void *){n}) return {cstr(n)};\n" for n in dict.fromkeys(fnames))
        tail = "\n".join(self.types.defs)
        end = len(rw.source)
        sep = "" if rw.source.endswith(b"\n") else "\n"
        rw.insert(end, f"{sep}\n/* CodeAlchemy: generated value renderers */\n{tail}\n"
                       f"static const char *__ca_fnname(const void *__ca_fp) {{\n{lookup}    return 0;\n}}\n", 1000)


    def unoptimised(self, sizes) -> None:
        """gcc's -O1 time grows faster than the code: an instrumented function of 2,500
        statements takes 5 s, one of 5,000 more than 14 s (jump threading and incremental SSA
        updates over thousands of probe branches), and a file of many 1,000-statement functions
        adds up. Functions with more than BIG_FUNCTION probes, and all functions of a file with
        more than BIG_FILE, are compiled at -O0 (gcc's optimize attribute: the same behaviour
        for any defined program; about 1.7 s for 5,000 statements)."""
        total = sum(n for _, n in sizes)
        for fn, n in sizes:
            if n <= BIG_FUNCTION and total <= BIG_FILE:
                continue
            if b"always_inline" in self.rw.source[fn.start_byte:fn.end_byte] or fn.parent is None \
                    or fn.parent.type != "translation_unit":
                continue
            self.rw.insert(fn.start_byte, '__attribute__((optimize("O0"))) ', 0)


def ancestors(node):
    n = node.parent
    while n is not None:
        yield n
        n = n.parent


def iter_nodes(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(n.children)


BIG_FUNCTION = 400   # probes in one function: compiled at -O0 (Program.unoptimised)
BIG_FILE = 2000      # probes in the file: all its functions at -O0


def rewrite(rw: Rewrite) -> None:
    if not rw.source.strip():
        raise SkipProgram("empty file")
    Program(rw).run()
