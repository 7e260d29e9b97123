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
#include <time.h>
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

/* What runs, chosen before the Lua state exists (choose_program). */
enum { RUN_MAIN, RUN_ENTRY, RUN_INTERPRETER, RUN_USAGE };

typedef struct {
  const bundle_host *host;
  int failed;
  int what;          /* RUN_* */
  const char *entry; /* the entry chosen (an entry point or the interpreter entry), or NULL */
  int first;         /* argv index of the user's first argument: 2 when argv[1] named the entry */
  int argv_ref;      /* the interpreter's command line, when read early (pmain_interpreter) */
  int argv_n;        /* and its last index */
} run_state;

/* A statically linked executable's C and all-in-one searchers (upvalue 1: 0 or 1; upvalue 2:
 * package): they search package.cpath as LuaJIT's do, so that a missing module reads the
 * same, and stop with an error naming `--dynamic` where LuaJIT would load a library. */
static int static_searcher(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const char *search = name;
  if (lua_tointeger(L, lua_upvalueindex(1))) { /* all-in-one: the root's file */
    const char *dot = strchr(name, '.');
    if (dot == NULL) return 0;
    lua_pushlstring(L, name, (size_t)(dot - name));
    search = lua_tostring(L, -1);
  }
  lua_getfield(L, lua_upvalueindex(2), "searchpath");
  lua_pushstring(L, search);
  lua_getfield(L, lua_upvalueindex(2), "cpath");
  if (!lua_isstring(L, -1)) luaL_error(L, "'package.cpath' must be a string");
  lua_call(L, 2, 2);
  if (lua_isnil(L, -2)) return 1; /* the "\n\tno file ..." lines */
  return luaL_error(L,
                    "error loading module '%s' from file '%s':\n\tthis executable is statically "
                    "linked and cannot load C modules (bundle it with --dynamic)",
                    name, lua_tostring(L, -2));
}

/* A statically linked executable's package.loadlib: fails as Lua 5.1 does without dynamic
 * libraries ("absent"), naming `--dynamic`. */
static int static_loadlib(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  luaL_checkstring(L, 2);
  lua_pushnil(L);
  lua_pushfstring(L,
                  "%s: this executable is statically linked and cannot load C libraries "
                  "(bundle it with --dynamic)",
                  path);
  lua_pushliteral(L, "absent");
  return 3;
}

/* BUNDLE_TRACE=startup, for Lua: the asset overlay boot's `trace(phase)`, upvalue 1 the host. */
static int trace_from_lua(lua_State *L) {
  const bundle_host *h = (const bundle_host *)lua_touserdata(L, lua_upvalueindex(1));
  h->trace(h->ud, luaL_checkstring(L, 1));
  return 0;
}

/* The standard libraries, with LUA_NOENV set first for -E as luajit.c does, then the bundle's
 * searchers: the bundle's right after package.preload's, so that preload overrides keep
 * working and the filesystem searchers still serve what the bundle does not hold (Lua 5.1
 * manual, 5.3 `require`); the hint last, after every searcher has failed. */
static void open_runtime(lua_State *L, const bundle_host *h, int noenv) {
  int n, i, status;
  if (noenv || h->hermetic) {
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  lua_gc(L, LUA_GCSTOP, 0);
  luaL_openlibs(L);
  lua_gc(L, LUA_GCRESTART, -1);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "loaders");
  n = (int)lua_objlen(L, -1);
  if (h->hermetic) {
    /* Only what the executable carries: empty paths (LUA_NOENV above kept LUA_PATH and
     * LUA_CPATH out of them), and of the filesystem searchers (Lua 5.1 manual, 5.3 `require`:
     * Lua files, C libraries, all-in-one) none; package.preload's stays. */
    lua_pushliteral(L, "");
    lua_setfield(L, -3, "path");
    lua_pushliteral(L, "");
    lua_setfield(L, -3, "cpath");
    for (i = n; i >= 2; i--) {
      lua_pushnil(L);
      lua_rawseti(L, -2, i);
    }
    n = n < 1 ? n : 1;
  }
  if (h->static_exe) {
    lua_pushcfunction(L, static_loadlib);
    lua_setfield(L, -3, "loadlib");
    for (i = 3; i <= 4 && i <= n; i++) { /* the C and all-in-one searchers */
      lua_pushinteger(L, i - 3);
      lua_pushvalue(L, -3);
      lua_pushcclosure(L, static_searcher, 2);
      lua_rawseti(L, -2, i);
    }
  }
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
  if (h->trace) h->trace(h->ud, "standard libraries opened, searchers installed");
  /* The embedded files' overlay, before any user code (the -l modules included) runs: its boot
   * (runtime/lua/assets_boot.lua), which installs stubs that load the overlay on first use. */
  status = h->push_assets(L, h->ud);
  if (status == 0) {
    if (h->trace) {
      lua_pushlightuserdata(L, (void *)h);
      lua_pushcclosure(L, trace_from_lua, 1);
    } else {
      lua_pushnil(L);
    }
    lua_call(L, 2, 0);
    if (h->trace) h->trace(h->ud, "asset overlay installed (loaded on first use)");
  } else if (status > 0) {
    lua_error(L);
  }
}

