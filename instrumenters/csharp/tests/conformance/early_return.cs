using System;

class Program
{
    static int Find(int[] xs, int target)
    {
        for (int i = 0; i < xs.Length; i++)
        {
            if (xs[i] == target)
            {
                return i;
            }
        }
        return -1;
    }

    static void Main()
    {
        int[] xs = { 4, 8, 15, 16 };
        Console.WriteLine(Find(xs, 15));
        Console.WriteLine(Find(xs, 3));
    }
}
