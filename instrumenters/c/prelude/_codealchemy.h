/* CodeAlchemy C prelude: the runtime that instrumented C programs call.
 *
 * Included as the very first line of the instrumented main.c.  It includes NO system
 * header: every libc function it needs is declared under a private name bound to the real
 * symbol with an asm label, so the user's feature-test macros (_GNU_SOURCE, _POSIX_C_SOURCE
 * defined before their own #includes) and their own identifiers (read, write, index, ...)
 * are untouched.  Everything here is named __ca_*.
 *
 * Protocol: tracer/wire.py (records c/l/r/x/o/t on the fd named by CODEALCHEMY_TRACE_FD).
 * When that variable is unset every probe is a no-op and stdout/stderr are left alone.
 */
#ifndef CODEALCHEMY_PRELUDE_H
#define CODEALCHEMY_PRELUDE_H

typedef __SIZE_TYPE__ __ca_size;
typedef __UINTPTR_TYPE__ __ca_uptr;
struct _IO_FILE;

/* ---- libc, under private names ------------------------------------------------------- */
typedef struct {
    long (*read)(void *, char *, __ca_size);
    long (*write)(void *, const char *, __ca_size);
    int (*seek)(void *, long *, int);
    int (*close)(void *);
} __ca_cookie_io;
struct __ca_sigaction_t { void (*handler)(int); unsigned long mask[16]; int flags; void (*restorer)(void); };
struct __ca_stack_t { void *sp; int flags; __ca_size size; };
struct __ca_rlimit_t { unsigned long cur, max; };

extern struct _IO_FILE *__ca_fopencookie(void *, const char *, __ca_cookie_io) __asm__("fopencookie");
extern struct _IO_FILE *__ca_stdout __asm__("stdout");
extern struct _IO_FILE *__ca_stderr __asm__("stderr");
extern __ca_size __ca_fwrite(const void *, __ca_size, __ca_size, struct _IO_FILE *) __asm__("fwrite");
extern int __ca_libc_fflush(struct _IO_FILE *) __asm__("fflush");
extern int __ca_libc_setvbuf(struct _IO_FILE *, char *, int, __ca_size) __asm__("setvbuf");
extern int __ca_libc_fileno(struct _IO_FILE *) __asm__("fileno");
extern int __ca_libc_fclose(struct _IO_FILE *) __asm__("fclose");
extern long __ca_write(int, const void *, __ca_size) __asm__("write");
extern int __ca_close(int) __asm__("close");
extern int __ca_fcntl(int, int, ...) __asm__("fcntl");
extern int __ca_getrlimit(int, struct __ca_rlimit_t *) __asm__("getrlimit");
extern char *__ca_getenv(const char *) __asm__("getenv");
extern void *__ca_malloc(__ca_size) __asm__("malloc");
extern void *__ca_sbrk(long) __asm__("sbrk");
extern int __ca_sigaction(int, const struct __ca_sigaction_t *, struct __ca_sigaction_t *) __asm__("sigaction");
extern int __ca_sigaltstack(const struct __ca_stack_t *, struct __ca_stack_t *) __asm__("sigaltstack");
extern int __ca_sigprocmask(int, const unsigned long *, unsigned long *) __asm__("sigprocmask");
extern int __ca_raise(int) __asm__("raise");
extern int __ca_sigsetjmp(void *, int) __asm__("__sigsetjmp") __attribute__((returns_twice));
extern void __ca_siglongjmp(void *, int) __asm__("siglongjmp") __attribute__((noreturn));
extern int __ca_snprintf(char *, __ca_size, const char *, ...) __asm__("snprintf");
extern double __ca_strtod(const char *, char **) __asm__("strtod");
extern float __ca_strtof(const char *, char **) __asm__("strtof");
extern long long __ca_atoll(const char *) __asm__("atoll");
extern int __ca_register_atfork(void (*)(void), void (*)(void), void (*)(void), void *) __asm__("__register_atfork");
extern char __ca_image_start[] __asm__("__executable_start");
extern char __ca_image_end[] __asm__("_end");

/* ---- state ----------------------------------------------------------------------------- */
#define __CA_BUF (4u << 20)
#define __CA_MAXSTACK 65536
#define __CA_U __attribute__((unused))
#define __CA_NI __attribute__((noinline, unused))
#define __CA_LIKELY(x) __builtin_expect(!!(x), 1)
#define __CA_UNLIKELY(x) __builtin_expect(!!(x), 0)

