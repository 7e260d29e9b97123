/* The host of `bundle --emit-c`: what the Rust stub does, in C99, for any C toolchain and any
 * LuaJIT 2.1 (luajit.c's pmain/docall/traceback/report are the model, as for the stub). The
 * bundler puts the program's tables where the DATA marker is: `bundle_modules` (sorted by
 * name) and `bundle_nmodules`, `bundle_main`, `bundle_preloads`, `bundle_clibs`,
 * `bundle_boot` (runtime/lua/boot.lua, shared with the stub) and, when the program has one,
 * `bundle_interpreter` (runtime/lua/interp.lua, luajit's command line) with
 * `bundle_interpreter_env` (the --interpreter-env variable; "" for none). */

#if defined(__unix__) || defined(__unix) || defined(__APPLE__)
#define _XOPEN_SOURCE 600 /* POSIX.1-2001 with XSI: sigaction and SA_RESTART */
#include <unistd.h>
#define stdin_is_tty() isatty(0)
#else
#define stdin_is_tty() 1
#endif

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lauxlib.h"
#include "lua.h"
#include "luajit.h"
#include "lualib.h"

/* Module contents as a sequence of string literals, each within C99's 4095-character limit. */
typedef struct {
  const char *const *parts;
  const size_t *lens;
  size_t nparts;
} bundle_blob;

typedef struct {
  const char *name;      /* module name; "" for the main script */
  const char *chunkname; /* as luaL_loadbuffer receives it: "@./lib/util.lua" */
  int bytecode;          /* 1: LuaJIT bytecode, 0: source */
  bundle_blob blob;
} bundle_module;

typedef struct {
  const char *name;
  lua_CFunction open;
} bundle_clib;

/* @@DATA@@ */

/* The name in messages when argv[0] is empty: the Rust stub's too. */
static const char *progname = "bundle-app";
static lua_State *globalL = NULL;

static void l_message(const char *msg) {
  fputs(progname, stderr);
  fputs(": ", stderr);
  fputs(msg, stderr);
  fputc('\n', stderr);
  fflush(stderr);
}

static int report(lua_State *L, int status) {
  if (status && !lua_isnil(L, -1)) {
    const char *msg = lua_tostring(L, -1);
    if (msg == NULL) msg = "(error object is not a string)";
    l_message(msg);
    lua_pop(L, 1);
  }
  return status;
}

static void lstop(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_where(L, 0);
  lua_pushfstring(L, "%sinterrupted!", lua_tostring(L, -1));
  lua_error(L);
}

/* luajit.c's signal_set: sigaction with no flags, so that a blocked read is interrupted (no
 * SA_RESTART, unlike signal()), as the Rust stub does. */
static void set_sigint(void (*handler)(int)) {
#ifdef _XOPEN_SOURCE
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
#else
  signal(SIGINT, handler);
#endif
}

static void laction(int i) {
  (void)i;
  set_sigint(SIG_DFL);
  lua_sethook(globalL, lstop, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* --sigpipe ignore: a handler that does nothing rather than SIG_IGN, which children would
 * inherit across exec (the Rust stub's ignore_sigpipe). */
#ifdef _XOPEN_SOURCE
static void sigpipe_nothing(int i) { (void)i; }

static void ignore_sigpipe(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = sigpipe_nothing;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGPIPE, &sa, NULL);
}
#else
static void ignore_sigpipe(void) {} /* no SIGPIPE outside POSIX systems */
#endif

static int traceback(lua_State *L) {
  if (!lua_isstring(L, 1)) {
    if (lua_isnoneornil(L, 1) || !luaL_callmeta(L, 1, "__tostring") || !lua_isstring(L, -1))
      return 1;
    lua_remove(L, 1);
  }
  luaL_traceback(L, L, lua_tostring(L, 1), 1);
  return 1;
}

static int docall(lua_State *L, int narg, int clear) {
  int status;
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, traceback);
  lua_insert(L, base);
  set_sigint(laction);
  status = lua_pcall(L, narg, (clear ? 0 : LUA_MULTRET), base);
  set_sigint(SIG_DFL);
  lua_remove(L, base);
  if (status != 0) lua_gc(L, LUA_GCCOLLECT, 0);
  return status;
}

typedef struct {
  const bundle_blob *blob;
  size_t next;
} blob_reader;

static const char *read_blob(lua_State *L, void *ud, size_t *size) {
  blob_reader *r = (blob_reader *)ud;
  (void)L;
  if (r->next >= r->blob->nparts) {
    *size = 0;
    return NULL;
  }
  *size = r->blob->lens[r->next];
  return r->blob->parts[r->next++];
}

/* Loads a module's chunk; bytecode only as bytecode, source only as source. */
static int load_module(lua_State *L, const bundle_module *m) {
  blob_reader r;
  r.blob = &m->blob;
  r.next = 0;
  return lua_loadx(L, read_blob, &r, m->chunkname, m->bytecode ? "b" : "t");
}

/* The searcher for bundled modules, right after package.preload's (Lua 5.1 manual 5.3). */
static int searcher(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  size_t lo = 0, hi = bundle_nmodules;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(bundle_modules[mid].name, name);
    if (c == 0) {
      if (load_module(L, &bundle_modules[mid]) != 0)
        return luaL_error(L, "error loading module '%s' from the bundle:\n\t%s", name,
                          lua_tostring(L, -1));
      return 1;
    }
    if (c < 0) lo = mid + 1; else hi = mid;
  }
  lua_pushfstring(L, "\n\tno module '%s' in the bundle", name);
  return 1;
}

