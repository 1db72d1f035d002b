(command_substitution) @substitution
