#include <stdio.h>

int find(const int *xs, int n, int target) {
    for (int i = 0; i < n; i++) {
        if (xs[i] == target) {
            return i;
        }
    }
    return -1;
}

int main(void) {
    int xs[4] = {4, 8, 15, 16};
    printf("%d\n", find(xs, 4, 15));
    printf("%d\n", find(xs, 4, 3));
    return 0;
}
