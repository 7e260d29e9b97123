/* The payload side of `bundle --emit-c`'s C file: what runtime/src/main.rs is for the stub.
 * The bundler emits host.c (with host.h in place of its #include) and then this file, with
 * the program's tables where the DATA marker is: `bundle_modules` (sorted by name) and
 * `bundle_nmodules`, `bundle_main` (NULL without a main script), `bundle_preloads` and
 * `bundle_npreloads`, `bundle_clibs` and `bundle_nclibs` (static C modules, sorted by name),
 * `bundle_ignore_sigpipe`, `bundle_interpreter` (runtime/lua/interp.lua, luajit's command
 * line; NULL when the program has none) with `bundle_interpreter_env` (the --interpreter-env
 * variable; "" for none), and the embedded files: `bundle_assets` (sorted by key) and
 * `bundle_nassets`, with `bundle_assets_boot` (runtime/lua/assets_boot.lua, run at start-up)
 * and `bundle_assets_overlay` (runtime/lua/assets.lua, which the boot loads on first use; both
 * NULL without assets).
 *
 * Entry points (issue 17) are modules of `bundle_modules` named "/" + the entry's name
 * ("/web"), as in the payload's index: `require` never finds them (a module name has no "/").
 * With `#define BUNDLE_ENTRY_TABLES 1`, the data also holds `bundle_args` (each entry's baked
 * arguments, "" for the program's, as stored: `...` and ${VAR} included) and `bundle_nargs`,
 * `bundle_default_entry` and `bundle_interpreter_entry` (NULL for none), and
 * `bundle_hermetic`; without it, none of them is used. */

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

typedef struct {
  const char *key; /* the mount: "public/style.css", "/etc/app.conf" */
  unsigned mode;   /* permission bits */
  size_t size;
  bundle_blob blob;
} bundle_asset;

typedef struct {
  const char *entry; /* an entry's name; "" for the program's default arguments */
  const char *const *args;
  size_t nargs;
} bundle_argset;

/* @@DATA@@ */

#ifndef BUNDLE_ENTRY_TABLES
static const bundle_argset bundle_args[] = {{"", NULL, 0u}};
static const size_t bundle_nargs = 0u;
static const char *const bundle_default_entry = NULL;
static const char *const bundle_interpreter_entry = NULL;
static const int bundle_hermetic = 0;
#endif

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

#define MODULE_AT(s_, n_) \
  lower_bound(&bundle_modules[0].name, sizeof(bundle_module), bundle_nmodules, s_, n_)
#define CLIB_AT(s_, n_) \
  lower_bound(&bundle_clibs[0].name, sizeof(bundle_clib), bundle_nclibs, s_, n_)

