#include <lua.h>

/* Named for a module "native", not "app.native": require would look for luaopen_app_native. */
int luaopen_native(lua_State *L) {
  lua_pushinteger(L, ANSWER);
  return 1;
}
