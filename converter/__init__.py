"""converter: stream parallel multilingual instruction datasets into one tagged training file.

Plugin authors import only from here: ``from converter import hookimpl`` and the model types.
"""

import pluggy

from converter.model import (
    Check,
    InputFormat,
    Language,
    Record,
    Tagger,
    Writer,
    WriterOptions,
    WriterSpec,
)

__version__ = "0.1.0"

#: The one name for the hook markers, the plugin manager and the entry-point group.
PROJECT_NAME = "converter"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = [
    "PROJECT_NAME",
    "Check",
    "InputFormat",
    "Language",
    "Record",
    "Tagger",
    "Writer",
    "WriterOptions",
    "WriterSpec",
    "__version__",
    "hookimpl",
]
