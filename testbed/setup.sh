#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# testbed/setup.sh - `make setup`: install what vballoon needs (Debian 12,
# apt) and put the guest kernels and the newer QEMU into the cache, at the
# versions testbed/versions names.  Idempotent; under 2 s once done.
# Nothing here changes the host's boot configuration: guest kernels are
# unpacked into $VB_CACHE, never installed.  Writes $VB_CACHE/env.sh (make
# and shell syntax), which guest/guest.mk, the launchers and the tests read:
#   VB_UML_KDIR VB_UML_KVER VB_UML_BIN VB_UML_MODDIR
#   VB_X86_ROOT VB_X86_KDIR VB_X86_KVER VB_X86_VMLINUZ
#   VB_X86_ALT_ROOT VB_X86_ALT_KDIR   (second kernel; empty without it)
#   VB_QEMU VB_QEMU_NEW               (QEMU 7.2; the newer QEMU's launcher)
#   VB_QEMU_QMP_PYTHONPATH            (QEMU's Python QMP library)
#   VB_VER_*                          (every version used)
set -euo pipefail

HERE=$(dirname "$(readlink -f "$0")")
. "$HERE/versions"
VB_CACHE=${VB_CACHE:-$HOME/.cache/vballoon}
UM_TREE=$VB_CACHE/linux-source-6.1
UM_STAMP=$VB_CACHE/um-tree.stamp
ENV_SH=$VB_CACHE/env.sh

say() { echo "setup: $*"; }
# Loud, and on stderr: it may be said inside a $(...).
note() { echo "setup: NOTE: $*" >&2; }
die() { echo "setup: error: $*" >&2; exit 1; }

# Installed unversioned; versions pinned in testbed/versions come below.
PACKAGES=(build-essential clang llvm lld libclang-rt-14-dev libcmocka-dev libjson-c-dev pkg-config
	busybox-static socat jq gnuplot-nox bc flex bison libelf-dev dwarves
	libssl-dev cpio kmod dkms valgrind python3 xz-utils zstd procps iproute2)

SUDO=
need_root() {
	[ "$(id -u)" = 0 ] && return 0
	command -v sudo >/dev/null ||
		die "not root and no sudo: run make setup as root to install: $*"
	SUDO=sudo
}
APT_ENV=()
[ "${CI:-}" = true ] && APT_ENV=(env DEBIAN_FRONTEND=noninteractive)
APT_UPDATED=0

apt_update() {
	[ "$APT_UPDATED" = 1 ] && return 0
	command -v apt-get >/dev/null || die "apt-get not found: this setup needs Debian 12"
	need_root "package lists"
	say "apt-get update"
	$SUDO "${APT_ENV[@]}" apt-get update -q >/dev/null 2>&1 ||
		die "apt-get update failed: the Debian archive cannot be reached (network, proxy or /etc/apt); nothing was installed"
	APT_UPDATED=1
}

# apt's own output goes to $VB_CACHE/apt.log; one summary line here.
apt_install() {
	local log=$VB_CACHE/apt.log
	need_root "$*"
	apt_update
	say "apt-get install $*"
	if ! $SUDO "${APT_ENV[@]}" apt-get install -y -q --no-install-recommends "$@" >"$log" 2>&1; then
		tail -n 15 "$log" >&2
		die "apt-get install failed (log: $log); run make setup again once it is fixed"
	fi
	sed -n 's/^\([0-9]* upgraded, [0-9]* newly installed\).*/setup: \1/p; s/^Need to get \(.*\) of archives.*/setup: downloaded \1/p' "$log"
}

# Packages of "$@" not installed, one dpkg-query for all of them.
missing() {
	local ok
	ok=$(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null |
		awk '$2 == "install" && $3 == "ok" && $4 == "installed" { print $1 }')
	printf '%s\n' "$@" | grep -vxF -f <(echo "$ok") || true
}

installed_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }

# nearest PKG PIN [apt-cache options...]: PIN when the archive has it, else
# the lowest version above PIN (loudly), else nothing.
nearest() {
	local pkg=$1 pin=$2 v
	shift 2
	v=$(apt-cache "$@" madison "$pkg" 2>/dev/null | awk -F'|' '{ gsub(/ /, "", $2); print $2 }' |
		while read -r c; do
			if [ "$c" = "$pin" ]; then echo "$c"; break; fi
			dpkg --compare-versions "$c" gt "$pin" && echo "$c"
		done | sort -V | head -n 1)
	[ "$v" = "$pin" ] || [ -z "$v" ] || note "$pkg $pin is no longer in the archive; using $v"
	echo "$v"
}

