"""Report the CPU features the kernel (or qemu-user) gives this process: AT_HWCAP of the auxiliary
vector, the bits that tell an Arm Neoverse N1 (Graviton2, Lambda's arm64) from later cores."""

import struct

AT_HWCAP = 16
# arch/arm64/include/uapi/asm/hwcap.h
ARM64_HWCAP = {"asimd": 1, "atomics": 8, "sve": 22, "paca": 30, "pacg": 31}


def hwcap():
    with open("/proc/self/auxv", "rb") as f:
        auxv = f.read()
    for key, value in struct.iter_unpack("<QQ", auxv):
        if key == AT_HWCAP:
            return value
    raise RuntimeError("no AT_HWCAP in /proc/self/auxv")


def handler(event, context):
    bits = hwcap()
    return {name: bool(bits >> bit & 1) for name, bit in ARM64_HWCAP.items()}
