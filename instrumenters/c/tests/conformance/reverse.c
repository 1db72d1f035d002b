#include <stdio.h>
#include <string.h>

static char out[64];

char *reverse(const char *s) {
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        out[i] = s[n - 1 - i];
    }
    out[n] = '\0';
    return out;
}

int main(void) {
    printf("%s\n", reverse("hello"));
    return 0;
}
