"""What every example shares: the fault switch and the run-it-on-loopback helper."""
