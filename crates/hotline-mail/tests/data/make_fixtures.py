import base64, quopri, os, sys
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
def b64(s, enc): return base64.b64encode(s.encode(enc)).decode()
def wrap(s, n=76): return "\n".join(s[i:i+n] for i in range(0, len(s), n))
def hdr(s, enc): return "=?%s?B?%s?=" % (enc, b64(s, enc))

GBK_BODY = wrap(b64("用户来电反映：小区突然停电后电话无音，号码 025-84561234，请尽快处理。\n", "GBK"))
GB18030_BODY = wrap(b64("ADSL 掉线，𠀀村 3 号线路断线。\n", "GB18030"))
gbk_b64 = f"""From: {hdr("城东营业厅", "GBK")} <chengdong@branch.example.cn>
To: 112@hotline.example.cn
Subject: {hdr("转来障碍：小区突然停电后电话无音", "GBK")}
Date: Mon, 07 Dec 2026 09:00:00 +0800
Message-ID: <gbk-b64-0001@branch.example.cn>
MIME-Version: 1.0
Content-Type: text/plain; charset=GBK
Content-Transfer-Encoding: base64

{GBK_BODY}
"""

qp_body = quopri.encodestring("营业厅转来：电话杂音很大，户号 3200123，联系电话 13912345678。\n".encode("gb2312")).decode()
gb2312_qp = f"""From: {hdr("城西营业厅", "GB2312")} <chengxi@branch.example.cn>
To: 112@hotline.example.cn
Subject: =?GB2312?Q?{quopri.encodestring("电话杂音".encode("gb2312"), header=True).decode()}?=
Date: Mon, 07 Dec 2026 09:15:00 +0800
Message-ID: <gb2312-qp-0002@branch.example.cn>
MIME-Version: 1.0
Content-Type: text/plain; charset="gb2312"
Content-Transfer-Encoding: quoted-printable

{qp_body}"""

gb18030 = f"""From: fax-gateway@branch.example.cn
Subject: {hdr("断线 — 𠀀村 ADSL 掉线", "GB18030")}
Date: Mon, 07 Dec 2026 09:20:00 +0800
Message-ID: <gb18030-0003@branch.example.cn>
MIME-Version: 1.0
Content-Type: text/plain; charset=GB18030
Content-Transfer-Encoding: base64

{GB18030_BODY}
"""

pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
multipart = f"""From: =?UTF-8?B?{b64("资料室", "utf-8")}?= <archive@branch.example.cn>
Subject: =?UTF-8?B?{b64("传真扫描件：断线申告", "utf-8")}?=
Date: Mon, 07 Dec 2026 09:30:00 +0800
Message-ID: <multipart-0004@branch.example.cn>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="==b1=="

--==b1==
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

附件是传真扫描件，号码 025-83334444 断线。
--==b1==
Content-Type: application/pdf; name="fax-0930.pdf"
Content-Disposition: attachment; filename="fax-0930.pdf"
Content-Transfer-Encoding: base64

{wrap(base64.b64encode(pdf).decode())}
--==b1==--
"""

html_only = f"""From: web-form@branch.example.cn
Subject: HTML only
Date: Mon, 07 Dec 2026 09:40:00 +0800
Message-ID: <html-only-0005@branch.example.cn>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><body><p>号码 <b>025-86667777</b> 无拨号音</p><p>请派修</p></body></html>
"""

no_mid = f"""From: someone@branch.example.cn
Subject: no message id
Date: Mon, 07 Dec 2026 09:50:00 +0800
Content-Type: text/plain; charset=utf-8

没有 Message-ID 的邮件，按内容去重。
"""

broken = f"""From: broken@branch.example.cn
Subject: broken multipart
Date: Mon, 07 Dec 2026 10:00:00 +0800
Message-ID: <broken-0006@branch.example.cn>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="never-there"

This body claims to be multipart but no boundary line ever appears,
so there is no part to read.
"""

files = {
    "gbk_base64.eml": gbk_b64, "gb2312_qp.eml": gb2312_qp, "gb18030.eml": gb18030,
    "multipart_attachment.eml": multipart, "html_only.eml": html_only,
    "no_message_id.eml": no_mid, "broken_mime.eml": broken,
}
for name, text in files.items():
    open(os.path.join(out, "eml", name), "w", newline="\r\n").write(text) if False else None
os.makedirs(os.path.join(out, "eml"), exist_ok=True)
for name, text in files.items():
    with open(os.path.join(out, "eml", name), "wb") as f:
        f.write(text.replace("\n", "\r\n").encode("ascii") if text.isascii() else text.replace("\n", "\r\n").encode("utf-8"))
with open(os.path.join(out, "intake.mbox"), "wb") as f:
    for i, (name, text) in enumerate(files.items()):
        f.write(b"From MAILER-DAEMON Mon Dec  7 01:%02d:00 2026\n" % i)
        body = "\n".join((">" + l if l.startswith("From ") else l) for l in text.split("\n"))
        f.write(body.encode("utf-8"))
        f.write(b"\n")
