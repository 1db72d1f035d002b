import java.util.function.IntSupplier;

public class ConfClosure {
    static IntSupplier makeCounter() {
        int[] count = {0};
        return () -> {
            count[0]++;
            return count[0];
        };
    }

    public static void main(String[] args) {
        IntSupplier counter = makeCounter();
        System.out.println(counter.getAsInt());
        System.out.println(counter.getAsInt());
        System.out.println(counter.getAsInt());
    }
}
