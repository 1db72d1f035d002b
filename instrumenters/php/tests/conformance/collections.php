<?php
function count_words($text)
{
    $seen = [];
    foreach (explode(" ", $text) as $word) {
        $seen[$word] = true;
    }
    return count($seen);
}

echo count_words("the cat and the hat"), "\n";