# host_pkg PKG PIN: a host package at its pinned version.  One already
# installed is the system's own and is kept, whatever its version.
host_pkg() {
	local pkg=$1 pin=$2 have v
	have=$(installed_version "$pkg")
	if [ -n "$have" ] && [ -n "$(missing "$pkg")" ]; then have=; fi
	if [ -n "$have" ]; then
		[ "$have" = "$pin" ] || note "$pkg is $have here, not the pinned $pin; using it"
		return
	fi
	apt_update
	v=$(nearest "$pkg" "$pin")
	[ -n "$v" ] || die "$pkg: neither $pin nor a newer version is in the archive"
	apt_install "$pkg=$v"
}

install_packages() {
	local need
	need=$(missing "${PACKAGES[@]}")
	if [ -n "$need" ]; then
		# shellcheck disable=SC2086
		apt_install $need
	fi
	host_pkg user-mode-linux "$VB_PIN_UML"
	host_pkg qemu-system-x86 "$VB_PIN_QEMU"
	VER_UML=$(installed_version user-mode-linux)
	VER_QEMU=$(installed_version qemu-system-x86)
	QEMU_BIN=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 missing after install"
}

# ---- UML ----

uml_version() {
	ls /usr/lib/uml/modules 2>/dev/null | sort -V | tail -n 1
}

# linux-source-6.1 at the UML kernel version (VER): the pinned one
# when it matches, else whatever "VER-N" the archive has.
source_version() {
	local ver=$1 have cand
	have=$(installed_version linux-source-6.1)
	if [[ $have == "$ver"-* ]]; then
		echo "$have"
		return
	fi
	cand=$(apt-cache madison linux-source-6.1 2>/dev/null |
		awk -F'|' '{ gsub(/ /, "", $2); print $2 }' | grep "^$ver-" || true)
	if grep -qxF "$VB_PIN_UML_SOURCE" <<<"$cand"; then
		echo "$VB_PIN_UML_SOURCE"
	else
		head -n 1 <<<"$cand"
	fi
}

prepare_um_tree() {
	local ver=$1 cfg=/usr/share/doc/user-mode-linux/config.gz tarball
	if [ -f "$UM_STAMP" ] && [ "$(cat "$UM_STAMP")" = "$ver" ] && [ -f "$UM_TREE/.config" ]; then
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
	src_ver=$(installed_version linux-source-6.1)
	if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$src_ver" ]; then
		note "the archive has no linux-source-6.1 matching the installed UML kernel;"
		say "      building our own linux.uml from linux-source $src_ver"
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
	VER_UML_SOURCE="$src_ver (own linux.uml)"
	say "using our own UML kernel $UML_BIN ($kver)"
}

setup_uml() {
	local ver srcver
	ver=$(uml_version)
	[ -n "$ver" ] || die "no /usr/lib/uml/modules/<version> (user-mode-linux not installed?)"
	UML_KVER=$ver UML_BIN=$(command -v linux.uml) UML_MODDIR=/usr/lib/uml/modules/$ver
	UML_KDIR=$UM_TREE
	# Quick path: the tree is prepared for this kernel.
	if [ -f "$UM_STAMP" ] && [ "$(cat "$UM_STAMP")" = "$ver" ] && [ -f "$UM_TREE/.config" ] &&
		[ "${VB_FORCE_OWN_UML:-0}" != 1 ]; then
		VER_UML_SOURCE=$(installed_version linux-source-6.1)
		return
	fi
	apt_update
	srcver=$(source_version "$ver")
	# VB_FORCE_OWN_UML=1 exercises the fallback on a machine that does not need it.
	[ "${VB_FORCE_OWN_UML:-0}" = 1 ] && srcver=
	if [ -z "$srcver" ]; then
		[ -n "$(missing linux-source-6.1)" ] && apt_install linux-source-6.1
		build_own_uml
		return
	fi
	[ "$srcver" = "$VB_PIN_UML_SOURCE" ] ||
		note "linux-source-6.1 $VB_PIN_UML_SOURCE does not match UML $ver here; using $srcver"
	if [ "$(installed_version linux-source-6.1)" != "$srcver" ]; then
		# May be older than the archive's newest: allow the downgrade.
		apt_install --allow-downgrades "linux-source-6.1=$srcver"
	fi
	VER_UML_SOURCE=$srcver
	prepare_um_tree "$ver"
}

