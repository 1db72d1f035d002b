def find(xs, target)
  i = 0
  while i < xs.length
    return i if xs[i] == target
    i += 1
  end
  -1
end

xs = [4, 8, 15, 16]
puts find(xs, 15)
puts find(xs, 3)
