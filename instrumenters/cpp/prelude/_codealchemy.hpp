// CodeAlchemy C++ prelude: the runtime that instrumented C++ programs call.
//
// Included as the very first line of the instrumented main.cpp (then `#line 1`). Protocol:
// tracer/wire.py (records c/l/v/r/x/o/t on the fd named by CODEALCHEMY_TRACE_FD). Without
// that variable every probe is a test of one global and the program's streams are untouched.
//
// What it does, in order of the sections below:
// - a 4 MiB record buffer, written to the channel every 64 KiB, at exit, and on fatal signals;
// - value rendering through one template, `__ca::show`, dispatching on the type: arithmetic,
//   strings, pointers (region-relative, so deterministic), smart pointers, optionals,
//   pairs/tuples, anything with `operator<<`, anything with begin()/end() (bounded by the
//   value limit), and the type name for the rest;
// - frames as RAII guards (`__ca::Frame`), which notice unwinding with
//   std::uncaught_exceptions(); throws are seen by interposing __cxa_throw/__cxa_rethrow and
//   catches by interposing __cxa_begin_catch;
// - output: std::cout/cerr/clog get a streambuf that emits `o` records and writes through to
//   the original one; stdout/stderr (printf, puts...) become unbuffered fopencookie streams
//   that do the same (the C prelude's approach);
// - fatal signals: an `x` record for the innermost frame, the buffer flushed, the default
//   action re-raised (same exit status as untraced).
// Everything here is named __ca*. Single-threaded: a program's other threads are not traced
// consistently (their events interleave in one buffer without locking).
#ifndef CODEALCHEMY_PRELUDE_HPP
#define CODEALCHEMY_PRELUDE_HPP

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cstddef>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <streambuf>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <iterator>
#include <cxxabi.h>

// POSIX functions under private names (the program's own identifiers stay untouched)
struct __ca_sigaction_t { void (*handler)(int); unsigned long mask[16]; int flags; void (*restorer)(void); };
struct __ca_stack_t { void *sp; int flags; std::size_t size; };
struct __ca_rlimit_t { unsigned long cur, max; };
extern "C" long __ca_write(int, const void *, std::size_t) __asm__("write");
extern "C" int __ca_close(int) __asm__("close");
extern "C" int __ca_fcntl(int, int, ...) __asm__("fcntl");
extern "C" int __ca_getrlimit(int, __ca_rlimit_t *) __asm__("getrlimit");
extern "C" void *__ca_sbrk(long) __asm__("sbrk");
extern "C" int __ca_sigaction(int, const __ca_sigaction_t *, __ca_sigaction_t *) __asm__("sigaction");
extern "C" int __ca_sigaltstack(const __ca_stack_t *, __ca_stack_t *) __asm__("sigaltstack");
extern "C" int __ca_sigprocmask(int, const unsigned long *, unsigned long *) __asm__("sigprocmask");
extern "C" int __ca_raise(int) __asm__("raise");
extern "C" int __ca_sigsetjmp(void *, int) __asm__("__sigsetjmp") __attribute__((returns_twice));
extern "C" void __ca_siglongjmp(void *, int) __asm__("siglongjmp") __attribute__((noreturn));
extern "C" void *__ca_dlsym(void *, const char *) __asm__("dlsym");
extern "C" int __ca_register_atfork(void (*)(void), void (*)(void), void (*)(void), void *) __asm__("__register_atfork");
extern "C" char __ca_image_start[] __asm__("__executable_start");
extern "C" char __ca_image_end[] __asm__("_end");
extern "C" void *__dso_handle;

