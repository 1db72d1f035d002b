// CodeAlchemy prelude for Go: compiled beside the instrumented main.go (same package main).
//
// It speaks the trace-channel protocol of tracer/wire.py on the file descriptor named by
// CODEALCHEMY_TRACE_FD; when that variable is unset every probe is a no-op. Standard library
// only. Every identifier starts with _ca so that it cannot clash with the program's names.
// Goroutine-safe: one mutex guards the buffer, the counters and the per-goroutine stacks.

package main

import (
	"fmt"
	"io"
	"os"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

var (
	_caMu        sync.Mutex
	_caFile      *os.File
	_caBuf       []byte
	_caMaxEvents = 100000
	_caMaxValue  = 200
	_caEvents    int
	_caStopped   atomic.Bool // read without the lock before rendering values
	_caNextID    int64 = 1
	_caGs              = map[int64]*_caG{}
	_caOn              = _caSetup()
)

// _caG is one goroutine's stack of traced frames.
type _caG struct {
	id    int64
	stack []*_caFrame
}

// _caFrame is one traced call of a function or function literal.
type _caFrame struct {
	id    int64
	depth int
	g     *_caG
	cur   int // the probe of the statement being run (for exceptions)
	rp    int // the return probe: the return statement reached, or the closing brace
	// thrown: the frame's own panic(...) call reported its exception already (P)
	thrown bool
}

func _caSetup() bool {
	fd, err := strconv.Atoi(os.Getenv("CODEALCHEMY_TRACE_FD"))
	if err != nil || fd < 0 {
		return false
	}
	if n, err := strconv.Atoi(os.Getenv("CODEALCHEMY_MAX_EVENTS")); err == nil && n >= 0 {
		_caMaxEvents = n
	}
	if n, err := strconv.Atoi(os.Getenv("CODEALCHEMY_MAX_VALUE")); err == nil && n > 0 {
		_caMaxValue = n
	}
	_caFile = os.NewFile(uintptr(fd), "codealchemy-trace")
	if _caFile == nil {
		return false
	}
	_caBuf = make([]byte, 0, 1<<16)
	return true
}

// ---- the channel ------------------------------------------------------------------------

func _caEsc(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, c)
		}
	}
	return b
}

func _caFlushLocked() {
	if _caFile != nil && len(_caBuf) > 0 {
		_caFile.Write(_caBuf)
		_caBuf = _caBuf[:0]
	}
}

// _caFlush writes what is buffered (at exit, os.Exit, log.Fatal and uncaught panics).
func _caFlush() {
	if !_caOn {
		return
	}
	_caMu.Lock()
	_caFlushLocked()
	_caMu.Unlock()
}

// _caEventLocked reserves room for one call/line/return/exception record; false: recording stopped.
func _caEventLocked() bool {
	if _caStopped.Load() {
		return false
	}
	if _caEvents >= _caMaxEvents {
		_caStopped.Store(true)
		_caBuf = append(_caBuf, "t\tmax_events\n"...)
		_caFlushLocked()
		return false
	}
	_caEvents++
	return true
}

func _caHead(tag byte, pid int, f *_caFrame) {
	_caBuf = append(_caBuf, tag, '\t')
	_caBuf = strconv.AppendInt(_caBuf, int64(pid), 10)
	_caBuf = append(_caBuf, '\t')
	_caBuf = strconv.AppendInt(_caBuf, f.id, 10)
	_caBuf = append(_caBuf, '\t')
	_caBuf = strconv.AppendInt(_caBuf, int64(f.depth), 10)
}

// _caPairs renders name/value pairs as record fields. It runs outside the lock: rendering
// may call the program's GoString methods, which are traced too.
func _caPairs(kv []any) []byte {
	var b []byte
	for i := 0; i+1 < len(kv); i += 2 {
		name, _ := kv[i].(string)
		b = append(b, '\t')
		b = _caEsc(b, name)
		b = append(b, '\t')
		b = _caEsc(b, _caRender(kv[i+1]))
	}
	return b
}

func _caEnd() {
	_caBuf = append(_caBuf, '\n')
	if len(_caBuf) >= 1<<16 {
		_caFlushLocked()
	}
}

// _caGid is the current goroutine's id, read from the header of runtime.Stack.
func _caGid() int64 {
	var b [64]byte
	n := runtime.Stack(b[:], false)
	s := strings.TrimPrefix(string(b[:n]), "goroutine ")
	if i := strings.IndexByte(s, ' '); i > 0 {
		s = s[:i]
	}
	id, _ := strconv.ParseInt(s, 10, 64)
	return id
}

