"""Direct / nginx / multistore on one machine, in one run.

Measures 1 GiB GET and PUT throughput (best of N), 4 KiB GET latency p50/p99 and requests/s
(wrk, fixed concurrency), proxy CPU per 4 KiB GET, and the gateway's peak RSS. Prints each as a
ratio to direct and to nginx. Timing is noisy on shared machines: read ratios, not absolutes.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from conftest import Proc, free_port, wait_http  # noqa: E402

KEY, SECRET = "BENCHBACKENDKEY", "BENCHBACKENDSECRET"
GW_KEY, GW_SECRET = "BENCHKEY", "BENCHSECRET"


def client(endpoint, key, secret):
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                        region_name="us-east-1",
                        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except (OSError, IndexError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def status_kb(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def curl(args):
    out = subprocess.run(["curl", "-s", "-f", "--noproxy", "*", *args], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def get_speed(url, runs):
    return max(curl(["-o", "/dev/null", "-w", "%{speed_download}", url]) for _ in range(runs)) / 1e6


def put_speed(url_fn, path, runs):
    return max(curl(["-o", "/dev/null", "-w", "%{speed_upload}", "-T", str(path), url_fn()]) for _ in range(runs)) / 1e6


def wrk(url, seconds, conns):
    out = subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout

    def ms(label):
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw errors on {url}:\n{out}")
    return {"p50": ms("50"), "p99": ms("99"), "rps": rps, "requests": reqs}


def start_seaweed(work):
    """SeaweedFS on 127.0.0.1 with a `bench` bucket: (process, endpoint, client)."""
    ids = work / "ids.json"
    ids.write_text('{"identities":[{"name":"admin","credentials":[{"accessKey":"%s","secretKey":"%s"}],'
                   '"actions":["Admin","Read","Write","List"]}]}' % (KEY, SECRET))
    (work / "weed").mkdir()
    p = {n: free_port(pair=True) for n in ("master", "volume", "filer", "s3", "webdav")}
    weed = Proc([shutil.which("weed"), "mini", f"-dir={work / 'weed'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                 f"-master.port={p['master']}", f"-volume.port={p['volume']}", f"-filer.port={p['filer']}",
                 f"-s3.port={p['s3']}", f"-webdav.port={p['webdav']}", "-admin.ui=false", f"-s3.config={ids}"],
                work / "weed.log")
    direct = f"http://127.0.0.1:{p['s3']}"
    wait_http(direct + "/", weed, timeout=90, ok=lambda r: r.status_code in (200, 403))
    backend = client(direct, KEY, SECRET)
    for _ in range(120):
        try:
            backend.create_bucket(Bucket="bench")
            break
        except Exception:
            time.sleep(0.5)
    return weed, direct, backend


def gateway_config(direct):
    """The gateway's config document (JSON for the native server and the Worker alike): a public
    `bench` bucket on SeaweedFS and one key (GW_KEY) that may read, write and list it."""
    return {
        "buckets": [{
            "name": "bench", "backend_type": "s3", "anonymous_access": True,
            "backend_options": {"endpoint": direct, "bucket_name": "bench", "region": "us-east-1",
                                "access_key_id": KEY, "secret_access_key": SECRET}}],
        "credentials": [{
            "access_key_id": GW_KEY, "secret_access_key": GW_SECRET, "principal_name": "bench",
            "allowed_scopes": [{"bucket": "*", "prefixes": [],
                                "actions": ["get_object", "head_object", "put_object", "delete_object",
                                            "list_bucket"]}]}],
    }


def start_gateway(work, direct, wrap=()):
    """multistore-server ($MULTISTORE_BIN) on 127.0.0.1 in front of `direct`: (process, url).
    `wrap` prefixes the command (e.g. taskset)."""
    port = free_port()
    cfg = work / "gateway.json"
    cfg.write_text(json.dumps(gateway_config(direct)))
    gw = Proc([*wrap, os.environ["MULTISTORE_BIN"], "--config", str(cfg), "--listen", f"127.0.0.1:{port}"],
              work / "gateway.log", env=dict(os.environ, RUST_LOG="multistore=warn"))
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/", gw)
    return gw, url


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="msbench-"))
    procs = []
    try:
        weed, direct, backend = start_seaweed(work)
        procs.append(weed)
        backend.put_object(Bucket="bench", Key="small", Body=os.urandom(4096))
        big = work / "big.bin"
        with open(big, "wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(args.size_mib):
                f.write(block)
        subprocess.run(["curl", "-s", "-f", "-o", "/dev/null", "-T", str(big),
                        backend.generate_presigned_url("put_object", Params={"Bucket": "bench", "Key": "big"})],
                       check=True)

        # nginx pass-through
        nport = free_port()
        (work / "nginx").mkdir()
        conf = work / "nginx.conf"
        conf.write_text(f"""
