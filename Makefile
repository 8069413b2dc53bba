# SPDX-License-Identifier: MIT
#
# mpin: top-level orchestration.  The module itself is built by Kbuild
# (see ./Kbuild); this file drives the module, the library, the tests,
# the VM and the installation.
#
#   make            module + library
#   make demo       build, boot a Debian kernel in QEMU, show pinning at work
#   make check      build, boot, run the functional tests in the VM, and
#                   the DKMS/package test on the stock and PREEMPT_RT kernels
#                   (KERNEL=<name> of tests/kernels/matrix to choose)
#   make check-kernels  every Debian kernel from 5.10 to 7.3: W=1 build,
#                   DKMS in a root of its suite, the suite in the VM
#   make check-debug the suite, a long fuzz run and fault injection on a
#                   debug kernel (KASAN, lockdep, kmemleak) built once from
#                   linux-source-7.3 in a trixie root (DEBUG_KVER=6.1 for
#                   6.1's, in a bookworm root)
#   Nothing of these installs a kernel, DKMS or mpin on this machine: the
#   kernels are downloaded and unpacked, and what needs their headers runs
#   in Debian roots of their suites under ~/.cache/mpin/roots.
#   make deb        Debian packages in build/deb
#   make lint       checkpatch.pl --strict and sparse on the module
#   make bench      benchmark against mlock, io_uring, RDMA registration (VM)

VERSION := $(shell cat VERSION)
# make, make install and make dkms-install build for this machine's
# kernel (or KVER=...), against its installed headers.
KVER ?= $(shell tests/vm/kver.sh --headers 2>/dev/null)
KDIR ?= /lib/modules/$(KVER)/build

# The kernel make check, make demo and make bench boot: a name from
# tests/kernels/matrix (default: this machine's Debian release's generic
# kernel).  tests/kernels/testkernel.sh downloads and unpacks it and
# builds mpin.ko for it in a root of its suite; build/testkernel.env
# says where they are, for the recipes' shell (WITH_TESTKERNEL).
# KVER=<release> on the command line (make bench KVER=7.3.4+deb13-amd64)
# names the same kernel by its release.
KERNEL ?=
TESTKERNEL = $(or $(KERNEL),$(if $(filter command line,$(origin KVER)),$(KVER)))
TESTKERNEL_ENV = $(CURDIR)/build/testkernel.env
WITH_TESTKERNEL = . $(TESTKERNEL_ENV) && export MPIN_VM_KERNEL="$$image" MPIN_VM_MODROOT="$$modroot" &&

PREFIX ?= /usr/local
DESTDIR ?=

CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/mpin

# The test targets build everything with -Werror (inherited by the
# prerequisites they build); make, make install and the packages do not,
# so that a newer compiler's new warning cannot break a user's build.
check check-kernels check-debug bench lint: export WERROR = -Werror

all: module lib

deps-build:
	@scripts/deps.sh build
deps-vm:
	@scripts/deps.sh build vm roots
deps-lint:
	@scripts/deps.sh build roots
deps-debug:
	@scripts/deps.sh build vm roots
# make check-kernels: debootstrap for the roots, QEMU, the packaging tools.
deps-kernels:
	@scripts/deps.sh build vm roots deb
# make check: also the packaging tools (the package test) and the peers
# t_bench_smoke measures.
deps-check:
	@scripts/deps.sh build vm roots deb bench

