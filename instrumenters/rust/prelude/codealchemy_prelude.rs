// CodeAlchemy's Rust prelude: the runtime the probes call (std only, no dependencies).
//
// The instrumented main.rs declares it as `#[macro_use] #[path = "codealchemy_prelude.rs"] mod __ca;`
// on its first line, so the print macros below shadow std's in the whole file. It speaks the
// channel protocol of tracer/wire.py: records to the fd named by CODEALCHEMY_TRACE_FD, buffered
// under one Mutex (so events of all threads are in true order), flushed when the buffer is
// large, when a thread's outermost traced frame ends (main's included), from the panic hook, and
// before `process::exit` (the rewriter routes it here). Without the variable every probe is a
// no-op.
#![allow(dead_code, unused_imports, unused_macros, deprecated, clippy::all)]

use std::any::type_name;
use std::cell::Cell;
use std::fmt::{self, Debug, Write as _};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, Once};

struct Chan {
    file: Option<std::fs::File>,
    buf: Vec<u8>,
    events: u64,
}

static INIT: Once = Once::new();
static ON: AtomicBool = AtomicBool::new(false);
static MAX_EVENTS: AtomicU64 = AtomicU64::new(0);
static MAX_VALUE: AtomicUsize = AtomicUsize::new(200);
static NEXT_FRAME: AtomicU64 = AtomicU64::new(1);
static CHAN: Mutex<Chan> = Mutex::new(Chan { file: None, buf: Vec::new(), events: 0 });
const FLUSH_AT: usize = 1 << 16;

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    static QUIET: Cell<u32> = const { Cell::new(0) };
    static POOL: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    static PANIC: Cell<Option<(String, String)>> = const { Cell::new(None) };
}

fn init() {
    INIT.call_once(|| {
        let fd = std::env::var("CODEALCHEMY_TRACE_FD").ok().and_then(|s| s.trim().parse::<i32>().ok());
        let fd = match fd {
            Some(fd) if fd >= 0 => fd,
            _ => return,
        };
        let num = |k: &str, d: u64| std::env::var(k).ok().and_then(|s| s.trim().parse::<u64>().ok()).unwrap_or(d);
        MAX_EVENTS.store(num("CODEALCHEMY_MAX_EVENTS", 100_000), Relaxed);
        MAX_VALUE.store(num("CODEALCHEMY_MAX_VALUE", 200).max(1) as usize, Relaxed);
        {
            use std::os::unix::io::FromRawFd;
            let mut chan = lock();
            chan.file = Some(unsafe { std::fs::File::from_raw_fd(fd) });
            chan.buf.reserve(FLUSH_AT + 4096);
        }
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            on_panic(info);
            prev(info)
        }));
        ON.store(true, Relaxed);
    });
}

fn lock() -> std::sync::MutexGuard<'static, Chan> {
    CHAN.lock().unwrap_or_else(|e| e.into_inner())
}

fn flush_locked(chan: &mut Chan) {
    if let Some(file) = chan.file.as_mut() {
        let _ = file.write_all(&chan.buf);
    }
    chan.buf.clear();
}

/// Writes what is buffered to the channel.
pub fn flush() {
    flush_locked(&mut lock());
}

fn append(rec: &[u8]) {
    let mut chan = lock();
    chan.buf.extend_from_slice(rec);
    if chan.buf.len() >= FLUSH_AT {
        flush_locked(&mut chan);
    }
}

/// Appends an event record, counted against CODEALCHEMY_MAX_EVENTS (under the same lock, so the
/// count is exact across threads); at the limit: a `t` record, once, then silence.
fn append_event(rec: &[u8]) {
    let mut chan = lock();
    if chan.events >= MAX_EVENTS.load(Relaxed) {
        if ON.swap(false, Relaxed) {
            chan.buf.extend_from_slice(b"t\tmax_events\n");
            flush_locked(&mut chan);
        }
        return;
    }
    chan.events += 1;
    chan.buf.extend_from_slice(rec);
    if chan.buf.len() >= FLUSH_AT {
        flush_locked(&mut chan);
    }
}

