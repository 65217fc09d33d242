#!/bin/sh
# Linux awareness with nokaslr: the slide is 0 and init_task is at its System.map address.
. "$(dirname "$0")/linux_lib.sh"

linux_check nokaslr 1 --append 'console=ttyS0 panic=-1 quiet nokaslr'
at=$(init_task_at "$work/nokaslr.out.txt")
[ "$at" = "$(map_init_task)" ] || fail "init_task at $at, System.map says $(map_init_task)"
echo "ok: nokaslr, init_task at its link address $at"
