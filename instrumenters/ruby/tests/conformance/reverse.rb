def reverse(s)
  out = ""
  i = s.length - 1
  while i >= 0
    out += s[i]
    i -= 1
  end
  out
end

puts reverse("hello")
