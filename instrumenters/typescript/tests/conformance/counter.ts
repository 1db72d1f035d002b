class Counter {
  private count: number = 0;

  increment(): number {
    this.count += 1;
    return this.count;
  }
}

const c = new Counter();
c.increment();
c.increment();
console.log(c.increment());
