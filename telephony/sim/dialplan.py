"""The capture PBX's dialplan (README table "The PBX these came from") and running it.

``from-carrier``: each queue's number → ``NoOp(Inbound to <queue> from "<name>" <num>)``,
``Queue(<queue>)``; an agent's extension → ``Dial(PJSIP/${EXTEN},60)`` (16–21).
``agents``: an agent's extension → ``Dial(PJSIP/${EXTEN},20)``; any other number
(``_X.``) → ``NoOp(Outbound call to …)``, ``Dial(PJSIP/${EXTEN}@carrier,30)``.
Every extension starts with a ``NoOp`` at priority 1 (the captures print it), so an
application always runs at priority 2.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .calls import Call
    from .config import PBXConfig
    from .pbx import PBX
    from .state import Channel

__all__ = ["Step", "exists", "goto", "plan"]

Step = tuple[str, str]  #: (application, data)


def _who(channel: "Channel") -> str:
    return f'"{channel.cid_name}" <{channel.cid_num}>'


def plan(config: "PBXConfig", context: str, exten: str, channel: "Channel") -> list[Step] | None:
    """The priorities of ``context,exten`` for ``channel`` (its caller ID fills the NoOps), or None."""
    if context == "from-carrier":
        queue = config.queue_for_exten(exten)
        if queue is not None:
            return [("NoOp", f"Inbound to {queue.name} from {_who(channel)}"), ("Queue", queue.name)]
        if config.agent(exten) is not None:
            return [("NoOp", f"Direct call to {exten} from {_who(channel)}"),
                    ("Dial", f"PJSIP/{exten},{config.direct_dial_timeout}")]
        return None
    if context == "agents":
        if config.agent(exten) is not None:
            return [("NoOp", f"Call to {exten} from {_who(channel)}"),
                    ("Dial", f"PJSIP/{exten},{config.agent_dial_timeout}")]
        if len(exten) >= 2 and exten.isdigit():
            return [("NoOp", f"Outbound call to {exten} for {_who(channel)}"),
                    ("Dial", f"PJSIP/{exten}@{config.carrier},{config.outbound_dial_timeout}")]
    return None


def exists(config: "PBXConfig", context: str, exten: str, priority: int) -> bool:
    from .state import Channel

    probe = Channel("", "", "", endpoint="", state=0, cid_num="", cid_name="", context=context, exten=exten,
                    created=0.0, call_id="")
    steps = plan(config, context, exten, probe)
    return steps is not None and 1 <= priority <= len(steps)


def goto(pbx: "PBX", call: "Call", context: str, exten: str, priority: int) -> None:
    """Run ``call.caller`` from ``context,exten,priority``: a ``Newexten`` per priority, then the
    application.  Falling off the end hangs the channel up."""
    from .app_dial import DialRun

    channel = call.caller
    channel.context, channel.exten = context, exten
    steps = plan(pbx.config, context, exten, channel) or []
    for number in range(priority, len(steps) + 1):
        application, data = steps[number - 1]
        pbx.newexten(channel, number, application, data)
        if application == "Queue":
            pbx.app_queue.enter(call, data)
            return
        if application == "Dial":
            DialRun.from_dialplan(pbx, call, channel, data).start()
            return
    hang_up_at_end(pbx, call, channel)


def hang_up_at_end(pbx: "PBX", call: "Call", channel: "Channel") -> None:
    """The dialplan has nothing left for the channel: Asterisk hangs it up (Cause 16)."""
    if not channel.alive:
        return
    pbx.hangup_request(channel, 16, soft=True)
    call.emit_cdrs()
    pbx.qos(channel, None)
    pbx.destroy(channel, 16)
    pbx.device_changed(channel.endpoint)
    call.end("answered" if call.handle is not None and call.handle.answered_at is not None else "failed", "system")
