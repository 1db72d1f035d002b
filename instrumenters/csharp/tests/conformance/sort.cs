using System;

class Program
{
    static int Bubble(int[] xs)
    {
        int swaps = 0;
        for (int i = 0; i < xs.Length; i++)
        {
            for (int j = 0; j + 1 < xs.Length - i; j++)
            {
                if (xs[j] > xs[j + 1])
                {
                    int t = xs[j];
                    xs[j] = xs[j + 1];
                    xs[j + 1] = t;
                    swaps++;
                }
            }
        }
        return swaps;
    }

    static void Main()
    {
        int[] xs = { 5, 2, 9, 1, 7 };
        int swaps = Bubble(xs);
        Console.WriteLine(string.Join(" ", xs));
        Console.WriteLine(swaps);
    }
}