static char __ca_sbuf[__CA_BUF];
static char *__ca_buf = __ca_sbuf;       /* __ca_sbuf, or a larger block for a huge max_value */
static char *__ca_p = __ca_sbuf;         /* write position */
static char *__ca_hw = __ca_sbuf;        /* high water: flush before a record or value past it */
/* (4 MiB: 64 KiB of records, then room for the longest value: up to 8 bytes per character
   once escaped, plus what one value's renderer may overshoot; for max_value over 256 Ki
   characters a block that large is allocated once, at start-up) */
static char *__ca_rec = __ca_sbuf;       /* start of the record being written */
static int __ca_on;                      /* recording */
static int __ca_open;                    /* a record was opened by the last begin */
static int __ca_fd = -1;
static long long __ca_events, __ca_maxe = 100000;
static long __ca_vlen, __ca_maxv = 200;  /* characters of the value being rendered / limit */
static unsigned __ca_frames;
static unsigned __ca_depth;
static unsigned __ca_stk_fr[__CA_MAXSTACK];
static int __ca_stk_pid[__CA_MAXSTACK];
static unsigned __ca_last_fr;            /* frame and probe of the last call/line event, for */
static int __ca_last_pid;                /* crashes deeper than __CA_MAXSTACK frames */
static __ca_uptr __ca_heap0, __ca_stack0;
static struct _IO_FILE *__ca_out, *__ca_err, *__ca_real_out, *__ca_real_err;
static volatile int __ca_guarded;
static long __ca_jb[64];
static char __ca_altstack[65536];

static const char *__ca_fnname(const void *);  /* generated: name of a function defined in main.c */

static void __ca_write_all(const char *s, const char *e) {
    while (s < e) {
        long n = __ca_write(__ca_fd, s, (__ca_size)(e - s));
        if (n <= 0) { __ca_on = 0; return; }   /* channel closed or over max_trace_bytes */
        s += n;
    }
}
/* write the complete records; a record being written moves to the front of the buffer (so a
   crash can drop it whole), unless it alone fills the buffer's first part */
static __CA_NI void __ca_flush(void) {
    if (__ca_rec > __ca_buf) {
        __ca_write_all(__ca_buf, __ca_rec);
        __ca_size open = (__ca_size)(__ca_p - __ca_rec);
        __builtin_memmove(__ca_buf, __ca_rec, open);
        __ca_rec = __ca_buf;
        __ca_p = __ca_buf + open;
    } else {
        __ca_write_all(__ca_buf, __ca_p);
        __ca_p = __ca_rec = __ca_buf;
    }
}

static inline __CA_U void __ca_room(void) { if (__CA_UNLIKELY(__ca_p > __ca_hw)) __ca_flush(); }

/* ---- primitive writers (value text; backslashes doubled for the wire) -------------------- */
static inline __CA_U void __ca_raw(const char *s, __ca_size n) { __builtin_memcpy(__ca_p, s, n); __ca_p += n; }
static inline __CA_U int __ca_full(void) { return __ca_vlen > __ca_maxv; }
static __CA_U void __ca_put(const char *s, __ca_size n) {
    if (__ca_vlen > __ca_maxv) return;
    __builtin_memcpy(__ca_p, s, n); __ca_p += n; __ca_vlen += (long)n;
}
#define __ca_lit(s) __ca_put(s, sizeof(s) - 1)

