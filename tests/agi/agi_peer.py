"""A scripted Asterisk for FastAGI tests, written from res_agi's documented behaviour, not from
the hotline's client code (Python 3 stdlib only).

What Asterisk does on `AGI(agi://host:port/script?args,arg1,arg2)`, as modelled here:

* connects, writes the `agi_*` header block (`agi_network: yes`, `agi_network_script`,
  `agi_request`, `agi_channel`, `agi_uniqueid`, `agi_callerid`, ... `agi_arg_N`) and an empty
  line;
* reads one command per line; arguments are split on blanks, `"..."` groups and `\\` escapes
  the next character (res_agi.c `parse_args`);
* answers each command with one line `200 result=N[ (data)][ endpos=M]`, or `510 Invalid or
  unknown command`, or `511 Command Not Permitted on a dead channel or intercept routine`
  once the channel has hung up, or the multi-line `520-Invalid command syntax.  Proper usage
  follows:` ... `520 End of proper usage.` for bad arguments;
* when the caller hangs up, writes a bare `HANGUP` line (AGISIGHUP), fails the command in
  progress with `result=-1` and refuses later channel commands with 511; `HANGUP`, `VERBOSE`,
  `GET/SET VARIABLE` still work on the dead channel;
* `STREAM FILE f escape`: result = ASCII code of an escape key pressed, else 0; `endpos=`
  samples; `GET DATA f timeout max`: the keys (the `#` that ends entry is not included),
  `result= (timeout)` when none came in time; `WAIT FOR DIGIT ms`: ASCII code or 0;
  `RECORD FILE f fmt escape ms [BEEP] [s=N]`: writes `f.fmt` (here: a WAV file in the shared
  directory) and answers `(dtmf)`, `(timeout)` or `(hangup)` with `endpos=`;
* `EXEC Dial ...` runs the application; Dial sets `DIALSTATUS` and returns 0 (with `g`, when
  the called party hangs up) or -1 (caller hung up).
"""

from __future__ import annotations

import itertools
import os
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Callable

_sessions = itertools.count(1)
DEAD = "511 Command Not Permitted on a dead channel or intercept routine"
USAGE = (
    "520-Invalid command syntax.  Proper usage follows:\n"
    "Usage: {usage}\n"
    "520 End of proper usage."
)
# Commands res_agi runs on a dead channel.
DEAD_OK = {"HANGUP", "VERBOSE", "GET VARIABLE", "SET VARIABLE", "GET FULL VARIABLE", "NOOP"}


def parse_args(line: str) -> list[str]:
    """Splits a command line as res_agi.c parse_args does: blanks separate, double quotes
    group, a backslash takes the next character literally."""
    out: list[str] = []
    cur: list[str] = []
    quoted = False
    escaped = False
    started = False
    for ch in line:
        if escaped:
            cur.append(ch)
            escaped = False
            started = True
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
            started = True
        elif ch in " \t" and not quoted:
            if started:
                out.append("".join(cur))
                cur, started = [], False
        else:
            cur.append(ch)
            started = True
    if started:
        out.append("".join(cur))
    return out


def write_wav(path: str, seconds: float, rate: int = 8000) -> None:
    """An 8 kHz mono 16-bit PCM WAV as Asterisk's format_wav writes it (44-byte header)."""
    n = int(seconds * rate)
    data = b"".join(struct.pack("<h", ((i % 40) - 20) * 300) for i in range(n))
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    header += b"data" + struct.pack("<I", len(data))
    with open(path, "wb") as f:
        f.write(header + data)


@dataclass
class Caller:
    """What the person on the phone does, by sound name (`hotline/main_menu`)."""

    # GET DATA <sound> → keys typed ("" = none in time)
    keys: dict[str, str] = field(default_factory=dict)
    # STREAM FILE <sound> → the key pressed while it plays (barges in only if an escape key)
    barge: dict[str, str] = field(default_factory=dict)
    # WAIT FOR DIGIT: keys typed, in order
    typed: list[str] = field(default_factory=list)
    # RECORD FILE: seconds of speech to write, how it ends ("dtmf", "timeout", "hangup"),
    # and optional raw bytes instead of a WAV (0-byte / truncated files)
    record_seconds: float = 3.0
    record_end: str = "dtmf"
    record_bytes: bytes | None = None
    # hang up when the command with this 1-based index arrives ("HANGUP" line, result=-1)
    hangup_at: int | None = None
    # or close the socket instead of replying to that command
    close_at: int | None = None
    # hang up when a command naming this sound arrives (e.g. the hold announcement)
    hangup_on: str | None = None


