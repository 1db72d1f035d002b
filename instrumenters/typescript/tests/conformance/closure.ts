function make_counter(): () => number {
  let count = 0;
  return () => {
    count += 1;
    return count;
  };
}

const next = make_counter();
console.log(next());
console.log(next());
console.log(next());
