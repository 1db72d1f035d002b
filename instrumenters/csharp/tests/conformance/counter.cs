using System;

class Counter
{
    private int count = 0;

    public int Increment()
    {
        count += 1;
        return count;
    }
}

class Program
{
    static void Main()
    {
        var c = new Counter();
        c.Increment();
        c.Increment();
        Console.WriteLine(c.Increment());
    }
}
