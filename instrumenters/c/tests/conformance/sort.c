#include <stdio.h>

int bubble(int *xs, int n) {
    int swaps = 0;
    for (int i = 0; i < n - 1; i++) {
        for (int j = 0; j < n - 1 - i; j++) {
            if (xs[j] > xs[j + 1]) {
                int t = xs[j];
                xs[j] = xs[j + 1];
                xs[j + 1] = t;
                swaps++;
            }
        }
    }
    return swaps;
}

int main(void) {
    int xs[5] = {5, 2, 9, 1, 7};
    int swaps = bubble(xs, 5);
    printf("%d %d %d %d %d\n", xs[0], xs[1], xs[2], xs[3], xs[4]);
    printf("%d\n", swaps);
    return 0;
}
