#include <functional>
#include <iostream>

std::function<int()> make_counter() {
    int count = 0;
    return [count]() mutable {
        count++;
        return count;
    };
}

int main() {
    std::function<int()> next = make_counter();
    std::cout << next() << "\n";
    std::cout << next() << "\n";
    std::cout << next() << "\n";
    return 0;
}
