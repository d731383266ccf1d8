"""The server's settings file (/etc/pledges/pledges.env) is read twice, by two parsers: systemd's
`EnvironmentFile=` for the services, python-dotenv (`flask --env-file`) for `bin/flask`. They
agree only on plain values and on quoted ones without a backslash or `${`; elsewhere they
differ (a backslash, `${…}`, an unquoted `#` or space, a no-break space at the end), and a
command by hand would then use another password, or encrypt under another data key, than the
services. So `bin/flask` refuses such a file and says which line to change.

    python -m pledges.settings_file /etc/pledges/pledges.env
"""

import re
import sys
from pathlib import Path

_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)")
#: A value both read alike without quotes: no whitespace, `#`, `$`, quote or backslash.
_PLAIN = re.compile(r"""[^\s#$'"\\]*""")
#: A value both read alike in quotes: no backslash (an escape to one of them), no quote of the
#: same kind, no `${` (python-dotenv puts a variable there, even in single quotes).
_QUOTED = re.compile(r"'(?:[^'\\$]|\$(?!\{))*'" + r'|"(?:[^"\\$]|\$(?!\{))*"')
#: What systemd takes off a line's ends; any other whitespace (a no-break space pasted with a
#: secret) it keeps, and python-dotenv does not.
_ENDS = " \t\r"


def problems(text: str) -> list[str]:
    """One line per setting the two parsers would read differently, naming it, not its value
    (a secret)."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip(_ENDS)
        if not stripped:
            continue
        if stripped.startswith("#"):
            if stripped.endswith("\\"):  # systemd 252 reads the next line as more comment
                found.append(f"line {number}: a comment ending in a backslash")
            continue
        match = _ASSIGNMENT.fullmatch(stripped)
        if match is None:
            found.append(f"line {number}: not NAME=value (no spaces around =, no `export`)")
            continue
        name, value = match.groups()
        if _PLAIN.fullmatch(value) or _QUOTED.fullmatch(value):
            continue
        if "\\" in value or "${" in value:
            why = "has a backslash or ${, which systemd and bin/flask read differently"
            found.append(f"line {number}: {name} {why}: choose a value without")
        elif value.startswith("'"):
            found.append(f"line {number}: {name} has a single quote inside: use double quotes")
        else:
            found.append(f"line {number}: {name} needs single quotes around its value")
    return found


def main(path: str) -> int:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        print(f"bin/flask: cannot read {path}: {error.strerror}", file=sys.stderr)
        return 1
    except UnicodeDecodeError:
        print(f"bin/flask: {path} is not UTF-8 text", file=sys.stderr)
        return 1
    found = problems(text)
    for problem in found:
        print(f"{path}: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