static const char __ca_digits[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";
static inline char *__ca_fmt_u(char *p, unsigned long long v) {
    if (v < 10) { *p = (char)('0' + v); return p + 1; }
    if (v < 100) { __builtin_memcpy(p, __ca_digits + 2 * v, 2); return p + 2; }
    char tmp[24]; char *e = tmp + 24, *q = e;
    while (v >= 100) { q -= 2; __builtin_memcpy(q, __ca_digits + 2 * (v % 100), 2); v /= 100; }
    if (v < 10) *--q = (char)('0' + v);
    else { q -= 2; __builtin_memcpy(q, __ca_digits + 2 * v, 2); }
    __builtin_memcpy(p, q, 24); /* fixed size: a move, not a call; only e - q bytes count */
    return p + (e - q);
}
/* names come as "\tNAME\t" padded with NULs to a multiple of 8 bytes */
static inline void __ca_name(const char *nm, __ca_size nl) {
    char *p = __ca_p;
    for (__ca_size i = 0; i < nl; i += 8) __builtin_memcpy(p + i, nm + i, 8);
    __ca_p = p + nl;
}
static inline char *__ca_fmt_i(char *p, long long v) {
    if (v < 0) { *p++ = '-'; return __ca_fmt_u(p, 0ull - (unsigned long long)v); }
    return __ca_fmt_u(p, (unsigned long long)v);
}
static inline char *__ca_fmt_x(char *p, unsigned long long v) {
    char tmp[20]; int i = 0;
    do { tmp[i++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
    *p++ = '0'; *p++ = 'x';
    while (i) *p++ = tmp[--i];
    return p;
}

static __CA_U void __ca_wi(long long v) { char *s = __ca_p; __ca_p = __ca_fmt_i(__ca_p, v); __ca_vlen += __ca_p - s; }
static __CA_U void __ca_wu(unsigned long long v) { char *s = __ca_p; __ca_p = __ca_fmt_u(__ca_p, v); __ca_vlen += __ca_p - s; }
static __CA_U void __ca_wb(int v) { if (v) __ca_lit("true"); else __ca_lit("false"); }

/* one character of C source text (inside '...' when q is '\'', "..." when q is '"');
   a backslash of the value is two on the wire */
static void __ca_esc(unsigned char c, char q) {
    char *p = __ca_p;
    char e = 0;
    switch (c) {
    case '\n': e = 'n'; break;
    case '\t': e = 't'; break;
    case '\r': e = 'r'; break;
    case '\0': e = '0'; break;
    case '\\': e = '\\'; break;
    default:
        if (c == (unsigned char)q) e = (char)c;
        else if (c < 0x20 || c >= 0x7f) {
            *p++ = '\\'; *p++ = '\\';
            *p++ = (char)('0' + (c >> 6)); *p++ = (char)('0' + ((c >> 3) & 7)); *p++ = (char)('0' + (c & 7));
            __ca_p = p; __ca_vlen += 4;
            return;
        }
    }
    if (e) {
        *p++ = '\\'; *p++ = '\\';
        if (e == '\\') { *p++ = '\\'; *p++ = '\\'; } else *p++ = e;
        __ca_vlen += 2;
    } else { *p++ = (char)c; __ca_vlen += 1; }
    __ca_p = p;
}
static __CA_U void __ca_wc(int v) {
    if (__ca_full()) return;
    *__ca_p++ = '\''; __ca_esc((unsigned char)v, '\''); *__ca_p++ = '\''; __ca_vlen += 2;
}

/* a string of at most n bytes (n < 0: up to the NUL) */
static void __ca_chars(const char *s, long n) {
    *__ca_p++ = '"'; __ca_vlen++;
    for (long i = 0; (n < 0 || i < n) && s[i]; i++) {
        if (__ca_vlen > __ca_maxv) return;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') { *__ca_p++ = (char)c; __ca_vlen++; }
        else __ca_esc(c, '"');
    }
    *__ca_p++ = '"'; __ca_vlen++;
}
/* a char array: its bytes are the program's own, always readable */
static __CA_NI void __ca_wchars(const void *s, __ca_size n) {
    if (__ca_full()) return;
    __ca_chars((const char *)s, (long)n);
}
/* a char pointer: NULL, or the string, guarded against pointers that cannot be read */
static __CA_NI void __ca_wstr(const char *s, long n) {
    if (!s) { __ca_lit("NULL"); return; }
    if (__ca_full()) return;
    char *start = __ca_p; long vstart = __ca_vlen;
    __ca_guarded = 1;
    if (__ca_sigsetjmp(__ca_jb, 0)) {
        unsigned long set[16] = {0};
        set[0] = (1ul << (11 - 1)) | (1ul << (7 - 1));  /* SIGSEGV, SIGBUS */
        __ca_sigprocmask(1 /* SIG_UNBLOCK */, set, 0);
        __ca_guarded = 0;
        __ca_p = start; __ca_vlen = vstart;
        __ca_lit("<unreadable>");
        return;
    }
    __ca_chars(s, n);
    __ca_guarded = 0;
}
static __CA_U void __ca_ws(const char *s) { __ca_wstr(s, -1); }

static __CA_NI void __ca_wd(double v) {
    char t[48]; int n;
    if (v == v && v - v == 0 && v == (double)(long long)v && v < 1e15 && v > -1e15) {
        if (v == 0 && 1 / v < 0) { __ca_lit("-0"); return; }
        __ca_wi((long long)v); return;
    }
    /* the shortest of 15, 16 and 17 significant digits that reads back as the same double */
    n = __ca_snprintf(t, sizeof t, "%.15g", v);
    if (v == v && v - v == 0 && __ca_strtod(t, 0) != v) {
        n = __ca_snprintf(t, sizeof t, "%.16g", v);
        if (__ca_strtod(t, 0) != v) n = __ca_snprintf(t, sizeof t, "%.17g", v);
    }
    __ca_put(t, (__ca_size)n);
}
static __CA_NI void __ca_wf(float v) {
    char t[48]; int n;
    if (v == v && v - v == 0 && v == (float)(long long)v && v < 1e7f && v > -1e7f) {
        if (v == 0 && 1 / v < 0) { __ca_lit("-0"); return; }
        __ca_wi((long long)v); return;
    }
    n = __ca_snprintf(t, sizeof t, "%.6g", (double)v);
    if (v == v && v - v == 0 && __ca_strtof(t, 0) != v) n = __ca_snprintf(t, sizeof t, "%.9g", (double)v);
    __ca_put(t, (__ca_size)n);
}
static __CA_NI void __ca_wld(long double v) {
    char t[64]; int n = __ca_snprintf(t, sizeof t, "%.18Lg", v);
    __ca_put(t, (__ca_size)n);
}

/* a pointer: NULL, or "(T *) REGION+0xOFFSET" where REGION is image (code and static data of
   the executable), heap (the brk heap) or stack (relative to a reference frame taken at
   start-up); other addresses (mmap, shared libraries) are printed raw */
static __CA_NI void __ca_wp(const void *p, const char *ty) {
    if (!p) { __ca_lit("NULL"); return; }
    if (__ca_full()) return;
    __ca_uptr a = (__ca_uptr)p;
    char t[96]; char *q = t;
    *q++ = '(';
    for (const char *s = ty; *s && q < t + 60; s++) *q++ = *s;
    *q++ = ')'; *q++ = ' ';
    if (a >= (__ca_uptr)__ca_image_start && a < (__ca_uptr)__ca_image_end) {
        __builtin_memcpy(q, "image+", 6); q = __ca_fmt_x(q + 6, a - (__ca_uptr)__ca_image_start);
    } else if (__ca_heap0 && a >= __ca_heap0 && a < (__ca_uptr)__ca_sbrk(0)) {
        __builtin_memcpy(q, "heap+", 5); q = __ca_fmt_x(q + 5, a - __ca_heap0);
    } else if (a <= __ca_stack0 + (1u << 20) && a + (64u << 20) >= __ca_stack0) {
        if (a >= __ca_stack0) { __builtin_memcpy(q, "stack+", 6); q = __ca_fmt_x(q + 6, a - __ca_stack0); }
        else { __builtin_memcpy(q, "stack-", 6); q = __ca_fmt_x(q + 6, __ca_stack0 - a); }
    } else q = __ca_fmt_x(q, a);
    __ca_put(t, (__ca_size)(q - t));
}
/* a function pointer: the function's name when it is defined in main.c */
static __CA_NI void __ca_wfp(const void *p, const char *ty) {
    const char *name = p ? __ca_fnname(p) : 0;
    if (name) __ca_put(name, __builtin_strlen(name));
    else __ca_wp(p, ty);
}
static __CA_U void __ca_wopaque(void) { __ca_lit("{...}"); }

/* a value of a type only known by name (size_t, int32_t, time_t ...): _Generic picks the
   renderer; anything not arithmetic or a string is shown as {...} */
#define __CA_G(name, T, call) static inline __attribute__((always_inline, unused)) void name(const void *p) { call(*(const T *)p); }
__CA_G(__ca_g_b, _Bool, __ca_wb)
__CA_G(__ca_g_c, char, __ca_wc)
__CA_G(__ca_g_sc, signed char, __ca_wi)
__CA_G(__ca_g_uc, unsigned char, __ca_wu)
__CA_G(__ca_g_s, short, __ca_wi)
__CA_G(__ca_g_us, unsigned short, __ca_wu)
__CA_G(__ca_g_i, int, __ca_wi)
__CA_G(__ca_g_u, unsigned, __ca_wu)
__CA_G(__ca_g_l, long, __ca_wi)
__CA_G(__ca_g_ul, unsigned long, __ca_wu)
__CA_G(__ca_g_ll, long long, __ca_wi)
__CA_G(__ca_g_ull, unsigned long long, __ca_wu)
__CA_G(__ca_g_f, float, __ca_wf)
__CA_G(__ca_g_d, double, __ca_wd)
__CA_G(__ca_g_ld, long double, __ca_wld)
__CA_G(__ca_g_str, char *, __ca_ws)
__CA_G(__ca_g_cstr, const char *, __ca_ws)
static inline __attribute__((always_inline, unused)) void __ca_g_p(const void *p) { __ca_wp(*(const void *const *)p, "void *"); }
static inline __attribute__((always_inline, unused)) void __ca_g_o(const void *p) { (void)p; __ca_wopaque(); }
#define __ca_wg(x) _Generic((x), _Bool: __ca_g_b, char: __ca_g_c, signed char: __ca_g_sc, \
    unsigned char: __ca_g_uc, short: __ca_g_s, unsigned short: __ca_g_us, int: __ca_g_i, \
    unsigned: __ca_g_u, long: __ca_g_l, unsigned long: __ca_g_ul, long long: __ca_g_ll, \
    unsigned long long: __ca_g_ull, float: __ca_g_f, double: __ca_g_d, long double: __ca_g_ld, \
    char *: __ca_g_str, const char *: __ca_g_cstr, void *: __ca_g_p, const void *: __ca_g_p, \
    default: __ca_g_o)(&(x))

/* ---- records ------------------------------------------------------------------------------ */
static __CA_NI void __ca_stop(void) {
    __ca_p = __ca_rec;
    __ca_raw("t\tmax_events\n", 13);
    __ca_rec = __ca_p;
    __ca_on = 0;
    __ca_open = 0;
    __ca_flush();
}
static inline char *__ca_head(char kind, int pid, unsigned fr, unsigned depth) {
    char *p = __ca_p;
    *p++ = kind; *p++ = '\t';
    p = __ca_fmt_u(p, (unsigned)pid); *p++ = '\t';
    p = __ca_fmt_u(p, fr); *p++ = '\t';
    p = __ca_fmt_u(p, depth);
    return p;
}
/* line: returns 1 when a record is open (values follow, then __ca_end) */
static __CA_NI int __ca_l(int pid, unsigned fr) {
    __ca_room();
    __ca_rec = __ca_p;
    if (__CA_UNLIKELY(++__ca_events > __ca_maxe)) { __ca_stop(); return 0; }
    unsigned d = __ca_depth ? __ca_depth - 1 : 0;
    if (d < __CA_MAXSTACK) __ca_stk_pid[d] = pid;
    else { __ca_last_fr = fr; __ca_last_pid = pid; }
    __ca_p = __ca_head('l', pid, fr, d);
    return 1;
}
/* call: returns the new frame id; __ca_open says whether argument values follow */
static __CA_NI unsigned __ca_c_slow(int pid) {
    unsigned fr = ++__ca_frames;
    __ca_open = 0;
    __ca_room();
    __ca_rec = __ca_p;
    if (__CA_UNLIKELY(++__ca_events > __ca_maxe)) { __ca_stop(); return fr; }
    __ca_p = __ca_head('c', pid, fr, __ca_depth);
    if (__ca_depth < __CA_MAXSTACK) { __ca_stk_fr[__ca_depth] = fr; __ca_stk_pid[__ca_depth] = pid; }
    else { __ca_last_fr = fr; __ca_last_pid = pid; }
    __ca_depth++;
    __ca_open = 1;
    return fr;
}
static inline __CA_U unsigned __ca_c(int pid) {
    if (!__ca_on) { __ca_open = 0; return 0; }
    return __ca_c_slow(pid);
}
/* return: opens "r PID FRAME DEPTH\t"; the value follows, then __ca_end */
static __CA_NI int __ca_r(int pid, unsigned fr) {
    if (__ca_depth) __ca_depth--;
    __ca_room();
    __ca_rec = __ca_p;
    if (__CA_UNLIKELY(++__ca_events > __ca_maxe)) { __ca_stop(); return 0; }
    __ca_p = __ca_head('r', pid, fr, __ca_depth);
    *__ca_p++ = '\t';
    __ca_vlen = 0;
    return 1;
}
static __CA_NI void __ca_end(void) { *__ca_p++ = '\n'; __ca_rec = __ca_p; }
static __CA_U void __ca_rvoid(int pid, unsigned fr) { if (__ca_on && __ca_r(pid, fr)) __ca_end(); }
/* the return event of a non-void function that falls off its end: what the caller gets is
   undefined, in practice what the code left in the return register (the last call's result),
   so the probe keeps that register as it found it */
#if defined(__x86_64__)
#define __ca_rfall(pid, fr) do { unsigned long __ca_ax; __asm__ volatile("" : "=a"(__ca_ax)); \
    __ca_rvoid(pid, fr); __asm__ volatile("" : : "a"(__ca_ax)); } while (0)
#elif defined(__aarch64__)
#define __ca_rfall(pid, fr) do { register unsigned long __ca_ax __asm__("x0"); \
    __asm__ volatile("" : "=r"(__ca_ax)); __ca_rvoid(pid, fr); __asm__ volatile("" : : "r"(__ca_ax)); } while (0)
