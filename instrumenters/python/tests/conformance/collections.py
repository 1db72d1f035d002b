def count_words(text):
    seen = set()
    for word in text.split():
        seen.add(word)
    return len(seen)


print(count_words("the cat and the hat"))
