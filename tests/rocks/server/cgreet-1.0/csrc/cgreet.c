#include <lua.h>
#include <lauxlib.h>
#include "cgreet.h"

static int greet(lua_State *L) {
  const char *who = luaL_checkstring(L, 1);
  lua_pushfstring(L, "%s, %s%s", CGREET_GREETING, who, CGREET_MARK);
  return 1;
}

int luaopen_cgreet(lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, greet);
  lua_setfield(L, -2, "greet");
#if defined(CGREET_LINUX)
  lua_pushstring(L, "linux");
#elif defined(CGREET_WINDOWS)
  lua_pushstring(L, "windows");
#else
  lua_pushstring(L, "no platform override");
#endif
  lua_setfield(L, -2, "platform");
  return 1;
}
