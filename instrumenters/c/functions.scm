; Function definitions: each gets a call probe, line probes on its statements and return probes.
(function_definition
  body: (compound_statement) @body) @function
