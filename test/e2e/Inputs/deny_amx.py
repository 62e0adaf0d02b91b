#!/usr/bin/env python3
"""Runs a command where Linux refuses AMX to the process.

A seccomp filter makes arch_prctl(ARCH_REQ_XCOMP_PERM, ...) fail with EPERM,
as an older kernel or a container's policy would; every other system call
is allowed. An AMX executable must then run its kernels without tiles
(using one would kill it with SIGILL).

usage: deny_amx.py COMMAND [ARG...]
"""
import ctypes
import os
import struct
import sys

PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
SYS_ARCH_PRCTL, ARCH_REQ_XCOMP_PERM = 158, 0x1023
LD_W_ABS, JEQ_K, RET_K = 0x20, 0x15, 0x06
RET_ALLOW, RET_EPERM = 0x7FFF0000, 0x00050000 | 1


def insn(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


# seccomp_data: nr at offset 0, args[0] (low half) at 16.
program = b"".join([
    insn(LD_W_ABS, 0, 0, 0),
    insn(JEQ_K, 0, 3, SYS_ARCH_PRCTL),
    insn(LD_W_ABS, 0, 0, 16),
    insn(JEQ_K, 0, 1, ARCH_REQ_XCOMP_PERM),
    insn(RET_K, 0, 0, RET_EPERM),
    insn(RET_K, 0, 0, RET_ALLOW),
])


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    libc = ctypes.CDLL(None, use_errno=True)
    prog = SockFprog(len(program) // 8, program)
    if (libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or
            libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER,
                       ctypes.byref(prog), 0, 0) != 0):
        sys.exit(f"deny_amx.py: seccomp: {os.strerror(ctypes.get_errno())}")
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
