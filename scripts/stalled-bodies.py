#!/usr/bin/env python3
"""How long a fresh login waits with the connection cap full of stalled
bodies (issue 19): starts `passcard serve` (the binary given) on loopback
with --max-connections CAP, opens CAP connections that each send a login's
head (Content-Length: 100) and one byte of body, then times a fresh login,
giving up after LIMIT seconds. Prints one JSON line.

    cargo build -p passcard && \
      python3 scripts/stalled-bodies.py target/debug/passcard 1024 40 [SERVE FLAGS...]
"""
import json, os, shutil, socket, subprocess, sys, tempfile, time, urllib.request

binary, cap, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
extra = sys.argv[4:]
data = tempfile.mkdtemp()
env = {k: v for k, v in os.environ.items() if not k.startswith("PASSCARD_")}
proc = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data,
                         "--max-connections", str(cap), "--log", "info"] + extra,
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
addr = None
for line in proc.stdout:
    if "passcard listening" in line:
        addr = line.split("addr=")[1].split()[0]
        break
host, port = addr.rsplit(":", 1)
port = int(port)
def post(path, body):
    req = urllib.request.Request(f"http://{addr}{path}", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    return urllib.request.urlopen(req, timeout=limit + 5)
post("/v1/users", {"username": "alice", "password": "correct horse battery"})
stalled = []
opened = time.monotonic()
for _ in range(cap):
    s = socket.create_connection((host, port))
    s.sendall(b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
    stalled.append(s)
time.sleep(0.5)
start = time.monotonic()
fresh = socket.create_connection((host, port))
body = json.dumps({"username": "alice", "password": "correct horse battery"}).encode()
fresh.sendall(b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: "
              + str(len(body)).encode() + b"\r\n\r\n" + body)
fresh.settimeout(limit)
try:
    answer = fresh.recv(64)
    waited = time.monotonic() - start
    print(json.dumps({"cap": cap, "answered": answer.split(b"\r\n")[0].decode(), "waited_s": round(waited, 3), "since_first_stalled_s": round(time.monotonic() - opened, 3)}))
except socket.timeout:
    print(json.dumps({"cap": cap, "answered": None, "still_waiting_after_s": limit}))
proc.kill()
proc.wait()
shutil.rmtree(data, ignore_errors=True)
