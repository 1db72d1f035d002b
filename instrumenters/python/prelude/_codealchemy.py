"""CodeAlchemy's Python prelude: the probes an instrumented program calls.

The rewriter (instrumenters/python/rewrite.py) turns `main.py` into a program that imports this
module as `_ca_` and calls it on the lines of its statements. Records follow
codealchemy.tracer.wire: one TAB-separated line each, buffered, written with os.write on the fd
named by CODEALCHEMY_TRACE_FD. Without that variable every probe returns at once and the program
runs as it is.

Frames live on a stack (`_stack`), one entry per traced frame:
`[frame id, call probe, frame object or None, pending return, "\tframe\tdepth"]`; a line event
belongs to the frame on top. Frames an exception unwinds are popped when the exception is seen
again (an `except` clause, a `finally` block, a `with` exit, the uncaught-exception hook), from
its traceback; frames left through an exception that C code swallowed are popped by the next
line probe of another code (`_heal`). Generators keep their entry in the local `_ca_g` and push
it again at each resume.

Hot paths (the `l0`..`l4` line probes) avoid argument tuples, loops and writes to module
globals; mutable state lives in the slots of `_S`.
"""

import os as _os
import sys as _sys

_env = _os.environ.get
_fd = _env("CODEALCHEMY_TRACE_FD")
_on = _fd is not None
_fd = int(_fd) if _on else -1
_max_events = int(_env("CODEALCHEMY_MAX_EVENTS") or 100000)
_max_value = int(_env("CODEALCHEMY_MAX_VALUE") or 200)


class _State:
    """Mutable state in slots: writing module globals would make CPython 3.11 drop the
    specialized global lookups of every function in the module, probes included."""

    __slots__ = ("live", "n", "sfx", "next", "pc")


_S = _State()
_S.live = _on   # recording now: on, not inside a repr, under the event limit
_S.n = 0        # events recorded
_S.sfx = "\t0\t0"  # frame and depth fields of the frame on top
_S.pc = -1      # the call probe (the code) of the frame on top
_S.next = 1     # the next frame id
_buf = []
_append = _buf.append
_LP = {}      # line probe -> "l\tP"
_LNP = {}     # line probe -> ("\tname\t", ...)
_LF = {}      # line probe -> its record as a format string, for int values
_CF = {}      # call probe -> (its record as a format string for int arguments, count) or None
_SC = {}      # line probe -> call probe of its code
_MATCH = {}   # match statement -> line probes of its cases
_matched = {}  # match statement -> cases shown so far in its current run
_NA = {}      # call probe -> number of arguments and free variables
_stack = []
_getframe = _sys._getframe
_main_file = None
_prelude_file = __file__

# tables the instrumented module hands over in setup()
_LN = {}      # line probe -> names of the values it carries
_VN = []      # v index -> names
_CALL = {}    # call probe -> (argument names, free variable names)
_CLASS = {}   # first line of a class body -> (call probe, line probe, return probe)
_XBASE = {}   # call probe -> (first line, last line, first exception probe)

_SIMPLE = (int, str, float, bool, type(None))


def _hidden(v):
    """Modules, functions and classes are not shown (the oracle applies the same rule)."""
    t = type(v)
    if t in _SIMPLE:
        return False
    return isinstance(v, type) or t.__name__ in _HIDDEN_TYPES


_HIDDEN_TYPES = frozenset({"module", "function", "builtin_function_or_method", "method"})


def _esc(s):
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
        s = s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return s


def _repr(v):
    t = type(v)
    if t is int or t is bool or t is type(None) or t is float:
        s = repr(v)
        if len(s) > _max_value:
            s = s[:max(_max_value - 1, 0)] + "\u2026"
        return s
    _S.live = False
    try:
        s = _long_repr(v) if t in _CONTAINERS and len(v) > 32 else repr(v)
    except BaseException as e:  # a broken __repr__ must not break the program
        s = "<repr failed: %s>" % type(e).__name__
    finally:
        _S.live = _on
    if len(s) > _max_value:
        s = s[:max(_max_value - 1, 0)] + "\u2026"
    return _esc(s)


_CONTAINERS = {list: ("[", "]"), tuple: ("(", ")"), dict: ("{", "}"), set: ("{", "}")}


def _long_repr(v):
    """repr() of a long list/tuple/dict/set, built only as far as the value limit needs: the
    same text once cut (a million-element list must not cost a million reprs per line).
    k items give at least 3k - 2 characters, more than the limit."""
    t = type(v)
    k = _max_value // 3 + 2
    if len(v) <= k:
        return repr(v)
    if t is list or t is tuple:
        return repr(v[:k])
    if t is dict:
        import itertools
        return repr(dict(itertools.islice(v.items(), k)))
    import itertools
    return "{" + ", ".join(map(repr, itertools.islice(v, k))) + ", …}"


