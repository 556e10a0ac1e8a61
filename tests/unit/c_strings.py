"""c_strings.py: the SQL text of the C sources, for the shell tests that
hold it to the docs (test_one_writer.sh, test_sql_decides.sh): each
statement is a string literal, with the adjacent ones joined as the
compiler joins them, macros between them (DIM_COLS, PRICE_DIMS(DIM_PARAM))
too."""
import re

LIT = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_JOINED = re.compile(r"\s*(?:[A-Z_][A-Z0-9_]*\s*(?:\([\w, ]*\)\s*)?)*")


def statements(text):
    """C string literals of text, adjacent ones (and macros between) joined."""
    out, cur, last_end = [], None, -1
    for m in LIT.finditer(text):
        between = text[last_end:m.start()] if last_end >= 0 else ""
        if cur is not None and _JOINED.fullmatch(between):
            cur += m.group(1)
        else:
            if cur is not None:
                out.append(cur)
            cur = m.group(1)
        last_end = m.end()
    if cur is not None:
        out.append(cur)
    return out
