#include <stdio.h>

int gcd(int a, int b) {
    while (b != 0) {
        int t = a % b;
        a = b;
        b = t;
    }
    return a;
}

int main(void) {
    printf("%d\n", gcd(48, 18));
    printf("%d\n", gcd(17, 5));
    return 0;
}