// ---- probes -----------------------------------------------------------------------------

func _caEnter(pid, end int, main bool, kv []any) *_caFrame {
	gid := _caGid()
	var pairs []byte
	if !_caStopped.Load() {
		pairs = _caPairs(kv)
	}
	_caMu.Lock()
	defer _caMu.Unlock()
	g := _caGs[gid]
	if g == nil {
		g = &_caG{id: gid}
		_caGs[gid] = g
	}
	f := &_caFrame{depth: len(g.stack), g: g, cur: pid, rp: end}
	if main {
		f.id = 1
	} else {
		_caNextID++
		f.id = _caNextID
	}
	g.stack = append(g.stack, f)
	if _caEventLocked() {
		_caHead('c', pid, f)
		_caBuf = append(_caBuf, pairs...)
		_caEnd()
	}
	return f
}

// _caCall opens the frame of a function; nil when tracing is off (every method accepts nil).
func _caCall(pid, end int, kv ...any) *_caFrame {
	if !_caOn {
		return nil
	}
	return _caEnter(pid, end, false, kv)
}

// _caMain opens main's frame: frame 1 at depth 0.
func _caMain(pid, end int) *_caFrame {
	if !_caOn {
		return nil
	}
	return _caEnter(pid, end, true, nil)
}

// L: about to run the statement of probe pid; kv are the visible variables.
func (f *_caFrame) L(pid int, kv ...any) {
	if f == nil {
		return
	}
	var pairs []byte
	if !_caStopped.Load() {
		pairs = _caPairs(kv)
	}
	_caMu.Lock()
	f.cur = pid
	if _caEventLocked() {
		_caHead('l', pid, f)
		_caBuf = append(_caBuf, pairs...)
		_caEnd()
	}
	_caMu.Unlock()
}

// C is L for a loop or else-if condition: it always yields true.
func (f *_caFrame) C(pid int, kv ...any) bool {
	f.L(pid, kv...)
	return true
}

// P wraps the value of the frame's own `panic(v)` calls: the exception is reported where the
// panic happens, before the deferred calls run (their events and output come after it, as
// they do in the program); Exit and _caRecovered then do not report it again for this frame.
func (f *_caFrame) P(v any) any {
	if f == nil {
		return v
	}
	typ, text := _caPanicInfo(v)
	_caMu.Lock()
	f.raisedLocked(typ, text)
	f.thrown = true
	_caMu.Unlock()
	return v
}

// R marks the return statement about to run.
func (f *_caFrame) R(pid int) {
	if f != nil {
		f.rp = pid
	}
}

// Exit runs as the function's first-deferred (so last-run) call. p is what recover()
// returned there: non-nil when a panic is unwinding the frame. It reports the return (or the
// exception and the unwinding), then lets the panic go on: a goroutine's outermost traced
// frame prints it as the runtime would (with GOTRACEBACK=none) and exits with status 2, any
// other frame panics again with the same value.
func (f *_caFrame) Exit(p any, results ...any) {
	if p == nil {
		value := ""
		if !_caStopped.Load() {
			value = _caResults(results)
		}
		_caMu.Lock()
		f.pop()
		if _caEventLocked() {
			_caHead('r', f.rp, f)
			_caBuf = append(_caBuf, '\t')
			_caBuf = _caEsc(_caBuf, value)
			_caEnd()
		}
		if f.depth == 0 && f.id == 1 {
			_caFlushLocked()
		}
		_caMu.Unlock()
		return
	}
	typ, text := _caPanicInfo(p)
	_caMu.Lock()
	f.pop()
	if !f.thrown {
		f.raisedLocked(typ, text)
	}
	if _caEventLocked() {
		_caHead('r', f.cur, f)
		_caEnd()
	}
	if f.depth == 0 {
		_caFlushLocked()
		if os.Getenv("GOTRACEBACK") == "none" {
			// still holding the lock: other goroutines stop at their next probe, as the
			// runtime would stop them, instead of running on while this one reports
			os.Stderr.WriteString("panic: " + text + _caSignalNote(p) + "\n")
			os.Exit(2)
		}
	}
	_caMu.Unlock()
	panic(p)
}

