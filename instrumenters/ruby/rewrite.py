"""Ruby rewriter: probes on the same lines as the statements they announce.

Every method, block and lambda body is wrapped (on its own first and last lines) as

    ::CodeAlchemy::ON[0] && ::CodeAlchemy.c(PID, ::Kernel.binding); begin; ::CodeAlchemy.r(begin; BODY
    ;end); rescue ::Exception; ::CodeAlchemy.x($!); raise; ensure; ::CodeAlchemy.e; end

so the return event carries the value of the body's last expression, an exception passing
through is reported, and a frame left any other way (break, throw) unwinds. `return` and block
`next` values go through `::CodeAlchemy.r`. Each statement gets `(::CodeAlchemy::ON[0] &&
::CodeAlchemy.l(PID, ::Kernel.binding)); ` in front of it; `while`/`until` conditions and
`elsif` conditions carry their probe inside, so they report on every evaluation. The prelude is
loaded on the line of the first statement (after magic comments), with a table of the names each
probe needs: a call probe's parameters, and for a line probe the variables assigned before it
(so a variable set to nil shows, while one merely hoisted by the parser does not). The guard
`::CodeAlchemy::ON[0]` makes a stopped probe cost no method call and no Binding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codealchemy.tracer.instrument import Rewrite, SkipProgram

#: The prelude's folder, hidden, so that a program listing its folder (Dir["*"]) sees its own files.
PRELUDE_DIR = ".codealchemy"

NS = "::CodeAlchemy"
#: Guards the line and call probes: once recording stopped (or without a channel) they cost a
#: constant lookup, not a method call and a Binding.
ON = f"{NS}::ON[0]"
# what probes.scm captures is where probes go; these sets are Ruby's own rules
CONTAINERS = {"program", "body_statement", "block_body", "then", "else", "do", "begin", "ensure"}
NOT_STATEMENTS = {"comment", "rescue", "else", "ensure", "heredoc_body", "uninterpreted", "empty_statement",
                  "begin_block", "end_block", "then", "do"}
PARAM_LISTS = {"method_parameters", "lambda_parameters", "block_parameters", "destructured_parameter",
               "parameters"}
PARAM_NODES = {"optional_parameter", "splat_parameter", "hash_splat_parameter", "block_parameter",
               "keyword_parameter"}
BLOCKS = {"block", "do_block", "lambda"}   # their parameters and new variables are their own
LHS_LISTS = {"left_assignment_list", "rest_assignment", "destructured_left_assignment"}


@dataclass
class Frame:
    func: str
    kind: str                      # module, method, block, lambda
    call_pid: int | None = None
    method_pid: int | None = None  # the enclosing method's call probe (for `return` in blocks)
    lines: set[int] = field(default_factory=set)
    label: str = "<module>"        # what a block inside is "in"
    levels: int = 0                # block nesting, for "block (2 levels) in f"


@dataclass
class Ctx:
    frame: Frame
    scope: object                  # the hard scope node (for assigned names)
    cls: str = ""                  # enclosing class/module path
    in_class_body: bool = False
    loop_owner: str = "frame"      # what a `next` belongs to: "frame" or "loop"
    singleton: bool = False        # inside `class << self`
    loop_node: object = None       # the `for` a `next` goes to (None: a while/until or a frame)


def line_of(node) -> int:
    return node.start_point[0] + 1


def named(node):
    return [c for c in node.children if c.is_named]


def child_of_type(node, *types):
    for c in node.children:
        if c.type in types:
            return c
    return None


JUMPS = {"return", "next", "break", "redo", "retry"}
JUMP_PLACES = CONTAINERS | {"if_modifier", "unless_modifier", "while_modifier", "until_modifier",
                            "parenthesized_statements"}


def last_statement(node):
    stmts = [c for c in named(node) if c.type not in NOT_STATEMENTS]
    return stmts[-1] if stmts else None


def is_void(node) -> bool:
    """Whether Ruby rejects taking the value of `node` ("void value expression")."""
    if node is None:
        return False
    t = node.type
    if t in JUMPS:
        return True
    if t in CONTAINERS or t == "parenthesized_statements":
        return is_void(last_statement(node))
    if t in ("if", "unless", "elsif"):
        then = node.child_by_field_name("consequence")
        alt = node.child_by_field_name("alternative")
        return then is not None and alt is not None and is_void(then) and is_void(alt)
    if t == "case":
        branches = [c for c in named(node) if c.type in ("when", "else", "in_clause")]
        if not any(c.type == "else" for c in branches):
            return False
        return all(is_void(c.child_by_field_name("body") if c.type != "else" else c) for c in branches)
    return False


class RubyRewriter:
    def __init__(self, rw: Rewrite):
        self.rw = rw
        self.names: list[list[str]] = []
        self.scope_names: dict[int, list[tuple[int, str]]] = {}
        self.marks: dict[tuple[int, int, str], set[str]] = {}
        for name, node in rw.captures("probes"):
            self.marks.setdefault((node.start_byte, node.end_byte, node.type), set()).add(name)

    def marked(self, node, name: str) -> bool:
        """Whether probes.scm captured `node` as `name`."""
        return name in self.marks.get((node.start_byte, node.end_byte, node.type), ())

    # --- probes ------------------------------------------------------------------------------

    def probe(self, kind: str, line: int, func: str, names: list[str]) -> int:
        pid = self.rw.probe(kind, line, func)
        self.names.append(names)
        return pid

    def assigned_before(self, scope, at: int) -> list[str]:
        key = scope.start_byte, scope.end_byte
        if key not in self.scope_names:
            found: list[tuple[int, str]] = []
            self.collect_names(scope, found, top=True)
            self.scope_names[key] = found
        seen: list[str] = []
        for pos, name, start, end in self.scope_names[key]:
            if pos < at and start <= at < end and name not in seen:
                seen.append(name)
        return seen

    def collect_names(self, node, out: list, top: bool = False) -> None:
        """(where the assignment completes, name, start, end): a name first bound inside a
        block (its parameters, or a variable the block assigns) is local to that block, so it
        counts only for probes between the block's start and end; a variable of the
        enclosing scope has its own entry at its own assignment."""
        stack = [(node, 0, 1 << 62)]
        while stack:
            n, start, end = stack.pop()
            if n is not node and self.marked(n, "scope"):
                continue
            if n.type in BLOCKS:
                start, end = n.start_byte, n.end_byte
            if n.type == "identifier" and self.is_binding(n):
                out.append((self.assigned_at(n), self.rw.text(n), start, end))
            stack.extend((c, start, end) for c in n.children)

    @staticmethod
    def assigned_at(n) -> int:
        """Where a name's assignment completes: the end of `x = ...`, else the name itself."""
        p = n.parent
        while p is not None and p.type in LHS_LISTS | {"left_assignment_list"}:
            p = p.parent
        if p is not None and p.type in ("assignment", "operator_assignment"):
            return p.end_byte
        return n.start_byte

    @staticmethod
    def is_binding(n) -> bool:
        p = n.parent
        if p is None:
            return False
        if p.type in ("assignment", "operator_assignment"):
            return p.child_by_field_name("left") == n
        if p.type in LHS_LISTS or p.type in PARAM_LISTS:
            return True
        if p.type in PARAM_NODES:
            return p.child_by_field_name("name") == n
        if p.type == "for":
            return p.child_by_field_name("pattern") == n
        return False

    def line_probe(self, ctx: Ctx, node, at: int | None = None) -> str:
        line = line_of(node)
        names = [] if ctx.in_class_body else self.assigned_before(ctx.scope, node.start_byte if at is None else at)
        pid = self.probe("line", line, ctx.frame.func, names)
        ctx.frame.lines.add(line)
        return f"({ON} && {NS}.l({pid}, {'nil' if ctx.in_class_body else '::Kernel.binding'}))"

    # --- the walk ----------------------------------------------------------------------------

    def run(self) -> None:
        root = self.rw.root
        stmts = [c for c in named(root) if c.type not in NOT_STATEMENTS]
        if not stmts:
            raise SkipProgram("no statements")
        self.probe("call", 1, "<module>", [])  # probe 0: the top-level frame
        ctx = Ctx(Frame("<module>", "module"), root)
        self.visit(root, ctx)
        table = "|".join(" ".join(n) for n in self.names)
        load = f'require_relative "{PRELUDE_DIR}/codealchemy"; {NS}.setup("{table}", __FILE__); '
        self.rw.insert(stmts[0].start_byte, load, priority=-100)

    def visit(self, node, ctx: Ctx) -> None:
        t = node.type
        if self.marked(node, "method"):
            self.visit_method(node, ctx)
            return
        if self.marked(node, "lambda"):
            self.visit_lambda(node, ctx)
            return
        if self.marked(node, "block"):
            self.visit_block(node, ctx)
            return
        if t in ("class", "module", "singleton_class"):
            if t == "singleton_class":  # class << self: its methods are the class's own
                inner = Ctx(ctx.frame, node, ctx.cls, True, ctx.loop_owner, singleton=True)
            else:
                name = self.rw.text(node.child_by_field_name("name"))
                inner = Ctx(ctx.frame, node, f"{ctx.cls}::{name}" if ctx.cls else name, True, ctx.loop_owner)
            for c in node.children:
                if c.type == "body_statement":
                    self.visit_container(c, inner)
                elif c.is_named:
                    self.visit(c, ctx)
            return
        if self.marked(node, "jump"):
            self.visit_jump(node, ctx)
        if t in ("while", "until"):
            cond = node.child_by_field_name("condition")
            if cond is not None:
                self.rw.insert(cond.start_byte, f"({self.line_probe(ctx, node)}; ", priority=-50)
                self.rw.insert(cond.end_byte, ")", priority=50)
            loop_ctx = Ctx(ctx.frame, ctx.scope, ctx.cls, ctx.in_class_body, "loop")
            for c in named(node):
                if c == cond:
                    self.visit(c, ctx)
                else:
                    self.visit_container(c, loop_ctx) if self.marked(c, "statements") else self.visit(c, loop_ctx)
            return
        if t == "for":
            body = node.child_by_field_name("body")
            loop_ctx = Ctx(ctx.frame, ctx.scope, ctx.cls, ctx.in_class_body, "loop", loop_node=node)
            if body is not None:
                stmts = [c for c in named(body) if c.type not in NOT_STATEMENTS]
                if stmts and not ctx.in_class_body:
                    last = stmts[-1]
                    self.rw.insert(last.end_byte, f"; {self.line_probe(ctx, node, at=last.end_byte)}", priority=60)
            for c in named(node):
                self.visit_container(c, loop_ctx) if c == body else self.visit(c, ctx)
            return
        if t == "when":  # each `when` reports as it is tested, like Python's `case` lines
            pats = [c for c in node.children if c.is_named and c.type == "pattern"]
            if pats and named(pats[0]) and named(pats[0])[0].type != "splat_argument" \
                    and line_of(node) not in ctx.frame.lines:
                self.rw.insert(pats[0].start_byte, f"({self.line_probe(ctx, node)}; ", priority=-50)
                self.rw.insert(pats[0].end_byte, ")", priority=50)
        if t == "elsif":
            cond = node.child_by_field_name("condition")
            if cond is not None:
                self.rw.insert(cond.start_byte, f"({self.line_probe(ctx, node)}; ", priority=-50)
                self.rw.insert(cond.end_byte, ")", priority=50)
        if t == "ensure" and node.parent is not None:
            # an exception leaving the body is reported (at the line that raised it) before the
            # ensure clause runs: a last rescue that reports and re-raises, before `else`/`ensure`
            clause = next(c for c in node.parent.children if c.type in ("else", "ensure"))
            self.rw.insert(clause.start_byte, f"rescue ::Exception; {NS}.x($!); raise; ", priority=-20)
        if t == "interpolation":
            for c in named(node):
                self.visit(c, ctx)
            return
        if self.marked(node, "statements"):
            self.visit_container(node, ctx)
            return
        for c in node.children:
            if c.is_named:
                self.visit(c, ctx)

    def visit_container(self, node, ctx: Ctx) -> None:
        for c in node.children:
            if not c.is_named:
                continue
            if c.type not in NOT_STATEMENTS and c.type not in ("while", "until"):
                line = line_of(c)
                if line not in ctx.frame.lines:
                    self.rw.insert(c.start_byte, self.line_probe(ctx, c) + "; ", priority=-10)
            self.visit(c, ctx)

    # --- frames ------------------------------------------------------------------------------

    def params_of(self, plist) -> list[str]:
        if plist is None:
            return []
        out: list[str] = []
        for p in named(plist):
            if p.type == "identifier":
                out.append(self.rw.text(p))
            elif p.type in PARAM_NODES:
                name = p.child_by_field_name("name")
                if name is not None:
                    out.append(self.rw.text(name))
            elif p.type == "destructured_parameter":
                out.extend(self.params_of(p))
        return out

    def wrap(self, pid: int, open_at: int, close_at: int, body) -> None:
        # a body that ends in `return` (or another jump) has no value Ruby lets us take
        void = body is not None and is_void(body)
        take, give = ("", "") if void else (f"{NS}.r(", ")")
        self.rw.insert(open_at, f"; {ON} && {NS}.c({pid}, ::Kernel.binding); begin; {take}begin; ", priority=-60)
        self.rw.insert(close_at, f";end{give}; rescue ::Exception; {NS}.x($!); raise; ensure; {NS}.e; end; ",
                       priority=60)

    def visit_method(self, node, ctx: Ctx) -> None:
        name = self.rw.text(node.child_by_field_name("name"))
        if node.type == "singleton_method":
            obj = node.child_by_field_name("object")
            owner = ctx.cls if obj is not None and obj.type == "self" and ctx.cls else self.rw.text(obj)
            func = f"{owner}.{name}"
        else:
            func = f"{ctx.cls}{'.' if ctx.singleton else '#'}{name}" if ctx.cls else name
        params = node.child_by_field_name("parameters")
        pid = self.probe("call", line_of(node), func, self.params_of(params))
        frame = Frame(func, "method", pid, pid, set(), func)
        inner = Ctx(frame, node, ctx.cls, False, "frame")
        end = child_of_type(node, "end")
        head_end = (params or node.child_by_field_name("name")).end_byte
        if end is None:  # endless method: def f(x) = expr
            body = node.child_by_field_name("body")
            if body is None:
                return
            line = self.line_probe(inner, body)
            self.rw.insert(body.start_byte, f"({ON} && {NS}.c({pid}, ::Kernel.binding); begin; {NS}.r(({line}; ",
                           priority=-60)
            self.rw.insert(body.end_byte, f")); rescue ::Exception; {NS}.x($!); raise; ensure; {NS}.e; end)",
                           priority=60)
            self.visit(body, inner)
            return
        self.wrap(pid, head_end, end.start_byte, child_of_type(node, "body_statement"))
        for c in node.children:
            if c.type == "body_statement":
                self.visit_container(c, inner)
            elif c.is_named and c.type not in ("identifier", "constant", "self") and c is not params:
                self.visit(c, inner)

    def block_frame(self, ctx: Ctx, node, params: list[str], lambda_like: bool) -> tuple[Frame, int]:
        outer = ctx.frame
        if ctx.in_class_body:
            label, levels = f"<class:{ctx.cls}>", 0
        else:
            label, levels = outer.label, outer.levels
        levels += 1
        func = f"block in {label}" if levels == 1 else f"block ({levels} levels) in {label}"
        pid = self.probe("call", line_of(node), func, params)
        kind = "lambda" if lambda_like else "block"
        frame = Frame(func, kind, pid, outer.method_pid, set(), label, levels)
        return frame, pid

    def visit_block(self, node, ctx: Ctx, lambda_like: bool | None = None, params_node=None) -> None:
        if lambda_like is None:
            call = node.parent
            meth = call.child_by_field_name("method") if call is not None and call.type == "call" else None
            lambda_like = meth is not None and self.rw.text(meth) == "lambda" and call.child_by_field_name(
                "receiver") is None
        if params_node is None:
            params_node = node.child_by_field_name("parameters")
        frame, pid = self.block_frame(ctx, node, self.params_of(params_node), lambda_like)
        inner = Ctx(frame, ctx.scope, ctx.cls, False, "frame")
        opener = params_node if params_node is not None and params_node.parent == node else \
            child_of_type(node, "{", "do")
        closer = child_of_type(node, "}", "end")
        if opener is None or closer is None:
            return
        self.wrap(pid, opener.end_byte, closer.start_byte, child_of_type(node, "block_body", "body_statement"))
        for c in node.children:
            if c.type in ("block_body", "body_statement"):
                self.visit_container(c, inner)
            elif c.is_named and c is not params_node:
                self.visit(c, inner)

    def visit_lambda(self, node, ctx: Ctx) -> None:
        params = node.child_by_field_name("parameters")
        body = node.child_by_field_name("body")
        if body is None:
            return
        self.visit_block(body, ctx, lambda_like=True, params_node=params)

    def visit_jump(self, node, ctx: Ctx) -> None:
        frame = ctx.frame
        if node.type == "next" and ctx.loop_owner == "loop" and ctx.loop_node is not None \
                and not ctx.in_class_body:
            # `next` in a `for` skips the header probe at the end of the body: it reports the
            # header itself (`next if c` becomes `begin; PROBE; next; end if c`)
            probe = self.line_probe(ctx, ctx.loop_node, at=node.start_byte)
            self.rw.insert(node.start_byte, f"begin; {probe}; ", priority=0)
            self.rw.insert(node.end_byte, "; end", priority=0)
            return
        if frame.kind == "module":
            return
        if node.type == "next" and (ctx.loop_owner == "loop" or frame.kind == "method"):
            return
        if node.parent is None or node.parent.type not in JUMP_PLACES:
            return  # e.g. `x = f rescue next`: Ruby takes no argument there; the frame unwinds
        if node.type == "return" and frame.kind == "block":
            call = f"{NS}.nr({frame.method_pid if frame.method_pid is not None else -1}, "
        else:
            call = f"{NS}.r("
        args = child_of_type(node, "argument_list")
        if args is None:
            kw = node.children[0]
            self.rw.insert(kw.end_byte, f" {call}nil)", priority=0)
            return
        items = named(args)
        if len(items) == 1 and items[0].type not in ("splat_argument", "pair", "hash_splat_argument"):
            opener, closer = "(", ")"
        elif any(i.type in ("pair", "hash_splat_argument") for i in items) and \
                all(i.type in ("pair", "hash_splat_argument") for i in items):
            opener, closer = "{", "}"
        else:
            opener, closer = "[", "]"
        self.rw.insert(args.start_byte, f"{call}{opener}", priority=-70)
        self.rw.insert(args.end_byte, f"{closer})", priority=55)  # before a frame closing here


def rewrite(rw: Rewrite) -> None:
    try:
        RubyRewriter(rw).run()
    except RecursionError:
        raise SkipProgram("nesting too deep") from None
