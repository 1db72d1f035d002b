"""What the Java and C# rewriters share: definite-assignment scopes and the probes of their
C-family statements (lines, loop conditions, if/loop bodies).

The two grammars name the same constructs alike (`block`, `condition`, `assignment_expression`)
and the two preludes have the same probe calls, spelled `k/l/h` in Java and `K/L/H` in C#, so
one implementation serves both; what differs (declarations, frames, returns, switch, catch)
stays in each language's rewrite.py.
"""

from __future__ import annotations

from codealchemy.tracer.instrument import Rewrite


def start_line(node) -> int:
    return node.start_point[0] + 1


class Var:
    __slots__ = ("name", "assigned")

    def __init__(self, name: str, assigned: bool):
        self.name, self.assigned = name, assigned


class Scope:
    """A block's locals; `da`: the names definitely assigned by its plain `x = ...;` statements."""

    def __init__(self, parent: Scope | None, ctx, quiet: bool = False):
        self.parent, self.ctx = parent, ctx
        self.names: dict[str, Var] = {}
        self.da: set[str] = set()
        # code that runs later, in no frame of ours (Java: an expression lambda's switch
        # expression blocks), gets no probes
        self.quiet = quiet or (parent is not None and parent.quiet)

    def visible(self) -> list[str]:
        """The names a probe here may read: declared in scope and definitely assigned."""
        seen: dict[str, bool] = {}
        assigned: set[str] = set()
        s = self
        while s is not None:
            assigned |= s.da
            for name, v in s.names.items():
                if name not in seen:
                    seen[name] = v.assigned or name in assigned
            s = s.parent
        return [n for n, ok in seen.items() if ok]

    def lookup(self, name: str) -> Var | None:
        s = self
        while s is not None:
            if name in s.names:
                return s.names[name]
            s = s.parent
        return None


def returns_value(body, functions: set[str]) -> bool:
    """Whether a lambda body has a `return e;` of its own (not of a nested node of `functions`)."""
    stack = list(body.children)
    while stack:
        n = stack.pop()
        if n.type == "return_statement" and any(c.is_named and "comment" not in c.type for c in n.children):
            return True
        if n.type not in functions:
            stack.extend(n.children)
    return False


class BlockRewriter:
    """The statement probes; a subclass gives the prelude's probe names and implements
    `statements(block, scope, new_scope=...)` and `statement(node, scope, braces=..., same_line=...)`."""

    ENABLED = LINE = HEADER = ""   # the frame's "recording?", line and loop-header probe methods

    def __init__(self, rw: Rewrite):
        self.rw = rw
        self.frames = 0

    def text(self, node) -> str:
        return self.rw.text(node)

    def reads(self, line: int, scope: Scope) -> str:
        return "".join(f', "{n}", {n}' for n in scope.visible() if self.rw.keep(line, n))

    def line_probe(self, line: int, scope: Scope) -> str:
        if scope.quiet or not self.rw.keep(line):
            return ""
        v = scope.ctx.var
        pid = self.rw.probe("line", line, scope.ctx.name)
        return f"if ({v}.{self.ENABLED}()) {v}.{self.LINE}({pid}{self.reads(line, scope)}); "

    def cond_probe(self, cond, scope: Scope, line: int | None = None) -> None:
        """`cond` is the expression inside a condition's parentheses (or a for's condition)."""
        line = line or start_line(cond)
        if scope.quiet or not self.rw.keep(line):
            return
        v = scope.ctx.var
        pid = self.rw.probe("line", line, scope.ctx.name)
        self.rw.insert(cond.start_byte,
                       f"(!{v}.{self.ENABLED}() || {v}.{self.HEADER}({pid}{self.reads(line, scope)})) && (", 5)
        self.rw.insert(cond.end_byte, ")", -5)

    def has_cond(self, node) -> bool:
        """Whether a loop has a condition other than the constant `true` (whose reachability
        rules must not change)."""
        cond = node.child_by_field_name("condition")
        if cond is None:
            return False
        text = self.text(cond).strip()
        while text.startswith("(") and text.endswith(")"):
            text = text[1:-1].strip()
        return text != "true"

    def body(self, node, scope: Scope, header_line: int | None = None) -> None:
        """A loop/if body: a block gets its statements probed, a single statement braces."""
        if node is None:
            return
        if header_line is not None and self.rw.keep(header_line):
            probe = self.line_probe(header_line, scope)
            if node.type == "block":
                self.rw.insert(node.start_byte + 1, " " + probe, -20)
            else:
                self.rw.insert(node.start_byte, "{ " + probe, -20)
                self.rw.insert(node.end_byte, " }", 20)
        if node.type == "block":
            self.statements(node, scope, new_scope=True)
        else:  # `if (c) return;` on one line: one line event, as in Python
            same = node.start_point[0] == node.parent.start_point[0]
            self.statement(node, Scope(scope, scope.ctx), braces=True, same_line=same)

    def note_assignment(self, stmt, scope: Scope) -> None:
        """An expression statement `x = ...;` makes local x definitely assigned in this block."""
        expr = next((c for c in stmt.children if c.is_named and "comment" not in c.type), None)
        if expr is None or expr.type != "assignment_expression":
            return
        left = expr.child_by_field_name("left")
        op = expr.child_by_field_name("operator")
        op_text = self.text(op) if op is not None else next(
            (self.text(c) for c in expr.children if not c.is_named), "")
        if left is not None and left.type == "identifier" and op_text == "=":
            name = self.text(left)
            if scope.lookup(name) is not None:
                scope.da.add(name)
