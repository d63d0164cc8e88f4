"""The one YAML config file: schema, loading, and errors that name file, line and the fix.

``load_config(path)`` returns a validated :class:`Config` or raises :class:`ConfigError`, whose
``problems`` each carry the file, the line, what is wrong and what to write instead.  Secrets are
never written inline: the AMI secret comes from an environment variable (``secret_env``) or a file
(``secret_file``), and is read only when the daemon connects.
"""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = ["Config", "ConfigError", "ConfigProblem", "RingPolicy", "load_config", "parse_config", "secret_problems"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _host_port(value: str, what: str) -> tuple[str, int]:
    """``HOST:PORT``; port 0 means any free port (the demo's simulator)."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"{what} must be HOST:PORT, e.g. 127.0.0.1:5038 (port 0: any free port)")
    return host, int(port)


class AMI(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(5038, gt=0, lt=65536)
    username: str = "telephony"
    secret_env: str | None = None
    secret_file: str | None = None
    auth: Literal["md5", "plain"] = "md5"
    ping_interval_s: float = Field(20.0, gt=0)
    ping_timeout_s: float = Field(10.0, gt=0)
    action_timeout_s: float = Field(10.0, gt=0)
    #: the guard is blind while the link is down: retry soon, never waiting longer than the cap
    reconnect_initial_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(2.0, gt=0)
    #: before the guard acts, the link must have been heard from this recently, or answer a Ping this fast
    fresh_within_s: float = Field(2.0, gt=0)
    confirm_timeout_s: float = Field(2.0, gt=0)
    #: bounds on what one resync may hold (a list reply, the events that arrive meanwhile)
    max_resync_events: int = Field(200_000, ge=1000)
    max_resync_mb: float = Field(128.0, gt=0)

    @model_validator(mode="after")
    def _one_secret_source(self) -> "AMI":
        if (self.secret_env is None) == (self.secret_file is None):
            raise ValueError("give exactly one of secret_env (an environment variable name) "
                             "or secret_file (a path); secrets are never written in the config")
        if self.reconnect_initial_s > self.reconnect_max_s:
            raise ValueError(f"reconnect_initial_s ({self.reconnect_initial_s:g}) is above reconnect_max_s "
                             f"({self.reconnect_max_s:g})")
        return self

    def secret(self) -> str:
        """Read the secret now; raise ConfigError saying where it was looked for."""
        if self.secret_env is not None:
            value = os.environ.get(self.secret_env)
            if not value:
                raise ConfigError([ConfigProblem(None, None, f"the environment variable {self.secret_env} "
                                                 "(ami.secret_env) is not set", "export it before starting")])
            return value
        try:
            value = Path(self.secret_file).read_text(encoding="utf-8").strip()  # type: ignore[arg-type]
        except OSError as exc:
            raise ConfigError([ConfigProblem(None, None, f"cannot read ami.secret_file {self.secret_file}: "
                                             f"{exc.strerror}",
                                             "point it at a readable file holding only the secret")]) from None
        if not value:
            raise ConfigError([ConfigProblem(None, None, f"ami.secret_file {self.secret_file} is empty",
                                             "write the AMI secret into it")])
        return value


class Overflow(_Strict):
    """Where a call goes when a directly dialled agent lets it ring out."""

    context: str
    exten: str
    priority: int = 1


class RingPolicy(_Strict):
    """The three-ring rule for one queue (or the default for all)."""

    cycle_s: float = Field(5.0, gt=0, description="one ring cycle: China's 1 s on / 4 s off = 5 s")
    allowed: int = Field(3, ge=1, description="rings an agent's phone may ring before the call moves on")
    apologise_at: int = Field(5, ge=1, description="rings the caller waited that call for an apology")
    pause_after_misses: int = Field(2, ge=1, description="consecutive misses that pause the agent")
    pause_reason: str = "振铃未接"
    mode: Literal["act", "observe"] = "act"
    overflow: Overflow | None = None

    @property
    def deadline_s(self) -> float:
        return self.allowed * self.cycle_s


class RingOverrides(_Strict):
    cycle_s: float | None = Field(None, gt=0)
    allowed: int | None = Field(None, ge=1)
    apologise_at: int | None = Field(None, ge=1)
    pause_after_misses: int | None = Field(None, ge=1)
    pause_reason: str | None = None
    mode: Literal["act", "observe"] | None = None
    overflow: Overflow | None = None


class Shift(_Strict):
    """A working shift in the call centre's local time; ``end`` before ``start`` crosses midnight."""

    name: str = Field(min_length=1)
    start: time
    end: time

    @model_validator(mode="after")
    def _not_empty(self) -> "Shift":
        if self.start == self.end:
            raise ValueError(f"shift {self.name!r} starts and ends at {self.start:%H:%M}; give it a length")
        return self

    def contains(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


class Queue(_Strict):
    rings: RingOverrides = RingOverrides()


class PBX(_Strict):
    name: str = Field("default", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    ami: AMI
    #: the agents' endpoints (extensions).  Without it, queue members and short all-digit endpoint
    #: names are agents; list them when a trunk has a short numeric name too.
    agents: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]] = []


class Store(_Strict):
    url: str = "sqlite:///var/telephony.db"
    threads: int = Field(4, ge=1, le=64)
    #: a hung database must not hang the daemon: nothing waits on it longer than these
    connect_timeout_s: float = Field(5.0, gt=0)
    statement_timeout_s: float = Field(10.0, gt=0)
    stop_timeout_s: float = Field(5.0, gt=0)
    #: writes the store could not take (a backlog past max_pending, or unwritten at stop) wait here;
    #: ``{pbx}`` is the PBX's name
    journal: str = "var/journal-{pbx}.jsonl"
    max_pending: int = Field(10_000, ge=1)
    #: the calls under way when the daemon stops, taken back at its next start
    live_state: str = "var/live-{pbx}.json"

    def journal_path(self, pbx: str) -> str:
        return self.journal.replace("{pbx}", pbx)

    def live_state_path(self, pbx: str) -> str:
        return self.live_state.replace("{pbx}", pbx)


def _valid_listen(value: str) -> str:
    _host_port(value, "listen")
    return value


Listen = Annotated[str, AfterValidator(_valid_listen)]


class _Listening(_Strict):
    listen: Listen

    @property
    def address(self) -> tuple[str, int]:
        return _host_port(self.listen, "listen")


class Web(_Listening):
    listen: Listen = "127.0.0.1:8080"
    #: how long a sign-in lasts (a shift, with its overtime)
    session_ttl_s: float = Field(12 * 3600, gt=0, le=7 * 24 * 3600)
    #: mark cookies Secure: set it when the pages are served over HTTPS (a proxy in front)
    secure_cookies: bool = False
    #: failed sign-ins allowed per user name within the window (an address gets four times as many)
    login_max_failures: int = Field(5, ge=1)
    login_window_s: float = Field(300, gt=0)
    #: after-call work (话后处理): how long an agent stays out of the queues once he chooses wrap-up
    wrapup_s: float = Field(30, gt=0, le=3600)
    #: the dial plan context a transfer dials the target extension in (capture 23: ``agents``)
    transfer_context: str = Field("agents", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    #: the context where the queues' numbers are (an escalation redirects the caller there; capture 23a)
    queue_context: str = Field("from-carrier", pattern=r"^[A-Za-z0-9_.-]{1,64}$")


class Sim(_Listening):
    """The embedded simulated PBX (demo and tests): where it listens and what it plays."""

    listen: Listen = "127.0.0.1:5038"
    scenario: str = "demo"
    seed: int = 1
    time_scale: float = Field(1.0, gt=0)


RECORDING_FIELDS = ("date", "time", "queue", "agent", "linkedid", "pbx")


class QueueRecording(_Strict):
    #: days a recording of this queue is kept; none: the section's ``retention_days``
    retention_days: int | None = Field(None, ge=1)


class Recording(_Strict):
    """How calls are recorded (CONTRACTS "Recording")."""

    #: mixmonitor: Asterisk writes the file, started over AMI when an agent answers; off: nothing recorded
    backend: Literal["mixmonitor", "sip", "off"] = "mixmonitor"
    #: where the files are, as Asterisk (or the SIP recorder) sees it
    folder: str = "/var/spool/asterisk/monitor"
    #: the file's name under ``folder``: {date} {time} {queue} {agent} {linkedid} {pbx}
    template: str = "{date}/{queue}/{date}-{time}-{agent}-{linkedid}.wav"
    #: days a recording is kept (``telephony recordings prune``); none keeps them for ever
    retention_days: int | None = Field(180, ge=1)
    queues: dict[str, QueueRecording] = {}

    @field_validator("backend")
    @classmethod
    def _built(cls, v: str) -> str:
        if v == "sip":
            raise ValueError("the daemon does not drive the SIP recorder yet (`telephony recorder` runs on its "
                             "own); use mixmonitor (Asterisk writes the files) or off")
        return v

    @field_validator("template")
    @classmethod
    def _known_fields(cls, v: str) -> str:
        import string

        names = {name for _, name, _, _ in string.Formatter().parse(v) if name is not None}
        unknown = names - set(RECORDING_FIELDS)
        if unknown:
            raise ValueError(f"unknown field {{{sorted(unknown)[0]}}} in the template; known: "
                             + ", ".join(f"{{{n}}}" for n in RECORDING_FIELDS))
        if not v.strip("/") or v.startswith("/") or ".." in v.split("/"):
            raise ValueError("the template is a file name under the folder, without / at the start or ..")
        return v

    def retention_for(self, queue: str | None) -> int | None:
        override = self.queues.get(queue or "")
        if override is not None and override.retention_days is not None:
            return override.retention_days
        return self.retention_days


class Smtp(_Strict):
    host: str
    port: int = Field(25, ge=1, le=65535)
    sender: str
    to: list[str] = Field(min_length=1)
    #: read the password from this environment variable (none: no login; never in the file)
    password_env: str | None = None
    username: str | None = None


class Report(_Strict):
    """The week's record (每周五下班之前递交主管): made by itself, put on the board, mailed when ``smtp`` is set."""

    #: when the week's record is made, in the centre's time zone: before Friday's close
    weekly_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "fri"
    weekly_time: str = Field("16:30", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    folder: str = "var/reports"
    smtp: Smtp | None = None


class Announcements(_Strict):
    #: agents stay paused (未读公告) until they have acknowledged every active announcement
    required: bool = False


class Config(_Strict):
    pbx: PBX
    timezone: str = Field("Asia/Shanghai", description="the call centre's local time: days, reports, business hours")
    rings: RingPolicy = RingPolicy()
    queues: dict[str, Queue] = {}
    #: the shifts misses are counted in (besides the day); none: the day is the shift
    shifts: list[Shift] = []
    store: Store = Store()
    web: Web = Web()
    announcements: Announcements = Announcements()
    recording: Recording = Recording()
    report: Report = Report()
    sim: Sim | None = None
    source: str | None = Field(None, exclude=True)

    @field_validator("shifts")
    @classmethod
    def _shifts_do_not_overlap(cls, shifts: list[Shift]) -> list[Shift]:
        minutes: dict[int, str] = {}
        for shift in shifts:
            for minute in range(24 * 60):
                if shift.contains(time(minute // 60, minute % 60)):
                    if minute in minutes:
                        raise ValueError(f"shifts {minutes[minute]!r} and {shift.name!r} overlap at "
                                         f"{minute // 60:02d}:{minute % 60:02d}; a moment belongs to one shift")
                    minutes[minute] = shift.name
        return shifts

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}; write an IANA name such as Asia/Shanghai") from None
        return v

    def ring_policy(self, queue: str | None) -> RingPolicy:
        """The default policy with the queue's overrides applied."""
        overrides = self.queues.get(queue or "") if queue else None
        if overrides is None:
            return self.rings
        changes = overrides.rings.model_dump(exclude_none=True)
        return self.rings.model_copy(update=changes) if changes else self.rings


@dataclass(frozen=True)
class ConfigProblem:
    file: str | None
    line: int | None
    what: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else (self.file or "config")
        return f"{where}: {self.what} — {self.fix}"


class ConfigError(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def load_config(path: str | os.PathLike[str]) -> Config:
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem(name, None, f"cannot read the file: {exc.strerror}",
                                         "give the path of a readable YAML file")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem(name, None, f"not UTF-8 text (byte {exc.start})",
                                         "save the file as UTF-8")]) from None
    return parse_config(text, name)


def secret_problems(config: Config) -> list[ConfigProblem]:
    """Whether the AMI secret can be read now, as the daemon will at start (the problems name the
    line of ``secret_env``/``secret_file`` when the config came from a file)."""
    try:
        config.pbx.ami.secret()
    except ConfigError as exc:
        key = "secret_env" if config.pbx.ami.secret_env is not None else "secret_file"
        line = None
        if config.source is not None:
            try:
                line = _line_of(yaml.compose(Path(config.source).read_text(encoding="utf-8"), Loader=yaml.SafeLoader),
                                ["pbx", "ami", key])
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                line = None
        return [ConfigProblem(config.source, line, p.what, p.fix) for p in exc.problems]
    return []


def parse_config(text: str, name: str = "<config>") -> Config:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError([ConfigProblem(name, line, f"not valid YAML: {exc.problem}",
                                         "check indentation, colons and quotes on that line")]) from None
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(name, 1, "the file is not a mapping of settings",
                                         "start with 'pbx:' as in config/example.yaml")])
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(name, node, err) for err in exc.errors()]
        problems.sort(key=lambda p: p.line or 0)
        raise ConfigError(problems) from None
    return config.model_copy(update={"source": name})