func (f *_caFrame) pop() {
	s := f.g.stack
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == f {
			f.g.stack = s[:i]
			break
		}
	}
	if len(f.g.stack) == 0 {
		delete(_caGs, f.g.id)
	}
}

func (f *_caFrame) raisedLocked(typ, text string) {
	if _caEventLocked() {
		_caHead('x', f.cur, f)
		_caBuf = append(_caBuf, '\t')
		_caBuf = _caEsc(_caBuf, typ)
		_caBuf = append(_caBuf, '\t')
		_caBuf = _caEsc(_caBuf, text)
		_caEnd()
	}
}

func _caPanicInfo(p any) (string, string) {
	return fmt.Sprintf("%T", p), _caPanicText(p)
}

// _caSignalNote approximates the line the runtime adds for a panic raised by a signal (its
// pc differs from run to run anyway).
func _caSignalNote(p any) string {
	if e, ok := p.(runtime.Error); ok && strings.Contains(e.Error(), "nil pointer dereference") {
		return "\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x0]"
	}
	return ""
}

// _caRecovered wraps the program's recover() calls: a recovered panic is an exception of
// the frame whose deferred call recovered it (the frame below the deferred function's own).
func _caRecovered(p any) any {
	if p == nil || !_caOn {
		return p
	}
	gid := _caGid()
	typ, text := _caPanicInfo(p)
	_caMu.Lock()
	if g := _caGs[gid]; g != nil && len(g.stack) >= 2 {
		if f := g.stack[len(g.stack)-2]; f.thrown {
			f.thrown = false // its panic(...) reported it; a later one will be reported again
		} else {
			f.raisedLocked(typ, text)
		}
	}
	_caMu.Unlock()
	return p
}

// _caPanicText is the panic value as the runtime prints it after "panic: ".
func _caPanicText(p any) (s string) {
	defer func() {
		if recover() != nil {
			s = fmt.Sprintf("(%T)", p)
		}
	}()
	switch v := p.(type) {
	case error:
		s = v.Error()
	case fmt.Stringer:
		s = v.String()
	case string:
		s = v
	case bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, uintptr,
		float32, float64, complex64, complex128:
		s = fmt.Sprint(v)
	default:
		rv := reflect.ValueOf(p)
		switch rv.Kind() {
		case reflect.String:
			s = fmt.Sprintf("%T(%q)", p, rv.String())
		case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
			reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
			s = fmt.Sprintf("%T(%v)", p, p)
		default:
			s = fmt.Sprintf("(%T) %#x", p, (*[2]uintptr)(unsafe.Pointer(&p))[1])
		}
	}
	return strings.ReplaceAll(s, "\n", "\n\t")
}

// ---- output -----------------------------------------------------------------------------

func _caOut(w io.Writer, s string) {
	if !_caOn || s == "" {
		return
	}
	stream := byte(0)
	if w == io.Writer(os.Stdout) {
		stream = '1'
	} else if w == io.Writer(os.Stderr) {
		stream = '2'
	}
	if stream == 0 {
		return
	}
	_caMu.Lock()
	if !_caStopped.Load() {
		_caBuf = append(_caBuf, 'o', '\t', stream, '\t')
		_caBuf = _caEsc(_caBuf, s)
		_caEnd()
	}
	_caMu.Unlock()
}

func _caWrite(w io.Writer, s string) (int, error) {
	n, err := w.Write([]byte(s))
	if n > 0 {
		_caOut(w, s[:n])
	}
	return n, err
}

func _caPrint(a ...any) (int, error)                 { return _caWrite(os.Stdout, fmt.Sprint(a...)) }
func _caPrintln(a ...any) (int, error)               { return _caWrite(os.Stdout, fmt.Sprintln(a...)) }
func _caPrintf(format string, a ...any) (int, error) { return _caWrite(os.Stdout, fmt.Sprintf(format, a...)) }
func _caFprint(w io.Writer, a ...any) (int, error)   { return _caWrite(w, fmt.Sprint(a...)) }
func _caFprintln(w io.Writer, a ...any) (int, error) { return _caWrite(w, fmt.Sprintln(a...)) }
func _caFprintf(w io.Writer, format string, a ...any) (int, error) {
	return _caWrite(w, fmt.Sprintf(format, a...))
}

// _caTeeW writes to os.Stdout or os.Stderr and records what it wrote (the rewriter wraps
// the stream in os.Stdout.Write/WriteString calls and in bufio.NewWriter(os.Stdout)).
type _caTeeW struct{ f *os.File }

