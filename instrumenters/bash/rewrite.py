"""Bash rewriter: statement probes on the statements' own lines, call/return probes in functions.

Probes are calls of prelude functions (prelude/codealchemy.sh), always written `probe ... && :`
so that `$?` is kept and `set -e` never fires on them. What goes where:
- `. ./.codealchemy/codealchemy.sh; __ca_v0() { ... }; __ca_v1() ...` before the first statement (same
  line): the prelude and, per scope (0 = top-level code, 1.. = functions), a function that
  renders the variables its line events report.
- before every statement of a block (script, `{ }`, `( )`, `do ... done`, branches, `case`
  items, `$( )`/`<( )`) that starts a new line: `__ca_l ID SCOPE [ "$@" ] && :;` ("$@" in
  scopes that shift their positional parameters)
- loops: `while`/`until` get the probe inside the condition (one event per test, the last
  included); `for` loops get it at the start of the body (one event per iteration).
- `elif` conditions get a probe; `if`/`case` are ordinary statements.
- function bodies `{ }` or `( )`: `__ca_c` after the opening bracket, `__ca_r` before the
  closing one; each `return` becomes `{ __ca_r ID ARGS && :; return ARGS; }`.
- `$(f ...)` where f is a function of the script becomes `$(__ca_cap f ...)` so that the
  return event carries what f printed.
- `exit ...` becomes `{ __ca_ex=1; exit ...; }` (the unwinding is then an `exit`).
- `>/dev/stdout` and `>/dev/stderr` become `>&1` / `>&2` (the prelude sends stdout and stderr
  to files; reopening them by path would truncate them).
"""

from __future__ import annotations

import re

from codealchemy.tracer import treesitter
from codealchemy.tracer.instrument import Rewrite, SkipProgram

#: The prelude's folder, hidden, so that `ls` or a `*` glob in the script's folder lists its own files.
PRELUDE_DIR = ".codealchemy"
PRELUDE = f"{PRELUDE_DIR}/codealchemy.sh"
#: bash runs whatever bytes a script holds (Latin-1 literals included): so does the rewrite.
ANY_BYTES = True

STATEMENTS = {
    "command", "list", "pipeline", "redirected_statement", "variable_assignment", "variable_assignments",
    "declaration_command", "unset_command", "test_command", "negated_command", "if_statement", "for_statement",
    "c_style_for_statement", "while_statement", "case_statement", "compound_statement", "subshell",
    "function_definition",
}
OPENERS = {"if_statement": "then", "elif_clause": "then", "else_clause": "else", "case_item": ")"}
LOOPS = {"for_statement", "c_style_for_statement", "while_statement"}
# Substitutions: their statements run in a subshell (a frame of its own); functions defined
# inside them are not traced.
OPAQUE = {"command_substitution", "process_substitution"}
# Where a `return` leaves a subshell rather than the function.
SUBSHELLS = {"subshell", "command_substitution", "process_substitution", "pipeline"}
# Variables a probe must never read (reading changes them, or they are the tracer's own).
MAGIC = {
    "RANDOM", "SRANDOM", "LINENO", "SECONDS", "BASHPID", "EPOCHSECONDS", "EPOCHREALTIME", "BASH_COMMAND",
    "FUNCNAME", "BASH_LINENO", "BASH_SOURCE", "PIPESTATUS", "HISTCMD", "BASH_SUBSHELL", "BASH_ARGV",
    "BASH_ARGC", "BASH_ARGV0", "_",
}
# Set by bash itself: reported when the script reads them.
IMPLICIT = {"REPLY", "BASH_REMATCH", "OPTARG", "OPTIND", "MAPFILE", "COPROC"}
ASSIGNING_COMMANDS = {"read", "mapfile", "readarray", "let", "getopts", "printf"}
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DEV_REDIRECT = re.compile(r"^(\d*)(>>|>\||>)\s*/dev/std(out|err)$")
DEV_STD = re.compile(rb"/dev/std(out|err)")
UNSAFE = re.compile(r"PIPESTATUS|\$\{?_(?![A-Za-z0-9_])")


class _Scope:
    def __init__(self, index: int, name: str, node):
        self.index = index
        self.name = name
        self.node = node
        self.assigned: list[str] = []
        self.used: list[str] = []
        self.shifts = False  # runs `shift` or `set -- ...`: its line events show "$1".. and "$#"


def _kids(node):
    return [c for c in node.children if c.is_named]


def _has_ancestor(node, types, stop=None) -> bool:
    p = node.parent
    while p is not None and p != stop:
        if p.type in types:
            return True
        p = p.parent
    return False


