; nodes whose statement children get a line probe each
(program) @block
(compound_statement) @block
(do_group) @block
(subshell) @block
(if_statement) @block
(elif_clause) @block
(else_clause) @block
(case_item) @block
(command_substitution) @block
(process_substitution) @block
