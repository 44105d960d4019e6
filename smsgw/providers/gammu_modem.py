"""A USB GSM modem as the SMS gateway, through Gammu's SMS daemon (gammu-smsd).

gammu-smsd talks to the modem and keeps its messages as files ("files" service); smsgw
never talks to the modem and never imports Gammu (GPL): the two share folders only, and
the daemon runs as its own user (in `dialout`), which cannot read our database.

- Sending: the worker writes each message as a file in the daemon's outbox,
  `OUT<priority><yyyymmdd>_<hhmmss>_00_<+E164>_<our id>.txt` (UTF-16 with a BOM), under a
  hidden temporary name first and then renamed, so the daemon never reads half a file. The
  daemon splits the text and chooses GSM-7 or UCS-2 itself (TransmitFormat = auto), sends
  it and moves the file to sent/ (or error/ when it gives up). Our id,
  `smsgw-<outbox id>-<8 hex of the number and text>`, is in the name: a resend after a crash
  finds the file already in outbox/, sent/ or error/ and writes no second one. The hash
  keeps a new database's message 1 from matching an old database's file.
- Reports and received SMS: gammu-smsd runs our hook (gammu_hook.sh, shipped beside this
  module) on every received SMS, sent message and failure. The hook only writes its
  environment as a record into a spool folder; `poll`, called by the worker every round,
  reads the records in order, hands each SMS to the gateway or each outcome to the outbox,
  and deletes the record only after that succeeded. A crash in between hands the same
  record over again, and the gateway keeps one message per (provider, id).
- Debian's gammu-smsd 1.42 pastes the received SMS's inbox file names, which carry the
  sender's number, unquoted into `sh -c`: the RunOnReceive line we write ends with ` #`, so
  they are a comment, and a received SMS is read from the environment only.
- The rate is per hour (`max_per_hour`): operators block a SIM that sends too fast.

Measured against Gammu's dummy phone (tests/test_modem.py). What needs a real modem and
was never tested here is listed in docs/offline-sms.md.
"""

from __future__ import annotations

import configparser
import grp
import hashlib
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from db.outbox import OutboxMessage, OutboxStatus, priority_of
from db.timeutil import utcnow
from handlers.messages import InboundMessage
from smsgw.errors import PermanentSendError, TransientSendError
from smsgw.phone import InvalidNumber, mask, to_e164
from smsgw.providers.base import Inbox, OneAtATime, Provider
from smsgw.settings import ConfigError, Setting

PROVIDER = "modem"
ID_PREFIX = "smsgw-"
MAX_TEXT = 1600
HOOK = Path(__file__).with_name("gammu_hook.sh")
EVENTS = ("recv", "sent", "fail")
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
OUR_ID = re.compile(r"smsgw-[0-9]+-[0-9a-f]{8}")
# The outbox file names we write; what follows .txt would be gammu's flags (d, f).
OUR_FILE = re.compile(r"OUT[A-Z][0-9]{8}_[0-9]{6}_00_\+[0-9]+_(?P<id>smsgw-[0-9]+-[0-9a-f]{8})"
                      r"\.txt[a-z]*")
# Paths go into the shell lines gammu-smsd runs (RunOn*): no spaces, quotes or `;`.
SAFE_PATH = re.compile(r"/[A-Za-z0-9._/+-]*")
FOLDERS = ("inbox", "outbox", "sent", "error", "spool")
PRUNE_EVERY_SECONDS = 3600
log = logging.getLogger(__name__)


class ModemNotSet(Exception):
    """gammu-smsd's config cannot be used; the message says why and what to run."""


# ------------------------------------------------------------------ the daemon's folders


@dataclass(frozen=True, slots=True)
class Folders:
    config: Path
    inbox: Path | None
    outbox: Path
    sent: Path
    error: Path
    log: Path | None
    spool: Path
    run_on_receive: str


_parsed: dict[tuple[str, float], configparser.ConfigParser] = {}