def _stop_at_parse_error(rw: Rewrite) -> None:
    """tree-sitter-bash does not know all of bash (`a[$i*$i]=1`, `for i do`, `${s:$i:1}` in a
    C-style for...): the statements before the first top-level statement it cannot parse are
    traced, that one and the rest run as they are (bash itself decides)."""
    error = treesitter.first_error(rw.root)
    if error is None:
        return
    top = error
    while top.parent is not None and top.parent != rw.root:
        top = top.parent
    row = top.start_point[0] + 1
    if DEV_STD.search(rw.source, top.start_byte):   # these redirections must be rewritten (see above)
        raise SkipProgram(f"syntax error at line {row} (tree-sitter-bash), before a /dev/stdout redirection")
    rw.stop_at(top.start_byte, f"tree-sitter-bash cannot parse line {row}")


def rewrite(rw: Rewrite) -> None:
    _stop_at_parse_error(rw)
    src = rw.source
    funcs = [n for _, n in rw.captures("functions")]
    func_names = {rw.text(f.child_by_field_name("name")) for f in funcs if f.child_by_field_name("name")}

    # --- scopes and the variables each one reports ----------------------------------------
    scopes = [_Scope(0, "<module>", rw.root)]
    scope_of_func = {}
    for f in funcs:
        body = f.child_by_field_name("body")
        if body is None or body.type not in ("compound_statement", "subshell") or _has_ancestor(f, OPAQUE):
            continue
        s = _Scope(len(scopes), rw.text(f.child_by_field_name("name")), f)
        scopes.append(s)
        scope_of_func[f.id] = s

    def scope_for(node) -> _Scope | None:
        """The scope whose code `node` is (a `$( )` runs its enclosing scope's code in a
        subshell); None inside functions that are not traced."""
        p = node.parent
        while p is not None:
            if p.type == "function_definition":
                return scope_of_func.get(p.id)
            p = p.parent
        return scopes[0]

    assigned_anywhere: set[str] = set()

    def note(node, name: str, assigned: bool) -> None:
        if not IDENT.fullmatch(name) or name in MAGIC or name.startswith("__ca_"):
            return
        s = scope_for(node)
        if s is None:
            return
        if assigned:
            assigned_anywhere.add(name)
            if name not in s.assigned:
                s.assigned.append(name)
        if name not in s.used:
            s.used.append(name)

    for cap, node in rw.captures("variables"):
        text = rw.text(node)
        if cap == "assigned":
            assignment = node.parent if node.parent.type == "variable_assignment" else node.parent.parent
            if assignment.type == "variable_assignment" and assignment.parent.type == "command":
                continue  # `NAME=value command`: set for that command only
            note(node, text, True)
        elif cap == "used":
            note(node, text, False)
        elif cap == "arith":
            note(node, text, True)
        elif cap == "command":
            name_node = node.child_by_field_name("name")
            name = rw.text(name_node) if name_node is not None else ""
            if name in ("shift", "set"):
                args = [rw.text(a) for a in node.children_by_field_name("argument")]
                if name == "shift" or (args and (args[0] == "--" or args[0][:1] not in "-+")):
                    owner = scope_for(node)
                    if owner is not None:
                        owner.shifts = True
                continue
            if name not in ASSIGNING_COMMANDS:
                continue
            args = [rw.text(a) for a in node.children_by_field_name("argument")]
            if name == "let":
                for a in args:
                    m = IDENT.match(a.strip("'\""))
                    if m:
                        note(node, m.group(0), True)
            elif name == "printf":
                if len(args) >= 2 and args[0] == "-v":
                    note(node, args[1], True)
            elif name == "getopts":
                if len(args) >= 2:
                    note(node, args[1], True)
            else:
                for a in args:
                    if not a.startswith("-"):
                        note(node, a, True)
                if name == "read" and "-a" in args:
                    i = args.index("-a")
                    if i + 1 < len(args):
                        note(node, args[i + 1], True)

    decls = []
    for s in scopes:
        names = [n for n in s.used if n in assigned_anywhere or n in IMPLICIT or n in s.assigned]
        body = "".join(   # __ca_K<frame>_<name>: the value last sent (see the prelude)
            f'if [[ ${{{n}[0]@a}} == *[aA]* ]]; then __ca_arr {n}; '
            f'elif [[ -v {n} ]]; then __ca_kn=__ca_K${{__ca_fr}}_{n}; '
            f'[[ ${{!__ca_kn-$\'\\1\'}} == "${n}" ]] || __ca_sc {n} "${n}"; fi; '
            for n in names)
        if s.shifts:
            body += '__ca_pos "$@"; '
        decls.append(f"__ca_v{s.index}() {{ {body or ':; '}}};")

    # --- probes --------------------------------------------------------------------------
    def line(node) -> int:
        return node.start_point[0] + 1

    def line_probe(at: int, lineno: int, s: _Scope, priority: int = 0) -> None:
        pid = rw.probe("line", lineno, s.name)
        args = ' "$@"' if s.shifts else ""
        rw.insert(at, f"__ca_l {pid} {s.index}{args} && :; ", priority)

    def is_loop(node) -> bool:
        if node.type == "redirected_statement":
            body = node.child_by_field_name("body")
            return body is not None and body.type in LOOPS
        return node.type in LOOPS

    def statements(block):
        kids = block.children
        if block.type == "compound_statement" and kids and kids[0].type == "((":
            return []
        start = 0
        opener = OPENERS.get(block.type)
        if opener:
            for i, c in enumerate(kids):
                if c.type == opener:
                    start = i + 1
                    break
            else:
                return []
        return [c for c in kids[start:] if c.is_named and c.type in STATEMENTS]

    def owner_line(block) -> int | None:
        """The line of the event that runs just before the block's first statement, if any.

        A statement on that same line gets no probe of its own: like Python's line events,
        one event per line reached (loop headers still report every iteration)."""
        parent = block.parent
        if block.type == "program" or parent is None or parent.type == "function_definition":
            return None
        if block.type == "else_clause":
            elifs = [c for c in parent.children if c.type == "elif_clause"]
            return line(elifs[-1] if elifs else parent)
        if block.type in ("if_statement", "elif_clause", "subshell", *OPAQUE) or (
                block.type == "compound_statement" and parent.type not in LOOPS):
            return line(block)
        if block.type == "case_item":
            return line(parent)
        return line(parent)

    first = None
    for _, block in rw.captures("blocks"):
        s = scope_for(block) if block.type != "program" else scopes[0]
        if s is None:
            continue
        parent = block.parent
        if parent is not None and parent.type == "function_definition" and parent.id not in scope_of_func:
            continue
        prev = owner_line(block)
        for st in statements(block):
            if block.type == "program" and (first is None or st.start_byte < first):
                first = st.start_byte
            same = line(st) == prev
            prev = line(st)
            if same or is_loop(st) or UNSAFE.search(rw.text(st)):
                continue
            line_probe(st.start_byte, line(st), s)

    if first is None:
        raise SkipProgram("no statements")
    rw.insert(first, f". ./{PRELUDE}; " + " ".join(decls) + " ", -10)

    for cap, node in rw.captures("loops"):
        s = scope_for(node)
        if s is None:
            continue
        if cap == "while":
            cond = node.child_by_field_name("condition")
            if cond is not None:
                line_probe(cond.start_byte, line(node), s)
        elif cap == "for":
            body = node.child_by_field_name("body")
            if body is not None and body.children:
                line_probe(body.children[0].end_byte, line(node), s, -5)
                rw.insert(body.children[0].end_byte, " ", -6)
        elif cap == "elif":
            kids = node.children
            if len(kids) > 1 and line(node) != line(node.parent):
                line_probe(kids[1].start_byte, line(node), s)

    for f in funcs:
        s = scope_of_func.get(f.id)
        if s is None:
            continue
        body = f.child_by_field_name("body")
        open_tok, close_tok = body.children[0], body.children[-1]
        cid = rw.probe("call", line(f), s.name)
        rw.insert(open_tok.end_byte, f' __ca_c {cid} {s.index} "$@" && :;', -20)
        rid = rw.probe("return", close_tok.start_point[0] + 1, s.name)
        sep = ""
        if body.type == "subshell":
            before = src[:close_tok.start_byte].rstrip(b" \t")
            if not before.endswith((b";", b"&", b"\n", b"(")):
                sep = "; "
        rw.insert(close_tok.start_byte, f"{sep}__ca_r {rid} && :; ", 20)

    for cap, node in rw.captures("returns"):
        if cap == "exit":
            rw.replace(node.start_byte, node.end_byte, f"{{ __ca_ex=1; {rw.text(node)}; }}")
            continue
        if cap != "return":
            continue
        p = node.parent
        owner = None
        while p is not None:
            if p.type in SUBSHELLS:
                break
            if p.type == "function_definition":
                owner = p
                break
            p = p.parent
        if owner is None or owner.id not in scope_of_func:
            continue
        s = scope_of_func[owner.id]
        args = " ".join(rw.text(a) for a in node.children_by_field_name("argument"))
        rid = rw.probe("return", line(node), s.name)
        rw.replace(node.start_byte, node.end_byte,
                   f"{{ __ca_r {rid}{' ' + args if args else ''} && :; return{' ' + args if args else ''}; }}")

    for _, node in rw.captures("substitutions"):
        kids = _kids(node)
        if len(kids) != 1 or kids[0].type != "command":
            continue
        name = kids[0].child_by_field_name("name")
        if name is None or rw.text(name) not in func_names:
            continue
        rw.insert(name.start_byte, "__ca_cap ")

    for _, node in rw.captures("redirects"):
        m = DEV_REDIRECT.match(rw.text(node))
        if m:
            fd = "1" if m.group(3) == "out" else "2"
            rw.replace(node.start_byte, node.end_byte, f"{m.group(1)}>&{fd}")
