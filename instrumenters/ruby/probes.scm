; Where the Ruby rewriter puts probes (rewrite.py walks the tree and asks these captures).

; Frames: a call probe, a wrapped body (return value, exceptions, unwinding).
[(method) (singleton_method)] @method
(lambda) @lambda
[(block) (do_block)] @block

; Lists of statements: a line probe before each statement.
[(program) (body_statement) (block_body) (then) (else) (do) (begin) (ensure)] @statements

; Jumps whose value is the frame's return value (`next` only in a block).
[(return) (next)] @jump

; Scopes that start a fresh set of local variables.
[(program) (method) (singleton_method) (class) (module) (singleton_class)] @scope
