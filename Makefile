# The two commands a newcomer needs: `make demo` and `make test`. Both install into .venv first.
VENV        ?= .venv
PY          := $(VENV)/bin/python
PIP         := $(PY) -m pip
CONSTRAINTS := -c constraints.txt
PLUGINS     := $(sort $(dir $(wildcard plugins/*/pyproject.toml)))
# extras each plugin needs for its full test suite (optional dependencies that install on this machine)
EXTRAS_llm    := [gguf,server,transformers,test]
EXTRAS_motif  := [nethack]
EXTRAS_lmcdqn := [atari]
EXTRAS_r2i    := [popgym,atari,dmc,memory-maze]
DEMO        ?= motif/demo
PYTEST_ARGS ?=

.PHONY: install demo test test-all bench clean
install: $(VENV)/.installed

$(VENV)/.installed: core/pyproject.toml $(wildcard plugins/*/pyproject.toml) constraints.txt Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip "setuptools<81" wheel
	$(PIP) install -q $(CONSTRAINTS) torch==2.13.0
	$(PIP) install $(CONSTRAINTS) -e "core[test,tensorboard]" \
		$(foreach p,$(PLUGINS),-e "$(p:%/=%)$(EXTRAS_$(notdir $(p:%/=%)))")
	touch $@

demo: install
	$(VENV)/bin/intarsia run $(DEMO)

test: install
	$(VENV)/bin/pytest -m "not slow" $(PYTEST_ARGS)

test-all: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: install
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) runs .pytest_cache
