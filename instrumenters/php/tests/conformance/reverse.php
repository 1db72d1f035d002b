<?php
function reverse($s)
{
    $out = "";
    for ($i = strlen($s) - 1; $i >= 0; $i--) {
        $out .= $s[$i];
    }
    return $out;
}

echo reverse("hello"), "\n";
