# SPDX-License-Identifier: MIT
#
# mpin: top-level orchestration.  The module itself is built by Kbuild
# (see ./Kbuild); this file drives the module, the library, the tests,
# the VM and the installation.
#
#   make            module + library
#   make demo       build, boot the stock kernel in QEMU, show pinning at work
#   make check      build, boot, run the functional tests in the VM (and
#                   the DKMS/package test on the stock and PREEMPT_RT kernels)
#   make check-kernels  every Debian kernel from 5.10 to 7.3: W=1 build,
#                   DKMS in a root of its suite, the suite in the VM
#   make check-debug the suite, a long fuzz run and fault injection on a
#                   debug kernel (KASAN, lockdep, kmemleak) built once from
#                   linux-source-6.1
#   make deb        Debian packages in build/deb
#   make lint       checkpatch.pl --strict and sparse on the module
#   make bench      benchmark against mlock, io_uring, RDMA registration (VM)

VERSION := $(shell cat VERSION)
# The Debian stock kernel to build for and boot (make KVER=... to choose).
# Deferred (?=): scripts/deps.sh may install the kernel first.
KVER ?= $(shell tests/vm/kver.sh)
KDIR = /lib/modules/$(KVER)/build

PREFIX ?= /usr/local
DESTDIR ?=

CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/mpin

all: module lib

deps-build:
	@scripts/deps.sh build
deps-vm:
	@scripts/deps.sh build vm
deps-lint:
	@scripts/deps.sh build lint
deps-debug:
	@scripts/deps.sh build vm debug
# make check-kernels: debootstrap for the roots, QEMU, the packaging tools.
deps-kernels:
	@scripts/deps.sh kernels
# make check's end-to-end DKMS and package test (tests/host/dkms.sh):
# dkms, the Debian packaging tools and the PREEMPT_RT kernel with headers.
deps-e2e:
	@scripts/deps.sh build vm dkms deb rt

