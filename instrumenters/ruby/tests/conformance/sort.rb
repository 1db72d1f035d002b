def bubble(xs)
  swaps = 0
  n = xs.size
  (0...n).each do |i|
    (0...(n - 1 - i)).each do |j|
      if xs[j] > xs[j + 1]
        xs[j], xs[j + 1] = xs[j + 1], xs[j]
        swaps += 1
      end
    end
  end
  swaps
end

xs = [5, 2, 9, 1, 7]
swaps = bubble(xs)
puts xs.join(" ")
puts swaps