def _pairs(names, vals):
    out = []
    for n, v in zip(names, vals):
        if _hidden(v):
            continue
        out.append(n)
        out.append(_repr(v))
    return out


def _emit(rec):
    _buf.append(rec)
    if len(_buf) > 512:
        _flush()


def _flush():
    if _buf:
        data = ("\n".join(_buf) + "\n").encode("utf-8", "replace")
        _buf.clear()
        try:
            while data:
                n = _os.write(_fd, data)
                data = data[n:]
        except OSError:
            pass


# line probes count events and look at the limit (and flush) every _MASK + 1 events only: the host
# cuts the trace at the limit exactly, the prelude stops soon after it
_MASK = 4095
while _MASK and _MASK + 1 > _max_events:
    _MASK >>= 1


def _tick(k):
    if k >= _max_events:
        _stop()
    else:
        _flush()


def _count():
    """Count one event; False (and tracing off) once the limit is reached."""
    if _S.n >= _max_events:
        _stop()
        return False
    _S.n += 1
    return True


def _stop():
    global _on
    if _on:
        _buf.append("t\tmax_events")
        _on = _S.live = False
        _flush()


def _visible(d, skip=()):
    """Names and values of a namespace that the trace shows."""
    names, vals = [], []
    for k, v in list(d.items()):
        if k in skip or not k.isidentifier() or (k[:2] == "__" and k[-2:] == "__") or k.startswith("_ca_"):
            continue
        names.append(k)
        vals.append(v)
    return names, vals


# --- frames --------------------------------------------------------------------------------

def _push(pc, frame=None):
    fid = _S.next
    _S.next = fid + 1
    e = [fid, pc, frame, None, "\t%d\t%d" % (fid, len(_stack))]
    _stack.append(e)
    _S.sfx = e[4]
    _S.pc = pc
    return e


def _call_rec(e, pairs):
    if _count():
        _emit("c\t%d\t%d\t%d%s" % (e[1], e[0], len(_stack) - 1, "".join("\t" + p for p in pairs)))


def setup(tails, ln, vn, call, classes, xbase, module_probe, source=None, colmap=None, lscope=None,
          matches=None):
    global _main_file, _module_tails, _source, _colmap
    _source = source
    _colmap = colmap or {}
    _SC.update(lscope or {})
    _MATCH.update(matches or {})
    _main_file = _getframe(1).f_code.co_filename
    _module_tails = tails
    _LN.update(ln)
    _LNP.update({p: tuple("\t%s\t" % n for n in names) for p, names in ln.items()})
    _LP.update({p: "l\t%d" % p for p in ln})
    _LF.update({p: "l\t%d%%s" % p + "".join("\t%s\t%%d" % n for n in names) for p, names in ln.items()})
    _VN.extend(vn)
    _CALL.update(call)
    _NA.update({pc: len(a) + len(f) for pc, (a, f) in call.items()})
    _CF.update({pc: (("c\t%d\t%%d\t%%d" % pc + "".join("\t%s\t%%d" % n for n in a)), len(a)) if not f else None
                for pc, (a, f) in call.items()})
    _CLASS.update(classes)
    _XBASE.update(xbase)
    if not _on:
        return
    e = _push(module_probe)
    _call_rec(e, ())
    _install()


def c(p, *vals):
    """Function entry: push a frame, record the call with its arguments."""
    if not _S.live:
        return None
    return _enter(p, None, vals)


def _setsfx():
    """The frame and depth fields of the frame on top (kept ready for line records)."""
    if _stack:
        e = _stack[-1]
        _S.sfx, _S.pc = e[4], e[1]
    else:
        _S.sfx, _S.pc = "\t0\t0", -1


def l(p, *vals):  # noqa: E741
    """About to run the statement of line probe `p`; `vals` are the values it carries."""
    S = _S
    if not S.live:
        return None
    if _SC.get(p, S.pc) != S.pc:
        _heal(p)
    k = S.n = S.n + 1
    if k > _max_events:
        S.n = k - 1
        _stop()
        return None
    if vals:
        rec = _LP[p] + S.sfx
        for n, v in zip(_LNP[p], vals):
            t = type(v)
            if t is int:
                rec += n + repr(v)
            elif t in _SIMPLE or not _hidden(v):
                rec += n + _repr(v)
        _append(rec)
    else:
        _append(_LP[p] + S.sfx)
    if not k & 4095:
        _flush()
    return None


