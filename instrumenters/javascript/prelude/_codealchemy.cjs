// CodeAlchemy prelude for JavaScript (node). Loaded by the instrumented main.js with
// require("./_codealchemy.cjs") (CommonJS) or `import __ca from "./_codealchemy.cjs"` (ES modules).
// It speaks the trace channel protocol of codealchemy/tracer/wire.py: one record per line,
// TAB-separated fields, written with fs.writeSync to the fd named by CODEALCHEMY_TRACE_FD.
// Without that variable every probe is a no-op that still returns what it must.
'use strict';

const fs = require('fs');
const util = require('util');

// Built-ins the prelude relies on, taken before the program can replace them (a program that
// patches Array.prototype.push or Object.keys must not run inside the tracer).
const {
  keys: ObjectKeys, getOwnPropertyDescriptor: ownDesc, getPrototypeOf: protoOf,
  getOwnPropertySymbols: ownSymbols, create: objCreate, defineProperty: defProp, is: same,
} = Object;
const isArray = Array.isArray;
function add(a, x) {
  a[a.length] = x;
}
function copy(a) {
  const c = new Array(a.length);
  for (let i = 0; i < a.length; i++) c[i] = a[i];
  return c;
}
// util.inspect itself calls some array methods (ctx.seen.push): while it renders, a program's
// replacements of them are set aside.
const ARRAY = Array.prototype;
const ARRAY_METHODS = ['push', 'pop', 'includes', 'indexOf', 'join', 'slice', 'splice', 'shift',
  'unshift', 'concat', 'map', 'filter', 'forEach', 'sort', 'reduce', 'some', 'every', 'fill'];
const ARRAY_ORIG = ARRAY_METHODS.map((k) => ARRAY[k]);

function unpatch() {
  let saved = null;
  for (let i = 0; i < ARRAY_METHODS.length; i++) {
    const cur = ARRAY[ARRAY_METHODS[i]];
    if (cur !== ARRAY_ORIG[i]) {
      if (saved === null) saved = [];
      saved[saved.length] = i;
      saved[saved.length] = cur;
      ARRAY[ARRAY_METHODS[i]] = ARRAY_ORIG[i];
    }
  }
  return saved;
}

function repatch(saved) {
  for (let j = 0; j < saved.length; j += 2) ARRAY[ARRAY_METHODS[saved[j]]] = saved[j + 1];
}

const env = process.env;
const FD = env.CODEALCHEMY_TRACE_FD ? parseInt(env.CODEALCHEMY_TRACE_FD, 10) : NaN;
const MAX_EVENTS = parseInt(env.CODEALCHEMY_MAX_EVENTS || '100000', 10) || 100000;
const MAX_VALUE = parseInt(env.CODEALCHEMY_MAX_VALUE || '200', 10) || 200;
// The program must not see the tracer's settings (stdout stays identical to an untraced run).
delete env.CODEALCHEMY_TRACE_FD;
delete env.CODEALCHEMY_MAX_EVENTS;
delete env.CODEALCHEMY_MAX_VALUE;

let REC = Number.isInteger(FD) && FD >= 0; // recording events and output
let events = 0;
let buf = [];
let bufLen = 0;
let direct = false; // after the exit flush, every record is written at once
const FLUSH_AT = 1 << 16;

function flush() {
  if (!buf.length) return;
  let text = '';
  for (let i = 0; i < buf.length; i++) text += buf[i];
  const data = Buffer.from(text, 'utf8');
  buf = [];
  bufLen = 0;
  let off = 0;
  try {
    while (off < data.length) off += fs.writeSync(FD, data, off, data.length - off);
  } catch (e) {
    REC = false; // channel gone (closed, file size limit): run on untraced
  }
}

function put(record) {
  add(buf, record);
  add(buf, '\n');
  bufLen += record.length + 1;
  if (direct || bufLen >= FLUSH_AT) flush();
}

