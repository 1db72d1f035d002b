// CodeAlchemy prelude for TypeScript. The instrumented main.ts loads it with
// `const __ca = require("./_codealchemy.js")` (or `import __ca from "./_codealchemy.js"`):
// tsc compiles both files to CommonJS, node runs them. Standard library only (fs, util).
//
// It speaks the trace-channel protocol of codealchemy/tracer/wire.py on the fd named by
// CODEALCHEMY_TRACE_FD; without that variable every probe is a no-op that still returns what
// it must. The whole prelude sits in one function: a script file (no import/export) must not
// put names in the global scope that the program could also declare. It is compiled with
// --noCheck (the node globals it uses are typed by @types/node where that is installed).

module.exports = (() => {
  "use strict";
  const fs = require("fs");
  const util = require("util");

  const env = process.env;
  const FD = env.CODEALCHEMY_TRACE_FD ? parseInt(env.CODEALCHEMY_TRACE_FD, 10) : NaN;
  const MAX_EVENTS = parseInt(env.CODEALCHEMY_MAX_EVENTS || "100000", 10) || 100000;
  const MAX_VALUE = parseInt(env.CODEALCHEMY_MAX_VALUE || "200", 10) || 200;
  // The program sees the same environment as untraced.
  delete env.CODEALCHEMY_TRACE_FD;
  delete env.CODEALCHEMY_MAX_EVENTS;
  delete env.CODEALCHEMY_MAX_VALUE;

  let on: boolean = Number.isInteger(FD) && FD >= 0;
  let events = 0;
  let chunks: string[] = [];
  let size = 0;
  let unbuffered = false;
  const FLUSH_AT = 1 << 16;

  function flush(): void {
    if (chunks.length === 0) return;
    const data = Buffer.from(chunks.join(""), "utf8");
    chunks = [];
    size = 0;
    try {
      let off = 0;
      while (off < data.length) off += fs.writeSync(FD, data, off, data.length - off);
    } catch (e) {
      on = false; // the channel is gone (closed, file-size limit): run on untraced
    }
  }

  function put(record: string): void {
    chunks.push(record, "\n");
    size += record.length + 1;
    if (unbuffered || size >= FLUSH_AT) flush();
  }

  function esc(s: string): string {
    if (!/[\\\t\n\r]/.test(s)) return s;
    return s.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r");
  }

  // One call/line/return/exception record; false once the event limit is reached.
  function event(record: string): boolean {
    if (events >= MAX_EVENTS) {
      put("t\tmax_events");
      on = false;
      flush();
      return false;
    }
    events++;
    put(record);
    return true;
  }

  // ---- values: util.inspect on one line, without custom inspectors or getters ------------

  const OPTIONS = {
    depth: 2, breakLength: Infinity, compact: true, maxArrayLength: 100, maxStringLength: MAX_VALUE,
    customInspect: false, getters: false, showProxy: false,
  };
  const HANDLES = new Set(["Timeout", "Immediate", "TimersList"]);

  function cut(s: string): string {
    return s.length > MAX_VALUE ? s.slice(0, Math.max(MAX_VALUE - 1, 0)) + "\u2026" : s;
  }

  // The constructor's name, read through property descriptors: no getter, no proxy trap of
  // the program runs while the tracer looks at a value.
  function typeName(v: unknown): string {
    if (v === null || (typeof v !== "object" && typeof v !== "function")) return typeof v;
    if (util.types.isProxy(v)) return "Proxy";
    try {
      const proto = Object.getPrototypeOf(v);
      const d = proto ? Object.getOwnPropertyDescriptor(proto, "constructor") : undefined;
      const c = d && "value" in d ? d.value : undefined;
      const nd = typeof c === "function" ? Object.getOwnPropertyDescriptor(c, "name") : undefined;
      if (nd && typeof nd.value === "string" && nd.value) return nd.value;
    } catch (e) { /* an exotic object */ }
    return typeof v === "function" ? "Function" : "Object";
  }

  function render(v: unknown): string {
    let s: string;
    try {
      if (v !== null && typeof v === "object" && util.types.isNativeError(v)) {
        s = "[" + typeName(v) + ": " + message(v) + "]";
      } else if (v !== null && typeof v === "object" && HANDLES.has(typeName(v))) {
        s = typeName(v) + " {}"; // timer handles hold clock readings
      } else if (Array.isArray(v) && v.length > OPTIONS.maxArrayLength && Object.getPrototypeOf(v) === Array.prototype) {
        const more = v.length - OPTIONS.maxArrayLength; // inspect would walk every index
        const shown: string = util.inspect(v.slice(0, OPTIONS.maxArrayLength), OPTIONS);
        s = shown.slice(0, -2) + ", ... " + more + " more item" + (more > 1 ? "s" : "") + " ]";
      } else {
        s = util.inspect(v, OPTIONS);
      }
    } catch (e) {
      s = "<unrenderable>";
    }
    return cut(s);
  }

  function message(e: unknown): string {
    try {
      if (e !== null && typeof e === "object" && !util.types.isProxy(e)) {
        let o: object | null = e;
        while (o !== null) { // an own data property, or one of a prototype (Error.prototype.message)
          const d = Object.getOwnPropertyDescriptor(o, "message");
          if (d) return "value" in d ? cut(String(d.value)) : render(e);
          o = Object.getPrototypeOf(o);
        }
      }
    } catch (err) { /* an exotic object */ }
    return render(e);
  }

  // ---- frames --------------------------------------------------------------------------------

  class Frame {
    depth = 0;
    onStack = false;         // false while suspended at an await or a yield
    seen = new Map<string, string>();
    prims = new Map<string, unknown>();
    returned = false;
    threw = false;
    finished = false;
    rprobe: number;
    rvalue = "undefined";
    exc: unknown = undefined;
    constructor(public id: number, public probe: number) {
      this.rprobe = probe;
    }
  }

  const stack: Frame[] = [];
  let nextId = 2;
  let main: Frame | null = null;

  function push(f: Frame): void {
    f.depth = stack.length;
    stack.push(f);
    f.onStack = true;
  }

  function pop(f: Frame): void {
    if (!f.onStack) return;
    f.onStack = false;
    if (stack[stack.length - 1] === f) stack.pop();
    else {
      const i = stack.lastIndexOf(f);
      if (i >= 0) stack.splice(i, 1);
    }
  }

  function head(kind: string, p: number, f: Frame): string {
    return kind + "\t" + p + "\t" + f.id + "\t" + f.depth;
  }

  // NAME VALUE fields of the pairs in args[from..] whose rendering changed since the frame's
  // previous event (the host keeps only those too; this saves rendering and bytes).
  function pairs(f: Frame, args: ArrayLike<unknown>, from: number): string {
    let out = "";
    for (let i = from; i + 1 < args.length; i += 2) {
      const name = String(args[i]);
      const v = args[i + 1];
      const prim = v === null || (typeof v !== "object" && typeof v !== "function");
      if (prim && f.prims.has(name) && Object.is(f.prims.get(name), v)) continue;
      const s = render(v);
      if (prim) f.prims.set(name, v);
      else f.prims.delete(name);
      if (f.seen.get(name) === s) continue;
      f.seen.set(name, s);
      out += "\t" + esc(name) + "\t" + esc(s);
    }
    return out;
  }

  function raise(f: Frame, e: unknown): void {
    if (!f.onStack) push(f);
    f.exc = e;
    event(head("x", f.probe, f) + "\t" + esc(typeName(e)) + "\t" + esc(message(e)));
  }

  const api = {
    // call: a function's frame starts; the rest are NAME, VALUE pairs of its parameters
    enter(p: number, ...args: unknown[]): Frame {
      const f = new Frame(nextId++, p);
      if (!on) return f;
      push(f);
      event(head("c", p, f) + pairs(f, args, 0));
      return f;
    },
    // line: about to run the statement of probe p; the rest are the visible variables
    l(f: Frame, p: number, ...args: unknown[]): void {
      if (!on) return;
      if (!f.onStack) push(f);
      f.probe = p;
      event(head("l", p, f) + pairs(f, args, 0));
    },
    // `return X` becomes `return ret(f, p, X)`: the record is written when the frame ends
    ret<T>(f: Frame, p: number, v: T): T {
      if (on) {
        f.returned = true;
        f.threw = false;
        f.rprobe = p;
        f.rvalue = render(v);
      }
      return v;
    },
    retl<T>(f: Frame, p: number, v: T): T {
      api.ret(f, p, v);
      api.leave(f);
      return v;
    },
    // an exception reached a catch clause of the program in frame f
    x(f: Frame, e: unknown): void {
      if (on) raise(f, e);
    },
    // an exception leaves frame f (the wrapper's catch); reported once per frame
    xw(f: Frame, e: unknown): void {
      if (!on) return;
      f.threw = true;
      f.returned = false;
      if (f.exc !== e) raise(f, e);
    },
    // the frame ends (the wrapper's finally): its return value, or none when it unwound
    leave(f: Frame): void {
      if (!on || f.finished) return;
      f.finished = true;
      if (!f.onStack) push(f);
      if (f.threw) event(head("r", f.probe, f));
      else if (f.returned) event(head("r", f.rprobe, f) + "\t" + esc(f.rvalue));
      else event(head("r", f.probe, f) + "\tundefined");
      pop(f);
    },
    // `await X` -> `await sus(f, X)`: the frame leaves the stack until its next probe
    sus<T>(f: Frame, v: T): T {
      if (on) pop(f);
      return v;
    },
    // `for await (x of X)` iterates ait(f, X): the frame leaves the stack each time the loop
    // asks for (and awaits) the next value; anything but an async iterable passes through
    ait(f: Frame, x: any): any {
      let get: unknown;
      try {
        get = x == null ? undefined : x[Symbol.asyncIterator];
      } catch (e) {
        return x;
      }
      if (typeof get !== "function") return x;
      return {
        [Symbol.asyncIterator]() {
          const it = (get as (this: unknown) => any).call(x);
          if (it === null || (typeof it !== "object" && typeof it !== "function")) return it;
          const wrapped: { next(v?: unknown): unknown; return?: (v?: unknown) => unknown } = {
            next(v?: unknown) {
              const r = it.next(v);
              if (on) pop(f);
              return r;
            },
          };
          if (typeof it.return === "function") wrapped.return = (v?: unknown) => it.return(v);
          return wrapped;
        },
      };
    },
    // `yield X` -> `res(f, pc, yield yld(f, pr, X))`: a generator returns what it yields and
    // is called again when resumed
    yld<T>(f: Frame, p: number, v: T): T {
      if (on) {
        if (!f.onStack) push(f);
        event(head("r", p, f) + "\t" + esc(render(v)));
        pop(f);
      }
      return v;
    },
    res<T>(f: Frame, p: number, v: T): T {
      if (on) {
        if (!f.onStack) push(f);
        f.seen.clear();
        f.prims.clear();
        event(head("c", p, f));
      }
      return v;
    },
    // the module's frame: frame 1 at depth 0, func "<module>"
    module(p: number): Frame {
      const f = new Frame(1, p);
      main = f;
      if (!on) return f;
      push(f);
      event(head("c", p, f));
      return f;
    },
    end(f: Frame): void {
      if (!on || f.finished) return;
      f.finished = true;
      if (!f.onStack) push(f);
      event(head("r", f.probe, f) + "\tundefined");
      pop(f);
    },
    flush,
  };

  // ---- output and exit -----------------------------------------------------------------------

  function tap(stream: any, n: number): void {
    const write = stream.write;
    stream.write = function (this: unknown, chunk: unknown, encoding?: unknown) {
      if (on) {
        try {
          let text: string | undefined;
          if (typeof chunk === "string") {
            text = typeof encoding === "string" && !/^utf-?8$/i.test(encoding)
              ? Buffer.from(chunk, encoding).toString("utf8") : chunk;
          } else if (chunk instanceof Uint8Array) {
            text = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("utf8");
          }
          if (text) put("o\t" + n + "\t" + esc(text));
        } catch (e) { /* never break a write */ }
      }
      return write.apply(this, arguments);
    };
  }

  if (on) {
    tap(process.stdout, 1);
    tap(process.stderr, 2);
    process.on("uncaughtExceptionMonitor", (err: unknown) => {
      const m = main;
      if (on && m && !m.finished && m.onStack) {
        if (m.exc !== err) raise(m, err);
        m.threw = true;
        m.finished = true;
        event(head("r", m.probe, m));
        pop(m);
      }
      flush();
    });
    process.on("exit", () => {
      flush();
      unbuffered = true;
    });
  }

  return api;
})();
