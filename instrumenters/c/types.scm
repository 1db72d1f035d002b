; File-scope declarations the renderers are generated from: struct/union/enum definitions,
; typedefs and global variables.
(translation_unit (type_definition) @typedef)
(translation_unit (declaration) @global)
(struct_specifier body: (field_declaration_list)) @struct
(union_specifier body: (field_declaration_list)) @union
(enum_specifier body: (enumerator_list)) @enum
