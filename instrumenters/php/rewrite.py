"""PHP rewriter: probes on the same lines as the statements they announce.

Only PHP code is touched; HTML text outside `<?php ... ?>` is left byte for byte. Every function,
method and closure body becomes

    { $__ca_f = \\__ca_c(PID, get_defined_vars()); try { BODY \\__ca_r($__ca_f, null); }
      catch (\\Throwable $__ca_e) { \\__ca_x($__ca_f, $__ca_e); throw $__ca_e; }
      finally { \\__ca_e($__ca_f); } }

(on the body's own first and last lines), `return X;` becomes `return \\__ca_r($__ca_f, X);`,
`throw X` becomes `throw \\__ca_t($__ca_f, X)`, and every statement gets
`\\__ca_l(PID, $__ca_f, get_defined_vars());` in front of it (top-level code is frame 1). Loop
and `elseif` conditions carry their probe inside, so they report on every evaluation. The
prelude is loaded on the first line of PHP code (after `declare` and `namespace`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codealchemy.tracer.instrument import Rewrite, SkipProgram

#: The prelude's folder, hidden, so that a program listing its folder (scandir, glob) sees its own files.
PRELUDE_DIR = ".codealchemy"
FUNCS = {"function_definition", "method_declaration", "anonymous_function", "arrow_function"}
CLASSES = {"class_declaration", "interface_declaration", "trait_declaration", "enum_declaration"}
NOT_STATEMENTS = {"text", "text_interpolation", "php_tag", "php_end_tag", "comment", "empty_statement",
                  "function_definition", "namespace_use_declaration", "declare_statement",
                  "named_label_statement", "namespace_definition", "{", "}"} | CLASSES
PARAMS = {"simple_parameter", "variadic_parameter", "property_promotion_parameter"}
LOOPS = ("while_statement", "do_statement", "for_statement", "foreach_statement", "switch_statement")
LOOP_BODIES = ("if_statement", "else_clause", "else_if_clause", "while_statement", "for_statement",
               "foreach_statement")


@dataclass
class Frame:
    func: str
    var: str = "1"                 # how code in the frame names its frame id
    this: bool = False             # a non-static method: line events show $this
    traced: bool = True            # functions returning by reference are not
    generator: bool = False        # its yields suspend and resume the frame
    lines: set[int] = field(default_factory=set)


def line_of(node) -> int:
    return node.start_point[0] + 1


def named(node):
    return [c for c in node.children if c.is_named]


def child_of_type(node, *types):
    for c in node.children:
        if c.type in types:
            return c
    return None


def has_yield(node) -> bool:
    stack = list(node.children)
    while stack:
        n = stack.pop()
        if n.type == "yield_expression":
            return True
        if n.type in FUNCS or n.type in CLASSES:
            continue
        stack.extend(n.children)
    return False


class PhpRewriter:
    def __init__(self, rw: Rewrite):
        self.rw = rw
        self.names: list[list[str]] = []
        self.marks: dict[tuple[int, int, str], set[str]] = {}
        self.loops: list = []                  # enclosing loops and switches (`continue N`)
        self.headers: dict[tuple[int, int], str] = {}   # a foreach's header probe call
        for name, node in rw.captures("probes"):
            self.marks.setdefault((node.start_byte, node.end_byte, node.type), set()).add(name)

    def marked(self, node, name: str) -> bool:
        """Whether probes.scm captured `node` as `name`."""
        return name in self.marks.get((node.start_byte, node.end_byte, node.type), ())

    def probe(self, kind: str, line: int, func: str, names: list[str] | None = None) -> int:
        self.names.append(names or [])
        return self.rw.probe(kind, line, func)

    def line_call(self, frame: Frame, node, fn: str = "__ca_l") -> str:
        pid = self.probe("line", line_of(node), frame.func)
        frame.lines.add(line_of(node))
        this = ", $this" if frame.this else ""
        return f"\\{fn}({pid}, {frame.var}, get_defined_vars(){this})"

    # --- the walk ----------------------------------------------------------------------------

    def run(self) -> None:
        root = self.rw.root
        if child_of_type(root, "php_tag") is None:
            raise SkipProgram("no PHP code")
        self.probe("call", 1, "<module>")  # probe 0: the top-level frame
        self.visit(root, Frame("<module>"), "")
        table = "|".join(" ".join(n) for n in self.names)
        ended = self.end_marker(root)
        at, text = self.prelude_at(root)
        load = f"require_once __DIR__ . '/{PRELUDE_DIR}/codealchemy.php'; \\__ca_setup('{table}', {ended});"
        self.rw.insert(at, text.format(load), priority=-100)

    def end_marker(self, root) -> str:
        """After the last top-level statement: `\\__ca_end();` tells a normal end from exit().

        Returns "true" when a marker was placed (the prelude then treats a run that never
        reached it as left by exit()), "false" where no marker fits (braced namespaces, a
        program that ends in a `<?=` tag)."""
        last, echo_tag = None, False
        for c in root.children:
            if c.type in ("php_tag", "text_interpolation"):
                tag = c if c.type == "php_tag" else (c.children[-1] if c.children else c)
                echo_tag = self.rw.text(tag).startswith("<?=")
                continue
            if c.is_named and c.type not in ("text", "comment"):
                last = (c, echo_tag)
                echo_tag = False
        if last is None or last[1] or last[0].type in ("namespace_definition", "declare_statement"):
            return "false"
        sep = "" if self.rw.text(last[0]).rstrip().endswith((";", "}")) else ";"  # `echo 1 ?>` needs one
        self.rw.insert(last[0].end_byte, sep + " \\__ca_end();", priority=100)
        return "true"

    def prelude_at(self, root) -> tuple[int, str]:
        """Where the prelude is loaded: before any output, after declare/namespace."""
        kids = [c for c in root.children if c.type not in ("comment",)]
        namespace = child_of_type(root, "namespace_definition")
        if namespace is not None:
            body = namespace.child_by_field_name("body")
            if body is not None:  # namespace X { ... }
                return body.children[0].end_byte, " {} "
            return namespace.end_byte, " {}"
        declares = [c for c in kids if c.type == "declare_statement"]
        if declares:
            return declares[-1].end_byte, " {}"
        tag = child_of_type(root, "php_tag")
        source = self.rw.source.decode("utf-8")
        start = 0
        if source.startswith("#!"):  # the CLI skips a shebang line: load on the next
            start = source.find("\n") + 1 if "\n" in source else len(source)
        head = self.rw.source[start:tag.start_byte].decode("utf-8")
        if head == "":  # the file opens with <?php
            return tag.end_byte, " {} "
        return start, self.html_opener(source[start:])

    @staticmethod
    def html_opener(html: str) -> str:
        """A PHP block before HTML text; `?>` swallows one newline right after it: echo it back."""
        for nl, lit in (("\r\n", "\\r\\n"), ("\n", "\\n")):
            if html.startswith(nl):
                return "<?php {} echo \"" + lit + "\"; ?>"
        return "<?php {} ?>"

    def visit(self, node, frame: Frame, cls: str) -> None:
        t = node.type
        if self.marked(node, "function"):
            outer, self.loops = self.loops, []
            self.visit_function(node, frame, cls)
            self.loops = outer
            return
        if t in LOOPS:
            self.loops.append(node)
            try:
                self.visit_node(node, frame, cls)
            finally:
                self.loops.pop()
            return
        if t == "continue_statement" and frame.traced:
            self.continue_probe(node)
        self.visit_node(node, frame, cls)

    def continue_probe(self, node) -> None:
        """`continue` to a foreach reports the foreach's header first, as the end of its body
        would (like Python's `for` line after `continue`); `continue N` counts the enclosing
        loops and switches, as PHP does."""
        arg = named(node)
        try:
            level = int(self.rw.text(arg[0])) if arg else 1
        except ValueError:
            return
        if not 1 <= level <= len(self.loops):
            return
        target = self.loops[-level]
        call = self.headers.get((target.start_byte, target.end_byte))
        if call is not None:
            self.rw.insert(node.start_byte, "{ ", priority=-20)
            self.rw.insert(node.start_byte, call + "; ", priority=-5)
            self.rw.insert(node.end_byte, " }", priority=5)

    def visit_node(self, node, frame: Frame, cls: str) -> None:
        t = node.type
        if self.marked(node, "class"):
            name = node.child_by_field_name("name")
            inner_cls = self.rw.text(name) if name is not None else "class@anonymous"
            for c in named(node):
                self.visit(c, frame, inner_cls)
            return
        if t == "object_creation_expression" and child_of_type(node, "declaration_list") is not None:
            for c in named(node):
                self.visit(c, frame, "class@anonymous")
            return
        if self.marked(node, "return") and frame.var != "1" and frame.traced:
            self.visit_return(node, frame)
        elif self.marked(node, "yield") and frame.generator:
            self.visit_yield(node, frame)
        elif self.marked(node, "throw") and frame.traced:
            value = named(node)
            if value:
                self.rw.insert(value[0].start_byte, f"\\__ca_t({frame.var}, ", priority=-70)
                self.rw.insert(value[-1].end_byte, ")", priority=70)
        if t == "try_statement" and frame.traced:
            fin = child_of_type(node, "finally_clause")
            if fin is not None:
                # an exception leaving the try body is reported before the finally block runs
                # (a last catch that reports and rethrows; the frame's wrapper, which sees it
                # after the finally block, does not report it again)
                self.rw.insert(fin.start_byte, f"catch (\\Throwable $__ca_e) {{ \\__ca_x({frame.var}, $__ca_e); "
                                               "throw $__ca_e; } ", priority=-70)
        if frame.traced:
            self.loop_probes(node, frame)
        if self.marked(node, "statements"):
            self.visit_container(node, frame, cls)
            return
        for c in node.children:
            if c.is_named:
                self.visit(c, frame, cls)

    def loop_probes(self, node, frame: Frame) -> None:
        t = node.type
        if t in ("while_statement", "do_statement", "else_if_clause"):
            cond = node.child_by_field_name("condition")
            if cond is not None and cond.type == "parenthesized_expression" and cond.child_count >= 3:
                self.rw.insert(cond.children[0].end_byte, self.line_call(frame, cond, "__ca_lt") + " && (",
                               priority=-50)
                self.rw.insert(cond.children[-1].start_byte, ")", priority=50)
        elif t == "case_statement":  # each case reports as it is tested, like Python's `case` lines
            value = node.child_by_field_name("value")
            if value is not None and line_of(node) not in frame.lines:
                call = self.line_call(frame, node, "__ca_lv")[:-1]
                self.rw.insert(value.start_byte, call + (", " if frame.this else ", null, "), priority=-50)
                self.rw.insert(value.end_byte, ")", priority=50)
        elif t == "for_statement":
            cond = node.child_by_field_name("condition")
            semis = [c for c in node.children if c.type == ";"]
            if cond is not None:
                self.rw.insert(cond.start_byte, self.line_call(frame, node, "__ca_lt") + ", ", priority=-50)
            elif semis:
                self.rw.insert(semis[0].end_byte, " " + self.line_call(frame, node, "__ca_lt"), priority=-50)
        if t in LOOP_BODIES:
            body = node.child_by_field_name("body")
            if body is None:
                return
            end_probe = ""
            if t == "foreach_statement":
                call = self.line_call(frame, node)
                self.headers[(node.start_byte, node.end_byte)] = call
                end_probe = " " + call + ";"
            if body.type == "compound_statement":
                if end_probe:
                    self.rw.insert(body.children[-1].start_byte, end_probe + " ", priority=55)
            elif body.type == "colon_block":
                closer = child_of_type(node, "endforeach")
                if end_probe and closer is not None:  # in PHP mode even when the block ends in HTML
                    self.rw.insert(closer.start_byte, end_probe.strip() + " ", priority=55)
            elif body.type not in NOT_STATEMENTS:
                probe = ""
                if line_of(body) not in frame.lines:
                    probe = self.line_call(frame, body) + "; "
                self.rw.insert(body.start_byte, "{ " + probe, priority=-40)
                self.rw.insert(body.end_byte, end_probe + " }", priority=40)

    def visit_container(self, node, frame: Frame, cls: str) -> None:
        echo_tag = False
        for c in node.children:
            if c.type == "php_tag" or c.type == "text_interpolation":
                last = c if c.type == "php_tag" else (c.children[-1] if c.children else c)
                echo_tag = self.rw.text(last).startswith("<?=")
                continue
            if not c.is_named:
                continue
            if (node.type in ("case_statement",) and c == node.child_by_field_name("value")):
                self.visit(c, frame, cls)
                continue
            if frame.traced and not echo_tag and c.type not in NOT_STATEMENTS \
                    and c.type not in ("while_statement", "for_statement"):
                line = line_of(c)
                if line not in frame.lines:
                    self.rw.insert(c.start_byte, self.line_call(frame, c) + "; ", priority=-10)
            echo_tag = False
            self.visit(c, frame, cls)

    # --- frames ------------------------------------------------------------------------------

    def params_of(self, node) -> list[str]:
        params = node.child_by_field_name("parameters")
        out = []
        if params is not None:
            for p in named(params):
                if p.type in PARAMS:
                    name = p.child_by_field_name("name")
                    if name is not None:
                        out.append(self.rw.text(name).lstrip("$"))
        return out

    def visit_function(self, node, outer: Frame, cls: str) -> None:
        t = node.type
        name = node.child_by_field_name("name")
        if t == "function_definition":
            func = self.rw.text(name)
        elif t == "method_declaration":
            func = f"{cls}::{self.rw.text(name)}"
        else:
            func = "{closure}"
        body = node.child_by_field_name("body")
        by_ref = child_of_type(node, "reference_modifier") is not None
        static = any(c.type == "static_modifier" for c in node.children)
        if body is None:  # abstract or interface method
            return
        if by_ref:
            frame = Frame(func, "0", traced=False)
            for c in named(body):
                self.visit(c, frame, cls)
            return
        pid = self.probe("call", line_of(node), func, self.params_of(node))
        if t == "arrow_function":
            frame = Frame(func, "0", traced=False)  # no statements inside: only call and return
            line = self.probe("line", line_of(body), func)
            self.rw.insert(body.start_byte, f"\\__ca_ar(\\__ca_cl({pid}, {line}, get_defined_vars()), ", priority=-60)
            self.rw.insert(body.end_byte, ")", priority=60)
            self.visit(body, frame, cls)
            return
        frame = Frame(func, "$__ca_f", this=(t == "method_declaration" and not static),
                      generator=t != "arrow_function" and has_yield(body))
        self.rw.insert(body.children[0].end_byte,
                       f" $__ca_f = \\__ca_c({pid}, get_defined_vars()); try {{", priority=-60)
        self.rw.insert(body.children[-1].start_byte,
                       " \\__ca_r($__ca_f, null); } catch (\\Throwable $__ca_e) { \\__ca_x($__ca_f, $__ca_e); "
                       "throw $__ca_e; } finally { \\__ca_e($__ca_f); } ", priority=60)
        self.visit_container(body, frame, cls)

    def visit_yield(self, node, frame: Frame) -> None:
        """`yield X` -> `\\__ca_resume($f, (yield \\__ca_yield($f, X)))`: return at the yield, call again
        on resumption, as Python reports a generator."""
        f = frame.var
        self.rw.insert(node.start_byte, f"\\__ca_resume({f}, (", priority=-5)
        self.rw.insert(node.end_byte, "))", priority=45)
        keyword = node.children[0]
        value = named(node)
        if keyword.type == "yield from":
            if value:
                self.rw.insert(value[0].start_byte, f"\\__ca_yield_from({f}, ", priority=-5)
                self.rw.insert(value[-1].end_byte, ")", priority=40)
            return
        if not value:
            self.rw.insert(keyword.end_byte, f" \\__ca_yield({f}, null)", priority=0)
            return
        init = value[0]
        parts = named(init)
        target = parts[-1] if any(c.type == "=>" for c in init.children) and parts else init
        self.rw.insert(target.start_byte, f"\\__ca_yield({f}, ", priority=-5)
        self.rw.insert(target.end_byte, ")", priority=40)

    def visit_return(self, node, frame: Frame) -> None:
        value = named(node)
        value = [v for v in value if v.type != "comment"]
        if not value:
            self.rw.insert(node.start_byte, f"{{ \\__ca_r({frame.var}, null); ", priority=0)
            self.rw.insert(node.end_byte, " }" if self.rw.text(node).endswith(";") else "; }", priority=0)
            return
        self.rw.insert(value[0].start_byte, f"\\__ca_r({frame.var}, ", priority=-70)
        self.rw.insert(value[-1].end_byte, ")", priority=70)


def rewrite(rw: Rewrite) -> None:
    try:
        PhpRewriter(rw).run()
    except RecursionError:
        raise SkipProgram("nesting too deep") from None
