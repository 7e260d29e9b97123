/* The one host of every program `bundle` makes: luajit.c's start-up (pmain, docall, traceback,
 * report, SIGINT) and the start-up policy (how `arg` is built, preloads, which program or
 * interpreter runs, where the bundle's searcher sits), written once in C99.
 *
 * Two back ends link it: the Rust stub (runtime/src/main.rs, compiled by runtime/build.rs)
 * and the C file of `bundle --emit-c`, which embeds this header and host.c. Each provides the
 * payload primitives below: how a chunk is loaded, which modules are bundled. Nothing in here
 * knows where the payload is or how it is stored. */
#ifndef BUNDLE_HOST_H
#define BUNDLE_HOST_H

#include <stddef.h>

#include "lua.h"

/* A payload primitive: pushes one value and returns 0, or pushes an error message and returns
 * a LUA_ERR* status. */
typedef int (*bundle_push_fn)(lua_State *L, void *ud);

/* A payload primitive about one entry (an entry point's name; "" for the program): pushes one
 * value and returns 0, returns -1 having pushed nothing when there is nothing to push, or
 * pushes an error message and returns a LUA_ERR* status. */
typedef int (*bundle_entry_fn)(lua_State *L, void *ud, const char *entry);

typedef struct bundle_host {
  int argc;
  char **argv;
  /* What the payload holds. */
  int has_main;                /* a main script */
  int has_interpreter;         /* luajit's command line (runtime/lua/interp.lua) */
  const char *interpreter_env; /* --interpreter-env: run the interpreter when set; NULL: none */
  int ignore_sigpipe;          /* --sigpipe ignore */
  /* Entry points (docs/FORMAT.md, entry points and the ARGS, DEFAULT_ENTRY, HERMETIC and
   * INTERPRETER_ENTRY records). A program with none of them leaves these 0 and NULL. */
  int nentries;                  /* how many entry points */
  const char *const *entries;    /* their names, sorted by strcmp; NULL when nentries is 0 */
  const char *interpreter_entry; /* the entry that runs the interpreter; NULL: none */
  const char *default_entry;     /* the entry run when nothing names one; NULL: none */
  int hermetic;                  /* only what the executable carries: no filesystem searchers */
  int has_args;                  /* some entry, or the program, has baked arguments */
  /* The executable is linked statically (no dynamic loader): it cannot load C modules, so
   * package.loadlib and the C searchers say so and name `bundle --dynamic`. */
  int static_exe;
  /* The payload primitives. */
  bundle_push_fn load_main;        /* the main chunk */
  bundle_push_fn load_interpreter; /* the interpreter chunk */
  bundle_push_fn push_preloads;    /* a table of module names to require first (-l) */
  bundle_entry_fn load_entry;      /* the chunk of entry point `entry` */
  /* The ARGS record of exactly `entry` ("" the program's default) as a sequence of strings,
   * as stored (`...` and ${VAR} included); -1 when there is none. Called only when has_args. */
  bundle_entry_fn push_args;
  /* The embedded files: pushes the overlay's boot chunk (runtime/lua/assets_boot.lua) and a
   * function that returns the overlay chunk (runtime/lua/assets.lua), loaded, and the table of
   * primitives it takes, which the boot calls on first use; or returns -1 when the program has
   * no assets. The host runs the boot with that function and its trace function (or nil). */
  int (*push_assets)(lua_State *L, void *ud);
  lua_CFunction searcher;          /* the bundle's searcher, upvalue 1 = ud */
  lua_CFunction hint;              /* the last searcher, upvalue 1 = ud */
  /* BUNDLE_TRACE=startup: prints one line for a start-up phase; NULL when tracing is off (the
   * host then does nothing at all for it). */
  void (*trace)(void *ud, const char *phase);
  void *ud;
} bundle_host;

/* Runs the program as luajit would; returns the process exit status. */
int bundle_host_main(const bundle_host *host);

/* Writes `progname: msg` to stderr (progname from argv[0], as the host names itself). */
void bundle_host_message(const char *argv0, const char *msg, size_t len);

#endif
