"""The app as gunicorn serves it, plus a hello-world route: the baseline bench.http compares
every page with (the same middleware, headers and gunicorn, and no work of ours)."""

from wsgi import app


@app.get("/_bench/hello")
def hello() -> str:
    return "hello"
