; `return` (probe and value) and `exit` (marks the unwinding as an exit, not an error)
(command name: (command_name) @_name (#eq? @_name "return")) @return
(command name: (command_name) @_name (#eq? @_name "exit")) @exit
