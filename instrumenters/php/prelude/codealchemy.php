<?php
// CodeAlchemy trace prelude for PHP: no dependencies, loaded by the instrumented program with
// require_once. It speaks the channel protocol of tracer/wire.py on the file descriptor named by
// CODEALCHEMY_TRACE_FD; without that variable every probe is a no-op.

final class __CodeAlchemy
{
    public static $on = false;
    public static $names = [];
    public static $stack = [];
    public static $io = null;
    public static $buf = '';
    public static $events = 0;
    public static $maxEvents = 100000;
    public static $maxValue = 200;
    public static $nextId = 2;
    public static $lastExc = null;
    public static $fatal = false;
    public static $pid = 0;
    public static $ids = [];        // ids of the frames on the stack
    public static $suspended = [];  // generator frames between a yield and their resumption
    public static $ended = false;  // the top-level code ran to its end
    public static $skip = ['GLOBALS' => 1, '_GET' => 1, '_POST' => 1, '_COOKIE' => 1, '_FILES' => 1,
        '_SERVER' => 1, '_ENV' => 1, '_REQUEST' => 1, '_SESSION' => 1, 'argv' => 1, 'argc' => 1,
        'http_response_header' => 1];

    /** A frame is an array, never an object: objects would take the object ids (var_dump's #N)
     *  the program's own objects get untraced. So the prelude keeps no object of its own. */
    public static function frame(int $id, int $pid, int $depth): array
    {
        return ['id' => $id, 'pid' => $pid, 'depth' => $depth, 'last' => $pid, 'returned' => false,
                'value' => null, 'exc' => null];
    }

    public static function output($text)
    {
        if ($text !== '' && self::$on) {
            self::$buf .= "o\t1\t" . self::esc($text) . "\n";
            if (strlen(self::$buf) > 65536) {
                self::flush();
            }
        }
        return $text;
    }

    /** run after every shutdown function the program registers, too */
    public static function shutdown(): void
    {
        self::unwind();
        register_shutdown_function([self::class, 'finish']);
    }

    public static function setup(string $table, bool $marked): void
    {
        self::$ended = !$marked;
        if (self::$io !== null || self::$names) {
            return;
        }
        self::$names = array_map(fn ($s) => $s === '' ? [] : explode(' ', $s), explode('|', $table));
        $fd = getenv('CODEALCHEMY_TRACE_FD');
        if ($fd === false || $fd === '') {
            return;
        }
        $io = @fopen('php://fd/' . (int) $fd, 'wb');
        if ($io === false) {
            return;
        }
        self::$io = $io;
        self::$pid = getmypid();
        $v = getenv('CODEALCHEMY_MAX_EVENTS');
        self::$maxEvents = is_numeric($v) ? (int) $v : 100000;
        $v = getenv('CODEALCHEMY_MAX_VALUE');
        self::$maxValue = is_numeric($v) ? (int) $v : 200;
        self::push(self::frame(1, 0, 0));
        self::$on = true;
        self::emit("c\t0\t1\t0");
        ob_start([self::class, 'output'], 1);
        register_shutdown_function([self::class, 'shutdown']);
    }

    public static function push(array $f): void
    {
        self::$stack[] = $f;
        self::$ids[$f['id']] = true;
    }

    public static function pop(): ?array
    {
        $f = array_pop(self::$stack);
        if ($f !== null) {
            unset(self::$ids[$f['id']]);
        }
        return $f;
    }

    public static function emit(string $rec): void
    {
        if (++self::$events > self::$maxEvents) {
            self::$buf .= "t\tmax_events\n";
            self::$on = false;
            self::flush();
            return;
        }
        self::$buf .= $rec . "\n";
        if (strlen(self::$buf) > 65536) {
            self::flush();
        }
    }

    public static function flush(): void
    {
        if (self::$io !== null && self::$buf !== '' && getmypid() === self::$pid) {  // not in a forked child
            @fwrite(self::$io, self::$buf);
            self::$buf = '';
        }
    }

    public static function utf8(string $s): string
    {
        return preg_match('//u', $s) ? $s : preg_replace('/[\x80-\xff]/', "\u{FFFD}", $s);
    }

    public static function esc(string $s): string
    {
        $s = self::utf8($s);
        return strtr($s, ["\\" => "\\\\", "\t" => "\\t", "\n" => "\\n", "\r" => "\\r"]);
    }

