<?php
function table($n)
{
    $total = 0;
    for ($i = 1; $i <= $n; $i++) {
        for ($j = 1; $j <= $n; $j++) {
            $total += $i * $j;
        }
    }
    return $total;
}

echo table(3), "\n";
