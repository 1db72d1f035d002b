<?php
function bubble(array &$xs): int
{
    $swaps = 0;
    $n = count($xs);
    for ($i = 0; $i < $n; $i++) {
        for ($j = 0; $j < $n - 1 - $i; $j++) {
            if ($xs[$j] > $xs[$j + 1]) {
                [$xs[$j], $xs[$j + 1]] = [$xs[$j + 1], $xs[$j]];
                $swaps++;
            }
        }
    }
    return $swaps;
}

$xs = [5, 2, 9, 1, 7];
$swaps = bubble($xs);
echo implode(" ", $xs), "\n";
echo $swaps, "\n";