# ---- cache entries: unpacked into a temporary directory, renamed into
# place and marked with .ok last, so an interrupted setup leaves nothing the
# next run trusts ----

# fresh_dir DIR: DIR.part, empty (a leftover of an interrupted run goes).
fresh_dir() {
	rm -rf -- "$1.part"
	mkdir -p "$1.part"
}

# commit_dir DIR: DIR.part becomes DIR, marked complete.
commit_dir() {
	rm -rf -- "$1"
	mv -- "$1.part" "$1"
	: >"$1/.ok"
}

# A choice made once (which version of a pinned thing) is kept in
# $VB_CACHE/chosen/NAME as "PIN CHOICE", so the quick path needs no apt.
chosen() {
	local f=$VB_CACHE/chosen/$1 pin=$2
	[ -f "$f" ] && read -r p c <"$f" && [ "$p" = "$pin" ] && echo "$c"
	return 0
}
choose() {
	mkdir -p "$VB_CACHE/chosen"
	echo "$2 $3" >"$VB_CACHE/chosen/$1.tmp" && mv "$VB_CACHE/chosen/$1.tmp" "$VB_CACHE/chosen/$1"
}

# download_debs DIR PKG=VER...: the packages (no dependencies) into DIR.
download_debs() {
	local dir=$1
	shift
	chmod 777 "$dir"	# apt's _apt user downloads into it
	(cd "$dir" && apt-get download -q "$@" >/dev/null 2>"$dir/.err") ||
		{ cat "$dir/.err" >&2; return 1; }
}

# unpack_debs DIR: every .deb in DIR.dl into DIR.part.
unpack_debs() {
	local f
	for f in "$1".dl/*.deb; do
		dpkg-deb -x "$f" "$1.part" || return 1
	done
	rm -rf -- "$1.dl"
}

# ---- x86-64 guest kernels (image, headers, kbuild), unpacked ----

# kernel_abis GLOB: ABIs of linux-image-GLOB-amd64 in the archive, oldest first.
kernel_abis() {
	apt-cache pkgnames linux-image- 2>/dev/null |
		sed -n "s/^linux-image-\($1\)-amd64\$/\1/p" | sort -V
}

# pick_kernel NAME ABI VERSION GLOB: "ABI VERSION" to use: the pinned
# ones, else the nearest newer ABI of the same line (loudly).
pick_kernel() {
	local name=$1 abi=$2 ver=$3 glob=$4 a v
	if apt-cache madison "linux-image-$abi-amd64" 2>/dev/null |
		awk -F'|' -v v="$ver" '{ gsub(/ /, "", $2) } $2 == v { f = 1 } END { exit !f }'; then
		echo "$abi $ver"
		return
	fi
	for a in $(kernel_abis "$glob"); do
		[ "$(printf '%s\n%s\n' "$abi" "$a" | sort -V | head -n 1)" = "$abi" ] || continue
		v=$(apt-cache madison "linux-image-$a-amd64" 2>/dev/null |
			awk -F'|' '{ gsub(/ /, "", $2); print $2; exit }')
		[ -n "$v" ] || continue
		note "$name kernel $abi ($ver) is no longer in the archive; using $a ($v)"
		echo "$a $v"
		return
	done
}

# unpack_kernel DIR ABI VERSION: image, headers and kbuild into DIR.
unpack_kernel() {
	local dir=$1 abi=$2 ver=$3 kbuild
	kbuild=$(apt-cache show "linux-headers-$abi-amd64=$ver" 2>/dev/null |
		sed -n 's/^Depends: .*\(linux-kbuild-[^ ,]*\).*/\1/p' | head -n 1)
	[ -n "$kbuild" ] || { echo "no linux-kbuild dependency for linux-headers-$abi-amd64 $ver" >&2; return 1; }
	fresh_dir "$dir"
	rm -rf -- "$dir.dl" && mkdir -p "$dir.dl"
	download_debs "$dir.dl" "linux-image-$abi-amd64=$ver" "linux-headers-$abi-amd64=$ver" \
		"linux-headers-$abi-common=$ver" "$kbuild=$ver" || return 1
	unpack_debs "$dir" || return 1
	# The headers' Makefile includes the common tree by absolute path.
	sed -i "s|/usr/src/|$dir/usr/src/|" "$dir.part/usr/src/linux-headers-$abi-amd64/Makefile" &&
		depmod -b "$dir.part" "$abi-amd64" && commit_dir "$dir"
}