# Plain make installs nothing: it needs a C compiler, make and the
# kernel's headers (make deps-build installs them on Debian).
module:
	@test -n "$(KVER)" || { echo "no kernel headers for this machine's kernel: apt-get install linux-headers-$$(uname -r), or set KVER" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 modules

testkernel: deps-vm
	@mkdir -p build
	tests/kernels/testkernel.sh $(TESTKERNEL) >$(TESTKERNEL_ENV).$$PPID
	@mv $(TESTKERNEL_ENV).$$PPID $(TESTKERNEL_ENV)
	@sed 's/^/testkernel: /' $(TESTKERNEL_ENV)

lib:
	$(MAKE) -C lib

tests: lib
	$(MAKE) -C tests

examples: lib
	$(MAKE) -C examples

# The VM boots the stock kernel the module was built for, with this
# machine's root file system mounted read-only inside it.
VM = tests/vm/run-vm.sh --kver $(KVER)

check: deps-check testkernel lib tests examples
	tests/check.sh $(TESTKERNEL_ENV)

# Every Debian kernel line from 5.10 to 7.3, generic and PREEMPT_RT
# (tests/kernels/matrix): build with W=1 and install with DKMS inside a
# debootstrap root of its suite, boot it, run the suite; the table goes
# to build/kernels.md.  Nothing is installed on this machine.
# KERNELS=5.10,7.3 for some; KERNEL_STAGES=build,dkms to not boot.
KERNELS ?=
KERNEL_STAGES ?= build,dkms,suite
check-kernels: deps-kernels lib tests examples
	tests/kernels/check-kernels.sh --stages $(KERNEL_STAGES) $(if $(KERNELS),--only $(KERNELS))

# The suite on the debug kernel, then the long fuzz run (FUZZ_OPS
# operations) and a kmemleak scan; tests/debug-kernel/README.md.  The
# kernel is built, and mpin.ko for it, in a root of its line's suite:
# DEBUG_KVER=7.3 (trixie-backports' linux-source-7.3, gcc-14) or 6.1
# (bookworm's linux-source-6.1, gcc-12).
FUZZ_OPS ?= 1000000
DEBUG_KVER ?= 7.3
check-debug: deps-debug lib tests examples
	tests/debug-kernel/check-debug.sh --line $(DEBUG_KVER) --fuzz-ops $(FUZZ_OPS)

# The demo: mlock vs mpin under move_pages(2), then the realtime demo
# (no locking, mlockall, mpinall) drawn into build/demo/rtdemo.png.
# DEMO_ARGS passes options to examples/rtdemo.
demo: deps-vm testkernel lib examples
	@scripts/deps.sh plot
	$(WITH_TESTKERNEL) examples/run-demo.sh --kver "$$kver" --module "$$module" --out $(CURDIR)/build/demo \
		$(if $(DEMO_ARGS),-- $(DEMO_ARGS))

# The benchmark against mlock, io_uring fixed buffers and ibv_reg_mr on
# soft-RoCE (README.md, "Performance"): one VM run; results, CSV and plot
# in build/bench/.  BENCH_ARGS passes options to tests/bench/mpin-bench.
bench: deps-vm testkernel lib
	@scripts/deps.sh bench
	$(MAKE) -C tests/bench
	$(WITH_TESTKERNEL) tests/bench/bench.sh --kver "$$kver" --module "$$module" --out $(CURDIR)/build/bench \
		$(if $(BENCH_ARGS),-- $(BENCH_ARGS))

# checkpatch.pl --strict, sparse and W=1, from a root of the bookworm
# suite (tests/kernels/lint.sh); check-kernels runs sparse and W=1 on
# every kernel of the matrix.
lint: deps-lint
	scripts/check-version.sh
	tests/kernels/lint.sh

# make install / make uninstall, with PREFIX (/usr/local) and DESTDIR.
# udev and systemd-modules-load read only their own directories, so the
# rule and the modules-load.d snippet go there whatever PREFIX is.
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
UDEVRULESDIR ?= /usr/lib/udev/rules.d
MODULESLOADDIR ?= /usr/lib/modules-load.d
# libmpin.so.1.<minor>.<patch>, as lib/Makefile names it.
LIBMPIN_SHARED = $(shell $(MAKE) -s --no-print-directory -C lib \
	--eval='print-shared: ; @echo $$(SHARED)' print-shared)
MAN3 = $(notdir $(wildcard man/*.3))
MAN4 = $(notdir $(wildcard man/*.4))
MAN8 = $(notdir $(wildcard man/*.8))

tools:
	$(MAKE) -C tools

# With DESTDIR, depmod is the target system's job (the package's postinst):
# Kbuild would otherwise write modules.dep* into DESTDIR whenever KDIR is a
# full kernel tree with a System.map.
install: all tools
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_DIR=updates \
		$(if $(DESTDIR),INSTALL_MOD_PATH=$(DESTDIR) DEPMOD=true) modules_install
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/mpin \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(SBINDIR) \
		$(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man4 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(UDEVRULESDIR) $(DESTDIR)$(MODULESLOADDIR)
	install -m 755 lib/$(LIBMPIN_SHARED) $(DESTDIR)$(LIBDIR)/
	ln -sf $(LIBMPIN_SHARED) $(DESTDIR)$(LIBDIR)/libmpin.so.1
	ln -sf libmpin.so.1 $(DESTDIR)$(LIBDIR)/libmpin.so
	install -m 644 lib/libmpin.a $(DESTDIR)$(LIBDIR)/
	install -m 644 lib/mpin.h $(DESTDIR)$(INCLUDEDIR)/mpin.h
	install -m 644 include-uapi/mpin/mpin-uapi.h $(DESTDIR)$(INCLUDEDIR)/mpin/mpin-uapi.h
	install -m 644 lib/mpin/version.h $(DESTDIR)$(INCLUDEDIR)/mpin/version.h
	sed -e 's|@prefix@|$(PREFIX)|' -e 's|@libdir@|$(LIBDIR)|' \
	    -e 's|@includedir@|$(INCLUDEDIR)|' -e 's|@version@|$(VERSION)|' \
	    lib/libmpin.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/libmpin.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/libmpin.pc
	install -m 755 tools/mpinstat $(DESTDIR)$(SBINDIR)/mpinstat
	install -m 644 $(addprefix man/,$(MAN3)) $(DESTDIR)$(MANDIR)/man3/
	install -m 644 $(addprefix man/,$(MAN4)) $(DESTDIR)$(MANDIR)/man4/
	install -m 644 $(addprefix man/,$(MAN8)) $(DESTDIR)$(MANDIR)/man8/
	install -m 644 data/udev/60-mpin.rules $(DESTDIR)$(UDEVRULESDIR)/60-mpin.rules
	install -m 644 data/modules-load.d/mpin.conf $(DESTDIR)$(MODULESLOADDIR)/mpin.conf
	-[ -z "$(DESTDIR)" ] && depmod -a $(KVER) && ldconfig
	-[ -z "$(DESTDIR)" ] && command -v udevadm >/dev/null && udevadm control --reload

# Removes exactly what install installed (directories stay).
uninstall:
	rm -f $(DESTDIR)/lib/modules/$(KVER)/updates/mpin.ko
	rm -f $(DESTDIR)$(LIBDIR)/$(LIBMPIN_SHARED) $(DESTDIR)$(LIBDIR)/libmpin.so.1 \
		$(DESTDIR)$(LIBDIR)/libmpin.so $(DESTDIR)$(LIBDIR)/libmpin.a \
		$(DESTDIR)$(INCLUDEDIR)/mpin.h $(DESTDIR)$(INCLUDEDIR)/mpin/mpin-uapi.h \
		$(DESTDIR)$(INCLUDEDIR)/mpin/version.h \
		$(DESTDIR)$(PKGCONFIGDIR)/libmpin.pc $(DESTDIR)$(SBINDIR)/mpinstat \
		$(addprefix $(DESTDIR)$(MANDIR)/man3/,$(MAN3)) \
		$(addprefix $(DESTDIR)$(MANDIR)/man4/,$(MAN4)) \
		$(addprefix $(DESTDIR)$(MANDIR)/man8/,$(MAN8)) \
		$(DESTDIR)$(UDEVRULESDIR)/60-mpin.rules $(DESTDIR)$(MODULESLOADDIR)/mpin.conf
	-[ -z "$(DESTDIR)" ] && depmod -a $(KVER) && ldconfig
	-[ -z "$(DESTDIR)" ] && command -v udevadm >/dev/null && udevadm control --reload

.PHONY: tools uninstall

# DKMS: the module sources go to /usr/src/mpin-$(VERSION), then
# dkms add/build/install for $(KVER).  dkms-uninstall removes every trace.
DKMS_SRC = $(DESTDIR)/usr/src/mpin-$(VERSION)
DKMS_FILES = Kbuild VERSION dkms.conf LICENSE LICENSES module include-uapi

dkms-install:
	@scripts/deps.sh build dkms
	rm -rf $(DKMS_SRC) && mkdir -p $(DKMS_SRC)
	cp -r $(DKMS_FILES) $(DKMS_SRC)/
	dkms add mpin/$(VERSION)
	dkms install mpin/$(VERSION) -k $(KVER)

dkms-uninstall:
	-dkms remove mpin/$(VERSION) --all
	rm -rf $(DKMS_SRC)

# Debian packages mpin-dkms, libmpin1, libmpin-dev, mpin-tools (debian/),
# built from a copy of the tree into build/deb and checked with lintian.
deb:
	@scripts/deps.sh build deb
	scripts/deb.sh $(CURDIR)/build/deb

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean >/dev/null 2>&1
	$(MAKE) -C lib clean
	-$(MAKE) -C tests clean
	-$(MAKE) -C examples clean
	-$(MAKE) -C tools clean

.PHONY: deb deps-check testkernel dkms-install dkms-uninstall all deps-build deps-vm deps-lint module lib tests examples check demo lint install clean
.PHONY: bench check-debug deps-debug check-kernels deps-kernels