function esc(s) {
  if (!/[\\\t\n\r]/.test(s)) return s;
  return s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

// An event record (c/l/r/x); false once the event limit is reached.
function event(record) {
  if (!REC) return false; // the limit was reached while this record was being made
  if (events >= MAX_EVENTS) {
    put('t\tmax_events');
    REC = false;
    flush();
    return false;
  }
  events++;
  put(record);
  return true;
}

const T = util.types;
// Entries of a container that can show within MAX_VALUE characters (see trim below).
const K = Math.ceil(MAX_VALUE / 3) + 2;

const INSPECT = {
  depth: 2, breakLength: Infinity, compact: true, maxArrayLength: K, maxStringLength: MAX_VALUE,
  customInspect: false, getters: false, showProxy: false,
};

const TIMERS = new Set(['Timeout', 'Immediate', 'TimersList']);

function cut(s) {
  if (s.length <= MAX_VALUE) return s;
  let n = Math.max(MAX_VALUE - 1, 0);
  const c = s.charCodeAt(n - 1);
  if (c >= 0xd800 && c <= 0xdbff) n--; // never split a surrogate pair
  return s.slice(0, n) + '\u2026';
}

function render(v) {
  let saved = null;
  try {
    saved = unpatch();
  } catch (e) { /* read-only replacements: rendered as they are */ }
  try {
    return renderRaw(v);
  } finally {
    if (saved !== null) repatch(saved);
  }
}

function renderRaw(v) {
  let s;
  try {
    if (v !== null && typeof v === 'object' && util.types.isProxy(v)) {
      s = util.inspect(v, INSPECT); // the target, without running traps
    } else if (v !== null && typeof v === 'object' && util.types.isNativeError(v)) {
      s = '[' + errorType(v) + ': ' + String(v.message) + ']';
    } else if (v !== null && typeof v === 'object' && TIMERS.has(errorType(v))) {
      s = errorType(v) + ' {}'; // timer handles hold clock readings: never deterministic
    } else {
      const t = trim(v, 0, new Map(), { left: K });
      s = util.inspect(t, INSPECT);
      if (t !== v && (T.isMap(v) || T.isSet(v))) s = s.replace(/^(<ref \*\d+> )?(Map|Set)\(\d+\)/, '$1$2(' + v.size + ')');
    }
  } catch (e) {
    s = '<unrenderable>';
  }
  return cut(s);
}

// Rendering is cut at MAX_VALUE characters, and every entry of a container (element,
// property, map entry) renders to at least three characters (itself and the ", " or "{ "
// before it), so in rendering (depth-first) order only the first K entries can ever show.
// trim() renders a copy holding just those (accessors copied, never called): util.inspect's
// cost is bounded by MAX_VALUE instead of by the size of the data.
function exotic(v) {
  if (typeof v === 'function') return false;
  const proto = protoOf(v);
  if (proto === Object.prototype || proto === Array.prototype || proto === null) return false;
  return T.isPromise(v) || T.isDate(v) || T.isRegExp(v) || T.isTypedArray(v) || T.isAnyArrayBuffer(v)
    || T.isBoxedPrimitive(v) || T.isNativeError(v) || T.isWeakMap(v) || T.isWeakSet(v)
    || T.isDataView(v) || T.isGeneratorObject(v) || T.isModuleNamespaceObject(v)
    || T.isMapIterator(v) || T.isSetIterator(v) || T.isExternal(v) || T.isArgumentsObject(v);
}

// Maps and Sets show their size in their header, so a copy keeps every entry (entries past
// the budget with emptied values); bigger ones are rendered as they are.
const COPY_MAX = 4 * K;

function trim(v, depth, memo, budget) {
  if (v === null || typeof v !== 'object') return v;
  if (memo.has(v)) return memo.get(v); // before the depth limit: cycles show past it
  if (depth > INSPECT.depth || T.isProxy(v)) return v;
  const proto = protoOf(v);
  let c;
  if (T.isMap(v) || T.isSet(v)) {
    const map = T.isMap(v);
    if (proto !== (map ? Map.prototype : Set.prototype)) return v;
    if (depth > 0 && v.size > COPY_MAX) return v;
    c = map ? new Map() : new Set();
    memo.set(v, c);
    const it = map ? Map.prototype.entries.call(v) : Set.prototype.values.call(v);
    for (let r = it.next(); !r.done; r = it.next()) {
      if (budget.left <= 0 && (depth === 0 || c.size >= v.size)) break;
      budget.left--;
      if (map) c.set(trim(r.value[0], depth + 1, memo, budget), trim(r.value[1], depth + 1, memo, budget));
      else c.add(trim(r.value, depth + 1, memo, budget));
    }
  } else if (isArray(v)) {
    if (proto !== Array.prototype) return v;
    if (v.length <= K && ObjectKeys(v).length !== v.length) return v; // holes, extra keys
    c = [];
    memo.set(v, c);
    for (let i = 0; i < v.length && budget.left > 0; i++) {
      budget.left--;
      const d = ownDesc(v, i);
      if (d === undefined || !('value' in d)) { memo.set(v, v); return v; } // holes, accessors
      add(c, trim(d.value, depth + 1, memo, budget));
    }
  } else if (!exotic(v)) {
    c = objCreate(proto);
    memo.set(v, c);
    const own = ownDesc(v, 'constructor');
    if (own !== undefined && !own.enumerable) defProp(c, 'constructor', own);
    const keys = ObjectKeys(v);
    for (let i = 0; i < keys.length && budget.left > 0; i++) {
      budget.left--;
      const d = ownDesc(v, keys[i]);
      if (d === undefined) continue;
      if ('value' in d) d.value = trim(d.value, depth + 1, memo, budget);
      defProp(c, keys[i], d);
    }
    if (budget.left > 0) {
      for (const sym of ownSymbols(v)) {
        const d = ownDesc(v, sym);
        if (d && d.enumerable) defProp(c, sym, d);
      }
    }
  } else {
    return v;
  }
  return c;
}

// The constructor's name without running program code (no getters, no proxy traps).
function errorType(e) {
  if (e === null || (typeof e !== 'object' && typeof e !== 'function')) return typeof e;
  try {
    if (util.types.isProxy(e)) return 'Proxy';
    const proto = protoOf(e);
    if (proto === null) return 'Object';
    const d = ownDesc(proto, 'constructor');
    const name = d && typeof d.value === 'function' ? d.value.name : undefined;
    if (typeof name === 'string' && name) return name;
  } catch (err) { /* exotic object */ }
  return typeof e === 'function' ? 'Function' : 'Object';
}

function errorMessage(e) {
  try {
    if (e !== null && typeof e === 'object' && !util.types.isProxy(e)) {
      const d = ownDesc(e, 'message');
      if (d && 'value' in d) return cut(String(d.value));
      if (util.types.isNativeError(e)) return '';
    }
  } catch (err) { /* exotic object */ }
  return render(e);
}

// --- frames ------------------------------------------------------------------------------

const stack = [];
let nextId = 2;

function Frame(id, probe) {
  this.id = id;
  this.probe = probe; // the probe of the statement running now (its line)
  this.depth = 0;
  this.on = false; // on the stack (not suspended at an await/yield)
  this.seen = new Map(); // name -> rendered value last reported
  this.raw = new Map(); // name -> {v, fp}: the value last rendered and its fingerprint
  this.returned = false;
  this.rprobe = probe;
  this.rvalue = 'undefined';
  this.threw = false;
  this.exc = undefined;
  this.excAt = -1;
  this.lines = 0; // line events so far
  this.done = false;
}

function push(f) {
  f.depth = stack.length;
  add(stack, f);
  f.on = true;
}

function pop(f) {
  if (!f.on) return;
  f.on = false;
  let i = stack.length - 1;
  while (i >= 0 && stack[i] !== f) i--;
  if (i < 0) return;
  for (; i < stack.length - 1; i++) stack[i] = stack[i + 1];
  stack.length--;
}

function head(kind, p, f) {
  return kind + '\t' + p + '\t' + f.id + '\t' + f.depth;
}

// A shallow fingerprint of what util.inspect shows of v (identities and primitive values down
// to the depth it renders), so an unchanged object is not rendered again at every event.
// false where that cannot be known cheaply or without running program code (proxies,
// promises, dates, typed arrays, big or symbol-keyed objects): those are always rendered.
const FP_MAX = 4096;
const HOLE = Symbol('hole');

function fp(v, depth, out, budget) {
  if (out.length > FP_MAX) return false;
  add(out, v);
  if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return true;
  if (depth > INSPECT.depth) return true;
  if (T.isProxy(v)) return false;
  add(out, protoOf(v));
  if (T.isMap(v) || T.isSet(v)) {
    add(out, v.size);
    const map = T.isMap(v);
    const it = map ? Map.prototype.entries.call(v) : Set.prototype.values.call(v);
    for (;;) {
      const r = it.next();
      if (r.done || budget.left <= 0) break;
      budget.left--;
      if (map ? !(fp(r.value[0], depth + 1, out, budget) && fp(r.value[1], depth + 1, out, budget))
        : !fp(r.value, depth + 1, out, budget)) return false;
    }
  } else if (isArray(v)) {
    // elements only (extra named properties of arrays are not watched)
    add(out, v.length);
    for (let i = 0; i < v.length && budget.left > 0; i++) {
      budget.left--;
      const d = ownDesc(v, i);
      if (d === undefined) add(out, HOLE);
      else if ('value' in d) { if (!fp(d.value, depth + 1, out, budget)) return false; } else (add(out, d.get), add(out, d.set));
    }
    return true;
  } else if (exotic(v)) {
    return false;
  }
  if (ownSymbols(v).length) return false;
  const keys = ObjectKeys(v);
  add(out, keys.length);
  for (let i = 0; i < keys.length && budget.left > 0; i++) {
    budget.left--;
    const d = ownDesc(v, keys[i]);
    add(out, keys[i]);
    if (d === undefined) add(out, undefined);
    else if ('value' in d) { if (!fp(d.value, depth + 1, out, budget)) return false; } else (add(out, d.get), add(out, d.set));
  }
  return true;
}

function sameFp(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!same(a[i], b[i])) return false;
  return true;
}