    /** The index in the stack of frame `fid`, made the innermost (frames above it, left by an
     *  exception, unwind); -1 when it is not running (a suspended generator, or gone). */
    public static function top(int $fid): int
    {
        if (!isset(self::$ids[$fid])) {
            return -1;
        }
        $n = count(self::$stack);
        while ($n > 0) {
            $f = self::$stack[$n - 1];
            if ($f['id'] === $fid) {
                return $n - 1;
            }
            if ($f['id'] < $fid) {
                return -1;
            }
            self::pop();
            $n--;
            self::emit("r\t{$f['last']}\t{$f['id']}\t{$f['depth']}");
        }
        return -1;
    }

    public static function vars(int $pid, array $vars, bool $top, $self = null): string
    {
        $rec = '';
        foreach ($vars as $k => $v) {
            $k = (string) $k;
            if (str_starts_with($k, '__ca_') || ($top && isset(self::$skip[$k]))) {
                continue;
            }
            $rec .= "\t" . self::esc($k) . "\t" . self::esc(self::render($v));
        }
        if ($self !== null) {
            $rec .= "\tthis\t" . self::esc(self::render($self));
        }
        return $rec;
    }

    /** At shutdown: frames still open were left by exit() or a fatal error; report an uncaught exception. */
    public static function unwind(): void
    {
        if (!self::$on) {
            return;
        }
        while (count(self::$stack) > 1 && self::$on) {
            $f = self::pop();
            self::emit("r\t{$f['last']}\t{$f['id']}\t{$f['depth']}");
        }
        $err = error_get_last();
        self::$fatal = $err !== null && ($err['type'] & (E_ERROR | E_CORE_ERROR | E_COMPILE_ERROR | E_USER_ERROR));
        $main = self::$stack[0] ?? null;
        if ($main === null || !self::$fatal || !str_starts_with($err['message'], 'Uncaught ') || !self::$on) {
            return;
        }
        $e = self::$lastExc;
        $said = $e === null ? '' : 'Uncaught ' . get_class($e) . ($e->getMessage() === '' ? '' : ': ' . $e->getMessage());
        if ($e !== null && str_starts_with($err['message'], $said . ' in ')) {
            if ($main['exc'] === $e) {
                return;  // reported already, leaving a top-level try body (before its finally)
            }
            $type = get_class($e);
            $msg = $e->getMessage();
        } else {
            preg_match('/^Uncaught ([\\\\\w]+)(?:: (.*?))? in \S+:\d+/s', $err['message'], $m);
            $type = $m[1] ?? 'Error';
            $msg = $m[2] ?? $err['message'];
        }
        self::emit("x\t{$main['last']}\t1\t0\t" . self::esc($type) . "\t" . self::esc($msg));
    }

    public static function finish(): void
    {
        $main = self::$stack[0] ?? null;
        if (self::$on && $main !== null) {
            $left = self::$fatal || !self::$ended;  // an exception, a fatal error or exit()
            self::emit($left ? "r\t{$main['last']}\t1\t0" : "r\t{$main['last']}\t1\t0\tNULL");
        }
        self::$on = false;
        self::flush();
    }

    // --- values ---------------------------------------------------------------------------

    public static function render($v): string
    {
        $max = self::$maxValue;
        $s = self::utf8(self::rep($v, $max + 1, [], 0));
        if (strlen($s) > $max && preg_match_all('/./us', $s) > $max) {
            preg_match('/^.{0,' . max($max - 1, 0) . '}/us', $s, $m);
            $s = $m[0] . "\u{2026}";
        }
        return $s;
    }

