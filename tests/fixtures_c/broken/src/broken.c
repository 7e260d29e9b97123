#include "lua.h"

int luaopen_broken(lua_State *L) {
  return undeclared_thing;
}