/* Whether `c` may be character `i` of a shell variable's name ([A-Za-z_][A-Za-z0-9_]*). */
static int name_char(char c, size_t i) {
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (i > 0 && c >= '0' && c <= '9');
}

/* Pushes the baked argument `a` with each ${VAR} and ${VAR:-default} in it expanded from the
 * environment, as sh's parameter expansion does those two forms (an unset VAR is empty; `:-`
 * takes the default when VAR is unset or empty). Nothing else expands: any other `$` stays. */
static void push_expanded(lua_State *L, const char *a, size_t len) {
  const char *p = a, *end = a + len, *lit = a;
  if (memchr(a, '$', len) == NULL) {
    lua_pushlstring(L, a, len);
    return;
  }
  lua_pushliteral(L, "");
  while (p < end) {
    const char *name = p + 2, *q, *close = NULL, *dflt = NULL, *value;
    size_t nlen = 0;
    if (!(p[0] == '$' && p + 1 < end && p[1] == '{')) {
      p++;
      continue;
    }
    while (name + nlen < end && name_char(name[nlen], nlen)) nlen++;
    q = name + nlen;
    if (nlen > 0 && q < end && q[0] == '}') {
      close = q;
    } else if (nlen > 0 && q + 1 < end && q[0] == ':' && q[1] == '-') {
      dflt = q + 2;
      close = (const char *)memchr(dflt, '}', (size_t)(end - dflt));
    }
    if (close == NULL) {
      p++;
      continue;
    }
    lua_pushlstring(L, lit, (size_t)(p - lit));
    lua_pushlstring(L, name, nlen);
    value = getenv(lua_tostring(L, -1));
    lua_pop(L, 1);
    if (dflt != NULL && (value == NULL || value[0] == '\0')) {
      lua_pushlstring(L, dflt, (size_t)(close - dflt));
    } else {
      lua_pushstring(L, value != NULL ? value : "");
    }
    lua_concat(L, 3);
    p = lit = close + 1;
  }
  lua_pushlstring(L, lit, (size_t)(end - lit));
  lua_concat(L, 2);
}

/* Appends the user's arguments, argv[first..], to the table at `t` after index *n. */
static void append_user_args(lua_State *L, const run_state *s, int t, int *n) {
  int i;
  for (i = s->first; i < s->host->argc; i++) {
    lua_pushstring(L, s->host->argv[i]);
    lua_rawseti(L, t, ++*n);
  }
}

/* luajit.c's createargtable for a bundled program, as a table on the stack: [0] the executable
 * as invoked, [1..n] the arguments: the user's (after the entry's name when argv[1] named it),
 * spliced into the baked ones (the entry's ARGS, else the program's) where the first `...` is,
 * else after them, each baked one with ${VAR} expanded. The interpreter run without an entry
 * of its own takes no baked arguments, and the interpreter entry only its own. `extra` array
 * slots are reserved beyond the user's arguments (luajit.c's sizes: the interpreter's argv
 * table has one more than `arg`; allocations decide where the JIT starts traces). Returns 0 with
 * the table pushed and its length in *n, or an error status with the message pushed. */
