#include <iostream>
#include <vector>

int bubble(std::vector<int> &xs) {
    int swaps = 0;
    for (std::size_t i = 0; i < xs.size(); i++) {
        for (std::size_t j = 0; j + 1 < xs.size() - i; j++) {
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

int main() {
    std::vector<int> xs = {5, 2, 9, 1, 7};
    int swaps = bubble(xs);
    for (std::size_t i = 0; i < xs.size(); i++) {
        std::cout << (i ? " " : "") << xs[i];
    }
    std::cout << "\n" << swaps << "\n";
    return 0;
}
