# QnA gateway: two nginx modules in one .so, and sandboxd.
#
#   make run    install what is missing, build, run on 127.0.0.1:$(QNA_PORT)
#   make test   the same set-up, then the whole suite with prove
#
# Everything written at run time lives under $(RUNTIME) (git-ignored).

SHELL       := /bin/bash
RUNTIME     ?= $(CURDIR)/.runtime
BUILD       := $(RUNTIME)/build
NGX_SRC     ?= /usr/share/nginx/src
NGX_BUILD   := $(BUILD)/nginx
MODULE_SO   := $(NGX_BUILD)/objs/ngx_http_qna_module.so
SANDBOXD    := $(BUILD)/sandboxd
PYCONFIG    := /usr/bin/python3.11-config
QNA_PORT    ?= 8010
PROVE_ARGS  ?= -j2

export RUNTIME QNA_PORT

# Debian bookworm packages (the release is the pin); see DESIGN.md.
# chromium and a font: the web UI's browser tests (t/37-ui.t); the last
# line builds and checks the Debian packages (t/33): dpkg-buildpackage
# wants build-essential, debhelper the sequence, systemd systemd-analyze.
DEB_PKGS := nginx nginx-dev libhiredis-dev libpq-dev libcurl4-openssl-dev \
            libjansson-dev libssl-dev libseccomp-dev python3-dev \
            python3-numpy python3-pandas redis-server postgresql \
            perl wrk chromium fonts-dejavu-core \
            build-essential debhelper systemd

