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
EXTRAS_hc     := [dmc]
DEMO        ?= motif/demo
# llama-cpp-python ships as an sdist only. We build its wheel once, portably (no -march=native, no AVX-512,
# no AMX: llama.cpp's AMX kernels fault on some VMs, and a native build made on one machine can crash on
# the next), into a cache folder keyed by version and flags (pip's own wheel cache ignores CMAKE_ARGS), and
# reuse it across .venv rebuilds. Override LLAMA_CMAKE_ARGS for CUDA (-DGGML_CUDA=on) or a native build.
LLAMA_VERSION    := 0.3.36
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DGGML_OPENMP=OFF \
	-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
WHEEL_CACHE      ?= $(HOME)/.cache/intarsia/wheels
LLAMA_WHEEL_DIR  := $(WHEEL_CACHE)/llama-cpp-python-$(LLAMA_VERSION)-$(shell printf '%s' '$(LLAMA_CMAKE_ARGS)' | sha256sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: install llama-wheel demo test test-all bench clean
install: $(VENV)/.installed

$(VENV)/.installed: core/pyproject.toml $(wildcard plugins/*/pyproject.toml) constraints.txt Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip "setuptools<81" wheel
	$(PIP) install -q $(CONSTRAINTS) torch==2.13.0
	$(MAKE) --no-print-directory llama-wheel
	$(PIP) install -q --no-deps $(LLAMA_WHEEL_DIR)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(PIP) install $(CONSTRAINTS) -e "core[test,tensorboard,slurm,stats,video,wandb,mlflow]" \
		$(foreach p,$(PLUGINS),-e "$(p:%/=%)$(EXTRAS_$(notdir $(p:%/=%)))")
	touch $@

# Compiles llama.cpp (about 4 minutes on a quiet 2-core machine, 10-15 loaded); skipped when cached.
llama-wheel: $(LLAMA_WHEEL_DIR)/.built
$(LLAMA_WHEEL_DIR)/.built:
	test -x $(PY) || python3 -m venv $(VENV)
	@echo "building llama-cpp-python $(LLAMA_VERSION) into $(LLAMA_WHEEL_DIR) (CMAKE_ARGS: $(LLAMA_CMAKE_ARGS))"
	rm -rf $(LLAMA_WHEEL_DIR).tmp && mkdir -p $(LLAMA_WHEEL_DIR).tmp
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PIP) wheel -q --no-cache-dir --no-deps \
		--no-binary llama-cpp-python llama-cpp-python==$(LLAMA_VERSION) -w $(LLAMA_WHEEL_DIR).tmp
	rm -rf $(LLAMA_WHEEL_DIR) && mv $(LLAMA_WHEEL_DIR).tmp $(LLAMA_WHEEL_DIR) && touch $@

demo: install
	$(VENV)/bin/intarsia run $(DEMO)

test: install
	$(VENV)/bin/pytest -m "not slow" -n 2 $(PYTEST_ARGS)

test-all: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: install
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) runs .pytest_cache
