; File-scope declarations, in source order: typedefs, global variables, and struct/union/enum
; definitions standing alone (`struct point { int x, y; };`). Definitions nested in these are
; read from them; declarations inside preprocessor conditionals are not seen (their variables
; are not shown, their types render as {...} or through _Generic).
(translation_unit (type_definition) @typedef)
(translation_unit (declaration) @global)
(translation_unit (struct_specifier) @tag)
(translation_unit (union_specifier) @tag)
(translation_unit (enum_specifier) @tag)
(translation_unit (function_definition type: (_) @return_type))
