#include <cstdio>

long gcd(long a, long b) {
    while (b) {
        long t = a % b;
        a = b;
        b = t;
    }
    return a;
}

int main(void) {
    long total = 0;
    for (long i = 1; i < 12000; i++) {
        total += gcd(i * 7919, 3571);
    }
    printf("%ld\n", total);
    return 0;
}
