#!/usr/bin/env python3
# Sends one UDP datagram with a forged IPv4 source address (needs root / CAP_NET_RAW).
# usage: udp-spoof.py SRC_IP DST_IP DST_PORT MESSAGE
import socket, struct, sys
src, dst, port, msg = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].encode()
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
udp = struct.pack('!HHHH', 40000, port, 8 + len(msg), 0) + msg
pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack('!BBH', 0, 17, len(udp))
udp = udp[:6] + struct.pack('!H', csum(pseudo + udp)) + udp[8:]
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, socket.inet_aton(src), socket.inet_aton(dst))
ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.sendto(ip + udp, (dst, 0))
