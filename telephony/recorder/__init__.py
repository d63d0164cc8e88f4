"""Recording calls.

* ``mixmonitor``: Asterisk writes the file; the daemon starts, mutes and records it over AMI.
* ``sip``: ``telephony recorder`` (pjsua2, a process of its own) answers SIP calls and writes each to a
  WAV, printing which call each file belongs to.  The daemon does not drive it yet (the ChanSpy
  Originate to it and reading its lines are not built), so ``recording.backend: sip`` is refused.
"""
