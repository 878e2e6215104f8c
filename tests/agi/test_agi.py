"""The FastAGI front end driven by a scripted Asterisk (agi_peer.py) against the real
`hotline serve`: the IVR's flows over AGI create the same tickets as over SIP, voicemail via
RECORD FILE into the shared directory, the agent queue via EXEC Dial + DIALSTATUS, hang-ups at
every step, and input that must end one session without harming the others."""

from __future__ import annotations

import concurrent.futures
import itertools
import re
import socket
import subprocess
import threading
import time

import pytest

from agi_peer import Asterisk, Caller, answer_hook, parse_args
from conftest import ASTERISK_VM_DIR, COMMAND_TIMEOUT_MS, HEADER_TIMEOUT_MS

_numbers = itertools.count(1)


def new_number() -> str:
    """A fresh faulty number per scenario (tickets are looked up by it)."""
    return f"0571{int(time.time()) % 10000:04d}{next(_numbers):04d}"


def report_caller(number: str, fault: str = "2") -> Caller:
    return Caller(keys={
        "hotline/main_menu": "1",
        "hotline/enter_number": number + "#",
        "hotline/confirm_number": "1",
        "hotline/fault_type_menu": fault,
    })


def call(server, caller: Caller, **kw) -> Asterisk:
    kw.setdefault("shared_dirs", (ASTERISK_VM_DIR, str(server.voicemail_dir)))
    return Asterisk(server.agi, caller, **kw).run()


def read_back_ticket(a: Asterisk) -> str:
    """The ticket number the IVR read back: the digit prompts after report_accepted."""
    s = a.sounds()
    i = s.index("hotline/report_accepted")
    digits = ""
    for name in s[i + 1:]:
        m = re.fullmatch(r"hotline/digit_(\d)", name)
        if not m:
            break
        digits += m.group(1)
    return digits


