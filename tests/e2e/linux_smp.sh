#!/bin/sh
# Linux awareness with two vCPUs: each vCPU's current task comes from its own per-CPU area;
# the idle vCPU shows its own idle task.
. "$(dirname "$0")/linux_lib.sh"

linux_check smp 2
expect "$work/smp.out.txt" '^vcpu 1 \((user|kernel)\): thread tid=[0-9]+ ' ".thread on vCPU 1 failed"
