import java.util.HashSet;
import java.util.Set;

public class ConfCollections {
    static int countWords(String text) {
        Set<String> seen = new HashSet<>();
        for (String w : text.split(" ")) {
            seen.add(w);
        }
        return seen.size();
    }

    public static void main(String[] args) {
        System.out.println(countWords("the cat and the hat"));
    }
}
