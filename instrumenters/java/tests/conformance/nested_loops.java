public class ConfNestedLoops {
    static int table(int n) {
        int total = 0;
        for (int i = 1; i <= n; i++) {
            for (int j = 1; j <= n; j++) {
                total += i * j;
            }
        }
        return total;
    }

    public static void main(String[] args) {
        System.out.println(table(3));
    }
}
