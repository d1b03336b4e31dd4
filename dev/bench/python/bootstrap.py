"""A Lambda runtime loop for handler.py, as the Python runtime's own bootstrap runs it: import the
handler (the init phase), then poll the Runtime API for events, call the handler, post its answer.
"""
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import handler  # noqa: E402  (the init phase: clients are made here)

API = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation"


def main():
    while True:
        with urllib.request.urlopen(f"{API}/next") as r:
            request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(r.read())
        try:
            result, kind = handler.handler(event, None), "response"
        except Exception as e:  # the runtime reports a handler error the same way
            result, kind = {"errorMessage": str(e), "errorType": type(e).__name__}, "error"
        req = urllib.request.Request(f"{API}/{request_id}/{kind}", data=json.dumps(result).encode(), method="POST")
        urllib.request.urlopen(req).read()


if __name__ == "__main__":
    main()
