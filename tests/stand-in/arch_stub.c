/* STAND-IN, delete at merge: pxe_arch_classify() lives in src/dhcp/pxe.c
 * (dhcp branch); this copy lets the stand-in daemon link before then. */
#include "decide/decide.h"

enum pxe_arch_class pxe_arch_classify(uint16_t arch)
{
	switch (arch) {
	case 0: return PXE_ARCH_BIOS;
	case 6: return PXE_ARCH_UEFI_X86;
	case 7: case 9: return PXE_ARCH_UEFI_X64;
	case 11: return PXE_ARCH_UEFI_ARM64;
	case 16: return PXE_ARCH_UEFI_HTTP;
	default: return PXE_ARCH_OTHER;
	}
}
