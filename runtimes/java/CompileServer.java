import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * javac for a whole batch in one warm JVM (runtime.toml [compile_server]).
 *
 * A request (from the `javac` stand-in in the compile sandbox) is the run folder, relative to
 * ROOT, then javac's arguments, each ending in NUL. The compile runs in this JVM as the javac
 * command would run in that folder: source files and the values of path options are resolved
 * against it, the class path
 * defaults to it (as javac's does to "."), and the folder is cut from the messages again, so
 * they read as the command's. -J options are for a launcher and are dropped. The answer is the
 * exit code on a line, then javac's messages; stdout says "ready" once and "served" per compile.
 */
public final class CompileServer {
    private static final Set<String> PATH_OPTIONS = Set.of("-d", "-s", "-h", "-cp", "-classpath", "--class-path",
            "-sourcepath", "--source-path", "-processorpath", "--processor-path", "-p", "--module-path");

    public static void main(String[] args) throws IOException {
        Path socket = Path.of(args[0]);
        Path root = Path.of(args[1]).toAbsolutePath().normalize();
        Files.deleteIfExists(socket);
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            // the compile sandboxes run as other uids
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rwxrwxrwx"));
            System.out.println("ready");
            System.out.flush();
            while (true) {
                try (SocketChannel channel = server.accept()) {
                    serve(channel, root);
                } catch (IOException e) {
                    // the client went away (its compile phase was killed): next request
                }
            }
        }
    }

    private static void serve(SocketChannel channel, Path root) throws IOException {
        InputStream in = Channels.newInputStream(channel);
        String[] fields = new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\0", -1);
        Path dir = root.resolve(fields[0]).normalize();
        if (fields.length < 2 || !dir.startsWith(root) || dir.equals(root)) {
            reply(channel, 2, "codealchemy compile server: bad request\n");
            return;
        }
        List<String> argv = new ArrayList<>();
        boolean classPath = false;
        for (int i = 1; i < fields.length - 1; i++) {
            String arg = fields[i];
            if (arg.startsWith("-J")) {
                continue;
            }
            boolean pathValue = i > 1 && PATH_OPTIONS.contains(fields[i - 1]);
            classPath |= Set.of("-cp", "-classpath", "--class-path").contains(arg);
            boolean source = !arg.startsWith("-") && arg.endsWith(".java");
            argv.add(pathValue ? resolveAll(dir, arg) : source ? dir.resolve(arg).toString() : arg);
        }
        if (!classPath) {
            argv.add(0, dir.toString());
            argv.add(0, "-cp");
        }
        StringWriter out = new StringWriter();
        int rc = com.sun.tools.javac.Main.compile(argv.toArray(new String[0]), new PrintWriter(out, true));
        reply(channel, rc, out.toString().replace(dir + "/", ""));
        System.out.println("served");   // the host counts these
        System.out.flush();
    }

    private static String resolveAll(Path dir, String paths) {
        StringBuilder sb = new StringBuilder();
        for (String p : paths.split(":", -1)) {
            sb.append(sb.length() > 0 ? ":" : "").append(dir.resolve(p).normalize());
        }
        return sb.toString();
    }

    private static void reply(SocketChannel channel, int rc, String text) throws IOException {
        OutputStream out = Channels.newOutputStream(channel);
        out.write((rc + "\n" + text).getBytes(StandardCharsets.UTF_8));
        out.flush();
    }
}
