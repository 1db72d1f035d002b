// mcs for a whole batch in one warm Mono (runtime.toml [compile_server]; the protocol is in
// tracer/backends/servers.py).
//
// The compile runs as the mcs command would in the run folder (the process changes into it),
// through mcs's own re-entrant entry point (CompilerCallableEntryPoint.InvokeCompiler, loaded
// from MCS_EXE): the same messages on stderr and exit code 0 or 1. The line the command prints
// on stdout at the end ("Compilation failed: N error(s), M warnings") comes from its Main,
// which calls Environment.Exit, so it is written here from the messages' counts.
using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

class UnixEndPoint : EndPoint
{
    readonly string path;

    public UnixEndPoint(string path) { this.path = path; }

    public override AddressFamily AddressFamily { get { return AddressFamily.Unix; } }

    public override SocketAddress Serialize()
    {
        byte[] name = Encoding.UTF8.GetBytes(path);
        var address = new SocketAddress(AddressFamily.Unix, 2 + name.Length + 1);
        for (int i = 0; i < name.Length; i++)
            address[2 + i] = name[i];
        return address;
    }

    public override EndPoint Create(SocketAddress address) { return this; }
}

static class CompileServer
{
    [DllImport("libc", SetLastError = true)]
    static extern int chmod(string path, uint mode);

    static readonly Regex Error = new Regex(@"^\S.*: error CS\d+:", RegexOptions.Multiline);
    static readonly Regex Warning = new Regex(@"^\S.*: warning CS\d+:", RegexOptions.Multiline);

    static int Main(string[] args)
    {
        string socketPath = args[0], root = Path.GetFullPath(args[1]);
        MethodInfo invoke = Assembly.LoadFrom(args[2]).GetType("Mono.CSharp.CompilerCallableEntryPoint")
            .GetMethod("InvokeCompiler", new[] { typeof(string[]), typeof(TextWriter) });
        File.Delete(socketPath);
        var server = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        server.Bind(new UnixEndPoint(socketPath));
        server.Listen(4);
        chmod(socketPath, Convert.ToUInt32("777", 8));   // the compile sandboxes run as other uids
        Console.WriteLine("ready");
        Console.Out.Flush();
        while (true)
        {
            using (Socket client = server.Accept())
            {
                try
                {
                    Serve(client, root, invoke);
                }
                catch (SocketException)
                {
                    // the client went away (its compile phase was killed): next request
                }
            }
        }
    }

    static void Serve(Socket client, string root, MethodInfo invoke)
    {
        var request = new MemoryStream();
        var buffer = new byte[65536];
        int n;
        while ((n = client.Receive(buffer)) > 0)
            request.Write(buffer, 0, n);
        string[] fields = Encoding.UTF8.GetString(request.ToArray()).Split('\0');
        string dir = Path.GetFullPath(Path.Combine(root, fields[0]));
        if (fields.Length < 2 || !dir.StartsWith(root + "/"))
        {
            Reply(client, 2, "", "codealchemy compile server: bad request\n");
            return;
        }
        var argv = new string[fields.Length - 2];
        Array.Copy(fields, 1, argv, 0, argv.Length);
        Directory.SetCurrentDirectory(dir);
        var messages = new StringWriter();
        bool ok = (bool)invoke.Invoke(null, new object[] { argv, messages });
        string text = messages.ToString();
        int errors = Error.Matches(text).Count, warnings = Warning.Matches(text).Count;
        ok = ok && errors == 0;
        string summary = ok ? (warnings > 0 ? string.Format("Compilation succeeded - {0} warning(s)\n", warnings) : "")
                            : string.Format("Compilation failed: {0} error(s), {1} warnings\n", errors, warnings);
        Reply(client, ok ? 0 : 1, summary, text);
        Directory.SetCurrentDirectory(root);
        Console.WriteLine("served");   // the host counts these
        Console.Out.Flush();
    }

    static void Reply(Socket client, int code, string stdout, string stderr)
    {
        byte[] head = Encoding.UTF8.GetBytes(code + " " + Encoding.UTF8.GetByteCount(stdout) + "\n");
        client.Send(head);
        client.Send(Encoding.UTF8.GetBytes(stdout + stderr));
    }
}