def wait_log(server, pattern: str, count: int = 1, timeout: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        found = re.findall(pattern, server.log())
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def assert_alive(server, admin, core):
    """Another, normal session still works: the server and its other sessions go on."""
    number = new_number()
    a = call(server, report_caller(number))
    assert a.commands[-1] == "HANGUP", a.commands
    assert len(core.tickets(admin, number)) == 1


# --------------------------------------------------------------------------------------------
def test_fault_report_via_get_data(server, core, admin):
    number = new_number()
    a = call(server, report_caller(number, fault="2"), callerid="13912345678")
    cmds = a.commands
    assert cmds[0] == "SET VARIABLE CHANNEL(language) zh", "our sounds are under sounds/zh/"
    assert cmds[1] == "ANSWER"
    assert "STREAM FILE hotline/welcome 0123456789*#" in cmds, "prompts barge in on any key"
    gets = [c for c in cmds if c.startswith("GET DATA")]
    assert [parse_args(c)[2] for c in gets] == [
        "hotline/main_menu", "hotline/enter_number", "hotline/confirm_number", "hotline/fault_type_menu"]
    assert parse_args(gets[1])[4] == "21", "one key more than the longest number"
    # the number read back digit by digit, leading zero kept
    s = a.sounds()
    i = s.index("hotline/number_read_back")
    assert s[i + 1:i + 1 + len(number)] == [f"hotline/digit_{d}" for d in number]
    assert cmds[-1] == "HANGUP"
    tickets = core.tickets(admin, number)
    assert len(tickets) == 1
    t = tickets[0]
    assert (t.faulty_number, t.fault_type, t.channel, t.contact_number) == (number, "noise", "ivr", "13912345678")
    assert read_back_ticket(a) == str(t.id)
    assert "hotline/thanks_goodbye" in s


def test_progress_query(server, core, admin):
    number = new_number()
    call(server, report_caller(number))
    a = call(server, Caller(keys={"hotline/main_menu": "2", "hotline/query_number": number + "#"}))
    s = a.sounds()
    assert "hotline/progress_intro" in s and "hotline/progress_accepted" in s, s
    assert "hotline/progress_limit" in s and "hotline/hours" in s, "the repair limit is said while open"
    assert a.commands[-1] == "HANGUP"
    # a number with no ticket
    a = call(server, Caller(keys={"hotline/main_menu": "2", "hotline/query_number": new_number() + "#"}))
    assert "hotline/progress_none" in a.sounds()


def test_caller_own_number_with_hash_alone_and_unknown_caller_id(server, core, admin):
    own = "0571" + str(int(time.time()))[-7:]
    caller = report_caller("", fault="1")
    a = call(server, caller, callerid=own)
    t = core.tickets(admin, own)
    assert len(t) == 1 and t[0].contact_number == own, a.commands
    # an `unknown` caller id is withheld: `#` alone is then not a valid number
    a = call(server, Caller(keys={"hotline/main_menu": "2", "hotline/query_number": "#"}), callerid="")
    assert "hotline/invalid_number" in a.sounds()


def test_barge_in_key_during_the_menu_is_taken(server, core, admin):
    number = new_number()
    caller = report_caller(number)
    caller.barge = {"hotline/welcome": "1"}  # pressed during the welcome: the menu is skipped
    a = call(server, caller)
    assert "hotline/main_menu" not in [parse_args(c)[2] for c in a.commands if c.startswith("GET DATA")]
    assert len(core.tickets(admin, number)) == 1


def voicemails(core, admin):
    return list(core.call("VoicemailService", "ListVoicemails", admin, page_size=100).voicemails)


def test_voicemail_via_record_file_in_the_shared_directory(server, core, admin):
    a = call(server, Caller(keys={"hotline/main_menu": "3"}, record_seconds=3.0, record_end="dtmf"),
             uniqueid="1733500000.101")
    rec = [c for c in a.commands if c.startswith("RECORD FILE")]
    assert rec == [f"RECORD FILE {ASTERISK_VM_DIR}/1733500000.101 wav # 120000 s=5"], a.commands
    assert (server.voicemail_dir / "1733500000.101.wav").is_file()
    cmds = a.commands
    assert cmds.index('STREAM FILE hotline/beep ""') < cmds.index(rec[0]), "the beep, then the recording"
    assert "hotline/voicemail_saved" in a.sounds()
    v = [v for v in voicemails(core, admin) if v.call_id == "1733500000.101"]
    assert len(v) == 1 and v[0].caller_id == "13800138000" and 2900 <= v[0].duration_ms <= 3100, v


def test_voicemail_ended_by_hanging_up_is_kept(server, core, admin):
    a = call(server, Caller(keys={"hotline/main_menu": "3"}, record_seconds=4.0, record_end="hangup"),
             uniqueid="1733500000.102")
    assert "hotline/voicemail_saved" not in a.sounds()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not [v for v in voicemails(core, admin) if v.call_id == "1733500000.102"]:
        time.sleep(0.1)
    assert [v for v in voicemails(core, admin) if v.call_id == "1733500000.102"]


@pytest.mark.parametrize("bad,why", [(b"", "empty (0 bytes)"), (None, "truncated")])
def test_empty_or_truncated_recordings_are_refused_and_the_caller_told(server, core, admin, bad, why):
    uid = f"1733500000.2{len(why)}"
    if bad is None:
        # a header announcing 3 s of audio over 100 bytes of data
        import struct
        data = b"\x00" * 100
        bad = (b"RIFF" + struct.pack("<I", 36 + 48000) + b"WAVE" + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
               + b"data" + struct.pack("<I", 48000) + data)
    a = call(server, Caller(keys={"hotline/main_menu": "3"}, record_bytes=bad), uniqueid=uid)
    s = a.sounds()
    assert "hotline/service_error" in s and "hotline/voicemail_saved" not in s, s
    assert a.commands[-1] == "HANGUP"
    assert not [v for v in voicemails(core, admin) if v.call_id == uid]
    assert wait_log(server, rf"voicemail recording from Asterisk rejected.*{re.escape(why)}|{re.escape(why)}.*voicemail recording from Asterisk rejected")


# --------------------------------------------------------------------------------------------
def agents(core, admin):
    """Two junior agents logged in and available (their endpoints are PJSIP/<agent id>)."""
    toks = {}
    for aid in ("agij1", "agij2"):
        try:
            core.call("AgentService", "CreateAgent", admin, agent_id=aid, name=aid, role="junior", password=f"{aid}-pass-1")
        except Exception:  # noqa: BLE001 — already there from an earlier test in this session
            pass
        toks[aid] = core.login(aid, f"{aid}-pass-1")
    for aid in ("agij1", "agij2"):
        core.call("AgentService", "SetPresence", toks[aid], presence="available")
        time.sleep(0.05)
    return toks


def queue_entries(core, admin):
    return list(core.call("QueueService", "ListQueue", admin).entries)


def test_agent_offer_noanswer_then_answer(server, core, admin):
    toks = agents(core, admin)
    dials: list[tuple[str, float]] = []
    hooks: list[Asterisk] = []

    def dial(ast: Asterisk, args: list[str]):
        target, secs, opts = args[0].split(",", 2)
        dials.append((target, float(secs)))
        assert opts == f"gU(hotline-answered^{ast.uniqueid})", opts
        if len(dials) == 1:
            time.sleep(float(secs))  # rings out: Dial's own timeout
            return 0, "NOANSWER"
        # answered: Dial runs the U() Gosub on the agent's channel before bridging
        hooks.append(answer_hook(server.agi, ast.uniqueid))
        assert "GOSUB_RESULT" not in hooks[-1].variables, hooks[-1].commands
        time.sleep(1.0)  # they talk; then the agent hangs up (option g: the AGI goes on)
        return 0, "ANSWER"

    a = call(server, Caller(keys={"hotline/main_menu": "0"}), dial=dial, uniqueid="1733500000.301")
    assert "hotline/transfer_agent" in a.sounds()
    assert [d[0] for d in dials] == ["PJSIP/agij1", "PJSIP/agij2"], dials
    assert 15 <= dials[0][1] <= 17, "the ring limit (15 s) plus a second"
    assert [c for c in a.commands if c == "GET VARIABLE DIALSTATUS"] == ["GET VARIABLE DIALSTATUS"] * 2
    assert a.commands[-1] == "HANGUP"
    assert not [e for e in queue_entries(core, admin) if e.call_id == "1733500000.301"]
    m = core.call("QueueService", "GetQueueMetrics", admin)
    assert m.answered >= 1
    no = {n.agent_id: n.no_answers for n in m.no_answers}
    assert no.get("agij1", 0) >= 1, m
    for t in toks.values():
        core.call("AgentService", "SetPresence", t, presence="logged_out")


def test_busy_agent_is_reported_and_a_late_answer_is_refused(server, core, admin):
    toks = agents(core, admin)
    seen: list[str] = []

    def dial(ast: Asterisk, args: list[str]):
        seen.append(args[0].split(",")[0])
        if len(seen) == 1:
            return 0, "BUSY"  # the core must offer the next agent at once
        # the caller is gone by now for the core: a hook for another call id is refused
        h = answer_hook(server.agi, "no-such-call")
        assert h.variables.get("GOSUB_RESULT") == "CONTINUE", h.commands
        return -1, "CANCEL"  # the caller hangs up while it rings

    started = time.monotonic()
    a = call(server, Caller(keys={"hotline/main_menu": "0"}), dial=dial, uniqueid="1733500000.302")
    assert len(seen) == 2 and seen[0] != seen[1], seen
    assert time.monotonic() - started < 12, "BUSY did not wait for the 15 s rule"
    time.sleep(0.3)
    assert not [e for e in queue_entries(core, admin) if e.call_id == "1733500000.302"], "no queued caller left"
    for t in toks.values():
        core.call("AgentService", "SetPresence", t, presence="logged_out")


def test_an_answer_without_the_hook_is_not_offered_again(server, core, admin):
    """dial_options without U(): Asterisk bridges and Dial returns ANSWER only afterwards."""
    toks = agents(core, admin)
    dials = []

    def dial(ast, args):
        dials.append(args[0])
        return 0, "ANSWER"
    a = call(server, Caller(keys={"hotline/main_menu": "0"}), dial=dial, uniqueid="1733500000.305")
    assert len(dials) == 1, dials
    assert a.commands[-1] == "HANGUP"
    assert wait_log(server, r"hotline-answered hook did not run")
    time.sleep(0.3)
    assert not [e for e in queue_entries(core, admin) if e.call_id == "1733500000.305"]
    for t in toks.values():
        core.call("AgentService", "SetPresence", t, presence="logged_out")


def test_hangup_while_waiting_in_the_queue_leaves_no_queued_caller(server, core, admin):
    toks = agents(core, admin)
    # logged in but not ready: the caller waits in the queue and hears the hold announcement
    for t in toks.values():
        core.call("AgentService", "SetPresence", t, presence="not_ready")
    caller = Caller(keys={"hotline/main_menu": "0"}, hangup_on="hotline/queue_position")
    a = call(server, caller, uniqueid="1733500000.303")
    assert "hotline/please_hold" in a.sounds(), a.commands
    assert not [c for c in a.commands if c.startswith("EXEC")], "nobody was offered the call"
    time.sleep(0.5)
    assert not [e for e in queue_entries(core, admin) if e.call_id == "1733500000.303"], "no queued caller left"
    for t in toks.values():
        core.call("AgentService", "SetPresence", t, presence="logged_out")


def test_hangup_while_an_agent_rings_leaves_no_queued_caller(server, core, admin):
    toks = agents(core, admin)

    def dial(ast, args):
        ast.dead = True
        ast.send("HANGUP")
        return -1, "CANCEL"
    a = call(server, Caller(keys={"hotline/main_menu": "0"}), dial=dial, uniqueid="1733500000.304")
    assert [c for c in a.commands if c.startswith("EXEC Dial")], a.commands
    time.sleep(0.5)
    assert not [e for e in queue_entries(core, admin) if e.call_id == "1733500000.304"]
    for t in toks.values():
        core.call("AgentService", "SetPresence", t, presence="logged_out")


# --------------------------------------------------------------------------------------------
def test_hangup_at_every_step_leaves_no_half_created_ticket(server, core, admin):
    # the full dialogue once, to know its steps
    probe = call(server, report_caller(new_number()))
    steps = len(probe.commands)
    created_at = None
    for n in range(1, steps + 1):
        number = new_number()
        caller = report_caller(number)
        if n % 2:
            caller.hangup_at = n       # HANGUP line, result=-1, then 511s
        else:
            caller.close_at = n        # the socket closes mid-command
        a = call(server, caller)
        t = core.tickets(admin, number)
        assert len(t) <= 1
        if t:
            # a ticket, when there is one, is whole
            assert (t[0].fault_type, t[0].channel, t[0].contact_number) == ("noise", "ivr", "13800138000")
            created_at = created_at or n
        else:
            assert created_at is None, f"a hang-up at step {n} after a ticket at step {created_at} lost it"
        assert n > 0 and a.commands, n
    # the ticket is created after the fault type is chosen (GET DATA fault_type_menu)
    fault_step = next(i for i, c in enumerate(probe.commands, 1) if "fault_type_menu" in c)
    assert created_at == fault_step + 1, (created_at, fault_step, probe.commands)
    assert not queue_entries(core, admin)
    assert_alive(server, admin, core)


def test_same_keys_over_sip_and_agi_make_the_same_ticket(server, core, admin):
    sip_number, agi_number = new_number(), new_number()
    caller = "13700001111"
    out = subprocess.run(
        [str(server.binary), "demo", "--sip", f"127.0.0.1:{server.sip_port}", "--caller", caller,
         "--number", sip_number, "--fault", "3"],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    call(server, report_caller(agi_number, fault="3"), callerid=caller)
    (s,), (g,) = core.tickets(admin, sip_number), core.tickets(admin, agi_number)
    def fields(t):
        return (t.fault_type, t.channel, t.contact_number, t.status)
    assert fields(s) == fields(g), (s, g)
    assert fields(g)[:3] == ("cannot_call_out", "ivr", caller)


# --------------------------------------------------------------------------------------------
def raw_session(server, data: bytes, wait: float) -> bytes:
    """Sends bytes and returns what came back before the server closed (or `wait` passed)."""
    s = socket.create_connection(server.agi, timeout=wait)
    got = b""
    try:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    finally:
        s.close()
    return got


def test_unknown_script_is_told_and_hung_up(server):
    a = call(server, Caller(), script="voicemail-main?x=1")
    assert a.commands[0].startswith("VERBOSE") and "unknown script" in a.commands[0]
    assert a.commands[-1] == "HANGUP"


@pytest.mark.parametrize("data,reason", [
    (b"agi_network: yes\nagi_x: " + b"y" * 9000 + b"\n\n", "longer than 8192"),
    (b"\n", "no agi_ keys"),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "is not `agi_<key>: <value>`"),
    (b"agi_network: yes\nagi_network_script: hotline\n", "no complete header block"),
])
def test_bad_header_blocks_end_the_session_with_a_logged_reason(server, core, admin, data, reason):
    before = server.log().count(reason)
    raw_session(server, data, wait=HEADER_TIMEOUT_MS / 1000 + 3)
    assert len(wait_log(server, re.escape(reason), before + 1)) >= before + 1, server.log()[-2000:]
    assert_alive(server, admin, core)


@pytest.mark.parametrize("reply,reason", [
    ("hello there", "is not `NNN ...`"),
    ("600 what", "unknown reply code 600"),
    ("200 nothing", "is not `NNN ...`"),
    (None, "no reply to"),
    ("x" * 9000, "longer than 8192"),
])
def test_bad_replies_and_a_silent_peer_end_the_session(server, core, admin, reply, reason):
    before = server.log().count(reason)
    a = Asterisk(server.agi, Caller(), timeout=COMMAND_TIMEOUT_MS / 1000 + 5)
    a.replies = {"ANSWER": reply} if reply is not None else {}
    if reply is None:
        a.caller.close_at = None
        orig = a.reply

        def silent(line):
            if line == "ANSWER":
                time.sleep(COMMAND_TIMEOUT_MS / 1000 + 1.5)
            return orig(line)
        a.reply = silent
    started = time.monotonic()
    a.run()
    assert time.monotonic() - started < COMMAND_TIMEOUT_MS / 1000 + 4
    assert len(wait_log(server, re.escape(reason), before + 1)) >= before + 1, server.log()[-2000:]
    assert_alive(server, admin, core)


def test_usage_block_and_unknown_command_replies_end_the_flow_cleanly(server):
    usage = ("520-Invalid command syntax.  Proper usage follows:\n"
             "Usage: STREAM FILE <filename> <escape_digits> [<sample offset>]\n"
             "520 End of proper usage.")
    a = call(server, Caller(), replies={"STREAM FILE": usage})
    assert a.commands[-1] == "HANGUP", a.commands
    a = call(server, Caller(), replies={"ANSWER": "510 Invalid or unknown command"})
    assert a.commands[-1] == "HANGUP", a.commands
    assert wait_log(server, r"refused with 520")
    assert wait_log(server, r"refused with 510")


def test_ten_thousand_silent_connections_each_end_and_others_go_on(server, core, admin):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    n = 10_000
    if soft < n + 500:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1000), hard))
    before = server.log().count("no complete header block")
    socks = []
    for _ in range(n):
        socks.append(socket.create_connection(server.agi, timeout=5))
    # a real session works meanwhile
    assert_alive(server, admin, core)
    found = wait_log(server, "no complete header block", before + n, timeout=60)
    for s in socks:
        s.close()
    assert len(found) >= before + n, (len(found), before)
    assert_alive(server, admin, core)


