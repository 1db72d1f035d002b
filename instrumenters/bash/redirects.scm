(file_redirect) @redirect
