"""The server's settings file (/etc/pledges/pledges.env) is read twice, by two parsers: systemd's
`EnvironmentFile=` for the services, python-dotenv (`flask --env-file`) for `bin/flask`. They
agree only on plain values and on single-quoted ones without a backslash or a quote inside;
elsewhere they differ (a backslash, `${…}`, an unquoted `#` or space), and a command by hand
would then use another password, or encrypt under another data key, than the services. So
`bin/flask` refuses such a file and says which line to change.

    python -m pledges.settings_file /etc/pledges/pledges.env
"""

import re
import sys
from pathlib import Path

_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)")
#: A value both read alike without quotes: no space, `#`, `$`, quote or backslash.
_PLAIN = re.compile(r"""[^\s#$'"\\]*""")
#: A value both read alike in single quotes: anything but a quote or a backslash.
_SINGLE_QUOTED = re.compile(r"'[^'\\]*'")


def problems(text: str) -> list[str]:
    """One line per setting the two parsers would read differently, naming it, not its value
    (a secret)."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _ASSIGNMENT.fullmatch(stripped)
        if match is None:
            found.append(f"line {number}: not NAME=value")
            continue
        name, value = match.groups()
        if _PLAIN.fullmatch(value) or _SINGLE_QUOTED.fullmatch(value):
            continue
        quoted = len(value) >= 2 and value[0] == value[-1] == "'"
        inside = value[1:-1] if quoted else value
        if "\\" in inside or "'" in inside:
            why = "has a backslash or a single quote, which systemd and bin/flask read differently"
            found.append(f"line {number}: {name} {why}: choose a value without")
        else:
            found.append(f"line {number}: {name} needs single quotes around its value")
    return found


def main(path: str) -> int:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        print(f"bin/flask: cannot read {path}: {error.strerror}", file=sys.stderr)
        return 1
    found = problems(text)
    for problem in found:
        print(f"{path}: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
