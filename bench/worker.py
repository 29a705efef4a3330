"""The Worker's cost per request, in bare workerd (no wrangler proxy, no inspector), in one run.

Serves the exact bundle `wrangler deploy --dry-run` produced (build/dry-run) and a JavaScript
worker that only fetch()es the backend (the floor any Worker proxy pays), both in one workerd
process in front of SeaweedFS on 127.0.0.1, and measures for a 4 KiB GET: requests/s, p50/p99
(wrk) and workerd CPU per request (utime+stime from /proc over the run divided by requests).
Prints ratios to the JS pass-through and to direct. Never fails on timing.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from bench import cpu_seconds, gateway_config, start_seaweed, wrk  # noqa: E402
from conftest import Proc, free_port, wait_http  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PASSTHROUGH = """export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/local") {
      return new Response("<LocationConstraint/>", { headers: { "content-type": "application/xml" } });
    }
    return fetch(env.BACKEND + url.pathname + url.search, { method: request.method });
  },
};
"""


def start_workerd(work, config, backend=None, wrap=()):
    """Serves the bundle in build/dry-run (`wrangler deploy --dry-run`) with `config` (a config
    document) from a bare `workerd serve` on 127.0.0.1, and, when `backend` is given, the JS
    pass-through worker in front of it: (process, multistore port, pass-through port or None).
    `wrap` prefixes the command (e.g. taskset)."""
    dry = ROOT / "build" / "dry-run"
    wasm = next(dry.glob("*.wasm"))
    shutil.copy(dry / "shim.js", work / "shim.js")
    shutil.copy(wasm, work / wasm.name)
    (work / "passthrough.js").write_text(PASSTHROUGH)
    (work / "config.json").write_text(json.dumps(config))
    ms_port, pt_port = free_port(), free_port() if backend else None
    compat = next(line.split("=", 1)[1].strip().strip('"') for line in
                  (ROOT / "wrangler.toml").read_text().splitlines() if line.startswith("compatibility_date"))
    pt_service = '    (name = "passthrough", worker = .passthrough),\n' if backend else ""
    pt_socket = (f'    (name = "pt", address = "127.0.0.1:{pt_port}", http = (), service = "passthrough"),\n'
                 if backend else "")
    pt_worker = f"""const passthrough :Workerd.Worker = (
  modules = [(name = "passthrough.js", esModule = embed "passthrough.js")],
  compatibilityDate = "{compat}",
  bindings = [(name = "BACKEND", text = "{backend}")],
  globalOutbound = "internet",
);
""" if backend else ""
    (work / "workerd.capnp").write_text(f"""using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "multistore", worker = .multistore),
{pt_service}    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [
    (name = "ms", address = "127.0.0.1:{ms_port}", http = (), service = "multistore"),
{pt_socket}  ],
);
const multistore :Workerd.Worker = (
  modules = [
    (name = "shim.js", esModule = embed "shim.js"),
    (name = "{wasm.name}", wasm = embed "{wasm.name}"),
  ],
  compatibilityDate = "{compat}",
  bindings = [(name = "MULTISTORE_CONFIG", text = embed "config.json")],
  globalOutbound = "internet",
);
{pt_worker}""")
    workerd = ROOT / "node_modules" / "@cloudflare" / "workerd-linux-64" / "bin" / "workerd"
    wd = Proc([*wrap, str(workerd), "serve", str(work / "workerd.capnp")], work / "workerd.log")
    return wd, ms_port, pt_port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()
    dry = ROOT / "build" / "dry-run"
    wasm = next(dry.glob("*.wasm"))
    work = Path(tempfile.mkdtemp(prefix="msworker-"))
    procs = []
    try:
        weed, direct, backend = start_seaweed(work)
        procs.append(weed)
        backend.put_object(Bucket="bench", Key="small", Body=os.urandom(4096))

        wd, ms_port, pt_port = start_workerd(work, gateway_config(direct), direct)
        procs.append(wd)
        ms_url = f"http://127.0.0.1:{ms_port}/bench/small"
        wait_http(ms_url, wd, timeout=60, ok=lambda r: r.status_code == 200)
        presigned = backend.generate_presigned_url("get_object", Params={"Bucket": "bench", "Key": "small"},
                                                   ExpiresIn=3600)
        pt_url = f"http://127.0.0.1:{pt_port}" + presigned[len(direct):]
        wait_http(pt_url, wd, timeout=30, ok=lambda r: r.status_code == 200)

        res = {}
        local_url = f"http://127.0.0.1:{ms_port}/bench?location"
        for name, url, pids in (("direct", presigned, []), ("js-passthrough", pt_url, [wd.p.pid]),
                                ("multistore", ms_url, [wd.p.pid]), ("local", local_url, [wd.p.pid]),
                                ("js-local", f"http://127.0.0.1:{pt_port}/local", [wd.p.pid])):
            wrk(url, 2, args.connections)  # warm-up
            c0 = cpu_seconds(pids)
            r = wrk(url, args.seconds, args.connections)
            r["cpu_us"] = (cpu_seconds(pids) - c0) / r["requests"] * 1e6 if pids else 0.0
            res[name] = r
        d, j, m = res["direct"], res["js-passthrough"], res["multistore"]
        print(f"\nWorker bundle: {wasm.stat().st_size} bytes wasm, "
              f"{(dry / 'shim.js').stat().st_size} bytes JS (bare workerd, 4 KiB GET, "
              f"{args.connections} connections, {args.seconds} s)")
        print(f"{'metric':<26}{'direct':>10}{'js-pass':>10}{'multistore':>12}{'ms/js':>8}{'ms/direct':>11}")
        for label, key in (("p50 ms", "p50"), ("p99 ms", "p99"), ("req/s", "rps")):
            print(f"{label:<26}{d[key]:>10.2f}{j[key]:>10.2f}{m[key]:>12.2f}"
                  f"{m[key] / j[key]:>8.2f}{m[key] / d[key]:>11.2f}")
        print(f"{'workerd CPU us/request':<26}{'-':>10}{j['cpu_us']:>10.0f}{m['cpu_us']:>12.0f}"
              f"{m['cpu_us'] / j['cpu_us']:>8.2f}{'-':>11}")
        print(f"multistore's own CPU per request: {m['cpu_us'] - j['cpu_us']:.0f} us "
              f"(the free plan allows 10 ms); a request it answers itself (GetBucketLocation, no "
              f"backend fetch): {res['local']['cpu_us']:.0f} us, {res['local']['rps']:.0f} req/s, against "
              f"{res['js-local']['cpu_us']:.0f} us, {res['js-local']['rps']:.0f} req/s for a JS worker "
              f"returning a constant")
    finally:
        for pr in reversed(procs):
            pr.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