fn on_panic(info: &std::panic::PanicInfo<'_>) {
    let payload = info.payload();
    let message = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_string()
    };
    PANIC.with(|p| p.set(Some(("panic".to_string(), message))));
    flush();
}

/// `std::panic::set_hook` in the program: the program's hook runs after the tracer's record.
pub fn set_hook(hook: Box<dyn Fn(&std::panic::PanicInfo<'_>) + Sync + Send + 'static>) {
    init();
    if !ON.load(Relaxed) {
        return std::panic::set_hook(hook);
    }
    std::panic::set_hook(Box::new(move |info| {
        on_panic(info);
        hook(info)
    }))
}

/// `std::process::exit`: flush the trace first (exit runs no destructors).
pub fn exit(code: i32) -> ! {
    flush();
    std::process::exit(code)
}

/// `std::process::abort`: flush the trace first.
pub fn abort() -> ! {
    flush();
    std::process::abort()
}

// --- escaping and rendering -------------------------------------------------------------------

/// fmt::Write into a record field: escapes \ TAB LF CR, stops after `left` characters (then "…").
struct Field<'a> {
    out: &'a mut Vec<u8>,
    left: usize,
    cut: bool,
}

impl<'a> fmt::Write for Field<'a> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.cut {
            return Err(fmt::Error);
        }
        let bytes = s.as_bytes();
        if bytes.len() <= self.left && !bytes.iter().any(|&b| b == b'\\' || b == b'\t' || b == b'\n' || b == b'\r') {
            self.out.extend_from_slice(bytes);
            self.left -= if bytes.is_ascii() { bytes.len() } else { s.chars().count() };
            return Ok(());
        }
        for ch in s.chars() {
            if self.left == 0 {
                self.out.extend_from_slice("…".as_bytes());
                self.cut = true;
                return Err(fmt::Error);
            }
            self.left -= 1;
            match ch {
                '\\' => self.out.extend_from_slice(b"\\\\"),
                '\t' => self.out.extend_from_slice(b"\\t"),
                '\n' => self.out.extend_from_slice(b"\\n"),
                '\r' => self.out.extend_from_slice(b"\\r"),
                c => {
                    let mut tmp = [0u8; 4];
                    self.out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes())
                }
            }
        }
        Ok(())
    }
}

fn field(out: &mut Vec<u8>, limit: usize) -> Field<'_> {
    Field { out, left: limit, cut: false }
}

