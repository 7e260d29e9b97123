/* The host of every program `bundle` makes; see host.h. luajit.c is the model for the frames
 * (pmain, docall, traceback, report, SIGINT): the user's code runs with exactly the stack that
 * `luajit app.lua` gives it, so tracebacks, stack depth and messages match. C99, for any C
 * toolchain and any LuaJIT 2.1 (the C file of `--emit-c` is compiled against the system's). */
#if !defined(_XOPEN_SOURCE) && (defined(__unix__) || defined(__unix) || defined(__APPLE__))
#define _XOPEN_SOURCE 600 /* POSIX.1-2001 with XSI: sigaction */
#endif

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>

#if defined(_XOPEN_SOURCE)
#include <sys/stat.h>
#include <unistd.h>
#define BUNDLE_POSIX 1
#endif

#include "host.h"
#include "lauxlib.h"
#include "luajit.h"
#include "lualib.h"

/* The name in messages when argv[0] is empty. */
#define BUNDLE_DEFAULT_PROGNAME "bundle-app"

static const char *progname = BUNDLE_DEFAULT_PROGNAME;
static lua_State *globalL = NULL;

void bundle_host_message(const char *argv0, const char *msg, size_t len) {
  const char *name = argv0 != NULL && argv0[0] != '\0' ? argv0 : BUNDLE_DEFAULT_PROGNAME;
  fputs(name, stderr);
  fputs(": ", stderr);
  fwrite(msg, 1, len, stderr);
  fputc('\n', stderr);
  fflush(stderr);
}

/* luajit.c's l_message and report. */
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

/* SIGINT: luajit.c's signal_set, lstop and laction. sigaction with no flags, so that a blocked
 * read is interrupted (no SA_RESTART, unlike signal()). */
static void set_signal(int sig, void (*handler)(int), int flags) {
#ifdef BUNDLE_POSIX
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = handler;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
#else
  (void)flags;
  signal(sig, handler);
#endif
}

static void lstop(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  /* Not luaL_error: a C hook adds no frame to skip. */
  luaL_where(L, 0);
  lua_pushfstring(L, "%sinterrupted!", lua_tostring(L, -1));
  lua_error(L);
}

