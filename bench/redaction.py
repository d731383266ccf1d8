"""How long redacting a log line takes, as it grows: what a visitor controls (a request's path,
up to gunicorn's 4 KB request line) is redacted several times per request, so the time must
grow with the line, not with its square.

    .venv/bin/python -m bench.redaction
"""

import time

from pledges.redaction import redact

#: Lines no address is in, each built to make a careless pattern read its run from every letter.
SHAPES = {
    "path of letters and dashes": lambda n: "/" + "a-" * (n // 2),
    "word in Cyrillic": lambda n: "ж" * n,
    "bytes escaped in a repr": lambda n: "b'" + "\\xd0\\xb6" * (n // 8) + "'",
    "letters then an @": lambda n: "a" * n + "@",
}
SIZES = (1_000, 4_000, 16_000)
RUNS = 20


def main() -> None:
    print(f"{'line':<28}" + "".join(f"{size:>10,} ch" for size in SIZES) + "   growth ×16")
    for name, build in SHAPES.items():
        times = []
        for size in SIZES:
            line = build(size)
            started = time.perf_counter()
            for _ in range(RUNS):
                redact(line)
            times.append((time.perf_counter() - started) / RUNS * 1000)
        cells = "".join(f"{ms:>10.2f} ms" for ms in times)
        print(f"{name:<28}{cells}   {times[-1] / times[0]:>8.1f}")


if __name__ == "__main__":
    main()
