class Counter
  def initialize
    @count = 0
  end

  def increment
    @count += 1
    @count
  end
end

c = Counter.new
c.increment
c.increment
puts c.increment
