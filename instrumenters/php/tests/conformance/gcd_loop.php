<?php
function gcd($a, $b)
{
    while ($b != 0) {
        [$a, $b] = [$b, $a % $b];
    }
    return $a;
}

echo gcd(48, 18), "\n";
echo gcd(17, 5), "\n";
