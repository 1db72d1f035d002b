// CodeAlchemy Swift prelude: the runtime that instrumented Swift programs call.
//
// Compiled together with the instrumented main.swift (`swiftc main.swift _codealchemy.swift`).
// Protocol: tracer/wire.py (records c/l/r/x/o/t on the fd named by CODEALCHEMY_TRACE_FD).
// Without that variable every probe is a test of one static and nothing else runs.
// Everything here is named __CA* (and `print`, below). Single-threaded: events of other
// threads interleave without locking.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

final class __CAFrame {
    let fr: Int
    let depth: Int
    var pid: Int            // last line probe, then the probe of the return
    var returned = false
    var value = "()"
    init(_ fr: Int, _ depth: Int, _ pid: Int) {
        self.fr = fr
        self.depth = depth
        self.pid = pid
    }
}

enum __CA {
    static var on: Bool = start()
    static var fd: Int32 = -1
    static var buf: [UInt8] = []
    static var events = 0
    static var maxEvents = 100_000
    static var maxValue = 200
    static var frames = 0
    static var depth = 0
    static var stack: [__CAFrame] = []
    static var xfr = 0                 // frame that has the record of the error in flight
    static var xtype = ""
    static var xmessage = ""
    static var rendering = false

    static func start() -> Bool {
        guard let f = getenv("CODEALCHEMY_TRACE_FD"), let n = Int32(String(cString: f)) else { return false }
        if fcntl(n, F_GETFD) < 0 { return false }
        fd = n
        if let m = getenv("CODEALCHEMY_MAX_EVENTS"), let v = Int(String(cString: m)) { maxEvents = v }
        if let m = getenv("CODEALCHEMY_MAX_VALUE"), let v = Int(String(cString: m)) { maxValue = max(1, v) }
        buf.reserveCapacity(1 << 17)
        atexit { __CA.flush() }
        for sig in [SIGSEGV, SIGILL, SIGTRAP, SIGABRT, SIGFPE, SIGBUS] {
            signal(sig) { s in __CA.fatal(s) }
        }
        return true
    }