# setup_kernel NAME PIN_ABI PIN_VERSION GLOB: sets K_ROOT K_ABI K_VER, or
# returns 1 (unavailable).
setup_kernel() {
	local name=$1 abi=$2 ver=$3 glob=$4 c dir
	c=$(chosen "$name" "$abi/$ver")
	if [ -n "$c" ] && [ -f "$VB_CACHE/kernels/${c%/*}/.ok" ]; then
		K_ABI=${c%/*} K_VER=${c#*/} K_ROOT=$VB_CACHE/kernels/${c%/*}
		return 0
	fi
	apt_update
	c=$(pick_kernel "$name" "$abi" "$ver" "$glob")
	[ -n "$c" ] || return 1
	K_ABI=${c% *} K_VER=${c#* } K_ROOT=$VB_CACHE/kernels/${c% *}
	if [ ! -f "$K_ROOT/.ok" ]; then
		say "$name kernel: unpacking $K_ABI ($K_VER) into $K_ROOT"
		dir=$K_ROOT
		unpack_kernel "$dir" "$K_ABI" "$K_VER" ||
			{ rm -rf -- "$dir.part" "$dir.dl"; return 1; }
	fi
	choose "$name" "$abi/$ver" "$K_ABI/$K_VER"
}

setup_x86() {
	setup_kernel x86 "$VB_PIN_X86_ABI" "$VB_PIN_X86_VERSION" '6\.1\.0-[0-9]*' ||
		die "cannot fetch the x86-64 guest kernel $VB_PIN_X86_ABI or newer (linux-image, headers, kbuild) from the archive"
	X86_ROOT=$K_ROOT X86_KVER=$K_ABI-amd64 VER_X86="$K_ABI $K_VER"
	X86_KDIR=$X86_ROOT/usr/src/linux-headers-$X86_KVER
	X86_VMLINUZ=$X86_ROOT/boot/vmlinuz-$X86_KVER
}

# The second kernel (6.12): not fatal; without it test 206 skips and says
# why.  VB_NO_ALT_KERNEL=1 skips it.
setup_alt_x86() {
	ALT_ROOT= ALT_KDIR= VER_X86_ALT=none
	[ "${VB_NO_ALT_KERNEL:-}" = 1 ] && { say "second kernel: skipped (VB_NO_ALT_KERNEL=1)"; return 0; }
	if setup_kernel x86-alt "$VB_PIN_X86_ALT_ABI" "$VB_PIN_X86_ALT_VERSION" '6\.12\.[0-9]*+deb12'; then
		ALT_ROOT=$K_ROOT ALT_KDIR=$K_ROOT/usr/src/linux-headers-$K_ABI-amd64
		VER_X86_ALT="$K_ABI $K_VER"
	else
		note "no 6.12 kernel could be fetched; test 206 will skip"
	fi
}

# ---- the newer QEMU: trixie-backports' build with its own libraries ----
# A private apt tree (lists, an empty dpkg status, the archive this machine
# already uses) resolves qemu-system-x86's dependency closure in the newer
# suite without touching /etc/apt or the system's packages; the closure is
# unpacked into the cache and run through its own dynamic loader.

NEW_APT=$VB_CACHE/apt-newer
new_apt() {
	apt-get -o Dir="$NEW_APT" -o Dir::State::status="$NEW_APT/status" \
		-o Debug::NoLocking=1 -o APT::Architecture=amd64 -o APT::Architectures::=amd64 \
		-o APT::Sandbox::User=root -q "$@"
}
new_cache() {
	apt-cache -o Dir="$NEW_APT" -o Dir::State::status="$NEW_APT/status" "$@"
}

new_apt_update() {
	local mirror suite=${VB_PIN_QEMU_NEW_SUITE%-backports}
	[ -f "$NEW_APT/.updated" ] && return 0
	mirror=$(apt-get indextargets --format '$(REPO_URI) $(CODENAME) $(LABEL)' 2>/dev/null |
		awk '$2 == "bookworm" && $3 == "Debian" { print $1; exit }')
	[ -n "$mirror" ] || { echo "no Debian bookworm archive in this machine's apt sources" >&2; return 1; }
	rm -rf -- "$NEW_APT"
	mkdir -p "$NEW_APT"/etc/apt/{apt.conf.d,preferences.d,sources.list.d} \
		"$NEW_APT"/var/lib/apt/lists/partial "$NEW_APT"/var/cache/apt/archives/partial
	: >"$NEW_APT/status"
	local keys=/usr/share/keyrings/debian-archive-keyring.gpg
	printf 'deb [signed-by=%s] %s %s main\n' "$keys" "$mirror" "$suite" \
		"$keys" "$mirror" "$VB_PIN_QEMU_NEW_SUITE" >"$NEW_APT/etc/apt/sources.list"
	say "newer QEMU: apt-get update for $suite and $VB_PIN_QEMU_NEW_SUITE (private lists in $NEW_APT)"
	new_apt update >/dev/null 2>&1 && : >"$NEW_APT/.updated"
}

# The launcher: the root's loader, libraries, modules and firmware.
write_qemu_launcher() {
	local root=$1 out=$2
	cat >"$out" <<EOF
#!/bin/sh
# Written by vballoon's testbed/setup.sh: QEMU $VER_QEMU_NEW from $VB_PIN_QEMU_NEW_SUITE,
# run with its own libraries from $root.
R=$root
QEMU_MODULE_DIR=\$R/usr/lib/x86_64-linux-gnu/qemu
export QEMU_MODULE_DIR
exec "\$R/usr/lib64/ld-linux-x86-64.so.2" --argv0 qemu-system-x86_64 \\
	--library-path "\$R/usr/lib/x86_64-linux-gnu/qemu:\$R/usr/lib/x86_64-linux-gnu" \\
	"\$R/usr/bin/qemu-system-x86_64" -L "\$R/usr/share/qemu" -L "\$R/usr/share/seabios" "\$@"
EOF
	chmod +x "$out"
}

setup_qemu_new() {
	local c dir v
	QEMU_NEW= VER_QEMU_NEW=none
	[ "${VB_NO_QEMU_NEW:-}" = 1 ] && { say "newer QEMU: skipped (VB_NO_QEMU_NEW=1)"; return 0; }
	c=$(chosen qemu-new "$VB_PIN_QEMU_NEW")
	if [ -z "$c" ] || [ ! -f "$VB_CACHE/qemu-new/${c//[:~]/_}/.ok" ]; then
		new_apt_update || { note "cannot reach $VB_PIN_QEMU_NEW_SUITE; QEMU 11 tests will skip"; return 0; }
		c=$(nearest qemu-system-x86 "$VB_PIN_QEMU_NEW" -o Dir="$NEW_APT" -o Dir::State::status="$NEW_APT/status")
		[ -n "$c" ] || { note "no qemu-system-x86 $VB_PIN_QEMU_NEW or newer in $VB_PIN_QEMU_NEW_SUITE; QEMU 11 tests will skip"; return 0; }
		dir=$VB_CACHE/qemu-new/${c//[:~]/_}
		say "newer QEMU: $c and its libraries into $dir"
		fresh_dir "$dir"
		rm -rf -- "$NEW_APT/var/cache/apt/archives/"*.deb
		if ! new_apt install -y --download-only --no-install-recommends \
			-t "$VB_PIN_QEMU_NEW_SUITE" "qemu-system-x86=$c" >"$dir.part/.log" 2>&1; then
			tail -n 5 "$dir.part/.log" >&2
			rm -rf -- "$dir.part"
			note "cannot download QEMU $c; QEMU 11 tests will skip"
			return 0
		fi
		for f in "$NEW_APT/var/cache/apt/archives/"*.deb; do dpkg-deb -x "$f" "$dir.part"; done
		rm -f -- "$NEW_APT/var/cache/apt/archives/"*.deb
		VER_QEMU_NEW=$c
		write_qemu_launcher "$dir" "$dir.part/qemu-system-x86_64"
		commit_dir "$dir"
		choose qemu-new "$VB_PIN_QEMU_NEW" "$c"
	fi
	VER_QEMU_NEW=$c
	QEMU_NEW=$VB_CACHE/qemu-new/${c//[:~]/_}/qemu-system-x86_64
	v=$("$QEMU_NEW" --version 2>&1 | head -n 1) ||
		{ note "$QEMU_NEW does not run ($v); QEMU 11 tests will skip"; QEMU_NEW=; }
}

setup_qemu_qmp() {
	local c dir
	QMP_PYTHONPATH= VER_QEMU_QMP=none
	c=$(chosen qemu-qmp "$VB_PIN_QEMU_QMP")
	if [ -z "$c" ] || [ ! -f "$VB_CACHE/qemu-qmp/${c//[:~]/_}/.ok" ]; then
		new_apt_update || { note "cannot reach $VB_PIN_QEMU_NEW_SUITE; qemu.qmp tests will skip"; return 0; }
		c=$(nearest python3-qemu-qmp "$VB_PIN_QEMU_QMP" -o Dir="$NEW_APT" -o Dir::State::status="$NEW_APT/status")
		[ -n "$c" ] || { note "no python3-qemu-qmp in $VB_PIN_QEMU_NEW_SUITE; qemu.qmp tests will skip"; return 0; }
		dir=$VB_CACHE/qemu-qmp/${c//[:~]/_}
		fresh_dir "$dir"
		rm -rf -- "$dir.dl" && mkdir -p "$dir.dl"
		(cd "$dir.dl" && new_apt download "python3-qemu-qmp=$c" >/dev/null 2>&1) && unpack_debs "$dir" ||
			{ rm -rf -- "$dir.part" "$dir.dl"; note "cannot fetch python3-qemu-qmp; its tests will skip"; return 0; }
		commit_dir "$dir"
		choose qemu-qmp "$VB_PIN_QEMU_QMP" "$c"
	fi
	VER_QEMU_QMP=$c
	QMP_PYTHONPATH=$VB_CACHE/qemu-qmp/${c//[:~]/_}/usr/lib/python3/dist-packages
	PYTHONPATH=$QMP_PYTHONPATH python3 -c 'import qemu.qmp' 2>/dev/null ||
		{ note "qemu.qmp does not import with this python3; its tests will skip"; QMP_PYTHONPATH=; }
}

write_env() {
	local tmp=$ENV_SH.tmp
	cat >"$tmp" <<EOF
# Written by testbed/setup.sh; read by guest/guest.mk, the launchers and tests.
VB_UML_KDIR=$UML_KDIR
VB_UML_KVER=$UML_KVER
VB_UML_BIN=$UML_BIN
VB_UML_MODDIR=$UML_MODDIR
VB_X86_ROOT=$X86_ROOT
VB_X86_KDIR=$X86_KDIR
VB_X86_KVER=$X86_KVER
VB_X86_VMLINUZ=$X86_VMLINUZ
VB_X86_ALT_ROOT=$ALT_ROOT
VB_X86_ALT_KDIR=$ALT_KDIR
VB_QEMU=$QEMU_BIN
VB_QEMU_NEW=$QEMU_NEW
VB_QEMU_QMP_PYTHONPATH=$QMP_PYTHONPATH
VB_VER_UML=$VER_UML
VB_VER_UML_SOURCE=${VER_UML_SOURCE// /_}
VB_VER_X86=${VER_X86// /_}
VB_VER_X86_ALT=${VER_X86_ALT// /_}
VB_VER_QEMU=$VER_QEMU
VB_VER_QEMU_NEW=$VER_QEMU_NEW
VB_VER_QEMU_QMP=$VER_QEMU_QMP
EOF
	if cmp -s "$tmp" "$ENV_SH"; then
		rm -f "$tmp"
	else
		mv "$tmp" "$ENV_SH"
		say "wrote $ENV_SH"
	fi
}

main() {
	mkdir -p "$VB_CACHE" 2>/dev/null && [ -w "$VB_CACHE" ] ||
		die "cache directory $VB_CACHE cannot be written (set VB_CACHE to a writable directory)"
	# One setup at a time (make check and a parallel make demo, say).
	exec 9>"$VB_CACHE/setup.lock"
	flock 9
	install_packages
	setup_uml
	setup_x86
	setup_alt_x86
	setup_qemu_new
	setup_qemu_qmp
	write_env
	say "UML $UML_KVER (user-mode-linux $VER_UML, linux-source $VER_UML_SOURCE)"
	say "x86-64 guest kernels: $VER_X86; second: $VER_X86_ALT"
	say "QEMU $VER_QEMU; newer QEMU $VER_QEMU_NEW; qemu.qmp $VER_QEMU_QMP"
	say "done"
}

main "$@"
