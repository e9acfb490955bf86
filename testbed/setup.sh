#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# testbed/setup.sh - `make setup`: install what vballoon needs (Debian/apt)
# and prepare the kernel trees for out-of-tree modules.  Idempotent; takes a
# fraction of a second once done.  Writes $VB_CACHE/env.sh, which
# guest/guest.mk and the launchers source:
#   VB_UML_KDIR VB_UML_KVER VB_UML_BIN VB_UML_MODDIR
#   VB_X86_KDIR VB_X86_KVER VB_X86_VMLINUZ
#   VB_X86_ALT_KDIR VB_X86_ALT_ROOT (a second, newer Debian kernel; may be empty)
set -euo pipefail

VB_CACHE=${VB_CACHE:-$HOME/.cache/vballoon}
UM_TREE=$VB_CACHE/linux-source-6.1
UM_STAMP=$VB_CACHE/um-tree.stamp
ENV_SH=$VB_CACHE/env.sh

say() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }

PACKAGES=(build-essential clang llvm lld libclang-rt-14-dev libcmocka-dev libjson-c-dev pkg-config
	user-mode-linux busybox-static qemu-system-x86 linux-image-amd64
	linux-headers-amd64 socat jq gnuplot-nox bc flex bison libelf-dev
	libssl-dev cpio kmod dkms valgrind python3 xz-utils)

SUDO=
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || die "not root and no sudo: cannot install packages"
	SUDO=sudo
fi
APT_ENV=()
[ "${CI:-}" = true ] && APT_ENV=(env DEBIAN_FRONTEND=noninteractive)
APT_UPDATED=0

# Packages of "$@" not installed, one dpkg-query for all of them.
missing() {
	local ok
	ok=$(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null |
		awk '$2 == "install" && $3 == "ok" && $4 == "installed" { print $1 }')
	printf '%s\n' "$@" | grep -vxF -f <(echo "$ok") || true
}

apt_install() {
	command -v apt-get >/dev/null || die "apt-get not found: install by hand: $*"
	if [ "$APT_UPDATED" = 0 ]; then
		say "apt-get update"
		$SUDO "${APT_ENV[@]}" apt-get update -q
		APT_UPDATED=1
	fi
	say "apt-get install $*"
	$SUDO "${APT_ENV[@]}" apt-get install -y -q "$@"
}

install_packages() {
	local need
	need=$(missing "${PACKAGES[@]}")
	if [ -n "$need" ]; then
		# shellcheck disable=SC2086
		apt_install $need
	else
		say "packages: all ${#PACKAGES[@]} installed"
	fi
}

# The UML kernel's version, from its modules directory.
uml_version() {
	ls /usr/lib/uml/modules 2>/dev/null | sort -V | tail -n 1
}

# Newest Debian x86-64 kernel image installed, as its ABI (6.1.0-56-amd64).
x86_kver() {
	ls /boot/vmlinuz-*-amd64 2>/dev/null | sed 's|/boot/vmlinuz-||' | sort -V | tail -n 1
}

# linux-source-6.1 at the UML version ("6.1.176" -> "6.1.176-1").  Prints the
# package version installed or installable, or nothing.
source_version() {
	local ver=$1 have cand
	have=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || true)
	if [[ $have == "$ver"-* ]]; then
		echo "$have"
		return
	fi
	cand=$(apt-cache madison linux-source-6.1 2>/dev/null |
		awk -F'|' '{ gsub(/ /, "", $2); print $2 }' | grep "^$ver-" | head -n 1 || true)
	echo "$cand"
}

prepare_um_tree() {
	local ver=$1 cfg=/usr/share/doc/user-mode-linux/config.gz tarball
	if [ -f "$UM_STAMP" ] && [ "$(cat "$UM_STAMP")" = "$ver" ] && [ -f "$UM_TREE/.config" ]; then
		say "UML module tree: ready ($UM_TREE, $ver)"
		return
	fi
	tarball=$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -n 1)
	[ -n "$tarball" ] || die "no /usr/src/linux-source-6.1.tar.* (linux-source-6.1 not installed?)"
	[ -r "$cfg" ] || die "$cfg missing (user-mode-linux not installed?)"
	say "UML module tree: unpacking $tarball into $VB_CACHE (about a minute)"
	rm -rf -- "$UM_TREE" "$UM_STAMP"
	tar -C "$VB_CACHE" -xf "$tarball"
	zcat "$cfg" >"$UM_TREE/.config"
	say "UML module tree: make ARCH=um olddefconfig modules_prepare"
	make -C "$UM_TREE" ARCH=um olddefconfig modules_prepare >"$VB_CACHE/prep.log" 2>&1 ||
		{ tail -n 20 "$VB_CACHE/prep.log" >&2; die "modules_prepare failed (log: $VB_CACHE/prep.log)"; }
	echo "$ver" >"$UM_STAMP"
}

