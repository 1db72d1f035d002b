using System;

class Program
{
    static int Divide(int a, int b)
    {
        if (b == 0)
        {
            throw new DivideByZeroException("division by zero");
        }
        return a / b;
    }

    static void Main()
    {
        Console.WriteLine(Divide(10, 2));
        try
        {
            Console.WriteLine(Divide(1, 0));
        }
        catch (DivideByZeroException)
        {
            Console.WriteLine("error");
        }
    }
}
