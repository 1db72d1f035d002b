#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    if (fork() == 0) {
        setsid();
        if (fork() == 0) sleep(1000);
        _exit(0);
    }
    wait(NULL);
    puts("parent done");
    return 0;
}
