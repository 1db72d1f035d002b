function table(n) {
  let total = 0;
  for (let i = 1; i <= n; i++) {
    for (let j = 1; j <= n; j++) {
      total += i * j;
    }
  }
  return total;
}
console.log(table(3));
