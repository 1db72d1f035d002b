#include <stdio.h>

struct Counter {
    int count;
};

int increment(struct Counter *c) {
    c->count += 1;
    return c->count;
}

int main(void) {
    struct Counter counter = {0};
    increment(&counter);
    increment(&counter);
    printf("%d\n", increment(&counter));
    return 0;
}
