; Where the PHP rewriter puts probes (rewrite.py walks the tree and asks these captures).

; Frames: a call probe and a wrapped body (return value, exceptions, unwinding).
[(function_definition) (method_declaration) (anonymous_function) (arrow_function)] @function

; Lists of statements: a line probe before each statement.
[(program) (compound_statement) (colon_block) (case_statement) (default_statement)] @statements

; Type declarations: their methods are named Class::method.
[(class_declaration) (interface_declaration) (trait_declaration) (enum_declaration)] @class

; A returned value and a thrown exception go through the prelude.
(return_statement) @return
(throw_expression) @throw

; A generator's frame returns at each yield and is called again when it resumes.
(yield_expression) @yield
