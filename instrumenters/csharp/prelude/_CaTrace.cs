// CodeAlchemy C# prelude: compiled beside the traced program (mcs *.cs), standard library only.
// It speaks the protocol of tracer/wire.py on the fd named by CODEALCHEMY_TRACE_FD; without
// that variable every probe is a no-op.
using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Reflection;
using System.Text;

public static class _CaTrace
{
    static readonly global::System.IO.Stream Out;
    static readonly int MaxEvents, MaxValue;
    static readonly object Lock = new object();
    static readonly global::System.Text.StringBuilder Buf = new global::System.Text.StringBuilder(1 << 16);
    static int events, nextFrame = 2;
    static bool mainTaken;
    internal static volatile bool Stopped;
    [global::System.ThreadStatic] static global::System.Collections.Generic.List<F> stack;
    [global::System.ThreadStatic] static int rendering;
    internal static readonly F Off = new F(0, 0, false);
    internal static readonly string[] None = new string[0];

    static _CaTrace()
    {
        string fd = global::System.Environment.GetEnvironmentVariable("CODEALCHEMY_TRACE_FD");
        MaxEvents = EnvInt("CODEALCHEMY_MAX_EVENTS", 100000);
        MaxValue = global::System.Math.Max(EnvInt("CODEALCHEMY_MAX_VALUE", 200), 2);
        if (string.IsNullOrEmpty(fd)) return;
        Out = Channel(fd.Trim());
        if (Out == null) return;
        global::System.Console.SetOut(new Tee(global::System.Console.Out, 1));
        global::System.Console.SetError(new Tee(global::System.Console.Error, 2));
        global::System.AppDomain.CurrentDomain.ProcessExit += (s, e) => Flush();
    }

    /// Called by the first static field of Main's type: loads this class (and its Console
    /// replacement) before the program's own static initializers run.
    public static bool Boot()
    {
        return Out != null;
    }

    static int EnvInt(string name, int dflt)
    {
        int v;
        string s = global::System.Environment.GetEnvironmentVariable(name);
        return s != null && int.TryParse(s.Trim(), out v) ? v : dflt;
    }

    /// Mono's FileStream does not take a raw fd (its handles are not fds), and the sandbox's uid
    /// may not reopen /proc/self/fd/N: records go to the inherited fd through libc's write(2).
    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    static extern global::System.IntPtr write(int fd, byte[] buf, global::System.IntPtr count);

    sealed class FdStream : global::System.IO.Stream
    {
        readonly int fd;

        public FdStream(int fd)
        {
            this.fd = fd;
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            byte[] b = buffer;
            if (offset != 0)
            {
                b = new byte[count];
                global::System.Array.Copy(buffer, offset, b, 0, count);
            }
            int done = 0;
            while (done < count)
            {
                byte[] rest = b;
                if (done > 0)
                {
                    rest = new byte[count - done];
                    global::System.Array.Copy(b, done, rest, 0, rest.Length);
                }
                long n = (long) write(fd, rest, (global::System.IntPtr) rest.Length);
                if (n <= 0)
                {
                    if (System.Runtime.InteropServices.Marshal.GetLastWin32Error() == 4) continue;  // EINTR
                    throw new global::System.IO.IOException("write failed");
                }
                done += (int) n;
            }
        }

