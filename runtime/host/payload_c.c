/* The payload side of `bundle --emit-c`'s C file: what runtime/src/main.rs is for the stub.
 * The bundler emits host.c (with host.h in place of its #include) and then this file, with
 * the program's tables where the DATA marker is: `bundle_modules` (sorted by name) and
 * `bundle_nmodules`, `bundle_main` (NULL without a main script), `bundle_preloads` and
 * `bundle_npreloads`, `bundle_clibs` and `bundle_nclibs` (static C modules, sorted by name),
 * `bundle_ignore_sigpipe`, and `bundle_interpreter` (runtime/lua/interp.lua, luajit's command
 * line; NULL when the program has none) with `bundle_interpreter_env` (the --interpreter-env
 * variable; "" for none). */

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

/* Loads a chunk; bytecode only as bytecode, source only as source. */
static int load_blob(lua_State *L, const bundle_blob *blob, const char *chunkname,
                     const char *mode) {
  blob_reader r;
  r.blob = blob;
  r.next = 0;
  return lua_loadx(L, read_blob, &r, chunkname, mode);
}

static int load_module(lua_State *L, const bundle_module *m) {
  return load_blob(L, &m->blob, m->chunkname, m->bytecode ? "b" : "t");
}

/* The index of the first of the `n` sorted names (each `stride` bytes apart from `first`)
 * that is not less than the first `len` bytes of `name`. */
static size_t lower_bound(const char *const *first, size_t stride, size_t n, const char *name,
                          size_t len) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const char *at = *(const char *const *)(const void *)((const char *)first + mid * stride);
    if (strncmp(at, name, len) < 0) lo = mid + 1; else hi = mid;
  }
  return lo;
}

#define MODULE_AT(name, len) \
  lower_bound(&bundle_modules[0].name, sizeof(bundle_module), bundle_nmodules, name, len)
#define CLIB_AT(name, len) \
  lower_bound(&bundle_clibs[0].name, sizeof(bundle_clib), bundle_nclibs, name, len)

/* host.h's searcher: the bundled Lua modules, then the static C modules. */
static int searcher(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  size_t len = strlen(name) + 1, k = MODULE_AT(name, len);
  if (k < bundle_nmodules && strcmp(bundle_modules[k].name, name) == 0) {
    if (load_module(L, &bundle_modules[k]) != 0)
      return luaL_error(L, "error loading module '%s' from the bundle:\n\t%s", name,
                        lua_tostring(L, -1));
    return 1;
  }
  k = CLIB_AT(name, len);
  if (k < bundle_nclibs && strcmp(bundle_clibs[k].name, name) == 0) {
    lua_pushcfunction(L, bundle_clibs[k].open);
    return 1;
  }
  lua_pushfstring(L, "\n\tno module '%s' in the bundle", name);
  return 1;
}

/* host.h's hint: nothing found, but for a.b.c when the bundle holds other modules under a.b,
 * a line naming the flag that would have bundled it. */
static int hint(lua_State *L) {
  const char *name = lua_tostring(L, 1);
  const char *dot = name ? strrchr(name, '.') : NULL;
  size_t plen, k;
  if (dot == NULL || dot == name) return 0;
  plen = (size_t)(dot - name) + 1; /* the prefix "a.b." */
  k = MODULE_AT(name, plen);
  if (k >= bundle_nmodules || strncmp(bundle_modules[k].name, name, plen) != 0) return 0;
  lua_pushlstring(L, name, plen - 1);
  lua_pushfstring(L, "\n\tbundle: this executable holds other modules under '%s'; rebuild with "
                  "-m '%s.*' (or -m %s, or --trace -- ARGS) to include '%s'",
                  lua_tostring(L, -1), lua_tostring(L, -1), name, name);
  return 1;
}

static int load_main(lua_State *L, void *ud) {
  (void)ud;
  return load_module(L, bundle_main);
}

static int load_interpreter(lua_State *L, void *ud) {
  (void)ud;
  return load_blob(L, bundle_interpreter, "=interpreter", NULL);
}

static int push_preloads(lua_State *L, void *ud) {
  size_t k;
  (void)ud;
  lua_createtable(L, (int)bundle_npreloads, 0);
  for (k = 0; k < bundle_npreloads; k++) {
    lua_pushstring(L, bundle_preloads[k]);
    lua_rawseti(L, -2, (int)k + 1);
  }
  return 0;
}

int main(int argc, char **argv) {
  bundle_host host;
  host.argc = argc;
  host.argv = argv;
  host.has_main = bundle_main != NULL;
  host.has_interpreter = bundle_interpreter != NULL;
  host.interpreter_env = bundle_interpreter_env;
  host.ignore_sigpipe = bundle_ignore_sigpipe;
  host.load_main = load_main;
  host.load_interpreter = load_interpreter;
  host.push_preloads = push_preloads;
  host.searcher = searcher;
  host.hint = hint;
  host.ud = NULL;
  return bundle_host_main(&host);
}