def _val(n, v):
    """`\tname\tvalue` for a line record, or nothing for a value the trace does not show."""
    t = type(v)
    if t is int:
        return n + repr(v)
    if t in _SIMPLE or not _hidden(v):
        return n + _repr(v)
    return ""


def _heal(p):
    """A line probe runs while another code's frame is on top: that frame left without a
    probe seeing it (an exception swallowed by C code: StopIteration from a traced __next__,
    hasattr on a raising property). Its `return` (unwound) is recorded now."""
    want = _SC.get(p)
    if want is None or not any(e[1] == want for e in _stack):
        return
    while _stack and _stack[-1][1] != want:
        e = _stack.pop()
        if _count():
            _emit("r\t%d\t%d\t%d" % (e[1], e[0], len(_stack)))
    _setsfx()


def _make_line_probes():
    """l0..l4: line probes for a fixed number of values (no argument tuple, no loop); when
    every value is an int, one precomputed format string renders the record."""
    out = {}
    for arity in range(5):
        args = "".join(", v%d" % i for i in range(arity))
        ints = " and ".join("type(v%d) is int" % i for i in range(arity)) or "True"
        slow = "".join(" + _val(n%d, v%d)" % (i, i) for i in range(arity))
        unpack = ("        %s, = _LNP[p]\n" % ", ".join("n%d" % i for i in range(arity))) if arity else ""
        src = (
            "def l%d(p%s):\n"
            "    S = _S\n"
            "    if S.live:\n"
            "        if _SC[p] != S.pc:\n"
            "            _heal(p)\n"
            "        k = S.n = S.n + 1\n"
            "        if %s:\n"
            "            _append(_LF[p] %% (S.sfx%s))\n"
            "        else:\n"
            "%s"
            "            _append(_LP[p] + S.sfx%s)\n"
            "        if not k & _MASK:\n"
            "            _tick(k)\n"
        ) % (arity, args, ints, args, unpack.replace("        ", "            ", 1), slow)
        exec(src, globals(), out)
        # uN: the same without the check (the statement before called nothing)
        check = "        if _SC[p] != S.pc:\n            _heal(p)\n"
        usrc = src.replace(check, "").replace("def l%d(" % arity, "def u%d(" % arity)
        exec(usrc, globals(), out)
        # lwN, lwuN: for a loop header that starts a function (it is the entry, too)
        head = "def l%d(p%s):\n    S = _S\n    if S.live:\n" % (arity, args)
        entry = ("def lw%d(p, pc%s, *args):\n    S = _S\n    if S.live:\n"
                 "        fr = _getframe(1)\n"
                 "        if _stack[-1][2] is not fr:\n"
                 "            _enter(pc, fr, args)\n" % (arity, args))
        exec(src.replace(head, entry), globals(), out)
        exec(src.replace(check, "").replace(head, entry.replace("def lw", "def lwu")), globals(), out)
    return out


globals().update(_make_line_probes())


def la(p, value):
    """A line event right after a value was computed (statements that span lines)."""
    l0(p)
    return value


def lw(p, pc, *vals):
    """The line probe of a loop header that starts a function, which is also the function's
    entry: `vals` are the values the probe carries, then the arguments and free variables."""
    if not _S.live:
        return None
    fr = _getframe(1)
    na = len(vals) - _NA[pc]
    if _stack[-1][2] is not fr:
        _enter(pc, fr, vals[na:])
    return l(p, *vals[:na])


def lwg(p, pc, *vals):
    """lw for a generator: returns the frame's entry (kept in the local `_ca_g`)."""
    if not _S.live:
        return None
    fr = _getframe(1)
    e = _stack[-1]
    na = _NA[pc]
    if e[2] is not fr:
        e = _enter(pc, fr, vals[:na])
    l(p, *vals[na:])
    return e


def _enter(pc, fr, vals):
    """Push a frame and record its call: `vals` are its arguments, then its free variables."""
    e = _push(pc, fr)
    if _S.n >= _max_events:
        _stop()
        return e
    _S.n += 1
    fmt = _CF[pc]
    if fmt is not None and len(vals) == fmt[1] and all(type(x) is int for x in vals):
        _append(fmt[0] % (e[0], len(_stack) - 1, *vals))
        return e
    argn, freen = _CALL[pc]
    na = len(argn)
    pairs = _pairs(argn, vals[:na])
    _append("c\t%d\t%d\t%d%s" % (pc, e[0], len(_stack) - 1, "".join("\t" + x for x in pairs)))
    if freen:
        pr = _pairs(freen, vals[na:])
        if pr:
            _emit("v\t%d\t%s" % (e[0], "\t".join(pr)))
    return e


