function bubble(xs: number[]): number {
  let swaps = 0;
  for (let i = 0; i < xs.length; i++) {
    for (let j = 0; j < xs.length - 1 - i; j++) {
      if (xs[j] > xs[j + 1]) {
        [xs[j], xs[j + 1]] = [xs[j + 1], xs[j]];
        swaps++;
      }
    }
  }
  return swaps;
}

const xs: number[] = [5, 2, 9, 1, 7];
const swaps = bubble(xs);
console.log(xs.join(" "));
console.log(swaps);
