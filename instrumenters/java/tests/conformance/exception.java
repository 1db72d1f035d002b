public class ConfException {
    static int divide(int a, int b) {
        if (b == 0) {
            throw new ArithmeticException("division by zero");
        }
        return a / b;
    }

    public static void main(String[] args) {
        System.out.println(divide(10, 2));
        try {
            System.out.println(divide(1, 0));
        } catch (ArithmeticException e) {
            System.out.println("error");
        }
    }
}
