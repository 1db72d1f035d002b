#include <stdlib.h>
#include <unistd.h>

int main(void) {
    int fd = atoi(getenv("CODEALCHEMY_TRACE_FD"));
    for (long i = 0; i < 10000000; i++) write(fd, "l\t1\t0\t1\n", 8);
    return 0;
}
