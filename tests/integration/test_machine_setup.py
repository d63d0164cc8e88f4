"""What the set-up (scripts/bootstrap.sh, run by scripts/demo and scripts/test) leaves on a machine."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest


@pytest.mark.skipif(os.geteuid() != 0, reason="only a set-up run as root installs Debian packages")
def test_a_font_that_draws_chinese_is_installed():
    """The board's first word is Chinese: without a CJK font it is a row of empty boxes."""
    assert shutil.which("fc-list"), "fontconfig is part of the set-up"
    fonts = subprocess.run(["fc-list", ":lang=zh-cn", "family"], capture_output=True, text=True, timeout=30).stdout
    assert "Noto Sans CJK SC" in fonts, fonts or "no font for zh-cn"
