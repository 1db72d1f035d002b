function divide(a: number, b: number): number {
  if (b === 0) {
    throw new Error("division by zero");
  }
  return Math.trunc(a / b);
}

console.log(divide(10, 2));
try {
  console.log(divide(1, 0));
} catch (e) {
  console.log("error");
}
