print(require("strutil").version)
