print(require("app.native").answer)
print(require("not.installed"))