static void laction(int i) {
  set_signal(i, SIG_DFL, 0);
  lua_sethook(globalL, lstop, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* --sigpipe ignore: a handler that does nothing rather than SIG_IGN, which children would
 * inherit across exec. */
#ifdef SIGPIPE
static void sigpipe_nothing(int i) { (void)i; }
#endif

static void ignore_sigpipe(void) {
#ifdef SIGPIPE
#ifdef BUNDLE_POSIX
  set_signal(SIGPIPE, sigpipe_nothing, SA_RESTART);
#else
  set_signal(SIGPIPE, sigpipe_nothing, 0);
#endif
#endif
}

/* luajit.c's traceback: the message handler of every protected call of user code. */
static int traceback(lua_State *L) {
  if (!lua_isstring(L, 1)) { /* Non-string error object? Try metamethod. */
    if (lua_isnoneornil(L, 1) || !luaL_callmeta(L, 1, "__tostring") || !lua_isstring(L, -1))
      return 1; /* Return non-string error object. */
    lua_remove(L, 1); /* Replace object by result of __tostring metamethod. */
  }
  luaL_traceback(L, L, lua_tostring(L, 1), 1);
  return 1;
}

static int docall(lua_State *L, int narg, int clear) {
  int status;
  int base = lua_gettop(L) - narg; /* function index */
  lua_pushcfunction(L, traceback);
  lua_insert(L, base);
  set_signal(SIGINT, laction, 0);
  status = lua_pcall(L, narg, (clear ? 0 : LUA_MULTRET), base);
  set_signal(SIGINT, SIG_DFL, 0);
  lua_remove(L, base);
  /* Force a complete garbage collection in case of errors. */
  if (status != 0) lua_gc(L, LUA_GCCOLLECT, 0);
  return status;
}

typedef struct {
  const bundle_host *host;
  int failed;
} run_state;

/* The standard libraries, with LUA_NOENV set first for -E as luajit.c does, then the bundle's
 * searchers: the bundle's right after package.preload's, so that preload overrides keep
 * working and the filesystem searchers still serve what the bundle does not hold (Lua 5.1
 * manual, 5.3 `require`); the hint last, after every searcher has failed. */
static void open_runtime(lua_State *L, const bundle_host *h, int noenv) {
  int n, i, status;
  if (noenv) {
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  lua_gc(L, LUA_GCSTOP, 0);
  luaL_openlibs(L);
  lua_gc(L, LUA_GCRESTART, -1);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "loaders");
  n = (int)lua_objlen(L, -1);
  for (i = n; i >= 2; i--) { /* table.insert(package.loaders, 2, searcher) */
    lua_rawgeti(L, -1, i);
    lua_rawseti(L, -2, i + 1);
  }
  lua_pushlightuserdata(L, h->ud);
  lua_pushcclosure(L, h->searcher, 1);
  lua_rawseti(L, -2, 2);
  lua_pushlightuserdata(L, h->ud);
  lua_pushcclosure(L, h->hint, 1);
  lua_rawseti(L, -2, n + 2);
  lua_pop(L, 2);
  /* The embedded files' overlay, before any user code (the -l modules included) runs. */
  status = h->push_assets(L, h->ud);
  if (status == 0) {
    lua_call(L, 1, 0);
  } else if (status > 0) {
    lua_error(L);
  }
}

/* luajit.c's createargtable for a bundled program: arg[0] the executable as invoked,
 * arg[1..n] its arguments. */
static void create_arg_table(lua_State *L, int argc, char **argv) {
  int i;
  lua_createtable(L, argc > 0 ? argc - 1 : 0, 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  lua_setglobal(L, "arg");
}

/* luajit.c's handle_script: the script's ... are arg[1..] as they are now, after the preloads
 * (which may have changed arg). Returns how many were pushed. */
static int push_script_args(lua_State *L) {
  int narg = 0;
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
  return narg;
}

/* luajit.c's pmain, for a program with a main script. */
static int pmain(lua_State *L) {
  run_state *s = (run_state *)lua_touserdata(L, 1);
  const bundle_host *h = s->host;
  int status, i;
  globalL = L;
  open_runtime(L, h, 0);
  create_arg_table(L, h->argc, h->argv);
  status = h->push_preloads(L, h->ud);
  if (status == 0) {
    int table = lua_gettop(L);
    for (i = 1;; i++) { /* luajit.c's dolibrary, for each -l module */
      lua_rawgeti(L, table, i);
      if (lua_isnil(L, -1)) break;
      lua_getglobal(L, "require");
      lua_insert(L, -2);
      if (report(L, docall(L, 1, 1)) != 0) {
        s->failed = 1;
        return 0;
      }
    }
    lua_pop(L, 2);
    if (!h->has_main) {
      lua_pushliteral(L, "this executable has no main script");
      status = LUA_ERRRUN;
    } else {
      status = h->load_main(L, h->ud);
      if (status == 0) status = docall(L, push_script_args(L), 0);
    }
  }
  if (report(L, status) != 0) s->failed = 1;
  return 0;
}

/* The table interp.lua receives (see the protocol at the top of runtime/lua/interp.lua). */
static int push_interpreter_table(lua_State *co, const bundle_host *h) {
  int i, status;
  lua_createtable(co, 0, 7);
  if (h->argc > 0 && h->argv[0][0] != '\0') {
    lua_pushstring(co, h->argv[0]);
    lua_setfield(co, -2, "progname");
  }
  lua_createtable(co, h->argc, 1);
  for (i = 0; i < h->argc; i++) {
    lua_pushstring(co, h->argv[i]);
    lua_rawseti(co, -2, i);
  }
  lua_setfield(co, -2, "argv");
  lua_pushinteger(co, h->argc);
  lua_setfield(co, -2, "argc");
#ifdef BUNDLE_POSIX
  lua_pushboolean(co, isatty(0));
#else
  lua_pushboolean(co, 1);
#endif
  lua_setfield(co, -2, "isatty");
  status = h->push_preloads(co, h->ud);
  if (status != 0) return status;
  lua_setfield(co, -2, "preloads");
  lua_pushliteral(co, LUAJIT_VERSION " -- " LUAJIT_COPYRIGHT ". " LUAJIT_URL);
  lua_setfield(co, -2, "banner");
  return 0;
}

/* pmain for the interpreter: interp.lua does what luajit.c does, in a coroutine, and yields
 * to this host what needs C: opening the libraries, and calling the user's code on the main
 * thread under docall. The coroutine is kept in the registry, not on the main stack, and its
 * own code runs with the JIT off (it would otherwise count down the hot counters that the
 * user's loops share), so that the user's code starts with the stack and JIT state that
 * luajit gives it: the same recursion depth, the same traces. */
static int pmain_interpreter(lua_State *L) {
  run_state *s = (run_state *)lua_touserdata(L, 1);
  const bundle_host *h = s->host;
  int ref, i, n, nargs, status, top, libs_open;
  lua_State *co;
  globalL = L;
  /* -E must take effect before the package library opens: with an argument that could be -E
   * (luajit.c reads any "-E..." as -E), interp.lua parses the options with only the base and
   * string libraries open and asks for the rest. Without one, the usual case, everything
   * opens once, now, and that request has nothing left to do. */
  libs_open = 1;
  for (i = 1; i < h->argc; i++)
    if (h->argv[i][0] == '-' && h->argv[i][1] == 'E') libs_open = 0;
  if (libs_open) {
    open_runtime(L, h, 0);
  } else {
    lua_pushcfunction(L, luaopen_base);
    lua_call(L, 0, 0);
    lua_pushcfunction(L, luaopen_string);
    lua_call(L, 0, 0);
  }
  co = lua_newthread(L);
  ref = luaL_ref(L, LUA_REGISTRYINDEX);
  status = h->load_interpreter(co, h->ud);
  if (status == 0) {
    luaJIT_setmode(co, -1, LUAJIT_MODE_ALLFUNC | LUAJIT_MODE_OFF);
    status = push_interpreter_table(co, h);
  }
  if (status != 0) {
    lua_xmove(co, L, 1);
    s->failed = 1;
    report(L, status);
    return 0;
  }
  nargs = 1;
  for (;;) {
    status = lua_resume(co, nargs);
    n = lua_gettop(co);
    if (status == LUA_YIELD && n >= 1) {
      const char *request;
      luaL_checkstack(L, n + LUA_MINSTACK, NULL);
      lua_xmove(co, L, n);
      request = lua_tostring(L, -n);
      if (request == NULL) request = "";
      lua_remove(L, -n);
      top = lua_gettop(L) - (n - 1);
      if (strcmp(request, "openlibs") == 0) {
        int noenv = lua_toboolean(L, -1);
        lua_settop(L, top);
        if (!libs_open) {
          open_runtime(L, h, noenv);
          libs_open = 1;
        }
        nargs = 0;
        continue;
      } else if (strcmp(request, "docall") == 0) {
        status = docall(L, n - 2, 0);
      } else if (strcmp(request, "pcall") == 0) {
        status = lua_pcall(L, n - 2, LUA_MULTRET, 0);
      } else {
        lua_settop(L, top);
        lua_pushfstring(L, "interpreter: unknown request '%s'", request);
        status = LUA_ERRRUN;
      }
      n = lua_gettop(L) - top;
      luaL_checkstack(co, n + 1, NULL);
      lua_pushinteger(co, status);
      lua_xmove(L, co, n);
      nargs = n + 1;
    } else if (status == 0) {
      if (lua_tointeger(co, -1) != 0) s->failed = 1;
      break;
    } else {
      /* A fault of the interpreter itself (or a yield from outside a coroutine). */
      luaL_traceback(L, co, status == LUA_YIELD ? "attempt to yield from outside a coroutine"
                                               : lua_tostring(co, -1), 0);
      s->failed = 1;
      report(L, LUA_ERRRUN);
      break;
    }
  }
  luaL_unref(L, LUA_REGISTRYINDEX, ref);
  return 0;
}

/* The interpreter runs when there is no main script, or when the variable named at bundle time
 * (--interpreter-env) is set. */
static int use_interpreter(const bundle_host *h) {
  if (!h->has_interpreter) return 0;
  if (!h->has_main) return 1;
  return h->interpreter_env != NULL && h->interpreter_env[0] != '\0' &&
         getenv(h->interpreter_env) != NULL;
}

int bundle_host_main(const bundle_host *h) {
  run_state s;
  int status;
  lua_State *L;
  if (h->argc > 0 && h->argv[0][0] != '\0') progname = h->argv[0];
  if (h->ignore_sigpipe) ignore_sigpipe();
  L = luaL_newstate();
  if (L == NULL) {
    l_message("cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  s.host = h;
  s.failed = 0;
  status = lua_cpcall(L, use_interpreter(h) ? pmain_interpreter : pmain, &s);
  report(L, status);
  lua_close(L);
  return (status != 0 || s.failed) ? EXIT_FAILURE : EXIT_SUCCESS;
}