def _problem(name: str, root: yaml.Node | None, err: dict[str, Any]) -> ConfigProblem:
    loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    line = _line_of(root, loc)
    dotted = ".".join(str(p) for p in loc) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        parent_fields = _fields_at(loc[:-1])
        guess = difflib.get_close_matches(str(loc[-1]), parent_fields, n=1)
        fix = f"did you mean '{guess[0]}'?" if guess else (
            f"remove it; allowed here: {', '.join(sorted(parent_fields))}" if parent_fields else "remove it")
        return ConfigProblem(name, line, f"unknown setting '{dotted}'", fix)
    if kind == "missing":
        return ConfigProblem(name, line, f"'{dotted}' is required", f"add '{loc[-1]}:' here")
    message = err["msg"].removeprefix("Value error, ")
    return ConfigProblem(name, line, f"'{dotted}': {message}", _fix_for(err))


def _fix_for(err: dict[str, Any]) -> str:
    ctx = err.get("ctx") or {}
    if "expected" in ctx:
        return f"write one of {ctx['expected']}"
    for bound, text in (("gt", "a number above"), ("ge", "a number of at least"),
                        ("lt", "a number below"), ("le", "a number of at most")):
        if bound in ctx:
            return f"write {text} {ctx[bound]}"
    if err["type"] in ("int_parsing", "int_type", "int_from_float"):
        return "write a whole number"
    if err["type"] in ("float_parsing", "float_type"):
        return "write a number"
    if err["type"].startswith("time_"):
        return "write a time of day as HH:MM, e.g. 08:00 (midnight is 00:00)"
    if err["type"] == "string_pattern_mismatch":
        return "use letters, digits, '.', '_' or '-' only"
    return "see config/example.yaml for the form of this setting"


def _line_of(node: yaml.Node | None, loc: list[Any]) -> int | None:
    """The 1-based line of the deepest YAML node on the error's path."""
    best = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    best = key.start_mark.line + 1
                    node = value
                    break
            else:
                return best
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            best = node.start_mark.line + 1
        else:
            return best
    return best


def _fields_at(loc: list[Any]) -> list[str]:
    """The setting names allowed at ``loc``, for "did you mean"."""
    model: Any = Config
    keyed = False  # the previous step was a mapping of names (queues: {support: …})
    for part in loc:
        if keyed:
            keyed = False
            continue
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        keyed = getattr(annotation, "__origin__", None) is dict
        model = _model_of(annotation)
    return [] if keyed else list(getattr(model, "model_fields", {}) or [])


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None
