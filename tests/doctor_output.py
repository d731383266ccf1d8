"""What `flask pledges doctor` printed, check by check."""


def doctor_lines(runner) -> tuple[int, dict[str, str]]:
    result = runner.invoke(args=["pledges", "doctor"])
    lines = {}
    for line in result.stdout.splitlines():
        if line[:2] in {"✓ ", "✗ "}:
            name, reason = line[2:].split(": ", 1)
            lines[name] = line[0] + " " + reason
    return result.exit_code, lines
