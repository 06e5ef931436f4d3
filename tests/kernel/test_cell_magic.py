"""`%%job` in a real kernel: live output, variables both ways, failures, cancel, detach and re-attach."""

from __future__ import annotations

import base64
import re
import time

import pytest


def test_stream_html_and_png_arrive_while_the_job_runs(kernel, client):
    seen = {}

    def on_message(msg):
        if msg["msg_type"] == "stream" and "first line" in msg["content"].get("text", "") and "first" not in seen:
            seen["first"] = msg["received_at"]
            seen["status_then"] = client.list(limit=1)[0].status

    code = """%%job --name live
import time
import matplotlib.pyplot as plt
from IPython.display import HTML, display
print("first line", flush=True)
display(HTML("<b>bold move</b>"))
plt.plot([1, 2, 3], [1, 4, 9])
plt.show()
time.sleep(3)
print("second line")
{"answer": 42}
"""
    reply = kernel.ok(code, on_message=on_message)
    run = client.list(limit=1)[0]
    assert run.status == "SUCCEEDED", run
    assert reply.text() == "first line\nsecond line\n"
    assert [m["content"]["text"] for m in reply.of_type("stream")] == ["first line\n", "second line\n"]
    # the first line was in the cell while the job still ran, seconds before it ended
    assert seen["status_then"] == "RUNNING"
    assert run.finished_at - seen["first"] > 2.0

    displays = [m for m in reply.of_type("display_data") if "job <code>" not in
                m["content"]["data"].get("text/html", "")]
    html = [m for m in displays if "text/html" in m["content"]["data"]]
    png = [m for m in displays if "image/png" in m["content"]["data"]]
    assert "<b>bold move</b>" in html[0]["content"]["data"]["text/html"]
    assert base64.b64decode(png[0]["content"]["data"]["image/png"]).startswith(b"\x89PNG")
    # the cell's value comes back as a rich output too
    assert any("'answer': 42" in m["content"]["data"].get("text/plain", "") for m in displays)
    # in order: first line, HTML, plot, then (after the sleep) the second line
    order = [("stream:" + m["content"]["text"].split()[0]) if m["msg_type"] == "stream" and m["content"]["text"].strip()
             else None if m["msg_type"] == "stream"
             else "html" if "text/html" in m["content"]["data"] and "bold" in m["content"]["data"]["text/html"]
             else "png" if "image/png" in m["content"]["data"] else None
             for m in reply.messages if m["msg_type"] in ("stream", "display_data")]
    order = [o for o in order if o]
    assert order == ["stream:first", "html", "png", "stream:second"], order
    # the status line is one display updated in place, ending with the final status
    updates = reply.of_type("update_display_data")
    assert updates and "SUCCEEDED" in updates[-1]["content"]["data"]["text/html"]


def test_in_and_out_variables_keep_their_types(kernel):
    kernel.ok("""
import numpy as np
import pandas as pd
n = 41
config = {"lr": 0.1, "layers": [64, 32]}
arr = np.arange(12, dtype="float32").reshape(3, 4)
df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
unused = "not sent"
""")
    kernel.ok("""%%job --in n,config --out n2,config2,arr2,df2
n2 = n + 1
config2 = dict(config, lr=config["lr"] * 2)
arr2 = arr * 2            # `arr` and `df` are read by the cell: sent without --in
df2 = df.assign(c=df.a * 10)
""")
    assert kernel.value("n2") == 42
    assert kernel.value("config2") == {"lr": 0.2, "layers": [64, 32]}
    assert kernel.value("(type(arr2).__name__, str(arr2.dtype), arr2.shape, float(arr2.sum()))") == (
        "ndarray", "float32", (3, 4), 132.0)
    assert kernel.value("(type(df2).__name__, list(df2.columns), df2.c.tolist(), df2.b.tolist())") == (
        "DataFrame", ["a", "b", "c"], [10, 20, 30], ["x", "y", "z"])


def test_a_large_variable_is_not_sent_by_accident(kernel):
    kernel.ok("import numpy as np\nbig = np.zeros(30_000_000, dtype='uint8')")
    reply = kernel.execute("%%job\nprint(big.sum())")
    assert reply.status == "error"
    assert "big" in reply.content["evalue"] and "30.0 MB" in reply.content["evalue"]
    assert "--in big" in reply.content["evalue"]


