# Times the `sessions` command through the real server (a WebSocket client in plain
# Python, no packages): six requests; the first is cold. Usage: sessions_ws.py PORT
# (server started with --no-auth on 127.0.0.1:PORT; see docs/PERFORMANCE.md).
import socket,base64,os,json,time,struct,sys
port=int(sys.argv[1])
def conn():
    s=socket.create_connection(("127.0.0.1",port))
    key=base64.b64encode(os.urandom(16)).decode()
    s.sendall(f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    buf=b""
    while b"\r\n\r\n" not in buf: buf+=s.recv(4096)
    return s, buf.split(b"\r\n\r\n",1)[1]
def send(s,txt):
    b=txt.encode(); mask=os.urandom(4); n=len(b)
    hdr=bytes([0x81, 0x80|n]) if n<126 else bytes([0x81,0x80|126])+struct.pack(">H",n)
    s.sendall(hdr+mask+bytes(c^mask[i%4] for i,c in enumerate(b)))
class R:
    def __init__(s,sock,buf): s.s=sock; s.b=buf
    def need(s,n):
        while len(s.b)<n: s.b+=s.s.recv(1<<16)
    def frame(s):
        s.need(2); op=s.b[0]&15; n=s.b[1]&127; off=2
        if n==126: s.need(4); n=struct.unpack(">H",s.b[2:4])[0]; off=4
        elif n==127: s.need(10); n=struct.unpack(">Q",s.b[2:10])[0]; off=10
        s.need(off+n); data=s.b[off:off+n]; s.b=s.b[off+n:]; return op,data
sock,rest=conn(); r=R(sock,rest)
times=[]
for i in range(6):
    t=time.time(); send(sock,json.dumps({"type":"command","command":"sessions"}))
    while True:
        op,d=r.frame()
        if op==1 and json.loads(d).get('type')=='sessions': break
    times.append((time.time()-t)*1000); n=len(json.loads(d)["items"])
print("items",n,"ms",["%.1f"%x for x in times])
