#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    const char *dirs[] = {"/var/tmp", getenv("HOME"), "/etc", "/root", "/tmp", "/usr"};
    char path[512];
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof path, "%s/%s", dirs[i], getenv("MARKER"));
        FILE *f = fopen(path, "w");
        if (f) { fputs("escaped", f); fclose(f); printf("wrote %s\n", dirs[i]); }
        else printf("denied %s\n", dirs[i]);
    }
    return 0;
}
