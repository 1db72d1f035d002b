"""Small real programs for the TraceEval / CodeTrace tests (Python, JavaScript, C)."""

GCD = """\
def gcd(a, b):
    while b:
        a, b = b, a % b
    return a


pairs = [(12, 9), (100, 75), (17, 5)]
total = 0
for x, y in pairs:
    g = gcd(x, y)
    total += g
    print(f"gcd({x}, {y}) = {g}")
print("total", total)
"""

# GCD with other names and one more pair: a near-duplicate of GCD.
GCD_RENAMED_PAIR = GCD.replace("(17, 5)]", "(17, 5), (8, 6)]")

PYTHON = {
    "gcd.py": GCD,
    "gcd_more.py": GCD_RENAMED_PAIR,
    "fib.py": """\
def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


print(fib(5))
""",
    "squares.py": """\
squares = []
for i in range(4):
    squares.append(i * i)
print(squares)
""",
    "words.py": """\
text = "the cat and the hat"
counts = {}
for word in text.split():
    counts[word] = counts.get(word, 0) + 1
best = max(counts, key=counts.get)
print(best, counts[best])
""",
    "bubble.py": """\
def bubble(xs):
    xs = list(xs)
    for i in range(len(xs)):
        for j in range(len(xs) - 1 - i):
            if xs[j] > xs[j + 1]:
                xs[j], xs[j + 1] = xs[j + 1], xs[j]
    return xs


print(bubble([3, 1, 2]))
""",
    "divide.py": """\
def safe_div(a, b):
    try:
        return a / b
    except ZeroDivisionError:
        return None


r1 = safe_div(6, 3)
r2 = safe_div(1, 0)
print(r1, r2)
""",
    "crash.py": """\
def inverse(x):
    return 1 / x


values = [2, 1, 0]
for v in values:
    print(inverse(v))
""",
    "class_point.py": """\
class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def norm1(self):
        return abs(self.x) + abs(self.y)


p = Point(3, -4)
n = p.norm1()
print("norm", n)
""",
    "long_loop.py": """\
total = 0
for i in range(200):
    total += i
print(total)
""",
    "tiny.py": "x = 1\n",
}

JAVASCRIPT = {
    "sum.js": """\
function sum(xs) {
  let total = 0;
  for (const x of xs) {
    total += x;
  }
  return total;
}
const s = sum([1, 2, 3]);
console.log("sum", s);
""",
    "fact.js": """\
function fact(n) {
  return n <= 1 ? 1 : n * fact(n - 1);
}
const f = fact(4);
console.log(f);
""",
    "upper.js": """\
const names = ["ada", "grace"];
const shout = names.map((n) => n.toUpperCase());
let joined = shout.join("+");
console.log(joined);
""",
}

C = {
    "square.c": """\
#include <stdio.h>

int square(int x) {
    int y = x * x;
    return y;
}

int main(void) {
    int total = 0;
    for (int i = 1; i <= 3; i++) {
        total += square(i);
    }
    printf("%d\\n", total);
    return 0;
}
""",
}