/* The last searcher: nothing found, but for a.b.c when the bundle holds other
 * modules under a.b, a line naming the flag that would have bundled it. */
static int hint(lua_State *L) {
  size_t len, lo = 0, hi = bundle_nmodules;
  const char *name = lua_tolstring(L, 1, &len);
  const char *dot = name ? strrchr(name, '.') : NULL;
  size_t plen;
  if (dot == NULL || dot == name) return 0;
  plen = (size_t)(dot - name) + 1; /* the prefix "a.b." */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strncmp(bundle_modules[mid].name, name, plen) < 0) lo = mid + 1; else hi = mid;
  }
  if (lo >= bundle_nmodules || strncmp(bundle_modules[lo].name, name, plen) != 0) return 0;
  lua_pushlstring(L, name, plen - 1);
  lua_pushfstring(L, "\n\tbundle: this executable holds other modules under '%s'; rebuild with "
                  "-m '%s.*' (or -m %s, or --trace -- ARGS) to include '%s'",
                  lua_tostring(L, -1), lua_tostring(L, -1), name, name);
  return 1;
}

/* The standard libraries, the static C modules (package.preload, opened only when required)
 * and boot.lua, shared with the Rust stub, which installs the searcher. */
static void open_runtime(lua_State *L) {
  size_t k;
  blob_reader r;
  lua_gc(L, LUA_GCSTOP, 0);
  luaL_openlibs(L);
  lua_gc(L, LUA_GCRESTART, -1);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  for (k = 0; k < bundle_nclibs; k++) {
    lua_pushcfunction(L, bundle_clibs[k].open);
    lua_setfield(L, -2, bundle_clibs[k].name);
  }
  lua_pop(L, 2);
  r.blob = &bundle_boot;
  r.next = 0;
  if (lua_load(L, read_blob, &r, "=boot") != 0) lua_error(L);
  lua_pushcfunction(L, searcher);
  lua_call(L, 1, 0);
  /* package.loaders[#package.loaders + 1] = hint: appended here, not in boot.lua, which is
   * parsed at every start. */
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "loaders");
  lua_pushcfunction(L, hint);
  lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
  lua_pop(L, 2);
}

