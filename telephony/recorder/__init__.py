"""Recording calls: the MixMonitor backend (Asterisk writes the file, the daemon starts, mutes and
records it over AMI).  The SIP recorder backend (pjsua2, its own process) is not built yet."""