namespace __ca {

#define __CA_NI __attribute__((noinline, unused))
#define __CA_LIKELY(x) __builtin_expect(!!(x), 1)
#define __CA_UNLIKELY(x) __builtin_expect(!!(x), 0)
constexpr std::size_t BUF = 4u << 20;
constexpr unsigned MAXSTACK = 65536;

static char buf[BUF];
static char *p = buf;          // write position
static char *hw = buf;         // high water: flush before a record or a value past it
static char *rec = buf;        // start of the record being written
static bool on;                // recording
static int fd = -1;
static long long events, maxe = 100000;
static long vlen, maxv = 200;  // characters of the value being rendered / the limit
static unsigned frames, depth;
static unsigned stk_fr[MAXSTACK];
static int stk_pid[MAXSTACK];
static std::uintptr_t heap0, stack0;
static volatile int guarded;
static long jb[64];
static char altstack[65536];
static unsigned xfr;            // frame that has the exception record of the exception in flight
static bool in_flight;          // thrown and not yet caught
static std::string xtype, xmsg; // type and message of the last exception thrown
static std::FILE *real_out, *real_err, *cookie_out, *cookie_err;
static bool terminating;        // std::terminate runs: its own rethrow/catch is not the program's
static std::terminate_handler prev_terminate;

static __CA_NI void flush() {
    char *s = buf;
    while (s < p) {
        long n = __ca_write(fd, s, (std::size_t)(p - s));
        if (n <= 0) { on = false; break; }   // channel closed or over max_trace_bytes
        s += n;
    }
    p = rec = buf;
}
static inline void room() { if (__CA_UNLIKELY(p > hw)) flush(); }

// ---- writers: value text, escaped for the wire --------------------------------------------
static inline bool full() { return vlen > maxv; }
static inline void raw(const char *s, std::size_t n) { std::memcpy(p, s, n); p += n; }
static inline void put(const char *s, std::size_t n) {  // plain value text (no TAB/NL/backslash)
    if (vlen > maxv) return;
    std::memcpy(p, s, n); p += n; vlen += (long)n;
}
template <std::size_t N> static inline void lit(const char (&s)[N]) { put(s, N - 1); }
// value text that may hold anything: wire-escaped
static __CA_NI void text(const char *s, std::size_t n) {
    for (std::size_t i = 0; i < n && vlen <= maxv; i++) {
        char c = s[i];
        switch (c) {
        case '\\': *p++ = '\\'; *p++ = '\\'; break;
        case '\t': *p++ = '\\'; *p++ = 't'; break;
        case '\n': *p++ = '\\'; *p++ = 'n'; break;
        case '\r': *p++ = '\\'; *p++ = 'r'; break;
        default: *p++ = c;
        }
        vlen++;
    }
}

static const char digits[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";
static inline char *fmt_u(char *q, unsigned long long v) {
    if (v < 10) { *q = (char)('0' + v); return q + 1; }
    if (v < 100) { std::memcpy(q, digits + 2 * v, 2); return q + 2; }
    char tmp[24]; char *e = tmp + 24, *t = e;
    while (v >= 100) { t -= 2; std::memcpy(t, digits + 2 * (v % 100), 2); v /= 100; }
    if (v < 10) *--t = (char)('0' + v);
    else { t -= 2; std::memcpy(t, digits + 2 * v, 2); }
    std::memcpy(q, t, 24);  // fixed size: a move, not a call; only e - t bytes count
    return q + (e - t);
}
static inline char *fmt_i(char *q, long long v) {
    if (v < 0) { *q++ = '-'; return fmt_u(q, 0ull - (unsigned long long)v); }
    return fmt_u(q, (unsigned long long)v);
}
static inline char *fmt_x(char *q, unsigned long long v) {
    char tmp[20]; int i = 0;
    do { tmp[i++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
    *q++ = '0'; *q++ = 'x';
    while (i) *q++ = tmp[--i];
    return q;
}
static inline void wi(long long v) { char *s = p; p = fmt_i(p, v); vlen += p - s; }
static inline void wu(unsigned long long v) { char *s = p; p = fmt_u(p, v); vlen += p - s; }

// one character inside C++ quotes (q: the quote), C escapes, doubled backslashes for the wire
static void esc(unsigned char c, char q) {
    char e = 0;
    switch (c) {
    case '\n': e = 'n'; break;
    case '\t': e = 't'; break;
    case '\r': e = 'r'; break;
    case '\0': e = '0'; break;
    case '\\': e = '\\'; break;
    default:
        if (c == (unsigned char)q) e = (char)c;
        else if (c < 0x20 || c == 0x7f) {
            *p++ = '\\'; *p++ = '\\'; *p++ = 'x';
            *p++ = "0123456789abcdef"[c >> 4]; *p++ = "0123456789abcdef"[c & 15];
            vlen += 4;
            return;
        }
    }
    if (e) {
        *p++ = '\\'; *p++ = '\\';
        if (e == '\\') { *p++ = '\\'; *p++ = '\\'; } else *p++ = e;
        vlen += 2;
    } else { *p++ = (char)c; vlen += 1; }
}
// a quoted string of n bytes (n < 0: up to the NUL)
static __CA_NI void quoted(const char *s, long n) {
    if (full()) return;
    *p++ = '"'; vlen++;
    for (long i = 0; (n < 0 || i < n) && (n >= 0 || s[i]); i++) {
        if (vlen > maxv) return;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != 0x7f && c != '"' && c != '\\') { *p++ = (char)c; vlen++; }
        else esc(c, '"');
    }
    *p++ = '"'; vlen++;
}
// a char pointer: guarded against pointers that cannot be read
static __CA_NI void cstr(const char *s) {
    if (!s) { lit("nullptr"); return; }
    if (full()) return;
    char *start = p; long vstart = vlen;
    guarded = 1;
    if (__ca_sigsetjmp(jb, 0)) {
        unsigned long set[16] = {0};
        set[0] = (1ul << (11 - 1)) | (1ul << (7 - 1));  // SIGSEGV, SIGBUS
        __ca_sigprocmask(1 /* SIG_UNBLOCK */, set, 0);
        guarded = 0;
        p = start; vlen = vstart;
        lit("<unreadable>");
        return;
    }
    long n = 0;
    while (s[n] && n <= maxv) n++;
    quoted(s, n);
    guarded = 0;
}
static __CA_NI void wchar(char c) {
    if (full()) return;
    *p++ = '\''; vlen++; esc((unsigned char)c, '\''); *p++ = '\''; vlen++;
}
static __CA_NI void wd(double v) {
    char t[48]; int n;
    if (v == v && v - v == 0 && v == (double)(long long)v && v < 1e15 && v > -1e15) {
        if (v == 0 && 1 / v < 0) { lit("-0"); return; }
        wi((long long)v); return;
    }
    // the shortest of 15, 16 and 17 significant digits that reads back as the same double
    n = std::snprintf(t, sizeof t, "%.15g", v);
    if (v == v && v - v == 0 && std::strtod(t, 0) != v) {
        n = std::snprintf(t, sizeof t, "%.16g", v);
        if (std::strtod(t, 0) != v) n = std::snprintf(t, sizeof t, "%.17g", v);
    }
    put(t, (std::size_t)n);
}
static __CA_NI void wf(float v) {
    char t[48]; int n;
    if (v == v && v - v == 0 && v == (float)(long long)v && v < 1e7f && v > -1e7f) {
        if (v == 0 && 1 / v < 0) { lit("-0"); return; }
        wi((long long)v); return;
    }
    n = std::snprintf(t, sizeof t, "%.6g", (double)v);
    if (v == v && v - v == 0 && std::strtof(t, 0) != v) n = std::snprintf(t, sizeof t, "%.9g", (double)v);
    put(t, (std::size_t)n);
}
static __CA_NI void wld(long double v) {
    char t[64]; int n = std::snprintf(t, sizeof t, "%.18Lg", v);
    put(t, (std::size_t)n);
}

// ---- type names ---------------------------------------------------------------------------
static void tidy(std::string &s, const char *from, const char *to) {
    std::size_t at, n = std::strlen(from);
    while ((at = s.find(from)) != std::string::npos) s.replace(at, n, to);
}
static __CA_NI std::string demangle(const char *mangled) {
    int status = 0;
    char *d = abi::__cxa_demangle(mangled, 0, 0, &status);
    std::string s = d && status == 0 ? d : mangled;
    std::free(d);
    tidy(s, "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >", "std::string");
    tidy(s, "std::__cxx11::", "std::");
    tidy(s, "__gnu_cxx::", "");
    return s;
}
// a type's name as g++ spells it in __PRETTY_FUNCTION__ (incomplete types too: no typeid)
template <class T> static const std::string &tname() {
    static const std::string name = [](std::string_view f) {
        std::size_t at = f.find("T = ");
        std::string n(at == std::string_view::npos ? f : f.substr(at + 4));
        std::size_t cut = n.find_first_of(";]");
        if (cut != std::string::npos) n.resize(cut);
        tidy(n, "std::__cxx11::basic_string<char>", "std::string");
        tidy(n, "std::basic_ostream<char>", "std::ostream");
        tidy(n, "std::basic_istream<char>", "std::istream");
        tidy(n, "std::__cxx11::", "std::");
        tidy(n, "__gnu_cxx::", "");
        return n;
    }(__PRETTY_FUNCTION__);
    return name;
}

// a pointer: "(T*) REGION+0xOFFSET": image (code and static data of the executable), heap
// (the brk heap, relative to a block allocated at start-up) or stack (relative to a frame taken at
// start-up); other addresses (mmap, shared libraries) are printed raw
static __CA_NI void wp(const void *ptr, const std::string &ty) {
    if (!ptr) { lit("nullptr"); return; }
    if (full()) return;
    std::uintptr_t a = (std::uintptr_t)ptr;
    char t[160]; char *q = t;
    *q++ = '(';
    for (std::size_t i = 0; i < ty.size() && q < t + 100; i++) *q++ = ty[i];
    *q++ = '*'; *q++ = ')'; *q++ = ' ';
    if (a >= (std::uintptr_t)__ca_image_start && a < (std::uintptr_t)__ca_image_end) {
        std::memcpy(q, "image+", 6); q = fmt_x(q + 6, a - (std::uintptr_t)__ca_image_start);
    } else if (heap0 && a >= (std::uintptr_t)__ca_image_end && a < (std::uintptr_t)__ca_sbrk(0)) {
        if (a >= heap0) { std::memcpy(q, "heap+", 5); q = fmt_x(q + 5, a - heap0); }
        else { std::memcpy(q, "heap-", 5); q = fmt_x(q + 5, heap0 - a); }
    } else if (a <= stack0 + (1u << 20) && a + (64u << 20) >= stack0) {
        if (a >= stack0) { std::memcpy(q, "stack+", 6); q = fmt_x(q + 6, a - stack0); }
        else { std::memcpy(q, "stack-", 6); q = fmt_x(q + 6, stack0 - a); }
    } else q = fmt_x(q, a);
    text(t, (std::size_t)(q - t));
}

// ---- the value renderer --------------------------------------------------------------------
template <class T, class = void> struct has_out : std::false_type {};
template <class T>
struct has_out<T, std::void_t<decltype(std::declval<std::ostream &>() << std::declval<const T &>())>>
    : std::true_type {};
template <class T, class = void> struct iterable : std::false_type {};
template <class T>
struct iterable<T, std::void_t<decltype(std::begin(std::declval<const T &>()) != std::end(std::declval<const T &>()))>>
    : std::true_type {};
template <class T> struct is_pairlike : std::false_type {};
template <class A, class B> struct is_pairlike<std::pair<A, B>> : std::true_type {};
template <class... A> struct is_pairlike<std::tuple<A...>> : std::true_type {};
template <class T> struct is_optional : std::false_type {};
template <class A> struct is_optional<std::optional<A>> : std::true_type {};
template <class T> struct is_smart : std::false_type {};
template <class A, class D> struct is_smart<std::unique_ptr<A, D>> : std::true_type {};
template <class A> struct is_smart<std::shared_ptr<A>> : std::true_type {};
template <class T> struct is_strlike : std::false_type {};
template <class C, class Tr, class A> struct is_strlike<std::basic_string<C, Tr, A>> : std::is_same<C, char> {};
template <class C, class Tr> struct is_strlike<std::basic_string_view<C, Tr>> : std::is_same<C, char> {};

// a closure type, told by its name (a generic lambda must not be asked for operator<<: its
// conversion to a function pointer would instantiate its body with an ostream argument)
template <class T> constexpr bool is_closure() {
    return std::string_view(__PRETTY_FUNCTION__).find("<lambda") != std::string_view::npos;
}

template <class T> static void show(const T &v);

// classes of the program: the rewriter adds a member `__ca_fields()` that renders their fields
template <class T, class = void> struct has_fields : std::false_type {};
template <class T>
struct has_fields<T, std::void_t<decltype(std::declval<const T &>().__ca_fields())>> : std::true_type {};
template <std::size_t N, class T> static void field(const char (&name)[N], const T &x, bool first) {
    if (full()) return;
    if (!first) lit(", ");
    put(name, N - 1);
    lit(" = ");
    show(x);
}

static std::ostringstream *os;
template <class T> static __CA_NI void via_stream(const T &v) {
    if (!os) os = new std::ostringstream;
    os->str(std::string());
    os->clear();
    os->flags(std::ios::dec | std::ios::skipws);
    os->precision(6);
    os->fill(' ');
    bool was = on;
    on = false;  // a traced operator<< runs untraced while it renders (no nested events)
    *os << v;
    on = was;
    const std::string &s = os->str();
    text(s.data(), s.size() > (std::size_t)maxv + 1 ? (std::size_t)maxv + 1 : s.size());
}

template <class T, std::size_t... I> static void show_tuple(const T &v, std::index_sequence<I...>) {
    lit("{");
    ((I ? (void)lit(", ") : (void)0, full() ? (void)0 : show(std::get<I>(v))), ...);
    lit("}");
}

template <class T> static void show(const T &v) {
    using U = std::remove_cv_t<T>;
    if (full()) return;
    if constexpr (std::is_same_v<U, bool>) {
        if (v) lit("true"); else lit("false");
    } else if constexpr (std::is_same_v<U, char>) {
        wchar(v);
    } else if constexpr (std::is_integral_v<U> && std::is_signed_v<U>) {
        wi((long long)v);
    } else if constexpr (std::is_integral_v<U>) {
        wu((unsigned long long)v);
    } else if constexpr (std::is_same_v<U, float>) {
        wf(v);
    } else if constexpr (std::is_same_v<U, double>) {
        wd(v);
    } else if constexpr (std::is_floating_point_v<U>) {
        wld(v);
    } else if constexpr (std::is_enum_v<U>) {
        wi((long long)v);
    } else if constexpr (std::is_same_v<U, std::nullptr_t>) {
        lit("nullptr");
    } else if constexpr (std::is_same_v<U, std::nullopt_t>) {
        lit("nullopt");
    } else if constexpr (is_strlike<U>::value) {
        long n = (long)v.size();
        quoted(v.data(), n > maxv + 1 ? maxv + 1 : n);
    } else if constexpr (std::is_array_v<U> && std::is_same_v<std::remove_cv_t<std::remove_extent_t<U>>, char>) {
        std::size_t n = 0;
        while (n < std::extent_v<U> && v[n]) n++;
        quoted(v, (long)n);
    } else if constexpr (std::is_pointer_v<U> &&
                         std::is_same_v<std::remove_cv_t<std::remove_pointer_t<U>>, char>) {
        cstr(v);
    } else if constexpr (std::is_pointer_v<U> && std::is_function_v<std::remove_pointer_t<U>>) {
        wp((const void *)v, tname<std::remove_pointer_t<U>>());
    } else if constexpr (std::is_pointer_v<U>) {
        wp((const void *)v, tname<std::remove_cv_t<std::remove_pointer_t<U>>>());
    } else if constexpr (std::is_function_v<U>) {
        wp((const void *)&v, tname<U>());
    } else if constexpr (is_smart<U>::value) {
        wp((const void *)v.get(), tname<std::remove_cv_t<typename U::element_type>>());
    } else if constexpr (is_optional<U>::value) {
        if (v) show(*v); else lit("nullopt");
    } else if constexpr (is_pairlike<U>::value) {
        show_tuple(v, std::make_index_sequence<std::tuple_size<U>::value>());
    } else if constexpr (std::is_array_v<U>) {
        lit("{");
        for (std::size_t i = 0; i < std::extent_v<U>; i++) {
            if (i) lit(", ");
            if (full()) break;
            show(v[i]);
        }
        lit("}");
    } else if constexpr (std::is_base_of_v<std::exception, U>) {
        const std::string n = demangle(typeid(v).name());  // the dynamic type
        text(n.data(), n.size());
        lit("(");
        if (!full()) cstr(v.what());
        lit(")");
    } else if constexpr (std::is_class_v<U> && is_closure<U>()) {
        const std::string &n = tname<U>();
        text(n.data(), n.size());
    } else if constexpr (has_out<U>::value) {
        via_stream(v);
    } else if constexpr (has_fields<U>::value) {
        lit("{");
        v.__ca_fields();
        lit("}");
    } else if constexpr (iterable<U>::value) {
        lit("{");
        bool first = true;
        for (auto it = std::begin(v); it != std::end(v); ++it) {
            if (!first) lit(", ");
            first = false;
            if (full()) break;
            show(*it);
        }
        lit("}");
    } else {
        const std::string &n = tname<U>();
        text(n.data(), n.size());
        lit("{...}");
    }
}

// ---- records -------------------------------------------------------------------------------
static __CA_NI void stop() {
    p = rec;
    raw("t\tmax_events\n", 13);
    rec = p;
    on = false;
    flush();
}
static inline char *head(char kind, int pid, unsigned fr, unsigned d) {
    char *q = p;
    *q++ = kind; *q++ = '\t';
    q = fmt_u(q, (unsigned)pid); *q++ = '\t';
    q = fmt_u(q, fr); *q++ = '\t';
    q = fmt_u(q, d);
    return q;
}
// line: true when a record is open (values follow, then end())
static __CA_NI bool line(int pid, unsigned fr) {
    room();
    rec = p;
    if (__CA_UNLIKELY(++events > maxe)) { stop(); return false; }
    unsigned d = depth ? depth - 1 : 0;
    if (d < MAXSTACK) stk_pid[d] = pid;
    p = head('l', pid, fr, d);
    return true;
}
static inline void end() { *p++ = '\n'; rec = p; }
// one name and value: "\tNAME\tVALUE"
template <std::size_t N, class T> static inline void v(const char (&name)[N], const T &x) {
    room();
    *p++ = '\t'; std::memcpy(p, name, N - 1); p += N - 1; *p++ = '\t';
    vlen = 0;
    using U = std::remove_cv_t<T>;
    if constexpr (std::is_integral_v<U> && !std::is_same_v<U, bool> && !std::is_same_v<U, char>) {
        if constexpr (std::is_signed_v<U>) p = fmt_i(p, (long long)x);
        else p = fmt_u(p, (unsigned long long)x);
    } else {
        show(x);
    }
}
static __CA_NI void exc_record(int pid, unsigned fr, unsigned d) {
    room();
    rec = p;
    if (__CA_UNLIKELY(++events > maxe)) { stop(); return; }
    p = head('x', pid, fr, d);
    *p++ = '\t'; vlen = 0; text(xtype.data(), xtype.size());
    *p++ = '\t'; vlen = 0; text(xmsg.data(), xmsg.size() > (std::size_t)maxv + 1 ? (std::size_t)maxv + 1 : xmsg.size());
    end();
}
// the exception arrives in the innermost frame (thrown there, or caught there)
static void exc_here() {
    if (!on || !depth) return;
    unsigned d = depth - 1;
    if (d >= MAXSTACK || stk_fr[d] == xfr) return;
    xfr = stk_fr[d];
    exc_record(stk_pid[d], stk_fr[d], d);
}

// a frame: constructed first in a function body, destroyed last
struct Frame {
    unsigned __fr = 0, d = 0;
    int rpid;
    int unc = 0;
    bool __open = false;
    std::string *rv = nullptr;   // rendered return value, when a return statement gave one
    __CA_NI Frame(int cpid, int rpid_) : rpid(rpid_) {
        if (!on) return;
        __fr = ++frames;
        d = depth++;
        unc = std::uncaught_exceptions();
        if (d < MAXSTACK) { stk_fr[d] = __fr; stk_pid[d] = cpid; }
        room();
        rec = p;
        if (__CA_UNLIKELY(++events > maxe)) { stop(); return; }
        p = head('c', cpid, __fr, d);
        __open = true;
    }
    Frame(const Frame &) = delete;
    __CA_NI ~Frame() {
        if (!__fr) return;
        depth = d;
        if (on) {
            bool unwinding = std::uncaught_exceptions() > unc;
            if (unwinding && d < MAXSTACK) {
                if (xfr != __fr) { xfr = __fr; exc_record(stk_pid[d], __fr, d); }
                if (on) {
                    room(); rec = p;
                    if (++events > maxe) stop();
                    else { p = head('r', stk_pid[d], __fr, d); end(); }
                }
            } else {
                room(); rec = p;
                if (++events > maxe) stop();
                else {
                    p = head('r', rpid, __fr, d);
                    *p++ = '\t';
                    if (rv) raw(rv->data(), rv->size());
                    end();
                }
            }
        }
        delete rv;
    }
    // `return;` or a return whose value is not shown
    inline void __ret(int pid) { rpid = pid; }
    // a return value: rendered now (the record is written when the frame ends, after the
    // destructors of its locals, which may be traced frames themselves)
    template <class T> __CA_NI void __ret(int pid, const T &value) {
        rpid = pid;
        if (!on || !__fr) return;
        room();
        char *start = p;
        vlen = 0;
        show(value);
        if (!rv) rv = new std::string;
        rv->assign(start, (std::size_t)(p - start));
        p = start;
    }
    // a value returned as type R: numbers shown as R (a `return 'a';` of an int function is 97)
    template <class R, class T> __CA_NI void __ret_as(int pid, const T &value) {
        using D = std::remove_cv_t<std::remove_reference_t<R>>;
        if constexpr (std::is_arithmetic_v<D> && std::is_arithmetic_v<std::remove_cv_t<T>>) __ret(pid, (D)value);
        else __ret(pid, value);
    }
    template <class T> __CA_NI T &&__pass(int pid, T &&value) {
        __ret(pid, value);
        return static_cast<T &&>(value);
    }
};

// the names the probes use: reserved ones (a program's macros cannot take them)
static bool &__on = on;
static inline bool __line(int pid, unsigned fr) { return line(pid, fr); }
static inline void __end() { end(); }
template <std::size_t N, class T> static inline void __v(const char (&name)[N], const T &x) { v(name, x); }
template <std::size_t N, class T> static inline void __field(const char (&name)[N], const T &x, bool first) {
    field(name, x, first);
}

// ---- output streams ------------------------------------------------------------------------
static void emit_out(int stream, const char *s, std::size_t n) {
    while (n && on) {
        std::size_t k = n > 32768 ? 32768 : n;
        room();
        rec = p;
        raw(stream == 1 ? "o\t1\t" : "o\t2\t", 4);
        for (std::size_t i = 0; i < k; i++) {
            char c = s[i];
            switch (c) {
            case '\\': *p++ = '\\'; *p++ = '\\'; break;
            case '\t': *p++ = '\\'; *p++ = 't'; break;
            case '\n': *p++ = '\\'; *p++ = 'n'; break;
            case '\r': *p++ = '\\'; *p++ = 'r'; break;
            default: *p++ = c;
            }
        }
        end();
        s += k; n -= k;
    }
}
// std::cout/cerr/clog: every write is an output record, then goes to the original buffer
struct OutBuf : std::streambuf {
    std::streambuf *real;
    int stream;
    OutBuf(std::streambuf *r, int s) : real(r), stream(s) {}
    int overflow(int c) override {
        if (c == traits_type::eof()) return real->pubsync() == 0 ? 0 : traits_type::eof();
        char ch = (char)c;
        if (on) emit_out(stream, &ch, 1);
        return real->sputc(ch);
    }
    std::streamsize xsputn(const char *s, std::streamsize n) override {
        if (on) emit_out(stream, s, (std::size_t)n);
        return real->sputn(s, n);
    }
    int sync() override { return real->pubsync(); }
};
static OutBuf *sb_out, *sb_err, *sb_log;
static std::streambuf *orig_out, *orig_err, *orig_log;

static ssize_t cookie_write(void *cookie, const char *s, std::size_t n) {
    int stream = (int)(long)cookie;
    if (on) emit_out(stream, s, n);
    std::fwrite(s, 1, n, stream == 1 ? real_out : real_err);
    return (ssize_t)n;
}
static std::FILE *real(std::FILE *f) {
    if (f && f == cookie_out) return real_out;
    if (f && f == cookie_err) return real_err;
    return f;
}

// ---- fatal signals -------------------------------------------------------------------------
static const char *signame(int sig, const char **msg) {
    switch (sig) {
    case 11: *msg = "Segmentation fault"; return "SIGSEGV";
    case 8: *msg = "Floating point exception"; return "SIGFPE";
    case 6: *msg = "Aborted"; return "SIGABRT";
    case 7: *msg = "Bus error"; return "SIGBUS";
    case 4: *msg = "Illegal instruction"; return "SIGILL";
    case 24: *msg = "CPU time limit exceeded"; return "SIGXCPU";
    case 15: *msg = "Terminated"; return "SIGTERM";
    default: *msg = "signal"; return "SIGNAL";
    }
}
static const int fatal[] = {11, 8, 6, 7, 4, 24, 15};
static void on_signal(int sig) {
    if (guarded && (sig == 11 || sig == 7)) { guarded = 0; __ca_siglongjmp(jb, 1); }
    if (on) {
        on = false;
        p = rec;  // drop a record cut short
        // an uncaught exception (abort from std::terminate) has its record already
        if (depth && !(sig == 6 && (in_flight || terminating))) {
            unsigned d = depth - 1 < MAXSTACK ? depth - 1 : MAXSTACK - 1;
            const char *msg, *name = signame(sig, &msg);
            if (p > hw) flush();
            p = head('x', stk_pid[d], stk_fr[d], depth - 1);
            *p++ = '\t'; raw(name, std::strlen(name));
            *p++ = '\t'; raw(msg, std::strlen(msg));
            end();
        }
        flush();
    }
    __ca_sigaction_t sa;
    std::memset(&sa, 0, sizeof sa);
    sa.handler = 0;  // SIG_DFL
    __ca_sigaction(sig, &sa, 0);
    __ca_raise(sig);
}
static void on_terminate() {
    terminating = true;
    if (prev_terminate) prev_terminate();
    std::abort();
}
static void before_fork() { if (on && p == rec) flush(); }
static void in_child() { on = false; p = rec = buf; fd = -1; }

struct Init {
    Init() {
        int local;
        const char *f = std::getenv("CODEALCHEMY_TRACE_FD");
        const char *me = std::getenv("CODEALCHEMY_MAX_EVENTS");
        const char *mv = std::getenv("CODEALCHEMY_MAX_VALUE");
        if (!f || !*f) return;
        fd = (int)std::atoll(f);
        if (__ca_fcntl(fd, 1 /* F_GETFD */) < 0) { fd = -1; return; }
        __ca_rlimit_t rl;
        if (__ca_getrlimit(7 /* RLIMIT_NOFILE */, &rl) == 0 && rl.cur > 16) {
            // move the channel out of the way: the program's files get the fds they would get
            int hi = __ca_fcntl(fd, 1030 /* F_DUPFD_CLOEXEC */, (int)(rl.cur > 1024 ? 1023 : rl.cur - 1));
            if (hi >= 0) { __ca_close(fd); fd = hi; }
        }
        if (me && *me) maxe = std::atoll(me);
        if (mv && *mv) maxv = (long)std::atoll(mv);
        if (maxv < 1) maxv = 1;
        if (maxv > (256 << 10)) maxv = 256 << 10;
        hw = buf + 65536;
        void *first = std::malloc(1);
        heap0 = (std::uintptr_t)first;
        std::free(first);
        stack0 = (std::uintptr_t)&local;
        on = true;

        orig_out = std::cout.rdbuf();
        orig_err = std::cerr.rdbuf();
        orig_log = std::clog.rdbuf();
        sb_out = new OutBuf(orig_out, 1);
        sb_err = new OutBuf(orig_err, 2);
        sb_log = new OutBuf(orig_log, 2);
        std::cout.rdbuf(sb_out);
        std::cerr.rdbuf(sb_err);
        std::clog.rdbuf(sb_log);

        cookie_io_functions_t io = {0, cookie_write, 0, 0};
        real_out = stdout;
        real_err = stderr;
        cookie_out = fopencookie((void *)1L, "w", io);
        cookie_err = fopencookie((void *)2L, "w", io);
        if (cookie_out && cookie_err) {
            std::setvbuf(cookie_out, 0, _IONBF, 0);
            std::setvbuf(cookie_err, 0, _IONBF, 0);
            stdout = cookie_out;
            stderr = cookie_err;
        }
        prev_terminate = std::set_terminate(on_terminate);
        __ca_register_atfork(before_fork, 0, in_child, __dso_handle);
        __ca_stack_t ss = {altstack, 0, sizeof altstack};
        __ca_sigaltstack(&ss, 0);
        __ca_sigaction_t sa;
        std::memset(&sa, 0, sizeof sa);
        sa.handler = on_signal;
        sa.flags = 0x08000000 /* SA_ONSTACK */;
        for (int s : fatal) __ca_sigaction(s, &sa, 0);
        __ca_sigaction_t ign;
        std::memset(&ign, 0, sizeof ign);
        ign.handler = (void (*)(int))1;  // SIG_IGN: over max_trace_bytes, writes fail instead
        __ca_sigaction(25 /* SIGXFSZ */, &ign, 0);
    }
    ~Init() {
        if (fd < 0) return;
        if (sb_out) {
            std::cout.flush();
            std::cout.rdbuf(orig_out);
            std::cerr.rdbuf(orig_err);
            std::clog.rdbuf(orig_log);
        }
        if (p > buf) flush();
    }
};
static Init init;

// the exception being thrown: its type and, for a std::exception, its what()
static void on_throw(void *obj, std::type_info *tinfo) {
    in_flight = true;
    if (!on || !tinfo || terminating) return;
    bool was = on;
    on = false;  // what() runs untraced
    xtype = demangle(tinfo->name());
    void *q = obj;
    if (typeid(std::exception).__do_catch(tinfo, &q, 1)) xmsg = static_cast<std::exception *>(q)->what();
    else if (*tinfo == typeid(const char *) || *tinfo == typeid(char *)) xmsg = *static_cast<const char **>(obj);
    else if (*tinfo == typeid(int)) xmsg = std::to_string(*static_cast<int *>(obj));
    else if (*tinfo == typeid(long)) xmsg = std::to_string(*static_cast<long *>(obj));
    else if (*tinfo == typeid(std::string)) xmsg = *static_cast<std::string *>(obj);
    else xmsg.clear();
    on = was;
    xfr = 0;
    exc_here();
}

}  // namespace __ca

// throws and catches, seen by interposing the C++ ABI (the program's definitions come first)
extern "C" {
__attribute__((noreturn)) void __cxa_throw(void *obj, void *tinfo, void (*dest)(void *)) {
    typedef void (*fn)(void *, void *, void (*)(void *));
    static fn realf = (fn)__ca_dlsym((void *)-1L /* RTLD_NEXT */, "__cxa_throw");
    __ca::on_throw(obj, static_cast<std::type_info *>(tinfo));
    realf(obj, tinfo, dest);
    __builtin_unreachable();
}
__attribute__((noreturn)) void __cxa_rethrow() {
    typedef void (*fn)();
    static fn realf = (fn)__ca_dlsym((void *)-1L, "__cxa_rethrow");
    __ca::in_flight = true;
    if (!__ca::terminating) {
        __ca::xfr = 0;
        __ca::exc_here();
    }
    realf();
    __builtin_unreachable();
}
void *__cxa_begin_catch(void *exc) noexcept {
    typedef void *(*fn)(void *);
    static fn realf = (fn)__ca_dlsym((void *)-1L, "__cxa_begin_catch");
    if (!__ca::terminating) {
        __ca::in_flight = false;
        __ca::exc_here();
    }
    return realf(exc);
}
}

// sync_with_stdio(false) would give std::cout a buffer of its own, in place of the one that
// records output: while tracing, the streams stay synchronised (the output is the same bytes
// unless the program mixes printf and cout after turning synchronisation off)
bool std::ios_base::sync_with_stdio(bool sync) {
    typedef bool (*fn)(bool);
    static fn realf = (fn)__ca_dlsym((void *)-1L, "_ZNSt8ios_base15sync_with_stdioEb");
    if (__ca::fd >= 0) return true;
    return realf(sync);
}

// stdio calls on stdout/stderr go to the real streams (buffering and flushing as untraced)
inline int __ca_fflush(std::FILE *f) { return std::fflush(__ca::real(f)); }
inline int __ca_setvbuf(std::FILE *f, char *b, int mode, std::size_t n) { return std::setvbuf(__ca::real(f), b, mode, n); }
inline void __ca_setbuf(std::FILE *f, char *b) { std::setbuf(__ca::real(f), b); }
inline int __ca_fileno(std::FILE *f) { return fileno(__ca::real(f)); }
namespace std { using ::__ca_fflush; using ::__ca_setvbuf; using ::__ca_setbuf; }
#define fflush __ca_fflush
#define setvbuf __ca_setvbuf
#define setbuf __ca_setbuf
#define fileno __ca_fileno

#endif