def test_remote_exception_fails_the_cell(kernel, client):
    reply = kernel.execute("%%job\nx = 1\n1 / 0\n")
    assert reply.status == "error"
    assert reply.content["ename"] == "JobFailed"
    assert "ZeroDivisionError: division by zero" in reply.content["evalue"]
    tb = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(reply.content["traceback"]))
    assert "ZeroDivisionError" in tb and "1 / 0" in tb, tb
    assert "jupyter_jobs" not in tb  # no local frames of the magic
    run = client.list(limit=1)[0]
    assert run.status == "FAILED" and run.error == "ZeroDivisionError: division by zero"


def test_interrupt_cancels_the_job(kernel, client):
    msg_id = kernel.kc.execute("%%job\nimport time\nprint('sleeping', flush=True)\ntime.sleep(60)\n")
    deadline = time.time() + 120
    while time.time() < deadline:
        runs = client.list(limit=1)
        if runs and runs[0].status == "RUNNING" and "sleeping" in client.logs(runs[0].id, "stdout"):
            break
        time.sleep(0.2)
    else:
        pytest.fail("the job did not start")
    kernel.km.interrupt_kernel()
    reply = kernel.kc.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kernel.kc.get_shell_msg(timeout=60)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "JobCancelled"
    assert "interrupt" in reply["content"]["evalue"]
    run = client.get(runs[0].id)
    assert run.status == "CANCELLED"
    assert run.duration < 30


def test_no_wait_then_attach_and_result(kernel, client):
    kernel.ok("base = 10")
    reply = kernel.ok("%%job --no-wait --out total\nimport time\nprint('working', flush=True)\n"
                      "time.sleep(1)\ntotal = base + 5\n")
    html = [m for m in reply.of_type("display_data") if "text/html" in m["content"]["data"]]
    assert "%job attach" in html[-1]["content"]["data"]["text/html"]
    run_id = client.list(limit=1)[0].id
    assert run_id in html[-1]["content"]["data"]["text/html"]
    assert kernel.value("'total' in globals()") is False

    attached = kernel.ok(f"%job attach {run_id}")
    assert "working" in attached.text()
    assert client.get(run_id).status == "SUCCEEDED"

    kernel.ok("del total")
    result = kernel.ok(f"%job result {run_id}")
    assert "total (int)" in result.text()
    assert kernel.value("total") == 15

    listed = kernel.ok("%job list")
    assert run_id in str(listed.of_type("execute_result")[0]["content"]["data"])
    logs = kernel.ok(f"%job logs {run_id}")
    assert "working" in logs.text()


def test_inputs_and_outputs_files_relative_to_the_kernel_cwd(kernel):
    (kernel.cwd / "data.txt").write_text("3\n4\n")
    kernel.ok("%%job --inputs data.txt --outputs result.txt\n"
              "nums = [int(x) for x in open('data.txt')]\n"
              "open('result.txt', 'w').write(str(sum(nums)))\n")
    assert (kernel.cwd / "result.txt").read_text() == "7"


def test_display_updates_and_clear_output_follow_the_job(kernel, client):
    reply = kernel.ok("%%job\nimport time\nfrom IPython.display import HTML, display, clear_output\n"
                      "h = display(HTML('<i>step 0</i>'), display_id=True)\n"
                      "for i in range(1, 3):\n    time.sleep(0.2)\n    h.update(HTML(f'<i>step {i}</i>'))\n"
                      "print('gone soon')\nclear_output()\nprint('after clear')\n")
    run_id = client.list(limit=1)[0].id
    shown = [m for m in reply.of_type("display_data") if "step" in m["content"]["data"].get("text/html", "")]
    assert shown and shown[0]["content"]["transient"]["display_id"].startswith(run_id)
    updates = [m for m in reply.of_type("update_display_data") if "step" in m["content"]["data"].get("text/html", "")]
    assert [m["content"]["data"]["text/html"] for m in updates] == ["<i>step 1</i>", "<i>step 2</i>"]
    assert updates[0]["content"]["transient"] == shown[0]["content"]["transient"]
    # In order: the text printed before clear_output, the clear, then only what came after it (the
    # stream may arrive in more than one message, depending on how the runner's reads were cut).
    flow = [m for m in reply.messages if m["msg_type"] in ("clear_output", "stream")]
    cleared = [i for i, m in enumerate(flow) if m["msg_type"] == "clear_output"]
    assert len(cleared) == 1
    before = "".join(m["content"]["text"] for m in flow[:cleared[0]] if m["msg_type"] == "stream")
    after = "".join(m["content"]["text"] for m in flow[cleared[0] + 1:] if m["msg_type"] == "stream")
    assert "gone soon" in before and after.endswith("after clear\n") and "gone soon" not in after
