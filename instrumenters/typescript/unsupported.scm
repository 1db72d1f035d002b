; Constructs the TypeScript rewriter refuses (SkipProgram with the reason).
(with_statement) @with
