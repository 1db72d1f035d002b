function gcd(a, b) {
  while (b) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

let total = 0;
for (let i = 1; i < 12000; i++) {
  total += gcd(i * 7919, 3571);
}
console.log(total);
