#!/bin/sh
# Linux awareness with page-table isolation (pti=on): the first look at the guest happens
# in user mode, where CR3 maps almost none of the kernel.
. "$(dirname "$0")/linux_lib.sh"

SYSLOOP_N=1000000
linux_check pti 1 --append 'console=ttyS0 panic=-1 quiet pti=on'
user_cr3_check "$work/pti.out.txt" 1
