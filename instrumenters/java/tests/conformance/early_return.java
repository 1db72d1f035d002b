public class ConfEarlyReturn {
    static int find(int[] xs, int target) {
        for (int i = 0; i < xs.length; i++) {
            if (xs[i] == target) {
                return i;
            }
        }
        return -1;
    }

    public static void main(String[] args) {
        int[] xs = {4, 8, 15, 16};
        System.out.println(find(xs, 15));
        System.out.println(find(xs, 3));
    }
}
