word = "déjà vu"  # saved with a byte-order mark
def shout(s):
    return s.upper() + "!"

print(shout(word))