# Fallback when the archive has no linux-source at the UML version: build the
# UML kernel (and the in-tree balloon module) ourselves from the source we
# have, with Debian's UML config, and use that kernel everywhere.
build_own_uml() {
	local tree=$VB_CACHE/uml-build src_ver stamp=$VB_CACHE/uml-build.stamp tarball kver
	tarball=$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -n 1)
	[ -n "$tarball" ] || die "no linux-source-6.1 to build a UML kernel from"
	src_ver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
	if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$src_ver" ]; then
		say "NOTE: the archive has no linux-source-6.1 matching the installed UML"
		say "      kernel; building our own linux.uml from linux-source $src_ver"
		say "      with Debian's UML config (10-30 minutes on 2 cores)"
		rm -rf -- "$tree" "$stamp"
		mkdir -p "$tree"
		tar -C "$tree" --strip-components=1 -xf "$tarball"
		zcat /usr/share/doc/user-mode-linux/config.gz >"$tree/.config"
		make -C "$tree" ARCH=um olddefconfig >/dev/null
		make -C "$tree" ARCH=um -j2 linux modules_prepare >"$VB_CACHE/uml-build.log" 2>&1 ||
			die "UML kernel build failed (log: $VB_CACHE/uml-build.log)"
		make -C "$tree" ARCH=um M=drivers/virtio modules >>"$VB_CACHE/uml-build.log" 2>&1 ||
			die "virtio modules build failed (log: $VB_CACHE/uml-build.log)"
		echo "$src_ver" >"$stamp"
	fi
	kver=$(cat "$tree/include/config/kernel.release")
	mkdir -p "$VB_CACHE/uml-modules/$kver/kernel/drivers/virtio"
	cp "$tree/drivers/virtio/virtio_balloon.ko" "$VB_CACHE/uml-modules/$kver/kernel/drivers/virtio/"
	UML_KDIR=$tree UML_KVER=$kver UML_BIN=$tree/linux UML_MODDIR=$VB_CACHE/uml-modules/$kver
	say "using our own UML kernel $UML_BIN ($kver)"
}

setup_uml() {
	local ver srcver
	ver=$(uml_version)
	[ -n "$ver" ] || die "no /usr/lib/uml/modules/<version> (user-mode-linux not installed?)"
	srcver=$(source_version "$ver")
	# VB_FORCE_OWN_UML=1 exercises the fallback on a machine that does not need it.
	[ "${VB_FORCE_OWN_UML:-0}" = 1 ] && srcver= APT_UPDATED=1
	if [ -z "$srcver" ] && [ "$APT_UPDATED" = 0 ]; then
		# Fresh machines may have empty package lists.
		say "apt-get update (looking for linux-source-6.1 $ver)"
		$SUDO "${APT_ENV[@]}" apt-get update -q
		APT_UPDATED=1
		srcver=$(source_version "$ver")
	fi
	UML_KVER=$ver UML_BIN=$(command -v linux.uml) UML_MODDIR=/usr/lib/uml/modules/$ver
	UML_KDIR=$UM_TREE
	if [ -z "$srcver" ]; then
		[ -n "$(missing linux-source-6.1)" ] && apt_install linux-source-6.1
		build_own_uml
		return
	fi
	if [ "$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || true)" != "$srcver" ]; then
		# May be older than the archive's newest: allow the downgrade.
		apt_install --allow-downgrades "linux-source-6.1=$srcver"
	fi
	prepare_um_tree "$ver"
}

setup_x86() {
	local abi
	X86_KVER=$(x86_kver)
	[ -n "$X86_KVER" ] || die "no /boot/vmlinuz-*-amd64 (linux-image-amd64 not installed?)"
	X86_KDIR=/usr/src/linux-headers-$X86_KVER
	if [ ! -d "$X86_KDIR" ]; then
		apt_install "linux-headers-$X86_KVER"
	fi
	[ -f "/lib/modules/$X86_KVER/modules.dep" ] || die "/lib/modules/$X86_KVER/modules.dep missing"
	X86_VMLINUZ=/boot/vmlinuz-$X86_KVER
	abi=${X86_KVER%-amd64}
	say "x86-64 kernel: $X86_VMLINUZ, headers $X86_KDIR (ABI $abi)"
}

