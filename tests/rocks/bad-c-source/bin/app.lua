print(require("app.native").answer)
