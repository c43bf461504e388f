"""What a de-identified report removes from the free text it still prints.

Reports never print the free-text attributes of a header (descriptions, comments, names of
physicians or institutions). What they do print of it comes through messages: a warning such
as "Invalid value for VR DA: '1950O101'" or an error such as "invalid NumberOfFrames '1A'"
quotes a value from the file, and that value may be a name typed into the wrong field. A
de-identified report keeps the message and drops the quotation. The full list of fields and
what de-identification does with each is in docs/REPORTS.md, "De-identification".
"""

from __future__ import annotations

import re

# A quotation in single or double quotes, as repr() and pydicom's warnings write values.
_QUOTED = re.compile(r"""(['"]).*?\1""")
REMOVED = "[value removed]"


def scrub(text: str) -> str:
    """``text`` with every quoted value replaced by :data:`REMOVED`."""
    return _QUOTED.sub(REMOVED, text)
