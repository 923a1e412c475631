"""requirements.txt evaluated for each machine that installs it, offline (packaging evaluates markers).

Streamlit Community Cloud installs it with uv on Linux x86_64, CPython 3.12, and must get torch's
CPU wheel: PyPI's Linux x86_64 torch is the CUDA build, several GB of nvidia-* wheels. This
machine (Linux x86_64, CPython 3.11) finds torch's CPU wheel through pip's find-links and may reach
no host but the package registries; macOS and Windows take PyPI's wheel, which is the CPU build.
"""

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from packaging.requirements import Requirement
from packaging.tags import Tag
from packaging.utils import parse_wheel_filename
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
TORCH = Version("2.13.0")


def _environment(sys_platform, platform_system, platform_machine, python_full_version):
    """Every marker variable, so nothing falls back to the machine running the test."""
    return {
        "implementation_name": "cpython",
        "implementation_version": python_full_version,
        "os_name": "nt" if sys_platform == "win32" else "posix",
        "platform_machine": platform_machine,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": platform_system,
        "platform_version": "",
        "python_full_version": python_full_version,
        "python_version": ".".join(python_full_version.split(".")[:2]),
        "sys_platform": sys_platform,
    }


CLOUD = _environment("linux", "Linux", "x86_64", "3.12.11")
ENVIRONMENTS = {
    "cloud": CLOUD,
    "this machine": _environment("linux", "Linux", "x86_64", "3.11.7"),
    "macOS arm64": _environment("darwin", "Darwin", "arm64", "3.12.11"),
    "Windows": _environment("win32", "Windows", "AMD64", "3.12.11"),
}


def _lines(name):
    """The file's lines without comments (pip's rule: '#' at the start or after whitespace)."""
    text = (ROOT / name).read_text(encoding="utf-8")
    lines = (re.sub(r"(^|\s)#.*$", "", line).strip() for line in text.splitlines())
    return [line for line in lines if line]


def _requirements(name):
    return [Requirement(line) for line in _lines(name) if not line.startswith("-")]


def _applying(environment, name="requirements.txt"):
    return [r for r in _requirements(name) if r.marker is None or r.marker.evaluate(environment)]


def _torch(environment):
    torches = [r for r in _applying(environment) if r.name == "torch"]
    assert len(torches) == 1, f"{len(torches)} torch requirements apply: {[str(r) for r in torches]}"
    return torches[0]


@pytest.mark.parametrize("where", ENVIRONMENTS)
def test_exactly_one_torch_requirement_applies(where):
    _torch(ENVIRONMENTS[where])


def test_cloud_installs_torchs_cpu_wheel_for_cpython_3_12_linux_x86_64():
    torch = _torch(CLOUD)
    assert torch.url, f"Cloud resolves {torch} from PyPI, which is the CUDA build"
    url = urlsplit(torch.url)
    assert (url.scheme, url.netloc) == ("https", "download.pytorch.org")
    assert url.path.startswith("/whl/cpu/")
    name, version, _build, tags = parse_wheel_filename(unquote(url.path.rsplit("/", 1)[1]))
    assert (name, version) == ("torch", Version("2.13.0+cpu"))
    assert Tag("cp312", "cp312", "manylinux_2_28_x86_64") in tags


@pytest.mark.parametrize("where", [w for w in ENVIRONMENTS if w != "cloud"])
def test_elsewhere_torch_is_the_pinned_release_from_the_configured_indexes(where):
    torch = _torch(ENVIRONMENTS[where])
    assert torch.url is None
    assert str(torch.specifier) == f"=={TORCH}"


def test_no_line_brings_a_cuda_build():
    for requirement in _requirements("requirements.txt") + _requirements("requirements-dev.txt"):
        assert not requirement.name.startswith("nvidia-") and requirement.name != "triton"
        assert "/whl/cu" not in (requirement.url or "")
        assert not any(re.search(r"\+cu\d", s.version) for s in requirement.specifier)


def test_no_index_options_that_would_send_pip_to_other_hosts():
    options = [line for line in _lines("requirements.txt") if line.startswith("-")]
    assert options == []
    assert [line for line in _lines("requirements-dev.txt") if line.startswith("-")] == [
        "-r requirements.txt"
    ]


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-dev.txt"])
def test_every_other_package_is_pinned_exactly(name):
    for requirement in _requirements(name):
        if requirement.name == "torch":
            continue
        assert requirement.url is None and requirement.marker is None, str(requirement)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", str(requirement)
