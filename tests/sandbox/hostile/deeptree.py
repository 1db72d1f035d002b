import os

# a directory tree deeper than a recursive clean-up can go (and a locked-up folder on the way)
os.chdir("/work")
for i in range(5000):
    os.mkdir("d")
    os.chdir("d")
    if i == 10:
        open("f", "w").close()
os.chdir("/work")
os.makedirs("locked/inner")
os.chmod("locked", 0)
print("deep")