static int push_argv(lua_State *L, const run_state *s, int extra, int *n) {
  const bundle_host *h = s->host;
  int t, status = -1, spliced = 0;
  lua_createtable(L, (h->argc > s->first ? h->argc - s->first : 0) + extra, 1);
  t = lua_gettop(L);
  *n = 0;
  if (h->argc > 0) {
    lua_pushstring(L, h->argv[0]);
    lua_rawseti(L, t, 0);
  }
  if (h->has_args && !(s->what == RUN_INTERPRETER && s->entry == NULL)) {
    status = h->push_args(L, h->ud, s->entry != NULL ? s->entry : "");
    if (status == -1 && s->what == RUN_ENTRY) status = h->push_args(L, h->ud, "");
    if (status > 0) return status;
  }
  if (status == 0) {
    int baked = lua_gettop(L), k;
    for (k = 1;; k++) {
      size_t len = 0;
      const char *a;
      lua_rawgeti(L, baked, k);
      if (lua_isnil(L, -1)) break;
      a = lua_tolstring(L, -1, &len);
      if (a == NULL) a = "";
      if (!spliced && len == 3 && memcmp(a, "...", 3) == 0) {
        append_user_args(L, s, t, n);
        spliced = 1;
      } else {
        push_expanded(L, a, len);
        lua_rawseti(L, t, ++*n);
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 2);
  }
  if (!spliced) append_user_args(L, s, t, n);
  return 0;
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
  status = push_argv(L, s, 0, &i);
  if (status != 0) {
    report(L, status);
    s->failed = 1;
    return 0;
  }
  lua_setglobal(L, "arg");
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
    if (s->what == RUN_ENTRY) {
      status = h->load_entry(L, h->ud, s->entry);
      if (status == -1) {
        lua_pushfstring(L, "this executable has no entry '%s'", s->entry);
        status = LUA_ERRRUN;
      }
    } else if (!h->has_main) {
      lua_pushliteral(L, "this executable has no main script");
      status = LUA_ERRRUN;
    } else {
      status = h->load_main(L, h->ud);
    }
    if (status == 0) {
      if (h->trace) h->trace(h->ud, "main chunk loaded; calling it");
      status = docall(L, push_script_args(L), 0);
    }
  }
  if (report(L, status) != 0) s->failed = 1;
  return 0;
}

