// CodeAlchemy Java prelude. The rewriter appends this class (non-public, fully qualified
// names only, no imports) at the end of the traced file, so it lives in the program's own
// package. It speaks the protocol of tracer/wire.py on the fd named by CODEALCHEMY_TRACE_FD;
// without that variable every probe is a no-op.
final class _CaTrace {
    static final java.io.OutputStream OUT;
    static final int MAX_EVENTS, MAX_VALUE;
    static final java.lang.Object LOCK = new java.lang.Object();
    static final java.lang.StringBuilder BUF = new java.lang.StringBuilder(1 << 16);
    static int events, nextFrame = 2;
    static boolean mainTaken, stopped;
    static final java.lang.ThreadLocal<int[]> STATE = java.lang.ThreadLocal.withInitial(() -> new int[2]); // depth, rendering
    static final F OFF = new F(0, 0, false);

    static {
        java.io.OutputStream out = null;
        java.lang.String fd = java.lang.System.getenv("CODEALCHEMY_TRACE_FD");
        if (fd != null && !fd.isEmpty()) {
            out = channel(fd.trim());
        }
        OUT = out;
        MAX_EVENTS = envInt("CODEALCHEMY_MAX_EVENTS", 100000);
        MAX_VALUE = java.lang.Math.max(envInt("CODEALCHEMY_MAX_VALUE", 200), 2);
        if (OUT != null) {
            java.nio.charset.Charset cs = charset();
            java.lang.System.setOut(tee(java.lang.System.out, 1, cs));
            java.lang.System.setErr(tee(java.lang.System.err, 2, cs));
            java.lang.Runtime.getRuntime().addShutdownHook(new java.lang.Thread(_CaTrace::flush, "codealchemy-flush"));  // named: a nameless Thread would take "Thread-0" from the program
        }
    }

    /**
     * The inherited channel fd as a stream. The sandbox's uid may not reopen the file behind
     * /proc/self/fd/N, so a FileDescriptor is given the number through sun.misc.Unsafe (module
     * jdk.unsupported, open to all); /proc/self/fd/N is the fallback.
     */
    static java.io.OutputStream channel(java.lang.String fd) {
        try {
            int n = java.lang.Integer.parseInt(fd);
            java.lang.Class<?> uc = java.lang.Class.forName("sun.misc.Unsafe");  // by reflection: no javac warning
            java.lang.reflect.Field uf = uc.getDeclaredField("theUnsafe");
            uf.setAccessible(true);
            java.lang.Object u = uf.get(null);
            java.io.FileDescriptor d = new java.io.FileDescriptor();
            long off = (java.lang.Long) uc.getMethod("objectFieldOffset", java.lang.reflect.Field.class)
                .invoke(u, java.io.FileDescriptor.class.getDeclaredField("fd"));
            uc.getMethod("putInt", java.lang.Object.class, long.class, int.class).invoke(u, d, off, n);
            return new java.io.FileOutputStream(d);
        } catch (java.lang.Throwable t) {
            try {
                return new java.io.FileOutputStream("/proc/self/fd/" + fd, true);
            } catch (java.lang.Throwable t2) {
                return null;
            }
        }
    }

    static int envInt(java.lang.String name, int dflt) {
        try {
            return java.lang.Integer.parseInt(java.lang.System.getenv(name).trim());
        } catch (java.lang.Exception e) {
            return dflt;
        }
    }

    static java.nio.charset.Charset charset() {
        java.lang.String enc = java.lang.System.getProperty("sun.stdout.encoding");
        try {
            if (enc != null) return java.nio.charset.Charset.forName(enc);
        } catch (java.lang.Exception e) {
            // fall through
        }
        return java.nio.charset.Charset.defaultCharset();
    }