def v(k, *vals):
    """Values of the variables a statement just set (shown at the frame's next event)."""
    if not _S.live or not _stack:
        return None
    rec = "v\t%d" % _stack[-1][0]
    for n, x in zip(_VN[k], vals):
        t = type(x)
        if t is int:
            rec += "\t" + n + "\t" + repr(x)
        elif t in _SIMPLE or not _hidden(x):
            rec += "\t" + n + "\t" + _repr(x)
    _append(rec)
    return None


def _ret(p, value, has_value=True):
    e = _stack.pop()
    S = _S
    if _stack:
        top = _stack[-1]
        S.sfx, S.pc = top[4], top[1]
    else:
        S.sfx, S.pc = "\t0\t0", -1
    k = S.n = S.n + 1
    if k > _max_events:
        S.n = k - 1
        _stop()
        return
    if has_value:
        _append("r\t%d\t%d\t%d\t%s" % (p, e[0], len(_stack), repr(value) if type(value) is int else _repr(value)))
    else:
        _append("r\t%d\t%d\t%d" % (p, e[0], len(_stack)))


def r(p, value=None):
    """`return value` at probe p's line."""
    if _S.live and _stack:
        _ret(p, value)
    return value


def rd(p, value=None):
    """A return inside `with`/`finally`: recorded when the frame really leaves (fin/with exit)."""
    if _S.live and _stack:
        _stack[-1][3] = (p, value)
    return value


def fin():
    """End of an outermost `finally` block enclosing a return: finish a pending return."""
    if _S.live and _stack:
        e = _stack[-1]
        if e[3] is not None and _sys.exc_info()[1] is None:
            p, value = e[3]
            e[3] = None
            _ret(p, value)
    return None


def fin0(p):
    """End of a `finally` block that ends a function: a pending return, else falling off."""
    if _S.live and _stack:
        e = _stack[-1]
        if e[3] is not None:
            fin()
        elif _sys.exc_info()[1] is None:
            _ret(p, None)
    return None


def r0(p):
    """Falling off the end of a function (returns None)."""
    if _S.live and _stack:
        _ret(p, None)
    return None


def e0(p, value=None):
    """Wrapper for a loop condition at the end of a function: returns at a false condition."""
    if value:
        return True
    if _S.live and _stack:
        _ret(p, None)
    return False


def n(*args):
    """Runs several probes where one expression fits; always None."""
    return None


def vd(k, d):
    """Values of names that may be unbound (rebound by other scopes), looked up in `d`."""
    if not _S.live or not _stack:
        return None
    names, vals = [], []
    for name in _VN[k]:
        if name in d:
            names.append(name)
            vals.append(d[name])
    pr = _pairs(names, vals)
    if pr:
        _emit("v\t%d\t%s" % (_stack[-1][0], "\t".join(pr)))
    return None


def m0(mid):
    """A match statement starts: no case tried yet."""
    _matched[mid] = 0
    return None


def mk(mid, k, vk, *vals):
    """The guard of case k runs (its pattern matched): the lines of the cases tried up to it,
    then the names the pattern bound (shown at the next event)."""
    if _S.live:
        probes = _MATCH.get(mid, ())
        for j in range(_matched.get(mid, 0), k + 1):
            if j < len(probes):
                l(probes[j])
        _matched[mid] = k + 1
        if vals:
            v(vk, *vals)
    return None


def mdone(mid):
    """A case matched: no more case lines for this run of the match statement."""
    _matched[mid] = len(_MATCH.get(mid, ()))
    return None


def mend(mid):
    """After a match statement: the lines of the cases tried when none matched."""
    if _S.live:
        probes = _MATCH.get(mid, ())
        for j in range(_matched.get(mid, len(probes)), len(probes)):
            l(probes[j])
    _matched[mid] = len(_MATCH.get(mid, ()))
    return None


_looping = set()  # (frame id, loop) of one-line while loops whose body ran


def w1a(key):
    """True when a one-line while loop starts (not at a test after its body)."""
    return not _stack or (_stack[-1][0], key) not in _looping


def w1b(key):
    """The body of a one-line while loop runs."""
    if _stack:
        _looping.add((_stack[-1][0], key))
    return None


def w1c(p, key, value):
    """The test of a one-line while loop: a true test after the body jumps back (an event)."""
    k = (_stack[-1][0], key) if _stack else None
    if value:
        if k in _looping:
            l(p)
        return True
    _looping.discard(k)
    return False


