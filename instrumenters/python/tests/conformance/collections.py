def count_words(text):
    seen = {}
    for word in text.split():
        seen[word] = seen.get(word, 0) + 1
    return len(seen)


print(count_words("the cat and the hat"))
