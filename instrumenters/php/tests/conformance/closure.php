<?php
function make_counter()
{
    $count = 0;
    return function () use (&$count) {
        $count++;
        return $count;
    };
}

$counter = make_counter();
echo $counter(), "\n";
echo $counter(), "\n";
echo $counter(), "\n";