def _smsd_section(path: Path) -> Mapping[str, str]:
    try:
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise ModemNotSet(f"gammu-smsd config {path} cannot be read ({exc.strerror});"
                          " `smsgw modem config` writes one") from None
    key = (str(path), mtime)
    if key not in _parsed:
        parser = configparser.ConfigParser(interpolation=None, strict=False,
                                           comment_prefixes=("#", ";"),
                                           inline_comment_prefixes=None)
        try:
            parser.read_string(path.read_text(encoding="utf-8", errors="replace"))
        except (OSError, configparser.Error) as exc:
            raise ModemNotSet(f"gammu-smsd config {path}: {exc}") from None
        _parsed.clear()
        _parsed[key] = parser
    parser = _parsed[key]
    for section in parser.sections():   # Gammu's section names ignore case
        if section.lower() == "smsd":
            return parser[section]
    raise ModemNotSet(f"gammu-smsd config {path} has no [smsd] section")


def folders(settings: Mapping[str, Any]) -> Folders:
    """The daemon's folders as its own config names them (one truth for both sides), and
    the hook's spool folder from our settings."""
    path = Path(str(settings["providers.modem.smsd_config"]))
    smsd = _smsd_section(path)
    if smsd.get("service", "").strip().lower() != "files":
        raise ModemNotSet(f"{path}: the modem provider needs `service = files` in [smsd]")

    def folder(key: str) -> Path | None:
        value = smsd.get(key, "").strip()
        if value and not value.startswith("/"):
            raise ModemNotSet(f"{path}: [smsd] {key} must be an absolute path ({value})")
        return Path(value) if value else None

    def required(key: str) -> Path:
        found = folder(key)
        if found is None:
            raise ModemNotSet(f"{path}: [smsd] {key} is not set")
        return found

    logfile = smsd.get("logfile", "").strip()
    return Folders(
        config=path, inbox=folder("inboxpath"), outbox=required("outboxpath"),
        sent=required("sentsmspath"), error=required("errorsmspath"),
        log=Path(logfile) if logfile.startswith("/") else None,
        spool=Path(str(settings["providers.modem.spool"])),
        run_on_receive=smsd.get("runonreceive", "").strip())


# ------------------------------------------------------------------------------ sending


def our_id(message: OutboxMessage) -> str:
    """The id in the outbox file's name: the same for every attempt at one message."""
    digest = hashlib.sha256(f"{message.to_number}\n{message.text}".encode()).hexdigest()
    return f"{ID_PREFIX}{message.id}-{digest[:8]}"


def find_queued(where: Folders, message_id: str) -> Path | None:
    """Our file for this id in outbox/, sent/ or error/, if the daemon has it already.
    Looked for in the order the daemon moves it, so a move during the look is seen."""
    suffix = f"_{message_id}.txt"
    for folder in (where.outbox, where.sent, where.error):
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            continue
        for name in names:
            if not name.startswith(".") and suffix in name and OUR_FILE.fullmatch(name):
                return folder / name
    return None