/* host.h's searcher: the bundled Lua modules, then the static C modules. */
static int searcher(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  size_t len = strlen(name) + 1, k = MODULE_AT(name, len);
  /* An entry point ("/web") is not a module. */
  if (name[0] != '/' && k < bundle_nmodules && strcmp(bundle_modules[k].name, name) == 0) {
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
  if (dot == NULL || dot == name || name[0] == '/') return 0;
  plen = (size_t)(dot - name) + 1; /* the prefix "a.b." */
  k = MODULE_AT(name, plen);
  if (k >= bundle_nmodules || strncmp(bundle_modules[k].name, name, plen) != 0) return 0;
  lua_pushlstring(L, name, plen - 1);
  lua_pushfstring(L, "\n\tbundle: this executable holds other modules under '%s'; rebuild with "
                  "-m '%s.*' (or -m %s, or --trace -- ARGS) to include '%s'",
                  lua_tostring(L, -1), lua_tostring(L, -1), name, name);
  return 1;
}

/* The embedded files' primitives (docs/ASSETS.md; the stub's are runtime/src/assets.rs). */

#define ASSET_AT(s_, n_) \
  lower_bound(&bundle_assets[0].key, sizeof(bundle_asset), bundle_nassets, s_, n_)

static const bundle_asset *find_asset(const char *key) {
  size_t k = ASSET_AT(key, strlen(key) + 1);
  return k < bundle_nassets && strcmp(bundle_assets[k].key, key) == 0 ? &bundle_assets[k] : NULL;
}

/* The child of directory `prefix` (which ends in "/", or is "" for the top of the relative
 * mounts) that `key` lies under, and whether it is a directory; 0 if none. */
static size_t child_of(const char *key, const char *prefix, size_t plen, int *is_dir) {
  const char *rest = key + plen, *slash;
  if (strncmp(key, prefix, plen) != 0 || rest[0] == '\0') return 0;
  if (plen == 0 && rest[0] == '/') return 0; /* an absolute mount is not under "" */
  slash = strchr(rest, '/');
  *is_dir = slash != NULL;
  return slash != NULL ? (size_t)(slash - rest) : strlen(rest);
}

/* "dir/" for "dir", "/" for "/", "" for "". */
static void dir_prefix(luaL_Buffer *b, const char *key, size_t len) {
  luaL_addlstring(b, key, len);
  if (len > 0 && key[len - 1] != '/') luaL_addchar(b, '/');
}

static int has_children(lua_State *L, const char *key, size_t len) {
  const char *prefix;
  size_t plen, k;
  int is_dir;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  dir_prefix(&b, key, len);
  luaL_pushresult(&b);
  prefix = lua_tolstring(L, -1, &plen);
  for (k = ASSET_AT(prefix, plen); k < bundle_nassets; k++) {
    if (strncmp(bundle_assets[k].key, prefix, plen) != 0) break;
    if (child_of(bundle_assets[k].key, prefix, plen, &is_dir) > 0) {
      lua_pop(L, 1);
      return 1;
    }
  }
  lua_pop(L, 1);
  return 0;
}

static int asset_stat(lua_State *L) {
  size_t len;
  const char *key = luaL_checklstring(L, 1, &len);
  const bundle_asset *a = find_asset(key);
  if (a != NULL) {
    lua_pushliteral(L, "file");
    lua_pushnumber(L, (lua_Number)a->size);
    lua_pushinteger(L, (lua_Integer)a->mode);
    return 3;
  }
  if (!has_children(L, key, len)) return 0;
  lua_pushliteral(L, "directory");
  lua_pushinteger(L, 0);
  lua_pushinteger(L, 0755);
  return 3;
}

static int asset_read(lua_State *L) {
  const bundle_asset *a = find_asset(luaL_checkstring(L, 1));
  lua_Integer off = luaL_optinteger(L, 2, 0), want;
  size_t from, to, at = 0, i;
  luaL_Buffer b;
  if (a == NULL) {
    lua_pushnil(L);
    return 1;
  }
  want = lua_isnoneornil(L, 3) ? (lua_Integer)a->size : luaL_checkinteger(L, 3);
  from = off < 0 ? 0 : (size_t)off;
  if (from > a->size) from = a->size;
  to = want < 0 ? from : (want > (lua_Integer)(a->size - from) ? a->size : from + (size_t)want);
  luaL_buffinit(L, &b);
  for (i = 0; i < a->blob.nparts; i++) {
    size_t plen = a->blob.lens[i], lo, hi;
    lo = from > at ? from - at : 0;
    hi = to > at ? to - at : 0;
    if (hi > plen) hi = plen;
    if (lo < hi) luaL_addlstring(&b, a->blob.parts[i] + lo, hi - lo);
    at += plen;
  }
  luaL_pushresult(&b);
  return 1;
}

typedef struct {
  const char *name;
  size_t len;
  int is_dir;
} asset_child;

static int child_cmp(const void *x, const void *y) {
  const asset_child *a = (const asset_child *)x, *b = (const asset_child *)y;
  size_t n = a->len < b->len ? a->len : b->len;
  int c = memcmp(a->name, b->name, n);
  if (c != 0) return c;
  if (a->len != b->len) return a->len < b->len ? -1 : 1;
  return b->is_dir - a->is_dir;
}

static int asset_list(lua_State *L) {
  size_t len, plen, k, n = 0, i, out;
  const char *key = luaL_checklstring(L, 1, &len), *prefix;
  asset_child *children;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  dir_prefix(&b, key, len);
  luaL_pushresult(&b);
  prefix = lua_tolstring(L, -1, &plen);
  k = ASSET_AT(prefix, plen);
  children = (asset_child *)lua_newuserdata(L, (bundle_nassets - k + 1) * sizeof(asset_child));
  for (; k < bundle_nassets && strncmp(bundle_assets[k].key, prefix, plen) == 0; k++) {
    int is_dir = 0;
    size_t clen = child_of(bundle_assets[k].key, prefix, plen, &is_dir);
    if (clen == 0) continue;
    children[n].name = bundle_assets[k].key + plen;
    children[n].len = clen;
    children[n].is_dir = is_dir;
    n++;
  }
  if (n == 0) return 0;
  qsort(children, n, sizeof(asset_child), child_cmp);
  lua_createtable(L, (int)n, 0);
  lua_createtable(L, (int)n, 0);
  for (i = 0, out = 0; i < n; i++) {
    if (i > 0 && children[i].len == children[i - 1].len &&
        memcmp(children[i].name, children[i - 1].name, children[i].len) == 0)
      continue;
    out++;
    lua_pushlstring(L, children[i].name, children[i].len);
    lua_rawseti(L, -3, (int)out);
    lua_pushstring(L, children[i].is_dir ? "directory" : "file");
    lua_rawseti(L, -2, (int)out);
  }
  return 2;
}

static int asset_cwd(lua_State *L) {
#ifdef BUNDLE_POSIX
  char buf[4096];
  if (getcwd(buf, sizeof(buf)) != NULL) {
    lua_pushstring(L, buf);
    return 1;
  }
  lua_pushnil(L);
  lua_pushstring(L, strerror(errno));
  return 2;
#else
  lua_pushnil(L);
  lua_pushliteral(L, "getcwd is not available on this system");
  return 2;
#endif
}

/* A real file with the asset's bytes, in the private directory the stub uses for the same
 * purpose ($XDG_RUNTIME_DIR/bundle-UID, else /tmp/bundle-UID, mode 0700, owned by this user),
 * named by a hash of the contents and the key; written once through a temporary file. */
static int asset_materialize(lua_State *L) {
#ifdef BUNDLE_POSIX
  const char *key = luaL_checkstring(L, 1), *base = getenv("XDG_RUNTIME_DIR"), *dir, *path,
             *bytes;
  const bundle_asset *a = find_asset(key);
  unsigned long h = 5381;
  size_t i, n;
  struct stat st;
  FILE *f;
  if (a == NULL) {
    lua_pushnil(L);
    lua_pushliteral(L, "not an embedded file");
    return 2;
  }
  lua_settop(L, 1);
  lua_pushcfunction(L, asset_read);
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1); /* 2: the bytes */
  bytes = lua_tolstring(L, 2, &n);
  for (i = 0; i < n; i++) h = h * 33u + (unsigned char)bytes[i];
  if (base == NULL || base[0] != '/' || stat(base, &st) != 0 || !S_ISDIR(st.st_mode)) base = "/tmp";
  dir = lua_pushfstring(L, "%s/bundle-%d", base, (int)getuid()); /* 3 */
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) goto fail;
  if (lstat(dir, &st) != 0) goto fail;
  if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s is not a private directory of this user", dir);
    return 2;
  }
  {
    char hash[24];
    luaL_Buffer b;
    sprintf(hash, "%08x%08x-", (unsigned)(h >> 16 >> 16), (unsigned)(h & 0xffffffffu));
    luaL_buffinit(L, &b);
    luaL_addstring(&b, dir);
    luaL_addchar(&b, '/');
    luaL_addstring(&b, hash);
    for (i = 0; key[i] != '\0'; i++) { /* the key as a file name */
      char c = key[i];
      int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '-' || c == '_';
      luaL_addchar(&b, keep ? c : '_');
    }
    luaL_pushresult(&b); /* 4 */
  }
  path = lua_tostring(L, 4);
  if (stat(path, &st) == 0 && (size_t)st.st_size == n) return 1; /* written before */
  {
    const char *tmp = lua_pushfstring(L, "%s.tmp-%d", path, (int)getpid()); /* 5 */
    f = fopen(tmp, "wb");
    if (f == NULL) goto fail;
    if (fwrite(bytes, 1, n, f) != n || fclose(f) != 0 || rename(tmp, path) != 0) {
      remove(tmp);
      goto fail;
    }
    lua_pop(L, 1);
  }
  return 1;