/// A type name without module paths: `alloc::vec::Vec<main::Foo>` -> `Vec<Foo>`.
fn short_type_name(full: &str) -> String {
    // references render like Debug renders them: as the value they point to
    let full = full.trim_start_matches("&mut ").trim_start_matches('&');
    if full.contains("{{closure}}") {
        return "closure".to_string();
    }
    let mut out = String::with_capacity(full.len());
    let mut seg = 0;
    let b = full.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b':' && i + 1 < b.len() && b[i + 1] == b':' {
            out.truncate(seg);
            i += 2;
            continue;
        }
        let c = b[i] as char;
        if !(c.is_ascii_alphanumeric() || c == '_') {
            out.push(c);
            seg = out.len();
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

/// The value being rendered: `(&&W(&x)).__ca_v("x", &mut ev)` picks Debug where the type has it
/// (the impl on `&W`, found first by method lookup), else the type name (the impl on `W`).
pub struct W<'a, T: ?Sized>(pub &'a T);

pub trait __CaDbg {
    fn __ca_v(&self, name: &str, ev: &mut Ev);
    fn __ca_r(&self, ev: &mut Ev);
}

pub trait __CaAny {
    fn __ca_v(&self, name: &str, ev: &mut Ev);
    fn __ca_r(&self, ev: &mut Ev);
}

impl<'a, T: ?Sized + Debug> __CaDbg for &W<'a, T> {
    #[inline]
    fn __ca_v(&self, name: &str, ev: &mut Ev) {
        ev.name(name);
        ev.debug(self.0);
    }
    #[inline]
    fn __ca_r(&self, ev: &mut Ev) {
        ev.buf.push(b'\t');
        ev.debug(self.0);
    }
}

impl<'a, T: ?Sized> __CaAny for W<'a, T> {
    fn __ca_v(&self, name: &str, ev: &mut Ev) {
        ev.name(name);
        ev.opaque(type_name::<T>());
    }
    fn __ca_r(&self, ev: &mut Ev) {
        ev.buf.push(b'\t');
        ev.opaque(type_name::<T>());
    }
}

/// Integers and bools skip the formatting machinery: `(&&&W(&x))` finds this impl first.
pub trait __CaPrim {
    fn __ca_v(&self, name: &str, ev: &mut Ev);
    fn __ca_r(&self, ev: &mut Ev);
}

macro_rules! __ca_prim {
    ($($t:ty => $conv:expr),* $(,)?) => {$(
        impl<'a> __CaPrim for &&W<'a, $t> {
            #[inline]
            fn __ca_v(&self, name: &str, ev: &mut Ev) {
                ev.name(name);
                let f: fn(&mut Vec<u8>, $t) = $conv;
                f(&mut ev.buf, *self.0);
            }
            #[inline]
            fn __ca_r(&self, ev: &mut Ev) {
                ev.buf.push(b'\t');
                let f: fn(&mut Vec<u8>, $t) = $conv;
                f(&mut ev.buf, *self.0);
            }
        }
    )*};
}

fn push_signed(buf: &mut Vec<u8>, n: i64) {
    if n < 0 {
        buf.push(b'-');
    }
    push_num(buf, n.unsigned_abs());
}

__ca_prim! {
    u8 => |b, n| push_num(b, n as u64), u16 => |b, n| push_num(b, n as u64), u32 => |b, n| push_num(b, n as u64),
    u64 => |b, n| push_num(b, n), usize => |b, n| push_num(b, n as u64),
    i8 => |b, n| push_signed(b, n as i64), i16 => |b, n| push_signed(b, n as i64),
    i32 => |b, n| push_signed(b, n as i64), i64 => |b, n| push_signed(b, n), isize => |b, n| push_signed(b, n as i64),
    bool => |b, v| b.extend_from_slice(if v { b"true" } else { b"false" }),
}

// --- records ----------------------------------------------------------------------------------

/// One record being built; it is appended to the channel when dropped. While it exists, traced
/// functions that the rendering calls (Debug impls) record nothing.
pub struct Ev {
    buf: Vec<u8>,
    event: bool,
}

impl Ev {
    fn new(tag: u8, pid: u32, frame: u64, depth: u32) -> Ev {
        let mut buf = POOL.with(|p| p.take());
        QUIET.with(|q| q.set(q.get() + 1));
        buf.push(tag);
        buf.push(b'\t');
        push_num(&mut buf, pid as u64);
        buf.push(b'\t');
        push_num(&mut buf, frame);
        buf.push(b'\t');
        push_num(&mut buf, depth as u64);
        Ev { buf, event: true }
    }

    /// `name` comes with its tabs: "\tx\t".
    #[inline]
    fn name(&mut self, name: &str) {
        self.buf.extend_from_slice(name.as_bytes());
    }

    fn debug<T: ?Sized + Debug>(&mut self, v: &T) {
        let mut f = field(&mut self.buf, MAX_VALUE.load(Relaxed));
        let _ = write!(f, "{:?}", v);
    }

    fn opaque(&mut self, ty: &str) {
        let mut f = field(&mut self.buf, MAX_VALUE.load(Relaxed));
        let _ = write!(f, "<{}>", short_type_name(ty));
    }

    fn text(&mut self, s: &str) {
        self.buf.push(b'\t');
        let mut f = field(&mut self.buf, usize::MAX);
        let _ = f.write_str(s);
    }
}

impl Drop for Ev {
    fn drop(&mut self) {
        self.buf.push(b'\n');
        if self.event {
            append_event(&self.buf);
        } else {
            append(&self.buf);
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        POOL.with(|p| p.set(buf));
        QUIET.with(|q| q.set(q.get() - 1));
    }
}

fn push_num(buf: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Program output (the shadowed print macros): an `o` record before the bytes are written.
pub fn out(stream: u8, text: &str) {
    init();
    if !ON.load(Relaxed) || text.is_empty() {
        return;
    }
    let mut buf = Vec::with_capacity(text.len() + 8);
    buf.extend_from_slice(if stream == 1 { b"o\t1" } else { b"o\t2" });
    let mut ev = Ev { buf, event: false };
    ev.text(text);
    QUIET.with(|q| q.set(q.get() + 1));
    drop(ev);
}

// --- frames -----------------------------------------------------------------------------------

/// A traced call. Created first in the function body, so it is dropped last: the drop records
/// the return when nothing else did (unit functions) or the unwinding (exception + return).
pub struct Frame {
    id: u64,
    depth: u32,
    end: u32,
    last: Cell<u32>,
    on: bool,
    unit: bool,
    returned: Cell<bool>,
    panicking: bool,
}

/// Enters a traced function: `call` is its call probe, `end` the probe of its closing brace.
#[inline]
pub fn enter(call: u32, end: u32, unit: bool) -> Frame {
    init();
    let depth = DEPTH.with(|d| {
        let v = d.get();
        d.set(v + 1);
        v
    });
    let on = ON.load(Relaxed) && QUIET.with(|q| q.get()) == 0;
    let id = if on { NEXT_FRAME.fetch_add(1, Relaxed) } else { 0 };
    Frame { id, depth, end, last: Cell::new(call), on, unit, returned: Cell::new(false),
            panicking: on && std::thread::panicking() }
}

impl Frame {
    #[inline]
    fn ev(&self, tag: u8, pid: u32) -> Option<Ev> {
        if !self.on || !ON.load(Relaxed) {
            return None;
        }
        Some(Ev::new(tag, pid, self.id, self.depth))
    }

    /// The call record (arguments are added to it).
    #[inline]
    pub fn c(&self) -> Option<Ev> {
        let pid = self.last.get();
        self.ev(b'c', pid)
    }

    /// A line record (variables are added to it).
    #[inline]
    pub fn l(&self, pid: u32) -> Option<Ev> {
        self.last.set(pid);
        self.ev(b'l', pid)
    }

    /// A line record without variables.
    #[inline]
    pub fn l0(&self, pid: u32) {
        self.last.set(pid);
        drop(self.ev(b'l', pid));
    }

    /// A loop's header at the start of an iteration: not right after the same line's probe (the
    /// statement probe of `let x = loop {` already fired for the first iteration).
    #[inline]
    pub fn lh(&self, pid: u32) -> Option<Ev> {
        if self.last.get() == pid {
            return None;
        }
        self.l(pid)
    }

    #[inline]
    pub fn lh0(&self, pid: u32) {
        if self.last.get() != pid {
            self.l0(pid)
        }
    }

    /// The return of a tail expression, at the line that ran last in the frame.
    #[inline]
    pub fn rl(&self) -> Option<Ev> {
        let pid = self.last.get();
        self.r(pid)
    }

    /// A return record (the value is added to it).
    #[inline]
    pub fn r(&self, pid: u32) -> Option<Ev> {
        self.returned.set(true);
        self.ev(b'r', pid)
    }

    /// `return;` in a function that returns ().
    #[inline]
    pub fn ru(&self, pid: u32) {
        self.returned.set(true);
        if let Some(mut ev) = self.ev(b'r', pid) {
            ev.text("()");
        }
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(self.depth));
        if self.on {
            if std::thread::panicking() && !self.panicking {
                if let Some(mut ev) = self.ev(b'x', self.last.get()) {
                    let (ty, msg) = PANIC.with(|p| {
                        let v = p.take();
                        p.set(v.clone());
                        v
                    })
                    .unwrap_or_else(|| ("panic".to_string(), String::new()));
                    ev.text(&ty);
                    ev.text(&msg);
                }
                drop(self.ev(b'r', self.last.get()));
            } else if !self.returned.get() {
                if let Some(mut ev) = self.ev(b'r', self.end) {
                    if self.unit {
                        ev.text("()");
                    }
                }
            }
        }
        if self.depth == 0 {
            flush();
        }
    }
}

/// `?` in a traced function: when it returns early, record the return (the value before `From`).
pub trait __CaQ: Sized {
    fn __ca_q<F: FnOnce(&Self, &mut Ev)>(self, f: &Frame, pid: u32, render: F) -> Self;
}

impl<T, E> __CaQ for Result<T, E> {
    #[inline]
    fn __ca_q<F: FnOnce(&Self, &mut Ev)>(self, f: &Frame, pid: u32, render: F) -> Self {
        if self.is_err() {
            if let Some(mut ev) = f.r(pid) {
                render(&self, &mut ev);
            }
        }
        self
    }
}

impl<T> __CaQ for Option<T> {
    #[inline]
    fn __ca_q<F: FnOnce(&Self, &mut Ev)>(self, f: &Frame, pid: u32, render: F) -> Self {
        if self.is_none() {
            if let Some(mut ev) = f.r(pid) {
                render(&self, &mut ev);
            }
        }
        self
    }
}

/// `return EXPR` / a tail expression whose column must not move: `EXPR.__ca_ret(...)`.
pub trait __CaRet: Sized {
    fn __ca_ret<F: FnOnce(&Self, &mut Ev)>(self, f: &Frame, pid: u32, render: F) -> Self;
}

impl<T> __CaRet for T {
    #[inline]
    fn __ca_ret<F: FnOnce(&Self, &mut Ev)>(self, f: &Frame, pid: u32, render: F) -> Self {
        if let Some(mut ev) = f.r(pid) {
            render(&self, &mut ev);
        }
        self
    }
}

/// The iterable of a `for` loop: each `next` after the first is the loop header's line event.
pub struct Each<'f, I> {
    it: I,
    f: &'f Frame,
    pid: u32,
    first: bool,
}

#[inline]
pub fn each<'f, I: IntoIterator>(it: I, f: &'f Frame, pid: u32) -> Each<'f, I::IntoIter> {
    Each { it: it.into_iter(), f, pid, first: true }
}

