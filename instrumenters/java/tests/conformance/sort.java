public class ConfSort {
    static int bubble(int[] xs) {
        int swaps = 0;
        for (int i = 0; i < xs.length; i++) {
            for (int j = 0; j + 1 < xs.length - i; j++) {
                if (xs[j] > xs[j + 1]) {
                    int t = xs[j];
                    xs[j] = xs[j + 1];
                    xs[j + 1] = t;
                    swaps++;
                }
            }
        }
        return swaps;
    }

    public static void main(String[] args) {
        int[] xs = {5, 2, 9, 1, 7};
        int swaps = bubble(xs);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < xs.length; i++) {
            if (i > 0) sb.append(' ');
            sb.append(xs[i]);
        }
        System.out.println(sb);
        System.out.println(swaps);
    }
}