        public override bool CanRead { get { return false; } }
        public override bool CanSeek { get { return false; } }
        public override bool CanWrite { get { return true; } }
        public override long Length { get { throw new global::System.NotSupportedException(); } }
        public override long Position { get { throw new global::System.NotSupportedException(); } set { throw new global::System.NotSupportedException(); } }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) { throw new global::System.NotSupportedException(); }
        public override long Seek(long offset, global::System.IO.SeekOrigin origin) { throw new global::System.NotSupportedException(); }
        public override void SetLength(long value) { throw new global::System.NotSupportedException(); }
    }

    static global::System.IO.Stream Channel(string fd)
    {
        int n;
        if (!int.TryParse(fd, out n) || n < 0) return null;
        return new FdStream(n);
    }

    /// Console.Out/Error replacement: writes through to the original writer and records the text.
    sealed class Tee : global::System.IO.TextWriter
    {
        readonly global::System.IO.TextWriter orig;
        readonly int stream;

        public Tee(global::System.IO.TextWriter orig, int stream)
        {
            this.orig = orig;
            this.stream = stream;
        }

        public override global::System.Text.Encoding Encoding { get { return orig.Encoding; } }

        public override global::System.IFormatProvider FormatProvider { get { return orig.FormatProvider; } }

        public override string NewLine { get { return orig.NewLine; } set { orig.NewLine = value; } }

        void Record(string s)
        {
            if (Stopped || s.Length == 0) return;
            Buf.Append("o\t").Append(stream).Append('\t');
            Escape(Buf, s);
            Buf.Append('\n');
            if (Buf.Length > (1 << 16)) FlushLocked();
        }

        public override void Write(char c)
        {
            lock (Lock) { orig.Write(c); Record(c.ToString()); }
        }

        public override void Write(string s)
        {
            if (s == null) return;
            lock (Lock) { orig.Write(s); Record(s); }
        }

        public override void Write(char[] b, int i, int n)
        {
            lock (Lock) { orig.Write(b, i, n); Record(new string(b, i, n)); }
        }

        public override void WriteLine()
        {
            Write(orig.NewLine);
        }

        public override void WriteLine(string s)
        {
            Write((s ?? "") + orig.NewLine);
        }

        public override void Flush()
        {
            orig.Flush();
        }
    }

    public static void Flush()
    {
        lock (Lock) FlushLocked();
    }

    static void FlushLocked()
    {
        if (Out == null || Buf.Length == 0) return;
        try
        {
            byte[] bytes = new global::System.Text.UTF8Encoding(false).GetBytes(Buf.ToString());
            Out.Write(bytes, 0, bytes.Length);
            Out.Flush();
        }
        catch (global::System.Exception)
        {
            // the channel is gone
        }
        Buf.Length = 0;
    }

    internal static void Escape(global::System.Text.StringBuilder sb, string s)
    {
        foreach (char c in s)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\t': sb.Append("\\t"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                default: sb.Append(c); break;
            }
        }
    }

    internal static bool Event(char kind, int probe, F f, string[] fields)
    {
        lock (Lock)
        {
            if (Stopped) return false;
            if (events >= MaxEvents)
            {
                Stopped = true;
                Buf.Append("t\tmax_events\n");
                FlushLocked();
                return false;
            }
            events++;
            Buf.Append(kind).Append('\t').Append(probe).Append('\t').Append(f.id).Append('\t').Append(f.depth);
            foreach (string s in fields)
            {
                Buf.Append('\t');
                Escape(Buf, s);
            }
            Buf.Append('\n');
            if (Buf.Length > (1 << 16)) FlushLocked();
            return true;
        }
    }

    internal static string[] Pairs(object[] kv)
    {
        if (kv.Length == 0) return None;
        var res = new string[kv.Length];
        for (int i = 0; i + 1 < kv.Length; i += 2)
        {
            res[i] = (string) kv[i];
            res[i + 1] = Show(kv[i + 1]);
        }
        return res;
    }

    /// Entry of Main: frame 1 at depth 0 (the first time).
    public static F Main(int probe, params object[] kv)
    {
        return Enter(probe, true, kv);
    }

    public static F C(int probe, params object[] kv)
    {
        return Enter(probe, false, kv);
    }

    static F Enter(int probe, bool isMain, object[] kv)
    {
        if (Out == null || Stopped || rendering != 0) return Off;
        if (stack == null) stack = new global::System.Collections.Generic.List<F>();
        int id;
        lock (Lock)
        {
            if (isMain && !mainTaken)
            {
                mainTaken = true;
                id = 1;
            }
            else
            {
                id = nextFrame++;
            }
        }
        var f = new F(id, stack.Count, true);
        f.last = probe;
        stack.Add(f);
        Event('c', probe, f, Pairs(kv));
        return f;
    }

    internal static void Pop(F f)
    {
        if (stack != null && stack.Count > 0 && stack[stack.Count - 1] == f) stack.RemoveAt(stack.Count - 1);
        else if (stack != null) stack.Remove(f);
    }

    // --- values --------------------------------------------------------------------------

    public static string Show(object v)
    {
        rendering++;
        var sb = new global::System.Text.StringBuilder();
        try
        {
            Render(sb, v, 0, new global::System.Collections.Generic.List<object>());
        }
        catch (global::System.Exception e)
        {
            sb.Append("<unrenderable ").Append(e.GetType().Name).Append('>');
        }
        finally
        {
            rendering--;
        }
        if (sb.Length > MaxValue)
        {
            sb.Length = MaxValue - 1;
            sb.Append('\u2026');
        }
        return sb.ToString();
    }

    const int MaxDepth = 4;

    static bool Full(global::System.Text.StringBuilder sb)
    {
        return sb.Length > MaxValue;
    }

    static void Quote(global::System.Text.StringBuilder sb, string s, char q)
    {
        sb.Append(q);
        foreach (char c in s)
        {
            if (Full(sb)) break;
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                case '\r': sb.Append("\\r"); break;
                case '\0': sb.Append("\\0"); break;
                default:
                    if (c == q) sb.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7f) sb.Append("\\u").Append(((int) c).ToString("x4"));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append(q);
    }

    static bool Seen(global::System.Collections.Generic.List<object> seen, object v)
    {
        foreach (object o in seen) if (ReferenceEquals(o, v)) return true;
        return false;
    }

    static string TypeName(global::System.Type t)
    {
        string n = t.Name;
        int tick = n.IndexOf('`');
        if (tick >= 0) n = n.Substring(0, tick);
        if (t.IsGenericType)
        {
            var args = new global::System.Collections.Generic.List<string>();
            foreach (global::System.Type a in t.GetGenericArguments()) args.Add(TypeName(a));
            n += "<" + string.Join(", ", args.ToArray()) + ">";
        }
        return n;
    }

    static void Items(global::System.Text.StringBuilder sb, global::System.Collections.IEnumerable items, int depth, global::System.Collections.Generic.List<object> seen)
    {
        bool first = true;
        foreach (object e in items)
        {
            if (!first) sb.Append(", ");
            first = false;
            if (Full(sb)) break;
            Render(sb, e, depth + 1, seen);
        }
    }

    static bool IsCollection(global::System.Type t)
    {
        if (typeof(global::System.Collections.ICollection).IsAssignableFrom(t)) return true;
        foreach (global::System.Type i in t.GetInterfaces())
        {
            if (i.IsGenericType && (i.GetGenericTypeDefinition() == typeof(global::System.Collections.Generic.ICollection<>)
                                    || i.GetGenericTypeDefinition() == typeof(global::System.Collections.Generic.IReadOnlyCollection<>))) return true;
        }
        return false;
    }

    static void Render(global::System.Text.StringBuilder sb, object v, int depth, global::System.Collections.Generic.List<object> seen)
    {
        if (Full(sb)) return;
        if (v == null) { sb.Append("null"); return; }
        global::System.Type t = v.GetType();
        if (v is string) { Quote(sb, (string) v, '"'); return; }
        if (v is char) { Quote(sb, v.ToString(), '\''); return; }
        if (v is bool) { sb.Append((bool) v ? "true" : "false"); return; }
        if (v is double) { sb.Append(Shortest((double) v)); return; }
        if (v is float) { sb.Append(Shortest((float) v)); return; }
        if (t.IsPrimitive || v is decimal) { sb.Append(((global::System.IFormattable) v).ToString(null, global::System.Globalization.CultureInfo.InvariantCulture)); return; }
        if (t.IsEnum) { sb.Append(v); return; }
        if (v is global::System.Delegate) { sb.Append("<delegate>"); return; }
        if (v is global::System.Exception) { sb.Append(t.FullName).Append(": ").Append(((global::System.Exception) v).Message); return; }
        if (t.IsGenericType && t.FullName != null && t.FullName.StartsWith("System.ValueTuple`"))
        {
            sb.Append('(');
            bool first = true;
            foreach (global::System.Reflection.FieldInfo fi in t.GetFields())
            {
                if (!first) sb.Append(", ");
                first = false;
                Render(sb, fi.GetValue(v), depth + 1, seen);
            }
            sb.Append(')');
            return;
        }
        if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(global::System.Collections.Generic.KeyValuePair<,>))
        {
            sb.Append('[');
            Render(sb, t.GetProperty("Key").GetValue(v, null), depth + 1, seen);
            sb.Append(", ");
            Render(sb, t.GetProperty("Value").GetValue(v, null), depth + 1, seen);
            sb.Append(']');
            return;
        }
        if (Seen(seen, v) && !t.IsValueType) { sb.Append(v is global::System.Collections.IEnumerable ? "[...]" : TypeName(t) + "{...}"); return; }
        if (v is global::System.Array && ((global::System.Array) v).Rank > 1)
        {
            seen.Add(v);
            RenderRank((global::System.Array) v, sb, 0, new int[((global::System.Array) v).Rank], depth, seen);
            seen.Remove(v);
            return;
        }
        if (v is global::System.Collections.IDictionary)
        {
            seen.Add(v);
            sb.Append('{');
            bool first = true;
            foreach (global::System.Collections.DictionaryEntry e in (global::System.Collections.IDictionary) v)
            {
                if (!first) sb.Append(", ");
                first = false;
                if (Full(sb)) break;
                sb.Append('[');
                Render(sb, e.Key, depth + 1, seen);
                sb.Append("] = ");
                Render(sb, e.Value, depth + 1, seen);
            }
            sb.Append('}');
            seen.Remove(v);
            return;
        }
        if (v is global::System.Collections.IEnumerable && IsCollection(t))
        {
            seen.Add(v);
            sb.Append('[');
            Items(sb, (global::System.Collections.IEnumerable) v, depth, seen);
            sb.Append(']');
            seen.Remove(v);
            return;
        }
        if (v is global::System.Collections.IEnumerable && t.Namespace != null && t.Namespace.StartsWith("System"))
        {
            sb.Append('<').Append(TypeName(t)).Append('>');  // a lazy sequence: enumerating it would run code
            return;
        }
        global::System.Reflection.MethodInfo ts = t.GetMethod("ToString", global::System.Type.EmptyTypes);
        if (ts != null && ts.DeclaringType != typeof(object) && ts.DeclaringType != typeof(global::System.ValueType))
        {
            try
            {
                sb.Append(v.ToString());
            }
            catch (global::System.Exception e)
            {
                sb.Append("<ToString threw ").Append(e.GetType().FullName).Append('>');
            }
            return;
        }
        Reflect(sb, v, t, depth, seen);
    }

    /// The shortest text that parses back to the same double (Mono's "R" may add a digit).
    static string Shortest(double d)
    {
        if (double.IsNaN(d) || double.IsInfinity(d)) return d.ToString(global::System.Globalization.CultureInfo.InvariantCulture);
        for (int digits = 15; digits < 17; digits++)
        {
            string s = d.ToString("G" + digits, global::System.Globalization.CultureInfo.InvariantCulture);
            if (double.Parse(s, global::System.Globalization.CultureInfo.InvariantCulture) == d) return s;
        }
        return d.ToString("G17", global::System.Globalization.CultureInfo.InvariantCulture);
    }

    static string Shortest(float f)
    {
        if (float.IsNaN(f) || float.IsInfinity(f)) return f.ToString(global::System.Globalization.CultureInfo.InvariantCulture);
        for (int digits = 7; digits < 9; digits++)
        {
            string s = f.ToString("G" + digits, global::System.Globalization.CultureInfo.InvariantCulture);
            if (float.Parse(s, global::System.Globalization.CultureInfo.InvariantCulture) == f) return s;
        }
        return f.ToString("G9", global::System.Globalization.CultureInfo.InvariantCulture);
    }

    static void RenderRank(global::System.Array a, global::System.Text.StringBuilder sb, int dim, int[] index, int depth, global::System.Collections.Generic.List<object> seen)
    {
        sb.Append('[');
        int n = a.GetLength(dim);
        for (int i = 0; i < n; i++)
        {
            if (i > 0) sb.Append(", ");
            if (Full(sb)) break;
            index[dim] = i;
            if (dim + 1 < a.Rank) RenderRank(a, sb, dim + 1, index, depth, seen);
            else Render(sb, a.GetValue(index), depth + 1, seen);
        }
        sb.Append(']');
    }

    /// Name{field=value, ...}: instance fields, base classes' first; auto-properties by their name.
    static void Reflect(global::System.Text.StringBuilder sb, object v, global::System.Type t, int depth, global::System.Collections.Generic.List<object> seen)
    {
        sb.Append(TypeName(t)).Append('{');
        if (depth >= MaxDepth)
        {
            sb.Append("...}");
            return;
        }
        seen.Add(v);
        var chain = new global::System.Collections.Generic.List<global::System.Type>();
        for (global::System.Type c = t; c != null && c != typeof(object) && c != typeof(global::System.ValueType); c = c.BaseType) chain.Insert(0, c);
        bool first = true;
        foreach (global::System.Type c in chain)
        {
            foreach (global::System.Reflection.FieldInfo fi in c.GetFields(global::System.Reflection.BindingFlags.Instance | global::System.Reflection.BindingFlags.Public | global::System.Reflection.BindingFlags.NonPublic
                                                 | global::System.Reflection.BindingFlags.DeclaredOnly))
            {
                if (Full(sb)) break;
                string name = fi.Name;
                if (name.StartsWith("<"))
                {
                    int end = name.IndexOf('>');
                    if (!name.EndsWith("k__BackingField") || end < 0) continue;
                    name = name.Substring(1, end - 1);
                }
                if (!first) sb.Append(", ");
                first = false;
                sb.Append(name).Append('=');
                try
                {
                    Render(sb, fi.GetValue(v), depth + 1, seen);
                }
                catch (global::System.Exception)
                {
                    sb.Append('?');
                }
            }
        }
        sb.Append('}');
        seen.Remove(v);
    }

    // --- frames --------------------------------------------------------------------------

    public sealed class F
    {
        internal readonly int id, depth;
        internal readonly bool on;
        internal int last;
        internal bool done, unwinding;
        global::System.Exception reported;

        internal F(int id, int depth, bool on)
        {
            this.id = id;
            this.depth = depth;
            this.on = on;
        }

        /// Whether line probes record: the rewriter guards them with it, so that a program past
        /// max_events does not box and copy its variables at every line.
        public bool K()
        {
            return on && !Stopped;
        }

        /// About to run the statement of `probe`; kv: name, value pairs of visible variables.
        public void L(int probe, params object[] kv)
        {
            if (!on || Stopped) return;
            last = probe;
            Event('l', probe, this, Pairs(kv));
        }

        /// A loop or condition header: a line event, then true (used as `H(...) && (cond)`).
        public bool H(int probe, params object[] kv)
        {
            L(probe, kv);
            return true;
        }

        /// `return v;` at `probe`: records the value, gives it back.
        public T R<T>(int probe, T v)
        {
            if (on && !done)
            {
                done = true;
                if (!Stopped) Event('r', probe, this, new[] {Show(v)});
            }
            return v;
        }

        /// `return;` in a void method, lambda, accessor or constructor.
        public void R(int probe)
        {
            if (on && !done)
            {
                done = true;
                if (!Stopped) Event('r', probe, this, new[] {""});
            }
        }

        /// An exception raised in or passing through this frame (a catch clause, or the frame's own).
        public void X(global::System.Exception e)
        {
            if (!on || ReferenceEquals(e, reported)) return;
            reported = e;
            if (Stopped) return;
            Event('x', last, this, new[] {e.GetType().FullName, e.Message ?? ""});
        }

        /// The frame's outer catch: the exception leaves the frame. Leaving a thread's outermost
        /// traced frame, it is most likely unhandled, and an unhandled exception ends the process
        /// without running the outer finally blocks: the frame unwinds and the records are flushed
        /// here (no UnhandledException handler: with one, mono would not print its own message).
        public void U(global::System.Exception e)
        {
            X(e);
            unwinding = true;
            if (on && depth == 0 && !done)
            {
                done = true;
                if (!Stopped) Event('r', last, this, None);
                Flush();
            }
        }

        /// The frame's outer finally: falls off the end (void) or unwinds; always pops.
        public void E(int probe)
        {
            E(probe, false);
        }

        /// valued: the method returns a value, so its `return` probe was dropped (repair loop).
        public void E(int probe, bool valued)
        {
            if (!on) return;
            if (!done)
            {
                done = true;
                string[] value = unwinding ? None : new[] {valued ? "<unknown>" : ""};
                if (!Stopped) Event('r', unwinding ? last : probe, this, value);
            }
            Pop(this);
        }
    }
}
