"""papermill support for the Mirage kernel: `papermill nb.ipynb out.ipynb -p eps 5` writes `eps = 5`.

Importing this module registers MirageTranslator for the kernel and language named "mirage" with papermill.
papermill imports it itself, through this package's `papermill.engine` entry point.
"""
import math

from papermill.engines import NBClientEngine
from papermill.translators import Translator, papermill_translators

__all__ = ["MirageTranslator", "MirageEngine"]


class MirageTranslator(Translator):
    """Parameters in Mirage syntax: numbers, strings, true/false, none, lists and dicts."""

    @classmethod
    def translate_none(cls, val):
        return "none"

    @classmethod
    def translate_bool(cls, val):
        return "true" if val else "false"

    @classmethod
    def translate_int(cls, val):
        return str(val)

    @classmethod
    def translate_float(cls, val):
        if math.isnan(val):
            return 'float("nan")'
        if math.isinf(val):
            return 'float("inf")' if val > 0 else 'float("-inf")'
        return repr(val)

    @classmethod
    def translate_str(cls, val):
        escaped = (val.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
                   .replace("\r", "\\r").replace("\t", "\\t"))
        return f'"{escaped}"'

    @classmethod
    def translate_list(cls, val):
        return "[" + ", ".join(cls.translate(v) for v in val) + "]"

    @classmethod
    def translate_dict(cls, val):
        return "{" + ", ".join(f"{cls.translate_str(str(k))}: {cls.translate(v)}" for k, v in val.items()) + "}"

    @classmethod
    def comment(cls, cmt_str):
        return f"# {cmt_str}".strip()

    @classmethod
    def assign(cls, name, str_val):
        return f"{name} = {str_val}"


class MirageEngine(NBClientEngine):
    """papermill's default engine, under the name `mirage` (`--engine mirage` is the same as the default)."""


papermill_translators.register("mirage", MirageTranslator)
