#include <lua.h>
#include <lauxlib.h>
#include "fast.h"

static int answer(lua_State *L) {
  lua_pushinteger(L, FAST_BASE + FAST_EXTRA);
  return 1;
}

int luaopen_app_fast(lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, answer);
  lua_setfield(L, -2, "answer");
#ifdef FAST_LINUX
  lua_pushstring(L, "linux");
#else
  lua_pushstring(L, "no platform override");
#endif
  lua_setfield(L, -2, "platform");
  return 1;
}