/* The table interp.lua receives (see the protocol at the top of runtime/lua/interp.lua). */
static int push_interpreter_table(lua_State *co, const run_state *s) {
  const bundle_host *h = s->host;
  int status, n;
  lua_createtable(co, 0, 7);
  if (h->argc > 0 && h->argv[0][0] != '\0') {
    lua_pushstring(co, h->argv[0]);
    lua_setfield(co, -2, "progname");
  }
  if (s->argv_ref != LUA_NOREF) {
    lua_rawgeti(co, LUA_REGISTRYINDEX, s->argv_ref);
    n = s->argv_n;
  } else {
    status = push_argv(co, s, 1, &n);
    if (status != 0) return status;
  }
  lua_setfield(co, -2, "argv");
  lua_pushinteger(co, (n == 0 && h->argc == 0) ? 0 : n + 1);
  lua_setfield(co, -2, "argc");
  if (h->hermetic) {
    lua_pushboolean(co, 1);
    lua_setfield(co, -2, "hermetic");
  }
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

/* The interpreter's command line, argv[0] .. argv[argc - 1]: the executable, then the user's
 * arguments, or the table read early when the entry has baked arguments (argv_ref). */
static int interp_argc(const run_state *s) {
  const bundle_host *h = s->host;
  if (s->argv_ref != LUA_NOREF) return s->argv_n + 1;
  return h->argc > 0 ? h->argc - s->first + 1 : 0;
}

/* Argument i of that command line; a string the table or argv keeps alive. */
static const char *interp_arg(lua_State *L, const run_state *s, int i) {
  const char *a;
  if (s->argv_ref == LUA_NOREF) {
    return i == 0 ? s->host->argv[0] : s->host->argv[s->first + i - 1];
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, s->argv_ref);
  lua_rawgeti(L, -1, i);
  a = lua_tostring(L, -1);
  lua_pop(L, 2);
  return a != NULL ? a : "";
}

/* luajit.c's flags of collectargs, and one of ours: an option that only interp.lua handles. */
enum {
  FLAGS_INTERACTIVE = 1,
  FLAGS_VERSION = 2,
  FLAGS_EXEC = 4,
  FLAGS_OPTION = 8,
  FLAGS_NOENV = 16,
  FLAGS_TOOLS = 32 /* -j, -O or -b */
};

/* luajit.c's collectargs: the index of the script (or argc), or -1 for a usage error. The same
 * parse as interp.lua's, which runs it again when the command line goes there. */
static int interp_collectargs(lua_State *L, const run_state *s, int argc, int *flags) {
  int i;
  for (i = 1; i < argc; i++) {
    const char *a = interp_arg(L, s, i);
    if (a[0] != '-') return i; /* not an option: the script */
    switch (a[1]) {
    case '-':
      return a[2] != '\0' ? -1 : i + 1;
    case '\0':
      return i;
    case 'i':
    case 'v':
      if (a[2] != '\0') return -1;
      if (a[1] == 'i') *flags |= FLAGS_INTERACTIVE;
      *flags |= FLAGS_VERSION;
      break;
    case 'e':
    case 'j':
    case 'l':
      if (a[1] == 'e') *flags |= FLAGS_EXEC;
      if (a[1] == 'j') *flags |= FLAGS_TOOLS;
      *flags |= FLAGS_OPTION;
      if (a[2] == '\0' && ++i >= argc) return -1;
      break;
    case 'O':
      *flags |= FLAGS_TOOLS; /* luajit: no flag */
      break;
    case 'b':
      if (*flags) return -1; /* -b must come first */
      *flags |= FLAGS_EXEC | FLAGS_TOOLS;
      return i + 1;
    case 'E':
      *flags |= FLAGS_NOENV;
      break;
    default:
      return -1;
    }
  }
  return i;
}

/* interp.lua's report: luajit.c's, with no name in front when argv[0] is empty. */
static int interp_report(lua_State *L, const run_state *s, int status) {
  if (status && !lua_isnil(L, -1)) {
    const char *msg = lua_tostring(L, -1);
    if (msg == NULL) msg = "(error object is not a string)";
    if (s->host->argc > 0 && s->host->argv[0][0] != '\0') {
      fputs(s->host->argv[0], stderr);
      fputs(": ", stderr);
    }
    fputs(msg, stderr);
    fputc('\n', stderr);
    fflush(stderr);
    lua_pop(L, 1);
  }
  return status;
}

/* luajit.c's dostring, dofile (NULL: stdin) and dolibrary. */
static int interp_dostring(lua_State *L, const run_state *s, const char *chunk, const char *name) {
  int status = luaL_loadbuffer(L, chunk, strlen(chunk), name);
  if (status == 0) status = docall(L, 0, 1);
  return interp_report(L, s, status);
}

static int interp_dofile(lua_State *L, const run_state *s, const char *name) {
  int status = luaL_loadfile(L, name);
  if (status == 0) status = docall(L, 0, 1);
  return interp_report(L, s, status);
}

static int interp_dolibrary(lua_State *L, const run_state *s, const char *name) {
  lua_getglobal(L, "require");
  lua_pushstring(L, name);
  return interp_report(L, s, docall(L, 1, 1));
}

/* The command lines that need none of interp.lua's own parts (-e, -l, -E, -v, --, a script
 * or stdin that is not a terminal: nearly every run), run here as luajit.c's pmain runs them,
 * so that their start-up is luajit's: no chunk to load, no coroutine, no strings of its own.
 * Returns 0 with the command line run, or -1, having done nothing, when interp.lua must run
 * it: a usage error, -i, -j, -O, -b, or the REPL. */
static int pmain_interpreter_simple(lua_State *L, run_state *s) {
  const bundle_host *h = s->host;
  int argc = interp_argc(s), flags = 0, argn, i, status;
  if (argc == 0) return -1;
  argn = interp_collectargs(L, s, argc, &flags);
  if (argn < 0 || (flags & (FLAGS_INTERACTIVE | FLAGS_TOOLS))) return -1;
  /* Nothing to run but stdin: the REPL on a terminal. */
  if (argc == argn && !(flags & (FLAGS_EXEC | FLAGS_VERSION))) {
#ifdef BUNDLE_POSIX
    if (isatty(0)) return -1;
#else
    return -1;
#endif
  }
  if (h->trace) {
    h->trace(h->ud, "interpreter: the host runs the command line, interp.lua not loaded");
  }
  open_runtime(L, h, flags & FLAGS_NOENV);
  /* luajit.c's createargtable. */
  lua_createtable(L, argc - argn - 1, argn + 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, interp_arg(L, s, i));
    lua_rawseti(L, -2, i - argn);
  }
  lua_setglobal(L, "arg");
  /* luajit.c's handle_luainit. */
  if (!(flags & FLAGS_NOENV) && !h->hermetic) {
    const char *init = getenv("LUA_INIT");
    if (init != NULL) {
      status = init[0] == '@' ? interp_dofile(L, s, init + 1)
                              : interp_dostring(L, s, init, "=LUA_INIT");
      if (status != 0) return 1;
    }
  }
  if (flags & FLAGS_VERSION) { /* luajit.c's print_version */
    fputs(LUAJIT_VERSION " -- " LUAJIT_COPYRIGHT ". " LUAJIT_URL "\n", stdout);
  }
  /* The bundle's preloads, as if they were the first -l options. */
  status = h->push_preloads(L, h->ud);
  if (status != 0) return interp_report(L, s, status) != 0;
  for (i = 1;; i++) {
    const char *name;
    lua_rawgeti(L, -1, i);
    name = lua_tostring(L, -1);
    if (name == NULL) break;
    status = interp_dolibrary(L, s, name);
    lua_pop(L, 1);
    if (status != 0) return 1;
  }
  lua_pop(L, 2);
  /* luajit.c's runargs: only -e and -l are left to run. */
  for (i = 1; i < argn; i++) {
    const char *a = interp_arg(L, s, i), *rest = a + 2;
    if (a[1] != 'e' && a[1] != 'l') continue;
    if (*rest == '\0') rest = interp_arg(L, s, ++i);
    status = a[1] == 'e' ? interp_dostring(L, s, rest, "=(command line)")
                         : interp_dolibrary(L, s, rest);
    if (status != 0) return 1;
  }
  if (argc > argn) { /* luajit.c's handle_script */
    const char *fname = interp_arg(L, s, argn);
    if (strcmp(fname, "-") == 0 && strcmp(interp_arg(L, s, argn - 1), "--") != 0) fname = NULL;
    status = luaL_loadfile(L, fname);
    if (status == 0) status = docall(L, push_script_args(L), 0);
    return interp_report(L, s, status) != 0;
  }
  if (argc == argn && !(flags & (FLAGS_EXEC | FLAGS_VERSION))) {
    interp_dofile(L, s, NULL); /* stdin as a script; luajit.c exits with 0 whatever it does */
  }
  return 0;
}

