<?php
class Counter
{
    private $count = 0;

    public function increment()
    {
        $this->count++;
        return $this->count;
    }
}

$c = new Counter();
$c->increment();
$c->increment();
echo $c->increment(), "\n";