const scratch = [];
const budgetBox = { left: 0 };

// The fingerprint of v in a reused array (no garbage for unchanged values), or null.
function fingerprint(v) {
  scratch.length = 0;
  budgetBox.left = K;
  try {
    return fp(v, 0, scratch, budgetBox) ? scratch : null;
  } catch (e) {
    return null;
  }
}

// Appends the NAME VALUE pairs of args[from..] whose rendering changed since the frame's
// previous event (the host keeps exactly those too).
function pairs(f, args, from) {
  let out = '';
  for (let i = from; i + 1 < args.length; i += 2) {
    const name = args[i];
    const v = args[i + 1];
    const prim = v === null || (typeof v !== 'object' && typeof v !== 'function');
    const prev = f.raw.get(name);
    let print = null;
    if (prev !== undefined && same(prev.v, v)) {
      if (prim) continue;
      if (prev.fp !== null) {
        print = fingerprint(v);
        if (print !== null && sameFp(print, prev.fp)) continue;
      }
    }
    if (!prim && print === null) print = fingerprint(v);
    const s = render(v);
    f.raw.set(name, { v, fp: print === null ? null : copy(print) });
    if (f.seen.get(name) === s) continue;
    f.seen.set(name, s);
    out += '\t' + esc(name) + '\t' + esc(s);
  }
  return out;
}

