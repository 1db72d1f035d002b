; Imports, to know under which name fmt, os and log are visible (and to refuse cgo).
(import_spec name: (_)? @alias path: (interpreted_string_literal) @path) @import
