-- A newer major version on the server: `strutil ~> 1.2` must not pick it.
return { version = "2.0.0", upper = function() error("strutil 2.0.0 was installed") end }