static int pmain(lua_State *L) {
  char **argv = (char **)lua_touserdata(L, 1);
  int argc = (int)lua_tointeger(L, 2);
  int i, narg, status;
  size_t k;
  globalL = L;
  open_runtime(L);
  /* arg: arg[0] the executable as invoked, arg[1..n] its arguments. */
  lua_createtable(L, argc > 0 ? argc - 1 : 0, 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  lua_setglobal(L, "arg");
  for (k = 0; k < bundle_npreloads; k++) {
    lua_getglobal(L, "require");
    lua_pushstring(L, bundle_preloads[k]);
    if (report(L, docall(L, 1, 1)) != 0) {
      lua_pushboolean(L, 1);
      return 1;
    }
  }
  if (bundle_main == NULL) {
    l_message("this executable has no main script");
    lua_pushboolean(L, 1);
    return 1;
  }
  status = load_module(L, bundle_main);
  if (status == 0) {
    /* The script's ... are arg[1..] as they are now (preloads may have changed arg). */
    narg = 0;
    lua_getglobal(L, "arg");
    if (lua_istable(L, -1)) {
      do {
        narg++;
        lua_rawgeti(L, -narg, narg);
      } while (!lua_isnil(L, -1));
      lua_pop(L, 1);
      lua_remove(L, -narg);
      narg--;
    } else {
      lua_pop(L, 1);
    }
    status = docall(L, narg, 0);
  }
  lua_pushboolean(L, report(L, status) != 0);
  return 1;
}

/* pmain for the interpreter: interp.lua does what luajit.c does, in a coroutine, and yields to
 * this host what needs C (see the protocol at the top of runtime/lua/interp.lua). */
static int pmain_interpreter(lua_State *L) {
  char **argv = (char **)lua_touserdata(L, 1);
  int argc = (int)lua_tointeger(L, 2);
  int i, n, nargs, status, top;
  size_t k;
  lua_State *co;
  blob_reader r;
  globalL = L;
  /* The options are parsed before the other libraries open, as -E must come first. */
  lua_pushcfunction(L, luaopen_base);
  lua_call(L, 0, 0);
  lua_pushcfunction(L, luaopen_string);
  lua_call(L, 0, 0);
  co = lua_newthread(L);
  r.blob = bundle_interpreter;
  r.next = 0;
  if (lua_load(co, read_blob, &r, "=interpreter") != 0) {
    lua_xmove(co, L, 1);
    lua_pushboolean(L, report(L, LUA_ERRSYNTAX) != 0);
    return 1;
  }
  lua_createtable(co, 0, 7);
  if (argv[0] && argv[0][0]) {
    lua_pushstring(co, argv[0]);
    lua_setfield(co, -2, "progname");
  }
  lua_createtable(co, argc, 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(co, argv[i]);
    lua_rawseti(co, -2, i);
  }
  lua_setfield(co, -2, "argv");
  lua_pushinteger(co, argc);
  lua_setfield(co, -2, "argc");
  lua_pushboolean(co, stdin_is_tty());
  lua_setfield(co, -2, "isatty");
  lua_createtable(co, (int)bundle_npreloads, 0);
  for (k = 0; k < bundle_npreloads; k++) {
    lua_pushstring(co, bundle_preloads[k]);
    lua_rawseti(co, -2, (int)k + 1);
  }
  lua_setfield(co, -2, "preloads");
  lua_pushliteral(co, LUAJIT_VERSION " -- " LUAJIT_COPYRIGHT ". " LUAJIT_URL);
  lua_setfield(co, -2, "banner");
  nargs = 1;
  for (;;) {
    status = lua_resume(co, nargs);
    n = lua_gettop(co);
    if (status == LUA_YIELD && n >= 1) {
      const char *request;
      int kind;
      luaL_checkstack(L, n + LUA_MINSTACK, NULL);
      lua_xmove(co, L, n);
      request = lua_tostring(L, -n);
      kind = request == NULL ? 0 : strcmp(request, "openlibs") == 0 ? 1
           : strcmp(request, "docall") == 0 ? 2 : strcmp(request, "pcall") == 0 ? 3 : 0;
      lua_remove(L, -n);
      top = lua_gettop(L) - (n - 1);
      if (kind == 1) {
        int noenv = lua_toboolean(L, -1);
        lua_settop(L, top);
        if (noenv) {
          lua_pushboolean(L, 1);
          lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
        }
        open_runtime(L);
        nargs = 0;
        continue;
      } else if (kind == 2) {
        status = docall(L, n - 2, 0);
      } else if (kind == 3) {
        status = lua_pcall(L, n - 2, LUA_MULTRET, 0);
      } else {
        lua_settop(L, top);
        lua_pushliteral(L, "interpreter: unknown request");
        status = LUA_ERRRUN;
      }
      n = lua_gettop(L) - top;
      luaL_checkstack(co, n + 1, NULL);
      lua_pushinteger(co, status);
      lua_xmove(L, co, n);
      nargs = n + 1;
    } else if (status == 0) {
      lua_pushboolean(L, lua_tointeger(co, -1) != 0);
      return 1;
    } else {
      /* A fault of the interpreter itself. */
      luaL_traceback(L, co, status == LUA_YIELD ? "attempt to yield from outside a coroutine"
                                               : lua_tostring(co, -1), 0);
      lua_pushboolean(L, report(L, LUA_ERRRUN) != 0);
      return 1;
    }
  }
}

static int cpmain(lua_State *L) {
  return pmain(L);
}

static int cpmain_interpreter(lua_State *L) {
  return pmain_interpreter(L);
}

/* The interpreter runs when there is no main script, or when the variable named at bundle time
 * (--interpreter-env) is set. */
static int use_interpreter(void) {
  if (bundle_interpreter == NULL) return 0;
  if (bundle_main == NULL) return 1;
  return bundle_interpreter_env[0] != '\0' && getenv(bundle_interpreter_env) != NULL;
}

int main(int argc, char **argv) {
  int status, failed;
  lua_State *L;
  if (argv[0] && argv[0][0]) progname = argv[0];
  if (bundle_ignore_sigpipe) ignore_sigpipe();
  L = luaL_newstate();
  if (L == NULL) {
    l_message("cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  lua_pushcfunction(L, use_interpreter() ? cpmain_interpreter : cpmain);
  lua_pushlightuserdata(L, argv);
  lua_pushinteger(L, argc);
  status = lua_pcall(L, 2, 1, 0);
  failed = status != 0 ? (report(L, status), 1) : lua_toboolean(L, -1);
  lua_close(L);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
