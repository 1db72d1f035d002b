# CodeAlchemy trace prelude for Ruby: no dependencies, loaded by the instrumented program
# with require_relative. It speaks the channel protocol of tracer/wire.py on the file
# descriptor named by CODEALCHEMY_TRACE_FD; without that variable every probe is a no-op.
module CodeAlchemy
  ESC = { "\\" => "\\\\", "\t" => "\\t", "\n" => "\\n", "\r" => "\\r" }.freeze
  ESC_RE = /[\\\t\n\r]/.freeze
  ADDR_RE = /:0x\h{8,16}/.freeze
  NEW_HASH_STYLE = ({ a: 1 }.inspect == "{a: 1}")
  KERNEL_INSPECT = Kernel.instance_method(:method)
  KERNEL_CLASS = Kernel.instance_method(:class)
  # `value` is the rendered return value (nil: none yet); `done` once the return event is written
  Frame = Struct.new(:id, :pid, :depth, :last, :done, :exc, :shown, :muted, :value)

  # ON[0] is @on where the instrumented code reads it: `ON[0] && l(PID, binding)` costs no call
  # and no Binding (the costly part of a probe) once recording stopped or without a channel.
  ON = [false]
  ON[0] = @on = false
  @muted = false
  @names = []

  class << self
    # Called once, on the line of the program's first statement.
    def setup(table, path)
      return if @names.frozen?
      @names = table.split("|", -1).map { |s| s.split(" ").map(&:to_sym) }.freeze
      fd = ENV["CODEALCHEMY_TRACE_FD"]
      return if fd.nil? || fd.empty?
      @io = IO.new(Integer(fd), "wb", autoclose: false)
      @max_events = (Integer(ENV["CODEALCHEMY_MAX_EVENTS"] || "100000") rescue 100_000)
      @max_value = (Integer(ENV["CODEALCHEMY_MAX_VALUE"] || "200") rescue 200)
      @buf = String.new(capacity: 1 << 16, encoding: Encoding::UTF_8)
      @events = 0
      @next_id = 2
      @path = path
      @pid = Process.pid
      @top = TOPLEVEL_BINDING.receiver
      @main = Frame.new(1, 0, 0, 0, false, nil, {}, false, nil)
      Thread.current[:__codealchemy] = [@main]
      ON[0] = @on = true
      emit("c\t0\t1\t0")
      hook_output
      @raise_hook = TracePoint.new(:raise) do |tp|
        x(tp.raised_exception) if @on && !@muted && tp.path == @path
      end
      @raise_hook.enable
      at_exit { finish($!) }
    rescue StandardError
      ON[0] = @on = false
    end

    # --- probes ---------------------------------------------------------------------------

    # call: a method, block or lambda starts; `b` is its binding (params come from the table)
    def c(pid, b)
      return unless @on
      st = (Thread.current[:__codealchemy] ||= [])
      f = Frame.new(@next_id, pid, st.size, pid, false, nil, nil, @muted, nil)
      @next_id += 1
      st.push(f)
      return if @muted
      rec = +"c\t#{pid}\t#{f.id}\t#{f.depth}"
      shown = f.shown = {}
      @names[pid].each do |n|
        v = b.local_variable_get(n)
        shown[n] = true
        rec << "\t" << esc(n.name) << "\t" << esc(render(v))
      rescue NameError
        next
      end
      emit(rec)
    rescue StandardError
      nil
    end

    # line: about to run the statement of probe `pid`; `b` is nil in class bodies
    def l(pid, b)
      return if !@on || @muted
      f = (Thread.current[:__codealchemy] ||= []).last
      return if f.nil?
      f.last = pid
      rec = +"l\t#{pid}\t#{f.id}\t#{f.depth}"
      if b
        names = @names[pid]
        shown = (f.shown ||= {})
        b.local_variables.each do |n|
          next if n.start_with?("__ca")
          v = b.local_variable_get(n)
          next if nil.equal?(v) && !shown[n] && !names.include?(n)
          shown[n] = true
          rec << "\t" << esc(n.name) << "\t" << esc(render(v))
        end
        me = b.receiver
        unless @top.equal?(me) || Module === me
          rec << "\tself\t" << esc(render(me))
        end
      end
      emit(rec)
    rescue StandardError
      nil
    end

    # the innermost frame returns `v` (written when the frame is left, after `ensure` clauses)
    def r(v)
      return v if !@on || @muted
      f = (Thread.current[:__codealchemy] ||= []).last
      return v if f.nil? || f.done || f.value || f.id == 1
      f.value = render(v)
      v
    end

    # `return` inside a block (not a lambda): the blocks unwind, method `mpid` returns `v`
    def nr(mpid, v)
      return v if !@on || @muted
      st = (Thread.current[:__codealchemy] ||= [])
      j = st.rindex { |f| f.pid == mpid && !f.done }
      return r(v) if j.nil?
      st[j].value ||= render(v)
      v
    end

    # an exception raised in, or passing through, the innermost frame
    def x(e)
      return if !@on || @muted
      f = (Thread.current[:__codealchemy] ||= []).last
      return if f.nil? || f.exc.equal?(e)
      f.exc = e
      emit("x\t#{f.last}\t#{f.id}\t#{f.depth}\t#{esc(e.class.name || e.class.inspect)}\t#{esc(message(e))}")
    rescue StandardError
      nil
    end

    # the frame's `ensure`: pop it; a frame left without a return unwound
    def e
      return unless @on
      f = (Thread.current[:__codealchemy] ||= []).pop
      return if f.nil? || f.done || f.muted || @muted
      f.done = true
      emit(f.value ? "r\t#{f.last}\t#{f.id}\t#{f.depth}\t#{esc(f.value)}" : "r\t#{f.last}\t#{f.id}\t#{f.depth}")
    end

    # --- output ---------------------------------------------------------------------------

    def out(stream, args)
      return unless @on
      text = args.join
      return if text.empty?
      text = text.dup.force_encoding(Encoding::UTF_8)
      text = text.scrub("\uFFFD") unless text.valid_encoding?
      @buf << "o\t#{stream}\t" << esc(text) << "\n"
      flush if @buf.bytesize > 65_536
    rescue StandardError
      nil
    end

    def hook_output
      tee = Module.new do
        def write(*args)
          ::CodeAlchemy.out(equal?(::STDERR) ? 2 : 1, args)
          super
        end
      end
      STDOUT.singleton_class.prepend(tee)
      STDERR.singleton_class.prepend(tee)
      # Kernel#warn and interpreter warnings reach the real stderr without IO#write
      warner = Module.new do
        def warn(msg, *rest, **kw)
          ::CodeAlchemy.out(2, [msg]) if $stderr.equal?(::STDERR)
          super
        end
      end
      Warning.singleton_class.prepend(warner)
      exiter = Module.new do
        def exit!(*args)
          ::CodeAlchemy.flush
          super
        end
      end
      Kernel.prepend(exiter)
      Process.singleton_class.prepend(exiter)
      Kernel.singleton_class.prepend(exiter)
    end

    # --- the channel ----------------------------------------------------------------------

    def emit(rec)
      @events += 1
      if @events > @max_events
        @buf << "t\tmax_events\n"
        ON[0] = @on = false
        @raise_hook&.disable
        flush
        return
      end
      @buf << rec << "\n"
      flush if @buf.bytesize > 65_536
    end

    def flush
      return if @buf.nil? || @buf.empty?
      return @buf.clear unless Process.pid == @pid # a forked child: its copy of the buffer is the parent's
      @io.syswrite(@buf)
      @buf.clear
    rescue StandardError
      @buf.clear
    end

    def finish(err)
      main = Thread.main[:__codealchemy]&.first
      if @on && main
        if err && !main.exc.equal?(err)
          main.exc = err
          emit("x\t#{main.last}\t1\t0\t#{esc(err.class.name.to_s)}\t#{esc(message(err))}")
        end
        emit(err ? "r\t#{main.last}\t1\t0" : "r\t#{main.last}\t1\t0\tnil") if @on
      end
      ON[0] = @on = false
      flush
    end

    # --- values ---------------------------------------------------------------------------

    def esc(s)
      s.match?(ESC_RE) ? s.gsub(ESC_RE, ESC) : s
    end

    def message(e)
      was = @muted
      @muted = true
      m = e.message.to_s
      m = m.dup.force_encoding(Encoding::UTF_8).scrub("\uFFFD") unless m.encoding == Encoding::UTF_8 && m.valid_encoding?
      # without object addresses, as values are rendered ("undefined method `x' for #<Ghost>")
      m.include?(":0x") ? m.gsub(ADDR_RE, "") : m
    rescue Exception # rubocop:disable Lint/RescueException
      ""
    ensure
      @muted = was
    end

    def render(v)
      was = @muted
      @muted = true
      s = begin
        rep(v, @max_value + 1, {})
      rescue Exception # rubocop:disable Lint/RescueException
        "#<#{(KERNEL_CLASS.bind_call(v) rescue BasicObject)}>"
      end
      unless s.encoding == Encoding::UTF_8 && s.valid_encoding?
        s = s.dup.force_encoding(Encoding::UTF_8).scrub("\uFFFD")
      end
      s.length > @max_value ? s[0, [@max_value - 1, 0].max] + "\u2026" : s
    ensure
      @muted = was
    end

    # Ruby's own inspect, without object addresses, stopping once `budget` characters are out.
    def rep(v, budget, seen)
      case v
      when nil, true, false, Integer, Float, Symbol
        v.inspect
      when String
        v.length > budget ? v[0, budget].inspect : v.inspect
      when Array
        return v.inspect.gsub(ADDR_RE, "") unless v.instance_of?(Array)
        return "[...]" if seen[v.object_id]
        seen[v.object_id] = true
        out = +"["
        v.each_with_index do |item, i|
          out << ", " if i.positive?
          out << rep(item, budget - out.length, seen)
          break if out.length > budget
        end
        seen.delete(v.object_id)
        out << "]"
      when Hash
        return v.inspect.gsub(ADDR_RE, "") unless v.instance_of?(Hash)
        return "{...}" if seen[v.object_id]
        seen[v.object_id] = true
        out = +"{"
        first = true
        v.each_pair do |k, item|
          out << ", " unless first
          first = false
          if NEW_HASH_STYLE
            if k.is_a?(Symbol)
              out << k.inspect[1..] << ": "
            else
              out << rep(k, budget - out.length, seen) << " => "
            end
          else
            out << rep(k, budget - out.length, seen) << "=>"
          end
          out << rep(item, budget - out.length, seen)
          break if out.length > budget
        end
        seen.delete(v.object_id)
        out << "}"
      else
        if KERNEL_INSPECT.bind_call(v, :inspect).owner == Kernel # the default: render ivars with a budget
          return "#<#{v.class} ...>" if seen[v.object_id]
          seen[v.object_id] = true
          out = +"#<#{v.class}"
          v.instance_variables.each_with_index do |iv, i|
            out << (i.zero? ? " " : ", ") << iv.name << "=" << rep(v.instance_variable_get(iv), budget - out.length, seen)
            break if out.length > budget
          end
          seen.delete(v.object_id)
          return out << ">"
        end
        s = v.inspect
        s = s.to_s unless s.is_a?(String)
        s.include?(":0x") ? s.gsub(ADDR_RE, "") : s
      end
    end
  end
end
