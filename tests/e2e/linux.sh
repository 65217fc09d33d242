#!/bin/sh
# Linux awareness on the default guest as it boots (KASLR on): .process/.thread in user and
# kernel mode match the pids the workloads print; .process list shows init, the shell and
# the workload; the kernel really was moved (init_task is not at its System.map address).
. "$(dirname "$0")/linux_lib.sh"

linux_check kaslr 1
at=$(init_task_at "$work/kaslr.out.txt")
[ "$at" != "$(map_init_task)" ] || fail "init_task at its link address: was KASLR off?"
echo "ok: KASLR slide applied (init_task at $at)"
user_cr3_check "$work/kaslr.out.txt" 0
