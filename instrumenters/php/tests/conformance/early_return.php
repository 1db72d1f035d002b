<?php
function find($xs, $target)
{
    foreach ($xs as $i => $x) {
        if ($x == $target) {
            return $i;
        }
    }
    return -1;
}

$xs = [4, 8, 15, 16];
echo find($xs, 15), "\n";
echo find($xs, 3), "\n";
