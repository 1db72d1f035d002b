def table(n)
  total = 0
  (1..n).each do |i|
    (1..n).each do |j|
      total += i * j
    end
  end
  total
end

puts table(3)