def w1r(key):
    """`break` out of a one-line while loop."""
    if _stack:
        _looping.discard((_stack[-1][0], key))
    return None


def vall(d):
    """Every visible variable of a namespace (after `from m import *`)."""
    if not _S.live or not _stack:
        return None
    names, vals = _visible(d)
    pr = _pairs(names, vals)
    if pr:
        _emit("v\t%d\t%s" % (_stack[-1][0], "\t".join(pr)))
    return None


_first = True


def first():
    global _first
    was, _first = _first, False
    return was


def d(deco, pre, post):
    """A decorator: line events around the moment it is applied."""
    def apply(f):
        for p in pre:
            l(p)
        res = deco(f)
        for p in post:
            l(p)
        return res
    return apply


# --- loops ---------------------------------------------------------------------------------

def it(p, iterable, pr=-1):
    """A `for` loop's iterable: a line event before every step but the first."""
    i = iter(iterable)
    nxt = i.__next__
    try:
        item = nxt()
    except StopIteration:
        if pr >= 0:
            r0(pr)
        return
    yield item
    while True:
        l(p)
        try:
            item = nxt()
        except StopIteration:
            break
        yield item
    if pr >= 0:
        r0(pr)


# --- with ----------------------------------------------------------------------------------

class w:
    """Wraps a context manager; the `with` line shows again when its block is left."""

    __slots__ = ("cm", "p", "fin", "pr", "exit")

    def __init__(self, p, cm, fin=0, pr=-1):
        self.cm = cm
        self.p = p
        self.fin = fin
        self.pr = pr
        self.exit = type(cm).__exit__

    def __enter__(self):
        return type(self.cm).__enter__(self.cm)

    def __exit__(self, et, ev, tb):
        if ev is not None:
            _observe(ev, _getframe(1))
        l(self.p)
        res = self.exit(self.cm, et, ev, tb)
        if ev is None or res:
            if _S.live and _stack and _stack[-1][3] is not None:
                if self.fin:
                    fin()
            elif self.pr >= 0:
                r0(self.pr)
        return res


# --- generators ----------------------------------------------------------------------------

def y(p, value=None, e=None):
    """A generator yields: its frame (entry `e`) returns `value` to the consumer."""
    if _S.live and _stack:
        if e is not None and _stack[-1] is not e:
            if not any(x is e for x in _stack):
                return value  # resumed by throw() and never seen again: nothing to close
            while _stack[-1] is not e:  # frames left without a probe seeing it
                x = _stack.pop()
                if _count():
                    _emit("r\t%d\t%d\t%d" % (x[1], x[0], len(_stack)))
        e = _stack.pop()
        _setsfx()
        if _count():
            _emit("r\t%d\t%d\t%d\t%s" % (p, e[0], len(_stack), _repr(value)))
    return value


def rs(e, sent=None):
    """A generator is resumed (after `yield`): its frame is called again."""
    if _S.live and e is not None:
        _resume(e, _getframe(1))
    return sent


def _resume(e, fr):
    e[4] = "\t%d\t%d" % (e[0], len(_stack))
    _stack.append(e)
    _setsfx()
    e[2] = fr
    argn, freen = _CALL[e[1]]
    loc = fr.f_locals
    _call_rec(e, _pairs(argn, [loc.get(n) for n in argn]))
    names, vals = _visible(loc)
    pr = _pairs(names, vals)
    if pr:
        _emit("v\t%d\t%s" % (e[0], "\t".join(pr)))


def yf(p, e, iterable):
    """`yield from`: the outer generator returns and is called again around each inner yield."""
    outer = _getframe(1)  # the generator that delegates
    inner = iter(iterable)
    send = None
    while True:
        try:
            value = inner.send(send) if send is not None else next(inner)
        except StopIteration as stop:
            return stop.value
        y(p, value)
        try:
            send = yield value
        except GeneratorExit:
            close = getattr(inner, "close", None)
            if close:
                close()
            raise
        except BaseException as exc:
            if _S.live and e is not None:
                _resume(e, outer)
            throw = getattr(inner, "throw", None)
            if throw is None:
                raise
            try:
                value = throw(exc)
            except StopIteration as stop:
                return stop.value
            y(p, value)
            send = yield value
        if _S.live and e is not None:
            _resume(e, outer)


# --- lambdas and comprehensions ------------------------------------------------------------

def lc(pc, pl, *vals):
    """A lambda starts: call, then its one line."""
    if _S.live:
        c(pc, *vals)
        l(pl)
    return None


def lr(p, value):
    if _S.live and _stack:
        _ret(p, value)
    return value