    /** var_export, compact on one line: NULL, true, 1, 1.5, 'str', [1, 'k' => 2], \Cls::__set_state([...]). */
    public static function rep($v, int $budget, array $seen, int $depth): string
    {
        if ($v === null) {
            return 'NULL';
        }
        if (is_bool($v)) {
            return $v ? 'true' : 'false';
        }
        if (is_int($v)) {
            return (string) $v;
        }
        if (is_float($v)) {
            return var_export($v, true);
        }
        if (is_string($v)) {
            if (strlen($v) > $budget * 4) {
                $cut = substr($v, 0, $budget * 4);
                if (!preg_match('//u', $cut) && preg_match('//u', $v)) {  // do not split a character
                    $cut = preg_replace('/[\xc0-\xff][\x80-\xbf]*$/', '', $cut);
                }
                $v = $cut;
            }
            if (!preg_match('//u', $v)) {  // binary: a double-quoted literal with \x escapes
                return '"' . preg_replace_callback('/[\x00-\x1f\x7f-\xff]/', fn ($m) => sprintf('\\x%02x', ord($m[0])),
                    strtr($v, ["\\" => "\\\\", '"' => '\\"', '$' => '\\$'])) . '"';
            }
            return "'" . strtr($v, ["\\" => "\\\\", "'" => "\\'"]) . "'";
        }
        if (is_array($v)) {
            return self::repArray($v, $budget, $seen, $depth, false);
        }
            $first = true;
        if (is_object($v)) {
            $cls = '\\' . get_class($v);
            if ($v instanceof \Closure) {
                return '\\Closure::__set_state([])';
            }
            if ($v instanceof \UnitEnum) {
                return $cls . '::' . $v->name;
            }
            if ($v instanceof \Throwable) {
                return $cls . '(' . self::rep($v->getMessage(), $budget, $seen, $depth + 1) . ')';
            }
            $id = spl_object_id($v);
            if (isset($seen[$id]) || $depth > 16) {
                return $cls . '::__set_state(*RECURSION*)';
            }
            $seen[$id] = true;
            $props = [];
            foreach ((array) $v as $k => $item) {
                $k = (string) $k;
                if ($k !== '' && $k[0] === "\0") {
                    $k = substr($k, strrpos($k, "\0") + 1);
                }
                $props[$k] = $item;
            }
            if ($v instanceof \stdClass) {
                return '(object) ' . self::repArray($props, $budget, $seen, $depth + 1, true);
            }
            if ($props === [] && ($v instanceof \ArrayObject || $v instanceof \ArrayIterator)) {
                $props = $v->getArrayCopy();
            }
            return $cls . '::__set_state(' . self::repArray($props, $budget, $seen, $depth + 1, true) . ')';
        }
        if (is_resource($v) || gettype($v) === 'resource (closed)') {
            return 'resource(' . get_resource_type($v) . ')';
        }
        return var_export($v, true);
    }

    public static function repArray(array $v, int $budget, array $seen, int $depth, bool $keys): string
    {
        if ($depth > 16) {
            return '[...]';
        }
        $keys = $keys || !array_is_list($v);
        $out = '[';
        $first = true;
        foreach ($v as $k => $item) {
            if (!$first) {
                $out .= ', ';
            }
            $first = false;
            if ($keys) {
                $out .= (is_int($k) ? (string) $k : "'" . strtr($k, ["\\" => "\\\\", "'" => "\\'"]) . "'") . ' => ';
            }
            $out .= self::rep($item, $budget - strlen($out), $seen, $depth + 1);
            if (strlen($out) > $budget) {
                break;
            }
        }
        return $out . ']';
    }
}

// --- probes (global functions: the instrumented code calls them fully qualified) -------------

function __ca_setup(string $table, bool $marked = false): void
{
    __CodeAlchemy::setup($table, $marked);
}

/** the top-level code ran to its end (not left by exit()) */
function __ca_end(): void
{
    __CodeAlchemy::$ended = true;
}

/** call: a function starts; returns its frame id */
function __ca_c(int $pid, array $vars): int
{
    if (!__CodeAlchemy::$on) {
        return 0;
    }
    $id = __CodeAlchemy::$nextId++;
    $depth = count(__CodeAlchemy::$stack);
    __CodeAlchemy::push(__CodeAlchemy::frame($id, $pid, $depth));
    $rec = "c\t$pid\t$id\t$depth";
    foreach (__CodeAlchemy::$names[$pid] ?? [] as $name) {
        if (array_key_exists($name, $vars)) {
            $rec .= "\t" . __CodeAlchemy::esc($name) . "\t" . __CodeAlchemy::esc(__CodeAlchemy::render($vars[$name]));
        }
    }
    __CodeAlchemy::emit($rec);
    return $id;
}

/** an arrow function: its call and its one line */
function __ca_cl(int $pid, int $line, array $vars): int
{
    $fid = __ca_c($pid, $vars);
    __ca_l($line, $fid, $vars);
    return $fid;
}

/** line: about to run the statement of probe `pid` in frame `fid` */
function __ca_l(int $pid, int $fid, array $vars, $self = null): void
{
    if (!__CodeAlchemy::$on) {
        return;
    }
    $i = __CodeAlchemy::top($fid);
    if ($i < 0) {
        return;
    }
    __CodeAlchemy::$stack[$i]['last'] = $pid;
    $depth = __CodeAlchemy::$stack[$i]['depth'];
    __CodeAlchemy::emit("l\t$pid\t$fid\t$depth" . __CodeAlchemy::vars($pid, $vars, $fid === 1, $self));
}

