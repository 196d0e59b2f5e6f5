#!/usr/bin/env python3
"""podvisor benchmarks (measured, never asserted). Prints a table.

  python3 bench/bench.py [--podvisor target/release/podvisor] [--runs 10] [--pods 100]

1. run -> Running: time from starting `podvisor run` to the container's entrypoint writing a
   timestamp, for a one-container pod (median / p90 over --runs).
2. RSS with N idle pods: the supervisor's VmRSS once all N pods run, and the sum over the
   per-container monitors (shims).
"""
import argparse, os, signal, statistics, subprocess, sys, tempfile, time

def one_container(marker):
    return f"""apiVersion: v1
kind: Pod
metadata: {{name: bench}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: ['sh', '-c', 'date +%s.%N > {marker}; exec sleep 600']
"""

def idle_pods(n):
    docs = []
    for i in range(n):
        docs.append(f"""apiVersion: v1
kind: Pod
metadata: {{name: idle-{i}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: app, image: busybox, command: ['sleep', '3600']}}
""")
    return "---\n".join(docs)

def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

def children(pid):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(p))
        except OSError:
            pass
    return out

def bench_startup(bin, runs):
    samples = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as d:
            marker = os.path.join(d, "started")
            manifest = os.path.join(d, "pod.yaml")
            with open(manifest, "w") as f:
                f.write(one_container(marker))
            t0 = time.time()
            p = subprocess.Popen([bin, "run", "-f", manifest, "--state-dir", os.path.join(d, "state"), "--grace-period", "0"],
                                 stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            deadline = time.time() + 20
            while not (os.path.exists(marker) and os.path.getsize(marker) > 0) and time.time() < deadline:
                time.sleep(0.001)
            with open(marker) as f:
                started = float(f.read().strip())
            samples.append((started - t0) * 1000)
            p.send_signal(signal.SIGINT)
            p.wait(timeout=30)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9) - 1 if len(samples) > 1 else 0]

def bench_rss(bin, n):
    with tempfile.TemporaryDirectory() as d:
        manifest = os.path.join(d, "pods.yaml")
        with open(manifest, "w") as f:
            f.write(idle_pods(n))
        p = subprocess.Popen([bin, "run", "--no-color", "-f", manifest, "--state-dir", os.path.join(d, "state")],
                             stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        started = 0
        t0 = time.time()
        while started < n and time.time() - t0 < 120:
            line = p.stderr.readline()
            if not line:
                break
            if " started" in line:
                started += 1
        took = time.time() - t0
        time.sleep(1)
        sup = rss_kib(p.pid)
        shims = children(p.pid)
        shim_rss = sum(rss_kib(c) for c in shims)
        shim_pss = sum(pss_kib(c) for c in shims)
        p.send_signal(signal.SIGINT)
        p.stderr.close()
        p.wait(timeout=120)
        return started, took, sup, len(shims), shim_rss, shim_pss

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--podvisor", default="target/release/podvisor")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--pods", type=int, default=100)
    a = ap.parse_args()
    if not os.path.exists(a.podvisor):
        subprocess.check_call(["cargo", "build", "--release", "-p", "podvisor"])
    med, p90 = bench_startup(a.podvisor, a.runs)
    started, took, sup, nshims, shim_rss, shim_pss = bench_rss(a.podvisor, a.pods)
    rows = [
        ("run -> container running (1 pod), median", f"{med:.1f} ms"),
        ("run -> container running (1 pod), p90", f"{p90:.1f} ms"),
        (f"time to start {a.pods} idle pods", f"{took:.2f} s ({started} started)"),
        (f"supervisor RSS with {a.pods} idle pods", f"{sup / 1024:.1f} MiB"),
        (f"monitor (shim) processes / total RSS / total PSS", f"{nshims} / {shim_rss / 1024:.1f} MiB / {shim_pss / 1024:.1f} MiB"),
    ]
    w = max(len(r[0]) for r in rows)
    print(f"{'metric':<{w}}  value")
    print(f"{'-' * w}  -----")
    for k, v in rows:
        print(f"{k:<{w}}  {v}")

if __name__ == "__main__":
    sys.exit(main())
