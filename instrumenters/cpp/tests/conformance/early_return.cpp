#include <iostream>
#include <vector>

int find(const std::vector<int> &xs, int target) {
    for (std::size_t i = 0; i < xs.size(); i++) {
        if (xs[i] == target) {
            return (int)i;
        }
    }
    return -1;
}

int main() {
    std::vector<int> xs = {4, 8, 15, 16};
    std::cout << find(xs, 15) << "\n";
    std::cout << find(xs, 3) << "\n";
    return 0;
}
