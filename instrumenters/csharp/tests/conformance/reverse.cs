using System;

class Program
{
    static string Reverse(string s)
    {
        string res = "";
        for (int i = s.Length - 1; i >= 0; i--)
        {
            res += s[i];
        }
        return res;
    }

    static void Main()
    {
        Console.WriteLine(Reverse("hello"));
    }
}
