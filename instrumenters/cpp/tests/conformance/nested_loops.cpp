#include <iostream>

int table(int n) {
    int total = 0;
    for (int i = 1; i <= n; i++) {
        for (int j = 1; j <= n; j++) {
            total += i * j;
        }
    }
    return total;
}

int main() {
    std::cout << table(3) << "\n";
    return 0;
}
