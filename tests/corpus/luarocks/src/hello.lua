return { greet = function(n) return "hello " .. n end }
