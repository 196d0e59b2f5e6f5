#!/usr/bin/env python3
"""API benchmarks against `podvisor serve` with the real kubectl (measured, never asserted).

  python3 bench/api_bench.py [--podvisor target/release/podvisor] [--pods 500]

1. `kubectl get pods` wall time with N pods running (median of 5; includes kubectl's own start).
2. watch latency: time from a container's exit (timestamp it writes just before exiting) to the
   `kubectl get pods -w` line showing it.
"""
import argparse, os, signal, statistics, subprocess, tempfile, time

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--podvisor", default="target/release/podvisor")
    ap.add_argument("--pods", type=int, default=500)
    a = ap.parse_args()
    d = tempfile.mkdtemp()
    env = dict(os.environ, HOME=d, KUBECACHEDIR=os.path.join(d, "cache"), KUBECONFIG=os.path.join(d, "state", "kubeconfig"))
    srv = subprocess.Popen([a.podvisor, "serve", "--listen", "127.0.0.1:0", "--state-dir", os.path.join(d, "state")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not os.path.exists(env["KUBECONFIG"]):
            time.sleep(0.02)
        docs = [f"apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}}}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - {{name: c, image: busybox, command: [sleep, '3600']}}\n" for i in range(a.pods)]
        f = os.path.join(d, "pods.yaml")
        with open(f, "w") as fh:
            fh.write("---\n".join(docs))
        t0 = time.time()
        subprocess.run(["kubectl", "create", "-f", f], env=env, check=True, stdout=subprocess.DEVNULL)
        created = time.time() - t0
        while True:
            out = subprocess.run(["kubectl", "get", "pods", "--no-headers"], env=env, capture_output=True, text=True).stdout
            if out.count("Running") >= a.pods:
                break
            time.sleep(0.5)
        running = time.time() - t0
        samples = []
        for _ in range(5):
            t = time.time()
            subprocess.run(["kubectl", "get", "pods"], env=env, check=True, stdout=subprocess.DEVNULL)
            samples.append((time.time() - t) * 1000)
        t = time.time()
        subprocess.run(["kubectl", "version"], env=env, check=True, stdout=subprocess.DEVNULL)
        baseline = (time.time() - t) * 1000

        marker = os.path.join(d, "exit")
        w = subprocess.Popen(["kubectl", "get", "pods", "-w", "--no-headers"], env=env, stdout=subprocess.PIPE, text=True)
        time.sleep(1)
        pod = f"apiVersion: v1\nkind: Pod\nmetadata: {{name: quitter}}\nspec:\n  restartPolicy: Never\n  containers:\n  - {{name: c, image: busybox, command: [sh, -c, 'sleep 1; date +%s.%N > {marker}']}}\n"
        pf = os.path.join(d, "quitter.yaml")
        with open(pf, "w") as fh:
            fh.write(pod)
        subprocess.run(["kubectl", "create", "-f", pf], env=env, check=True, stdout=subprocess.DEVNULL)
        seen = None
        for line in w.stdout:
            if line.startswith("quitter") and "Completed" in line:
                seen = time.time()
                break
        w.send_signal(signal.SIGTERM)
        exited = float(open(marker).read())
        rows = [
            (f"kubectl create {a.pods} pods", f"{created:.2f} s (all Running after {running:.1f} s)"),
            (f"kubectl get pods with {a.pods} pods, median of 5", f"{statistics.median(samples):.0f} ms"),
            ("kubectl version (kubectl start-up baseline)", f"{baseline:.0f} ms"),
            ("container exit -> kubectl get -w line", f"{(seen - exited) * 1000:.0f} ms"),
        ]
        wd = max(len(r[0]) for r in rows)
        print(f"{'metric':<{wd}}  value\n{'-' * wd}  -----")
        for k, v in rows:
            print(f"{k:<{wd}}  {v}")
    finally:
        srv.send_signal(signal.SIGINT)
        try:
            srv.wait(timeout=120)
        except subprocess.TimeoutExpired:
            srv.kill()

if __name__ == "__main__":
    main()
