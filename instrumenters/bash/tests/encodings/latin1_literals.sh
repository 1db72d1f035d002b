#!/bin/bash
# Latin-1 script: é is one byte here
word="café"
greet() {
  echo "naïve $1 À bientôt"
}
echo "$word has ${#word} bytes"
greet "$word"
printf "%s\n" "© 1999"
