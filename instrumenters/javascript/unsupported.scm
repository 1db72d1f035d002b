; Constructs the JavaScript rewriter refuses (SkipProgram with the reason).
(with_statement) @with