func _caTee(f *os.File) _caTeeW { return _caTeeW{f} }

func (t _caTeeW) Write(p []byte) (int, error) {
	n, err := t.f.Write(p)
	if n > 0 {
		_caOut(t.f, string(p[:n]))
	}
	return n, err
}

func (t _caTeeW) WriteString(s string) (int, error) {
	n, err := t.f.WriteString(s)
	if n > 0 {
		_caOut(t.f, s[:n])
	}
	return n, err
}

// _caLogW is the standard logger's writer while tracing: os.Stderr, recorded, and the trace
// flushed after each entry (log.Fatal exits right after writing its entry).
type _caLogW struct{}

func (_caLogW) Write(p []byte) (int, error) {
	n, err := _caTee(os.Stderr).Write(p)
	_caFlush()
	return n, err
}

// _caLogTo points the standard logger (of a program that imports log) at _caLogW, when it
// still writes to os.Stderr.
func _caLogTo(writer func() io.Writer, set func(io.Writer)) {
	if _caOn && writer() == io.Writer(os.Stderr) {
		set(_caLogW{})
	}
}

// _caFlushThen flushes the trace before a call that ends the process (os.Exit, log.Fatal).
func _caFlushThen[F any](f F) F {
	_caFlush()
	return f
}

// ---- values: like %#v, deterministic (no addresses), cycle-safe, cut at the length limit ----

type _caR struct {
	b     strings.Builder
	limit int
	seen  map[uintptr]bool
}

func _caRender(v any) (s string) {
	r := &_caR{limit: _caMaxValue + 1}
	defer func() {
		if recover() != nil {
			s = r.b.String() + "<panic>"
		}
	}()
	if v == nil {
		return "<nil>"
	}
	if b, ok := v.([]byte); ok && b != nil {
		r.list("[]byte", reflect.ValueOf(v)) // as fmt's %#v writes a []byte it is given
	} else {
		r.value(reflect.ValueOf(v), true)
	}
	s = r.b.String()
	if len([]rune(s)) > _caMaxValue {
		s = string([]rune(s)[:_caMaxValue-1]) + "…"
	}
	return s
}

func (r *_caR) full() bool { return r.b.Len() > r.limit*4 }

func (r *_caR) w(s string) { r.b.WriteString(s) }

var _caGoStringer = reflect.TypeOf((*fmt.GoStringer)(nil)).Elem()

