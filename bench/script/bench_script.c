/*
** bench_script.c: nanoseconds per run of three typical event scripts, on the vmdbg script VM
** and on Lua 5.4 in the same process, with the same inputs and the same host access (the Lua
** side calls C functions that use the same register file and memory reader).
**   1 counter:  .count = .count + 1;
**   2 filter:   if (@rax == 0x6e) { printf("pid %x rax %llx\n", $pid, @rax); }  (memory sink)
**   3 sum:      a loop summing db(addr + i) over 64 bytes
** Each figure is the median of REPS repetitions of ITERS runs. Usage: bench_script [iters]
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "script.h"

#define REPS 9

/* {====================================================================
** The host both engines use
** ===================================================================== */

#define MEM_VA 0x10000ull
static uint8_t mem[4096];
static uint64_t regs[SCR_REG_COUNT];
static char sink[1 << 16];
static size_t sinklen;
static uint64_t sink_total;

static int host_mem_read(void *ctx, enum scr_space sp, uint64_t addr, void *buf, size_t len)
{
    if (sp != SCR_VIRT || addr < MEM_VA || addr - MEM_VA > sizeof mem ||
        len > sizeof mem - (addr - MEM_VA))
        return -1;
    memcpy(buf, mem + (addr - MEM_VA), len);
    return 0;
}

static int host_reg_read(void *ctx, enum scr_reg r, uint64_t *v)
{
    *v = regs[r];
    return 0;
}

static void host_output(void *ctx, const char *s, size_t n)
{
    if (sinklen + n > sizeof sink)
        sinklen = 0;
    memcpy(sink + sinklen, s, n);
    sinklen += n;
    sink_total += n;
}

static const struct scr_host host = {
    .reg_read = host_reg_read, .mem_read = host_mem_read, .output = host_output};

/* }==================================================================== */

/* {====================================================================
** Lua side: the same host access as C functions
** ===================================================================== */

static int l_reg(lua_State *L)
{
    uint64_t v;
    host_reg_read(NULL, (enum scr_reg)luaL_checkinteger(L, 1), &v);
    lua_pushinteger(L, (lua_Integer)v);
    return 1;
}

static int l_pid(lua_State *L)
{
    lua_pushinteger(L, 0x4d2);
    return 1;
}

static int l_db(lua_State *L)
{
    uint8_t b;
    if (host_mem_read(NULL, SCR_VIRT, (uint64_t)luaL_checkinteger(L, 1), &b, 1) < 0)
        return luaL_error(L, "memory fault");
    lua_pushinteger(L, b);
    return 1;
}

static int l_out(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    host_output(NULL, s, n);
    return 0;
}

/* }==================================================================== */

struct bench {
    const char *name;
    const char *vmdbg;
    const char *lua;
};

static const struct bench benches[] = {
    {"counter", ".count = .count + 1;", "count = count + 1"},
    {"filter+printf", "if (@rax == 0x6e) { printf(\"pid %x rax %llx\\n\", $pid, @rax); }",
     "if reg(0) == 0x6e then out(string.format(\"pid %x rax %x\\n\", pid(), reg(0))) end"},
    {"sum 64 bytes",
     "addr = @rcx; s = 0; for (i = 0; i < 0n64; i++) { s = s + db(addr + i); } .total = s;",
     "local addr = reg(1) local s = 0 for i = 0, 63 do s = s + db(addr + i) end total = s"},
};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

static double bench_vmdbg(const struct bench *b, long iters, uint64_t *check)
{
    struct scr_globals *g = scr_globals_new();
    struct scr_program *p;
    char err[256];
    struct scr_event_info ev = {.pid = 0x4d2};
    if (scr_compile(b->vmdbg, (size_t)-1, b->name, g, 0, &p, err, sizeof err) != 0) {
        fprintf(stderr, "compile %s: %s\n", b->name, err);
        exit(1);
    }
    double t[REPS];
    for (int r = 0; r < REPS; r++) {
        double t0 = now_ns();
        for (long i = 0; i < iters; i++)
            if (scr_run(p, &host, &ev, NULL, err, sizeof err) != 0) {
                fprintf(stderr, "run %s: %s\n", b->name, err);
                exit(1);
            }
        t[r] = (now_ns() - t0) / (double)iters;
    }
    uint64_t c = 0, tot = 0;
    scr_globals_get(g, "count", &c);
    scr_globals_get(g, "total", &tot);
    *check = c + tot;
    scr_free(p);
    scr_globals_free(g);
    return median(t, REPS);
}

static double bench_lua(const struct bench *b, long iters, uint64_t *check)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_register(L, "reg", l_reg);
    lua_register(L, "pid", l_pid);
    lua_register(L, "db", l_db);
    lua_register(L, "out", l_out);
    lua_pushinteger(L, 0);
    lua_setglobal(L, "count");
    if (luaL_loadstring(L, b->lua) != LUA_OK) {
        fprintf(stderr, "lua load %s: %s\n", b->name, lua_tostring(L, -1));
        exit(1);
    }
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    double t[REPS];
    for (int r = 0; r < REPS; r++) {
        double t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
            if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
                fprintf(stderr, "lua run %s: %s\n", b->name, lua_tostring(L, -1));
                exit(1);
            }
        }
        t[r] = (now_ns() - t0) / (double)iters;
    }
    lua_getglobal(L, "count");
    lua_getglobal(L, "total");
    *check = (uint64_t)lua_tointeger(L, -2) + (uint64_t)lua_tointeger(L, -1);
    lua_close(L);
    return median(t, REPS);
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 200000;
    for (size_t i = 0; i < sizeof mem; i++)
        mem[i] = (uint8_t)(i * 7);
    regs[SCR_REG_RAX] = 0x6e; /* the filter matches: printf runs every time */
    regs[SCR_REG_RCX] = MEM_VA + 0x100;
    printf("%-16s %12s %12s %8s\n", "script", "vmdbg ns", "lua ns", "ratio");
    int ok = 1;
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++) {
        uint64_t cv, cl;
        size_t out0 = sink_total;
        double v = bench_vmdbg(&benches[i], iters, &cv);
        size_t out_v = sink_total - out0;
        out0 = sink_total;
        double l = bench_lua(&benches[i], iters, &cl);
        size_t out_l = sink_total - out0;
        if (cv != cl || out_v != out_l) {
            fprintf(stderr, "%s: results differ (vmdbg %llu/%zu bytes, lua %llu/%zu bytes)\n",
                    benches[i].name, (unsigned long long)cv, out_v, (unsigned long long)cl, out_l);
            ok = 0;
        }
        printf("%-16s %12.1f %12.1f %7.2fx\n", benches[i].name, v, l, v / l);
    }
    return ok ? 0 : 1;
}