def test_concurrent_sessions_do_not_interfere(server, core, admin):
    numbers = [new_number() for _ in range(20)]
    with concurrent.futures.ThreadPoolExecutor(20) as ex:
        list(ex.map(lambda num: call(server, report_caller(num)), numbers))
    for num in numbers:
        assert len(core.tickets(admin, num)) == 1, num


def test_agi_demo_reports_a_fault_through_the_fastagi_server(server, core, admin):
    number = new_number()
    out = subprocess.run(
        [str(server.binary), "agi-demo", "--agi", f"{server.agi[0]}:{server.agi[1]}", "--number", number,
         "--fault", "5", "--server", f"http://{server.grpc_addr}", "--token", admin],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    (t,) = core.tickets(admin, number)
    assert t.fault_type == "drops" and t.channel == "ivr"
    assert f"ticket number read back: {t.id}" in out.stdout, out.stdout
    assert "hotline → GET DATA hotline/enter_number" in out.stdout


def test_hangup_at_every_step_of_voicemail_and_queue_flows(server, core, admin):
    """Voicemail: a message is registered whole or not at all (a hang-up during RECORD FILE
    keeps it, as over SIP). Queue: whatever step the caller hangs up at, nobody is left
    queued."""
    probe = call(server, Caller(keys={"hotline/main_menu": "3"}), uniqueid="1733500001.0")
    for n in range(1, len(probe.commands) + 1):
        uid = f"1733500001.{n}"
        caller = Caller(keys={"hotline/main_menu": "3"})
        if n % 2:
            caller.hangup_at = n
        else:
            caller.close_at = n
        call(server, caller, uniqueid=uid)
        time.sleep(0.05)
        got = [v for v in voicemails(core, admin) if v.call_id == uid]
        assert len(got) <= 1
        if got:
            assert got[0].duration_ms >= 2000 and (server.voicemail_dir / f"{uid}.wav").is_file(), (n, got)
    toks = agents(core, admin)
    for t in toks.values():
        core.call("AgentService", "SetPresence", t, presence="not_ready")
    probe = Asterisk(server.agi, Caller(keys={"hotline/main_menu": "0"}, hangup_on="hotline/queue_position_end"),
                     uniqueid="1733500002.0").run()
    for n in range(1, len(probe.commands) + 1):
        caller = Caller(keys={"hotline/main_menu": "0"})
        if n % 2:
            caller.hangup_at = n
        else:
            caller.close_at = n
        call(server, caller, uniqueid=f"1733500002.{n}")
    time.sleep(0.5)
    assert not [e for e in queue_entries(core, admin) if e.call_id.startswith("1733500002.")]
    for t in toks.values():
        core.call("AgentService", "SetPresence", t, presence="logged_out")
    assert_alive(server, admin, core)
