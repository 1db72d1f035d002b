def count_words(text)
  seen = {}
  text.split(" ").each do |word|
    seen[word] = true
  end
  seen.size
end

puts count_words("the cat and the hat")
