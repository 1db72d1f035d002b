#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(void) {
    struct sockaddr_in a = {0};
    int s = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_port = htons(atoi(getenv("PORT")));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) {
        write(s, "escaped", 7);
        puts("CONNECTED tcp");
    } else {
        puts("blocked tcp");
    }
    struct sockaddr_un u = {0};
    int t = socket(AF_UNIX, SOCK_STREAM, 0);
    u.sun_family = AF_UNIX;
    strncpy(u.sun_path, getenv("SOCK"), sizeof u.sun_path - 1);
    if (connect(t, (struct sockaddr *)&u, sizeof u) == 0) {
        write(t, "escaped", 7);
        puts("CONNECTED unix");
    } else {
        puts("blocked unix");
    }
    return 0;
}
