"""The benchmark: ingest speed, alert latency, memory and cost, side by side with a lab-style
baseline and the emulator's own ceiling, measured in one run on one machine.

`python -m bench --help` (or `make bench`, `make bench-quick`)."""