fail:
  lua_pushnil(L);
  lua_pushstring(L, strerror(errno));
  return 2;
#else
  lua_pushnil(L);
  lua_pushliteral(L, "materialising an asset is not available on this system");
  return 2;
#endif
}

/* BUNDLE_ASSETS_OVERRIDE as it was at start-up (read then, used when the overlay loads). */
static const char *asset_override = NULL;

/* The boot's overlay(): the overlay chunk (runtime/lua/assets.lua), loaded, and `raw`, the
 * table of primitives it takes; the boot calls it on the program's first use of a file. */
static int asset_overlay(lua_State *L) {
  static const luaL_Reg raw[] = {{"stat", asset_stat},
                                 {"read", asset_read},
                                 {"list", asset_list},
                                 {"cwd", asset_cwd},
                                 {"materialize", asset_materialize},
                                 {NULL, NULL}};
  const luaL_Reg *r;
  /* "=[C]": the overlay's wrappers stand where C functions stood, and tracebacks name them as
   * luajit names those. */
  if (load_blob(L, bundle_assets_overlay, "=[C]", NULL) != 0) return lua_error(L);
  lua_createtable(L, 0, 8);
  for (r = raw; r->name != NULL; r++) {
    lua_pushcfunction(L, r->func);
    lua_setfield(L, -2, r->name);
  }
  if (asset_override != NULL && asset_override[0] != '\0') {
    lua_pushstring(L, asset_override);
    lua_setfield(L, -2, "override");
  }
  { /* Which trees exist, without listing them (keys sort '.' < '/' < '0'). */
    size_t abs = ASSET_AT("/", 1), first = ASSET_AT("", 0), after = ASSET_AT("0", 1);
    int has_abs = abs < bundle_nassets && bundle_assets[abs].key[0] == '/';
    int has_rel = (first < bundle_nassets && bundle_assets[first].key[0] != '/') ||
                  after < bundle_nassets;
    lua_pushboolean(L, has_rel);
    lua_setfield(L, -2, "relative");
    lua_pushboolean(L, has_abs);
    lua_setfield(L, -2, "absolute");
  }
  return 2;
}

