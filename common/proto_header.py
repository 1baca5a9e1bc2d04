"""proto_header: the numbers of common/proto.h for Python (standard library only).

Reads the header's enums and integer #defines, so that Python code that writes or reads frames
(fuzz/make_seeds.py, the integration tests' ncfx_wire.py) takes message types, attribute tags
and error codes from the header and never from a copy. Loaded by path from beside proto.h:

    spec = importlib.util.spec_from_file_location("proto_header", ".../common/proto_header.py")

Each enum is a dict, in the header's order, of its members' names without their prefix:
enum("ncfx_tag", "NCFX_T_") gives {"VERSION_MIN": 1, "VERSION_MAX": 2, ...}.
"""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_H = os.path.join(HERE, "proto.h")

_INT = r"(0[xX][0-9a-fA-F]+|\d+)[uUlL]*"


def _strip_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)


class ProtoHeader:
    """One read of proto.h (path: default, the proto.h beside this file)."""

    def __init__(self, path=PROTO_H):
        self.path = path
        with open(path) as f:
            self.text = _strip_comments(f.read())

    def enum(self, name, prefix):
        """The members of enum name as {name without prefix: value}. A member without a value
        is the one before it plus one, as in C; values are integer literals or members before."""
        m = re.search(r"\benum\s+%s\s*\{(.*?)\}" % re.escape(name), self.text, re.S)
        if not m:
            raise LookupError("%s: no enum %s" % (self.path, name))
        out = {}
        known = {}
        nxt = 0
        for item in m.group(1).split(","):
            item = item.strip()
            if not item:
                continue
            g = re.fullmatch(r"(\w+)\s*(?:=\s*(\w+))?", item)
            if not g:
                raise ValueError("%s: enum %s: cannot read %r" % (self.path, name, item))
            member, value = g.groups()
            if value is not None:
                lit = re.fullmatch(_INT, value)
                if lit:
                    nxt = int(lit.group(1), 0)
                elif value in known:
                    nxt = known[value]
                else:
                    raise ValueError("%s: enum %s: %s = %s is not a number"
                                     % (self.path, name, member, value))
            known[member] = nxt
            if not member.startswith(prefix):
                raise ValueError("%s: enum %s: %s does not start with %s"
                                 % (self.path, name, member, prefix))
            out[member[len(prefix):]] = nxt
            nxt += 1
        return out

    def defines(self, prefix):
        """Every #define prefix... whose value is one integer literal, as {name without prefix:
        value} (NCFX_FRAME_MAX 65536u gives FRAME_MAX: 65536)."""
        return {n[len(prefix):]: int(v, 0) for n, v in re.findall(
            r"^\s*#\s*define\s+(%s\w+)\s+\(?%s\)?\s*$" % (re.escape(prefix), _INT),
            self.text, re.M)}


def missing(table, names, prefix):
    """The names (with prefix, as the header spells them) that table lacks, for a caller that
    needs them to fail naming each one."""
    return [prefix + n for n in names if n not in table]