// call: a function frame starts; the rest of the arguments are NAME, VALUE pairs.
function enter(p) {
  const f = new Frame(nextId++, p);
  if (!REC) return f;
  push(f);
  event(head('c', p, f) + pairs(f, arguments, 1));
  return f;
}

// line: about to run the statement of probe p; the rest are candidate variables.
function l(f, p) {
  if (!REC) return;
  if (!f.on) push(f);
  f.probe = p;
  f.lines++;
  event(head('l', p, f) + pairs(f, arguments, 2));
}

// `return X` runs ret(f, p, X): the r record is written when the frame is left.
function ret(f, p, v) {
  if (REC) {
    f.returned = true;
    f.threw = false;
    f.rprobe = p;
    f.rvalue = render(v);
  }
  return v;
}

// ret and leave at once (functions traced without the try/finally wrapper).
function retl(f, p, v) {
  ret(f, p, v);
  leave(f);
  return v;
}

function raise(f, e) {
  if (!f.on) push(f);
  f.exc = e;
  f.excAt = f.lines;
  event(head('x', f.probe, f) + '\t' + esc(errorType(e)) + '\t' + esc(errorMessage(e)));
}

// An exception reached a catch clause of the program in frame f (not reported again when
// nothing ran in the frame since it was: nested try blocks).
function x(f, e) {
  if (!REC || (f.exc === e && f.excAt === f.lines)) return;
  raise(f, e);
}

// An exception leaves frame f (the wrapper's catch); not reported twice for one frame.
function xw(f, e) {
  if (!REC) return;
  f.threw = true;
  f.returned = false;
  if (f.exc !== e) raise(f, e);
}

// The frame ends (the wrapper's finally): a return value, or none when it unwound.
function leave(f) {
  if (!REC || f.done) return;
  f.done = true;
  if (!f.on) push(f);
  if (f.threw) event(head('r', f.probe, f));
  else if (f.returned) event(head('r', f.rprobe, f) + '\t' + esc(f.rvalue));
  else event(head('r', f.probe, f) + '\tundefined');
  pop(f);
}