class ci:
    """The outermost iterable of a list/set/dict comprehension (its frame's call and lines)."""

    __slots__ = ("i", "pc", "pl", "t", "first", "pf", "free")

    def __init__(self, pc, pl, t, iterable, pf=-1, *free):
        self.i = iter(iterable)
        self.pc = pc
        self.pl = pl
        self.t = t
        self.first = True
        self.pf = pf
        self.free = free

    def __iter__(self):
        return self

    def __next__(self):
        if self.first:
            self.first = False
            if _S.live:
                e = _push(self.pc)
                _call_rec(e, ())
                if self.free:
                    pr = _pairs(_CALL[self.pc][1], self.free)
                    if pr:
                        _emit("v\t%d\t%s" % (e[0], "\t".join(pr)))
                l(self.pl)
        elif _S.live:
            _comp_line(self.pl)
        item = next(self.i)
        if _S.live:
            if self.pf >= 0:
                l(self.pf)
            _comp_vals(self.t, item)
        return item


class ci2:
    """An inner `for` of a comprehension."""

    __slots__ = ("i", "pl", "t", "first")

    def __init__(self, pl, t, iterable):
        self.i = iter(iterable)
        self.pl = pl
        self.t = t
        self.first = True

    def __iter__(self):
        return self

    def __next__(self):
        if self.first:
            self.first = False
        elif _S.live:
            _comp_line(self.pl)
        item = next(self.i)
        if _S.live:
            _comp_vals(self.t, item)
        return item


_NOTHING = object()


def _comp_vals(t, item):
    if not _stack:
        return
    names, vals = [], []
    _unpack(t, item, names, vals)
    pr = _pairs(names, vals)
    if pr:
        _emit("v\t%d\t%s" % (_stack[-1][0], "\t".join(pr)))


def _unpack(t, item, names, vals):
    if t is None:
        return
    if isinstance(t, str):
        names.append(t)
        vals.append(item)
        return
    try:
        items = list(item)
    except Exception:
        return
    if len(items) != len(t):
        return
    for sub, x in zip(t, items):
        _unpack(sub, x, names, vals)


def _comp_line(p):
    l(p)


def cr(p, value):
    """A comprehension finished: its frame returns the built value."""
    if _S.live and _stack and _stack[-1][1] != -1:
        _ret(p, value)
    return value


class gi:
    """The outermost iterable of a generator expression: its frame is called at each resume."""

    __slots__ = ("i", "pc", "pl", "pr", "t", "e", "suspended", "last", "free", "pf")

    def __init__(self, pc, pl, pr, t, iterable, pf=-1, *free):
        self.free = free
        self.pf = pf
        self.i = iter(iterable)
        self.pc = pc
        self.pl = pl
        self.pr = pr
        self.t = t
        self.e = None
        self.suspended = True
        self.last = _NOTHING

    def __iter__(self):
        return self

    def __next__(self):
        if _S.live:
            if self.suspended:
                self.suspended = False
                if self.e is None:
                    self.e = _push(self.pc, self)
                else:
                    self.e[4] = "\t%d\t%d" % (self.e[0], len(_stack))
                    _stack.append(self.e)
                    _setsfx()
                _call_rec(self.e, ())
                if self.free:
                    pr = _pairs(_CALL[self.pc][1], self.free)
                    if pr:
                        _emit("v\t%d\t%s" % (self.e[0], "\t".join(pr)))
                if self.last is not _NOTHING:
                    _comp_vals(self.t, self.last)
            l(self.pl)
        try:
            item = next(self.i)
        except StopIteration:
            if _S.live and _stack and _stack[-1] is self.e:
                _ret(self.pr, None)
            raise
        if _S.live:
            if self.pf >= 0:
                l(self.pf)
            _comp_vals(self.t, item)
            self.last = item
        return item

    def y(self, value):
        if _S.live and _stack and _stack[-1] is self.e:
            self.suspended = True
            y(self.pr, value)
        return value


def gy(p, value):
    """The element a generator expression yields."""
    if _S.live and _stack:
        g = _stack[-1][2]
        if type(g) is gi:
            return g.y(value)
    return value


# --- classes -------------------------------------------------------------------------------

def _build_class(func, name, *bases, **kw):
    code = getattr(func, "__code__", None)
    info = _CLASS.get(code.co_firstlineno) if code is not None and code.co_filename == _main_file else None
    if info is None or not _S.live:
        return _orig_build_class(func, name, *bases, **kw)
    pc, pl, pr, tails = info
    e = _push(pc)
    _call_rec(e, ())
    l(pl)
    # the body's frame returns before the metaclass runs (its __new__, __init_subclass__)
    try:
        import types
        meta = kw.pop("metaclass", type)
        if isinstance(meta, type):
            meta = types._calculate_meta(meta, types.resolve_bases(bases))
        kw["metaclass"] = _Meta(meta, e, pr, tails)
    except Exception:
        pass
    cls = _orig_build_class(func, name, *bases, **kw)
    if _stack and _stack[-1] is e:
        _tails(tails, getattr(cls, "__dict__", {}))
        _ret(pr, None)
    return cls


