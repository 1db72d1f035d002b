public class ConfCounter {
    static class Counter {
        private int count = 0;

        int increment() {
            count += 1;
            return count;
        }
    }

    public static void main(String[] args) {
        Counter c = new Counter();
        c.increment();
        c.increment();
        System.out.println(c.increment());
    }
}