/* pmain for the interpreter. A command line that needs none of interp.lua's own parts runs
 * in pmain_interpreter_simple; any other loads interp.lua, which does what luajit.c does, in a
 * coroutine, and yields to this host what needs C: opening the libraries, and calling the
 * user's code on the main thread under docall. The coroutine is kept in the registry, not on
 * the main stack, and its own code runs with the JIT off (it would otherwise count down the hot
 * counters that the user's loops share), so that the user's code starts with the stack and JIT
 * state that luajit gives it: the same recursion depth, the same traces. */
static int pmain_interpreter(lua_State *L) {
  run_state *s = (run_state *)lua_touserdata(L, 1);
  const bundle_host *h = s->host;
  int ref, i, n, nargs, status, top, libs_open;
  lua_State *co;
  globalL = L;
  /* -E must take effect before the package library opens: with an argument that could be -E
   * (luajit.c reads any "-E..." as -E), interp.lua parses the options with only the base and
   * string libraries open and asks for the rest. Without one, the usual case, everything
   * opens once, now, and that request has nothing left to do. With baked arguments the command
   * line is read now, to look at them too; otherwise it is built where luajit.c builds it, so
   * that user code meets the same heap. (pmain_interpreter_simple, which parses the options
   * before it opens anything, has none of this to do.) */
  libs_open = 1;
  if (h->has_args && s->entry != NULL) {
    status = push_argv(L, s, 1, &s->argv_n);
    if (status != 0) {
      s->failed = 1;
      report(L, status);
      return 0;
    }
    s->argv_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  status = pmain_interpreter_simple(L, s);
  if (status >= 0) {
    if (status != 0) s->failed = 1;
    if (s->argv_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, s->argv_ref);
    return 0;
  }
  if (s->argv_ref != LUA_NOREF) {
    for (i = 1; i <= s->argv_n; i++) {
      const char *a;
      lua_rawgeti(L, LUA_REGISTRYINDEX, s->argv_ref);
      lua_rawgeti(L, -1, i);
      a = lua_tostring(L, -1);
      if (a != NULL && a[0] == '-' && a[1] == 'E') libs_open = 0;
      lua_pop(L, 2);
    }
  } else {
    for (i = s->first; i < h->argc; i++)
      if (h->argv[i][0] == '-' && h->argv[i][1] == 'E') libs_open = 0;
  }
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
    if (h->trace) h->trace(h->ud, "interpreter: interp.lua loaded for this command line");
    luaJIT_setmode(co, -1, LUAJIT_MODE_ALLFUNC | LUAJIT_MODE_OFF);
    status = push_interpreter_table(co, s);
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
  if (s->argv_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, s->argv_ref);
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

/* The name the executable was invoked by, without its directory. */
static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
#ifdef _WIN32
  const char *back = strrchr(path, '\\');
  if (back != NULL && (slash == NULL || back > slash)) slash = back;
#endif
  return slash != NULL ? slash + 1 : path;
}

/* Chooses the entry called `name`, if there is one: the interpreter entry, or an entry point
 * (a binary search of the sorted names). */
static int pick_entry(const bundle_host *h, run_state *s, const char *name) {
  int lo = 0, hi = h->nentries;
  if (h->interpreter_entry != NULL && h->has_interpreter && strcmp(name, h->interpreter_entry) == 0) {
    s->what = RUN_INTERPRETER;
    s->entry = h->interpreter_entry;
    return 1;
  }
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2, c = strcmp(h->entries[mid], name);
    if (c == 0) {
      s->what = RUN_ENTRY;
      s->entry = h->entries[mid];
      return 1;
    }
    if (c < 0) lo = mid + 1; else hi = mid;
  }
  return 0;
}

