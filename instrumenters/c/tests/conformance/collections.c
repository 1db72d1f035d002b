#include <stdio.h>
#include <string.h>

/* C has no map or set in its library: a small set of words in a fixed array */
struct set {
    char items[16][16];
    int size;
};

static int add(struct set *s, const char *word) {
    for (int i = 0; i < s->size; i++) {
        if (strcmp(s->items[i], word) == 0) {
            return 0;
        }
    }
    strcpy(s->items[s->size], word);
    s->size++;
    return 1;
}

int count_words(const char *text) {
    static struct set seen;
    char word[16];
    int len = 0;
    seen.size = 0;
    for (const char *p = text;; p++) {
        if (*p == ' ' || *p == '\0') {
            if (len > 0) {
                word[len] = '\0';
                add(&seen, word);
                len = 0;
            }
            if (*p == '\0') {
                break;
            }
        } else {
            word[len++] = *p;
        }
    }
    return seen.size;
}

int main(void) {
    printf("%d\n", count_words("the cat and the hat"));
    return 0;
}
