print(require("strutil").upper("pure"))
