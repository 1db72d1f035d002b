#include <iostream>
#include <set>
#include <sstream>
#include <string>

int count_words(const std::string &text) {
    std::set<std::string> seen;
    std::istringstream in(text);
    std::string word;
    while (in >> word) {
        seen.insert(word);
    }
    return (int)seen.size();
}

int main() {
    std::cout << count_words("the cat and the hat") << "\n";
    return 0;
}
