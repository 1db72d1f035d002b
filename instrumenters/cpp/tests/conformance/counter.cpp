#include <iostream>

class Counter {
public:
    int increment() {
        count++;
        return count;
    }

private:
    int count = 0;
};

int main() {
    Counter c;
    c.increment();
    c.increment();
    std::cout << c.increment() << "\n";
    return 0;
}
