function count_words(text) {
  const words = new Set();
  for (const w of text.split(" ")) {
    words.add(w);
  }
  return words.size;
}
console.log(count_words("the cat and the hat"));