// `await X` becomes `await sus(f, X)`: the frame leaves the stack while it waits; its next
// probe puts it back.
function sus(f, v) {
  if (REC) pop(f);
  return v;
}

// `for await (x of X)` iterates ait(f, X): the frame leaves the stack whenever the loop asks
// for the next value (and awaits it). Anything but an async iterable is passed through.
function ait(f, x) {
  let get;
  try {
    get = x == null ? undefined : x[Symbol.asyncIterator];
  } catch (e) {
    return x;
  }
  if (typeof get !== 'function') return x;
  return {
    [Symbol.asyncIterator]() {
      const it = get.call(x);
      if (it === null || (typeof it !== 'object' && typeof it !== 'function')) return it;
      const wrapped = {
        next(v) {
          const r = it.next(v);
          if (REC) pop(f);
          return r;
        },
      };
      if (typeof it.return === 'function') wrapped.return = (v) => it.return(v);
      return wrapped;
    },
  };
}

// `yield X` becomes `res(f, pc, yield yld(f, pr, X))`: a generator frame returns the yielded
// value and is called again when resumed (like Python's settrace).
function yld(f, p, v) {
  if (REC) {
    if (!f.on) push(f);
    event(head('r', p, f) + '\t' + esc(render(v)));
    pop(f);
  }
  return v;
}

function res(f, p, v) {
  if (REC) {
    if (!f.on) push(f);
    f.seen.clear();
    f.raw.clear();
    event(head('c', p, f));
  }
  return v;
}

// --- the module frame ----------------------------------------------------------------------

let main = null;

function module_(p) {
  const f = new Frame(1, p);
  main = f;
  if (!REC) return f;
  push(f);
  event(head('c', p, f));
  return f;
}

function end(f) {
  if (!REC || f.done) return;
  f.done = true;
  if (!f.on) push(f);
  event(head('r', f.probe, f) + '\tundefined');
  pop(f);
}

// --- output and exit ---------------------------------------------------------------------

function patch(stream, n) {
  const write = stream.write;
  stream.write = function (chunk, encoding) {
    if (REC) {
      try {
        let text;
        if (typeof chunk === 'string') {
          text = typeof encoding === 'string' && !/^utf-?8$/i.test(encoding)
            ? Buffer.from(chunk, encoding).toString('utf8') : chunk;
        } else if (chunk instanceof Uint8Array) {
          text = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8');
        }
        if (text) put('o\t' + n + '\t' + esc(text));
      } catch (e) { /* never break a write */ }
    }
    return write.apply(this, arguments);
  };
}

if (REC) {
  patch(process.stdout, 1);
  patch(process.stderr, 2);
  process.on('uncaughtExceptionMonitor', (err) => {
    if (REC && main && !main.done && main.on) {
      if (main.exc !== err) raise(main, err);
      main.threw = true;
      main.done = true;
      event(head('r', main.probe, main));
      pop(main);
    }
    flush();
  });
  process.on('exit', () => {
    flush();
    direct = true;
  });
}

// --- the program's own source text -------------------------------------------------------

// Function.prototype.toString of an instrumented function shows the program's text: the
// rewriter's edits (src, [distance from the end of the file, length, replaced text]) are
// undone on the slice of this file that node returns.
let EDITS = [];
let FILE = null;
const fnToString = Function.prototype.toString;

function src(edits) {
  EDITS = edits;
}

function original(text) {
  if (FILE === null) {
    try {
      FILE = fs.readFileSync(process.argv[1], 'utf8');
    } catch (e) {
      FILE = '';
    }
  }
  const at = FILE.indexOf(text); // probe ids make an instrumented function's text unique
  if (at < 0) return text;
  const end = at + text.length;
  let out = '';
  let pos = at;
  for (let i = 0; i < EDITS.length; i++) {
    const start = FILE.length - EDITS[i][0];
    const stop = start + EDITS[i][1];
    if (stop <= at || (start === at && stop === at)) continue;
    if (start >= end) break;
    if (start < at || stop > end) return text;
    out += FILE.slice(pos, start) + EDITS[i][2];
    pos = stop;
  }
  return out + FILE.slice(pos, end);
}

defProp(Function.prototype, 'toString', {
  value: function toString() {
    const s = fnToString.call(this);
    return s.indexOf('__ca') < 0 ? s : original(s);
  },
  writable: true, enumerable: false, configurable: true,
});

module.exports = { src, _render: render, enter, l, ret, retl, ait, x, xw, leave, sus, yld, res, module: module_, end, flush };
