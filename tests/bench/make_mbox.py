#!/usr/bin/env python3
"""Writes an mbox of N generated fault-report e-mails (for tests/bench/intake-import.sh):
a third GBK base64, a third GB2312 quoted-printable, a third UTF-8 multipart with a small PDF
attachment; every message has its own Message-ID and Date."""
import base64, quopri, sys

def main(path, n):
    pdf = base64.b64encode(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n").decode()
    with open(path, "wb") as f:
        for i in range(n):
            num = "025-8%07d" % i
            minute = i % 60
            date = "Mon, 07 Dec 2026 %02d:%02d:00 +0800" % (8 + (i // 60) % 10, minute)
            head = "From bench@branch.example.cn Mon Dec  7 01:00:00 2026\n"
            hdr = f"From: bench{i % 17}@branch.example.cn\nTo: 112@hotline.example.cn\nDate: {date}\nMessage-ID: <bench-{i}@branch.example.cn>\nMIME-Version: 1.0\n"
            body = f"用户来电反映：小区突然停电后电话无音，号码 {num}，请尽快处理。\n"
            kind = i % 3
            if kind == 0:
                subj = base64.b64encode(f"转来障碍 {i}：电话无音".encode("gbk")).decode()
                msg = hdr + f"Subject: =?GBK?B?{subj}?=\nContent-Type: text/plain; charset=GBK\nContent-Transfer-Encoding: base64\n\n" + base64.encodebytes(body.encode("gbk")).decode()
            elif kind == 1:
                msg = hdr + f"Subject: =?GB2312?B?{base64.b64encode(f'电话杂音 {i}'.encode('gb2312')).decode()}?=\nContent-Type: text/plain; charset=gb2312\nContent-Transfer-Encoding: quoted-printable\n\n" + quopri.encodestring(body.encode("gb2312")).decode()
            else:
                msg = hdr + f"Subject: fax {i}\nContent-Type: multipart/mixed; boundary=\"b{i}\"\n\n--b{i}\nContent-Type: text/plain; charset=utf-8\n\n{body}--b{i}\nContent-Type: application/pdf; name=\"fax-{i}.pdf\"\nContent-Disposition: attachment; filename=\"fax-{i}.pdf\"\nContent-Transfer-Encoding: base64\n\n{pdf}\n--b{i}--\n"
            f.write(head.encode())
            f.write(msg.encode("ascii", "strict") if msg.isascii() else msg.encode("utf-8"))
            f.write(b"\n")

if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