worker_processes 2;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {work}/nginx;
  proxy_temp_path {work}/nginx;
  upstream weed {{ server {direct.removeprefix('http://')}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{nport};
    client_max_body_size 0;
    location / {{
      proxy_pass http://weed;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_buffering off;
      proxy_request_buffering off;
    }}
  }}
}}
""")
        ngx = Proc(["nginx", "-c", str(conf), "-g", "daemon off;"], work / "nginx.log")
        procs.append(ngx)
        nginx_url = f"http://127.0.0.1:{nport}"
        wait_http(nginx_url + "/", ngx, ok=lambda r: r.status_code in (200, 403))
        via_nginx = client(nginx_url, KEY, SECRET)

        # multistore
        gw, gw_url = start_gateway(work, direct)
        procs.append(gw)
        via_gw = client(gw_url, GW_KEY, GW_SECRET)
        rss_start = status_kb(gw.p.pid, "VmRSS")

        def presign(c, method, key, expires=3600):
            return c.generate_presigned_url(method, Params={"Bucket": "bench", "Key": key}, ExpiresIn=expires)

        paths = {
            "direct": {"client": backend, "get": lambda k: presign(backend, "get_object", k)},
            "nginx": {"client": via_nginx, "get": lambda k: presign(via_nginx, "get_object", k)},
            "multistore": {"client": via_gw, "get": lambda k: f"{gw_url}/bench/{k}"},
        }
        nginx_pids = [ngx.p.pid] + [int(x) for x in subprocess.run(
            ["pgrep", "-P", str(ngx.p.pid)], capture_output=True, text=True).stdout.split()]
        proxy_pids = {"direct": [], "nginx": nginx_pids, "multistore": [gw.p.pid]}

        res = {name: {} for name in paths}
        for name, path in paths.items():
            print(f"  {name}: 1 GiB GET", flush=True)
            res[name]["get_mbs"] = get_speed(path["get"]("big"), args.runs)
            print(f"  {name}: 1 GiB PUT", flush=True)
            res[name]["put_mbs"] = put_speed(lambda c=path["client"]: presign(c, "put_object", f"up-{name}"),
                                             big, args.runs)
        rss_after_big = status_kb(gw.p.pid, "VmHWM")
        for name, path in paths.items():
            print(f"  {name}: 4 KiB GET x {args.connections} connections, {args.seconds}s", flush=True)
            url = path["get"]("small")
            wrk(url, 2, args.connections)  # warm-up: pools, caches
            before = cpu_seconds(proxy_pids[name])
            w = wrk(url, args.seconds, args.connections)
            cpu = cpu_seconds(proxy_pids[name]) - before
            w["cpu_us"] = cpu / w["requests"] * 1e6 if proxy_pids[name] else 0.0
            res[name].update(w)
        rss_peak = status_kb(gw.p.pid, "VmHWM")

        d, n, m = res["direct"], res["nginx"], res["multistore"]

        def row(label, key, fmt, better_high=True):
            r_d = m[key] / d[key] if d[key] else float("nan")
            r_n = m[key] / n[key] if n[key] else float("nan")
            print(f"{label:<28}{fmt.format(d[key]):>12}{fmt.format(n[key]):>12}{fmt.format(m[key]):>12}"
                  f"{r_d:>14.3f}{r_n:>14.3f}")

        print()
        print(f"{'metric':<28}{'direct':>12}{'nginx':>12}{'multistore':>12}{'ms/direct':>14}{'ms/nginx':>14}")
        row(f"{args.size_mib} MiB GET MB/s", "get_mbs", "{:.0f}")
        row(f"{args.size_mib} MiB PUT MB/s", "put_mbs", "{:.0f}")
        row("4 KiB GET p50 ms", "p50", "{:.3f}")
        row("4 KiB GET p99 ms", "p99", "{:.3f}")
        row("4 KiB GET req/s", "rps", "{:.0f}")
        print(f"{'proxy CPU us / 4 KiB GET':<28}{'-':>12}{n['cpu_us']:>12.1f}{m['cpu_us']:>12.1f}{'':>14}"
              f"{m['cpu_us'] / n['cpu_us'] if n['cpu_us'] else float('nan'):>14.3f}")
        print(f"multistore RSS: {rss_start / 1024:.1f} MiB at start, peak {rss_after_big / 1024:.1f} MiB after "
              f"the {args.size_mib} MiB transfers, peak {rss_peak / 1024:.1f} MiB at the end")
        print()
        checks = [
            ("GET throughput >= 0.97x direct", m["get_mbs"] >= 0.97 * d["get_mbs"]),
            ("PUT throughput >= 0.97x direct", m["put_mbs"] >= 0.97 * d["put_mbs"]),
            ("added p99 <= 1 ms over direct", m["p99"] - d["p99"] <= 1.0),
            ("RSS flat (peak < start + 64 MiB)", rss_peak < rss_start + 64 * 1024),
        ]
        for label, ok in checks:
            print(f"  [{'met' if ok else 'NOT met'}] {label}")
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