#else
#define __ca_rfall(pid, fr) __ca_rvoid(pid, fr)
#endif

/* a name: "\tNAME\t" with its length; resets the value length */
static inline __CA_U void __ca_n(const char *nm, __ca_size nl) {
    __ca_room();
    __ca_name(nm, nl);
    __ca_vlen = 0;
}
static __CA_NI void __ca_vi(const char *nm, __ca_size nl, long long v) {
    __ca_room(); __ca_name(nm, nl); __ca_p = __ca_fmt_i(__ca_p, v);
}
static __CA_NI void __ca_vu(const char *nm, __ca_size nl, unsigned long long v) {
    __ca_room(); __ca_name(nm, nl); __ca_p = __ca_fmt_u(__ca_p, v);
}

/* ---- output streams ------------------------------------------------------------------------- */
static void __ca_emit_out(int stream, const char *s, __ca_size n) {
    while (n && __ca_on) {
        __ca_size k = n > 32768 ? 32768 : n;
        __ca_room();
        __ca_rec = __ca_p;
        __ca_raw(stream == 1 ? "o\t1\t" : "o\t2\t", 4);
        for (__ca_size i = 0; i < k; i++) {
            char c = s[i];
            switch (c) {
            case '\\': *__ca_p++ = '\\'; *__ca_p++ = '\\'; break;
            case '\t': *__ca_p++ = '\\'; *__ca_p++ = 't'; break;
            case '\n': *__ca_p++ = '\\'; *__ca_p++ = 'n'; break;
            case '\r': *__ca_p++ = '\\'; *__ca_p++ = 'r'; break;
            default: *__ca_p++ = c;
            }
        }
        *__ca_p++ = '\n';
        __ca_rec = __ca_p;
        s += k; n -= k;
    }
}
static long __ca_cookie_write(void *cookie, const char *s, __ca_size n) {
    int stream = (int)(long)cookie;
    if (__ca_on) __ca_emit_out(stream, s, n);
    __ca_fwrite(s, 1, n, stream == 1 ? __ca_real_out : __ca_real_err);
    return (long)n;
}
static struct _IO_FILE *__ca_real(struct _IO_FILE *f) {
    if (f && f == __ca_out) return __ca_real_out;
    if (f && f == __ca_err) return __ca_real_err;
    return f;
}
/* stdio calls on stdout/stderr go to the real streams (buffering and flushing as untraced) */
__CA_U int __ca_fflush(struct _IO_FILE *f) { return __ca_libc_fflush(__ca_real(f)); }
__CA_U int __ca_setvbuf(struct _IO_FILE *f, char *b, int mode, __ca_size n) { return __ca_libc_setvbuf(__ca_real(f), b, mode, n); }
__CA_U void __ca_setbuf(struct _IO_FILE *f, char *b) { __ca_libc_setvbuf(__ca_real(f), b, b ? 0 : 2, 8192); }
__CA_U int __ca_fileno(struct _IO_FILE *f) { return __ca_libc_fileno(__ca_real(f)); }
__CA_U int __ca_fclose(struct _IO_FILE *f) {
    struct _IO_FILE *real = __ca_real(f);
    if (real != f) {               /* fclose(stdout): close the real stream; the program must
                                      not use stdout after this, untraced or not */
        if (f == __ca_out) __ca_out = 0; else __ca_err = 0;
        return __ca_libc_fclose(real);
    }
    return __ca_libc_fclose(f);
}