class _Meta:
    """Stands for a class's metaclass: the class body's frame returns, then the real one runs."""

    def __init__(self, meta, e, pr, tails):
        self.meta, self.e, self.pr, self.tails = meta, e, pr, tails

    def __prepare__(self, name, bases, **kw):
        prepare = getattr(self.meta, "__prepare__", None)
        return prepare(name, bases, **kw) if prepare is not None else {}

    def __call__(self, name, bases, ns, **kw):
        if _S.live and _stack and _stack[-1] is self.e:
            _tails(self.tails, ns)
            _ret(self.pr, ns.get("__classcell__"))
        return self.meta(name, bases, ns, **kw)


def kenter(first):
    """Enter a class body the __build_class__ hook could not see (it imported the prelude)."""
    info = _CLASS.get(first)
    if not _S.live or info is None or (_stack and _stack[-1][1] == info[0]):
        return None
    e = _push(info[0])
    _call_rec(e, ())
    l(info[1])
    return None


def kpop(first, cls):
    """Leave that class body (run by the statement after the class)."""
    info = _CLASS.get(first)
    if not _S.live or info is None:
        return None
    kenter(first)
    if _stack and _stack[-1][1] == info[0]:
        _tails(info[3], getattr(cls, "__dict__", {}))
        _ret(info[2], None)
    return None


def _tails(tails, ns):
    """Line events of definitions that end a class body or the module."""
    for p, names in tails:
        l(p, *[ns.get(n) for n in names])


# --- exceptions ----------------------------------------------------------------------------

_seen = {}  # id(exception) -> [exception, traced frames reported, frames popped]


def _traced(tb):
    out = []
    while tb is not None:
        f = tb.tb_frame
        if f.f_code.co_filename == _main_file:
            out.append(tb)
        tb = tb.tb_next
    return out


def _xprobe(e, line):
    info = _XBASE.get(e[1])
    if info is None:
        return e[1]
    first, last, base = info
    if first <= line <= last:
        return base + line - first
    return e[1]


def _observe(exc, here, unwind_all=False):
    """Report `exc` in every traced frame it passed through since it was last seen."""
    if not _S.live or not _stack or exc is None:
        return
    chain = _traced(exc.__traceback__)
    seen = _seen.get(id(exc))
    if seen is None:
        # a generator that throw() resumed and that let the exception out was never pushed:
        # its call, exception and unwinding return, apart from the stack
        for tb in reversed(chain):
            f = tb.tb_frame
            if f is here or not f.f_code.co_flags & 0x20:
                break
            e = f.f_locals.get("_ca_g")
            if type(e) is not list or any(x is e for x in _stack):
                break
            chain.remove(tb)
            if _count():
                _emit("c\t%d\t%d\t%d" % (e[1], e[0], len(_stack)))
            if _count():
                _emit("x\t%d\t%d\t%d\t%s\t%s" % (_xprobe(e, tb.tb_lineno), e[0], len(_stack),
                                                 _esc(type(exc).__name__), _msg(exc)))
            if _count():
                _emit("r\t%d\t%d\t%d" % (_xprobe(e, tb.tb_lineno), e[0], len(_stack)))
    if seen is None or seen[0] is not exc:
        seen = _seen[id(exc)] = [exc, 0, 0]
    m = len(chain)
    keep = 0 if unwind_all else 1  # the observing frame stays
    start = min(seen[1], seen[2])
    for i in range(start, m):
        tb = chain[m - 1 - i]
        if not _stack:
            break
        e = _stack[-1]
        if i >= seen[1] and _count():
            _emit("x\t%d\t%d\t%d\t%s\t%s" % (_xprobe(e, tb.tb_lineno), e[0], len(_stack) - 1,
                                             _esc(type(exc).__name__), _msg(exc)))
        if i >= seen[2] and i < m - keep:
            _stack.pop()
            _setsfx()
            if _count():
                _emit("r\t%d\t%d\t%d" % (_xprobe(e, tb.tb_lineno), e[0], len(_stack)))
    seen[1] = max(seen[1], m)
    seen[2] = max(seen[2], m - keep)