/* host.h's push_assets: the overlay's boot (runtime/lua/assets_boot.lua) and asset_overlay;
 * nothing else is built at start-up (issue 19). */
static int push_assets(lua_State *L, void *ud) {
  int status;
  (void)ud;
  if (bundle_assets_boot == NULL) return -1;
  asset_override = getenv("BUNDLE_ASSETS_OVERRIDE");
  status = load_blob(L, bundle_assets_boot, "=[C]", NULL);
  if (status != 0) return status;
  lua_pushcfunction(L, asset_overlay);
  return 0;
}

/* BUNDLE_TRACE=startup: one line per start-up phase on stderr, with the time since main(). */
#ifdef BUNDLE_POSIX
static struct timespec trace_start;
static double trace_elapsed_us(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - trace_start.tv_sec) * 1e6 +
         (double)(now.tv_nsec - trace_start.tv_nsec) / 1e3;
}
#else
static double trace_elapsed_us(void) { return 0.0; }
#endif

static int trace_wanted(void) {
  const char *v = getenv("BUNDLE_TRACE");
  if (v == NULL || strcmp(v, "startup") != 0) return 0;
#ifdef BUNDLE_POSIX
  clock_gettime(CLOCK_MONOTONIC, &trace_start);
#endif
  return 1;
}

static void trace_phase(void *ud, const char *phase) {
  (void)ud;
  fprintf(stderr, "bundle: trace %8.0f us  %s\n", trace_elapsed_us(), phase);
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

/* host.h's load_entry: the chunk of entry point "/" + entry in bundle_modules. */
static int load_entry(lua_State *L, void *ud, const char *entry) {
  const char *key = lua_pushfstring(L, "/%s", entry);
  size_t k = MODULE_AT(key, strlen(key) + 1);
  int found = k < bundle_nmodules && strcmp(bundle_modules[k].name, key) == 0;
  (void)ud;
  lua_pop(L, 1);
  return found ? load_module(L, &bundle_modules[k]) : -1;
}

/* host.h's push_args: the baked arguments of exactly `entry`. */
static int push_args(lua_State *L, void *ud, const char *entry) {
  size_t k, i;
  (void)ud;
  for (k = 0; k < bundle_nargs; k++) {
    if (strcmp(bundle_args[k].entry, entry) != 0) continue;
    lua_createtable(L, (int)bundle_args[k].nargs, 0);
    for (i = 0; i < bundle_args[k].nargs; i++) {
      lua_pushstring(L, bundle_args[k].args[i]);
      lua_rawseti(L, -2, (int)i + 1);
    }
    return 0;
  }
  return -1;
}

int main(int argc, char **argv) {
  bundle_host host;
  const char **entries = NULL;
  size_t first = MODULE_AT("/", 1), n = 0, i;
  int status;
  while (first + n < bundle_nmodules && bundle_modules[first + n].name[0] == '/') n++;
  if (n > 0) {
    entries = (const char **)malloc(n * sizeof(const char *));
    if (entries == NULL) {
      bundle_host_message(argc > 0 ? argv[0] : NULL, "not enough memory", 17);
      return EXIT_FAILURE;
    }
    for (i = 0; i < n; i++) entries[i] = bundle_modules[first + i].name + 1;
  }
  host.argc = argc;
  host.argv = argv;
  host.has_main = bundle_main != NULL;
  host.has_interpreter = bundle_interpreter != NULL;
  host.interpreter_env = bundle_interpreter_env;
  host.ignore_sigpipe = bundle_ignore_sigpipe;
  host.nentries = (int)n;
  host.entries = entries;
  host.interpreter_entry = bundle_interpreter_entry;
  host.default_entry = bundle_default_entry;
  host.hermetic = bundle_hermetic;
  host.has_args = bundle_nargs > 0;
  host.static_exe = 0; /* the C file links as its compiler is told; dlopen is its business */
  host.load_main = load_main;
  host.load_interpreter = load_interpreter;
  host.push_preloads = push_preloads;
  host.load_entry = load_entry;
  host.push_args = push_args;
  host.push_assets = push_assets;
  host.trace = trace_wanted() ? trace_phase : NULL;
  host.searcher = searcher;
  host.hint = hint;
  host.ud = NULL;
  status = bundle_host_main(&host);
  free(entries);
  return status;
}
