; loop headers and elif conditions: one line event per test / iteration
(while_statement) @while
(for_statement) @for
(c_style_for_statement) @for
(elif_clause) @elif