def _msg(exc):
    _S.live = False
    try:
        s = str(exc)
    except BaseException:
        s = ""
    finally:
        _S.live = _on
    if len(s) > _max_value:
        s = s[:max(_max_value - 1, 0)] + "\u2026"
    return _esc(s)


def ex():
    """Entry of an `except` clause or a `finally` block: see the exception being handled."""
    if _S.live:
        exc = _sys.exc_info()[1]
        if exc is not None:
            here = _getframe(1)
            if here.f_code.co_flags & 0x20:  # a generator: throw() resumes it without a probe
                e = here.f_locals.get("_ca_g")
                if type(e) is list and not any(x is e for x in _stack):
                    _resume(e, here)
            _observe(exc, here)
    return None


def _excepthook(et, ev, tb):
    if _on:
        _observe(ev, None, unwind_all=True)
        _flush()
    if tb is not None:
        ev.__traceback__ = _strip(tb)
        tb = ev.__traceback__
    try:
        text = _original_traceback(et, ev, tb)
    except Exception:
        text = None
    if text is None:
        _orig_excepthook(et, ev, tb)
    else:
        _sys.stderr.write(text)
        _sys.stderr.flush()


def _original_traceback(et, ev, tb):
    """The traceback as the untraced program prints it: its own source lines and columns."""
    if _source is None or _main_file is None:
        return None
    import linecache
    import traceback
    orig = _source.splitlines(True)
    te = traceback.TracebackException(et, ev, tb, compact=True)
    seen = set()
    todo = [te]
    while todo:
        t = todo.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        for fs in t.stack:
            if fs.filename != _main_file or not fs.lineno or fs.lineno > len(orig):
                continue
            new = linecache.getline(fs.filename, fs.lineno)
            old = orig[fs.lineno - 1]
            if fs.colno is not None and fs.end_colno is not None and fs.end_lineno == fs.lineno:
                fs.colno = _map_col(new, old, fs.lineno, fs.colno)
                fs.end_colno = _map_col(new, old, fs.lineno, fs.end_colno)
            else:
                fs.colno = fs.end_colno = None
            fs._line = old
        for nxt in (t.__cause__, t.__context__):
            if nxt is not None:
                todo.append(nxt)
    return "".join(te.format())


def _map_col(new, old, lineno, col):
    """A byte column of the instrumented line, as a byte column of the original line."""
    inserts = _colmap.get(lineno, ())
    known = sum(n for _, n in inserts if n >= 0)
    setup = len(new.encode("utf-8")) - len(old.encode("utf-8")) - known
    shift = 0
    for c, n in inserts:
        n = setup if n < 0 else n
        pos = c + shift
        if col < pos:
            break
        if col < pos + n:
            return c
        shift += n
    return col - shift


def _strip(tb):
    """The traceback without the prelude's own frames."""
    frames = []
    while tb is not None:
        if tb.tb_frame.f_code.co_filename != _prelude_file:
            frames.append(tb)
        tb = tb.tb_next
    nxt = None
    for t in reversed(frames):
        t.tb_next = nxt
        nxt = t
    return nxt


def _atexit():
    if _on and len(_stack) == 1 and _module_tails:
        main = _sys.modules.get("__main__")
        _tails(_module_tails, getattr(main, "__dict__", {}))
    if _on:
        while _stack:
            e = _stack.pop()
            _setsfx()
            if _count():
                _emit("r\t%d\t%d\t%d%s" % (e[1], e[0], len(_stack), "\tNone" if not _stack else ""))
    _flush()


# --- output --------------------------------------------------------------------------------

class _Out:
    """sys.stdout/sys.stderr: every write also becomes an `o` record, in order with events."""

    def __init__(self, stream, n):
        object.__setattr__(self, "_s", stream)
        object.__setattr__(self, "_n", n)

    def write(self, text):
        if _on and isinstance(text, str) and text:
            _emit("o\t%s\t%s" % (self._n, _esc(text)))
        return self._s.write(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def __getattr__(self, name):
        return getattr(self._s, name)

    def __setattr__(self, name, value):
        setattr(self._s, name, value)


def _install():
    global _orig_build_class, _orig_excepthook
    import atexit
    import builtins
    _orig_build_class = builtins.__build_class__
    builtins.__build_class__ = _build_class
    _orig_excepthook = _sys.excepthook
    _sys.excepthook = _excepthook
    atexit.register(_atexit)
    _sys.stdout = _Out(_sys.stdout, 1)
    _sys.stderr = _Out(_sys.stderr, 2)


_orig_build_class = None
_orig_excepthook = None
_module_tails = ()
_source = None
_colmap = {}
