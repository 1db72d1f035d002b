function count_words(text: string): number {
  const seen = new Set<string>();
  for (const w of text.split(" ")) {
    seen.add(w);
  }
  return seen.size;
}

console.log(count_words("the cat and the hat"));
