"""Build hook: generates the polybrief.v1 stubs (.py and .pyi) from the .proto files, so
the wheel (and an editable install) always matches the contract it was built from."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


def _googleapis_include() -> str:
    """Where googleapis-common-protos keeps google/api/annotations.proto and http.proto
    (the ``google.api.http`` options of the HTTP/JSON transcoding)."""
    import google.api.annotations_pb2 as annotations

    # google/api/annotations_pb2.py sits beside annotations.proto: three levels up is the root
    return str(Path(annotations.__file__).resolve().parent.parent.parent)


def generate(root: Path) -> None:
    """Runs protoc (grpcio-tools) with the mypy-protobuf plugins into ``root/src``, and
    writes the descriptor set with comments (``polybrief.binpb``: the HTTP layer builds
    its OpenAPI document, descriptions included, from it)."""
    out = root / "src"
    protos = sorted(str(p.relative_to(root)) for p in (root / "polybrief").rglob("*.proto"))
    places = [os.environ.get("PATH", ""), sysconfig.get_path("scripts")]
    search = os.pathsep.join([*places, str(Path(sys.executable).parent)])
    plugins = []
    for name in ("protoc-gen-mypy", "protoc-gen-mypy_grpc"):
        found = shutil.which(name, path=search)
        if found is None:
            raise RuntimeError(f"{name} not found: install mypy-protobuf in the build environment")
        plugins.append(f"--plugin={name}={found}")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{root}",
            f"-I{_googleapis_include()}",
            *plugins,
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            f"--mypy_out={out}",
            f"--mypy_grpc_out={out}",
            f"--descriptor_set_out={out / 'polybrief' / 'v1' / 'polybrief.binpb'}",
            "--include_source_info",
            *protos,
        ],
        check=True,
        cwd=root,
    )


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Generates the stubs before every wheel or editable build."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        generate(Path(self.root))


if __name__ == "__main__":  # `python proto/hatch_build.py`: regenerate in place (make proto)
    generate(Path(__file__).resolve().parent)
