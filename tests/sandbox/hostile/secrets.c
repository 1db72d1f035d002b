#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    char *list = strdup(getenv("SECRETS"));
    for (char *p = strtok(list, ":"); p; p = strtok(NULL, ":")) {
        FILE *f = fopen(p, "r");
        char buf[21] = {0};
        if (f) { fread(buf, 1, 20, f); printf("READ %s %s\n", p, buf); fclose(f); }
        else printf("denied %s\n", p);
    }
    DIR *d = opendir("/root");
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) if (e->d_name[0] != '.') n++;
    printf("root has %d entries\n", n);
    return 0;
}
