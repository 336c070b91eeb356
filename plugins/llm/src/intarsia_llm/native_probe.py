"""A crash of llama.cpp must be a Python error, not a dead interpreter.

llama.cpp's CPU backend has kernels (AMX tiles, "extra buffer types" that repack weights) that fault on
some CPUs and VMs: a pip build of llama-cpp-python made on an AMX Xeon died with SIGSEGV on the first
decode (``ldtilecfg`` in ``ggml_backend_amx_mul_mat``). A signal cannot be caught in-process, so the gguf
backend first loads the model and decodes a few tokens in a *child* process. If the child dies, the
backend retries without the extra buffer types, and if that dies too it raises
:class:`NativeCrashError` naming the signal and the fix. The verdict is cached per (llama-cpp-python
build, model file, CPU flags, settings), so the probe costs one model load once per machine and build;
rebuilding llama-cpp-python changes the key and probes again.

The child is ``python -m intarsia_llm.native_probe``: it imports only llama_cpp, nothing of the caller's
state, so what it proves is exactly "this library, this file, this CPU".
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import LLMError

PROBE_PROMPT = "The capital of France is"
PROBE_TOKENS = 4
PROBE_TIMEOUT_S = 300.0  # a model load on a loaded 2-core machine can take a while; a hang is reported


class NativeCrashError(LLMError):
    """llama.cpp crashed in a probe process (a signal, not an exception): this build cannot run here."""


class ModelLoadError(LLMError):
    """llama.cpp refused the model file (not a GGUF file, truncated, unsupported architecture)."""


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    extra_buffer_types: bool
    detail: str  # "" when ok; else what happened ("SIGSEGV", "timed out after …", the child's last line)
    crashed: bool = False  # died by a signal or hung, as opposed to a Python exception in the child


def _cpu_flags() -> str:
    """The CPU flags line (Linux); the kernels llama.cpp picks depend on them."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line.split(":", 1)[1].strip()
    import platform

    return platform.processor() or platform.machine()


def _library_id() -> str:
    """Identifies the llama-cpp-python build: version plus size and mtime of its shared libraries."""
    import importlib.util

    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.origin:
        return "llama_cpp:absent"
    pkg = Path(spec.origin).parent
    parts = [str(pkg)]
    for lib in sorted(pkg.rglob("*.so*")) + sorted(pkg.rglob("*.dylib")) + sorted(pkg.rglob("*.dll")):
        with contextlib.suppress(OSError):
            st = lib.stat()
            parts.append(f"{lib.name}:{st.st_size}:{int(st.st_mtime)}")
    return "|".join(parts)


def probe_key(model_path: Path, n_threads: int) -> str:
    st = model_path.stat()
    raw = "\n".join([_library_id(), f"{model_path.resolve()}:{st.st_size}:{int(st.st_mtime)}",
                     _cpu_flags(), f"threads={n_threads}", sys.executable])
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def _describe_exit(returncode: int, stderr: str) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return name
    tail = [line for line in stderr.strip().splitlines() if line.strip()]
    return tail[-1] if tail else f"exit code {returncode}"


def run_probe(model_path: Path, *, extra_buffer_types: bool, n_threads: int,
              timeout_s: float = PROBE_TIMEOUT_S) -> ProbeResult:
    """Load ``model_path`` and decode a few tokens in a child process; report whether it survived."""
    cmd = [sys.executable, "-m", "intarsia_llm.native_probe", str(model_path),
           "--extra-buffer-types", "1" if extra_buffer_types else "0", "--threads", str(n_threads)]
    env = dict(os.environ, PYTHONFAULTHANDLER="0")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return ProbeResult(False, extra_buffer_types, f"timed out after {timeout_s:.0f} s", crashed=True)
    if proc.returncode == 0 and "PROBE-OK" in proc.stdout:
        return ProbeResult(True, extra_buffer_types, "")
    return ProbeResult(False, extra_buffer_types, _describe_exit(proc.returncode, proc.stderr),
                       crashed=proc.returncode < 0)


def _verdict_file(cache_dir: Path) -> Path:
    return cache_dir / "native-probe.json"