/* What runs. A program without entries runs its main script, or the interpreter (without a
 * main script, or when INTERPRETER_ENV names a variable that is set). A program with entries
 * runs the one the executable's base name names (a link called `worker`), else the one
 * argv[1] names (that argument is consumed: arg[0] stays the executable as invoked, arg[1] is
 * what followed the entry's name), else the default entry, else the main script as above;
 * without a main script, it prints its usage (RUN_USAGE). */
static void choose_program(const bundle_host *h, run_state *s) {
  s->what = RUN_MAIN;
  s->entry = NULL;
  s->first = 1;
  if (h->nentries > 0 || h->interpreter_entry != NULL) {
    if (h->argc > 0 && pick_entry(h, s, base_name(h->argv[0]))) return;
    if (h->argc > 1 && pick_entry(h, s, h->argv[1])) {
      s->first = 2;
      return;
    }
    if (h->default_entry != NULL && pick_entry(h, s, h->default_entry)) return;
    if (!h->has_main) {
      s->what = RUN_USAGE;
      return;
    }
  }
  if (use_interpreter(h)) s->what = RUN_INTERPRETER;
}

/* `usage: PROG ENTRY [ARGS...]` and the entries, in order, on stderr. */
static void print_usage(const bundle_host *h) {
  int i;
  const char *interp = h->has_interpreter ? h->interpreter_entry : NULL;
  fprintf(stderr, "usage: %s ENTRY [ARGS...]\nentries:", progname);
  for (i = 0; i <= h->nentries; i++) {
    if (interp != NULL && (i == h->nentries || strcmp(interp, h->entries[i]) < 0)) {
      fprintf(stderr, " %s (the Lua interpreter)", interp);
      interp = NULL;
    }
    if (i < h->nentries) fprintf(stderr, " %s", h->entries[i]);
  }
  fputc('\n', stderr);
  fflush(stderr);
}

int bundle_host_main(const bundle_host *h) {
  run_state s;
  int status;
  lua_State *L;
  if (h->argc > 0 && h->argv[0][0] != '\0') progname = h->argv[0];
  s.host = h;
  s.failed = 0;
  s.argv_ref = LUA_NOREF;
  s.argv_n = 0;
  choose_program(h, &s);
  if (s.what == RUN_USAGE) {
    print_usage(h);
    return 2;
  }
  if (h->ignore_sigpipe) ignore_sigpipe();
  L = luaL_newstate();
  if (L == NULL) {
    l_message("cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  if (h->trace) h->trace(h->ud, "Lua state opened");
  status = lua_cpcall(L, s.what == RUN_INTERPRETER ? pmain_interpreter : pmain, &s);
  report(L, status);
  lua_close(L);
  return (status != 0 || s.failed) ? EXIT_FAILURE : EXIT_SUCCESS;
}