    /** A stream that writes through to the original one and records what it wrote. */
    static java.io.PrintStream tee(final java.io.PrintStream orig, final int stream, java.nio.charset.Charset cs) {
        java.io.OutputStream o = new java.io.OutputStream() {
            @java.lang.Override public void write(int b) {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @java.lang.Override public void write(byte[] b, int off, int len) {
                synchronized (LOCK) {
                    orig.write(b, off, len);
                    if (!stopped) {
                        BUF.append("o\t").append(stream).append('\t');
                        escape(BUF, new java.lang.String(b, off, len, cs));
                        BUF.append('\n');
                        if (BUF.length() > (1 << 16)) flushLocked();
                    }
                }
            }

            @java.lang.Override public void flush() {
                orig.flush();
            }
        };
        return new java.io.PrintStream(o, true, cs);
    }

    static void flush() {
        synchronized (LOCK) {
            flushLocked();
        }
    }

    static void flushLocked() {
        if (OUT == null || BUF.length() == 0) return;
        try {
            OUT.write(BUF.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            OUT.flush();
        } catch (java.lang.Exception e) {
            // the channel is gone: nothing more to say
        }
        BUF.setLength(0);
    }

    static void escape(java.lang.StringBuilder sb, java.lang.String s) {
        for (int i = 0, n = s.length(); i < n; i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\\': sb.append("\\\\"); break;
                case '\t': sb.append("\\t"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                default: sb.append(c);
            }
        }
    }

    /** Appends one event record; false (and nothing written) once max_events is reached. */
    static boolean event(char kind, int probe, F f, java.lang.String[] fields) {
        synchronized (LOCK) {
            if (stopped) return false;
            if (events >= MAX_EVENTS) {
                stopped = true;
                BUF.append("t\tmax_events\n");
                flushLocked();
                return false;
            }
            events++;
            BUF.append(kind).append('\t').append(probe).append('\t').append(f.id).append('\t').append(f.depth);
            for (java.lang.String s : fields) {
                BUF.append('\t');
                escape(BUF, s);
            }
            BUF.append('\n');
            if (BUF.length() > (1 << 16)) flushLocked();
            return true;
        }
    }

    static final java.lang.String[] NONE = new java.lang.String[0];

    static java.lang.String[] pairs(java.lang.Object[] kv) {
        if (kv.length == 0) return NONE;
        java.lang.String[] out = new java.lang.String[kv.length];
        for (int i = 0; i + 1 < kv.length; i += 2) {
            out[i] = (java.lang.String) kv[i];
            out[i + 1] = show(kv[i + 1]);
        }
        return out;
    }

    /** Entry of `main`: frame 1 at depth 0 (the first time). */
    static F main(int probe, java.lang.Object... kv) {
        return enter(probe, true, kv);
    }

    static F c(int probe, java.lang.Object... kv) {
        return enter(probe, false, kv);
    }

    static F enter(int probe, boolean isMain, java.lang.Object[] kv) {
        if (OUT == null || stopped) return OFF;
        int[] st = STATE.get();
        if (st[1] != 0) return OFF;
        int id;
        synchronized (LOCK) {
            if (isMain && !mainTaken) {
                mainTaken = true;
                id = 1;
            } else {
                id = nextFrame++;
            }
        }
        F f = new F(id, st[0]++, true);
        f.last = probe;
        event('c', probe, f, pairs(kv));
        return f;
    }

    // --- values ------------------------------------------------------------------------------

    static java.lang.String show(java.lang.Object v) {
        int[] st = STATE.get();
        st[1]++;
        java.lang.StringBuilder sb = new java.lang.StringBuilder();
        try {
            render(sb, v, 0, new java.util.IdentityHashMap<java.lang.Object, java.lang.Boolean>());
        } catch (java.lang.Throwable t) {
            sb.append("<unrenderable ").append(t.getClass().getName()).append('>');
        } finally {
            st[1]--;
        }
        if (sb.length() > MAX_VALUE) {
            sb.setLength(MAX_VALUE - 1);
            sb.append('\u2026');
        }
        return sb.toString();
    }

    static final int MAX_DEPTH = 4;

    static boolean full(java.lang.StringBuilder sb) {
        return sb.length() > MAX_VALUE;
    }

    static void quote(java.lang.StringBuilder sb, java.lang.String s, char q) {
        sb.append(q);
        for (int i = 0, n = s.length(); i < n && !full(sb); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\\': sb.append("\\\\"); break;
                case '\n': sb.append("\\n"); break;
                case '\t': sb.append("\\t"); break;
                case '\r': sb.append("\\r"); break;
                case '\b': sb.append("\\b"); break;
                case '\f': sb.append("\\f"); break;
                default:
                    if (c == q) {
                        sb.append('\\').append(c);
                    } else if (c < 0x20 || c == 0x7f) {
                        sb.append(java.lang.String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
            }
        }
        sb.append(q);
    }

    static void render(java.lang.StringBuilder sb, java.lang.Object v, int depth, java.util.IdentityHashMap<java.lang.Object, java.lang.Boolean> seen) {
        if (full(sb)) return;
        if (v == null) {
            sb.append("null");
            return;
        }
        if (v instanceof java.lang.String) {
            quote(sb, (java.lang.String) v, '"');
            return;
        }
        if (v instanceof java.lang.Character) {
            quote(sb, v.toString(), '\'');
            return;
        }
        if (v instanceof java.lang.Number || v instanceof java.lang.Boolean || v instanceof java.lang.Enum) {
            sb.append(v);
            return;
        }
        java.lang.Class<?> k = v.getClass();
        if (k.isArray()) {
            if (seen.containsKey(v)) {
                sb.append("[...]");
                return;
            }
            seen.put(v, java.lang.Boolean.TRUE);
            sb.append('[');
            int n = java.lang.reflect.Array.getLength(v);
            for (int i = 0; i < n; i++) {
                if (i > 0) sb.append(", ");
                if (full(sb)) break;
                render(sb, java.lang.reflect.Array.get(v, i), depth + 1, seen);
            }
            sb.append(']');
            seen.remove(v);
            return;
        }
        if (k.isSynthetic() || k.getName().contains("$$Lambda")) {
            sb.append("<lambda>");
            return;
        }
        if (v instanceof java.util.Collection && k.getName().startsWith("java.")) {
            if (seen.containsKey(v)) {
                sb.append("[...]");
                return;
            }
            seen.put(v, java.lang.Boolean.TRUE);
            sb.append('[');
            boolean first = true;
            for (java.lang.Object e : (java.util.Collection<?>) v) {
                if (!first) sb.append(", ");
                first = false;
                if (full(sb)) break;
                render(sb, e, depth + 1, seen);
            }
            sb.append(']');
            seen.remove(v);
            return;
        }
        if (v instanceof java.util.Map && k.getName().startsWith("java.")) {
            if (seen.containsKey(v)) {
                sb.append("{...}");
                return;
            }
            seen.put(v, java.lang.Boolean.TRUE);
            sb.append('{');
            boolean first = true;
            for (java.util.Map.Entry<?, ?> e : ((java.util.Map<?, ?>) v).entrySet()) {
                if (!first) sb.append(", ");
                first = false;
                if (full(sb)) break;
                render(sb, e.getKey(), depth + 1, seen);
                sb.append('=');
                render(sb, e.getValue(), depth + 1, seen);
            }
            sb.append('}');
            seen.remove(v);
            return;
        }
        if (v instanceof java.util.Map.Entry && k.getName().startsWith("java.")) {
            java.util.Map.Entry<?, ?> e = (java.util.Map.Entry<?, ?>) v;
            render(sb, e.getKey(), depth + 1, seen);
            sb.append('=');
            render(sb, e.getValue(), depth + 1, seen);
            return;
        }
        if (v instanceof java.util.BitSet) {   // its toString lists every set bit: stop at the cut
            java.util.BitSet bits = (java.util.BitSet) v;
            sb.append('{');
            for (int i = bits.nextSetBit(0), n = 0; i >= 0 && !full(sb); i = i == java.lang.Integer.MAX_VALUE ? -1 : bits.nextSetBit(i + 1), n++) {
                if (n > 0) sb.append(", ");
                sb.append(i);
            }
            sb.append('}');
            return;
        }
        if (v instanceof java.lang.CharSequence && k.getName().startsWith("java.")) {   // StringBuilder: no whole copy
            java.lang.CharSequence cs = (java.lang.CharSequence) v;
            sb.append(cs, 0, java.lang.Math.min(cs.length(), MAX_VALUE + 1));
            return;
        }
        if (ownToString(k)) {
            try {
                sb.append(v.toString());
            } catch (java.lang.Throwable t) {
                sb.append("<toString threw ").append(t.getClass().getName()).append('>');
            }
            return;
        }
        reflect(sb, v, k, depth, seen);
    }

    static boolean ownToString(java.lang.Class<?> k) {
        try {
            return k.getMethod("toString").getDeclaringClass() != java.lang.Object.class;
        } catch (java.lang.Throwable t) {
            return false;
        }
    }

    static java.lang.String typeName(java.lang.Class<?> k) {
        java.lang.String s = k.getSimpleName();
        if (s.isEmpty()) {
            s = k.getName();
            int dot = s.lastIndexOf('.');
            if (dot >= 0) s = s.substring(dot + 1);
        }
        return s;
    }

    /** ClassName{field=value, ...}: instance fields, superclasses' first; bounded and cycle-safe. */
    static void reflect(java.lang.StringBuilder sb, java.lang.Object v, java.lang.Class<?> k, int depth, java.util.IdentityHashMap<java.lang.Object, java.lang.Boolean> seen) {
        sb.append(typeName(k)).append('{');
        if (seen.containsKey(v) || depth >= MAX_DEPTH) {
            sb.append("...}");
            return;
        }
        seen.put(v, java.lang.Boolean.TRUE);
        java.util.ArrayList<java.lang.Class<?>> chain = new java.util.ArrayList<>();
        for (java.lang.Class<?> c = k; c != null && c != java.lang.Object.class; c = c.getSuperclass()) chain.add(0, c);
        boolean first = true;
        for (java.lang.Class<?> c : chain) {
            for (java.lang.reflect.Field fld : c.getDeclaredFields()) {
                if (java.lang.reflect.Modifier.isStatic(fld.getModifiers()) || fld.isSynthetic()) continue;
                if (full(sb)) break;
                if (!first) sb.append(", ");
                first = false;
                sb.append(fld.getName()).append('=');
                try {
                    fld.setAccessible(true);
                    render(sb, fld.get(v), depth + 1, seen);
                } catch (java.lang.Throwable t) {
                    sb.append('?');
                }
            }
        }
        sb.append('}');
        seen.remove(v);
    }

    // --- frames ------------------------------------------------------------------------------

    static final class F {
        final int id, depth;
        final boolean on;
        int last;
        boolean done, unwinding;
        java.lang.Throwable reported;

        F(int id, int depth, boolean on) {
            this.id = id;
            this.depth = depth;
            this.on = on;
        }

        /** Whether line probes record: the rewriter guards them with it, so that a program past
         *  max_events (or without a channel) does not box and copy its variables at every line. */
        boolean k() {
            return on && !stopped;
        }

        /** About to run the statement of `probe`; kv: name, value pairs of visible variables. */
        void l(int probe, java.lang.Object... kv) {
            if (!on || stopped) return;
            last = probe;
            event('l', probe, this, pairs(kv));
        }

        /** A loop or condition header: a line event, then true (used as `h(...) && (cond)`). */
        boolean h(int probe, java.lang.Object... kv) {
            l(probe, kv);
            return true;
        }

        /** `return v;` at `probe`: records the value, gives it back. */
        <T> T r(int probe, T v) {
            if (on && !done) {
                done = true;
                if (!stopped) event('r', probe, this, new java.lang.String[] {show(v)});
            }
            return v;
        }

        /** `return;` in a void method, lambda or constructor. */
        void r(int probe) {
            if (on && !done) {
                done = true;
                if (!stopped) event('r', probe, this, new java.lang.String[] {""});
            }
        }

        /** An exception raised in or passing through this frame (a catch clause, or the frame's own). */
        void x(java.lang.Throwable t) {
            if (!on || t == reported) return;
            reported = t;
            if (stopped) return;
            java.lang.String m = t.getMessage();
            event('x', last, this, new java.lang.String[] {t.getClass().getName(), m == null ? "" : m});
        }

        /** The frame's outer catch: the exception leaves the frame. */
        void u(java.lang.Throwable t) {
            x(t);
            unwinding = true;
        }

        /** The frame's outer finally: falls off the end (void) or unwinds; always pops. */
        void e(int probe) {
            e(probe, false);
        }

        /** valued: the method returns a value, so its `return` probe was dropped (repair loop). */
        void e(int probe, boolean valued) {
            if (!on) return;
            if (!done) {
                done = true;
                java.lang.String[] value = unwinding ? NONE : new java.lang.String[] {valued ? "<unknown>" : ""};
                if (!stopped) event('r', unwinding ? last : probe, this, value);
            }
            int[] st = STATE.get();
            if (st[0] > 0) st[0]--;
        }
    }
}
