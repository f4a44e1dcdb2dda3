"""Every FreeSWITCH XML file the project ships is well-formed (FreeSWITCH refuses to load a
file that is not, and says little about why)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .ops_files import DOCKER, ROOT

XML_FILES = sorted([*(ROOT / "freeswitch").rglob("*.xml"), *(DOCKER / "freeswitch").rglob("*.xml")])


def test_there_are_xml_files() -> None:
    assert len(XML_FILES) >= 3


@pytest.mark.parametrize("path", XML_FILES, ids=[str(p.relative_to(ROOT)) for p in XML_FILES])
def test_xml_file_parses(path: Path) -> None:
    ET.parse(path)