    static func flush() {
        var off = 0
        while off < buf.count {
            let n = buf[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { on = false; break }
            off += n
        }
        buf.removeAll(keepingCapacity: true)
    }

    static func field(_ s: String) {
        for b in s.utf8 {
            switch b {
            case 0x5C: buf.append(0x5C); buf.append(0x5C)
            case 0x09: buf.append(0x5C); buf.append(0x74)
            case 0x0A: buf.append(0x5C); buf.append(0x6E)
            case 0x0D: buf.append(0x5C); buf.append(0x72)
            default: buf.append(b)
            }
        }
    }

    static func record(_ fields: [String]) {
        for (i, f) in fields.enumerated() {
            if i > 0 { buf.append(0x09) }
            field(f)
        }
        buf.append(0x0A)
        if buf.count > 65536 { flush() }
    }

    /// Counts an event; false (and recording stops) past max_events.
    static func count() -> Bool {
        events += 1
        if events > maxEvents {
            buf.append(contentsOf: Array("t\tmax_events\n".utf8))
            on = false
            flush()
            return false
        }
        return true
    }

    // ---- values ----------------------------------------------------------------------------
    /// The value in Swift's debug syntax (String(reflecting:)); class instances by their stored
    /// properties; cut past max_value characters (the host marks the cut).
    static func s<T>(_ value: T) -> String {
        let was = on
        on = false          // description/debugDescription run untraced
        defer { on = was }
        var seen = Set<ObjectIdentifier>()
        let text = render(value, &seen, 0)
        return text.count > maxValue ? String(text.prefix(maxValue + 1)) : text
    }

    static func render(_ value: Any, _ seen: inout Set<ObjectIdentifier>, _ level: Int) -> String {
        let mirror = Mirror(reflecting: value)
        guard mirror.displayStyle == .class, !(value is CustomDebugStringConvertible),
              !(value is CustomStringConvertible) else {
            return String(reflecting: value)
        }
        let object = value as AnyObject
        let id = ObjectIdentifier(object)
        let name = String(describing: type(of: value))
        if seen.contains(id) || level > 3 { return "\(name)(...)" }
        seen.insert(id)
        defer { seen.remove(id) }
        var parts: [String] = []
        var m: Mirror? = mirror
        var chain: [Mirror] = []
        while let x = m { chain.append(x); m = x.superclassMirror }
        for x in chain.reversed() {
            for child in x.children {
                parts.append("\(child.label ?? "_"): \(render(child.value, &seen, level + 1))")
            }
        }
        return "\(name)(\(parts.joined(separator: ", ")))"
    }

    // ---- frames ----------------------------------------------------------------------------
    static func call(_ pid: Int, _ args: @autoclosure () -> [(String, String)]) -> __CAFrame {
        guard on else { return __CAFrame(0, 0, pid) }
        frames += 1
        let f = __CAFrame(frames, depth, pid)
        depth += 1
        stack.append(f)
        if count() {
            var fields = ["c", String(pid), String(f.fr), String(f.depth)]
            for (n, v) in args() { fields.append(n); fields.append(v) }
            record(fields)
        }
        return f
    }

    static func module(_ pid: Int) -> __CAFrame { call(pid, []) }

    /// The end of a frame (its `defer`): a return, or an error leaving it.
    static func exit(_ f: __CAFrame) {
        guard f.fr != 0 else { return }
        depth = f.depth
        if let i = stack.lastIndex(where: { $0 === f }) { stack.removeSubrange(i...) }
        guard on else { return }
        if f.returned {
            if count() { record(["r", String(f.pid), String(f.fr), String(f.depth), f.value]) }
        } else {
            if xfr != f.fr {
                xfr = f.fr
                if count() { record(["x", String(f.pid), String(f.fr), String(f.depth), xtype, xmessage]) }
            }
            if on && count() { record(["r", String(f.pid), String(f.fr), String(f.depth)]) }
        }
    }

    static func moduleEnd(_ f: __CAFrame, _ pid: Int) {
        f.pid = pid
        f.returned = true
        exit(f)
    }

    static func ret<T>(_ f: __CAFrame, _ pid: Int, _ value: T) -> T {
        f.pid = pid
        f.returned = true
        if on && f.fr != 0 { f.value = s(value) }
        return value
    }

    static func retVoid(_ f: __CAFrame, _ pid: Int) {
        f.pid = pid
        f.returned = true
    }

    /// A line probe: `vars` are the visible, initialised variables.
    static func line(_ pid: Int, _ f: __CAFrame, _ vars: [(String, String)]) {
        guard on, f.fr != 0 else { return }
        f.pid = pid
        if count() {
            var fields = ["l", String(pid), String(f.fr), String(f.depth)]
            for (n, v) in vars { fields.append(n); fields.append(v) }
            record(fields)
        }
    }

    /// A line probe in a loop condition: always true.
    static func t(_ pid: Int, _ f: __CAFrame, _ vars: @autoclosure () -> [(String, String)]) -> Bool {
        if on { line(pid, f, vars()) }
        return true
    }

    // ---- errors ----------------------------------------------------------------------------
    static func note(_ e: Error) {
        let was = on
        on = false
        xtype = String(reflecting: type(of: e))
        xmessage = String(describing: e)
        on = was
    }

    /// `throw e`: an exception record in the throwing frame.
    static func thrown<E: Error>(_ f: __CAFrame, _ pid: Int, _ e: E) -> E {
        guard on, f.fr != 0 else { return e }
        note(e)
        f.pid = pid
        xfr = f.fr
        if count() { record(["x", String(pid), String(f.fr), String(f.depth), xtype, xmessage]) }
        return e
    }

    /// The start of a `catch` block: the error arrives in this frame.
    static func caught(_ f: __CAFrame, _ pid: Int, _ e: Error?) {
        guard on, f.fr != 0 else { return }
        if let e = e { note(e) }
        f.pid = pid
        if xfr != f.fr {
            xfr = f.fr
            if count() { record(["x", String(pid), String(f.fr), String(f.depth), xtype, xmessage]) }
        }
        xfr = 0
    }

    // ---- output and crashes ----------------------------------------------------------------
    static func out(_ stream: Int, _ text: String) {
        guard on, !text.isEmpty else { return }
        record(["o", String(stream), text])
    }

    static func fatal(_ sig: Int32) {
        if on, let f = stack.last {
            on = false
            let (name, message): (String, String) = {
                switch sig {
                case SIGSEGV: return ("SIGSEGV", "Segmentation fault")
                case SIGILL: return ("SIGILL", "Illegal instruction")
                case SIGTRAP: return ("SIGTRAP", "Trace/breakpoint trap")
                case SIGABRT: return ("SIGABRT", "Aborted")
                case SIGFPE: return ("SIGFPE", "Floating point exception")
                default: return ("SIGNAL", "signal")
                }
            }()
            record(["x", String(f.pid), String(f.fr), String(f.depth), name, message])
            flush()
        }
        signal(sig, SIG_DFL)
        raise(sig)
    }
}

/// print, as the standard library's, with an output record first. The program's own module
/// declares it, so it shadows Swift.print for the program's calls (print(_:to:) is not shadowed).
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    let text = items.map { String(describing: $0) }.joined(separator: separator) + terminator
    if __CA.on { __CA.out(1, text) }
    Swift.print(text, terminator: "")
}