func (r *_caR) value(v reflect.Value, top bool) {
	if r.full() {
		return
	}
	if !v.IsValid() {
		r.w("<nil>")
		return
	}
	t := v.Type()
	if v.CanInterface() && t.Implements(_caGoStringer) && (v.Kind() != reflect.Pointer || !v.IsNil()) {
		r.w(v.Interface().(fmt.GoStringer).GoString())
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		r.w(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		r.w(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		r.w("0x" + strconv.FormatUint(v.Uint(), 16))
	case reflect.Float32:
		r.w(strconv.FormatFloat(v.Float(), 'g', -1, 32))
	case reflect.Float64:
		r.w(strconv.FormatFloat(v.Float(), 'g', -1, 64))
	case reflect.Complex64, reflect.Complex128:
		r.w(fmt.Sprintf("%v", v.Complex()))
	case reflect.String:
		r.w(strconv.Quote(v.String()))
	case reflect.Slice:
		if v.IsNil() {
			r.w(t.String() + "(nil)")
			return
		}
		r.list(t.String(), v)
	case reflect.Array:
		r.list(t.String(), v)
	case reflect.Map:
		if v.IsNil() {
			r.w(t.String() + "(nil)")
			return
		}
		if r.enter(v.Pointer()) {
			r.w(t.String() + "{...}")
			return
		}
		defer r.leave(v.Pointer())
		keys := v.MapKeys()
		_caSortKeys(keys)
		r.w(t.String() + "{")
		for i, k := range keys {
			if i > 0 {
				r.w(", ")
			}
			if r.full() {
				break
			}
			r.value(k, false)
			r.w(":")
			r.value(v.MapIndex(k), false)
		}
		r.w("}")
	case reflect.Struct:
		if t.PkgPath() == "strings" && t.Name() == "Builder" || t.PkgPath() == "bytes" && t.Name() == "Buffer" {
			// buffers that point at themselves: show their contents
			buf := v.FieldByName("buf").Bytes()
			if off := v.FieldByName("off"); off.IsValid() && int(off.Int()) <= len(buf) {
				buf = buf[off.Int():]
			}
			r.w(t.String() + "{" + strconv.Quote(string(buf)) + "}")
			return
		}
		if t.PkgPath() == "bufio" && t.Name() == "Writer" {
			// the bytes waiting for Flush, not the whole (mostly empty) buffer
			buf, n := v.FieldByName("buf"), int(v.FieldByName("n").Int())
			if n > buf.Len() {
				n = buf.Len()
			}
			r.w("bufio.Writer{buffered:" + strconv.Quote(string(buf.Slice(0, n).Bytes())) + "}")
			return
		}
		if pkg := t.PkgPath(); pkg == "sync" || pkg == "sync/atomic" || pkg == "bufio" {
			r.w(t.String() + "{…}") // internal state that other goroutines change under us
			return
		}
		r.w(t.String() + "{")
		for i := 0; i < v.NumField(); i++ {
			if i > 0 {
				r.w(", ")
			}
			if r.full() {
				break
			}
			r.w(t.Field(i).Name + ":")
			r.value(v.Field(i), false)
		}
		r.w("}")
	case reflect.Pointer:
		if v.IsNil() {
			r.w("(" + t.String() + ")(nil)")
			return
		}
		if r.enter(v.Pointer()) {
			r.w("&" + t.Elem().String() + "{...}")
			return
		}
		defer r.leave(v.Pointer())
		r.w("&")
		r.value(v.Elem(), false)
	case reflect.Interface:
		if v.IsNil() {
			if top {
				r.w("<nil>")
			} else {
				r.w(t.String() + "(nil)")
			}
			return
		}
		r.value(v.Elem(), false)
	case reflect.Chan:
		if v.IsNil() {
			r.w("(" + t.String() + ")(nil)")
			return
		}
		r.w("(" + t.String() + ")(len=" + strconv.Itoa(v.Len()) + ", cap=" + strconv.Itoa(v.Cap()) + ")")
	case reflect.Func:
		if v.IsNil() {
			r.w("(" + t.String() + ")(nil)")
			return
		}
		r.w("(" + t.String() + ")(…)")
	default:
		r.w("(" + t.String() + ")(…)")
	}
}

func (r *_caR) enter(p uintptr) bool {
	if r.seen == nil {
		r.seen = map[uintptr]bool{}
	}
	if r.seen[p] {
		return true
	}
	r.seen[p] = true
	return false
}

func (r *_caR) leave(p uintptr) { delete(r.seen, p) }

func (r *_caR) list(typ string, v reflect.Value) {
	if v.Kind() == reflect.Slice && v.Len() > 0 {
		if r.enter(v.Pointer()) {
			r.w(typ + "{...}")
			return
		}
		defer r.leave(v.Pointer())
	}
	r.w(typ + "{")
	for i := 0; i < v.Len(); i++ {
		if i > 0 {
			r.w(", ")
		}
		if r.full() {
			break
		}
		r.value(v.Index(i), false)
	}
	r.w("}")
}

// _caSortKeys orders map keys as fmt does: numbers, strings and bools by value, the rest by rendering.
func _caSortKeys(keys []reflect.Value) {
	sort.SliceStable(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.Kind() == reflect.Interface {
			a = a.Elem()
		}
		if b.Kind() == reflect.Interface {
			b = b.Elem()
		}
		if a.Kind() == b.Kind() {
			switch a.Kind() {
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				return a.Int() < b.Int()
			case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
				return a.Uint() < b.Uint()
			case reflect.Float32, reflect.Float64:
				return a.Float() < b.Float()
			case reflect.String:
				return a.String() < b.String()
			case reflect.Bool:
				return !a.Bool() && b.Bool()
			}
		}
		ra, rb := &_caR{limit: 1 << 20}, &_caR{limit: 1 << 20}
		ra.value(a, false)
		rb.value(b, false)
		return ra.b.String() < rb.b.String()
	})
}

func _caResults(rs []any) string {
	switch len(rs) {
	case 0:
		return ""
	case 1:
		return _caRender(rs[0])
	}
	parts := make([]string, len(rs))
	for i, v := range rs {
		parts[i] = _caRender(v)
	}
	return _caRender0("(" + strings.Join(parts, ", ") + ")")
}

func _caRender0(s string) string {
	if len([]rune(s)) > _caMaxValue {
		return string([]rune(s)[:_caMaxValue-1]) + "…"
	}
	return s
}
