def divide(a, b)
  raise ZeroDivisionError, "division by zero" if b == 0
  a / b
end

puts divide(10, 2)
begin
  puts divide(1, 0)
rescue ZeroDivisionError
  puts "error"
end