def _read_verdicts(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_verdict(path: Path, key: str, value: dict) -> None:
    """Best effort (a read-only cache folder only costs a probe next time); written atomically."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        data = _read_verdicts(path)
        data[key] = value
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, path)


def fix_hint() -> str:
    return ("rebuild llama-cpp-python without the faulting kernels: CMAKE_ARGS=\"-DGGML_NATIVE=OFF -DGGML_AVX2=ON "
            "-DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF "
            "-DGGML_AMX_BF16=OFF\" pip install --force-reinstall --no-cache-dir --no-deps llama-cpp-python "
            "(see the intarsia-llm README, 'Installing llama-cpp-python')")


def choose_extra_buffer_types(model_path: Path, *, setting: str, n_threads: int, cache_dir: Path) -> bool:
    """Resolve the ``extra_buffer_types`` config (``auto``/``on``/``off``) to a setting that does not crash.

    ``auto`` probes with extra buffer types on (faster where they work: weight repacking) and falls back
    to off. ``on``/``off`` probe only that setting. Raises :class:`NativeCrashError` when nothing works.
    """
    if setting not in ("auto", "on", "off"):
        raise LLMError(f"gguf extra_buffer_types must be 'auto', 'on' or 'off', not {setting!r}")
    candidates = {"auto": [True, False], "on": [True], "off": [False]}[setting]
    path = _verdict_file(cache_dir)
    key = f"{probe_key(model_path, n_threads)}:{setting}"
    cached = _read_verdicts(path).get(key)
    if cached is not None:
        if cached.get("ok"):
            return bool(cached["extra_buffer_types"])
        raise NativeCrashError(_crash_message(model_path, cached.get("failures", []), cached=True))
    failures = []
    for extra in candidates:
        result = run_probe(model_path, extra_buffer_types=extra, n_threads=n_threads)
        if not result.ok and not result.crashed:
            # An exception, not a crash: the file or the build is at fault whatever the kernels.
            raise ModelLoadError(f"llama.cpp cannot load gguf model_path {str(model_path)!r} ({result.detail}): it is "
                                 "damaged, cut short or of an architecture this llama-cpp-python does not know")
        if result.ok:
            _write_verdict(path, key, {"ok": True, "extra_buffer_types": extra, "failures": failures})
            return extra
        failures.append(asdict(result))
    _write_verdict(path, key, {"ok": False, "failures": failures})
    raise NativeCrashError(_crash_message(model_path, failures, cached=False))


def _crash_message(model_path: Path, failures: list[dict], *, cached: bool) -> str:
    what = "; ".join(f"extra buffer types {'on' if f['extra_buffer_types'] else 'off'}: {f['detail']}"
                     for f in failures) or "no detail"
    again = " (cached verdict; it is probed again after llama-cpp-python is reinstalled)" if cached else ""
    return (f"llama.cpp cannot run {model_path.name} on this CPU: a probe process loading it and decoding "
            f"{PROBE_TOKENS} tokens died ({what}){again}. Fix: {fix_hint()}")


@contextlib.contextmanager
def model_params_without_extra_buffer_types(llama_cpp_module):
    """Load models with ``use_extra_bufts = False`` (llama-cpp-python's ``Llama()`` has no argument for it).

    ``Llama.__init__`` starts from ``llama_model_default_params()``; wrapping that one function for the
    duration of the constructor sets the flag without copying the constructor. Not thread-safe by design:
    models are loaded one at a time.
    """
    low = llama_cpp_module.llama_cpp
    original = low.llama_model_default_params
    if "use_extra_bufts" not in {name for name, _ in low.llama_model_params._fields_}:
        yield  # an older build without the flag has no extra buffer types to disable
        return

    def params():
        p = original()
        p.use_extra_bufts = False
        return p

    low.llama_model_default_params = params
    try:
        yield
    finally:
        low.llama_model_default_params = original


def _child(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m intarsia_llm.native_probe")
    parser.add_argument("model")
    parser.add_argument("--extra-buffer-types", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    import llama_cpp

    guard = (contextlib.nullcontext() if args.extra_buffer_types
             else model_params_without_extra_buffer_types(llama_cpp))
    with guard:
        llm = llama_cpp.Llama(model_path=args.model, n_ctx=256, n_threads=args.threads, verbose=False)
    out = llm.create_completion(PROBE_PROMPT, max_tokens=PROBE_TOKENS, temperature=0.0)
    text = out["choices"][0]["text"]
    print(f"PROBE-OK {text!r}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
