"""Built-in scenario files (`*.yaml`; files starting with `_` are parts they include) and the
generators scenario files can call (`generate:`)."""
