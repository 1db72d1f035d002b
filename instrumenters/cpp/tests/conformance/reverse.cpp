#include <iostream>
#include <string>

std::string reverse(const std::string &s) {
    std::string out;
    for (int i = (int)s.size() - 1; i >= 0; i--) {
        out += s[i];
    }
    return out;
}

int main() {
    std::cout << reverse("hello") << "\n";
    return 0;
}
