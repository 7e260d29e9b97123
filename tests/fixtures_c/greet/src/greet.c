/* A rockspec-style C module: a define with a value, a define without, a header from incdirs,
 * a second source file, and __FILE__/__DATE__/__TIME__ (which must not break reproducibility). */
#include "lua.h"
#include "lauxlib.h"
#include "greet.h"

#ifndef GREETING
#error "GREETING must be defined"
#endif

static int hello(lua_State *L) {
  const char *who = luaL_optstring(L, 1, "world");
  lua_pushfstring(L, "%s, %s!", GREETING, who);
  return 1;
}

static int twice(lua_State *L) {
  lua_pushinteger(L, greet_twice((int)luaL_checkinteger(L, 1)));
  return 1;
}

int luaopen_greet_core(lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, hello);
  lua_setfield(L, -2, "hello");
  lua_pushcfunction(L, twice);
  lua_setfield(L, -2, "twice");
#ifdef LOUD
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "loud");
#endif
  lua_pushstring(L, __FILE__);
  lua_setfield(L, -2, "file");
  lua_pushstring(L, __DATE__ " " __TIME__);
  lua_setfield(L, -2, "built");
  return 1;
}