NGX_MODULE_SRCS := config docs/openapi.json \
                   $(wildcard ngx_qna_module/*.[ch] ngx_mcp_module/*.[ch])

SBX_SRCS    := $(wildcard sandboxd/*.c)
SBX_HDRS    := $(wildcard sandboxd/*.h)
SBX_RUNTIME := $(wildcard sandboxd/runtime/*.py)
# CFLAGS, CPPFLAGS and LDFLAGS from the environment are used as they are
# (debian/rules passes dpkg-buildflags' hardening in them); the checkout's
# path is written "." in the debugging information, so no binary says where
# it was built.  The runtime's .py files are found by the assembler's
# .incbin at build time only.
CFLAGS      ?= -g -O2
WARNINGS    := -Wall -Wextra -Werror
PATH_MAP    := -ffile-prefix-map=$(CURDIR)=.
NGX_CC_OPT  := $(CFLAGS) $(CPPFLAGS) -fPIC $(WARNINGS) $(PATH_MAP)
# python3.11-config is asked in the recipe: `make deps` may install it first
SBX_CFLAGS  := -std=gnu11 $(CFLAGS) $(CPPFLAGS) $(WARNINGS) $(PATH_MAP) \
               -D_GNU_SOURCE -Wa,-I,$(CURDIR)/sandboxd/runtime
SBX_LDLIBS  := -ljansson -lseccomp -pthread

# make test-asan: the module and sandboxd built with AddressSanitizer and
# UndefinedBehaviorSanitizer, in a build folder of their own.  The flags go
# in the environment: on the command line they would reach nginx's
# objs/Makefile and replace its CFLAGS.  Under -fsanitize GCC's
# maybe-uninitialized warning fires where the ordinary build proves the
# value set (ngx_qna_is_followup's len): that build keeps the warning.
SANITIZE    := -fsanitize=address,undefined,float-cast-overflow \
               -fno-omit-frame-pointer
SAN_CFLAGS  := -g -O1 $(SANITIZE) -Wno-maybe-uninitialized

# real MCP clients, an OpenAPI validator, and the web UI's browser driver
# (playwright-core, driving Debian's chromium: it downloads no browser)
# and axe-core, for the tests (npm, pinned by their package-lock.json)
CLIENTS     := t/mcp-clients/node_modules/.package-lock.json \
               t/openapi/node_modules/.package-lock.json \
               t/ui-tests/node_modules/.package-lock.json

.PHONY: all deps build build-asan clients run test test-asan bench bench-deps \
        clean FORCE

all: build

# Idempotent: asks apt only for what dpkg does not already have.  $(1):
# the target's name, $(2): the packages, $(3): a shell test that adds
# more to $$missing.
define apt_install
	@missing=""; \
	for p in $(2); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
	        | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	$(3) \
	if [ -n "$$missing" ]; then \
	    echo "$(1): installing$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && \
	    apt-get install -y -qq --no-install-recommends $$missing </dev/null; \
	else \
	    echo "$(1): all present"; \
	fi
endef

deps:
	$(call apt_install,deps,$(DEB_PKGS),\
	    if ! command -v node >/dev/null; then missing="$$missing nodejs npm"; fi;)

build: $(MODULE_SO) $(SANDBOXD)

# the flags of this build folder's last build: a change builds it again
FLAGS_FILE  := $(BUILD)/flags
FLAGS       := $(NGX_CC_OPT) | $(LDFLAGS) | $(SBX_CFLAGS)

$(FLAGS_FILE): FORCE
	@mkdir -p $(BUILD)
	@echo '$(FLAGS)' | cmp -s - $@ || echo '$(FLAGS)' > $@

# nginx's tree is read-only in /usr/share: configure a private copy with
# the exact flags Debian's binary was built with, so the .so loads.  A
# CFLAGS in the environment would replace nginx's own warning flags (its
# configure takes it instead of them): ours go in --with-cc-opt.
$(NGX_BUILD)/objs/Makefile: config $(NGX_SRC)/conf_flags $(FLAGS_FILE)
	@mkdir -p $(BUILD)
	rm -rf $(NGX_BUILD)
	cp -r $(NGX_SRC) $(NGX_BUILD)
	cd $(NGX_BUILD) && unset CFLAGS CPPFLAGS LDFLAGS && . ./conf_flags \
	    && ./configure "$${NGX_CONF_FLAGS[@]}" \
	    --with-cc-opt='$(NGX_CC_OPT)' --with-ld-opt='$(LDFLAGS)' \
	    --add-dynamic-module=$(CURDIR) > $(BUILD)/configure.log

$(MODULE_SO): $(NGX_BUILD)/objs/Makefile $(NGX_MODULE_SRCS)
	$(MAKE) -C $(NGX_BUILD) -f objs/Makefile modules

$(SANDBOXD): $(SBX_SRCS) $(SBX_HDRS) $(SBX_RUNTIME) $(FLAGS_FILE)
	@mkdir -p $(BUILD)
	$(CC) $(SBX_CFLAGS) $$($(PYCONFIG) --includes) -o $@ $(SBX_SRCS) \
	    $(LDFLAGS) $(SBX_LDLIBS) $$($(PYCONFIG) --embed --ldflags)

clients: $(CLIENTS)

t/%/node_modules/.package-lock.json: t/%/package.json t/%/package-lock.json
	cd t/$* && npm ci --no-audit --no-fund --loglevel=error

run: deps build
	exec perl conf/run.pl

test: deps build clients
	prove $(PROVE_ARGS) -I t/lib t/

# the peers the benches measure the gateway against (Debian's packages)
BENCH_PKGS := python3-fastapi python3-uvicorn python3-redis python3-uvloop \
              python3-httptools

bench-deps:
	$(call apt_install,bench-deps,$(BENCH_PKGS),)

build-asan:
	CFLAGS='$(SAN_CFLAGS)' LDFLAGS='$(SANITIZE)' \
	    $(MAKE) build BUILD=$(RUNTIME)/build-asan

# the whole suite once more on the sanitized build: QNA_SANITIZE=1 makes
# t/lib/QnA/Stack.pm run it (the runtime preloaded into Debian's nginx)
# and fail a test whose logs hold a sanitizer's report
test-asan: deps build-asan clients
	QNA_SANITIZE=1 prove $(PROVE_ARGS) -I t/lib t/

# the hot paths beside their peers (bench/hot-paths), then a planned and
# run /analyze end to end (bench/analyze)
bench: deps build bench-deps clients
	perl bench/hot-paths
	perl bench/analyze

clean:
	rm -rf $(RUNTIME) t/mcp-clients/node_modules t/openapi/node_modules \
	    t/ui-tests/node_modules
