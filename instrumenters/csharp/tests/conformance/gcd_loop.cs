using System;

class Program
{
    static int Gcd(int a, int b)
    {
        while (b != 0)
        {
            int t = a % b;
            a = b;
            b = t;
        }
        return a;
    }

    static void Main()
    {
        Console.WriteLine(Gcd(48, 18));
        Console.WriteLine(Gcd(17, 5));
    }
}
