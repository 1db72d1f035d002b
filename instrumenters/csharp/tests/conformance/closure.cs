using System;

class Program
{
    static Func<int> MakeCounter()
    {
        int count = 0;
        return () =>
        {
            count++;
            return count;
        };
    }

    static void Main()
    {
        var counter = MakeCounter();
        Console.WriteLine(counter());
        Console.WriteLine(counter());
        Console.WriteLine(counter());
    }
}
