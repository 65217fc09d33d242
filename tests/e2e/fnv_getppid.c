/* fnv_getppid.c — the checksum sysloop must print for N getppid calls that
 * all return PPID: FNV-1a 64 over the results' 8 little-endian bytes. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fnv_getppid PPID N\n");
        return 2;
    }
    uint64_t ppid = strtoull(argv[1], NULL, 10), n = strtoull(argv[2], NULL, 10);
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint64_t i = 0; i < n; i++)
        for (int b = 0; b < 8; b++)
            h = (h ^ ((ppid >> (8 * b)) & 0xff)) * 0x100000001b3ull;
    printf("%016" PRIx64 "\n", h);
    return 0;
}