# The second kernel: the newest 6.12 of Debian 12's archive (its security
# line, 6.12.N+deb12, or bookworm-backports, 6.12.N+bpo), for test 206: the one module source must build and
# run there too, through vballoon_compat.h.  Nothing is installed: the
# image, headers and kbuild packages are unpacked into the cache (the
# headers package would pull the image into /boot and make it the
# machine's default kernel), with the one absolute path of the headers'
# Makefile pointed into the cache.  Not fatal: without it test 206 skips
# and says why.  VB_NO_ALT_KERNEL=1 skips it.
alt_kver() {
	local names
	names=$(apt-cache pkgnames linux-headers-6.12 2>/dev/null)
	apt-cache pkgnames linux-image-6.12 2>/dev/null |
		sed -n 's/^linux-image-\(6\.12\.[0-9]*+\(deb12\|bpo\)\)-amd64$/\1/p' |
		sort -V -r | while read -r v; do
			grep -qxF "linux-headers-$v-common" <<<"$names" && { echo "$v"; break; }
		done
}

# unpack_alt BASE DIR: the packages of kernel BASE (6.12.117+deb12) into DIR.
unpack_alt() {
	local base=$1 dir=$2 tmp f
	tmp=$(mktemp -d "$VB_CACHE/alt-dl.XXXXXX") || return 1
	chmod 777 "$tmp"	# apt's _apt user downloads into it
	(cd "$tmp" && apt-get download -q "linux-image-$base-amd64" \
		"linux-headers-$base-amd64" "linux-headers-$base-common" \
		"linux-kbuild-$base" >/dev/null 2>&1) || { rm -rf "$tmp"; return 1; }
	rm -rf "$dir" && mkdir -p "$dir" || { rm -rf "$tmp"; return 1; }
	for f in "$tmp"/*.deb; do
		dpkg-deb -x "$f" "$dir" || { rm -rf "$tmp"; return 1; }
	done
	rm -rf "$tmp"
	sed -i "s|/usr/src/|$dir/usr/src/|" "$dir/usr/src/linux-headers-$base-amd64/Makefile" &&
		depmod -b "$dir" "$base-amd64"
}

setup_alt_x86() {
	local base dir
	ALT_ROOT= ALT_KDIR=
	[ "${VB_NO_ALT_KERNEL:-}" = 1 ] && { say "second kernel: skipped (VB_NO_ALT_KERNEL=1)"; return 0; }
	# Quick path: unpacked before.
	for dir in "$VB_CACHE"/alt-kernel/*/; do
		base=$(basename "$dir")
		if [ -f "$dir/.ok" ]; then
			ALT_ROOT=${dir%/} ALT_KDIR=$ALT_ROOT/usr/src/linux-headers-$base-amd64
			return 0
		fi
	done
	command -v apt-get >/dev/null || { say "second kernel: no apt; test 206 will skip"; return 0; }
	base=$(alt_kver)
	if [ -z "$base" ] && [ "$APT_UPDATED" = 0 ]; then
		$SUDO "${APT_ENV[@]}" apt-get update -q >/dev/null && APT_UPDATED=1
		base=$(alt_kver)
	fi
	[ -n "$base" ] || { say "second kernel: no linux-image-6.12.*-amd64 in the archive; test 206 will skip"; return 0; }
	dir=$VB_CACHE/alt-kernel/$base
	if unpack_alt "$base" "$dir"; then
		: >"$dir/.ok"
		ALT_ROOT=$dir ALT_KDIR=$dir/usr/src/linux-headers-$base-amd64
		say "second kernel: $base-amd64 unpacked in $dir"
	else
		rm -rf "$dir"
		say "second kernel: cannot fetch linux-image-$base-amd64; test 206 will skip"
	fi
}

write_env() {
	local tmp=$ENV_SH.tmp
	cat >"$tmp" <<EOF
# Written by testbed/setup.sh; sourced by guest/guest.mk and the launchers.
VB_UML_KDIR=$UML_KDIR
VB_UML_KVER=$UML_KVER
VB_UML_BIN=$UML_BIN
VB_UML_MODDIR=$UML_MODDIR
VB_X86_KDIR=$X86_KDIR
VB_X86_KVER=$X86_KVER
VB_X86_VMLINUZ=$X86_VMLINUZ
VB_X86_ALT_KDIR=$ALT_KDIR
VB_X86_ALT_ROOT=$ALT_ROOT
EOF
	if cmp -s "$tmp" "$ENV_SH"; then
		rm -f "$tmp"
	else
		mv "$tmp" "$ENV_SH"
		say "wrote $ENV_SH"
	fi
}

main() {
	mkdir -p "$VB_CACHE"
	# One setup at a time (make check and a parallel make demo, say).
	exec 9>"$VB_CACHE/setup.lock"
	flock 9
	install_packages
	setup_uml
	setup_x86
	setup_alt_x86
	write_env
	say "UML: $UML_BIN ($UML_KVER), module tree $UML_KDIR"
	say "done"
}

main "$@"
