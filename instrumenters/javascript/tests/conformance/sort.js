function bubble(xs) {
  let swaps = 0;
  for (let i = 0; i < xs.length; i++) {
    for (let j = 0; j < xs.length - 1 - i; j++) {
      if (xs[j] > xs[j + 1]) {
        const tmp = xs[j];
        xs[j] = xs[j + 1];
        xs[j + 1] = tmp;
        swaps++;
      }
    }
  }
  return swaps;
}
const xs = [5, 2, 9, 1, 7];
const swaps = bubble(xs);
console.log(xs.join(" "));
console.log(swaps);