impl<'f, I: Iterator> Iterator for Each<'f, I> {
    type Item = I::Item;
    #[inline]
    fn next(&mut self) -> Option<I::Item> {
        if self.first {
            self.first = false;
        } else {
            self.f.l0(self.pid);
        }
        self.it.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.it.size_hint()
    }
}

// --- output macros: the same bytes as std's, plus an `o` record -------------------------------

macro_rules! print {
    ($($t:tt)*) => {{
        let __ca_s = ::std::format!($($t)*);
        $crate::__ca::out(1, &__ca_s);
        ::std::print!("{}", __ca_s)
    }};
}

macro_rules! println {
    () => {{
        $crate::__ca::out(1, "\n");
        ::std::println!()
    }};
    ($($t:tt)*) => {{
        let mut __ca_s = ::std::format!($($t)*);
        __ca_s.push('\n');
        $crate::__ca::out(1, &__ca_s);
        ::std::print!("{}", __ca_s)
    }};
}

macro_rules! eprint {
    ($($t:tt)*) => {{
        let __ca_s = ::std::format!($($t)*);
        $crate::__ca::out(2, &__ca_s);
        ::std::eprint!("{}", __ca_s)
    }};
}

macro_rules! eprintln {
    () => {{
        $crate::__ca::out(2, "\n");
        ::std::eprintln!()
    }};
    ($($t:tt)*) => {{
        let mut __ca_s = ::std::format!($($t)*);
        __ca_s.push('\n');
        $crate::__ca::out(2, &__ca_s);
        ::std::eprint!("{}", __ca_s)
    }};
}