/** a loop or elseif condition's line event; always true */
function __ca_lt(int $pid, int $fid, array $vars, $self = null): bool
{
    __ca_l($pid, $fid, $vars, $self);
    return true;
}

/** a switch case's line event; gives back the case's value */
function __ca_lv(int $pid, int $fid, array $vars, $self = null, $value = null)
{
    __ca_l($pid, $fid, $vars, $self);
    return $value;
}

/** return `v` from frame `fid`: the event is written when the frame is left (after `finally` blocks) */
function __ca_r(int $fid, $v)
{
    if (!__CodeAlchemy::$on) {
        return $v;
    }
    $i = __CodeAlchemy::top($fid);
    if ($i < 0 || __CodeAlchemy::$stack[$i]['returned']) {
        return $v;
    }
    __CodeAlchemy::$stack[$i]['returned'] = true;
    __CodeAlchemy::$stack[$i]['value'] = __CodeAlchemy::render($v);
    return $v;
}

/** an arrow function's value: return it and leave the frame */
function __ca_ar(int $fid, $v)
{
    __ca_r($fid, $v);
    __ca_e($fid);
    return $v;
}

/** an exception raised in, or passing through, frame `fid` */
function __ca_x(int $fid, \Throwable $e): void
{
    if (!__CodeAlchemy::$on) {
        return;
    }
    __CodeAlchemy::$lastExc = $e;
    $i = __CodeAlchemy::top($fid);
    if ($i < 0 || __CodeAlchemy::$stack[$i]['exc'] === $e) {
        return;
    }
    __CodeAlchemy::$stack[$i]['exc'] = $e;
    $f = __CodeAlchemy::$stack[$i];
    __CodeAlchemy::emit("x\t{$f['last']}\t$fid\t{$f['depth']}\t" . __CodeAlchemy::esc(get_class($e)) . "\t"
        . __CodeAlchemy::esc($e->getMessage()));
}

/** `throw` in frame `fid`: report, and give the exception back to throw */
function __ca_t(int $fid, $e)
{
    if ($e instanceof \Throwable) {
        __ca_x($fid, $e);
    }
    return $e;
}

/** a generator yields `v`: its frame returns it (as Python reports) and is set aside */
function __ca_yield(int $fid, $v)
{
    __ca_suspend($fid, "\t" . __CodeAlchemy::esc(__CodeAlchemy::render($v)));
    return $v;
}

/** `yield from`: the frame is set aside while the inner iterable runs */
function __ca_yield_from(int $fid, $inner)
{
    __ca_suspend($fid, '');
    return $inner;
}

function __ca_suspend(int $fid, string $value): void
{
    if (!__CodeAlchemy::$on) {
        return;
    }
    if (__CodeAlchemy::top($fid) < 0) {
        return;
    }
    $f = __CodeAlchemy::pop();
    __CodeAlchemy::$suspended[$fid] = $f;
    __CodeAlchemy::emit("r\t{$f['last']}\t$fid\t{$f['depth']}$value");
}

/** a generator resumes: the same frame is called again; gives back what was sent in */
function __ca_resume(int $fid, $sent)
{
    $f = __CodeAlchemy::$suspended[$fid] ?? null;
    if ($f === null || !__CodeAlchemy::$on) {
        return $sent;
    }
    unset(__CodeAlchemy::$suspended[$fid]);
    $f['depth'] = count(__CodeAlchemy::$stack);
    $f['exc'] = null;
    __CodeAlchemy::push($f);
    __CodeAlchemy::emit("c\t{$f['last']}\t$fid\t{$f['depth']}");  // at the yield, as Python reports
    return $sent;
}

/** the frame's `finally`: leave it; without a return it unwound */
function __ca_e(int $fid): void
{
    if (!__CodeAlchemy::$on) {
        return;
    }
    if (__CodeAlchemy::top($fid) < 0) {
        return;
    }
    $f = __CodeAlchemy::pop();
    $value = $f['returned'] ? "\t" . __CodeAlchemy::esc($f['value']) : '';
    __CodeAlchemy::emit("r\t{$f['last']}\t$fid\t{$f['depth']}$value");
}
