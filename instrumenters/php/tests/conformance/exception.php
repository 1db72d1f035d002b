<?php
function divide($a, $b)
{
    if ($b == 0) {
        throw new DivisionByZeroError("division by zero");
    }
    return intdiv($a, $b);
}

echo divide(10, 2), "\n";
try {
    echo divide(1, 0), "\n";
} catch (DivisionByZeroError $e) {
    echo "error\n";
}