class Asterisk:
    """One channel's FastAGI session against the hotline."""

    def __init__(
        self,
        addr: tuple[str, int],
        caller: Caller,
        *,
        script: str = "hotline?lang=zh",
        uniqueid: str | None = None,
        callerid: str = "13800138000",
        args: list[str] | None = None,
        shared_dirs: tuple[str, str] | None = None,
        dial: Callable[["Asterisk", list[str]], tuple[int, str]] | None = None,
        replies: dict[str, str] | None = None,
        timeout: float = 60.0,
    ):
        self.addr = addr
        self.caller = caller
        self.script = script
        # Asterisk's form: <start time>.<channel counter>, unique per session
        self.uniqueid = uniqueid or f"{int(time.time())}.{os.getpid() % 1000}{next(_sessions):06d}"
        self.callerid = callerid
        self.args = args or []
        # (directory as Asterisk sees it, the same directory here)
        self.shared_dirs = shared_dirs
        self.dial = dial
        # command name → a raw reply to send instead (e.g. a 520 block)
        self.replies = replies or {}
        self.timeout = timeout
        self.variables: dict[str, str] = {}
        self.commands: list[str] = []
        self.dead = False
        self.closed_by_hotline = False
        self.sock: socket.socket | None = None

    # ----------------------------------------------------------------------------------------
    def header(self) -> bytes:
        host, port = self.addr
        h = {
            "agi_network": "yes",
            "agi_network_script": self.script,
            "agi_request": f"agi://{host}:{port}/{self.script}",
            "agi_channel": "PJSIP/trunk-00000042",
            "agi_language": "en",
            "agi_type": "PJSIP",
            "agi_uniqueid": self.uniqueid,
            "agi_version": "20.5.0",
            "agi_callerid": self.callerid or "unknown",
            "agi_calleridname": "unknown",
            "agi_callingpres": "0",
            "agi_callingani2": "0",
            "agi_callington": "0",
            "agi_callingtns": "0",
            "agi_dnid": "112",
            "agi_rdnis": "unknown",
            "agi_context": "from-trunk",
            "agi_extension": "112",
            "agi_priority": "2",
            "agi_enhanced": "0.0",
            "agi_accountcode": "",
            "agi_threadid": "140071234567",
            "agi_some_future_key": "kept",
        }
        for i, a in enumerate(self.args, 1):
            h[f"agi_arg_{i}"] = a
        return "".join(f"{k}: {v}\n" for k, v in h.items()).encode() + b"\n"

    def send(self, line: str) -> None:
        assert self.sock is not None
        self.sock.sendall(line.encode() + b"\n")

    def run(self) -> "Asterisk":
        """Runs the session until the hotline hangs up or closes; returns self."""
        self.sock = socket.create_connection(self.addr, timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = self.sock.makefile("r", encoding="utf-8", newline="\n")
        self.sock.sendall(self.header())
        try:
            while True:
                line = f.readline()
                if not line:
                    self.closed_by_hotline = True
                    break
                line = line.rstrip("\n")
                self.commands.append(line)
                n = len(self.commands)
                if self.caller.close_at == n:
                    self.sock.close()
                    break
                on_sound = self.caller.hangup_on is not None and self.caller.hangup_on in parse_args(line)
                if (self.caller.hangup_at == n or on_sound) and not self.dead:
                    self.dead = True
                    self.send("HANGUP")
                    name = " ".join(parse_args(line)[:2]).upper()
                    if name.startswith("HANGUP"):
                        self.send("200 result=1")
                        break
                    self.send("200 result=-1 endpos=0" if self.is_channel_command(line) else self.reply(line))
                    continue
                reply = self.reply(line)
                self.send(reply)
                if parse_args(line)[:1] == ["HANGUP"]:
                    break
        except (OSError, socket.timeout):
            pass
        finally:
            try:
                self.sock.close()
            except OSError:
                pass
        return self

    @staticmethod
    def is_channel_command(line: str) -> bool:
        words = [w.upper() for w in parse_args(line)[:2]]
        return " ".join(words) not in DEAD_OK and words[:1] != ["VERBOSE"] and words[:1] != ["HANGUP"]

    def sounds(self, prefix: str = "STREAM FILE") -> list[str]:
        return [parse_args(c)[2] for c in self.commands if c.startswith(prefix)]

    # ----------------------------------------------------------------------------------------
    def reply(self, line: str) -> str:
        a = parse_args(line)
        if not a:
            return "510 Invalid or unknown command"
        cmd = a[0].upper()
        two = " ".join(w.upper() for w in a[:2])
        for k, raw in self.replies.items():
            if two == k or cmd == k:
                return raw
        if self.dead and two not in DEAD_OK and cmd not in DEAD_OK:
            return DEAD
        if cmd == "ANSWER":
            return "200 result=0"
        if cmd == "HANGUP":
            self.dead = True
            return "200 result=1"
        if cmd == "VERBOSE":
            return "200 result=1"
        if cmd == "NOOP":
            return "200 result=0"
        if two == "STREAM FILE":
            if len(a) < 4:
                return USAGE.format(usage="STREAM FILE <filename> <escape_digits> [<sample offset>]")
            key = self.caller.barge.get(a[2])
            if key and key in a[3]:
                return f"200 result={ord(key)} endpos=4000"
            return "200 result=0 endpos=16000"
        if two == "GET DATA":
            if len(a) < 3:
                return USAGE.format(usage="GET DATA <file to be streamed> [<timeout>] [<maxdigits>]")
            keys = self.caller.keys.get(a[2], "")
            maxd = int(a[4]) if len(a) > 4 else 1024
            if keys == "":
                return "200 result= (timeout)"
            # '#' ends entry and is not returned; max digits stops
            out = keys.split("#", 1)[0][:maxd]
            return f"200 result={out}"
        if two == "WAIT FOR":
            if self.caller.typed:
                return f"200 result={ord(self.caller.typed.pop(0))}"
            return "200 result=0"
        if two == "SAY DIGITS":
            return "200 result=0"
        if two == "SET VARIABLE":
            if len(a) < 4:
                return USAGE.format(usage="SET VARIABLE <variablename> <value>")
            self.variables[a[2]] = a[3]
            return "200 result=1"
        if two == "GET VARIABLE":
            v = self.variables.get(a[2])
            return "200 result=0" if v is None else f"200 result=1 ({v})"
        if two == "RECORD FILE":
            return self.record(a)
        if cmd == "EXEC":
            if len(a) >= 2 and a[1].lower() == "dial" and self.dial is not None:
                rc, status = self.dial(self, a[2:])
                self.variables["DIALSTATUS"] = status
                return f"200 result={rc}"
            return "200 result=0"
        return "510 Invalid or unknown command"

    def record(self, a: list[str]) -> str:
        if len(a) < 6:
            return USAGE.format(usage="RECORD FILE <filename> <format> <escape digits> <timeout> [<offset samples>] [BEEP] [s=<silence>]")
        path, fmt = a[2], a[3]
        if self.shared_dirs is not None:
            ast_dir, here = self.shared_dirs
            if not path.startswith(ast_dir + "/"):
                return "200 result=-1 (writefile)"
            path = here + path[len(ast_dir):]
        local = f"{path}.{fmt}"
        if self.caller.record_bytes is not None:
            with open(local, "wb") as f:
                f.write(self.caller.record_bytes)
        else:
            write_wav(local, self.caller.record_seconds)
        endpos = int(self.caller.record_seconds * 8000)
        if self.caller.record_end == "hangup":
            self.dead = True
            self.send("HANGUP")
            return f"200 result=-1 (hangup) endpos={endpos}"
        if self.caller.record_end == "dtmf":
            return f"200 result={ord('#')} (dtmf) endpos={endpos}"
        return f"200 result=0 (timeout) endpos={endpos}"


def answer_hook(addr: tuple[str, int], caller_uniqueid: str) -> Asterisk:
    """What `Dial(...,U(hotline-answered^${UNIQUEID}))` does when the agent answers: a
    Gosub on the agent's channel whose AGI is the hotline's `hotline-answered` script with the
    caller's unique id as its argument. Returns the session (its variables hold GOSUB_RESULT)."""
    return Asterisk(
        addr, Caller(), script="hotline-answered", uniqueid=f"{caller_uniqueid}-agent",
        callerid="", args=[caller_uniqueid], timeout=20,
    ).run()
