using System;
using System.Collections.Generic;

class Program
{
    static int CountWords(string text)
    {
        var seen = new HashSet<string>();
        foreach (string w in text.Split(' '))
        {
            seen.Add(w);
        }
        return seen.Count;
    }

    static void Main()
    {
        Console.WriteLine(CountWords("the cat and the hat"));
    }
}
