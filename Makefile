# SPDX-License-Identifier: MIT
#
# mpin: top-level orchestration.  The module itself is built by Kbuild
# (see ./Kbuild); this file drives the module, the library, the tests,
# the VM and the installation.
#
#   make            module + library
#   make demo       build, boot the stock kernel in QEMU, show pinning at work
#   make check      build, boot, run the functional tests in the VM
#   make lint       checkpatch.pl --strict and sparse on the module

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

check: deps-vm module lib tests
	$(VM) --numa --pmem --append movablecore=256M -- $(CURDIR)/tests/run-tests.sh --module $(CURDIR)/mpin.ko \
		--bindir $(CURDIR)/tests/bin

demo: deps-vm module lib examples
	$(VM) --numa -- $(CURDIR)/examples/demo.sh $(CURDIR)/mpin.ko

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

lint: deps-lint
	@grep -qx 'PACKAGE_VERSION="$(VERSION)"' dkms.conf || \
		{ echo "dkms.conf PACKAGE_VERSION is not VERSION ($(VERSION))" >&2; exit 1; }
	$(MAKE) $(CHECKPATCH)
	$(CHECKPATCH) --strict --no-tree --quiet --show-types -f $(KERNEL_SOURCES)
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean >/dev/null
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 C=2 modules 2>&1 | tee .sparse.log
	@! grep -E 'warning|error' .sparse.log
	@rm -f .sparse.log

install: all
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_DIR=updates \
		$(if $(DESTDIR),INSTALL_MOD_PATH=$(DESTDIR)) modules_install
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/linux \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig
	cp -P lib/libmpin.so* $(DESTDIR)$(PREFIX)/lib/
	install -m 644 lib/libmpin.a $(DESTDIR)$(PREFIX)/lib/
	install -m 644 lib/mpin.h $(DESTDIR)$(PREFIX)/include/mpin.h
	install -m 644 include-uapi/linux/mpin.h $(DESTDIR)$(PREFIX)/include/linux/mpin.h
	$(MAKE) -C lib PREFIX=$(PREFIX) libmpin.pc
	install -m 644 lib/libmpin.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	-[ -z "$(DESTDIR)" ] && depmod -a $(KVER) && ldconfig

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

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean >/dev/null 2>&1
	$(MAKE) -C lib clean
	-$(MAKE) -C tests clean
	-$(MAKE) -C examples clean

.PHONY: dkms-install dkms-uninstall all deps-build deps-vm deps-lint module lib tests examples check demo lint install clean
