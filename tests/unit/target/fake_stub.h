/* fake_stub.h — an in-process, scripted GDB stub that behaves like QEMU
 * 7.2's system-mode stub for two vCPUs, for testing the gdb target backend
 * through the public tgt_* API.
 *
 * It listens on a Unix socket in a private temporary directory and serves one
 * connection from a thread. Like QEMU it acks every packet with '+', answers
 * QStartNoAckMode with an empty packet, pages qXfer:features:read, and stops
 * a running guest when it receives 0x03. Every packet it receives is logged
 * with the number of the read() that brought it, so tests can check what was
 * sent and whether packets arrived pipelined in one write. */
#ifndef VMDBG_TEST_FAKE_STUB_H
#define VMDBG_TEST_FAKE_STUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Guest-virtual and guest-physical memory windows the fake serves; outside
 * them m/M answer "E14" like QEMU for unmapped memory. */
#define FAKE_VIRT_BASE 0xffffffff81000000ull
#define FAKE_PHYS_BASE 0x100000ull
#define FAKE_MEM_SIZE  0x4000u

/* Register values of vCPU 0 (thread 1); vCPU 1 has each of them + 0x100000. */
#define FAKE_RIP       0xffffffff81000123ull
#define FAKE_EFLAGS    0x00000246u
#define FAKE_CS        0x10u
#define FAKE_SS        0x18u
#define FAKE_FS_BASE   0x00007f1122334400ull
#define FAKE_GS_BASE   0xffff888011112222ull
#define FAKE_KGS_BASE  0x0000000055556666ull
#define FAKE_CR0       0x80050033ull
#define FAKE_CR3       0x000000000537a000ull
#define FAKE_CR4       0x0000000000751eb0ull
#define FAKE_EFER      0x0000000000000d01ull
#define FAKE_VCPU1_ADD 0x100000ull
/* GPR i (rax = 0 ... r15 = 15) of vCPU 0. */
#define FAKE_GPR(i) (0x1122334455667700ull + (uint64_t)(i))

/* What the monitor passthrough prints for "info registers" (two O packets). */
#define FAKE_MONITOR_OUT_1 "RAX=0000000000000001 RBX=0000000000000002\n"
#define FAKE_MONITOR_OUT_2 "GDT=     fffffe0000001000 0000007f\n"

struct fake_stub;

/* Start a fake stub; returns NULL on failure. */
struct fake_stub *fake_stub_start(void);
/* "unix:/tmp/.../stub.sock" */
const char *fake_stub_address(const struct fake_stub *fs);
/* Stop the thread and remove the socket and directory. */
void fake_stub_stop(struct fake_stub *fs);

/* ---- scripting (may be changed while a client is connected) ----------- */

/* Packets starting with prefix are never answered. NULL clears. */
void fake_stub_set_silent(struct fake_stub *fs, const char *prefix);
/* The connection is closed when a packet starting with prefix arrives. */
void fake_stub_set_close_on(struct fake_stub *fs, const char *prefix);
/* Packets starting with prefix get this reply instead of the normal one. */
void fake_stub_set_override(struct fake_stub *fs, const char *prefix, const char *reply);
/* Packets starting with prefix get their normal reply with a bad checksum. */
void fake_stub_set_badsum(struct fake_stub *fs, const char *prefix);
/* What a 'c' leads to: after delay_ms (negative: never, only 0x03 stops
 * the guest), the fake sends `outputs` console O-packets, then `stop`
 * (default "T05thread:02;"), or closes the connection when stop is NULL
 * and close_instead is true. */
void fake_stub_set_resume(struct fake_stub *fs, int delay_ms, int outputs, const char *stop,
                          bool close_instead);
/* Largest qXfer chunk the fake returns (it may return less than asked). */
void fake_stub_set_xfer_chunk(struct fake_stub *fs, size_t max);

/* ---- what the fake received ------------------------------------------- */

size_t fake_stub_packet_count(struct fake_stub *fs);
/* Packet i (its decoded payload; the interrupt byte is logged as "^C") and
 * the read() it arrived in. Returns false when i is out of range. */
bool fake_stub_packet(struct fake_stub *fs, size_t i, char *out, size_t cap, int *batch);
/* Number of logged packets starting with prefix, from index `from` on. */
size_t fake_stub_count(struct fake_stub *fs, size_t from, const char *prefix);
/* Index of the first packet from `from` on starting with prefix, or -1. */
long fake_stub_find(struct fake_stub *fs, size_t from, const char *prefix);

/* Direct access to the fake guest's state (take no lock: use only while the
 * client is not talking to the fake). */
uint8_t *fake_stub_virt_mem(struct fake_stub *fs);
uint8_t *fake_stub_phys_mem(struct fake_stub *fs);
/* Current value of register regnum of vCPU (0 or 1), up to 8 bytes. */
uint64_t fake_stub_reg(struct fake_stub *fs, int vcpu, unsigned regnum);
bool fake_stub_phys_mode(struct fake_stub *fs);
size_t fake_stub_breakpoints(struct fake_stub *fs);

#endif
