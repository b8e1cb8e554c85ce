"""``python -m bench.generate.llamacpp_server ARGS``: llama-cpp-python's OpenAI-compatible server,
made safe on llama.cpp builds that use Intel AMX.

It takes exactly the arguments of ``python -m llama_cpp.server`` (``--model``, ``--host``,
``--port``, ...) and runs that server.  The one difference: on a build whose system info says
``AMX_INT8 = 1`` every model is loaded with ``use_extra_bufts = False``, as the ``llamacpp``
backend loads its own (:func:`bench.generate.llamacpp.load_llama`).  Without it, such a build
repacks Q4_K_M weights into AMX buffers and the server dies with a segfault on its first
completion (llama.cpp issue 20824), which the client sees as "connection refused".  On any other
build it is ``llama_cpp.server`` unchanged.

Use it for ``bench generate --backend openai`` against a local llama.cpp server and for LLM
judges served that way; a vLLM or hosted server needs nothing of this.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Sequence

from bench.generate.llamacpp import amx_safe_loading, import_llama_cpp


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``llama_cpp.server`` with ``argv`` (default: this process's arguments)."""
    lib = import_llama_cpp()
    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    with amx_safe_loading(lib, "the server loads its models"):
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
