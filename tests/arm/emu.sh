# shellcheck shell=bash
# tests/arm/emu.sh - running ARM builds under qemu-user (bash, sourced).
#
#   . tests/arm/emu.sh
#   emu_cmd aarch64-linux-gnu     # -> EMU=(qemu-aarch64)
#   emu_dir aarch64-linux-gnu     # -> build/aarch64-linux-gnu/emu, a BUILD for the e2e tests
#
# No binfmt_misc is assumed (a container has none): qemu is invoked by hand.
# The target's loader and libraries are Debian's multiarch ones (libc6:arm64
# puts /lib/ld-linux-aarch64.so.1 in place, libc6:armhf ld-linux-armhf.so.3),
# so no -L is given: `-L /usr/TRIPLET` (the cross toolchain's sysroot) would
# pair the cross libc6's loader (2.36-8cross1) with the multiarch libc.so.6
# (2.36-9+deb12u*), and every fork() then crashes or hangs in the child.

# emu_cmd TRIPLET: EMU, the command line prefix that runs a TRIPLET binary.
emu_cmd() {
	local q
	case $1 in
	aarch64-linux-gnu) q=qemu-aarch64 ;;
	arm-linux-gnueabihf) q=qemu-arm ;;
	*) echo "emu: no emulator known for $1" >&2; return 1 ;;
	esac
	command -v "$q" >/dev/null || { echo "emu: $q missing (scripts/setup.sh emu)" >&2; return 1; }
	[ -e "$(emu_loader "$1")" ] || { echo "emu: $(emu_loader "$1") missing (scripts/setup.sh emu)" >&2; return 1; }
	EMU=("$q")
}

# emu_dir TRIPLET [ARM_BUILD]: a directory (ARM_BUILD/emu; ARM_BUILD is
# build/TRIPLET by default, build/TRIPLET/static for the static build) that
# the end-to-end tests take as their BUILD: outpostd and outpostctl there
# are scripts that exec the ARM binaries under qemu (exec: the test's pid is
# qemu's, which passes signals to the guest, so kill -9 and SIGTERM mean
# what they mean), while twilio-sim and outpost-pub are the native build's.
# outpost-check reads the store directly: it is linked only where lmdb's
# file format matches the native one (64-bit targets; docs/INSTALL.md).
emu_dir() {
	local t=$1 arm=${2:-build/$1} native=build dir b
	dir="$arm/emu"
	emu_cmd "$t" || return 1
	mkdir -p "$dir"
	for b in outpostd outpostctl; do
		[ -x "$arm/$b" ] || { echo "emu: $arm/$b missing (make CROSS=$t)" >&2; return 1; }
		# shellcheck disable=SC2016 # expanded by the script, not here
		printf '#!/bin/sh\nexec %s "$(dirname "$0")/../%s" "$@"\n' "${EMU[*]}" "$b" >"$dir/$b"
		chmod +x "$dir/$b"
	done
	for b in twilio-sim outpost-pub; do
		ln -sfn "$(realpath "$native/$b")" "$dir/$b"
	done
	rm -f "$dir/outpost-check"
	if [ "$(emu_word "$t")" = "$(getconf LONG_BIT)" ] && [ -x "$native/outpost-check" ]; then
		ln -sfn "$(realpath "$native/outpost-check")" "$dir/outpost-check"
	fi
	echo "$dir"
}

# emu_loader TRIPLET: the target's dynamic loader, from its multiarch libc6.
emu_loader() {
	case $1 in
	aarch64-linux-gnu) echo /lib/ld-linux-aarch64.so.1 ;;
	arm-linux-gnueabihf) echo /lib/ld-linux-armhf.so.3 ;;
	esac
}

# emu_word TRIPLET: the target's word size in bits.
emu_word() {
	case $1 in
	aarch64-*) echo 64 ;;
	*) echo 32 ;;
	esac
}
