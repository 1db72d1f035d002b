"""TypeScript rewriter: the JavaScript rewriter, taught TypeScript's syntax.

The JavaScript rewriter (instrumenters/javascript/rewrite.py) does the work: frames, line
probes with TDZ-safe scope analysis, returns, exceptions, await and yield. This module loads
its own private copy of that module (so nothing here changes how JavaScript is traced),
points it at the TypeScript prelude (`./_codealchemy.js`, compiled by tsc from
prelude/_codealchemy.ts) and extends it where TypeScript differs:

- parameters are `required_parameter` / `optional_parameter` nodes (with a type, a default,
  an accessibility modifier for constructor parameter properties): their bound names are in
  the `pattern` field;
- types are never walked (a type annotation has no run-time names), and declarations that
  only exist for the type checker get no line probe: interfaces, type aliases, `declare`
  (ambient) declarations, abstract members and overload signatures;
- `enum` and `namespace` declare a name (not reported: an enum is an object of both
  directions, a namespace a closure); a namespace body is not instrumented (its `var`s are
  local to the function tsc makes of it, which the scope analysis does not model);
- class fields are `public_field_definition` (names of arrow-function fields).

Types survive the rewrite: only run-time code is inserted, and the probes' functions are
generic (`ret<T>(f, p, v: T): T`), so expressions keep their types. Programs are compiled
with `tsc --noCheck` (no type checking, like tsx; see runtime.toml), because a probe may read
a `let` before TypeScript considers it definitely assigned.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from codealchemy.tracer import treesitter
from codealchemy.tracer.instrument import Rewrite, SkipProgram

HERE = Path(__file__).resolve().parent
JS_REWRITE = HERE.parent / "javascript" / "rewrite.py"
PRELUDE = "./_codealchemy.js"
TYPE_ONLY = {"interface_declaration", "type_alias_declaration", "ambient_declaration",
             "abstract_method_signature", "method_signature", "function_signature", "index_signature",
             "import_alias"}
TYPES = {"type_annotation", "type_arguments", "type_parameters", "type_predicate_annotation",
         "asserts_annotation", "opting_type_annotation", "omitting_type_annotation", "adding_type_annotation"}
PARAMETERS = {"required_parameter", "optional_parameter"}


def _load_js():
    name = "codealchemy.instrumenters._typescript_js_base"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, JS_REWRITE)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        _teach(module)
    return module


def _teach(js) -> None:
    """Adjust the private copy of the JavaScript rewriter module to TypeScript."""
    js.PRELUDE = PRELUDE
    plain_names = js._binding_names

    def binding_names(node, out):
        if node.type in PARAMETERS:
            pattern = node.child_by_field_name("pattern")
            if pattern is not None:
                plain_names(pattern, out) if pattern.type != "this" else None
            return out
        if node.type == "formal_parameters":
            for c in node.named_children:
                binding_names(c, out)
            return out
        return plain_names(node, out)

    js._binding_names = binding_names
    js.NO_PROBE = set(js.NO_PROBE) | TYPE_ONLY


def rewriter_class():
    js = _load_js()

    class TSRewriter(js.JSRewriter):
        def walk(self, n, scope, frame):
            t = n.type
            if t in TYPES or t in TYPE_ONLY:
                return
            if t == "enum_declaration":
                name = n.child_by_field_name("name")
                if name is not None:
                    self.declare(scope, self.rw.text(name), "class", n.end_byte, report=False)
                return
            if t in ("internal_module", "module"):
                name = n.child_by_field_name("name")
                if name is not None and name.type == "identifier":
                    self.declare(scope, self.rw.text(name), "class", n.end_byte, report=False)
                return
            if t in PARAMETERS:
                # defaults may hold functions; the bound names are declared by the caller
                value = n.child_by_field_name("value")
                if value is not None:
                    self.walk(value, scope, frame)
                return
            super().walk(n, scope, frame)

        def walk_param_defaults(self, p, scope, frame):
            if p.type in PARAMETERS:
                value = p.child_by_field_name("value")
                if value is not None:
                    self.walk(value, scope, frame)
                return
            if p.type == "formal_parameters":
                for c in p.named_children:
                    self.walk_param_defaults(c, scope, frame)
                return
            super().walk_param_defaults(p, scope, frame)

        def wants_probe(self, s) -> bool:
            if s.type == "expression_statement" and s.named_child_count \
                    and s.named_children[0].type in ("internal_module", "module"):
                return True
            return super().wants_probe(s)

        def func_name(self, n) -> str:
            name = super().func_name(n)
            p = n.parent
            if name == "<anonymous>" and p is not None and p.type == "public_field_definition":
                prop = p.child_by_field_name("name")
                if prop is not None:
                    cls = self.class_name(p.parent.parent) if p.parent is not None else None
                    pn = self.rw.text(prop)
                    return f"{cls}.{pn}" if cls else pn
            return name

    return TSRewriter


def _with_js_queries(rw: Rewrite) -> None:
    """The JavaScript rewriter asks for its own queries by name (`module_syntax`, ...): a
    query this folder does not have is read from instrumenters/javascript/ and run on the
    TypeScript tree (TypeScript's grammar extends JavaScript's, with the same node names)."""
    own = rw.captures

    def captures(query_name, node=None):
        if (HERE / f"{query_name}.scm").is_file():
            return own(query_name, node)
        query = (JS_REWRITE.parent / f"{query_name}.scm").read_text(encoding="utf-8")
        return treesitter.captures(rw.lang.grammar, query, node or rw.root)

    rw.captures = captures


def rewrite(rw: Rewrite) -> None:
    js = _load_js()
    _with_js_queries(rw)
    for name, node in rw.captures("unsupported"):
        if name == "with":
            raise SkipProgram(f"`with` statement at line {node.start_point[0] + 1}; not traced")
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20000))
    try:
        rewriter_class()(rw).run()
    finally:
        sys.setrecursionlimit(old)
    del js
