; Syntax that makes node run main.js as an ES module (the prelude is then imported).
(program (import_statement) @esm)
(program (export_statement) @esm)
(meta_property) @meta
(await_expression) @await
(for_in_statement "await" @await)
