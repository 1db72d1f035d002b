function find(xs: number[], target: number): number {
  for (let i = 0; i < xs.length; i++) {
    if (xs[i] === target) {
      return i;
    }
  }
  return -1;
}

const xs: number[] = [4, 8, 15, 16];
console.log(find(xs, 15));
console.log(find(xs, 3));
