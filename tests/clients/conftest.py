"""The SDKs under clients/ are packages of their own, not apps of the project: their tests
import them from their source folders, as an installed copy would be imported."""

from __future__ import annotations

import sys
from pathlib import Path

PYTHON_SDK = Path(__file__).resolve().parents[2] / "clients" / "python"

if str(PYTHON_SDK) not in sys.path:
    sys.path.insert(0, str(PYTHON_SDK))