/* ---- fatal signals: an exception record, the trace flushed, then the default action ---------- */
static const char *__ca_signame(int sig, const char **msg) {
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
static const int __ca_fatal[] = {11, 8, 6, 7, 4, 24, 15};
/* bytes a stream holds in its buffer, not yet written (glibc's FILE: int _flags, then
   _IO_read_ptr, _IO_read_end, _IO_read_base, _IO_write_base, _IO_write_ptr) */
static __ca_size __ca_pending(struct _IO_FILE *f) {
    if (!f) return 0;
    char *const *p = (char *const *)f;
    return p[5] > p[4] ? (__ca_size)(p[5] - p[4]) : 0;
}
/* a fatal signal loses what stdout/stderr still buffer (untraced too): take those bytes back
   out of the output records still in the trace buffer, newest first, so the trace's output is
   what the program really wrote */
static void __ca_retract(int stream, __ca_size left) {
    char *end = __ca_rec;
    while (left && end > __ca_buf) {
        char *start = end - 1;                      /* end[-1] is the record's newline */
        while (start > __ca_buf && start[-1] != '\n') start--;
        if (end - start >= 5 && start[0] == 'o' && start[1] == '\t' && start[2] == '0' + stream && start[3] == '\t') {
            char *text = start + 4, *stop = end - 1, *q;
            __ca_size m = 0;
            for (q = text; q < stop; q += *q == '\\' ? 2 : 1) m++;
            char *cut = start;                      /* drop the whole record */
            if (m > left) {                         /* or keep its first m - left bytes */
                __ca_size keep = m - left;
                for (q = text; keep; q += *q == '\\' ? 2 : 1) keep--;
                *q = '\n';
                cut = q + 1;
                left = 0;
            } else {
                left -= m;
            }
            __builtin_memmove(cut, end, (__ca_size)(__ca_rec - end));
            __ca_rec -= end - cut;
        }
        end = start;
    }
    __ca_p = __ca_rec;
}
static void __ca_on_signal(int sig) {
    if (__ca_guarded && (sig == 11 || sig == 7)) { __ca_guarded = 0; __ca_siglongjmp(__ca_jb, 1); }
    if (__ca_on) {
        __ca_on = 0;
        __ca_p = __ca_rec;                 /* drop a record cut short */
        __ca_retract(1, __ca_pending(__ca_real_out));
        __ca_retract(2, __ca_pending(__ca_real_err));
        if (__ca_depth) {
            unsigned d = __ca_depth - 1;
            int deep = d >= __CA_MAXSTACK;
            const char *msg, *name = __ca_signame(sig, &msg);
            if (__ca_p > __ca_hw) __ca_flush();
            __ca_p = __ca_head('x', deep ? __ca_last_pid : __ca_stk_pid[d], deep ? __ca_last_fr : __ca_stk_fr[d], d);
            *__ca_p++ = '\t'; __ca_raw(name, __builtin_strlen(name));
            *__ca_p++ = '\t'; __ca_raw(msg, __builtin_strlen(msg));
            *__ca_p++ = '\n';
            __ca_rec = __ca_p;
        }
        __ca_flush();
    }
    struct __ca_sigaction_t sa;
    __builtin_memset(&sa, 0, sizeof sa);
    sa.handler = 0;  /* SIG_DFL */
    __ca_sigaction(sig, &sa, 0);
    __ca_raise(sig);  /* pending until the handler returns; a fault re-executes and dies anyway */
}

/* fork: the parent's buffered records are written first; the child is not traced (its
   records would interleave with the parent's on the one channel) but its output still goes
   through to its stdout/stderr */
static void __ca_before_fork(void) { if (__ca_on && __ca_p == __ca_rec) __ca_flush(); }
static void __ca_in_child(void) { __ca_on = 0; __ca_p = __ca_rec = __ca_buf; __ca_fd = -1; }

__attribute__((constructor)) static void __ca_init(void) {
    int local;
    const char *fd = __ca_getenv("CODEALCHEMY_TRACE_FD");
    const char *me = __ca_getenv("CODEALCHEMY_MAX_EVENTS");
    const char *mv = __ca_getenv("CODEALCHEMY_MAX_VALUE");
    if (!fd || !*fd) return;
    __ca_fd = (int)__ca_atoll(fd);
    if (__ca_fcntl(__ca_fd, 1 /* F_GETFD */) < 0) return;
    struct __ca_rlimit_t rl;
    if (__ca_getrlimit(7 /* RLIMIT_NOFILE */, &rl) == 0 && rl.cur > 16) {
        /* move the channel out of the way so the program's own files get the fds they
           would get untraced */
        int hi = __ca_fcntl(__ca_fd, 1030 /* F_DUPFD_CLOEXEC */, (int)(rl.cur > 1024 ? 1023 : rl.cur - 1));
        if (hi >= 0) { __ca_close(__ca_fd); __ca_fd = hi; }
    }
    if (me && *me) __ca_maxe = __ca_atoll(me);
    if (mv && *mv) __ca_maxv = (long)__ca_atoll(mv);
    if (__ca_maxv < 1) __ca_maxv = 1;
    if (__ca_maxv > (256 << 10)) {
        if (__ca_maxv > (64l << 20)) __ca_maxv = 64l << 20;
        char *big = __ca_malloc((__ca_size)__ca_maxv * 8 + (256 << 10));
        if (big) __ca_buf = __ca_p = __ca_rec = big;
        else __ca_maxv = 256 << 10;
    }
    /* write out every 64 KiB (a program killed on timeout loses little); the rest of the
       buffer is room for one more value of up to max_value characters, escaped */
    __ca_hw = __ca_buf + 65536;
    __ca_heap0 = (__ca_uptr)__ca_sbrk(0);
    __ca_stack0 = (__ca_uptr)&local;
    __ca_on = 1;

    __ca_cookie_io io = {0, __ca_cookie_write, 0, 0};
    __ca_real_out = __ca_stdout;
    __ca_real_err = __ca_stderr;
    __ca_out = __ca_fopencookie((void *)1L, "w", io);
    __ca_err = __ca_fopencookie((void *)2L, "w", io);
    if (__ca_out && __ca_err) {
        __ca_libc_setvbuf(__ca_out, 0, 2 /* _IONBF */, 0);
        __ca_libc_setvbuf(__ca_err, 0, 2, 0);
        __ca_stdout = __ca_out;
        __ca_stderr = __ca_err;
    }
    __ca_register_atfork(__ca_before_fork, 0, __ca_in_child, 0);
    struct __ca_stack_t ss = {__ca_altstack, 0, sizeof __ca_altstack};
    __ca_sigaltstack(&ss, 0);
    struct __ca_sigaction_t sa;
    __builtin_memset(&sa, 0, sizeof sa);
    sa.handler = __ca_on_signal;
    sa.flags = 0x08000000 /* SA_ONSTACK */;
    for (unsigned i = 0; i < sizeof __ca_fatal / sizeof __ca_fatal[0]; i++) __ca_sigaction(__ca_fatal[i], &sa, 0);
    struct __ca_sigaction_t ign;
    __builtin_memset(&ign, 0, sizeof ign);
    ign.handler = (void (*)(int))1;  /* SIG_IGN: over max_trace_bytes, writes fail instead */
    __ca_sigaction(25 /* SIGXFSZ */, &ign, 0);
}

__attribute__((destructor)) static void __ca_fini(void) {
    if (__ca_fd >= 0 && __ca_p > __ca_buf) __ca_flush();
}

/* stdio on stdout/stderr, seen by the program from here on */
#define fflush __ca_fflush
#define setvbuf __ca_setvbuf
#define setbuf __ca_setbuf
#define fileno __ca_fileno
#define fclose __ca_fclose

#endif
