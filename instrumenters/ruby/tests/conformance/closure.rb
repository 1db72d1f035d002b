def make_counter
  count = 0
  -> { count += 1 }
end

counter = make_counter
puts counter.call
puts counter.call
puts counter.call
