import itertools

# fill the work folder (memory: it lives on /dev/shm, charged to the run's memory cgroup), in
# files under the file-size limit
block = b"x" * (512 << 10)
for i in itertools.count():
    with open(f"/work/fill{i}", "wb") as fh:
        fh.write(block)
