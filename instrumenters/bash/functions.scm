; function definitions: `f() { ... }`, `function f { ... }`, `f() ( ... )`
(function_definition) @function
