local unused = 1
print(undefined_global)
local function f(a) return 1 end
return f