def queue_text(where: Folders, number: str, message_id: str, text: str,
               priority: str = "B") -> str:
    """Write one message into the daemon's outbox, atomically; return the file name."""
    if not E164.fullmatch(number) or not OUR_ID.fullmatch(message_id):
        raise ValueError(f"not an E.164 number or not our id: {mask(number)}, {message_id}")
    stamp = time.strftime("%Y%m%d_%H%M%S", time.gmtime())
    name = f"OUT{priority}{stamp}_00_{number}_{message_id}.txt"
    tmp = where.outbox / f".tmp-{message_id}"   # the daemon skips names starting with '.'
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o660)
    try:
        os.fchmod(fd, 0o660)   # the daemon's user (our group) reads it, whatever our umask
        os.write(fd, b"\xfe\xff" + text.encode("utf-16-be"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, where.outbox / name)
    dir_fd = os.open(where.outbox, os.O_RDONLY)
    try:
        os.fsync(dir_fd)   # the rename survives a power cut once we say "sent"
    finally:
        os.close(dir_fd)
    return name


class ModemSender(OneAtATime):
    """Hands outbox messages to gammu-smsd, at most max_per_hour segments an hour."""

    provider = PROVIDER

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = settings
        self.max_per_second = float(settings["providers.modem.max_per_hour"]) / 3600

    def send(self, message: OutboxMessage) -> str:
        """Write the message into the daemon's outbox (once); return our id for it."""
        if not E164.fullmatch(message.to_number):
            raise PermanentSendError(f"modem: {mask(message.to_number)} is not an E.164 number")
        if not message.text:
            raise PermanentSendError("modem: an empty text is not sent")
        try:
            where = folders(self.settings)
        except ModemNotSet as exc:
            raise TransientSendError(f"modem: {exc}") from None
        message_id = our_id(message)
        try:
            found = find_queued(where, message_id)
            if found is not None:   # written before a crash: the daemon has it
                log.info("modem: message %d is already in %s", message.id, found.parent.name)
                return message_id
            queue_text(where, message.to_number, message_id, message.text,
                       "ABC"[min(priority_of(message.kind), 2)])
        except OSError as exc:
            raise TransientSendError(f"modem: cannot write to {where.outbox}: {exc}") from exc
        return message_id


# ------------------------------------------------------------------------------ records


class Unusable(ValueError):
    """A record we cannot use (not text, a sender that is no phone number)."""


def read_record(path: Path) -> dict[str, str]:
    """A record of gammu_hook.sh: the hook's environment, NUL-separated KEY=VALUE."""
    env: dict[str, str] = {}
    for item in path.read_bytes().split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep and key:
            env[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return env


def received_message(env: Mapping[str, str], record: str, region: str) -> InboundMessage:
    """A received SMS (one or all parts of a long one) as a neutral message.

    The text is SMS_1_TEXT + ... + SMS_n_TEXT: DECODED_1_TEXT goes through a 500-byte
    static buffer in libgammu and overflows on long messages. The id is the message's own
    time stamp with its sender and text where the daemon gives one (libgammu 1.45:
    SMS_1_DATETIME), so a daemon that hands one SMS over twice makes one message; Debian's
    1.42 gives none, so there it is the record's name, unique per hook call."""
    try:
        parts = int(env.get("SMS_MESSAGES") or 0)
    except ValueError:
        parts = 0
    if parts < 1:
        raise Unusable("the record holds no SMS")
    texts = [env.get(f"SMS_{n}_TEXT") for n in range(1, parts + 1)]
    if any(text is None for text in texts):
        raise Unusable("not a text message (8-bit or binary parts)")
    text = "".join(t for t in texts if t is not None)
    number = env.get("SMS_1_NUMBER", "")
    try:
        sender = to_e164(number, region)
    except InvalidNumber:
        raise Unusable(f"the sender {number[:20]!r} is not a phone number") from None
    if len(text) > MAX_TEXT:
        log.warning("modem: a %d-character SMS from %s cut to %d", len(text), mask(sender),
                    MAX_TEXT)
        text = text[:MAX_TEXT]
    stamp = env.get("SMS_1_DATETIME", "")[:40]
    if stamp:
        key = f"{sender}|{stamp}|{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    else:
        key = f"hook|{record[:80]}"
    return InboundMessage(PROVIDER, key, sender, env.get("PHONE_ID", "")[:32], text, utcnow())


def _records(spool: Path) -> Iterator[Path]:
    """The hook's finished records, oldest first (names carry the time in nanoseconds)."""
    try:
        names = sorted(os.listdir(spool), key=_record_order)
    except FileNotFoundError:
        return
    for name in names:
        if name.partition(".")[0] in EVENTS:
            yield spool / name


def _record_order(name: str) -> tuple[int, str]:
    parts = name.split(".")
    return (int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else 0, name)


def _reject(record: Path, why: str) -> None:
    """Keep a record we cannot use in spool/rejected/ for an admin to read."""
    log.warning("modem: record %s set aside in rejected/: %s", record.name, why)
    rejected = record.parent / "rejected"
    rejected.mkdir(mode=0o2770, exist_ok=True)
    os.replace(record, rejected / record.name)


def poll(settings: Mapping[str, Any], inbox: Inbox) -> int:
    """Hand what the hook recorded to the worker: received SMS, sent and failed reports.
    A record goes once its SMS or report is stored; one that fails stays for next round."""
    spool = Path(str(settings["providers.modem.spool"]))
    region = str(settings["app.default_region"])
    handled = 0
    for record in _records(spool):
        event = record.name.partition(".")[0]   # recv, sent or fail (_records)
        try:
            env = read_record(record)
            if event == "recv":
                inbox.receive(received_message(env, record.name, region))
            else:
                _report(env.get("HOOK_ID", ""), event, inbox)
        except FileNotFoundError:   # another worker took it
            continue
        except Unusable as exc:
            _reject(record, str(exc))
            handled += 1
            continue
        except Exception:  # noqa: BLE001 - keep the record (unreadable, database locked...)
            log.exception("modem: record %s not handled; it stays for the next round",
                          record.name)
            continue
        record.unlink(missing_ok=True)
        handled += 1
    _maybe_prune(settings)
    return handled


def _report(daemon_id: str, event: str, inbox: Inbox) -> None:
    found = OUR_FILE.fullmatch(daemon_id)
    if found is None:
        if event == "fail" and daemon_id == "INIT":
            log.warning("modem: gammu-smsd cannot open or set up the modem (RunOnFailure"
                        " INIT); `smsgw modem check` shows its log")
        else:
            log.info("modem: %s report for a file we did not write (%s) ignored", event,
                     daemon_id[:80])
        return
    if event == "sent":
        inbox.report(found["id"], OutboxStatus.SENT, "gammu:sent")
    else:
        inbox.report(found["id"], OutboxStatus.FAILED, "gammu:failed",
                     "gammu-smsd gave up on it (its log says why)")


# ------------------------------------------------------------------------------ pruning

_last_prune: dict[str, float] = {}


def _maybe_prune(settings: Mapping[str, Any]) -> None:
    days = int(settings["providers.modem.keep_days"])
    key = str(settings["providers.modem.smsd_config"])
    if days <= 0 or time.monotonic() - _last_prune.get(key, -1e12) < PRUNE_EVERY_SECONDS:
        return
    _last_prune[key] = time.monotonic()
    try:
        where = folders(settings)
    except ModemNotSet:
        return
    prune(where, older_than=time.time() - days * 86400)


def prune(where: Folders, *, older_than: float) -> int:
    """Delete the daemon's old inbox, sent and error files and our set-aside records: they
    hold numbers and texts, and gammu-smsd keeps them for ever. Leftover temporary files
    of a crash go after an hour."""
    removed = 0
    hour_ago = time.time() - 3600
    for folder in (where.inbox, where.sent, where.error, where.spool / "rejected",
                   where.outbox, where.spool):
        if folder is None:
            continue
        keep_files = folder in (where.outbox, where.spool)   # only their temporary files
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            temporary = entry.name.startswith(".tmp")
            if keep_files and not temporary:
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                if entry.stat().st_mtime < (hour_ago if temporary else older_than):
                    os.unlink(entry.path)
                    removed += 1
            except OSError as exc:
                log.warning("modem: cannot prune %s: %s", entry.path, exc)
                break
    if removed:
        log.info("modem: pruned %d old files", removed)
    return removed


# ---------------------------------------------------------------------- the daemon's config


def smsd_config_text(folder: Path, *, device: str = "/dev/ttyUSB0", connection: str = "at",
                     dummy: bool = False, phone_id: str = "modem", poll_seconds: int = 5,
                     multipart_seconds: int = 120, send_seconds: int = 30) -> str:
    """gammu-smsd's config for the files service with everything under FOLDER, our hook,
    and polling fast enough for replies (Gammu's defaults wait up to 30 s to send)."""
    folder = folder.absolute()
    if not SAFE_PATH.fullmatch(str(folder)):
        raise ValueError(f"{folder}: the folder's path may hold only letters, digits and"
                         " ._/+- (it goes into the shell lines gammu-smsd runs)")
    if not dummy and not SAFE_PATH.fullmatch(device):
        raise ValueError(f"{device!r}: the device is an absolute path such as /dev/ttyUSB0")
    for name, value in (("connection", connection), ("phone id", phone_id)):
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,40}", value):
            raise ValueError(f"{value!r}: the {name} may hold only letters, digits and ._-")
    if dummy:
        phone = f"connection = none\nmodel = dummy\ndevice = {folder}/dummy\n"
    else:
        phone = f"connection = {connection}\ndevice = {device}\n"
    hook = f"/bin/sh {folder}/gammu_hook.sh"
    spool = f"{folder}/spool"
    checks = "0" if dummy else "1"
    return f"""\
# gammu-smsd's config for the smsgw modem provider, written by `smsgw modem config`.
# smsgw reads the folders below from this file; keep them absolute.
[gammu]
{phone}
[smsd]
service = files
inboxpath = {folder}/inbox/
outboxpath = {folder}/outbox/
sentsmspath = {folder}/sent/
errorsmspath = {folder}/error/
inboxformat = detail
outboxformat = detail
transmitformat = auto
# The trailing '#' turns the inbox file names gammu-smsd appends (they hold the sender's
# number, pasted unquoted into `sh -c` by gammu-smsd 1.42) into a shell comment: the hook
# reads the received SMS from its environment only. Do not remove it.
RunOnReceive = {hook} recv {spool} #
RunOnSent = {hook} sent {spool}
RunOnFailure = {hook} fail {spool}
PhoneID = {phone_id}
CheckSecurity = 0
CheckBattery = 0
CheckSignal = {checks}
CheckNetwork = {checks}
LogFile = {folder}/smsd.log
DebugLevel = 1
ReceiveFrequency = {poll_seconds}
CommTimeout = {poll_seconds}
LoopSleep = 1
StatusFrequency = 60
SendTimeout = {send_seconds}
MultipartTimeout = {multipart_seconds}
MaxRetries = 2
DeliveryReport = no
"""


def write_smsd_config(folder: Path, *, group: str | None = None, force: bool = False,
                      **options: Any) -> Path:
    """Make FOLDER with the daemon's folders, the hook and the config; return the config.
    Folders are 2770 (setgid): the daemon's user and ours share them through `group`."""
    text = smsd_config_text(folder, **options)
    folder = folder.absolute()
    config = folder / "smsdrc"
    if config.exists() and config.read_text(encoding="utf-8") != text and not force:
        raise FileExistsError(f"{config} exists and differs (--force replaces it)")
    gid = grp.getgrnam(group).gr_gid if group else -1
    folder.mkdir(parents=True, exist_ok=True)
    subfolders = [folder / name for name in FOLDERS]
    if options.get("dummy"):
        subfolders += [folder / "dummy"] + [folder / "dummy" / "sms" / str(n) for n in range(1, 6)]
    for path in [folder, *subfolders]:
        path.mkdir(exist_ok=True, parents=True)
        os.chown(path, -1, gid)
        os.chmod(path, 0o2770)
    hook = folder / "gammu_hook.sh"
    shutil.copyfile(HOOK, hook)
    os.chmod(hook, 0o755)
    config.write_text(text, encoding="utf-8")
    os.chown(config, -1, gid)
    os.chmod(config, 0o640)
    return config


# ------------------------------------------------------------------------------ commands


@click.group("modem")
def commands() -> None:
    """The USB GSM modem gateway (gammu-smsd): write its config, check it."""


@commands.command("config")
@click.option("--folder", type=click.Path(file_okay=False), default=None,
              help="Where the daemon's config, folders and hook go (default: the folder of"
                   " providers.modem.smsd_config).")
@click.option("--device", default="/dev/ttyUSB0", show_default=True,
              help="The modem's serial port (its AT port; a modem may show several).")
@click.option("--connection", default="at", show_default=True,
              help="Gammu's connection for the modem (at, at115200, ...).")
@click.option("--dummy", is_flag=True,
              help="Gammu's dummy phone instead of a modem (FOLDER/dummy): try it without one.")
@click.option("--group", default=None,
              help="Group shared by the daemon's user and smsgw's (e.g. gammu); needs root.")
@click.option("--phone-id", default="modem", show_default=True, help="gammu-smsd's PhoneID.")
@click.option("--poll-seconds", type=click.IntRange(1, 60), default=5, show_default=True,
              help="How often the daemon looks for received SMS and for SMS to send.")
@click.option("--force", is_flag=True, help="Replace an existing, different config.")
def configure(config: Any, folder: str | None, device: str, connection: str,
              dummy: bool, group: str | None, phone_id: str, poll_seconds: int,
              force: bool) -> None:
    """Write a working gammu-smsd config, its folders and our hook for a modem."""
    target = Path(folder) if folder else Path(str(config["providers.modem.smsd_config"])).parent
    try:
        written = write_smsd_config(target, group=group, force=force, device=device,
                                    connection=connection, dummy=dummy, phone_id=phone_id,
                                    poll_seconds=poll_seconds)
    except (ValueError, FileExistsError, KeyError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {written}")
    click.echo(f"  folders {', '.join(FOLDERS)} and the hook gammu_hook.sh in {written.parent}")
    wanted = {"smsd_config": str(written), "spool": str(written.parent / "spool")}
    differing = {key: value for key, value in wanted.items()
                 if Path(str(config[f"providers.modem.{key}"])).absolute() != Path(value)}
    if differing:
        click.echo("set in config.toml (or the SMSGW_PROVIDERS_MODEM_* variables):")
        click.echo("  [providers.modem]")
        for key, value in differing.items():
            click.echo(f'  {key} = "{value}"')
    click.echo(f"start the daemon: .venv/bin/python deploy/gammu-smsd.py {written}"
               " (deploy/smsgw-modem.service runs it at boot; docs/offline-sms.md)")


@commands.command("check")
@click.option("--lines", type=int, default=10, show_default=True,
              help="How many of the daemon's last log lines to show.")
@click.option("--stuck-seconds", type=int, default=300, show_default=True,
              help="An outbox file older than this means the daemon or the modem hangs.")
def check(config: Any, lines: int, stuck_seconds: int) -> None:
    """Show the daemon's folders, what waits in them and its last log lines; exit 1 when
    something is wrong (usable as a watchdog)."""
    try:
        where = folders(config)
    except ModemNotSet as exc:
        raise click.ClickException(str(exc)) from None
    problems: list[str] = []
    click.echo(f"gammu-smsd config {where.config}")
    if not where.run_on_receive.endswith("#"):
        problems.append("RunOnReceive does not end with ' #': gammu-smsd 1.42 would pass the"
                        " sender's number to a shell (see docs/offline-sms.md)")
    now = time.time()
    for label, folder in (("inbox", where.inbox), ("outbox", where.outbox),
                          ("sent", where.sent), ("error", where.error),
                          ("spool", where.spool)):
        if folder is None:
            continue
        try:
            entries = [e for e in os.scandir(folder) if not e.name.startswith(".")
                       and e.is_file()]
        except OSError as exc:
            problems.append(f"{label} folder {folder}: {exc.strerror}")
            continue
        line = f"  {label:<7}{folder}: {len(entries)} file{'' if len(entries) == 1 else 's'}"
        if label in ("outbox", "spool") and not os.access(folder, os.W_OK | os.X_OK):
            problems.append(f"{label} folder {folder} is not writable by this user")
        if label == "outbox" and entries:
            oldest = now - min(e.stat().st_mtime for e in entries)
            line += f" waiting, the oldest for {oldest:.0f} s"
            if oldest > stuck_seconds:
                problems.append(f"an SMS has waited {oldest:.0f} s in the outbox: is the"
                                " daemon running, or does the modem hang?")
        if label == "spool":
            rejected = folder / "rejected"
            count = len(os.listdir(rejected)) if rejected.is_dir() else 0
            line += f" waiting for the worker, {count} set aside in rejected/"
        click.echo(line)
    if where.log is not None:
        try:
            with where.log.open("rb") as handle:
                handle.seek(max(0, where.log.stat().st_size - 64 * 1024))
                tail = handle.read().decode("utf-8", "replace").splitlines()[-lines:]
            age = now - where.log.stat().st_mtime
            click.echo(f"daemon log {where.log} (last written {age:.0f} s ago):")
            for text in tail:
                click.echo(f"  {text}")
        except OSError as exc:
            click.echo(f"daemon log {where.log}: {exc.strerror}")
    for problem in problems:
        click.echo(f"PROBLEM: {problem}", err=True)
    if problems:
        raise SystemExit(1)
    click.echo("ok")


# ------------------------------------------------------------------------- declaration


def _check(config: Any) -> None:
    for key in ("smsd_config", "spool"):
        if not str(config[f"providers.modem.{key}"]).strip():
            raise ConfigError(f"providers.modem.{key} must name a path")


DECLARATION = Provider(
    name=PROVIDER,
    settings=(
        Setting("providers.modem.enabled", bool, False,
                "Send and receive through a USB GSM modem run by gammu-smsd"
                " (docs/offline-sms.md); on by itself when modem is the default provider"),
        Setting("providers.modem.smsd_config", str, "var/modem/smsdrc",
                "gammu-smsd's config file; its outbox, sent and error folders are read from"
                " it (`smsgw modem config` writes one)"),
        Setting("providers.modem.spool", str, "var/modem/spool",
                "The folder gammu-smsd's hook writes received SMS and reports into, for the"
                " worker to read"),
        Setting("providers.modem.max_per_hour", int, 300,
                "SMS segments the modem sends per hour at most (operators block a SIM that"
                " sends too fast)", minimum=1),
        Setting("providers.modem.keep_days", int, 7,
                "Days the daemon's inbox, sent and error files are kept (they hold numbers"
                " and texts); 0 = for ever", minimum=0),
    ),
    check=_check,
    sender=ModemSender,
    cli=commands,
    poll=poll,
)
