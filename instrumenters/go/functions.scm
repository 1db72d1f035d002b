; Top-level functions and methods with a body: each gets a frame (function literals inside
; them are found by the rewriter's walk, which also resolves scopes).
(source_file (function_declaration name: (identifier) @name body: (block)) @function)
(source_file (method_declaration name: (field_identifier) @name body: (block)) @method)
