(command name: (command_name) @_name (#eq? @_name "return")) @return
