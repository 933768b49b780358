"""Build hook: compile converter/_kernels.pyx, the pair checks' compiled kernels.

Without a C compiler the package still installs and runs on the Python code the kernels stand
in for (slower, same results); the build warns (pip shows it with ``-v``) and the report's
``tool.kernels`` says ``python``. ``CONVERTER_REQUIRE_KERNELS=1`` makes a failed compile fail
the build (CI sets it).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = "converter/_kernels.pyx"


def compile_kernels(root: str) -> Path:
    """Compile the kernels in place (beside their source); the path of the built module."""
    from Cython.Build import cythonize
    from setuptools import Distribution, Extension

    here = Path.cwd()
    os.chdir(root)
    try:
        extension = Extension("converter._kernels", [SOURCE], extra_compile_args=["-O3", "-g0"])
        modules = cythonize([extension], quiet=True, language_level=3)
        with tempfile.TemporaryDirectory() as scratch:
            dist = Distribution({"name": "converter-kernels", "ext_modules": modules})
            build = dist.get_command_obj("build_ext")
            build.inplace, build.build_temp = True, scratch
            build.ensure_finalized()
            build.run()
            return Path(root) / build.get_ext_filename("converter._kernels")
    finally:
        os.chdir(here)


class KernelsHook(BuildHookInterface):
    """Compile the kernels into the wheel (or in place for an editable install)."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Compile; on failure warn (or fail, when CONVERTER_REQUIRE_KERNELS is set)."""
        try:
            built = compile_kernels(self.root)
        except Exception as exc:
            if os.environ.get("CONVERTER_REQUIRE_KERNELS"):
                raise
            for stale in Path(self.root, "converter").glob("_kernels.*.so"):
                stale.unlink()  # an earlier build's module would run instead of the new code
            self.app.display_warning(
                f"converter: compiled kernels not built ({exc}); the Python code runs instead"
            )
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":
            build_data["force_include"][str(built)] = f"converter/{built.name}"