module: deps-build
	@test -n "$(KVER)" || { echo "no Debian stock kernel (linux-image-*-amd64) found" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 modules

lib:
	$(MAKE) -C lib

tests: lib
	$(MAKE) -C tests

examples: lib
	$(MAKE) -C examples

# The VM boots the stock kernel the module was built for, with this
# machine's root file system mounted read-only inside it.
VM = tests/vm/run-vm.sh --kver $(KVER)

check: deps-vm deps-e2e module lib tests examples
	-tests/host/install.sh --keep $(CURDIR)/tests/bin/install
	-tests/host/dkms.sh --keep $(CURDIR)/tests/bin/dkms --log-dir $(CURDIR)/build
	@mkdir -p build
	$(VM) --numa --pmem --append "movablecore=256M vsyscall=xonly" --log build/check.log -- \
		$(CURDIR)/tests/run-tests.sh --module $(CURDIR)/mpin.ko --bindir $(CURDIR)/tests/bin; \
	rc=$$?; echo; echo "make check: console log in build/check.log"; \
	grep -E '^[0-9]+ passed, [0-9]+ failed' build/check.log | tail -n 1; exit $$rc

# Every Debian kernel line from 5.10 to 7.3, generic and PREEMPT_RT
# (tests/kernels/matrix): build with W=1 and install with DKMS inside a
# debootstrap root of its suite, boot it, run the suite; the table goes
# to build/kernels.md.  Nothing is installed on this machine.
# KERNELS=5.10,7.3 for some; KERNEL_STAGES=build,dkms to not boot.
KERNELS ?=
KERNEL_STAGES ?= build,dkms,suite
check-kernels: deps-kernels lib tests
	tests/kernels/check-kernels.sh --stages $(KERNEL_STAGES) $(if $(KERNELS),--only $(KERNELS))

# The suite on the debug kernel, then the long fuzz run (FUZZ_OPS
# operations) and a kmemleak scan; tests/debug-kernel/README.md.
FUZZ_OPS ?= 1000000
check-debug: deps-debug lib tests examples
	tests/debug-kernel/check-debug.sh --fuzz-ops $(FUZZ_OPS)

# The demo: mlock vs mpin under move_pages(2), then the realtime demo
# (no locking, mlockall, mpinall) drawn into build/demo/rtdemo.png.
# DEMO_ARGS passes options to examples/rtdemo.
demo: deps-vm module lib examples
	@scripts/deps.sh plot
	examples/run-demo.sh --kver $(KVER) --module $(CURDIR)/mpin.ko --out $(CURDIR)/build/demo \
		$(if $(DEMO_ARGS),-- $(DEMO_ARGS))

# The benchmark against mlock, io_uring fixed buffers and ibv_reg_mr on
# soft-RoCE (README.md, "Performance"): one VM run; results, CSV and plot
# in build/bench/.  BENCH_ARGS passes options to tests/bench/mpin-bench.
bench: deps-vm module lib
	@scripts/deps.sh bench
	$(MAKE) -C tests/bench
	tests/bench/bench.sh --kver $(KVER) --module $(CURDIR)/mpin.ko --out $(CURDIR)/build/bench \
		$(if $(BENCH_ARGS),-- $(BENCH_ARGS))

# checkpatch.pl comes from Debian's linux-source-6.1 tarball, extracted
# once into the cache.
CHECKPATCH_DIR = $(CACHE)/checkpatch
CHECKPATCH = $(CHECKPATCH_DIR)/scripts/checkpatch.pl
KERNEL_SOURCES = module/*.c module/*.h module/probes/*.c include-uapi/linux/mpin.h

$(CHECKPATCH):
	mkdir -p $(CHECKPATCH_DIR)
	tar -xJf /usr/src/linux-source-6.1.tar.xz -C $(CHECKPATCH_DIR) --strip-components=1 \
		linux-source-6.1/scripts/checkpatch.pl linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch

# Lint needs only headers: the running kernel's, or the newest installed.
LINT_KDIR = /lib/modules/$(shell tests/vm/kver.sh --headers)/build
lint: deps-lint
	@grep -qx 'PACKAGE_VERSION="$(VERSION)"' dkms.conf || \
		{ echo "dkms.conf PACKAGE_VERSION is not VERSION ($(VERSION))" >&2; exit 1; }
	@[ "$$(dpkg-parsechangelog -l debian/changelog -S Version)" = "$(VERSION)" ] || \
		{ echo "debian/changelog's version is not VERSION ($(VERSION)): dch -v $(VERSION)" >&2; exit 1; }
	$(MAKE) $(CHECKPATCH)
	$(CHECKPATCH) --strict --no-tree --quiet --show-types -f $(KERNEL_SOURCES)
	$(MAKE) -C $(LINT_KDIR) M=$(CURDIR) clean >/dev/null
	$(MAKE) -C $(LINT_KDIR) M=$(CURDIR) W=1 C=2 modules 2>&1 | tee .sparse.log
	@! grep -E 'warning|error' .sparse.log
	@rm -f .sparse.log

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

install: all tools
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_DIR=updates \
		$(if $(DESTDIR),INSTALL_MOD_PATH=$(DESTDIR)) modules_install
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/linux \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(SBINDIR) \
		$(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man4 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(UDEVRULESDIR) $(DESTDIR)$(MODULESLOADDIR)
	install -m 755 lib/$(LIBMPIN_SHARED) $(DESTDIR)$(LIBDIR)/
	ln -sf $(LIBMPIN_SHARED) $(DESTDIR)$(LIBDIR)/libmpin.so.1
	ln -sf libmpin.so.1 $(DESTDIR)$(LIBDIR)/libmpin.so
	install -m 644 lib/libmpin.a $(DESTDIR)$(LIBDIR)/
	install -m 644 lib/mpin.h $(DESTDIR)$(INCLUDEDIR)/mpin.h
	install -m 644 include-uapi/linux/mpin.h $(DESTDIR)$(INCLUDEDIR)/linux/mpin.h
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
		$(DESTDIR)$(INCLUDEDIR)/mpin.h $(DESTDIR)$(INCLUDEDIR)/linux/mpin.h \
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

.PHONY: deb deps-e2e dkms-install dkms-uninstall all deps-build deps-vm deps-lint module lib tests examples check demo lint install clean
.PHONY: bench check-debug deps-debug check-kernels deps-kernels
