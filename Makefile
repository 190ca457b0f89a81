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
DEB_PKGS := nginx nginx-dev libhiredis-dev libpq-dev libcurl4-openssl-dev \
            libjansson-dev libssl-dev libseccomp-dev python3-dev \
            python3-numpy python3-pandas redis-server postgresql \
            perl wrk

NGX_MODULE_SRCS := config docs/openapi.json \
                   $(wildcard ngx_qna_module/*.[ch] ngx_mcp_module/*.[ch])

SBX_SRCS    := $(wildcard sandboxd/*.c)
SBX_HDRS    := $(wildcard sandboxd/*.h)
SBX_RUNTIME := $(wildcard sandboxd/runtime/*.py)
# python3.11-config is asked in the recipe: `make deps` may install it first
SBX_CFLAGS  := -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE \
               -DSBX_RUNTIME_DIR='"$(CURDIR)/sandboxd/runtime"'
SBX_LDLIBS  := -ljansson -lseccomp -pthread

# real MCP clients, and an OpenAPI validator, for the tests (npm, pinned
# by their package-lock.json)
CLIENTS     := t/mcp-clients/node_modules/.package-lock.json \
               t/openapi/node_modules/.package-lock.json

.PHONY: all deps build clients run test bench bench-deps clean

all: build

# Idempotent: asks apt only for what dpkg does not already have.
deps:
	@missing=""; \
	for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
	        | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if ! command -v node >/dev/null; then missing="$$missing nodejs npm"; fi; \
	if [ -n "$$missing" ]; then \
	    echo "deps: installing$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && \
	    apt-get install -y -qq --no-install-recommends $$missing </dev/null; \
	else \
	    echo "deps: all present"; \
	fi

build: $(MODULE_SO) $(SANDBOXD)

# nginx's tree is read-only in /usr/share: configure a private copy with
# the exact flags Debian's binary was built with, so the .so loads.
$(NGX_BUILD)/objs/Makefile: config $(NGX_SRC)/conf_flags
	@mkdir -p $(BUILD)
	rm -rf $(NGX_BUILD)
	cp -r $(NGX_SRC) $(NGX_BUILD)
	cd $(NGX_BUILD) && . ./conf_flags && ./configure "$${NGX_CONF_FLAGS[@]}" \
	    --with-cc-opt='-g -O2 -fPIC -Wall -Wextra -Werror' \
	    --add-dynamic-module=$(CURDIR) > $(BUILD)/configure.log

$(MODULE_SO): $(NGX_BUILD)/objs/Makefile $(NGX_MODULE_SRCS)
	$(MAKE) -C $(NGX_BUILD) -f objs/Makefile modules

$(SANDBOXD): $(SBX_SRCS) $(SBX_HDRS) $(SBX_RUNTIME)
	@mkdir -p $(BUILD)
	$(CC) $(SBX_CFLAGS) $$($(PYCONFIG) --includes) -o $@ $(SBX_SRCS) \
	    $(SBX_LDLIBS) $$($(PYCONFIG) --embed --ldflags)

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
	@missing=""; \
	for p in $(BENCH_PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
	        | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "bench-deps: installing$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && \
	    apt-get install -y -qq --no-install-recommends $$missing </dev/null; \
	fi

bench: deps build bench-deps
	perl bench/analyze
	perl bench/analyze-cached

clean:
	rm -rf $(RUNTIME) t/mcp-clients/node_modules t/openapi/node_modules
